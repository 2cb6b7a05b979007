//! Drains the outbox. Transient failures are retried with exponential backoff and
//! jitter while the code lives; permanent ones are given up with one log line.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lettre::message::Mailbox;
use rand::Rng;
use tokio::sync::{Notify, watch};

use super::{EmailTemplates, Letter, Mailer, SendError, build_message, open_code};
use crate::clock::Clock;
use crate::domain::{ServerSecret, mask_addresses};
use crate::i18n::Language;
use crate::metrics::{MailFailure, Metrics};
use crate::storage::{MailKind, QueuedMail, Storage};

/// Messages claimed at once. Small enough that a claimed batch is sent well within
/// the claim's lease even when every send runs into the SMTP timeout (2 rounds of
/// 15 s against 60 s), so no other worker takes a message that is still in hand.
const BATCH: u32 = 2 * CONCURRENT_SENDS as u32;
/// Messages in flight at once, each on its own pooled SMTP connection.
pub(super) const CONCURRENT_SENDS: usize = 32;
const MAX_BACKOFF_SECS: i64 = 16;
/// Upper bound on a sleep, so a clock change or a missed wake-up costs little.
const MAX_IDLE: Duration = Duration::from_secs(5);

pub struct MailSettings {
    pub from: Mailbox,
    pub app_name: String,
    pub base_url: String,
    pub code_minutes: u64,
    /// For a queued message whose language this build no longer has.
    pub default_language: Language,
}

#[derive(Clone)]
pub struct MailQueue {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Storage,
    mailer: Mailer,
    templates: EmailTemplates,
    secret: ServerSecret,
    clock: Clock,
    settings: MailSettings,
    metrics: Arc<Metrics>,
    wake: Notify,
}

impl MailQueue {
    pub fn new(
        storage: Storage,
        mailer: Mailer,
        templates: EmailTemplates,
        secret: ServerSecret,
        clock: Clock,
        settings: MailSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        let inner = Inner {
            storage,
            mailer,
            templates,
            secret,
            clock,
            settings,
            metrics,
            wake: Notify::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Tells the worker that a message was queued.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    pub fn is_dev(&self) -> bool {
        self.inner.mailer.is_dev()
    }

    /// Sends due messages until `shutdown` turns true; a message in hand is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let inner = &self.inner;
        while !*shutdown.borrow() {
            let now = inner.clock.now();
            let idle = match inner.storage.claim_due_mail(now, BATCH).await {
                Ok(batch) if !batch.is_empty() => {
                    // Several at once over the pooled SMTP connections; a stop signal
                    // lets the messages in hand finish and takes no new batch.
                    futures_util::stream::iter(batch)
                        .for_each_concurrent(CONCURRENT_SENDS, |mail| inner.deliver(mail))
                        .await;
                    continue;
                }
                Ok(_) => match inner.storage.next_mail_due().await {
                    Ok(Some(due)) => Duration::from_secs(due.saturating_sub(now).max(0) as u64),
                    Ok(None) => MAX_IDLE,
                    Err(e) => inner.storage_trouble(&e),
                },
                Err(e) => inner.storage_trouble(&e),
            };
            tokio::select! {
                () = inner.wake.notified() => {}
                () = tokio::time::sleep(idle.min(MAX_IDLE)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

impl Inner {
    fn storage_trouble(&self, error: &crate::storage::StorageError) -> Duration {
        tracing::error!(error = %error, "mail queue: cannot read the outbox; retrying in a second");
        Duration::from_secs(1)
    }

    async fn deliver(&self, mail: QueuedMail) {
        let now = self.clock.now();
        let to = mail.recipient.masked();
        if mail.expires_at <= now {
            tracing::warn!(to = %to, message_id = %mail.message_id, attempts = mail.attempts,
                "mail queue: the message expired before it could be sent; dropped");
            self.metrics.mail_failed(MailFailure::Expired);
            return self.record(
                self.storage
                    .give_up_mail(mail.id, now, format!("{} expired", kind_name(&mail)))
                    .await,
            );
        }
        let message = match self.compose(&mail) {
            Ok(message) => message,
            Err(e) => {
                let error = mask_addresses(&format!("{e:#}"));
                tracing::error!(to = %to, message_id = %mail.message_id, error = %error,
                    "mail queue: cannot compose the message; given up");
                self.metrics.mail_failed(MailFailure::Permanent);
                return self.record(self.storage.give_up_mail(mail.id, now, error).await);
            }
        };
        match self.mailer.send(message).await {
            Ok(()) => {
                tracing::info!(to = %to, message_id = %mail.message_id, kind = kind_name(&mail),
                    "mail queue: email sent");
                if mail.kind == Some(MailKind::Code) {
                    self.metrics.code_sent();
                }
                self.record(self.storage.mark_mail_sent(mail.id, self.clock.now()).await);
            }
            Err(SendError::Transient(reason)) => {
                // The server's own words may name the recipient.
                let reason = mask_addresses(&reason);
                let delay = backoff_secs(mail.attempts);
                tracing::warn!(to = %to, message_id = %mail.message_id, attempt = mail.attempts + 1,
                    retry_in_secs = delay, reason = %reason, "mail queue: SMTP failed for now; will retry");
                self.metrics.mail_failed(MailFailure::Transient);
                let next = self.clock.now() + delay;
                self.record(self.storage.retry_mail_later(mail.id, next, reason).await);
            }
            Err(SendError::Permanent(reason)) => {
                let reason = mask_addresses(&reason);
                tracing::error!(to = %to, message_id = %mail.message_id, reason = %reason,
                    "mail queue: the SMTP server refused the message for good; given up");
                self.metrics.mail_failed(MailFailure::Permanent);
                self.record(
                    self.storage
                        .give_up_mail(mail.id, self.clock.now(), reason)
                        .await,
                );
            }
        }
    }

    fn compose(&self, mail: &QueuedMail) -> anyhow::Result<lettre::Message> {
        let s = &self.settings;
        let kind = mail.kind.ok_or_else(|| {
            anyhow::anyhow!("the queued message is of a kind this version does not know")
        })?;
        let opened;
        let letter = match kind {
            MailKind::Code => {
                opened = open_code(&self.secret, &mail.message_id, &mail.sealed_code).ok_or_else(
                    || {
                        anyhow::anyhow!(
                            "the queued code cannot be opened (was the server secret changed?)"
                        )
                    },
                )?;
                Letter::Code {
                    code: opened.as_str(),
                    minutes: s.code_minutes,
                }
            }
            MailKind::LimitNotice => Letter::LimitNotice {
                address: mail.recipient.as_str(),
            },
            MailKind::Invitation => Letter::Invitation {
                address: mail.recipient.as_str(),
                // What is left of the invitation, which expires with its message.
                hours: u64::try_from(mail.expires_at - self.clock.now())
                    .unwrap_or(0)
                    .div_ceil(3600),
            },
            MailKind::AddressAdded | MailKind::AddressRemoved => {
                let about = mail.about.as_deref().ok_or_else(|| {
                    anyhow::anyhow!("the queued notice does not say which address it is about")
                })?;
                let (address, about) = (mail.recipient.as_str(), about);
                match kind {
                    MailKind::AddressAdded => Letter::AddressAdded { address, about },
                    _ => Letter::AddressRemoved { address, about },
                }
            }
        };
        // The language stored with the message: for a code, the page's that asked.
        let lang = Language::find(&mail.language).unwrap_or(s.default_language);
        let rendered = self
            .templates
            .render(lang, &letter, &s.app_name, &s.base_url)?;
        build_message(&s.from, mail.recipient.as_str(), &mail.message_id, rendered)
    }

    fn record(&self, result: Result<(), crate::storage::StorageError>) {
        if let Err(e) = result {
            tracing::error!(error = %e, "mail queue: cannot record a delivery outcome");
        }
    }
}

fn kind_name(mail: &QueuedMail) -> &'static str {
    mail.kind.map_or("unknown", MailKind::as_str)
}

/// 1, 2, 4, 8, 16, 16 … seconds, plus up to a quarter more at random so that many
/// messages failing together do not retry together.
fn backoff_secs(attempts: u32) -> i64 {
    let base = 1i64
        .checked_shl(attempts)
        .unwrap_or(MAX_BACKOFF_SECS)
        .min(MAX_BACKOFF_SECS);
    base + rand::rng().random_range(0..=base / 4)
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!((1..=1).contains(&backoff_secs(0)));
        assert!((4..=5).contains(&backoff_secs(2)));
        assert!((16..=20).contains(&backoff_secs(10)));
        assert!((16..=20).contains(&backoff_secs(64)));
    }
}
