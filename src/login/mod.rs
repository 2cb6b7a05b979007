//! The sign-in / sign-up flow, apart from HTTP: start (email + CAPTCHA ⇒ code
//! mailed), verify (code ⇒ session, or the name page), complete (name ⇒ session),
//! resend. The browser pages and the JSON API both drive these functions.

mod error;

use std::net::IpAddr;

pub use error::{CodeProblem, LoginError, email_key, name_key};

use crate::config::AskName;
use crate::domain::{
    ChallengeId, EmailAddress, LoginCode, PersonName, PublicSessionId, RandomId, SessionToken,
};
use crate::i18n::Language;
use crate::mail::seal_code;
use crate::state::AppState;
use crate::storage::{
    ChallengeInfo, CompleteOutcome, CompleteRequest, Limits, NewChallenge, NewMail, NewSession,
    ResendOutcome, ResendRequest, SessionRecord, StartOutcome, VerifyOutcome, VerifyRequest,
};

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

fn limits(state: &AppState) -> Limits {
    let c = &state.config;
    Limits {
        email_per_hour: c.rate_limit.email_per_hour.get(),
        ip_per_hour: c.rate_limit.ip_per_hour.get(),
        failures_per_email_per_hour: c.rate_limit.failures_per_email_per_hour.get(),
        resend_interval_secs: i64::try_from(c.code.resend_interval_secs).unwrap_or(i64::MAX / 2),
    }
}

fn code_ttl(state: &AppState) -> i64 {
    i64::try_from(state.config.code.ttl_secs.get()).unwrap_or(i64::MAX / 4)
}

/// Email + CAPTCHA ⇒ a new sign-in with its first code queued for mail, written
/// in `language`.
///
/// The same work is done whether or not the address has an account: one challenge,
/// one code, one queued message.
pub async fn start(
    state: &AppState,
    raw_email: &str,
    captcha: &str,
    client_ip: IpAddr,
    browser_hash: Option<String>,
    language: Language,
) -> Result<ChallengeInfo, LoginError> {
    let email = EmailAddress::parse(raw_email).map_err(LoginError::InvalidEmail)?;
    if let Some(turnstile) = &state.turnstile {
        turnstile.verify(captcha, Some(client_ip)).await?;
    }
    let now = state.clock.now();
    let id = ChallengeId::generate();
    let code = LoginCode::generate();
    let expires_at = now + code_ttl(state);
    let new = NewChallenge {
        code_hash: code.hash(&state.secret, id.as_str()),
        mail: MailParts::from(state, language).new_mail(&email, &code, expires_at),
        id,
        email,
        browser_hash,
        code_expires_at: expires_at,
        ip: client_ip.to_string(),
    };
    let max_attempts = state.config.code.max_attempts.get();
    match state
        .storage
        .start_challenge(new, limits(state), max_attempts, now)
        .await?
    {
        StartOutcome::Started(info) => {
            state.mail.wake();
            tracing::info!(to = %info.email.masked(), "sign-in started; code queued");
            Ok(info)
        }
        StartOutcome::Refused(refusal) => Err(LoginError::Limited(refusal, None)),
    }
}

/// Checks a code; on success signs the person in (creating the account if new and
/// named), or sends them to the name page.
pub async fn verify(
    state: &AppState,
    challenge_id: &str,
    browser_hash: Option<String>,
    code_input: &str,
    name: NameInput<'_>,
    user_agent: Option<&str>,
) -> Result<Verified, LoginError> {
    let code = match LoginCode::parse_input(code_input) {
        Ok(code) => code,
        Err(e) => {
            return Err(
                on_code_page(state, challenge_id, browser_hash, CodeProblem::BadCode(e)).await,
            );
        }
    };
    let name = match name.parse() {
        Ok(name) => name,
        Err(e) => {
            return Err(
                on_code_page(state, challenge_id, browser_hash, CodeProblem::BadName(e)).await,
            );
        }
    };
    let now = state.clock.now();
    let token = SessionToken::generate();
    let request = VerifyRequest {
        candidate: code.hash(&state.secret, challenge_id),
        challenge_id: ChallengeId::presented(challenge_id),
        browser_hash,
        name,
        names_after_code: state.config.signup.ask_name == AskName::AfterCode,
        max_attempts: state.config.code.max_attempts.get(),
        limits: limits(state),
        session: new_session(state, &token, now, user_agent),
        name_window_secs: code_ttl(state),
        now,
    };
    match state.storage.verify_code(request).await? {
        VerifyOutcome::SignedIn { session, new_user } => {
            log_signed_in(&session, new_user);
            Ok(Verified::SignedIn(SignedIn {
                token,
                session,
                new_user,
            }))
        }
        VerifyOutcome::NeedsName(info) => Ok(Verified::NeedsName(info)),
        VerifyOutcome::Closed(closed) => Err(LoginError::Closed(closed)),
        VerifyOutcome::Refused(refusal, info) => Err(LoginError::Limited(refusal, Some(info))),
        VerifyOutcome::WrongCode(info) => {
            tracing::info!(to = %info.email.masked(), attempts_left = info.attempts_left, "wrong code");
            state.metrics.wrong_code();
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
    state: &AppState,
    challenge_id: &str,
    browser_hash: Option<String>,
    name: NameInput<'_>,
    user_agent: Option<&str>,
) -> Result<SignedIn, LoginError> {
    let name = match name.parse() {
        Ok(Some(name)) => name,
        Ok(None) => {
            return Err(name_page_error(
                state,
                challenge_id,
                browser_hash,
                crate::domain::NameError::FirstMissing,
            )
            .await);
        }
        Err(e) => return Err(name_page_error(state, challenge_id, browser_hash, e).await),
    };
    let now = state.clock.now();
    let token = SessionToken::generate();
    let session = new_session(state, &token, now, user_agent);
    let max_attempts = state.config.code.max_attempts.get();
    let outcome = state
        .storage
        .complete_signup(CompleteRequest {
            challenge_id: ChallengeId::presented(challenge_id),
            browser_hash,
            name,
            session,
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
        CompleteOutcome::CodeNeeded(info) => Err(LoginError::OnCodePage {
            info,
            problem: CodeProblem::CodeNeeded,
        }),
    }
}

/// Mails a fresh code for the same sign-in, written in `language`; earlier codes
/// stay valid.
pub async fn resend(
    state: &AppState,
    challenge_id: &str,
    browser_hash: Option<String>,
    client_ip: IpAddr,
    language: Language,
) -> Result<ChallengeInfo, LoginError> {
    let now = state.clock.now();
    let code = LoginCode::generate();
    let expires_at = now + code_ttl(state);
    let code_hash = code.hash(&state.secret, challenge_id);
    let mail_state = MailParts::from(state, language);
    let outcome = state
        .storage
        .resend_code(
            ResendRequest {
                challenge_id: ChallengeId::presented(challenge_id),
                browser_hash,
                code_hash,
                code_expires_at: expires_at,
                ip: client_ip.to_string(),
                limits: limits(state),
                max_attempts: state.config.code.max_attempts.get(),
                now,
            },
            move |to| mail_state.new_mail(to, &code, expires_at),
        )
        .await?;
    match outcome {
        ResendOutcome::Resent(info) => {
            state.mail.wake();
            tracing::info!(to = %info.email.masked(), "new code queued");
            Ok(info)
        }
        ResendOutcome::Closed(closed) => Err(LoginError::Closed(closed)),
        ResendOutcome::Refused(refusal, info) => Err(LoginError::Limited(refusal, Some(info))),
    }
}

/// Loads the sign-in so an error can be shown on its code page.
async fn on_code_page(
    state: &AppState,
    challenge_id: &str,
    browser_hash: Option<String>,
    problem: CodeProblem,
) -> LoginError {
    let max_attempts = state.config.code.max_attempts.get();
    match state
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
    state: &AppState,
    challenge_id: &str,
    browser_hash: Option<String>,
    problem: crate::domain::NameError,
) -> LoginError {
    match on_code_page(state, challenge_id, browser_hash, CodeProblem::CodeNeeded).await {
        LoginError::OnCodePage { info, .. } => LoginError::OnNamePage { info, problem },
        other => other,
    }
}

fn new_session(
    state: &AppState,
    token: &SessionToken,
    now: i64,
    user_agent: Option<&str>,
) -> NewSession {
    let ttl = i64::try_from(state.config.session.ttl_secs.get()).unwrap_or(i64::MAX / 4);
    NewSession {
        token_hash: token.hash(),
        public_id: PublicSessionId::generate(),
        expires_at: now + ttl,
        // Kept for the sessions list only; cut so a huge header cannot bloat the row.
        user_agent: user_agent.map(|ua| ua.chars().filter(|c| !c.is_control()).take(512).collect()),
    }
}

fn log_signed_in(session: &SessionRecord, new_user: bool) {
    tracing::info!(user_id = session.user_id, new_user, "signed in");
}

/// What sealing a code needs; for a resend it moves into the storage transaction,
/// which is where the recipient is learnt. Message-IDs name the public host.
struct MailParts {
    secret: crate::domain::ServerSecret,
    host: String,
    language: Language,
}

impl MailParts {
    fn from(state: &AppState, language: Language) -> Self {
        Self {
            secret: state.secret.clone(),
            host: state.config.server.base_url.host().to_owned(),
            language,
        }
    }

    fn new_mail(&self, to: &EmailAddress, code: &LoginCode, expires_at: i64) -> NewMail {
        let message_id = format!("<{}@{}>", RandomId::generate().as_str(), self.host);
        NewMail {
            sealed_code: seal_code(&self.secret, &message_id, code),
            recipient: to.clone(),
            message_id,
            expires_at,
            language: self.language.code().to_owned(),
        }
    }
}
