//! `doorcode users list|show|delete|add-email|remove-email`.

use serde::Serialize;

use super::output::{
    PasskeyJson, SessionJson, Table, UserJson, clean, count, or_dash, print_json, utc,
};
use super::{CliError, open_existing, sessions};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::EmailAddress;
use crate::login::emails::notice_maker;
use crate::rules::emails::MAX_ADDRESSES;
use crate::storage::{
    AddressChange, MailKind, OperatorAdd, Storage, UserEmail, UserOverview, UserRef,
};

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
            addresses(&user.emails),
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
    fields.row(vec!["emails".into(), addresses(&user.emails)]);
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

/// Adds an address with no code: the operator vouches for it. It never changes
/// hands, and the person's other addresses are told.
pub(super) async fn add_email(
    config: &Config,
    who: UserRef,
    raw_email: &str,
    primary: bool,
) -> Result<(), CliError> {
    let email = address(raw_email)?;
    let (storage, user) = found(config, &who).await?;
    let now = Clock::default().now();
    let notice = notice_maker(
        notice_host(config),
        config.server.default_language(),
        MailKind::AddressAdded,
        now,
    );
    let outcome = storage
        .add_email_by_operator(user.id, email.clone(), primary, notice, now)
        .await?;
    let addresses = match outcome {
        OperatorAdd::Added(addresses) => {
            println!("added {email} to user {} ({})", user.id, name(&user));
            addresses
        }
        OperatorAdd::AlreadyTheirs(addresses) => {
            println!("{email} is already an address of user {}", user.id);
            addresses
        }
        OperatorAdd::InUse(owner) => {
            return Err(CliError::Failed(anyhow::anyhow!(
                "{email} belongs to user {owner}; an address never changes hands \
                 (remove it there first, or delete that user)"
            )));
        }
        OperatorAdd::TooMany => {
            return Err(CliError::Failed(anyhow::anyhow!(
                "user {} has {MAX_ADDRESSES} addresses, the most an account may have",
                user.id
            )));
        }
    };
    println!("emails: {}", shown(&addresses));
    Ok(())
}

/// Removes an address, never the last; a removed primary passes to the oldest
/// address left, and the addresses left are told.
pub(super) async fn remove_email(
    config: &Config,
    who: UserRef,
    raw_email: &str,
) -> Result<(), CliError> {
    let email = address(raw_email)?;
    let (storage, user) = found(config, &who).await?;
    let now = Clock::default().now();
    let notice = notice_maker(
        notice_host(config),
        config.server.default_language(),
        MailKind::AddressRemoved,
        now,
    );
    match storage
        .remove_email(user.id, email.clone(), notice, now)
        .await?
    {
        AddressChange::Done(addresses) => {
            println!("removed {email} from user {} ({})", user.id, name(&user));
            println!("emails: {}", shown(&addresses));
            Ok(())
        }
        AddressChange::NotYours => Err(CliError::Failed(anyhow::anyhow!(
            "{email} is not an address of user {}",
            user.id
        ))),
        AddressChange::Last => Err(CliError::Failed(anyhow::anyhow!(
            "{email} is the only address of user {}; add another one first \
             (users add-email), or delete the user",
            user.id
        ))),
    }
}

fn address(raw: &str) -> Result<EmailAddress, CliError> {
    EmailAddress::parse(raw)
        .map_err(|e| CliError::Usage(format!("{raw:?} is not an email address: {e}")))
}

async fn found(config: &Config, who: &UserRef) -> Result<(Storage, UserOverview), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let user = storage
        .find_user(who.clone(), Clock::default().now())
        .await?
        .ok_or_else(|| CliError::unknown_user(who))?;
    Ok((storage, user))
}

fn notice_host(config: &Config) -> String {
    config.server.base_url.host().to_owned()
}

fn shown(addresses: &[UserEmail]) -> String {
    let listed: Vec<String> = addresses
        .iter()
        .map(|a| a.email.as_str().to_owned())
        .collect();
    self::addresses(&listed)
}

/// A person's addresses, the primary one (listed first) marked.
fn addresses(emails: &[String]) -> String {
    match emails.split_first() {
        None => "-".into(),
        Some((primary, rest)) => {
            let mut all = vec![format!("{} (primary)", clean(primary))];
            all.extend(rest.iter().map(|e| clean(e)));
            all.join(", ")
        }
    }
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
