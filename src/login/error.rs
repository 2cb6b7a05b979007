use std::fmt;
use std::sync::Arc;

use crate::captcha::CaptchaError;
use crate::domain::{EmailError, LoginCodeError, NameError};
use crate::i18n::Language;
use crate::storage::{ChallengeInfo, Closed, Refusal, SignupMode, SignupPolicy, StorageError};

/// Everything that can stop a sign-in, in terms a person can act on. The HTTP
/// layers map each variant to a status and a page or JSON body in one place.
///
/// The words come from the language catalogues ([`LoginError::message`]); `Display`
/// is the English text, which the JSON API and the logs use.
#[derive(Debug)]
pub enum LoginError {
    InvalidEmail(EmailError),
    CaptchaMissing,
    CaptchaRejected,
    CaptchaUnavailable(anyhow::Error),
    /// A limit was reached; the sign-in's details when it has a code page to return to.
    Limited(Refusal, Option<ChallengeInfo>),
    Closed(Closed),
    /// A new address that may not make an account here (`[signup]`).
    SignupClosed(Arc<SignupPolicy>),
    OnCodePage {
        info: ChallengeInfo,
        problem: CodeProblem,
    },
    OnNamePage {
        info: ChallengeInfo,
        problem: NameError,
    },
    Unavailable(StorageError),
}

/// What is wrong with a code-page submission; the sign-in itself is still usable.
#[derive(Debug)]
pub enum CodeProblem {
    BadCode(LoginCodeError),
    WrongCode,
    BadName(NameError),
    CodeNeeded,
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Language::english()))
    }
}

impl std::error::Error for LoginError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoginError::CaptchaUnavailable(e) => Some(e.as_ref()),
            LoginError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StorageError> for LoginError {
    fn from(error: StorageError) -> Self {
        LoginError::Unavailable(error)
    }
}

impl From<CaptchaError> for LoginError {
    fn from(error: CaptchaError) -> Self {
        match error {
            CaptchaError::Missing => LoginError::CaptchaMissing,
            CaptchaError::Rejected(codes) => {
                tracing::info!(codes = ?codes, "captcha: answer refused");
                LoginError::CaptchaRejected
            }
            CaptchaError::Unavailable(e) => LoginError::CaptchaUnavailable(e),
        }
    }
}

impl LoginError {
    /// The HTTP status every surface uses for this error.
    pub fn status(&self) -> u16 {
        match self {
            LoginError::Limited(..) => 429,
            LoginError::SignupClosed(_) => 403,
            LoginError::CaptchaUnavailable(_) | LoginError::Unavailable(_) => 503,
            _ => 400,
        }
    }

    /// Seconds for `Retry-After`, when the error is a limit.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            LoginError::Limited(refusal, _) => Some(refusal.retry_after()),
            _ => None,
        }
    }

    /// A stable machine-readable code (for the JSON API and logs).
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::InvalidEmail(_) => "invalid_email",
            LoginError::CaptchaMissing => "captcha_missing",
            LoginError::CaptchaRejected => "captcha_failed",
            LoginError::CaptchaUnavailable(_) => "captcha_unavailable",
            LoginError::Limited(..) => "rate_limited",
            LoginError::SignupClosed(_) => "signup_closed",
            LoginError::Closed(Closed::Expired) => "code_expired",
            LoginError::Closed(Closed::OutOfAttempts) => "too_many_attempts",
            LoginError::Closed(Closed::Finished) => "code_used",
            LoginError::Closed(Closed::OtherBrowser) => "other_browser",
            LoginError::Closed(Closed::Unknown) => "unknown_challenge",
            LoginError::OnCodePage {
                problem: CodeProblem::WrongCode,
                ..
            } => "wrong_code",
            LoginError::OnCodePage {
                problem: CodeProblem::BadCode(_),
                ..
            } => "invalid_code",
            LoginError::OnCodePage {
                problem: CodeProblem::CodeNeeded,
                ..
            } => "code_required",
            LoginError::OnCodePage {
                problem: CodeProblem::BadName(_),
                ..
            }
            | LoginError::OnNamePage { .. } => "invalid_name",
            LoginError::Unavailable(_) => "unavailable",
        }
    }

    /// Writes the one log line a broken dependency deserves; people see only the
    /// generic message.
    pub fn log_if_dependency_failed(&self) {
        match self {
            LoginError::CaptchaUnavailable(e) => {
                tracing::error!(error = %format!("{e:#}"), "captcha: the answer cannot be checked; sign-in refused (503)");
            }
            LoginError::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable; request refused (503)");
            }
            _ => {}
        }
    }
}

impl LoginError {
    /// What the person reads, in `lang`. A wrong code says how many attempts are left.
    pub fn message(&self, lang: Language) -> String {
        match self {
            LoginError::InvalidEmail(e) => lang.text(email_key(e)).to_owned(),
            LoginError::CaptchaMissing => lang.text("error.captcha_missing").to_owned(),
            LoginError::CaptchaRejected => lang.text("error.captcha_rejected").to_owned(),
            LoginError::CaptchaUnavailable(_) => lang.text("error.captcha_unavailable").to_owned(),
            LoginError::Limited(refusal, _) => limited_message(refusal, lang),
            LoginError::Closed(closed) => lang.text(closed_key(*closed)).to_owned(),
            LoginError::SignupClosed(policy) => match policy.mode {
                SignupMode::Domains => lang.fill(
                    "error.signup.domains",
                    &[("domains", &policy.allowed_domains.join(", "))],
                ),
                SignupMode::Invite => lang.text("error.signup.invite").to_owned(),
                SignupMode::Open | SignupMode::Closed => {
                    lang.text("error.signup.closed").to_owned()
                }
            },
            LoginError::OnCodePage { info, problem } => match problem {
                CodeProblem::WrongCode => lang.count("code.wrong", i64::from(info.attempts_left)),
                CodeProblem::BadCode(e) => lang.text(code_key(e)).to_owned(),
                CodeProblem::BadName(e) => lang.text(name_key(e)).to_owned(),
                CodeProblem::CodeNeeded => lang.text("error.code.needed").to_owned(),
            },
            LoginError::OnNamePage { problem, .. } => lang.text(name_key(problem)).to_owned(),
            LoginError::Unavailable(_) => lang.text("error.unavailable").to_owned(),
        }
    }
}

/// Catalogue keys of the parsers' errors, which the pages show in the person's
/// language (their `Display` stays English for the API and the command line).
pub fn email_key(error: &EmailError) -> &'static str {
    match error {
        EmailError::Empty => "error.email.empty",
        EmailError::TooLong => "error.email.too_long",
        EmailError::ForbiddenCharacter => "error.email.forbidden_character",
        EmailError::NotOneAt => "error.email.not_one_at",
        EmailError::EmptyLocalPart => "error.email.empty_local_part",
        EmailError::BadDomain => "error.email.bad_domain",
        EmailError::Invalid => "error.email.invalid",
    }
}

pub fn name_key(error: &NameError) -> &'static str {
    match error {
        NameError::FirstMissing => "error.name.first_missing",
        NameError::FirstTooLong => "error.name.first_too_long",
        NameError::LastTooLong => "error.name.last_too_long",
        NameError::ControlCharacter => "error.name.control_character",
        NameError::TooManyMarks => "error.name.too_many_marks",
    }
}

fn code_key(error: &LoginCodeError) -> &'static str {
    match error {
        LoginCodeError::Empty => "error.code.empty",
        LoginCodeError::NotSixDigits => "error.code.not_six_digits",
    }
}

fn limited_message(refusal: &Refusal, lang: Language) -> String {
    let wait = wait_text(refusal.retry_after(), lang);
    let key = match refusal {
        Refusal::EmailHourly { .. } => "error.limit.email",
        Refusal::IpHourly { .. } => "error.limit.ip",
        Refusal::AccountHourly { .. } => "error.limit.account",
        Refusal::FailureBudget { .. } => "error.limit.failures",
        Refusal::ResendTooSoon { .. } => "error.limit.resend",
    };
    lang.fill(key, &[("wait", &wait)])
}

fn wait_text(secs: i64, lang: Language) -> String {
    match secs {
        ..=1 => lang.text("wait.a_second").to_owned(),
        2..=59 => lang.fill("wait.seconds", &[("n", &secs)]),
        60..=119 => lang.text("wait.a_minute").to_owned(),
        _ => lang.fill("wait.minutes", &[("n", &((secs + 59) / 60))]),
    }
}

fn closed_key(closed: Closed) -> &'static str {
    match closed {
        Closed::Unknown => "error.closed.unknown",
        Closed::OtherBrowser => "error.closed.other_browser",
        Closed::Finished => "error.closed.used",
        Closed::Expired => "error.closed.expired",
        Closed::OutOfAttempts => "error.closed.no_attempts",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_naturally() {
        let en = Language::english();
        assert_eq!(wait_text(0, en), "a second");
        assert_eq!(wait_text(42, en), "42 seconds");
        assert_eq!(wait_text(61, en), "a minute");
        assert_eq!(wait_text(3599, en), "60 minutes");
        let de = Language::find("de").unwrap();
        assert_eq!(wait_text(42, de), "42 Sekunden");
        assert_eq!(wait_text(61, de), "einer Minute");
    }

    /// The JSON API and the command line print the parsers' own English; the pages
    /// print the catalogue's. They must say the same.
    #[test]
    fn the_english_catalogue_says_what_the_parsers_say() {
        let en = Language::english();
        for e in [
            EmailError::Empty,
            EmailError::TooLong,
            EmailError::ForbiddenCharacter,
            EmailError::NotOneAt,
            EmailError::EmptyLocalPart,
            EmailError::BadDomain,
            EmailError::Invalid,
        ] {
            assert_eq!(
                en.lookup(email_key(&e)),
                Some(e.to_string().as_str()),
                "{e:?}"
            );
        }
        for e in [
            NameError::FirstMissing,
            NameError::FirstTooLong,
            NameError::LastTooLong,
            NameError::ControlCharacter,
            NameError::TooManyMarks,
        ] {
            assert_eq!(
                en.lookup(name_key(&e)),
                Some(e.to_string().as_str()),
                "{e:?}"
            );
        }
        for e in [LoginCodeError::Empty, LoginCodeError::NotSixDigits] {
            assert_eq!(
                en.lookup(code_key(&e)),
                Some(e.to_string().as_str()),
                "{e:?}"
            );
        }
    }

    #[test]
    fn every_error_reads_in_every_language() {
        let info = ChallengeInfo {
            id: crate::domain::ChallengeId::presented("x"),
            email: crate::domain::EmailAddress::from_trusted("a@b.co".into()),
            has_account: false,
            expires_at: 0,
            attempts_left: 4,
        };
        let refusals = [
            Refusal::EmailHourly { retry_after: 600 },
            Refusal::IpHourly { retry_after: 30 },
            Refusal::FailureBudget { retry_after: 1 },
            Refusal::ResendTooSoon { retry_after: 61 },
        ];
        let policy = |mode| {
            Arc::new(SignupPolicy {
                mode,
                allowed_domains: vec!["example.com".into(), "example.org".into()],
            })
        };
        let mut errors = vec![
            LoginError::SignupClosed(policy(SignupMode::Closed)),
            LoginError::SignupClosed(policy(SignupMode::Invite)),
            LoginError::SignupClosed(policy(SignupMode::Domains)),
            LoginError::InvalidEmail(EmailError::NotOneAt),
            LoginError::CaptchaMissing,
            LoginError::CaptchaRejected,
            LoginError::CaptchaUnavailable(anyhow::anyhow!("down")),
            LoginError::Unavailable(StorageError::from(anyhow::anyhow!("disk full"))),
            LoginError::OnCodePage {
                info: info.clone(),
                problem: CodeProblem::WrongCode,
            },
            LoginError::OnCodePage {
                info: info.clone(),
                problem: CodeProblem::CodeNeeded,
            },
            LoginError::OnCodePage {
                info: info.clone(),
                problem: CodeProblem::BadCode(LoginCodeError::NotSixDigits),
            },
            LoginError::OnNamePage {
                info: info.clone(),
                problem: NameError::FirstMissing,
            },
        ];
        errors.extend(refusals.map(|r| LoginError::Limited(r, None)));
        errors.extend(
            [
                Closed::Unknown,
                Closed::OtherBrowser,
                Closed::Finished,
                Closed::Expired,
                Closed::OutOfAttempts,
            ]
            .map(LoginError::Closed),
        );
        for lang in Language::all() {
            for error in &errors {
                let message = error.message(lang);
                assert!(
                    !message.contains("error.") && !message.contains('{') && message.len() > 10,
                    "{lang}: {error:?} reads `{message}`"
                );
                assert!(
                    !message.contains("disk full") && !message.contains("down"),
                    "{message}"
                );
            }
        }
        let wrong = LoginError::OnCodePage {
            info,
            problem: CodeProblem::WrongCode,
        };
        assert_eq!(
            wrong.to_string(),
            "That code is not right. You have 4 attempts left."
        );
        assert_eq!(
            LoginError::Limited(Refusal::ResendTooSoon { retry_after: 42 }, None)
                .message(Language::find("de").unwrap()),
            "Gerade wurde ein Code geschickt. Du kannst in 42 Sekunden einen neuen anfordern."
        );
    }
}
