//! `/api/v1/passkeys`: adding passkeys to the caller's account, listing, renaming
//! and removing them, and signing in with one: the same `passkeys` functions the
//! pages' script calls.

use std::sync::Arc;

use poem::Request;
use poem::http::header;
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::auth::{Presented, require};
use super::error::PasskeyFailure;
use super::schema::{
    CeremonyOptions, PasskeyItem, PasskeyRename, PasskeySignIn, RegisterPasskey, SignedIn,
};
use crate::pages::device_label;
use crate::state::AppState;
use crate::web::{client_ip, cookies, device, language_of};

pub struct PasskeyApi;

#[derive(ApiResponse)]
enum Begun {
    /// Pass `options.publicKey` to `navigator.credentials.create()` (registration)
    /// or `.get()` (sign-in), after `PublicKeyCredential.parseCreationOptionsFromJSON`
    /// / `parseRequestOptionsFromJSON`; send the answer back with `ceremony_id`
    /// within five minutes.
    #[oai(status = 200)]
    Ok(Json<CeremonyOptions>),
}

#[derive(ApiResponse)]
enum Added {
    /// The passkey is registered to the caller's account.
    #[oai(status = 201)]
    Created(Json<PasskeyItem>),
}

#[derive(ApiResponse)]
enum Listed {
    /// The caller's passkeys, oldest first.
    #[oai(status = 200)]
    Ok(Json<Vec<PasskeyItem>>),
}

#[derive(ApiResponse)]
enum Changed {
    /// Done.
    #[oai(status = 204)]
    Ok,
}

#[derive(ApiResponse)]
enum SignedInReply {
    /// Signed in. The session cookie is set as well.
    #[oai(
        status = 200,
        header(
            name = "Set-Cookie",
            ty = "String",
            description = "The session cookie."
        )
    )]
    Ok(Json<SignedIn>),
}

#[OpenApi(tag = "ApiTags::Passkeys")]
impl PasskeyApi {
    /// The caller's passkeys
    #[oai(path = "/passkeys", method = "get", operation_id = "list_passkeys")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
    ) -> Result<Listed, PasskeyFailure> {
        let active = require(&state, jar, &presented).await?;
        let passkeys = state.passkeys.list(active.record.user_id).await?;
        Ok(Listed::Ok(Json(
            passkeys.into_iter().map(PasskeyItem::from).collect(),
        )))
    }

    /// Begin adding a passkey
    ///
    /// Options for a discoverable credential with user verification, leaving out
    /// the caller's authenticators that already hold one. The ceremony belongs to
    /// this session.
    #[oai(
        path = "/passkeys/register/options",
        method = "post",
        operation_id = "begin_passkey_registration"
    )]
    async fn begin_registration(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        jar: &CookieJar,
        presented: Presented,
    ) -> Result<Begun, PasskeyFailure> {
        let active = require(&state, jar, &presented).await?;
        let begun = state
            .passkeys
            .begin_registration(&active, client_ip(req, &state))
            .await?;
        Ok(Begun::Ok(Json(CeremonyOptions::new(
            begun.ceremony_id,
            &begun.options,
        ))))
    }

    /// Finish adding a passkey
    ///
    /// Checks the authenticator's answer and registers the passkey, named `name`
    /// or else after the device (e.g. "Chrome on Linux").
    #[oai(
        path = "/passkeys/register",
        method = "post",
        operation_id = "finish_passkey_registration"
    )]
    async fn finish_registration(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        jar: &CookieJar,
        presented: Presented,
        body: Json<RegisterPasskey>,
    ) -> Result<Added, PasskeyFailure> {
        let active = require(&state, jar, &presented).await?;
        let body = body.0;
        let device_name = device_label(language_of(req, &state), req.header(header::USER_AGENT));
        let added = state
            .passkeys
            .finish_registration(
                &active,
                &body.ceremony_id,
                body.credential,
                body.name.as_deref(),
                device_name,
            )
            .await?;
        Ok(Added::Created(Json(PasskeyItem::from(added))))
    }

    /// Rename one of the caller's passkeys
    #[oai(
        path = "/passkeys/:id",
        method = "patch",
        operation_id = "rename_passkey"
    )]
    async fn rename(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
        /// A passkey `id` from the list.
        id: Path<i64>,
        body: Json<PasskeyRename>,
    ) -> Result<Changed, PasskeyFailure> {
        let active = require(&state, jar, &presented).await?;
        state
            .passkeys
            .rename(active.record.user_id, id.0, &body.name)
            .await?;
        Ok(Changed::Ok)
    }

    /// Remove one of the caller's passkeys
    ///
    /// It no longer signs in. Only the caller's own passkeys can be removed: any
    /// other id is 404.
    #[oai(
        path = "/passkeys/:id",
        method = "delete",
        operation_id = "remove_passkey"
    )]
    async fn remove(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
        /// A passkey `id` from the list.
        id: Path<i64>,
    ) -> Result<Changed, PasskeyFailure> {
        let active = require(&state, jar, &presented).await?;
        state.passkeys.remove(active.record.user_id, id.0).await?;
        Ok(Changed::Ok)
    }

    /// Begin signing in with a passkey
    ///
    /// Options for any passkey of this site (no address needed; `allowCredentials`
    /// is empty). No CAPTCHA: the passkey is the proof.
    #[oai(
        path = "/passkeys/sign-in/options",
        method = "post",
        operation_id = "begin_passkey_sign_in"
    )]
    async fn begin_sign_in(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Result<Begun, PasskeyFailure> {
        let begun = state.passkeys.begin_sign_in(client_ip(req, &state)).await?;
        Ok(Begun::Ok(Json(CeremonyOptions::new(
            begun.ceremony_id,
            &begun.options,
        ))))
    }

    /// Sign in with a passkey
    ///
    /// Checks the authenticator's answer (signature, origin, relying party, user
    /// verification, counter) and answers a session, as `login/verify` does for a
    /// code. No mail is sent.
    #[oai(
        path = "/passkeys/sign-in",
        method = "post",
        operation_id = "finish_passkey_sign_in"
    )]
    async fn finish_sign_in(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        jar: &CookieJar,
        body: Json<PasskeySignIn>,
    ) -> Result<SignedInReply, PasskeyFailure> {
        let body = body.0;
        let signed_in = state
            .passkeys
            .finish_sign_in(&body.ceremony_id, body.credential, device(req, &state))
            .await?;
        cookies::set_signed_in(jar, &state, &signed_in);
        Ok(SignedInReply::Ok(Json(SignedIn::from(signed_in))))
    }
}
