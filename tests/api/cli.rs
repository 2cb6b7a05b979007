//! The `doorcode` binary, run as operators run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn doorcode() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorcode"));
    command.env_remove("DOORCODE_CONFIG").env("NO_COLOR", "1");
    command
}

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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = doorcode()
        .current_dir(dir.path())
        .env("DOORCODE_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "DOORCODE_SERVER_BASE_URL",
            format!("http://127.0.0.1:{port}"),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let read_until = |needle: &str, log: &mut String| {
        while !log.contains(needle) {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no `{needle}` in the log:\n{log}"));
            log.push_str(&line);
            log.push('\n');
        }
    };
    read_until("doorcode is listening", &mut log);
    assert!(log.contains("CAPTCHA is OFF"), "{log}");
    assert!(log.contains("dev mode"), "{log}");

    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://127.0.0.1:{port}/login"))
        .form(&[("email", "dev@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    read_until("is your doorcode code", &mut log);
    assert!(
        dir.path().join("data/doorcode.db").exists(),
        "the database is created under data/"
    );
    assert!(
        dir.path().join("data/secret.key").exists(),
        "the server secret is created beside it"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "a clean exit after SIGTERM");
    read_until("doorcode stopped", &mut log);
}
