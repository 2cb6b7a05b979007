//! Pages and emails in the person's language: chosen from `Accept-Language`, else
//! `server.default_language`; the email in the language of the page that asked.

use reqwest::{Client, Response, StatusCode};
use scraper::{Html, Selector};

use crate::helpers::{TestApp, alerts, browser, spawn_app, spawn_app_with};
use crate::turnstile::FakeSiteverify;

const GERMAN: &str = "de-DE,de;q=0.9,en;q=0.8";

async fn get_in(app: &TestApp, client: &Client, path: &str, accept_language: &str) -> Response {
    client
        .get(app.url(path))
        .header("accept-language", accept_language)
        .send()
        .await
        .expect("GET")
}

async fn post_in(
    app: &TestApp,
    client: &Client,
    path: &str,
    form: &[(&str, &str)],
    accept_language: &str,
) -> Response {
    client
        .post(app.url(path))
        .header("accept-language", accept_language)
        .form(form)
        .send()
        .await
        .expect("POST")
}

/// `POST /login` as the page's form sends it, in a browser set to `accept_language`.
async fn start_in(app: &TestApp, client: &Client, email: &str, accept_language: &str) -> Response {
    let form = [
        ("email", email),
        ("cf-turnstile-response", FakeSiteverify::DUMMY_TOKEN),
    ];
    post_in(app, client, "/login", &form, accept_language).await
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(", ")
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn text_of(doc: &Html, css: &str) -> String {
    select(doc, css)
        .iter()
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn html_lang(html: &str) -> String {
    let doc = Html::parse_document(html);
    select(&doc, "html")[0]
        .value()
        .attr("lang")
        .unwrap_or_default()
        .to_owned()
}

/// The page's language as the browser learns it: `<html lang>` and `Content-Language`
/// agree, and the answer says it varies with `Accept-Language`.
async fn page_language(response: Response) -> (String, String) {
    let content_language = header(&response, "content-language");
    assert!(
        header(&response, "vary").contains("Accept-Language"),
        "no Vary: Accept-Language"
    );
    let html = response.text().await.unwrap();
    assert_eq!(
        html_lang(&html),
        content_language,
        "<html lang> and Content-Language differ"
    );
    (content_language, html)
}

#[tokio::test]
async fn german_accept_language_gets_german_pages_and_a_german_email() {
    let app = spawn_app().await;
    let person = browser();

    let (lang, html) = page_language(get_in(&app, &person, "/login", GERMAN).await).await;
    assert_eq!(lang, "de");
    let doc = Html::parse_document(&html);
    assert_eq!(text_of(&doc, "h1"), "Anmelden oder registrieren");
    assert_eq!(text_of(&doc, "label[for=email]"), "E-Mail-Adresse");
    assert_eq!(text_of(&doc, "button[type=submit]"), "Weiter");
    assert!(
        html.contains("data-language=\"de\""),
        "the Turnstile widget speaks German too"
    );
    // What app.js says in the widget's place when its script cannot load.
    let failed = select(&doc, ".captcha-status[role=status][data-captcha-failed]");
    assert_eq!(failed.len(), 1, "{html}");
    assert_eq!(
        failed[0].value().attr("data-captcha-failed"),
        Some(
            "Die Sicherheitsprüfung konnte nicht geladen werden. Prüfe deine Verbindung, \
             erlaube challenges.cloudflare.com und lade die Seite neu."
        )
    );
    assert_eq!(
        failed[0].text().collect::<String>(),
        "",
        "empty until app.js fills it"
    );

    let response = start_in(&app, &person, "anna@example.de", GERMAN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (lang, html) = page_language(response).await;
    assert_eq!(lang, "de");
    let doc = Html::parse_document(&html);
    assert_eq!(text_of(&doc, "h1"), "Schau in dein Postfach");
    assert!(text_of(&doc, ".lead").contains("anna@example.de"), "{html}");
    assert!(text_of(&doc, ".lead").contains("in 10 Minuten"), "{html}");
    assert_eq!(text_of(&doc, "label[for=code]"), "6-stelliger Code");

    let mail = app.smtp.wait_for_mail_to("anna@example.de").await;
    let code = mail.code();
    assert_eq!(mail.subject, format!("{code} ist dein doorcode-Code"));
    assert!(
        mail.text.contains("Anmeldecode") && mail.text.contains("10 Minuten"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("lang=\"de\"") && mail.html.contains(&format!(">{code}<")));

    // A mistake is explained in German, on the field it concerns.
    let challenge = crate::helpers::input_value(&html, "challenge").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let form = [
        ("challenge", challenge.as_str()),
        ("code", wrong),
        ("first_name", "Anna"),
    ];
    let response = post_in(&app, &person, "/login/verify", &form, GERMAN).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert_eq!(
        alerts(&html),
        "Dieser Code stimmt nicht. Du hast noch 4 Versuche."
    );
    let doc = Html::parse_document(&html);
    let input = select(&doc, "#code")[0].value();
    assert_eq!(input.attr("aria-invalid"), Some("true"));
    assert_eq!(input.attr("aria-describedby"), Some("code-error"));

    // Signed in, the person's page is German as well.
    let form = [
        ("challenge", challenge.as_str()),
        ("code", code.as_str()),
        ("first_name", "Anna"),
    ];
    let response = post_in(&app, &person, "/login/verify", &form, GERMAN).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (lang, html) = page_language(get_in(&app, &person, "/", GERMAN).await).await;
    assert_eq!(lang, "de");
    let doc = Html::parse_document(&html);
    assert_eq!(text_of(&doc, "h1"), "Hallo, Anna");
    assert!(
        html.contains("Wo du angemeldet bist") && html.contains("Dieses Gerät"),
        "{html}"
    );
    assert!(html.contains("Abmelden"), "{html}");
    // When the device signed in: a <time> in UTC that app.js localises, like the expiry.
    let signed_in = select(
        &doc,
        ".sessions:not(#emails) time[datetime][data-local-time=datetime]",
    );
    assert_eq!(signed_in.len(), 1, "{html}");
    let shown = signed_in[0].text().collect::<String>();
    assert!(
        shown.ends_with(" UTC") && shown.contains(". "),
        "not like „4. Jan. 2026, 14:05 UTC“: {shown}"
    );
    let hint = text_of(&doc, ".sessions .hint");
    assert!(
        hint.starts_with(&format!(
            "Angemeldet am {shown} · zuletzt aktiv gerade eben"
        )),
        "{hint}"
    );
}

#[tokio::test]
async fn q_values_pick_the_right_language() {
    let app = spawn_app().await;
    let person = browser();
    let cases = [
        // (Accept-Language, expected)
        ("de", "de"),
        ("de-AT", "de"),
        ("de-CH;q=0.8, en;q=0.9", "en"),
        ("en;q=0.5, de;q=0.6", "de"),
        ("fr-FR, fr;q=0.9, de;q=0.4, en;q=0.3", "de"),
        ("fr, *;q=0.5", "en"),
        ("de;q=0, *", "en"),
        ("en-GB, de;q=0.9", "en"),
        ("DE", "de"),
        ("de;q=not-a-number, en;q=0.1", "en"),
    ];
    for (accept_language, expected) in cases {
        let response = get_in(&app, &person, "/login", accept_language).await;
        assert_eq!(response.status(), StatusCode::OK, "{accept_language}");
        let (lang, _) = page_language(response).await;
        assert_eq!(lang, expected, "Accept-Language: {accept_language}");
    }
    let (lang, _) = page_language(person.get(app.url("/login")).send().await.unwrap()).await;
    assert_eq!(lang, "en", "no Accept-Language at all");
}

#[tokio::test]
async fn an_unknown_language_falls_back_to_the_default_language() {
    let app = spawn_app_with(|c| c.server.default_language = "de".into()).await;
    let person = browser();
    for accept_language in ["fr-FR, ja;q=0.5", "*", "xx-invalid-tag-that-is-long, zz"] {
        let (lang, html) =
            page_language(get_in(&app, &person, "/login", accept_language).await).await;
        assert_eq!(lang, "de", "Accept-Language: {accept_language}");
        assert!(html.contains("Anmelden oder registrieren"));
    }
    let (lang, _) = page_language(person.get(app.url("/login")).send().await.unwrap()).await;
    assert_eq!(lang, "de", "no Accept-Language at all");
    let (lang, _) = page_language(get_in(&app, &person, "/login", "en-US").await).await;
    assert_eq!(lang, "en", "a language doorcode has still wins");

    let response = start_in(&app, &person, "jean@example.fr", "fr-FR").await;
    assert_eq!(response.status(), StatusCode::OK);
    let mail = app.smtp.wait_for_mail_to("jean@example.fr").await;
    assert_eq!(
        mail.subject,
        format!("{} ist dein doorcode-Code", mail.code())
    );
}

#[tokio::test]
async fn the_email_language_follows_the_page_that_asked_for_it() {
    let app = spawn_app_with(|c| c.code.resend_interval_secs = 60).await;
    let person = browser();

    // Asked for on a German page: German; the resend asked for on an English page
    // of the same sign-in: English.
    let response = start_in(&app, &person, "mixed@example.com", GERMAN).await;
    let html = response.text().await.unwrap();
    let challenge = crate::helpers::input_value(&html, "challenge").unwrap();
    let first = app.smtp.wait_for_mail_to("mixed@example.com").await;
    assert!(
        first.subject.ends_with("ist dein doorcode-Code"),
        "{}",
        first.subject
    );

    app.clock.advance(61);
    let response = post_in(
        &app,
        &person,
        "/login/resend",
        &[("challenge", &challenge)],
        "en-US,en;q=0.9",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (lang, _) = page_language(response).await;
    assert_eq!(lang, "en");
    let second = app.smtp.wait_for_mail_to("mixed@example.com").await;
    assert_eq!(
        second.subject,
        format!("{} is your doorcode code", second.code())
    );
    assert!(second.text.contains("10 minutes"), "{}", second.text);

    // Another person, English first: the language is each message's own.
    let other = browser();
    start_in(&app, &other, "english@example.com", "en").await;
    let mail = app.smtp.wait_for_mail_to("english@example.com").await;
    assert!(
        mail.subject.ends_with("is your doorcode code"),
        "{}",
        mail.subject
    );

    // The JSON API speaks English, but its email follows the client's language.
    let api = Client::new();
    let response = api
        .post(app.url("/api/v1/login"))
        .header("accept-language", "de")
        .json(&serde_json::json!({"email": "app@example.com", "turnstile_token": FakeSiteverify::DUMMY_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mail = app.smtp.wait_for_mail_to("app@example.com").await;
    assert!(
        mail.subject.ends_with("ist dein doorcode-Code"),
        "{}",
        mail.subject
    );
    let response = api
        .post(app.url("/api/v1/login"))
        .header("accept-language", "de")
        .json(&serde_json::json!({"email": "not-an-address", "turnstile_token": FakeSiteverify::DUMMY_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(header(&response, "content-language").is_empty());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["message"],
        "An email address needs one @, like name@example.com."
    );
}

#[tokio::test]
async fn the_code_page_shows_where_the_code_went_when_it_expires_and_the_resend_countdown() {
    let app = spawn_app_with(|c| c.code.resend_interval_secs = 60).await;
    // Stopped, so the countdown is exact whatever second the request straddles.
    app.clock.stop();
    let person = browser();
    let before = app.clock.now();
    let response = start_in(&app, &person, "count@example.com", "en").await;
    let html = response.text().await.unwrap();
    let doc = Html::parse_document(&html);

    let lead = text_of(&doc, ".lead");
    assert_eq!(text_of(&doc, ".lead strong"), "count@example.com");
    assert!(lead.contains("in 10 minutes"), "{lead}");
    // The expiry as a clock time, UTC on the page, machine-readable for app.js, which
    // shows it as a time of day only.
    let time = select(&doc, ".lead time[datetime][data-local-time=time]");
    assert_eq!(time.len(), 1, "{html}");
    let datetime = time[0].value().attr("datetime").unwrap();
    let expires =
        time::OffsetDateTime::parse(datetime, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp();
    assert!(
        (before + 600..=app.clock.now() + 600).contains(&expires),
        "{datetime}"
    );
    let shown = time[0].text().collect::<String>();
    assert!(
        shown.ends_with(" UTC") && shown.len() == "14:05 UTC".len(),
        "{shown}"
    );
    assert!(
        lead.contains(&format!("It expires at {shown} (in 10 minutes).")),
        "{lead}"
    );

    // The resend button: there, a submit button (so it works without JavaScript),
    // looking unavailable and saying when it will be.
    let button = select(&doc, "form[action='/login/resend'] button[type=submit]");
    assert_eq!(button.len(), 1, "{html}");
    let b = button[0].value();
    assert_eq!(b.attr("aria-disabled"), Some("true"));
    assert_eq!(b.attr("data-countdown"), Some("60"));
    assert_eq!(
        b.attr("data-countdown-label"),
        Some("Send a new code (available in {seconds} s)")
    );
    assert_eq!(b.attr("data-ready-label"), Some("Send a new code"));
    assert_eq!(
        button[0].text().collect::<String>(),
        "Send a new code (available in 60 s)"
    );
    assert!(
        b.attr("disabled").is_none(),
        "without JavaScript it must still submit"
    );
    assert_eq!(
        select(&doc, "button.primary").len(),
        1,
        "one primary button"
    );
    assert_eq!(
        select(&doc, "script[src='/assets/app.js']").len(),
        1,
        "the page loads app.js"
    );

    // Too soon without JavaScript: 429 with the wait, and the countdown agrees.
    let challenge = crate::helpers::input_value(&html, "challenge").unwrap();
    app.clock.advance(20);
    let response = post_in(
        &app,
        &person,
        "/login/resend",
        &[("challenge", &challenge)],
        "de",
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = header(&response, "retry-after");
    let html = response.text().await.unwrap();
    assert!(
        alerts(&html).contains(&format!("in {retry} Sekunden")),
        "{}",
        alerts(&html)
    );
    let doc = Html::parse_document(&html);
    let button = select(&doc, "form[action='/login/resend'] button")[0].value();
    assert_eq!(button.attr("data-countdown"), Some(retry.as_str()));
    assert!(
        html.contains(&format!("Neuen Code senden (möglich in {retry} s)")),
        "{html}"
    );

    // After the interval, a page shown again (here after a wrong code) offers it.
    app.clock.advance(41);
    let form = [("challenge", challenge.as_str()), ("code", "12")];
    let response = post_in(&app, &person, "/login/verify", &form, "en").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    let doc = Html::parse_document(&html);
    let button = select(&doc, "form[action='/login/resend'] button");
    assert_eq!(button[0].text().collect::<String>(), "Send a new code");
    assert!(button[0].value().attr("aria-disabled").is_none(), "{html}");
    assert!(text_of(&doc, ".lead").contains("in 9 minutes"), "{html}");
}

#[tokio::test]
async fn status_pages_speak_the_person_s_language() {
    let app = spawn_app().await;
    let person = browser();
    let response = get_in(&app, &person, "/no-such-page", "de").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (lang, html) = page_language(response).await;
    assert_eq!(lang, "de");
    assert!(
        html.contains("Seite nicht gefunden") && html.contains("Zur Startseite"),
        "{html}"
    );

    let response = person
        .put(app.url("/login"))
        .header("accept-language", "de")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (lang, html) = page_language(response).await;
    assert_eq!(lang, "de");
    assert!(html.contains("Nicht erlaubt"), "{html}");

    let response = person
        .post(app.url("/login/verify"))
        .header("accept-language", "de")
        .header("origin", "https://evil.example")
        .form(&[("challenge", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("Anfrage abgelehnt"));

    let form = [
        ("challenge", "0123456789abcdef0123456789abcdef"),
        ("code", "123456"),
    ];
    let response = post_in(&app, &person, "/login/verify", &form, "de").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Bitte fang neu an") && html.contains("Neu anfangen"),
        "{html}"
    );

    // Not pages: no Content-Language.
    let css = get_in(&app, &person, "/assets/style.css", "de").await;
    assert!(header(&css, "content-language").is_empty());
}

#[tokio::test]
async fn app_js_is_served_with_the_right_content_type_and_cache_headers() {
    let app = spawn_app().await;
    let response = browser()
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&response, "cache-control"), "public, max-age=3600");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    let csp = header(&response, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let script = response.text().await.unwrap();
    for hook in [
        "data-countdown",
        "data-local-time",
        "Intl.DateTimeFormat",
        "data-captcha-failed",
        "data-busy",
        "submit",
        "pageshow",
    ] {
        assert!(script.contains(hook), "app.js lacks {hook}");
    }
}

#[tokio::test]
async fn a_logo_shows_in_the_header_with_the_app_name_as_its_text() {
    let app = spawn_app_with(|c| {
        c.server.app_name = "Acme".into();
        c.server.logo_url = "https://cdn.example.com/acme.svg".into();
    })
    .await;
    let response = browser().get(app.url("/login")).send().await.unwrap();
    let csp = header(&response, "content-security-policy");
    assert!(
        csp.contains("img-src 'self' https://cdn.example.com;"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    let doc = Html::parse_document(&html);
    let logo = select(&doc, "header img");
    assert_eq!(logo.len(), 1, "{html}");
    assert_eq!(
        logo[0].value().attr("src"),
        Some("https://cdn.example.com/acme.svg")
    );
    assert_eq!(logo[0].value().attr("alt"), Some("Acme"));

    let plain = spawn_app().await;
    let response = browser().get(plain.url("/login")).send().await.unwrap();
    assert!(header(&response, "content-security-policy").contains("img-src 'self';"));
    let html = response.text().await.unwrap();
    let doc = Html::parse_document(&html);
    assert!(select(&doc, "header img").is_empty());
    assert_eq!(text_of(&doc, "header"), "doorcode");
}
