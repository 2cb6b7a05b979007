//! Codes wait in the mail queue sealed with XChaCha20-Poly1305 under a key derived
//! from the server secret, so the database alone never holds a usable code.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::domain::{LoginCode, ServerSecret};

const NONCE_LEN: usize = 24;
const PURPOSE: &str = "outbox code v1";

/// `nonce ‖ ciphertext`, bound to `message_id` so a sealed code cannot be moved to
/// another queued message.
pub fn seal_code(secret: &ServerSecret, message_id: &str, code: &LoginCode) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(&secret.derive(PURPOSE).into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: code.as_str().as_bytes(),
                aad: message_id.as_bytes(),
            },
        )
        .expect("encrypting a few bytes in memory cannot fail");
    [nonce.as_slice(), &sealed].concat()
}

/// `None` when the bytes were not sealed for this message with this secret.
pub fn open_code(secret: &ServerSecret, message_id: &str, sealed: &[u8]) -> Option<LoginCode> {
    if sealed.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(&secret.derive(PURPOSE).into());
    let plain = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: message_id.as_bytes(),
            },
        )
        .ok()?;
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
