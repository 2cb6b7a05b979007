//! axe-core in the page: inject `axe.min.js`, run it, keep the counts for
//! `target/e2e/axe-report.txt`, and describe serious or critical violations.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::{Browser, e2e_dir};

const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/browser/node_modules/axe-core/axe.min.js"
);

const IMPACTS: [&str; 4] = ["critical", "serious", "moderate", "minor"];

fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        std::fs::read_to_string(AXE).unwrap_or_else(|e| {
            panic!("cannot read {AXE} ({e}): run `npm ci --prefix tests/browser` first")
        })
    })
}

/// Runs axe on the page shown and records the result under `name`. Returns the
/// serious and critical violations, described, if there are any.
pub async fn check(browser: &Browser, name: &str, url: &str) -> Option<String> {
    // axe waits on timers, which do not fire while scripts are off: lift that for the
    // check only. (Scripts run through WebDriver ignore the page's CSP.)
    if browser.options.javascript_off {
        browser.set_scripts(true).await;
    }
    let injected = browser
        .script(
            &format!("{}\nreturn typeof window.axe;", axe_source()),
            vec![],
        )
        .await;
    assert_eq!(injected, "object", "axe-core did not load into {url}");
    let result = browser
        .client
        .execute_async(RUN, vec![])
        .await
        .unwrap_or_else(|e| panic!("axe.run on {url}: {e}"));
    if browser.options.javascript_off {
        browser.set_scripts(false).await;
    }
    if let Some(error) = result.get("error") {
        panic!("axe.run on {url} failed: {error}");
    }
    let violations = result["violations"].as_array().cloned().unwrap_or_default();
    let mut counts: BTreeMap<&str, usize> = IMPACTS.iter().map(|i| (*i, 0)).collect();
    for violation in &violations {
        let impact = violation["impact"].as_str().unwrap_or("minor");
        *counts.entry(impact).or_default() += 1;
    }
    let mut line = String::new();
    for impact in IMPACTS {
        let _ = write!(line, "{impact}={} ", counts[impact]);
    }
    let passes = result["passes"].as_u64().unwrap_or_default();
    let _ = write!(line, "passes={passes:<3} {url}");
    for violation in &violations {
        let _ = write!(
            line,
            "\n    {} {}: {}",
            violation["impact"].as_str().unwrap_or("?"),
            violation["id"].as_str().unwrap_or("?"),
            violation["help"].as_str().unwrap_or("?")
        );
    }
    record(name, &line, result["version"].as_str().unwrap_or("?"));

    let grave: Vec<String> = violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(describe)
        .collect();
    (!grave.is_empty()).then(|| format!("{name} ({url}):\n{}", grave.join("\n")))
}

/// The promise's result, trimmed to what the report and the failure message need.
const RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document).then(
  (r) => done({
    version: r.testEngine.version,
    passes: r.passes.length,
    violations: r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, summary: n.failureSummary })),
    })),
  }),
  (e) => done({ error: String(e) }),
);
"#;

fn describe(violation: &Value) -> String {
    let mut text = format!(
        "  [{}] {}: {} ({})",
        violation["impact"].as_str().unwrap_or("?"),
        violation["id"].as_str().unwrap_or("?"),
        violation["help"].as_str().unwrap_or("?"),
        violation["helpUrl"].as_str().unwrap_or("")
    );
    for node in violation["nodes"].as_array().into_iter().flatten() {
        let _ = write!(
            text,
            "\n      at {} {}\n        {}",
            node["target"],
            node["html"].as_str().unwrap_or(""),
            node["summary"]
                .as_str()
                .unwrap_or("")
                .replace('\n', "\n        ")
        );
    }
    text
}

/// Keeps every page's line and rewrites the report, sorted by page, after each one
/// (the report then covers the pages of the tests run in this process).
fn record(name: &str, line: &str, version: &str) {
    static PAGES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut pages = PAGES.lock().unwrap_or_else(|e| e.into_inner());
    pages.insert(name.to_owned(), format!("{name:<30} {line}"));
    let mut report = format!(
        "axe-core {version} on doorcode's pages (cargo test --test api browser -- --ignored)\n\
         violations by impact and rules passed, per page and width:\n\n"
    );
    for entry in pages.values() {
        report.push_str(entry);
        report.push('\n');
    }
    let path = e2e_dir().join("axe-report.txt");
    std::fs::write(&path, report).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
