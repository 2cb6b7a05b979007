//! Signing keys: RS256, made at first start, the private part sealed with the
//! server secret before it is stored. The `rsa` crate makes the key, jsonwebtoken
//! gives the JWK and the JWS header their shape, and ring signs and verifies:
//! ring's RSA is about five times as fast as the pure-Rust one jsonwebtoken would
//! use, and signing is most of the work of a token exchange. jsonwebtoken's own
//! pure-Rust backend needs a release of the `rsa` crate that the WebAuthn crate
//! cannot share yet, so [`install_ring`] gives it ring as its backend instead.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, KeyAlgorithm, PublicKeyUse, RSAKeyParameters,
    RSAKeyType,
};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, Header};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Serialize;

use crate::domain::{RandomId, ServerSecret};
use crate::storage::StoredKey;

const PURPOSE: &str = "oidc signing key v1";
const ALG: &str = "RS256";
const BITS: usize = 2048;

/// A key that can sign, opened from its stored form.
pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
    /// The encoded header, the same for every token this key signs.
    header: String,
    rng: SystemRandom,
}

impl SigningKey {
    /// A JWS in compact form (RFC 7515 §7.1) of `claims`, with this key's `kid` in
    /// the header.
    pub fn sign(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let input = format!("{}.{claims}", self.header);
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("cannot sign a token"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// A new key, sealed and ready to store.
pub fn generate(secret: &ServerSecret, now: i64) -> anyhow::Result<StoredKey> {
    let private = rsa::RsaPrivateKey::new(
        &mut getrandom::rand_core::UnwrapErr(getrandom::SysRng),
        BITS,
    )
    .context("cannot make an RSA key")?;
    let der = private
        .to_pkcs1_der()
        .context("cannot encode the RSA key")?;
    let kid = RandomId::generate().into_string();
    let jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::RS256),
            key_id: Some(kid.clone()),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
            key_type: RSAKeyType::RSA,
            n: URL_SAFE_NO_PAD.encode(private.n_bytes()),
            e: URL_SAFE_NO_PAD.encode(private.e_bytes()),
        }),
    };
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
    let pair = RsaKeyPair::from_der(&der)
        .map_err(|e| anyhow::anyhow!("signing key {} is not an RSA key: {e}", stored.kid))?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(stored.kid.clone());
    Ok(SigningKey {
        kid: stored.kid.clone(),
        pair,
        header: URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        rng: SystemRandom::new(),
    })
}

/// jsonwebtoken's backend: RS256 verification by ring, the only algorithm this
/// provider signs with; everything else is refused.
static RING: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
    verifier_factory: ring_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes ring jsonwebtoken's backend for this process; calling it again does nothing.
pub fn install_ring() {
    let _ = RING.install_default();
}

fn ring_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    match (algorithm, key.kind()) {
        (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Ok(Box::new(Rs256Verifier {
                n: n.clone(),
                e: e.clone(),
            }))
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

struct Rs256Verifier {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl signature::Verifier<Vec<u8>> for Rs256Verifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Rs256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Validation;

    #[test]
    fn a_sealed_key_signs_what_its_published_jwk_verifies() {
        install_ring();
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
