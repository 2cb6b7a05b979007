//! doorcode as an OpenID Connect provider: its clients, signing keys, and what the
//! authorization, token, userinfo, revocation and introspection endpoints decide.
//! The routes (`routes/oidc`) read requests and write answers; this holds the rest.

pub mod authorize;
pub mod keys;

use std::sync::{Arc, RwLock};

use anyhow::Context;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::config::{OidcClient, OidcSettings};
use crate::domain::{ServerSecret, SessionToken, TokenHash, sha256_hex};
use crate::storage::{
    GrantRecord, NewToken, Person, Redeem, Redemption, Refresh, Rotation, Storage, StorageError,
    TokenKind, TokenRecord,
};
use keys::SigningKey;

pub use authorize::{AuthorizeError, AuthorizeRequest, Prompt};

/// The scopes doorcode knows; others are ignored, as OpenID Connect asks.
pub const SCOPES: &[&str] = &["openid", "email", "profile", "offline_access", "groups"];

/// How often a running instance looks for a key rotated by the command line.
const KEY_RELOAD_SECS: i64 = 60;

/// An OAuth error for the token, revocation and introspection endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

/// What the token endpoint answers.
#[derive(Debug, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

struct CachedKey {
    key: Arc<SigningKey>,
    loaded_at: i64,
}

pub struct Provider {
    storage: Storage,
    clock: Clock,
    secret: ServerSecret,
    issuer: String,
    settings: OidcSettings,
    key: RwLock<CachedKey>,
}

impl Provider {
    /// Makes the first signing key if there is none, and opens the newest.
    pub async fn start(
        storage: Storage,
        clock: Clock,
        secret: ServerSecret,
        issuer: String,
        settings: OidcSettings,
    ) -> anyhow::Result<Self> {
        keys::install_ring();
        let now = clock.now();
        if newest_key(&storage, &secret).await.is_err() {
            let made = secret.clone();
            let key = tokio::task::spawn_blocking(move || keys::generate(&made, now)).await??;
            if storage.add_oidc_key(key, false).await? {
                tracing::info!("made the first OpenID Connect signing key");
            }
        }
        let key = newest_key(&storage, &secret).await?;
        Ok(Self {
            storage,
            clock,
            secret,
            issuer,
            settings,
            key: RwLock::new(CachedKey {
                key: Arc::new(key),
                loaded_at: now,
            }),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// A client of the config file, else of the database.
    pub async fn client(&self, id: &str) -> Result<Option<OidcClient>, StorageError> {
        if let Some(client) = self.settings.clients.iter().find(|c| c.id == id) {
            return Ok(Some(client.clone()));
        }
        if !crate::rules::oidc::is_client_id(id) {
            return Ok(None);
        }
        Ok(self
            .storage
            .find_oidc_client(id.to_owned())
            .await?
            .map(OidcClient::from_record))
    }

    /// The client named by a token request, authenticated by its secret (a public
    /// client by the absence of one). `401 invalid_client` otherwise.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<Result<OidcClient, OAuthError>, StorageError> {
        let refused = || {
            Ok(Err(OAuthError::new(
                "invalid_client",
                "client authentication failed",
            )))
        };
        let Some(client) = self.client(client_id).await? else {
            return refused();
        };
        let good = match (&client.secret_hash, secret) {
            (None, None) => true,
            (Some(expected), Some(given)) => {
                bool::from(expected.as_bytes().ct_eq(sha256_hex(given).as_bytes()))
            }
            _ => false,
        };
        if !good {
            return refused();
        }
        Ok(Ok(client))
    }

    /// The key to sign with, reloaded now and then so a rotation reaches every
    /// instance.
    async fn signing_key(&self) -> anyhow::Result<Arc<SigningKey>> {
        let now = self.clock.now();
        {
            let cached = self.key.read().unwrap_or_else(|e| e.into_inner());
            if now - cached.loaded_at < KEY_RELOAD_SECS {
                return Ok(cached.key.clone());
            }
        }
        let key = Arc::new(newest_key(&self.storage, &self.secret).await?);
        let mut cached = self.key.write().unwrap_or_else(|e| e.into_inner());
        *cached = CachedKey {
            key: key.clone(),
            loaded_at: now,
        };
        Ok(key)
    }

    /// The public keys: those in use, and retired ones until what they signed has
    /// expired.
    pub async fn jwks(&self) -> Result<Value, StorageError> {
        let now = self.clock.now();
        let keep = self.settings.access_token_ttl_secs;
        let keys: Vec<Value> = self
            .storage
            .oidc_keys()
            .await?
            .into_iter()
            .filter(|key| key.retired_at.is_none_or(|at| at + keep > now))
            .filter_map(|key| serde_json::from_str(&key.public_jwk).ok())
            .collect();
        Ok(json!({ "keys": keys }))
    }

    /// `/.well-known/openid-configuration`, with the endpoints under `base`.
    pub fn discovery(&self) -> Value {
        let at = |path: &str| format!("{}{path}", self.issuer);
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": at("/oidc/authorize"),
            "token_endpoint": at("/oidc/token"),
            "userinfo_endpoint": at("/oidc/userinfo"),
            "jwks_uri": at("/oidc/jwks"),
            "revocation_endpoint": at("/oidc/revoke"),
            "introspection_endpoint": at("/oidc/introspect"),
            "end_session_endpoint": at("/oidc/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post"],
            "scopes_supported": SCOPES,
            "subject_types_supported": ["public"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp",
                "email", "email_verified", "name", "given_name", "family_name", "groups"
            ],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "ui_locales_supported": ["en", "de"],
        })
    }

    /// Stores an authorization and answers its code.
    pub async fn issue_code(
        &self,
        request: &AuthorizeRequest,
        user_id: i64,
        auth_time: i64,
        amr: &str,
    ) -> Result<String, StorageError> {
        let code = SessionToken::generate();
        let now = self.clock.now();
        self.storage
            .create_grant(crate::storage::NewGrant {
                code_hash: code.hash(),
                client_id: request.client.id.clone(),
                user_id,
                redirect_uri: request.redirect_uri.clone(),
                scope: request.scope.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                auth_time,
                amr: amr.to_owned(),
                code_expires_at: now + crate::rules::oidc::CODE_TTL_SECS,
                now,
            })
            .await?;
        Ok(code.expose().to_owned())
    }

    /// `grant_type=authorization_code`.
    pub async fn exchange_code(
        &self,
        client: &OidcClient,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> anyhow::Result<Result<TokenResponse, OAuthError>> {
        if let Some(verifier) = verifier
            && !crate::rules::oidc::is_pkce_value(verifier)
        {
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
            )));
        }
        if client.is_public() && verifier.is_none() {
            return Ok(Err(OAuthError::new(
                "invalid_request",
                "code_verifier is required",
            )));
        }
        let Some(code) = SessionToken::from_presented(code) else {
            return Ok(Err(OAuthError::new("invalid_grant", "the code is unknown")));
        };
        let now = self.clock.now();
        let issued = Issued::new(self, now);
        // The scope is known only inside the redemption, so a refresh token is made
        // here either way; storage keeps it only for offline_access.
        let redeem = Redeem {
            code_hash: code.hash(),
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            verifier_challenge: verifier.map(crate::rules::oidc::s256),
            tokens: issued.tokens(),
            now,
        };
        match self.storage.redeem_code(redeem).await? {
            Redemption::Redeemed { grant, person } => {
                Ok(Ok(self.respond(issued, &grant, &person, true).await?))
            }
            Redemption::Refused(why) => Ok(Err(OAuthError::new("invalid_grant", why))),
            Redemption::Reused => {
                tracing::warn!(
                    client = %client.id,
                    "an authorization code was presented twice; every token issued from it is revoked"
                );
                Ok(Err(OAuthError::new(
                    "invalid_grant",
                    "the code was used before; the tokens issued from it are revoked",
                )))
            }
        }
    }

    /// `grant_type=refresh_token`: rotates the refresh token.
    pub async fn refresh(
        &self,
        client: &OidcClient,
        refresh_token: &str,
    ) -> anyhow::Result<Result<TokenResponse, OAuthError>> {
        let Some(token) = SessionToken::from_presented(refresh_token) else {
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "the refresh token is unknown",
            )));
        };
        let now = self.clock.now();
        let issued = Issued::new(self, now);
        let refresh = Refresh {
            token_hash: token.hash(),
            client_id: client.id.clone(),
            tokens: issued.tokens(),
            now,
        };
        match self.storage.rotate_refresh(refresh).await? {
            Rotation::Rotated { grant, person } => {
                Ok(Ok(self.respond(issued, &grant, &person, false).await?))
            }
            Rotation::Refused => Ok(Err(OAuthError::new(
                "invalid_grant",
                "the refresh token is unknown, expired or revoked",
            ))),
            Rotation::Reused => {
                tracing::warn!(
                    client = %client.id,
                    "a used refresh token was presented again; its whole family is revoked"
                );
                Ok(Err(OAuthError::new(
                    "invalid_grant",
                    "the refresh token was used before; its family is revoked",
                )))
            }
        }
    }

    /// The token answer: the access token, an ID token for `openid`, and the
    /// refresh token for `offline_access` (storage keeps it only then).
    async fn respond(
        &self,
        issued: Issued,
        grant: &GrantRecord,
        person: &Person,
        with_nonce: bool,
    ) -> anyhow::Result<TokenResponse> {
        let scopes: Vec<&str> = grant.scope.split(' ').collect();
        let offline = crate::rules::oidc::grants_refresh(&grant.scope);
        let id_token = match scopes.contains(&"openid") {
            true => {
                let mut claims = claims_for(person, &grant.scope);
                claims.insert("iss".into(), json!(self.issuer));
                claims.insert("aud".into(), json!(grant.client_id));
                claims.insert("azp".into(), json!(grant.client_id));
                claims.insert("iat".into(), json!(issued.now));
                claims.insert(
                    "exp".into(),
                    json!(issued.now + self.settings.access_token_ttl_secs),
                );
                claims.insert("auth_time".into(), json!(grant.auth_time));
                claims.insert("amr".into(), json!(grant.amr));
                if with_nonce && let Some(nonce) = &grant.nonce {
                    claims.insert("nonce".into(), json!(nonce));
                }
                Some(self.signing_key().await?.sign(&claims)?)
            }
            false => None,
        };
        Ok(TokenResponse {
            access_token: issued.access.expose().to_owned(),
            token_type: "Bearer",
            expires_in: self.settings.access_token_ttl_secs,
            refresh_token: offline.then(|| issued.refresh.expose().to_owned()),
            id_token,
            scope: grant.scope.clone(),
        })
    }

    /// A live access token and whose it is.
    pub async fn access_token(&self, presented: &str) -> Result<Option<TokenRecord>, StorageError> {
        let Some(token) = SessionToken::from_presented(presented) else {
            return Ok(None);
        };
        Ok(self
            .find(token.hash())
            .await?
            .filter(|record| record.kind == TokenKind::Access))
    }

    async fn find(&self, hash: TokenHash) -> Result<Option<TokenRecord>, StorageError> {
        self.storage.find_oidc_token(hash, self.clock.now()).await
    }

    /// The userinfo answer for a token.
    pub fn userinfo(&self, record: &TokenRecord) -> Value {
        Value::Object(claims_for(&record.person, &record.grant.scope))
    }

    /// RFC 7009: revokes the token if it is this client's; unknown tokens are fine.
    pub async fn revoke(&self, client: &OidcClient, presented: &str) -> Result<(), StorageError> {
        let Some(token) = SessionToken::from_presented(presented) else {
            return Ok(());
        };
        self.storage
            .revoke_oidc_token(token.hash(), client.id.clone(), self.clock.now())
            .await
    }

    /// RFC 7662: what a token is, for the client it was issued to.
    pub async fn introspect(
        &self,
        client: &OidcClient,
        presented: &str,
    ) -> Result<Value, StorageError> {
        let inactive = json!({ "active": false });
        let Some(token) = SessionToken::from_presented(presented) else {
            return Ok(inactive);
        };
        let Some(record) = self.find(token.hash()).await? else {
            return Ok(inactive);
        };
        if record.grant.client_id != client.id {
            return Ok(inactive);
        }
        Ok(json!({
            "active": true,
            "scope": record.grant.scope,
            "client_id": record.grant.client_id,
            "sub": record.person.user_id.to_string(),
            "exp": record.expires_at,
            "iat": record.created_at,
            "iss": self.issuer,
            "aud": record.grant.client_id,
            "token_type": match record.kind {
                TokenKind::Access => "Bearer",
                TokenKind::Refresh => "refresh_token",
            },
        }))
    }

    /// The `sub` and `aud` of an ID token this provider signed (expired or not), for
    /// `id_token_hint`; `None` when it is not one.
    pub async fn id_token_hint(
        &self,
        token: &str,
    ) -> Result<Option<(String, String)>, StorageError> {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(None);
        };
        let Some(kid) = header.kid else {
            return Ok(None);
        };
        let stored = self.storage.oidc_keys().await?;
        let Some(jwk) = stored
            .iter()
            .find(|key| key.kid == kid)
            .and_then(|key| serde_json::from_str::<jsonwebtoken::jwk::Jwk>(&key.public_jwk).ok())
        else {
            return Ok(None);
        };
        let Ok(decoding) = jsonwebtoken::DecodingKey::from_jwk(&jwk) else {
            return Ok(None);
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["sub", "aud", "iss"]);
        let Ok(data) = jsonwebtoken::decode::<Value>(token, &decoding, &validation) else {
            return Ok(None);
        };
        let sub = data.claims["sub"].as_str().map(str::to_owned);
        let aud = match &data.claims["aud"] {
            Value::String(aud) => Some(aud.clone()),
            Value::Array(auds) => auds.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        Ok(sub.zip(aud))
    }
}

/// The tokens of one answer, made before the transaction that stores them.
struct Issued {
    access: SessionToken,
    refresh: SessionToken,
    access_expires_at: i64,
    refresh_expires_at: i64,
    now: i64,
}

impl Issued {
    fn new(provider: &Provider, now: i64) -> Self {
        Self {
            access: SessionToken::generate(),
            refresh: SessionToken::generate(),
            access_expires_at: now + provider.settings.access_token_ttl_secs,
            refresh_expires_at: now + provider.settings.refresh_token_ttl_secs,
            now,
        }
    }

    /// Both tokens; storage keeps the refresh token only for `offline_access`.
    fn tokens(&self) -> Vec<NewToken> {
        vec![
            NewToken {
                hash: self.access.hash(),
                kind: TokenKind::Access,
                expires_at: self.access_expires_at,
            },
            NewToken {
                hash: self.refresh.hash(),
                kind: TokenKind::Refresh,
                expires_at: self.refresh_expires_at,
            },
        ]
    }
}

/// `sub` and the claims the scope allows.
fn claims_for(person: &Person, scope: &str) -> serde_json::Map<String, Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(person.user_id.to_string()));
    for scope in scope.split(' ') {
        match scope {
            "email" => {
                claims.insert("email".into(), json!(person.email.as_str()));
                claims.insert("email_verified".into(), json!(true));
            }
            "profile" => {
                let name = match &person.last_name {
                    Some(last) => format!("{} {last}", person.first_name),
                    None => person.first_name.clone(),
                };
                claims.insert("name".into(), json!(name));
                claims.insert("given_name".into(), json!(person.first_name));
                if let Some(last) = &person.last_name {
                    claims.insert("family_name".into(), json!(last));
                }
            }
            "groups" => {
                let groups: Vec<&str> = person.groups.iter().map(|g| g.as_str()).collect();
                claims.insert("groups".into(), json!(groups));
            }
            _ => {}
        }
    }
    claims
}

/// The newest key in use, opened.
async fn newest_key(storage: &Storage, secret: &ServerSecret) -> anyhow::Result<SigningKey> {
    let stored = storage.oidc_keys().await?;
    let newest = stored
        .iter()
        .find(|key| key.retired_at.is_none())
        .context("there is no signing key in use")?;
    keys::open(secret, newest)
}

/// `doorcode keys rotate`: a new key signs from now on; the old ones stay in the
/// JWKS until what they signed has expired. Answers the new key's id.
pub async fn rotate_keys(
    storage: &Storage,
    secret: &ServerSecret,
    now: i64,
) -> anyhow::Result<String> {
    let made = secret.clone();
    let key = tokio::task::spawn_blocking(move || keys::generate(&made, now)).await??;
    let kid = key.kid.clone();
    storage.add_oidc_key(key, true).await?;
    Ok(kid)
}
