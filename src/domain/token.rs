use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `value`.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A session token: 256 random bits, base64url without padding (43 characters).
/// Only its SHA-256 is stored; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    const ENCODED_LEN: usize = 43;

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts a value from a cookie or header only if it has the shape doorcode
    /// issues, so odd input never reaches the database.
    pub fn from_presented(value: &str) -> Option<Self> {
        let well_formed = value.len() == Self::ENCODED_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `user_sessions.token_hash` value: hex SHA-256 of the cookie string.
    pub fn hash(&self) -> super::TokenHash {
        super::TokenHash::of(self)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// A random 128-bit identifier in lower-case hex (32 characters), for sign-in ids,
/// public session ids and browser bindings.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RandomId(String);

impl RandomId {
    pub const LEN: usize = 32;

    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = value.len() == Self::LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_their_presented_form() {
        let token = SessionToken::generate();
        assert_eq!(token.expose().len(), 43);
        assert_eq!(
            SessionToken::from_presented(token.expose()),
            Some(token.clone())
        );
        assert_ne!(token, SessionToken::generate());
        assert_eq!(token.hash().as_str(), sha256_hex(token.expose()));
        assert_eq!(token.hash().as_str().len(), 64);
    }

    #[test]
    fn odd_presented_tokens_are_ignored() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
            &"é".repeat(21),
        ] {
            assert!(SessionToken::from_presented(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn sha256_hex_matches_a_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_ids_parse_only_their_own_shape() {
        let id = RandomId::generate();
        assert_eq!(RandomId::parse(id.as_str()), Some(id));
        assert!(RandomId::parse("ABCDEF0123456789abcdef0123456789").is_none());
        assert!(RandomId::parse("").is_none());
    }
}
