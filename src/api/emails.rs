//! `/api/v1/emails`: the caller's addresses — list them, add one with a code
//! mailed to it, make one primary, remove one: the same `login::emails`
//! functions the home page's forms call.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::auth::{Presented, require};
use super::error::EmailFailure;
use super::schema::{EmailChallenge, EmailCode, EmailItem, EmailRequest};
use crate::login::emails::{self, Asker};
use crate::state::AppState;
use crate::storage::UserEmail;
use crate::web::{client_ip, language_of};

pub struct EmailApi;

#[derive(ApiResponse)]
enum Listed {
    /// The caller's addresses, the primary one first, then oldest first.
    #[oai(status = 200)]
    Ok(Json<Vec<EmailItem>>),
}

#[derive(ApiResponse)]
enum CodeSent {
    /// A code is on its way to the address; send it to `emails/verify` with
    /// `challenge_id`, from this session.
    #[oai(status = 200)]
    Ok(Json<EmailChallenge>),
}

fn listed(addresses: Vec<UserEmail>) -> Listed {
    Listed::Ok(Json(addresses.into_iter().map(EmailItem::from).collect()))
}

#[OpenApi(tag = "ApiTags::Emails")]
impl EmailApi {
    /// The caller's addresses
    #[oai(path = "/emails", method = "get", operation_id = "list_emails")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
    ) -> Result<Listed, EmailFailure> {
        let active = require(&state, jar, &presented).await?;
        Ok(listed(
            state.storage.list_emails(active.record.user_id).await?,
        ))
    }

    /// Ask to add an address
    ///
    /// Mails a 6-digit code to the address, under the same rules and limits as a
    /// sign-in code. An address that belongs to another account gets its code
    /// too; `emails/verify` then answers `email_in_use` and nothing changes.
    #[oai(path = "/emails", method = "post", operation_id = "add_email")]
    async fn add(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        jar: &CookieJar,
        presented: Presented,
        body: Json<EmailRequest>,
    ) -> Result<CodeSent, EmailFailure> {
        let active = require(&state, jar, &presented).await?;
        let asker = Asker::of(&active);
        let lang = language_of(req, &state);
        let info = emails::start(
            &state.signin,
            &asker,
            &body.email,
            client_ip(req, &state),
            lang,
        )
        .await?;
        Ok(CodeSent::Ok(Json(EmailChallenge::from(info))))
    }

    /// Add the address with its code
    ///
    /// Works only in the session that asked. The caller's other addresses are
    /// told by mail.
    #[oai(
        path = "/emails/verify",
        method = "post",
        operation_id = "verify_email"
    )]
    async fn verify(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        jar: &CookieJar,
        presented: Presented,
        body: Json<EmailCode>,
    ) -> Result<Listed, EmailFailure> {
        let active = require(&state, jar, &presented).await?;
        let asker = Asker::of(&active);
        let lang = language_of(req, &state);
        let addresses =
            emails::verify(&state.signin, &asker, &body.challenge_id, &body.code, lang).await?;
        Ok(listed(addresses))
    }

    /// Make one of the caller's addresses primary
    ///
    /// The primary address is the one forward auth, the API and OpenID Connect
    /// show. Sessions go on as they are.
    #[oai(
        path = "/emails/primary",
        method = "post",
        operation_id = "make_email_primary"
    )]
    async fn make_primary(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
        body: Json<EmailRequest>,
    ) -> Result<Listed, EmailFailure> {
        let active = require(&state, jar, &presented).await?;
        let addresses =
            emails::make_primary(&state.signin, active.record.user_id, &body.email).await?;
        Ok(listed(addresses))
    }

    /// Remove one of the caller's addresses
    ///
    /// Never the last one (`last_email`). A removed primary address passes to the
    /// oldest one left. The addresses left are told by mail.
    #[oai(
        path = "/emails/remove",
        method = "post",
        operation_id = "remove_email"
    )]
    async fn remove(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        jar: &CookieJar,
        presented: Presented,
        body: Json<EmailRequest>,
    ) -> Result<Listed, EmailFailure> {
        let active = require(&state, jar, &presented).await?;
        let lang = language_of(req, &state);
        let addresses =
            emails::remove(&state.signin, active.record.user_id, &body.email, lang).await?;
        Ok(listed(addresses))
    }
}
