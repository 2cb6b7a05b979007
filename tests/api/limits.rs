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
    // Three codes, then one notice instead of the refused code.
    let mut received = Vec::new();
    for _ in 0..4 {
        received.push(app.smtp.wait_for_mail_to("busy@example.com").await);
    }
    let notices: Vec<_> = received
        .iter()
        .filter(|mail| mail.subject.starts_with("Someone keeps asking"))
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", subjects(&received));
    assert_eq!(app.smtp.count_to("busy@example.com"), 4);
    // Refused again: the owner has been told already, and no code goes out.
    let again = app.post_login(&browser(), "busy@example.com").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.count_rows("outbox"),
        4,
        "nothing more is queued for the refused requests"
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

fn subjects(mail: &[crate::smtp::ReceivedMail]) -> Vec<&str> {
    mail.iter().map(|m| m.subject.as_str()).collect()
}

/// When someone keeps asking for an address's codes, its owner hears of it: one
/// notice per hour, in the service's default language, with no code in it, for
/// either kind of limit on the address.
#[tokio::test]
async fn the_owner_is_told_once_an_hour_that_someone_keeps_asking_for_codes() {
    let app = spawn_app_with(|c| {
        c.server.default_language = "de".into();
        c.rate_limit.email_per_hour = NonZeroU32::new(2).unwrap();
        c.rate_limit.failures_per_email_per_hour = NonZeroU32::new(1).unwrap();
    })
    .await;
    // Someone starts a sign-in for the address and guesses its code wrong: that
    // spends the address's failure budget.
    let attacker = browser();
    let theirs = app.start_sign_in(&attacker, "watched@example.com").await;
    let code = app.code_for("watched@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        app.verify(&attacker, &theirs, wrong, None).await.status(),
        StatusCode::BAD_REQUEST
    );
    // An English page asks again and is refused; the owner is told, in German.
    let refused = browser()
        .post(app.url("/login"))
        .header("origin", BASE_URL)
        .header("accept-language", "en")
        .form(&[
            ("email", "watched@example.com"),
            ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let notice = app.smtp.wait_for_mail_to("watched@example.com").await;
    assert!(
        notice.subject.starts_with("Jemand fordert immer wieder"),
        "in the default language, not the asking page's: {}",
        notice.subject
    );
    assert!(
        notice.text.contains("watched@example.com"),
        "{}",
        notice.text
    );
    assert!(notice.html.contains("<strong>watched@example.com</strong>"));
    let has_six_digits = |text: &str| {
        text.split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() == 6)
    };
    assert!(!has_six_digits(&notice.text) && !has_six_digits(&notice.subject));
    assert_eq!(app.count_rows("outbox"), 2, "a code and the notice");

    // Refused again within the hour: nobody is told twice.
    app.clock.advance(1800);
    let again = app.post_login(&browser(), "watched@example.com").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count_rows("outbox"), 2, "told already this hour");

    // An hour on, the budget is back; two codes, then the address's hourly count
    // refuses the third, and that is news again.
    app.clock.advance(1801);
    for _ in 0..2 {
        let response = app.post_login(&browser(), "watched@example.com").await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let hourly = app.post_login(&browser(), "watched@example.com").await;
    assert_eq!(hourly.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count_rows("outbox"), 5, "two codes and a second notice");
    let mut later = Vec::new();
    for _ in 0..3 {
        later.push(app.smtp.wait_for_mail_to("watched@example.com").await);
    }
    let notices = later
        .iter()
        .filter(|mail| mail.subject.starts_with("Jemand"))
        .count();
    assert_eq!(notices, 1, "{:?}", subjects(&later));
}

/// A client's own hourly limit is about the client, so nobody is told.
#[tokio::test]
async fn a_clients_own_limit_sends_no_notice() {
    let app = spawn_app_with(|c| c.rate_limit.ip_per_hour = NonZeroU32::new(1).unwrap()).await;
    let _ = app.start_sign_in(&browser(), "a@example.com").await;
    let refused = app.post_login(&browser(), "a@example.com").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count_rows("outbox"), 1);
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

/// Wrong codes typed for an address (by anyone) spend its hourly failure budget:
/// then no new sign-in or resend is started for it, but a right code on a sign-in
/// that still has attempts always signs its owner in.
#[tokio::test]
async fn a_spent_failure_budget_stops_new_codes_but_never_a_right_code() {
    let app =
        spawn_app_with(|c| c.rate_limit.failures_per_email_per_hour = NonZeroU32::new(3).unwrap())
            .await;
    let owner = browser();
    let page = app.start_sign_in(&owner, "target@example.com").await;
    let code = app.code_for("target@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // Someone else, with a sign-in of their own for the same address.
    let attacker = browser();
    let theirs = app.start_sign_in(&attacker, "target@example.com").await;
    let _ = app.code_for("target@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            app.verify(&attacker, &theirs, wrong, None).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    let start = app.post_login(&browser(), "target@example.com").await;
    assert_eq!(
        start.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "no new codes for the rest of the hour"
    );
    assert!(retry_after(&start) > 3500);
    let resend = app
        .post(
            &owner,
            "/login/resend",
            &[("challenge", page.challenge.as_str())],
        )
        .await;
    assert_eq!(
        resend.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "nor a resend"
    );
    // The owner's right code still works.
    let signed_in = app.verify(&owner, &page, &code, Some(("T", ""))).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count_rows("user_sessions"), 1);
}

/// What an attacker did before: ask for an address's five hourly codes through the
/// API so that its owner got none. The allowance is now per client network, with a
/// larger one over all networks.
#[tokio::test]
async fn codes_asked_for_from_one_network_leave_the_owner_theirs() {
    let app = spawn_app_with(|c| {
        c.server.trust_proxy_headers = true;
        c.rate_limit.email_per_hour = NonZeroU32::new(2).unwrap();
        c.rate_limit.email_total_per_hour = NonZeroU32::new(5).unwrap();
    })
    .await;
    let ask = |from: &'static str| {
        let app = &app;
        async move {
            reqwest::Client::new()
                .post(app.url("/api/v1/login"))
                .header("x-forwarded-for", from)
                .json(&serde_json::json!({
                    "email": "owner@example.com",
                    "turnstile_token": "XXXX.DUMMY.TOKEN.XXXX",
                }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Two from the attacker's network (IPv6 addresses of one /64 count as one).
    assert_eq!(ask("2001:db8:1:2::10").await, StatusCode::OK);
    assert_eq!(ask("2001:db8:1:2::11").await, StatusCode::OK);
    assert_eq!(
        ask("2001:db8:1:2:ffff::1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same /64"
    );
    // The owner, elsewhere, still gets theirs.
    assert_eq!(ask("198.51.100.7").await, StatusCode::OK);
    assert_eq!(ask("198.51.100.7").await, StatusCode::OK);
    // Over all networks, five an hour.
    assert_eq!(ask("203.0.113.1").await, StatusCode::OK);
    assert_eq!(
        ask("203.0.113.2").await,
        StatusCode::TOO_MANY_REQUESTS,
        "email_total_per_hour"
    );
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

/// A proxy that writes a port, or `unknown`, used to make doorcode fall back to
/// what the client wrote further left: every request then came from a new address
/// and passed the client limit, and the forged address went to siteverify.
#[tokio::test]
async fn forged_forwarded_entries_never_become_the_client() {
    let app = spawn_app_with(|c| {
        c.rate_limit.ip_per_hour = NonZeroU32::new(3).unwrap();
        c.server.trust_proxy_headers = true;
    })
    .await;
    for (proxy_wrote, client) in [
        ("203.0.113.8:51234", "203.0.113.8"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("unknown", "127.0.0.1"),
    ] {
        let mut statuses = Vec::new();
        for n in 0..5 {
            let forged = format!("192.0.2.{n}");
            let status = browser()
                .post(app.url("/login"))
                .header("x-forwarded-for", format!("{forged}, {proxy_wrote}"))
                .form(&[
                    ("email", format!("person{n}@example.com").as_str()),
                    ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
                ])
                .send()
                .await
                .unwrap()
                .status();
            statuses.push(status);
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            3,
            "{proxy_wrote}: {statuses:?}"
        );
        let seen = app.siteverify.requests();
        assert_eq!(
            seen.last().and_then(|r| r.remoteip.as_deref()),
            Some(client),
            "{proxy_wrote}: siteverify gets the real client"
        );
    }
}
