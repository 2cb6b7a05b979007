//! Signing keys: RS256, made at first start, the private part sealed with the
//! server secret before it is stored. jsonwebtoken signs and publishes the JWK;
//! the `rsa` crate makes the key.

use anyhow::Context;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::Serialize;

use crate::domain::{RandomId, ServerSecret};
use crate::storage::StoredKey;

const PURPOSE: &str = "oidc signing key v1";
const ALG: &str = "RS256";
const BITS: usize = 2048;

/// A key that can sign, opened from its stored form.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
}

impl SigningKey {
    /// A JWS (compact form) of `claims`, with this key's `kid` in the header.
    pub fn sign(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("cannot sign a token")
    }
}

/// A new key, sealed and ready to store.
pub fn generate(secret: &ServerSecret, now: i64) -> anyhow::Result<StoredKey> {
    let private =
        rsa::PrivateKey::new(&mut getrandom::SysRng, BITS).context("cannot make an RSA key")?;
    let der = private
        .to_pkcs1_der()
        .context("cannot encode the RSA key")?;
    let kid = RandomId::generate().into_string();
    let encoding = EncodingKey::from_rsa_der(der.as_bytes());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
        .context("cannot describe the RSA key as a JWK")?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(StoredKey {
        sealed_private: secret.seal(PURPOSE, kid.as_bytes(), der.as_bytes()),
        public_jwk: serde_json::to_string(&jwk)?,
        kid,
        alg: ALG.to_owned(),
        created_at: now,
        retired_at: None,
    })
}

/// Opens a stored key; fails when it was sealed with another server secret.
pub fn open(secret: &ServerSecret, stored: &StoredKey) -> anyhow::Result<SigningKey> {
    let der = secret
        .open(PURPOSE, stored.kid.as_bytes(), &stored.sealed_private)
        .with_context(|| {
            format!(
                "signing key {} cannot be opened with this server secret (was \
                 security.secret_key or secret.key changed?); run `doorcode keys rotate`",
                stored.kid
            )
        })?;
    Ok(SigningKey {
        kid: stored.kid.clone(),
        encoding: EncodingKey::from_rsa_der(&der),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn a_sealed_key_signs_what_its_published_jwk_verifies() {
        let secret = ServerSecret::from_bytes(vec![7; 32]);
        let stored = generate(&secret, 1_000).unwrap();
        let key = open(&secret, &stored).unwrap();
        let token = key
            .sign(&serde_json::json!({"sub": "1", "aud": "app", "exp": 4_000_000_000u64}))
            .unwrap();
        let jwk: Jwk = serde_json::from_str(&stored.public_jwk).unwrap();
        assert_eq!(jwk.common.key_id.as_deref(), Some(stored.kid.as_str()));
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["app"]);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.header.kid.as_deref(), Some(stored.kid.as_str()));
        assert!(open(&ServerSecret::from_bytes(vec![8; 32]), &stored).is_err());
    }
}
