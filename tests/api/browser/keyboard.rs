//! The login page with the keyboard alone: Tab reaches the email field and the button,
//! each shows where the focus is, and Enter sends the form.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::Value;

use super::{Browser, Options, captcha_off};
use crate::helpers::spawn_app_with;

/// What the focused element is and how its focus is drawn.
const FOCUSED: &str = r#"
const e = document.activeElement;
const s = getComputedStyle(e);
return {
  tag: e.tagName.toLowerCase(), name: e.getAttribute('name') || '', type: e.getAttribute('type') || '',
  outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth, boxShadow: s.boxShadow,
};
"#;

impl Browser {
    /// Presses and releases each key in turn, as a keyboard does.
    async fn keys(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("press {keys:?}: {e}"));
    }

    async fn focused(&self) -> Value {
        self.script(FOCUSED, vec![]).await
    }

    /// Tabs until the focused element matches `wanted` (at most 10 presses); returns it.
    async fn tab_to(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let mut path = Vec::new();
        for _ in 0..10 {
            self.keys(&char::from(Key::Tab).to_string()).await;
            let focused = self.focused().await;
            if wanted(&focused) {
                return focused;
            }
            path.push(format!("{}[name={}]", focused["tag"], focused["name"]));
        }
        panic!("Tab never reached {what}; it went {}", path.join(" → "));
    }
}

/// The focus is drawn: an outline or a box shadow.
fn assert_focus_visible(what: &str, focused: &Value) {
    let outline = focused["outlineStyle"] != "none" && focused["outlineWidth"] != "0px";
    let shadow = focused["boxShadow"] != "none";
    assert!(outline || shadow, "no visible focus on {what}: {focused}");
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored"]
async fn the_login_page_works_with_the_keyboard_alone_and_shows_the_focus() {
    let app = spawn_app_with(captcha_off).await;
    let browser = Browser::open(&app, Options::default()).await;
    browser.goto("/login").await;
    browser.find("input[name=email]").await;

    // Start from the top of the page, as after arriving with the keyboard (the field's
    // autofocus would otherwise have it already).
    browser
        .script(
            "document.activeElement.blur();\n\
             document.body.setAttribute('tabindex', '-1');\n\
             document.body.focus();\n\
             document.body.removeAttribute('tabindex');\n\
             return null;",
            vec![],
        )
        .await;

    let email = browser
        .tab_to("the email field", |f| f["name"] == "email")
        .await;
    assert_focus_visible("the email field", &email);
    browser.keys("keys@example.com").await;

    let button = browser
        .tab_to("the submit button", |f| {
            f["tag"] == "button" && f["type"] == "submit"
        })
        .await;
    assert_focus_visible("the submit button", &button);
    browser.capture("login-focus").await;

    browser.keys(&char::from(Key::Enter).to_string()).await;
    browser.find("input[name=code]").await;
    assert!(browser.body_text().await.contains("keys@example.com"));
    browser.close().await;
}
