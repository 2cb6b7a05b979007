//! hCaptcha in a real browser. Its script cannot load here (no internet) — as for a
//! person whose content blocker or firewall stops hcaptcha.com — so the page says
//! so in the widget's place. Then the test does what the widget would do: put an
//! `h-captcha-response` input with hCaptcha's test token into the form, which the
//! server checks with the siteverify stand-in, site key and all.

use super::journeys::ask_for_code;
use super::{Browser, Options, SUBMIT, VERIFY};
use crate::hcaptcha::spawn_test_keys_app;
use crate::turnstile::FakeSiteverify;

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn signing_in_with_hcaptcha_checks_the_widget_token_with_its_siteverify() {
    let app = spawn_test_keys_app().await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.goto("/login").await;
    let widget = browser.find("div.h-captcha").await;
    assert_eq!(
        widget.attr("data-sitekey").await.unwrap().as_deref(),
        Some(FakeSiteverify::HCAPTCHA_TEST_SITE_KEY)
    );
    let failed = browser.find(".captcha-status[role=status]").await;
    let message = super::page::until("the message that the check could not load", || async {
        let text = failed.text().await.map_err(|e| e.to_string())?;
        if text.is_empty() {
            Err("nothing yet".into())
        } else {
            Ok(text)
        }
    })
    .await;
    assert_eq!(
        message,
        "The security check could not load. Check your connection, allow \
         hcaptcha.com, and reload the page."
    );
    assert!(
        !widget.is_displayed().await.unwrap(),
        "the widget's empty box is hidden"
    );
    browser.capture("hcaptcha-login").await;

    browser.fill("email", "hc@example.com").await;
    browser.submit(SUBMIT).await;
    assert!(
        !browser.alerts().await.is_empty(),
        "no message without a token"
    );
    assert!(app.siteverify.requests().is_empty(), "nothing to ask about");

    browser
        .script(
            "const input = document.createElement('input');\n\
             input.type = 'hidden';\n\
             input.name = 'h-captcha-response';\n\
             input.value = arguments[0];\n\
             document.querySelector('.h-captcha').appendChild(input);\n\
             return null;",
            vec![FakeSiteverify::HCAPTCHA_TEST_TOKEN.into()],
        )
        .await;
    ask_for_code(&browser, "hc@example.com").await;
    let checked = app.siteverify.requests();
    assert_eq!(checked.len(), 1, "{checked:?}");
    assert_eq!(
        checked[0].sitekey.as_deref(),
        Some(FakeSiteverify::HCAPTCHA_TEST_SITE_KEY)
    );
    let code = app.code_for("hc@example.com").await;
    browser.fill("code", &code).await;
    browser.fill("first_name", "Hana").await;
    browser.submit(VERIFY).await;
    browser.wait_for_path("/").await;
    assert!(browser.body_text().await.contains("Hana"));
    browser.close().await;
}
