//! Codes wait in the mail queue sealed with XChaCha20-Poly1305 under a key derived
//! from the server secret, so the database alone never holds a usable code.

use crate::domain::{LoginCode, ServerSecret};

const PURPOSE: &str = "outbox code v1";

/// `nonce ‖ ciphertext`, bound to `message_id` so a sealed code cannot be moved to
/// another queued message.
pub fn seal_code(secret: &ServerSecret, message_id: &str, code: &LoginCode) -> Vec<u8> {
    secret.seal(PURPOSE, message_id.as_bytes(), code.as_str().as_bytes())
}

/// `None` when the bytes were not sealed for this message with this secret.
pub fn open_code(secret: &ServerSecret, message_id: &str, sealed: &[u8]) -> Option<LoginCode> {
    let plain = secret.open(PURPOSE, message_id.as_bytes(), sealed)?;
    LoginCode::parse_input(std::str::from_utf8(&plain).ok()?).ok()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_code_opens_only_for_its_message_and_secret() {
        let secret = ServerSecret::from_bytes(vec![1; 32]);
        let code = LoginCode::parse_input("314159").unwrap();
        let sealed = seal_code(&secret, "<a@x>", &code);
        assert!(
            !sealed.windows(6).any(|w| w == b"314159"),
            "code visible in sealed bytes"
        );
        assert_eq!(open_code(&secret, "<a@x>", &sealed), Some(code));
        assert_eq!(open_code(&secret, "<b@x>", &sealed), None);
        assert_eq!(
            open_code(&ServerSecret::from_bytes(vec![2; 32]), "<a@x>", &sealed),
            None
        );
        assert_eq!(open_code(&secret, "<a@x>", &sealed[..10]), None);
    }
}
