//! Several addresses on one account: adding one with a code mailed to it, the
//! code's rules, making one primary, removing one, signing in with any of them,
//! and an address that belongs to someone else — through the pages, the JSON API
//! and the command line. Codes are read from the mail the SMTP server received.

use reqwest::{Client, Method, StatusCode};
use scraper::{Html, Selector};
use serde_json::{Value, json};

use crate::helpers::{TestApp, alerts, browser, input_value, spawn_app, spawn_app_with};
use crate::json_api::{call, client, error_of, json_of, post_json, sign_in, token};
use crate::operator::admin;

const ADA: &str = "ada@example.com";
const WORK: &str = "ada@work.example";
const GRACE: &str = "grace@example.com";

/// Asks for a code for `email` from the home page; the answer.
async fn ask(app: &TestApp, person: &Client, email: &str) -> reqwest::Response {
    app.post(person, "/account/emails", &[("email", email)])
        .await
}

/// Asks for a code for `email`; the challenge id from the form that takes it.
async fn ask_ok(app: &TestApp, person: &Client, email: &str) -> String {
    let response = ask(app, person, email).await;
    assert_eq!(response.status(), StatusCode::OK, "asking for {email}");
    let html = response.text().await.unwrap();
    let doc = Html::parse_document(&html);
    let form = Selector::parse("form[action='/account/emails/verify'] input[name=code]").unwrap();
    assert!(doc.select(&form).next().is_some(), "a code form: {html}");
    input_value(&html, "challenge").expect("the challenge travels with the form")
}

async fn confirm(app: &TestApp, person: &Client, challenge: &str, code: &str) -> reqwest::Response {
    let form = [("challenge", challenge), ("code", code)];
    app.post(person, "/account/emails/verify", &form).await
}

/// Adds `email` to the signed-in person's account, code and all.
pub async fn add(app: &TestApp, person: &Client, email: &str) {
    let challenge = ask_ok(app, person, email).await;
    let code = app.code_for(email).await;
    let response = confirm(app, person, &challenge, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "adding {email}");
    assert_eq!(response.headers()["location"], "/?done=email-added");
}

/// The addresses the home page lists, and which one it marks primary.
async fn listed(app: &TestApp, person: &Client) -> (Vec<String>, String) {
    let html = app.get(person, "/").await.text().await.unwrap();
    let doc = Html::parse_document(&html);
    let items = Selector::parse("#emails li .device").unwrap();
    let badge = Selector::parse(".badge").unwrap();
    let mut addresses = Vec::new();
    let mut primary = String::new();
    for item in doc.select(&items) {
        let address = item.text().next().unwrap_or_default().trim().to_owned();
        if item.select(&badge).next().is_some() {
            primary = address.clone();
        }
        addresses.push(address);
    }
    (addresses, primary)
}

/// What forward auth says about the browser's session: the user id and address.
async fn checked(app: &TestApp, person: &Client) -> (String, String) {
    let response = app.get(person, "/auth/check").await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    (header("x-doorcode-user-id"), header("x-doorcode-email"))
}

/// The right code adds the address; the other address hears of it; the new one
/// signs in to the same account; made primary, it is what apps see, and the
/// session goes on; the last address cannot be removed.
#[tokio::test]
async fn an_added_address_signs_in_to_the_same_account_and_can_become_primary() {
    let app = spawn_app().await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "Lovelace").await;
    let (user, email) = checked(&app, &ada).await;
    assert_eq!(email, ADA);

    let challenge = ask_ok(&app, &ada, WORK).await;
    let code_mail = app.smtp.wait_for_mail_to(WORK).await;
    let wrong = if code_mail.code() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let response = confirm(&app, &ada, &challenge, wrong).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(alerts(&html).contains("attempts left"), "{html}");
    assert_eq!(
        input_value(&html, "challenge").as_deref(),
        Some(challenge.as_str()),
        "a wrong code leaves the form to try again"
    );
    let response = confirm(&app, &ada, &challenge, &code_mail.code()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let notice = app.smtp.wait_for_mail_to(ADA).await;
    assert!(notice.subject.contains("added"), "{}", notice.subject);
    assert!(
        notice.text.contains(WORK) && notice.html.contains(WORK),
        "{}",
        notice.text
    );
    assert_eq!(
        app.smtp.count_to(WORK),
        1,
        "the new address hears nothing more"
    );

    assert_eq!(
        listed(&app, &ada).await,
        (vec![ADA.to_owned(), WORK.to_owned()], ADA.to_owned())
    );
    assert_eq!(checked(&app, &ada).await, (user.clone(), ADA.to_owned()));

    // The new address signs in, elsewhere, to the same account: no name asked.
    let laptop = browser();
    let page = app.start_sign_in(&laptop, WORK).await;
    assert!(!page.has_input("first_name"), "no name for a known address");
    let code = app.code_for(WORK).await;
    let response = app.verify(&laptop, &page, &code, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(checked(&app, &laptop).await.0, user);

    let response = app
        .post(&ada, "/account/emails/primary", &[("email", WORK)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/?done=email-primary");
    assert_eq!(
        checked(&app, &ada).await,
        (user.clone(), WORK.to_owned()),
        "the session goes on, showing the new primary address"
    );
    assert_eq!(
        checked(&app, &laptop).await,
        (user.clone(), WORK.to_owned())
    );
    let session: Value = app.get(&ada, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(session["user"]["email"], WORK, "{session}");

    let response = app
        .post(&ada, "/account/emails/remove", &[("email", ADA)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let notice = app.smtp.wait_for_mail_to(WORK).await;
    assert!(notice.subject.contains("removed"), "{}", notice.subject);
    assert!(notice.text.contains(ADA), "{}", notice.text);
    assert_eq!(
        listed(&app, &ada).await,
        (vec![WORK.to_owned()], WORK.to_owned())
    );

    let response = app
        .post(&ada, "/account/emails/remove", &[("email", WORK)])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(alerts(&html).contains("only address"), "{html}");
    assert_eq!(listed(&app, &ada).await.0, [WORK]);

    // The removed address no longer reaches the account: it would make a new one.
    let page = app.start_sign_in(&browser(), ADA).await;
    assert!(page.has_input("first_name"), "{}", page.html);
}

/// An account without a primary address (one an older instance signed up during
/// a rolling upgrade) still shows its oldest address everywhere.
#[tokio::test]
async fn an_account_without_a_primary_address_shows_its_oldest() {
    let app = spawn_app().await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "").await;
    let flag = match app.config.database.url.is_empty() {
        true => "0",
        false => "false",
    };
    app.database()
        .execute(&format!("UPDATE user_emails SET is_primary = {flag}"));
    assert_eq!(checked(&app, &ada).await.1, ADA);
    let session: Value = app.get(&ada, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(session["user"]["email"], ADA);
}

/// A removed primary address passes to the oldest one left; an address that is
/// not the person's cannot be made primary or removed.
#[tokio::test]
async fn removing_the_primary_address_promotes_the_oldest_left() {
    let app = spawn_app().await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "").await;
    add(&app, &ada, WORK).await;
    app.clock.advance(60);
    add(&app, &ada, "ada@home.example").await;
    let response = app
        .post(&ada, "/account/emails/remove", &[("email", ADA)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(checked(&app, &ada).await.1, WORK);
    assert_eq!(listed(&app, &ada).await.1, WORK);

    for route in ["/account/emails/primary", "/account/emails/remove"] {
        let response = app.post(&ada, route, &[("email", GRACE)]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{route}");
        let html = response.text().await.unwrap();
        assert!(alerts(&html).contains("not one of yours"), "{html}");
    }
}

/// The same rules as a sign-in code: it expires, it has an attempt cap, and it
/// works only in the session that asked for it.
#[tokio::test]
async fn address_codes_expire_run_out_and_stay_with_their_session() {
    let app = spawn_app().await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "").await;

    // Expired.
    let challenge = ask_ok(&app, &ada, WORK).await;
    let code = app.code_for(WORK).await;
    app.clock.advance(601);
    let response = confirm(&app, &ada, &challenge, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&response.text().await.unwrap()).contains("expired"));

    // Out of attempts: the right code no longer works either.
    let challenge = ask_ok(&app, &ada, WORK).await;
    let code = app.code_for(WORK).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let max = app.config.code.max_attempts.get();
    for attempt in 1..=max {
        let response = confirm(&app, &ada, &challenge, wrong).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "attempt {attempt}"
        );
        let html = response.text().await.unwrap();
        if attempt == max {
            assert!(alerts(&html).contains("no attempts left"), "{html}");
        }
    }
    let response = confirm(&app, &ada, &challenge, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(listed(&app, &ada).await.0, [ADA]);

    // Another session of the same person, with the right code: refused, and the
    // session that asked can still use it.
    let challenge = ask_ok(&app, &ada, WORK).await;
    let code = app.code_for(WORK).await;
    let phone = browser();
    let page = app.start_sign_in(&phone, ADA).await;
    let sign_in_code = app.code_for(ADA).await;
    app.verify(&phone, &page, &sign_in_code, None).await;
    let response = confirm(&app, &phone, &challenge, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&response.text().await.unwrap()).contains("another session"));
    // Nor does the sign-in accept an address's challenge.
    let stolen = [("challenge", challenge.as_str()), ("code", code.as_str())];
    let response = app.post(&browser(), "/login/verify", &stolen).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = confirm(&app, &ada, &challenge, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Signed out: to the sign-in page, and nothing is sent.
    let stranger = browser();
    let before = app.smtp.all_mail().len();
    let response = ask(&app, &stranger, "someone@example.com").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    let response = confirm(&app, &stranger, &challenge, &code).await;
    assert_eq!(response.headers()["location"], "/login");
    assert_eq!(app.smtp.all_mail().len(), before);
}

/// An address of another account gets its code like any other (nothing is told
/// before the code), and the right code changes nothing: it stays with its owner.
#[tokio::test]
async fn an_address_of_another_account_never_changes_hands() {
    let app = spawn_app().await;
    let (ada, grace) = (browser(), browser());
    app.sign_up(&ada, ADA, "Ada", "").await;
    app.sign_up(&grace, GRACE, "Grace", "").await;
    let grace_id = checked(&app, &grace).await.0;

    let challenge = ask_ok(&app, &ada, GRACE).await;
    let code = app.code_for(GRACE).await;
    let response = confirm(&app, &ada, &challenge, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(
        alerts(&html).contains("belongs to another account"),
        "{html}"
    );
    assert_eq!(listed(&app, &ada).await.0, [ADA]);
    assert_eq!(
        listed(&app, &grace).await,
        (vec![GRACE.to_owned()], GRACE.to_owned())
    );
    // She still signs in to her own account with it.
    let elsewhere = browser();
    let page = app.start_sign_in(&elsewhere, GRACE).await;
    let code = app.code_for(GRACE).await;
    app.verify(&elsewhere, &page, &code, None).await;
    assert_eq!(checked(&app, &elsewhere).await.0, grace_id);

    // One's own address is refused at once, with nothing sent.
    let before = app.smtp.all_mail().len();
    let response = ask(&app, &ada, "  ADA@Example.com ").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(alerts(&html).contains("already one of yours"), "{html}");
    assert_eq!(app.smtp.all_mail().len(), before);
}

/// A malformed or oversized address is a 400 naming the problem, with what was
/// typed kept in the field, and nothing is queued; a form from another site is
/// a 403.
#[tokio::test]
async fn bad_addresses_and_foreign_forms_send_nothing() {
    let app = spawn_app().await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "").await;
    let queued = app.count_rows("outbox");
    let long = format!("{}@example.com", "a".repeat(300));
    for bad in [
        "",
        "not-an-address",
        "a@b@example.com",
        "ada@",
        long.as_str(),
    ] {
        let response = ask(&app, &ada, bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let html = response.text().await.unwrap();
        let doc = Html::parse_document(&html);
        let field = Selector::parse("#new-email[aria-invalid=true]").unwrap();
        assert!(doc.select(&field).next().is_some(), "{bad:?}: {html}");
        assert!(!alerts(&html).is_empty(), "{bad:?}");
    }
    let response = ada
        .post(app.url("/account/emails"))
        .header("origin", "https://evil.example")
        .form(&[("email", WORK)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .post(
            &ada,
            "/account/emails/verify",
            &[("challenge", "x"), ("code", "12")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("outbox"), queued, "nothing queued");
    assert_eq!(listed(&app, &ada).await.0, [ADA]);
}

/// Codes for an address count against its hourly limit like sign-in codes.
#[tokio::test]
async fn address_codes_count_against_the_address_limits() {
    let app = spawn_app_with(|config| {
        config.rate_limit.email_per_hour = 2.try_into().unwrap();
    })
    .await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "").await;
    ask_ok(&app, &ada, WORK).await;
    ask_ok(&app, &ada, WORK).await;
    let response = ask(&app, &ada, WORK).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 3600, "{wait}");
    // The sign-in shares the address's count.
    let response = app.post_login(&browser(), WORK).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    app.smtp.wait_for_mail_to(WORK).await;
    app.smtp.wait_for_mail_to(WORK).await;
    let codes = app.database().query_i64(&format!(
        "SELECT count(*) FROM outbox WHERE kind = 'code' AND recipient = '{WORK}'"
    ));
    assert_eq!(codes, 2, "two codes, then only the limit's notice");
}

/// No CAPTCHA guards these codes, so one account may ask for ten an hour
/// whatever the addresses and networks.
#[tokio::test]
async fn one_account_asks_for_at_most_ten_address_codes_an_hour() {
    let app = spawn_app().await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "").await;
    for n in 0..10 {
        ask_ok(&app, &ada, &format!("ada{n}@example.net")).await;
    }
    let response = ask(&app, &ada, "ada10@example.net").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let html = response.text().await.unwrap();
    assert!(
        alerts(&html).contains("too many codes for new addresses"),
        "{html}"
    );
    app.clock.advance(3601);
    ask_ok(&app, &ada, "ada10@example.net").await;
}

/// Two accounts asking for one address at once, both with the right code:
/// exactly one gets it.
#[tokio::test]
async fn two_accounts_racing_for_one_address_one_wins() {
    let app = spawn_app().await;
    let (ada, grace) = (browser(), browser());
    app.sign_up(&ada, ADA, "Ada", "").await;
    app.sign_up(&grace, GRACE, "Grace", "").await;
    race(&app, &ada, &grace, "shared@example.com").await;
}

/// Both ask for `shared`, then both send their right codes at once: one 303 and
/// one 400, and the address belongs to one account.
pub async fn race(app: &TestApp, ada: &Client, grace: &Client, shared: &str) {
    let first = ask_ok(app, ada, shared).await;
    let first_code = app.code_for(shared).await;
    let second = ask_ok(app, grace, shared).await;
    let second_code = app.code_for(shared).await;
    let (a, b) = tokio::join!(
        confirm(app, ada, &first, &first_code),
        confirm(app, grace, &second, &second_code)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST]);
    let owners = app.database().query_i64(&format!(
        "SELECT count(*) FROM user_emails WHERE email = '{shared}'"
    ));
    assert_eq!(owners, 1);
    let (ada_has, grace_has) = (
        listed(app, ada).await.0.contains(&shared.to_owned()),
        listed(app, grace).await.0.contains(&shared.to_owned()),
    );
    assert!(ada_has != grace_has, "one of them has it");
}

/// The JSON API: the same operations, with its error codes.
#[tokio::test]
async fn the_api_adds_lists_makes_primary_and_removes_addresses() {
    let app = spawn_app().await;
    let api = client("emails-test");
    let signed_in = sign_in(&app, &api, ADA, "Ada").await;
    let bearer = Client::new();
    let token = token(&signed_in).to_owned();
    let send = |method: Method, path: &'static str, body: Value| {
        let request = bearer
            .request(method, app.url(path))
            .bearer_auth(&token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };

    let list = json_of(
        call(&app, &api, Method::GET, "/api/v1/emails", Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        list,
        json!([{"email": ADA, "primary": true, "created_at": list[0]["created_at"]}])
    );

    let asked = json_of(
        send(Method::POST, "/api/v1/emails", json!({"email": WORK})).await,
        StatusCode::OK,
    )
    .await;
    let challenge = asked["challenge_id"].as_str().unwrap().to_owned();
    assert!(asked["expires_at"].is_string(), "{asked}");
    let code = app.code_for(WORK).await;
    let (error, _) = error_of(
        send(
            Method::POST,
            "/api/v1/emails/verify",
            json!({"challenge_id": challenge, "code": "12"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_code");
    // Another session of the same person cannot use the challenge.
    let other = sign_in(&app, &client("other"), ADA, "Ada").await;
    let (error, _) = error_of(
        Client::new()
            .post(app.url("/api/v1/emails/verify"))
            .bearer_auth(token_of(&other))
            .json(&json!({"challenge_id": challenge, "code": code}))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "other_browser");
    let list = json_of(
        send(
            Method::POST,
            "/api/v1/emails/verify",
            json!({"challenge_id": challenge, "code": code}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let shown: Vec<(&str, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["email"].as_str().unwrap(),
                e["primary"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown, [(ADA, true), (WORK, false)]);

    let list = json_of(
        send(
            Method::POST,
            "/api/v1/emails/primary",
            json!({"email": WORK}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list[0]["email"], WORK);
    assert_eq!(list[0]["primary"], true);
    let session = json_of(
        call(&app, &api, Method::GET, "/api/v1/session", Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session["user"]["email"], WORK, "{session}");

    let (error, _) = error_of(
        send(Method::POST, "/api/v1/emails", json!({"email": WORK})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "already_yours");
    let (error, _) = error_of(
        send(Method::POST, "/api/v1/emails", json!({"email": "nope"})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_email");
    let (error, _) = error_of(
        send(
            Method::POST,
            "/api/v1/emails/remove",
            json!({"email": GRACE}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(error, "not_found");
    let list = json_of(
        send(Method::POST, "/api/v1/emails/remove", json!({"email": ADA})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (error, _) = error_of(
        send(
            Method::POST,
            "/api/v1/emails/remove",
            json!({"email": WORK}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "last_email");
    let (error, _) = error_of(
        post_json(
            &app,
            &Client::new(),
            "/api/v1/emails",
            json!({"email": WORK}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(error, "unauthorized");
}

fn token_of(signed_in: &Value) -> String {
    token(signed_in).to_owned()
}

/// An operator adds an address for someone who lost the use of theirs, makes it
/// primary, and removes the old one; `users show` marks the primary address.
#[tokio::test]
async fn operators_add_and_remove_addresses_for_people() {
    let app = spawn_app().await;
    let ada = browser();
    app.sign_up(&ada, ADA, "Ada", "").await;
    app.sign_up(&browser(), GRACE, "Grace", "").await;

    let ran = admin(&app, &["users", "add-email", ADA, WORK, "--primary"]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.contains(&format!("{WORK} (primary), {ADA}")),
        "{}",
        ran.stdout
    );
    let notice = app.smtp.wait_for_mail_to(ADA).await;
    assert!(notice.text.contains(WORK), "{}", notice.text);
    assert_eq!(
        checked(&app, &ada).await.1,
        WORK,
        "the running service sees it"
    );

    let shown = admin(&app, &["users", "show", WORK]).await;
    assert!(
        shown.stdout.contains(&format!("{WORK} (primary), {ADA}")),
        "{}",
        shown.stdout
    );
    let json = admin(&app, &["users", "show", ADA, "--json"]).await;
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["primary_email"], WORK);
    assert_eq!(json["emails"], json!([WORK, ADA]));

    let taken = admin(&app, &["users", "add-email", ADA, GRACE]).await;
    assert_eq!(taken.code, Some(1));
    assert!(taken.stderr.contains("belongs to user"), "{}", taken.stderr);
    let bad = admin(&app, &["users", "add-email", ADA, "not-an-address"]).await;
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);

    let ran = admin(&app, &["users", "remove-email", WORK, ADA]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let last = admin(&app, &["users", "remove-email", WORK, WORK]).await;
    assert_eq!(last.code, Some(1));
    assert!(last.stderr.contains("only address"), "{}", last.stderr);
    assert_eq!(listed(&app, &ada).await.0, [WORK]);
}
