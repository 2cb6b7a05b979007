//! Several addresses in Chromium: a person adds an address from the home page
//! with the code mailed to it, makes it primary, and signs in with it elsewhere;
//! and the same pages in German. Every page is captured and checked by axe-core.

use super::journeys::ask_for_code;
use super::passkeys::sign_up;
use super::{Browser, Options, SIGN_OUT, VERIFY, captcha_off};
use crate::helpers::spawn_app_with;

const ASK: &str = "form[action=\"/account/emails\"] button[type=submit]";
const CONFIRM: &str = "form[action=\"/account/emails/verify\"] button[type=submit]";
const PRIMARY: &str = "form[action=\"/account/emails/primary\"] button";

/// Types `email` into the home page's "Add an address" field and asks for a code.
async fn ask_to_add(browser: &Browser, email: &str) {
    let field = browser.find("#new-email").await;
    field.send_keys(email).await.expect("type the address");
    browser.submit(ASK).await;
    browser
        .find("form[action=\"/account/emails/verify\"] input[name=code]")
        .await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn a_person_adds_an_address_makes_it_primary_and_signs_in_with_it() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;
    sign_up(&app, &browser, "ada@example.com").await;
    assert_eq!(browser.all("#emails li").await.len(), 1);
    browser.capture("home-one-email").await;

    ask_to_add(&browser, "ada@work.example").await;
    assert!(browser.text(".lead").await.contains("ada@work.example"));
    browser.capture("add-email-code").await;
    let code = app.code_for("ada@work.example").await;
    browser.fill("code", &code).await;
    browser.submit(CONFIRM).await;
    browser.wait_for_path("/").await;
    assert!(
        browser
            .body_text()
            .await
            .contains("Address added. You can sign in with it now.")
    );
    assert_eq!(browser.all("#emails li").await.len(), 2);
    browser.capture("home-with-emails").await;

    browser.submit(PRIMARY).await;
    browser.wait_for_path("/").await;
    assert!(
        browser
            .text("#emails li:first-child")
            .await
            .contains("ada@work.example")
    );
    assert!(browser.text(".lead").await.contains("ada@work.example"));

    // Signed out, the new address signs in to the same account: no name asked.
    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;
    ask_for_code(&browser, "ada@work.example").await;
    assert!(!browser.has("input[name=first_name]").await);
    let code = app.code_for("ada@work.example").await;
    browser.fill("code", &code).await;
    browser.submit(VERIFY).await;
    browser.wait_for_path("/").await;
    assert_eq!(browser.text("h1").await, "Hello, Ada");
    assert_eq!(browser.all("#emails li").await.len(), 2);

    // One's own address again: refused on the home page, the field marked.
    let field = browser.find("#new-email").await;
    field
        .send_keys("ada@example.com")
        .await
        .expect("type the address");
    browser.submit(ASK).await;
    assert!(browser.alerts().await.contains("already one of yours"));
    browser.capture("home-email-already-yours").await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn the_address_pages_in_german() {
    let app = spawn_app_with(captcha_off).await;
    let german = Options {
        javascript_off: false,
        dark: false,
        locale: Some("de-DE"),
    };
    let browser = Browser::open(&app, german).await;
    sign_up(&app, &browser, "erika@example.de").await;
    assert_eq!(browser.text("#emails-heading").await, "E-Mail-Adressen");
    ask_to_add(&browser, "erika@arbeit.example").await;
    assert_eq!(browser.text("h1").await, "Neue Adresse bestätigen");
    browser.capture("add-email-code-de").await;
    let code = app.code_for("erika@arbeit.example").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    browser.fill("code", wrong).await;
    browser.submit(CONFIRM).await;
    let alerts = browser.alerts().await;
    assert!(alerts.contains("stimmt nicht"), "{alerts}");
    browser.fill("code", &code).await;
    browser.submit(CONFIRM).await;
    browser.wait_for_path("/").await;
    assert!(browser.body_text().await.contains("Adresse hinzugefügt."));
    browser.capture("home-with-emails-de").await;
}
