//! Request ids, the request log line and `GET /metrics`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};

use crate::helpers::{TestApp, browser, set_cookies, spawn_app, spawn_app_with};
use crate::process::Service;

const REQUEST_ID: &str = "x-request-id";

fn request_id_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(REQUEST_ID)
        .unwrap_or_else(|| panic!("no X-Request-Id on {}", response.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn metrics_url(app: &TestApp) -> String {
    let address = app.metrics_address.as_ref().expect("metrics.listen is set");
    format!("{address}/metrics")
}

async fn metrics_text(app: &TestApp) -> String {
    let response = reqwest::get(metrics_url(app)).await.expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// The value of the sample line that starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// The metrics once `series` reaches `at_least`: the worker counts a sent message
/// just after the SMTP server has it, so a test may read it a moment early.
async fn metrics_when(app: &TestApp, series: &str, at_least: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = metrics_text(app).await;
        if sample(&text, series).is_some_and(|v| v >= at_least) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let client = browser();
    let answers = [
        ("page", client.get(app.url("/login")).send().await.unwrap()),
        (
            "health",
            client.get(app.url("/healthz")).send().await.unwrap(),
        ),
        (
            "unknown path",
            client.get(app.url("/no/such/page")).send().await.unwrap(),
        ),
        (
            "API",
            client
                .get(app.url("/api/v1/sessions"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "forward auth",
            client.get(app.url("/auth/check")).send().await.unwrap(),
        ),
        (
            "API session",
            client.get(app.url("/api/v1/session")).send().await.unwrap(),
        ),
        (
            "cross-origin refusal",
            client
                .post(app.url("/login"))
                .header("Origin", "https://evil.example")
                .form(&[("email", "a@example.com")])
                .send()
                .await
                .unwrap(),
        ),
    ];
    let mut seen = Vec::new();
    for (case, response) in &answers {
        let id = request_id_of(response);
        assert!(is_generated(&id), "{case}: {id}");
        assert!(!seen.contains(&id), "{case}: the id {id} was used twice");
        seen.push(id);
    }
    assert_eq!(answers[2].1.status(), StatusCode::NOT_FOUND);
    assert_eq!(answers[4].1.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(answers[6].1.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_echoed_and_a_hostile_one_replaced() {
    let app = spawn_app().await;
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    let cases: [(&str, &str, bool); 7] = [
        ("a proxy's id", "req-42.abc_DEF", true),
        ("a UUID", "0f8fad5b-d9cb-469f-a165-70867728950e", true),
        ("64 characters", &long, true),
        ("65 characters", &too_long, false),
        ("spaces", "a b c", false),
        ("a log injection", "x\" level=ERROR msg=\"forged", false),
        ("markup", "<script>alert(1)</script>", false),
    ];
    for (case, incoming, kept) in cases {
        let response = reqwest::Client::new()
            .get(app.url("/healthz"))
            .header(REQUEST_ID, incoming)
            .send()
            .await
            .unwrap();
        let id = request_id_of(&response);
        if kept {
            assert_eq!(id, incoming, "{case}: a sane id is echoed");
        } else {
            assert!(
                is_generated(&id),
                "{case}: replaced by a fresh id, got {id}"
            );
        }
    }
}

#[tokio::test]
async fn metrics_after_a_sign_up_count_routes_codes_and_wrong_codes_without_personal_data() {
    let app = spawn_app().await;
    let person = browser();
    let email = "metrics.person@example.com";
    let page = app.start_sign_in(&person, email).await;
    let code = app.code_for(email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let response = app.verify(&person, &page, wrong, None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a wrong code");
    let response = app
        .verify(&person, &page, &code, Some(("Ada", "Lovelace")))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the right code");
    let cookies = set_cookies(&response).join("\n");
    let token = cookies
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .expect("a session cookie");

    let text = metrics_when(&app, "doorcode_codes_sent_total", 1.0).await;
    let expect_at_least = [
        (
            r#"doorcode_http_requests_total{route="/login",method="POST",status="200"}"#,
            1.0,
        ),
        (
            r#"doorcode_http_requests_total{route="/login/verify",method="POST",status="400"}"#,
            1.0,
        ),
        (
            r#"doorcode_http_requests_total{route="/login/verify",method="POST",status="303"}"#,
            1.0,
        ),
        (
            r#"doorcode_http_request_duration_seconds_count{route="/login/verify"}"#,
            2.0,
        ),
        ("doorcode_codes_sent_total", 1.0),
        ("doorcode_wrong_codes_total", 1.0),
        ("doorcode_mail_queue_depth", 0.0),
        (r#"doorcode_mail_failures_total{kind="transient"}"#, 0.0),
        (r#"doorcode_mail_failures_total{kind="permanent"}"#, 0.0),
        (r#"doorcode_mail_failures_total{kind="expired"}"#, 0.0),
    ];
    for (series, least) in expect_at_least {
        let value = sample(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        assert!(
            value >= least,
            "{series} is {value}, expected ≥ {least}:\n{text}"
        );
    }
    assert!(
        text.contains("# TYPE doorcode_mail_queue_depth gauge"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE doorcode_http_request_duration_seconds histogram"),
        "{text}"
    );
    for (what, secret) in [
        ("the email address", email),
        ("the address's local part", "metrics.person"),
        ("the code", code.as_str()),
        ("the session token", token.as_str()),
        ("the sign-in id", page.challenge.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} is in the metrics:\n{text}");
    }
    assert!(!text.contains('@'), "an address is in the metrics:\n{text}");
}

#[tokio::test]
async fn a_session_id_in_the_path_is_labelled_with_the_route_template() {
    let app = spawn_app().await;
    let id = "0123456789abcdef0123456789abcdef";
    let response = reqwest::Client::new()
        .delete(app.url(&format!("/api/v1/sessions/{id}")))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = metrics_text(&app).await;
    let series = format!(
        r#"doorcode_http_requests_total{{route="/api/v1/sessions/{{id}}",method="DELETE",status="{status}"}}"#
    );
    assert_eq!(sample(&text, &series), Some(1.0), "no {series} in:\n{text}");
    assert!(!text.contains(id), "the raw id is in the metrics:\n{text}");
}

#[tokio::test]
async fn session_reads_are_counted_by_route_and_status_and_echo_the_request_id() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "counted@example.com", "Counted", "")
        .await;
    let stranger = reqwest::Client::new();
    for path in ["/auth/check", "/api/v1/session"] {
        assert_eq!(app.get(&person, path).await.status(), StatusCode::OK);
        for _ in 0..2 {
            let refused = stranger
                .get(app.url(path))
                .header(REQUEST_ID, "proxy-42")
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(request_id_of(&refused), "proxy-42", "{path}");
        }
    }
    let head = stranger.head(app.url("/auth/check")).send().await.unwrap();
    assert_eq!(
        head.status(),
        StatusCode::UNAUTHORIZED,
        "HEAD takes the router"
    );

    let text = metrics_text(&app).await;
    // The HEAD is timed with the GETs of its route.
    for (path, timed) in [("/auth/check", 4.0), ("/api/v1/session", 3.0)] {
        for (status, count) in [(200, 1.0), (401, 2.0)] {
            let series = format!(
                r#"doorcode_http_requests_total{{route="{path}",method="GET",status="{status}"}}"#
            );
            assert_eq!(sample(&text, &series), Some(count), "{series} in:\n{text}");
        }
        let latency = format!(r#"doorcode_http_request_duration_seconds_count{{route="{path}"}}"#);
        assert_eq!(
            sample(&text, &latency),
            Some(timed),
            "{latency} in:\n{text}"
        );
    }
    let head = r#"doorcode_http_requests_total{route="/auth/check",method="HEAD",status="401"}"#;
    assert_eq!(sample(&text, head), Some(1.0), "{head} in:\n{text}");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_counted_as_other() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for path in ["/wp-admin/setup.php", "/a@example.com", "/login/123456"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    client
        .request(brew, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    let text = metrics_text(&app).await;
    let other = r#"doorcode_http_requests_total{route="other",method="GET",status="404"}"#;
    assert_eq!(sample(&text, other), Some(3.0), "no {other} in:\n{text}");
    assert!(text.contains(r#"method="other""#), "{text}");
    for raw in ["wp-admin", "@", "123456", "BREW"] {
        assert!(!text.contains(raw), "`{raw}` is in the metrics:\n{text}");
    }
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_never_cached() {
    let app = spawn_app().await;
    let response = reqwest::get(metrics_url(&app)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let text = response.text().await.unwrap();
    assert!(text.contains("# HELP doorcode_codes_sent"), "{text}");
    assert!(text.contains("doorcode_mail_queue_depth 0"), "{text}");
}

/// Anyone could read sign-in volumes off the public listener, and a permanent mail
/// failure counted right after posting an address told whether its mailbox exists.
#[tokio::test]
async fn metrics_are_served_only_on_their_own_listener() {
    let app = spawn_app().await;
    let public = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let own = reqwest::get(metrics_url(&app)).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    // The metrics listener serves nothing else.
    let address = app.metrics_address.clone().unwrap();
    for path in ["/", "/login", "/healthz", "/auth/check"] {
        let other = reqwest::get(format!("{address}{path}")).await.unwrap();
        assert_eq!(other.status(), StatusCode::NOT_FOUND, "{path}");
    }

    let without = spawn_app_with(|c| c.metrics.listen = String::new()).await;
    assert!(without.metrics_address.is_none());
    let public = reqwest::get(without.url("/metrics")).await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
}

/// The binary with `--log-format json`.
struct JsonLog {
    service: Service,
    seen: Vec<String>,
}

impl JsonLog {
    fn start(dir: &std::path::Path) -> JsonLog {
        let service = Service::start_with_args(dir, &["--log-format", "json", "serve"], &[]);
        let seen = service.log.lines().map(str::to_owned).collect();
        JsonLog { service, seen }
    }

    /// The next line that `matches`; every line read on the way must be JSON.
    fn line_where(&mut self, matches: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        loop {
            let line = self
                .service
                .next_line()
                .unwrap_or_else(|| panic!("no such line in the log:\n{}", self.seen.join("\n")));
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            self.seen.push(line);
            if matches(&value) {
                return value;
            }
        }
    }
}

#[tokio::test]
async fn json_log_lines_carry_the_request_id_and_no_email_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = JsonLog::start(dir.path());
    let email = "json.logger@example.com";
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/login?email={email}",
            log.service.port
        ))
        .header(REQUEST_ID, "trace-me-123")
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(request_id_of(&response), "trace-me-123");

    let line = log.line_where(|line| line["fields"]["message"] == "request");
    let fields = &line["fields"];
    assert_eq!(fields["method"], "POST", "{line}");
    assert_eq!(fields["route"], "/login", "{line}");
    assert_eq!(fields["status"], 200, "{line}");
    assert!(fields["latency_ms"].is_number(), "{line}");
    assert_eq!(line["span"]["request_id"], "trace-me-123", "{line}");
    let text = line.to_string();
    assert!(
        !text.contains(email),
        "the address is in the request line: {text}"
    );
    assert!(
        !text.contains("?email"),
        "the query string is logged: {text}"
    );

    // Lines written inside a request carry its id; only dev mode's printed email
    // (the code, for a person at the console) names the address in full.
    for seen in &log.seen {
        let value: serde_json::Value = serde_json::from_str(seen).unwrap();
        if value.get("span").is_some() {
            assert_eq!(value["span"]["request_id"], "trace-me-123", "{seen}");
        }
        let printed_email = value["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("dev mode"));
        if !printed_email {
            assert!(
                !seen.contains(email),
                "the address is in a log line: {seen}"
            );
        }
    }
}
