//! `/auth/check` for reverse proxies, and `next=` after sign-in without open redirects.

use doorcode::config::BaseUrl;
use reqwest::StatusCode;

use crate::helpers::{
    BASE_URL, CodePage, browser, input_value, set_cookies, spawn_app, spawn_app_with,
};

fn session_cookie(response: &reqwest::Response) -> String {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with("doorcode_session="))
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("doorcode_session=")
        .to_owned()
}

#[tokio::test]
async fn auth_check_answers_who_is_signed_in_by_cookie_or_bearer_token() {
    let app = spawn_app().await;
    let person = browser();
    assert_eq!(
        app.get(&person, "/auth/check").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let page = app.start_sign_in(&person, "zoë@example.com").await;
    let code = app.code_for("zoë@example.com").await;
    let response = app
        .verify(&person, &page, &code, Some(("Zoë", "Ångström")))
        .await;
    let token = session_cookie(&response);

    let by_cookie = app.get(&person, "/auth/check").await;
    assert_eq!(by_cookie.status(), StatusCode::OK);
    let h = by_cookie.headers();
    assert_eq!(h["x-doorcode-user-id"], "1");
    assert_eq!(
        h["x-doorcode-email"].as_bytes(),
        "zoë@example.com".as_bytes()
    );
    assert_eq!(h["x-doorcode-name"].as_bytes(), "Zoë Ångström".as_bytes());
    assert_eq!(h["cache-control"], "no-store");

    let backend = reqwest::Client::new();
    let bearer = |token: String| {
        backend
            .get(app.url("/auth/check"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        bearer(token.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        bearer("not-a-token".into()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer("A".repeat(43)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    app.post(&person, "/logout", &[]).await;
    assert_eq!(
        bearer(token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "revoked with the session"
    );
}

#[tokio::test]
async fn next_returns_the_person_to_the_page_they_came_from() {
    let app = spawn_app().await;
    let person = browser();
    let login = app
        .get(&person, "/login?next=%2Faccount%3Ftab%3D2")
        .await
        .text()
        .await
        .unwrap();
    let next = input_value(&login, "next").expect("next is carried");
    assert_eq!(next, format!("{BASE_URL}/account?tab=2"));

    let response = app
        .post(
            &person,
            "/login",
            &[
                ("email", "back@example.com"),
                ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
                ("next", &next),
            ],
        )
        .await;
    let page = CodePage::from_html(&response.text().await.unwrap());
    assert_eq!(
        input_value(&page.html, "next").as_deref(),
        Some(next.as_str())
    );
    let code = app.code_for("back@example.com").await;
    let done = app
        .post(
            &person,
            "/login/verify",
            &[
                ("challenge", &page.challenge),
                ("code", &code),
                ("first_name", "B"),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], next.as_str());
}

#[tokio::test]
async fn next_never_leads_off_site_unless_the_host_is_allowed() {
    let app =
        spawn_app_with(|c| c.server.allowed_redirect_hosts = vec!["app.example.com".into()]).await;
    for evil in [
        "https://evil.example/",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "https://app.example.com@evil.example/",
    ] {
        let login = app
            .get(&browser(), &format!("/login?next={}", urlencode(evil)))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(input_value(&login, "next"), None, "next={evil} was carried");
    }
    // A browser reads `//evil.example` as another host; here it is a path of this
    // site, so it is carried as one.
    let login = app
        .get(&browser(), "/login?next=%2F%2Fevil.example%2Fx")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        input_value(&login, "next").as_deref(),
        Some(format!("{BASE_URL}/evil.example/x").as_str()),
        "a leading // collapses into a path of this site"
    );
    // A forged hidden field is checked again on every step.
    let person = browser();
    let response = app
        .post(
            &person,
            "/login",
            &[
                ("email", "forged@example.com"),
                ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    let page = CodePage::from_html(&response.text().await.unwrap());
    let code = app.code_for("forged@example.com").await;
    let done = app
        .post(
            &person,
            "/login/verify",
            &[
                ("challenge", &page.challenge),
                ("code", &code),
                ("first_name", "F"),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(done.headers()["location"], "/");

    let allowed = app
        .get(
            &browser(),
            "/login?next=http%3A%2F%2Fapp.example.com%2Fhome",
        )
        .await;
    let csp = allowed.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example.com http://app.example.com"),
        "{csp}"
    );
    let html = allowed.text().await.unwrap();
    assert_eq!(
        input_value(&html, "next").as_deref(),
        Some("http://app.example.com/home")
    );
}

/// Percent-encodes everything but letters and digits.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// With `session.cookie_domain`, one sign-in at auth.example.com is good for every
/// app under example.com: the cookie names the domain, `next` may go to any host
/// under it (and only there), and forward auth for another host accepts it.
#[tokio::test]
async fn a_cookie_domain_shares_one_sign_in_across_subdomains() {
    let app = spawn_app_with(|c| {
        c.server.base_url = BaseUrl::parse("https://auth.example.com").unwrap();
        c.session.cookie_domain = "Example.com".into();
    })
    .await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ask = |next: &'static str| {
        let (app, client) = (&app, &no_redirects);
        async move {
            let email = "sso@example.com";
            let form = [
                ("email", email),
                ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
                ("next", next),
            ];
            let response = client
                .post(app.url("/login"))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            // The test client speaks http and keeps no Secure cookies: carry the
            // browser binding by hand.
            let binding = set_cookies(&response)
                .into_iter()
                .find(|c| c.starts_with("__Host-doorcode_login="))
                .expect("the binding stays host-only");
            assert!(!binding.contains("Domain"));
            let page = CodePage::from_html(&response.text().await.unwrap());
            let code = app.code_for(email).await;
            client
                .post(app.url("/login/verify"))
                .header("cookie", binding.split(';').next().unwrap())
                .form(&[
                    ("challenge", page.challenge.as_str()),
                    ("code", code.as_str()),
                    ("first_name", "Sso"),
                    ("next", next),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let signed_in = ask("https://grafana.example.com/d/home").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        signed_in.headers()["location"],
        "https://grafana.example.com/d/home"
    );
    let cookie = set_cookies(&signed_in)
        .into_iter()
        .find(|c| c.starts_with("__Secure-doorcode_session="))
        .expect("a __Secure- session cookie, as __Host- cannot name a domain");
    for part in [
        "Domain=example.com",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{part} missing from {cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();

    // A proxy for grafana.example.com asks with the cookie the browser sent there.
    let check = no_redirects
        .get(app.url("/auth/check"))
        .header("host", "grafana.example.com")
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), StatusCode::OK);
    assert_eq!(check.headers()["x-doorcode-email"], "sso@example.com");

    // Hosts outside the domain, and plain http, are never returned to.
    for outside in [
        "https://evil-example.com/",
        "https://example.com.evil.test/",
        "http://grafana.example.com/",
    ] {
        let response = ask(outside).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()["location"], "/", "next={outside}");
    }

    // Signing out clears the cookie for the whole domain.
    let out = no_redirects
        .post(app.url("/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    let cleared = set_cookies(&out)
        .into_iter()
        .find(|c| c.starts_with("__Secure-doorcode_session=;"))
        .expect("the session cookie is cleared");
    assert!(cleared.contains("Domain=example.com") && cleared.contains("Max-Age=0"));
}
