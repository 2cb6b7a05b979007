//! Passkeys (WebAuthn), apart from HTTP: adding one to a signed-in person's
//! account, and signing in with one, each as two steps (begin: the options for
//! the browser; finish: check the browser's answer). The checks themselves are
//! webauthn-rs's; this keeps the ceremonies in the database (used once, expiring,
//! finishable on any instance) and the credentials in `user_passkeys`.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, DiscoverableAuthentication, Passkey,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::clock::Clock;
use crate::config::{Config, Settings};
use crate::domain::{ServerSecret, SessionToken, TokenHash};
use crate::login::{Device, SignedIn, new_session};
use crate::rules::Refusal;
use crate::rules::limits::client_network;
use crate::rules::sessions::Lifetimes;
use crate::session::ActiveSession;
use crate::storage::{
    CeremonyKind, Limits, NewCeremony, NewPasskey, PasskeyRecord, PasskeyUse, PasskeyUseOutcome,
    Storage, StorageError,
};

/// How long a ceremony may take, from the options to the answer: long enough to
/// find a security key, short enough that a challenge does not linger.
pub const CEREMONY_TTL_SECS: i64 = 300;
/// The longest name a passkey may be given.
pub const MAX_NAME_CHARS: usize = 64;

/// What the passkey ceremonies work with, built once at start-up.
pub struct Passkeys {
    /// `None` when `server.base_url` cannot be a relying party.
    webauthn: Option<Webauthn>,
    storage: Storage,
    clock: Clock,
    /// Keys the user handles (WebAuthn's `user.id`) made for people.
    handle_key: [u8; 32],
    limits: Limits,
    sessions: Lifetimes,
    pub enabled: bool,
}

/// Why a ceremony did not succeed. Every one is the person's or the browser's
/// doing (a 4xx), except `Unavailable`.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are turned off")]
    Disabled,
    #[error("too many passkey requests from this network")]
    Limited(Refusal),
    #[error("the passkey request is unknown, used or expired")]
    Expired,
    #[error("the answer is not a WebAuthn credential: {0}")]
    Malformed(String),
    #[error("the passkey is not registered here")]
    Unknown,
    #[error("the passkey was refused: {0}")]
    Refused(WebauthnError),
    #[error("the passkey is already registered")]
    AlreadyRegistered,
    #[error("a passkey name must be 1 to 64 characters")]
    BadName,
    #[error("no such passkey")]
    NotFound,
    #[error(transparent)]
    Unavailable(#[from] StorageError),
}

impl PasskeyError {
    /// The stable code the API answers, which the pages also show messages by.
    pub fn code(&self) -> &'static str {
        match self {
            PasskeyError::Disabled => "passkeys_disabled",
            PasskeyError::Limited(_) => "rate_limited",
            PasskeyError::Expired => "ceremony_expired",
            PasskeyError::Malformed(_) => "invalid_credential",
            PasskeyError::Unknown => "unknown_passkey",
            PasskeyError::Refused(WebauthnError::UserNotVerified) => "user_not_verified",
            PasskeyError::Refused(_) => "passkey_refused",
            PasskeyError::AlreadyRegistered => "already_registered",
            PasskeyError::BadName => "invalid_name",
            PasskeyError::NotFound => "not_found",
            PasskeyError::Unavailable(_) => "unavailable",
        }
    }

    /// A sentence for a person (in English; the pages have their own, by code).
    pub fn message(&self) -> String {
        match self {
            PasskeyError::Disabled => "Passkeys are turned off on this service.".into(),
            PasskeyError::Limited(refusal) => format!(
                "Too many passkey requests from your network. Please try again in {} minutes.",
                (refusal.retry_after() + 59) / 60
            ),
            PasskeyError::Expired => "This passkey request has expired or was already \
                used. Please try again."
                .into(),
            PasskeyError::Malformed(detail) => {
                format!("The browser's answer is not a WebAuthn credential: {detail}")
            }
            PasskeyError::Unknown => "This passkey is not registered here (it may have been \
                removed). Sign in with a code instead."
                .into(),
            PasskeyError::Refused(WebauthnError::UserNotVerified) => "This passkey did not \
                verify you (no PIN, fingerprint or face check). Use one that does, or sign in \
                with a code."
                .into(),
            PasskeyError::Refused(WebauthnError::CredentialPossibleCompromise) => {
                "This passkey's signature counter went backwards, as happens when a security \
                 key has been copied; it was refused. Sign in with a code instead."
                    .into()
            }
            PasskeyError::Refused(_) => "The passkey's answer could not be verified for this \
                site. Please try again, or sign in with a code."
                .into(),
            PasskeyError::AlreadyRegistered => {
                "This passkey is already registered on this service.".into()
            }
            PasskeyError::BadName => "A passkey's name must be 1 to 64 characters, without \
                control characters."
                .into(),
            PasskeyError::NotFound => "You have no passkey with this id.".into(),
            PasskeyError::Unavailable(_) => {
                "The service cannot answer right now. Please try again in a minute.".into()
            }
        }
    }
}

/// A ceremony begun: the id the client sends back, and the options for
/// `navigator.credentials.create()` or `.get()` (WebAuthn's JSON form).
pub struct Begun<T> {
    pub ceremony_id: String,
    pub options: T,
}

impl Passkeys {
    /// The relying party is `server.base_url`'s host, the only origin
    /// `server.base_url` itself.
    pub fn new(
        config: &Config,
        settings: &Settings,
        storage: Storage,
        clock: Clock,
        secret: &ServerSecret,
    ) -> anyhow::Result<Self> {
        let webauthn = match relying_party(config) {
            Ok(webauthn) => Some(webauthn),
            Err(e) if config.passkeys.enabled => {
                tracing::warn!(
                    "passkeys are off: server.base_url cannot be a WebAuthn relying party \
                     ({e}); browsers accept only a domain name, such as localhost or \
                     login.example.com, not an IP address"
                );
                None
            }
            Err(_) => None,
        };
        Ok(Self {
            enabled: config.passkeys.enabled && webauthn.is_some(),
            webauthn,
            storage,
            clock,
            handle_key: secret.derive("passkey user handles v1"),
            limits: settings.limits,
            sessions: settings.sessions,
        })
    }

    /// The relying party, when passkeys are on.
    fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn
            .as_ref()
            .filter(|_| self.enabled)
            .ok_or(PasskeyError::Disabled)
    }

    /// The options to add a passkey to the caller's account: a discoverable
    /// credential with user verification, leaving out the authenticators that
    /// already hold one of theirs.
    pub async fn begin_registration(
        &self,
        active: &ActiveSession,
        client_ip: IpAddr,
    ) -> Result<Begun<CreationChallengeResponse>, PasskeyError> {
        let webauthn = self.webauthn()?;
        let person = &active.record;
        let existing = self.storage.list_passkeys(person.user_id).await?;
        let handle = self.user_handle(person.user_id, &existing)?;
        let exclude: Vec<CredentialID> = existing
            .iter()
            .filter_map(|passkey| stored_passkey(passkey).ok())
            .map(|passkey| passkey.cred_id().clone())
            .collect();
        let display = person_label(person.first_name.as_str(), person.last_name.as_deref())
            .unwrap_or_else(|| person.email.as_str().to_owned());
        let (mut options, state) = webauthn
            .start_passkey_registration(handle, person.email.as_str(), &display, Some(exclude))
            .map_err(PasskeyError::Refused)?;
        // A passkey that signs in with no address typed must live on the
        // authenticator (discoverable); webauthn-rs leaves that open by default.
        let selection = options
            .public_key
            .authenticator_selection
            .get_or_insert_with(Default::default);
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
        let id = self
            .begin(
                CeremonyKind::Register,
                Some((person.user_id, active.token.hash())),
                serde_json::to_string(&state).map_err(corrupt)?,
                client_ip,
            )
            .await?;
        Ok(Begun {
            ceremony_id: id,
            options,
        })
    }

    /// Checks the browser's answer to a registration begun by this same session
    /// and stores the passkey, named `name` or else after the device.
    pub async fn finish_registration(
        &self,
        active: &ActiveSession,
        ceremony_id: &str,
        credential: serde_json::Value,
        name: Option<&str>,
        device_name: String,
    ) -> Result<PasskeyRecord, PasskeyError> {
        let webauthn = self.webauthn()?;
        let name = match name.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => clean_name(name)?,
            None => device_name.chars().take(MAX_NAME_CHARS).collect(),
        };
        let credential: RegisterPublicKeyCredential = parse(credential)?;
        let ceremony = self.take(ceremony_id, CeremonyKind::Register).await?;
        let person = &active.record;
        let same_session = ceremony.user_id == Some(person.user_id)
            && ceremony.session_hash.as_deref() == Some(active.token.hash().as_str());
        if !same_session {
            return Err(PasskeyError::Expired);
        }
        let state: PasskeyRegistration = serde_json::from_str(&ceremony.state).map_err(corrupt)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(PasskeyError::Refused)?;
        let existing = self.storage.list_passkeys(person.user_id).await?;
        let handle = self.user_handle(person.user_id, &existing)?;
        let new = NewPasskey {
            user_id: person.user_id,
            credential_id: encode_id(passkey.cred_id()),
            user_handle: handle.to_string(),
            credential: serde_json::to_string(&passkey).map_err(corrupt)?,
            sign_count: 0,
            name,
        };
        let added = self.storage.add_passkey(new, self.clock.now()).await?;
        let added = added.ok_or(PasskeyError::AlreadyRegistered)?;
        tracing::info!(
            user_id = person.user_id,
            passkey = added.id,
            "passkey added"
        );
        Ok(added)
    }

    /// The options to sign in with any passkey of this site.
    pub async fn begin_sign_in(
        &self,
        client_ip: IpAddr,
    ) -> Result<Begun<RequestChallengeResponse>, PasskeyError> {
        let webauthn = self.webauthn()?;
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(PasskeyError::Refused)?;
        // The page chooses: autofill (conditional) or a button (modal).
        options.mediation = None;
        let id = self
            .begin(
                CeremonyKind::SignIn,
                None,
                serde_json::to_string(&state).map_err(corrupt)?,
                client_ip,
            )
            .await?;
        Ok(Begun {
            ceremony_id: id,
            options,
        })
    }

    /// Checks the browser's answer to a sign-in and opens a session, as a code
    /// would.
    pub async fn finish_sign_in(
        &self,
        ceremony_id: &str,
        credential: serde_json::Value,
        device: Device<'_>,
    ) -> Result<SignedIn, PasskeyError> {
        let webauthn = self.webauthn()?;
        let credential: PublicKeyCredential = parse(credential)?;
        let id_hash = SessionToken::from_presented(ceremony_id)
            .ok_or(PasskeyError::Expired)?
            .hash();
        // Read, not taken: a right answer ends the ceremony in the one write that
        // also opens the session; a wrong one ends it here.
        let ceremony = self
            .storage
            .peek_ceremony(id_hash.clone(), self.clock.now())
            .await?
            .filter(|ceremony| ceremony.kind == CeremonyKind::SignIn)
            .ok_or(PasskeyError::Expired)?;
        let checked = self
            .check_assertion(webauthn, &id_hash, &ceremony.state, &credential, device)
            .await;
        let (token, used) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                self.storage
                    .take_ceremony(id_hash, self.clock.now())
                    .await?;
                return Err(error);
            }
        };
        let passkey_id = used.passkey_id;
        match self.storage.use_passkey(used).await? {
            PasskeyUseOutcome::SignedIn(session) => {
                tracing::info!(
                    user_id = session.user_id,
                    passkey = passkey_id,
                    "signed in with a passkey"
                );
                Ok(SignedIn {
                    token,
                    session,
                    new_user: false,
                })
            }
            PasskeyUseOutcome::Spent => Err(PasskeyError::Expired),
            PasskeyUseOutcome::Stale => Err(PasskeyError::Refused(
                WebauthnError::CredentialPossibleCompromise,
            )),
        }
    }

    /// Checks an assertion against a sign-in ceremony's state and the passkey it
    /// names; what to record, with the new session's token.
    async fn check_assertion(
        &self,
        webauthn: &Webauthn,
        ceremony: &TokenHash,
        state: &str,
        credential: &PublicKeyCredential,
        device: Device<'_>,
    ) -> Result<(SessionToken, PasskeyUse), PasskeyError> {
        let state: DiscoverableAuthentication = serde_json::from_str(state).map_err(corrupt)?;
        let (handle, raw_id) = webauthn
            .identify_discoverable_authentication(credential)
            .map_err(|_| PasskeyError::Unknown)?;
        let stored = self
            .storage
            .find_passkey(encode_id(raw_id))
            .await?
            .filter(|stored| stored.user_handle == handle.to_string())
            .ok_or(PasskeyError::Unknown)?;
        let mut passkey = stored_passkey(&stored)?;
        let result = webauthn
            .finish_discoverable_authentication_v2(credential, state, &passkey)
            .map_err(PasskeyError::Refused)?;
        passkey.update_credential(&result);
        // RFC 8176: a key bound to its device is hardware-secured (`hwk`), a synced
        // one software-secured (`swk`); `user`: the person was verified.
        let amr = match result.backup_eligible() {
            true => "swk user",
            false => "hwk user",
        };
        let now = self.clock.now();
        let token = SessionToken::generate();
        let used = PasskeyUse {
            ceremony: ceremony.clone(),
            passkey_id: stored.id,
            checked_count: stored.sign_count,
            credential: serde_json::to_string(&passkey).map_err(corrupt)?,
            sign_count: i64::from(result.counter()),
            session: new_session(self.sessions, &token, now, device, amr),
            now,
        };
        Ok((token, used))
    }

    pub async fn list(&self, user_id: i64) -> Result<Vec<PasskeyRecord>, PasskeyError> {
        Ok(self.storage.list_passkeys(user_id).await?)
    }

    pub async fn rename(&self, user_id: i64, id: i64, name: &str) -> Result<(), PasskeyError> {
        let name = clean_name(name.trim())?;
        match self.storage.rename_passkey(user_id, id, name).await? {
            true => Ok(()),
            false => Err(PasskeyError::NotFound),
        }
    }

    pub async fn remove(&self, user_id: i64, id: i64) -> Result<(), PasskeyError> {
        match self.storage.remove_passkey(user_id, id).await? {
            true => {
                tracing::info!(user_id, passkey = id, "passkey removed");
                Ok(())
            }
            false => Err(PasskeyError::NotFound),
        }
    }

    async fn begin(
        &self,
        kind: CeremonyKind,
        owner: Option<(i64, TokenHash)>,
        state: String,
        client_ip: IpAddr,
    ) -> Result<String, PasskeyError> {
        let now = self.clock.now();
        let id = SessionToken::generate();
        let (user_id, session_hash) = owner.unzip();
        let new = NewCeremony {
            id_hash: id.hash(),
            kind,
            user_id,
            session_hash,
            state,
            expires_at: now + CEREMONY_TTL_SECS,
            network: client_network(client_ip),
            limit: self.limits.passkeys_per_ip(now),
        };
        self.storage
            .begin_ceremony(new, now)
            .await?
            .map_err(PasskeyError::Limited)?;
        Ok(id.expose().to_owned())
    }

    /// Takes the ceremony back, ending it: it is answered once, right or wrong.
    async fn take(
        &self,
        ceremony_id: &str,
        kind: CeremonyKind,
    ) -> Result<crate::storage::Ceremony, PasskeyError> {
        let Some(token) = SessionToken::from_presented(ceremony_id) else {
            return Err(PasskeyError::Expired);
        };
        self.storage
            .take_ceremony(token.hash(), self.clock.now())
            .await?
            .filter(|ceremony| ceremony.kind == kind)
            .ok_or(PasskeyError::Expired)
    }

    /// A person's WebAuthn user handle: the one their passkeys already carry, or
    /// a new stable, opaque one (neither their address nor their id, which
    /// authenticators may show or sync).
    fn user_handle(&self, user_id: i64, existing: &[PasskeyRecord]) -> Result<Uuid, StorageError> {
        if let Some(passkey) = existing.first() {
            return Uuid::parse_str(&passkey.user_handle).map_err(|_| {
                StorageError::from(anyhow::anyhow!("a stored user handle is not a UUID"))
            });
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.handle_key).expect("any key length");
        mac.update(&user_id.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&digest[..16]);
        Ok(Uuid::from_bytes(bytes))
    }
}

/// Stored state that does not read back: the database was changed under us.
fn corrupt(e: serde_json::Error) -> StorageError {
    StorageError::from(anyhow::anyhow!(
        "a stored passkey or ceremony cannot be read: {e}"
    ))
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, PasskeyError> {
    serde_json::from_value(value).map_err(|e| PasskeyError::Malformed(e.to_string()))
}

fn stored_passkey(record: &PasskeyRecord) -> Result<Passkey, StorageError> {
    serde_json::from_str(&record.credential).map_err(corrupt)
}

fn encode_id(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn clean_name(name: &str) -> Result<String, PasskeyError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PasskeyError::BadName);
    }
    Ok(name.to_owned())
}

fn person_label(first: &str, last: Option<&str>) -> Option<String> {
    let full = match last {
        Some(last) if !last.is_empty() => format!("{first} {last}"),
        _ => first.to_owned(),
    };
    (!full.trim().is_empty()).then_some(full)
}

/// The relying party of `server.base_url`: its host is the id, itself the origin.
fn relying_party(config: &Config) -> anyhow::Result<Webauthn> {
    let origin = Url::parse(config.server.base_url.origin())?;
    let rp_id = origin
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("it has no host"))?
        .to_owned();
    Ok(WebauthnBuilder::new(&rp_id, &origin)?
        .rp_name(&config.server.app_name)
        .build()?)
}
