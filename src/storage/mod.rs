//! All SQL lives below here, behind named functions. Handlers and flows only see
//! [`Storage`], whose methods (below, each written out) are the contract both
//! backends keep:
//!
//! - `sqlite/`: the embedded default, one file;
//! - `postgres/`: several instances sharing one database.
//!
//! What both share sits beside them: the rows they take and give (`records.rs`)
//! and the sign-in's transactions (`signin.rs`), which ask [`crate::rules`] and
//! leave each backend only its SQL. To add a storage call, add its method here,
//! its row types to `records.rs`, and its SQL to each backend.

pub mod bench_seed;
mod emails;
mod passkeys;
mod postgres;
pub mod records;
mod signin;
mod sqlite;

use std::fmt;
use std::path::{Path, PathBuf};

pub use postgres::{CopyReport, Postgres};
pub use records::{
    AddressChange, AddressCode, AddressCodeOutcome, AddressStart, AddressStartOutcome, OperatorAdd,
    UserEmail,
};
pub use records::{
    Ceremony, CeremonyKind, NewCeremony, NewPasskey, PasskeyRecord, PasskeyUse, PasskeyUseOutcome,
};
pub use records::{
    ChallengeInfo, CodeMail, CompleteOutcome, CompleteRequest, DatabaseOverview, DeletedUser,
    GroupOverview, InvitationOverview, InvitationState, InviteOutcome, MAIL_LEASE_SECS, MailKind,
    Membership, NOTICE_TTL_SECS, NewChallenge, NewInvitation, NewMail, NewSession, Pruned,
    QueuedMail, ResendOutcome, ResendRequest, SessionOverview, SessionRecord, SessionSummary,
    StartOutcome, StartRules, UserOverview, UserRef, VerifyOutcome, VerifyRequest,
};
pub use records::{
    ClientRecord, ConsentRecord, GrantRecord, NewGrant, NewToken, Person, Redeem, Redemption,
    Refresh, Rotation, StoredKey, TokenKind, TokenRecord,
};
pub use sqlite::Sqlite;

use crate::domain::{ChallengeId, EmailAddress, GroupName, PersonName, PublicSessionId, TokenHash};
pub use crate::rules::{Closed, Limits, Refusal, SignupMode, SignupPolicy};

/// The database could not do what was asked: unreachable, read-only, full, corrupt.
/// The detail is for the log; people see a 503.
#[derive(Debug, thiserror::Error)]
#[error("database: {0:#}")]
pub struct StorageError(#[from] anyhow::Error);

/// Where the database is: a SQLite file, or a PostgreSQL server.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// A `postgres://` URL, which may carry a password.
    Postgres(String),
}

/// Never prints a PostgreSQL URL, which may hold a password.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(_) => f.write_str("Postgres([redacted])"),
        }
    }
}

/// The database, whichever backend holds it.
#[derive(Clone)]
pub enum Storage {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

impl Storage {
    /// Opens the database (creating a SQLite file if needed) and brings its schema
    /// up to date.
    pub async fn open(database: &Database) -> anyhow::Result<Self> {
        Ok(match database {
            Database::Sqlite(path) => Self::Sqlite(Sqlite::open(path)?),
            Database::Postgres(url) => Self::Postgres(Postgres::connect(url).await?),
        })
    }

    /// Copies users, addresses, live sessions, sign-ins in progress and pending mail
    /// from the SQLite file at `from` into the PostgreSQL database at `to`.
    pub async fn copy_sqlite_to_postgres(
        from: &Path,
        to: &str,
        now: i64,
    ) -> anyhow::Result<CopyReport> {
        Postgres::connect(to)
            .await?
            .copy_from_sqlite(from, now)
            .await
    }

    /// "sqlite" or "postgres", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }

    /// Answers when the database can be read.
    pub async fn ping(&self) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.ping().await,
            Storage::Postgres(db) => db.ping().await,
        }
    }

    // Sign-ins: each call is one transaction of `signin.rs`.

    /// The sign-in as its code page shows it, if it is still open in this browser.
    pub async fn challenge_info(
        &self,
        id: ChallengeId,
        browser_hash: Option<String>,
        max_attempts: u32,
    ) -> Result<Result<ChallengeInfo, Closed>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.challenge_info(id, browser_hash, max_attempts).await,
            Storage::Postgres(db) => db.challenge_info(id, browser_hash, max_attempts).await,
        }
    }

    /// Checks the limits, then stores the sign-in, its first code and its email.
    pub async fn start_challenge(
        &self,
        new: NewChallenge,
        rules: StartRules,
        now: i64,
    ) -> Result<StartOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.start_challenge(new, rules, now).await,
            Storage::Postgres(db) => db.start_challenge(new, rules, now).await,
        }
    }

    /// Checks a code against every live code of the sign-in.
    pub async fn verify_code(&self, req: VerifyRequest) -> Result<VerifyOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.verify_code(req).await,
            Storage::Postgres(db) => db.verify_code(req).await,
        }
    }

    /// Finishes a sign-up whose code was right.
    pub async fn complete_signup(
        &self,
        req: CompleteRequest,
    ) -> Result<CompleteOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.complete_signup(req).await,
            Storage::Postgres(db) => db.complete_signup(req).await,
        }
    }

    /// Adds a fresh code to a live sign-in; earlier codes stay valid until they
    /// expire. `mail_for` makes its message once the recipient is known.
    pub async fn resend_code(
        &self,
        req: ResendRequest,
        mail_for: impl FnOnce(&EmailAddress) -> CodeMail + Send + 'static,
    ) -> Result<ResendOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.resend_code(req, mail_for).await,
            Storage::Postgres(db) => db.resend_code(req, mail_for).await,
        }
    }

    // Sessions.

    /// The live session with this token hash and its person; an expired one is
    /// never returned, pruned or not.
    pub async fn find_session(
        &self,
        token_hash: TokenHash,
        now: i64,
    ) -> Result<Option<SessionRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.find_session(token_hash, now).await,
            Storage::Postgres(db) => db.find_session(token_hash, now).await,
        }
    }

    /// Records that a session was used, and moves its expiry forward (never back).
    pub async fn touch_session(
        &self,
        token_hash: TokenHash,
        last_seen_at: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.touch_session(token_hash, last_seen_at, expires_at).await,
            Storage::Postgres(db) => db.touch_session(token_hash, last_seen_at, expires_at).await,
        }
    }

    /// A person's live sessions, most recently used first.
    pub async fn list_sessions(
        &self,
        user_id: i64,
        now: i64,
    ) -> Result<Vec<SessionSummary>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_sessions(user_id, now).await,
            Storage::Postgres(db) => db.list_sessions(user_id, now).await,
        }
    }

    /// Ends one of `user_id`'s sessions by its public id; false if it is not theirs.
    pub async fn delete_user_session(
        &self,
        user_id: i64,
        public_id: PublicSessionId,
    ) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.delete_user_session(user_id, public_id).await,
            Storage::Postgres(db) => db.delete_user_session(user_id, public_id).await,
        }
    }

    /// Ends every session of `user_id` but the one with `keep_token_hash`.
    pub async fn delete_other_sessions(
        &self,
        user_id: i64,
        keep_token_hash: TokenHash,
    ) -> Result<usize, StorageError> {
        match self {
            Storage::Sqlite(db) => db.delete_other_sessions(user_id, keep_token_hash).await,
            Storage::Postgres(db) => db.delete_other_sessions(user_id, keep_token_hash).await,
        }
    }

    /// Ends the session with this token hash; false if there was none.
    pub async fn delete_session(&self, token_hash: TokenHash) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.delete_session(token_hash).await,
            Storage::Postgres(db) => db.delete_session(token_hash).await,
        }
    }

    pub async fn rename_user(&self, user_id: i64, name: PersonName) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.rename_user(user_id, name).await,
            Storage::Postgres(db) => db.rename_user(user_id, name).await,
        }
    }

    // The mail queue.

    /// Claims up to `limit` messages due now, oldest first, for this worker alone:
    /// they are hidden from other workers for [`MAIL_LEASE_SECS`].
    pub async fn claim_due_mail(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.claim_due_mail(now, limit).await,
            Storage::Postgres(db) => db.claim_due_mail(now, limit).await,
        }
    }

    /// When the next pending message is due, if any.
    pub async fn next_mail_due(&self) -> Result<Option<i64>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.next_mail_due().await,
            Storage::Postgres(db) => db.next_mail_due().await,
        }
    }

    pub async fn mark_mail_sent(&self, id: i64, now: i64) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.mark_mail_sent(id, now).await,
            Storage::Postgres(db) => db.mark_mail_sent(id, now).await,
        }
    }

    pub async fn retry_mail_later(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: String,
    ) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.retry_mail_later(id, next_attempt_at, error).await,
            Storage::Postgres(db) => db.retry_mail_later(id, next_attempt_at, error).await,
        }
    }

    /// Gives a message up for good: refused by the server, or its code has expired.
    pub async fn give_up_mail(
        &self,
        id: i64,
        now: i64,
        reason: String,
    ) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.give_up_mail(id, now, reason).await,
            Storage::Postgres(db) => db.give_up_mail(id, now, reason).await,
        }
    }

    /// Messages waiting to be sent.
    pub async fn mail_queue_depth(&self) -> Result<u64, StorageError> {
        match self {
            Storage::Sqlite(db) => db.mail_queue_depth().await,
            Storage::Postgres(db) => db.mail_queue_depth().await,
        }
    }

    // Housekeeping.

    /// Deletes expired and spent rows; safe to run on several instances at once.
    pub async fn prune(&self, now: i64) -> Result<Pruned, StorageError> {
        match self {
            Storage::Sqlite(db) => db.prune(now).await,
            Storage::Postgres(db) => db.prune(now).await,
        }
    }

    // The operator's command line.

    pub async fn database_overview(&self, now: i64) -> Result<DatabaseOverview, StorageError> {
        match self {
            Storage::Sqlite(db) => db.database_overview(now).await,
            Storage::Postgres(db) => db.database_overview(now).await,
        }
    }

    /// Every user, by id.
    pub async fn list_users(&self, now: i64) -> Result<Vec<UserOverview>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_users(now).await,
            Storage::Postgres(db) => db.list_users(now).await,
        }
    }

    pub async fn find_user(
        &self,
        who: UserRef,
        now: i64,
    ) -> Result<Option<UserOverview>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.find_user(who, now).await,
            Storage::Postgres(db) => db.find_user(who, now).await,
        }
    }

    /// Live sessions, most recently used first; only `user_id`'s when given.
    pub async fn list_live_sessions(
        &self,
        user_id: Option<i64>,
        now: i64,
    ) -> Result<Vec<SessionOverview>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_live_sessions(user_id, now).await,
            Storage::Postgres(db) => db.list_live_sessions(user_id, now).await,
        }
    }

    /// Deletes the user and every row that points at them, in one transaction.
    pub async fn delete_user(
        &self,
        who: UserRef,
        now: i64,
    ) -> Result<Option<DeletedUser>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.delete_user(who, now).await,
            Storage::Postgres(db) => db.delete_user(who, now).await,
        }
    }

    /// Ends every session of `user_id`; how many of them were live.
    pub async fn revoke_user_sessions(&self, user_id: i64, now: i64) -> Result<u64, StorageError> {
        match self {
            Storage::Sqlite(db) => db.revoke_user_sessions(user_id, now).await,
            Storage::Postgres(db) => db.revoke_user_sessions(user_id, now).await,
        }
    }

    /// Ends every session of everyone; how many of them were live.
    pub async fn revoke_all_sessions(&self, now: i64) -> Result<u64, StorageError> {
        match self {
            Storage::Sqlite(db) => db.revoke_all_sessions(now).await,
            Storage::Postgres(db) => db.revoke_all_sessions(now).await,
        }
    }

    /// False when a group of that name exists already.
    pub async fn create_group(&self, name: GroupName, now: i64) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.create_group(name, now).await,
            Storage::Postgres(db) => db.create_group(name, now).await,
        }
    }

    /// Deletes the group and its memberships; how many were in it (`None`: no such group).
    pub async fn delete_group(&self, name: GroupName) -> Result<Option<u64>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.delete_group(name).await,
            Storage::Postgres(db) => db.delete_group(name).await,
        }
    }

    /// Every group, by name, with its number of members.
    pub async fn list_groups(&self) -> Result<Vec<GroupOverview>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_groups().await,
            Storage::Postgres(db) => db.list_groups().await,
        }
    }

    /// Puts the user in the group (`add`) or takes them out.
    pub async fn set_membership(
        &self,
        name: GroupName,
        who: UserRef,
        add: bool,
        now: i64,
    ) -> Result<Membership, StorageError> {
        match self {
            Storage::Sqlite(db) => db.set_membership(name, who, add, now).await,
            Storage::Postgres(db) => db.set_membership(name, who, add, now).await,
        }
    }

    /// Stores the invitation, replacing a live one for the address, and queues its
    /// email, in one transaction.
    pub async fn invite(
        &self,
        invitation: NewInvitation,
        now: i64,
    ) -> Result<InviteOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.invite(invitation, now).await,
            Storage::Postgres(db) => db.invite(invitation, now).await,
        }
    }

    /// Every invitation, newest first.
    pub async fn list_invitations(
        &self,
        now: i64,
    ) -> Result<Vec<InvitationOverview>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_invitations(now).await,
            Storage::Postgres(db) => db.list_invitations(now).await,
        }
    }

    /// Revokes the address's live invitation; whether there was one.
    pub async fn revoke_invitation(
        &self,
        email: EmailAddress,
        now: i64,
    ) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.revoke_invitation(email, now).await,
            Storage::Postgres(db) => db.revoke_invitation(email, now).await,
        }
    }

    // OpenID Connect.

    /// Every signing key, newest first.
    pub async fn oidc_keys(&self) -> Result<Vec<StoredKey>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.oidc_keys().await,
            Storage::Postgres(db) => db.oidc_keys().await,
        }
    }

    /// Stores a signing key. With `rotate` the keys in use are retired; without, it is
    /// stored only when none is in use (the first start), and false says so.
    pub async fn add_oidc_key(&self, key: StoredKey, rotate: bool) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.add_oidc_key(key, rotate).await,
            Storage::Postgres(db) => db.add_oidc_key(key, rotate).await,
        }
    }

    /// False when a client with that id exists already.
    pub async fn add_oidc_client(&self, client: ClientRecord) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.add_oidc_client(client).await,
            Storage::Postgres(db) => db.add_oidc_client(client).await,
        }
    }

    /// Clients added from the command line, by id.
    pub async fn list_oidc_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_oidc_clients().await,
            Storage::Postgres(db) => db.list_oidc_clients().await,
        }
    }

    pub async fn find_oidc_client(&self, id: String) -> Result<Option<ClientRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.find_oidc_client(id).await,
            Storage::Postgres(db) => db.find_oidc_client(id).await,
        }
    }

    /// Removes the client and its consents, and revokes its tokens; false if unknown.
    pub async fn remove_oidc_client(&self, id: String, now: i64) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.remove_oidc_client(id, now).await,
            Storage::Postgres(db) => db.remove_oidc_client(id, now).await,
        }
    }

    /// The scope a person allowed an app, if they did.
    pub async fn consent_of(
        &self,
        user_id: i64,
        client_id: String,
    ) -> Result<Option<String>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.consent_of(user_id, client_id).await,
            Storage::Postgres(db) => db.consent_of(user_id, client_id).await,
        }
    }

    /// Remembers that the person allowed the app this scope.
    pub async fn record_consent(
        &self,
        user_id: i64,
        client_id: String,
        scope: String,
        now: i64,
    ) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.record_consent(user_id, client_id, scope, now).await,
            Storage::Postgres(db) => db.record_consent(user_id, client_id, scope, now).await,
        }
    }

    /// The apps a person allowed, oldest first.
    pub async fn list_consents(&self, user_id: i64) -> Result<Vec<ConsentRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_consents(user_id).await,
            Storage::Postgres(db) => db.list_consents(user_id).await,
        }
    }

    /// Forgets the consent and revokes every token the app holds for the person.
    pub async fn withdraw_consent(
        &self,
        user_id: i64,
        client_id: String,
        now: i64,
    ) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.withdraw_consent(user_id, client_id, now).await,
            Storage::Postgres(db) => db.withdraw_consent(user_id, client_id, now).await,
        }
    }

    /// Stores an authorization with the hash of its code.
    pub async fn create_grant(&self, grant: NewGrant) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.create_grant(grant).await,
            Storage::Postgres(db) => db.create_grant(grant).await,
        }
    }

    /// Spends an authorization code, in one transaction: good ⇒ its tokens are
    /// stored; used before ⇒ its family is revoked; anything else ⇒ refused.
    pub async fn redeem_code(&self, redeem: Redeem) -> Result<Redemption, StorageError> {
        match self {
            Storage::Sqlite(db) => db.redeem_code(redeem).await,
            Storage::Postgres(db) => db.redeem_code(redeem).await,
        }
    }

    /// Swaps a refresh token for new ones; a used one revokes its family.
    pub async fn rotate_refresh(&self, refresh: Refresh) -> Result<Rotation, StorageError> {
        match self {
            Storage::Sqlite(db) => db.rotate_refresh(refresh).await,
            Storage::Postgres(db) => db.rotate_refresh(refresh).await,
        }
    }

    /// A live token (unexpired, unused, its family not revoked) and its person.
    pub async fn find_oidc_token(
        &self,
        hash: TokenHash,
        now: i64,
    ) -> Result<Option<TokenRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.find_oidc_token(hash, now).await,
            Storage::Postgres(db) => db.find_oidc_token(hash, now).await,
        }
    }

    /// Revokes a token of `client_id`: an access token alone, a refresh token with
    /// its family.
    pub async fn revoke_oidc_token(
        &self,
        hash: TokenHash,
        client_id: String,
        now: i64,
    ) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(db) => db.revoke_oidc_token(hash, client_id, now).await,
            Storage::Postgres(db) => db.revoke_oidc_token(hash, client_id, now).await,
        }
    }

    /// Records a solved CAPTCHA challenge (by its hash) as used until it expires;
    /// `false` when it already was.
    pub async fn spend_captcha(
        &self,
        challenge_hash: String,
        expires_at: i64,
    ) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.spend_captcha(challenge_hash, expires_at).await,
            Storage::Postgres(db) => db.spend_captcha(challenge_hash, expires_at).await,
        }
    }

    // Passkeys.

    /// Counts a ceremony against its client network's hourly limit and stores it.
    pub async fn begin_ceremony(
        &self,
        new: NewCeremony,
        now: i64,
    ) -> Result<Result<(), Refusal>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.begin_ceremony(new, now).await,
            Storage::Postgres(db) => db.begin_ceremony(new, now).await,
        }
    }

    /// Ends a ceremony and gives it back to be finished; `None` when it is unknown,
    /// already taken, or expired.
    pub async fn take_ceremony(
        &self,
        id_hash: TokenHash,
        now: i64,
    ) -> Result<Option<Ceremony>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.take_ceremony(id_hash, now).await,
            Storage::Postgres(db) => db.take_ceremony(id_hash, now).await,
        }
    }

    /// A ceremony under way, left in place; `None` when it is unknown, answered
    /// or expired.
    pub async fn peek_ceremony(
        &self,
        id_hash: TokenHash,
        now: i64,
    ) -> Result<Option<Ceremony>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.peek_ceremony(id_hash, now).await,
            Storage::Postgres(db) => db.peek_ceremony(id_hash, now).await,
        }
    }

    /// Ends the ceremony, records a verified assertion (if its counter is still the
    /// stored one) and opens its session.
    pub async fn use_passkey(&self, used: PasskeyUse) -> Result<PasskeyUseOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.use_passkey(used).await,
            Storage::Postgres(db) => db.use_passkey(used).await,
        }
    }

    /// A person's passkeys, oldest first.
    pub async fn list_passkeys(&self, user_id: i64) -> Result<Vec<PasskeyRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_passkeys(user_id).await,
            Storage::Postgres(db) => db.list_passkeys(user_id).await,
        }
    }

    /// The passkey with this credential id, whoever it belongs to.
    pub async fn find_passkey(
        &self,
        credential_id: String,
    ) -> Result<Option<PasskeyRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.find_passkey(credential_id).await,
            Storage::Postgres(db) => db.find_passkey(credential_id).await,
        }
    }

    /// Stores a new passkey; `None` when its credential is already registered.
    pub async fn add_passkey(
        &self,
        new: NewPasskey,
        now: i64,
    ) -> Result<Option<PasskeyRecord>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.add_passkey(new, now).await,
            Storage::Postgres(db) => db.add_passkey(new, now).await,
        }
    }

    /// Renames one of the person's passkeys; whether they have it.
    pub async fn rename_passkey(
        &self,
        user_id: i64,
        id: i64,
        name: String,
    ) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.rename_passkey(user_id, id, name).await,
            Storage::Postgres(db) => db.rename_passkey(user_id, id, name).await,
        }
    }

    /// Removes one of the person's passkeys; whether they had it.
    pub async fn remove_passkey(&self, user_id: i64, id: i64) -> Result<bool, StorageError> {
        match self {
            Storage::Sqlite(db) => db.remove_passkey(user_id, id).await,
            Storage::Postgres(db) => db.remove_passkey(user_id, id).await,
        }
    }

    // A person's addresses: each call is one transaction of `emails.rs`.

    /// Mails a code to an address the person wants to add, under the sign-in's limits.
    pub async fn start_adding_email(
        &self,
        req: AddressStart,
    ) -> Result<AddressStartOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.start_adding_email(req).await,
            Storage::Postgres(db) => db.start_adding_email(req).await,
        }
    }

    /// An address's challenge as its code form shows it, if it is still open in
    /// this session.
    pub async fn adding_email_info(
        &self,
        id: ChallengeId,
        user_id: i64,
        session_hash: String,
        max_attempts: u32,
    ) -> Result<Result<ChallengeInfo, Closed>, StorageError> {
        match self {
            Storage::Sqlite(db) => {
                db.adding_email_info(id, user_id, session_hash, max_attempts)
                    .await
            }
            Storage::Postgres(db) => {
                db.adding_email_info(id, user_id, session_hash, max_attempts)
                    .await
            }
        }
    }

    /// Checks a code typed to add an address; a right one adds it and queues
    /// `notice` to each of the person's other addresses.
    pub async fn verify_email_code(
        &self,
        req: AddressCode,
        notice: impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static,
    ) -> Result<AddressCodeOutcome, StorageError> {
        match self {
            Storage::Sqlite(db) => db.verify_email_code(req, notice).await,
            Storage::Postgres(db) => db.verify_email_code(req, notice).await,
        }
    }

    /// A person's addresses, primary first, then oldest first.
    pub async fn list_emails(&self, user_id: i64) -> Result<Vec<UserEmail>, StorageError> {
        match self {
            Storage::Sqlite(db) => db.list_emails(user_id).await,
            Storage::Postgres(db) => db.list_emails(user_id).await,
        }
    }

    pub async fn make_primary_email(
        &self,
        user_id: i64,
        email: EmailAddress,
    ) -> Result<AddressChange, StorageError> {
        match self {
            Storage::Sqlite(db) => db.make_primary_email(user_id, email).await,
            Storage::Postgres(db) => db.make_primary_email(user_id, email).await,
        }
    }

    /// Removes an address (never the last) and queues `notice` to the ones left.
    pub async fn remove_email(
        &self,
        user_id: i64,
        email: EmailAddress,
        notice: impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static,
        now: i64,
    ) -> Result<AddressChange, StorageError> {
        match self {
            Storage::Sqlite(db) => db.remove_email(user_id, email, notice, now).await,
            Storage::Postgres(db) => db.remove_email(user_id, email, notice, now).await,
        }
    }

    /// An operator adds an address with no code; `notice` goes to the person's
    /// other addresses.
    pub async fn add_email_by_operator(
        &self,
        user_id: i64,
        email: EmailAddress,
        primary: bool,
        notice: impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static,
        now: i64,
    ) -> Result<OperatorAdd, StorageError> {
        match self {
            Storage::Sqlite(db) => {
                db.add_email_by_operator(user_id, email, primary, notice, now)
                    .await
            }
            Storage::Postgres(db) => {
                db.add_email_by_operator(user_id, email, primary, notice, now)
                    .await
            }
        }
    }
}
