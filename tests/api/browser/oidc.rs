//! Signing in to another app through doorcode in Chromium: the sign-in page names
//! the app, the consent page is accessible and answers, the home page lists the app
//! and withdraws it.

use super::journeys::ask_for_code;
use super::{Browser, Options, VERIFY, captcha_off};
use crate::helpers::spawn_app_with;
use crate::oidc::{APP_REDIRECT, authorize_path, clients};

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn a_person_signs_in_to_an_app_allows_it_and_withdraws_it_later() {
    let app = spawn_app_with(|config| {
        captcha_off(config);
        clients(config);
    })
    .await;
    let browser = Browser::open(&app, Options::default()).await;
    browser
        .goto(&authorize_path("app", APP_REDIRECT, &[]))
        .await;
    browser.wait_for_path("/login").await;
    assert_eq!(
        browser.text("#continue-to").await,
        "Sign in to continue to Example App."
    );
    browser.capture("login-for-app").await;
    ask_for_code(&browser, "ada@example.com").await;
    let code = app.code_for("ada@example.com").await;
    browser.fill("code", &code).await;
    browser.fill("first_name", "Ada").await;
    browser.fill("last_name", "Lovelace").await;
    browser.submit(VERIFY).await;

    // Back at the authorization, which asks for consent.
    browser.wait_for_path("/oidc/authorize").await;
    assert_eq!(browser.text("h1").await, "Example App wants to sign you in");
    let asked = browser.body_text().await;
    for item in ["Your email address", "Your name", "The groups you are in"] {
        assert!(
            asked.contains(item),
            "{item} not on the consent page: {asked}"
        );
    }
    browser.capture("consent").await;
    browser
        .submit("form[action=\"/oidc/consent\"] button[value=allow]")
        .await;
    let url = super::page::until("the redirect to the app", || async {
        let url = browser.client.current_url().await.expect("current URL");
        if url.as_str().starts_with(APP_REDIRECT) {
            Ok(url)
        } else {
            Err(url.to_string())
        }
    })
    .await;
    assert!(url.query_pairs().any(|(k, _)| k == "code"), "{url}");

    browser.goto("/").await;
    assert!(browser.text("#apps").await.contains("Example App"));
    browser.capture("home-with-app").await;
    browser
        .submit("form[action=\"/account/apps/withdraw\"] button")
        .await;
    browser.wait_for_path("/").await;
    assert!(!browser.has("#apps").await, "the app is gone from the list");
}
