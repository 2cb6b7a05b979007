//! `FakeSiteverify`: a local stand-in for Cloudflare Turnstile's
//! `POST https://challenges.cloudflare.com/turnstile/v0/siteverify`, answering as Cloudflare
//! documents (https://developers.cloudflare.com/turnstile/get-started/server-side-validation/
//! and .../troubleshooting/testing/ for the dummy keys), and for hCaptcha's
//! `POST https://api.hcaptcha.com/siteverify` at `/siteverify`, answering as hCaptcha
//! documents (https://docs.hcaptcha.com/#verify-the-user-response-server-side, and
//! .../#integration-testing-test-keys for the test keys).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{Body, EndpointExt, Request, Response, Route, Server, handler, post};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinHandle;

const PATH: &str = "/turnstile/v0/siteverify";
const HCAPTCHA_PATH: &str = "/siteverify";
const MAX_TOKEN_LEN: usize = 2048; // Cloudflare rejects longer `response` values

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SiteverifyMode {
    #[default]
    Normal,
    /// Answer this HTTP status with a short text/plain (non-JSON) body.
    Status(u16),
    /// Accept the request and answer (normally) only after 60 s.
    Hang,
    /// The next request gets `success:false, ["internal-error"]` (HTTP 200), then Normal.
    InternalErrorOnce,
}

/// One request as received; fields are `None` when absent (or when the body was unparsable).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteverifyRequest {
    pub secret: Option<String>,
    pub response: Option<String>,
    pub remoteip: Option<String>,
    pub idempotency_key: Option<String>,
    /// hCaptcha's: the site key the token should have been issued for.
    pub sitekey: Option<String>,
    /// The request's Content-Type header as sent ("" if none).
    pub content_type: String,
}

pub struct FakeSiteverify {
    addr: SocketAddr,
    state: Arc<State>,
    server: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    mode: Mutex<SiteverifyMode>,
    requests: Mutex<Vec<SiteverifyRequest>>,
    /// Tokens from `issue_token`, and whether they have been spent.
    issued: Mutex<HashMap<String, bool>>,
    /// Issued tokens that have since expired (hCaptcha's `expired-input-response`).
    expired: Mutex<std::collections::HashSet<String>>,
    /// First answer for each (idempotency_key, token), replayed on retries.
    answered: Mutex<HashMap<(String, String), Value>>,
}

impl FakeSiteverify {
    /// Only tokens from `issue_token` pass with this secret, once each.
    pub const PRODUCTION_SECRET: &'static str = "0x4AAAAAAAFakeProductionSecretKeyAA";
    /// Cloudflare's dummy token, which the dummy sitekeys hand out.
    pub const DUMMY_TOKEN: &'static str = "XXXX.DUMMY.TOKEN.XXXX";
    /// Dummy secret that always passes.
    pub const PASS_SECRET: &'static str = "1x0000000000000000000000000000000AA";
    /// Dummy secret that always fails with `invalid-input-response`.
    pub const FAIL_SECRET: &'static str = "2x0000000000000000000000000000000AA";
    /// Dummy secret that always fails with `timeout-or-duplicate` (token already spent).
    pub const SPENT_SECRET: &'static str = "3x0000000000000000000000000000000AA";
    /// hCaptcha's test secret: passes its test token (and only that).
    pub const HCAPTCHA_TEST_SECRET: &'static str = "0x0000000000000000000000000000000000000000";
    /// hCaptcha's test site key, which goes with its test secret.
    pub const HCAPTCHA_TEST_SITE_KEY: &'static str = "10000000-ffff-ffff-ffff-000000000001";
    /// The token hCaptcha's widget hands out with the test site key.
    pub const HCAPTCHA_TEST_TOKEN: &'static str = "10000000-aaaa-bbbb-cccc-000000000001";
    /// An hCaptcha secret for which only tokens from `issue_token` pass, once each,
    /// issued for `HCAPTCHA_SITE_KEY`.
    pub const HCAPTCHA_SECRET: &'static str = "0xFakeProductionHcaptchaSecret000000000000";
    pub const HCAPTCHA_SITE_KEY: &'static str = "a5f74b19-9e45-40e0-b45d-47ff91b7a6c2";

    pub async fn start() -> FakeSiteverify {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind siteverify");
        let addr = listener.local_addr().expect("local_addr");
        let state = Arc::new(State::default());
        let app = Route::new()
            .at(PATH, post(siteverify))
            .at(HCAPTCHA_PATH, post(hcaptcha_siteverify))
            .data(state.clone());
        let acceptor = TcpAcceptor::from_tokio(listener).expect("poem acceptor");
        let server = tokio::spawn(async move {
            Server::new_with_acceptor(acceptor)
                .run(app)
                .await
                .expect("fake siteverify server");
        });
        FakeSiteverify {
            addr,
            state,
            server,
        }
    }

    /// The full siteverify URL, e.g. `http://127.0.0.1:PORT/turnstile/v0/siteverify`.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    pub fn set_mode(&self, mode: SiteverifyMode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// hCaptcha's siteverify URL on this fake.
    pub fn hcaptcha_url(&self) -> String {
        format!("http://{}{HCAPTCHA_PATH}", self.addr)
    }

    /// A fresh token that passes once with `PRODUCTION_SECRET` (or `HCAPTCHA_SECRET`).
    pub fn issue_token(&self) -> String {
        let token = format!("0.fake-{:032x}", rand::random::<u128>());
        self.state
            .issued
            .lock()
            .unwrap()
            .insert(token.clone(), false);
        token
    }

    /// A token that was issued, but too long ago: hCaptcha's siteverify answers
    /// `expired-input-response`.
    pub fn issue_expired_token(&self) -> String {
        let token = self.issue_token();
        self.state.expired.lock().unwrap().insert(token.clone());
        token
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<SiteverifyRequest> {
        self.state.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeSiteverify {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A siteverify URL on 127.0.0.1 at a port nothing listens on (connections are refused).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local_addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}{PATH}")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Vendor {
    Turnstile,
    Hcaptcha,
}

#[handler]
async fn siteverify(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    answer_request(req, body, &state, Vendor::Turnstile).await
}

#[handler]
async fn hcaptcha_siteverify(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    answer_request(req, body, &state, Vendor::Hcaptcha).await
}

async fn answer_request(req: &Request, body: Body, state: &State, vendor: Vendor) -> Response {
    let content_type = req.content_type().unwrap_or_default().to_owned();
    let parsed = parse_body(&content_type, &body.into_vec().await.unwrap_or_default());
    let mut request = parsed.clone().unwrap_or_default();
    request.content_type = content_type;
    state.requests.lock().unwrap().push(request);

    let mode = {
        let mut mode = state.mode.lock().unwrap();
        let current = *mode; // every mode but InternalErrorOnce persists
        if current == SiteverifyMode::InternalErrorOnce {
            *mode = SiteverifyMode::Normal;
        }
        current
    };
    match mode {
        SiteverifyMode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = format!("fake siteverify: forced HTTP {code}");
            return Response::builder()
                .status(status)
                .content_type("text/plain")
                .body(body);
        }
        SiteverifyMode::InternalErrorOnce => return answer(failure("internal-error")),
        SiteverifyMode::Hang => tokio::time::sleep(Duration::from_secs(60)).await,
        SiteverifyMode::Normal => {}
    }
    answer(match (parsed, vendor) {
        (Some(request), Vendor::Turnstile) => verify(state, &request),
        (Some(request), Vendor::Hcaptcha) => verify_hcaptcha(state, &request),
        (None, _) => failure("bad-request"),
    })
}

/// Form or JSON body → fields; `None` (bad-request) for any other content type, a malformed
/// body, or JSON that is not an object. Non-string JSON values count as absent.
fn parse_body(content_type: &str, body: &[u8]) -> Option<SiteverifyRequest> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let fields: Vec<(String, String)> = match media.as_str() {
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body).ok()?,
        "application/json" => match serde_json::from_slice(body).ok()? {
            Value::Object(map) => map
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                .collect(),
            _ => return None,
        },
        _ => return None,
    };
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    Some(SiteverifyRequest {
        secret: get("secret"),
        response: get("response"),
        remoteip: get("remoteip"),
        idempotency_key: get("idempotency_key"),
        sitekey: get("sitekey"),
        content_type: String::new(),
    })
}

fn verify(state: &State, request: &SiteverifyRequest) -> Value {
    let secret = request.secret.as_deref().unwrap_or_default();
    let token = request.response.as_deref().unwrap_or_default();
    let known = [
        FakeSiteverify::PASS_SECRET,
        FakeSiteverify::FAIL_SECRET,
        FakeSiteverify::SPENT_SECRET,
        FakeSiteverify::PRODUCTION_SECRET,
    ];
    if secret.is_empty() {
        return failure("missing-input-secret");
    } else if !known.contains(&secret) {
        return failure("invalid-input-secret");
    } else if token.is_empty() {
        return failure("missing-input-response");
    } else if token.len() > MAX_TOKEN_LEN {
        return failure("invalid-input-response");
    }
    // A retry with the same idempotency_key and token gets the first answer again, instead
    // of timeout-or-duplicate.
    // (The lock is held throughout so that concurrent retries see one first answer.)
    let mut answered = state.answered.lock().unwrap();
    let key = request
        .idempotency_key
        .clone()
        .map(|k| (k, token.to_owned()));
    if let Some(first) = key.as_ref().and_then(|k| answered.get(k)) {
        return first.clone();
    }
    let result = match secret {
        FakeSiteverify::PASS_SECRET => success(),
        FakeSiteverify::FAIL_SECRET => failure("invalid-input-response"),
        FakeSiteverify::SPENT_SECRET => failure("timeout-or-duplicate"),
        // Production: only issued tokens, once each; the dummy token is unknown here.
        _ => match state.issued.lock().unwrap().get_mut(token) {
            Some(spent @ false) => {
                *spent = true;
                success()
            }
            Some(true) => failure("timeout-or-duplicate"),
            None => failure("invalid-input-response"),
        },
    };
    if let Some(key) = key {
        answered.insert(key, result.clone());
    }
    result
}

/// hCaptcha's rules: its test secret passes its test token; `HCAPTCHA_SECRET` passes
/// issued tokens once (then `invalid-or-already-seen-response`; an expired one is
/// `expired-input-response`); a `sitekey` that is not the secret's is
/// `sitekey-secret-mismatch`.
fn verify_hcaptcha(state: &State, request: &SiteverifyRequest) -> Value {
    let secret = request.secret.as_deref().unwrap_or_default();
    let token = request.response.as_deref().unwrap_or_default();
    let site_key = match secret {
        "" => return failure("missing-input-secret"),
        FakeSiteverify::HCAPTCHA_TEST_SECRET => FakeSiteverify::HCAPTCHA_TEST_SITE_KEY,
        FakeSiteverify::HCAPTCHA_SECRET => FakeSiteverify::HCAPTCHA_SITE_KEY,
        _ => return failure("invalid-input-secret"),
    };
    if token.is_empty() {
        return failure("missing-input-response");
    }
    if request
        .sitekey
        .as_deref()
        .is_some_and(|key| key != site_key)
    {
        return failure("sitekey-secret-mismatch");
    }
    if secret == FakeSiteverify::HCAPTCHA_TEST_SECRET {
        return if token == FakeSiteverify::HCAPTCHA_TEST_TOKEN {
            success()
        } else {
            failure("invalid-input-response")
        };
    }
    if state.expired.lock().unwrap().contains(token) {
        return failure("expired-input-response");
    }
    match state.issued.lock().unwrap().get_mut(token) {
        Some(spent @ false) => {
            *spent = true;
            success()
        }
        Some(true) => failure("invalid-or-already-seen-response"),
        None => failure("invalid-input-response"),
    }
}

fn success() -> Value {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("format timestamp");
    json!({
        "success": true,
        "error-codes": [],
        "challenge_ts": now,
        "hostname": "localhost",
        "action": "",
        "cdata": "",
        "metadata": {"interactive": false},
    })
}

/// Cloudflare's documented failure shape.
fn failure(code: &str) -> Value {
    json!({"success": false, "error-codes": [code], "messages": []})
}

fn answer(body: Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fake = FakeSiteverify;

    /// Posts a form body; returns the HTTP status and the JSON answer.
    async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// The error codes of a (200) form request with this secret and token.
    async fn codes(fake: &Fake, secret: &str, token: &str) -> Vec<String> {
        let (status, body) =
            post_form(&fake.url(), &[("secret", secret), ("response", token)]).await;
        assert_eq!(status, 200);
        let codes: Vec<String> = serde_json::from_value(body["error-codes"].clone()).unwrap();
        assert_eq!(body["success"], codes.is_empty(), "{body}");
        codes
    }

    #[tokio::test]
    async fn each_dummy_secret_answers_as_cloudflare_documents() {
        let fake = Fake::start().await;
        let form = [
            ("secret", Fake::PASS_SECRET),
            ("response", Fake::DUMMY_TOKEN),
        ];
        let (status, body) = post_form(&fake.url(), &form).await;
        assert_eq!(
            (status, &body["success"], &body["error-codes"]),
            (200, &json!(true), &json!([]))
        );
        let ts = body["challenge_ts"].as_str().unwrap();
        assert!(ts.starts_with("20") && ts.ends_with('Z'), "{ts}");
        assert_eq!(
            (&body["hostname"], &body["action"], &body["cdata"]),
            (&json!("localhost"), &json!(""), &json!(""))
        );
        assert_eq!(body["metadata"], json!({"interactive": false}));
        assert!(codes(&fake, Fake::PASS_SECRET, "anything").await.is_empty());
        assert_eq!(
            codes(&fake, Fake::FAIL_SECRET, Fake::DUMMY_TOKEN).await,
            ["invalid-input-response"]
        );
        assert_eq!(
            codes(&fake, Fake::SPENT_SECRET, Fake::DUMMY_TOKEN).await,
            ["timeout-or-duplicate"]
        );
    }

    #[tokio::test]
    async fn the_production_secret_accepts_an_issued_token_once_and_honours_idempotency_keys() {
        let fake = Fake::start().await;
        let secret = Fake::PRODUCTION_SECRET;
        assert_eq!(
            codes(&fake, secret, Fake::DUMMY_TOKEN).await,
            ["invalid-input-response"]
        );
        assert_eq!(
            codes(&fake, secret, "0.fake-unknown").await,
            ["invalid-input-response"]
        );
        let token = fake.issue_token();
        assert!(token.starts_with("0.fake-") && token.len() == 39, "{token}");
        assert!(codes(&fake, secret, &token).await.is_empty());
        assert_eq!(codes(&fake, secret, &token).await, ["timeout-or-duplicate"]);

        // A JSON body with an idempotency key: the retry gets the very same answer.
        let token = fake.issue_token();
        let body = json!({"secret": secret, "response": token, "remoteip": "192.0.2.1", "idempotency_key": "k1"});
        let client = reqwest::Client::new();
        let mut answers = Vec::new();
        for _ in 0..2 {
            let resp = client.post(fake.url()).json(&body).send().await.unwrap();
            answers.push(resp.json::<Value>().await.unwrap());
        }
        assert_eq!(
            (&answers[0]["success"], &answers[0]),
            (&json!(true), &answers[1])
        );
        assert_eq!(codes(&fake, secret, &token).await, ["timeout-or-duplicate"]);

        let recorded = &fake.requests()[4];
        let expected = SiteverifyRequest {
            secret: Some(secret.into()),
            response: Some(token),
            remoteip: Some("192.0.2.1".into()),
            idempotency_key: Some("k1".into()),
            sitekey: None,
            content_type: "application/json".into(),
        };
        assert_eq!(recorded, &expected);
        assert_eq!(
            fake.requests()[0].content_type,
            "application/x-www-form-urlencoded"
        );
    }

    #[tokio::test]
    async fn missing_unknown_or_malformed_fields_give_the_documented_error_codes() {
        let fake = Fake::start().await;
        let (_, body) = post_form(&fake.url(), &[("response", "t")]).await;
        assert_eq!(body["error-codes"], json!(["missing-input-secret"]));
        assert_eq!(codes(&fake, "", "t").await, ["missing-input-secret"]);
        assert_eq!(
            codes(&fake, "0x4AAAAAAAnotOurs", "t").await,
            ["invalid-input-secret"]
        );
        let (_, body) = post_form(&fake.url(), &[("secret", Fake::PASS_SECRET)]).await;
        assert_eq!(body["error-codes"], json!(["missing-input-response"]));
        assert_eq!(
            codes(&fake, Fake::PASS_SECRET, "").await,
            ["missing-input-response"]
        );
        let long = "x".repeat(2049);
        assert_eq!(
            codes(&fake, Fake::PASS_SECRET, &long).await,
            ["invalid-input-response"]
        );

        let client = reqwest::Client::new();
        for (content_type, body) in [
            ("application/json", "{not json"),
            ("application/json", "[1]"),
            ("text/plain", "secret=x"),
        ] {
            let resp = client
                .post(fake.url())
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            let answer: Value = resp.json().await.unwrap();
            assert_eq!(
                (&answer["success"], &answer["error-codes"]),
                (&json!(false), &json!(["bad-request"]))
            );
        }
        assert_eq!(
            fake.requests().last().unwrap(),
            &SiteverifyRequest {
                content_type: "text/plain".into(),
                ..Default::default()
            }
        );
    }

    #[tokio::test]
    async fn forced_modes_give_http_errors_an_internal_error_once_and_a_hang() {
        let fake = Fake::start().await;
        let form = [
            ("secret", Fake::PASS_SECRET),
            ("response", Fake::DUMMY_TOKEN),
        ];
        fake.set_mode(SiteverifyMode::Status(500));
        let resp = reqwest::Client::new()
            .post(fake.url())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 500);
        assert!(
            serde_json::from_str::<Value>(&resp.text().await.unwrap()).is_err(),
            "not JSON"
        );

        fake.set_mode(SiteverifyMode::InternalErrorOnce);
        assert_eq!(
            codes(&fake, Fake::PASS_SECRET, "t").await,
            ["internal-error"]
        );
        assert!(
            codes(&fake, Fake::PASS_SECRET, "t").await.is_empty(),
            "back to Normal"
        );

        fake.set_mode(SiteverifyMode::Hang);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = client
            .post(fake.url())
            .form(&form)
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(fake.requests().len(), 4, "the hanging request was received");

        let err = client
            .post(closed_port_url())
            .form(&form)
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
    }
}
