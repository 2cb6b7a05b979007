//! The sign-in state machine's storage: challenges, their codes, and the users and
//! sessions a right code creates. Each public function is one write transaction.

use r2d2_sqlite::rusqlite::{Connection, OptionalExtension, Transaction, params};
use subtle::ConstantTimeEq;

use super::outbox::{self, NewMail};
use super::rate::{self, Limits, Refusal};
use super::sessions::{self, NewSession, SessionRecord};
use super::{Sqlite, StorageError};
use crate::domain::{CodeHash, EmailAddress, PersonName};

pub struct NewChallenge {
    pub id: String,
    pub email: EmailAddress,
    pub browser_hash: Option<String>,
    pub code_hash: CodeHash,
    pub code_expires_at: i64,
    pub ip: String,
    pub mail: NewMail,
}

/// What the code page needs to show a sign-in.
#[derive(Debug, Clone)]
pub struct ChallengeInfo {
    pub id: String,
    pub email: EmailAddress,
    pub has_account: bool,
    pub expires_at: i64,
    pub attempts_left: u32,
}

/// Why a sign-in can no longer be used; the person has to start again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Unknown,
    OtherBrowser,
    Finished,
    Expired,
    OutOfAttempts,
}

pub enum StartOutcome {
    Started(ChallengeInfo),
    Refused(Refusal),
}

pub struct VerifyRequest {
    pub challenge_id: String,
    pub browser_hash: Option<String>,
    pub candidate: CodeHash,
    pub name: Option<PersonName>,
    pub names_after_code: bool,
    pub max_attempts: u32,
    pub failure_limit: u32,
    pub session: NewSession,
    pub name_window_secs: i64,
    pub now: i64,
}

pub enum VerifyOutcome {
    Closed(Closed),
    Refused(Refusal, ChallengeInfo),
    WrongCode(ChallengeInfo),
    /// The code was right but a new address must give its name; the code stays valid.
    NameRequired(ChallengeInfo),
    /// The code was right; the name page comes next (`signup.ask_name = after_code`).
    NeedsName(ChallengeInfo),
    SignedIn {
        session: SessionRecord,
        new_user: bool,
    },
}

pub enum CompleteOutcome {
    Closed(Closed),
    /// Names were sent for a sign-in whose code has not been checked yet.
    CodeNeeded(ChallengeInfo),
    SignedIn {
        session: SessionRecord,
        new_user: bool,
    },
}

/// A fresh code for a live sign-in; the message for it is made once the recipient
/// is known.
pub struct ResendRequest {
    pub challenge_id: String,
    pub browser_hash: Option<String>,
    pub code_hash: CodeHash,
    pub code_expires_at: i64,
    pub ip: String,
    pub limits: Limits,
    pub max_attempts: u32,
    pub now: i64,
}

pub enum ResendOutcome {
    Closed(Closed),
    Refused(Refusal, ChallengeInfo),
    Resent(ChallengeInfo),
}

/// A sign-in as stored; shared by both backends.
pub(super) struct ChallengeRow {
    pub email: EmailAddress,
    pub browser_hash: Option<String>,
    pub expires_at: i64,
    pub attempts: u32,
    pub verified_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl ChallengeRow {
    fn load(conn: &Connection, id: &str) -> r2d2_sqlite::rusqlite::Result<Option<Self>> {
        conn.prepare_cached(
            "SELECT email, browser_hash, expires_at, attempts, verified_at, finished_at \
             FROM login_challenges WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok(Self {
                email: EmailAddress::from_trusted(row.get(0)?),
                browser_hash: row.get(1)?,
                expires_at: row.get(2)?,
                attempts: row.get(3)?,
                verified_at: row.get(4)?,
                finished_at: row.get(5)?,
            })
        })
        .optional()
    }

    /// A sign-in started in a browser only continues in that browser, so a code
    /// phished from its owner cannot be used anywhere else.
    pub fn same_browser(&self, presented: Option<&str>) -> bool {
        match (&self.browser_hash, presented) {
            (None, _) => true,
            (Some(bound), Some(presented)) => {
                bool::from(bound.as_bytes().ct_eq(presented.as_bytes()))
            }
            (Some(_), None) => false,
        }
    }

    /// The checks every step shares: the sign-in exists, is still open, and is
    /// continued in the browser that started it.
    pub fn open(row: Option<Self>, browser_hash: Option<&str>) -> Result<Self, Closed> {
        let row = row.ok_or(Closed::Unknown)?;
        if !row.same_browser(browser_hash) {
            return Err(Closed::OtherBrowser);
        }
        if row.finished_at.is_some() {
            return Err(Closed::Finished);
        }
        Ok(row)
    }

    /// A new code is only added to a sign-in whose code is still to be checked, that
    /// has attempts left and has not expired.
    pub fn check_resendable(&self, max_attempts: u32, now: i64) -> Result<(), Closed> {
        if self.verified_at.is_some() {
            return Err(Closed::Finished);
        }
        if self.attempts >= max_attempts {
            return Err(Closed::OutOfAttempts);
        }
        if self.expires_at <= now {
            return Err(Closed::Expired);
        }
        Ok(())
    }

    fn info(
        &self,
        tx: &Connection,
        id: &str,
        max_attempts: u32,
    ) -> r2d2_sqlite::rusqlite::Result<ChallengeInfo> {
        Ok(ChallengeInfo {
            id: id.to_owned(),
            email: self.email.clone(),
            has_account: find_user_id(tx, &self.email)?.is_some(),
            expires_at: self.expires_at,
            attempts_left: max_attempts.saturating_sub(self.attempts),
        })
    }
}

/// Loads a challenge and applies the checks every step shares.
fn open_challenge(
    tx: &Connection,
    id: &str,
    browser_hash: Option<&str>,
) -> r2d2_sqlite::rusqlite::Result<Result<ChallengeRow, Closed>> {
    Ok(ChallengeRow::open(
        ChallengeRow::load(tx, id)?,
        browser_hash,
    ))
}

fn find_user_id(
    conn: &Connection,
    email: &EmailAddress,
) -> r2d2_sqlite::rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT user_id FROM user_emails WHERE email = ?1")?
        .query_row([email.as_str()], |row| row.get(0))
        .optional()
}

fn create_user(
    tx: &Transaction,
    email: &EmailAddress,
    name: &PersonName,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<i64> {
    tx.prepare_cached("INSERT INTO users (created_at, first_name, last_name) VALUES (?1, ?2, ?3)")?
        .execute(params![now, name.first, name.last])?;
    let user_id = tx.last_insert_rowid();
    tx.prepare_cached("INSERT INTO user_emails (email, user_id, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![email.as_str(), user_id, now])?;
    Ok(user_id)
}

/// Ends a sign-in: the challenge can never be used again and its codes are gone.
fn finish(tx: &Transaction, id: &str, now: i64) -> r2d2_sqlite::rusqlite::Result<()> {
    tx.prepare_cached("UPDATE login_challenges SET finished_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    tx.prepare_cached("DELETE FROM login_codes WHERE challenge_id = ?1")?
        .execute([id])?;
    Ok(())
}

fn sign_in(
    tx: &Transaction,
    challenge_id: &str,
    user_id: i64,
    session: &NewSession,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<SessionRecord> {
    finish(tx, challenge_id, now)?;
    sessions::insert(tx, user_id, session, now)?;
    sessions::find(tx, &session.token_hash, now)?
        .ok_or(r2d2_sqlite::rusqlite::Error::QueryReturnedNoRows)
}

fn insert_code(
    tx: &Transaction,
    id: &str,
    code_hash: &CodeHash,
    expires_at: i64,
) -> r2d2_sqlite::rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO login_codes (challenge_id, code_hash, expires_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![id, code_hash.to_hex(), expires_at])?;
    Ok(())
}

impl Sqlite {
    /// The sign-in as its code page shows it, if it is still open in this browser.
    pub async fn challenge_info(
        &self,
        id: String,
        browser_hash: Option<String>,
        max_attempts: u32,
    ) -> Result<Result<ChallengeInfo, Closed>, StorageError> {
        self.run("read a sign-in", move |conn| {
            Ok(match open_challenge(conn, &id, browser_hash.as_deref())? {
                Ok(row) => Ok(row.info(conn, &id, max_attempts)?),
                Err(closed) => Err(closed),
            })
        })
        .await
    }

    /// Checks the limits, then stores the sign-in, its first code and its email in one
    /// transaction. The account lookup runs whether or not it matters, so the work
    /// done does not depend on whether the address has an account.
    pub async fn start_challenge(
        &self,
        new: NewChallenge,
        limits: Limits,
        max_attempts: u32,
        now: i64,
    ) -> Result<StartOutcome, StorageError> {
        self.write("start a sign-in", move |tx| {
            if let Some(refusal) =
                rate::check_send(tx, &limits, new.email.as_str(), &new.ip, now, false)?
            {
                return Ok(StartOutcome::Refused(refusal));
            }
            tx.prepare_cached(
                "INSERT INTO login_challenges (id, email, browser_hash, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                new.id,
                new.email.as_str(),
                new.browser_hash,
                now,
                new.code_expires_at
            ])?;
            insert_code(tx, &new.id, &new.code_hash, new.code_expires_at)?;
            outbox::insert(tx, &new.mail, now)?;
            Ok(StartOutcome::Started(ChallengeInfo {
                has_account: find_user_id(tx, &new.email)?.is_some(),
                id: new.id,
                email: new.email,
                expires_at: new.code_expires_at,
                attempts_left: max_attempts,
            }))
        })
        .await
    }

    /// Checks a code against every live code of the sign-in. A wrong code costs one
    /// of the sign-in's attempts and one of the address's hourly failures.
    pub async fn verify_code(&self, req: VerifyRequest) -> Result<VerifyOutcome, StorageError> {
        self.write("check a code", move |tx| {
            let id = req.challenge_id.as_str();
            let row = match open_challenge(tx, id, req.browser_hash.as_deref())? {
                Ok(row) => row,
                Err(closed) => return Ok(VerifyOutcome::Closed(closed)),
            };
            let info = row.info(tx, id, req.max_attempts)?;
            if row.verified_at.is_some() {
                return Ok(VerifyOutcome::NeedsName(info));
            }
            if row.attempts >= req.max_attempts {
                return Ok(VerifyOutcome::Closed(Closed::OutOfAttempts));
            }
            let email = row.email.as_str();
            if let Some(retry_after) = rate::full_for(tx, rate::FAIL, email, req.failure_limit, req.now)? {
                return Ok(VerifyOutcome::Refused(Refusal::FailureBudget { retry_after }, info));
            }
            let live: Vec<CodeHash> = tx
                .prepare_cached("SELECT code_hash FROM login_codes WHERE challenge_id = ?1 AND expires_at > ?2")?
                .query_map(params![id, req.now], |r| r.get::<_, String>(0))?
                .filter_map(|hash| hash.map(|h| CodeHash::from_hex(&h)).transpose())
                .collect::<Result<_, _>>()?;
            if live.is_empty() {
                return Ok(VerifyOutcome::Closed(Closed::Expired));
            }
            if !req.candidate.matches_any(&live) {
                tx.prepare_cached("UPDATE login_challenges SET attempts = attempts + 1 WHERE id = ?1")?.execute([id])?;
                rate::record(tx, rate::FAIL, email, req.now)?;
                let info = ChallengeInfo { attempts_left: info.attempts_left - 1, ..info };
                return Ok(VerifyOutcome::WrongCode(info));
            }
            let (user_id, new_user) = match (find_user_id(tx, &row.email)?, &req.name) {
                (Some(user_id), _) => (user_id, false),
                (None, Some(name)) => (create_user(tx, &row.email, name, req.now)?, true),
                (None, None) if req.names_after_code => {
                    tx.prepare_cached("UPDATE login_challenges SET verified_at = ?2, expires_at = ?3 WHERE id = ?1")?.execute(params![id, req.now, req.now + req.name_window_secs],
                    )?;
                    tx.prepare_cached("DELETE FROM login_codes WHERE challenge_id = ?1")?.execute([id])?;
                    return Ok(VerifyOutcome::NeedsName(info));
                }
                (None, None) => return Ok(VerifyOutcome::NameRequired(info)),
            };
            let session = sign_in(tx, id, user_id, &req.session, req.now)?;
            Ok(VerifyOutcome::SignedIn { session, new_user })
        })
        .await
    }

    /// Finishes a sign-up whose code was right: creates the user (unless the address
    /// got an account meanwhile) and a session.
    pub async fn complete_signup(
        &self,
        challenge_id: String,
        browser_hash: Option<String>,
        name: PersonName,
        session: NewSession,
        max_attempts: u32,
        now: i64,
    ) -> Result<CompleteOutcome, StorageError> {
        self.write("complete a sign-up", move |tx| {
            let id = challenge_id.as_str();
            let row = match open_challenge(tx, id, browser_hash.as_deref())? {
                Ok(row) => row,
                Err(closed) => return Ok(CompleteOutcome::Closed(closed)),
            };
            if row.verified_at.is_none() {
                return Ok(CompleteOutcome::CodeNeeded(row.info(
                    tx,
                    id,
                    max_attempts,
                )?));
            }
            if row.expires_at <= now {
                return Ok(CompleteOutcome::Closed(Closed::Expired));
            }
            let (user_id, new_user) = match find_user_id(tx, &row.email)? {
                Some(user_id) => (user_id, false),
                None => (create_user(tx, &row.email, &name, now)?, true),
            };
            let session = sign_in(tx, id, user_id, &session, now)?;
            Ok(CompleteOutcome::SignedIn { session, new_user })
        })
        .await
    }

    /// Adds a fresh code to a live sign-in; earlier codes stay valid until they expire.
    pub async fn resend_code(
        &self,
        req: ResendRequest,
        mail_for: impl FnOnce(&EmailAddress) -> NewMail + Send + 'static,
    ) -> Result<ResendOutcome, StorageError> {
        self.write("resend a code", move |tx| {
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
            let id = challenge_id.as_str();
            let row = match open_challenge(tx, id, browser_hash.as_deref())? {
                Ok(row) => row,
                Err(closed) => return Ok(ResendOutcome::Closed(closed)),
            };
            if let Err(closed) = row.check_resendable(max_attempts, now) {
                return Ok(ResendOutcome::Closed(closed));
            }
            let info = row.info(tx, id, max_attempts)?;
            if let Some(refusal) =
                rate::check_send(tx, &limits, row.email.as_str(), &ip, now, true)?
            {
                return Ok(ResendOutcome::Refused(refusal, info));
            }
            insert_code(tx, id, &code_hash, code_expires_at)?;
            tx.prepare_cached(
                "UPDATE login_challenges SET expires_at = max(expires_at, ?2) WHERE id = ?1",
            )?
            .execute(params![id, code_expires_at])?;
            outbox::insert(tx, &mail_for(&row.email), now)?;
            Ok(ResendOutcome::Resent(ChallengeInfo {
                expires_at: code_expires_at.max(info.expires_at),
                ..info
            }))
        })
        .await
    }
}
