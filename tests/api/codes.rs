//! Codes: single use, limited life, limited guesses, bound to one browser.

use reqwest::StatusCode;

use crate::helpers::{alerts, browser, spawn_app, spawn_app_with};

/// A six-digit code that is none of `codes`.
fn other_than_all(codes: &[&str]) -> String {
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|candidate| !codes.contains(&candidate.as_str()))
        .unwrap()
}

fn other_than(code: &str) -> String {
    other_than_all(&[code])
}

#[tokio::test]
async fn a_wrong_code_says_how_many_attempts_are_left_and_five_kill_the_sign_in() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "guess@example.com").await;
    let code = app.code_for("guess@example.com").await;
    let wrong = other_than(&code);
    for left in (1..5).rev() {
        let response = app.verify(&person, &page, &wrong, Some(("G", ""))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            response
                .headers()
                .get("set-cookie")
                .is_none_or(|c| !c.to_str().unwrap().contains("doorcode_session"))
        );
        let text = alerts(&response.text().await.unwrap());
        assert!(
            text.contains(&format!("{left} attempt")),
            "attempt {left}: {text}"
        );
    }
    let last = app.verify(&person, &page, &wrong, Some(("G", ""))).await;
    assert_eq!(last.status(), StatusCode::BAD_REQUEST);
    let html = last.text().await.unwrap();
    assert!(alerts(&html).contains("no attempts left"), "{html}");
    assert!(html.contains(r#"href="/login""#), "a way to start again");
    let right = app.verify(&person, &page, &code, Some(("G", ""))).await;
    assert_eq!(
        right.status(),
        StatusCode::BAD_REQUEST,
        "even the right code is dead now"
    );
    assert_eq!(app.count_rows("user_sessions"), 0);
}

#[tokio::test]
async fn a_code_dies_when_its_time_is_up() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "late@example.com").await;
    let code = app.code_for("late@example.com").await;
    app.clock.advance(601);
    let response = app.verify(&person, &page, &code, Some(("Late", ""))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(alerts(&html).contains("expired"), "{html}");
    assert!(html.contains(r#"href="/login""#));
}

#[tokio::test]
async fn a_code_works_once() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "once@example.com").await;
    let code = app.code_for("once@example.com").await;
    let first = app.verify(&person, &page, &code, Some(("Once", ""))).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let replay = app.verify(&person, &page, &code, Some(("Once", ""))).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&replay.text().await.unwrap()).contains("already been used"));
    assert_eq!(app.count_rows("user_sessions"), 1);
}

#[tokio::test]
async fn a_code_page_only_works_in_the_browser_that_asked() {
    let app = spawn_app().await;
    let (asker, other) = (browser(), browser());
    let page = app.start_sign_in(&asker, "bound@example.com").await;
    let code = app.code_for("bound@example.com").await;
    let response = app.verify(&other, &page, &code, Some(("Bound", ""))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("doorcode_session"))
    );
    assert!(alerts(&response.text().await.unwrap()).contains("another browser"));
    let response = app.verify(&asker, &page, &code, Some(("Bound", ""))).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the asking browser still can"
    );
}

#[tokio::test]
async fn codes_may_be_typed_with_spaces_or_a_dash() {
    let app = spawn_app().await;
    for (n, style) in ["spaced", "dashed"].iter().enumerate() {
        let person = browser();
        let email = format!("{style}{n}@example.com");
        let page = app.start_sign_in(&person, &email).await;
        let code = app.code_for(&email).await;
        let typed = if *style == "spaced" {
            format!(" {} {} ", &code[..3], &code[3..])
        } else {
            format!("{}-{}", &code[..3], &code[3..])
        };
        let response = app.verify(&person, &page, &typed, Some(("T", ""))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{typed:?}");
    }
}

#[tokio::test]
async fn a_resend_mails_a_new_code_and_the_earlier_one_still_works() {
    let app = spawn_app_with(|c| c.code.resend_interval_secs = 60).await;
    let person = browser();
    let page = app.start_sign_in(&person, "resend@example.com").await;
    let first = app.code_for("resend@example.com").await;

    let too_soon = app
        .post(&person, "/login/resend", &[("challenge", &page.challenge)])
        .await;
    assert_eq!(too_soon.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = too_soon.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");

    app.clock.advance(61);
    let resent = app
        .post(&person, "/login/resend", &[("challenge", &page.challenge)])
        .await;
    assert_eq!(resent.status(), StatusCode::OK);
    assert!(resent.text().await.unwrap().contains("new code"));
    let second = app.code_for("resend@example.com").await;
    assert_eq!(app.smtp.count_to("resend@example.com"), 2);

    // A wrong guess costs the shared budget; then the earlier code still signs in.
    let wrong = app
        .verify(
            &person,
            &page,
            &other_than_all(&[&first, &second]),
            Some(("R", "")),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&wrong.text().await.unwrap()).contains("4 attempts"));
    let response = app.verify(&person, &page, &first, Some(("R", ""))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_database_holds_no_code_and_no_token_in_clear() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "secret@example.com").await;
    let code = app.code_for("secret@example.com").await;
    let response = app.verify(&person, &page, &code, Some(("S", ""))).await;
    let cookie = crate::helpers::set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("doorcode_session="))
        .unwrap();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("doorcode_session=")
        .to_owned();
    // A second pending code, still live, must not be readable either.
    let pending = app.start_sign_in(&browser(), "pending@example.com").await;
    let pending_code = app.code_for("pending@example.com").await;
    assert!(!pending.challenge.is_empty());

    let (dump, numbers) = app.database().dump();
    for secret in [&code, &pending_code, &token] {
        assert!(
            !dump.contains(secret.as_str()),
            "{secret} found in the database"
        );
    }
    for code in [&code, &pending_code] {
        assert!(
            !numbers.contains(&code.parse::<i64>().unwrap()),
            "{code} stored as a number"
        );
    }
    let expected_hash = doorcode::domain::sha256_hex(&token);
    assert!(
        dump.contains(&expected_hash),
        "token_hash is the hex SHA-256 of the cookie value"
    );
}
