//! The code email as people see it: its HTML part, as the test SMTP server received
//! it, opened in Chromium from a file.

use serde_json::Value;

use super::{Browser, Options, e2e_dir};
use crate::helpers::{browser as http_client, spawn_app};
use crate::smtp::ReceivedMail;

/// Facts about the email page, gathered in the page.
const INSPECT: &str = r#"
const code = arguments[0];
const text = document.body.innerText;
// Elements holding the code as one unbroken text node (not split by markup).
const holders = [...document.body.querySelectorAll('*')].filter((e) =>
  e.childNodes.length === 1 && e.firstChild.nodeType === Node.TEXT_NODE &&
  e.firstChild.data.trim() === code).map((e) => e.tagName.toLowerCase());
const remote = [...document.querySelectorAll('[src], [background], [poster], link[href], object, embed, iframe')]
  .map((e) => e.outerHTML.slice(0, 160));
const pixels = [...document.images].filter((i) =>
  i.width <= 1 || i.height <= 1 || /^(https?:)?\/\//i.test(i.getAttribute('src') || ''))
  .map((i) => i.outerHTML.slice(0, 160));
const cssUrls = document.documentElement.outerHTML.match(/url\(\s*['"]?(https?:)?\/\//gi) || [];
return {
  runs: text.match(/\d{6,}/g) || [],
  holders, remote, pixels, cssUrls,
  scripts: document.scripts.length,
  loaded: performance.getEntriesByType('resource').map((r) => r.name),
};
"#;

/// Writes the email's HTML part to `target/e2e/<file>`, opens it, checks it and
/// captures it as `capture`.
pub async fn show_email(browser: &Browser, mail: &ReceivedMail, file: &str, capture: &str) {
    let code = mail.code();
    let path = e2e_dir().join(file);
    std::fs::write(&path, &mail.html).expect("write the email's HTML part");
    let url = url::Url::from_file_path(&path)
        .expect("an absolute path")
        .to_string();
    browser
        .client
        .goto(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));

    let facts = browser
        .script(INSPECT, vec![Value::from(code.as_str())])
        .await;
    assert_eq!(
        facts["runs"],
        serde_json::json!([code]),
        "the code should be the one run of digits in the email's text"
    );
    assert!(
        facts["holders"].as_array().is_some_and(|h| !h.is_empty()),
        "no element holds the code {code} as one piece of text: {}",
        mail.html
    );
    for key in ["remote", "pixels", "cssUrls", "loaded"] {
        assert_eq!(
            facts[key],
            serde_json::json!([]),
            "the email loads or links something ({key})"
        );
    }
    assert_eq!(facts["scripts"], 0, "scripts in an email");
    browser.capture(capture).await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn the_code_email_shows_the_code_once_and_loads_nothing_from_elsewhere() {
    let app = spawn_app().await;
    app.start_sign_in(&http_client(), "mail@example.com").await;
    let mail = app.smtp.wait_for_mail_to("mail@example.com").await;
    let code = mail.code();

    // The plain-text part: the code, and how long it lives.
    let minutes = app.config.code.ttl_secs.get() / 60;
    assert!(mail.text.contains(&code), "no code in the text part");
    assert!(
        mail.text.contains(&format!("{minutes} minutes")),
        "the text part does not say the code lives {minutes} minutes:\n{}",
        mail.text
    );
    assert!(
        mail.html.contains(&format!("{minutes} minutes")),
        "the HTML part does not say the code lives {minutes} minutes"
    );
    std::fs::write(e2e_dir().join("email.txt"), &mail.text).expect("write the text part");

    let browser = Browser::open(&app, Options::default()).await;
    show_email(&browser, &mail, "email.html", "email-html").await;
    browser.close().await;
}
