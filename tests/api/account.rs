//! What a signed-in person manages on `/`: their name and their devices.

use reqwest::StatusCode;

use crate::helpers::{TestApp, alerts, browser, spawn_app};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

fn device(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .unwrap()
}

/// Signs `email` in on a new device (signing up on the first).
async fn sign_in_on(app: &TestApp, client: &reqwest::Client, email: &str) {
    let page = app.start_sign_in(client, email).await;
    let code = app.code_for(email).await;
    let response = app
        .verify(client, &page, &code, Some(("Ada", "Lovelace")))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

fn session_ids(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("input[name=session]").unwrap();
    doc.select(&selector)
        .filter_map(|e| e.value().attr("value").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_home_page_lists_each_device_with_this_one_marked() {
    let app = spawn_app().await;
    let (laptop, phone) = (device(FIREFOX), device(IPHONE));
    sign_in_on(&app, &laptop, "ada@example.com").await;
    sign_in_on(&app, &phone, "ada@example.com").await;
    let html = app.get(&laptop, "/").await.text().await.unwrap();
    assert!(html.contains("Firefox on Linux"), "{html}");
    assert!(html.contains("iPhone"), "{html}");
    assert!(html.contains("This device"));
    assert!(html.contains("Sign out everywhere else"));
    assert_eq!(
        session_ids(&html).len(),
        1,
        "one other device can be signed out"
    );
}

#[tokio::test]
async fn signing_out_another_device_ends_only_that_session() {
    let app = spawn_app().await;
    let (laptop, phone) = (device(FIREFOX), device(IPHONE));
    sign_in_on(&app, &laptop, "ada@example.com").await;
    sign_in_on(&app, &phone, "ada@example.com").await;
    let html = app.get(&laptop, "/").await.text().await.unwrap();
    let phone_id = session_ids(&html).pop().unwrap();
    let response = app
        .post(&laptop, "/account/sessions/end", &[("session", &phone_id)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        app.get(&laptop, &location)
            .await
            .text()
            .await
            .unwrap()
            .contains("That device is signed out")
    );
    assert_eq!(
        app.get(&phone, "/").await.status(),
        StatusCode::SEE_OTHER,
        "the phone is signed out"
    );
    assert_eq!(
        app.get(&laptop, "/").await.status(),
        StatusCode::OK,
        "the laptop is not"
    );
}

#[tokio::test]
async fn nobody_can_sign_out_someone_elses_device() {
    let app = spawn_app().await;
    let (ada, eve) = (device(FIREFOX), device(IPHONE));
    sign_in_on(&app, &ada, "ada@example.com").await;
    sign_in_on(&app, &eve, "eve@example.com").await;
    let second_ada = device(IPHONE);
    sign_in_on(&app, &second_ada, "ada@example.com").await;
    let ada_phone = session_ids(&app.get(&ada, "/").await.text().await.unwrap())
        .pop()
        .unwrap();
    let response = app
        .post(&eve, "/account/sessions/end", &[("session", &ada_phone)])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&second_ada, "/").await.status(),
        StatusCode::OK,
        "Ada's phone is still signed in"
    );
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_this_device() {
    let app = spawn_app().await;
    let devices = [device(FIREFOX), device(IPHONE), device(IPHONE)];
    for d in &devices {
        sign_in_on(&app, d, "ada@example.com").await;
    }
    let response = app
        .post(&devices[0], "/account/sessions/end-others", &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count_rows("user_sessions"), 1);
    assert_eq!(app.get(&devices[0], "/").await.status(), StatusCode::OK);
    for d in &devices[1..] {
        assert_eq!(app.get(d, "/").await.status(), StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn a_person_changes_their_name_and_bad_names_are_explained() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "ada@example.com", "Ada", "Lovelace")
        .await;
    let response = app
        .post(
            &person,
            "/account/name",
            &[("first_name", "Augusta"), ("last_name", "King")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let html = app.get(&person, &location).await.text().await.unwrap();
    assert!(
        html.contains("Hello, Augusta") && html.contains("Your name is saved"),
        "{html}"
    );
    let check = app.get(&person, "/auth/check").await;
    assert_eq!(check.headers()["x-doorcode-name"], "Augusta King");

    let long = "x".repeat(200);
    let response = app
        .post(
            &person,
            "/account/name",
            &[("first_name", long.as_str()), ("last_name", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&response.text().await.unwrap()).contains("too long"));
    let response = app
        .post(
            &person,
            "/account/name",
            &[("first_name", " "), ("last_name", "King")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        app.get(&person, "/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Hello, Augusta"),
        "nothing changed"
    );

    let stranger = browser();
    let response = app
        .post(&stranger, "/account/name", &[("first_name", "Mallory")])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "signed out: to the sign-in page"
    );
}

#[tokio::test]
async fn last_seen_is_written_at_most_every_few_minutes() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "ada@example.com", "Ada", "").await;
    let last_seen = || {
        app.database()
            .query_i64("SELECT last_seen_at FROM user_sessions")
    };
    let first = last_seen();
    app.clock.advance(120);
    app.get(&person, "/").await;
    assert_eq!(last_seen(), first, "no write two minutes later");
    app.clock.advance(200);
    app.get(&person, "/").await;
    assert!(
        last_seen() >= first + 320,
        "written once five minutes had passed"
    );
}
