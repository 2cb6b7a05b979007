//! `doorcode clients …` and `doorcode keys rotate`: the apps that may sign people
//! in here, and the keys their ID tokens are signed with.

use serde::Serialize;

use super::output::{Table, print_json, utc};
use super::{CliError, open_existing};
use crate::clock::Clock;
use crate::config::{Config, SecretSource, Settings};
use crate::domain::{GroupName, RandomId, ServerSecret, SessionToken, sha256_hex};
use crate::rules::oidc::{is_client_id, redirect_uri_problem};
use crate::storage::ClientRecord;

/// What `doorcode clients add` was given.
pub(super) struct NewClient {
    pub name: String,
    pub id: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub skip_consent: bool,
    pub allowed_groups: Vec<String>,
}

/// Stores the client and prints its id and (once) its secret.
pub(super) async fn add_client(config: &Config, new: NewClient) -> Result<(), CliError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().any(char::is_control) || name.len() > 128 {
        return Err(CliError::Usage(
            "--name must be the app's name as people know it, e.g. \"Grafana\"".into(),
        ));
    }
    let id = match new.id {
        Some(id) if is_client_id(&id) => id,
        Some(id) => {
            return Err(CliError::Usage(format!(
                "--id `{id}` must be 1 to 128 letters, digits, `-`, `_` or `.`"
            )));
        }
        None => RandomId::generate().into_string(),
    };
    if new.redirect_uris.is_empty() {
        return Err(CliError::Usage("give at least one --redirect-uri".into()));
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        if let Some(problem) = redirect_uri_problem(uri) {
            return Err(CliError::Usage(format!("`{uri}` {problem}")));
        }
    }
    for group in &new.allowed_groups {
        GroupName::parse(group).map_err(|e| CliError::Usage(format!("`{group}`: {e}")))?;
    }
    if config.oidc.clients.iter().any(|c| c.id == id) {
        return Err(CliError::Usage(format!(
            "`{id}` is the id of a client in the config file"
        )));
    }
    let secret = (!new.public).then(SessionToken::generate);
    let record = ClientRecord {
        id: id.clone(),
        name: name.clone(),
        secret_hash: secret.as_ref().map(|s| sha256_hex(s.expose())),
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        skip_consent: new.skip_consent,
        allowed_groups: new.allowed_groups,
        created_at: Clock::default().now(),
    };
    let storage = open_existing(&config.database.target()).await?;
    if !storage.add_oidc_client(record).await? {
        return Err(CliError::Failed(anyhow::anyhow!(
            "a client with id `{id}` exists already"
        )));
    }
    println!("added client {name}");
    println!("client_id:     {id}");
    match secret {
        Some(secret) => {
            println!("client_secret: {}", secret.expose());
            println!("(the secret is shown only now; only its hash is stored)");
        }
        None => println!("public client: no secret; it must use PKCE (S256)"),
    }
    Ok(())
}

pub(super) async fn list_clients(config: &Config, json: bool) -> Result<(), CliError> {
    let storage = open_existing(&config.database.target()).await?;
    let stored = storage.list_oidc_clients().await?;
    #[derive(Serialize)]
    struct ClientJson<'a> {
        id: &'a str,
        name: &'a str,
        source: &'static str,
        public: bool,
        skip_consent: bool,
        redirect_uris: &'a [String],
        post_logout_redirect_uris: &'a [String],
        allowed_groups: Vec<&'a str>,
        created_at: Option<i64>,
    }
    let mut rows: Vec<ClientJson> = config
        .oidc
        .clients
        .iter()
        .map(|c| ClientJson {
            id: &c.id,
            name: &c.name,
            source: "config",
            public: c.secret.is_empty(),
            skip_consent: c.skip_consent,
            redirect_uris: &c.redirect_uris,
            post_logout_redirect_uris: &c.post_logout_redirect_uris,
            allowed_groups: c.allowed_groups.iter().map(String::as_str).collect(),
            created_at: None,
        })
        .collect();
    rows.extend(stored.iter().map(|c| ClientJson {
        id: &c.id,
        name: &c.name,
        source: "cli",
        public: c.secret_hash.is_none(),
        skip_consent: c.skip_consent,
        redirect_uris: &c.redirect_uris,
        post_logout_redirect_uris: &c.post_logout_redirect_uris,
        allowed_groups: c.allowed_groups.iter().map(String::as_str).collect(),
        created_at: Some(c.created_at),
    }));
    if json {
        return Ok(print_json(&rows)?);
    }
    if rows.is_empty() {
        println!(
            "no clients (add one with `doorcode clients add` or [[oidc.clients]] in the config)"
        );
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "FROM",
        "TYPE",
        "CONSENT",
        "REDIRECT URIS",
        "ADDED",
    ]);
    for row in &rows {
        table.row(vec![
            row.id.to_owned(),
            row.name.to_owned(),
            row.source.to_owned(),
            if row.public { "public" } else { "confidential" }.to_owned(),
            if row.skip_consent { "skipped" } else { "asked" }.to_owned(),
            row.redirect_uris.join(" "),
            row.created_at.map(utc).unwrap_or_else(|| "-".into()),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

pub(super) async fn remove_client(config: &Config, id: &str) -> Result<(), CliError> {
    if config.oidc.clients.iter().any(|c| c.id == id) {
        return Err(CliError::Failed(anyhow::anyhow!(
            "`{id}` is defined in the config file; remove its [[oidc.clients]] table there"
        )));
    }
    let storage = open_existing(&config.database.target()).await?;
    match storage
        .remove_oidc_client(id.to_owned(), Clock::default().now())
        .await?
    {
        true => {
            println!("removed client {id}; its tokens are revoked");
            Ok(())
        }
        false => Err(CliError::Failed(anyhow::anyhow!(
            "no client with id `{id}`"
        ))),
    }
}

/// A new signing key; the old one stays published until its tokens expire.
pub(super) async fn rotate_keys(config: &Config) -> Result<(), CliError> {
    let settings = Settings::parse(config).map_err(|e| CliError::Usage(e.to_string()))?;
    let storage = open_existing(&settings.database).await?;
    let secret = match &settings.secret {
        SecretSource::Key(key) => key.clone(),
        SecretSource::File(path) => ServerSecret::load_or_create(path)?,
    };
    let kid = crate::oidc::rotate_keys(&storage, &secret, Clock::default().now()).await?;
    println!(
        "new signing key {kid} signs from now on (every instance within a minute); the old one \
         stays in the JWKS for {} s, until what it signed has expired",
        settings.oidc.access_token_ttl_secs
    );
    Ok(())
}
