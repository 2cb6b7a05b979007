//! Passkeys in Chromium with a virtual authenticator (WebDriver's WebAuthn
//! extension): added from the home page, signing in with no address and no mail,
//! renamed, removed, refused when the authenticator does not verify the person,
//! offered in the email field's autofill, and in German.

use super::journeys::ask_for_code;
use super::page::until;
use super::{Browser, Options, SIGN_OUT, VERIFY, captcha_off};
use crate::helpers::{TestApp, spawn_app_with};

const ADD: &str = "#passkey-add";
const SIGN_IN: &str = "#passkey-sign-in";

/// Signs up by code and arrives on the home page.
pub(super) async fn sign_up(app: &TestApp, browser: &Browser, email: &str) {
    browser.goto("/login").await;
    ask_for_code(browser, email).await;
    let code = app.code_for(email).await;
    browser.fill("code", &code).await;
    browser.fill("first_name", "Ada").await;
    browser.submit(VERIFY).await;
    browser.wait_for_path("/").await;
}

/// Clicks a button whose script (after the ceremony) loads another page, and
/// waits for that page, at `path`.
async fn click_to(browser: &Browser, css: &str, path: &str) {
    browser.submit(css).await;
    browser.wait_for_path(path).await;
}

/// Makes this browser one without passkeys in autofill (as many are), so the
/// login page does not ask in the background. Chromium's virtual authenticator
/// answers such a background request at once, as if the person had picked the
/// passkey from the suggestions; tests of the button need it not to.
async fn without_autofill(browser: &Browser) {
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({"source": "PublicKeyCredential.isConditionalMediationAvailable = \
                () => Promise.resolve(false);"}),
        )
        .await;
}

/// The text app.js puts into the ceremony's status line, once it is there.
async fn status_message(browser: &Browser) -> String {
    until("a passkey message", || async {
        let text = browser
            .script(
                "const s = [...document.querySelectorAll('.passkey-status')]\
                 .map(e => e.textContent).join(''); \
                 return s.startsWith('Waiting') || s.startsWith('Warte') ? '' : s;",
                vec![],
            )
            .await;
        match text.as_str() {
            Some(text) if !text.is_empty() => Ok(text.to_owned()),
            _ => Err("no message yet".to_owned()),
        }
    })
    .await
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn a_person_adds_a_passkey_signs_in_with_it_alone_renames_and_removes_it() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;
    without_autofill(&browser).await;
    let authenticator = browser.add_authenticator(true).await;
    sign_up(&app, &browser, "ada@example.com").await;
    assert!(browser.has(ADD).await);

    click_to(&browser, ADD, "/").await;
    assert!(
        browser
            .body_text()
            .await
            .contains("Passkey added. Next time, sign in with it.")
    );
    assert_eq!(browser.all("#passkeys li").await.len(), 1);
    let held = browser.credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "a discoverable credential"
    );
    browser.capture("home-with-passkey").await;

    // Signed out, the passkey alone signs in: no address, no code, no mail.
    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;
    assert!(browser.has(SIGN_IN).await);
    let autocomplete = browser
        .script(
            "return document.getElementById('email').getAttribute('autocomplete');",
            vec![],
        )
        .await;
    assert_eq!(autocomplete, "email webauthn");
    browser.capture("login-with-passkey").await;
    let mails = app.count_rows("outbox");
    click_to(&browser, SIGN_IN, "/").await;
    assert!(browser.body_text().await.contains("ada@example.com"));
    assert_eq!(app.count_rows("outbox"), mails, "no mail for a passkey");

    // Renamed, then removed.
    browser
        .script(
            "document.querySelector('form[action=\"/account/passkeys/rename\"] input[name=name]')\
             .value = 'Work laptop'; return null;",
            vec![],
        )
        .await;
    browser
        .submit("form[action=\"/account/passkeys/rename\"] button")
        .await;
    assert!(browser.text("#passkeys").await.contains("Work laptop"));
    browser
        .submit("form[action=\"/account/passkeys/remove\"] button")
        .await;
    assert!(!browser.has("#passkeys").await, "the list is empty");
    assert!(
        browser
            .body_text()
            .await
            .contains("Passkey removed. It no longer signs you in.")
    );

    // The authenticator still holds the key, but the site no longer knows it.
    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;
    browser.find(SIGN_IN).await.click().await.expect("click");
    let message = status_message(&browser).await;
    assert!(message.contains("not registered here"), "{message}");
    assert_eq!(browser.path().await, "/login");
    browser.capture("login-passkey-unknown").await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn an_authenticator_that_does_not_verify_the_person_does_not_sign_in() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;
    without_autofill(&browser).await;
    let authenticator = browser.add_authenticator(true).await;
    sign_up(&app, &browser, "ada@example.com").await;
    click_to(&browser, ADD, "/").await;
    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;

    browser.set_user_verified(&authenticator, false).await;
    browser.find(SIGN_IN).await.click().await.expect("click");
    let message = status_message(&browser).await;
    assert!(!message.is_empty());
    assert_eq!(browser.path().await, "/login", "still signed out");
    browser.goto("/").await;
    browser.wait_for_path("/login").await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn the_email_fields_autofill_offers_the_passkey() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.add_authenticator(true).await;
    sign_up(&app, &browser, "ada@example.com").await;
    click_to(&browser, ADD, "/").await;
    let mails = app.count_rows("outbox");
    // The login page asks for a passkey in the background (conditional
    // mediation), which the browser offers among the email field's suggestions.
    // The virtual authenticator answers it at once, as a person picking the
    // passkey there would: signing out lands on the login page, which signs in.
    browser.submit(SIGN_OUT).await;
    until("signed in again from the login page", || async {
        match browser.path().await.as_str() {
            "/" => Ok(()),
            other => Err(other.to_owned()),
        }
    })
    .await;
    assert!(browser.body_text().await.contains("ada@example.com"));
    assert_eq!(app.count_rows("outbox"), mails, "no mail for a passkey");
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn passkeys_speak_german() {
    let app = spawn_app_with(captcha_off).await;
    let options = Options {
        locale: Some("de-DE"),
        ..Options::default()
    };
    let browser = Browser::open(&app, options).await;
    without_autofill(&browser).await;
    browser.add_authenticator(true).await;
    sign_up(&app, &browser, "ada@example.com").await;
    assert_eq!(browser.text(ADD).await, "Passkey hinzufügen");
    click_to(&browser, ADD, "/").await;
    assert!(browser.body_text().await.contains("Passkey hinzugefügt."));
    browser.capture("home-with-passkey-de").await;
    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;
    assert_eq!(browser.text(SIGN_IN).await, "Mit Passkey anmelden");
    browser.capture("login-with-passkey-de").await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn without_javascript_no_passkey_button_shows() {
    let app = spawn_app_with(captcha_off).await;
    let options = Options {
        javascript_off: true,
        ..Options::default()
    };
    let browser = Browser::open(&app, options).await;
    browser.goto("/login").await;
    let shown = browser
        .script(
            "return document.getElementById('passkey-sign-in').offsetParent !== null;",
            vec![],
        )
        .await;
    assert_eq!(shown, false, "the button stays hidden");
}
