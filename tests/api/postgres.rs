//! Two doorcode processes on one PostgreSQL database, as behind a load balancer.
//! Needs a PostgreSQL server named by `DOORCODE_TEST_POSTGRES_URL` (CI starts one
//! with tests/postgres/start.sh); asked to run without one, these tests fail.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::{Client, StatusCode};
use tokio::sync::Notify;

use crate::database::{Database, fresh_postgres, postgres_server, random_secret};
use doorcode::config::Secret;

use crate::helpers::{CodePage, TestApp, browser, spawn_app_with};
use crate::process::Service;
use crate::smtp::TestSmtp;

const NEEDS_POSTGRES: &str = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL";
/// The origin both instances serve, as a load balancer in front of them would.
const ORIGIN: &str = "http://localhost:8080";

struct Cluster {
    instances: Vec<Service>,
    smtp: TestSmtp,
    database: Database,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Two instances sharing one fresh database, one secret and one SMTP server.
    async fn start(extra: &[(&str, &str)]) -> Cluster {
        let server = postgres_server().expect(NEEDS_POSTGRES);
        let url = fresh_postgres(&server);
        let smtp = TestSmtp::start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(&str, String)> = vec![
            ("DOORCODE_DATABASE_URL", url.clone()),
            ("DOORCODE_SECURITY_SECRET_KEY", random_secret()),
            ("DOORCODE_EMAIL_SMTP_URL", smtp.url()),
            ("DOORCODE_SERVER_BASE_URL", ORIGIN.to_owned()),
            ("DOORCODE_LOG", "warn,doorcode::startup=info".to_owned()),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let instances = vec![
            Service::start(dir.path(), &env),
            Service::start(dir.path(), &env),
        ];
        Cluster {
            instances,
            smtp,
            database: Database::Postgres(url),
            _dir: dir,
        }
    }

    fn url(&self, instance: usize, path: &str) -> String {
        self.instances[instance % self.instances.len()].url(path)
    }

    async fn start_sign_in(&self, instance: usize, browser: &Client, email: &str) -> CodePage {
        let response = browser
            .post(self.url(instance, "/login"))
            .form(&[("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "POST /login for {email}");
        CodePage::from_html(&response.text().await.unwrap())
    }

    async fn verify(
        &self,
        instance: usize,
        browser: &Client,
        page: &CodePage,
        code: &str,
    ) -> StatusCode {
        let form = [
            ("challenge", page.challenge.as_str()),
            ("code", code),
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
        ];
        let response = browser
            .post(self.url(instance, "/login/verify"))
            .form(&form)
            .send()
            .await
            .unwrap();
        response.status()
    }

    async fn home(&self, instance: usize, browser: &Client) -> StatusCode {
        let response = browser.get(self.url(instance, "/")).send().await.unwrap();
        response.status()
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn a_code_and_a_session_work_on_either_instance() {
    let cluster = Cluster::start(&[]).await;
    let ada = browser();
    let page = cluster.start_sign_in(0, &ada, "ada@example.com").await;
    let code = cluster
        .smtp
        .wait_for_mail_to("ada@example.com")
        .await
        .code();
    assert_eq!(
        cluster.verify(1, &ada, &page, &code).await,
        StatusCode::SEE_OTHER,
        "a code asked for through one instance is accepted by the other"
    );
    assert_eq!(cluster.home(0, &ada).await, StatusCode::OK);
    assert_eq!(cluster.home(1, &ada).await, StatusCode::OK);

    let logout = ada.post(cluster.url(1, "/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        cluster.home(0, &ada).await,
        StatusCode::SEE_OTHER,
        "a session ended on one instance is gone on the other"
    );
    assert_eq!(
        cluster
            .database
            .query_i64("SELECT count(*) FROM user_sessions"),
        0
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn concurrent_wrong_guesses_on_both_instances_never_exceed_the_attempt_budget() {
    let cluster =
        Cluster::start(&[("DOORCODE_RATE_LIMIT_FAILURES_PER_EMAIL_PER_HOUR", "100")]).await;
    let ada = browser();
    let page = cluster.start_sign_in(0, &ada, "ada@example.com").await;
    let code = cluster
        .smtp
        .wait_for_mail_to("ada@example.com")
        .await
        .code();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);

    let guesses = (0..20).map(|i| cluster.verify(i, &ada, &page, &wrong));
    let statuses = join_all(guesses).await;
    let mut counted: HashMap<StatusCode, usize> = HashMap::new();
    for status in &statuses {
        *counted.entry(*status).or_default() += 1;
    }
    println!("20 concurrent wrong guesses over two instances: {counted:?}");
    let attempts = cluster
        .database
        .query_i64("SELECT attempts FROM login_challenges");
    let failures = cluster
        .database
        .query_i64("SELECT count(*) FROM rate_events WHERE kind = 'fail'");
    println!("attempts counted: {attempts}, failures recorded: {failures}");
    assert_eq!(attempts, 5, "code.max_attempts is 5");
    assert_eq!(failures, 5, "one failure per counted attempt");
    assert!(
        statuses.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "every guess is a 400: {statuses:?}"
    );
    assert_eq!(
        cluster.verify(1, &ada, &page, &code).await,
        StatusCode::BAD_REQUEST,
        "after the budget is spent the right code no longer works"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn the_per_address_limit_holds_across_instances() {
    let cluster = Cluster::start(&[]).await;
    let cluster = &cluster;
    let requests = (0..12).map(|i| async move {
        let response = browser()
            .post(cluster.url(i, "/login"))
            .form(&[("email", "ada@example.com")])
            .send()
            .await
            .unwrap();
        response.status()
    });
    let statuses = join_all(requests).await;
    let accepted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    println!("12 concurrent requests for one address: {accepted} accepted, {refused} refused");
    assert_eq!(
        (accepted, refused),
        (5, 7),
        "rate_limit.email_per_hour is 5"
    );
    assert_eq!(
        cluster
            .database
            .query_i64("SELECT count(*) FROM outbox WHERE kind = 'code'"),
        5
    );
    assert_eq!(
        cluster
            .database
            .query_i64("SELECT count(*) FROM outbox WHERE kind = 'limit_notice'"),
        1,
        "seven refusals on two instances tell the owner once"
    );
}

/// Settings for a flood: each request comes from its own client address (through
/// a trusted proxy), as many people's would. From one address they would all wait
/// for that address's count, one after another, which is not what these tests are
/// about.
const FLOOD: &[(&str, &str)] = &[
    ("DOORCODE_SERVER_TRUST_PROXY_HEADERS", "true"),
    ("DOORCODE_RATE_LIMIT_IP_PER_HOUR", "100000"),
];

/// The client address of a flood's `i`th request.
fn flood_client(i: usize) -> String {
    format!("10.0.{}.{}", i / 250, i % 250 + 1)
}

/// Starts `count` sign-ins spread over `instances`; the addresses whose request
/// was answered with the code page.
async fn flood(cluster: &Cluster, instances: &[usize], count: usize, tag: &str) -> Vec<String> {
    let requests = (0..count).map(|i| async move {
        let email = format!("{tag}{i}@example.com");
        let response = browser()
            .post(cluster.url(instances[i % instances.len()], "/login"))
            .header("x-forwarded-for", flood_client(i))
            .form(&[("email", email.as_str())])
            .send()
            .await;
        match response {
            Ok(response) if response.status() == StatusCode::OK => Some(email),
            Ok(response) => {
                println!("{email}: {}", response.status());
                None
            }
            Err(e) => {
                println!("{email}: {e}");
                None
            }
        }
    });
    join_all(requests).await.into_iter().flatten().collect()
}

/// Waits until every address in `expected` has mail; how many messages each got.
async fn delivered(
    cluster: &Cluster,
    expected: &[String],
    limit: Duration,
) -> HashMap<String, usize> {
    let deadline = Instant::now() + limit;
    loop {
        let mut received: HashMap<String, usize> = HashMap::new();
        for mail in cluster.smtp.all_mail() {
            for to in mail.rcpt_to {
                *received
                    .entry(to.trim_matches(['<', '>']).to_owned())
                    .or_default() += 1;
            }
        }
        if expected.iter().all(|email| received.contains_key(email)) {
            return received;
        }
        let missing = expected
            .iter()
            .filter(|e| !received.contains_key(*e))
            .count();
        assert!(
            Instant::now() < deadline,
            "{missing} of {} messages never arrived",
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn both_workers_deliver_every_message_exactly_once() {
    let cluster = Cluster::start(FLOOD).await;
    let accepted = flood(&cluster, &[0, 1], 300, "once").await;
    assert_eq!(accepted.len(), 300, "every request was answered");
    let received = delivered(&cluster, &accepted, Duration::from_secs(60)).await;
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    println!(
        "queued {}, delivered {}, duplicates {duplicates}",
        accepted.len(),
        received.len()
    );
    assert_eq!(duplicates, 0, "no message is sent twice");
    assert_eq!(
        cluster
            .database
            .query_i64("SELECT count(*) FROM outbox WHERE sent_at IS NULL"),
        0
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn killing_one_instance_mid_flood_loses_nothing() {
    let cluster = Cluster::start(FLOOD).await;
    let answered = AtomicUsize::new(0);
    let halfway = Notify::new();
    let requests = (0..400).map(|i| {
        let (answered, halfway, cluster) = (&answered, &halfway, &cluster);
        async move {
            let email = format!("kill{i}@example.com");
            let response = browser()
                .post(cluster.url(i, "/login"))
                .header("x-forwarded-for", flood_client(i))
                .form(&[("email", email.as_str())])
                .send()
                .await;
            let ok = matches!(&response, Ok(r) if r.status() == StatusCode::OK);
            if answered.fetch_add(1, Ordering::SeqCst) == 100 {
                halfway.notify_one();
            }
            ok.then_some(email)
        }
    });
    // Instance 0 dies (SIGKILL) once 100 requests were answered, with requests
    // still in flight and whatever it had claimed from the mail queue.
    let killer = async {
        halfway.notified().await;
        cluster.instances[0].signal("-KILL");
    };
    let (accepted, ()) = tokio::join!(join_all(requests), killer);
    let accepted: Vec<String> = accepted.into_iter().flatten().collect();
    let after = flood(&cluster, &[1], 50, "after").await;
    assert_eq!(after.len(), 50, "the survivor answers everyone");
    let all: Vec<String> = accepted.iter().chain(&after).cloned().collect();
    // A message the dead instance had claimed waits out its lease (60 s), then the
    // survivor sends it.
    let received = delivered(&cluster, &all, Duration::from_secs(120)).await;
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    println!(
        "answered 200 before/around the kill: {}, after: {}; delivered {} of {}; duplicates {duplicates}",
        accepted.len(),
        after.len(),
        all.iter().filter(|e| received.contains_key(*e)).count(),
        all.len()
    );
    assert!(accepted.len() >= 100, "the flood was under way at the kill");
    // Only a message the dead instance had handed to SMTP but not yet marked sent
    // can go out twice; at most one claimed batch.
    assert!(duplicates <= 16, "{duplicates} duplicates");
}

/// `doorcode migrate-to-postgres` on a stopped SQLite instance's database.
fn migrate(app: &TestApp, to: &str) -> std::process::Output {
    let from = app.db_path().display().to_string();
    crate::process::doorcode()
        .current_dir(app.dir.path())
        .env_remove("DOORCODE_TEST_POSTGRES_URL")
        .args(["migrate-to-postgres", "--from", &from, "--to", to])
        .output()
        .expect("doorcode runs")
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn moving_from_sqlite_to_postgres_signs_nobody_out_and_loses_no_mail() {
    let server = postgres_server().expect(NEEDS_POSTGRES);
    let mut app = spawn_app_with(|config| {
        config.database.url = Secret::default();
        crate::oidc::clients(config);
    })
    .await;
    let (ada, grace) = (browser(), browser());
    app.sign_up(&ada, "ada@example.com", "Ada", "Lovelace")
        .await;
    // Ada signed in to an app, which holds tokens.
    let back = crate::oidc::authorize_as(
        &app,
        &ada,
        "ada@example.com",
        &crate::oidc::authorize_path("app", crate::oidc::APP_REDIRECT, &[]),
    )
    .await;
    let code = crate::oidc::param(&back, "code").unwrap();
    let tokens = crate::oidc::json(crate::oidc::exchange(&app, &code).await).await;
    let jwks_before = app.get(&ada, "/oidc/jwks").await.text().await.unwrap();
    app.sign_up(&grace, "grace@example.com", "Grace", "Hopper")
        .await;
    // Grace added a passkey.
    let api = crate::json_api::client("grace's laptop");
    let grace_api = crate::json_api::sign_in(&app, &api, "grace@example.com", "Grace").await;
    let mut key = crate::passkeys::Authenticator::new();
    crate::passkeys::register(&app, &api, crate::json_api::token(&grace_api), &mut key).await;
    // A sign-in in progress whose mail cannot go out yet.
    app.smtp.stop().await;
    let linus = browser();
    let page = app.start_sign_in(&linus, "linus@example.com").await;
    app.shut_down().await;

    let to = fresh_postgres(&server);
    let first = migrate(&app, &to);
    let report = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    println!("{report}");
    for line in [
        "users: 2 read, 2 copied",
        "user_emails: 2 read, 2 copied",
        // Ada's, and Grace's in her browser and through the API.
        "user_sessions: 3 read, 3 copied",
        "outbox: 1 read, 1 copied",
        "user_passkeys: 1 read, 1 copied",
    ] {
        assert!(report.contains(line), "{line} in:\n{report}");
    }
    let again = migrate(&app, &to);
    let report = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(
        report.contains("users: 2 read, 0 copied, 2 already there")
            && report.contains("outbox: 1 read, 0 copied, 1 already there"),
        "a second run copies nothing twice:\n{report}"
    );

    // The same service, now on PostgreSQL.
    app.config.database.url = Secret::new(to);
    app.smtp.restart().await;
    let app = app.restart().await;
    assert_eq!(
        app.get(&ada, "/").await.status(),
        StatusCode::OK,
        "Ada is still signed in"
    );
    assert_eq!(app.get(&grace, "/").await.status(), StatusCode::OK);
    let (ceremony, answer) = crate::passkeys::assertion(&app, &api, &mut key).await;
    let signed_in = crate::passkeys::finish(&app, &api, &ceremony, &answer).await;
    assert_eq!(
        signed_in.status(),
        StatusCode::OK,
        "Grace's passkey came along"
    );
    let code = app.code_for("linus@example.com").await;
    let signed_up = app
        .verify(&linus, &page, &code, Some(("Linus", "Torvalds")))
        .await;
    assert_eq!(
        signed_up.status(),
        StatusCode::SEE_OTHER,
        "the queued mail went out from PostgreSQL and its code works"
    );
    assert_eq!(
        app.database().query_i64("SELECT max(id) FROM users"),
        3,
        "new users get ids after the copied ones"
    );
    // The app's tokens, its consent and the signing key came along.
    let userinfo = reqwest::Client::new()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::OK);
    let refreshed = crate::oidc::token(
        &app,
        "app",
        crate::oidc::SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(
        app.get(&ada, "/oidc/jwks").await.text().await.unwrap(),
        jwks_before
    );
    let again = app
        .get(
            &ada,
            &crate::oidc::authorize_path("app", crate::oidc::APP_REDIRECT, &[]),
        )
        .await;
    assert_eq!(
        again.status(),
        StatusCode::SEE_OTHER,
        "no consent page again"
    );
}

/// A TCP relay to the PostgreSQL server that can be cut and restored, as a network
/// partition or a database restart would.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl Relay {
    async fn start(to: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, cut) = (Arc::new(AtomicBool::new(true)), Arc::new(Notify::new()));
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let cut = cut2.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Relay { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn a_database_outage_is_a_503_and_service_returns_without_a_restart() {
    let server = postgres_server().expect(NEEDS_POSTGRES);
    let direct = url::Url::parse(&fresh_postgres(&server)).unwrap();
    let address = (direct.host_str().unwrap(), direct.port().unwrap_or(5432));
    let target = tokio::net::lookup_host(address)
        .await
        .unwrap()
        .next()
        .unwrap();
    let relay = Relay::start(target).await;
    let mut relayed = direct.clone();
    relayed.set_port(Some(relay.port)).unwrap();
    let app = spawn_app_with(|config| {
        config.database.url = Secret::new(relayed.to_string());
    })
    .await;
    let ada = browser();
    app.sign_up(&ada, "ada@example.com", "Ada", "Lovelace")
        .await;

    relay.cut();
    let refused = app.post_login(&browser(), "grace@example.com").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = refused.text().await.unwrap();
    assert!(
        !html.to_lowercase().contains("postgres"),
        "no database detail for people"
    );
    assert_eq!(
        app.get(&browser(), "/healthz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get(&browser(), "/healthz").await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the database never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.get(&ada, "/").await.status(),
        StatusCode::OK,
        "Ada is still signed in"
    );
    let page = app.start_sign_in(&browser(), "grace@example.com").await;
    assert!(!page.challenge.is_empty());
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn pruning_on_every_instance_at_once_is_safe() {
    let url = fresh_postgres(&postgres_server().expect(NEEDS_POSTGRES));
    let first =
        doorcode::storage::Storage::open(&doorcode::storage::Database::Postgres(url.clone()))
            .await
            .unwrap();
    let second =
        doorcode::storage::Storage::open(&doorcode::storage::Database::Postgres(url.clone()))
            .await
            .unwrap();
    let database = Database::Postgres(url);
    database.execute(
        "INSERT INTO users (id, created_at, first_name) VALUES (1, 100, 'Ada');
         INSERT INTO user_sessions (token_hash, user_id, created_at, public_id, expires_at)
           SELECT 'dead' || n, 1, 100, 'd' || n, 500 FROM generate_series(1, 2000) AS n;
         INSERT INTO user_sessions (token_hash, user_id, created_at, public_id, expires_at)
           SELECT 'live' || n, 1, 100, 'l' || n, 5000 FROM generate_series(1, 50) AS n;
         INSERT INTO rate_events (kind, subject, at)
           SELECT 'send', 'a@example.com', 10 FROM generate_series(1, 2000);",
    );
    let (a, b) = tokio::join!(first.prune(4000), second.prune(4000));
    let (a, b) = (a.unwrap(), b.unwrap());
    println!("instance 1 pruned {a:?}, instance 2 pruned {b:?}");
    assert_eq!(
        a.sessions + b.sessions,
        2000,
        "each dead session deleted once"
    );
    assert_eq!(a.rate_events + b.rate_events, 2000);
    assert_eq!(
        database.query_i64("SELECT count(*) FROM user_sessions"),
        50,
        "live sessions untouched"
    );
}

/// A config file with one confidential client that skips consent, for the
/// OpenID Connect tests of two instances.
fn oidc_config() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            "[[oidc.clients]]\nid = \"app\"\nname = \"App\"\nsecret = \"{}\"\n\
             redirect_uris = [\"{}\"]\nskip_consent = true\n",
            crate::oidc::SECRET,
            crate::oidc::APP_REDIRECT
        ),
    )
    .unwrap();
    file
}

/// Signs up on instance 0 and authorizes `app` there; the code.
async fn authorized_code(cluster: &Cluster, browser: &Client, email: &str) -> String {
    let page = cluster.start_sign_in(0, browser, email).await;
    let code = cluster.smtp.wait_for_mail_to(email).await.code();
    assert_eq!(
        cluster.verify(0, browser, &page, &code).await,
        StatusCode::SEE_OTHER
    );
    let path = crate::oidc::authorize_path("app", crate::oidc::APP_REDIRECT, &[]);
    let response = browser.get(cluster.url(0, &path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    crate::oidc::param(&crate::oidc::location(&response), "code").expect("a code")
}

async fn token_at(cluster: &Cluster, instance: usize, form: &[(&str, &str)]) -> reqwest::Response {
    Client::new()
        .post(cluster.url(instance, "/oidc/token"))
        .basic_auth("app", Some(crate::oidc::SECRET))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn a_code_issued_by_one_instance_is_exchanged_at_the_other_once() {
    let config = oidc_config();
    let path = config.path().to_str().unwrap().to_owned();
    let cluster = Cluster::start(&[("DOORCODE_CONFIG", &path)]).await;
    let browser = browser();
    let code = authorized_code(&cluster, &browser, "two@example.com").await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", crate::oidc::APP_REDIRECT),
    ];
    // Both instances at once: exactly one gets tokens.
    let (a, b) = tokio::join!(
        token_at(&cluster, 0, &exchange),
        token_at(&cluster, 1, &exchange)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    // Both instances published the same single key.
    let keys = |instance| {
        let url = cluster.url(instance, "/oidc/jwks");
        async move {
            Client::new()
                .get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(keys(0).await, keys(1).await);
    assert_eq!(
        cluster.database.query_i64("SELECT count(*) FROM oidc_keys"),
        1
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn two_parallel_refreshes_with_one_token_let_one_win_and_revoke_the_family() {
    let config = oidc_config();
    let path = config.path().to_str().unwrap().to_owned();
    let cluster = Cluster::start(&[("DOORCODE_CONFIG", &path)]).await;
    let browser = browser();
    let code = authorized_code(&cluster, &browser, "race@example.com").await;
    let tokens: serde_json::Value = token_at(
        &cluster,
        1,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", crate::oidc::APP_REDIRECT),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (a, b) = tokio::join!(token_at(&cluster, 0, &form), token_at(&cluster, 1, &form));
    let (winner, loser) = match a.status() {
        StatusCode::OK => (a, b),
        _ => (b, a),
    };
    assert_eq!(winner.status(), StatusCode::OK);
    assert_eq!(loser.status(), StatusCode::BAD_REQUEST);
    let won: serde_json::Value = winner.json().await.unwrap();
    // The reuse revoked the family: the winner's new tokens are dead too.
    let again = token_at(
        &cluster,
        0,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", won["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let userinfo = Client::new()
        .get(cluster.url(1, "/oidc/userinfo"))
        .bearer_auth(won["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
}

/// POSTs `body` as JSON to `path` on `instance`, with a bearer token if given.
async fn post_to(
    cluster: &Cluster,
    instance: usize,
    path: &str,
    bearer: Option<&str>,
    body: serde_json::Value,
) -> reqwest::Response {
    let mut request = Client::new().post(cluster.url(instance, path)).json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.unwrap()
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn a_passkey_ceremony_begun_on_one_instance_finishes_on_the_other_once() {
    use crate::passkeys::Authenticator;
    use serde_json::{Value, json};

    let cluster = Cluster::start(&[]).await;
    let json_of = |response: reqwest::Response| async move {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{status}: {body}");
        body
    };
    // Signed up by code across both instances, the passkey added across both:
    // options from 0, the answer to 1.
    let challenge = json_of(
        post_to(
            &cluster,
            0,
            "/api/v1/login",
            None,
            json!({"email": "ada@example.com"}),
        )
        .await,
    )
    .await;
    let code = cluster
        .smtp
        .wait_for_mail_to("ada@example.com")
        .await
        .code();
    let verify =
        json!({"challenge_id": challenge["challenge_id"], "code": code, "first_name": "Ada"});
    let signed_in = json_of(post_to(&cluster, 1, "/api/v1/login/verify", None, verify).await).await;
    let bearer = signed_in["token"].as_str().expect("signed in").to_owned();
    let mut key = Authenticator::new();
    let options = "/api/v1/passkeys/register/options";
    let begun = json_of(post_to(&cluster, 0, options, Some(&bearer), json!({})).await).await;
    let credential = key.create(&begun["options"], ORIGIN);
    let body = json!({"ceremony_id": begun["ceremony_id"], "credential": credential});
    let added = post_to(
        &cluster,
        1,
        "/api/v1/passkeys/register",
        Some(&bearer),
        body,
    )
    .await;
    assert_eq!(added.status(), StatusCode::CREATED);

    // A sign-in begun on 0 and answered at both at once: exactly one wins.
    let options = "/api/v1/passkeys/sign-in/options";
    let begun = json_of(post_to(&cluster, 0, options, None, json!({})).await).await;
    let answer = key.get(&begun["options"], ORIGIN);
    let body = json!({"ceremony_id": begun["ceremony_id"], "credential": answer});
    let tries = (0..2).map(|instance| {
        post_to(
            &cluster,
            instance,
            "/api/v1/passkeys/sign-in",
            None,
            body.clone(),
        )
    });
    let statuses: Vec<StatusCode> = join_all(tries)
        .await
        .into_iter()
        .map(|response| response.status())
        .collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(statuses.contains(&StatusCode::BAD_REQUEST), "{statuses:?}");
    assert_eq!(
        cluster
            .database
            .query_i64("SELECT count(*) FROM passkey_ceremonies"),
        0
    );
}

/// Two accounts, each asking on one instance for the same address and sending
/// the right code to the other instance at the same moment: exactly one gets it.
#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn two_accounts_adding_one_address_on_two_instances_one_wins() {
    use serde_json::{Value, json};

    let cluster = Cluster::start(&[]).await;
    let answer = |response: reqwest::Response| async move {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        (status, body)
    };
    let mut bearers = Vec::new();
    for (instance, email) in [(0, "ada@example.com"), (1, "grace@example.com")] {
        let (_, challenge) = answer(
            post_to(
                &cluster,
                instance,
                "/api/v1/login",
                None,
                json!({"email": email}),
            )
            .await,
        )
        .await;
        let code = cluster.smtp.wait_for_mail_to(email).await.code();
        let verify =
            json!({"challenge_id": challenge["challenge_id"], "code": code, "first_name": "X"});
        let (status, signed_in) =
            answer(post_to(&cluster, 1 - instance, "/api/v1/login/verify", None, verify).await)
                .await;
        assert_eq!(status, StatusCode::OK, "{signed_in}");
        bearers.push(signed_in["token"].as_str().unwrap().to_owned());
    }
    let shared = "shared@example.com";
    let mut answers = Vec::new();
    for (instance, bearer) in bearers.iter().enumerate() {
        let (status, asked) = answer(
            post_to(
                &cluster,
                instance,
                "/api/v1/emails",
                Some(bearer),
                json!({"email": shared}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{asked}");
        let code = cluster.smtp.wait_for_mail_to(shared).await.code();
        answers.push(json!({"challenge_id": asked["challenge_id"], "code": code}));
    }
    let (first, second) = tokio::join!(
        post_to(
            &cluster,
            1,
            "/api/v1/emails/verify",
            Some(&bearers[0]),
            answers[0].clone()
        ),
        post_to(
            &cluster,
            0,
            "/api/v1/emails/verify",
            Some(&bearers[1]),
            answers[1].clone()
        ),
    );
    let (first, second) = (answer(first).await, answer(second).await);
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::BAD_REQUEST],
        "{first:?} {second:?}"
    );
    let loser = if first.0 == StatusCode::OK {
        second.1
    } else {
        first.1
    };
    assert_eq!(loser["error"], "email_in_use", "{loser}");
    let owners = cluster.database.query_i64(&format!(
        "SELECT count(DISTINCT user_id) FROM user_emails WHERE email = '{shared}'"
    ));
    assert_eq!(owners, 1);
}

/// The copy is run once ahead of time and again just before the switch; a person
/// who added an address and made it primary in between arrives with it primary.
#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn a_second_copy_brings_a_new_primary_address() {
    let server = postgres_server().expect(NEEDS_POSTGRES);
    let mut app = spawn_app_with(|config| config.database.url = Secret::default()).await;
    let ada = browser();
    app.sign_up(&ada, "ada@example.com", "Ada", "").await;
    let to = fresh_postgres(&server);
    assert!(migrate(&app, &to).status.success());

    crate::emails::add(&app, &ada, "ada@work.example").await;
    let primary = [("email", "ada@work.example")];
    app.post(&ada, "/account/emails/primary", &primary).await;
    app.shut_down().await;
    let again = migrate(&app, &to);
    assert!(
        again.status.success(),
        "{}{}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
    let postgres = Database::Postgres(to);
    let primaries = |email: &str| {
        postgres.query_i64(&format!(
            "SELECT count(*) FROM user_emails WHERE email = '{email}' AND is_primary"
        ))
    };
    assert_eq!(primaries("ada@work.example"), 1);
    assert_eq!(primaries("ada@example.com"), 0);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set DOORCODE_TEST_POSTGRES_URL"]
async fn one_altcha_answer_sent_to_two_instances_at_once_passes_once() {
    use serde_json::{Value, json};

    let cluster = Cluster::start(&[
        ("DOORCODE_CAPTCHA_PROVIDER", "altcha"),
        ("DOORCODE_ALTCHA_MAX_NUMBER", "2000"),
    ])
    .await;
    let challenge: Value = Client::new()
        .get(cluster.url(0, "/login/altcha"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = crate::altcha::solve(&challenge);
    let body = |email: &str| json!({"email": email, "turnstile_token": answer});
    let (first, second) = tokio::join!(
        post_to(&cluster, 0, "/api/v1/login", None, body("ada@example.com")),
        post_to(
            &cluster,
            1,
            "/api/v1/login",
            None,
            body("grace@example.com")
        ),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    // The instance that did not hand out the challenge still checks it.
    let challenge: Value = Client::new()
        .get(cluster.url(0, "/login/altcha"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = crate::altcha::solve(&challenge);
    let response = post_to(
        &cluster,
        1,
        "/api/v1/login",
        None,
        json!({"email": "bob@example.com", "turnstile_token": answer}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}
