//! The rows and answers both backends share: what a storage call takes and what it
//! gives back. Each backend maps its own rows into these.

use std::fmt;
use std::sync::Arc;

use crate::domain::{
    ChallengeId, CodeHash, EmailAddress, GroupName, PersonName, PublicSessionId, TokenHash,
};
use crate::rules::{Closed, Limits, Probe, Refusal, SignupPolicy};

/// How long a claimed message is kept from other workers while it is being sent; a
/// worker that dies mid-send leaves it to be retried after this.
pub const MAIL_LEASE_SECS: i64 = 60;

/// How long sent or abandoned mail is kept, for an operator looking into a report
/// ("I never got my code").
pub const KEEP_MAIL_SECS: i64 = 3600;

/// How long a used CAPTCHA answer is remembered after its challenge expired: an
/// answer checked in the challenge's last second is recorded a moment later, and
/// instances' clocks differ a little, so the record outlives the expiry a while.
pub const KEEP_CAPTCHA_SECS: i64 = 300;

/// How long an invitation is kept after it was used, revoked or expired, for
/// `doorcode invite --list` ("did they ever accept?").
pub const KEEP_INVITATIONS_SECS: i64 = 90 * 24 * 3600;

// Sign-ins.

/// A sign-in to store, with its first code and the message that carries it.
pub struct NewChallenge {
    pub id: ChallengeId,
    pub email: EmailAddress,
    pub browser_hash: Option<String>,
    pub code_hash: CodeHash,
    pub code_expires_at: i64,
    /// The client network that asked (`rules::limits::client_network`).
    pub ip: String,
    pub mail: CodeMail,
    /// Set when the code adds the address to an account instead of signing in.
    pub adding: Option<crate::rules::Adding>,
}

/// What the code page needs to show a sign-in.
#[derive(Debug, Clone)]
pub struct ChallengeInfo {
    pub id: ChallengeId,
    pub email: EmailAddress,
    pub has_account: bool,
    pub expires_at: i64,
    pub attempts_left: u32,
}

/// What starting a sign-in is decided on besides the request itself.
pub struct StartRules {
    pub limits: Limits,
    pub max_attempts: u32,
    pub signup: Arc<SignupPolicy>,
    /// `signup.ask_name = after_code`.
    pub names_after_code: bool,
}

pub enum StartOutcome {
    Started(ChallengeInfo),
    Refused(Refusal),
    /// A new address that may not make an account, told before any code is sent
    /// (see `rules::signup::refuse_at_start`).
    SignupClosed,
}

/// A typed code, with what a right one needs to sign the person in.
pub struct VerifyRequest {
    pub challenge_id: ChallengeId,
    pub browser_hash: Option<String>,
    pub candidate: CodeHash,
    pub name: Option<PersonName>,
    pub names_after_code: bool,
    pub signup: Arc<SignupPolicy>,
    pub max_attempts: u32,
    pub limits: Limits,
    pub session: NewSession,
    pub name_window_secs: i64,
    pub now: i64,
}

pub enum VerifyOutcome {
    Closed(Closed),
    WrongCode(ChallengeInfo),
    /// The code was right but a new address must give its name; the code stays valid.
    NameRequired(ChallengeInfo),
    /// The code was right; the name page comes next (`signup.ask_name = after_code`).
    NeedsName(ChallengeInfo),
    /// The code was right, but the address may not make an account; the sign-in ended.
    SignupClosed,
    SignedIn {
        session: SessionRecord,
        new_user: bool,
    },
}

/// A name for a sign-up whose code was right.
pub struct CompleteRequest {
    pub challenge_id: ChallengeId,
    pub browser_hash: Option<String>,
    pub name: PersonName,
    pub session: NewSession,
    pub signup: Arc<SignupPolicy>,
    pub max_attempts: u32,
    pub now: i64,
}

pub enum CompleteOutcome {
    Closed(Closed),
    /// Names were sent for a sign-in whose code has not been checked yet.
    CodeNeeded(ChallengeInfo),
    /// The address may no longer make an account; the sign-in ended.
    SignupClosed,
    SignedIn {
        session: SessionRecord,
        new_user: bool,
    },
}

/// A fresh code for a live sign-in; the message for it is made once the recipient
/// is known.
pub struct ResendRequest {
    pub challenge_id: ChallengeId,
    pub browser_hash: Option<String>,
    pub code_hash: CodeHash,
    pub code_expires_at: i64,
    /// The client network that asked (`rules::limits::client_network`).
    pub ip: String,
    pub limits: Limits,
    pub max_attempts: u32,
    pub now: i64,
}

pub enum ResendOutcome {
    Closed(Closed),
    Refused(Refusal, ChallengeInfo),
    Resent(ChallengeInfo),
}

// Sessions.

pub struct NewSession {
    pub token_hash: TokenHash,
    /// The session this one replaces in the same browser; it ends in the same
    /// transaction.
    pub replaces: Option<TokenHash>,
    pub public_id: PublicSessionId,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    /// How the person signed in: OpenID Connect's `amr` values, space-separated.
    pub amr: String,
}

/// A live session with the person it belongs to.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user_id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub email: EmailAddress,
    /// The person's groups, sorted by name.
    pub groups: Vec<GroupName>,
    pub public_id: PublicSessionId,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
    /// How the person signed in: OpenID Connect's `amr` values, space-separated.
    pub amr: String,
}

/// One of a person's sessions, as their sessions list shows it.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub public_id: PublicSessionId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
}

// The mail queue.

/// How long a message that carries no code may wait to be sent (the relay may be
/// down): after a day a notice is old news.
pub const NOTICE_TTL_SECS: i64 = 24 * 3600;

/// What a queued message says; each has its own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A sign-in code, sealed in the row.
    Code,
    /// An operator invited the address to create an account.
    Invitation,
    /// To an address whose limits stopped a code: someone keeps asking for codes
    /// for it. At most one per address and window; it carries no code.
    LimitNotice,
    /// To a person's other addresses: an address (`about`) was added to the account.
    AddressAdded,
    /// To a person's other addresses: an address (`about`) was removed.
    AddressRemoved,
}

impl MailKind {
    pub const ALL: [MailKind; 5] = [
        MailKind::Code,
        MailKind::LimitNotice,
        MailKind::Invitation,
        MailKind::AddressAdded,
        MailKind::AddressRemoved,
    ];

    /// The `outbox.kind` value, and the stem of the template's file names.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Code => "code",
            MailKind::LimitNotice => "limit_notice",
            MailKind::Invitation => "invitation",
            MailKind::AddressAdded => "address_added",
            MailKind::AddressRemoved => "address_removed",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == stored)
    }
}

pub struct NewMail {
    pub kind: MailKind,
    pub recipient: EmailAddress,
    pub message_id: String,
    /// The sealed code; empty for a message that carries none.
    pub sealed_code: Vec<u8>,
    /// The message is never sent after this: a code's expiry, or
    /// [`NOTICE_TTL_SECS`] after a notice was queued.
    pub expires_at: i64,
    /// Language tag (`en`, `de`) the email is written in: the page's that asked for
    /// a code, the default one for a notice.
    pub language: String,
    /// The address a notice is about, for the kinds that name one besides their
    /// recipient.
    pub about: Option<EmailAddress>,
}

/// A code's message, and the notice sent instead when the address's limits refuse it.
pub struct CodeMail {
    pub code: NewMail,
    pub limit_notice: NewMail,
}

#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    /// `None` for a kind this build does not know (written by a newer one).
    pub kind: Option<MailKind>,
    pub recipient: EmailAddress,
    pub message_id: String,
    pub sealed_code: Vec<u8>,
    pub expires_at: i64,
    pub attempts: u32,
    pub language: String,
    pub about: Option<String>,
}

// The operator's views.

/// A user named on the command line: by id or by one of their addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(i64),
    Email(EmailAddress),
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRef::Id(id) => write!(f, "id {id}"),
            UserRef::Email(email) => write!(f, "email {}", email.as_str()),
        }
    }
}

/// One user with their addresses (oldest first) and how many live sessions they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOverview {
    pub id: i64,
    pub created_at: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub emails: Vec<String>,
    /// Sorted by name.
    pub groups: Vec<String>,
    pub live_sessions: u64,
}

// Groups and invitations.

/// One group, with how many people are in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOverview {
    pub name: GroupName,
    pub created_at: i64,
    pub members: u64,
}

/// What changing a group's members found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Changed,
    /// Already so: already a member, or already not one.
    Unchanged,
    NoSuchGroup,
    NoSuchUser,
}

/// An invitation to store: the address may create an account until `expires_at`,
/// and the account joins `groups`.
pub struct NewInvitation {
    pub email: EmailAddress,
    pub groups: Vec<GroupName>,
    pub expires_at: i64,
    /// The invitation email.
    pub mail: NewMail,
}

pub enum InviteOutcome {
    /// Stored and its email queued; an earlier live invitation for the address,
    /// if any, was replaced.
    Invited { replaced: bool },
    /// The address already has an account: nothing to invite.
    HasAccount(i64),
    /// These groups do not exist: nothing stored.
    NoSuchGroups(Vec<GroupName>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Used,
    Revoked,
    Expired,
}

/// The `groups` column of a session lookup (names joined by commas), as the
/// record's list, sorted byte by byte whatever the database's collation.
pub(super) fn split_groups(joined: Option<String>) -> Vec<GroupName> {
    let mut groups: Vec<GroupName> = match joined {
        Some(joined) if !joined.is_empty() => joined
            .split(',')
            .map(|name| GroupName::from_trusted(name.to_owned()))
            .collect(),
        _ => Vec::new(),
    };
    groups.sort_unstable();
    groups
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Used => "used",
            InvitationState::Revoked => "revoked",
            InvitationState::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationOverview {
    pub email: String,
    pub groups: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: InvitationState,
    /// When it was used or revoked.
    pub ended_at: Option<i64>,
}

impl InvitationOverview {
    pub fn state_of(
        expires_at: i64,
        used_at: Option<i64>,
        revoked_at: Option<i64>,
        now: i64,
    ) -> (InvitationState, Option<i64>) {
        match (used_at, revoked_at) {
            (Some(at), _) => (InvitationState::Used, Some(at)),
            (None, Some(at)) => (InvitationState::Revoked, Some(at)),
            (None, None) if expires_at <= now => (InvitationState::Expired, None),
            (None, None) => (InvitationState::Pending, None),
        }
    }
}

/// One live session, by its public id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOverview {
    pub public_id: String,
    pub user_id: i64,
    /// The user's first address; `None` only for a user without any.
    pub email: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseOverview {
    pub schema_version: i64,
    pub users: u64,
    pub live_sessions: u64,
}

/// What deleting a user removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedUser {
    pub user: UserOverview,
    pub emails: usize,
    /// Every session row, live or expired.
    pub sessions: usize,
    /// Rows of any other table that points at `users`, by table name.
    pub other_rows: Vec<(String, usize)>,
}

// Housekeeping.

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: usize,
    pub challenges: usize,
    pub rate_events: usize,
    pub mail: usize,
    pub invitations: usize,
    /// Authorizations whose code and tokens have all expired, with their tokens.
    pub grants: usize,
}

// OpenID Connect.

/// A signing key as stored: the private part sealed, the public part as a JWK.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub sealed_private: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// A client added from the command line.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub skip_consent: bool,
    pub allowed_groups: Vec<String>,
    pub created_at: i64,
}

/// One authorization, stored with the hash of its code.
pub struct NewGrant {
    pub code_hash: TokenHash,
    pub client_id: String,
    pub user_id: i64,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    /// The session's `amr`, space-separated.
    pub amr: String,
    pub code_expires_at: i64,
    pub now: i64,
}

/// An authorization as the token endpoint needs it.
#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub id: i64,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    /// The `amr` values of the sign-in behind it.
    pub amr: Vec<String>,
}

/// The person a grant or token is for, as the claims show them.
#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub email: EmailAddress,
    pub groups: Vec<GroupName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    pub(super) fn from_stored(kind: &str) -> Self {
        match kind {
            "refresh" => TokenKind::Refresh,
            _ => TokenKind::Access,
        }
    }
}

/// A token to store, by hash.
pub struct NewToken {
    pub hash: TokenHash,
    pub kind: TokenKind,
    pub expires_at: i64,
}

/// What the token endpoint was shown with a code, checked against the grant
/// (`rules::oidc::redeemable`).
pub struct Redeem {
    pub code_hash: TokenHash,
    pub client_id: String,
    pub redirect_uri: String,
    /// S256 of the presented `code_verifier`, if one was presented.
    pub verifier_challenge: Option<String>,
    /// Issued when the code is good.
    pub tokens: Vec<NewToken>,
    pub now: i64,
}

pub enum Redemption {
    Redeemed {
        grant: Box<GrantRecord>,
        person: Box<Person>,
    },
    /// Unknown, expired, or for something else: the grant (if any) is revoked.
    Refused(&'static str),
    /// Used before: every token issued from it is revoked.
    Reused,
}

/// A refresh token presented for new tokens.
pub struct Refresh {
    pub token_hash: TokenHash,
    pub client_id: String,
    pub tokens: Vec<NewToken>,
    pub now: i64,
}

pub enum Rotation {
    Rotated {
        grant: Box<GrantRecord>,
        person: Box<Person>,
    },
    /// Unknown, expired, revoked, or another client's.
    Refused,
    /// Used before: its whole family is revoked.
    Reused,
}

/// A live token with its grant and person.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub kind: TokenKind,
    pub grant: GrantRecord,
    pub person: Person,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An app a person allowed, for their home page.
#[derive(Debug, Clone)]
pub struct ConsentRecord {
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
}

/// The tokens to store for a grant: a refresh token only for `offline_access`.
pub(super) fn tokens_for(grant: &GrantRecord, tokens: Vec<NewToken>) -> Vec<NewToken> {
    tokens
        .into_iter()
        .filter(|token| {
            token.kind == TokenKind::Access || crate::rules::oidc::grants_refresh(&grant.scope)
        })
        .collect()
}

/// One entry per line: how lists of URIs and groups are kept in a column.
pub(super) fn join_lines(values: &[String]) -> String {
    values.join("\n")
}

pub(super) fn split_lines(joined: &str) -> Vec<String> {
    joined
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a WebAuthn ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Adding a passkey to a signed-in person's account.
    Register,
    /// Signing in with any passkey of this site.
    SignIn,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::SignIn => "sign_in",
        }
    }
}

/// A ceremony to store when it begins, and what starting one counts against.
pub struct NewCeremony {
    /// The SHA-256 of the id the client holds.
    pub id_hash: TokenHash,
    pub kind: CeremonyKind,
    /// Registration: whose account and which of their sessions asked.
    pub user_id: Option<i64>,
    pub session_hash: Option<TokenHash>,
    /// The WebAuthn library's state: the challenge and what the answer must meet.
    pub state: String,
    pub expires_at: i64,
    /// The client network that began it, for the hourly limit.
    pub network: String,
    pub limit: Probe,
}

/// A ceremony taken back (and so ended) to be finished.
pub struct Ceremony {
    pub kind: CeremonyKind,
    pub user_id: Option<i64>,
    pub session_hash: Option<String>,
    pub state: String,
}

/// A stored passkey: only public material.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    pub id: i64,
    pub user_id: i64,
    /// Base64url, as WebAuthn presents it.
    pub credential_id: String,
    pub user_handle: String,
    /// The WebAuthn library's credential (public key, counter, flags), as JSON.
    pub credential: String,
    pub sign_count: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A passkey just registered.
pub struct NewPasskey {
    pub user_id: i64,
    pub credential_id: String,
    pub user_handle: String,
    pub credential: String,
    pub sign_count: i64,
    pub name: String,
}

/// A verified assertion to record, and the session it opens.
pub struct PasskeyUse {
    /// The ceremony answered: it ends in the same transaction, so that checking
    /// the answer took a read and only the success a write.
    pub ceremony: TokenHash,
    pub passkey_id: i64,
    /// The counter the assertion was checked against: the update only happens if
    /// it is still the stored one, so one assertion never signs in twice.
    pub checked_count: i64,
    pub credential: String,
    pub sign_count: i64,
    pub session: NewSession,
    pub now: i64,
}

pub enum PasskeyUseOutcome {
    SignedIn(SessionRecord),
    /// The ceremony was answered meanwhile (by another request) or expired.
    Spent,
    /// Another sign-in used the passkey since this assertion was checked, or it
    /// was removed.
    Stale,
}

/// A stored `amr` (space-separated) as its values.
pub fn split_amr(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_owned).collect()
}

/// One of a person's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEmail {
    pub email: EmailAddress,
    pub primary: bool,
    pub created_at: i64,
}

/// Asking for a code to add an address: the challenge (its `adding` set) and the
/// rules its mail is sent under.
pub struct AddressStart {
    pub new: NewChallenge,
    pub limits: Limits,
    pub max_attempts: u32,
    pub now: i64,
}

pub enum AddressStartOutcome {
    Started(ChallengeInfo),
    Refused(Refusal),
    NotAddable(crate::rules::emails::NotAddable),
}

/// A code typed to add an address, in the session that asked for it.
pub struct AddressCode {
    pub challenge_id: ChallengeId,
    pub user_id: i64,
    pub session_hash: TokenHash,
    pub candidate: CodeHash,
    pub max_attempts: u32,
    pub now: i64,
}

pub enum AddressCodeOutcome {
    /// The address is added; the person's addresses now.
    Added(Vec<UserEmail>),
    WrongCode(ChallengeInfo),
    Closed(Closed),
    AlreadyYours,
    /// It belongs to another account, and stays there.
    InUse,
    TooMany,
}

/// Making an address primary, or removing one.
#[derive(Debug)]
pub enum AddressChange {
    /// Done; the person's addresses now.
    Done(Vec<UserEmail>),
    NotYours,
    /// Removing the person's only address.
    Last,
}

/// An operator adding an address to someone's account.
#[derive(Debug)]
pub enum OperatorAdd {
    Added(Vec<UserEmail>),
    AlreadyTheirs(Vec<UserEmail>),
    /// The address belongs to this other account.
    InUse(i64),
    TooMany,
}
