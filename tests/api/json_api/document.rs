//! The OpenAPI document and the documentation page.

use doorcode::config::BaseUrl;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::{client, json_of};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_openapi_document_declares_every_route_with_every_status_it_answers() {
    let app = spawn_app().await;
    let response = client("x")
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let document = json_of(response, StatusCode::OK).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));

    let sign_in = ["400", "403", "413", "415", "429", "503"];
    let routes: [(&str, &str, &str, &[&str]); 7] = [
        ("post", "/api/v1/login", "200", &sign_in),
        ("post", "/api/v1/login/verify", "200", &sign_in),
        ("post", "/api/v1/login/resend", "204", &sign_in),
        ("get", "/api/v1/session", "200", &["401", "413", "503"]),
        (
            "delete",
            "/api/v1/session",
            "204",
            &["401", "403", "413", "503"],
        ),
        ("get", "/api/v1/sessions", "200", &["401", "413", "503"]),
        (
            "delete",
            "/api/v1/sessions/{id}",
            "204",
            &["401", "403", "404", "413", "503"],
        ),
    ];
    for (method, path, success, failures) in routes {
        let operation = &document["paths"][path][method];
        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"));
        let mut declared: Vec<&str> = responses.keys().map(String::as_str).collect();
        declared.sort();
        let mut expected = vec![success];
        expected.extend(failures.iter().copied());
        expected.sort();
        assert_eq!(declared, expected, "{method} {path}");
        for status in failures {
            let schema =
                &responses[*status]["content"]["application/json; charset=utf-8"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/Error",
                "{method} {path} {status}"
            );
        }
        if failures.contains(&"429") {
            let headers = responses["429"]["headers"].as_object().unwrap();
            assert!(
                headers
                    .keys()
                    .any(|h| h.eq_ignore_ascii_case("retry-after")),
                "{method} {path}"
            );
        }
        let secured = !operation["security"].is_null();
        assert_eq!(secured, path.contains("session"), "{method} {path}");
    }
    let error = &document["components"]["schemas"]["Error"];
    assert_eq!(error["required"], serde_json::json!(["error", "message"]));
}

#[tokio::test]
async fn the_document_names_the_session_cookie_as_the_configuration_does() {
    let app = spawn_app_with(|c| {
        c.server.base_url = BaseUrl::parse("https://login.example.com").unwrap();
    })
    .await;
    let response = client("x")
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let document: Value = json_of(response, StatusCode::OK).await;
    let scheme = &document["components"]["securitySchemes"]["session_cookie"];
    assert_eq!(scheme["in"], "cookie");
    assert_eq!(scheme["name"], "__Host-doorcode_session");
}

#[tokio::test]
async fn the_docs_page_is_html_whose_script_and_styles_come_from_the_site() {
    let app = spawn_app().await;
    let browser = client("x");
    let response = browser.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("<style"),
        "inline styles break under the site's CSP"
    );
    for asset in [
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/start.js",
        "/api/docs/swagger-ui.css",
    ] {
        assert!(html.contains(asset), "{asset} in {html}");
        let response = browser.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let text = response.text().await.unwrap();
        assert!(text.len() > 40 && !text.contains("</script>"), "{asset}");
    }
    let start = browser
        .get(app.url("/api/docs/start.js"))
        .send()
        .await
        .unwrap();
    assert!(start.text().await.unwrap().contains("/api/v1/openapi.json"));
}
