//! Checking and ending sessions. A session's expiry slides forward while it is
//! used, but only once half its lifetime is gone, so a check is not a write.

use crate::domain::SessionToken;
use crate::state::AppState;
use crate::storage::{SessionRecord, StorageError};

/// `last_seen_at` is written at most this often per session.
const LAST_SEEN_EVERY_SECS: i64 = 300;

pub struct ActiveSession {
    pub token: SessionToken,
    pub record: SessionRecord,
    /// True when the expiry moved forward and the cookie should be sent again.
    pub renewed: bool,
}

/// The live session for a presented token, if any.
///
/// Every call reads the session row, so a revoked or expired session is refused at
/// once. Recording activity (and sliding the expiry) is a write that happens at
/// most every few minutes per session; when it fails (a full or read-only disk)
/// the session is still valid as stored, so it is answered as it stands rather
/// than with a 503.
pub async fn authenticate(
    state: &AppState,
    presented: &str,
) -> Result<Option<ActiveSession>, StorageError> {
    let Some(token) = SessionToken::from_presented(presented) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let token_hash = token.hash();
    let Some(mut record) = state.storage.find_session(token_hash.clone(), now).await? else {
        return Ok(None);
    };
    let ttl = i64::try_from(state.config.session.ttl_secs.get()).unwrap_or(i64::MAX / 4);
    let mut renewed = record.expires_at - now < ttl / 2;
    if renewed || now - record.last_seen_at >= LAST_SEEN_EVERY_SECS {
        let expires_at = if renewed {
            now + ttl
        } else {
            record.expires_at
        };
        match state
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
    Ok(Some(ActiveSession {
        token,
        record,
        renewed,
    }))
}

/// Deletes the session row for a presented token (if it names one).
pub async fn end(state: &AppState, presented: &str) -> Result<(), StorageError> {
    if let Some(token) = SessionToken::from_presented(presented)
        && state.storage.delete_session(token.hash()).await?
    {
        tracing::info!("signed out");
    }
    Ok(())
}
