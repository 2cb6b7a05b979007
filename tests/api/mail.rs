//! The code email and its durable delivery through a real SMTP server.

use reqwest::StatusCode;

use crate::helpers::{TestApp, browser, spawn_app};
use crate::smtp::SmtpMode;

/// Polls the database (bounded) until `sql` returns a non-zero count.
async fn until_db(app: &TestApp, sql: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let n = app.database().query_i64(sql);
        if n > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {sql}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn the_code_email_is_multipart_with_the_code_in_the_subject_and_both_parts() {
    let app = spawn_app().await;
    app.post_login(&browser(), "Mail@Example.com").await;
    let mail = app.smtp.wait_for_mail_to("mail@example.com").await;
    let code = mail.code();
    assert_eq!(mail.subject, format!("{code} is your doorcode code"));
    assert_eq!(mail.content_type, "multipart/alternative");
    for part in [&mail.text, &mail.html] {
        assert!(part.contains(&code), "a part lacks the code");
        assert!(
            part.contains("10 minutes"),
            "a part does not say how long the code lives"
        );
        assert!(
            part.contains("did not ask"),
            "a part does not say what to do if unexpected"
        );
    }
    assert!(!mail.html.contains("<img"), "no remote images or trackers");
    assert_eq!(mail.rcpt_to, vec!["mail@example.com".to_string()]);
    assert!(mail.header("From").unwrap().contains("no-reply@localhost"));
    assert!(mail.header("To").unwrap().contains("mail@example.com"));
    assert!(mail.header("Date").is_some());
    let id = mail.header("Message-ID").unwrap();
    assert!(id.starts_with('<') && id.ends_with("@localhost>"), "{id}");
}

#[tokio::test]
async fn with_the_mail_server_down_the_request_succeeds_and_the_code_arrives_when_it_is_back() {
    let app = spawn_app().await;
    app.smtp.stop().await;
    let person = browser();
    let page = app.start_sign_in(&person, "patient@example.com").await;
    assert!(
        page.html.contains("can take a minute"),
        "the page says the mail is on its way"
    );
    until_db(
        &app,
        "SELECT count(*) FROM outbox WHERE attempts > 0 AND sent_at IS NULL",
    )
    .await;

    app.smtp.restart().await;
    let code = app.code_for("patient@example.com").await;
    let response = app.verify(&person, &page, &code, Some(("Pat", ""))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    until_db(
        &app,
        "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL",
    )
    .await;
    assert_eq!(
        app.smtp.count_to("patient@example.com"),
        1,
        "sent exactly once"
    );
}

#[tokio::test]
async fn temporary_smtp_refusals_are_retried() {
    let app = spawn_app().await;
    app.smtp.set_mode(SmtpMode::TempFail);
    app.post_login(&browser(), "retry@example.com").await;
    until_db(
        &app,
        "SELECT count(*) FROM outbox WHERE attempts > 0 AND last_error LIKE '%451%'",
    )
    .await;
    app.smtp.set_mode(SmtpMode::Accept);
    app.smtp.wait_for_mail_to("retry@example.com").await;
}

#[tokio::test]
async fn a_connection_dropped_after_the_greeting_is_retried() {
    let app = spawn_app().await;
    app.smtp.set_mode(SmtpMode::DropAfterGreeting);
    app.post_login(&browser(), "dropped@example.com").await;
    until_db(&app, "SELECT count(*) FROM outbox WHERE attempts > 0").await;
    app.smtp.set_mode(SmtpMode::Accept);
    app.smtp.wait_for_mail_to("dropped@example.com").await;
}

#[tokio::test]
async fn a_permanent_refusal_is_given_up() {
    let app = spawn_app().await;
    app.smtp.set_mode(SmtpMode::PermFail);
    assert_eq!(
        app.post_login(&browser(), "refused@example.com")
            .await
            .status(),
        StatusCode::OK
    );
    until_db(
        &app,
        "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL AND last_error LIKE '%550%'",
    )
    .await;
    assert_eq!(app.smtp.count_to("refused@example.com"), 0);
    // The server's reply named the recipient; what is stored does not.
    assert_eq!(
        app.database()
            .query_i64("SELECT count(*) FROM outbox WHERE last_error LIKE '%refused@example.com%'"),
        0,
        "the full address is in outbox.last_error"
    );
    assert_eq!(
        app.database()
            .query_i64("SELECT count(*) FROM outbox WHERE last_error LIKE '%<r***@example.com>%'"),
        1
    );
}

#[tokio::test]
async fn a_message_whose_code_expired_is_never_sent() {
    let app = spawn_app().await;
    app.smtp.stop().await;
    app.post_login(&browser(), "stale@example.com").await;
    until_db(&app, "SELECT count(*) FROM outbox WHERE attempts > 0").await;
    app.clock.advance(601);
    app.smtp.restart().await;
    until_db(
        &app,
        "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL AND last_error = 'code expired'",
    )
    .await;
    // A later message proves the server is up and the worker moved past the stale one.
    app.post_login(&browser(), "fresh@example.com").await;
    app.smtp.wait_for_mail_to("fresh@example.com").await;
    assert_eq!(app.smtp.count_to("stale@example.com"), 0);
}

#[tokio::test]
async fn mail_pending_at_a_restart_is_sent_after_it() {
    let app = spawn_app().await;
    app.smtp.stop().await;
    let person = browser();
    let page = app.start_sign_in(&person, "restart@example.com").await;
    until_db(&app, "SELECT count(*) FROM outbox WHERE attempts > 0").await;

    let app = app.restart().await;
    app.smtp.restart().await;
    let code = app.code_for("restart@example.com").await;
    let response = app.verify(&person, &page, &code, Some(("Re", ""))).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the code from before the restart works"
    );
    assert_eq!(app.smtp.count_to("restart@example.com"), 1);
}
