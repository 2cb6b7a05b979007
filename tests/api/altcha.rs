//! ALTCHA, the self-hosted proof of work: doorcode signs challenges, the widget
//! (here: the test, doing the same work) finds the secret number, and each answer
//! is accepted once, before it expires, whatever instance it reaches.

use base64::Engine;
use doorcode::config::CaptchaProvider;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, alerts, browser, spawn_app_with};

/// Small, so that solving in a debug build is quick.
const MAX_NUMBER: u64 = 2_000;

pub async fn spawn_altcha_app() -> TestApp {
    spawn_app_with(|c| {
        c.captcha.provider = CaptchaProvider::Altcha;
        c.altcha.max_number = MAX_NUMBER.try_into().unwrap();
    })
    .await
}

/// `GET /login/altcha`, as the widget fetches it.
pub async fn challenge(app: &TestApp) -> Value {
    let response = app.get(&browser(), "/login/altcha").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What the widget does: tries numbers until one hashes to the challenge, and
/// sends back base64 JSON.
pub fn solve(challenge: &Value) -> String {
    let salt = challenge["salt"].as_str().unwrap();
    let target = challenge["challenge"].as_str().unwrap();
    let max = challenge["maxnumber"].as_u64().unwrap();
    let number = (0..=max)
        .find(|n| sha256_hex(&format!("{salt}{n}")) == target)
        .expect("the secret number is within maxnumber");
    encode(&json!({
        "algorithm": challenge["algorithm"],
        "challenge": target,
        "number": number,
        "salt": salt,
        "signature": challenge["signature"],
        "took": 12.5,
    }))
}

fn encode(payload: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(payload.to_string())
}

async fn login(app: &TestApp, email: &str, answer: &str) -> reqwest::Response {
    app.post(
        &browser(),
        "/login",
        &[("email", email), ("altcha", answer)],
    )
    .await
}

#[tokio::test]
async fn the_login_page_serves_the_widget_and_its_challenge_from_doorcode_itself() {
    let app = spawn_altcha_app().await;
    let response = app.get(&browser(), "/login").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self';") && csp.contains("worker-src 'self';"),
        "{csp}"
    );
    assert!(
        !csp.contains("cloudflare") && !csp.contains("hcaptcha") && !csp.contains("frame-src"),
        "no third party: {csp}"
    );
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"<altcha-widget challengeurl="/login/altcha" name="altcha""#),
        "{html}"
    );
    assert!(html.contains(r#"<script type="module" src="/assets/altcha/altcha.js">"#));
    assert!(html.contains(r#"href="/assets/altcha/altcha.css""#));
    assert!(!html.contains("cf-turnstile") && !html.contains("challenges.cloudflare.com"));
    assert!(html.contains("I&#39;m not a robot") || html.contains("I'm not a robot"));

    for (path, kind) in [
        ("/assets/altcha/altcha.js", "text/javascript"),
        ("/assets/altcha/worker.js", "text/javascript"),
        ("/assets/altcha/altcha.css", "text/css"),
    ] {
        let asset = app.get(&browser(), path).await;
        assert_eq!(asset.status(), StatusCode::OK, "{path}");
        let content_type = asset.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
    }
    let script = app
        .get(&browser(), "/assets/altcha/altcha.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(script.contains("customElements.define(\"altcha-widget\""));

    let now = app.clock.now();
    let challenge = challenge(&app).await;
    assert_eq!(challenge["algorithm"], "SHA-256");
    assert_eq!(challenge["maxnumber"], MAX_NUMBER);
    let salt = challenge["salt"].as_str().unwrap();
    let expires = salt.split_once("?expires=").unwrap().1;
    let expires: i64 = expires.strip_suffix('&').unwrap().parse().unwrap();
    assert!((now + 599..=now + 601).contains(&expires), "{salt}");
    let another = self::challenge(&app).await;
    assert_ne!(
        challenge["challenge"], another["challenge"],
        "fresh each time"
    );
    assert_ne!(challenge["salt"], another["salt"]);
}

#[tokio::test]
async fn a_solved_challenge_sends_the_code_once_and_never_again() {
    let app = spawn_altcha_app().await;
    let answer = solve(&challenge(&app).await);
    let response = login(&app, "ada@example.com", &answer).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.code_for("ada@example.com").await;

    let replayed = login(&app, "eve@example.com", &answer).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST, "replayed");
    let html = replayed.text().await.unwrap();
    assert!(alerts(&html).contains("security check"), "{html}");
    assert_eq!(app.count_rows("outbox"), 1, "only the first sent a code");
    assert_eq!(app.count_rows("captcha_solutions"), 1);

    // The JSON API takes the same answer in `turnstile_token`.
    let answer = solve(&challenge(&app).await);
    let api = reqwest::Client::new()
        .post(format!("{}/api/v1/login", app.address))
        .json(&json!({"email": "bob@example.com", "turnstile_token": answer}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let replayed = reqwest::Client::new()
        .post(format!("{}/api/v1/login", app.address))
        .json(&json!({"email": "bob@example.com", "turnstile_token": answer}))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    let body: Value = replayed.json().await.unwrap();
    assert_eq!(body["error"], "captcha_failed");
}

#[tokio::test]
async fn wrong_forged_or_malformed_answers_are_refused_and_send_nothing() {
    let app = spawn_altcha_app().await;
    let challenge = challenge(&app).await;
    let right: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(solve(&challenge))
            .unwrap(),
    )
    .unwrap();
    let with = |key: &str, value: Value| {
        let mut changed = right.clone();
        changed[key] = value;
        encode(&changed)
    };
    let wrong_number = (right["number"].as_u64().unwrap() + 1) % (MAX_NUMBER + 1);
    // A challenge of one's own making, for a number one knows, without the key.
    let salt = "00112233445566778899aabb?expires=9999999999";
    let own = sha256_hex(&format!("{salt}7"));
    let forged = encode(&json!({
        "algorithm": "SHA-256", "challenge": own, "number": 7, "salt": salt,
        "signature": sha256_hex(&own),
    }));
    // The signed challenge with a later expiry written into its salt.
    let later = right["salt"]
        .as_str()
        .unwrap()
        .replace("?expires=", "?expires=9");

    let cases = [
        ("missing", String::new()),
        ("not base64", "%%%".to_owned()),
        ("not JSON", encode(&json!("just a string"))),
        ("wrong number", with("number", json!(wrong_number))),
        ("other algorithm", with("algorithm", json!("SHA-1"))),
        (
            "signature altered",
            with("signature", json!("00".repeat(32))),
        ),
        ("signature not hex", with("signature", json!("zz"))),
        ("salt with a later expiry", with("salt", json!(later))),
        ("forged challenge", forged),
        ("oversized", "A".repeat(4000)),
    ];
    for (what, answer) in cases {
        let response = login(&app, "bot@example.com", &answer).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let html = response.text().await.unwrap();
        assert!(alerts(&html).contains("security check"), "{what}: {html}");
        assert!(
            html.contains("bot@example.com"),
            "the typed address is kept"
        );
    }
    assert_eq!(app.count_rows("outbox"), 0, "nothing queued");
    assert_eq!(app.count_rows("captcha_solutions"), 0);
    // The right answer still works after all that.
    let response = login(&app, "bot@example.com", &encode(&right)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_answer_after_its_challenge_expired_is_refused() {
    let app = spawn_altcha_app().await;
    app.clock.stop();
    let answer = solve(&challenge(&app).await);
    app.clock.advance(600);
    let response = login(&app, "late@example.com", &answer).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("outbox"), 0);

    let fresh = solve(&challenge(&app).await);
    app.clock.advance(599);
    let response = login(&app, "late@example.com", &fresh).await;
    assert_eq!(response.status(), StatusCode::OK, "a second before expiry");
}

#[tokio::test]
async fn used_answers_are_forgotten_once_they_expire() {
    let app = spawn_altcha_app().await;
    let answer = solve(&challenge(&app).await);
    assert_eq!(
        login(&app, "ada@example.com", &answer).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.count_rows("captcha_solutions"), 1);
    let storage = doorcode::storage::Storage::open(&app.config.database.target())
        .await
        .unwrap();
    // Kept five minutes past the expiry: an answer checked in its last second is
    // recorded a moment later, and instances' clocks differ a little.
    app.clock.advance(601);
    storage.prune(app.clock.now()).await.unwrap();
    assert_eq!(app.count_rows("captcha_solutions"), 1);
    assert_eq!(
        login(&app, "ada@example.com", &answer).await.status(),
        StatusCode::BAD_REQUEST
    );
    app.clock.advance(300);
    storage.prune(app.clock.now()).await.unwrap();
    assert_eq!(app.count_rows("captcha_solutions"), 0);
}

/// Another process holds the table (SQLite: the whole database) locked for longer
/// than doorcode waits: the answer cannot be recorded, so it is not accepted.
#[tokio::test]
async fn a_database_that_cannot_record_the_answer_in_time_fails_closed_with_a_503() {
    let app = spawn_altcha_app().await;
    let answer = solve(&challenge(&app).await);
    let url = app.config.database.url.expose().to_owned();
    let sqlite = r2d2_sqlite::rusqlite::Connection::open(&app.config.database.path).unwrap();
    let postgres = if url.is_empty() {
        sqlite.execute_batch("BEGIN EXCLUSIVE").unwrap();
        None
    } else {
        let client = crate::database::connect(&url).await;
        client
            .batch_execute("BEGIN; LOCK TABLE captcha_solutions IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        Some(client)
    };
    let response = login(&app, "ada@example.com", &answer).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = response.text().await.unwrap();
    assert!(!html.contains("captcha_solutions"), "no detail for people");
    match &postgres {
        None => sqlite.execute_batch("ROLLBACK").unwrap(),
        Some(client) => client.batch_execute("ROLLBACK").await.unwrap(),
    }
    assert_eq!(app.count_rows("outbox"), 0, "nothing was sent");
    // With the database back, a fresh answer works (the widget fetches a new
    // challenge with the page the 503 showed).
    let answer = solve(&challenge(&app).await);
    let response = login(&app, "ada@example.com", &answer).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn other_providers_hand_out_no_altcha_challenge_and_ignore_its_field() {
    let app = crate::helpers::spawn_app().await;
    assert_eq!(
        app.get(&browser(), "/login/altcha").await.status(),
        StatusCode::NOT_FOUND
    );
    let response = app
        .post(
            &browser(),
            "/login",
            &[("email", "ada@example.com"), ("altcha", "anything")],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "Turnstile's field is missing"
    );
}

/// The hash is of salt and number written one after the other, so the number's
/// first digits could be claimed as part of the salt: the same text, the same
/// hash, the same signature. The salt's closing `&` keeps such digits out of the
/// expiry, and a salt that does not end in it is refused.
#[tokio::test]
async fn digits_moved_from_the_number_into_the_salt_are_refused() {
    let app = spawn_altcha_app().await;
    // A number of two digits or more whose rest has no leading zero (a JSON
    // number cannot keep one); nearly every challenge has one.
    let (right, digits) = loop {
        let answer = solve(&challenge(&app).await);
        let right: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(answer)
                .unwrap(),
        )
        .unwrap();
        let digits = right["number"].as_u64().unwrap().to_string();
        if digits.len() > 1 && !digits[1..].starts_with('0') {
            break (right, digits);
        }
    };
    let salt = right["salt"].as_str().unwrap();
    assert!(salt.ends_with('&'), "{salt}");
    let mut spliced = right.clone();
    spliced["salt"] = json!(format!("{salt}{}", &digits[..1]));
    spliced["number"] = json!(digits[1..].parse::<u64>().unwrap());
    let text = |v: &Value| format!("{}{}", v["salt"].as_str().unwrap(), v["number"]);
    assert_eq!(text(&spliced), text(&right), "the same text is hashed");
    let response = login(&app, "bot@example.com", &encode(&spliced)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("captcha_solutions"), 0);
    let response = login(&app, "bot@example.com", &encode(&right)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the answer as given works"
    );
}
