//! The JSON API under `/api/v1`: the browser flow's steps and sessions, answered in
//! JSON, with the same rules, limits and statuses.

mod document;
mod failures;
mod sessions;
mod sign_in;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::turnstile::FakeSiteverify;

/// An API client: it keeps cookies (as an SPA's browser would) and names itself.
pub fn client(user_agent: &str) -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .unwrap()
}

pub async fn post_json(app: &TestApp, client: &Client, path: &str, body: Value) -> Response {
    client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .expect("POST")
}

/// A request with `Authorization: Bearer <token>` when a token is given.
pub async fn call(
    app: &TestApp,
    client: &Client,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> Response {
    let mut request = client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request")
}

pub async fn json_of(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "{}", describe(&response));
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.expect("a JSON body")
}

/// Checks the error shape and returns the machine-readable code.
pub async fn error_of(response: Response, status: StatusCode) -> (String, String) {
    let body = json_of(response, status).await;
    let error = body["error"].as_str().expect("`error` is a string");
    let message = body["message"].as_str().expect("`message` is a string");
    assert!(!message.is_empty(), "{body}");
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only error and message: {body}"
    );
    (error.to_owned(), message.to_owned())
}

fn describe(response: &Response) -> String {
    format!("{} {}", response.url(), response.status())
}

/// `POST /api/v1/login` with the Turnstile dummy token; the 200 answer.
pub async fn start(app: &TestApp, client: &Client, email: &str) -> Value {
    let body = json!({"email": email, "turnstile_token": FakeSiteverify::DUMMY_TOKEN});
    let response = post_json(app, client, "/api/v1/login", body).await;
    json_of(response, StatusCode::OK).await
}

pub async fn verify(
    app: &TestApp,
    client: &Client,
    challenge_id: &str,
    code: &str,
    names: Option<(&str, &str)>,
) -> Response {
    let mut body = json!({"challenge_id": challenge_id, "code": code});
    if let Some((first, last)) = names {
        body["first_name"] = first.into();
        body["last_name"] = last.into();
    }
    post_json(app, client, "/api/v1/login/verify", body).await
}

/// Signs up (with `first` as the name) or in, all through the API; the verify answer.
pub async fn sign_in(app: &TestApp, client: &Client, email: &str, first: &str) -> Value {
    let challenge = start(app, client, email).await;
    let id = challenge["challenge_id"].as_str().unwrap();
    let code = app.code_for(email).await;
    let response = verify(app, client, id, &code, Some((first, ""))).await;
    json_of(response, StatusCode::OK).await
}

/// The token from a verify answer.
pub fn token(signed_in: &Value) -> &str {
    signed_in["token"].as_str().expect("a token")
}
