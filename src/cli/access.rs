//! `doorcode groups …` and `doorcode invite …`: who may sign in, and who is in
//! which group.

use serde::Serialize;

use super::output::{Table, count, print_json, utc};
use super::{CliError, open_existing};
use crate::clock::Clock;
use crate::config::{Config, Settings};
use crate::domain::{EmailAddress, GroupName, RandomId};
use crate::storage::{
    InviteOutcome, MailKind, Membership, NewInvitation, NewMail, SignupMode, UserRef,
};

pub(super) fn parse_group(input: &str) -> Result<GroupName, CliError> {
    GroupName::parse(input).map_err(|e| CliError::Usage(format!("`{input}`: {e}")))
}

pub(super) async fn create_group(config: &Config, name: GroupName) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    match storage
        .create_group(name.clone(), Clock::default().now())
        .await?
    {
        true => println!("created group {name}"),
        false => println!("group {name} exists already"),
    }
    Ok(())
}

pub(super) async fn delete_group(config: &Config, name: GroupName) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    match storage.delete_group(name.clone()).await? {
        Some(members) => {
            println!(
                "deleted group {name} ({} taken out of it)",
                count(members, "person")
            );
            Ok(())
        }
        None => Err(no_such_group(&name)),
    }
}

pub(super) async fn list_groups(config: &Config, json: bool) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let groups = storage.list_groups().await?;
    if json {
        #[derive(Serialize)]
        struct GroupJson<'a> {
            name: &'a str,
            created_at: i64,
            members: u64,
        }
        let groups: Vec<GroupJson> = groups
            .iter()
            .map(|g| GroupJson {
                name: g.name.as_str(),
                created_at: g.created_at,
                members: g.members,
            })
            .collect();
        return Ok(print_json(&groups)?);
    }
    if groups.is_empty() {
        println!("no groups (make one with `doorcode groups create NAME`)");
        return Ok(());
    }
    let mut table = Table::new(&["NAME", "CREATED", "MEMBERS"]);
    for group in &groups {
        table.row(vec![
            group.name.to_string(),
            utc(group.created_at),
            group.members.to_string(),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

/// `groups add` (`add` true) and `groups remove`.
pub(super) async fn set_membership(
    config: &Config,
    name: GroupName,
    who: UserRef,
    add: bool,
) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let outcome = storage
        .set_membership(name.clone(), who.clone(), add, Clock::default().now())
        .await?;
    match (outcome, add) {
        (Membership::Changed, true) => println!("added user {who} to {name}"),
        (Membership::Changed, false) => println!("removed user {who} from {name}"),
        (Membership::Unchanged, true) => println!("user {who} is in {name} already"),
        (Membership::Unchanged, false) => println!("user {who} was not in {name}"),
        (Membership::NoSuchGroup, _) => return Err(no_such_group(&name)),
        (Membership::NoSuchUser, _) => return Err(CliError::unknown_user(&who)),
    }
    Ok(())
}

fn no_such_group(name: &GroupName) -> CliError {
    CliError::Failed(anyhow::anyhow!(
        "no group named {name} (see `doorcode groups list`)"
    ))
}

/// `doorcode invite ADDRESS [--group NAME]…`: lets the address make an account
/// until the invitation expires, and queues the invitation email, which the
/// running service sends.
pub(super) async fn invite(
    config: &Config,
    email: EmailAddress,
    groups: Vec<GroupName>,
) -> Result<(), CliError> {
    if let Some(why) = useless_invitation(config, &email)? {
        return Err(CliError::Failed(anyhow::anyhow!(
            "{why}, so no invitation was made"
        )));
    }
    let storage = open_existing(&config.database.target()).await?;
    let now = Clock::default().now();
    let ttl = i64::try_from(config.signup.invite_ttl_secs.get()).unwrap_or(i64::MAX / 4);
    let expires_at = now.saturating_add(ttl);
    let host = config.server.base_url.host().to_owned();
    let invitation = NewInvitation {
        email: email.clone(),
        groups: groups.clone(),
        expires_at,
        mail: NewMail {
            kind: MailKind::Invitation,
            recipient: email.clone(),
            message_id: format!("<{}@{host}>", RandomId::generate().as_str()),
            sealed_code: Vec::new(),
            expires_at,
            language: config.server.default_language().code().to_owned(),
            about: None,
        },
    };
    match storage.invite(invitation, now).await? {
        InviteOutcome::Invited { replaced } => {
            let into = match groups.is_empty() {
                true => String::new(),
                false => format!(
                    " into {}",
                    groups
                        .iter()
                        .map(GroupName::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let again = if replaced {
                " (replacing the earlier invitation)"
            } else {
                ""
            };
            println!(
                "invited {}{into} until {}{again}; the running service mails the invitation",
                email.as_str(),
                utc(expires_at)
            );
            if config.signup.mode == SignupMode::Open {
                eprintln!(
                    "doorcode: note: signup.mode is \"open\": anyone may make an account; the \
                     invitation only puts this address in its groups"
                );
            }
            Ok(())
        }
        InviteOutcome::HasAccount(user_id) => Err(CliError::Failed(anyhow::anyhow!(
            "{} already has an account (user {user_id}); put it in groups with `doorcode groups add`",
            email.as_str()
        ))),
        InviteOutcome::NoSuchGroups(missing) => Err(CliError::Failed(anyhow::anyhow!(
            "no group named {}; nothing was stored (make it with `doorcode groups create`)",
            missing
                .iter()
                .map(GroupName::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Why an invitation for `email` could never be used under `signup.mode`, if so:
/// only `invite` mode admits by invitation; `open` and `domains` admit by their
/// own rule (where an invitation still puts the new account in its groups), and
/// `closed` admits nobody.
fn useless_invitation(config: &Config, email: &EmailAddress) -> Result<Option<String>, CliError> {
    let policy = Settings::parse(config)
        .map_err(|e| CliError::Usage(e.to_string()))?
        .signup;
    Ok(match (policy.mode, policy.admits_uninvited(email)) {
        (SignupMode::Closed, _) => {
            Some("signup.mode is \"closed\": nobody can make an account, invited or not".into())
        }
        (SignupMode::Domains, Some(false)) => Some(format!(
            "signup.mode is \"domains\" and {} is not under signup.allowed_domains: it could \
             not make an account",
            email.as_str()
        )),
        _ => None,
    })
}

pub(super) async fn list_invitations(config: &Config, json: bool) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let invitations = storage.list_invitations(Clock::default().now()).await?;
    if json {
        #[derive(Serialize)]
        struct InvitationJson<'a> {
            email: &'a str,
            groups: &'a [String],
            created_at: i64,
            expires_at: i64,
            state: &'static str,
            ended_at: Option<i64>,
        }
        let invitations: Vec<InvitationJson> = invitations
            .iter()
            .map(|i| InvitationJson {
                email: &i.email,
                groups: &i.groups,
                created_at: i.created_at,
                expires_at: i.expires_at,
                state: i.state.as_str(),
                ended_at: i.ended_at,
            })
            .collect();
        return Ok(print_json(&invitations)?);
    }
    if invitations.is_empty() {
        println!("no invitations");
        return Ok(());
    }
    let mut table = Table::new(&["EMAIL", "GROUPS", "INVITED", "EXPIRES", "STATE"]);
    for invitation in &invitations {
        let state = match invitation.ended_at {
            Some(at) => format!("{} {}", invitation.state.as_str(), utc(at)),
            None => invitation.state.as_str().to_owned(),
        };
        table.row(vec![
            invitation.email.clone(),
            match invitation.groups.is_empty() {
                true => "-".into(),
                false => invitation.groups.join(", "),
            },
            utc(invitation.created_at),
            utc(invitation.expires_at),
            state,
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

pub(super) async fn revoke_invitation(
    config: &Config,
    email: EmailAddress,
) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    match storage
        .revoke_invitation(email.clone(), Clock::default().now())
        .await?
    {
        true => {
            println!("revoked the invitation for {}", email.as_str());
            Ok(())
        }
        false => Err(CliError::Failed(anyhow::anyhow!(
            "no pending invitation for {}",
            email.as_str()
        ))),
    }
}
