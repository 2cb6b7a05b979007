//! A certified relying party against doorcode: node's openid-client runs the whole
//! code flow with PKCE (tests/oidc/rp.mjs), while this test plays the browser,
//! reading the code from the real SMTP server's mail.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::*;

fn node_modules() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/node_modules/openid-client")
}

/// doorcode on a port chosen first, so that `server.base_url` (the issuer) is where
/// it really listens, as openid-client checks.
async fn app_at_its_own_address() -> (TestApp, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let base = issuer.clone();
    let app = spawn_app_with(move |config| {
        clients(config);
        config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.server.base_url = doorcode::config::BaseUrl::parse(&base).unwrap();
    })
    .await;
    (app, issuer)
}

async fn run_relying_party(client_id: &str, secret: &str, redirect: &str) {
    assert!(
        node_modules().exists(),
        "openid-client is missing: run `npm ci --prefix tests/oidc` (.ci/run does)"
    );
    let (app, issuer) = app_at_its_own_address().await;
    let mut rp = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/rp.mjs"))
        .env("ISSUER", &issuer)
        .env("CLIENT_ID", client_id)
        .env("CLIENT_SECRET", secret)
        .env("REDIRECT_URI", redirect)
        .env("POST_LOGOUT_URI", "https://app.example/bye")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut out = BufReader::new(rp.stdout.take().unwrap()).lines();
    let mut stdin = rp.stdin.take().unwrap();
    let mut read = async || -> Value {
        let line = out
            .next_line()
            .await
            .unwrap()
            .expect("the relying party answers");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert!(
            value.get("failed").is_none(),
            "openid-client failed: {}",
            value["failed"]
        );
        value
    };

    let authorize = read().await["authorize"].as_str().unwrap().to_owned();
    let path = authorize
        .strip_prefix(&issuer)
        .expect("the authorization endpoint is doorcode's");
    let browser = browser();
    let callback = authorize_as(&app, &browser, "rp@example.com", path).await;
    assert!(callback.starts_with(redirect), "{callback}");
    stdin
        .write_all(format!("{callback}\n").as_bytes())
        .await
        .unwrap();

    let seen = read().await;
    let claims = &seen["claims"];
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["email"], "rp@example.com");
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(seen["userinfo"]["sub"], claims["sub"]);
    assert_eq!(seen["userinfo"]["email"], "rp@example.com");
    assert_eq!(seen["refreshed_claims"]["sub"], claims["sub"]);
    assert_eq!(seen["refresh_changed"], true, "refresh tokens rotate");
    if !secret.is_empty() {
        assert_eq!(seen["introspection"]["active"], true);
    }
    assert_eq!(seen["after_revocation"], "invalid_grant");

    // RP-initiated logout with the ID token as hint: signed out, sent back with state.
    let end = seen["end_session"].as_str().unwrap();
    let out = app.get(&browser, end.strip_prefix(&issuer).unwrap()).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let to = location(&out);
    assert!(to.starts_with("https://app.example/bye"), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("bye-state"));
    assert_eq!(app.get(&browser, "/").await.status(), StatusCode::SEE_OTHER);
    assert!(rp.wait().await.unwrap().success());
}

#[tokio::test]
async fn openid_client_completes_the_code_flow_as_a_confidential_client() {
    run_relying_party("app", SECRET, APP_REDIRECT).await;
}

#[tokio::test]
async fn openid_client_completes_the_code_flow_as_a_public_client_with_pkce() {
    run_relying_party("spa", "", SPA_REDIRECT).await;
}
