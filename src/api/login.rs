//! `POST /api/v1/login`, `/login/verify`, `/login/resend`: the browser flow's steps,
//! through the same `login` functions, limits and storage.
//!
//! API sign-ins are bound to no browser (the pages bind theirs with a cookie): the
//! 128-bit `challenge_id`, known only to the client that asked for the code, is
//! what ties the code to the client.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::error::LoginFailure;
use super::schema::{Challenge, ResendRequest, SignedIn, StartRequest, VerifyRequest};
use crate::config::AskName;
use crate::domain::NameError;
use crate::login::{self, CodeProblem, LoginError, NameInput, Verified};
use crate::state::AppState;
use crate::web::{client_ip, cookies, device, language_of};

pub struct LoginApi;

#[derive(ApiResponse)]
enum Started {
    /// A code is on its way to the address.
    #[oai(status = 200)]
    Ok(Json<Challenge>),
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

#[derive(ApiResponse)]
enum Resent {
    /// A new code is on its way.
    #[oai(status = 204)]
    Ok,
}

#[OpenApi(tag = "ApiTags::Login")]
impl LoginApi {
    /// Ask for a code
    ///
    /// Checks the Turnstile token, applies the limits (codes per address and per
    /// client address per hour) and mails a 6-digit code.
    #[oai(path = "/login", method = "post", operation_id = "start_login")]
    async fn start(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<StartRequest>,
    ) -> Result<Started, LoginFailure> {
        let ip = client_ip(req, &state);
        let captcha = body.turnstile_token.as_deref().unwrap_or("");
        // Error messages stay English; the email follows the client's Accept-Language.
        let lang = language_of(req, &state);
        let info = login::start(&state.signin, &body.email, captcha, ip, None, lang).await?;
        // With `after_code`, whether an address has an account is not told before
        // the right code.
        let new_user = !info.has_account && state.settings.ask_name == AskName::WithCode;
        Ok(Started::Ok(Json(Challenge {
            challenge_id: info.id.into_string(),
            new_user,
        })))
    }

    /// Check the code and sign in
    ///
    /// Answers the session token (only here, only once) and sets the session cookie.
    /// A new address needs `first_name`: without it the answer is 400
    /// `name_required`, and the same request sent again with the names finishes
    /// the sign-up.
    #[oai(path = "/login/verify", method = "post", operation_id = "verify_login")]
    async fn verify(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        jar: &CookieJar,
        body: Json<VerifyRequest>,
    ) -> Result<SignedInReply, LoginFailure> {
        let body = body.0;
        let id: &str = &body.challenge_id;
        let names = || NameInput {
            first: body.first_name.as_deref(),
            last: body.last_name.as_deref(),
        };
        let named = [&body.first_name, &body.last_name]
            .iter()
            .any(|name| name.as_deref().is_some_and(|n| !n.trim().is_empty()));
        let signed_in = match login::verify(
            &state.signin,
            id,
            None,
            &body.code,
            names(),
            device(req, &state),
        )
        .await
        {
            Ok(Verified::SignedIn(signed_in)) => signed_in,
            // `after_code`: the code was right and the sign-in now waits for a name;
            // the code is spent, so a request with names goes straight to complete.
            Ok(Verified::NeedsName(_)) if named => {
                login::complete(&state.signin, id, None, names(), device(req, &state)).await?
            }
            Ok(Verified::NeedsName(_)) => return Err(LoginFailure::name_required()),
            // `with_code`: the right code for a new address came without a name; the
            // code stays valid for the request with names.
            Err(LoginError::OnCodePage {
                problem: CodeProblem::BadName(NameError::FirstMissing),
                ..
            }) if !named => return Err(LoginFailure::name_required()),
            Err(error) => return Err(error.into()),
        };
        cookies::set_signed_in(jar, &state, &signed_in);
        Ok(SignedInReply::Ok(Json(SignedIn::from(signed_in))))
    }

    /// Send a new code
    ///
    /// Mails a fresh code for the same sign-in; earlier codes keep working until
    /// they expire. At most one per `code.resend_interval_secs`.
    #[oai(path = "/login/resend", method = "post", operation_id = "resend_code")]
    async fn resend(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<ResendRequest>,
    ) -> Result<Resent, LoginFailure> {
        let ip = client_ip(req, &state);
        let lang = language_of(req, &state);
        login::resend(&state.signin, &body.challenge_id, None, ip, lang).await?;
        Ok(Resent::Ok)
    }
}
