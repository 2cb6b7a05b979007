//! `spawn_app()`: doorcode in-process on a random port, with its own database (a
//! SQLite file, or a fresh PostgreSQL database when `DOORCODE_TEST_POSTGRES_URL` is
//! set), a real SMTP server on loopback and a siteverify stand-in; plus browser-like
//! clients.

use std::path::PathBuf;
use std::sync::Arc;

use doorcode::clock::Clock;
use doorcode::config::{Config, Secret};
use doorcode::startup::Application;
use reqwest::{Client, Response, StatusCode};
use scraper::{Html, Selector};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::database::{Database, fresh_postgres, postgres_server, random_secret};
use crate::smtp::TestSmtp;
use crate::turnstile::FakeSiteverify;

/// The origin the test configuration declares as `server.base_url`.
pub const BASE_URL: &str = "http://localhost:8080";
pub const SITE_KEY: &str = "1x00000000000000000000AA";

pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served (`metrics.listen`), when it is.
    pub metrics_address: Option<String>,
    pub smtp: TestSmtp,
    pub siteverify: Arc<FakeSiteverify>,
    pub clock: Clock,
    pub config: Config,
    pub dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts doorcode with the test configuration, changed by `customise`.
pub async fn spawn_app_with(customise: impl FnOnce(&mut Config)) -> TestApp {
    let smtp = TestSmtp::start().await;
    let siteverify = Arc::new(FakeSiteverify::start().await);
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics.listen = "127.0.0.1:0".into();
    config.server.base_url = doorcode::config::BaseUrl::parse(BASE_URL).unwrap();
    config.database.path = dir.path().join("doorcode.db");
    if let Some(server) = postgres_server() {
        config.database.url = Secret::new(fresh_postgres(&server));
        config.security.secret_key = Secret::new(random_secret());
    }
    config.email.smtp_url = Secret::new(smtp.url());
    config.turnstile.site_key = SITE_KEY.into();
    config.turnstile.secret_key = Secret::new(FakeSiteverify::PASS_SECRET);
    config.turnstile.verify_url = siteverify.url().parse().unwrap();
    customise(&mut config);
    start(config, smtp, siteverify, dir, Clock::default()).await
}

async fn start(
    config: Config,
    smtp: TestSmtp,
    siteverify: Arc<FakeSiteverify>,
    dir: Arc<tempfile::TempDir>,
    clock: Clock,
) -> TestApp {
    let app = Application::build(config.clone(), clock.clone())
        .await
        .expect("doorcode builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        metrics_address,
        smtp,
        siteverify,
        clock,
        config,
        dir,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// Stops this instance and starts a new one on the same database, SMTP server
    /// and siteverify stand-in (a restart, as after a deploy).
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// [`restart`](Self::restart) with the configuration changed by `change`.
    pub async fn restart_with(mut self, change: impl FnOnce(&mut Config)) -> TestApp {
        self.shut_down().await;
        let mut config = self.config.clone();
        change(&mut config);
        let (config, smtp, siteverify, dir, clock) = (
            config,
            self.smtp.clone(),
            self.siteverify.clone(),
            self.dir.clone(),
            self.clock.clone(),
        );
        start(config, smtp, siteverify, dir, clock).await
    }

    pub async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.config.database.path.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, browser: &Client, path: &str) -> Response {
        browser.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post(&self, browser: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        browser
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// `POST /login` as the page's form sends it, with the Turnstile dummy token.
    pub async fn post_login(&self, browser: &Client, email: &str) -> Response {
        let form = [
            ("email", email),
            ("cf-turnstile-response", FakeSiteverify::DUMMY_TOKEN),
        ];
        self.post(browser, "/login", &form).await
    }

    /// Asks for a code and returns the code page's sign-in id.
    pub async fn start_sign_in(&self, browser: &Client, email: &str) -> CodePage {
        let response = self.post_login(browser, email).await;
        assert_eq!(response.status(), StatusCode::OK, "POST /login for {email}");
        CodePage::from_html(&response.text().await.unwrap())
    }

    /// The code in the next email to `email`, read from the message as a person would.
    pub async fn code_for(&self, email: &str) -> String {
        self.smtp.wait_for_mail_to(email).await.code()
    }

    pub async fn verify(
        &self,
        browser: &Client,
        page: &CodePage,
        code: &str,
        names: Option<(&str, &str)>,
    ) -> Response {
        let mut form = vec![("challenge", page.challenge.as_str()), ("code", code)];
        if let Some((first, last)) = names {
            form.push(("first_name", first));
            form.push(("last_name", last));
        }
        self.post(browser, "/login/verify", &form).await
    }

    /// The whole sign-up of a new address, ending signed in.
    pub async fn sign_up(&self, browser: &Client, email: &str, first: &str, last: &str) {
        let page = self.start_sign_in(browser, email).await;
        let code = self.code_for(email).await;
        let response = self
            .verify(browser, &page, &code, Some((first, last)))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "sign-up of {email}"
        );
    }

    /// The database this app runs on, for reading and changing it behind its back.
    pub fn database(&self) -> Database {
        if self.config.database.url.is_empty() {
            Database::Sqlite(self.db_path())
        } else {
            Database::Postgres(self.config.database.url.expose().to_owned())
        }
    }

    /// The settings that point a `doorcode` command at this app's database.
    pub fn database_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![(
            "DOORCODE_DATABASE_PATH",
            self.db_path().display().to_string(),
        )];
        if !self.config.database.url.is_empty() {
            env.push((
                "DOORCODE_DATABASE_URL",
                self.config.database.url.expose().to_owned(),
            ));
            env.push((
                "DOORCODE_SECURITY_SECRET_KEY",
                self.config.security.secret_key.expose().to_owned(),
            ));
        }
        env
    }

    /// Rows of `table`, read straight from the database.
    pub fn count_rows(&self, table: &str) -> i64 {
        self.database()
            .query_i64(&format!("SELECT count(*) FROM {table}"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A browser: keeps cookies, does not follow redirects.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What a test needs from a code page.
pub struct CodePage {
    pub challenge: String,
    pub html: String,
}

impl CodePage {
    pub fn from_html(html: &str) -> Self {
        let challenge = input_value(html, "challenge")
            .unwrap_or_else(|| panic!("no challenge input on the page:\n{html}"));
        Self {
            challenge,
            html: html.to_owned(),
        }
    }

    pub fn has_input(&self, name: &str) -> bool {
        has_input(&self.html, name)
    }
}

pub fn input_value(html: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&selector)
        .next()
        .and_then(|e| e.value().attr("value").map(str::to_owned))
}

pub fn has_input(html: &str, name: &str) -> bool {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&selector).next().is_some()
}

/// The text of the page's alerts (banner and field messages).
pub fn alerts(html: &str) -> String {
    let doc = Html::parse_document(html);
    let selector = Selector::parse("[role=alert]").unwrap();
    doc.select(&selector)
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}
