//! The sign-in's transactions, written once for both backends. Each function is
//! the body of one transaction: it loads the facts through [`SignInTx`] (the SQL,
//! which each backend writes for itself), asks [`crate::rules`] what they mean,
//! and writes what the answer says. The backend opens and commits the transaction
//! around it.

use anyhow::Context;

use super::records::{
    ChallengeInfo, CodeMail, CompleteOutcome, CompleteRequest, NewChallenge, NewMail, NewSession,
    ResendOutcome, ResendRequest, SessionRecord, StartOutcome, StartRules, VerifyOutcome,
    VerifyRequest,
};
use crate::domain::{ChallengeId, CodeHash, EmailAddress, PersonName, TokenHash};
use crate::rules::limits::{self, EventKind, Limits, Probe, Refusal, SendFacts};
use crate::rules::signin::{
    self, Account, Challenge, Closed, CodeDecision, CodeFacts, NameDecision,
};
use crate::rules::signup::{self, SignupPolicy};

/// What a lock is taken on, so that transactions counting against the same
/// address or client address run one after another.
#[derive(Debug, Clone, Copy)]
pub(super) enum LockScope {
    Address,
    /// A person's account, while its addresses change.
    Account,
    ClientIp,
}

impl LockScope {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            LockScope::Address => "address",
            LockScope::Account => "account",
            LockScope::ClientIp => "ip",
        }
    }
}

/// The SQL a sign-in step needs, inside one transaction. SQLite's single writer
/// already runs every step alone, so only PostgreSQL's locks do anything; they
/// are always taken in the order sign-in row, address, account, client address,
/// so two transactions never wait on each other in a circle.
pub(super) trait SignInTx {
    /// The sign-in's row (PostgreSQL: locked for the rest of the transaction).
    async fn challenge(&self, id: &ChallengeId) -> anyhow::Result<Option<Challenge>>;
    async fn lock(&self, scope: LockScope, key: &str) -> anyhow::Result<()>;
    /// The account that owns the address, if any.
    async fn account_of(&self, email: &EmailAddress) -> anyhow::Result<Option<i64>>;
    /// The answer to `probe` for `subject`: when its `nth` newest event happened.
    async fn nth_newest(&self, probe: Probe, subject: &str) -> anyhow::Result<Option<i64>>;
    /// When the newest event of `kind` for `subject` happened, however long ago.
    async fn newest(&self, kind: EventKind, subject: &str) -> anyhow::Result<Option<i64>>;
    async fn record(&self, kind: EventKind, subject: &str, now: i64) -> anyhow::Result<()>;
    async fn insert_challenge(&self, new: &NewChallenge, now: i64) -> anyhow::Result<()>;
    async fn insert_code(
        &self,
        id: &ChallengeId,
        hash: &CodeHash,
        expires_at: i64,
    ) -> anyhow::Result<()>;
    /// The sign-in's codes that are still live.
    async fn live_codes(&self, id: &ChallengeId, now: i64) -> anyhow::Result<Vec<CodeHash>>;
    /// Moves the sign-in's expiry to `expires_at`, never back.
    async fn extend(&self, id: &ChallengeId, expires_at: i64) -> anyhow::Result<()>;
    async fn count_attempt(&self, id: &ChallengeId) -> anyhow::Result<()>;
    /// Marks the code right and waits for a name until `expires_at`; drops the codes.
    async fn hold_for_name(
        &self,
        id: &ChallengeId,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()>;
    /// Ends the sign-in for good and drops its codes.
    async fn finish(&self, id: &ChallengeId, now: i64) -> anyhow::Result<()>;
    /// A new user with their first address; the user's id.
    async fn create_user(
        &self,
        email: &EmailAddress,
        name: &PersonName,
        now: i64,
    ) -> anyhow::Result<i64>;
    async fn end_session(&self, token_hash: &TokenHash) -> anyhow::Result<()>;
    /// Stores the session and reads it back as checks will see it.
    async fn insert_session(
        &self,
        user_id: i64,
        session: &NewSession,
        now: i64,
    ) -> anyhow::Result<SessionRecord>;
    async fn enqueue(&self, mail: &NewMail, now: i64) -> anyhow::Result<()>;
    /// The address's live invitation, if any.
    async fn live_invitation(&self, email: &EmailAddress, now: i64) -> anyhow::Result<Option<i64>>;
    /// Marks the invitation used by the new account and puts it in its groups.
    async fn accept_invitation(
        &self,
        invitation: i64,
        user_id: i64,
        now: i64,
    ) -> anyhow::Result<()>;
}

/// Whether the address may have a new account made for it, and the invitation
/// that admits it (to be accepted when the account is made). Not asked for an
/// address that has an account.
async fn admission(
    tx: &impl SignInTx,
    policy: &SignupPolicy,
    email: &EmailAddress,
    now: i64,
) -> anyhow::Result<(bool, Option<i64>)> {
    let invitation = tx.live_invitation(email, now).await?;
    Ok((policy.admits(email, invitation.is_some()), invitation))
}

/// Loads a sign-in and applies the checks every step shares; locks its address.
async fn open(
    tx: &impl SignInTx,
    id: &ChallengeId,
    browser_hash: Option<&str>,
) -> anyhow::Result<Result<Challenge, Closed>> {
    let row = signin::open(tx.challenge(id).await?, browser_hash);
    if let Ok(row) = &row {
        tx.lock(LockScope::Address, row.email.as_str()).await?;
    }
    Ok(row)
}

/// The sign-in as its pages show it; looks up whether its address has an account.
async fn info(
    tx: &impl SignInTx,
    id: &ChallengeId,
    row: &Challenge,
    max_attempts: u32,
) -> anyhow::Result<ChallengeInfo> {
    let account = tx.account_of(&row.email).await?;
    Ok(describe(id, row, account, max_attempts))
}

fn describe(
    id: &ChallengeId,
    row: &Challenge,
    account: Option<i64>,
    max_attempts: u32,
) -> ChallengeInfo {
    ChallengeInfo {
        id: id.clone(),
        email: row.email.clone(),
        has_account: account.is_some(),
        expires_at: row.expires_at,
        attempts_left: row.attempts_left(max_attempts),
    }
}

/// Reads the facts a code send is decided on, asks the rule, and on yes records
/// the send against the address and the client address. On no, queues the notice
/// to the address's owner when the rule says they should hear of it.
pub(super) async fn check_send(
    tx: &impl SignInTx,
    limits: &Limits,
    email: &str,
    ip: &str,
    now: i64,
    is_resend: bool,
    limit_notice: &NewMail,
) -> anyhow::Result<Result<(), Refusal>> {
    tx.lock(LockScope::ClientIp, ip).await?;
    let email_from = limits::address_from(email, ip);
    let facts = SendFacts {
        failures: tx.nth_newest(limits.failures(now), email).await?,
        per_ip: tx.nth_newest(limits.per_ip(now), ip).await?,
        per_email: tx.nth_newest(limits.per_email(now), &email_from).await?,
        per_email_total: tx.nth_newest(limits.per_email_total(now), email).await?,
        last_send: match is_resend {
            true => tx.newest(EventKind::Send, email).await?,
            false => None,
        },
    };
    let verdict = limits::check_send(limits, &facts, now, is_resend);
    match &verdict {
        Ok(()) => {
            tx.record(EventKind::Ip, ip, now).await?;
            tx.record(EventKind::SendFrom, &email_from, now).await?;
            tx.record(EventKind::Send, email, now).await?;
        }
        Err(refusal) => {
            let last_notice = tx.newest(EventKind::Notice, email).await?;
            if limits::notify_owner(refusal, last_notice, now) {
                tx.enqueue(limit_notice, now).await?;
                tx.record(EventKind::Notice, email, now).await?;
            }
        }
    }
    Ok(verdict)
}

/// Counts a request that sends nothing against its client network's hourly limit.
async fn count_client(
    tx: &impl SignInTx,
    limits: &Limits,
    ip: &str,
    now: i64,
) -> anyhow::Result<Result<(), Refusal>> {
    tx.lock(LockScope::ClientIp, ip).await?;
    let facts = SendFacts {
        per_ip: tx.nth_newest(limits.per_ip(now), ip).await?,
        ..SendFacts::default()
    };
    let verdict = limits::check_send(limits, &facts, now, false);
    if verdict.is_ok() {
        tx.record(EventKind::Ip, ip, now).await?;
    }
    Ok(verdict)
}

/// The account a finished sign-in opens, made here if it is new (accepting the
/// invitation that admitted it, if one did); and the session.
#[allow(clippy::too_many_arguments)]
async fn sign_in(
    tx: &impl SignInTx,
    id: &ChallengeId,
    row: &Challenge,
    account: Account,
    invitation: Option<i64>,
    name: Option<&PersonName>,
    session: &NewSession,
    now: i64,
) -> anyhow::Result<(SessionRecord, bool)> {
    let (user_id, new_user) = match (account, name) {
        (Account::Existing(user_id), _) => (user_id, false),
        (Account::Create, Some(name)) => {
            let user_id = tx.create_user(&row.email, name, now).await?;
            if let Some(invitation) = invitation {
                tx.accept_invitation(invitation, user_id, now).await?;
            }
            (user_id, true)
        }
        (Account::Create, None) => anyhow::bail!("an account was to be made without a name"),
    };
    tx.finish(id, now).await?;
    if let Some(old) = &session.replaces {
        tx.end_session(old).await?;
    }
    let session = tx
        .insert_session(user_id, session, now)
        .await
        .context("store the session")?;
    Ok((session, new_user))
}

/// The sign-in as its code page shows it, if it is still open in this browser.
pub(super) async fn challenge_info(
    tx: &impl SignInTx,
    id: &ChallengeId,
    browser_hash: Option<&str>,
    max_attempts: u32,
) -> anyhow::Result<Result<ChallengeInfo, Closed>> {
    Ok(match signin::open(tx.challenge(id).await?, browser_hash) {
        Ok(row) => Ok(info(tx, id, &row, max_attempts).await?),
        Err(closed) => Err(closed),
    })
}

/// Checks the limits, then stores the sign-in, its first code and its email. The
/// account lookup runs whether or not it matters, so the work done does not depend
/// on whether the address has an account.
///
/// With names on the code page, a new address that may not make an account is
/// refused here, before anything is sent or counted against the address; it
/// counts against the asking client's hourly limit, so refusals cannot test
/// addresses faster than codes could.
pub(super) async fn start(
    tx: &impl SignInTx,
    new: NewChallenge,
    rules: &StartRules,
    now: i64,
) -> anyhow::Result<StartOutcome> {
    tx.lock(LockScope::Address, new.email.as_str()).await?;
    let email = new.email.as_str();
    let mail = &new.mail;
    let has_account = tx.account_of(&new.email).await?.is_some();
    if !has_account && !rules.names_after_code {
        // Most sign-ins are decided without reading invitations.
        let admitted = match rules.signup.admits_uninvited(&new.email) {
            Some(admitted) => admitted,
            None => tx.live_invitation(&new.email, now).await?.is_some(),
        };
        if signup::refuse_at_start(has_account, admitted, rules.names_after_code) {
            // Nothing is sent, so nothing counts against the address (and its
            // owner is not told); the asking client's hourly count still holds,
            // so refusals cannot test addresses faster than codes could.
            return Ok(match count_client(tx, &rules.limits, &new.ip, now).await? {
                Ok(()) => StartOutcome::SignupClosed,
                Err(refusal) => StartOutcome::Refused(refusal),
            });
        }
    }
    if let Err(refusal) = check_send(
        tx,
        &rules.limits,
        email,
        &new.ip,
        now,
        false,
        &mail.limit_notice,
    )
    .await?
    {
        return Ok(StartOutcome::Refused(refusal));
    }
    tx.insert_challenge(&new, now).await?;
    tx.insert_code(&new.id, &new.code_hash, new.code_expires_at)
        .await?;
    tx.enqueue(&mail.code, now).await?;
    Ok(StartOutcome::Started(ChallengeInfo {
        has_account,
        id: new.id,
        email: new.email,
        expires_at: new.code_expires_at,
        attempts_left: rules.max_attempts,
    }))
}

/// Checks a code against every live code of the sign-in.
pub(super) async fn verify(
    tx: &impl SignInTx,
    req: VerifyRequest,
) -> anyhow::Result<VerifyOutcome> {
    let id = &req.challenge_id;
    let row = match open(tx, id, req.browser_hash.as_deref()).await? {
        Ok(row) => row,
        Err(closed) => return Ok(VerifyOutcome::Closed(closed)),
    };
    let account = tx.account_of(&row.email).await?;
    let info = describe(id, &row, account, req.max_attempts);
    let email = row.email.as_str();
    let live_codes = tx.live_codes(id, req.now).await?;
    let mut facts = CodeFacts {
        challenge: &row,
        max_attempts: req.max_attempts,
        live_codes: &live_codes,
        candidate: &req.candidate,
        account,
        named: req.name.is_some(),
        names_after_code: req.names_after_code,
        admitted: true,
        now: req.now,
    };
    let mut decision = signin::judge_code(&facts);
    // Who may sign up is read only once a right code would make an account, so a
    // wrong code costs the same work for every address.
    let mut invitation = None;
    if decision.makes_an_account() {
        let (admitted, found) = admission(tx, &req.signup, &row.email, req.now).await?;
        (facts.admitted, invitation) = (admitted, found);
        decision = signin::judge_code(&facts);
    }
    Ok(match decision {
        CodeDecision::AwaitingName => VerifyOutcome::NeedsName(info),
        CodeDecision::Closed(closed) => VerifyOutcome::Closed(closed),
        CodeDecision::Wrong => {
            tx.count_attempt(id).await?;
            tx.record(EventKind::Fail, email, req.now).await?;
            VerifyOutcome::WrongCode(ChallengeInfo {
                attempts_left: info.attempts_left.saturating_sub(1),
                ..info
            })
        }
        CodeDecision::NameRequired => VerifyOutcome::NameRequired(info),
        CodeDecision::SignupClosed => {
            tx.finish(id, req.now).await?;
            VerifyOutcome::SignupClosed
        }
        CodeDecision::HoldForName => {
            tx.hold_for_name(id, req.now, req.now + req.name_window_secs)
                .await?;
            VerifyOutcome::NeedsName(info)
        }
        CodeDecision::SignIn(account) => {
            let (session, new_user) = sign_in(
                tx,
                id,
                &row,
                account,
                invitation,
                req.name.as_ref(),
                &req.session,
                req.now,
            )
            .await?;
            VerifyOutcome::SignedIn { session, new_user }
        }
    })
}

/// Finishes a sign-up whose code was right: makes the user (unless the address got
/// an account meanwhile) and a session.
pub(super) async fn complete(
    tx: &impl SignInTx,
    req: CompleteRequest,
) -> anyhow::Result<CompleteOutcome> {
    let id = &req.challenge_id;
    let row = match open(tx, id, req.browser_hash.as_deref()).await? {
        Ok(row) => row,
        Err(closed) => return Ok(CompleteOutcome::Closed(closed)),
    };
    let account = tx.account_of(&row.email).await?;
    let (admitted, invitation) = match account {
        Some(_) => (true, None),
        None => admission(tx, &req.signup, &row.email, req.now).await?,
    };
    Ok(match signin::judge_name(&row, account, admitted, req.now) {
        NameDecision::CodeNeeded => {
            CompleteOutcome::CodeNeeded(describe(id, &row, account, req.max_attempts))
        }
        NameDecision::Closed(closed) => CompleteOutcome::Closed(closed),
        NameDecision::SignupClosed => {
            tx.finish(id, req.now).await?;
            CompleteOutcome::SignupClosed
        }
        NameDecision::SignIn(account) => {
            let (session, new_user) = sign_in(
                tx,
                id,
                &row,
                account,
                invitation,
                Some(&req.name),
                &req.session,
                req.now,
            )
            .await?;
            CompleteOutcome::SignedIn { session, new_user }
        }
    })
}

/// Adds a fresh code to a live sign-in; earlier codes stay valid until they expire.
pub(super) async fn resend(
    tx: &impl SignInTx,
    req: ResendRequest,
    mail_for: impl FnOnce(&EmailAddress) -> CodeMail,
) -> anyhow::Result<ResendOutcome> {
    let id = &req.challenge_id;
    let row = match open(tx, id, req.browser_hash.as_deref()).await? {
        Ok(row) => row,
        Err(closed) => return Ok(ResendOutcome::Closed(closed)),
    };
    if let Err(closed) = signin::resendable(&row, req.max_attempts, req.now) {
        return Ok(ResendOutcome::Closed(closed));
    }
    let info = info(tx, id, &row, req.max_attempts).await?;
    let email = row.email.as_str();
    let mail = mail_for(&row.email);
    if let Err(refusal) = check_send(
        tx,
        &req.limits,
        email,
        &req.ip,
        req.now,
        true,
        &mail.limit_notice,
    )
    .await?
    {
        return Ok(ResendOutcome::Refused(refusal, info));
    }
    tx.insert_code(id, &req.code_hash, req.code_expires_at)
        .await?;
    tx.extend(id, req.code_expires_at).await?;
    tx.enqueue(&mail.code, req.now).await?;
    Ok(ResendOutcome::Resent(ChallengeInfo {
        expires_at: req.code_expires_at.max(info.expires_at),
        ..info
    }))
}
