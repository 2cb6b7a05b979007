//! `doorcode sessions list|revoke`.

use doorcode::domain::sha256_hex;
use reqwest::StatusCode;

use super::{admin, home_status, sign_up};
use crate::helpers::spawn_app;

#[tokio::test]
async fn sessions_list_shows_public_ids_and_never_a_token_or_its_hash() {
    let app = spawn_app().await;
    let (_, ada_cookie) = sign_up(&app, "ada@example.com", "Ada", "Lovelace").await;
    let (_, grace_cookie) = sign_up(&app, "grace@example.com", "Grace", "Hopper").await;

    let json = admin(&app, &["sessions", "list", "--json"]).await;
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let sessions = json.json();
    let sessions = sessions.as_array().expect("a JSON array");
    assert_eq!(sessions.len(), 2);
    let mut emails: Vec<&str> = sessions
        .iter()
        .filter_map(|s| s["email"].as_str())
        .collect();
    emails.sort_unstable();
    assert_eq!(emails, ["ada@example.com", "grace@example.com"]);
    for session in sessions {
        for key in [
            "id",
            "user_id",
            "created_at",
            "last_seen_at",
            "expires_at",
            "user_agent",
        ] {
            assert!(session.get(key).is_some(), "no {key}: {session}");
        }
    }

    let only_ada = admin(
        &app,
        &["sessions", "list", "--user", "ada@example.com", "--json"],
    )
    .await;
    assert_eq!(only_ada.json().as_array().map(Vec::len), Some(1));
    let table = admin(&app, &["sessions", "list"]).await;
    assert_eq!(table.stdout.lines().count(), 3, "{}", table.stdout);
    assert!(table.stdout.starts_with("SESSION "), "{}", table.stdout);

    for output in [&json.stdout, &only_ada.stdout, &table.stdout] {
        for cookie in [&ada_cookie, &grace_cookie] {
            assert!(!output.contains(cookie.as_str()), "a token was printed");
            assert!(
                !output.contains(&sha256_hex(cookie)),
                "a token hash was printed"
            );
        }
    }
}

#[tokio::test]
async fn sessions_revoke_signs_out_one_user_or_everyone() {
    let app = spawn_app().await;
    let (ada, _) = sign_up(&app, "ada@example.com", "Ada", "Lovelace").await;
    let (grace, _) = sign_up(&app, "grace@example.com", "Grace", "Hopper").await;

    let one = admin(&app, &["sessions", "revoke", "--user", "ada@example.com"]).await;
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    assert_eq!(
        one.stdout.trim(),
        "revoked 1 session of user 1 (ada@example.com)"
    );
    assert_eq!(home_status(&app, &ada).await, StatusCode::SEE_OTHER);
    assert_eq!(home_status(&app, &grace).await, StatusCode::OK);

    let all = admin(&app, &["sessions", "revoke", "--all"]).await;
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    assert_eq!(all.stdout.trim(), "revoked 1 session (all users)");
    assert_eq!(home_status(&app, &grace).await, StatusCode::SEE_OTHER);
    assert_eq!(app.count_rows("user_sessions"), 0);
    assert_eq!(app.count_rows("users"), 2, "revoking keeps the users");

    for args in [
        &["sessions", "revoke"][..],
        &["sessions", "revoke", "--all", "--user", "1"],
    ] {
        let ran = admin(&app, args).await;
        assert_eq!(ran.code, Some(2), "case {args:?}: {}", ran.stderr);
    }
}
