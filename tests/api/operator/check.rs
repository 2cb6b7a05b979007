//! `doorcode check`, against the test SMTP server and the siteverify stand-in.

use std::path::Path;

use super::{Ran, doorcode};
use crate::smtp::{SmtpMode, TestSmtp};
use crate::turnstile::FakeSiteverify;

/// `check` against `smtp_url` and the fake siteverify with `secret`.
async fn check(dir: &Path, smtp_url: &str, siteverify: &FakeSiteverify, secret: &str) -> Ran {
    let db = dir.join("doorcode.db").display().to_string();
    let verify_url = siteverify.url();
    let env = [
        ("DOORCODE_DATABASE_PATH", db.as_str()),
        ("DOORCODE_EMAIL_SMTP_URL", smtp_url),
        ("DOORCODE_TURNSTILE_SITE_KEY", "1x00000000000000000000AA"),
        ("DOORCODE_TURNSTILE_SECRET_KEY", secret),
        ("DOORCODE_TURNSTILE_VERIFY_URL", verify_url.as_str()),
    ];
    doorcode(dir, &env, &["check"]).await
}

/// schema.sql is version 1; each numbered file in migrations/ adds one.
fn sqlite_schema_version() -> usize {
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let steps = std::fs::read_dir(migrations)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.ends_with(".sql") && name.starts_with(|c: char| c.is_ascii_digit())
        })
        .count();
    1 + steps
}

/// The line `check` printed for `name` (`smtp connect`, `turnstile` …).
pub(super) fn line<'a>(ran: &'a Ran, name: &str) -> &'a str {
    let found = ran.stdout.lines().find(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with("  "))
    });
    found.unwrap_or_else(|| panic!("no `{name}` line:\n{}", ran.stdout))
}

#[tokio::test]
async fn check_passes_with_a_working_mail_server_captcha_secret_and_database() {
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    let dir = tempfile::tempdir().unwrap();
    let ran = check(
        dir.path(),
        &smtp.url(),
        &siteverify,
        FakeSiteverify::PASS_SECRET,
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let connect = line(&ran, "smtp connect");
    assert!(
        connect.contains(" ok ") && connect.contains("220 localhost ESMTP doorcode TestSmtp"),
        "the server's greeting: {connect}"
    );
    let ehlo = line(&ran, "smtp EHLO");
    assert!(
        ehlo.contains(" ok ") && ehlo.contains("AUTH PLAIN LOGIN"),
        "{ehlo}"
    );
    assert!(line(&ran, "smtp STARTTLS").contains(" skipped "));
    assert!(line(&ran, "smtp AUTH").contains(" skipped "));
    assert!(line(&ran, "turnstile").contains(" ok "));
    assert!(line(&ran, "files").contains(" ok "));
    let database = line(&ran, "database");
    let expected = format!(
        "schema version {}, 0 users, 0 live sessions",
        sqlite_schema_version()
    );
    assert!(
        database.contains(" ok ") && database.contains(&expected),
        "{database}"
    );
    assert!(
        ran.stdout.ends_with("all 8 checks passed\n"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        siteverify.requests()[0].response.as_deref(),
        Some(FakeSiteverify::DUMMY_TOKEN)
    );
}

#[tokio::test]
async fn check_fails_naming_turnstile_when_siteverify_does_not_know_the_secret() {
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    let dir = tempfile::tempdir().unwrap();
    let ran = check(dir.path(), &smtp.url(), &siteverify, "bogus").await;
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    let turnstile = line(&ran, "turnstile");
    assert!(
        turnstile.contains("FAILED") && turnstile.contains("invalid-input-secret"),
        "{turnstile}"
    );
    assert!(ran.failure_line().contains("turnstile"), "{}", ran.stderr);
    assert!(
        line(&ran, "database").contains(" ok "),
        "the other checks still run"
    );
}

#[tokio::test]
async fn check_fails_at_the_connect_step_when_the_mail_server_is_down() {
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    smtp.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let ran = check(
        dir.path(),
        &smtp.url(),
        &siteverify,
        FakeSiteverify::PASS_SECRET,
    )
    .await;
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    let connect = line(&ran, "smtp connect");
    assert!(
        connect.contains("FAILED") && connect.contains("cannot connect"),
        "{connect}"
    );
    assert!(
        !ran.stdout.contains("smtp EHLO"),
        "no step after a failed connect"
    );
    assert!(
        ran.failure_line().contains("smtp connect"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn check_logs_in_with_the_credentials_in_the_smtp_url() {
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "smtp://mailer%40example.com:s3cret@127.0.0.1:{}",
        smtp.port()
    );
    let ran = check(dir.path(), &url, &siteverify, FakeSiteverify::PASS_SECRET).await;
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let auth = line(&ran, "smtp AUTH");
    assert!(
        auth.contains(" ok ") && auth.contains("as mailer@example.com: 235"),
        "{auth}"
    );
    assert!(!ran.stdout.contains("s3cret"), "the password was printed");
}

#[tokio::test]
async fn check_fails_at_starttls_when_the_url_requires_it_and_the_server_has_none() {
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://127.0.0.1:{}?tls=required", smtp.port());
    let ran = check(dir.path(), &url, &siteverify, FakeSiteverify::PASS_SECRET).await;
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    assert!(line(&ran, "smtp EHLO").contains(" ok "));
    let starttls = line(&ran, "smtp STARTTLS");
    assert!(
        starttls.contains("FAILED") && starttls.contains("does not offer STARTTLS"),
        "{starttls}"
    );
    assert!(
        ran.failure_line().contains("smtp STARTTLS"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn check_fails_at_ehlo_when_the_server_hangs_up_after_its_greeting() {
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    smtp.set_mode(SmtpMode::DropAfterGreeting);
    let dir = tempfile::tempdir().unwrap();
    let ran = check(
        dir.path(),
        &smtp.url(),
        &siteverify,
        FakeSiteverify::PASS_SECRET,
    )
    .await;
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    assert!(
        line(&ran, "smtp connect").contains(" ok "),
        "{}",
        ran.stdout
    );
    let ehlo = line(&ran, "smtp EHLO");
    assert!(
        ehlo.contains("FAILED") && ehlo.contains("hung up"),
        "{ehlo}"
    );
    assert!(ran.failure_line().contains("smtp EHLO"), "{}", ran.stderr);
}

/// A server secret or a config file with a password that other users of the
/// machine can read is a failed check, naming the file and the fix.
#[cfg(unix)]
#[tokio::test]
async fn check_fails_when_others_can_read_a_file_holding_a_secret() {
    use std::os::unix::fs::PermissionsExt;
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.key");
    std::fs::write(&secret, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("doorcode.toml");
    std::fs::write(
        &config,
        "[email]\nsmtp_url = \"smtp://user:hunter2@127.0.0.1:1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o664)).unwrap();

    let db = dir.path().join("doorcode.db").display().to_string();
    let config_path = config.display().to_string();
    let env = [
        ("DOORCODE_DATABASE_PATH", db.as_str()),
        ("DOORCODE_CONFIG", config_path.as_str()),
        ("DOORCODE_EMAIL_SMTP_URL", &smtp.url()),
    ];
    let ran = doorcode(dir.path(), &env, &["check"]).await;
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
    let files = line(&ran, "files");
    assert!(files.contains("FAILED"), "{files}");
    assert!(
        files.contains("secret.key") && files.contains("mode 644"),
        "{files}"
    );
    assert!(
        files.contains("doorcode.toml holds email.smtp_url"),
        "{files}"
    );
    assert!(files.contains("chmod 600"), "{files}");
    assert!(!ran.stdout.contains("hunter2"), "the password is printed");
    let _ = siteverify;

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ran = doorcode(dir.path(), &env, &["check"]).await;
    assert!(line(&ran, "files").contains(" ok "), "{}", ran.stdout);
}

/// A relay that offers no STARTTLS (or an attacker who strips the offer) used to
/// get the password in clear text with `tls=opportunistic` or a plain `smtp://`
/// URL. Such a URL to another machine is now refused, naming the fix; on this
/// machine the password never crosses a network.
#[tokio::test]
async fn a_password_that_could_travel_unencrypted_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "smtp://mailer:s3cret@mail.example.com:587?tls=opportunistic",
        "smtp://mailer:s3cret@mail.example.com:25",
    ] {
        let ran = doorcode(dir.path(), &[("DOORCODE_EMAIL_SMTP_URL", url)], &["check"]).await;
        assert_eq!(ran.code, Some(2), "{url}: {}{}", ran.stdout, ran.stderr);
        assert!(
            ran.stderr.contains("email.smtp_url")
                && ran.stderr.contains("unencrypted")
                && ran.stderr.contains("tls=required"),
            "{url}: {}",
            ran.stderr
        );
        assert!(!ran.stderr.contains("s3cret"), "the password was printed");
        let served = doorcode(dir.path(), &[("DOORCODE_EMAIL_SMTP_URL", url)], &["serve"]).await;
        assert_eq!(served.code, Some(2), "the service does not start either");
    }
}

/// Real mail going out with no bot check lets anyone have codes mailed to any
/// address: `check` calls that a failure, not a skipped step.
#[tokio::test]
async fn check_fails_an_open_sender_with_mail_on_and_captcha_off() {
    let smtp = TestSmtp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorcode.db").display().to_string();
    let env = [
        ("DOORCODE_DATABASE_PATH", db.as_str()),
        ("DOORCODE_EMAIL_SMTP_URL", &smtp.url()),
    ];
    let ran = doorcode(dir.path(), &env, &["check"]).await;
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
    let turnstile = line(&ran, "turnstile");
    assert!(
        turnstile.contains("FAILED") && turnstile.contains("turnstile.site_key"),
        "{turnstile}"
    );
    // Dev mode (mail printed to the log) with CAPTCHA off is still fine.
    let dev = doorcode(
        dir.path(),
        &[("DOORCODE_DATABASE_PATH", db.as_str())],
        &["check"],
    )
    .await;
    assert!(
        line(&dev, "turnstile").contains(" skipped "),
        "{}",
        dev.stdout
    );
}

#[tokio::test]
async fn check_tries_the_hcaptcha_secret_and_names_a_mismatched_site_key() {
    let (smtp, siteverify) = (TestSmtp::start().await, FakeSiteverify::start().await);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorcode.db").display().to_string();
    let (url, smtp_url) = (siteverify.hcaptcha_url(), smtp.url());
    let run = |site_key: &'static str| {
        let env = [
            ("DOORCODE_DATABASE_PATH", db.clone()),
            ("DOORCODE_EMAIL_SMTP_URL", smtp_url.clone()),
            ("DOORCODE_CAPTCHA_PROVIDER", "hcaptcha".to_owned()),
            ("DOORCODE_HCAPTCHA_SITE_KEY", site_key.to_owned()),
            (
                "DOORCODE_HCAPTCHA_SECRET_KEY",
                FakeSiteverify::HCAPTCHA_SECRET.to_owned(),
            ),
            ("DOORCODE_HCAPTCHA_VERIFY_URL", url.clone()),
        ];
        let dir = dir.path().to_owned();
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            doorcode(&dir, &env, &["check"]).await
        }
    };
    let ran = run(FakeSiteverify::HCAPTCHA_SITE_KEY).await;
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let hcaptcha = line(&ran, "hcaptcha");
    assert!(
        hcaptcha.contains(" ok ") && hcaptcha.contains("accepts hcaptcha.secret_key"),
        "{hcaptcha}"
    );
    assert!(!ran.stdout.contains("turnstile"), "{}", ran.stdout);

    let ran = run(FakeSiteverify::HCAPTCHA_TEST_SITE_KEY).await;
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    let hcaptcha = line(&ran, "hcaptcha");
    assert!(
        hcaptcha.contains("FAILED") && hcaptcha.contains("sitekey-secret-mismatch"),
        "{hcaptcha}"
    );
}

#[tokio::test]
async fn check_reports_altcha_as_self_hosted_with_its_difficulty() {
    let smtp = TestSmtp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorcode.db").display().to_string();
    let smtp_url = smtp.url();
    let env = [
        ("DOORCODE_DATABASE_PATH", db.as_str()),
        ("DOORCODE_EMAIL_SMTP_URL", smtp_url.as_str()),
        ("DOORCODE_CAPTCHA_PROVIDER", "altcha"),
        ("DOORCODE_ALTCHA_MAX_NUMBER", "50000"),
    ];
    let ran = doorcode(dir.path(), &env, &["check"]).await;
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let altcha = line(&ran, "altcha");
    assert!(
        altcha.contains(" ok ")
            && altcha.contains("up to 50000 hashes")
            && altcha.contains("600 s"),
        "{altcha}"
    );
}
