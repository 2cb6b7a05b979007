//! The transactions on a person's addresses, written once for both backends like
//! the sign-in's: each function is the body of one transaction, over [`EmailTx`]
//! (the SQL each backend writes) and the sign-in's own [`SignInTx`] (challenges,
//! codes, limits and the outbox).
//!
//! Locks are taken in the sign-in's order: challenge row, address, account,
//! client address. The address lock is the one a sign-up of the same address
//! takes, so an address is given to one account only, whichever instance asks.

use super::records::{
    AddressChange, AddressCode, AddressCodeOutcome, AddressStart, AddressStartOutcome,
    ChallengeInfo, NewMail, OperatorAdd, UserEmail,
};
use super::signin::{LockScope, SignInTx, check_send};
use crate::domain::EmailAddress;
use crate::rules::EventKind;
use crate::rules::emails::{self, AddDecision, Removal};
use crate::rules::limits::{self, Refusal};
use crate::rules::signin::check_code;

pub(super) trait EmailTx: SignInTx {
    /// The person's addresses, primary first, then oldest first.
    async fn emails_of(&self, user_id: i64) -> anyhow::Result<Vec<UserEmail>>;
    /// Adds an address that is not primary.
    async fn insert_email(
        &self,
        user_id: i64,
        email: &EmailAddress,
        now: i64,
    ) -> anyhow::Result<()>;
    async fn delete_email(&self, user_id: i64, email: &EmailAddress) -> anyhow::Result<()>;
    /// Makes one of the person's addresses the primary one, and no other.
    async fn set_primary(&self, user_id: i64, email: &EmailAddress) -> anyhow::Result<()>;
}

/// A notice to one address (the first) about another (the second), made once both
/// are known.
pub type Notice<'a> = &'a (dyn Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync);

/// Queues `notice` about `about` to each of `addresses` but `about` itself.
async fn notify(
    tx: &impl EmailTx,
    addresses: &[UserEmail],
    about: &EmailAddress,
    notice: Notice<'_>,
    now: i64,
) -> anyhow::Result<()> {
    for address in addresses.iter().filter(|a| &a.email != about) {
        tx.enqueue(&notice(&address.email, about), now).await?;
    }
    Ok(())
}

async fn lock_account(tx: &impl EmailTx, user_id: i64) -> anyhow::Result<()> {
    tx.lock(LockScope::Account, &user_id.to_string()).await
}

/// Mails a code to an address the person wants to add, under the sign-in's
/// limits. An address of another account gets its code like any other: that is
/// told only once the code proves its reader (see `rules::emails`).
pub(super) async fn start(
    tx: &impl EmailTx,
    req: AddressStart,
) -> anyhow::Result<AddressStartOutcome> {
    let AddressStart {
        new,
        limits,
        max_attempts,
        now,
    } = req;
    let Some(adding) = &new.adding else {
        anyhow::bail!("an address's challenge without its account");
    };
    tx.lock(LockScope::Address, new.email.as_str()).await?;
    lock_account(tx, adding.user_id).await?;
    let owner = tx.account_of(&new.email).await?;
    let count = tx.emails_of(adding.user_id).await?.len();
    if let Err(not) = emails::addable(owner, adding.user_id, count) {
        return Ok(AddressStartOutcome::NotAddable(not));
    }
    let account = format!("user:{}", adding.user_id);
    let nth = tx
        .nth_newest(limits.address_codes_per_account(now), &account)
        .await?;
    if let Some(retry_after) = limits::full_for(nth, now) {
        return Ok(AddressStartOutcome::Refused(Refusal::AccountHourly {
            retry_after,
        }));
    }
    let mail = &new.mail;
    if let Err(refusal) = check_send(
        tx,
        &limits,
        new.email.as_str(),
        &new.ip,
        now,
        false,
        &mail.limit_notice,
    )
    .await?
    {
        return Ok(AddressStartOutcome::Refused(refusal));
    }
    tx.record(EventKind::AddressCode, &account, now).await?;
    tx.insert_challenge(&new, now).await?;
    tx.insert_code(&new.id, &new.code_hash, new.code_expires_at)
        .await?;
    tx.enqueue(&mail.code, now).await?;
    Ok(AddressStartOutcome::Started(ChallengeInfo {
        id: new.id,
        email: new.email,
        has_account: false,
        expires_at: new.code_expires_at,
        attempts_left: max_attempts,
    }))
}

/// The challenge as its code form shows it, if it is still open in this session.
pub(super) async fn challenge_info(
    tx: &impl EmailTx,
    id: &crate::domain::ChallengeId,
    user_id: i64,
    session_hash: &str,
    max_attempts: u32,
) -> anyhow::Result<Result<ChallengeInfo, crate::rules::Closed>> {
    Ok(
        emails::open(tx.challenge(id).await?, user_id, session_hash).map(|(row, _)| {
            ChallengeInfo {
                id: id.clone(),
                email: row.email.clone(),
                has_account: false,
                expires_at: row.expires_at,
                attempts_left: row.attempts_left(max_attempts),
            }
        }),
    )
}

/// Checks a code typed to add an address; a right one adds it (unless it belongs
/// to an account meanwhile) and tells the person's other addresses.
pub(super) async fn verify(
    tx: &impl EmailTx,
    req: AddressCode,
    notice: Notice<'_>,
) -> anyhow::Result<AddressCodeOutcome> {
    let id = &req.challenge_id;
    let row = match emails::open(
        tx.challenge(id).await?,
        req.user_id,
        req.session_hash.as_str(),
    ) {
        Ok((row, _)) => row,
        Err(closed) => return Ok(AddressCodeOutcome::Closed(closed)),
    };
    tx.lock(LockScope::Address, row.email.as_str()).await?;
    lock_account(tx, req.user_id).await?;
    let live_codes = tx.live_codes(id, req.now).await?;
    let check = check_code(&row, req.max_attempts, &live_codes, &req.candidate);
    let owner = tx.account_of(&row.email).await?;
    let addresses = tx.emails_of(req.user_id).await?;
    let decision = emails::judge_adding(check, owner, req.user_id, addresses.len());
    Ok(match decision {
        AddDecision::Closed(closed) => AddressCodeOutcome::Closed(closed),
        AddDecision::Wrong => {
            tx.count_attempt(id).await?;
            tx.record(EventKind::Fail, row.email.as_str(), req.now)
                .await?;
            AddressCodeOutcome::WrongCode(ChallengeInfo {
                id: id.clone(),
                email: row.email.clone(),
                has_account: false,
                expires_at: row.expires_at,
                attempts_left: row.attempts_left(req.max_attempts).saturating_sub(1),
            })
        }
        AddDecision::Add => {
            tx.finish(id, req.now).await?;
            tx.insert_email(req.user_id, &row.email, req.now).await?;
            notify(tx, &addresses, &row.email, notice, req.now).await?;
            AddressCodeOutcome::Added(tx.emails_of(req.user_id).await?)
        }
        AddDecision::AlreadyYours => {
            tx.finish(id, req.now).await?;
            AddressCodeOutcome::AlreadyYours
        }
        AddDecision::InUse => {
            tx.finish(id, req.now).await?;
            AddressCodeOutcome::InUse
        }
        AddDecision::TooMany => {
            tx.finish(id, req.now).await?;
            AddressCodeOutcome::TooMany
        }
    })
}

/// Makes one of the person's addresses primary.
pub(super) async fn make_primary(
    tx: &impl EmailTx,
    user_id: i64,
    email: &EmailAddress,
) -> anyhow::Result<AddressChange> {
    lock_account(tx, user_id).await?;
    let addresses = tx.emails_of(user_id).await?;
    if !addresses.iter().any(|a| &a.email == email) {
        return Ok(AddressChange::NotYours);
    }
    tx.set_primary(user_id, email).await?;
    Ok(AddressChange::Done(tx.emails_of(user_id).await?))
}

/// Removes one of the person's addresses, never the last; a removed primary
/// passes to the oldest address left. The addresses left are told.
pub(super) async fn remove(
    tx: &impl EmailTx,
    user_id: i64,
    email: &EmailAddress,
    notice: Notice<'_>,
    now: i64,
) -> anyhow::Result<AddressChange> {
    // The address's lock first, as a sign-in with it takes: one that read the
    // address's owner before this commits has finished by then.
    tx.lock(LockScope::Address, email.as_str()).await?;
    lock_account(tx, user_id).await?;
    let addresses = tx.emails_of(user_id).await?;
    let listed: Vec<(String, bool)> = addresses
        .iter()
        .map(|a| (a.email.as_str().to_owned(), a.primary))
        .collect();
    match emails::judge_removal(&listed, email.as_str()) {
        Removal::NotYours => Ok(AddressChange::NotYours),
        Removal::Last => Ok(AddressChange::Last),
        Removal::Remove { promote } => {
            tx.delete_email(user_id, email).await?;
            if let Some(heir) = promote {
                tx.set_primary(user_id, &addresses[heir].email).await?;
            }
            notify(tx, &addresses, email, notice, now).await?;
            Ok(AddressChange::Done(tx.emails_of(user_id).await?))
        }
    }
}

/// An operator adds an address to someone's account (say, for a person who lost
/// the use of theirs), with no code: they vouch for it. It still never changes
/// hands, and the person's other addresses are told.
pub(super) async fn add_by_operator(
    tx: &impl EmailTx,
    user_id: i64,
    email: &EmailAddress,
    primary: bool,
    notice: Notice<'_>,
    now: i64,
) -> anyhow::Result<OperatorAdd> {
    tx.lock(LockScope::Address, email.as_str()).await?;
    lock_account(tx, user_id).await?;
    let owner = tx.account_of(email).await?;
    let addresses = tx.emails_of(user_id).await?;
    match owner {
        Some(owner) if owner != user_id => return Ok(OperatorAdd::InUse(owner)),
        Some(_) => {
            if primary {
                tx.set_primary(user_id, email).await?;
            }
            return Ok(OperatorAdd::AlreadyTheirs(tx.emails_of(user_id).await?));
        }
        None if addresses.len() >= emails::MAX_ADDRESSES => return Ok(OperatorAdd::TooMany),
        None => {}
    }
    tx.insert_email(user_id, email, now).await?;
    if primary {
        tx.set_primary(user_id, email).await?;
    }
    notify(tx, &addresses, email, notice, now).await?;
    Ok(OperatorAdd::Added(tx.emails_of(user_id).await?))
}
