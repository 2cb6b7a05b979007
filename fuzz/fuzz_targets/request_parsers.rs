//! Everything doorcode parses from a request body or cookie, fed arbitrary bytes:
//! nothing may panic, and every normaliser must be idempotent.
#![no_main]

use doorcode::domain::{EmailAddress, LoginCode, PersonName, RandomId, SessionToken};
use doorcode::forms::{self, ResendForm, StartForm, VerifyForm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(form) = forms::decode::<StartForm>(data)
        && let Ok(email) = EmailAddress::parse(&form.email)
    {
        assert_eq!(EmailAddress::parse(email.as_str()).as_ref(), Ok(&email));
    }
    if let Some(form) = forms::decode::<VerifyForm>(data) {
        let _ = RandomId::parse(&form.challenge);
        if let Ok(code) = LoginCode::parse_input(form.code.as_deref().unwrap_or("")) {
            assert_eq!(LoginCode::parse_input(code.as_str()).as_ref(), Ok(&code));
        }
        let _ = PersonName::parse(
            form.first_name.as_deref().unwrap_or(""),
            form.last_name.as_deref().unwrap_or(""),
        );
    }
    let _ = forms::decode::<ResendForm>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = SessionToken::from_presented(text);
        let _ = RandomId::parse(text);
    }
});
