//! hCaptcha: its widget and script, and server-side validation as hCaptcha
//! documents it, failing closed like Turnstile's.

use doorcode::config::{CaptchaProvider, Secret};
use reqwest::StatusCode;

use crate::helpers::{TestApp, alerts, browser, spawn_app_with};
use crate::turnstile::{FakeSiteverify, SiteverifyMode, closed_port_url};

async fn spawn_hcaptcha_app(secret: &str, site_key: &str) -> TestApp {
    let (secret, site_key) = (secret.to_owned(), site_key.to_owned());
    let app = spawn_app_with(move |c| {
        c.captcha.provider = CaptchaProvider::Hcaptcha;
        c.hcaptcha.site_key = site_key;
        c.hcaptcha.secret_key = Secret::new(secret);
    })
    .await;
    // The fake is started with the app; point doorcode at its hCaptcha endpoint.
    let url = app.siteverify.hcaptcha_url().parse().unwrap();
    app.restart_with(|c| c.hcaptcha.verify_url = url).await
}

pub async fn spawn_test_keys_app() -> TestApp {
    spawn_hcaptcha_app(
        FakeSiteverify::HCAPTCHA_TEST_SECRET,
        FakeSiteverify::HCAPTCHA_TEST_SITE_KEY,
    )
    .await
}

async fn login(app: &TestApp, token: &str) -> reqwest::Response {
    app.post(
        &browser(),
        "/login",
        &[("email", "ada@example.com"), ("h-captcha-response", token)],
    )
    .await
}

#[tokio::test]
async fn the_page_shows_hcaptchas_widget_and_siteverify_gets_the_token_and_site_key() {
    let app = spawn_test_keys_app().await;
    let response = app.get(&browser(), "/login").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "script-src 'self' https://hcaptcha.com https://*.hcaptcha.com;",
        "frame-src https://hcaptcha.com https://*.hcaptcha.com;",
        "style-src 'self' https://hcaptcha.com https://*.hcaptcha.com;",
        "connect-src 'self' https://hcaptcha.com https://*.hcaptcha.com;",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("cloudflare"), "{csp}");
    let html = response.text().await.unwrap();
    let widget = format!(
        r#"<div class="h-captcha" data-captcha-widget data-sitekey="{}">"#,
        FakeSiteverify::HCAPTCHA_TEST_SITE_KEY
    );
    assert!(html.contains(&widget), "{html}");
    assert!(html.contains(r#"src="https://js.hcaptcha.com/1/api.js?hl=en""#));
    assert!(
        html.contains("allow hcaptcha.com,"),
        "the message if it cannot load"
    );
    assert!(!html.contains("cf-turnstile"));

    assert_eq!(
        login(&app, FakeSiteverify::HCAPTCHA_TEST_TOKEN)
            .await
            .status(),
        StatusCode::OK
    );
    app.code_for("ada@example.com").await;
    let request = &app.siteverify.requests()[0];
    assert_eq!(
        request.secret.as_deref(),
        Some(FakeSiteverify::HCAPTCHA_TEST_SECRET)
    );
    assert_eq!(
        request.response.as_deref(),
        Some(FakeSiteverify::HCAPTCHA_TEST_TOKEN)
    );
    assert_eq!(
        request.sitekey.as_deref(),
        Some(FakeSiteverify::HCAPTCHA_TEST_SITE_KEY)
    );
    assert_eq!(request.remoteip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn bad_replayed_missing_or_mismatched_tokens_are_a_400_and_send_nothing() {
    let app = spawn_hcaptcha_app(
        FakeSiteverify::HCAPTCHA_SECRET,
        FakeSiteverify::HCAPTCHA_SITE_KEY,
    )
    .await;
    let bad = login(&app, "10000000-aaaa-bbbb-cccc-000000000001").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "the test token");
    let html = bad.text().await.unwrap();
    assert!(alerts(&html).contains("security check"), "{html}");

    let expired = app.siteverify.issue_expired_token();
    assert_eq!(
        login(&app, &expired).await.status(),
        StatusCode::BAD_REQUEST,
        "expired"
    );
    let token = app.siteverify.issue_token();
    assert_eq!(login(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(
        login(&app, &token).await.status(),
        StatusCode::BAD_REQUEST,
        "replayed"
    );
    let asked = app.siteverify.requests().len();
    // Turnstile's field is not hCaptcha's: nothing was answered.
    let other_field = app
        .post(
            &browser(),
            "/login",
            &[
                ("email", "ada@example.com"),
                ("cf-turnstile-response", &app.siteverify.issue_token()),
            ],
        )
        .await;
    assert_eq!(other_field.status(), StatusCode::BAD_REQUEST);
    assert_eq!(login(&app, "").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.siteverify.requests().len(),
        asked,
        "a missing token is refused without asking siteverify"
    );
    assert_eq!(
        app.count_rows("outbox"),
        1,
        "only the good token sent a code"
    );

    // A site key the secret does not belong to.
    let mismatched = spawn_hcaptcha_app(
        FakeSiteverify::HCAPTCHA_SECRET,
        FakeSiteverify::HCAPTCHA_TEST_SITE_KEY,
    )
    .await;
    let token = mismatched.siteverify.issue_token();
    assert_eq!(
        login(&mismatched, &token).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn an_hcaptcha_outage_or_error_is_a_503_never_a_pass() {
    let app = spawn_test_keys_app().await;
    for status in [500, 503] {
        app.siteverify.set_mode(SiteverifyMode::Status(status));
        let response = login(&app, FakeSiteverify::HCAPTCHA_TEST_TOKEN).await;
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
    }
    app.siteverify.set_mode(SiteverifyMode::Normal);
    let url = closed_port_url().parse().unwrap();
    let down = app.restart_with(|c| c.hcaptcha.verify_url = url).await;
    let response = login(&down, FakeSiteverify::HCAPTCHA_TEST_TOKEN).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.count_rows("outbox"), 0);
}

#[tokio::test]
async fn a_hanging_hcaptcha_times_out_into_a_503() {
    let app = spawn_test_keys_app().await;
    app.siteverify.set_mode(SiteverifyMode::Hang);
    let response = login(&app, FakeSiteverify::HCAPTCHA_TEST_TOKEN).await;
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "after 5 s"
    );
    assert_eq!(app.count_rows("outbox"), 0);
}

#[tokio::test]
async fn the_json_api_takes_an_hcaptcha_token_in_its_token_field() {
    let app = spawn_hcaptcha_app(
        FakeSiteverify::HCAPTCHA_SECRET,
        FakeSiteverify::HCAPTCHA_SITE_KEY,
    )
    .await;
    let token = app.siteverify.issue_token();
    let start = |token: String| {
        let url = format!("{}/api/v1/login", app.address);
        async move {
            let body = serde_json::json!({"email": "api@example.com", "turnstile_token": token});
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(start(token.clone()).await.status(), StatusCode::OK);
    let replayed = start(token).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = replayed.json().await.unwrap();
    assert_eq!(body["error"], "captcha_failed");
    app.siteverify.set_mode(SiteverifyMode::Status(502));
    let down = start(app.siteverify.issue_token()).await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = down.json().await.unwrap();
    assert_eq!(body["error"], "captcha_unavailable");
}
