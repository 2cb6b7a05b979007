//! Failures: the error shape, with the statuses the browser flow uses.

use std::num::NonZeroU32;

use doorcode::config::Secret;
use reqwest::header::{CONTENT_TYPE, ORIGIN, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{call, client, error_of, post_json, start, verify};
use crate::helpers::{BASE_URL, spawn_app, spawn_app_with};
use crate::turnstile::{FakeSiteverify, closed_port_url};

#[tokio::test]
async fn bad_input_gets_the_error_shape_and_the_browser_flows_statuses() {
    let app = spawn_app().await;
    let spa = client("spa");
    let token = FakeSiteverify::DUMMY_TOKEN;
    let cases = [
        (
            "a malformed address",
            json!({"email": "ada.example.com", "turnstile_token": token}),
            "invalid_email",
        ),
        (
            "an overlong address",
            json!({"email": format!("{}@example.com", "a".repeat(250)), "turnstile_token": token}),
            "invalid_email",
        ),
        (
            "no CAPTCHA token",
            json!({"email": "ada@example.com"}),
            "captcha_missing",
        ),
        (
            "no email",
            json!({"turnstile_token": token}),
            "invalid_request",
        ),
        (
            "a number for the email",
            json!({"email": 5, "turnstile_token": token}),
            "invalid_request",
        ),
        ("an array", json!(["ada@example.com"]), "invalid_request"),
    ];
    for (case, body, expected) in cases {
        let response = post_json(&app, &spa, "/api/v1/login", body).await;
        let (error, _) = error_of(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error, expected, "{case}");
    }
    for (case, content_type, body, status, expected) in [
        (
            "malformed JSON",
            "application/json",
            "{\"email\":",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an empty body",
            "application/json",
            "",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a form",
            "application/x-www-form-urlencoded",
            "email=a%40b.c",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        // The XML parser that poem-openapi pulls in (see deny.toml) is never fed.
        (
            "XML",
            "application/xml",
            "<login><email>a@b.c</email></login>",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ] {
        let response = spa
            .post(app.url("/api/v1/login"))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (error, _) = error_of(response, status).await;
        assert_eq!(error, expected, "{case}");
    }
    assert_eq!(app.count_rows("outbox"), 0, "nothing was mailed");

    let unknown = verify(
        &app,
        &spa,
        "0123456789abcdef0123456789abcdef",
        "123456",
        None,
    )
    .await;
    assert_eq!(
        error_of(unknown, StatusCode::BAD_REQUEST).await.0,
        "unknown_challenge"
    );
    let challenge = start(&app, &spa, "ada@example.com").await;
    let id = challenge["challenge_id"].as_str().unwrap();
    let response = verify(&app, &spa, id, "12345", None).await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.0,
        "invalid_code"
    );
}

#[tokio::test]
async fn a_wrong_code_is_400_with_the_attempts_left_until_the_code_is_dead() {
    let app = spawn_app().await;
    let spa = client("spa");
    let challenge = start(&app, &spa, "ada@example.com").await;
    let id = challenge["challenge_id"].as_str().unwrap();
    let code = app.code_for("ada@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..=4).rev() {
        let response = verify(&app, &spa, id, wrong, Some(("Ada", ""))).await;
        let (error, message) = error_of(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error, "wrong_code");
        assert!(message.contains(&format!("{left} attempt")), "{message}");
    }
    let response = verify(&app, &spa, id, wrong, Some(("Ada", ""))).await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.0,
        "too_many_attempts"
    );
    let response = verify(&app, &spa, id, &code, Some(("Ada", ""))).await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.0,
        "too_many_attempts"
    );
}

#[tokio::test]
async fn too_many_codes_for_one_address_is_429_with_retry_after() {
    let app = spawn_app_with(|c| c.rate_limit.email_per_hour = NonZeroU32::new(2).unwrap()).await;
    let spa = client("spa");
    start(&app, &spa, "ada@example.com").await;
    start(&app, &spa, "ada@example.com").await;
    let body = json!({"email": "ada@example.com", "turnstile_token": FakeSiteverify::DUMMY_TOKEN});
    let response = post_json(&app, &spa, "/api/v1/login", body).await;
    let retry_after: i64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_of(response, StatusCode::TOO_MANY_REQUESTS).await.0,
        "rate_limited"
    );
}

#[tokio::test]
async fn a_failed_captcha_is_400_and_an_unreachable_siteverify_is_503() {
    let failing = spawn_app_with(|c| {
        c.turnstile.secret_key = Secret::new(FakeSiteverify::FAIL_SECRET);
    })
    .await;
    let body = json!({"email": "bot@example.com", "turnstile_token": FakeSiteverify::DUMMY_TOKEN});
    let response = post_json(&failing, &client("bot"), "/api/v1/login", body.clone()).await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.0,
        "captcha_failed"
    );
    assert_eq!(failing.count_rows("outbox"), 0, "nothing queued");

    let down =
        spawn_app_with(|c| c.turnstile.verify_url = closed_port_url().parse().unwrap()).await;
    let response = post_json(&down, &client("spa"), "/api/v1/login", body).await;
    assert_eq!(
        error_of(response, StatusCode::SERVICE_UNAVAILABLE).await.0,
        "captcha_unavailable"
    );
}

#[tokio::test]
async fn the_guards_refusals_and_poems_own_errors_get_the_error_shape_too() {
    let app = spawn_app().await;
    let spa = client("spa");
    let body = json!({"email": "ada@example.com", "turnstile_token": FakeSiteverify::DUMMY_TOKEN});

    let cross_site = spa
        .post(app.url("/api/v1/login"))
        .header(ORIGIN, "https://evil.example");
    let response = cross_site.json(&body).send().await.unwrap();
    assert_eq!(
        error_of(response, StatusCode::FORBIDDEN).await.0,
        "cross_origin"
    );
    let same_site = spa.post(app.url("/api/v1/login")).header(ORIGIN, BASE_URL);
    assert_eq!(
        same_site.json(&body).send().await.unwrap().status(),
        StatusCode::OK
    );

    let huge = json!({"email": "a".repeat(17 * 1024), "turnstile_token": "x"});
    let response = post_json(&app, &spa, "/api/v1/login", huge).await;
    assert_eq!(
        error_of(response, StatusCode::PAYLOAD_TOO_LARGE).await.0,
        "too_large"
    );

    let response = call(&app, &spa, Method::GET, "/api/v1/nothing-here", None).await;
    assert_eq!(
        error_of(response, StatusCode::NOT_FOUND).await.0,
        "not_found"
    );
    let response = call(&app, &spa, Method::PUT, "/api/v1/login", None).await;
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(
        error_of(response, StatusCode::METHOD_NOT_ALLOWED).await.0,
        "method_not_allowed"
    );
    let response = call(&app, &spa, Method::POST, "/api/v1/sessions/abc", None).await;
    assert_eq!(response.headers()["allow"], "DELETE");
}
