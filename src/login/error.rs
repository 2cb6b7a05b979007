use crate::domain::{EmailError, LoginCodeError, NameError};
use crate::storage::{ChallengeInfo, Closed, Refusal, StorageError};
use crate::turnstile::TurnstileError;

/// Everything that can stop a sign-in, in terms a person can act on. The HTTP
/// layers map each variant to a status and a page or JSON body in one place.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{0}")]
    InvalidEmail(EmailError),
    #[error("Please complete the security check, then try again.")]
    CaptchaMissing,
    #[error("The security check did not pass. Please try again.")]
    CaptchaRejected,
    #[error("The security check cannot be reached right now. Please try again in a minute.")]
    CaptchaUnavailable(#[source] anyhow::Error),
    /// A limit was reached; the sign-in's details when it has a code page to return to.
    #[error("{}", limited_message(.0))]
    Limited(Refusal, Option<ChallengeInfo>),
    #[error("{}", closed_message(*.0))]
    Closed(Closed),
    #[error("{problem}")]
    OnCodePage {
        info: ChallengeInfo,
        problem: CodeProblem,
    },
    #[error("{problem}")]
    OnNamePage {
        info: ChallengeInfo,
        problem: NameError,
    },
    #[error("Sign-in is unavailable right now. Please try again in a minute.")]
    Unavailable(#[from] StorageError),
}

/// What is wrong with a code-page submission; the sign-in itself is still usable.
#[derive(Debug, thiserror::Error)]
pub enum CodeProblem {
    #[error("{0}")]
    BadCode(LoginCodeError),
    #[error("That code is not right.")]
    WrongCode,
    #[error("{0}")]
    BadName(NameError),
    #[error("Enter the 6-digit code from the email first.")]
    CodeNeeded,
}

impl From<TurnstileError> for LoginError {
    fn from(error: TurnstileError) -> Self {
        match error {
            TurnstileError::Missing => LoginError::CaptchaMissing,
            TurnstileError::Rejected(codes) => {
                tracing::info!(codes = ?codes, "turnstile: token rejected");
                LoginError::CaptchaRejected
            }
            TurnstileError::Unavailable(e) => LoginError::CaptchaUnavailable(e),
        }
    }
}

impl LoginError {
    /// The HTTP status every surface uses for this error.
    pub fn status(&self) -> u16 {
        match self {
            LoginError::Limited(..) => 429,
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
                tracing::error!(error = %format!("{e:#}"), "turnstile: siteverify unavailable; sign-in refused (503)");
            }
            LoginError::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable; request refused (503)");
            }
            _ => {}
        }
    }
}

fn limited_message(refusal: &Refusal) -> String {
    let wait = wait_text(refusal.retry_after());
    match refusal {
        Refusal::EmailHourly { .. } => {
            format!("Too many codes were sent to this address. You can ask for another in {wait}.")
        }
        Refusal::IpHourly { .. } => {
            format!("Too many sign-in attempts from your network. Please try again in {wait}.")
        }
        Refusal::FailureBudget { .. } => format!(
            "Too many wrong codes were entered for this address. Please try again in {wait}."
        ),
        Refusal::ResendTooSoon { .. } => {
            format!("A code was just sent. You can ask for a new one in {wait}.")
        }
    }
}

fn wait_text(secs: i64) -> String {
    match secs {
        ..=1 => "a second".into(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "a minute".into(),
        _ => format!("{} minutes", (secs + 59) / 60),
    }
}

fn closed_message(closed: Closed) -> &'static str {
    match closed {
        Closed::Unknown => "This sign-in has expired or is no longer valid. Please start again.",
        Closed::OtherBrowser => {
            "This code page belongs to a sign-in started in another browser. For your safety, \
             codes only work in the browser that asked for them. Please start again here."
        }
        Closed::Finished => "This code has already been used. Please start again to get a new one.",
        Closed::Expired => "This code has expired. Please start again to get a new one.",
        Closed::OutOfAttempts => {
            "That code is not right, and there are no attempts left. Please start again to get a new code."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wait_text;

    #[test]
    fn waits_read_naturally() {
        assert_eq!(wait_text(0), "a second");
        assert_eq!(wait_text(42), "42 seconds");
        assert_eq!(wait_text(61), "a minute");
        assert_eq!(wait_text(3599), "60 minutes");
    }
}
