//! A headless Chromium under its own chromedriver, for one test.
//!
//! Each `Browser` starts chromedriver on a port it picks itself (`--port=0`, read back
//! from its first lines), in a process group of its own so that dropping the
//! `Browser` — even while a failed test unwinds — kills chromedriver and every
//! Chromium process it started. Chromium gets a fresh profile in a temp dir.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use poem::http::Method;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::helpers::{BASE_URL, TestApp};

/// Chromium is heavy and CI machines have two cores: at most this many browsers run at
/// once across the test binary (the permit is held for the browser's lifetime).
static BROWSERS: Semaphore = Semaphore::const_new(2);

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "the browser tests need Chromium and chromedriver: \
     apt-get install -y chromium chromium-driver (or set CHROMIUM and CHROMEDRIVER to their paths)";

#[derive(Clone, Copy, Default)]
pub struct Options {
    /// No page script runs (DevTools' `Emulation.setScriptExecutionDisabled`, which
    /// unlike Chromium's JavaScript content setting can be lifted for a moment to let
    /// axe-core run; the page's own scripts, skipped while it loaded, stay skipped).
    pub javascript_off: bool,
    /// `prefers-color-scheme: dark`.
    pub dark: bool,
    /// The browser's language, as a person sets it (`de-DE`): Chromium's UI language
    /// and the `Accept-Language` it sends. English (`en-US`) when `None`.
    pub locale: Option<&'static str>,
}

pub struct Browser {
    pub client: Client,
    pub options: Options,
    _driver: Driver,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

/// chromedriver's process group: chromedriver and every Chromium process it started,
/// killed on drop — also when a test fails before its `Browser` is whole.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

impl Browser {
    /// A browser for `app`: it opens `BASE_URL` (the origin doorcode's config names, so
    /// its Origin check passes) and Chromium's resolver sends that to the app's real port.
    pub async fn open(app: &TestApp, options: Options) -> Browser {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        assert!(
            Path::new(&chromium).is_file(),
            "no Chromium at {chromium}: {INSTALL_HINT}"
        );
        let permit = BROWSERS.acquire().await.expect("browser semaphore");
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let (driver, port) = start_chromedriver(&chromedriver, profile.path());
        let capabilities = capabilities(&chromium, profile.path(), app_port(app), options);
        // chromedriver speaks plain HTTP on loopback, so no TLS: fantoccini's rustls
        // connector would bring a second crypto provider (aws-lc-rs, beside the app's
        // ring) into the test binary, and rustls then panics choosing between them.
        let client = match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => client,
            Err(e) => {
                let log = std::fs::read_to_string(profile.path().join("chromedriver.log"));
                panic!(
                    "chromedriver could not start {chromium}: {e}\n{}\n{INSTALL_HINT}",
                    log.unwrap_or_default()
                );
            }
        };
        let browser = Browser {
            client,
            options,
            _driver: driver,
            _profile: profile,
            _permit: permit,
        };
        browser.set_viewport(super::DESKTOP).await;
        if options.javascript_off {
            browser.set_scripts(false).await;
        }
        browser
    }

    /// Lets page scripts run, or stops them (for every page from now on).
    pub async fn set_scripts(&self, enabled: bool) {
        let params = json!({"value": !enabled});
        self.cdp("Emulation.setScriptExecutionDisabled", params)
            .await;
    }

    /// Ends the WebDriver session (Chromium quits); dropping `Driver` stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// A DevTools command, through chromedriver's `goog/cdp/execute`.
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    /// Emulates a screen of this size (headless windows cannot be narrower than 500 px).
    pub async fn set_viewport(&self, viewport: super::Viewport) {
        let params = json!({
            "width": viewport.width,
            "height": viewport.height,
            "deviceScaleFactor": 1,
            "mobile": viewport.mobile,
        });
        self.cdp("Emulation.setDeviceMetricsOverride", params).await;
    }
}

fn app_port(app: &TestApp) -> u16 {
    let port = app.address.rsplit(':').next().unwrap_or_default();
    port.parse()
        .unwrap_or_else(|_| panic!("no port in {}", app.address))
}

/// Starts chromedriver on a port of its choosing and returns it with that port.
fn start_chromedriver(program: &str, profile: &Path) -> (Driver, u16) {
    let log = std::fs::File::create(profile.join("chromedriver.log")).expect("chromedriver log");
    let child = Command::new(program)
        .arg("--port=0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}; {INSTALL_HINT}"));
    let mut driver = Driver(child);
    let stdout = driver.0.stdout.take().expect("chromedriver stdout");
    let (port_tx, port_rx) = mpsc::channel();
    // Reads until chromedriver exits, so its stdout never fills up.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line
                .strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
            {
                let _ = port_tx.send(port);
            }
        }
    });
    match port_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(port) => (driver, port),
        Err(_) => {
            let status = driver.0.try_wait().ok().flatten();
            panic!(
                "{program} did not say which port it listens on (exit: {status:?}); {INSTALL_HINT}"
            );
        }
    }
}

fn capabilities(
    chromium: &str,
    profile: &Path,
    app_port: u16,
    options: Options,
) -> serde_json::Map<String, Value> {
    let origin = url::Url::parse(BASE_URL).expect("BASE_URL");
    let locale = options.locale.unwrap_or("en-US");
    let host = format!(
        "{}:{}",
        origin.host_str().unwrap_or("localhost"),
        origin.port_or_known_default().unwrap_or(80)
    );
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        "--disable-dev-shm-usage".into(),
        "--hide-scrollbars".into(),
        format!("--lang={locale}"),
        format!("--user-data-dir={}", profile.join("chromium").display()),
        // The config's origin goes to this test's app; every other name fails at once
        // instead of waiting on DNS (Turnstile's script cannot load without internet).
        format!(
            "--host-resolver-rules=MAP {host} 127.0.0.1:{app_port}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
        ),
    ];
    if options.dark {
        args.push("--force-dark-mode".into());
        args.push("--blink-settings=preferredColorScheme=0".into());
    }
    // The pages' language is the one asked for (English by default) whatever the
    // machine's locale, so the short phrases asserted on hold: `de-DE` asks `de-DE,de`.
    let primary = locale.split('-').next().unwrap_or(locale);
    let prefs = json!({"intl.accept_languages": format!("{locale},{primary}")});
    let capabilities = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "timeouts": {"implicit": 0, "pageLoad": 60_000, "script": 60_000},
        "goog:chromeOptions": {"binary": chromium, "args": args, "prefs": prefs},
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("capabilities are an object"),
    }
}

/// `POST /session/{id}/goog/cdp/execute`: chromedriver's door to the DevTools protocol.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        let body = json!({"cmd": self.cmd, "params": self.params});
        (Method::POST, Some(body.to_string()))
    }
}

/// A WebDriver extension command under `/session/{id}/`, such as WebAuthn's
/// virtual authenticators (W3C WebAuthn §11, which chromedriver implements).
#[derive(Debug)]
struct SessionCommand {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

impl Browser {
    /// Adds a virtual platform authenticator that holds discoverable credentials
    /// and answers without a person touching it; its id. `verifies`: whether it
    /// reports that it verified the user (a PIN or a fingerprint).
    pub async fn add_authenticator(&self, verifies: bool) -> String {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": verifies,
        });
        let added = self
            .webdriver(Method::POST, "webauthn/authenticator".into(), Some(body))
            .await;
        added.as_str().expect("an authenticator id").to_owned()
    }

    /// Whether the authenticator reports that it verified the user from now on.
    pub async fn set_user_verified(&self, authenticator: &str, verifies: bool) {
        let path = format!("webauthn/authenticator/{authenticator}/uv");
        self.webdriver(
            Method::POST,
            path,
            Some(json!({"isUserVerified": verifies})),
        )
        .await;
    }

    /// The credentials the authenticator holds.
    pub async fn credentials(&self, authenticator: &str) -> Vec<Value> {
        let path = format!("webauthn/authenticator/{authenticator}/credentials");
        let held = self.webdriver(Method::GET, path, None).await;
        held.as_array().cloned().unwrap_or_default()
    }

    async fn webdriver(&self, method: Method, path: String, body: Option<Value>) -> Value {
        let what = format!("{method} {path}");
        self.client
            .issue_cmd(SessionCommand { method, path, body })
            .await
            .unwrap_or_else(|e| panic!("WebDriver {what}: {e}"))
    }
}
