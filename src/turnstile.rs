//! Cloudflare Turnstile server-side validation (siteverify).
//!
//! Fails closed: no answer, a slow answer, a non-2xx status or an unreadable body is
//! `Unavailable` (503), never a pass.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use rand::RngCore;
use serde::Deserialize;

use crate::config::{Secret, TurnstileKeys};

/// Cloudflare's documented limit on a token's length.
const MAX_TOKEN_LEN: usize = 2048;
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TurnstileError {
    #[error("no CAPTCHA answer was sent")]
    Missing,
    #[error("siteverify refused the token: {}", .0.join(", "))]
    Rejected(Vec<String>),
    #[error("siteverify unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

pub struct Turnstile {
    client: reqwest::Client,
    secret: Secret,
    verify_url: url::Url,
}

/// What siteverify answered.
#[derive(Deserialize)]
pub struct SiteverifyResponse {
    pub success: bool,
    #[serde(rename = "error-codes", default)]
    pub error_codes: Vec<String>,
}

impl Turnstile {
    /// `None` when CAPTCHA is off (both keys empty).
    pub fn new(keys: &TurnstileKeys) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()
            .context("cannot build the HTTP client for Turnstile")?;
        Ok(Self {
            client,
            secret: keys.secret_key.clone(),
            verify_url: keys.verify_url.clone(),
        })
    }

    pub async fn verify(
        &self,
        token: &str,
        remote_ip: Option<IpAddr>,
    ) -> Result<(), TurnstileError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TurnstileError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TurnstileError::Rejected(vec![
                "invalid-input-response".into(),
            ]));
        }
        // Sent with the first call too, so that a retry is recognised as the same
        // validation rather than a replayed token.
        let idempotency_key = uuid_v4();
        let mut answer = self.call(token, remote_ip, &idempotency_key).await?;
        if !answer.success && answer.error_codes.iter().any(|c| c == "internal-error") {
            tracing::warn!("turnstile: siteverify reported internal-error; retrying once");
            answer = self.call(token, remote_ip, &idempotency_key).await?;
            if !answer.success && answer.error_codes.iter().any(|c| c == "internal-error") {
                return Err(TurnstileError::Unavailable(anyhow!(
                    "siteverify reported internal-error twice"
                )));
            }
        }
        if answer.success {
            return Ok(());
        }
        if answer.error_codes.iter().any(|c| c.ends_with("-secret")) {
            tracing::error!(codes = ?answer.error_codes,
                "turnstile: siteverify does not accept turnstile.secret_key; every sign-in fails until it is fixed");
        }
        Err(TurnstileError::Rejected(answer.error_codes))
    }

    /// One siteverify call with `token` and no retry, for `doorcode check`, which
    /// asks with a dummy token to learn whether the secret is accepted.
    pub async fn ask(&self, token: &str) -> Result<SiteverifyResponse, TurnstileError> {
        self.call(token, None, &uuid_v4()).await
    }

    async fn call(
        &self,
        token: &str,
        remote_ip: Option<IpAddr>,
        idempotency_key: &str,
    ) -> Result<SiteverifyResponse, TurnstileError> {
        let ip = remote_ip.map(|ip| ip.to_string());
        let mut form = vec![
            ("secret", self.secret.expose()),
            ("response", token),
            ("idempotency_key", idempotency_key),
        ];
        if let Some(ip) = &ip {
            form.push(("remoteip", ip));
        }
        let body = serde_urlencoded::to_string(&form)
            .map_err(|e| TurnstileError::Unavailable(e.into()))?;
        let response = self
            .client
            .post(self.verify_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                TurnstileError::Unavailable(anyhow!("{} ({})", describe(&e), self.verify_url))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(TurnstileError::Unavailable(anyhow!(
                "siteverify answered HTTP {status}"
            )));
        }
        response.json::<SiteverifyResponse>().await.map_err(|e| {
            TurnstileError::Unavailable(anyhow!("unreadable siteverify answer: {}", describe(&e)))
        })
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("timed out after {}s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        error.to_string()
    }
}

/// A random (version 4) UUID, as Cloudflare asks for idempotency keys.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn idempotency_keys_are_version_4_uuids() {
        let key = super::uuid_v4();
        assert_eq!(key.len(), 36);
        assert_eq!(&key[14..15], "4");
        assert!(matches!(&key[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(key, super::uuid_v4());
    }
}
