//! Everything a request handler needs, built once at start-up and shared through
//! poem's `Data` extractor.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, Settings};
use crate::login::SignIn;
use crate::metrics::Metrics;
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
}

/// Cookie names and flags follow `server.base_url`: on https the names carry the
/// `__Host-` prefix, which browsers accept only with `Secure`, `Path=/` and no
/// `Domain`, so no other subdomain can plant or overwrite them.
pub struct CookieNames {
    pub session: String,
    pub login: String,
    pub secure: bool,
}

impl CookieNames {
    pub fn new(config: &Config) -> Self {
        let secure = config.server.base_url.is_https();
        let prefix = if secure { "__Host-" } else { "" };
        Self {
            session: format!("{prefix}{}", config.session.cookie_name),
            login: format!("{prefix}doorcode_login"),
            secure,
        }
    }
}
