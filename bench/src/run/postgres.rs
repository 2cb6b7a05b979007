//! The PostgreSQL figures: session check, start and verify with doorcode on
//! PostgreSQL, first one instance and then two sharing the database, each case
//! split evenly over the instances (one wrk per instance, run at the same time).

use std::io::{BufWriter, Write};
use std::process::Command;

use anyhow::{Context, bail};

use super::{Bench, READY_TIMEOUT, SESSION_TTL_SECS, STOP_GRACE, binding_for, sink_lines, step};
use crate::process::Server;
use crate::report::{Case, Results};
use crate::wrk::Measured;

/// A throw-away secret shared by the instances, as `security.secret_key` must be.
const SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

impl Bench<'_> {
    pub(super) fn postgres(&mut self, server: &str, results: &mut Results) -> anyhow::Result<()> {
        for instances in [1, 2] {
            let label = if instances == 1 {
                "1 instance"
            } else {
                "2 instances"
            };
            step(&format!(
                "PostgreSQL, {label}: seeding {} users",
                self.args.users
            ));
            let db = fresh_database(server, instances)?;
            let cookies = self.work.join(format!("pg{instances}-cookies.txt"));
            let mut out = BufWriter::new(std::fs::File::create(&cookies)?);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            tokio::runtime::Runtime::new()?.block_on(
                doorcode::storage::bench_seed::seed_bench_postgres(
                    &db,
                    self.args.users,
                    now,
                    SESSION_TTL_SECS,
                    &mut out,
                ),
            )?;
            out.flush()?;
            let mut servers = Vec::new();
            for i in 0..instances {
                let mut server = self.doorcode_on_postgres(&format!("pg{instances}-{i}"), &db)?;
                server.wait_ready("/healthz", 200, READY_TIMEOUT)?;
                servers.push(server);
            }
            let cookie_args = vec![cookies.display().to_string(), "doorcode_session".to_owned()];
            self.spread(
                &servers,
                "warm-up",
                "/auth/check",
                "cookies.lua",
                |_| cookie_args.clone(),
                1,
            )?;
            let check = self.spread(
                &servers,
                &format!("pg{instances}-check"),
                "/auth/check",
                "cookies.lua",
                |_| cookie_args.clone(),
                self.args.secs,
            )?;
            results.cases.push(pg_case(
                &format!("pg check ×{instances}"),
                &format!("GET /auth/check, PostgreSQL, {label}"),
                check,
                &servers,
            ));

            let round = |i: usize| 100 * instances as u32 + i as u32;
            let origins: Vec<String> = servers.iter().map(|s| super::base_url(s.addr)).collect();
            let start = self.spread(
                &servers,
                &format!("pg{instances}-start"),
                "/login",
                "start.lua",
                |i| vec![round(i).to_string(), origins[i].clone()],
                self.args.secs,
            )?;
            results.cases.push(pg_case(
                &format!("pg start ×{instances}"),
                &format!("POST /login, PostgreSQL, {label}"),
                start,
                &servers,
            ));

            // Sign-ins are slower than verifies: three more unmeasured rounds make
            // enough of them for a whole verify case.
            for extra in 1..=3 {
                step(&format!(
                    "PostgreSQL: preparing sign-ins for verify ({extra}/3)"
                ));
                let name = format!("pg{instances}-prepare-{extra}");
                let round = |i: usize| 100 * instances as u32 + 10 * extra + i as u32;
                let prepared = self.spread(
                    &servers,
                    &name,
                    "/login",
                    "start.lua",
                    |i| vec![round(i).to_string(), origins[i].clone()],
                    self.args.secs,
                )?;
                if prepared.errors() > 0 {
                    bail!(
                        "{name}: {} errors while preparing sign-ins",
                        prepared.errors()
                    );
                }
            }
            step("PostgreSQL: waiting for the mail to reach the sink");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
            while query(
                &db,
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
            )?
            .trim()
                != "0"
            {
                if std::time::Instant::now() > deadline {
                    bail!("PostgreSQL: the mail queue did not drain");
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            let files = self.pg_sign_ins(&db, instances)?;
            let verify = self.spread(
                &servers,
                &format!("pg{instances}-verify"),
                "/login/verify",
                "verify.lua",
                |i| vec![files[i].display().to_string(), origins[i].clone()],
                self.args.secs,
            )?;
            results.cases.push(pg_case(
                &format!("pg verify ×{instances}"),
                &format!("POST /login/verify, PostgreSQL, {label}"),
                verify,
                &servers,
            ));
            for server in servers {
                server.stop(STOP_GRACE)?;
            }
        }
        Ok(())
    }

    fn doorcode_on_postgres(&self, name: &str, url: &str) -> anyhow::Result<Server> {
        let unused = self.work.join("unused.db");
        self.spawn_doorcode(name, |addr, sink, siteverify| {
            super::config_file(addr, &unused, sink, siteverify)
                .replace("[database]\n", &format!("[database]\nurl = \"{url}\"\n"))
                + &format!("\n[security]\nsecret_key = \"{SECRET}\"\n")
        })
    }

    /// One wrk per server, at the same time, the connections split between them;
    /// the requests add up, the latencies are the worst of the runs.
    fn spread(
        &self,
        servers: &[Server],
        name: &str,
        path: &str,
        script: &str,
        args: impl Fn(usize) -> Vec<String>,
        secs: u64,
    ) -> anyhow::Result<Measured> {
        let connections = (self.args.connections / servers.len() as u32).max(1);
        let runs: Vec<anyhow::Result<Measured>> = std::thread::scope(|scope| {
            let handles: Vec<_> = servers
                .iter()
                .enumerate()
                .map(|(i, server)| {
                    let load = crate::wrk::Load {
                        url: format!("http://{}{path}", server.addr),
                        script,
                        args: args(i),
                        secs,
                        connections,
                    };
                    let log = self.work.join(format!("wrk-{name}-{i}.txt"));
                    let lua = &self.lua;
                    scope.spawn(move || crate::wrk::run(lua, &load, &log))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("wrk thread"))
                .collect()
        });
        let mut total: Option<Measured> = None;
        for run in runs {
            let run = run?;
            total = Some(match total {
                None => run,
                Some(t) => Measured {
                    requests: t.requests + run.requests,
                    duration_us: t.duration_us.max(run.duration_us),
                    p50_us: t.p50_us.max(run.p50_us),
                    p99_us: t.p99_us.max(run.p99_us),
                    max_us: t.max_us.max(run.max_us),
                    connect: t.connect + run.connect,
                    read: t.read + run.read,
                    write: t.write + run.write,
                    timeout: t.timeout + run.timeout,
                    status: t.status + run.status,
                    unexpected: t.unexpected + run.unexpected,
                    checked: t.checked || run.checked,
                },
            });
        }
        let measured = total.context("no server")?;
        measured.print(name);
        Ok(measured)
    }

    /// `binding challenge code` files, one per instance, from the open sign-ins in
    /// PostgreSQL and the codes the sink received.
    fn pg_sign_ins(&self, db: &str, instances: usize) -> anyhow::Result<Vec<std::path::PathBuf>> {
        let mut code_for = std::collections::HashMap::new();
        for (to, code, _) in sink_lines(&self.codes)? {
            code_for.insert(to, code);
        }
        let open = query(
            db,
            "SELECT id || ' ' || email FROM login_challenges WHERE finished_at IS NULL",
        )?;
        let files: Vec<std::path::PathBuf> = (0..instances)
            .map(|i| self.work.join(format!("pg{instances}-sign-ins-{i}.txt")))
            .collect();
        let mut outs = files
            .iter()
            .map(|f| std::fs::File::create(f).map(BufWriter::new))
            .collect::<Result<Vec<_>, _>>()?;
        let mut written = 0;
        for line in open.lines() {
            let Some((challenge, email)) = line.split_once(' ') else {
                continue;
            };
            let (Some(binding), Some(code)) = (binding_for(email), code_for.get(email)) else {
                continue;
            };
            writeln!(outs[written % instances], "{binding} {challenge} {code}")?;
            written += 1;
        }
        for out in &mut outs {
            out.flush()?;
        }
        if written < instances {
            bail!("PostgreSQL: no sign-in could be prepared for verify");
        }
        Ok(files)
    }
}

fn pg_case(name: &str, request: &str, measured: Measured, servers: &[Server]) -> Case {
    Case {
        name: name.to_owned(),
        request: request.to_owned(),
        measured,
        peak_rss_kib: servers.iter().filter_map(Server::peak_rss_kib).max(),
    }
}

/// A new, empty database on `server`; its URL.
fn fresh_database(server: &str, instances: usize) -> anyhow::Result<String> {
    let name = format!("doorcode_bench_{instances}_{}", std::process::id());
    query(server, &format!("DROP DATABASE IF EXISTS {name}"))?;
    query(server, &format!("CREATE DATABASE {name}"))?;
    let (base, _) = server
        .rsplit_once('/')
        .context("BENCH_POSTGRES_URL must end in /DATABASE")?;
    Ok(format!("{base}/{name}"))
}

/// Runs one statement with psql; its unaligned output.
fn query(url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .context("cannot run psql (Debian's postgresql-client)")?;
    if !output.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
