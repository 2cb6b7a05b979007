use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, cookie::CookieJar};
use poem::{Response, handler};

use crate::pages::home_page;
use crate::session;
use crate::state::AppState;
use crate::web::{chrome, cookies, page, see_other, unavailable};

/// Signed in: the person's page. Signed out: to the sign-in page.
#[handler]
pub async fn home(state: Data<&Arc<AppState>>, jar: &CookieJar) -> Response {
    let Some(presented) = cookies::session_value(jar, &state) else {
        return see_other("/login");
    };
    match session::authenticate(&state, &presented).await {
        Ok(Some(active)) => {
            if active.renewed {
                cookies::set_session(jar, &state, active.token.expose(), active.record.expires_at);
            }
            page(StatusCode::OK, home_page(&chrome(&state), &active.record))
        }
        Ok(None) => {
            cookies::clear(jar, &state, &state.cookies.session);
            see_other("/login")
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a session: database unavailable (503)");
            unavailable(&state)
        }
    }
}

/// Deletes the session row and the cookie.
#[handler]
pub async fn logout(state: Data<&Arc<AppState>>, jar: &CookieJar) -> Response {
    if let Some(presented) = cookies::session_value(jar, &state)
        && let Err(e) = session::end(&state, &presented).await
    {
        tracing::error!(error = %e, "cannot sign out: database unavailable (503)");
        return unavailable(&state);
    }
    cookies::clear(jar, &state, &state.cookies.session);
    see_other("/login")
}
