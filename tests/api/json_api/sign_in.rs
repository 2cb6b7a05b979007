//! Signing up and in through the API.

use doorcode::config::AskName;
use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{client, error_of, json_of, post_json, sign_in, start, token, verify};
use crate::helpers::{browser, set_cookies, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_new_address_signs_up_through_the_api_and_later_signs_in_without_a_name() {
    let app = spawn_app().await;
    let spa = client("spa/1.0");

    let challenge = start(&app, &spa, " Ada@Example.com ").await;
    assert_eq!(challenge["new_user"], true);
    let id = challenge["challenge_id"].as_str().unwrap();
    assert_eq!(id.len(), 32, "a 128-bit id");

    let code = app.code_for("ada@example.com").await;
    let response = verify(&app, &spa, id, &code, Some(("Ada", "Lovelace"))).await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("doorcode_session="))
        .expect("verify sets the session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_of(response, StatusCode::OK).await;
    assert_eq!(
        body["user"],
        json!({"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "groups": []})
    );
    assert_eq!(token(&body).len(), 43, "a 256-bit token");
    assert!(
        cookie.starts_with(&format!("doorcode_session={};", token(&body))),
        "the cookie holds the same token"
    );
    let expires_at = body["expires_at"].as_str().expect("an RFC 3339 string");
    let expires_at = OffsetDateTime::parse(expires_at, &Rfc3339).unwrap();
    let lifetime = expires_at - OffsetDateTime::from_unix_timestamp(app.clock.now()).unwrap();
    assert!(
        (lifetime.whole_seconds() - 2_592_000).abs() < 5,
        "{lifetime}"
    );

    // Later, from another client: a known address, no name needed.
    let other = client("cli/2.0");
    let challenge = start(&app, &other, "ada@example.com").await;
    assert_eq!(challenge["new_user"], false);
    let code = app.code_for("ada@example.com").await;
    let id = challenge["challenge_id"].as_str().unwrap();
    let response = verify(&app, &other, id, &code, None).await;
    let body = json_of(response, StatusCode::OK).await;
    assert_eq!(body["user"]["id"], 1);
    assert_eq!(
        (app.count_rows("users"), app.count_rows("user_sessions")),
        (1, 2)
    );
}

#[tokio::test]
async fn a_new_address_without_a_name_is_told_name_required_and_the_same_code_then_finishes() {
    let app = spawn_app().await;
    let spa = client("spa");
    let challenge = start(&app, &spa, "grace@example.com").await;
    let id = challenge["challenge_id"].as_str().unwrap();
    let code = app.code_for("grace@example.com").await;

    let response = verify(&app, &spa, id, &code, None).await;
    assert!(set_cookies(&response).is_empty(), "no cookie on failure");
    let (error, message) = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "name_required");
    assert!(message.contains("first_name"), "{message}");

    let response = verify(&app, &spa, id, &code, Some(("Grace", ""))).await;
    let body = json_of(response, StatusCode::OK).await;
    assert_eq!(body["user"]["first_name"], "Grace");
    assert_eq!(body["user"]["last_name"], json!(null), "present, and null");
}

#[tokio::test]
async fn in_after_code_mode_new_user_is_always_false_and_the_name_follows_the_right_code() {
    let app = spawn_app_with(|c| c.signup.ask_name = AskName::AfterCode).await;
    let spa = client("spa");
    sign_in(&app, &spa, "known@example.com", "Known").await;

    let known = start(&app, &spa, "known@example.com").await;
    let stranger = start(&app, &spa, "new@example.com").await;
    assert_eq!(known["new_user"], false);
    assert_eq!(stranger["new_user"], false, "nothing told before the code");

    let code = app.code_for("known@example.com").await;
    let response = verify(
        &app,
        &spa,
        known["challenge_id"].as_str().unwrap(),
        &code,
        None,
    )
    .await;
    assert_eq!(
        json_of(response, StatusCode::OK).await["user"]["first_name"],
        "Known"
    );

    let id = stranger["challenge_id"].as_str().unwrap();
    let code = app.code_for("new@example.com").await;
    let response = verify(&app, &spa, id, &code, None).await;
    let (error, _) = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "name_required");
    let response = verify(&app, &spa, id, &code, Some(("", ""))).await;
    let (error, _) = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "name_required", "blank names are no names");

    let response = verify(&app, &spa, id, &code, Some(("Nova", "Newton"))).await;
    let body = json_of(response, StatusCode::OK).await;
    assert_eq!(body["user"]["email"], "new@example.com");
    assert_eq!(body["user"]["last_name"], "Newton");
    let response = verify(&app, &spa, id, &code, Some(("Nova", ""))).await;
    let (error, _) = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        error, "code_used",
        "a finished sign-in cannot be used again"
    );
    assert_eq!(app.count_rows("users"), 2);
}

#[tokio::test]
async fn api_sign_ins_work_from_any_client_but_a_page_sign_in_stays_in_its_browser() {
    let app = spawn_app().await;
    let challenge = start(&app, &client("phone"), "sam@example.com").await;
    let id = challenge["challenge_id"].as_str().unwrap();
    let code = app.code_for("sam@example.com").await;
    let response = verify(&app, &client("laptop"), id, &code, Some(("Sam", ""))).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the challenge id is the secret"
    );

    let person = browser();
    let page = app.start_sign_in(&person, "sam@example.com").await;
    let code = app.code_for("sam@example.com").await;
    let response = verify(&app, &client("thief"), &page.challenge, &code, None).await;
    let (error, _) = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "other_browser");
}

#[tokio::test]
async fn a_resend_answers_204_and_both_codes_then_work() {
    let app = spawn_app().await;
    let spa = client("spa");
    sign_in(&app, &spa, "lin@example.com", "Lin").await;
    let challenge = start(&app, &spa, "lin@example.com").await;
    let id = challenge["challenge_id"].as_str().unwrap();
    let first = app.code_for("lin@example.com").await;

    let body = json!({"challenge_id": id});
    let response = post_json(&app, &spa, "/api/v1/login/resend", body.clone()).await;
    assert!(response.headers().contains_key("retry-after"));
    let (error, _) = error_of(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(error, "rate_limited", "too soon after the first code");

    app.clock.advance(61);
    let response = post_json(&app, &spa, "/api/v1/login/resend", body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_ne!(app.code_for("lin@example.com").await, "", "a second mail");
    let response = verify(&app, &spa, id, &first, None).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the earlier code still works"
    );
}

#[tokio::test]
async fn the_cookie_verify_sets_signs_the_browser_in_on_the_pages_too() {
    let app = spawn_app().await;
    let spa = client("spa");
    sign_in(&app, &spa, "pat@example.com", "Pat").await;
    let home = app.get(&spa, "/").await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Pat"));
}
