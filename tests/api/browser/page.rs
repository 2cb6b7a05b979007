//! What a test does on a page: go, type, click and wait for the next page, read
//! alerts, and `capture` (screenshots at both widths plus the axe check).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use fantoccini::Locator;
use fantoccini::elements::Element;
use serde_json::{Value, json};

use super::{Browser, DESKTOP, PHONE, axe, e2e_dir};
use crate::helpers::BASE_URL;

/// How long a page may take to appear on a busy CI machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `check` until it gives `Ok`, failing the test with `what` and the last
/// `Err` (what was seen instead) after `PATIENCE`.
pub async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("gave up after {PATIENCE:?} waiting for {what}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

impl Browser {
    pub async fn goto(&self, path: &str) {
        let url = format!("{BASE_URL}{path}");
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path of the page shown (`/login`, `/`).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        url.path().to_owned()
    }

    /// Waits until the page's path is `path` (after redirects).
    pub async fn wait_for_path(&self, path: &str) {
        until(&format!("the page {path}"), || async {
            let now = self.path().await;
            if now == path { Ok(()) } else { Err(now) }
        })
        .await
    }

    /// Waits for an element matching `css` and returns it.
    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => panic!("no element {css} on {}: {e}", self.describe().await),
        }
    }

    pub async fn has(&self, css: &str) -> bool {
        !self.all(css).await.is_empty()
    }

    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    /// Types into the input named `name`, replacing what it held.
    pub async fn fill(&self, name: &str, text: &str) {
        let input = self.find(&format!("input[name=\"{name}\"]")).await;
        input.clear().await.expect("clear input");
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {name}: {e}"));
    }

    /// Clicks `css` (a submit button) and waits until the next page has loaded.
    pub async fn submit(&self, css: &str) {
        let button = self.find(css).await;
        // A mark on the old document: gone once a new one has replaced it. (WebDriver's
        // scripts run even where the page's own JavaScript is turned off.)
        self.script("window.__doorcodeOldPage = true; return null;", vec![])
            .await;
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        until(&format!("the page after clicking {css}"), || async {
            let state = self
                .client
                .execute(
                    "return window.__doorcodeOldPage === true ? 'old' : document.readyState;",
                    vec![],
                )
                .await
                .map_err(|e| e.to_string())?;
            if state == "complete" {
                Ok(())
            } else {
                Err(state.to_string())
            }
        })
        .await;
    }

    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| {
            let start: String = script.chars().take(200).collect();
            panic!("script failed: {e}\n{start}")
        })
    }

    /// The text of an element (as rendered).
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// The page's alerts (`role=alert`), joined; empty when there are none.
    pub async fn alerts(&self) -> String {
        let mut texts = Vec::new();
        for alert in self.all("[role=alert]").await {
            texts.push(alert.text().await.expect("alert text"));
        }
        texts.join(" | ")
    }

    /// The visible text of the whole page.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    async fn describe(&self) -> String {
        let url = self.client.current_url().await.map(|u| u.to_string());
        let text = self.client.find(Locator::Css("body")).await;
        let text = match text {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        format!("{} — {text:?}", url.unwrap_or_default())
    }

    /// Screenshots of the page shown, at the phone and the desktop width, named
    /// `NAME-phone.png` / `NAME-desktop.png` (`NAME-dark-…` in a dark browser), and an
    /// axe-core check at each width. Fails on a serious or critical violation.
    pub async fn capture(&self, name: &str) {
        let name = if self.options.dark {
            format!("{name}-dark")
        } else {
            name.to_owned()
        };
        claim(&name);
        let mut problems = Vec::new();
        for viewport in [PHONE, DESKTOP] {
            self.set_viewport(viewport).await;
            let shot = format!("{name}-{}", viewport.name);
            let png = self.screenshot().await;
            let path = e2e_dir().join(format!("{shot}.png"));
            std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            let url = self.client.current_url().await.expect("current URL");
            let result = axe::check(self, &shot, url.as_str()).await;
            if let Some(problem) = result {
                problems.push(problem);
            }
        }
        self.set_viewport(DESKTOP).await;
        assert!(
            problems.is_empty(),
            "axe-core found serious or critical problems on {name}:\n{}",
            problems.join("\n")
        );
    }

    /// The whole page (not only the first screenful), through DevTools.
    async fn screenshot(&self) -> Vec<u8> {
        let size = self
            .script(
                "return [window.innerWidth, Math.max(window.innerHeight, \
                 document.documentElement.scrollHeight)];",
                vec![],
            )
            .await;
        let (width, height) = (size[0].as_f64(), size[1].as_f64());
        let params = json!({
            "format": "png",
            "captureBeyondViewport": true,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        });
        let shot = self.cdp("Page.captureScreenshot", params).await;
        let data = shot["data"].as_str().expect("screenshot data");
        B64.decode(data).expect("screenshot is base64")
    }
}

/// Each capture name once per run: two tests writing the same file would race.
fn claim(name: &str) {
    static TAKEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let fresh = TAKEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_owned());
    assert!(fresh, "two captures are named {name}");
}
