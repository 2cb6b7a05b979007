//! Sign-up and sign-in as a person walks them in Chromium: typing, clicking, reading
//! the code from the received email.

use doorcode::config::AskName;

use super::page::until;
use super::{Browser, Options, RESEND, SIGN_OUT, SUBMIT, VERIFY, captcha_off};
use crate::helpers::{TestApp, spawn_app_with};

/// From the login page to the code page for `email`.
pub async fn ask_for_code(browser: &Browser, email: &str) {
    browser.fill("email", email).await;
    browser.submit(SUBMIT).await;
    browser.find("input[name=code]").await;
}

/// The home page shows the person's first name and email.
async fn assert_home(browser: &Browser, first: &str, email: &str) {
    browser.wait_for_path("/").await;
    let text = browser.body_text().await;
    assert!(
        text.contains(first) && text.contains(email),
        "home page without {first} / {email}: {text}"
    );
    assert!(browser.has(SIGN_OUT).await, "no sign-out button");
}

/// The focused field, its border and outline colours, and the error colour.
const FOCUSED_FIELD: &str = r#"
const e = document.activeElement;
const s = getComputedStyle(e);
const probe = document.createElement('span');
probe.style.color = 'var(--error)';
document.body.appendChild(probe);
const error = getComputedStyle(probe).color;
probe.remove();
return { name: e.getAttribute('name'), outline: s.outlineColor, border: s.borderTopColor, error };
"#;

/// A code that is not `code`.
pub fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn a_new_person_signs_up_with_their_name_on_the_code_page_signs_out_and_back_in() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;

    browser.goto("/login").await;
    assert!(browser.has("input[name=email]").await);
    browser.capture("login").await;

    ask_for_code(&browser, "ada@example.com").await;
    assert!(browser.body_text().await.contains("ada@example.com"));
    // app.js shows the expiry in this browser's time zone and language (en-US: 10:37 PM),
    // where the server wrote UTC.
    let expiry = browser.text(".lead time[data-local-time]").await;
    assert!(
        !expiry.contains("UTC") && (expiry.ends_with(" AM") || expiry.ends_with(" PM")),
        "expiry shown as {expiry:?}"
    );
    assert!(
        browser.has("input[name=first_name]").await && browser.has("input[name=last_name]").await,
        "with_code: a new address is asked for its name on the code page"
    );
    browser.capture("code").await;

    let code = app.code_for("ada@example.com").await;
    browser.fill("code", &code).await;
    browser.fill("first_name", "Ada").await;
    browser.fill("last_name", "Lovelace").await;
    browser.submit(VERIFY).await;
    assert_home(&browser, "Ada", "ada@example.com").await;
    // The same for when this device signed in: Nov 22, 2026, 10:12 PM.
    let signed_in = browser.text(".sessions time[data-local-time]").await;
    assert!(
        !signed_in.contains("UTC") && signed_in.contains(", 20") && signed_in.ends_with('M'),
        "sign-in time shown as {signed_in:?}"
    );
    browser.capture("home").await;

    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;
    assert_eq!(
        browser.text(".banner.notice[role=status]").await,
        "You are signed out."
    );
    browser.capture("signed-out").await;
    assert_eq!(
        app.count_rows("user_sessions"),
        0,
        "signing out ends the session"
    );
    browser.goto("/").await;
    browser.wait_for_path("/login").await;
    assert!(
        !browser.has(".banner.notice").await,
        "the sign-out notice shows once"
    );

    // Back again: a known address is not asked for a name.
    ask_for_code(&browser, "Ada@Example.com").await;
    assert!(!browser.has("input[name=first_name]").await);
    browser.capture("code-returning").await;
    let code = app.code_for("ada@example.com").await;
    browser.fill("code", &code).await;
    browser.submit(VERIFY).await;
    assert_home(&browser, "Ada", "ada@example.com").await;
    assert_eq!(app.count_rows("users"), 1, "the same account");
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn in_after_code_mode_the_name_is_asked_only_after_the_right_code() {
    let app = spawn_app_with(|c| {
        captcha_off(c);
        c.signup.ask_name = AskName::AfterCode;
    })
    .await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.goto("/login").await;
    ask_for_code(&browser, "nova@example.com").await;
    assert!(
        !browser.has("input[name=first_name]").await,
        "after_code: the code page is the same for every address"
    );
    browser.capture("code-after-code").await;

    let code = app.code_for("nova@example.com").await;
    browser.fill("code", &code).await;
    browser.submit(VERIFY).await;
    browser.find("input[name=first_name]").await;
    assert!(!browser.has("input[name=code]").await);
    browser.capture("name-after-code").await;

    // No first name: the page says so and keeps the sign-in going.
    browser.submit(VERIFY).await;
    let alerts = browser.alerts().await;
    assert!(alerts.to_lowercase().contains("first name"), "{alerts}");
    browser.capture("name-missing").await;

    browser.fill("first_name", "Nova").await;
    browser.fill("last_name", "Newcomer").await;
    browser.submit(VERIFY).await;
    assert_home(&browser, "Nova", "nova@example.com").await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn a_wrong_code_says_how_many_attempts_are_left_and_the_right_one_still_works() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.goto("/login").await;
    ask_for_code(&browser, "grace@example.com").await;
    let code = app.code_for("grace@example.com").await;

    browser.fill("code", wrong(&code)).await;
    browser.fill("first_name", "Grace").await;
    browser.submit(VERIFY).await;
    let alerts = browser.alerts().await;
    assert!(
        alerts.contains("attempt"),
        "no attempts in the alert: {alerts:?}"
    );
    let input = browser.find("input[name=code]").await;
    assert_eq!(
        input.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    // The emptied field has the focus; its border and focus ring stay the error colour.
    let look = browser.script(FOCUSED_FIELD, vec![]).await;
    assert_eq!(look["name"], "code", "{look}");
    assert_eq!(look["outline"], look["border"], "{look}");
    assert_eq!(look["border"], look["error"], "{look}");
    browser.capture("code-wrong").await;

    browser.fill("code", &code).await;
    browser.fill("first_name", "Grace").await;
    browser.submit(VERIFY).await;
    assert_home(&browser, "Grace", "grace@example.com").await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn a_new_code_can_be_sent_once_the_resend_interval_has_passed() {
    const INTERVAL: u64 = 3;
    let app = spawn_app_with(|c| {
        captcha_off(c);
        c.code.resend_interval_secs = INTERVAL;
    })
    .await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.goto("/login").await;
    ask_for_code(&browser, "alan@example.com").await;
    app.code_for("alan@example.com").await; // the first code's email
    browser.capture("code-resend-countdown").await;

    // The server's interval passes on the test clock; the page counts it down in real
    // time and keeps the button unavailable (`disabled` or `aria-disabled`) until then.
    app.clock.advance(INTERVAL as i64);
    let resend = browser.find(RESEND).await;
    until("the resend button to become available", || async {
        let enabled = resend.is_enabled().await.map_err(|e| e.to_string())?;
        let aria = resend
            .attr("aria-disabled")
            .await
            .map_err(|e| e.to_string())?;
        match (enabled, aria.as_deref()) {
            (true, None | Some("false")) => Ok(()),
            seen => Err(format!("enabled, aria-disabled: {seen:?}")),
        }
    })
    .await;
    browser.submit(RESEND).await;
    browser.find("[role=status]").await;
    assert_eq!(browser.alerts().await, "", "no error after the resend");
    browser.capture("code-resent").await;

    let second = app.code_for("alan@example.com").await;
    browser.fill("code", &second).await;
    browser.fill("first_name", "Alan").await;
    browser.submit(VERIFY).await;
    assert_home(&browser, "Alan", "alan@example.com").await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn an_expired_code_leads_to_the_start_again_page() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.goto("/login").await;
    ask_for_code(&browser, "late@example.com").await;
    let code = app.code_for("late@example.com").await;

    advance_past_ttl(&app);
    browser.fill("code", &code).await;
    browser.fill("first_name", "Late").await;
    browser.submit(VERIFY).await;
    let heading = browser.text("h1").await;
    assert!(
        heading.to_lowercase().contains("start again"),
        "heading: {heading}"
    );
    assert!(
        !browser.alerts().await.is_empty(),
        "the reason is announced"
    );
    assert!(!browser.has("input[name=code]").await);
    browser.capture("start-again").await;

    browser.submit("a[href=\"/login\"]").await;
    browser.wait_for_path("/login").await;
    assert!(browser.has("input[name=email]").await);
    assert_eq!(app.count_rows("user_sessions"), 0);
    browser.close().await;
}

fn advance_past_ttl(app: &TestApp) {
    let ttl = app.config.code.ttl_secs.get() as i64;
    app.clock.advance(ttl + 1);
}
