//! Real-browser end-to-end tests: headless Chromium, driven over WebDriver (fantoccini),
//! types and clicks through doorcode's pages as a person does. Every page visited is
//! screenshotted at a phone and a desktop width into `target/e2e/` and checked with
//! axe-core (from `tests/browser/node_modules`, installed by `npm ci --prefix
//! tests/browser`); serious or critical accessibility violations fail the test.
//!
//! They need Chromium and chromedriver (Debian: `apt-get install chromium
//! chromium-driver`), so they are `#[ignore]`d; `.ci/run` installs both and runs
//! them with `cargo test --test api -- --ignored`. Run only these with
//! `cargo test --test api browser -- --ignored`. Without Chromium they fail, saying so.
//!
//! Most run in an English browser; `german.rs` walks the same pages in a German one.

mod altcha;
mod axe;
mod driver;
mod email;
mod emails;
mod german;
mod hcaptcha;
mod journeys;
mod keyboard;
mod modes;
mod oidc;
mod page;
mod passkeys;

use std::path::PathBuf;

use doorcode::config::{Config, Secret};

pub use driver::{Browser, Options};

/// Where screenshots, the rendered email and the axe report go (the crate's own
/// `target/`, whatever `CARGO_TARGET_DIR` says, so they are easy to find).
pub fn e2e_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/e2e"));
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    dir
}

#[derive(Clone, Copy, Debug)]
pub struct Viewport {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub mobile: bool,
}

pub const PHONE: Viewport = Viewport {
    name: "phone",
    width: 390,
    height: 844,
    mobile: true,
};
pub const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 800,
    mobile: false,
};

// The forms' buttons, by what they post to.
pub const SUBMIT: &str = "form[action=\"/login\"] button[type=submit]";
pub const VERIFY: &str = "form[action=\"/login/verify\"] button[type=submit]";
pub const RESEND: &str = "form[action=\"/login/resend\"] button";
pub const SIGN_OUT: &str = "form[action=\"/logout\"] button";

/// The widget script from challenges.cloudflare.com cannot load here (no internet), so
/// most journeys run with the CAPTCHA off; `modes.rs` drives one through the
/// siteverify stand-in with the token put into the form by hand.
pub fn captcha_off(config: &mut Config) {
    config.turnstile.site_key.clear();
    config.turnstile.secret_key = Secret::default();
}
