//! Session lifetime and cookie security.

use doorcode::config::BaseUrl;
use reqwest::StatusCode;

use crate::helpers::{browser, set_cookies, spawn_app, spawn_app_with};

const TTL: i64 = 2_592_000;

#[tokio::test]
async fn a_session_expires_when_unused_for_its_lifetime() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "idle@example.com", "Idle", "").await;
    app.clock.advance(TTL + 1);
    let response = app.get(&person, "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.contains("Max-Age=0")),
        "the dead cookie is cleared"
    );
}

#[tokio::test]
async fn a_session_in_use_is_extended_once_half_its_life_is_gone() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "busy@example.com", "Busy", "").await;

    app.clock.advance(TTL / 4);
    let early = app.get(&person, "/").await;
    assert_eq!(early.status(), StatusCode::OK);
    assert!(
        set_cookies(&early).is_empty(),
        "no renewal (and no write) while most of the life is left"
    );

    app.clock.advance(TTL / 2);
    let renewed = app.get(&person, "/").await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let cookie = set_cookies(&renewed)
        .into_iter()
        .find(|c| c.starts_with("doorcode_session="))
        .expect("renewed cookie");
    assert!(cookie.contains(&format!("Max-Age={TTL}")), "{cookie}");

    app.clock.advance(TTL / 2);
    assert_eq!(
        app.get(&person, "/").await.status(),
        StatusCode::OK,
        "alive past its first expiry"
    );
}

#[tokio::test]
async fn on_https_cookies_are_secure_and_host_prefixed() {
    let app = spawn_app_with(|c| {
        c.server.base_url = BaseUrl::parse("https://login.example.com").unwrap()
    })
    .await;
    let person = browser();
    let response = app.post_login(&person, "tls@example.com").await;
    let binding = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("__Host-doorcode_login="))
        .expect("binding cookie");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(binding.contains(flag), "{flag} missing from {binding}");
    }
    assert!(
        !binding.contains("Domain"),
        "__Host- cookies have no Domain"
    );
    // The test client speaks http, so it will not send a Secure cookie back; send it by hand.
    let pair = binding.split(';').next().unwrap().to_owned();
    let page = crate::helpers::CodePage::from_html(&response.text().await.unwrap());
    let code = app.code_for("tls@example.com").await;
    let verify = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/login/verify"))
        .header("cookie", pair)
        .form(&[
            ("challenge", page.challenge.as_str()),
            ("code", &code),
            ("first_name", "T"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), StatusCode::SEE_OTHER);
    let session = set_cookies(&verify)
        .into_iter()
        .find(|c| c.starts_with("__Host-doorcode_session="))
        .expect("session cookie");
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}
