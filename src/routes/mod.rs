//! The pages' surface: the browser routes, grouped by resource, each handler
//! returning `Result<Response, PageError>`.

mod account;
mod auth;
mod emails;
mod error;
mod home;
mod login;
mod oidc;

pub use auth::respond as check_session;
pub use oidc::answer_userinfo;

/// Endpoints that apps call from their servers (or a browser app from its own
/// origin), authenticated by client credentials or tokens, never by the cookie:
/// the Origin check, which guards cookie-carrying forms, does not apply to them.
pub const BACK_CHANNEL: &[&str] = &[
    "/oidc/token",
    "/oidc/userinfo",
    "/oidc/revoke",
    "/oidc/introspect",
    "/oidc/authorize",
];
pub use error::{PageError, chrome, read_form};

use poem::{Route, get, post};

/// Adds the page routes to `route`.
pub fn add(route: Route) -> Route {
    route
        .at("/", get(home::home))
        .at("/logout", post(home::logout))
        .at("/account/name", post(account::rename))
        .at("/account/sessions/end", post(account::end_session))
        .at(
            "/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .at("/login", get(login::show).post(login::start))
        .at("/login/verify", post(login::verify))
        .at("/login/resend", post(login::resend))
        .at("/login/altcha", get(login::altcha_challenge))
        .at("/auth/check", get(auth::check))
        .at("/account/apps/withdraw", post(account::withdraw_app))
        .at("/account/passkeys/rename", post(account::rename_passkey))
        .at("/account/passkeys/remove", post(account::remove_passkey))
        .at("/account/emails", post(emails::add))
        .at("/account/emails/verify", post(emails::verify))
        .at("/account/emails/primary", post(emails::make_primary))
        .at("/account/emails/remove", post(emails::remove))
        .at("/.well-known/openid-configuration", get(oidc::discovery))
        .at("/oidc/jwks", get(oidc::jwks))
        .at(
            "/oidc/authorize",
            get(oidc::authorize).post(oidc::authorize),
        )
        .at("/oidc/consent", post(oidc::consent))
        .at(
            "/oidc/token",
            post(oidc::token).get(oidc::token).options(oidc::preflight),
        )
        .at(
            "/oidc/userinfo",
            get(oidc::userinfo)
                .post(oidc::userinfo)
                .options(oidc::preflight),
        )
        .at(
            "/oidc/revoke",
            post(oidc::revoke)
                .get(oidc::revoke)
                .options(oidc::preflight),
        )
        .at(
            "/oidc/introspect",
            post(oidc::introspect).get(oidc::introspect),
        )
        .at("/oidc/logout", get(oidc::logout).post(oidc::logout))
}
