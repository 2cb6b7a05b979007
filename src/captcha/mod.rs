//! The bot check in front of every code a sign-in mails: the provider
//! `captcha.provider` names, behind one `verify`. Every provider fails closed: an
//! answer that cannot be checked is `Unavailable` (503), never a pass.

mod altcha;
mod siteverify;

use std::net::IpAddr;

use crate::clock::Clock;
use crate::config::CaptchaSettings;
use crate::domain::ServerSecret;
use crate::storage::Storage;

pub use altcha::{Altcha, Challenge};
pub use siteverify::{Siteverify, SiteverifyResponse, Vendor};

#[derive(Debug, thiserror::Error)]
pub enum CaptchaError {
    #[error("no CAPTCHA answer was sent")]
    Missing,
    #[error("the CAPTCHA answer was refused: {}", .0.join(", "))]
    Rejected(Vec<String>),
    #[error("the CAPTCHA cannot be checked: {0:#}")]
    Unavailable(anyhow::Error),
}

pub enum Captcha {
    /// Turnstile or hCaptcha: a third party's widget, its token checked by its
    /// siteverify.
    Siteverify(Siteverify),
    /// ALTCHA: doorcode hands out and checks the challenges itself.
    Altcha(Altcha),
}

impl Captcha {
    pub fn new(
        settings: &CaptchaSettings,
        storage: Storage,
        clock: Clock,
        secret: &ServerSecret,
    ) -> anyhow::Result<Self> {
        Ok(match settings {
            CaptchaSettings::Turnstile(keys) => {
                Captcha::Siteverify(Siteverify::new(Vendor::Turnstile, keys)?)
            }
            CaptchaSettings::Hcaptcha(keys) => {
                Captcha::Siteverify(Siteverify::new(Vendor::Hcaptcha, keys)?)
            }
            CaptchaSettings::Altcha(altcha) => {
                Captcha::Altcha(Altcha::new(*altcha, storage, clock, secret))
            }
        })
    }

    /// Checks what the form's CAPTCHA field held.
    pub async fn verify(&self, answer: &str, client: Option<IpAddr>) -> Result<(), CaptchaError> {
        match self {
            Captcha::Siteverify(siteverify) => siteverify.verify(answer, client).await,
            Captcha::Altcha(altcha) => altcha.verify(answer).await,
        }
    }

    /// The ALTCHA challenges, when that is the provider.
    pub fn altcha(&self) -> Option<&Altcha> {
        match self {
            Captcha::Altcha(altcha) => Some(altcha),
            Captcha::Siteverify(_) => None,
        }
    }
}
