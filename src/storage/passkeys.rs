//! The passkey transactions, written once for both backends like the sign-in's:
//! each function is the body of one transaction, over [`PasskeyTx`] (the SQL each
//! backend writes) and the sign-in's own [`SignInTx`] (limits and sessions).

use super::records::{Ceremony, NewCeremony, PasskeyUse, PasskeyUseOutcome};
use super::signin::{LockScope, SignInTx};
use crate::domain::TokenHash;
use crate::rules::limits::{self, EventKind, Refusal};

pub(super) trait PasskeyTx: SignInTx {
    async fn insert_ceremony(&self, new: &NewCeremony) -> anyhow::Result<()>;
    /// Deletes the ceremony and gives it back, if it has not expired.
    async fn take_ceremony(
        &self,
        id_hash: &TokenHash,
        now: i64,
    ) -> anyhow::Result<Option<Ceremony>>;
    /// Stores the new counter and credential if the stored counter is still the
    /// one the assertion was checked against; the passkey's owner, or `None`.
    async fn record_use(&self, used: &PasskeyUse) -> anyhow::Result<Option<i64>>;
}

/// Counts the ceremony against its client network's hourly limit and stores it.
pub(super) async fn begin(
    tx: &impl PasskeyTx,
    new: NewCeremony,
    now: i64,
) -> anyhow::Result<Result<(), Refusal>> {
    tx.lock(LockScope::ClientIp, &new.network).await?;
    let nth = tx.nth_newest(new.limit, &new.network).await?;
    if let Some(retry_after) = limits::full_for(nth, now) {
        return Ok(Err(Refusal::IpHourly { retry_after }));
    }
    tx.record(EventKind::Passkey, &new.network, now).await?;
    tx.insert_ceremony(&new).await?;
    Ok(Ok(()))
}

/// Ends the ceremony whatever comes next, so its challenge is answered once.
pub(super) async fn take(
    tx: &impl PasskeyTx,
    id_hash: TokenHash,
    now: i64,
) -> anyhow::Result<Option<Ceremony>> {
    tx.take_ceremony(&id_hash, now).await
}

/// Ends the ceremony, records a verified assertion and opens its session; the
/// browser's earlier session, if any, ends.
pub(super) async fn sign_in(
    tx: &impl PasskeyTx,
    used: PasskeyUse,
) -> anyhow::Result<PasskeyUseOutcome> {
    if tx.take_ceremony(&used.ceremony, used.now).await?.is_none() {
        return Ok(PasskeyUseOutcome::Spent);
    }
    let Some(user_id) = tx.record_use(&used).await? else {
        return Ok(PasskeyUseOutcome::Stale);
    };
    if let Some(old) = &used.session.replaces {
        tx.end_session(old).await?;
    }
    let session = tx.insert_session(user_id, &used.session, used.now).await?;
    Ok(PasskeyUseOutcome::SignedIn(session))
}
