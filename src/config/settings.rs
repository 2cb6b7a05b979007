//! The configuration as the service uses it, parsed once: every "empty means off"
//! becomes an `Option`, every address a parsed value, every duration a signed
//! number of seconds ready for arithmetic on timestamps. Parsing checks what a type
//! alone cannot (keys that depend on each other), with one line naming the key.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use lettre::Tokio1Executor;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;

use super::load::ConfigError;
use super::smtp::{SmtpTls, Target};
use super::{AskName, CaptchaProvider, Config, Secret};
use crate::domain::{ServerSecret, domain_name, host_is_under};
use crate::i18n::Language;
use crate::rules::sessions::Lifetimes;
use crate::rules::{Limits, SignupMode, SignupPolicy};
use crate::storage::Database;

/// Everything the service reads from `[database]`, `[email]`, `[turnstile]`,
/// `[captcha]`, `[hcaptcha]`, `[altcha]`,
/// `[code]`, `[session]`, `[rate_limit]`, `[security]` and `[signup]`, typed.
/// (`[server]`'s keys are typed as they are read.)
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: Database,
    pub secret: SecretSource,
    /// `None`: dev mode, mail is printed to the log.
    pub smtp: Option<SmtpTarget>,
    pub from: Mailbox,
    /// `None`: CAPTCHA off.
    pub captcha: Option<CaptchaSettings>,
    pub code: CodePolicy,
    pub sessions: Lifetimes,
    pub limits: Limits,
    pub ask_name: AskName,
    /// The domain the session cookie is sent to (`session.cookie_domain`), as
    /// A-labels; `None`: host-only.
    pub cookie_domain: Option<String>,
    /// Who may make an account.
    pub signup: SignupPolicy,
    /// How long an invitation works.
    pub invite_ttl_secs: i64,
    /// Whose `X-Forwarded-For` counts; `None` when `trust_proxy_headers` is off.
    pub proxies: Option<TrustedProxies>,
    /// Where `/metrics` is served; `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
    /// `[oidc]`.
    pub oidc: OidcSettings,
}

/// `[oidc]`, typed.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// The clients of `[[oidc.clients]]`; those of the command line are in the database.
    pub clients: Vec<super::OidcClient>,
}

/// Where the server secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    Key(ServerSecret),
    /// Made once into this file (beside the SQLite database) and reused.
    File(PathBuf),
}

/// An SMTP URL lettre accepts, and what its TLS is trusted by; the URL may
/// carry a password, so `Debug` hides it.
#[derive(Clone)]
pub struct SmtpTarget {
    url: Secret,
    pub tls: SmtpTls,
}

impl SmtpTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(drop)
            .map_err(|e| {
                format!("not a usable SMTP URL ({e}); e.g. smtp://user:pass@host:587?tls=required")
            })?;
        let target = Target::parse(url)?;
        if target.credentials_may_go_in_clear() {
            return Err(format!(
                "the password would go to {} unencrypted whenever the connection is not \
                 encrypted; add ?tls=required (STARTTLS) or use smtps://",
                target.address()
            ));
        }
        Ok(Self {
            url: Secret::new(url),
            tls: SmtpTls::default(),
        })
    }

    pub fn url(&self) -> &str {
        self.url.expose()
    }
}

impl fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmtpTarget([redacted])")
    }
}

/// `email.from`, parsed.
pub fn parse_from(from: &str) -> Result<Mailbox, String> {
    from.parse::<Mailbox>()
        .map_err(|e| format!("`{from}` is not an address like `Name <no-reply@example.com>` ({e})"))
}

/// The bot check the sign-in form asks for.
#[derive(Debug, Clone)]
pub enum CaptchaSettings {
    Turnstile(SiteverifyKeys),
    Hcaptcha(SiteverifyKeys),
    Altcha(AltchaSettings),
}

/// `[altcha]`, typed.
#[derive(Debug, Clone, Copy)]
pub struct AltchaSettings {
    pub max_number: u64,
    pub expires_secs: i64,
}

impl CaptchaSettings {
    pub fn provider(&self) -> CaptchaProvider {
        match self {
            CaptchaSettings::Turnstile(_) => CaptchaProvider::Turnstile,
            CaptchaSettings::Hcaptcha(_) => CaptchaProvider::Hcaptcha,
            CaptchaSettings::Altcha(_) => CaptchaProvider::Altcha,
        }
    }
}

/// A widget's site key, the secret, and where siteverify is (Turnstile's or
/// hCaptcha's, which answer alike).
#[derive(Debug, Clone)]
pub struct SiteverifyKeys {
    pub site_key: String,
    pub secret_key: Secret,
    pub verify_url: url::Url,
}

/// The networks of the proxies in front of doorcode (`server.trusted_proxies`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<Self, ConfigError> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::new(format!(
                            "server.trusted_proxies: `{entry}` is not a network like 10.0.0.0/8 or an address"
                        ))
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `[code]`.
#[derive(Debug, Clone, Copy)]
pub struct CodePolicy {
    pub ttl_secs: i64,
    pub max_attempts: u32,
    pub resend_interval_secs: i64,
}

/// Seconds from the configuration, capped so that adding them to a timestamp
/// cannot overflow.
fn secs(value: u64) -> i64 {
    i64::try_from(value)
        .unwrap_or(i64::MAX / 4)
        .min(i64::MAX / 4)
}

impl Settings {
    pub fn parse(config: &Config) -> Result<Self, ConfigError> {
        check_server(config)?;
        let sessions = Lifetimes {
            ttl_secs: secs(config.session.ttl_secs.get()),
            max_secs: secs(config.session.max_lifetime_secs.get()),
        };
        check_cookie_name(&config.session.cookie_name)?;
        Ok(Self {
            database: database(config)?,
            secret: secret(config)?,
            smtp: smtp(config)?,
            from: parse_from(&config.email.from)
                .map_err(|e| ConfigError::new(format!("email.from: {e}")))?,
            captcha: captcha(config)?,
            code: CodePolicy {
                ttl_secs: secs(config.code.ttl_secs.get()),
                max_attempts: config.code.max_attempts.get(),
                resend_interval_secs: secs(config.code.resend_interval_secs),
            },
            sessions,
            limits: Limits {
                email_per_hour: config.rate_limit.email_per_hour.get(),
                email_total_per_hour: config.rate_limit.email_total_per_hour.get(),
                ip_per_hour: config.rate_limit.ip_per_hour.get(),
                failures_per_email_per_hour: config.rate_limit.failures_per_email_per_hour.get(),
                resend_interval_secs: secs(config.code.resend_interval_secs),
            },
            ask_name: config.signup.ask_name,
            signup: signup(config)?,
            cookie_domain: cookie_domain(config)?,
            invite_ttl_secs: secs(config.signup.invite_ttl_secs.get()),
            metrics_listen: metrics_listen(&config.metrics.listen)?,
            oidc: OidcSettings {
                access_token_ttl_secs: secs(config.oidc.access_token_ttl_secs.get()),
                refresh_token_ttl_secs: secs(config.oidc.refresh_token_ttl_secs.get()),
                clients: super::oidc::clients(&config.oidc)?,
            },
            proxies: match config.server.trust_proxy_headers {
                true => Some(TrustedProxies::parse(&config.server.trusted_proxies)?),
                false => None,
            },
        })
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::new(message))
}

/// PostgreSQL when `database.url` is set, else the SQLite file.
fn database(config: &Config) -> Result<Database, ConfigError> {
    if config.database.path.as_os_str().is_empty() {
        return fail("database.path: must not be empty");
    }
    if config.database.url.is_empty() {
        return Ok(config.database.target());
    }
    let url = config.database.url.expose();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return fail("database.url: must be a postgres:// URL, or empty for SQLite");
    }
    if let Err(e) = url.parse::<tokio_postgres::Config>() {
        return fail(format!("database.url: not a valid PostgreSQL URL: {e}"));
    }
    // Every instance must hash and seal codes with the same secret; a file
    // beside a SQLite database would give each instance its own.
    if config.security.secret_key.is_empty() {
        return fail(
            "security.secret_key: must be set when database.url is set, the same on every \
             instance (e.g. the output of `openssl rand -hex 32`)",
        );
    }
    Ok(config.database.target())
}

fn secret(config: &Config) -> Result<SecretSource, ConfigError> {
    if config.security.secret_key.is_empty() {
        return Ok(SecretSource::File(config.database.secret_file()));
    }
    ServerSecret::decode(config.security.secret_key.expose())
        .map(SecretSource::Key)
        .map_err(|e| ConfigError::new(format!("security.secret_key: {e}")))
}

fn smtp(config: &Config) -> Result<Option<SmtpTarget>, ConfigError> {
    if config.email.smtp_url.is_empty() {
        return Ok(None);
    }
    let email = &config.email;
    let mut target = SmtpTarget::parse(email.smtp_url.expose())
        .map_err(|e| ConfigError::new(format!("email.smtp_url: {e}")))?;
    target.tls = SmtpTls::load(
        &email.tls_ca_file,
        &email.tls_client_cert,
        &email.tls_client_key,
    )
    .map_err(ConfigError::new)?;
    Ok(Some(target))
}

/// `captcha.provider` and its section. Turnstile is on only with both keys (none
/// is development); hCaptcha, chosen on purpose, needs both; ALTCHA needs none.
/// Exactly one key of a pair is a mistake worth stopping for, and so are hCaptcha
/// keys while another provider is chosen: with the default provider and no
/// Turnstile keys they would leave CAPTCHA off unnoticed. (Turnstile's keys, the
/// default's, may stay behind after a switch; start-up says they are unused.)
fn captcha(config: &Config) -> Result<Option<CaptchaSettings>, ConfigError> {
    let provider = config.captcha.provider;
    let hcaptcha = &config.hcaptcha;
    if provider != CaptchaProvider::Hcaptcha
        && (!hcaptcha.site_key.is_empty() || !hcaptcha.secret_key.is_empty())
    {
        return fail(format!(
            "captcha.provider: is {} while the hcaptcha keys are set; set it to \"hcaptcha\" \
             to use them, or empty them",
            provider.name()
        ));
    }
    match provider {
        CaptchaProvider::Turnstile => Ok(siteverify_keys(
            "turnstile",
            &config.turnstile.site_key,
            &config.turnstile.secret_key,
            &config.turnstile.verify_url,
        )?
        .map(CaptchaSettings::Turnstile)),
        CaptchaProvider::Hcaptcha => {
            let hcaptcha = &config.hcaptcha;
            match siteverify_keys(
                "hcaptcha",
                &hcaptcha.site_key,
                &hcaptcha.secret_key,
                &hcaptcha.verify_url,
            )? {
                Some(keys) => Ok(Some(CaptchaSettings::Hcaptcha(keys))),
                None => fail(
                    "hcaptcha.site_key: must be set because captcha.provider is hcaptcha \
                     (with hcaptcha.secret_key)",
                ),
            }
        }
        CaptchaProvider::Altcha => {
            let altcha = &config.altcha;
            if !ALTCHA_MAX_NUMBER.contains(&altcha.max_number.get()) {
                return fail(format!(
                    "altcha.max_number: must be between {} and {} (a browser tries half as \
                     many hashes on average)",
                    ALTCHA_MAX_NUMBER.start(),
                    ALTCHA_MAX_NUMBER.end()
                ));
            }
            if !ALTCHA_EXPIRES_SECS.contains(&altcha.expires_secs.get()) {
                return fail(format!(
                    "altcha.expires_secs: must be between {} and {} (a day): a solved \
                     challenge works that long",
                    ALTCHA_EXPIRES_SECS.start(),
                    ALTCHA_EXPIRES_SECS.end()
                ));
            }
            Ok(Some(CaptchaSettings::Altcha(AltchaSettings {
                max_number: altcha.max_number.get(),
                expires_secs: secs(altcha.expires_secs.get()),
            })))
        }
    }
}

/// Below a thousand the work is nothing; above a hundred million a phone gives up.
const ALTCHA_MAX_NUMBER: std::ops::RangeInclusive<u64> = 1_000..=100_000_000;
/// Long enough to type an address; short enough that solved challenges cannot be
/// stockpiled for long.
const ALTCHA_EXPIRES_SECS: std::ops::RangeInclusive<u64> = 30..=86_400;

fn siteverify_keys(
    section: &str,
    site_key: &str,
    secret_key: &Secret,
    verify_url: &url::Url,
) -> Result<Option<SiteverifyKeys>, ConfigError> {
    if site_key.is_empty() != secret_key.is_empty() {
        let (set, missing) = if site_key.is_empty() {
            ("secret_key", "site_key")
        } else {
            ("site_key", "secret_key")
        };
        return fail(format!(
            "{section}.{missing}: must be set because {section}.{set} is (set both to turn CAPTCHA on, or neither for development)"
        ));
    }
    if !matches!(verify_url.scheme(), "http" | "https") {
        return fail(format!(
            "{section}.verify_url: must be an http:// or https:// URL"
        ));
    }
    if site_key.is_empty() {
        return Ok(None);
    }
    Ok(Some(SiteverifyKeys {
        site_key: site_key.to_owned(),
        secret_key: secret_key.clone(),
        verify_url: verify_url.clone(),
    }))
}

/// `session.cookie_domain`, which must hold doorcode's own host: a browser ignores
/// a cookie for a domain the page is not under.
fn cookie_domain(config: &Config) -> Result<Option<String>, ConfigError> {
    let raw = config.session.cookie_domain.trim().trim_start_matches('.');
    if raw.is_empty() {
        return Ok(None);
    }
    let Some(domain) = domain_name(raw) else {
        return fail(format!(
            "session.cookie_domain: `{raw}` is not a domain name like example.com"
        ));
    };
    let host = config.server.base_url.host().to_ascii_lowercase();
    if !host_is_under(&host, &domain) {
        return fail(format!(
            "session.cookie_domain: server.base_url's host {host} is not under {domain}, so \
             browsers would refuse the cookie (use a domain that holds it, e.g. the part after \
             the first dot)"
        ));
    }
    Ok(Some(domain))
}

/// The mode, and its domains in the form addresses store theirs.
fn signup(config: &Config) -> Result<SignupPolicy, ConfigError> {
    let signup = &config.signup;
    let mut allowed_domains = Vec::new();
    for entry in &signup.allowed_domains {
        match domain_name(entry.trim_start_matches('@')) {
            Some(domain) => allowed_domains.push(domain),
            None => {
                return fail(format!(
                    "signup.allowed_domains: `{entry}` is not a domain name like example.com"
                ));
            }
        }
    }
    if signup.mode == SignupMode::Domains && allowed_domains.is_empty() {
        return fail(
            "signup.allowed_domains: must name at least one domain when signup.mode is              \"domains\" (or choose another mode)",
        );
    }
    if signup.mode != SignupMode::Domains && !allowed_domains.is_empty() {
        tracing::warn!(
            mode = signup.mode.as_str(),
            "signup.allowed_domains is set but only counts when signup.mode is \"domains\""
        );
    }
    Ok(SignupPolicy {
        mode: signup.mode,
        allowed_domains,
    })
}

fn metrics_listen(listen: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if listen.trim().is_empty() {
        return Ok(None);
    }
    listen.trim().parse().map(Some).map_err(|_| {
        ConfigError::new(format!(
            "metrics.listen: `{listen}` is not a socket address like 127.0.0.1:9464 (or empty for no metrics)"
        ))
    })
}

fn check_server(config: &Config) -> Result<(), ConfigError> {
    let server = &config.server;
    if server.app_name.trim().is_empty() {
        return fail("server.app_name: must not be empty");
    }
    if Language::find(&server.default_language).is_none() {
        return fail(format!(
            "server.default_language: `{}` has no catalogue (available: {}; add locales/{}.toml to add it)",
            server.default_language,
            Language::tags(),
            server.default_language,
        ));
    }
    check_logo_url(&server.logo_url)
        .map_err(|e| ConfigError::new(format!("server.logo_url: {e}")))?;
    for entry in &server.allowed_redirect_hosts {
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry.as_str(), None),
        };
        let is_host = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if !is_host || !port_ok {
            return fail(format!(
                "server.allowed_redirect_hosts: `{entry}` is not a host name, with a port or \
                 without (e.g. app.example.com or app.example.com:8443)"
            ));
        }
    }
    Ok(())
}

fn check_cookie_name(cookie: &str) -> Result<(), ConfigError> {
    let valid = !cookie.is_empty()
        && cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return fail(format!(
            "session.cookie_name: `{cookie}` may only contain letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// The header logo is loaded by every visitor's browser, so it must come over https
/// (or from this site), and its host is added to the Content-Security-Policy.
fn check_logo_url(logo: &str) -> Result<(), String> {
    if logo.is_empty() {
        return Ok(());
    }
    let example = "use an https:// URL or a path on this site such as /assets/logo.svg";
    if logo.starts_with('/') {
        let path_only = !logo.starts_with("//")
            && !logo.contains(['\\', '"', '\'', '<', '>', ' '])
            && !logo.chars().any(char::is_control);
        return if path_only {
            Ok(())
        } else {
            Err(format!("`{logo}` is not a plain path; {example}"))
        };
    }
    match url::Url::parse(logo) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some_and(|h| !h.is_empty()) => {
            if url.username().is_empty() && url.password().is_none() {
                Ok(())
            } else {
                Err(format!("`{logo}` must not contain a user name or password"))
            }
        }
        _ => Err(format!(
            "`{logo}` is neither an https:// URL nor a path; {example}"
        )),
    }
}
