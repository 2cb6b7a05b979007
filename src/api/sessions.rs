//! `/api/v1/session` (the caller's own) and `/api/v1/sessions` (all of theirs).

use std::sync::Arc;

use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem::{IntoResponse, Request, Response};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::auth::{Presented, require};
use super::error::{EndFailure, ReadFailure, SignOutFailure};
use super::schema::{CurrentSession, SessionItem};
use crate::domain::PublicSessionId;
use crate::state::AppState;
use crate::web::cookies;

pub struct SessionApi;

/// `GET /v1/session` as the operation below answers it, for `web::hot`, which
/// answers it ahead of the router and the cookie jar.
pub(crate) async fn answer_current(state: &AppState, req: &Request) -> Response {
    let presented = Presented::read(req, state);
    let jar = CookieJar::default();
    let mut response = match require(state, &jar, &presented).await {
        Ok(active) => {
            let current = CurrentSession::from(&active.record);
            // Written with serde rather than through poem-openapi's JSON value: the
            // same JSON (a test holds them equal) for less work on the hot path.
            match serde_json::to_vec(&current) {
                Ok(body) => Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(body),
                Err(_) => Current::Ok(Json(current)).into_response(),
            }
        }
        Err(denied) => ReadFailure::from(denied).into_response(),
    };
    cookies::send(&jar, &mut response);
    super::no_store(&mut response);
    response
}

#[derive(ApiResponse)]
enum Current {
    /// The signed-in person and this session.
    #[oai(status = 200)]
    Ok(Json<CurrentSession>),
}

#[derive(ApiResponse)]
enum SignedOut {
    /// Signed out: the token no longer works and the cookie is cleared.
    #[oai(status = 204)]
    Ok,
}

#[derive(ApiResponse)]
enum Listed {
    /// The caller's live sessions, most recently used first.
    #[oai(status = 200)]
    Ok(Json<Vec<SessionItem>>),
}

#[derive(ApiResponse)]
enum Ended {
    /// The session has ended.
    #[oai(status = 204)]
    Ok,
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl SessionApi {
    /// The caller and their session
    #[oai(path = "/session", method = "get", operation_id = "get_session")]
    async fn current(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
    ) -> Result<Current, ReadFailure> {
        let active = require(&state, jar, &presented).await?;
        Ok(Current::Ok(Json(CurrentSession::from(&active.record))))
    }

    /// Sign out
    ///
    /// Ends the caller's session (its token stops working) and clears the cookie.
    #[oai(path = "/session", method = "delete", operation_id = "sign_out")]
    async fn sign_out(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
    ) -> Result<SignedOut, SignOutFailure> {
        let active = require(&state, jar, &presented).await?;
        state.sessions.end(active.token.expose()).await?;
        if presented.via_cookie() {
            cookies::clear_session(jar, &state);
        }
        Ok(SignedOut::Ok)
    }

    /// The caller's sessions
    ///
    /// Every live session of the signed-in person, most recently used first.
    #[oai(path = "/sessions", method = "get", operation_id = "list_sessions")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
    ) -> Result<Listed, ReadFailure> {
        let active = require(&state, jar, &presented).await?;
        let now = state.clock.now();
        let sessions = state
            .storage
            .list_sessions(active.record.user_id, now)
            .await?;
        let current = active.record.public_id.as_str();
        let items = sessions.into_iter();
        Ok(Listed::Ok(Json(
            items
                .map(|summary| SessionItem::new(summary, current))
                .collect(),
        )))
    }

    /// End one of the caller's sessions
    ///
    /// Signs that device out. Only the caller's own sessions can be ended: any other
    /// id, someone else's included, is 404.
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "end_session"
    )]
    async fn end(
        &self,
        state: Data<&Arc<AppState>>,
        jar: &CookieJar,
        presented: Presented,
        /// A session `id` from the sessions list.
        id: Path<String>,
    ) -> Result<Ended, EndFailure> {
        let active = require(&state, jar, &presented).await?;
        let user_id = active.record.user_id;
        if !state
            .storage
            .delete_user_session(user_id, PublicSessionId::presented(&id.0))
            .await?
        {
            return Err(EndFailure::not_found());
        }
        tracing::info!(user_id, "ended a session from the API");
        if id.0 == active.record.public_id.as_str() && presented.via_cookie() {
            cookies::clear_session(jar, &state);
        }
        Ok(Ended::Ok)
    }
}
