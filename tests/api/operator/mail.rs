//! `doorcode send-test-email`.

use super::doorcode;
use crate::smtp::TestSmtp;

#[tokio::test]
async fn a_test_email_goes_out_through_the_configured_smtp_server() {
    let smtp = TestSmtp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = smtp.url();
    let env = [
        ("DOORCODE_EMAIL_SMTP_URL", url.as_str()),
        ("DOORCODE_SERVER_APP_NAME", "Example"),
    ];

    let sent = doorcode(dir.path(), &env, &["send-test-email", " Ada@Example.com "]).await;
    assert_eq!(sent.code, Some(0), "{}", sent.stderr);
    assert!(
        sent.stdout
            .contains("sent a test message to ada@example.com")
            && sent.stdout.contains("250"),
        "{}",
        sent.stdout
    );
    let mail = smtp.wait_for_mail_to("ada@example.com").await;
    assert_eq!(mail.subject, "Test message from Example");
    assert_eq!(mail.content_type, "multipart/alternative");
    assert!(mail.text.contains("test message") && mail.html.contains("<strong>Example</strong>"));

    let bad = doorcode(dir.path(), &env, &["send-test-email", "ada"]).await;
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.failure_line().contains("`ada` is not an email address"),
        "{}",
        bad.stderr
    );

    smtp.stop().await;
    let down = doorcode(dir.path(), &env, &["send-test-email", "ada@example.com"]).await;
    assert_eq!(down.code, Some(1), "{}", down.stdout);
    let line = down.failure_line();
    let server = format!("127.0.0.1:{}", smtp.port());
    assert!(
        line.contains("cannot send the test message") && line.contains(&server),
        "{line}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "sending needs no database"
    );
}
