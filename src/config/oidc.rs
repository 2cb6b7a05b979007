//! `[oidc]`: token lifetimes and the clients written in the file.

use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::load::ConfigError;
use crate::domain::{GroupName, sha256_hex};
use crate::rules::oidc::{is_client_id, redirect_uri_problem};
use crate::storage::ClientRecord;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    pub access_token_ttl_secs: NonZeroU64,
    pub refresh_token_ttl_secs: NonZeroU64,
    pub clients: Vec<ClientConfig>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: NonZeroU64::new(3600).expect("non-zero"),
            refresh_token_ttl_secs: NonZeroU64::new(2_592_000).expect("non-zero"),
            clients: Vec::new(),
        }
    }
}

/// One `[[oidc.clients]]` table.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    pub id: String,
    pub name: String,
    /// Empty: a public client (PKCE required).
    pub secret: Secret,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub skip_consent: bool,
    pub allowed_groups: Vec<String>,
}

/// A client, from the file or the database, as the provider uses it.
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub skip_consent: bool,
    pub allowed_groups: Vec<GroupName>,
}

impl OidcClient {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// A client the command line added; its values were checked when it was added.
    pub fn from_record(record: ClientRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            secret_hash: record.secret_hash,
            redirect_uris: record.redirect_uris,
            post_logout_redirect_uris: record.post_logout_redirect_uris,
            skip_consent: record.skip_consent,
            allowed_groups: record
                .allowed_groups
                .into_iter()
                .filter_map(|name| GroupName::parse(&name).ok())
                .collect(),
        }
    }
}

/// A client secret must be long enough not to be guessed.
pub const MIN_SECRET_LEN: usize = 32;

/// Checks `[[oidc.clients]]`, naming the client and key of any mistake.
pub fn clients(config: &OidcConfig) -> Result<Vec<OidcClient>, ConfigError> {
    let mut clients: Vec<OidcClient> = Vec::new();
    for (index, client) in config.clients.iter().enumerate() {
        let at = |key: &str| format!("oidc.clients[{index}].{key}");
        if !is_client_id(&client.id) {
            return Err(ConfigError::new(format!(
                "{}: `{}` must be 1 to 128 letters, digits, `-`, `_` or `.`",
                at("id"),
                client.id
            )));
        }
        if clients.iter().any(|c| c.id == client.id) {
            return Err(ConfigError::new(format!(
                "{}: `{}` is the id of an earlier client too",
                at("id"),
                client.id
            )));
        }
        if client.name.trim().is_empty() || client.name.chars().any(char::is_control) {
            return Err(ConfigError::new(format!(
                "{}: must be the app's name as people know it, e.g. \"Grafana\"",
                at("name")
            )));
        }
        let secret = client.secret.expose();
        if !secret.is_empty() && secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::new(format!(
                "{}: must be at least {MIN_SECRET_LEN} characters (e.g. `openssl rand -hex 32`), \
                 or omitted for a public client",
                at("secret")
            )));
        }
        if client.redirect_uris.is_empty() {
            return Err(ConfigError::new(format!(
                "{}: must list at least one URI",
                at("redirect_uris")
            )));
        }
        for (key, uris) in [
            ("redirect_uris", &client.redirect_uris),
            (
                "post_logout_redirect_uris",
                &client.post_logout_redirect_uris,
            ),
        ] {
            for uri in uris {
                if let Some(problem) = redirect_uri_problem(uri) {
                    return Err(ConfigError::new(format!("{}: `{uri}` {problem}", at(key))));
                }
            }
        }
        let allowed_groups = client
            .allowed_groups
            .iter()
            .map(|name| {
                GroupName::parse(name).map_err(|e| {
                    ConfigError::new(format!("{}: `{name}`: {e}", at("allowed_groups")))
                })
            })
            .collect::<Result<_, _>>()?;
        clients.push(OidcClient {
            id: client.id.clone(),
            name: client.name.trim().to_owned(),
            secret_hash: (!secret.is_empty()).then(|| sha256_hex(secret)),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            skip_consent: client.skip_consent,
            allowed_groups,
        });
    }
    Ok(clients)
}
