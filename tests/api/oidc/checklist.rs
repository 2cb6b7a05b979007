//! The OpenID Foundation's Basic and Config OP test modules, one test each (they
//! cannot run here: they need Docker and the internet), and the malformed requests
//! every endpoint must refuse with the RFC's error code, never a 5xx.

use reqwest::{Client, StatusCode};

use super::*;
use crate::operator::admin;

/// oidcc-ensure-redirect-uri-in-authorization-request, -registered-redirect-uri:
/// a missing or unregistered redirect URI is a page, never a redirect.
#[tokio::test]
async fn an_unregistered_or_missing_redirect_uri_is_a_400_page_not_a_redirect() {
    let app = oidc_app().await;
    let browser = browser();
    for path in [
        authorize_path("app", "https://evil.example/callback", &[]),
        authorize_path("app", "https://app.example/callback/", &[]),
        authorize_path("unknown", APP_REDIRECT, &[]),
        "/oidc/authorize?response_type=code&client_id=app&scope=openid".to_string(),
        "/oidc/authorize?response_type=code&scope=openid".to_string(),
        format!("{}&client_id=app", authorize_path("app", APP_REDIRECT, &[])),
    ] {
        let response = app.get(&browser, &path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(response.headers().get("location").is_none(), "{path}");
    }
}

/// Other mistakes go back to the app with the RFC's code, the state and `iss`.
#[tokio::test]
async fn other_authorization_mistakes_redirect_with_their_error_code() {
    let app = oidc_app().await;
    let browser = browser();
    let long = "x".repeat(3000);
    for (extra, error) in [
        (vec![("response_type", "token")], "invalid_request"),
        (
            vec![
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
        ),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("max_age", "soon")], "invalid_request"),
        (vec![("request", "eyJ…")], "request_not_supported"),
        (vec![("nonce", long.as_str())], "invalid_request"),
    ] {
        let response = app
            .get(&browser, &authorize_path("app", APP_REDIRECT, &extra))
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let to = location(&response);
        assert!(to.starts_with(APP_REDIRECT), "{to}");
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(param(&to, "iss").as_deref(), Some(BASE_URL));
        assert!(param(&to, "error_description").is_some());
    }
    let path = authorize_path("app", APP_REDIRECT, &[])
        .replace("response_type=code", "response_type=id_token");
    let to = location(&app.get(&browser, &path).await);
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));
    let path = authorize_path("app", APP_REDIRECT, &[]).replace("scope=openid", "scope=email");
    let to = location(&app.get(&browser, &path).await);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_scope"));
}

/// oidcc-prompt-none-not-logged-in, and prompt=none before consent.
#[tokio::test]
async fn prompt_none_answers_login_required_then_consent_required() {
    let app = oidc_app().await;
    let browser = browser();
    let to = location(
        &app.get(
            &browser,
            &authorize_path("app", APP_REDIRECT, &[("prompt", "none")]),
        )
        .await,
    );
    assert_eq!(param(&to, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));
    app.sign_up(&browser, "none@example.com", "No", "Ne").await;
    let to = location(
        &app.get(
            &browser,
            &authorize_path("app", APP_REDIRECT, &[("prompt", "none")]),
        )
        .await,
    );
    assert_eq!(param(&to, "error").as_deref(), Some("consent_required"));
    // oidcc-prompt-none-logged-in: after consent, no page at all.
    authorize_as(
        &app,
        &browser,
        "none@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let to = location(
        &app.get(
            &browser,
            &authorize_path("app", APP_REDIRECT, &[("prompt", "none")]),
        )
        .await,
    );
    assert!(param(&to, "code").is_some(), "{to}");
}

/// oidcc-prompt-login and oidcc-max-age-1: a fresh sign-in, and `auth_time` after it.
#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_fresh_sign_in() {
    let app = oidc_app().await;
    let browser = browser();
    let email = "fresh@example.com";
    let back = authorize_as(
        &app,
        &browser,
        email,
        &authorize_path("own", APP_REDIRECT, &[]),
    )
    .await;
    let first = json(
        token(
            &app,
            "own",
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &param(&back, "code").unwrap()),
                ("redirect_uri", APP_REDIRECT),
            ],
        )
        .await,
    )
    .await;
    let first_auth =
        verified_claims(&app, first["id_token"].as_str().unwrap(), "own").await["auth_time"]
            .as_i64()
            .unwrap();
    for extra in [[("prompt", "login")], [("max_age", "0")]] {
        let path = authorize_path("own", APP_REDIRECT, &extra);
        let response = app.get(&browser, &path).await;
        assert!(
            location(&response).starts_with("/login?next="),
            "{extra:?} did not ask for a sign-in"
        );
        app.clock.advance(5);
        let back = authorize_as(&app, &browser, email, &path).await;
        let tokens = json(
            token(
                &app,
                "own",
                SECRET,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &param(&back, "code").unwrap()),
                    ("redirect_uri", APP_REDIRECT),
                ],
            )
            .await,
        )
        .await;
        let auth_time =
            verified_claims(&app, tokens["id_token"].as_str().unwrap(), "own").await["auth_time"]
                .as_i64()
                .unwrap();
        assert!(
            auth_time > first_auth,
            "{extra:?}: auth_time {auth_time} not after {first_auth}"
        );
    }
    // A max_age the session meets needs nothing.
    let response = app
        .get(
            &browser,
            &authorize_path("own", APP_REDIRECT, &[("max_age", "3600")]),
        )
        .await;
    assert!(param(&location(&response), "code").is_some());
}

/// oidcc-ensure-request-with-valid-pkce-succeeds, PKCE for public clients.
#[tokio::test]
async fn public_clients_must_use_pkce_and_the_verifier_must_match() {
    let app = oidc_app().await;
    let browser = browser();
    let to = location(
        &app.get(&browser, &authorize_path("spa", SPA_REDIRECT, &[]))
            .await,
    );
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
    let path = authorize_path(
        "spa",
        SPA_REDIRECT,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let exchange = |code: String, verifier: &'static str| {
        let app = &app;
        async move {
            Client::new()
                .post(app.url("/oidc/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", SPA_REDIRECT),
                    ("client_id", "spa"),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let back = authorize_as(&app, &browser, "spa@example.com", &path).await;
    let wrong = exchange(
        param(&back, "code").unwrap(),
        "wrong-verifier-wrong-verifier-wrong-verifier-x",
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(wrong).await["error"], "invalid_grant");
    let back = authorize_as(&app, &browser, "spa@example.com", &path).await;
    let right = exchange(param(&back, "code").unwrap(), VERIFIER).await;
    assert_eq!(right.status(), StatusCode::OK);
}

/// oidcc-client-secret-basic / -post, and bad client authentication.
#[tokio::test]
async fn clients_authenticate_by_basic_or_post_and_a_wrong_secret_is_invalid_client() {
    let app = oidc_app().await;
    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "auth@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let code = param(&back, "code").unwrap();
    let wrong = token(
        &app,
        "app",
        "not-the-secret",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_REDIRECT),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(wrong).await["error"], "invalid_client");
    let unknown = token(
        &app,
        "nobody",
        SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let posted = Client::new()
        .post(app.url("/oidc/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_REDIRECT),
            ("client_id", "app"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK, "client_secret_post");
    // A confidential client cannot pass as public.
    let bare = Client::new()
        .post(app.url("/oidc/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "app"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
}

/// Malformed token requests: 4xx with the RFC's code, never 5xx.
#[tokio::test]
async fn malformed_token_requests_get_their_rfc_error_codes() {
    let app = oidc_app().await;
    let client = Client::new();
    let url = app.url("/oidc/token");
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            client
                .post(&url)
                .basic_auth("app", Some(SECRET))
                .json(&serde_json::json!({"grant_type": "authorization_code"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            client
                .post(&url)
                .basic_auth("app", Some(SECRET))
                .form(&[("code", "x")]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            client
                .post(&url)
                .basic_auth("app", Some(SECRET))
                .form(&[("grant_type", "password")]),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            client.post(&url).basic_auth("app", Some(SECRET)).form(&[
                ("grant_type", "authorization_code"),
                ("grant_type", "refresh_token"),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            client.post(&url).basic_auth("app", Some(SECRET)).form(&[
                ("grant_type", "authorization_code"),
                ("redirect_uri", APP_REDIRECT),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            client.post(&url).basic_auth("app", Some(SECRET)).form(&[
                ("grant_type", "authorization_code"),
                ("code", &"c".repeat(5000)),
                ("redirect_uri", APP_REDIRECT),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            client
                .post(&url)
                .basic_auth("app", Some(SECRET))
                .form(&[("grant_type", "refresh_token")]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            client
                .post(&url)
                .header("authorization", "Basic !!!")
                .form(&[("grant_type", "refresh_token")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            client.post(&url).form(&[("grant_type", "refresh_token")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (client.get(&url), StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (i, (request, status, error)) in cases.into_iter().enumerate() {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "case {i}");
        assert_eq!(json(response).await["error"], error, "case {i}");
    }
}

/// Consent: deny sends access_denied; a withdrawn app loses its tokens.
#[tokio::test]
async fn deny_is_access_denied_and_withdrawing_an_app_revokes_its_tokens() {
    let app = oidc_app().await;
    let browser = browser();
    app.sign_up(&browser, "consent@example.com", "Con", "Sent")
        .await;
    let page = app
        .get(&browser, &authorize_path("app", APP_REDIRECT, &[]))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Example App"));
    assert!(
        page.contains("name=\"decision\" value=\"allow\"")
            && page.contains("name=\"decision\" value=\"deny\"")
    );
    let mut form = hidden_inputs(&page);
    form.push(("decision".into(), "deny".into()));
    let denied = browser
        .post(app.url("/oidc/consent"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&denied), "error").as_deref(),
        Some("access_denied")
    );

    let back = authorize_as(
        &app,
        &browser,
        "consent@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let tokens = json(exchange(&app, &param(&back, "code").unwrap()).await).await;
    let home = app.get(&browser, "/").await.text().await.unwrap();
    assert!(home.contains("Apps you signed in to") && home.contains("Example App"));
    let withdrawn = app
        .post(&browser, "/account/apps/withdraw", &[("client_id", "app")])
        .await;
    assert_eq!(withdrawn.status(), StatusCode::SEE_OTHER);
    let refresh = token(
        &app,
        "app",
        SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(json(refresh).await["error"], "invalid_grant");
    // And the consent page comes back.
    let page = app
        .get(&browser, &authorize_path("app", APP_REDIRECT, &[]))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
}

/// allowed_groups: a person in none of them gets a 403 page and the app nothing.
#[tokio::test]
async fn allowed_groups_keep_others_out_and_groups_reach_the_claims() {
    let app = oidc_app().await;
    let browser = browser();
    app.sign_up(&browser, "guest@example.com", "Gue", "St")
        .await;
    let refused = app
        .get(&browser, &authorize_path("admin-tool", APP_REDIRECT, &[]))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("have access to Admin Tool")
    );
    assert_eq!(
        admin(&app, &["groups", "create", "admins"]).await.code,
        Some(0)
    );
    assert_eq!(
        admin(&app, &["groups", "add", "admins", "guest@example.com"])
            .await
            .code,
        Some(0)
    );
    let back = location(
        &app.get(&browser, &authorize_path("admin-tool", APP_REDIRECT, &[]))
            .await,
    );
    let tokens = json(
        token(
            &app,
            "admin-tool",
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &param(&back, "code").unwrap()),
                ("redirect_uri", APP_REDIRECT),
            ],
        )
        .await,
    )
    .await;
    let claims = verified_claims(&app, tokens["id_token"].as_str().unwrap(), "admin-tool").await;
    assert_eq!(claims["groups"], serde_json::json!(["admins"]));
}

/// Revocation (RFC 7009) and introspection (RFC 7662).
#[tokio::test]
async fn revoked_tokens_stop_working_and_introspection_tells_live_from_dead() {
    let app = oidc_app().await;
    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "intro@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let tokens = json(exchange(&app, &param(&back, "code").unwrap()).await).await;
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = |token: String| {
        let app = &app;
        async move {
            json(
                Client::new()
                    .post(app.url("/oidc/introspect"))
                    .basic_auth("app", Some(SECRET))
                    .form(&[("token", token)])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let live = introspect(access.to_owned()).await;
    assert_eq!(live["active"], true);
    assert_eq!(live["client_id"], "app");
    assert_eq!(introspect("not-a-token".into()).await["active"], false);
    // Another client learns nothing about this one's tokens.
    let other = json(
        Client::new()
            .post(app.url("/oidc/introspect"))
            .basic_auth("own", Some(SECRET))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other["active"], false);
    let revoked = Client::new()
        .post(app.url("/oidc/revoke"))
        .basic_auth("app", Some(SECRET))
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        introspect(access.to_owned()).await["active"],
        false,
        "revoking the refresh token ends its family"
    );
}

/// Signing a person out everywhere, or deleting them, revokes their tokens.
#[tokio::test]
async fn sessions_revoke_and_users_delete_revoke_tokens() {
    let app = oidc_app().await;
    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "gone@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let tokens = json(exchange(&app, &param(&back, "code").unwrap()).await).await;
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = || {
        Client::new()
            .get(app.url("/oidc/userinfo"))
            .bearer_auth(access)
            .send()
    };
    assert_eq!(userinfo().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        admin(&app, &["sessions", "revoke", "--user", "gone@example.com"])
            .await
            .code,
        Some(0)
    );
    assert_eq!(userinfo().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        admin(&app, &["users", "delete", "gone@example.com"])
            .await
            .code,
        Some(0)
    );
    assert_eq!(
        app.database().query_i64("SELECT count(*) FROM oidc_grants"),
        0
    );
}

/// RP-initiated logout: ends the session, follows only a registered URI, echoes state.
#[tokio::test]
async fn end_session_signs_out_and_returns_only_to_a_registered_uri() {
    let app = oidc_app().await;
    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "bye@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let tokens = json(exchange(&app, &param(&back, "code").unwrap()).await).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let bad = app
        .get(
            &browser,
            &format!(
                "/oidc/logout?id_token_hint={hint}&post_logout_redirect_uri=https://evil.example/"
            ),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // Without a hint, a confirmation form first.
    let confirm = app.get(&browser, "/oidc/logout?client_id=app").await;
    assert_eq!(confirm.status(), StatusCode::OK);
    assert!(
        confirm
            .text()
            .await
            .unwrap()
            .contains("action=\"/oidc/logout\"")
    );
    let out = app
        .get(&browser, &format!("/oidc/logout?id_token_hint={hint}&post_logout_redirect_uri=https://app.example/bye&state=s9"))
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let to = location(&out);
    assert!(to.starts_with("https://app.example/bye"), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("s9"));
    assert_eq!(
        app.get(&browser, "/").await.status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );
}

/// oidcc-ensure-other-scope-order-succeeds, ui_locales, display, acr_values, claims.
#[tokio::test]
async fn optional_parameters_are_accepted_without_error() {
    let app = oidc_app().await;
    let browser = browser();
    app.sign_up(&browser, "extra@example.com", "Ex", "Tra")
        .await;
    let path = authorize_path(
        "own",
        APP_REDIRECT,
        &[
            ("ui_locales", "de en"),
            ("display", "page"),
            ("acr_values", "1 2"),
            ("login_hint", "extra@example.com"),
            ("claims_locales", "de"),
        ],
    )
    .replace(
        "scope=openid+email+profile+offline_access+groups",
        "scope=email+openid+unknown",
    );
    let to = location(&app.get(&browser, &path).await);
    assert!(param(&to, "code").is_some(), "{to}");
}

/// `doorcode clients add|list|remove`: a client from the command line works like one
/// from the file; its secret is printed once and stored only as a hash.
#[tokio::test]
async fn clients_from_the_command_line_sign_people_in_and_can_be_removed() {
    let app = oidc_app().await;
    let added = admin(
        &app,
        &[
            "clients",
            "add",
            "--name",
            "Wiki",
            "--id",
            "wiki",
            "--redirect-uri",
            APP_REDIRECT,
            "--skip-consent",
        ],
    )
    .await;
    assert_eq!(added.code, Some(0), "{}", added.stderr);
    let secret = added
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("client_secret:"))
        .expect("the secret is printed")
        .trim()
        .to_owned();
    let db = app.database();
    assert_eq!(
        db.query_i64(&format!(
            "SELECT count(*) FROM oidc_clients WHERE secret_hash = '{secret}'"
        )),
        0
    );
    let listed = admin(&app, &["clients", "list", "--json"]).await;
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "wiki" && c["source"] == "cli")
    );

    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "wiki@example.com",
        &authorize_path("wiki", APP_REDIRECT, &[]),
    )
    .await;
    let tokens = token(
        &app,
        "wiki",
        &secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &param(&back, "code").unwrap()),
            ("redirect_uri", APP_REDIRECT),
        ],
    )
    .await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens = json(tokens).await;

    for bad in [
        vec![
            "clients",
            "add",
            "--name",
            "X",
            "--redirect-uri",
            "http://wiki.example/cb",
        ],
        vec![
            "clients",
            "add",
            "--name",
            "X",
            "--redirect-uri",
            "https://x.example/cb",
            "--id",
            "bad id",
        ],
        vec![
            "clients",
            "add",
            "--name",
            "",
            "--redirect-uri",
            "https://x.example/cb",
        ],
    ] {
        let ran = admin(&app, &bad).await;
        assert_eq!(ran.code, Some(2), "{bad:?}: {}", ran.stderr);
        assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    }
    assert_eq!(
        admin(&app, &["clients", "remove", "nobody"]).await.code,
        Some(1)
    );
    assert_eq!(
        admin(&app, &["clients", "remove", "wiki"]).await.code,
        Some(0)
    );
    let userinfo = Client::new()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        StatusCode::UNAUTHORIZED,
        "a removed client's tokens are revoked"
    );
    let gone = app
        .get(&browser, &authorize_path("wiki", APP_REDIRECT, &[]))
        .await;
    assert_eq!(gone.status(), StatusCode::BAD_REQUEST);
}

/// oidcc-idtoken-kid, key rotation: a new key signs, the old one stays published
/// until its tokens expire, and keys survive restarts.
#[tokio::test]
async fn keys_rotate_and_the_old_key_stays_published_until_its_tokens_expire() {
    let app = oidc_app().await;
    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "kid@example.com",
        &authorize_path("own", APP_REDIRECT, &[]),
    )
    .await;
    let code_for = |back: String| param(&back, "code").unwrap();
    let exchange_own = |code: String| {
        let app = &app;
        async move {
            json(
                token(
                    app,
                    "own",
                    SECRET,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", APP_REDIRECT),
                    ],
                )
                .await,
            )
            .await
        }
    };
    let old = exchange_own(code_for(back)).await;
    let old_token = old["id_token"].as_str().unwrap().to_owned();
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    let jwks = |app: &TestApp| {
        let url = app.url("/oidc/jwks");
        async move {
            json(Client::new().get(url).send().await.unwrap()).await["keys"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(jwks(&app).await, 1);

    let rotated = admin(&app, &["keys", "rotate"]).await;
    assert_eq!(rotated.code, Some(0), "{}", rotated.stderr);
    app.clock.advance(61);
    assert_eq!(jwks(&app).await, 2, "old and new keys are both published");
    let back = location(
        &app.get(&browser, &authorize_path("own", APP_REDIRECT, &[]))
            .await,
    );
    let new = exchange_own(code_for(back)).await;
    let new_token = new["id_token"].as_str().unwrap();
    let new_kid = jsonwebtoken::decode_header(new_token).unwrap().kid.unwrap();
    assert_ne!(new_kid, old_kid);
    verified_claims(&app, new_token, "own").await;
    // The old token still verifies against the published set while it lives.
    verified_claims_ignoring_expiry(&app, &old_token, "own").await;

    // After the ID token lifetime, the retired key leaves the JWKS.
    app.clock.advance(3600);
    assert_eq!(jwks(&app).await, 1);
    // Keys survive a restart: the same key signs.
    let app = app.restart().await;
    assert_eq!(jwks(&app).await, 1);
}

async fn verified_claims_ignoring_expiry(app: &TestApp, id_token: &str, audience: &str) {
    let jwks: jsonwebtoken::jwk::JwkSet = Client::new()
        .get(app.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("the old key is still published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(
        id_token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap();
}

/// Browsers check `form-action` against the redirects after a form: the consent
/// and code pages on the way to an app allow that app's registered origin, and
/// nothing a `next` merely names.
#[tokio::test]
async fn pages_on_the_way_to_an_app_let_their_forms_reach_only_its_registered_origin() {
    let app = oidc_app().await;
    let browser = browser();
    let csp = |response: &reqwest::Response| {
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let next = |redirect: &str| {
        let path = authorize_path("app", redirect, &[]);
        url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
    };
    let start = |redirect: &'static str| {
        let app = &app;
        let browser = &browser;
        let next = next(redirect);
        async move {
            let next = url::form_urlencoded::parse(format!("n={next}").as_bytes())
                .next()
                .unwrap()
                .1
                .into_owned();
            app.post(
                browser,
                "/login",
                &[
                    ("email", "csp@example.com"),
                    (
                        "cf-turnstile-response",
                        crate::turnstile::FakeSiteverify::DUMMY_TOKEN,
                    ),
                    ("next", &next),
                ],
            )
            .await
        }
    };
    let code_page = start(APP_REDIRECT).await;
    assert_eq!(code_page.status(), StatusCode::OK);
    assert!(
        csp(&code_page).contains("form-action 'self' https://app.example"),
        "{}",
        csp(&code_page)
    );
    let evil = start("https://evil.example/cb").await;
    assert!(!csp(&evil).contains("evil.example"), "{}", csp(&evil));
    app.smtp.wait_for_mail_to("csp@example.com").await;

    app.sign_up(&browser, "consent-csp@example.com", "Con", "Sent")
        .await;
    let consent = app
        .get(&browser, &authorize_path("app", APP_REDIRECT, &[]))
        .await;
    assert!(
        csp(&consent).contains("form-action 'self' https://app.example"),
        "{}",
        csp(&consent)
    );
    let home = app.get(&browser, "/").await;
    assert!(
        !csp(&home).contains("app.example"),
        "other pages keep the plain policy"
    );
}

/// An app in the browser (a public client) calls the token and userinfo endpoints
/// from its own origin: CORS allows it, without cookies.
#[tokio::test]
async fn browser_apps_may_call_the_token_endpoints_across_origins() {
    let app = oidc_app().await;
    let preflight = Client::new()
        .request(reqwest::Method::OPTIONS, app.url("/oidc/token"))
        .header("origin", "http://127.0.0.1:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let token = Client::new()
        .post(app.url("/oidc/token"))
        .header("origin", "http://127.0.0.1:5173")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "spa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        token.status(),
        StatusCode::BAD_REQUEST,
        "not refused by the Origin check"
    );
    assert_eq!(token.headers()["access-control-allow-origin"], "*");
    assert!(
        token
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}

/// Housekeeping drops codes and tokens once they are dead, and authorizations with
/// their last token.
#[tokio::test]
async fn housekeeping_prunes_expired_codes_tokens_and_authorizations() {
    let app = oidc_app().await;
    let browser = browser();
    // One authorization without offline_access, one with, one never redeemed.
    let short = authorize_path("own", APP_REDIRECT, &[]).replace("+offline_access", "");
    let back = authorize_as(&app, &browser, "prune@example.com", &short).await;
    token(
        &app,
        "own",
        SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &param(&back, "code").unwrap()),
            ("redirect_uri", APP_REDIRECT),
        ],
    )
    .await;
    let back = location(
        &app.get(&browser, &authorize_path("own", APP_REDIRECT, &[]))
            .await,
    );
    token(
        &app,
        "own",
        SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &param(&back, "code").unwrap()),
            ("redirect_uri", APP_REDIRECT),
        ],
    )
    .await;
    app.get(&browser, &authorize_path("own", APP_REDIRECT, &[]))
        .await;
    assert_eq!(app.count_rows("oidc_grants"), 3);
    assert_eq!(app.count_rows("oidc_tokens"), 3);

    let storage = doorcode::storage::Storage::open(&app.config.database.target())
        .await
        .unwrap();
    app.clock.advance(3600 + 1);
    storage.prune(app.clock.now()).await.unwrap();
    assert_eq!(
        app.count_rows("oidc_grants"),
        1,
        "only the one with a live refresh token is kept"
    );
    assert_eq!(app.count_rows("oidc_tokens"), 1);
    app.clock.advance(30 * 24 * 3600);
    storage.prune(app.clock.now()).await.unwrap();
    assert_eq!(app.count_rows("oidc_grants"), 0);
    assert_eq!(app.count_rows("oidc_tokens"), 0);
}

/// `max_age=0` from someone signed out: one sign-in is enough.
#[tokio::test]
async fn max_age_zero_needs_one_sign_in_not_two() {
    let app = oidc_app().await;
    let browser = browser();
    let path = authorize_path("own", APP_REDIRECT, &[("max_age", "0")]);
    let first = app.get(&browser, &path).await;
    assert!(location(&first).starts_with("/login?next="));
    app.sign_up(&browser, "zero@example.com", "Ze", "Ro").await;
    // Back at the authorization the sign-in page returns to.
    let next = url::Url::parse(&format!("{BASE_URL}{}", location(&first)))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let back = app.get(&browser, &next).await;
    assert!(
        param(&location(&back), "code").is_some(),
        "{}",
        location(&back)
    );
}
