//! The operator's commands (`check`, `send-test-email`, `users`, `sessions`), run as
//! the real binary against a database that real sign-ups filled.

mod access;
mod check;
mod mail;
mod relay;
mod sessions;
mod users;

use std::path::Path;
use std::process::Command;

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, browser, set_cookies};

/// What a run of the binary printed, and how it ended.
pub(crate) struct Ran {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    /// The single line a failure must print, without its `doorcode: ` prefix.
    fn failure_line(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "one line on stderr expected:\n{}",
            self.stderr
        );
        lines[0]
            .strip_prefix("doorcode: ")
            .unwrap_or_else(|| panic!("no `doorcode: ` prefix: {}", lines[0]))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs doorcode in `dir` (so no config file is found) with only the given
/// `DOORCODE_*` settings. The blocking wait runs off the async executor, so the
/// in-process servers the command talks to keep serving.
async fn doorcode(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorcode"));
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("DOORCODE_")) {
        command.env_remove(key);
    }
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the runner thread")
        .expect("doorcode runs");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// doorcode run against `app`'s database (with its secret, whether in a file beside
/// a SQLite database or in the settings).
pub(crate) async fn admin(app: &TestApp, args: &[&str]) -> Ran {
    admin_with(app, &[], args).await
}

/// [`admin`] with more settings.
async fn admin_with(app: &TestApp, extra: &[(&str, &str)], args: &[&str]) -> Ran {
    let env = app.database_env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    doorcode(app.dir.path(), &env, args).await
}

/// Signs up through the browser flow; the browser and its session cookie's value.
async fn sign_up(app: &TestApp, email: &str, first: &str, last: &str) -> (Client, String) {
    let browser = browser();
    let page = app.start_sign_in(&browser, email).await;
    let code = app.code_for(email).await;
    let response = app
        .verify(&browser, &page, &code, Some((first, last)))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "sign-up of {email}"
    );
    let prefix = format!("{}=", app.config.session.cookie_name);
    let cookie = set_cookies(&response)
        .into_iter()
        .find_map(|c| Some(c.strip_prefix(&prefix)?.split(';').next()?.to_owned()))
        .expect("a session cookie");
    (browser, cookie)
}

async fn home_status(app: &TestApp, browser: &Client) -> StatusCode {
    app.get(browser, "/").await.status()
}
