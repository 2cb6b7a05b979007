//! The browser forms, as decoded from `application/x-www-form-urlencoded` bodies.
//! Every field is optional here so that a missing one becomes a readable message
//! from the flow rather than a decoding error.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::CaptchaSettings;

/// `POST /login`.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    pub email: String,
    /// Turnstile's widget's token.
    #[serde(default, rename = "cf-turnstile-response")]
    pub turnstile: String,
    /// hCaptcha's widget's token.
    #[serde(default, rename = "h-captcha-response")]
    pub hcaptcha: String,
    /// ALTCHA's widget's answer.
    #[serde(default)]
    pub altcha: String,
    /// Where to go after signing in; checked again before use.
    pub next: Option<String>,
}

impl StartForm {
    /// The field the provider's widget fills in.
    pub fn captcha(&self, provider: Option<&CaptchaSettings>) -> &str {
        match provider {
            Some(CaptchaSettings::Hcaptcha(_)) => &self.hcaptcha,
            Some(CaptchaSettings::Altcha(_)) => &self.altcha,
            Some(CaptchaSettings::Turnstile(_)) | None => &self.turnstile,
        }
    }
}

/// `POST /login/verify`: the code page (code, and names for a new address) or the
/// name page (names only).
#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    pub challenge: String,
    pub code: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub next: Option<String>,
}

/// `POST /login/resend`.
#[derive(Debug, Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    pub challenge: String,
    pub next: Option<String>,
}

/// Decodes a form body; `None` when it is not a readable form.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_urlencoded::from_bytes(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailAddress, LoginCode, PersonName, RandomId, SessionToken};
    use proptest::prelude::*;

    #[test]
    fn fields_decode_and_missing_ones_are_empty() {
        let form: StartForm =
            decode(b"email=a%40b.co&cf-turnstile-response=XXXX.DUMMY.TOKEN.XXXX").unwrap();
        assert_eq!(form.email, "a@b.co");
        assert_eq!(form.captcha(None), "XXXX.DUMMY.TOKEN.XXXX");
        let form: VerifyForm = decode(b"challenge=abc&code=123+456").unwrap();
        assert_eq!(form.code.as_deref(), Some("123 456"));
        assert!(form.first_name.is_none());
        let empty: ResendForm = decode(b"").unwrap();
        assert_eq!(empty.challenge, "");
    }

    proptest! {
        /// Any body at all: decoding and everything downstream of it never panics.
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Some(form) = decode::<VerifyForm>(&body) {
                let _ = RandomId::parse(&form.challenge);
                let _ = LoginCode::parse_input(form.code.as_deref().unwrap_or(""));
                let _ = PersonName::parse(form.first_name.as_deref().unwrap_or(""), form.last_name.as_deref().unwrap_or(""));
            }
            if let Some(form) = decode::<StartForm>(&body) {
                let _ = EmailAddress::parse(&form.email);
            }
            let _ = decode::<ResendForm>(&body);
        }

        /// Form-encoded values round-trip, whatever they contain.
        #[test]
        fn encoded_values_decode_to_themselves(email in "\\PC{0,40}", code in "\\PC{0,12}") {
            let body = serde_urlencoded::to_string([("email", &email), ("code", &code)]).unwrap();
            let start: StartForm = decode(body.as_bytes()).unwrap();
            prop_assert_eq!(&start.email, &email);
            let verify: VerifyForm = decode(body.as_bytes()).unwrap();
            prop_assert_eq!(verify.code.as_deref(), Some(code.as_str()));
        }

        /// Cookie values: only the exact shapes doorcode issues are accepted, and
        /// accepted values are returned unchanged.
        #[test]
        fn cookie_values_are_accepted_only_in_their_own_shape(value in "\\PC{0,70}|[A-Za-z0-9_-]{43}|[0-9a-f]{32}") {
            if let Some(token) = SessionToken::from_presented(&value) {
                prop_assert_eq!(token.expose(), value.as_str());
                prop_assert_eq!(value.len(), 43);
            }
            if let Some(id) = RandomId::parse(&value) {
                prop_assert_eq!(id.as_str(), value.as_str());
            }
        }
    }
}
