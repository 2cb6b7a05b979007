//! Outgoing mail: the transport (SMTP, or the log in dev mode), the templates, the
//! sealed codes in the queue, and the worker that drains the queue.

mod check;
mod seal;
mod templates;
mod tls;
mod worker;

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

use crate::config::SmtpTarget;

pub use check::{Outcome, STEP_TIMEOUT, SmtpStep, check_smtp, describe_smtp_error};
pub use seal::{open_code, seal_code};
pub use templates::{EmailTemplates, Letter, RenderedEmail};
pub use worker::{MailQueue, MailSettings};

/// How long one SMTP exchange may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// How a message left (or did not leave).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: connection refused or dropped, timeouts, 4xx replies.
    #[error("{0}")]
    Transient(String),
    /// The server refused the message for good (5xx).
    #[error("{0}")]
    Permanent(String),
}

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Dev mode: every message is written to the log instead of sent.
    Log,
}

impl Mailer {
    /// No SMTP server means dev mode.
    pub fn new(smtp: Option<&SmtpTarget>) -> anyhow::Result<Self> {
        let Some(smtp) = smtp else {
            return Ok(Mailer::Log);
        };
        // One pooled connection per message in flight: lettre writes a message's end
        // in a separate small packet that waits out the peer's delayed ACK (~40 ms),
        // so throughput comes from sending on many connections at once.
        let pool =
            lettre::transport::smtp::PoolConfig::new().max_size(worker::CONCURRENT_SENDS as u32);
        let transport = tls::transport(smtp)?
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(pool)
            .build();
        Ok(Mailer::Smtp(transport))
    }

    pub fn is_dev(&self) -> bool {
        matches!(self, Mailer::Log)
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(transport) => transport.send(message).await.map(drop).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
            Mailer::Log => {
                let formatted = String::from_utf8_lossy(&message.formatted()).into_owned();
                tracing::info!(
                    "dev mode (email.smtp_url is empty): this email is printed, not sent\n{formatted}"
                );
                Ok(())
            }
        }
    }
}

/// Builds the code email: plain text and HTML alternatives, with the stored
/// Message-ID so a retried message is recognisably the same one.
pub fn build_message(
    from: &Mailbox,
    to: &str,
    message_id: &str,
    email: RenderedEmail,
) -> anyhow::Result<Message> {
    Ok(Message::builder()
        .from(from.clone())
        .to(to.parse::<Mailbox>()?)
        .subject(email.subject)
        .message_id(Some(message_id.to_owned()))
        .date_now()
        .multipart(MultiPart::alternative_plain_html(email.text, email.html))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_starttls_and_tls_urls_build_transports() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pa%40ss@smtp.example.com:587?tls=required",
            "smtp://smtp.example.com:587?tls=opportunistic",
            "smtps://user:pass@smtp.example.com:465",
        ] {
            let target = SmtpTarget::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(!Mailer::new(Some(&target)).unwrap().is_dev(), "{url}");
        }
        assert!(Mailer::new(None).unwrap().is_dev());
        for bad in ["http://smtp.example.com", "smtp//nohost", "mailto:x@y.z"] {
            assert!(SmtpTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
