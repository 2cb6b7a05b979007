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

/// `/auth/check` and `GET /api/v1/session` are answered on a path of their own
/// (ahead of the pages' middleware); they renew and clear the cookie as `/` does.
#[tokio::test]
async fn session_reads_renew_a_cookie_they_were_sent_and_clear_a_dead_one() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "reader@example.com").await;
    let code = app.code_for("reader@example.com").await;
    let signed_in = app
        .verify(&person, &page, &code, Some(("Reader", "")))
        .await;
    let token = set_cookies(&signed_in)
        .into_iter()
        .find_map(|c| {
            Some(
                c.strip_prefix("doorcode_session=")?
                    .split(';')
                    .next()?
                    .to_owned(),
            )
        })
        .expect("session cookie");
    let bearer_check = || {
        reqwest::Client::new()
            .get(app.url("/auth/check"))
            .bearer_auth(&token)
            .send()
    };

    app.clock.advance(TTL / 4);
    for path in ["/auth/check", "/api/v1/session"] {
        let early = app.get(&person, path).await;
        assert_eq!(early.status(), StatusCode::OK, "{path}");
        assert!(
            set_cookies(&early).is_empty(),
            "{path}: nothing to renew yet"
        );
    }

    app.clock.advance(TTL / 2);
    let by_bearer = bearer_check().await.unwrap();
    assert_eq!(by_bearer.status(), StatusCode::OK);
    assert!(
        set_cookies(&by_bearer).is_empty(),
        "a bearer token gets no cookie"
    );
    // The bearer check renewed the session; the browser's cookie renews on its next
    // read once the session is half gone again.
    app.clock.advance(TTL / 2 + 1);
    for path in ["/auth/check", "/api/v1/session"] {
        let renewed = app.get(&person, path).await;
        assert_eq!(renewed.status(), StatusCode::OK, "{path}");
        let cookie = set_cookies(&renewed)
            .into_iter()
            .find(|c| c.starts_with("doorcode_session="))
            .unwrap_or_else(|| panic!("{path}: no renewed cookie"));
        for part in [
            format!("Max-Age={TTL}"),
            "HttpOnly".into(),
            "SameSite=Lax".into(),
        ] {
            assert!(
                cookie.contains(&part),
                "{path}: {part} missing from {cookie}"
            );
        }
        app.clock.advance(TTL / 2 + 1);
    }

    app.clock.advance(TTL + 1);
    // Forward auth clears a dead cookie too (one session gate for every surface);
    // asked with the cookie by hand, so the browser below still holds it.
    let check = reqwest::Client::new()
        .get(app.url("/auth/check"))
        .header("cookie", format!("doorcode_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies(&check)
            .iter()
            .any(|c| c.starts_with("doorcode_session=;") && c.contains("Max-Age=0")),
        "forward auth clears the dead cookie: {:?}",
        set_cookies(&check)
    );
    let api = app.get(&person, "/api/v1/session").await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.headers()["www-authenticate"], "Bearer");
    assert!(
        set_cookies(&api)
            .iter()
            .any(|c| c.starts_with("doorcode_session=;") && c.contains("Max-Age=0")),
        "the dead cookie is cleared: {:?}",
        set_cookies(&api)
    );
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
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

/// The session token a browser's cookie holds, read from the response that set it.
fn session_token(response: &reqwest::Response) -> String {
    set_cookies(response)
        .into_iter()
        .find_map(|c| {
            let value = c.strip_prefix("doorcode_session=")?.split(';').next()?;
            (!value.is_empty()).then(|| value.to_owned())
        })
        .expect("a session cookie")
}

async fn bearer_status(app: &crate::helpers::TestApp, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(app.url("/auth/check"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// A shared computer: whoever signs in next, the previous person's session must not
/// live on behind the new cookie for another month.
#[tokio::test]
async fn signing_in_again_in_a_browser_ends_the_session_it_held() {
    let app = spawn_app().await;
    let shared = browser();
    let page = app.start_sign_in(&shared, "first@example.com").await;
    let code = app.code_for("first@example.com").await;
    let first = app.verify(&shared, &page, &code, Some(("First", ""))).await;
    let first_token = session_token(&first);
    assert_eq!(bearer_status(&app, &first_token).await, StatusCode::OK);

    let page = app.start_sign_in(&shared, "second@example.com").await;
    let code = app.code_for("second@example.com").await;
    let second = app
        .verify(&shared, &page, &code, Some(("Second", "")))
        .await;
    let second_token = session_token(&second);

    assert_eq!(
        bearer_status(&app, &first_token).await,
        StatusCode::UNAUTHORIZED,
        "the first person's session ended when the browser signed in again"
    );
    assert_eq!(bearer_status(&app, &second_token).await, StatusCode::OK);
    assert_eq!(app.count_rows("user_sessions"), 1);
    // Another browser's session is left alone.
    let elsewhere = browser();
    app.sign_up(&elsewhere, "third@example.com", "Third", "")
        .await;
    assert_eq!(bearer_status(&app, &second_token).await, StatusCode::OK);
}

/// Used every day, a session still ends `session.max_lifetime_secs` after sign-in,
/// and its cookie is never set to outlive that.
#[tokio::test]
async fn a_session_used_every_day_still_ends_at_its_maximum_lifetime() {
    const DAY: i64 = 86_400;
    let app = spawn_app_with(|c| {
        c.session.ttl_secs = std::num::NonZeroU64::new(10 * DAY as u64).unwrap();
        c.session.max_lifetime_secs = std::num::NonZeroU64::new(25 * DAY as u64).unwrap();
    })
    .await;
    let person = browser();
    app.sign_up(&person, "daily@example.com", "Daily", "").await;
    let mut renewals = Vec::new();
    for day in 1..25 {
        app.clock.advance(DAY);
        let response = app.get(&person, "/").await;
        assert_eq!(response.status(), StatusCode::OK, "day {day}");
        if let Some(cookie) = set_cookies(&response)
            .into_iter()
            .find(|c| c.starts_with("doorcode_session="))
        {
            let max_age: i64 = cookie
                .split("Max-Age=")
                .nth(1)
                .and_then(|rest| rest.split(';').next())
                .and_then(|n| n.parse().ok())
                .expect("Max-Age");
            assert!(
                day * DAY + max_age <= 25 * DAY,
                "day {day}: a cookie for {max_age} s outlives the session"
            );
            renewals.push(day);
        }
    }
    assert!(!renewals.is_empty(), "the session was renewed while in use");
    app.clock.advance(DAY);
    let over = app.get(&person, "/").await;
    assert_eq!(over.status(), StatusCode::SEE_OTHER, "over after 25 days");
    assert!(
        set_cookies(&over).iter().any(|c| c.contains("Max-Age=0")),
        "the dead cookie is cleared"
    );
}
