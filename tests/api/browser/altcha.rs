//! ALTCHA in a real browser: the widget doorcode serves fetches its challenge,
//! solves it in a worker under the page's strict CSP, and the sign-in goes through
//! with the answer it put into the form.

use super::{Browser, Options, SUBMIT, VERIFY};
use crate::altcha::spawn_altcha_app;

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn the_self_hosted_widget_solves_its_own_challenge_and_the_sign_in_goes_through() {
    // Once solved, the widget says so in the page's language (doorcode's words).
    for (locale, label) in [(None, "Checked"), (Some("de-DE"), "Geprüft")] {
        let app = spawn_altcha_app().await;
        let browser = Browser::open(
            &app,
            Options {
                locale,
                ..Options::default()
            },
        )
        .await;
        browser.goto("/login").await;
        let answer = super::page::until("the widget's answer in the form", || async {
            let value = browser
                .script(
                    "const input = document.querySelector('altcha-widget input[name=altcha]');\n\
                     return input ? input.value : '';",
                    vec![],
                )
                .await;
            match value.as_str() {
                Some(answer) if !answer.is_empty() => Ok(answer.to_owned()),
                _ => Err(format!(
                    "widget state: {}",
                    browser.text("altcha-widget").await
                )),
            }
        })
        .await;
        assert!(answer.len() > 100, "a base64 answer: {answer}");
        let widget = browser.text("altcha-widget").await;
        assert!(
            widget.contains(label),
            "the widget speaks the page's language: {widget}"
        );
        let suffix = locale.map_or("", |_| "-de");
        browser.capture(&format!("altcha-login{suffix}")).await;

        let email = format!("pow{}@example.com", suffix.replace('-', "."));
        browser.fill("email", &email).await;
        browser.submit(SUBMIT).await;
        assert!(browser.has("input[name=code]").await, "the code page");
        assert_eq!(
            app.count_rows("captcha_solutions"),
            1,
            "the answer was spent"
        );
        let code = app.code_for(&email).await;
        browser.fill("code", &code).await;
        browser.fill("first_name", "Ada").await;
        browser.submit(VERIFY).await;
        browser.wait_for_path("/").await;
        browser.close().await;
    }
}
