//! The sign-in's SQL for SQLite. The steps themselves are `../signin.rs`; each
//! runs inside one write transaction here (a read for the code page), on the
//! blocking pool.

use std::future::Future;

use futures_util::FutureExt;
use r2d2_sqlite::rusqlite::{Connection, OptionalExtension, params};

use super::{Sqlite, StorageError, sessions};
use crate::domain::{ChallengeId, CodeHash, EmailAddress, PersonName, TokenHash};
use crate::rules::{Adding, Challenge, Closed, EventKind, Probe};
use crate::storage::records::{
    ChallengeInfo, CodeMail, CompleteOutcome, CompleteRequest, NewChallenge, NewMail, NewSession,
    ResendOutcome, ResendRequest, SessionRecord, StartOutcome, StartRules, VerifyOutcome,
    VerifyRequest,
};
use crate::storage::signin::{self, LockScope, SignInTx};

/// A connection inside a transaction (or a reader, for the code page).
pub(super) struct Tx<'a>(pub(super) &'a Connection);

/// Runs a step whose SQL is all SQLite's: nothing in it ever waits, so it finishes
/// the first time it is polled, right here on the blocking thread.
pub(super) fn run_step<T>(step: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    step.now_or_never().unwrap_or_else(|| {
        Err(anyhow::anyhow!(
            "a SQLite step waited, which it never should"
        ))
    })
}

impl SignInTx for Tx<'_> {
    async fn challenge(&self, id: &ChallengeId) -> anyhow::Result<Option<Challenge>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT email, browser_hash, expires_at, attempts, verified_at, finished_at, \
                 user_id, session_hash FROM login_challenges WHERE id = ?1",
            )?
            .query_row([id.as_str()], |row| {
                Ok(Challenge {
                    email: EmailAddress::from_trusted(row.get(0)?),
                    browser_hash: row.get(1)?,
                    expires_at: row.get(2)?,
                    attempts: row.get(3)?,
                    verified_at: row.get(4)?,
                    finished_at: row.get(5)?,
                    adding: Adding::from_columns(row.get(6)?, row.get(7)?),
                })
            })
            .optional()?)
    }

    /// The one writer connection already runs every transaction alone.
    async fn lock(&self, _scope: LockScope, _key: &str) -> anyhow::Result<()> {
        Ok(())
    }

    async fn account_of(&self, email: &EmailAddress) -> anyhow::Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached("SELECT user_id FROM user_emails WHERE email = ?1")?
            .query_row([email.as_str()], |row| row.get(0))
            .optional()?)
    }

    async fn nth_newest(&self, probe: Probe, subject: &str) -> anyhow::Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT at FROM rate_events WHERE kind = ?1 AND subject = ?2 AND at > ?3 \
                 ORDER BY at DESC LIMIT 1 OFFSET ?4",
            )?
            .query_row(
                params![probe.kind.as_str(), subject, probe.since, probe.offset()],
                |row| row.get(0),
            )
            .optional()?)
    }

    async fn newest(&self, kind: EventKind, subject: &str) -> anyhow::Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached("SELECT max(at) FROM rate_events WHERE kind = ?1 AND subject = ?2")?
            .query_row(params![kind.as_str(), subject], |row| row.get(0))?)
    }

    async fn record(&self, kind: EventKind, subject: &str, now: i64) -> anyhow::Result<()> {
        self.0
            .prepare_cached("INSERT INTO rate_events (kind, subject, at) VALUES (?1, ?2, ?3)")?
            .execute(params![kind.as_str(), subject, now])?;
        Ok(())
    }

    async fn insert_challenge(&self, new: &NewChallenge, now: i64) -> anyhow::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO login_challenges \
                 (id, email, browser_hash, created_at, expires_at, user_id, session_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                new.id.as_str(),
                new.email.as_str(),
                new.browser_hash,
                now,
                new.code_expires_at,
                new.adding.as_ref().map(|a| a.user_id),
                new.adding.as_ref().map(|a| a.session_hash.as_str())
            ])?;
        Ok(())
    }

    async fn insert_code(
        &self,
        id: &ChallengeId,
        hash: &CodeHash,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO login_codes (challenge_id, code_hash, expires_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id.as_str(), hash.to_hex(), expires_at])?;
        Ok(())
    }

    async fn live_codes(&self, id: &ChallengeId, now: i64) -> anyhow::Result<Vec<CodeHash>> {
        let hashes = self
            .0
            .prepare_cached(
                "SELECT code_hash FROM login_codes WHERE challenge_id = ?1 AND expires_at > ?2",
            )?
            .query_map(params![id.as_str(), now], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(hashes
            .iter()
            .filter_map(|h| CodeHash::from_hex(h))
            .collect())
    }

    async fn extend(&self, id: &ChallengeId, expires_at: i64) -> anyhow::Result<()> {
        self.0
            .prepare_cached(
                "UPDATE login_challenges SET expires_at = max(expires_at, ?2) WHERE id = ?1",
            )?
            .execute(params![id.as_str(), expires_at])?;
        Ok(())
    }

    async fn count_attempt(&self, id: &ChallengeId) -> anyhow::Result<()> {
        self.0
            .prepare_cached("UPDATE login_challenges SET attempts = attempts + 1 WHERE id = ?1")?
            .execute([id.as_str()])?;
        Ok(())
    }

    async fn hold_for_name(
        &self,
        id: &ChallengeId,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        self.0
            .prepare_cached(
                "UPDATE login_challenges SET verified_at = ?2, expires_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id.as_str(), now, expires_at])?;
        self.delete_codes(id)
    }

    async fn finish(&self, id: &ChallengeId, now: i64) -> anyhow::Result<()> {
        self.0
            .prepare_cached("UPDATE login_challenges SET finished_at = ?2 WHERE id = ?1")?
            .execute(params![id.as_str(), now])?;
        self.delete_codes(id)
    }

    async fn create_user(
        &self,
        email: &EmailAddress,
        name: &PersonName,
        now: i64,
    ) -> anyhow::Result<i64> {
        self.0
            .prepare_cached(
                "INSERT INTO users (created_at, first_name, last_name) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![now, name.first, name.last])?;
        let user_id = self.0.last_insert_rowid();
        self.0
            .prepare_cached(
                "INSERT INTO user_emails (email, user_id, created_at, is_primary) \
                 VALUES (?1, ?2, ?3, 1)",
            )?
            .execute(params![email.as_str(), user_id, now])?;
        Ok(user_id)
    }

    async fn end_session(&self, token_hash: &TokenHash) -> anyhow::Result<()> {
        self.0
            .prepare_cached("DELETE FROM user_sessions WHERE token_hash = ?1")?
            .execute([token_hash.as_str()])?;
        Ok(())
    }

    async fn insert_session(
        &self,
        user_id: i64,
        session: &NewSession,
        now: i64,
    ) -> anyhow::Result<SessionRecord> {
        sessions::insert(self.0, user_id, session, now)?;
        sessions::find(self.0, &session.token_hash, now)?
            .ok_or_else(|| anyhow::anyhow!("the new session cannot be read back"))
    }

    async fn enqueue(&self, mail: &NewMail, now: i64) -> anyhow::Result<()> {
        super::outbox::insert(self.0, mail, now)?;
        Ok(())
    }

    async fn live_invitation(&self, email: &EmailAddress, now: i64) -> anyhow::Result<Option<i64>> {
        Ok(super::access::live_invitation(self.0, email, now)?)
    }

    async fn accept_invitation(
        &self,
        invitation: i64,
        user_id: i64,
        now: i64,
    ) -> anyhow::Result<()> {
        super::access::accept_invitation(self.0, invitation, user_id, now)
    }
}

impl Tx<'_> {
    fn delete_codes(&self, id: &ChallengeId) -> anyhow::Result<()> {
        self.0
            .prepare_cached("DELETE FROM login_codes WHERE challenge_id = ?1")?
            .execute([id.as_str()])?;
        Ok(())
    }
}

impl Sqlite {
    pub async fn challenge_info(
        &self,
        id: ChallengeId,
        browser_hash: Option<String>,
        max_attempts: u32,
    ) -> Result<Result<ChallengeInfo, Closed>, StorageError> {
        Self::with(&self.readers, "read a sign-in", move |conn| {
            run_step(signin::challenge_info(
                &Tx(conn),
                &id,
                browser_hash.as_deref(),
                max_attempts,
            ))
        })
        .await
    }

    pub async fn start_challenge(
        &self,
        new: NewChallenge,
        rules: StartRules,
        now: i64,
    ) -> Result<StartOutcome, StorageError> {
        self.write_any("start a sign-in", move |tx| {
            run_step(signin::start(&Tx(tx), new, &rules, now))
        })
        .await
    }

    pub async fn verify_code(&self, req: VerifyRequest) -> Result<VerifyOutcome, StorageError> {
        self.write_any("check a code", move |tx| {
            run_step(signin::verify(&Tx(tx), req))
        })
        .await
    }

    pub async fn complete_signup(
        &self,
        req: CompleteRequest,
    ) -> Result<CompleteOutcome, StorageError> {
        self.write_any("complete a sign-up", move |tx| {
            run_step(signin::complete(&Tx(tx), req))
        })
        .await
    }

    pub async fn resend_code(
        &self,
        req: ResendRequest,
        mail_for: impl FnOnce(&EmailAddress) -> CodeMail + Send + 'static,
    ) -> Result<ResendOutcome, StorageError> {
        self.write_any("resend a code", move |tx| {
            run_step(signin::resend(&Tx(tx), req, mail_for))
        })
        .await
    }
}
