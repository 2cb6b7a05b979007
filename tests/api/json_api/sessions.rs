//! Reading, listing and ending sessions through the API.

use doorcode::domain::sha256_hex;
use reqwest::{Method, StatusCode};

use super::{call, client, error_of, json_of, sign_in, token};
use crate::helpers::{TestApp, set_cookies, spawn_app};

/// The public id of the session a token belongs to.
async fn session_id(app: &TestApp, token: &str) -> String {
    let response = call(
        app,
        &client("x"),
        Method::GET,
        "/api/v1/session",
        Some(token),
    )
    .await;
    let body = json_of(response, StatusCode::OK).await;
    body["session"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_session_is_read_from_a_bearer_token_or_from_the_cookie() {
    let app = spawn_app().await;
    let spa = client("spa");
    let signed_in = sign_in(&app, &spa, "ada@example.com", "Ada").await;
    let token = token(&signed_in);

    let by_bearer = call(
        &app,
        &client("backend"),
        Method::GET,
        "/api/v1/session",
        Some(token),
    )
    .await;
    let by_bearer = json_of(by_bearer, StatusCode::OK).await;
    let by_cookie = json_of(
        call(&app, &spa, Method::GET, "/api/v1/session", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_bearer, by_cookie);

    assert_eq!(by_bearer["user"], signed_in["user"]);
    let session = &by_bearer["session"];
    assert_eq!(session["expires_at"], signed_in["expires_at"]);
    assert!(session["created_at"].is_string());
    let id = session["id"].as_str().unwrap();
    assert!(
        id != token && id != sha256_hex(token),
        "a public id, never the token or its hash"
    );
    assert!(
        !by_bearer.to_string().contains(token),
        "the token is not repeated"
    );
}

#[tokio::test]
async fn no_session_or_a_bad_token_is_401_on_every_session_route() {
    let app = spawn_app().await;
    let spa = client("spa");
    let signed_in = sign_in(&app, &spa, "ada@example.com", "Ada").await;
    let good = token(&signed_in).to_owned();
    let routes = [
        (Method::GET, "/api/v1/session"),
        (Method::DELETE, "/api/v1/session"),
        (Method::GET, "/api/v1/sessions"),
        (
            Method::DELETE,
            "/api/v1/sessions/0123456789abcdef0123456789abcdef",
        ),
    ];
    let unknown = "A".repeat(43);
    for (method, path) in routes {
        for (case, who, bearer) in [
            ("no session", client("anon"), None),
            ("a malformed token", client("anon"), Some("not-a-token")),
            ("an unknown token", client("anon"), Some(unknown.as_str())),
            (
                "a bad bearer beside a good cookie",
                spa.clone(),
                Some(unknown.as_str()),
            ),
        ] {
            let response = call(&app, &who, method.clone(), path, bearer).await;
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}: {case}"
            );
            let (error, _) = error_of(response, StatusCode::UNAUTHORIZED).await;
            assert_eq!(error, "unauthorized", "{method} {path}: {case}");
        }
    }
    let still = call(
        &app,
        &client("x"),
        Method::GET,
        "/api/v1/session",
        Some(&good),
    )
    .await;
    assert_eq!(
        still.status(),
        StatusCode::OK,
        "nothing above ended the session"
    );
}

#[tokio::test]
async fn signing_out_deletes_the_session_so_its_token_and_cookie_stop_working() {
    let app = spawn_app().await;
    let backend = client("backend");
    let signed_in = sign_in(&app, &backend, "ada@example.com", "Ada").await;
    let spa = client("spa");
    sign_in(&app, &spa, "ada@example.com", "Ada").await;
    assert_eq!(app.count_rows("user_sessions"), 2);

    let token = token(&signed_in);
    let response = call(
        &app,
        &client("x"),
        Method::DELETE,
        "/api/v1/session",
        Some(token),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.count_rows("user_sessions"), 1, "the row is gone");
    let response = call(
        &app,
        &client("x"),
        Method::GET,
        "/api/v1/session",
        Some(token),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = call(&app, &spa, Method::DELETE, "/api/v1/session", None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("doorcode_session=;") && c.contains("Max-Age=0")),
        "the cookie is cleared"
    );
    assert_eq!(app.count_rows("user_sessions"), 0);
    let response = call(&app, &spa, Method::GET, "/api/v1/session", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_sessions_list_marks_the_current_one_and_records_each_clients_user_agent() {
    let app = spawn_app().await;
    let phone = sign_in(&app, &client("Phone/1.0"), "ada@example.com", "Ada").await;
    let laptop = sign_in(&app, &client("Laptop/2.0"), "ada@example.com", "Ada").await;
    sign_in(&app, &client("Other/3.0"), "bob@example.com", "Bob").await;

    let response = call(
        &app,
        &client("x"),
        Method::GET,
        "/api/v1/sessions",
        Some(token(&phone)),
    )
    .await;
    let list = json_of(response, StatusCode::OK).await;
    let list = list.as_array().expect("an array of sessions");
    assert_eq!(list.len(), 2, "only the caller's own: {list:?}");
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    assert_eq!(current[0]["user_agent"], "Phone/1.0");
    let mut agents: Vec<_> = list
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap())
        .collect();
    agents.sort();
    assert_eq!(agents, ["Laptop/2.0", "Phone/1.0"]);
    for session in list {
        for field in ["id", "created_at", "last_seen_at"] {
            assert!(session[field].is_string(), "{field} in {session}");
        }
        assert!(!session.to_string().contains(token(&laptop)));
    }
}

#[tokio::test]
async fn ending_someone_elses_session_is_404_and_ending_ones_own_other_session_is_204() {
    let app = spawn_app().await;
    let mine = sign_in(&app, &client("a"), "ada@example.com", "Ada").await;
    let my_other = sign_in(&app, &client("b"), "ada@example.com", "Ada").await;
    let theirs = sign_in(&app, &client("c"), "bob@example.com", "Bob").await;
    let their_id = session_id(&app, token(&theirs)).await;
    let my_other_id = session_id(&app, token(&my_other)).await;

    for (case, id) in [
        ("someone else's", their_id.as_str()),
        ("an unknown id", "nope"),
    ] {
        let path = format!("/api/v1/sessions/{id}");
        let response = call(
            &app,
            &client("x"),
            Method::DELETE,
            &path,
            Some(token(&mine)),
        )
        .await;
        let (error, _) = error_of(response, StatusCode::NOT_FOUND).await;
        assert_eq!(error, "not_found", "{case}");
    }
    let response = call(
        &app,
        &client("x"),
        Method::GET,
        "/api/v1/session",
        Some(token(&theirs)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "their session lives on");

    let path = format!("/api/v1/sessions/{my_other_id}");
    let response = call(
        &app,
        &client("x"),
        Method::DELETE,
        &path,
        Some(token(&mine)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = call(
        &app,
        &client("x"),
        Method::GET,
        "/api/v1/session",
        Some(token(&my_other)),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "that device is signed out"
    );
    let response = call(
        &app,
        &client("x"),
        Method::GET,
        "/api/v1/session",
        Some(token(&mine)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "this one is not");
}
