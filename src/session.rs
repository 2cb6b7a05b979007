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
pub async fn authenticate(
    state: &AppState,
    presented: &str,
) -> Result<Option<ActiveSession>, StorageError> {
    let Some(token) = SessionToken::from_presented(presented) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let Some(mut record) = state.storage.find_session(token.hash(), now).await? else {
        return Ok(None);
    };
    let ttl = i64::try_from(state.config.session.ttl_secs.get()).unwrap_or(i64::MAX / 4);
    let renewed = record.expires_at - now < ttl / 2;
    if renewed || now - record.last_seen_at >= LAST_SEEN_EVERY_SECS {
        if renewed {
            record.expires_at = now + ttl;
        }
        record.last_seen_at = now;
        state
            .storage
            .touch_session(token.hash(), now, record.expires_at)
            .await?;
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
