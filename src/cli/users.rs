//! `doorcode users list|show|delete`.

use serde::Serialize;

use super::output::{
    PasskeyJson, SessionJson, Table, UserJson, clean, count, or_dash, print_json, utc,
};
use super::{CliError, open_existing, sessions};
use crate::clock::Clock;
use crate::config::Config;
use crate::storage::{UserOverview, UserRef};

pub(super) async fn list(config: &Config, json: bool) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let users = storage.list_users(Clock::default().now()).await?;
    if json {
        let users: Vec<UserJson> = users.iter().map(UserJson::from).collect();
        return Ok(print_json(&users)?);
    }
    if users.is_empty() {
        println!("no users");
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID",
        "CREATED",
        "FIRST NAME",
        "LAST NAME",
        "EMAILS",
        "GROUPS",
        "SESSIONS",
    ]);
    for user in &users {
        table.row(vec![
            user.id.to_string(),
            utc(user.created_at),
            clean(&user.first_name),
            or_dash(user.last_name.as_deref()),
            listed(&user.emails),
            listed(&user.groups),
            user.live_sessions.to_string(),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

pub(super) async fn show(config: &Config, who: UserRef, json: bool) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let now = Clock::default().now();
    let user = storage
        .find_user(who.clone(), now)
        .await?
        .ok_or_else(|| CliError::unknown_user(&who))?;
    let sessions = storage.list_live_sessions(Some(user.id), now).await?;
    let passkeys = storage.list_passkeys(user.id).await?;
    if json {
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            user: UserJson<'a>,
            session_list: Vec<SessionJson<'a>>,
            passkeys: Vec<PasskeyJson<'a>>,
        }
        let shown = Shown {
            user: UserJson::from(&user),
            session_list: sessions.iter().map(SessionJson::from).collect(),
            passkeys: passkeys.iter().map(PasskeyJson::from).collect(),
        };
        return Ok(print_json(&shown)?);
    }
    let mut fields = Table::new(&["id", &user.id.to_string()]);
    fields.row(vec!["created".into(), utc(user.created_at)]);
    fields.row(vec!["first name".into(), clean(&user.first_name)]);
    fields.row(vec!["last name".into(), or_dash(user.last_name.as_deref())]);
    fields.row(vec!["emails".into(), listed(&user.emails)]);
    fields.row(vec!["groups".into(), listed(&user.groups)]);
    fields.row(vec![
        "sessions".into(),
        format!("{} live", user.live_sessions),
    ]);
    fields.row(vec!["passkeys".into(), passkeys.len().to_string()]);
    print!("{}", fields.render());
    if !sessions.is_empty() {
        println!();
        print!("{}", sessions::table(&sessions, false).render());
    }
    if !passkeys.is_empty() {
        println!();
        let mut table = Table::new(&["PASSKEY", "NAME", "ADDED", "LAST USED"]);
        for passkey in &passkeys {
            table.row(vec![
                passkey.id.to_string(),
                clean(&passkey.name),
                utc(passkey.created_at),
                passkey
                    .last_used_at
                    .map(utc)
                    .unwrap_or_else(|| "never".into()),
            ]);
        }
        print!("{}", table.render());
    }
    Ok(())
}

pub(super) async fn delete(config: &Config, who: UserRef) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let deleted = storage
        .delete_user(who.clone(), Clock::default().now())
        .await?
        .ok_or_else(|| CliError::unknown_user(&who))?;
    let mut what = vec![
        count(deleted.emails as u64, "email"),
        count(deleted.sessions as u64, "session"),
    ];
    for (table, rows) in &deleted.other_rows {
        what.push(format!("{} of {table}", count(*rows as u64, "row")));
    }
    println!(
        "deleted user {} ({}): {}",
        deleted.user.id,
        name(&deleted.user),
        what.join(", ")
    );
    Ok(())
}

/// Comma-separated, or `-` for none.
fn listed(items: &[String]) -> String {
    match items.is_empty() {
        true => "-".into(),
        false => items.join(", "),
    }
}

fn name(user: &UserOverview) -> String {
    match &user.last_name {
        Some(last) => clean(&format!("{} {last}", user.first_name)),
        None => clean(&user.first_name),
    }
}
