use std::fmt;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::ServerSecret;

/// A six-digit sign-in code. Its `Debug` never shows the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginCodeError {
    #[error("Enter the 6-digit code from the email.")]
    Empty,
    #[error("The code is 6 digits, like 123 456.")]
    NotSixDigits,
}

impl LoginCode {
    /// Uniform over 000000–999999, from the thread-local CSPRNG (ChaCha seeded by the OS).
    pub fn generate() -> Self {
        let n: u32 = rand::rng().random_range(0..1_000_000);
        Self(format!("{n:06}"))
    }

    /// Accepts what people type or paste: `123456`, `123 456`, `123-456`.
    pub fn parse_input(input: &str) -> Result<Self, LoginCodeError> {
        if input.len() > 64 {
            return Err(LoginCodeError::NotSixDigits);
        }
        let digits: String = input
            .chars()
            .filter(|c| !(c.is_whitespace() || *c == '-'))
            .collect();
        if digits.is_empty() {
            return Err(LoginCodeError::Empty);
        }
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LoginCodeError::NotSixDigits);
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// HMAC-SHA-256 under a key derived from the server secret for this purpose
    /// alone, over the sign-in's id (length-prefixed, so no two (id, code) pairs
    /// read the same) and the code: a copy of the database alone cannot be
    /// brute-forced back to live codes, and equal codes of different sign-ins hash
    /// differently.
    pub fn hash(&self, secret: &ServerSecret, challenge_id: &str) -> CodeHash {
        let key = secret.derive("login code hmac");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
        mac.update(&(challenge_id.len() as u64).to_be_bytes());
        mac.update(challenge_id.as_bytes());
        mac.update(self.0.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginCode([redacted])")
    }
}

/// The stored form of a code.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CodeHash([u8; 32]);

impl CodeHash {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(stored: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(stored, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// Compares against every stored hash without stopping early, so the time taken
    /// does not say which (if any) matched.
    pub fn matches_any(&self, stored: &[CodeHash]) -> bool {
        let mut found = Choice::from(0);
        for candidate in stored {
            found |= self.0.ct_eq(&candidate.0);
        }
        found.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typed_codes_may_carry_spaces_and_dashes() {
        for input in ["123456", "123 456", "123-456", " 12 34 56 ", "123\u{a0}456"] {
            assert_eq!(
                LoginCode::parse_input(input).unwrap().as_str(),
                "123456",
                "{input:?}"
            );
        }
    }

    #[test]
    fn anything_but_six_digits_is_refused() {
        let cases = [
            ("", LoginCodeError::Empty),
            (" - ", LoginCodeError::Empty),
            ("12345", LoginCodeError::NotSixDigits),
            ("1234567", LoginCodeError::NotSixDigits),
            ("12345a", LoginCodeError::NotSixDigits),
            ("１２３４５６", LoginCodeError::NotSixDigits),
            ("123456\0", LoginCodeError::NotSixDigits),
        ];
        for (input, expected) in cases {
            assert_eq!(LoginCode::parse_input(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn generated_codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..200).map(|_| LoginCode::generate().0).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        // 200 draws from a million: a repeat-heavy set would mean a broken generator.
        assert!(codes.len() > 190, "only {} distinct codes", codes.len());
    }

    #[test]
    fn hashes_depend_on_secret_challenge_and_code() {
        let secret = ServerSecret::from_bytes(vec![7; 32]);
        let other_secret = ServerSecret::from_bytes(vec![8; 32]);
        let code = LoginCode::parse_input("123456").unwrap();
        let a = code.hash(&secret, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(a, code.hash(&secret, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert_ne!(a, code.hash(&secret, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
        assert_ne!(
            a,
            code.hash(&other_secret, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        );
        let other = LoginCode::parse_input("123457").unwrap();
        assert!(a.matches_any(&[other.hash(&secret, "x"), a.clone()]));
        assert!(!a.matches_any(&[other.hash(&secret, "x")]));
        assert!(!a.matches_any(&[]));
        assert_eq!(CodeHash::from_hex(&a.to_hex()), Some(a));
    }

    #[test]
    fn debug_output_hides_the_code() {
        let code = LoginCode::parse_input("987654").unwrap();
        assert!(!format!("{code:?}").contains("987654"));
    }

    proptest! {
        #[test]
        fn code_input_parsing_never_panics_and_is_idempotent(input in "\\PC{0,40}|[0-9 -]{0,20}") {
            if let Ok(code) = LoginCode::parse_input(&input) {
                prop_assert_eq!(LoginCode::parse_input(code.as_str()), Ok(code.clone()));
                prop_assert_eq!(code.as_str().len(), 6);
            }
        }
    }
}
