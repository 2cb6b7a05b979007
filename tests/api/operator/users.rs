//! `doorcode users list|show|delete`.

use doorcode::domain::sha256_hex;
use reqwest::StatusCode;

use super::{admin, home_status, sign_up};
use crate::helpers::{browser, spawn_app};

#[tokio::test]
async fn users_list_prints_a_table_for_people_and_json_for_scripts() {
    let app = spawn_app().await;
    app.sign_up(&browser(), "ada@example.com", "Ada", "Lovelace")
        .await;
    app.sign_up(&browser(), "grace@example.com", "Grace", "Hopper")
        .await;

    let table = admin(&app, &["users", "list"]).await;
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    for column in [
        "ID",
        "CREATED",
        "FIRST NAME",
        "LAST NAME",
        "EMAILS",
        "SESSIONS",
    ] {
        assert!(
            lines[0].contains(column),
            "no {column} column: {}",
            lines[0]
        );
    }
    assert!(lines[1].starts_with("1 ") && lines[1].contains("Lovelace"));
    assert!(lines[1].contains("ada@example.com") && lines[1].ends_with(" 1"));
    assert!(lines[2].starts_with("2 ") && lines[2].contains("grace@example.com"));
    let created = lines[0].find("CREATED").unwrap();
    assert!(
        lines[1][created..].starts_with("20") && lines[1][created..].contains("Z "),
        "created in UTC RFC 3339, aligned under its header: {}",
        table.stdout
    );

    let json = admin(&app, &["users", "list", "--json"]).await;
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let users = json.json();
    let users = users.as_array().expect("a JSON array");
    assert_eq!(users.len(), 2);
    let ada = &users[0];
    let keys: Vec<&String> = ada.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        8,
        "id, created_at, first_name, last_name, emails, primary_email, groups, sessions: {ada}"
    );
    assert_eq!(ada["groups"], serde_json::json!([]));
    assert_eq!(ada["id"], 1);
    assert_eq!(
        (&ada["first_name"], &ada["last_name"]),
        (&"Ada".into(), &"Lovelace".into())
    );
    assert_eq!(ada["emails"], serde_json::json!(["ada@example.com"]));
    assert_eq!(ada["sessions"], 1);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let created_at = ada["created_at"].as_i64().expect("unix seconds");
    assert!((now - 60..=now).contains(&created_at), "{created_at}");
    assert_eq!(users[1]["emails"], serde_json::json!(["grace@example.com"]));
}

#[tokio::test]
async fn users_show_finds_a_user_by_id_and_by_an_address_in_any_case() {
    let app = spawn_app().await;
    let (_, cookie) = sign_up(&app, "ada@example.com", "Ada", "Lovelace").await;

    let by_id = admin(&app, &["users", "show", "1"]).await;
    assert_eq!(by_id.code, Some(0), "{}", by_id.stderr);
    for expected in [
        "Ada",
        "Lovelace",
        "ada@example.com",
        "1 live",
        "SESSION",
        "USER AGENT",
    ] {
        assert!(
            by_id.stdout.contains(expected),
            "no {expected}:\n{}",
            by_id.stdout
        );
    }

    let by_email = admin(&app, &["users", "show", "ADA@Example.com", "--json"]).await;
    assert_eq!(by_email.code, Some(0), "{}", by_email.stderr);
    let shown = by_email.json();
    assert_eq!((&shown["id"], &shown["sessions"]), (&1.into(), &1.into()));
    let sessions = shown["session_list"]
        .as_array()
        .expect("the user's sessions");
    assert_eq!(sessions.len(), 1, "{shown}");
    assert_eq!(
        sessions[0]["id"].as_str().map(str::len),
        Some(32),
        "{shown}"
    );
    for output in [&by_id.stdout, &by_email.stdout] {
        assert!(!output.contains(&cookie), "the token was printed");
        assert!(
            !output.contains(&sha256_hex(&cookie)),
            "the token hash was printed"
        );
    }
}

#[tokio::test]
async fn users_delete_removes_the_user_their_addresses_and_sessions_in_one_go() {
    let app = spawn_app().await;
    let (ada, _) = sign_up(&app, "ada@example.com", "Ada", "Lovelace").await;
    let (grace, _) = sign_up(&app, "grace@example.com", "Grace", "Hopper").await;
    assert_eq!(home_status(&app, &ada).await, StatusCode::OK);

    let deleted = admin(&app, &["users", "delete", "Ada@Example.com"]).await;
    assert_eq!(deleted.code, Some(0), "{}", deleted.stderr);
    assert_eq!(
        deleted.stdout.trim(),
        "deleted user 1 (Ada Lovelace): 1 email, 1 session"
    );

    let rows = |sql: &str| app.database().query_i64(sql);
    assert_eq!(rows("SELECT count(*) FROM users WHERE id = 1"), 0);
    assert_eq!(
        rows("SELECT count(*) FROM user_emails WHERE user_id = 1"),
        0
    );
    assert_eq!(
        rows("SELECT count(*) FROM user_sessions WHERE user_id = 1"),
        0
    );
    assert_eq!(
        (app.count_rows("users"), app.count_rows("user_emails")),
        (1, 1),
        "Grace is untouched"
    );
    assert_eq!(
        home_status(&app, &ada).await,
        StatusCode::SEE_OTHER,
        "the deleted person's cookie no longer works"
    );
    assert_eq!(home_status(&app, &grace).await, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_user_is_one_line_and_status_1_and_a_malformed_one_status_2() {
    let app = spawn_app().await;
    app.sign_up(&browser(), "ada@example.com", "Ada", "Lovelace")
        .await;
    let cases: &[(&[&str], Option<i32>, &str)] = &[
        (&["users", "show", "42"], Some(1), "no user with id 42"),
        (
            &["users", "delete", "Nobody@Example.com"],
            Some(1),
            "no user with email nobody@example.com",
        ),
        (
            &["sessions", "list", "--user", "42"],
            Some(1),
            "no user with id 42",
        ),
        (
            &["sessions", "revoke", "--user", "42"],
            Some(1),
            "no user with id 42",
        ),
        (
            &["users", "show", "ada"],
            Some(2),
            "`ada` is neither a user id nor an email address",
        ),
    ];
    for (args, code, expected) in cases {
        let ran = admin(&app, args).await;
        assert_eq!(ran.code, *code, "case {args:?}: {}", ran.stderr);
        assert!(
            ran.failure_line().starts_with(expected),
            "case {args:?}: {}",
            ran.stderr
        );
    }
    assert_eq!(app.count_rows("users"), 1, "nothing was deleted");
}
