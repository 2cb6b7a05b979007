use std::fmt;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The server secret that keys code hashes and seals queued mail.
#[derive(Clone)]
pub struct ServerSecret(Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("must be hex or base64")]
    NotEncoded,
    #[error("must be at least 32 bytes once decoded (got {0})")]
    TooShort(usize),
}

impl ServerSecret {
    pub const MIN_LEN: usize = 32;

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Hex first (an even run of hex digits is never meant as base64), then base64.
    pub fn decode(encoded: &str) -> Result<Self, SecretError> {
        let encoded = encoded.trim();
        let bytes = hex::decode(encoded)
            .ok()
            .or_else(|| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
            .or_else(|| {
                base64::engine::general_purpose::URL_SAFE
                    .decode(encoded)
                    .ok()
            })
            .or_else(|| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(encoded)
                    .ok()
            })
            .or_else(|| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(encoded)
                    .ok()
            })
            .ok_or(SecretError::NotEncoded)?;
        if bytes.len() < Self::MIN_LEN {
            return Err(SecretError::TooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// Reads the secret from `path`, or creates it there (readable by the owner only)
    /// on first start so that restarts keep codes and queued mail valid.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::decode(&text)
                .with_context(|| format!("the secret in {} is unusable", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = vec![0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                writeln!(file, "{}", hex::encode(&bytes))
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(Self(bytes))
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A 256-bit key for one purpose, so the secret itself is used for one thing only.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"doorcode key derivation\0");
        hasher.update(purpose.as_bytes());
        hasher.update(b"\0");
        hasher.update(&self.0);
        hasher.finalize().into()
    }

    /// `nonce ‖ ciphertext` of `plain` under XChaCha20-Poly1305 with the key
    /// derived for `purpose`, bound to `context` so it cannot be moved elsewhere.
    pub fn seal(&self, purpose: &str, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(&self.derive(purpose).into());
        let mut nonce = [0u8; SEAL_NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context,
                },
            )
            .expect("encrypting bytes in memory cannot fail");
        [nonce.as_slice(), &sealed].concat()
    }

    /// `None` when `sealed` was not sealed for this purpose and context with this
    /// secret.
    pub fn open(&self, purpose: &str, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() <= SEAL_NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(SEAL_NONCE_LEN);
        XChaCha20Poly1305::new(&self.derive(purpose).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .ok()
    }
}

const SEAL_NONCE_LEN: usize = 24;

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret([redacted])")
    }
}

/// The permission bits of `path` when a user other than its owner may read or
/// write it (a secret in such a file is no longer the owner's alone); `None` when
/// only the owner may, or the file cannot be looked at.
pub fn open_to_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_secrets_decode() {
        let hex = "ab".repeat(32);
        assert_eq!(ServerSecret::decode(&hex).unwrap().bytes(), &[0xab; 32]);
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8; 40]);
        assert_eq!(ServerSecret::decode(&b64).unwrap().bytes(), &[1u8; 40]);
        assert!(matches!(
            ServerSecret::decode("abcd"),
            Err(SecretError::TooShort(2))
        ));
        assert!(matches!(
            ServerSecret::decode("!!!"),
            Err(SecretError::NotEncoded)
        ));
    }

    #[test]
    fn a_created_secret_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = ServerSecret::load_or_create(&path).unwrap();
        let second = ServerSecret::load_or_create(&path).unwrap();
        assert_eq!(first.bytes(), second.bytes());
        assert_eq!(first.bytes().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "secret file is readable by others");
        }
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let secret = ServerSecret::from_bytes(vec![3; 32]);
        assert_ne!(secret.derive("a"), secret.derive("b"));
        assert_eq!(secret.derive("a"), secret.derive("a"));
    }
}
