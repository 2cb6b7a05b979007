//! The run's results, kept as JSON, and the table made from them: each figure,
//! its ratio to the ceiling, and PASS/MISS against the targets of the issue.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::wrk::Measured;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Results {
    pub date: String,
    pub machine: String,
    pub doorcode: String,
    pub secs: u64,
    pub connections: u32,
    pub users: u64,
    pub seed_secs: f64,
    pub cases: Vec<Case>,
    pub mail: Option<Mail>,
    pub startup_ms: Vec<f64>,
    /// doorcode's peak resident memory (VmHWM) over all the cases, in KiB.
    pub peak_rss_kib: Option<u64>,
    pub scale: Option<Scale>,
    /// What went wrong: any entry makes the run fail.
    pub failures: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    pub request: String,
    pub measured: Measured,
    /// The server's peak resident memory when the case ended, in KiB.
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Mail {
    pub delivered: u64,
    pub failed: u64,
    pub per_sec: f64,
    /// Messages still queued when the last sign-in was answered.
    pub backlog: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Scale {
    pub small_sessions: u64,
    pub small: Measured,
    pub big_sessions: u64,
    pub big: Measured,
    pub big_seed_secs: f64,
    pub big_peak_rss_kib: Option<u64>,
}

impl Results {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
    }

    pub fn case(&self, name: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.name == name)
    }

    pub fn startup_median_ms(&self) -> Option<f64> {
        let mut runs = self.startup_ms.clone();
        runs.sort_by(f64::total_cmp);
        runs.get(runs.len() / 2).copied()
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn mb(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1}", k as f64 / 1024.0))
        .unwrap_or_else(|| "–".into())
}

fn ratio(value: f64, ceiling: Option<f64>) -> String {
    match ceiling {
        Some(c) if c > 0.0 => format!("{:.0} %", 100.0 * value / c),
        _ => "–".into(),
    }
}

pub fn render(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# doorcode benchmark\n");
    let _ = writeln!(
        out,
        "{} · {} · doorcode {} · wrk -t1 -c{} · {} s per case · {} users and sessions (seeded in {:.1} s)\n",
        r.date, r.machine, r.doorcode, r.connections, r.secs, r.users, r.seed_secs
    );
    let ceiling = r.case("ceiling").map(|c| c.measured.requests_per_sec());
    let ceiling_p99 = r.case("ceiling").map(|c| c.measured.p99_us as f64);
    let _ = writeln!(
        out,
        "| case | request | req/s | p50 ms | p99 ms | errors | peak RSS MB | req/s vs ceiling | p99 vs ceiling |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|");
    for case in &r.cases {
        let m = &case.measured;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            case.name,
            case.request,
            m.requests_per_sec(),
            ms(m.p50_us),
            ms(m.p99_us),
            m.errors(),
            mb(case.peak_rss_kib),
            ratio(m.requests_per_sec(), ceiling),
            ratio(m.p99_us as f64, ceiling_p99),
        );
    }
    if let Some(mail) = &r.mail {
        let _ = writeln!(
            out,
            "| mail | SMTP to the local sink (msgs/s) | {:.0} | – | – | {} | – | – | – |",
            mail.per_sec, mail.failed
        );
    }
    if let Some(s) = &r.scale {
        for (sessions, m, rss) in [
            (s.small_sessions, &s.small, None),
            (s.big_sessions, &s.big, s.big_peak_rss_kib),
        ] {
            let _ = writeln!(
                out,
                "| check, {sessions} sessions | GET /auth/check | {:.0} | {} | {} | {} | {} | {} | {} |",
                m.requests_per_sec(),
                ms(m.p50_us),
                ms(m.p99_us),
                m.errors(),
                mb(rss),
                ratio(m.requests_per_sec(), ceiling),
                ratio(m.p99_us as f64, ceiling_p99),
            );
        }
    }
    let _ = writeln!(out);
    if let Some(mail) = &r.mail {
        let _ = writeln!(
            out,
            "Mail: {} messages delivered while and after the sign-ins ran ({} still queued when the last sign-in was answered), {} given up.",
            mail.delivered, mail.backlog, mail.failed
        );
    }
    if let Some(median) = r.startup_median_ms() {
        let runs: Vec<String> = r.startup_ms.iter().map(|v| format!("{v:.0}")).collect();
        let _ = writeln!(
            out,
            "Start-up to the first healthy /healthz on the seeded database: median {median:.0} ms (runs: {} ms).",
            runs.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "doorcode's peak RSS over all cases: {} MB.",
        mb(r.peak_rss_kib)
    );
    if let Some(s) = &r.scale {
        let _ = writeln!(
            out,
            "Scale: the {} sessions were seeded in {:.1} s.",
            s.big_sessions, s.big_seed_secs
        );
    }
    let _ = writeln!(out, "\n## Targets\n");
    for (verdict, line) in targets(r) {
        let _ = writeln!(out, "- {verdict} {line}");
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\n## Failures\n");
        for failure in &r.failures {
            let _ = writeln!(out, "- {failure}");
        }
    }
    out
}

/// PASS, MISS, or SKIP (not measured in this run) for each target.
fn targets(r: &Results) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let ceiling = r.case("ceiling").map(|c| c.measured.requests_per_sec());
    for name in ["check", "session"] {
        match (r.case(name), ceiling) {
            (Some(case), Some(ceiling)) => {
                let m = &case.measured;
                let share = m.requests_per_sec() / ceiling;
                out.push((
                    verdict(share >= 0.85),
                    format!(
                        "{name}: ≥ 85 % of the ceiling's requests/s ({:.0} %)",
                        share * 100.0
                    ),
                ));
                out.push((
                    verdict(m.p99_us <= 3000),
                    format!("{name}: p99 ≤ 3 ms ({} ms)", ms(m.p99_us)),
                ));
            }
            _ => out.push(("SKIP", format!("{name}: not measured"))),
        }
    }
    let all_cases: Vec<&Case> = r.cases.iter().collect();
    let errors: u64 = all_cases.iter().map(|c| c.measured.errors()).sum::<u64>()
        + r.scale
            .as_ref()
            .map(|s| s.small.errors() + s.big.errors())
            .unwrap_or(0);
    out.push((
        verdict(errors == 0),
        format!("zero errors in every case ({errors})"),
    ));
    for name in ["start", "verify"] {
        match r.case(name) {
            Some(case) => {
                let m = &case.measured;
                out.push((
                    verdict(m.requests_per_sec() >= 2000.0),
                    format!("{name}: ≥ 2,000/s ({:.0}/s)", m.requests_per_sec()),
                ));
                out.push((
                    verdict(m.p99_us <= 20_000),
                    format!("{name}: p99 ≤ 20 ms ({} ms)", ms(m.p99_us)),
                ));
            }
            None => out.push(("SKIP", format!("{name}: not measured"))),
        }
    }
    // OpenID Connect: userinfo against the session check, the token exchange and
    // an authorization with a session on their own.
    match (r.case("userinfo"), r.case("check")) {
        (Some(userinfo), Some(check)) => {
            let share =
                userinfo.measured.requests_per_sec() / check.measured.requests_per_sec().max(1.0);
            out.push((
                verdict(share >= 0.9),
                format!("userinfo: ≥ 0.9 × the session check's requests/s ({share:.2} ×)"),
            ));
        }
        _ => out.push(("SKIP", "userinfo: not measured".into())),
    }
    for (name, per_sec, p99_ms) in [
        ("token", 3000.0, Some(20)),
        ("authorize", 5000.0, None),
        ("passkey", 2000.0, Some(20)),
    ] {
        match r.case(name) {
            Some(case) => {
                let m = &case.measured;
                out.push((
                    verdict(m.requests_per_sec() >= per_sec),
                    format!("{name}: ≥ {per_sec:.0}/s ({:.0}/s)", m.requests_per_sec()),
                ));
                if let Some(p99_ms) = p99_ms {
                    out.push((
                        verdict(m.p99_us <= p99_ms * 1000),
                        format!("{name}: p99 ≤ {p99_ms} ms ({} ms)", ms(m.p99_us)),
                    ));
                }
            }
            None => out.push(("SKIP", format!("{name}: not measured"))),
        }
    }
    match &r.mail {
        Some(mail) => out.push((
            verdict(mail.per_sec >= 500.0),
            format!("mail: ≥ 500 messages/s ({:.0}/s)", mail.per_sec),
        )),
        None => out.push(("SKIP", "mail: not measured".into())),
    }
    match r.peak_rss_kib {
        Some(kib) => out.push((
            verdict(kib <= 32 * 1024),
            format!(
                "peak RSS ≤ 32 MB through the benchmark ({} MB)",
                mb(Some(kib))
            ),
        )),
        None => out.push(("SKIP", "peak RSS: not measured".into())),
    }
    match &r.scale {
        Some(s) => {
            let (small, big) = (s.small.requests_per_sec(), s.big.requests_per_sec());
            let change = (big - small) / small.max(1.0);
            out.push((
                verdict(change.abs() <= 0.10),
                format!(
                    "check with {} sessions within 10 % of {} ({:+.1} %)",
                    s.big_sessions,
                    s.small_sessions,
                    change * 100.0
                ),
            ));
        }
        None => out.push((
            "SKIP",
            "scale (1,000 vs 1,000,000 sessions): BENCH_BIG=0".into(),
        )),
    }
    match r.startup_median_ms() {
        Some(median) => out.push((
            verdict(median <= 100.0),
            format!("start-up to the first healthy /healthz ≤ 100 ms ({median:.0} ms)"),
        )),
        None => out.push(("SKIP", "start-up: not measured".into())),
    }
    out
}
