//! The one door for credentials. Every surface (the pages, the JSON API, forward
//! auth, and the hot path ahead of the middleware) reads what a request presents,
//! asks [`Sessions::check`], and applies the answer: which session it is, and what
//! to do with the cookie. None of them decides any of it itself.
//!
//! When a session is renewed, recorded as seen, or over is
//! [`crate::rules::sessions`]'s to say.

use crate::clock::Clock;
use crate::domain::SessionToken;
use crate::rules::sessions::{self, Lifetimes, Seen, Touch};
use crate::storage::{SessionRecord, Storage, StorageError};

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
    /// The session's expiry moved forward; send the cookie again, living as long.
    Renew {
        token: SessionToken,
        max_age_secs: i64,
    },
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
    lifetimes: Lifetimes,
}

impl Sessions {
    pub fn new(storage: Storage, clock: Clock, lifetimes: Lifetimes) -> Self {
        Self {
            storage,
            clock,
            lifetimes,
        }
    }

    /// The live session for a presented credential, if any.
    ///
    /// Every call reads the session row, so a revoked, expired or too old session
    /// is refused at once. Recording activity (and sliding the expiry) is a write
    /// that happens at most every few minutes per session; when it fails (a full or
    /// read-only disk) the session is still valid as stored, so it is answered as
    /// it stands rather than with a 503.
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
        let seen = Seen {
            created_at: record.created_at,
            expires_at: record.expires_at,
            last_seen_at: record.last_seen_at,
        };
        let (expires_at, write) = match sessions::touch(seen, self.lifetimes, now) {
            Touch::Over => {
                if let Err(e) = self.storage.delete_session(token_hash).await {
                    tracing::warn!(error = %e, "cannot delete a session past its maximum lifetime");
                }
                return Ok(dead());
            }
            Touch::Nothing => (record.expires_at, false),
            Touch::Seen => (record.expires_at, true),
            Touch::Renew { expires_at } => (expires_at, true),
        };
        let mut cookie = CookieAction::Keep;
        if write {
            match self
                .storage
                .touch_session(token_hash, now, expires_at)
                .await
            {
                Ok(()) => {
                    if expires_at > record.expires_at && presented.via_cookie() {
                        cookie = CookieAction::Renew {
                            token: token.clone(),
                            max_age_secs: expires_at - now,
                        };
                    }
                    record.expires_at = expires_at;
                    record.last_seen_at = now;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record session activity; the session is not renewed this time");
                }
            }
        }
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
