//! Server-side validation of a widget's token by siteverify: Cloudflare Turnstile's
//! and hCaptcha's, which take the same form (`secret`, `response`, `remoteip`) and
//! answer the same JSON (`success`, `error-codes`).
//!
//! Fails closed: no answer, a slow answer, a non-2xx status or an unreadable body is
//! `Unavailable` (503), never a pass.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use rand::RngCore;
use serde::Deserialize;

use super::CaptchaError;
use crate::config::{Secret, SiteverifyKeys};

/// Cloudflare's documented limit on a token's length.
const MAX_TURNSTILE_TOKEN_LEN: usize = 2048;
/// hCaptcha documents none; its tokens run to a few kilobytes.
const MAX_HCAPTCHA_TOKEN_LEN: usize = 8192;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whose siteverify it is: the name in logs and the request's extra fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Turnstile,
    Hcaptcha,
}

impl Vendor {
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Turnstile => "turnstile",
            Vendor::Hcaptcha => "hcaptcha",
        }
    }
}

pub struct Siteverify {
    vendor: Vendor,
    client: reqwest::Client,
    site_key: String,
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

impl Siteverify {
    pub fn new(vendor: Vendor, keys: &SiteverifyKeys) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()
            .with_context(|| format!("cannot build the HTTP client for {}", vendor.name()))?;
        Ok(Self {
            vendor,
            client,
            site_key: keys.site_key.clone(),
            secret: keys.secret_key.clone(),
            verify_url: keys.verify_url.clone(),
        })
    }

    pub async fn verify(&self, token: &str, remote_ip: Option<IpAddr>) -> Result<(), CaptchaError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(CaptchaError::Missing);
        }
        let longest = match self.vendor {
            Vendor::Turnstile => MAX_TURNSTILE_TOKEN_LEN,
            Vendor::Hcaptcha => MAX_HCAPTCHA_TOKEN_LEN,
        };
        if token.len() > longest {
            return Err(CaptchaError::Rejected(vec![
                "invalid-input-response".into(),
            ]));
        }
        let vendor = self.vendor.name();
        // Sent with the first call too, so that a retry is recognised as the same
        // validation rather than a replayed token.
        let idempotency_key = uuid_v4();
        let mut answer = self.call(token, remote_ip, &idempotency_key).await?;
        // Cloudflare's `internal-error` asks for a retry, which its idempotency key
        // makes safe; hCaptcha documents neither, and a token sent twice is spent.
        if self.vendor == Vendor::Turnstile
            && !answer.success
            && answer.error_codes.iter().any(|c| c == "internal-error")
        {
            tracing::warn!("{vendor}: siteverify reported internal-error; retrying once");
            answer = self.call(token, remote_ip, &idempotency_key).await?;
            if !answer.success && answer.error_codes.iter().any(|c| c == "internal-error") {
                return Err(CaptchaError::Unavailable(anyhow!(
                    "siteverify reported internal-error twice"
                )));
            }
        }
        if answer.success {
            return Ok(());
        }
        if answer.error_codes.iter().any(|c| {
            c.ends_with("-secret")
                || c == "sitekey-secret-mismatch"
                || c == "not-using-dummy-passcode"
        }) {
            tracing::error!(codes = ?answer.error_codes,
                "{vendor}: siteverify does not accept {vendor}.secret_key with {vendor}.site_key; every sign-in fails until it is fixed");
        }
        Err(CaptchaError::Rejected(answer.error_codes))
    }

    /// One siteverify call with `token` and no retry, for `doorcode check`, which
    /// asks with a dummy token to learn whether the secret is accepted.
    pub async fn ask(&self, token: &str) -> Result<SiteverifyResponse, CaptchaError> {
        self.call(token, None, &uuid_v4()).await
    }

    async fn call(
        &self,
        token: &str,
        remote_ip: Option<IpAddr>,
        idempotency_key: &str,
    ) -> Result<SiteverifyResponse, CaptchaError> {
        let ip = remote_ip.map(|ip| ip.to_string());
        let mut form = vec![("secret", self.secret.expose()), ("response", token)];
        if let Some(ip) = &ip {
            form.push(("remoteip", ip));
        }
        match self.vendor {
            Vendor::Turnstile => form.push(("idempotency_key", idempotency_key)),
            // hCaptcha checks that the token was issued for this site key.
            Vendor::Hcaptcha => form.push(("sitekey", &self.site_key)),
        }
        let body =
            serde_urlencoded::to_string(&form).map_err(|e| CaptchaError::Unavailable(e.into()))?;
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
                CaptchaError::Unavailable(anyhow!("{} ({})", describe(&e), self.verify_url))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(CaptchaError::Unavailable(anyhow!(
                "siteverify answered HTTP {status}"
            )));
        }
        response.json::<SiteverifyResponse>().await.map_err(|e| {
            CaptchaError::Unavailable(anyhow!("unreadable siteverify answer: {}", describe(&e)))
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
