//! Rate limits and the Origin check.

use std::num::NonZeroU32;

use reqwest::StatusCode;

use crate::helpers::{BASE_URL, alerts, browser, spawn_app, spawn_app_with};

fn retry_after(response: &reqwest::Response) -> i64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_address_gets_at_most_its_hourly_codes() {
    let app = spawn_app_with(|c| c.rate_limit.email_per_hour = NonZeroU32::new(3).unwrap()).await;
    for n in 0..3 {
        let response = app.post_login(&browser(), "busy@example.com").await;
        assert_eq!(response.status(), StatusCode::OK, "request {n}");
    }
    let refused = app.post_login(&browser(), "BUSY@example.com").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&refused);
    assert!((3590..=3600).contains(&wait), "Retry-After {wait}");
    assert!(alerts(&refused.text().await.unwrap()).contains("Too many codes"));
    for _ in 0..3 {
        app.smtp.wait_for_mail_to("busy@example.com").await;
    }
    assert_eq!(
        app.smtp.count_to("busy@example.com"),
        3,
        "the refused request sent nothing"
    );

    assert_eq!(
        app.post_login(&browser(), "other@example.com")
            .await
            .status(),
        StatusCode::OK,
        "other addresses are not affected"
    );
    app.clock.advance(3601);
    assert_eq!(
        app.post_login(&browser(), "busy@example.com")
            .await
            .status(),
        StatusCode::OK,
        "an hour later it works again"
    );
}

#[tokio::test]
async fn a_client_gets_at_most_its_hourly_requests() {
    let app = spawn_app_with(|c| c.rate_limit.ip_per_hour = NonZeroU32::new(2).unwrap()).await;
    assert_eq!(
        app.post_login(&browser(), "a@example.com").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.post_login(&browser(), "b@example.com").await.status(),
        StatusCode::OK
    );
    let refused = app.post_login(&browser(), "c@example.com").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) > 0);
    assert!(alerts(&refused.text().await.unwrap()).contains("your network"));
}

#[tokio::test]
async fn forwarded_addresses_count_only_when_the_proxy_is_trusted() {
    let app = spawn_app_with(|c| {
        c.rate_limit.ip_per_hour = NonZeroU32::new(1).unwrap();
        c.server.trust_proxy_headers = true;
    })
    .await;
    let send = |ip: &'static str, email: &'static str| {
        let app = &app;
        async move {
            browser()
                .post(app.url("/login"))
                .header("x-forwarded-for", format!("203.0.113.9, {ip}"))
                .form(&[
                    ("email", email),
                    ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(send("198.51.100.1", "a@example.com").await, StatusCode::OK);
    assert_eq!(
        send("198.51.100.2", "b@example.com").await,
        StatusCode::OK,
        "another client behind the proxy"
    );
    assert_eq!(
        send("198.51.100.1", "c@example.com").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let seen = app.siteverify.requests();
    assert_eq!(
        seen[0].remoteip.as_deref(),
        Some("198.51.100.1"),
        "siteverify gets the client's address"
    );
}

#[tokio::test]
async fn wrong_codes_across_sign_ins_use_up_the_address_failure_budget() {
    let app =
        spawn_app_with(|c| c.rate_limit.failures_per_email_per_hour = NonZeroU32::new(3).unwrap())
            .await;
    let person = browser();
    let first = app.start_sign_in(&person, "target@example.com").await;
    let code = app.code_for("target@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..2 {
        assert_eq!(
            app.verify(&person, &first, wrong, None).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    let second = app.start_sign_in(&browser(), "target@example.com").await;
    let _ = second;
    assert_eq!(
        app.verify(&person, &first, wrong, None).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Three failures: the address is refused for the rest of the hour, even with the right code.
    let refused = app.verify(&person, &first, &code, Some(("T", ""))).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) > 3500);
    let start = app.post_login(&browser(), "target@example.com").await;
    assert_eq!(
        start.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "no new codes either"
    );
    assert_eq!(app.count_rows("user_sessions"), 0);
}

#[tokio::test]
async fn every_post_from_another_origin_is_refused() {
    let app = spawn_app().await;
    let person = browser();
    for path in ["/login", "/login/verify", "/login/resend", "/logout"] {
        for (header, value) in [
            ("origin", "https://evil.example"),
            ("origin", "null"),
            ("origin", "http://localhost:8081"),
            ("referer", "https://evil.example/login"),
        ] {
            let response = person
                .post(app.url(path))
                .header(header, value)
                .form(&[
                    ("email", "x@example.com"),
                    ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} with {header}: {value}"
            );
        }
    }
    let same = person
        .post(app.url("/login"))
        .header("origin", BASE_URL)
        .form(&[
            ("email", "x@example.com"),
            ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        same.status(),
        StatusCode::OK,
        "the site's own origin passes"
    );
    let referred = person
        .post(app.url("/login"))
        .header("referer", format!("{BASE_URL}/login"))
        .form(&[
            ("email", "y@example.com"),
            ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        referred.status(),
        StatusCode::OK,
        "a same-origin Referer passes"
    );
    assert!(
        app.siteverify.requests().len() == 2,
        "refused requests never reached siteverify"
    );
}

#[tokio::test]
async fn default_limits_match_the_documented_defaults() {
    let app = spawn_app().await;
    let c = &app.config;
    assert_eq!(
        (
            c.rate_limit.email_per_hour.get(),
            c.rate_limit.ip_per_hour.get(),
            c.rate_limit.failures_per_email_per_hour.get()
        ),
        (5, 30, 20)
    );
    for n in 0..5 {
        assert_eq!(
            app.post_login(&browser(), "five@example.com")
                .await
                .status(),
            StatusCode::OK,
            "{n}"
        );
    }
    assert_eq!(
        app.post_login(&browser(), "five@example.com")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
