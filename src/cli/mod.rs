//! The command line: parsing, logging set-up, and dispatch to the sub-commands.
//!
//! Exit statuses: 0 ok, 1 the check or action failed, 2 bad usage or configuration.
//! Every failure ends with one line on stderr, `doorcode: …`.

mod access;
mod check;
mod log;
mod migrate;
mod oidc;
mod output;
mod serve;
mod sessions;
mod test_email;
mod users;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, load_config, secrets_in_file};
use crate::domain::EmailAddress;
use crate::domain::open_to_others;
use crate::storage::{Database, Storage, StorageError, UserRef};

const DEFAULT_CONFIG: &str = "config/doorcode.toml";

#[derive(Debug, Parser)]
#[command(
    name = "doorcode",
    version,
    about = "Passwordless email-code sign-in and sign-up"
)]
pub struct Cli {
    /// Config file [default: config/doorcode.toml, if present]
    #[arg(long, global = true, env = "DOORCODE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log line format
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default)
    Serve,
    /// Check the configuration, the SMTP server, Turnstile's secret and the database
    Check,
    /// Send a test message through the configured SMTP server
    SendTestEmail {
        /// Where to send it
        #[arg(value_name = "ADDRESS")]
        address: String,
    },
    /// List, show or delete users
    #[command(subcommand)]
    Users(UsersCommand),
    /// List or revoke sessions
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Let an address make an account (`signup.mode = "invite"`), and list or
    /// revoke invitations.
    Invite(InviteArgs),
    /// Groups of people, for `/auth/check?group=` and apps.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Apps that sign people in here with OpenID Connect
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// The keys ID tokens are signed with
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Copy users, addresses and sessions (and sign-ins in progress and pending
    /// mail) from a SQLite database into PostgreSQL; safe to run again
    MigrateToPostgres {
        /// The SQLite file [default: database.path]
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
        /// The PostgreSQL database, postgres://user:pass@host/db [default: database.url]
        #[arg(long, value_name = "URL")]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register an app; prints its client_id and (once) its client_secret
    Add {
        /// The app's name, shown on the consent page
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Where the app receives the code (exact match; https, or http for loopback)
        #[arg(long = "redirect-uri", value_name = "URI", required = true, num_args = 1..)]
        redirect_uris: Vec<String>,
        /// Where the app may send people after signing out
        #[arg(long = "post-logout-redirect-uri", value_name = "URI", num_args = 1..)]
        post_logout_redirect_uris: Vec<String>,
        /// The client_id [default: a random one]
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// No secret: an app in the browser or on a device, which must use PKCE
        #[arg(long)]
        public: bool,
        /// No consent page (the operator's own apps)
        #[arg(long)]
        skip_consent: bool,
        /// Only members of these groups may use the app (repeatable)
        #[arg(long = "allowed-group", value_name = "NAME")]
        allowed_groups: Vec<String>,
    },
    /// Every client, from the config file and from this command
    List {
        /// Print a JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Remove a client added with `clients add`, revoking its tokens
    Remove {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key; the old one stays in the JWKS until its tokens expire
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Every user, with their addresses and number of live sessions
    List {
        /// Print a JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// One user and their live sessions
    Show {
        /// A user id or one of the user's email addresses
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
        /// Print a JSON object instead of text
        #[arg(long)]
        json: bool,
    },
    /// Delete a user with their addresses and sessions
    Delete {
        /// A user id or one of the user's email addresses
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
    },
    /// Add an address to a user's account without a code, say for someone who
    /// lost the use of theirs; their other addresses are told by mail
    AddEmail {
        /// A user id or one of the user's email addresses
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
        /// The address to add
        email: String,
        /// Make it the primary address
        #[arg(long)]
        primary: bool,
    },
    /// Remove an address from a user's account (never their last one); the
    /// addresses left are told by mail
    RemoveEmail {
        /// A user id or one of the user's email addresses
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
        /// The address to remove
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Live sessions, most recently used first
    List {
        /// Only this user's sessions (a user id or email address)
        #[arg(long, value_name = "ID_OR_EMAIL")]
        user: Option<String>,
        /// Print a JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Sign out one user everywhere, or everyone
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("whose").required(true).multiple(false).args(["user", "all"])))]
pub struct RevokeArgs {
    /// Revoke this user's sessions (a user id or email address)
    #[arg(long, value_name = "ID_OR_EMAIL")]
    pub user: Option<String>,
    /// Revoke every session of every user
    #[arg(long)]
    pub all: bool,
}

/// `doorcode invite`: one of an address, `--list` or `--revoke`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).multiple(false).args(["address", "list", "revoke"])))]
pub struct InviteArgs {
    /// The address to invite; it gets an email saying so.
    #[arg(value_name = "ADDRESS")]
    pub address: Option<String>,
    /// A group the new account joins (repeatable).
    #[arg(long = "group", value_name = "NAME", requires = "address")]
    pub groups: Vec<String>,
    /// List every invitation and its state.
    #[arg(long)]
    pub list: bool,
    /// Revoke the address's pending invitation.
    #[arg(long, value_name = "ADDRESS")]
    pub revoke: Option<String>,
    /// With --list: JSON.
    #[arg(long, requires = "list")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Make a group (lower-case letters, digits, `-` and `_`).
    Create {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Delete a group; its members stay, outside it.
    Delete {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Every group with its number of members.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put a user in a group.
    Add {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
    },
    /// Take a user out of a group.
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(value_name = "ID_OR_EMAIL")]
        user: String,
    },
}

/// How a command failed, which decides the exit status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Bad input on the command line: exit status 2.
    #[error("{0}")]
    Usage(String),
    /// The check or the action failed: exit status 1.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    /// `no user with id 42`, `no user with email ada@example.com`.
    pub(crate) fn unknown_user(who: &UserRef) -> Self {
        CliError::Failed(anyhow::anyhow!("no user with {who}"))
    }
}

impl From<StorageError> for CliError {
    fn from(e: StorageError) -> Self {
        CliError::Failed(e.into())
    }
}

/// Where the configuration came from, for `check` to report.
pub(crate) struct ConfigSource {
    pub path: PathBuf,
    pub found: bool,
}

pub fn run(cli: Cli) -> ExitCode {
    // Held until `run` returns: dropping it writes out the lines still queued.
    let _log_writer = init_tracing(cli.log_format);
    let (path, required) = match &cli.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match load_config(&path, required, &env) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("doorcode: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let source = ConfigSource {
        found: path.is_file(),
        path,
    };
    // Blocking threads run SQLite calls (three connections, each gated so no thread
    // waits on the pool) and the odd DNS lookup or file read; tokio's default of
    // 512 only adds stacks and context switches.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("doorcode: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match runtime.block_on(dispatch(command, config, source)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the error text holds (SMTP replies can span lines).
            let line = e.to_string().replace(['\r', '\n'], " ");
            eprintln!("doorcode: {line}");
            match e {
                CliError::Usage(_) => ExitCode::from(2),
                CliError::Failed(_) => ExitCode::FAILURE,
            }
        }
    }
}

async fn dispatch(command: Command, config: Config, source: ConfigSource) -> Result<(), CliError> {
    match command {
        Command::Serve => {
            // The secret beside the database is checked where it is loaded.
            if let Some(line) = exposed_config_file(&source) {
                tracing::warn!("{line}");
            }
            serve::serve(config).await
        }
        Command::Check => check::check(&config, &source).await,
        Command::SendTestEmail { address } => test_email::send(&config, &address).await,
        Command::Users(UsersCommand::List { json }) => users::list(&config, json).await,
        Command::Users(UsersCommand::Show { user, json }) => {
            users::show(&config, parse_user(&user)?, json).await
        }
        Command::Users(UsersCommand::Delete { user }) => {
            users::delete(&config, parse_user(&user)?).await
        }
        Command::Users(UsersCommand::AddEmail {
            user,
            email,
            primary,
        }) => users::add_email(&config, parse_user(&user)?, &email, primary).await,
        Command::Users(UsersCommand::RemoveEmail { user, email }) => {
            users::remove_email(&config, parse_user(&user)?, &email).await
        }
        Command::Sessions(SessionsCommand::List { user, json }) => {
            let user = user.as_deref().map(parse_user).transpose()?;
            sessions::list(&config, user, json).await
        }
        Command::Sessions(SessionsCommand::Revoke(RevokeArgs { user, .. })) => {
            let user = user.as_deref().map(parse_user).transpose()?;
            sessions::revoke(&config, user).await
        }
        Command::Clients(ClientsCommand::Add {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            id,
            public,
            skip_consent,
            allowed_groups,
        }) => {
            let new = oidc::NewClient {
                name,
                id,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                skip_consent,
                allowed_groups,
            };
            oidc::add_client(&config, new).await
        }
        Command::Clients(ClientsCommand::List { json }) => oidc::list_clients(&config, json).await,
        Command::Clients(ClientsCommand::Remove { id }) => oidc::remove_client(&config, &id).await,
        Command::Keys(KeysCommand::Rotate) => oidc::rotate_keys(&config).await,
        Command::MigrateToPostgres { from, to } => migrate::run(&config, from, to).await,
        Command::Invite(args) => invite(&config, args).await,
        Command::Groups(GroupsCommand::Create { name }) => {
            access::create_group(&config, access::parse_group(&name)?).await
        }
        Command::Groups(GroupsCommand::Delete { name }) => {
            access::delete_group(&config, access::parse_group(&name)?).await
        }
        Command::Groups(GroupsCommand::List { json }) => access::list_groups(&config, json).await,
        Command::Groups(GroupsCommand::Add { name, user }) => {
            let name = access::parse_group(&name)?;
            access::set_membership(&config, name, parse_user(&user)?, true).await
        }
        Command::Groups(GroupsCommand::Remove { name, user }) => {
            let name = access::parse_group(&name)?;
            access::set_membership(&config, name, parse_user(&user)?, false).await
        }
    }
}

async fn invite(config: &Config, args: InviteArgs) -> Result<(), CliError> {
    if args.list {
        return access::list_invitations(config, args.json).await;
    }
    if let Some(address) = args.revoke {
        return access::revoke_invitation(config, parse_email(&address)?).await;
    }
    let address = args.address.unwrap_or_default();
    let groups = args
        .groups
        .iter()
        .map(|g| access::parse_group(g))
        .collect::<Result<Vec<_>, _>>()?;
    access::invite(config, parse_email(&address)?, groups).await
}

fn parse_email(input: &str) -> Result<EmailAddress, CliError> {
    EmailAddress::parse(input.trim())
        .map_err(|e| CliError::Usage(format!("`{input}` is not an email address: {e}")))
}

/// A numeric user id, or an address normalised as sign-in normalises it.
fn parse_user(input: &str) -> Result<UserRef, CliError> {
    let trimmed = input.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed
            .parse()
            .map(UserRef::Id)
            .map_err(|_| CliError::Usage(format!("`{input}` is too large for a user id")));
    }
    EmailAddress::parse(trimmed)
        .map(UserRef::Email)
        .map_err(|e| {
            CliError::Usage(format!(
                "`{input}` is neither a user id nor an email address. {e}"
            ))
        })
}

/// The server secret beside a SQLite database, when others may read it: one line
/// with its fix.
pub(crate) fn exposed_secret_file(config: &Config) -> Option<String> {
    if !config.security.secret_key.is_empty() {
        return None;
    }
    let secret = config.database.secret_file();
    open_to_others(&secret).map(|mode| {
        format!(
            "{} holds the server secret and others may read it (mode {mode:o}); run chmod 600 on it",
            secret.display()
        )
    })
}

/// The config file, when it holds a password or a secret key and others may read
/// it: one line with its fix.
pub(crate) fn exposed_config_file(source: &ConfigSource) -> Option<String> {
    let held = secrets_in_file(&source.path);
    if held.is_empty() {
        return None;
    }
    open_to_others(&source.path).map(|mode| {
        format!(
            "{} holds {} and others may read it (mode {mode:o}); run chmod 600 on it",
            source.path.display(),
            held.join(", ")
        )
    })
}

/// The database the service uses. Refuses to create a SQLite file: a relative
/// `database.path` read from the wrong folder would otherwise quietly start an
/// empty database and report no users.
async fn open_existing(database: &Database) -> Result<Storage, CliError> {
    if let Database::Sqlite(path) = database
        && !path.exists()
    {
        return Err(CliError::Failed(anyhow::anyhow!(
            "no database at {} (database.path); run from the service's folder or set DOORCODE_DATABASE_PATH",
            path.display()
        )));
    }
    Ok(Storage::open(database).await?)
}

/// Log lines are formatted where they happen and written out in batches
/// (`log::BatchedStderr`), so a request never waits on a `write` to stderr.
fn init_tracing(format: LogFormat) -> log::FlushOnDrop {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DOORCODE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in files or log collectors.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, guard) = log::BatchedStderr::start();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_named_by_id_or_by_a_normalised_address() {
        assert_eq!(parse_user("42").ok(), Some(UserRef::Id(42)));
        let ada = EmailAddress::parse("ada@example.com").unwrap();
        assert_eq!(
            parse_user(" ADA@Example.com ").ok(),
            Some(UserRef::Email(ada))
        );
        for bad in ["", "ada", "99999999999999999999", "-1"] {
            assert!(
                matches!(parse_user(bad), Err(CliError::Usage(_))),
                "`{bad}` should be refused"
            );
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
