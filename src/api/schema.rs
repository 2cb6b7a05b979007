//! The API's request and response bodies, as the OpenAPI document shows them.

use poem_openapi::Object;
use serde::Serialize;
use time::OffsetDateTime;

use super::text::Text;
use crate::login::SignedIn as FlowSignedIn;
use crate::storage::{ChallengeInfo, PasskeyRecord, SessionRecord, SessionSummary, UserEmail};

/// Seconds since the epoch as a timestamp; out-of-range values (never stored) as the epoch.
fn timestamp(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[derive(Object, Debug)]
#[oai(rename = "LoginRequest")]
pub struct StartRequest {
    /// The address to send the code to.
    pub email: Text,
    /// The CAPTCHA widget's answer (Turnstile's or hCaptcha's token, or ALTCHA's
    /// base64 payload, whichever `captcha.provider` names). Needed when the
    /// service has CAPTCHA on.
    #[oai(nullable)]
    pub turnstile_token: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(rename = "LoginChallenge")]
pub struct Challenge {
    /// Identifies this sign-in in verify and resend; keep it secret, as the code.
    pub challenge_id: String,
    /// The address has no account yet, so verify needs `first_name`. Always false
    /// when the service does not reveal this before the code (the answer to verify
    /// then says `name_required`).
    pub new_user: bool,
}

#[derive(Object, Debug)]
#[oai(rename = "VerifyRequest")]
pub struct VerifyRequest {
    pub challenge_id: Text,
    /// The 6-digit code from the email (`123456`, `123 456` and `123-456` all work).
    pub code: Text,
    /// Needed, with the code, when the address has no account yet.
    #[oai(nullable)]
    pub first_name: Option<Text>,
    #[oai(nullable)]
    pub last_name: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(rename = "ResendRequest")]
pub struct ResendRequest {
    pub challenge_id: Text,
}

/// `Serialize` too, for `GET /api/v1/session`'s answer, which is written straight
/// from these types (`sessions::answer_current`); a test holds the two equal.
#[derive(Object, Serialize, Debug)]
#[oai(rename = "User")]
pub struct User {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    #[oai(nullable)]
    pub last_name: Option<String>,
    /// The groups the person is in, sorted (`doorcode groups add`).
    pub groups: Vec<String>,
}

impl From<&SessionRecord> for User {
    fn from(record: &SessionRecord) -> Self {
        Self {
            id: record.user_id,
            email: record.email.as_str().to_owned(),
            first_name: record.first_name.clone(),
            last_name: record.last_name.clone(),
            groups: record
                .groups
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename = "SignedIn")]
pub struct SignedIn {
    /// The session token, shown only this once. Send it as
    /// `Authorization: Bearer <token>`.
    pub token: String,
    /// When the session ends unless it is used; use extends it.
    pub expires_at: OffsetDateTime,
    pub user: User,
}

impl From<FlowSignedIn> for SignedIn {
    fn from(signed_in: FlowSignedIn) -> Self {
        Self {
            user: User::from(&signed_in.session),
            expires_at: timestamp(signed_in.session.expires_at),
            token: signed_in.token.expose().to_owned(),
        }
    }
}

#[derive(Object, Serialize, Debug)]
#[oai(rename = "Session")]
pub struct Session {
    /// The session's public id (as in the sessions list), not its token.
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Object, Serialize, Debug)]
#[oai(rename = "CurrentSession")]
pub struct CurrentSession {
    pub user: User,
    pub session: Session,
}

impl From<&SessionRecord> for CurrentSession {
    fn from(record: &SessionRecord) -> Self {
        Self {
            user: User::from(record),
            session: Session {
                id: record.public_id.to_string(),
                created_at: timestamp(record.created_at),
                expires_at: timestamp(record.expires_at),
            },
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename = "SessionSummary")]
pub struct SessionItem {
    /// The session's public id, for `DELETE /api/v1/sessions/{id}`.
    pub id: String,
    pub created_at: OffsetDateTime,
    /// Recorded at most every few minutes.
    pub last_seen_at: OffsetDateTime,
    /// The browser or client that signed in, as it named itself.
    #[oai(nullable)]
    pub user_agent: Option<String>,
    /// This is the session the request was made with.
    pub current: bool,
}

impl SessionItem {
    pub fn new(summary: SessionSummary, current_id: &str) -> Self {
        Self {
            current: summary.public_id.as_str() == current_id,
            id: summary.public_id.into_string(),
            created_at: timestamp(summary.created_at),
            last_seen_at: timestamp(summary.last_seen_at),
            user_agent: summary.user_agent,
        }
    }
}

/// A WebAuthn ceremony begun.
#[derive(Object, Debug)]
#[oai(rename = "PasskeyOptions")]
pub struct CeremonyOptions {
    /// Send back with the authenticator's answer.
    pub ceremony_id: String,
    /// WebAuthn's options in their JSON form: `{"publicKey": {...}}`, binary
    /// values as base64url.
    pub options: serde_json::Value,
}

impl CeremonyOptions {
    pub fn new(ceremony_id: String, options: &impl Serialize) -> Self {
        Self {
            ceremony_id,
            options: serde_json::to_value(options).unwrap_or_default(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename = "PasskeyRegistration")]
pub struct RegisterPasskey {
    pub ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, as its
    /// `toJSON()` gives it.
    pub credential: serde_json::Value,
    /// Up to 64 characters; without it the passkey is named after the device.
    pub name: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename = "PasskeySignIn")]
pub struct PasskeySignIn {
    pub ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as its
    /// `toJSON()` gives it.
    pub credential: serde_json::Value,
}

#[derive(Object, Debug)]
#[oai(rename = "PasskeyRename")]
pub struct PasskeyRename {
    /// 1 to 64 characters.
    pub name: String,
}

#[derive(Object, Debug)]
#[oai(rename = "Passkey")]
pub struct PasskeyItem {
    /// For renaming and removing.
    pub id: i64,
    pub name: String,
    pub created_at: OffsetDateTime,
    #[oai(nullable)]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<PasskeyRecord> for PasskeyItem {
    fn from(record: PasskeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            created_at: timestamp(record.created_at),
            last_used_at: record.last_used_at.map(timestamp),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename = "EmailRequest")]
pub struct EmailRequest {
    pub email: Text,
}

#[derive(Object, Debug)]
#[oai(rename = "EmailChallenge")]
pub struct EmailChallenge {
    /// Identifies this request in `emails/verify`; keep it secret, as the code.
    pub challenge_id: String,
    /// When the code stops working.
    pub expires_at: OffsetDateTime,
}

impl From<ChallengeInfo> for EmailChallenge {
    fn from(info: ChallengeInfo) -> Self {
        Self {
            expires_at: timestamp(info.expires_at),
            challenge_id: info.id.into_string(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename = "EmailCode")]
pub struct EmailCode {
    pub challenge_id: Text,
    /// The 6-digit code from the email (`123456`, `123 456` and `123-456` all work).
    pub code: Text,
}

#[derive(Object, Debug)]
#[oai(rename = "Email")]
pub struct EmailItem {
    pub email: String,
    /// The one forward auth, the API and OpenID Connect show.
    pub primary: bool,
    pub created_at: OffsetDateTime,
}

impl From<UserEmail> for EmailItem {
    fn from(address: UserEmail) -> Self {
        Self {
            email: address.email.as_str().to_owned(),
            primary: address.primary,
            created_at: timestamp(address.created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;
    use crate::domain::{EmailAddress, GroupName, PublicSessionId};

    fn record(last_name: Option<&str>, created_at: i64) -> SessionRecord {
        SessionRecord {
            user_id: 42,
            first_name: "Zoë \"Z\" <b>".into(),
            last_name: last_name.map(str::to_owned),
            email: EmailAddress::from_trusted("zoë@example.com".into()),
            public_id: PublicSessionId::presented("0123456789abcdef0123456789abcdef"),
            created_at,
            expires_at: created_at + 2_592_000,
            last_seen_at: created_at,
            amr: "otp".into(),
            groups: vec![
                GroupName::parse("admins").unwrap(),
                GroupName::parse("family").unwrap(),
            ],
        }
    }

    /// `GET /api/v1/session` is written with serde; the document and every other
    /// answer go through poem-openapi. Both must give the same JSON.
    #[test]
    fn the_current_session_serializes_as_the_api_document_says() {
        for record in [
            record(Some("Ångström"), 1_795_000_000),
            record(None, 0),
            record(None, 1_795_000_000_123),
        ] {
            let current = CurrentSession::from(&record);
            let by_serde = serde_json::to_value(&current).unwrap();
            assert_eq!(Some(by_serde.clone()), current.to_json(), "{by_serde}");
        }
    }
}
