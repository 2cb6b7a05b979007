//! `doorcode send-test-email ADDRESS`: one real message through the configured
//! SMTP server, so an operator sees mail arrive before anyone needs a code.

use std::time::Duration;

use anyhow::{Context, anyhow};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncTransport, Message};

use super::CliError;
use super::output::utc;
use crate::clock::Clock;
use crate::config::Config;
use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::mail::{Mailer, describe_smtp_error};

/// The whole exchange, connect to `250`; each SMTP command has its own shorter limit.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) async fn send(config: &Config, address: &str) -> Result<(), CliError> {
    let to = EmailAddress::parse(address)
        .map_err(|e| CliError::Usage(format!("`{address}` is not an email address. {e}")))?;
    let settings = Settings::parse(config).map_err(|e| anyhow!("{e}"))?;
    let message = test_message(config, &settings, &to)?;
    let url = config.email.smtp_url.expose();
    let mailer = Mailer::new(settings.smtp.as_ref()).context("email.smtp_url")?;
    match &mailer {
        Mailer::Log => {
            mailer.send(message).await.map_err(|e| anyhow!("{e}"))?;
            println!(
                "dev mode (email.smtp_url is empty): the message to {} was printed to the log, not sent",
                to.as_str()
            );
        }
        Mailer::Smtp(transport) => {
            let server = server_name(url);
            let answer = tokio::time::timeout(SEND_TIMEOUT, transport.send(message))
                .await
                .map_err(|_| {
                    anyhow!(
                        "cannot send the test message through {server}: no answer within {} s",
                        SEND_TIMEOUT.as_secs()
                    )
                })?
                .map_err(|e| {
                    anyhow!(
                        "cannot send the test message through {server}: {}",
                        describe_smtp_error(&e)
                    )
                })?;
            let words: Vec<&str> = answer.message().collect();
            println!(
                "sent a test message to {} through {server}; the server answered {} {}",
                to.as_str(),
                answer.code(),
                words.join(" ")
            );
        }
    }
    Ok(())
}

fn test_message(
    config: &Config,
    settings: &Settings,
    to: &EmailAddress,
) -> anyhow::Result<Message> {
    let app_name = &config.server.app_name;
    let base_url = config.server.base_url.origin();
    let sent_at = utc(Clock::default().now());
    let text = format!(
        "This is a test message from {app_name} ({base_url}), sent at {sent_at} by \
         `doorcode send-test-email`.\n\nIf you can read it, {app_name} can send sign-in \
         codes through this mail server. Nothing else needs doing.\n"
    );
    let html = maud::html! {
        (maud::DOCTYPE)
        html {
            body {
                p {
                    "This is a test message from " strong { (app_name) }
                    " (" a href=(base_url) { (base_url) } "), sent at " (sent_at)
                    " by " code { "doorcode send-test-email" } "."
                }
                p {
                    "If you can read it, " (app_name) " can send sign-in codes through "
                    "this mail server. Nothing else needs doing."
                }
            }
        }
    };
    let from = settings.from.clone();
    let to: Mailbox = to.as_str().parse().context("the recipient address")?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(format!("Test message from {app_name}"))
        .message_id(None)
        .date_now()
        .multipart(MultiPart::alternative_plain_html(text, html.into_string()))
        .context("cannot build the test message")
}

/// `host:port` from an SMTP URL, leaving out the user name and password.
fn server_name(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("?");
            match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            }
        }
        Err(_) => "the SMTP server".into(),
    }
}
