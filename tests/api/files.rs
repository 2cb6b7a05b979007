//! What doorcode leaves on disk is its owner's alone, whatever the umask.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Serves with umask 000 (what some service managers and containers leave) until
/// it is listening, with its log lines so far; then stops it.
fn serve_with_open_umask(dir: &Path, env: &[(&str, String)]) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" serve")
        .arg(env!("CARGO_BIN_EXE_doorcode"))
        .current_dir(dir)
        .env_remove("DOORCODE_CONFIG")
        .env("NO_COLOR", "1")
        .env("DOORCODE_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("doorcode is listening") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    log
}

#[test]
fn the_database_folder_files_and_secret_are_private_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("doorcode.db");
    let log = serve_with_open_umask(
        dir.path(),
        &[("DOORCODE_DATABASE_PATH", db.display().to_string())],
    );
    assert!(log.contains("doorcode is listening"), "{log}");
    assert_eq!(mode(&data), 0o700, "the database folder");
    assert_eq!(mode(&db), 0o600, "the database");
    assert_eq!(mode(&data.join("secret.key")), 0o600, "secret.key");
    for side in ["doorcode.db-wal", "doorcode.db-shm"] {
        let path = data.join(side);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{side}");
        }
    }
    assert!(!log.contains("others may read it"), "{log}");
}

#[test]
fn a_secret_others_can_read_is_warned_about_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.key");
    std::fs::write(&secret, format!("{}\n", "cd".repeat(32))).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o666)).unwrap();
    let db = dir.path().join("doorcode.db");
    let log = serve_with_open_umask(
        dir.path(),
        &[("DOORCODE_DATABASE_PATH", db.display().to_string())],
    );
    assert!(
        log.contains("secret.key holds the server secret and others may read it (mode 666)"),
        "{log}"
    );
    assert!(log.contains("chmod 600"), "{log}");
}

#[test]
fn a_config_file_holding_a_secret_that_others_can_read_is_warned_about_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("doorcode.toml");
    let key = "ab".repeat(32);
    std::fs::write(
        &config,
        format!("[security]\nsecret_key = \"{key}\"\n[turnstile]\nsite_key = \"1x00000000000000000000AA\"\nsecret_key = \"0xsecret\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let db = dir.path().join("doorcode.db");
    let env = [
        ("DOORCODE_DATABASE_PATH", db.display().to_string()),
        ("DOORCODE_CONFIG", config.display().to_string()),
    ];
    let log = serve_with_open_umask(dir.path(), &env);
    assert!(
        log.contains(
            "doorcode.toml holds turnstile.secret_key, security.secret_key and others may read it (mode 644); run chmod 600 on it"
        ),
        "{log}"
    );

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = serve_with_open_umask(dir.path(), &env);
    assert!(!log.contains("others may read it"), "{log}");
}
