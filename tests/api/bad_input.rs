//! Bad input gets a clear 4xx, never a 500, and sends nothing.

use reqwest::StatusCode;

use crate::helpers::{alerts, browser, spawn_app};

#[tokio::test]
async fn malformed_addresses_are_a_400_with_a_reason_and_send_nothing() {
    let app = spawn_app().await;
    let too_long = format!("{}@example.com", "a".repeat(250));
    let cases: &[(&str, &str)] = &[
        ("", "Enter your email"),
        ("plainaddress", "one @"),
        ("two@@example.com", "one @"),
        ("a@b@example.com", "one @"),
        ("@example.com", "before the @"),
        ("ada@", "domain"),
        ("ada@localhost", "domain"),
        ("ada@example..com", "domain"),
        ("ada@example.com\r\nBcc: victim@example.com", "not allowed"),
        ("ada@example.com\nX-Injected: 1", "not allowed"),
        ("ada\0@example.com", "not allowed"),
        ("ada @example.com", "not allowed"),
        (&too_long, "too long"),
        // What a probe got accepted: each used a rate-limit slot, and some could
        // never be mailed.
        ("a\u{202e}@example.com", "not allowed"),
        ("admin@example.com\u{200b}", "not allowed"),
        ("\"a\\\"b\"@example.com", "does not look like"),
        ("a@[127.0.0.1]", "domain"),
        ("a@127.0.0.1", "domain"),
        ("a@exa_mple.com", "domain"),
    ];
    for (email, reason) in cases {
        let response = app.post_login(&browser(), email).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "case {email:?}");
        let html = response.text().await.unwrap();
        let text = alerts(&html);
        assert!(
            text.contains(reason),
            "case {email:?}: message {text:?} lacks {reason:?}"
        );
        assert!(
            html.contains(r#"aria-describedby="email-error""#),
            "case {email:?}: error tied to the field"
        );
    }
    assert_eq!(app.count_rows("outbox"), 0);
    assert_eq!(app.count_rows("login_challenges"), 0);
    assert!(
        app.siteverify.requests().is_empty(),
        "a bad address never costs a siteverify call"
    );
}

/// Look-alike spellings of one mailbox are one address, so one account.
#[tokio::test]
async fn quoted_and_full_width_spellings_reach_the_same_address() {
    let app = spawn_app().await;
    let first = browser();
    let page = app
        .start_sign_in(&first, "\"quoted\"@ｅｘａｍｐｌｅ.com")
        .await;
    // The code goes to the one mailbox, spelt plainly.
    let code = app.code_for("quoted@example.com").await;
    let done = app.verify(&first, &page, &code, Some(("Q", ""))).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let page = app.start_sign_in(&browser(), "quoted@example.com").await;
    assert!(
        !page.has_input("first_name"),
        "the plain spelling has the same account"
    );
    assert_eq!(app.count_rows("users"), 1);
}

#[tokio::test]
async fn bad_code_input_is_a_400_that_costs_no_attempt() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "typo@example.com").await;
    let code = app.code_for("typo@example.com").await;
    for typed in [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345x",
        "１２３４５６",
        "' OR 1=1 --",
    ] {
        let response = app.verify(&person, &page, typed, Some(("T", ""))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "case {typed:?}");
        let text = alerts(&response.text().await.unwrap());
        assert!(
            text.contains("6-digit") || text.contains("6 digits"),
            "case {typed:?}: {text}"
        );
    }
    let response = app.verify(&person, &page, &code, Some(("T", ""))).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "no attempt was used up"
    );
}

#[tokio::test]
async fn bad_names_are_a_400_and_keep_the_code_usable() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "named@example.com").await;
    let code = app.code_for("named@example.com").await;
    let long = "n".repeat(128);
    let zalgo = format!("Ada{}", "\u{0336}".repeat(120));
    for (first, last, reason) in [
        (long.as_str(), "", "too long"),
        ("Ada", long.as_str(), "too long"),
        ("Ada\u{0}", "", "control"),
        ("Ada", "Love\nlace", "control"),
        // What a probe got through to X-Doorcode-Name and the CLI's tables.
        ("\u{202e}adA", "", "invisible"),
        ("Ada", "Love\u{2028}lace", "invisible"),
        ("\u{feff}Ada", "", "invisible"),
        (zalgo.as_str(), "", "accents"),
    ] {
        let response = app.verify(&person, &page, &code, Some((first, last))).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "case {first:?} {last:?}"
        );
        let text = alerts(&response.text().await.unwrap());
        assert!(text.contains(reason), "case {first:?} {last:?}: {text}");
    }
    assert_eq!(
        app.verify(&person, &page, &code, Some(("Ada", "Lovelace")))
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn missing_fields_and_unknown_sign_ins_are_a_400() {
    let app = spawn_app().await;
    let person = browser();
    for (path, form) in [
        ("/login/verify", vec![]),
        ("/login/verify", vec![("code", "123456")]),
        (
            "/login/verify",
            vec![
                ("challenge", "0123456789abcdef0123456789abcdef"),
                ("code", "123456"),
            ],
        ),
        (
            "/login/verify",
            vec![("challenge", "not-an-id"), ("code", "123456")],
        ),
        ("/login/resend", vec![]),
        (
            "/login/resend",
            vec![("challenge", "0123456789abcdef0123456789abcdef")],
        ),
    ] {
        let response = app.post(&person, path, &form).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{path} {form:?}"
        );
        assert!(
            alerts(&response.text().await.unwrap()).contains("start again"),
            "{path} {form:?}"
        );
    }
}

#[tokio::test]
async fn unreadable_and_oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let client = browser();
    let garbage = client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=%ZZ&email=a")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);

    let big = format!("email={}", "a".repeat(17 * 1024));
    let declared = client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(big[..9000].to_owned()), Ok(big[9000..].to_owned())];
    let chunked = client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        chunked.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "a body without a length is capped too"
    );
}

#[tokio::test]
async fn unknown_routes_get_a_404_page_and_wrong_methods_a_405() {
    let app = spawn_app().await;
    let response = app.get(&browser(), "/nope").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(response.text().await.unwrap().contains("Page not found"));
    let response = app.get(&browser(), "/logout").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn pages_are_accessible_and_never_cached() {
    let app = spawn_app().await;
    let person = browser();
    let login = app.get(&person, "/login").await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let html = login.text().await.unwrap();
    for needle in [
        r#"<label for="email">"#,
        r#"autocomplete="email webauthn""#,
        "autofocus",
        r#"lang="en""#,
        r#"name="viewport""#,
    ] {
        assert!(html.contains(needle), "login page lacks {needle}");
    }
    let page = app.start_sign_in(&person, "a11y@example.com").await;
    for needle in [
        r#"<label for="code">"#,
        r#"autocomplete="one-time-code""#,
        r#"inputmode="numeric""#,
        r#"autocomplete="given-name""#,
        r#"<label for="first_name">"#,
    ] {
        assert!(page.html.contains(needle), "code page lacks {needle}");
    }
    let css = app.get(&person, "/assets/style.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.text().await.unwrap().contains("prefers-color-scheme"));
    let health = app.get(&person, "/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn a_broken_database_is_a_503_without_its_details() {
    let app = spawn_app().await;
    app.database()
        .execute("DROP TABLE login_codes; DROP TABLE user_sessions;");
    let response = app.post_login(&browser(), "broken@example.com").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = response.text().await.unwrap();
    assert!(alerts(&html).contains("unavailable"), "{html}");
    assert!(
        !html.contains("login_codes") && !html.to_lowercase().contains("sqlite"),
        "no database detail for people"
    );

    let forged = reqwest::Client::new()
        .get(app.url("/"))
        .header(
            "cookie",
            "doorcode_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a session check that cannot run is not a sign-out"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let person = browser();
    let responses = [
        app.get(&person, "/login").await,
        app.get(&person, "/nope").await,
        app.post_login(&person, "bad").await,
        app.get(&person, "/").await,
        app.get(&person, "/healthz").await,
        app.get(&person, "/auth/check").await,
        app.get(&person, "/api/v1/session").await,
    ];
    for response in responses {
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "script-src 'self' https://challenges.cloudflare.com",
            "frame-src https://challenges.cloudflare.com",
            "form-action 'self'",
        ] {
            assert!(
                csp.contains(directive),
                "{} lacks {directive}",
                response.url()
            );
        }
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "strict-origin");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over http"
        );
    }
    let https = crate::helpers::spawn_app_with(|c| {
        c.server.base_url = doorcode::config::BaseUrl::parse("https://login.example.com").unwrap()
    })
    .await;
    let response = https.get(&browser(), "/login").await;
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}
