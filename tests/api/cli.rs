//! The `doorcode` binary, run as operators run it.

use std::time::Duration;

use crate::process::{Service, doorcode};

#[test]
fn a_bad_config_value_stops_start_up_with_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[("DOORCODE_CODE_TTL_SECS", "0")], "", "code.ttl_secs"),
        (
            &[("DOORCODE_SERVER_BASE_URL", "not a url")],
            "",
            "server.base_url",
        ),
        (
            &[("DOORCODE_TURNSTILE_SITE_KEY", "1x00000000000000000000AA")],
            "",
            "turnstile.secret_key",
        ),
        (
            &[("DOORCODE_EMAIL_SMTP_URL", "http://mail.example.com")],
            "",
            "email.smtp_url",
        ),
        (
            &[("DOORCODE_DATABASE_URL", "postgres://db/doorcode")],
            "",
            "database.url",
        ),
        (
            &[],
            "[server]\nlisten = \"127.0.0.1:8080\"\ncolour = \"blue\"\n",
            "server.colour",
        ),
    ];
    for (env, file, key) in cases {
        let config = dir.path().join("doorcode.toml");
        std::fs::write(&config, file).unwrap();
        let output = doorcode()
            .current_dir(dir.path())
            .arg("--config")
            .arg(&config)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "case {key}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "case {key}: one line expected, got {stderr}"
        );
        assert!(lines[0].contains(key), "case {key}: {stderr}");
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn a_missing_config_file_named_on_the_command_line_is_an_error() {
    let output = doorcode()
        .args(["--config", "/nonexistent/doorcode.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/doorcode.toml"));
}

#[test]
fn help_lists_the_commands() {
    let output = doorcode().arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("serve") && text.contains("--config"),
        "{text}"
    );
    let output = doorcode().arg("frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "bad usage exits 2");
}

/// Dev mode from a bare folder: defaults, the code in the log, a clean stop on SIGTERM.
#[tokio::test]
async fn dev_mode_prints_the_code_to_the_log_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(dir.path(), &[]);
    assert!(service.log.contains("CAPTCHA is OFF"), "{}", service.log);
    assert!(service.log.contains("dev mode"), "{}", service.log);

    let response = reqwest::Client::new()
        .post(service.url("/login"))
        .form(&[("email", "dev@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    service.read_until("is your doorcode code");
    assert!(
        dir.path().join("data/doorcode.db").exists(),
        "the database is created under data/"
    );
    assert!(
        dir.path().join("data/secret.key").exists(),
        "the server secret is created beside it"
    );

    service.signal("-TERM");
    assert_eq!(
        service.exit_within(Duration::from_secs(10)),
        Some(0),
        "a clean exit after SIGTERM"
    );
    service.read_until("doorcode stopped");
}

/// A request in flight when the signal comes still gets its answer; new
/// connections are refused; the process exits 0 within 10 s.
#[tokio::test]
async fn a_stop_signal_lets_the_request_in_flight_finish() {
    let siteverify = crate::turnstile::FakeSiteverify::start().await;
    siteverify.set_mode(crate::turnstile::SiteverifyMode::Hang);
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(
        dir.path(),
        &[
            (
                "DOORCODE_TURNSTILE_SITE_KEY",
                "1x00000000000000000000AA".into(),
            ),
            (
                "DOORCODE_TURNSTILE_SECRET_KEY",
                crate::turnstile::FakeSiteverify::PASS_SECRET.into(),
            ),
            ("DOORCODE_TURNSTILE_VERIFY_URL", siteverify.url()),
        ],
    );
    let in_flight = tokio::spawn(
        reqwest::Client::new()
            .post(service.url("/login"))
            .form(&[
                ("email", "late@example.com"),
                ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
            ])
            .send(),
    );
    while siteverify.requests().is_empty() {
        tokio::task::yield_now().await;
    }
    let started = std::time::Instant::now();
    service.signal("-INT");
    service.read_until("SIGINT received");
    let refused = reqwest::Client::new()
        .get(service.url("/healthz"))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after the signal"
    );
    let answer = in_flight
        .await
        .unwrap()
        .expect("the in-flight request got an answer");
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
        "siteverify timed out: 503"
    );
    assert_eq!(service.exit_within(Duration::from_secs(10)), Some(0));
    println!(
        "shutdown took {:?} with a 5 s request in flight",
        started.elapsed()
    );
}

#[test]
fn a_corrupted_database_file_stops_start_up_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let db = dir.path().join("data/doorcode.db");
    let bytes = b"this is not a database, it is someone's notes\n".repeat(200);
    std::fs::write(&db, &bytes).unwrap();
    let output = doorcode().current_dir(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a SQLite database") && stderr.contains("left untouched"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}
