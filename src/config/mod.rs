//! Configuration: one TOML file, every key overridable by `DOORCODE_<SECTION>_<KEY>`.
//!
//! Loading happens in three steps: the file is read as a TOML table and checked
//! against the known keys, environment overrides are laid over it, and the result
//! is deserialised into typed settings and cross-checked. Any failure names the key.

mod load;
mod oidc;
mod settings;
mod smtp;
mod types;

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;
use std::time::Duration;

use crate::rules::SignupMode;
use serde::{Deserialize, Serialize};

pub use load::{ConfigError, load_config, secrets_in_file};
pub use oidc::{ClientConfig, MIN_SECRET_LEN, OidcClient, OidcConfig};
pub use settings::{
    AltchaSettings, CaptchaSettings, CodePolicy, OidcSettings, SecretSource, Settings,
    SiteverifyKeys, SmtpTarget, TrustedProxies, parse_from,
};
pub use smtp::{ClientIdentity, Security, SmtpTls, Target};
pub use types::{BaseUrl, Secret};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub email: EmailConfig,
    pub turnstile: TurnstileConfig,
    pub captcha: CaptchaConfig,
    pub hcaptcha: HCaptchaConfig,
    pub altcha: AltchaConfig,
    pub code: CodeConfig,
    pub session: SessionConfig,
    pub rate_limit: RateLimitConfig,
    pub security: SecurityConfig,
    pub signup: SignupConfig,
    pub metrics: MetricsConfig,
    pub oidc: OidcConfig,
    pub passkeys: PasskeysConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasskeysConfig {
    /// Whether people may add passkeys and sign in with them.
    pub enabled: bool,
}

impl Default for PasskeysConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A socket address for `/metrics` alone. Empty: no metrics.
    pub listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub base_url: BaseUrl,
    pub app_name: String,
    /// `https://…` or `/…`; shown in the page header instead of the name. Empty: none.
    pub logo_url: String,
    pub default_language: String,
    pub trust_proxy_headers: bool,
    /// Networks whose `X-Forwarded-For` entries are proxies, not clients.
    pub trusted_proxies: Vec<String>,
    pub allowed_redirect_hosts: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: BaseUrl::parse("http://localhost:8080").expect("default base_url is valid"),
            app_name: "doorcode".into(),
            logo_url: String::new(),
            default_language: "en".into(),
            trust_proxy_headers: false,
            trusted_proxies: vec!["127.0.0.0/8".into(), "::1/128".into()],
            allowed_redirect_hosts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub path: PathBuf,
    pub url: Secret,
}

impl DatabaseConfig {
    /// Where the server secret is kept when `security.secret_key` is empty: beside
    /// the SQLite database.
    pub fn secret_file(&self) -> PathBuf {
        self.path.with_file_name("secret.key")
    }

    /// PostgreSQL when `url` is set, the SQLite file at `path` otherwise.
    pub fn target(&self) -> crate::storage::Database {
        if self.url.is_empty() {
            crate::storage::Database::Sqlite(self.path.clone())
        } else {
            crate::storage::Database::Postgres(self.url.expose().to_owned())
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/doorcode.db"),
            url: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Holds the SMTP password when there is one, hence a `Secret`.
    pub smtp_url: Secret,
    pub from: String,
    /// PEM file of CA certificates trusted for the relay besides the system's
    /// store and the built-in roots; empty: none.
    pub tls_ca_file: PathBuf,
    /// PEM files of a client certificate and its key, for relays that ask for
    /// one; both or neither.
    pub tls_client_cert: PathBuf,
    pub tls_client_key: PathBuf,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_url: Secret::default(),
            from: "doorcode <no-reply@localhost>".into(),
            tls_ca_file: PathBuf::new(),
            tls_client_cert: PathBuf::new(),
            tls_client_key: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnstileConfig {
    pub site_key: String,
    pub secret_key: Secret,
    pub verify_url: url::Url,
}

impl Default for TurnstileConfig {
    fn default() -> Self {
        Self {
            site_key: String::new(),
            secret_key: Secret::default(),
            verify_url: url::Url::parse(
                "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            )
            .expect("default verify_url is valid"),
        }
    }
}

/// Which bot check guards the sign-in form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CaptchaProvider {
    /// Cloudflare Turnstile, with the `turnstile.*` keys (both empty: CAPTCHA off).
    #[default]
    Turnstile,
    /// hCaptcha, with the `hcaptcha.*` keys.
    Hcaptcha,
    /// ALTCHA: a proof of work the browser solves, served and checked by doorcode
    /// itself; no third party.
    Altcha,
}

impl CaptchaProvider {
    /// As written in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            CaptchaProvider::Turnstile => "turnstile",
            CaptchaProvider::Hcaptcha => "hcaptcha",
            CaptchaProvider::Altcha => "altcha",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CaptchaConfig {
    pub provider: CaptchaProvider,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HCaptchaConfig {
    pub site_key: String,
    pub secret_key: Secret,
    pub verify_url: url::Url,
}

impl Default for HCaptchaConfig {
    fn default() -> Self {
        Self {
            site_key: String::new(),
            secret_key: Secret::default(),
            verify_url: url::Url::parse("https://api.hcaptcha.com/siteverify")
                .expect("default verify_url is valid"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AltchaConfig {
    /// The largest secret number of a challenge: the browser tries half as many
    /// hashes on average, so this is the difficulty.
    pub max_number: NonZeroU64,
    /// How long a challenge may be solved and sent.
    pub expires_secs: NonZeroU64,
}

impl Default for AltchaConfig {
    fn default() -> Self {
        Self {
            max_number: NonZeroU64::new(100_000).expect("non-zero"),
            expires_secs: NonZeroU64::new(600).expect("non-zero"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeConfig {
    pub ttl_secs: NonZeroU64,
    pub max_attempts: NonZeroU32,
    pub resend_interval_secs: u64,
}

impl Default for CodeConfig {
    fn default() -> Self {
        Self {
            ttl_secs: NonZeroU64::new(600).expect("non-zero"),
            max_attempts: NonZeroU32::new(5).expect("non-zero"),
            resend_interval_secs: 60,
        }
    }
}

impl CodeConfig {
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs.get())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub ttl_secs: NonZeroU64,
    pub max_lifetime_secs: NonZeroU64,
    pub cookie_name: String,
    pub cookie_domain: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ttl_secs: NonZeroU64::new(2_592_000).expect("non-zero"),
            max_lifetime_secs: NonZeroU64::new(7_776_000).expect("non-zero"),
            cookie_name: "doorcode_session".into(),
            cookie_domain: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub email_per_hour: NonZeroU32,
    pub email_total_per_hour: NonZeroU32,
    pub ip_per_hour: NonZeroU32,
    pub failures_per_email_per_hour: NonZeroU32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            email_per_hour: NonZeroU32::new(5).expect("non-zero"),
            email_total_per_hour: NonZeroU32::new(20).expect("non-zero"),
            ip_per_hour: NonZeroU32::new(30).expect("non-zero"),
            failures_per_email_per_hour: NonZeroU32::new(20).expect("non-zero"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    pub secret_key: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignupConfig {
    pub ask_name: AskName,
    pub mode: SignupMode,
    pub allowed_domains: Vec<String>,
    pub invite_ttl_secs: NonZeroU64,
}

impl Default for SignupConfig {
    fn default() -> Self {
        Self {
            ask_name: AskName::default(),
            mode: SignupMode::default(),
            allowed_domains: Vec::new(),
            invite_ttl_secs: NonZeroU64::new(7 * 24 * 3600).expect("non-zero"),
        }
    }
}

/// When a new address gives its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AskName {
    /// The code page asks a new address for its name.
    #[default]
    WithCode,
    /// Every address sees the same code page; a new person names themselves after
    /// the right code, so nobody learns whether an address has an account.
    AfterCode,
}

impl ServerConfig {
    /// The language of pages and emails when `Accept-Language` names none doorcode
    /// has. `validate` makes sure it has a catalogue.
    pub fn default_language(&self) -> crate::i18n::Language {
        crate::i18n::Language::find(&self.default_language)
            .unwrap_or_else(crate::i18n::Language::english)
    }

    /// The logo for the page header, if one is set.
    pub fn logo(&self) -> Option<&str> {
        Some(self.logo_url.as_str()).filter(|url| !url.is_empty())
    }
}
