//! Whole sign-up and sign-in journeys, as a person walks them.

use doorcode::config::AskName;
use reqwest::StatusCode;

use crate::helpers::{
    CodePage, alerts, browser, has_input, set_cookies, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn a_new_person_signs_up_and_lands_on_their_page() {
    let app = spawn_app().await;
    let person = browser();

    let login = app.get(&person, "/login").await;
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(has_input(&html, "email"));
    assert!(
        html.contains("challenges.cloudflare.com/turnstile/v0/api.js"),
        "widget script"
    );
    assert!(
        html.contains(r#"data-sitekey="1x00000000000000000000AA""#),
        "site key"
    );

    let page = app.start_sign_in(&person, "ada@example.com").await;
    assert!(page.has_input("code") && page.has_input("first_name") && page.has_input("last_name"));
    assert!(
        page.html.contains("ada@example.com"),
        "the code page says where the code went"
    );

    let code = app.code_for("ada@example.com").await;
    let response = app
        .verify(&person, &page, &code, Some(("Ada", "Lovelace")))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/");
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("doorcode_session="))
        .expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure flag on http");

    let home = app.get(&person, "/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    assert!(
        html.contains("Ada") && html.contains("ada@example.com"),
        "{html}"
    );
    assert!(html.contains(r#"action="/logout""#));
    assert_eq!(app.count_rows("users"), 1);
    assert_eq!(app.count_rows("user_sessions"), 1);
}

#[tokio::test]
async fn a_returning_person_signs_in_with_any_case_and_padding_to_the_same_account() {
    let app = spawn_app().await;
    app.sign_up(&browser(), "grace@example.com", "Grace", "Hopper")
        .await;

    let laptop = browser();
    let page = app.start_sign_in(&laptop, "  Grace@EXAMPLE.com ").await;
    assert!(
        !page.has_input("first_name"),
        "a known address is not asked for a name"
    );
    let code = app.code_for("grace@example.com").await;
    let response = app.verify(&laptop, &page, &code, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let home = app.get(&laptop, "/").await.text().await.unwrap();
    assert!(home.contains("Grace"));
    assert_eq!(app.count_rows("users"), 1, "no second account");
    assert_eq!(
        app.count_rows("user_sessions"),
        2,
        "a new session per sign-in"
    );
}

#[tokio::test]
async fn signing_out_deletes_the_session_and_the_cookie() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "alan@example.com", "Alan", "").await;
    assert_eq!(app.count_rows("user_sessions"), 1);

    let response = app.post(&person, "/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("doorcode_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(app.count_rows("user_sessions"), 0, "the row is gone");

    let home = app.get(&person, "/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()["location"], "/login");
}

/// The notices on a page (`role=status` with something in it), joined. (The login page
/// also has an empty one, for app.js to fill when the CAPTCHA cannot load.)
fn notices(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("[role=status]").unwrap();
    doc.select(&selector)
        .map(|e| e.text().collect::<String>())
        .filter(|text| !text.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test]
async fn after_signing_out_the_login_page_says_so_once() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "otto@example.com", "Otto", "").await;
    assert_eq!(
        notices(&app.get(&person, "/login").await.text().await.unwrap()),
        "",
        "no notice before signing out"
    );

    // The contract's redirect, exactly: 303 to `/login`, no query string.
    let response = app.post(&person, "/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    let notice = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("doorcode_notice="))
        .expect("a notice cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
        assert!(notice.contains(flag), "{flag} missing from {notice}");
    }

    let first = app.get(&person, "/login").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(
        set_cookies(&first)
            .iter()
            .any(|c| c.starts_with("doorcode_notice=;") && c.contains("Max-Age=0")),
        "the notice is cleared as it is shown"
    );
    let html = first.text().await.unwrap();
    assert_eq!(notices(&html), "You are signed out.", "{html}");
    assert_eq!(alerts(&html), "", "a notice, not an error");

    let second = app.get(&person, "/login").await.text().await.unwrap();
    assert_eq!(notices(&second), "", "the notice shows once");

    // In German, and only with a notice this site set: a forged value shows nothing.
    let german = browser();
    app.sign_up(&german, "greta@example.com", "Greta", "").await;
    app.post(&german, "/logout", &[]).await;
    let html = german
        .get(app.url("/login"))
        .header("accept-language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(notices(&html), "Du bist abgemeldet.");
    let forged = reqwest::Client::new()
        .get(app.url("/login"))
        .header("cookie", "doorcode_notice=<b>Hello</b>")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(notices(&forged), "");
}

#[tokio::test]
async fn on_https_the_sign_out_notice_is_secure_and_host_prefixed() {
    let app = spawn_app_with(|c| {
        c.server.base_url = doorcode::config::BaseUrl::parse("https://login.example.com").unwrap()
    })
    .await;
    let response = app.post(&browser(), "/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    let notice = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("__Host-doorcode_notice="))
        .expect("a __Host- notice cookie");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
        assert!(notice.contains(flag), "{flag} missing from {notice}");
    }
    assert!(!notice.contains("Domain"), "__Host- cookies have no Domain");
}

#[tokio::test]
async fn a_copied_cookie_stops_working_after_sign_out() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "eve@example.com").await;
    let code = app.code_for("eve@example.com").await;
    let response = app.verify(&person, &page, &code, Some(("Eve", ""))).await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("doorcode_session="))
        .unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let copy = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with_copy = || copy.get(app.url("/")).header("cookie", pair.clone()).send();
    assert_eq!(
        with_copy().await.unwrap().status(),
        StatusCode::OK,
        "the copy works while signed in"
    );
    app.post(&person, "/logout", &[]).await;
    assert_eq!(
        with_copy().await.unwrap().status(),
        StatusCode::SEE_OTHER,
        "and not after sign-out"
    );
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_the_login_page() {
    let app = spawn_app().await;
    let response = app.get(&browser(), "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = forged
        .get(app.url("/"))
        .header(
            "cookie",
            "doorcode_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "an unknown token is no session"
    );
}

#[tokio::test]
async fn after_code_mode_shows_everyone_the_same_code_page_and_asks_names_after_the_code() {
    let app = spawn_app_with(|c| c.signup.ask_name = AskName::AfterCode).await;
    app.sign_up_after_code("known@example.com", "Known").await;
    // Stopped, so the two pages cannot differ by a second that ticked in between.
    app.clock.stop();

    let (known, stranger) = (browser(), browser());
    let known_page = app.start_sign_in(&known, "known@example.com").await;
    let new_page = app.start_sign_in(&stranger, "new@example.com").await;
    assert_eq!(
        known_page
            .html
            .replace(&known_page.challenge, "ID")
            .replace("known@", "X@"),
        new_page
            .html
            .replace(&new_page.challenge, "ID")
            .replace("new@", "X@"),
        "the code pages differ, which tells whether an address has an account"
    );
    assert!(!new_page.has_input("first_name"));

    // The known address signs straight in.
    let code = app.code_for("known@example.com").await;
    let response = app.verify(&known, &known_page, &code, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The new one gets the name page, then an account.
    let code = app.code_for("new@example.com").await;
    let response = app.verify(&stranger, &new_page, &code, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response)
            .iter()
            .all(|c| !c.starts_with("doorcode_session=")),
        "no cookie before the name"
    );
    let html = response.text().await.unwrap();
    assert!(
        has_input(&html, "first_name")
            && has_input(&html, "last_name")
            && !has_input(&html, "code")
    );
    let name_page = CodePage::from_html(&html);

    let missing = app
        .post(
            &stranger,
            "/login/verify",
            &[
                ("challenge", &name_page.challenge),
                ("first_name", " "),
                ("last_name", ""),
            ],
        )
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&missing.text().await.unwrap()).contains("first name"));

    let done = app
        .post(
            &stranger,
            "/login/verify",
            &[
                ("challenge", &name_page.challenge),
                ("first_name", "Nova"),
                ("last_name", "Newcomer"),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let home = app.get(&stranger, "/").await.text().await.unwrap();
    assert!(home.contains("Nova") && home.contains("new@example.com"));

    // The finished sign-in cannot be completed twice.
    let again = app
        .post(
            &stranger,
            "/login/verify",
            &[
                ("challenge", &name_page.challenge),
                ("first_name", "Mallory"),
                ("last_name", ""),
            ],
        )
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("users"), 2);
}

#[tokio::test]
async fn with_code_mode_keeps_the_code_when_a_new_address_forgets_its_name() {
    let app = spawn_app().await;
    let person = browser();
    let page = app.start_sign_in(&person, "forgetful@example.com").await;
    let code = app.code_for("forgetful@example.com").await;
    let response = app.verify(&person, &page, &code, None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(alerts(&response.text().await.unwrap()).contains("first name"));
    let response = app.verify(&person, &page, &code, Some(("Fay", ""))).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the same code still works"
    );
}

#[tokio::test]
async fn twenty_people_sign_up_at_once_without_an_error() {
    let app =
        spawn_app_with(|c| c.rate_limit.ip_per_hour = std::num::NonZeroU32::new(100).unwrap())
            .await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for n in 0..20 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let email = format!("person{n}@example.com");
            app.sign_up(&browser(), &email, &format!("P{n}"), "").await;
        }));
    }
    for task in tasks {
        task.await.expect("a sign-up failed");
    }
    assert_eq!(app.count_rows("users"), 20);
    assert_eq!(app.count_rows("user_sessions"), 20);
}

#[tokio::test]
async fn a_restart_keeps_sessions_and_limits() {
    let app =
        spawn_app_with(|c| c.rate_limit.email_per_hour = std::num::NonZeroU32::new(2).unwrap())
            .await;
    let person = browser();
    app.sign_up(&person, "kept@example.com", "Kept", "").await;
    app.start_sign_in(&browser(), "kept@example.com").await;

    let app = app.restart().await;
    let home = app.get(&person, "/").await;
    assert_eq!(
        home.status(),
        StatusCode::OK,
        "the session survived the restart"
    );
    let third = app.post_login(&browser(), "kept@example.com").await;
    assert_eq!(
        third.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the address limit survived the restart"
    );
}

impl crate::helpers::TestApp {
    async fn sign_up_after_code(&self, email: &str, first: &str) {
        let person = browser();
        let page = self.start_sign_in(&person, email).await;
        let code = self.code_for(email).await;
        let response = self.verify(&person, &page, &code, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let name_page = CodePage::from_html(&response.text().await.unwrap());
        let done = self
            .post(
                &person,
                "/login/verify",
                &[
                    ("challenge", &name_page.challenge),
                    ("first_name", first),
                    ("last_name", ""),
                ],
            )
            .await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
    }
}
