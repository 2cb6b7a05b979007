//! Sliding-window limits over `rate_events`, checked and recorded inside the same
//! write transaction as the action they guard, so concurrent requests cannot both
//! slip under a limit.

use r2d2_sqlite::rusqlite::{OptionalExtension, Transaction, params};

pub(super) const WINDOW_SECS: i64 = 3600;

pub(super) const SEND: &str = "send";
pub(super) const IP: &str = "ip";
pub(super) const FAIL: &str = "fail";

/// The numbers from `[rate_limit]` and `[code]` that guard sending and checking codes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub email_per_hour: u32,
    pub ip_per_hour: u32,
    pub failures_per_email_per_hour: u32,
    pub resend_interval_secs: i64,
}

/// Why a request was refused, and in how many seconds it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    EmailHourly { retry_after: i64 },
    IpHourly { retry_after: i64 },
    FailureBudget { retry_after: i64 },
    ResendTooSoon { retry_after: i64 },
}

impl Refusal {
    pub fn retry_after(&self) -> i64 {
        match *self {
            Refusal::EmailHourly { retry_after }
            | Refusal::IpHourly { retry_after }
            | Refusal::FailureBudget { retry_after }
            | Refusal::ResendTooSoon { retry_after } => retry_after.max(1),
        }
    }
}

/// Seconds until the window has room for one more event, or `None` if it has room now.
/// With events newest first, the window is full when the `limit`-th newest is inside
/// it, and has room again when that one ages out.
pub(super) fn full_for(
    tx: &Transaction,
    kind: &str,
    subject: &str,
    limit: u32,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<Option<i64>> {
    let at: Option<i64> = tx
        .prepare_cached(
            "SELECT at FROM rate_events WHERE kind = ?1 AND subject = ?2 AND at > ?3 \
             ORDER BY at DESC LIMIT 1 OFFSET ?4",
        )?
        .query_row(
            params![kind, subject, now - WINDOW_SECS, i64::from(limit) - 1],
            |row| row.get(0),
        )
        .optional()?;
    Ok(at.map(|at| at + WINDOW_SECS - now))
}

pub(super) fn last_at(
    tx: &Transaction,
    kind: &str,
    subject: &str,
) -> r2d2_sqlite::rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT max(at) FROM rate_events WHERE kind = ?1 AND subject = ?2")?
        .query_row(params![kind, subject], |row| row.get(0))
}

pub(super) fn record(
    tx: &Transaction,
    kind: &str,
    subject: &str,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO rate_events (kind, subject, at) VALUES (?1, ?2, ?3)")?
        .execute(params![kind, subject, now])?;
    Ok(())
}

/// The checks every code send passes: the address's failure budget, the resend
/// interval (for resends), the address's and the client's hourly counts.
pub(super) fn check_send(
    tx: &Transaction,
    limits: &Limits,
    email: &str,
    ip: &str,
    now: i64,
    is_resend: bool,
) -> r2d2_sqlite::rusqlite::Result<Option<Refusal>> {
    if let Some(retry_after) = full_for(tx, FAIL, email, limits.failures_per_email_per_hour, now)? {
        return Ok(Some(Refusal::FailureBudget { retry_after }));
    }
    if is_resend
        && let Some(last) = last_at(tx, SEND, email)?
        && last + limits.resend_interval_secs > now
    {
        return Ok(Some(Refusal::ResendTooSoon {
            retry_after: last + limits.resend_interval_secs - now,
        }));
    }
    if let Some(retry_after) = full_for(tx, IP, ip, limits.ip_per_hour, now)? {
        return Ok(Some(Refusal::IpHourly { retry_after }));
    }
    if let Some(retry_after) = full_for(tx, SEND, email, limits.email_per_hour, now)? {
        return Ok(Some(Refusal::EmailHourly { retry_after }));
    }
    record(tx, IP, ip, now)?;
    record(tx, SEND, email, now)?;
    Ok(None)
}
