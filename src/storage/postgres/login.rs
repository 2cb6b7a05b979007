//! The sign-in state machine of `../login.rs`, for PostgreSQL. Each public function
//! is one transaction that first locks what it counts against: the sign-in's row
//! (`FOR UPDATE`), then the address, then the client IP (advisory locks), always in
//! that order so two transactions never wait on each other in a circle.

use deadpool_postgres::{GenericClient, Transaction};

use super::super::login::{
    ChallengeInfo, ChallengeRow, Closed, CompleteOutcome, NewChallenge, ResendOutcome,
    ResendRequest, StartOutcome, VerifyOutcome, VerifyRequest,
};
use super::super::outbox::NewMail;
use super::super::rate::{FAIL, Limits, Refusal};
use super::super::sessions::{NewSession, SessionRecord};
use super::{Postgres, StorageError, lock, outbox, rate, sessions};
use crate::domain::{CodeHash, EmailAddress, PersonName};

const ADDRESS: &str = "address";

const SELECT_CHALLENGE: &str = "SELECT email, browser_hash, expires_at, attempts, \
     verified_at, finished_at FROM login_challenges WHERE id = $1";

async fn load_for_update(tx: &Transaction<'_>, id: &str) -> anyhow::Result<Option<ChallengeRow>> {
    load(tx, &format!("{SELECT_CHALLENGE} FOR UPDATE"), id).await
}

async fn load(
    db: &impl GenericClient,
    select: &str,
    id: &str,
) -> anyhow::Result<Option<ChallengeRow>> {
    let row = db.query_opt(select, &[&id]).await?;
    Ok(row.map(|row| ChallengeRow {
        email: EmailAddress::from_trusted(row.get(0)),
        browser_hash: row.get(1),
        expires_at: row.get(2),
        attempts: u32::try_from(row.get::<_, i64>(3)).unwrap_or(u32::MAX),
        verified_at: row.get(4),
        finished_at: row.get(5),
    }))
}

/// Locks the sign-in, then its address; `Err` when the sign-in cannot be continued.
async fn open_challenge(
    tx: &Transaction<'_>,
    id: &str,
    browser_hash: Option<&str>,
) -> anyhow::Result<Result<ChallengeRow, Closed>> {
    let row = ChallengeRow::open(load_for_update(tx, id).await?, browser_hash);
    if let Ok(row) = &row {
        lock(tx, ADDRESS, row.email.as_str()).await?;
    }
    Ok(row)
}

async fn find_user_id(
    db: &impl GenericClient,
    email: &EmailAddress,
) -> anyhow::Result<Option<i64>> {
    let row = db
        .query_opt(
            "SELECT user_id FROM user_emails WHERE email = $1",
            &[&email.as_str()],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

async fn info(
    db: &impl GenericClient,
    row: &ChallengeRow,
    id: &str,
    max_attempts: u32,
) -> anyhow::Result<ChallengeInfo> {
    Ok(ChallengeInfo {
        id: id.to_owned(),
        email: row.email.clone(),
        has_account: find_user_id(db, &row.email).await?.is_some(),
        expires_at: row.expires_at,
        attempts_left: max_attempts.saturating_sub(row.attempts),
    })
}

async fn create_user(
    tx: &Transaction<'_>,
    email: &EmailAddress,
    name: &PersonName,
    now: i64,
) -> anyhow::Result<i64> {
    let user_id: i64 = tx
        .query_one(
            "INSERT INTO users (created_at, first_name, last_name) VALUES ($1, $2, $3) RETURNING id",
            &[&now, &name.first, &name.last],
        )
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO user_emails (email, user_id, created_at) VALUES ($1, $2, $3)",
        &[&email.as_str(), &user_id, &now],
    )
    .await?;
    Ok(user_id)
}

/// Ends the sign-in for good and creates the session.
async fn sign_in(
    tx: &Transaction<'_>,
    challenge_id: &str,
    user_id: i64,
    session: &NewSession,
    now: i64,
) -> anyhow::Result<SessionRecord> {
    tx.execute(
        "UPDATE login_challenges SET finished_at = $2 WHERE id = $1",
        &[&challenge_id, &now],
    )
    .await?;
    delete_codes(tx, challenge_id).await?;
    sessions::insert(tx, user_id, session, now).await?;
    sessions::find(tx, &session.token_hash, now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the new session cannot be read back"))
}

async fn delete_codes(tx: &Transaction<'_>, challenge_id: &str) -> anyhow::Result<()> {
    tx.execute(
        "DELETE FROM login_codes WHERE challenge_id = $1",
        &[&challenge_id],
    )
    .await?;
    Ok(())
}

async fn insert_code(
    tx: &Transaction<'_>,
    id: &str,
    code_hash: &CodeHash,
    expires_at: i64,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO login_codes (challenge_id, code_hash, expires_at) VALUES ($1, $2, $3)",
        &[&id, &code_hash.to_hex(), &expires_at],
    )
    .await?;
    Ok(())
}

impl Postgres {
    pub async fn challenge_info(
        &self,
        id: String,
        browser_hash: Option<String>,
        max_attempts: u32,
    ) -> Result<Result<ChallengeInfo, Closed>, StorageError> {
        // A read for a page: no locks, as nothing here is counted or changed.
        self.guard("read a sign-in", async {
            let client = self.client().await?;
            let row = load(&client, SELECT_CHALLENGE, &id).await?;
            Ok(match ChallengeRow::open(row, browser_hash.as_deref()) {
                Ok(row) => Ok(info(&client, &row, &id, max_attempts).await?),
                Err(closed) => Err(closed),
            })
        })
        .await
    }

    pub async fn start_challenge(
        &self,
        new: NewChallenge,
        limits: Limits,
        max_attempts: u32,
        now: i64,
    ) -> Result<StartOutcome, StorageError> {
        self.guard("start a sign-in", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            lock(&tx, ADDRESS, new.email.as_str()).await?;
            let refusal =
                rate::check_send(&tx, &limits, new.email.as_str(), &new.ip, now, false).await?;
            if let Some(refusal) = refusal {
                tx.commit().await?;
                return Ok(StartOutcome::Refused(refusal));
            }
            tx.execute(
                "INSERT INTO login_challenges (id, email, browser_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &new.id,
                    &new.email.as_str(),
                    &new.browser_hash,
                    &now,
                    &new.code_expires_at,
                ],
            )
            .await?;
            insert_code(&tx, &new.id, &new.code_hash, new.code_expires_at).await?;
            outbox::insert(&tx, &new.mail, now).await?;
            let has_account = find_user_id(&tx, &new.email).await?.is_some();
            tx.commit().await?;
            Ok(StartOutcome::Started(ChallengeInfo {
                has_account,
                id: new.id,
                email: new.email,
                expires_at: new.code_expires_at,
                attempts_left: max_attempts,
            }))
        })
        .await
    }

    pub async fn verify_code(&self, req: VerifyRequest) -> Result<VerifyOutcome, StorageError> {
        self.guard("check a code", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = verify(&tx, &req).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn complete_signup(
        &self,
        challenge_id: String,
        browser_hash: Option<String>,
        name: PersonName,
        session: NewSession,
        max_attempts: u32,
        now: i64,
    ) -> Result<CompleteOutcome, StorageError> {
        self.guard("complete a sign-up", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let id = challenge_id.as_str();
            let row = match open_challenge(&tx, id, browser_hash.as_deref()).await? {
                Ok(row) => row,
                Err(closed) => return Ok(CompleteOutcome::Closed(closed)),
            };
            if row.verified_at.is_none() {
                let info = info(&tx, &row, id, max_attempts).await?;
                return Ok(CompleteOutcome::CodeNeeded(info));
            }
            if row.expires_at <= now {
                return Ok(CompleteOutcome::Closed(Closed::Expired));
            }
            let (user_id, new_user) = match find_user_id(&tx, &row.email).await? {
                Some(user_id) => (user_id, false),
                None => (create_user(&tx, &row.email, &name, now).await?, true),
            };
            let session = sign_in(&tx, id, user_id, &session, now).await?;
            tx.commit().await?;
            Ok(CompleteOutcome::SignedIn { session, new_user })
        })
        .await
    }

    pub async fn resend_code(
        &self,
        req: ResendRequest,
        mail_for: impl FnOnce(&EmailAddress) -> NewMail + Send + 'static,
    ) -> Result<ResendOutcome, StorageError> {
        let ResendRequest {
            challenge_id,
            browser_hash,
            code_hash,
            code_expires_at,
            ip,
            limits,
            max_attempts,
            now,
        } = req;
        self.guard("resend a code", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let id = challenge_id.as_str();
            let row = match open_challenge(&tx, id, browser_hash.as_deref()).await? {
                Ok(row) => row,
                Err(closed) => return Ok(ResendOutcome::Closed(closed)),
            };
            if let Err(closed) = row.check_resendable(max_attempts, now) {
                return Ok(ResendOutcome::Closed(closed));
            }
            let info = info(&tx, &row, id, max_attempts).await?;
            let refusal =
                rate::check_send(&tx, &limits, row.email.as_str(), &ip, now, true).await?;
            if let Some(refusal) = refusal {
                tx.commit().await?;
                return Ok(ResendOutcome::Refused(refusal, info));
            }
            insert_code(&tx, id, &code_hash, code_expires_at).await?;
            tx.execute(
                "UPDATE login_challenges SET expires_at = greatest(expires_at, $2) WHERE id = $1",
                &[&id, &code_expires_at],
            )
            .await?;
            outbox::insert(&tx, &mail_for(&row.email), now).await?;
            tx.commit().await?;
            Ok(ResendOutcome::Resent(ChallengeInfo {
                expires_at: code_expires_at.max(info.expires_at),
                ..info
            }))
        })
        .await
    }
}

/// One code check; the caller commits whatever it recorded.
async fn verify(tx: &Transaction<'_>, req: &VerifyRequest) -> anyhow::Result<VerifyOutcome> {
    let id = req.challenge_id.as_str();
    let row = match open_challenge(tx, id, req.browser_hash.as_deref()).await? {
        Ok(row) => row,
        Err(closed) => return Ok(VerifyOutcome::Closed(closed)),
    };
    let info = info(tx, &row, id, req.max_attempts).await?;
    if row.verified_at.is_some() {
        return Ok(VerifyOutcome::NeedsName(info));
    }
    if row.attempts >= req.max_attempts {
        return Ok(VerifyOutcome::Closed(Closed::OutOfAttempts));
    }
    let email = row.email.as_str();
    if let Some(retry_after) = rate::full_for(tx, FAIL, email, req.failure_limit, req.now).await? {
        return Ok(VerifyOutcome::Refused(
            Refusal::FailureBudget { retry_after },
            info,
        ));
    }
    let live: Vec<CodeHash> = tx
        .query(
            "SELECT code_hash FROM login_codes WHERE challenge_id = $1 AND expires_at > $2",
            &[&id, &req.now],
        )
        .await?
        .iter()
        .filter_map(|row| CodeHash::from_hex(row.get(0)))
        .collect();
    if live.is_empty() {
        return Ok(VerifyOutcome::Closed(Closed::Expired));
    }
    if !req.candidate.matches_any(&live) {
        tx.execute(
            "UPDATE login_challenges SET attempts = attempts + 1 WHERE id = $1",
            &[&id],
        )
        .await?;
        rate::record(tx, FAIL, email, req.now).await?;
        let info = ChallengeInfo {
            attempts_left: info.attempts_left - 1,
            ..info
        };
        return Ok(VerifyOutcome::WrongCode(info));
    }
    let (user_id, new_user) = match (find_user_id(tx, &row.email).await?, &req.name) {
        (Some(user_id), _) => (user_id, false),
        (None, Some(name)) => (create_user(tx, &row.email, name, req.now).await?, true),
        (None, None) if req.names_after_code => {
            tx.execute(
                "UPDATE login_challenges SET verified_at = $2, expires_at = $3 WHERE id = $1",
                &[&id, &req.now, &(req.now + req.name_window_secs)],
            )
            .await?;
            delete_codes(tx, id).await?;
            return Ok(VerifyOutcome::NeedsName(info));
        }
        (None, None) => return Ok(VerifyOutcome::NameRequired(info)),
    };
    let session = sign_in(tx, id, user_id, &req.session, req.now).await?;
    Ok(VerifyOutcome::SignedIn { session, new_user })
}
