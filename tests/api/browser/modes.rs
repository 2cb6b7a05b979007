//! The same pages in browsers that differ: JavaScript off, dark colour scheme, and the
//! Turnstile field filled in as the widget would.

use super::email::show_email;
use super::journeys::{ask_for_code, wrong};
use super::{Browser, Options, RESEND, SIGN_OUT, SUBMIT, VERIFY, captcha_off};
use crate::helpers::{SITE_KEY, spawn_app, spawn_app_with};
use crate::turnstile::FakeSiteverify;

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn the_whole_sign_in_works_with_javascript_turned_off() {
    let app = spawn_app_with(captcha_off).await;
    let options = Options {
        javascript_off: true,
        ..Options::default()
    };
    let browser = Browser::open(&app, options).await;

    // Make sure the setting took: a page script would retitle this page.
    browser
        .client
        .goto("data:text/html,<title>off</title><script>document.title='on'</script>")
        .await
        .expect("open a data: page");
    assert_eq!(
        browser.client.title().await.unwrap(),
        "off",
        "JavaScript ran"
    );

    browser.goto("/login").await;
    browser.capture("nojs-login").await;
    ask_for_code(&browser, "noscript@example.com").await;
    // Without app.js the expiry stays as the server wrote it, saying UTC.
    let expiry = browser.text(".lead time[data-local-time]").await;
    assert!(expiry.ends_with(" UTC"), "expiry shown as {expiry:?}");
    let resend = browser.find(RESEND).await;
    assert!(
        resend.is_enabled().await.unwrap(),
        "a `disabled` resend button: without JavaScript nothing would enable it"
    );
    browser.capture("nojs-code").await;

    // Too soon for a new code: the button still submits, and the answer says to wait
    // while the code page stays usable.
    browser.submit(RESEND).await;
    assert!(
        !browser.alerts().await.is_empty(),
        "no message for a resend too soon"
    );
    assert!(browser.has("input[name=code]").await);
    browser.capture("nojs-resend-too-soon").await;

    let code = app.code_for("noscript@example.com").await;
    browser.fill("code", &code).await;
    browser.fill("first_name", "Noel").await;
    browser.submit(VERIFY).await;
    browser.wait_for_path("/").await;
    let text = browser.body_text().await;
    assert!(text.contains("Noel") && text.contains("noscript@example.com"));
    browser.capture("nojs-home").await;

    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;
    assert_eq!(app.count_rows("user_sessions"), 0);
    browser.close().await;
}

/// The widget cannot load without internet — as for a person whose content blocker or
/// firewall stops challenges.cloudflare.com — so the page says so in its place. Then
/// the test does what the widget would do: put a `cf-turnstile-response` input with a
/// token into the form (Cloudflare's dummy token, which the test secret accepts). The
/// server checks it with the siteverify stand-in.
#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn signing_in_with_the_captcha_on_checks_the_widget_token_with_siteverify() {
    let app = spawn_app().await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.goto("/login").await;
    let widget = browser.find("div.cf-turnstile").await;
    assert_eq!(
        widget.attr("data-sitekey").await.unwrap().as_deref(),
        Some(SITE_KEY)
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
         challenges.cloudflare.com, and reload the page."
    );
    assert!(
        !widget.is_displayed().await.unwrap(),
        "the widget's empty box is hidden"
    );
    browser.capture("turnstile-login").await;

    // Without the token the page says what is wrong.
    browser.fill("email", "cf@example.com").await;
    browser.submit(SUBMIT).await;
    assert!(
        !browser.alerts().await.is_empty(),
        "no message without a token"
    );
    assert!(browser.has("input[name=email]").await);
    browser.capture("turnstile-missing").await;

    browser
        .script(
            "const input = document.createElement('input');\n\
             input.type = 'hidden';\n\
             input.name = 'cf-turnstile-response';\n\
             input.value = arguments[0];\n\
             document.querySelector('.cf-turnstile').appendChild(input);\n\
             return null;",
            vec![FakeSiteverify::DUMMY_TOKEN.into()],
        )
        .await;
    ask_for_code(&browser, "cf@example.com").await;
    let checked = app.siteverify.requests();
    assert!(
        checked.iter().any(|r| {
            r.response.as_deref() == Some(FakeSiteverify::DUMMY_TOKEN)
                && r.secret.as_deref() == Some(FakeSiteverify::PASS_SECRET)
        }),
        "the token was not checked with siteverify: {checked:?}"
    );

    let code = app.code_for("cf@example.com").await;
    browser.fill("code", &code).await;
    browser.fill("first_name", "Clara").await;
    browser.submit(VERIFY).await;
    browser.wait_for_path("/").await;
    assert!(browser.body_text().await.contains("Clara"));
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn the_pages_follow_a_dark_colour_scheme() {
    let app = spawn_app_with(captcha_off).await;
    let options = Options {
        dark: true,
        ..Options::default()
    };
    let browser = Browser::open(&app, options).await;
    browser.goto("/login").await;
    let dark = browser
        .script(
            "return matchMedia('(prefers-color-scheme: dark)').matches;",
            vec![],
        )
        .await;
    assert_eq!(dark, true, "Chromium did not prefer dark");
    let background = browser
        .script(
            "return getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await;
    assert!(
        luminance(background.as_str().unwrap_or_default()) < 0.25,
        "the page stayed light: {background}"
    );
    browser.capture("login").await;

    ask_for_code(&browser, "night@example.com").await;
    let mail = app.smtp.wait_for_mail_to("night@example.com").await;
    let code = mail.code();
    browser.fill("code", wrong(&code)).await;
    browser.submit(VERIFY).await;
    browser.find("[role=alert]").await;
    browser.capture("code-wrong").await;

    browser.fill("code", &code).await;
    browser.fill("first_name", "Nyx").await;
    browser.submit(VERIFY).await;
    browser.wait_for_path("/").await;
    browser.capture("home").await;

    // The email has dark colours of its own for mail clients that honour
    // prefers-color-scheme (axe checks their contrast in the capture).
    show_email(&browser, &mail, "email-dark.html", "email-html").await;
    let email_background = browser
        .script(
            "return getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await;
    assert!(
        luminance(email_background.as_str().unwrap_or_default()) < 0.25,
        "the email stayed light in a dark mail client: {email_background}"
    );
    browser.close().await;
}

/// Relative luminance (0 black … 1 white) of a CSS `rgb(r, g, b)` colour.
fn luminance(css: &str) -> f64 {
    let channels: Vec<f64> = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .filter_map(|c| c.trim().parse::<f64>().ok())
        .map(|c| c / 255.0)
        .collect();
    assert_eq!(channels.len(), 3, "not an rgb() colour: {css}");
    0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
}
