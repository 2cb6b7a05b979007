//! `doorcode sessions list|revoke`.

use super::output::{SessionJson, Table, count, or_dash, print_json, shorten, utc};
use super::{CliError, open_existing};
use crate::clock::Clock;
use crate::config::Config;
use crate::storage::{SessionOverview, UserRef};

/// User agents are cut to this many characters in tables (`--json` has them whole).
const AGENT_WIDTH: usize = 60;

pub(super) async fn list(
    config: &Config,
    who: Option<UserRef>,
    json: bool,
) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let now = Clock::default().now();
    let user_id = match who {
        Some(who) => {
            let user = storage.find_user(who.clone(), now).await?;
            Some(user.ok_or_else(|| CliError::unknown_user(&who))?.id)
        }
        None => None,
    };
    let sessions = storage.list_live_sessions(user_id, now).await?;
    if json {
        let sessions: Vec<SessionJson> = sessions.iter().map(SessionJson::from).collect();
        return Ok(print_json(&sessions)?);
    }
    if sessions.is_empty() {
        println!("no live sessions");
    } else {
        print!("{}", table(&sessions, true).render());
    }
    Ok(())
}

/// Ends one user's sessions (`Some`) or everyone's (`None`).
pub(super) async fn revoke(config: &Config, who: Option<UserRef>) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let now = Clock::default().now();
    match who {
        Some(who) => {
            let user = storage
                .find_user(who.clone(), now)
                .await?
                .ok_or_else(|| CliError::unknown_user(&who))?;
            let revoked = storage.revoke_user_sessions(user.id, now).await?;
            let email = user.emails.first().map_or("no email", String::as_str);
            println!(
                "revoked {} of user {} ({email})",
                count(revoked, "session"),
                user.id
            );
        }
        None => {
            let revoked = storage.revoke_all_sessions(now).await?;
            println!("revoked {} (all users)", count(revoked, "session"));
        }
    }
    Ok(())
}

/// Sessions as a table; `with_user` adds the user id and email columns.
pub(super) fn table(sessions: &[SessionOverview], with_user: bool) -> Table {
    let mut header = vec!["SESSION"];
    if with_user {
        header.extend(["USER", "EMAIL"]);
    }
    header.extend(["CREATED", "LAST SEEN", "EXPIRES", "USER AGENT"]);
    let mut table = Table::new(&header);
    for session in sessions {
        let mut cells = vec![session.public_id.clone()];
        if with_user {
            cells.push(session.user_id.to_string());
            cells.push(or_dash(session.email.as_deref()));
        }
        let agent = session
            .user_agent
            .as_deref()
            .map(|a| shorten(a, AGENT_WIDTH));
        cells.extend([
            utc(session.created_at),
            utc(session.last_seen_at),
            utc(session.expires_at),
            or_dash(agent.as_deref()),
        ]);
        table.row(cells);
    }
    table
}
