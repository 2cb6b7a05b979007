//! Everything a request handler needs, built once at start-up and shared through
//! poem's `Data` extractor.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, Settings};
use crate::login::SignIn;
use crate::metrics::Metrics;
use crate::oidc::Provider;
use crate::passkeys::Passkeys;
use crate::session::Sessions;
use crate::storage::Storage;

pub struct AppState {
    /// As read from the file and the environment; `[server]` is read from here.
    pub config: Config,
    /// The rest, typed.
    pub settings: Settings,
    pub storage: Storage,
    pub sessions: Sessions,
    pub signin: SignIn,
    pub clock: Clock,
    pub cookies: CookieNames,
    pub metrics: Arc<Metrics>,
    /// The OpenID Connect provider.
    pub oidc: Provider,
    pub passkeys: Passkeys,
}

/// Cookie names and flags follow `server.base_url`: on https the names carry the
/// `__Host-` prefix, which browsers accept only with `Secure`, `Path=/` and no
/// `Domain`, so no other subdomain can plant or overwrite them.
pub struct CookieNames {
    pub session: String,
    pub login: String,
    pub secure: bool,
    /// `session.cookie_domain`: the session cookie goes to this domain and its
    /// subdomains. The other cookies stay with doorcode's host.
    pub session_domain: Option<String>,
}

impl CookieNames {
    pub fn new(config: &Config, session_domain: Option<String>) -> Self {
        let secure = config.server.base_url.is_https();
        let host_only = if secure { "__Host-" } else { "" };
        // `__Host-` forbids a Domain attribute; `__Secure-` keeps the rest of its
        // promise (sent only over https, set only by a secure page).
        let session_prefix = match (&session_domain, secure) {
            (Some(_), true) => "__Secure-",
            _ => host_only,
        };
        Self {
            session: format!("{session_prefix}{}", config.session.cookie_name),
            login: format!("{host_only}doorcode_login"),
            secure,
            session_domain,
        }
    }
}
