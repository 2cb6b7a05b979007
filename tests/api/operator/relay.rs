//! A mail relay with a certificate from a private CA, as company relays and home
//! servers have: a real Postfix on loopback, offering STARTTLS and implicit TLS.
//! `doorcode check` names each TLS problem and its fix in one line, and codes
//! reach the relay's mailbox once its CA is trusted (by `email.tls_ca_file` or by
//! the system's store).

use std::path::Path;

use doorcode::config::Secret;
use mail_parser::MessageParser;
use reqwest::StatusCode;

use super::check::line;
use super::{Ran, doorcode};
use crate::helpers::{browser, spawn_app_with};
use crate::postfix::{Postfix, TestCa};

/// `check` with `smtp_url` and `env`; only its `smtp …` lines matter here.
async fn check(dir: &Path, smtp_url: &str, env: &[(&str, &str)]) -> Ran {
    let db = dir.join("doorcode.db").display().to_string();
    let mut all = vec![
        ("DOORCODE_DATABASE_PATH", db.as_str()),
        ("DOORCODE_EMAIL_SMTP_URL", smtp_url),
        // Only the files given here: not the machine's own store.
        ("SSL_CERT_FILE", "/nonexistent"),
        ("SSL_CERT_DIR", "/nonexistent"),
    ];
    all.extend_from_slice(env);
    doorcode(dir, &all, &["check"]).await
}

#[tokio::test]
#[ignore = "needs Postfix (apt-get install postfix) and root"]
async fn check_names_each_tls_problem_of_a_private_relay_and_its_fix() {
    let ca = TestCa::new("Example Mail CA");
    let (cert, key) = ca.server(&["localhost"], (2035, 1, 1));
    let relay = Postfix::start(&cert, &key);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "relay-ca.pem").display().to_string();
    let starttls = format!("smtp://localhost:{}?tls=required", relay.starttls_port);
    let smtps = format!("smtps://localhost:{}", relay.tls_port);
    let untrusted = "the relay's certificate is signed by `CN=Example Mail CA`, which is not \
                     trusted: add that CA's certificate with email.tls_ca_file";

    let ran = check(dir.path(), &starttls, &[]).await;
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    let starttls_line = line(&ran, "smtp STARTTLS");
    assert!(
        starttls_line.contains("FAILED") && starttls_line.contains(untrusted),
        "{starttls_line}"
    );
    let ran = check(dir.path(), &smtps, &[]).await;
    let tls_line = line(&ran, "smtp TLS");
    assert!(
        tls_line.contains("FAILED") && tls_line.contains(untrusted),
        "{tls_line}"
    );

    // Trusted through email.tls_ca_file, and through the system's store.
    let with_file = [("DOORCODE_EMAIL_TLS_CA_FILE", ca_file.as_str())];
    let ran = check(dir.path(), &starttls, &with_file).await;
    assert!(
        line(&ran, "smtp STARTTLS").contains(" ok "),
        "{}",
        ran.stdout
    );
    let ran = check(dir.path(), &smtps, &with_file).await;
    assert!(line(&ran, "smtp TLS").contains(" ok "), "{}", ran.stdout);
    let system = [("SSL_CERT_FILE", ca_file.as_str())];
    let ran = check(dir.path(), &starttls, &system).await;
    assert!(
        line(&ran, "smtp STARTTLS").contains(" ok "),
        "{}",
        ran.stdout
    );

    // The right CA, the wrong name.
    let by_address = format!("smtp://127.0.0.1:{}?tls=required", relay.starttls_port);
    let ran = check(dir.path(), &by_address, &with_file).await;
    let wrong_name = line(&ran, "smtp STARTTLS");
    assert!(
        wrong_name.contains(
            "the relay's certificate is for localhost, not 127.0.0.1: use one of those names \
             in email.smtp_url"
        ),
        "{wrong_name}"
    );

    // A file that is not a CA certificate stops the check at the configuration.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.display().to_string();
    let ran = check(
        dir.path(),
        &starttls,
        &[("DOORCODE_EMAIL_TLS_CA_FILE", &junk)],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("email.tls_ca_file") && ran.stderr.contains("no PEM certificate"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
#[ignore = "needs Postfix (apt-get install postfix) and root"]
async fn check_says_when_the_relays_certificate_has_expired() {
    let ca = TestCa::new("Example Mail CA");
    let (cert, key) = ca.server(&["localhost"], (2025, 6, 30));
    let relay = Postfix::start(&cert, &key);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "relay-ca.pem").display().to_string();
    let smtps = format!("smtps://localhost:{}", relay.tls_port);
    let ran = check(
        dir.path(),
        &smtps,
        &[("DOORCODE_EMAIL_TLS_CA_FILE", &ca_file)],
    )
    .await;
    let expired = line(&ran, "smtp TLS");
    assert!(
        expired.contains(
            "the relay's certificate expired on 2025-06-30 00:00 UTC: the relay needs a new one"
        ),
        "{expired}"
    );
}

/// The code in a delivered message's subject.
fn code_in(raw: &[u8]) -> String {
    let message = MessageParser::default().parse(raw).expect("a message");
    let subject = message.subject().unwrap_or_default();
    subject
        .split(|c: char| !c.is_ascii_digit())
        .find(|token| token.len() == 6)
        .unwrap_or_else(|| panic!("no code in {subject:?}"))
        .to_owned()
}

#[tokio::test]
#[ignore = "needs Postfix (apt-get install postfix) and root"]
async fn codes_reach_a_private_relays_mailbox_over_starttls_and_implicit_tls() {
    let ca = TestCa::new("Example Mail CA");
    let (cert, key) = ca.server(&["localhost"], (2035, 1, 1));
    let relay = Postfix::start(&cert, &key);
    let files = tempfile::tempdir().unwrap();
    let ca_file = ca.write(files.path(), "relay-ca.pem");
    let routes = [
        (
            format!("smtp://localhost:{}?tls=required", relay.starttls_port),
            "ada@example.com",
        ),
        (
            format!("smtps://localhost:{}", relay.tls_port),
            "grace@example.com",
        ),
    ];
    for (url, address) in routes {
        let ca_file = ca_file.clone();
        let app = spawn_app_with(move |config| {
            config.email.smtp_url = Secret::new(url);
            config.email.tls_ca_file = ca_file;
        })
        .await;
        let person = browser();
        let page = app.start_sign_in(&person, address).await;
        let raw = relay.wait_for_mail_to(address).await;
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("with ESMTPS") || text.contains("with ESMTPSA"),
            "received over TLS: {text}"
        );
        let code = code_in(&raw);
        let response = app.verify(&person, &page, &code, Some(("Ada", ""))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{address}");
    }
}

#[tokio::test]
#[ignore = "needs Postfix (apt-get install postfix) and root"]
async fn a_relay_that_wants_a_client_certificate_gets_the_configured_one() {
    let ca = TestCa::new("Example Mail CA");
    let (cert, key) = ca.server(&["localhost"], (2035, 1, 1));
    let relay = Postfix::start_with(&cert, &key, Some(&ca.pem));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "relay-ca.pem").display().to_string();
    let (client_cert, client_key) = ca.client("doorcode.example.com");
    let (cert_file, key_file) = (dir.path().join("client.pem"), dir.path().join("client.key"));
    std::fs::write(&cert_file, client_cert).unwrap();
    std::fs::write(&key_file, client_key).unwrap();
    let (cert_file, key_file) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    let smtps = format!("smtps://localhost:{}", relay.tls_port);

    let without = check(
        dir.path(),
        &smtps,
        &[("DOORCODE_EMAIL_TLS_CA_FILE", &ca_file)],
    )
    .await;
    assert_eq!(
        without.code,
        Some(1),
        "refused without one: {}",
        without.stdout
    );
    let with = [
        ("DOORCODE_EMAIL_TLS_CA_FILE", ca_file.as_str()),
        ("DOORCODE_EMAIL_TLS_CLIENT_CERT", cert_file.as_str()),
        ("DOORCODE_EMAIL_TLS_CLIENT_KEY", key_file.as_str()),
    ];
    let ran = check(dir.path(), &smtps, &with).await;
    assert!(line(&ran, "smtp TLS").contains(" ok "), "{}", ran.stdout);
    assert!(line(&ran, "smtp EHLO").contains(" ok "), "{}", ran.stdout);
    // Half of the pair is a configuration mistake.
    let half = check(dir.path(), &smtps, &with[..2]).await;
    assert_eq!(half.code, Some(2));
    assert!(
        half.stderr
            .contains("email.tls_client_cert is set without email.tls_client_key"),
        "{}",
        half.stderr
    );
}
