//! doorcode as an OpenID Connect provider, driven as apps and browsers drive it:
//! the code flow through doorcode's own sign-in (codes read from the mail), the
//! token endpoint, userinfo, refresh rotation, revocation, introspection, logout,
//! and every refusal with its RFC error code. `openid_client` runs a certified
//! relying party (node's openid-client) against it.

mod checklist;
mod openid_client;

use doorcode::config::{ClientConfig, Config, Secret};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

use crate::helpers::{BASE_URL, TestApp, browser, input_value, spawn_app_with};

pub const SECRET: &str = "a-confidential-client-secret-of-40-chars!";
pub const APP_REDIRECT: &str = "https://app.example/callback";
pub const SPA_REDIRECT: &str = "http://127.0.0.1:5173/callback";
/// An S256 pair from RFC 7636's appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The clients every test here uses.
pub fn clients(config: &mut Config) {
    let client = |id: &str, name: &str, secret: &str, redirect: &str| ClientConfig {
        id: id.into(),
        name: name.into(),
        secret: Secret::new(secret),
        redirect_uris: vec![redirect.into()],
        post_logout_redirect_uris: vec!["https://app.example/bye".into()],
        ..ClientConfig::default()
    };
    config.oidc.clients = vec![
        client("app", "Example App", SECRET, APP_REDIRECT),
        client("spa", "Single Page", "", SPA_REDIRECT),
        ClientConfig {
            skip_consent: true,
            ..client("own", "Own Dashboard", SECRET, APP_REDIRECT)
        },
        ClientConfig {
            allowed_groups: vec!["admins".into()],
            skip_consent: true,
            ..client("admin-tool", "Admin Tool", SECRET, APP_REDIRECT)
        },
    ];
}

pub async fn oidc_app() -> TestApp {
    spawn_app_with(clients).await
}

/// `/oidc/authorize?…` for `client` with the usual parameters and `extra`.
pub fn authorize_path(client: &str, redirect: &str, extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid email profile offline_access groups")
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456");
    for (key, value) in extra {
        query.append_pair(key, value);
    }
    format!("/oidc/authorize?{}", query.finish())
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query of a redirect to the client, as pairs.
pub fn query_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn param(location: &str, key: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Follows an authorization as a browser: signs up through `/login` when sent
/// there (reading the code from the mail), allows on the consent page, and returns
/// the final redirect to the client.
pub async fn authorize_as(app: &TestApp, browser: &Client, email: &str, path: &str) -> String {
    let mut response = app.get(browser, path).await;
    for _ in 0..6 {
        match response.status() {
            StatusCode::SEE_OTHER => {
                let to = location(&response);
                let origin = app.config.server.base_url.origin();
                let to = to.strip_prefix(origin).map(str::to_owned).unwrap_or(to);
                if !to.starts_with('/') {
                    return to;
                }
                if to.starts_with("/login") {
                    let next = url::Url::parse(&format!("{BASE_URL}{to}"))
                        .unwrap()
                        .query_pairs()
                        .find(|(k, _)| k == "next")
                        .map(|(_, v)| v.into_owned())
                        .expect("next");
                    let login = app
                        .post(
                            browser,
                            "/login",
                            &[
                                ("email", email),
                                (
                                    "cf-turnstile-response",
                                    crate::turnstile::FakeSiteverify::DUMMY_TOKEN,
                                ),
                                ("next", &next),
                            ],
                        )
                        .await;
                    assert_eq!(login.status(), StatusCode::OK);
                    let html = login.text().await.unwrap();
                    let challenge = input_value(&html, "challenge").unwrap();
                    let code = app.code_for(email).await;
                    let mut form = vec![
                        ("challenge", challenge.as_str()),
                        ("code", code.as_str()),
                        ("next", next.as_str()),
                    ];
                    if html.contains("name=\"first_name\"") {
                        form.extend([("first_name", "Ada"), ("last_name", "Lovelace")]);
                    }
                    response = app.post(browser, "/login/verify", &form).await;
                    continue;
                }
                response = app.get(browser, &to).await;
            }
            StatusCode::OK => {
                let html = response.text().await.unwrap();
                assert!(
                    html.contains("action=\"/oidc/consent\""),
                    "expected the consent page: {html}"
                );
                let mut form = hidden_inputs(&html);
                form.push(("decision".into(), "allow".into()));
                response = browser
                    .post(app.url("/oidc/consent"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
            }
            status => panic!(
                "unexpected {status} during authorization: {}",
                response.text().await.unwrap()
            ),
        }
    }
    panic!("authorization did not finish");
}

/// The hidden inputs of a page's form.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("input[type=hidden]").unwrap();
    doc.select(&selector)
        .filter_map(|input| {
            Some((
                input.value().attr("name")?.to_owned(),
                input.value().attr("value").unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

/// `POST /oidc/token` with `client_secret_basic`.
pub async fn token(app: &TestApp, client: &str, secret: &str, form: &[(&str, &str)]) -> Response {
    Client::new()
        .post(app.url("/oidc/token"))
        .basic_auth(client, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn exchange(app: &TestApp, code: &str) -> Response {
    token(
        app,
        "app",
        SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", APP_REDIRECT),
        ],
    )
    .await
}

/// The ID token's claims, verified with the published keys.
pub async fn verified_claims(app: &TestApp, id_token: &str, audience: &str) -> Value {
    let jwks: JwkSet = Client::new()
        .get(app.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(id_token)
        .unwrap()
        .kid
        .expect("kid");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[BASE_URL]);
    jsonwebtoken::decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("a valid ID token")
        .claims
}

pub async fn json(response: Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn discovery_lists_what_the_contract_names() {
    let app = oidc_app().await;
    let doc = json(
        Client::new()
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc["issuer"], BASE_URL);
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ] {
        assert!(doc[key].as_str().unwrap().starts_with(BASE_URL), "{key}");
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    let has = |key: &str, value: &str| doc[key].as_array().unwrap().iter().any(|v| v == value);
    assert!(has("id_token_signing_alg_values_supported", "RS256"));
    for method in ["client_secret_basic", "client_secret_post", "none"] {
        assert!(has("token_endpoint_auth_methods_supported", method));
    }
    for scope in ["openid", "email", "profile", "offline_access", "groups"] {
        assert!(has("scopes_supported", scope));
    }
    for grant in ["authorization_code", "refresh_token"] {
        assert!(has("grant_types_supported", grant));
    }
}

#[tokio::test]
async fn the_code_flow_signs_in_through_doorcode_and_gives_verified_tokens() {
    let app = oidc_app().await;
    let browser = browser();
    let path = authorize_path(
        "app",
        APP_REDIRECT,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    // Not signed in: to doorcode's sign-in page, which names the app.
    let first = app.get(&browser, &path).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let login = app.get(&browser, &location(&first)).await;
    assert!(
        login
            .text()
            .await
            .unwrap()
            .contains("Sign in to continue to Example App")
    );

    let back = authorize_as(&app, &browser, "ada@example.com", &path).await;
    assert!(back.starts_with(APP_REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&back, "iss").as_deref(), Some(BASE_URL));
    let code = param(&back, "code").expect("a code");

    let response = token(
        &app,
        "app",
        SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens = json(response).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let claims = verified_claims(&app, tokens["id_token"].as_str().unwrap(), "app").await;
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["otp"]),
        "signed in by code"
    );
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(claims["family_name"], "Lovelace");
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["groups"], serde_json::json!([]));
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert!(!sub.contains('@'));
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());

    // Userinfo by GET and by POST.
    let access = tokens["access_token"].as_str().unwrap();
    let info = json(
        Client::new()
            .get(app.url("/oidc/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["email"], "ada@example.com");
    let posted = Client::new()
        .post(app.url("/oidc/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(json(posted).await["sub"], sub.as_str());

    // Another address made primary: the same token's userinfo follows it.
    crate::emails::add(&app, &browser, "ada@work.example").await;
    let primary = [("email", "ada@work.example")];
    app.post(&browser, "/account/emails/primary", &primary)
        .await;
    let info = json(
        Client::new()
            .get(app.url("/oidc/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["email"], "ada@work.example");

    // Nothing stored in plain: neither the code nor a token.
    let db = app.database();
    for secret in [
        code.as_str(),
        access,
        tokens["refresh_token"].as_str().unwrap(),
    ] {
        assert_eq!(
            db.query_i64(&format!(
                "SELECT count(*) FROM oidc_tokens WHERE token_hash = '{secret}'"
            )),
            0
        );
        assert_eq!(
            db.query_i64(&format!(
                "SELECT count(*) FROM oidc_grants WHERE code_hash = '{secret}'"
            )),
            0
        );
    }

    // A second authorization is single sign-on: no page, straight back with a code.
    let again = app
        .get(&browser, &authorize_path("app", APP_REDIRECT, &[]))
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert!(param(&location(&again), "code").is_some());
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    let app = oidc_app().await;
    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "rota@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let tokens = json(exchange(&app, &param(&back, "code").unwrap()).await).await;
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = token(
        &app,
        "app",
        SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = json(refreshed).await;
    let second_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    let new_access = refreshed["access_token"].as_str().unwrap().to_owned();
    verified_claims(&app, refreshed["id_token"].as_str().unwrap(), "app").await;

    // The old one again: refused, and the whole family goes.
    let reused = token(
        &app,
        "app",
        SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(reused).await["error"], "invalid_grant");
    let userinfo = Client::new()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(&new_access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    assert!(
        userinfo.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let newest = token(
        &app,
        "app",
        SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second_refresh),
        ],
    )
    .await;
    assert_eq!(json(newest).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_code_works_once_and_presenting_it_again_revokes_its_tokens() {
    let app = oidc_app().await;
    let browser = browser();
    let back = authorize_as(
        &app,
        &browser,
        "twice@example.com",
        &authorize_path("app", APP_REDIRECT, &[]),
    )
    .await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let tokens = json(exchange(&app, &code).await).await;
    let again = exchange(&app, &code).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(again).await["error"], "invalid_grant");
    let userinfo = Client::new()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
}
