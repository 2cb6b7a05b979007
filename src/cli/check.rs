//! `doorcode check`: is this installation ready? The configuration, each step of
//! the SMTP conversation, the CAPTCHA provider's secret, and the database, one line
//! each.

use std::io::Write;

use anyhow::anyhow;

use super::output::count;
use super::{CliError, ConfigSource};
use crate::captcha::{CaptchaError, Siteverify, Vendor};
use crate::clock::Clock;
use crate::config::{CaptchaSettings, Config, Settings, SiteverifyKeys};
use crate::mail::{Outcome, check_smtp};
use crate::storage::Storage;

/// Cloudflare's documented dummy token: Cloudflare's siteverify judges the secret
/// first, so the answer to it tells whether the secret is known without a real
/// visitor. hCaptcha's answers an unknown secret (or a pair that does not belong
/// together) the same way, though it does not document the order.
const DUMMY_TOKEN: &str = "XXXX.DUMMY.TOKEN.XXXX";

pub(super) async fn check(config: &Config, source: &ConfigSource) -> Result<(), CliError> {
    let mut report = Report::default();
    let path = source.path.display();
    let read = if source.found {
        format!("{path} and DOORCODE_* variables")
    } else {
        format!("built-in defaults and DOORCODE_* variables ({path} not found)")
    };
    let config_line = format!("{read}: every key is valid");
    report.line("config", Outcome::Passed(config_line));

    let settings = Settings::parse(config).map_err(|e| CliError::Usage(e.to_string()))?;
    match &settings.smtp {
        None => {
            let detail =
                "dev mode: email.smtp_url is empty, so emails are printed to the log, not sent";
            report.line("smtp", Outcome::Skipped(detail.into()));
        }
        Some(smtp) => {
            for step in check_smtp(smtp).await {
                report.line(&format!("smtp {}", step.name), step.outcome);
            }
        }
    }
    let sends_mail = settings.smtp.is_some();
    match &settings.captcha {
        Some(CaptchaSettings::Turnstile(keys)) => {
            report.line("turnstile", siteverify(Vendor::Turnstile, keys).await);
        }
        Some(CaptchaSettings::Hcaptcha(keys)) => {
            report.line("hcaptcha", siteverify(Vendor::Hcaptcha, keys).await);
        }
        Some(CaptchaSettings::Altcha(altcha)) => {
            let outcome = if config.server.base_url.is_secure_context() {
                Outcome::Passed(format!(
                    "self-hosted proof of work, nothing to reach: challenges signed with a \
                     key from the server secret, up to {} hashes each, valid for {} s",
                    altcha.max_number, altcha.expires_secs
                ))
            } else {
                Outcome::Failed(format!(
                    "server.base_url {} is plain http on another machine: browsers give the \
                     widget no Web Crypto there, so nobody could sign in; serve doorcode over https",
                    config.server.base_url.origin()
                ))
            };
            report.line("altcha", outcome);
        }
        None => report.line("turnstile", captcha_off(sends_mail)),
    }
    report.line("database", database(config).await);
    let exposed: Vec<String> = [
        super::exposed_secret_file(config),
        super::exposed_config_file(source),
    ]
    .into_iter()
    .flatten()
    .collect();
    let files = if exposed.is_empty() {
        Outcome::Passed("no file holding a secret is open to other users".into())
    } else {
        Outcome::Failed(exposed.join("; "))
    };
    report.line("files", files);
    report.finish()
}

#[derive(Default)]
struct Report {
    lines: usize,
    failed: Vec<String>,
}

impl Report {
    /// Prints at once, so a person watching sees a slow step as it happens.
    fn line(&mut self, name: &str, outcome: Outcome) {
        let (status, detail) = match outcome {
            Outcome::Passed(detail) => ("ok", detail),
            Outcome::Skipped(detail) => ("skipped", detail),
            Outcome::Failed(detail) => {
                self.failed.push(name.to_owned());
                ("FAILED", detail)
            }
        };
        // What a server or a certificate said, shown without any control
        // character (a terminal escape sequence in a certificate's name included).
        let detail = super::output::clean(&detail.replace(['\r', '\n'], " "));
        println!("{name:<14} {status:<7} {detail}");
        let _ = std::io::stdout().flush();
        self.lines += 1;
    }

    fn finish(self) -> Result<(), CliError> {
        if self.failed.is_empty() {
            println!("all {} checks passed", self.lines);
            return Ok(());
        }
        Err(CliError::Failed(anyhow!(
            "{} of {} failed: {}",
            count(self.failed.len() as u64, "check"),
            self.lines,
            self.failed.join(", ")
        )))
    }
}

fn captcha_off(sends_mail: bool) -> Outcome {
    // Real mail with no bot check: anyone can make doorcode mail any address.
    if sends_mail {
        return Outcome::Failed(
            "CAPTCHA is off while real mail goes out, so anyone can have codes mailed to \
             any address; set turnstile.site_key and turnstile.secret_key, or \
             captcha.provider = \"altcha\""
                .into(),
        );
    }
    Outcome::Skipped("CAPTCHA is off: turnstile.site_key and turnstile.secret_key are empty".into())
}

async fn siteverify(vendor: Vendor, keys: &SiteverifyKeys) -> Outcome {
    let siteverify = match Siteverify::new(vendor, keys) {
        Ok(siteverify) => siteverify,
        Err(e) => return Outcome::Failed(format!("{e:#}")),
    };
    let url = &keys.verify_url;
    let key = format!("{}.secret_key", vendor.name());
    let answer = siteverify.ask(DUMMY_TOKEN).await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(CaptchaError::Unavailable(e)) => {
            return Outcome::Failed(format!("siteverify at {url}: {e:#}"));
        }
        Err(e) => return Outcome::Failed(format!("siteverify at {url}: {e}")),
    };
    let codes = answer.error_codes.join(", ");
    let refused = [
        "invalid-input-secret",
        "missing-input-secret",
        "sitekey-secret-mismatch",
        "not-using-dummy-passcode",
    ];
    if answer
        .error_codes
        .iter()
        .any(|c| refused.contains(&c.as_str()))
    {
        return Outcome::Failed(format!(
            "siteverify at {url} refuses {key} or its site key ({codes})"
        ));
    }
    if answer.success {
        Outcome::Passed(format!(
            "siteverify at {url} accepts {key} (and passes any token, as test secrets do)"
        ))
    } else {
        Outcome::Passed(format!(
            "siteverify at {url} accepts {key} (a dummy token got {codes}, as expected)"
        ))
    }
}

/// The database as an operator knows it, without the password a URL may hold.
fn database_name(config: &Config) -> String {
    if config.database.url.is_empty() {
        return config.database.path.display().to_string();
    }
    match url::Url::parse(config.database.url.expose()) {
        Ok(url) => format!(
            "PostgreSQL at {}{}",
            url.host_str().unwrap_or("localhost"),
            url.path()
        ),
        Err(_) => "PostgreSQL".to_owned(),
    }
}

async fn database(config: &Config) -> Outcome {
    let overview = async {
        let storage = Storage::open(&config.database.target()).await?;
        storage.ping().await?;
        anyhow::Ok(storage.database_overview(Clock::default().now()).await?)
    };
    match overview.await {
        Ok(o) => Outcome::Passed(format!(
            "{}: schema version {}, {}, {}",
            database_name(config),
            o.schema_version,
            count(o.users, "user"),
            count(o.live_sessions, "live session")
        )),
        Err(e) => Outcome::Failed(format!("{e:#}")),
    }
}
