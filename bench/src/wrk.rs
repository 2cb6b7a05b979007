//! Running wrk (one thread, N connections, one Lua script) and reading back the
//! result line the scripts' `done` prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

pub struct Load<'a> {
    pub url: String,
    pub script: &'a str,
    pub args: Vec<String>,
    pub secs: u64,
    pub connections: u32,
}

/// What wrk measured; times in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub requests: u64,
    pub duration_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
    /// Answers with a status above 399.
    pub status: u64,
    /// Answers other than the expected status, when the script checked them.
    pub unexpected: u64,
    pub checked: bool,
}

impl Measured {
    /// One progress line on stderr: `name`, requests/s, p50, p99 and errors.
    pub fn print(&self, name: &str) {
        eprintln!(
            "   {name:<14} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
            self.requests_per_sec(),
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0,
            self.errors()
        );
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }

    /// Socket errors and timeouts, plus answers that were not the expected status
    /// (or, where the script expects none in particular, statuses above 399).
    pub fn errors(&self) -> u64 {
        let answers = if self.checked {
            self.unexpected
        } else {
            self.status
        };
        self.connect + self.read + self.write + self.timeout + answers
    }
}

/// Runs one load; wrk's full output is kept in `log`.
pub fn run(lua_dir: &Path, load: &Load, log: &Path) -> anyhow::Result<Measured> {
    let script: PathBuf = lua_dir.join(load.script);
    let output = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.secs))
        .arg("--latency")
        .arg("-s")
        .arg(&script)
        .arg(&load.url)
        .arg("--")
        .args(&load.args)
        .output()
        .context("cannot run wrk (is it installed? bench/run installs it)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    std::fs::write(log, format!("{stdout}{stderr}"))
        .with_context(|| format!("cannot write {}", log.display()))?;
    if !output.status.success() {
        bail!("wrk failed ({}): {}", output.status, stderr.trim());
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("BENCH_JSON "))
        .with_context(|| format!("wrk printed no result line; see {}", log.display()))?;
    serde_json::from_str(line).with_context(|| format!("unreadable result line: {line}"))
}
