//! A signed-in person's addresses, apart from HTTP: ask for a code to add one
//! (mailed like a sign-in code, under the same rules and limits), add it with the
//! right code, make one primary, remove one. The home page and the JSON API both
//! drive these functions.

use std::fmt;
use std::net::IpAddr;

use super::{LoginError, SignIn};
use crate::domain::{ChallengeId, EmailAddress, EmailError, LoginCode, TokenHash};
use crate::i18n::Language;
use crate::rules::Adding;
use crate::rules::emails::NotAddable;
use crate::session::ActiveSession;
use crate::storage::{
    AddressChange, AddressCode, AddressCodeOutcome, AddressStart, AddressStartOutcome,
    ChallengeInfo, Closed, MailKind, NOTICE_TTL_SECS, NewChallenge, NewMail, StorageError,
    UserEmail,
};

/// The browser binding of an address's challenge: none a browser can present.
const NO_BROWSER: &str = "address";

/// The signed-in session that asks: the codes it asks for work only in it.
#[derive(Debug, Clone)]
pub struct Asker {
    pub user_id: i64,
    pub session_hash: TokenHash,
}

impl Asker {
    pub fn of(active: &ActiveSession) -> Self {
        Self {
            user_id: active.record.user_id,
            session_hash: active.token.hash(),
        }
    }
}

/// Everything that can stop a change to a person's addresses. The code rules'
/// errors are the sign-in's own ([`LoginError`]); the rest are the addresses'.
#[derive(Debug)]
pub enum AddressError {
    /// As at sign-in: a bad address, a limit, a wrong or expired code, a database
    /// that is down.
    Code(LoginError),
    /// Already one of the person's addresses.
    AlreadyYours,
    /// The right code for an address that belongs to another account.
    InUse,
    /// The account holds the most addresses it may.
    TooMany,
    /// Not one of the person's addresses.
    NotYours,
    /// The person's only address.
    Last,
}

impl From<StorageError> for AddressError {
    fn from(error: StorageError) -> Self {
        AddressError::Code(LoginError::Unavailable(error))
    }
}

impl From<EmailError> for AddressError {
    fn from(error: EmailError) -> Self {
        AddressError::Code(LoginError::InvalidEmail(error))
    }
}

impl AddressError {
    pub fn status(&self) -> u16 {
        match self {
            AddressError::Code(e) => e.status(),
            AddressError::NotYours => 404,
            _ => 400,
        }
    }

    pub fn retry_after(&self) -> Option<i64> {
        match self {
            AddressError::Code(e) => e.retry_after(),
            _ => None,
        }
    }

    /// A stable machine-readable code (for the JSON API and logs).
    pub fn code(&self) -> &'static str {
        match self {
            AddressError::Code(e) => e.code(),
            AddressError::AlreadyYours => "already_yours",
            AddressError::InUse => "email_in_use",
            AddressError::TooMany => "too_many_emails",
            AddressError::NotYours => "not_found",
            AddressError::Last => "last_email",
        }
    }

    /// The code form this error is shown on, when the challenge can go on.
    pub fn challenge(&self) -> Option<&ChallengeInfo> {
        match self {
            AddressError::Code(LoginError::OnCodePage { info, .. }) => Some(info),
            _ => None,
        }
    }

    /// What the person reads, in `lang`.
    pub fn message(&self, lang: Language) -> String {
        let key = match self {
            AddressError::Code(LoginError::Closed(closed)) => match closed {
                Closed::OtherBrowser => "error.address.other_session",
                Closed::OutOfAttempts => "error.address.no_attempts",
                Closed::Expired => "error.address.expired",
                Closed::Unknown | Closed::Finished => "error.address.unknown",
            },
            AddressError::Code(e) => return e.message(lang),
            AddressError::AlreadyYours => "error.address.already_yours",
            AddressError::InUse => "error.address.in_use",
            AddressError::TooMany => "error.address.too_many",
            AddressError::NotYours => "error.address.not_yours",
            AddressError::Last => "error.address.last",
        };
        lang.text(key).to_owned()
    }

    pub fn log_if_dependency_failed(&self) {
        if let AddressError::Code(e) = self {
            e.log_if_dependency_failed();
        }
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Language::english()))
    }
}

impl std::error::Error for AddressError {}

/// Mails a code to `raw_email`, which the person wants to add, written in
/// `language`. No CAPTCHA: the person is signed in; the sign-in's limits hold.
pub async fn start(
    flow: &SignIn,
    asker: &Asker,
    raw_email: &str,
    client_ip: IpAddr,
    language: Language,
) -> Result<ChallengeInfo, AddressError> {
    let email = EmailAddress::parse(raw_email)?;
    let now = flow.clock.now();
    let new = NewChallenge {
        adding: Some(Adding {
            user_id: asker.user_id,
            session_hash: asker.session_hash.as_str().to_owned(),
        }),
        // No browser presents this binding (theirs are SHA-256 hex), so even a
        // version from before addresses, which does not know `adding`, never
        // lets this challenge sign anyone in.
        browser_hash: Some(NO_BROWSER.to_owned()),
        ..super::new_challenge(flow, email, client_ip, language, now)
    };
    let request = AddressStart {
        new,
        limits: flow.policy.limits,
        max_attempts: flow.policy.code.max_attempts,
        now,
    };
    match flow.storage.start_adding_email(request).await? {
        AddressStartOutcome::Started(info) => {
            flow.mail.wake();
            tracing::info!(user_id = asker.user_id, to = %info.email.masked(), "address code queued");
            Ok(info)
        }
        AddressStartOutcome::Refused(refusal) => {
            flow.mail.wake();
            Err(AddressError::Code(LoginError::Limited(refusal, None)))
        }
        AddressStartOutcome::NotAddable(NotAddable::AlreadyYours) => {
            Err(AddressError::AlreadyYours)
        }
        AddressStartOutcome::NotAddable(NotAddable::TooMany) => Err(AddressError::TooMany),
    }
}

/// Checks a code typed to add an address; the right one adds it, and the
/// person's other addresses are told in `language`. The person's addresses after.
pub async fn verify(
    flow: &SignIn,
    asker: &Asker,
    challenge_id: &str,
    code_input: &str,
    language: Language,
) -> Result<Vec<UserEmail>, AddressError> {
    let code = match LoginCode::parse_input(code_input) {
        Ok(code) => code,
        Err(e) => {
            let info = flow
                .storage
                .adding_email_info(
                    ChallengeId::presented(challenge_id),
                    asker.user_id,
                    asker.session_hash.as_str().to_owned(),
                    flow.policy.code.max_attempts,
                )
                .await?
                .map_err(|closed| AddressError::Code(LoginError::Closed(closed)))?;
            return Err(AddressError::Code(LoginError::OnCodePage {
                info,
                problem: super::CodeProblem::BadCode(e),
            }));
        }
    };
    let now = flow.clock.now();
    let request = AddressCode {
        candidate: code.hash(&flow.secret, challenge_id),
        challenge_id: ChallengeId::presented(challenge_id),
        user_id: asker.user_id,
        session_hash: asker.session_hash.clone(),
        max_attempts: flow.policy.code.max_attempts,
        now,
    };
    let notice = notice(flow, language, MailKind::AddressAdded, now);
    let outcome = flow.storage.verify_email_code(request, notice).await?;
    match outcome {
        AddressCodeOutcome::Added(addresses) => {
            flow.mail.wake();
            tracing::info!(user_id = asker.user_id, "address added");
            Ok(addresses)
        }
        AddressCodeOutcome::WrongCode(info) => {
            flow.metrics.wrong_code();
            if info.attempts_left == 0 {
                return Err(AddressError::Code(LoginError::Closed(
                    Closed::OutOfAttempts,
                )));
            }
            Err(AddressError::Code(LoginError::OnCodePage {
                info,
                problem: super::CodeProblem::WrongCode,
            }))
        }
        AddressCodeOutcome::Closed(closed) => Err(AddressError::Code(LoginError::Closed(closed))),
        AddressCodeOutcome::AlreadyYours => Err(AddressError::AlreadyYours),
        AddressCodeOutcome::InUse => {
            tracing::info!(
                user_id = asker.user_id,
                "address not added: it belongs to another account"
            );
            Err(AddressError::InUse)
        }
        AddressCodeOutcome::TooMany => Err(AddressError::TooMany),
    }
}

/// Makes one of the person's addresses primary.
pub async fn make_primary(
    flow: &SignIn,
    user_id: i64,
    raw_email: &str,
) -> Result<Vec<UserEmail>, AddressError> {
    let email = EmailAddress::parse(raw_email)?;
    let change = flow.storage.make_primary_email(user_id, email).await?;
    let addresses = settled(change)?;
    tracing::info!(user_id, "primary address changed");
    Ok(addresses)
}

/// Removes one of the person's addresses, never the last; the addresses left are
/// told in `language`.
pub async fn remove(
    flow: &SignIn,
    user_id: i64,
    raw_email: &str,
    language: Language,
) -> Result<Vec<UserEmail>, AddressError> {
    let email = EmailAddress::parse(raw_email)?;
    let now = flow.clock.now();
    let notice = notice(flow, language, MailKind::AddressRemoved, now);
    let change = flow
        .storage
        .remove_email(user_id, email, notice, now)
        .await?;
    let addresses = settled(change)?;
    flow.mail.wake();
    tracing::info!(user_id, "address removed");
    Ok(addresses)
}

fn settled(change: AddressChange) -> Result<Vec<UserEmail>, AddressError> {
    match change {
        AddressChange::Done(addresses) => Ok(addresses),
        AddressChange::NotYours => Err(AddressError::NotYours),
        AddressChange::Last => Err(AddressError::Last),
    }
}

/// The notices of `kind` a change queues, written in `language`, one to each of
/// the person's other addresses: see [`notice_maker`].
fn notice(
    flow: &SignIn,
    language: Language,
    kind: MailKind,
    now: i64,
) -> impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static {
    notice_maker(flow.policy.mail_host.clone(), language, kind, now)
}

/// Makes the notice that `about` was added to or removed from an account, to
/// one of the account's other addresses; Message-IDs name `host`. The command
/// line uses it too.
pub fn notice_maker(
    host: String,
    language: Language,
    kind: MailKind,
    now: i64,
) -> impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static {
    move |to: &EmailAddress, about: &EmailAddress| NewMail {
        kind,
        recipient: to.clone(),
        message_id: format!("<{}@{host}>", crate::domain::RandomId::generate().as_str()),
        sealed_code: Vec::new(),
        expires_at: now + NOTICE_TTL_SECS,
        language: language.code().to_owned(),
        about: Some(about.clone()),
    }
}
