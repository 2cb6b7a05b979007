//! Turnstile: server-side validation as Cloudflare documents it, failing closed.

use doorcode::config::Secret;
use reqwest::StatusCode;

use crate::helpers::{alerts, browser, spawn_app, spawn_app_with};
use crate::turnstile::{FakeSiteverify, SiteverifyMode, closed_port_url};

async fn login_with_token(app: &crate::helpers::TestApp, token: &str) -> reqwest::Response {
    app.post(
        &browser(),
        "/login",
        &[
            ("email", "bot@example.com"),
            ("cf-turnstile-response", token),
        ],
    )
    .await
}

#[tokio::test]
async fn siteverify_receives_the_secret_the_token_and_the_client_address() {
    let app = spawn_app().await;
    assert_eq!(
        app.post_login(&browser(), "ok@example.com").await.status(),
        StatusCode::OK
    );
    let requests = app.siteverify.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.secret.as_deref(), Some(FakeSiteverify::PASS_SECRET));
    assert_eq!(
        request.response.as_deref(),
        Some(FakeSiteverify::DUMMY_TOKEN)
    );
    assert_eq!(request.remoteip.as_deref(), Some("127.0.0.1"));
    assert!(
        request
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn the_always_failing_and_spent_test_secrets_give_a_400_and_no_mail() {
    for secret in [FakeSiteverify::FAIL_SECRET, FakeSiteverify::SPENT_SECRET] {
        let app = spawn_app_with(|c| c.turnstile.secret_key = Secret::new(secret)).await;
        let response = login_with_token(&app, FakeSiteverify::DUMMY_TOKEN).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{secret}");
        let html = response.text().await.unwrap();
        assert!(alerts(&html).contains("security check"), "{html}");
        assert!(
            html.contains("bot@example.com"),
            "the typed address is kept"
        );
        assert_eq!(app.count_rows("outbox"), 0, "nothing queued");
    }
}

#[tokio::test]
async fn a_production_secret_refuses_the_dummy_token_and_takes_a_real_one_once() {
    let app =
        spawn_app_with(|c| c.turnstile.secret_key = Secret::new(FakeSiteverify::PRODUCTION_SECRET))
            .await;
    assert_eq!(
        login_with_token(&app, FakeSiteverify::DUMMY_TOKEN)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let token = app.siteverify.issue_token();
    assert_eq!(
        login_with_token(&app, &token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        login_with_token(&app, &token).await.status(),
        StatusCode::BAD_REQUEST,
        "a replayed token"
    );
}

#[tokio::test]
async fn a_missing_or_oversized_token_is_refused_without_asking_siteverify() {
    let app = spawn_app().await;
    let response = app
        .post(&browser(), "/login", &[("email", "bot@example.com")])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&response.text().await.unwrap()).contains("security check"));
    let long = "x".repeat(2049);
    assert_eq!(
        login_with_token(&app, &long).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert!(app.siteverify.requests().is_empty());
}

#[tokio::test]
async fn siteverify_errors_and_outages_are_a_503_never_a_pass() {
    let app = spawn_app().await;
    for status in [500, 502, 429] {
        app.siteverify.set_mode(SiteverifyMode::Status(status));
        let response = app.post_login(&browser(), "x@example.com").await;
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "siteverify {status}"
        );
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("500") && !html.contains("siteverify"),
            "no dependency detail for people"
        );
    }
    app.siteverify.set_mode(SiteverifyMode::InternalErrorOnce);
    assert_eq!(
        app.post_login(&browser(), "x@example.com").await.status(),
        StatusCode::OK,
        "internal-error is retried once"
    );
    let keys: Vec<_> = app
        .siteverify
        .requests()
        .iter()
        .rev()
        .take(2)
        .map(|r| r.idempotency_key.clone())
        .collect();
    assert!(
        keys[0].is_some() && keys[0] == keys[1],
        "the retry carries the same idempotency key"
    );
    assert_eq!(app.count_rows("outbox"), 1);

    let down =
        spawn_app_with(|c| c.turnstile.verify_url = closed_port_url().parse().unwrap()).await;
    assert_eq!(
        down.post_login(&browser(), "x@example.com").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn a_hanging_siteverify_times_out_into_a_503_without_holding_other_requests() {
    let app = spawn_app().await;
    app.siteverify.set_mode(SiteverifyMode::Hang);
    let app = std::sync::Arc::new(app);
    let slow = tokio::spawn({
        let app = app.clone();
        async move {
            app.post_login(&browser(), "slow@example.com")
                .await
                .status()
        }
    });
    // Wait until the hanging siteverify call is under way.
    while app.siteverify.requests().is_empty() {
        tokio::task::yield_now().await;
    }
    let health = app.get(&browser(), "/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        !slow.is_finished(),
        "the health check answered while the sign-in was still waiting"
    );
    assert_eq!(
        slow.await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "after the 5 s timeout"
    );
}

#[tokio::test]
async fn with_no_keys_the_captcha_is_off() {
    let app = spawn_app_with(|c| {
        c.turnstile.site_key.clear();
        c.turnstile.secret_key = Secret::default();
    })
    .await;
    let html = app.get(&browser(), "/login").await.text().await.unwrap();
    assert!(
        !html.contains("cf-turnstile"),
        "no widget when CAPTCHA is off"
    );
    let response = app
        .post(&browser(), "/login", &[("email", "dev@example.com")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app.siteverify.requests().is_empty());
}
