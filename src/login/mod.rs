//! The sign-in / sign-up flow, apart from HTTP: start (email + CAPTCHA ⇒ code
//! mailed), verify (code ⇒ session, or the name page), complete (name ⇒ session),
//! resend. The browser pages and the JSON API both drive these functions.

pub mod emails;
mod error;

use std::net::IpAddr;
use std::sync::Arc;

pub use error::{CodeProblem, LoginError, email_key, name_key};

use crate::captcha::Captcha;
use crate::clock::Clock;
use crate::config::{AskName, CodePolicy};
use crate::domain::{
    ChallengeId, EmailAddress, LoginCode, PersonName, PublicSessionId, RandomId, ServerSecret,
    SessionToken, TokenHash,
};
use crate::i18n::Language;
use crate::mail::{MailQueue, seal_code};
use crate::metrics::Metrics;
use crate::rules::limits::client_network;
use crate::rules::sessions::Lifetimes;
use crate::storage::{
    ChallengeInfo, CodeMail, CompleteOutcome, CompleteRequest, Limits, MailKind, NOTICE_TTL_SECS,
    NewChallenge, NewMail, NewSession, ResendOutcome, ResendRequest, SessionRecord, SignupPolicy,
    StartOutcome, StartRules, Storage, VerifyOutcome, VerifyRequest,
};

/// What the sign-in flow works with, built once at start-up.
pub struct SignIn {
    pub storage: Storage,
    /// `None`: CAPTCHA off.
    pub captcha: Option<Captcha>,
    pub mail: MailQueue,
    pub secret: ServerSecret,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub policy: Policy,
}

/// The settings the flow decides by.
#[derive(Debug, Clone)]
pub struct Policy {
    pub code: CodePolicy,
    pub limits: Limits,
    pub ask_name: AskName,
    pub sessions: Lifetimes,
    /// Who may make an account.
    pub signup: Arc<SignupPolicy>,
    /// The public host, for Message-IDs.
    pub mail_host: String,
    /// For mail that answers nobody's page, such as the notice that an address's
    /// limits stopped a code (its owner's language is not known).
    pub default_language: Language,
}

impl Policy {
    pub fn names_after_code(&self) -> bool {
        self.ask_name == AskName::AfterCode
    }
}

impl SignIn {
    fn signup_closed(&self) -> LoginError {
        tracing::info!(
            mode = self.policy.signup.mode.as_str(),
            "sign-up refused: this address may not make an account"
        );
        LoginError::SignupClosed(self.policy.signup.clone())
    }
}

/// A successful check of a code.
pub enum Verified {
    SignedIn(SignedIn),
    /// Right code for a new address; the person names themselves next.
    NeedsName(ChallengeInfo),
}

pub struct SignedIn {
    pub token: SessionToken,
    pub session: SessionRecord,
    pub new_user: bool,
}

/// The browser or app a new session is for.
pub struct Device<'a> {
    /// Kept for the sessions list.
    pub user_agent: Option<&'a str>,
    /// The session this browser held until now, if any: signing in again ends it,
    /// whoever signs in.
    pub replaces: Option<TokenHash>,
}

/// What the person typed on the code or name page.
pub struct NameInput<'a> {
    pub first: Option<&'a str>,
    pub last: Option<&'a str>,
}

impl NameInput<'_> {
    /// `None` when no name was given at all; an error when one was given badly.
    fn parse(&self) -> Result<Option<PersonName>, crate::domain::NameError> {
        let (first, last) = (self.first.unwrap_or(""), self.last.unwrap_or(""));
        if first.trim().is_empty() && last.trim().is_empty() {
            return Ok(None);
        }
        PersonName::parse(first, last).map(Some)
    }
}

/// Email + CAPTCHA ⇒ a new sign-in with its first code queued for mail, written
/// in `language`.
///
/// The same work is done whether or not the address has an account: one challenge,
/// one code, one queued message.
pub async fn start(
    flow: &SignIn,
    raw_email: &str,
    captcha: &str,
    client_ip: IpAddr,
    browser_hash: Option<String>,
    language: Language,
) -> Result<ChallengeInfo, LoginError> {
    let email = EmailAddress::parse(raw_email).map_err(LoginError::InvalidEmail)?;
    if let Some(check) = &flow.captcha {
        check.verify(captcha, Some(client_ip)).await?;
    }
    let now = flow.clock.now();
    let new = NewChallenge {
        browser_hash,
        ..new_challenge(flow, email, client_ip, language, now)
    };
    let rules = StartRules {
        limits: flow.policy.limits,
        max_attempts: flow.policy.code.max_attempts,
        signup: flow.policy.signup.clone(),
        names_after_code: flow.policy.names_after_code(),
    };
    match flow.storage.start_challenge(new, rules, now).await? {
        StartOutcome::Started(info) => {
            flow.mail.wake();
            tracing::info!(to = %info.email.masked(), "sign-in started; code queued");
            Ok(info)
        }
        StartOutcome::Refused(refusal) => {
            // The refusal may have queued a notice to the address's owner.
            flow.mail.wake();
            Err(LoginError::Limited(refusal, None))
        }
        StartOutcome::SignupClosed => Err(flow.signup_closed()),
    }
}

/// Checks a code; on success signs the person in (creating the account if new and
/// named), or sends them to the name page.
pub async fn verify(
    flow: &SignIn,
    challenge_id: &str,
    browser_hash: Option<String>,
    code_input: &str,
    name: NameInput<'_>,
    device: Device<'_>,
) -> Result<Verified, LoginError> {
    let code = match LoginCode::parse_input(code_input) {
        Ok(code) => code,
        Err(e) => {
            return Err(
                on_code_page(flow, challenge_id, browser_hash, CodeProblem::BadCode(e)).await,
            );
        }
    };
    let name = match name.parse() {
        Ok(name) => name,
        Err(e) => {
            return Err(
                on_code_page(flow, challenge_id, browser_hash, CodeProblem::BadName(e)).await,
            );
        }
    };
    let now = flow.clock.now();
    let token = SessionToken::generate();
    let request = VerifyRequest {
        candidate: code.hash(&flow.secret, challenge_id),
        challenge_id: ChallengeId::presented(challenge_id),
        browser_hash,
        name,
        names_after_code: flow.policy.names_after_code(),
        signup: flow.policy.signup.clone(),
        max_attempts: flow.policy.code.max_attempts,
        limits: flow.policy.limits,
        session: new_session(flow.policy.sessions, &token, now, device, CODE_AMR),
        name_window_secs: flow.policy.code.ttl_secs,
        now,
    };
    match flow.storage.verify_code(request).await? {
        VerifyOutcome::SignedIn { session, new_user } => {
            log_signed_in(&session, new_user);
            Ok(Verified::SignedIn(SignedIn {
                token,
                session,
                new_user,
            }))
        }
        VerifyOutcome::NeedsName(info) => Ok(Verified::NeedsName(info)),
        VerifyOutcome::SignupClosed => Err(flow.signup_closed()),
        VerifyOutcome::Closed(closed) => Err(LoginError::Closed(closed)),
        VerifyOutcome::WrongCode(info) => {
            tracing::info!(to = %info.email.masked(), attempts_left = info.attempts_left, "wrong code");
            flow.metrics.wrong_code();
            if info.attempts_left == 0 {
                return Err(LoginError::Closed(crate::storage::Closed::OutOfAttempts));
            }
            Err(LoginError::OnCodePage {
                info,
                problem: CodeProblem::WrongCode,
            })
        }
        VerifyOutcome::NameRequired(info) => Err(LoginError::OnCodePage {
            info,
            problem: CodeProblem::BadName(crate::domain::NameError::FirstMissing),
        }),
    }
}

/// Finishes a sign-up from the name page.
pub async fn complete(
    flow: &SignIn,
    challenge_id: &str,
    browser_hash: Option<String>,
    name: NameInput<'_>,
    device: Device<'_>,
) -> Result<SignedIn, LoginError> {
    let name = match name.parse() {
        Ok(Some(name)) => name,
        Ok(None) => {
            return Err(name_page_error(
                flow,
                challenge_id,
                browser_hash,
                crate::domain::NameError::FirstMissing,
            )
            .await);
        }
        Err(e) => return Err(name_page_error(flow, challenge_id, browser_hash, e).await),
    };
    let now = flow.clock.now();
    let token = SessionToken::generate();
    let session = new_session(flow.policy.sessions, &token, now, device, CODE_AMR);
    let max_attempts = flow.policy.code.max_attempts;
    let outcome = flow
        .storage
        .complete_signup(CompleteRequest {
            challenge_id: ChallengeId::presented(challenge_id),
            browser_hash,
            name,
            session,
            signup: flow.policy.signup.clone(),
            max_attempts,
            now,
        })
        .await?;
    match outcome {
        CompleteOutcome::SignedIn { session, new_user } => {
            log_signed_in(&session, new_user);
            Ok(SignedIn {
                token,
                session,
                new_user,
            })
        }
        CompleteOutcome::Closed(closed) => Err(LoginError::Closed(closed)),
        CompleteOutcome::SignupClosed => Err(flow.signup_closed()),
        CompleteOutcome::CodeNeeded(info) => Err(LoginError::OnCodePage {
            info,
            problem: CodeProblem::CodeNeeded,
        }),
    }
}

/// Mails a fresh code for the same sign-in, written in `language`; earlier codes
/// stay valid.
pub async fn resend(
    flow: &SignIn,
    challenge_id: &str,
    browser_hash: Option<String>,
    client_ip: IpAddr,
    language: Language,
) -> Result<ChallengeInfo, LoginError> {
    let now = flow.clock.now();
    let code = LoginCode::generate();
    let expires_at = now + flow.policy.code.ttl_secs;
    let code_hash = code.hash(&flow.secret, challenge_id);
    let mail_state = MailParts::from(flow, language);
    let outcome = flow
        .storage
        .resend_code(
            ResendRequest {
                challenge_id: ChallengeId::presented(challenge_id),
                browser_hash,
                code_hash,
                code_expires_at: expires_at,
                ip: client_network(client_ip),
                limits: flow.policy.limits,
                max_attempts: flow.policy.code.max_attempts,
                now,
            },
            move |to| mail_state.code_mail(to, &code, now, expires_at),
        )
        .await?;
    match outcome {
        ResendOutcome::Resent(info) => {
            flow.mail.wake();
            tracing::info!(to = %info.email.masked(), "new code queued");
            Ok(info)
        }
        ResendOutcome::Closed(closed) => Err(LoginError::Closed(closed)),
        ResendOutcome::Refused(refusal, info) => {
            flow.mail.wake();
            Err(LoginError::Limited(refusal, Some(info)))
        }
    }
}

/// A new challenge for `email` with its first code, and the message that carries
/// it written in `language`; bound to no browser and no account yet.
fn new_challenge(
    flow: &SignIn,
    email: EmailAddress,
    client_ip: IpAddr,
    language: Language,
    now: i64,
) -> NewChallenge {
    let id = ChallengeId::generate();
    let code = LoginCode::generate();
    let expires_at = now + flow.policy.code.ttl_secs;
    NewChallenge {
        code_hash: code.hash(&flow.secret, id.as_str()),
        mail: MailParts::from(flow, language).code_mail(&email, &code, now, expires_at),
        id,
        email,
        browser_hash: None,
        code_expires_at: expires_at,
        ip: client_network(client_ip),
        adding: None,
    }
}

/// Loads the sign-in so an error can be shown on its code page.
async fn on_code_page(
    flow: &SignIn,
    challenge_id: &str,
    browser_hash: Option<String>,
    problem: CodeProblem,
) -> LoginError {
    let max_attempts = flow.policy.code.max_attempts;
    match flow
        .storage
        .challenge_info(
            ChallengeId::presented(challenge_id),
            browser_hash,
            max_attempts,
        )
        .await
    {
        Ok(Ok(info)) => LoginError::OnCodePage { info, problem },
        Ok(Err(closed)) => LoginError::Closed(closed),
        Err(e) => LoginError::Unavailable(e),
    }
}

async fn name_page_error(
    flow: &SignIn,
    challenge_id: &str,
    browser_hash: Option<String>,
    problem: crate::domain::NameError,
) -> LoginError {
    match on_code_page(flow, challenge_id, browser_hash, CodeProblem::CodeNeeded).await {
        LoginError::OnCodePage { info, .. } => LoginError::OnNamePage { info, problem },
        other => other,
    }
}

/// The session a sign-in opens, by code or by passkey.
pub fn new_session(
    lifetimes: Lifetimes,
    token: &SessionToken,
    now: i64,
    device: Device,
    amr: &str,
) -> NewSession {
    let user_agent = device.user_agent;
    NewSession {
        replaces: device.replaces,
        token_hash: token.hash(),
        public_id: PublicSessionId::generate(),
        expires_at: lifetimes.first_expiry(now),
        // Kept for the sessions list only; cut so a huge header cannot bloat the row.
        user_agent: user_agent.map(|ua| ua.chars().filter(|c| !c.is_control()).take(512).collect()),
        amr: amr.to_owned(),
    }
}

/// OpenID Connect's `amr` for a sign-in by emailed code (RFC 8176: a one-time
/// password).
const CODE_AMR: &str = "otp";

fn log_signed_in(session: &SessionRecord, new_user: bool) {
    tracing::info!(user_id = session.user_id, new_user, "signed in");
}

/// What sealing a code needs; for a resend it moves into the storage transaction,
/// which is where the recipient is learnt. Message-IDs name the public host.
struct MailParts {
    secret: ServerSecret,
    host: String,
    language: Language,
    default_language: Language,
}

impl MailParts {
    fn from(flow: &SignIn, language: Language) -> Self {
        Self {
            secret: flow.secret.clone(),
            host: flow.policy.mail_host.clone(),
            language,
            default_language: flow.policy.default_language,
        }
    }

    /// The code's message, and the notice that goes instead if the address's
    /// limits refuse it (queued only when the rules say so).
    fn code_mail(
        &self,
        to: &EmailAddress,
        code: &LoginCode,
        now: i64,
        expires_at: i64,
    ) -> CodeMail {
        let code_id = self.message_id();
        CodeMail {
            code: NewMail {
                kind: MailKind::Code,
                sealed_code: seal_code(&self.secret, &code_id, code),
                recipient: to.clone(),
                message_id: code_id,
                expires_at,
                language: self.language.code().to_owned(),
                about: None,
            },
            limit_notice: NewMail {
                kind: MailKind::LimitNotice,
                sealed_code: Vec::new(),
                recipient: to.clone(),
                message_id: self.message_id(),
                expires_at: now + NOTICE_TTL_SECS,
                language: self.default_language.code().to_owned(),
                about: None,
            },
        }
    }

    fn message_id(&self) -> String {
        format!("<{}@{}>", RandomId::generate().as_str(), self.host)
    }
}
