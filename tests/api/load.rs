//! Load: many clients at once against one instance, and a flood that housekeeping
//! must clean up. Ignored by default (they run for tens of seconds); `.ci/run` runs
//! them with `cargo test --test api -- --ignored`.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doorcode::config::Secret;
use doorcode::storage::Storage;

use crate::helpers::{CodePage, browser, spawn_app_with};

/// Clients, and seconds they run (`DOORCODE_LOAD_SECS` shortens it for a quick look).
const CLIENTS: usize = 64;

fn load_secs() -> u64 {
    std::env::var("DOORCODE_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "runs for 30 s; run by .ci/run"]
async fn sixty_four_clients_for_thirty_seconds_get_no_server_error() {
    let app = Arc::new(
        spawn_app_with(|c| {
            c.rate_limit.ip_per_hour = NonZeroU32::new(u32::MAX).unwrap();
            c.rate_limit.failures_per_email_per_hour = NonZeroU32::new(u32::MAX).unwrap();
        })
        .await,
    );
    let statuses = Arc::new(Mutex::new(BTreeMap::<(&'static str, u16), u64>::new()));
    let deadline = Instant::now() + Duration::from_secs(load_secs());
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (app, statuses) = (app.clone(), statuses.clone());
        clients.push(tokio::spawn(async move {
            let count = |step: &'static str, status: reqwest::StatusCode| {
                *statuses
                    .lock()
                    .unwrap()
                    .entry((step, status.as_u16()))
                    .or_default() += 1;
            };
            let mut round = 0;
            while Instant::now() < deadline {
                let person = browser();
                let email = format!("load{client}-{round}@example.com");
                let response = app.post_login(&person, &email).await;
                count("start", response.status());
                if !response.status().is_success() {
                    round += 1;
                    continue;
                }
                let page = CodePage::from_html(&response.text().await.unwrap());
                let code = app.code_for(&email).await;
                if round % 4 == 1 {
                    let wrong = if code == "000000" { "111111" } else { "000000" };
                    count(
                        "verify (wrong)",
                        app.verify(&person, &page, wrong, Some(("L", "")))
                            .await
                            .status(),
                    );
                }
                count(
                    "verify",
                    app.verify(&person, &page, &code, Some(("Load", "Test")))
                        .await
                        .status(),
                );
                count("home", app.get(&person, "/").await.status());
                count("logout", app.post(&person, "/logout", &[]).await.status());
                round += 1;
            }
        }));
    }
    for client in clients {
        client.await.expect("a client failed");
    }
    let statuses = statuses.lock().unwrap().clone();
    let total: u64 = statuses.values().sum();
    println!(
        "{total} requests from {CLIENTS} clients in {} s:",
        load_secs()
    );
    for ((step, status), n) in &statuses {
        println!("  {step:<15} {status}: {n}");
    }
    let server_errors: u64 = statuses
        .iter()
        .filter(|((_, s), _)| *s >= 500)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(server_errors, 0, "5xx answers under load: {statuses:?}");
    for (step, status) in statuses.keys() {
        let expected = match *step {
            "start" | "home" => 200,
            "verify" | "logout" => 303,
            _ => 400,
        };
        assert_eq!(*status, expected, "{step} answered {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "sends 10,000 sign-in requests; run by .ci/run"]
async fn a_flood_of_ten_thousand_attempts_leaves_no_rows_an_hour_later() {
    const ATTEMPTS: usize = 10_000;
    let app = Arc::new(
        spawn_app_with(|c| {
            c.rate_limit.ip_per_hour = NonZeroU32::new(u32::MAX).unwrap();
            c.turnstile.site_key.clear();
            c.turnstile.secret_key = Secret::default();
        })
        .await,
    );
    let mut senders = Vec::new();
    for lane in 0..32 {
        let app = app.clone();
        senders.push(tokio::spawn(async move {
            let client = browser();
            for n in (lane..ATTEMPTS).step_by(32) {
                let response = app
                    .post(
                        &client,
                        "/login",
                        &[("email", &format!("flood{n}@example.com"))],
                    )
                    .await;
                assert_eq!(response.status(), reqwest::StatusCode::OK);
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    let tables = [
        "login_challenges",
        "login_codes",
        "rate_events",
        "outbox",
        "users",
        "user_sessions",
    ];
    let count_all = || tables.map(|t| (t, app.count_rows(t)));
    println!("after {ATTEMPTS} attempts: {:?}", count_all());
    assert_eq!(app.count_rows("login_challenges"), ATTEMPTS as i64);

    // Let the queue drain, then an hour passes and housekeeping runs.
    let storage = Storage::open(&app.config.database.target()).await.unwrap();
    let drain_deadline = Instant::now() + Duration::from_secs(240);
    while storage.mail_queue_depth().await.unwrap() > 0 {
        assert!(
            Instant::now() < drain_deadline,
            "the mail queue did not drain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.clock.advance(3600 + 1);
    let pruned = storage.prune(app.clock.now()).await.unwrap();
    println!("pruned: {pruned:?}");
    let after = count_all();
    println!("an hour later: {after:?}");
    for (table, rows) in after {
        assert_eq!(rows, 0, "{table} still has {rows} rows");
    }
    assert_eq!(
        app.smtp.all_mail().len(),
        ATTEMPTS,
        "every attempt got its one email"
    );
}
