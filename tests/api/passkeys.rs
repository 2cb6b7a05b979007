//! Passkeys through the JSON API, driven by a software authenticator
//! (webauthn-authenticator-rs's `SoftPasskey`, which makes real P-256 keys and
//! signs real assertions): registration, sign-in without mail, and every way an
//! answer can be wrong.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
    UserVerificationPolicy,
};

use crate::helpers::{BASE_URL, TestApp, spawn_app, spawn_app_with};
use crate::json_api::{call, client, error_of, json_of, post_json, sign_in, token};

/// A security key in a person's hand. `SoftPasskey` cannot store discoverable
/// credentials, so this plays the part a platform authenticator plays in a
/// browser: it remembers the credential and the user handle it was made for,
/// offers that credential when asked for any, and returns the handle.
pub struct Authenticator {
    soft: SoftPasskey,
    verifies: bool,
    credential: Option<(Vec<u8>, Vec<u8>)>,
}

impl Authenticator {
    pub fn new() -> Self {
        // `true`: it says it verified the user (a PIN or a fingerprint).
        Self {
            soft: SoftPasskey::new(true),
            verifies: true,
            credential: None,
        }
    }

    /// One without user verification (no PIN, no fingerprint): it answers only
    /// when the page does not insist, so the test relaxes the options it gets, as
    /// a tampering script or client would.
    pub fn unverifying() -> Self {
        Self {
            soft: SoftPasskey::new(false),
            verifies: false,
            credential: None,
        }
    }

    /// The answer to registration options, made at `origin`.
    pub fn create(&mut self, options: &Value, origin: &str) -> Value {
        let mut options: CreationChallengeResponse =
            serde_json::from_value(options.clone()).expect("creation options");
        if !self.soft_verifies() {
            let selection = options.public_key.authenticator_selection.as_mut().unwrap();
            selection.user_verification = UserVerificationPolicy::Preferred;
        }
        let handle = options.public_key.user.id.to_vec();
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.require_resident_key = false;
            selection.resident_key = None;
        }
        let answer = self
            .soft
            .do_registration(origin.parse().unwrap(), options)
            .expect("the authenticator registers");
        self.credential = Some((answer.raw_id.to_vec(), handle));
        serde_json::to_value(answer).unwrap()
    }

    fn soft_verifies(&self) -> bool {
        self.verifies
    }

    /// The answer to sign-in options, made at `origin`.
    pub fn get(&mut self, options: &Value, origin: &str) -> Value {
        let mut options: RequestChallengeResponse =
            serde_json::from_value(options.clone()).expect("request options");
        assert!(
            options.public_key.allow_credentials.is_empty(),
            "sign-in asks for any passkey"
        );
        let (id, handle) = self.credential.clone().expect("a registered passkey");
        options.public_key.allow_credentials = vec![AllowCredentials {
            type_: "public-key".into(),
            id,
            transports: None,
        }];
        let mut answer: PublicKeyCredential = self
            .soft
            .do_authentication(origin.parse().unwrap(), options)
            .expect("the authenticator signs");
        answer.response.user_handle = Some(handle);
        serde_json::to_value(answer).unwrap()
    }
}

/// Adds a passkey with `authenticator` to the account of `bearer`; the new passkey.
pub async fn register(
    app: &TestApp,
    client: &Client,
    bearer: &str,
    authenticator: &mut Authenticator,
) -> Value {
    let begun = begin(
        app,
        client,
        "/api/v1/passkeys/register/options",
        Some(bearer),
    )
    .await;
    let credential = authenticator.create(&begun["options"], BASE_URL);
    let response = client
        .post(app.url("/api/v1/passkeys/register"))
        .bearer_auth(bearer)
        .json(&json!({"ceremony_id": begun["ceremony_id"], "credential": credential}))
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::CREATED).await
}

pub async fn begin(app: &TestApp, client: &Client, path: &str, bearer: Option<&str>) -> Value {
    let mut request = client.post(app.url(path)).json(&json!({}));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    json_of(request.send().await.unwrap(), StatusCode::OK).await
}

/// Begins a passkey sign-in; the ceremony id and the authenticator's answer.
pub async fn assertion(
    app: &TestApp,
    client: &Client,
    authenticator: &mut Authenticator,
) -> (String, Value) {
    let begun = begin(app, client, "/api/v1/passkeys/sign-in/options", None).await;
    let answer = authenticator.get(&begun["options"], BASE_URL);
    (begun["ceremony_id"].as_str().unwrap().to_owned(), answer)
}

pub async fn finish(
    app: &TestApp,
    client: &Client,
    ceremony_id: &str,
    answer: &Value,
) -> reqwest::Response {
    post_json(
        app,
        client,
        "/api/v1/passkeys/sign-in",
        json!({"ceremony_id": ceremony_id, "credential": answer}),
    )
    .await
}

/// Signs up by code and adds a passkey; the person's bearer token.
async fn person_with_passkey(app: &TestApp, email: &str) -> (String, Authenticator) {
    let browser = client("Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36");
    let signed_in = sign_in(app, &browser, email, "Pat").await;
    let bearer = token(&signed_in).to_owned();
    let mut authenticator = Authenticator::new();
    register(app, &browser, &bearer, &mut authenticator).await;
    (bearer, authenticator)
}

#[tokio::test]
async fn a_passkey_signs_in_without_mail_into_the_same_account() {
    let app = spawn_app().await;
    let (bearer, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let mails = app.count_rows("outbox");

    let laptop = client("Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0");
    let (id, answer) = assertion(&app, &laptop, &mut authenticator).await;
    let response = finish(&app, &laptop, &id, &answer).await;
    assert!(
        response.headers().get("set-cookie").is_some(),
        "the session cookie is set"
    );
    let signed_in = json_of(response, StatusCode::OK).await;
    assert_eq!(signed_in["user"]["email"], "pat@example.com");
    assert_ne!(token(&signed_in), bearer, "a new session");

    // The cookie alone is the session, as after a code.
    let current = json_of(
        call(&app, &laptop, Method::GET, "/api/v1/session", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(current["user"]["email"], "pat@example.com");
    assert_eq!(app.count_rows("outbox"), mails, "no mail for a passkey");

    let listed = json_of(
        call(
            &app,
            &laptop,
            Method::GET,
            "/api/v1/passkeys",
            Some(&bearer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        listed[0]["name"], "Chrome on Linux",
        "named after the device"
    );
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
    assert_eq!(app.count_rows("passkey_ceremonies"), 0, "ceremonies end");
}

#[tokio::test]
async fn registration_options_ask_for_a_discoverable_verified_credential_and_exclude_known_ones() {
    let app = spawn_app().await;
    let (bearer, _) = person_with_passkey(&app, "pat@example.com").await;
    let begun = begin(
        &app,
        &Client::new(),
        "/api/v1/passkeys/register/options",
        Some(&bearer),
    )
    .await;
    let options = &begun["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["user"]["name"], "pat@example.com");
    assert_eq!(
        options["excludeCredentials"].as_array().map(Vec::len),
        Some(1),
        "the registered authenticator is left out: {options}"
    );
    let listed = json_of(
        call(
            &app,
            &Client::new(),
            Method::GET,
            "/api/v1/passkeys",
            Some(&bearer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let private = app.database().query_i64(
        "SELECT count(*) FROM user_passkeys \
         WHERE credential LIKE '%\"d\":%' OR credential LIKE '%private%'",
    );
    assert_eq!(private, 0, "no private key material is stored");
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_assertion_works_once() {
    let app = spawn_app().await;
    let (_, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let browser = client("test");
    let (id, answer) = assertion(&app, &browser, &mut authenticator).await;
    json_of(finish(&app, &browser, &id, &answer).await, StatusCode::OK).await;

    let (code, _) = error_of(
        finish(&app, &browser, &id, &answer).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "ceremony_expired", "the same ceremony again");

    // The same answer under a new challenge: its signature covers the old one.
    let begun = begin(&app, &browser, "/api/v1/passkeys/sign-in/options", None).await;
    let new_id = begun["ceremony_id"].as_str().unwrap();
    let (code, _) = error_of(
        finish(&app, &browser, new_id, &answer).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "passkey_refused", "a replayed assertion");
}

#[tokio::test]
async fn answers_made_for_another_site_are_refused() {
    let app = spawn_app().await;
    let (_, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let browser = client("test");

    let begun = begin(&app, &browser, "/api/v1/passkeys/sign-in/options", None).await;
    // Another port of the same host: the relying party id matches, the origin not.
    let answer = authenticator.get(&begun["options"], "http://localhost:9999");
    let id = begun["ceremony_id"].as_str().unwrap();
    let (code, _) = error_of(
        finish(&app, &browser, id, &answer).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "passkey_refused", "a wrong origin");

    // A look-alike site relaying the challenge as its own relying party.
    let mut begun = begin(&app, &browser, "/api/v1/passkeys/sign-in/options", None).await;
    begun["options"]["publicKey"]["rpId"] = "evil.example".into();
    let answer = authenticator.get(&begun["options"], "https://evil.example");
    let id = begun["ceremony_id"].as_str().unwrap();
    let (code, _) = error_of(
        finish(&app, &browser, id, &answer).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "passkey_refused", "a wrong relying party id");
}

#[tokio::test]
async fn a_counter_going_backwards_is_refused() {
    let app = spawn_app().await;
    let (_, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let browser = client("test");
    // Two assertions, counters 1 and 2; the later one is used first, as a copy of
    // the key would be used after the original.
    let (first_id, first) = assertion(&app, &browser, &mut authenticator).await;
    let (second_id, second) = assertion(&app, &browser, &mut authenticator).await;
    json_of(
        finish(&app, &browser, &second_id, &second).await,
        StatusCode::OK,
    )
    .await;
    let (code, message) = error_of(
        finish(&app, &browser, &first_id, &first).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "passkey_refused");
    assert!(message.contains("counter"), "{message}");
}

#[tokio::test]
async fn a_ceremony_expires_after_five_minutes() {
    let app = spawn_app().await;
    let (_, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let browser = client("test");
    let (id, answer) = assertion(&app, &browser, &mut authenticator).await;
    app.clock.advance(301);
    let (code, _) = error_of(
        finish(&app, &browser, &id, &answer).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "ceremony_expired");
}

#[tokio::test]
async fn a_registration_finishes_only_in_the_session_that_began_it() {
    let app = spawn_app().await;
    let phone = client("phone");
    let first = sign_in(&app, &phone, "pat@example.com", "Pat").await;
    let laptop = client("laptop");
    let second = sign_in(&app, &laptop, "pat@example.com", "Pat").await;
    let begun = begin(
        &app,
        &phone,
        "/api/v1/passkeys/register/options",
        Some(token(&first)),
    )
    .await;
    let credential = Authenticator::new().create(&begun["options"], BASE_URL);
    let response = laptop
        .post(app.url("/api/v1/passkeys/register"))
        .bearer_auth(token(&second))
        .json(&json!({"ceremony_id": begun["ceremony_id"], "credential": credential}))
        .send()
        .await
        .unwrap();
    let (code, _) = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "ceremony_expired");
    assert_eq!(app.count_rows("user_passkeys"), 0);

    let stranger = client("stranger");
    let response = call(
        &app,
        &stranger,
        Method::POST,
        "/api/v1/passkeys/register/options",
        None,
    )
    .await;
    let (code, _) = error_of(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "unauthorized");
}

#[tokio::test]
async fn passkeys_are_renamed_and_removed_by_their_owner_only() {
    let app = spawn_app().await;
    let (bearer, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let browser = client("test");
    let listed = json_of(
        call(
            &app,
            &browser,
            Method::GET,
            "/api/v1/passkeys",
            Some(&bearer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let id = listed[0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/passkeys/{id}");

    let rename = |name: Value| {
        browser
            .patch(app.url(&path))
            .bearer_auth(&bearer)
            .json(&json!({"name": name}))
            .send()
    };
    assert_eq!(
        rename("Work key".into()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let (code, _) = error_of(
        rename("x".repeat(65).into()).await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "invalid_name");
    let (code, _) = error_of(rename("  ".into()).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "invalid_name");
    let listed = json_of(
        call(
            &app,
            &browser,
            Method::GET,
            "/api/v1/passkeys",
            Some(&bearer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed[0]["name"], "Work key");

    // Someone else cannot touch it.
    let other = sign_in(&app, &browser, "sam@example.com", "Sam").await;
    let response = call(&app, &browser, Method::DELETE, &path, Some(token(&other))).await;
    let (code, _) = error_of(response, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");

    let response = call(&app, &browser, Method::DELETE, &path, Some(&bearer)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (ceremony, answer) = assertion(&app, &browser, &mut authenticator).await;
    let (code, _) = error_of(
        finish(&app, &browser, &ceremony, &answer).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(
        code, "unknown_passkey",
        "a removed passkey no longer signs in"
    );
}

#[tokio::test]
async fn garbage_in_any_field_is_a_400_never_a_500() {
    let app = spawn_app().await;
    let (bearer, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let browser = client("test");
    let (id, good) = assertion(&app, &browser, &mut authenticator).await;
    let mut bodies = vec![
        json!({}),
        json!({"ceremony_id": 5, "credential": {}}),
        json!({"ceremony_id": id, "credential": "garbage"}),
        json!({"ceremony_id": id, "credential": null}),
        json!({"ceremony_id": "x".repeat(10_000), "credential": good}),
        json!({"ceremony_id": "", "credential": good}),
    ];
    for (field, value) in [
        ("/id", json!(7)),
        ("/rawId", json!("!!not base64!!")),
        ("/type", json!(["public-key"])),
        ("/response/authenticatorData", json!("AAAA")),
        ("/response/clientDataJSON", json!("e30")),
        ("/response/signature", json!("")),
        ("/response/userHandle", json!("AAAAAAAAAAAAAAAAAAAAAA")),
        ("/response", json!({})),
    ] {
        let mut bad = good.clone();
        *bad.pointer_mut(field).unwrap() = value;
        // A fresh ceremony for each, so each reaches the checks it is about.
        let begun = begin(&app, &browser, "/api/v1/passkeys/sign-in/options", None).await;
        bodies.push(json!({"ceremony_id": begun["ceremony_id"], "credential": bad}));
    }
    for body in bodies {
        let response = post_json(&app, &browser, "/api/v1/passkeys/sign-in", body.clone()).await;
        let status = response.status();
        assert!(status.is_client_error(), "{status} for {body}");
        error_of(response, status).await;
    }
    for body in [
        json!({"ceremony_id": "x", "credential": {"id": 1}}),
        json!({"ceremony_id": "x", "credential": {}, "name": 7}),
        json!({"ceremony_id": "x", "credential": []}),
    ] {
        let response = browser
            .post(app.url("/api/v1/passkeys/register"))
            .bearer_auth(&bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{status} for {body}");
    }
    assert_eq!(app.count_rows("user_passkeys"), 1);
}

#[tokio::test]
async fn ceremonies_are_limited_per_network() {
    let app = spawn_app_with(|config| {
        config.rate_limit.ip_per_hour = std::num::NonZeroU32::new(1).unwrap();
    })
    .await;
    let browser = client("test");
    for _ in 0..10 {
        begin(&app, &browser, "/api/v1/passkeys/sign-in/options", None).await;
    }
    let response = call(
        &app,
        &browser,
        Method::POST,
        "/api/v1/passkeys/sign-in/options",
        None,
    )
    .await;
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_owned();
    let (code, _) = error_of(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "rate_limited");
    assert!(retry_after.parse::<i64>().unwrap() > 0);
}

#[tokio::test]
async fn turned_off_passkeys_answer_403() {
    let app = spawn_app_with(|config| config.passkeys.enabled = false).await;
    let response = call(
        &app,
        &client("t"),
        Method::POST,
        "/api/v1/passkeys/sign-in/options",
        None,
    )
    .await;
    let (code, _) = error_of(response, StatusCode::FORBIDDEN).await;
    assert_eq!(code, "passkeys_disabled");
}

#[tokio::test]
async fn the_cli_shows_passkeys_keeps_them_on_sign_out_everywhere_and_deletes_them_with_the_person()
{
    let app = spawn_app().await;
    let (bearer, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;

    let shown = crate::operator::admin(&app, &["users", "show", "pat@example.com"]).await;
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert!(shown.stdout.contains("Chrome on Linux"), "{}", shown.stdout);
    let json = crate::operator::admin(&app, &["users", "show", "pat@example.com", "--json"]).await;
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["passkeys"][0]["name"], "Chrome on Linux", "{json}");

    // Signing out everywhere ends sessions; a passkey is a credential, not one.
    let revoked =
        crate::operator::admin(&app, &["sessions", "revoke", "--user", "pat@example.com"]).await;
    assert_eq!(revoked.code, Some(0), "{}", revoked.stderr);
    let response = call(
        &app,
        &client("t"),
        Method::GET,
        "/api/v1/session",
        Some(&bearer),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let browser = client("test");
    let (id, answer) = assertion(&app, &browser, &mut authenticator).await;
    json_of(finish(&app, &browser, &id, &answer).await, StatusCode::OK).await;

    let deleted = crate::operator::admin(&app, &["users", "delete", "pat@example.com"]).await;
    assert_eq!(deleted.code, Some(0), "{}", deleted.stderr);
    assert!(
        deleted.stdout.contains("user_passkeys"),
        "{}",
        deleted.stdout
    );
    assert_eq!(app.count_rows("user_passkeys"), 0);
    let (id, answer) = assertion(&app, &browser, &mut authenticator).await;
    let (code, _) = error_of(
        finish(&app, &browser, &id, &answer).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "unknown_passkey");
}

#[tokio::test]
async fn an_authenticator_that_does_not_verify_the_person_is_refused() {
    let app = spawn_app().await;
    let browser = client("test");
    let signed_in = sign_in(&app, &browser, "pat@example.com", "Pat").await;
    let begun = begin(
        &app,
        &browser,
        "/api/v1/passkeys/register/options",
        Some(token(&signed_in)),
    )
    .await;
    let credential = Authenticator::unverifying().create(&begun["options"], BASE_URL);
    let response = browser
        .post(app.url("/api/v1/passkeys/register"))
        .bearer_auth(token(&signed_in))
        .json(&json!({"ceremony_id": begun["ceremony_id"], "credential": credential}))
        .send()
        .await
        .unwrap();
    let (code, _) = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "user_not_verified");
    assert_eq!(app.count_rows("user_passkeys"), 0);
}

#[tokio::test]
async fn a_passkey_sign_in_counts_for_openid_connect_with_its_own_amr() {
    let app = crate::oidc::oidc_app().await;
    let (_, mut authenticator) = person_with_passkey(&app, "pat@example.com").await;
    let browser = client("test");
    let (id, answer) = assertion(&app, &browser, &mut authenticator).await;
    json_of(finish(&app, &browser, &id, &answer).await, StatusCode::OK).await;

    // Signed in by the passkey's cookie: the authorization asks for nothing more.
    let path = crate::oidc::authorize_path("app", crate::oidc::APP_REDIRECT, &[]);
    let back = crate::oidc::authorize_as(&app, &browser, "pat@example.com", &path).await;
    let code = crate::oidc::param(&back, "code").expect("a code");
    let tokens = crate::oidc::json(crate::oidc::exchange(&app, &code).await).await;
    let claims =
        crate::oidc::verified_claims(&app, tokens["id_token"].as_str().unwrap(), "app").await;
    // The software authenticator's key is bound to it (not backed up).
    assert_eq!(claims["amr"], json!(["hwk", "user"]), "{claims}");
    assert_eq!(
        app.count_rows("outbox"),
        1,
        "only the first sign-up's code was mailed"
    );
}
