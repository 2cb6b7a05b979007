//! How the operator commands print: aligned tables for people, JSON for scripts,
//! times in UTC RFC 3339.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::storage::{PasskeyRecord, SessionOverview, UserOverview};

/// Columns padded to their widest cell, two spaces apart; no trailing spaces.
pub(super) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        let header = header.iter().map(|h| (*h).to_owned()).collect();
        Self { rows: vec![header] }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                let cells = self.rows.iter().filter_map(|row| row.get(c));
                cells.map(|cell| cell.chars().count()).max().unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:<width$}  "));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `2025-06-01T12:00:00Z`.
pub(super) fn utc(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_secs.to_string())
}

/// Text that came from people (names, user agents) made safe for a terminal: a
/// control character could otherwise move the cursor or rewrite earlier lines.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// `-` for an absent value, so that every column of a table has a cell.
pub(super) fn or_dash(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_owned(), clean)
}

/// At most `max` characters, with `…` when cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `1 session`, `2 sessions`.
pub(super) fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub(super) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A user as `--json` prints it; these keys are a stable interface for scripts.
#[derive(Serialize)]
pub(super) struct UserJson<'a> {
    id: i64,
    created_at: i64,
    first_name: &'a str,
    last_name: Option<&'a str>,
    /// Every address, the primary one first.
    emails: &'a [String],
    primary_email: Option<&'a str>,
    groups: &'a [String],
    /// Live sessions.
    sessions: u64,
}

impl<'a> From<&'a UserOverview> for UserJson<'a> {
    fn from(user: &'a UserOverview) -> Self {
        Self {
            id: user.id,
            created_at: user.created_at,
            first_name: &user.first_name,
            last_name: user.last_name.as_deref(),
            emails: &user.emails,
            primary_email: user.emails.first().map(String::as_str),
            groups: &user.groups,
            sessions: user.live_sessions,
        }
    }
}

/// A session as `--json` prints it: its public id, never the token or its hash.
#[derive(Serialize)]
pub(super) struct SessionJson<'a> {
    id: &'a str,
    user_id: i64,
    email: Option<&'a str>,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    user_agent: Option<&'a str>,
}

impl<'a> From<&'a SessionOverview> for SessionJson<'a> {
    fn from(session: &'a SessionOverview) -> Self {
        Self {
            id: &session.public_id,
            user_id: session.user_id,
            email: session.email.as_deref(),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.expires_at,
            user_agent: session.user_agent.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let mut table = Table::new(&["ID", "NAME", "EMAILS"]);
        table.row(vec![
            "1".into(),
            "Ada Lovelace".into(),
            "ada@example.com".into(),
        ]);
        table.row(vec!["12".into(), "Ché".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "ID  NAME          EMAILS\n\
             1   Ada Lovelace  ada@example.com\n\
             12  Ché           -\n"
        );
    }

    #[test]
    fn times_are_utc_rfc_3339_and_people_text_is_defused() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(clean("a\x1b[2Jb"), "a\u{fffd}[2Jb");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(count(2u64, "session"), "2 sessions");
    }
}

#[derive(Serialize)]
pub(super) struct PasskeyJson<'a> {
    id: i64,
    name: &'a str,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl<'a> From<&'a PasskeyRecord> for PasskeyJson<'a> {
    fn from(passkey: &'a PasskeyRecord) -> Self {
        Self {
            id: passkey.id,
            name: &passkey.name,
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
        }
    }
}
