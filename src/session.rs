//! The one door for credentials. Every surface (the pages, the JSON API, forward
//! auth, and the hot path ahead of the middleware) reads what a request presents,
//! asks [`Sessions::check`], and applies the answer: which session it is, and what
//! to do with the cookie. None of them decides any of it itself.
//!
//! A session's expiry slides forward while it is used, but only once half its
//! lifetime is gone, so a check is not a write.

use crate::clock::Clock;
use crate::domain::SessionToken;
use crate::storage::{SessionRecord, Storage, StorageError};

/// `last_seen_at` is written at most this often per session.
const LAST_SEEN_EVERY_SECS: i64 = 300;

/// Who is asking, which decides the credentials that count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A page for a browser: only the session cookie counts.
    Page,
    /// The JSON API and forward auth: `Authorization: Bearer` first, else the cookie.
    Service,
}

/// The credential that counts for a request, not yet checked. Never logged.
pub enum Presented {
    Bearer(String),
    Cookie(String),
}

impl Presented {
    /// On a service surface an explicit bearer token is the only credential
    /// considered, so a bad one is refused rather than quietly replaced by a
    /// cookie. The cookie is read only when needed.
    pub fn read(
        surface: Surface,
        bearer: Option<String>,
        cookie: impl FnOnce() -> Option<String>,
    ) -> Option<Self> {
        match (surface, bearer) {
            (Surface::Service, Some(token)) => Some(Presented::Bearer(token)),
            _ => cookie().map(Presented::Cookie),
        }
    }

    pub fn via_cookie(&self) -> bool {
        matches!(self, Presented::Cookie(_))
    }

    fn token(&self) -> &str {
        match self {
            Presented::Bearer(token) | Presented::Cookie(token) => token,
        }
    }
}

/// What to do with the browser's session cookie.
#[derive(Debug)]
pub enum CookieAction {
    Keep,
    /// The session's expiry moved forward; send the cookie again with it.
    Renew(SessionToken),
    /// The cookie names no live session; tell the browser to drop it.
    Clear,
}

pub struct ActiveSession {
    pub token: SessionToken,
    pub record: SessionRecord,
}

/// The gate's answer.
pub struct Checked {
    /// The live session, or `None`: what that means (a redirect, a 401) is the
    /// surface's to say.
    pub session: Option<ActiveSession>,
    pub cookie: CookieAction,
}

/// Checks and ends sessions.
#[derive(Clone)]
pub struct Sessions {
    storage: Storage,
    clock: Clock,
    ttl_secs: i64,
}

impl Sessions {
    pub fn new(storage: Storage, clock: Clock, ttl_secs: i64) -> Self {
        Self {
            storage,
            clock,
            ttl_secs,
        }
    }

    /// How long a session lives from its start or its last renewal.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// The live session for a presented credential, if any.
    ///
    /// Every call reads the session row, so a revoked or expired session is refused
    /// at once. Recording activity (and sliding the expiry) is a write that happens
    /// at most every few minutes per session; when it fails (a full or read-only
    /// disk) the session is still valid as stored, so it is answered as it stands
    /// rather than with a 503.
    pub async fn check(&self, presented: Option<&Presented>) -> Result<Checked, StorageError> {
        let Some(presented) = presented else {
            return Ok(Checked {
                session: None,
                cookie: CookieAction::Keep,
            });
        };
        let dead = || Checked {
            session: None,
            cookie: match presented.via_cookie() {
                true => CookieAction::Clear,
                false => CookieAction::Keep,
            },
        };
        let Some(token) = SessionToken::from_presented(presented.token()) else {
            return Ok(dead());
        };
        let now = self.clock.now();
        let token_hash = token.hash();
        let Some(mut record) = self.storage.find_session(token_hash.clone(), now).await? else {
            return Ok(dead());
        };
        let mut renewed = record.expires_at - now < self.ttl_secs / 2;
        if renewed || now - record.last_seen_at >= LAST_SEEN_EVERY_SECS {
            let expires_at = if renewed {
                now + self.ttl_secs
            } else {
                record.expires_at
            };
            match self
                .storage
                .touch_session(token_hash, now, expires_at)
                .await
            {
                Ok(()) => {
                    record.expires_at = expires_at;
                    record.last_seen_at = now;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record session activity; the session is not renewed this time");
                    renewed = false;
                }
            }
        }
        let cookie = match renewed && presented.via_cookie() {
            true => CookieAction::Renew(token.clone()),
            false => CookieAction::Keep,
        };
        Ok(Checked {
            session: Some(ActiveSession { token, record }),
            cookie,
        })
    }

    /// Deletes the session row for a presented token (if it names one).
    pub async fn end(&self, presented: &str) -> Result<(), StorageError> {
        if let Some(token) = SessionToken::from_presented(presented)
            && self.storage.delete_session(token.hash()).await?
        {
            tracing::info!("signed out");
        }
        Ok(())
    }
}
