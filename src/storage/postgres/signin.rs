//! The sign-in's SQL for PostgreSQL. The steps themselves are `../signin.rs`; each
//! runs inside one transaction here. What SQLite gets from its single writer, this
//! gets from the sign-in's row lock (`FOR UPDATE`) and advisory locks on the
//! address and the client address, so counts hold across instances.

use deadpool_postgres::GenericClient;

use super::{Postgres, StorageError, sessions};
use crate::domain::{ChallengeId, CodeHash, EmailAddress, PersonName, TokenHash};
use crate::rules::{Adding, Challenge, Closed, EventKind, Probe};
use crate::storage::records::{
    ChallengeInfo, CodeMail, CompleteOutcome, CompleteRequest, NewChallenge, NewMail, NewSession,
    ResendOutcome, ResendRequest, SessionRecord, StartOutcome, StartRules, VerifyOutcome,
    VerifyRequest,
};
use crate::storage::signin::{self, LockScope, SignInTx};

const SELECT_CHALLENGE: &str = "SELECT email, browser_hash, expires_at, attempts, \
     verified_at, finished_at, user_id, session_hash FROM login_challenges WHERE id = $1";

/// A transaction, or a plain connection for the code page's read, which takes no
/// locks as it neither counts nor changes anything.
pub(super) struct Tx<'a, C> {
    pub(super) db: &'a C,
    locking: bool,
}

impl<C: GenericClient + Sync> SignInTx for Tx<'_, C> {
    async fn challenge(&self, id: &ChallengeId) -> anyhow::Result<Option<Challenge>> {
        let row = if self.locking {
            let select = format!("{SELECT_CHALLENGE} FOR UPDATE");
            self.db.query_opt(&select, &[&id.as_str()]).await?
        } else {
            self.db.query_opt(SELECT_CHALLENGE, &[&id.as_str()]).await?
        };
        Ok(row.map(|row| Challenge {
            email: EmailAddress::from_trusted(row.get(0)),
            browser_hash: row.get(1),
            expires_at: row.get(2),
            attempts: u32::try_from(row.get::<_, i64>(3)).unwrap_or(u32::MAX),
            verified_at: row.get(4),
            finished_at: row.get(5),
            adding: Adding::from_columns(row.get(6), row.get(7)),
        }))
    }

    /// Held until the transaction ends, across all instances.
    async fn lock(&self, scope: LockScope, key: &str) -> anyhow::Result<()> {
        if self.locking {
            self.db
                .execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                    &[&format!("{}:{key}", scope.as_str())],
                )
                .await?;
        }
        Ok(())
    }

    async fn account_of(&self, email: &EmailAddress) -> anyhow::Result<Option<i64>> {
        let row = self
            .db
            .query_opt(
                "SELECT user_id FROM user_emails WHERE email = $1",
                &[&email.as_str()],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    async fn nth_newest(&self, probe: Probe, subject: &str) -> anyhow::Result<Option<i64>> {
        let row = self
            .db
            .query_opt(
                "SELECT at FROM rate_events WHERE kind = $1 AND subject = $2 AND at > $3 \
                 ORDER BY at DESC LIMIT 1 OFFSET $4",
                &[
                    &probe.kind.as_str(),
                    &subject,
                    &probe.since,
                    &probe.offset(),
                ],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    async fn newest(&self, kind: EventKind, subject: &str) -> anyhow::Result<Option<i64>> {
        Ok(self
            .db
            .query_one(
                "SELECT max(at) FROM rate_events WHERE kind = $1 AND subject = $2",
                &[&kind.as_str(), &subject],
            )
            .await?
            .get(0))
    }

    async fn record(&self, kind: EventKind, subject: &str, now: i64) -> anyhow::Result<()> {
        self.db
            .execute(
                "INSERT INTO rate_events (kind, subject, at) VALUES ($1, $2, $3)",
                &[&kind.as_str(), &subject, &now],
            )
            .await?;
        Ok(())
    }

    async fn insert_challenge(&self, new: &NewChallenge, now: i64) -> anyhow::Result<()> {
        self.db
            .execute(
                "INSERT INTO login_challenges \
                 (id, email, browser_hash, created_at, expires_at, user_id, session_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &new.id.as_str(),
                    &new.email.as_str(),
                    &new.browser_hash,
                    &now,
                    &new.code_expires_at,
                    &new.adding.as_ref().map(|a| a.user_id),
                    &new.adding.as_ref().map(|a| a.session_hash.as_str()),
                ],
            )
            .await?;
        Ok(())
    }

    async fn insert_code(
        &self,
        id: &ChallengeId,
        hash: &CodeHash,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        self.db
            .execute(
                "INSERT INTO login_codes (challenge_id, code_hash, expires_at) VALUES ($1, $2, $3)",
                &[&id.as_str(), &hash.to_hex(), &expires_at],
            )
            .await?;
        Ok(())
    }

    async fn live_codes(&self, id: &ChallengeId, now: i64) -> anyhow::Result<Vec<CodeHash>> {
        Ok(self
            .db
            .query(
                "SELECT code_hash FROM login_codes WHERE challenge_id = $1 AND expires_at > $2",
                &[&id.as_str(), &now],
            )
            .await?
            .iter()
            .filter_map(|row| CodeHash::from_hex(row.get(0)))
            .collect())
    }

    async fn extend(&self, id: &ChallengeId, expires_at: i64) -> anyhow::Result<()> {
        self.db
            .execute(
                "UPDATE login_challenges SET expires_at = greatest(expires_at, $2) WHERE id = $1",
                &[&id.as_str(), &expires_at],
            )
            .await?;
        Ok(())
    }

    async fn count_attempt(&self, id: &ChallengeId) -> anyhow::Result<()> {
        self.db
            .execute(
                "UPDATE login_challenges SET attempts = attempts + 1 WHERE id = $1",
                &[&id.as_str()],
            )
            .await?;
        Ok(())
    }

    async fn hold_for_name(
        &self,
        id: &ChallengeId,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        self.db
            .execute(
                "UPDATE login_challenges SET verified_at = $2, expires_at = $3 WHERE id = $1",
                &[&id.as_str(), &now, &expires_at],
            )
            .await?;
        self.delete_codes(id).await
    }

    async fn finish(&self, id: &ChallengeId, now: i64) -> anyhow::Result<()> {
        self.db
            .execute(
                "UPDATE login_challenges SET finished_at = $2 WHERE id = $1",
                &[&id.as_str(), &now],
            )
            .await?;
        self.delete_codes(id).await
    }

    async fn create_user(
        &self,
        email: &EmailAddress,
        name: &PersonName,
        now: i64,
    ) -> anyhow::Result<i64> {
        let user_id: i64 = self
            .db
            .query_one(
                "INSERT INTO users (created_at, first_name, last_name) VALUES ($1, $2, $3) \
                 RETURNING id",
                &[&now, &name.first, &name.last],
            )
            .await?
            .get(0);
        self.db
            .execute(
                "INSERT INTO user_emails (email, user_id, created_at, is_primary) \
                 VALUES ($1, $2, $3, true)",
                &[&email.as_str(), &user_id, &now],
            )
            .await?;
        Ok(user_id)
    }

    async fn end_session(&self, token_hash: &TokenHash) -> anyhow::Result<()> {
        self.db
            .execute(
                "DELETE FROM user_sessions WHERE token_hash = $1",
                &[&token_hash.as_str()],
            )
            .await?;
        Ok(())
    }

    async fn insert_session(
        &self,
        user_id: i64,
        session: &NewSession,
        now: i64,
    ) -> anyhow::Result<SessionRecord> {
        sessions::insert(self.db, user_id, session, now).await?;
        sessions::find(self.db, &session.token_hash, now)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the new session cannot be read back"))
    }

    async fn enqueue(&self, mail: &NewMail, now: i64) -> anyhow::Result<()> {
        super::outbox::insert(self.db, mail, now).await
    }

    async fn live_invitation(&self, email: &EmailAddress, now: i64) -> anyhow::Result<Option<i64>> {
        super::access::live_invitation(self.db, email, now).await
    }

    async fn accept_invitation(
        &self,
        invitation: i64,
        user_id: i64,
        now: i64,
    ) -> anyhow::Result<()> {
        super::access::accept_invitation(self.db, invitation, user_id, now).await
    }
}

impl<C: GenericClient + Sync> Tx<'_, C> {
    async fn delete_codes(&self, id: &ChallengeId) -> anyhow::Result<()> {
        self.db
            .execute(
                "DELETE FROM login_codes WHERE challenge_id = $1",
                &[&id.as_str()],
            )
            .await?;
        Ok(())
    }
}

impl Postgres {
    pub async fn challenge_info(
        &self,
        id: ChallengeId,
        browser_hash: Option<String>,
        max_attempts: u32,
    ) -> Result<Result<ChallengeInfo, Closed>, StorageError> {
        self.guard("read a sign-in", async {
            let client = self.client().await?;
            signin::challenge_info(
                &reading(&client),
                &id,
                browser_hash.as_deref(),
                max_attempts,
            )
            .await
        })
        .await
    }

    pub async fn start_challenge(
        &self,
        new: NewChallenge,
        rules: StartRules,
        now: i64,
    ) -> Result<StartOutcome, StorageError> {
        self.guard("start a sign-in", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = signin::start(&locking(&tx), new, &rules, now).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn verify_code(&self, req: VerifyRequest) -> Result<VerifyOutcome, StorageError> {
        self.guard("check a code", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = signin::verify(&locking(&tx), req).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn complete_signup(
        &self,
        req: CompleteRequest,
    ) -> Result<CompleteOutcome, StorageError> {
        self.guard("complete a sign-up", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = signin::complete(&locking(&tx), req).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn resend_code(
        &self,
        req: ResendRequest,
        mail_for: impl FnOnce(&EmailAddress) -> CodeMail + Send + 'static,
    ) -> Result<ResendOutcome, StorageError> {
        self.guard("resend a code", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = signin::resend(&locking(&tx), req, mail_for).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }
}

/// A transaction whose steps lock what they count against.
pub(super) fn locking<'a, 'c>(
    tx: &'a deadpool_postgres::Transaction<'c>,
) -> Tx<'a, deadpool_postgres::Transaction<'c>> {
    Tx {
        db: tx,
        locking: true,
    }
}

/// A plain connection for a read that neither counts nor changes anything, so
/// takes no locks.
pub(super) fn reading<C>(client: &C) -> Tx<'_, C> {
    Tx {
        db: client,
        locking: false,
    }
}
