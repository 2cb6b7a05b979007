//! The sliding-window limits of `../rate.rs`, for PostgreSQL. Callers hold the
//! advisory locks of the address and the client IP, so a count and the insert
//! that follows it cannot interleave with another instance's.

use deadpool_postgres::Transaction;

use super::super::rate::{FAIL, IP, Limits, Refusal, SEND, WINDOW_SECS};

/// Seconds until the window has room for one more event, or `None` if it has room now.
pub(super) async fn full_for(
    tx: &Transaction<'_>,
    kind: &str,
    subject: &str,
    limit: u32,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let row = tx
        .query_opt(
            "SELECT at FROM rate_events WHERE kind = $1 AND subject = $2 AND at > $3 \
             ORDER BY at DESC LIMIT 1 OFFSET $4",
            &[
                &kind,
                &subject,
                &(now - WINDOW_SECS),
                &(i64::from(limit) - 1),
            ],
        )
        .await?;
    Ok(row.map(|row| row.get::<_, i64>(0) + WINDOW_SECS - now))
}

pub(super) async fn record(
    tx: &Transaction<'_>,
    kind: &str,
    subject: &str,
    now: i64,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO rate_events (kind, subject, at) VALUES ($1, $2, $3)",
        &[&kind, &subject, &now],
    )
    .await?;
    Ok(())
}

/// The checks every code send passes, in the same order as SQLite's.
pub(super) async fn check_send(
    tx: &Transaction<'_>,
    limits: &Limits,
    email: &str,
    ip: &str,
    now: i64,
    is_resend: bool,
) -> anyhow::Result<Option<Refusal>> {
    super::lock(tx, IP, ip).await?;
    if let Some(retry_after) =
        full_for(tx, FAIL, email, limits.failures_per_email_per_hour, now).await?
    {
        return Ok(Some(Refusal::FailureBudget { retry_after }));
    }
    if is_resend {
        let last: Option<i64> = tx
            .query_one(
                "SELECT max(at) FROM rate_events WHERE kind = $1 AND subject = $2",
                &[&SEND, &email],
            )
            .await?
            .get(0);
        if let Some(last) = last
            && last + limits.resend_interval_secs > now
        {
            return Ok(Some(Refusal::ResendTooSoon {
                retry_after: last + limits.resend_interval_secs - now,
            }));
        }
    }
    if let Some(retry_after) = full_for(tx, IP, ip, limits.ip_per_hour, now).await? {
        return Ok(Some(Refusal::IpHourly { retry_after }));
    }
    if let Some(retry_after) = full_for(tx, SEND, email, limits.email_per_hour, now).await? {
        return Ok(Some(Refusal::EmailHourly { retry_after }));
    }
    record(tx, IP, ip, now).await?;
    record(tx, SEND, email, now).await?;
    Ok(None)
}
