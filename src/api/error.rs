//! The API's failures: one error body, the statuses each group of routes can answer,
//! and the one mapping from a sign-in error to a status and body.

use poem::Response;
use poem::http::{HeaderValue, StatusCode, header};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::login::LoginError;
use crate::login::emails::AddressError;
use crate::passkeys::PasskeyError;
use crate::storage::StorageError;

/// Every failure's body.
#[derive(Object, Debug)]
#[oai(rename = "Error")]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `invalid_email`, `wrong_code`,
    /// `rate_limited`, `unauthorized`.
    pub error: String,
    /// What went wrong, as a sentence to show a person.
    pub message: String,
}

fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        error: code.to_owned(),
        message: message.into(),
    })
}

/// A failure as a plain response, for answers given outside an operation: the
/// guard's refusals and poem's own errors.
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = poem::IntoResponse::into_response(body(code, message));
    response.set_status(status);
    let no_store = HeaderValue::from_static("no-store");
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, no_store);
    response
}

// Some statuses are answered before an operation runs (403 and 413 by the guard
// every request passes, 415 by the JSON body parser); their variants document them.

/// What the sign-in routes can answer besides success.
#[derive(ApiResponse, Debug)]
#[allow(dead_code)]
pub enum LoginFailure {
    /// Bad input, a failed CAPTCHA, or a sign-in that cannot continue: `invalid_email`,
    /// `captcha_missing`, `captcha_failed`, `invalid_code`, `wrong_code`,
    /// `code_expired`, `too_many_attempts`, `code_used`, `unknown_challenge`,
    /// `other_browser`, `name_required`, `invalid_name`, `invalid_request`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// `cross_origin`: a browser sent this from another site's page.
    /// `signup_closed`: this address has no account and may not make one here
    /// (`signup.mode`); answered by `login` when the service asks names with the
    /// code, else by `login/verify` after the right code.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// `too_large`: the body is over 16 KiB.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// `unsupported_media_type`: the body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// `rate_limited`: too many codes or wrong codes; try again after `Retry-After`.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        i64,
    ),
    /// `captcha_unavailable` or `unavailable`: a dependency is down; try again soon.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl LoginFailure {
    /// A new address's sign-up needs a first name. The code stays usable: the same
    /// request sent again with the names finishes it.
    pub fn name_required() -> Self {
        LoginFailure::BadRequest(body(
            "name_required",
            "This address has no account yet. Send the request again with first_name \
             (and last_name if you like) to finish signing up.",
        ))
    }
}

impl From<LoginError> for LoginFailure {
    fn from(error: LoginError) -> Self {
        error.log_if_dependency_failed();
        // English, whatever the client's language: a wrong code says how many
        // attempts are left.
        let message = error.to_string();
        let code = error.code();
        match (error.retry_after(), error.status()) {
            (Some(secs), _) => LoginFailure::TooManyRequests(body(code, message), secs.max(1)),
            (None, 503) => LoginFailure::Unavailable(body(code, message)),
            (None, 403) => LoginFailure::Forbidden(body(code, message)),
            (None, _) => LoginFailure::BadRequest(body(code, message)),
        }
    }
}

/// Why a request that needs a session cannot go on.
#[derive(Debug)]
pub enum Denied {
    /// No session, or not a live one.
    Unauthorized,
    Unavailable(StorageError),
}

impl From<StorageError> for Denied {
    fn from(error: StorageError) -> Self {
        Denied::Unavailable(error)
    }
}

const UNAUTHORIZED: &str = "Sign in first: send the session cookie, or an \
    Authorization: Bearer header with the token from verify.";
const UNAVAILABLE: &str = "Sessions cannot be checked right now. Please try again in a minute.";

/// A failure type for routes that need a session, with the extra statuses it lists.
macro_rules! session_failure {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* status $status:tt => $variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(ApiResponse, Debug)]
        #[allow(dead_code)]
        pub enum $name {
            /// `unauthorized`: no session, or not a live one.
            #[oai(status = 401)]
            Unauthorized(
                Json<ErrorBody>,
                /// Always `Bearer`.
                #[oai(header = "WWW-Authenticate")]
                String,
            ),
            $($(#[$vdoc])* #[oai(status = $status)] $variant(Json<ErrorBody>),)*
            /// `unavailable`: the database cannot answer; try again soon.
            #[oai(status = 503)]
            Unavailable(Json<ErrorBody>),
        }

        impl From<Denied> for $name {
            fn from(denied: Denied) -> Self {
                match denied {
                    Denied::Unauthorized => {
                        $name::Unauthorized(body("unauthorized", UNAUTHORIZED), "Bearer".into())
                    }
                    Denied::Unavailable(e) => {
                        tracing::error!(error = %e, "database unavailable; API request refused (503)");
                        $name::Unavailable(body("unavailable", UNAVAILABLE))
                    }
                }
            }
        }

        impl From<StorageError> for $name {
            fn from(error: StorageError) -> Self {
                Denied::Unavailable(error).into()
            }
        }
    };
}

session_failure! {
    /// What reading the caller's session or sessions can answer besides success.
    ReadFailure {
        /// `too_large`: the request is over 16 KiB.
        status 413 => TooLarge,
    }
}

session_failure! {
    /// What signing out can answer besides success.
    SignOutFailure {
        /// `cross_origin`: a browser sent this from another site's page.
        status 403 => Forbidden,
        /// `too_large`: the request is over 16 KiB.
        status 413 => TooLarge,
    }
}

session_failure! {
    /// What ending one session can answer besides success.
    EndFailure {
        /// `cross_origin`: a browser sent this from another site's page.
        status 403 => Forbidden,
        /// `not_found`: no session of the caller's has this id.
        status 404 => NotFound,
        /// `too_large`: the request is over 16 KiB.
        status 413 => TooLarge,
    }
}

impl EndFailure {
    pub fn not_found() -> Self {
        EndFailure::NotFound(body(
            "not_found",
            "None of your sessions has this id. It may have ended already.",
        ))
    }
}

/// What the passkey routes can answer besides success.
#[derive(ApiResponse, Debug)]
#[allow(dead_code)]
pub enum PasskeyFailure {
    /// The answer cannot be used: `ceremony_expired` (unknown, used, or over five
    /// minutes old), `invalid_credential`, `unknown_passkey`, `user_not_verified`,
    /// `passkey_refused` (signature, origin, relying party or counter),
    /// `invalid_name`, `invalid_request`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// `unauthorized`: no session, or not a live one (the calls for one's own
    /// passkeys).
    #[oai(status = 401)]
    Unauthorized(
        Json<ErrorBody>,
        /// Always `Bearer`.
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// `cross_origin`: a browser sent this from another site's page.
    /// `passkeys_disabled`: `passkeys.enabled` is off.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// `not_found`: the caller has no passkey with this id.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// `already_registered`: this authenticator's passkey is registered already.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// `too_large`: the body is over 16 KiB.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// `unsupported_media_type`: the body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// `rate_limited`: too many ceremonies from this network; try again after
    /// `Retry-After`.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        i64,
    ),
    /// `unavailable`: the database cannot answer; try again soon.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl From<PasskeyError> for PasskeyFailure {
    fn from(error: PasskeyError) -> Self {
        let reply = body(error.code(), error.message());
        match error {
            PasskeyError::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable; passkey request refused (503)");
                PasskeyFailure::Unavailable(reply)
            }
            PasskeyError::Limited(refusal) => {
                PasskeyFailure::TooManyRequests(reply, refusal.retry_after())
            }
            PasskeyError::Disabled => PasskeyFailure::Forbidden(reply),
            PasskeyError::NotFound => PasskeyFailure::NotFound(reply),
            PasskeyError::AlreadyRegistered => PasskeyFailure::Conflict(reply),
            other => {
                tracing::info!(error = %other, "passkey ceremony refused");
                PasskeyFailure::BadRequest(reply)
            }
        }
    }
}

impl From<Denied> for PasskeyFailure {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthorized => {
                PasskeyFailure::Unauthorized(body("unauthorized", UNAUTHORIZED), "Bearer".into())
            }
            Denied::Unavailable(e) => PasskeyError::Unavailable(e).into(),
        }
    }
}

/// What the address routes can answer besides success.
#[derive(ApiResponse, Debug)]
#[allow(dead_code)]
pub enum EmailFailure {
    /// `invalid_email`, `invalid_code`, `wrong_code`, `code_expired`,
    /// `too_many_attempts`, `code_used`, `unknown_challenge`, `other_browser` (the
    /// code was asked for in another session), `already_yours`, `email_in_use`
    /// (the address belongs to another account), `too_many_emails`, `last_email`,
    /// `invalid_request`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// `unauthorized`: no session, or not a live one.
    #[oai(status = 401)]
    Unauthorized(
        Json<ErrorBody>,
        /// Always `Bearer`.
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// `cross_origin`: a browser sent this from another site's page.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// `not_found`: the address is not one of the caller's.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// `too_large`: the body is over 16 KiB.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// `unsupported_media_type`: the body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// `rate_limited`: too many codes or wrong codes; try again after `Retry-After`.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        i64,
    ),
    /// `unavailable`: the database cannot answer; try again soon.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl From<AddressError> for EmailFailure {
    fn from(error: AddressError) -> Self {
        error.log_if_dependency_failed();
        let reply = body(error.code(), error.to_string());
        match (error.retry_after(), error.status()) {
            (Some(secs), _) => EmailFailure::TooManyRequests(reply, secs.max(1)),
            (None, 503) => EmailFailure::Unavailable(reply),
            (None, 404) => EmailFailure::NotFound(reply),
            (None, _) => EmailFailure::BadRequest(reply),
        }
    }
}

impl From<StorageError> for EmailFailure {
    fn from(error: StorageError) -> Self {
        AddressError::from(error).into()
    }
}

impl From<Denied> for EmailFailure {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthorized => {
                EmailFailure::Unauthorized(body("unauthorized", UNAUTHORIZED), "Bearer".into())
            }
            Denied::Unavailable(e) => e.into(),
        }
    }
}
