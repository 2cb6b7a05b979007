//! The pages in German, in a Chromium set to German as a person in Germany has it
//! (`--lang=de-DE`, `Accept-Language: de-DE,de`): every page says it is German, reads
//! German, shows times the German way, and passes axe-core like the English ones.

use super::email::show_email;
use super::journeys::{ask_for_code, wrong};
use super::{Browser, Options, SIGN_OUT, VERIFY, captcha_off};
use crate::helpers::spawn_app_with;

const GERMAN: Options = Options {
    javascript_off: false,
    dark: false,
    locale: Some("de-DE"),
};

impl Browser {
    /// `<html lang="de">` and the page's heading `h1`.
    async fn assert_german(&self, h1: &str) {
        let lang = self
            .script("return document.documentElement.lang;", vec![])
            .await;
        assert_eq!(lang, "de", "<html lang> on {}", self.path().await);
        assert_eq!(self.text("h1").await, h1);
    }
}

/// `22:37` or `9:05`: hours and minutes on a 24-hour clock, no `UTC` (the server's
/// text), no `AM`/`PM` (English) — what app.js makes of a time on a German page.
fn is_german_clock(text: &str) -> bool {
    let Some((hours, minutes)) = text.split_once(':') else {
        return false;
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    numeric(hours)
        && hours.len() <= 2
        && hours.parse::<u8>().is_ok_and(|h| h < 24)
        && numeric(minutes)
        && minutes.len() == 2
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn a_german_browser_gets_the_whole_sign_up_and_sign_out_in_german() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, GERMAN).await;

    browser.goto("/login").await;
    browser.assert_german("Anmelden oder registrieren").await;
    assert_eq!(browser.text("label[for=email]").await, "E-Mail-Adresse");
    browser.capture("login-de").await;

    ask_for_code(&browser, "erika@example.de").await;
    browser.assert_german("Schau in dein Postfach").await;
    // The expiry, in the reader's time zone as Germans write it: „Er läuft um 22:37 ab“.
    let expiry = browser.text(".lead time[data-local-time]").await;
    assert!(is_german_clock(&expiry), "expiry shown as {expiry:?}");
    let lead = browser.text(".lead").await;
    assert!(
        lead.contains(&format!("Er läuft um {expiry} ab (in 10 Minuten).")),
        "{lead}"
    );
    browser.capture("code-de").await;

    let mail = app.smtp.wait_for_mail_to("erika@example.de").await;
    let code = mail.code();
    assert_eq!(mail.subject, format!("{code} ist dein doorcode-Code"));
    browser.fill("code", wrong(&code)).await;
    browser.fill("first_name", "Erika").await;
    browser.submit(VERIFY).await;
    assert_eq!(
        browser.alerts().await,
        "Dieser Code stimmt nicht. Du hast noch 4 Versuche."
    );
    browser.capture("code-wrong-de").await;

    browser.fill("code", &code).await;
    browser.fill("first_name", "Erika").await;
    browser.fill("last_name", "Mustermann").await;
    browser.submit(VERIFY).await;
    browser.wait_for_path("/").await;
    browser.assert_german("Hallo, Erika").await;
    // When this device signed in, the German way: „22. Nov. 2026, 22:12“.
    let signed_in = browser.text(".sessions time[data-local-time]").await;
    let (date, clock) = signed_in
        .rsplit_once(", ")
        .unwrap_or_else(|| panic!("no date and time in {signed_in:?}"));
    assert!(
        date.starts_with(|c: char| c.is_ascii_digit()) && date.contains(". "),
        "date shown as {signed_in:?}"
    );
    assert!(is_german_clock(clock), "time shown as {signed_in:?}");
    let hint = browser.text(".sessions .hint").await;
    assert!(
        hint.starts_with(&format!("Angemeldet am {signed_in} · zuletzt aktiv")),
        "{hint}"
    );
    browser.capture("home-de").await;

    browser.submit(SIGN_OUT).await;
    browser.wait_for_path("/login").await;
    assert_eq!(
        browser.text(".banner.notice[role=status]").await,
        "Du bist abgemeldet."
    );
    browser.capture("signed-out-de").await;
    browser.goto("/login").await;
    assert!(
        !browser.has(".banner.notice").await,
        "the notice shows once"
    );

    show_email(&browser, &mail, "email-de.html", "email-de").await;
    browser.close().await;
}
