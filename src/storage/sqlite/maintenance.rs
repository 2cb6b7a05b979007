//! Pruning: every table that grows with traffic loses its dead rows here; and the
//! record of used CAPTCHA solutions, which pruning keeps short.

use r2d2_sqlite::rusqlite::params;

use super::{Sqlite, StorageError};
use crate::rules::WINDOW_SECS;
use crate::storage::records::{KEEP_CAPTCHA_SECS, KEEP_INVITATIONS_SECS, KEEP_MAIL_SECS, Pruned};

impl Sqlite {
    pub async fn prune(&self, now: i64) -> Result<Pruned, StorageError> {
        self.write("prune expired rows", move |tx| {
            let sessions = tx.execute("DELETE FROM user_sessions WHERE expires_at <= ?1", [now])?;
            tx.execute("DELETE FROM login_codes WHERE expires_at <= ?1", [now])?;
            let challenges = tx.execute(
                "DELETE FROM login_challenges WHERE expires_at <= ?1",
                [now],
            )? + tx.execute(
                "DELETE FROM passkey_ceremonies WHERE expires_at <= ?1",
                [now],
            )?;
            let rate_events =
                tx.execute("DELETE FROM rate_events WHERE at <= ?1", [now - WINDOW_SECS])?;
            let mail = tx.execute(
                "DELETE FROM outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at <= ?1",
                params![now - KEEP_MAIL_SECS],
            )?;
            // Their groups go with them (`ON DELETE CASCADE`).
            let invitations = tx.execute(
                "DELETE FROM invitations WHERE min(coalesce(used_at, expires_at), \
                 coalesce(revoked_at, expires_at), expires_at) <= ?1",
                params![now - KEEP_INVITATIONS_SECS],
            )?;
            tx.execute("DELETE FROM oidc_tokens WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "DELETE FROM captcha_solutions WHERE expires_at <= ?1",
                [now - KEEP_CAPTCHA_SECS],
            )?;
            // Their tokens go with them (`ON DELETE CASCADE`).
            let grants = tx.execute("DELETE FROM oidc_grants WHERE expires_at <= ?1", [now])?;
            Ok(Pruned { sessions, challenges, rate_events, mail, invitations, grants })
        })
        .await
    }

    /// Records a CAPTCHA solution as used; `false` when it already was.
    pub async fn spend_captcha(
        &self,
        challenge_hash: String,
        expires_at: i64,
    ) -> Result<bool, StorageError> {
        self.write("record a CAPTCHA solution", move |tx| {
            let added = tx
                .prepare_cached(
                    "INSERT INTO captcha_solutions (challenge_hash, expires_at) VALUES (?1, ?2) \
                     ON CONFLICT (challenge_hash) DO NOTHING",
                )?
                .execute(params![challenge_hash, expires_at])?;
            Ok(added == 1)
        })
        .await
    }
}
