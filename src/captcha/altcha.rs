//! ALTCHA: a proof of work with no third party. doorcode hands out a challenge —
//! the SHA-256 of a random salt followed by a secret number no larger than
//! `altcha.max_number`, signed with a key derived from the server secret — and the
//! widget in the browser tries numbers until one hashes to it. The answer comes
//! back as base64 JSON `{algorithm, challenge, number, salt, signature}` (ALTCHA's
//! format, version 1).
//!
//! The salt carries `?expires=<unix seconds>&`, and the signature covers the
//! challenge, which covers the salt: so nobody can make a challenge, move its
//! expiry, or answer one without doing the work. The closing `&` matters: the hash
//! is of salt and number written one after the other, so without it the first
//! digits of the number could be claimed as more digits of the expiry (the same
//! text, the same hash, a challenge valid for centuries). Each solved challenge is recorded
//! in the database until it expires, so it is accepted once, on any instance.

use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::CaptchaError;
use crate::clock::Clock;
use crate::config::AltchaSettings;
use crate::domain::ServerSecret;
use crate::storage::Storage;

const ALGORITHM: &str = "SHA-256";
/// Longer than any answer to a challenge of ours.
const MAX_ANSWER_LEN: usize = 1024;
const SPEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Altcha {
    key: [u8; 32],
    settings: AltchaSettings,
    storage: Storage,
    clock: Clock,
}

/// What the widget fetches from `challengeurl`.
#[derive(Debug, Serialize)]
pub struct Challenge {
    pub algorithm: &'static str,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

/// What the widget sends back, base64-encoded, in the form's `altcha` field.
#[derive(Deserialize)]
struct Solution {
    algorithm: String,
    challenge: String,
    number: u64,
    salt: String,
    signature: String,
}

impl Altcha {
    pub fn new(
        settings: AltchaSettings,
        storage: Storage,
        clock: Clock,
        secret: &ServerSecret,
    ) -> Self {
        Self {
            key: secret.derive("altcha challenge"),
            settings,
            storage,
            clock,
        }
    }

    /// A fresh challenge that expires after `altcha.expires_secs`.
    pub fn challenge(&self) -> Challenge {
        let mut random = [0u8; 12];
        rand::rng().fill_bytes(&mut random);
        let expires = self.clock.now() + self.settings.expires_secs;
        let salt = format!("{}?expires={expires}&", hex::encode(random));
        let number = rand::random_range(0..=self.settings.max_number);
        let challenge = hash_hex(&format!("{salt}{number}"));
        Challenge {
            algorithm: ALGORITHM,
            signature: hex::encode(self.sign(&challenge)),
            challenge,
            maxnumber: self.settings.max_number,
            salt,
        }
    }

    pub async fn verify(&self, answer: &str) -> Result<(), CaptchaError> {
        let answer = answer.trim();
        if answer.is_empty() {
            return Err(CaptchaError::Missing);
        }
        let (challenge, expires) = self.check(answer)?;
        let spend = self.storage.spend_captcha(hash_hex(&challenge), expires);
        // As long as siteverify is given: a database that hangs fails closed too.
        match tokio::time::timeout(SPEND_TIMEOUT, spend).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(refused("already-used")),
            Ok(Err(e)) => Err(CaptchaError::Unavailable(e.into())),
            Err(_) => Err(CaptchaError::Unavailable(anyhow::anyhow!(
                "the database did not record the answer within {}s",
                SPEND_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Everything but "not used before": the challenge answered and when it
    /// expires, when the answer is right.
    fn check(&self, answer: &str) -> Result<(String, i64), CaptchaError> {
        if answer.len() > MAX_ANSWER_LEN {
            return Err(refused("invalid-input-response"));
        }
        let solution = decode(answer).ok_or_else(|| refused("invalid-input-response"))?;
        if solution.algorithm != ALGORITHM {
            return Err(refused("invalid-algorithm"));
        }
        let signature =
            hex::decode(&solution.signature).map_err(|_| refused("invalid-signature"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(solution.challenge.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| refused("invalid-signature"))?;
        let worked = hash_hex(&format!("{}{}", solution.salt, solution.number));
        if !bool::from(worked.as_bytes().ct_eq(solution.challenge.as_bytes())) {
            return Err(refused("wrong-number"));
        }
        let expires = expiry(&solution.salt).ok_or_else(|| refused("invalid-input-response"))?;
        if expires <= self.clock.now() {
            return Err(refused("expired"));
        }
        Ok((solution.challenge, expires))
    }

    fn sign(&self, challenge: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(challenge.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

fn refused(code: &str) -> CaptchaError {
    CaptchaError::Rejected(vec![code.to_owned()])
}

fn decode(answer: &str) -> Option<Solution> {
    use base64::Engine;
    let json = base64::engine::general_purpose::STANDARD
        .decode(answer)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// `expires` from the salt's `?expires=…&`; `None` for a salt not of that shape
/// (one whose query does not end in `&` may have taken digits from the number).
fn expiry(salt: &str) -> Option<i64> {
    let (_, query) = salt.split_once('?')?;
    if !query.ends_with('&') {
        return None;
    }
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "expires")
        .and_then(|(_, value)| value.parse().ok())
}

fn hash_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
