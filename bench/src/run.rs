//! `doorcode-bench run`: every case, in an order that keeps them apart.
//!
//! 1. Seed a fresh database with `--users` people, each signed in once.
//! 2. Start the SMTP sink and the siteverify stand-in.
//! 3. Start-up: start `doorcode serve` on that database five times and time each
//!    from spawn to the first 200 on `/healthz`.
//! 4. The ceiling: the bare poem server on the same database; then the same
//!    server looking sessions up through doorcode's own `Storage`.
//! 5. doorcode: the session checks (`/auth/check`, `/api/v1/session`, `/`, unknown
//!    cookies), then sign-ins (`POST /login`), the mail they queue draining to the
//!    sink, and `POST /login/verify` with the codes the sink received.
//! 6. Scale: `/auth/check` on a database of 1,000 sessions and one of 1,000,000.
//!
//! Each doorcode instance runs as operators run it: the release binary, logging at
//! `info` (to a file here), with only the settings below changed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::ArgAction;
use clap::builder::BoolishValueParser;
use r2d2_sqlite::rusqlite::{Connection, OpenFlags};

use crate::process::{Server, free_addr};
use crate::report::{self, Case, Mail, Results, Scale};
use crate::wrk::{self, Load, Measured};

mod postgres;

/// `session.ttl_secs`' default; seeded sessions are fresh, so none is renewed.
const SESSION_TTL_SECS: i64 = 2_592_000;
const STARTUP_RUNS: usize = 5;
const UNKNOWN_COOKIES: usize = 10_000;
const STOP_GRACE: Duration = Duration::from_secs(12);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The Turnstile dummy keys that always pass (the stand-in answers success anyway).
const SITE_KEY: &str = "1x00000000000000000000AA";
const SECRET_KEY: &str = "1x0000000000000000000000000000000AA";
/// The OpenID Connect client the benchmark signs in to.
const BENCH_CLIENT: &str = "bench";
const BENCH_SECRET: &str = "bench-client-secret-bench-client-secret";
const BENCH_REDIRECT: &str = "https://app.bench.example/cb";

#[derive(clap::Args)]
pub struct RunArgs {
    /// Seconds each case runs.
    #[arg(long, env = "BENCH_SECS", default_value_t = 10)]
    secs: u64,
    /// Also compare 1,000 with 1,000,000 sessions (slow to seed).
    #[arg(long, env = "BENCH_BIG", default_value = "1", value_parser = BoolishValueParser::new(), action = ArgAction::Set)]
    big: bool,
    /// People (each with one session) in the main database.
    #[arg(long, env = "BENCH_USERS", default_value_t = 100_000)]
    users: u64,
    #[arg(long, env = "BENCH_BIG_SESSIONS", default_value_t = 1_000_000)]
    big_sessions: u64,
    #[arg(long, default_value_t = 1_000)]
    small_sessions: u64,
    /// Open connections, as wrk's -c.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 32)]
    connections: u32,
    /// Extra unmeasured rounds of sign-ins (each as long as a case) that prepare
    /// enough open sign-ins for the verify case.
    #[arg(long, env = "BENCH_VERIFY_PREP", default_value_t = 1)]
    verify_prep_rounds: u32,
    /// A PostgreSQL server (postgres://user@host:port/db) to also measure doorcode
    /// on, with one and with two instances; a database is created there.
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// The doorcode binary to measure.
    #[arg(long)]
    doorcode: PathBuf,
    /// doorcode's checkout: doorcode runs there (it reads templates/ from it), and
    /// the wrk scripts are in its bench/lua.
    #[arg(long)]
    repo: PathBuf,
    /// A scratch folder for databases and logs; emptied first.
    #[arg(long)]
    work: PathBuf,
    /// Where latest.md and latest.json go.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut results = Results {
        date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: machine(),
        doorcode: revision(&args.repo),
        secs: args.secs,
        connections: args.connections,
        users: args.users,
        ..Results::default()
    };
    let started = Instant::now();
    if let Err(e) = Bench::new(&args).and_then(|mut bench| bench.all(&mut results)) {
        results.failures.push(format!("{e:#}"));
    }
    for case in &results.cases {
        if case.measured.errors() > 0 {
            results.failures.push(format!(
                "{}: {} errors (see {})",
                case.name,
                case.measured.errors(),
                args.work.join(format!("wrk-{}.txt", case.name)).display()
            ));
        }
    }
    if let Some(scale) = &results.scale
        && scale.small.errors() + scale.big.errors() > 0
    {
        results.failures.push("scale: the check had errors".into());
    }
    let table = report::render(&results);
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("latest.md"), &table)?;
    std::fs::write(
        args.out.join("latest.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    println!("\n{table}");
    println!(
        "(written to {} in {:.0} s)",
        args.out.join("latest.md").display(),
        started.elapsed().as_secs_f64()
    );
    if !results.failures.is_empty() {
        bail!("the benchmark broke: {}", results.failures.join("; "));
    }
    Ok(())
}

struct Bench<'a> {
    args: &'a RunArgs,
    lua: PathBuf,
    work: PathBuf,
    codes: PathBuf,
    sink: Option<Server>,
    siteverify: Option<Server>,
}

impl<'a> Bench<'a> {
    fn new(args: &'a RunArgs) -> anyhow::Result<Self> {
        if args.work.exists() {
            std::fs::remove_dir_all(&args.work)
                .with_context(|| format!("cannot empty {}", args.work.display()))?;
        }
        std::fs::create_dir_all(&args.work)?;
        let work = args.work.canonicalize()?;
        let lua = args.repo.join("bench/lua").canonicalize()?;
        Ok(Self {
            args,
            lua,
            codes: work.join("codes.txt"),
            work,
            sink: None,
            siteverify: None,
        })
    }

    fn all(&mut self, results: &mut Results) -> anyhow::Result<()> {
        let args = self.args;
        step(&format!("seeding {} users with a session each", args.users));
        let main_db = self.work.join("main.db");
        let cookies = self.work.join("main-cookies.txt");
        results.seed_secs = crate::seed(&main_db, args.users, &cookies, SESSION_TTL_SECS)?;
        let unknown = self.work.join("unknown-cookies.txt");
        write_unknown_cookies(&unknown)?;
        self.start_stand_ins()?;

        step("start-up: spawn to the first healthy /healthz");
        for _ in 0..STARTUP_RUNS {
            let spawned = Instant::now();
            let mut doorcode = self.doorcode("startup", &main_db)?;
            let ready = doorcode.wait_ready("/healthz", 200, READY_TIMEOUT)?;
            results
                .startup_ms
                .push(ready.duration_since(spawned).as_secs_f64() * 1000.0);
            doorcode.stop(STOP_GRACE)?;
        }

        let cookie_args = |file: &Path, expect: Option<u16>| {
            let mut args = vec![file.display().to_string(), "doorcode_session".to_owned()];
            args.extend(expect.map(|s| s.to_string()));
            args
        };
        for (name, request, via) in [
            ("ceiling", "GET /check, bare poem + r2d2", "bare"),
            (
                "storage",
                "GET /check, bare poem + doorcode's storage",
                "storage",
            ),
        ] {
            step(&format!("{name}: {request}"));
            let addr = free_addr()?;
            let mut server = Server::spawn(
                name,
                addr,
                Command::new(std::env::current_exe()?)
                    .arg("ceiling")
                    .arg("--db")
                    .arg(&main_db)
                    .arg("--listen")
                    .arg(addr.to_string())
                    .arg("--via")
                    .arg(via)
                    .stdout(Stdio::null()),
            )?;
            server.wait_ready("/check", 401, READY_TIMEOUT)?;
            self.warm_up(
                &server,
                "/check",
                "cookies.lua",
                cookie_args(&cookies, None),
            )?;
            let measured = self.load(
                &server,
                name,
                "/check",
                "cookies.lua",
                cookie_args(&cookies, None),
                args.secs,
            )?;
            results.cases.push(case(name, request, measured, &server));
            server.stop(STOP_GRACE)?;
        }

        step("doorcode: session checks");
        let mut doorcode = self.doorcode("main", &main_db)?;
        doorcode.wait_ready("/healthz", 200, READY_TIMEOUT)?;
        self.warm_up(
            &doorcode,
            "/auth/check",
            "cookies.lua",
            cookie_args(&cookies, None),
        )?;
        for (name, request, path, file, expect) in [
            ("check", "GET /auth/check", "/auth/check", &cookies, None),
            (
                "session",
                "GET /api/v1/session",
                "/api/v1/session",
                &cookies,
                None,
            ),
            ("home", "GET / (HTML page)", "/", &cookies, Some(200)),
            (
                "unknown",
                "GET /auth/check, unknown cookie (401)",
                "/auth/check",
                &unknown,
                Some(401),
            ),
        ] {
            let measured = self.load(
                &doorcode,
                name,
                path,
                "cookies.lua",
                cookie_args(file, expect),
                args.secs,
            )?;
            results.cases.push(case(name, request, measured, &doorcode));
            doorcode.alive()?;
        }

        self.oidc(&mut doorcode, &main_db, &cookies, results)?;

        step("doorcode: sign-ins (POST /login)");
        let origin = base_url(doorcode.addr);
        let start_args = |round: u32| vec![round.to_string(), origin.clone()];
        let measured = self.load(
            &doorcode,
            "start",
            "/login",
            "start.lua",
            start_args(1),
            args.secs,
        )?;
        results
            .cases
            .push(case("start", "POST /login", measured, &doorcode));
        let db = open_read_only(&main_db)?;
        for round in 0..args.verify_prep_rounds {
            step(&format!(
                "preparing sign-ins for verify ({}/{})",
                round + 1,
                args.verify_prep_rounds
            ));
            let name = format!("prepare-{}", round + 1);
            let prepared = self.load(
                &doorcode,
                &name,
                "/login",
                "start.lua",
                start_args(round + 2),
                args.secs,
            )?;
            if prepared.errors() > 0 {
                bail!(
                    "{name}: {} errors while preparing sign-ins",
                    prepared.errors()
                );
            }
        }
        let backlog = pending_mail(&db)?;

        step("mail: waiting for the queue to drain to the sink");
        results.mail = Some(self.drain(&db, &mut doorcode, backlog)?);

        step("doorcode: right codes (POST /login/verify)");
        let sign_ins = self.work.join("sign-ins.txt");
        let prepared = write_sign_ins(&db, &self.codes, &sign_ins)?;
        eprintln!("   {prepared} sign-ins prepared");
        let measured = self.load(
            &doorcode,
            "verify",
            "/login/verify",
            "verify.lua",
            vec![sign_ins.display().to_string(), origin.clone()],
            args.secs,
        )?;
        if measured.requests > prepared {
            bail!(
                "verify needed {} sign-ins but only {prepared} were prepared; raise BENCH_VERIFY_PREP",
                measured.requests
            );
        }
        results.cases.push(case(
            "verify",
            "POST /login/verify, right code",
            measured,
            &doorcode,
        ));
        results.peak_rss_kib = doorcode.peak_rss_kib();
        doorcode.stop(STOP_GRACE)?;

        if let Some(server) = &args.postgres {
            self.postgres(server, results)?;
        }

        if args.big {
            results.scale = Some(self.scale()?);
        }
        Ok(())
    }

    /// OpenID Connect: an authorization with a session (a straight redirect with a
    /// code), userinfo with access tokens, and code exchanges at the token endpoint,
    /// each code used once.
    fn oidc(
        &self,
        doorcode: &mut Server,
        db: &Path,
        cookies: &Path,
        results: &mut Results,
    ) -> anyhow::Result<()> {
        let secs = self.args.secs;
        let now = doorcode::clock::Clock::default().now();
        let grants = |what| doorcode::storage::bench_seed::BenchGrants {
            client_id: BENCH_CLIENT,
            redirect_uri: BENCH_REDIRECT,
            what,
            ttl_secs: 3600,
        };
        step("doorcode: authorization with a session (GET /oidc/authorize)");
        let path = format!(
            "/oidc/authorize?response_type=code&client_id={BENCH_CLIENT}&redirect_uri={BENCH_REDIRECT}\
             &scope=openid%20email%20profile&state=bench"
        );
        let measured = self.load(
            doorcode,
            "authorize",
            &path,
            "cookies.lua",
            vec![
                cookies.display().to_string(),
                "doorcode_session".to_owned(),
                "303".to_owned(),
            ],
            secs,
        )?;
        results.cases.push(case(
            "authorize",
            "GET /oidc/authorize, signed in",
            measured,
            doorcode,
        ));

        step("doorcode: userinfo (GET /oidc/userinfo)");
        let tokens = self.work.join("access-tokens.txt");
        let people = self.args.users.min(100_000);
        let mut out = BufWriter::new(File::create(&tokens)?);
        doorcode::storage::bench_seed::seed_bench_oidc(
            db,
            people,
            now,
            &grants(doorcode::storage::bench_seed::BenchGrant::AccessToken),
            &mut out,
        )?;
        drop(out);
        let measured = self.load(
            doorcode,
            "userinfo",
            "/oidc/userinfo",
            "bearer.lua",
            vec![tokens.display().to_string(), "200".to_owned()],
            secs,
        )?;
        results.cases.push(case(
            "userinfo",
            "GET /oidc/userinfo, Bearer",
            measured,
            doorcode,
        ));

        step("doorcode: code exchange (POST /oidc/token)");
        let codes = self.work.join("codes-oidc.txt");
        // More than the target rate could use, so no code is used twice.
        let needed = (secs * 10_000)
            .min(self.args.users.max(1) * 4)
            .max(self.args.users);
        let mut out = BufWriter::new(File::create(&codes)?);
        let mut left = needed;
        while left > 0 {
            let batch = left.min(self.args.users.max(1));
            doorcode::storage::bench_seed::seed_bench_oidc(
                db,
                batch,
                now,
                &grants(doorcode::storage::bench_seed::BenchGrant::Code),
                &mut out,
            )?;
            left -= batch;
        }
        drop(out);
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{BENCH_CLIENT}:{BENCH_SECRET}"));
        let measured = self.load(
            doorcode,
            "token",
            "/oidc/token",
            "token.lua",
            vec![
                codes.display().to_string(),
                basic,
                BENCH_REDIRECT.to_owned(),
            ],
            secs,
        )?;
        if measured.requests > needed {
            bail!(
                "token needed {} codes but only {needed} were seeded",
                measured.requests
            );
        }
        results.cases.push(case(
            "token",
            "POST /oidc/token, code exchange",
            measured,
            doorcode,
        ));
        doorcode.alive()?;

        step("doorcode: passkey sign-in (POST /api/v1/passkeys/sign-in)");
        let answers = self.work.join("passkey-answers.txt");
        // One passkey and one answer per person: enough for 2,000/s and then some.
        let needed = (secs * 4_000).min(self.args.users.max(1));
        let mut out = BufWriter::new(File::create(&answers)?);
        crate::passkeys::seed(db, &base_url(doorcode.addr), needed, now, &mut out)?;
        drop(out);
        let measured = self.load(
            doorcode,
            "passkey",
            "/api/v1/passkeys/sign-in",
            "passkey.lua",
            vec![answers.display().to_string()],
            secs,
        )?;
        if measured.requests > needed {
            bail!(
                "passkey needed {} answers but only {needed} were prepared",
                measured.requests
            );
        }
        results.cases.push(case(
            "passkey",
            "POST /api/v1/passkeys/sign-in",
            measured,
            doorcode,
        ));
        doorcode.alive()
    }

    fn start_stand_ins(&mut self) -> anyhow::Result<()> {
        let me = std::env::current_exe()?;
        let addr = free_addr()?;
        let mut siteverify = Server::spawn(
            "the siteverify stand-in",
            addr,
            Command::new(&me)
                .arg("siteverify")
                .arg("--listen")
                .arg(addr.to_string()),
        )?;
        // It answers POST only; a GET's 405 says it is up.
        siteverify.wait_ready(crate::siteverify::PATH, 405, READY_TIMEOUT)?;
        self.siteverify = Some(siteverify);
        let addr = free_addr()?;
        let mut sink = Server::spawn(
            "the SMTP sink",
            addr,
            Command::new(&me)
                .arg("smtp-sink")
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--codes")
                .arg(&self.codes),
        )?;
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect(addr).is_err() {
            sink.alive()?;
            if Instant::now() > deadline {
                bail!("the SMTP sink did not start");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.sink = Some(sink);
        Ok(())
    }

    /// Starts `doorcode serve` on `db` with the benchmark's settings; its log goes
    /// to `<name>.log`.
    fn doorcode(&self, name: &str, db: &Path) -> anyhow::Result<Server> {
        self.spawn_doorcode(name, |addr, sink, siteverify| {
            config_file(addr, db, sink, siteverify)
        })
    }

    /// doorcode on a free port with the configuration `config` writes for its
    /// address, the SMTP sink's and siteverify's; its log goes to `<name>.log`.
    fn spawn_doorcode(
        &self,
        name: &str,
        config: impl FnOnce(SocketAddr, SocketAddr, SocketAddr) -> String,
    ) -> anyhow::Result<Server> {
        let addr = free_addr()?;
        let sink = self.sink.as_ref().context("no SMTP sink")?.addr;
        let siteverify = self.siteverify.as_ref().context("no siteverify")?.addr;
        let path = self.work.join(format!("{name}.toml"));
        std::fs::write(&path, config(addr, sink, siteverify))?;
        let log = File::create(self.work.join(format!("{name}.log")))?;
        Server::spawn(
            "doorcode",
            addr,
            Command::new(&self.args.doorcode)
                .arg("--config")
                .arg(&path)
                .arg("serve")
                .current_dir(&self.args.repo)
                .env_remove("DOORCODE_LOG")
                .stdout(log.try_clone()?)
                .stderr(log),
        )
    }

    fn load(
        &self,
        server: &Server,
        name: &str,
        path: &str,
        script: &str,
        script_args: Vec<String>,
        secs: u64,
    ) -> anyhow::Result<Measured> {
        let load = Load {
            url: format!("http://{}{path}", server.addr),
            script,
            args: script_args,
            secs,
            connections: self.args.connections,
        };
        let measured = wrk::run(&self.lua, &load, &self.work.join(format!("wrk-{name}.txt")))?;
        measured.print(name);
        Ok(measured)
    }

    /// One unmeasured second, so every case meets warm caches and pools.
    fn warm_up(
        &self,
        server: &Server,
        path: &str,
        script: &str,
        args: Vec<String>,
    ) -> anyhow::Result<()> {
        self.load(server, "warm-up", path, script, args, 1)
            .map(drop)
    }

    /// Waits until no message is queued; the rate counts every message the sink
    /// received, from the first to the last.
    fn drain(&self, db: &Connection, doorcode: &mut Server, backlog: u64) -> anyhow::Result<Mail> {
        let deadline = Instant::now() + Duration::from_secs(600);
        while pending_mail(db)? > 0 {
            doorcode.alive()?;
            if Instant::now() > deadline {
                bail!("the mail queue did not drain within 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let failed: u64 = db.query_row(
            "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL",
            [],
            |row| row.get(0),
        )?;
        let queued: u64 = db.query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))?;
        // The sink writes its line right after its 250, so the file may trail the
        // database by a moment.
        let mut times = Vec::new();
        for _ in 0..100 {
            times = sink_times(&self.codes)?;
            if times.len() as u64 + failed >= queued {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if (times.len() as u64) + failed < queued {
            bail!(
                "{queued} messages were queued but the sink received {}",
                times.len()
            );
        }
        if failed > 0 {
            bail!("{failed} messages were given up; see main.log");
        }
        let (first, last) = (times.iter().min(), times.iter().max());
        let span_secs = match (first, last) {
            (Some(first), Some(last)) => (last - first) as f64 / 1000.0,
            _ => 0.0,
        };
        let delivered = times.len() as u64;
        let per_sec = if span_secs > 0.0 {
            delivered.saturating_sub(1) as f64 / span_secs
        } else {
            0.0
        };
        eprintln!("   mail       {per_sec:>8.0} msgs/s ({delivered} messages, backlog {backlog})");
        Ok(Mail {
            delivered,
            failed,
            per_sec,
            backlog,
        })
    }

    /// `/auth/check` against a small and a big database, each with its own doorcode.
    fn scale(&self) -> anyhow::Result<Scale> {
        let args = self.args;
        let mut measured = Vec::new();
        let mut big_seed_secs = 0.0;
        let mut big_peak = None;
        for (name, sessions) in [("small", args.small_sessions), ("big", args.big_sessions)] {
            step(&format!("scale: seeding {sessions} sessions"));
            let db = self.work.join(format!("{name}.db"));
            let cookies = self.work.join(format!("{name}-cookies.txt"));
            let secs = crate::seed(&db, sessions, &cookies, SESSION_TTL_SECS)?;
            eprintln!("   seeded in {secs:.1} s");
            let mut doorcode = self.doorcode(name, &db)?;
            doorcode.wait_ready("/healthz", 200, READY_TIMEOUT)?;
            let cookie_args = vec![cookies.display().to_string(), "doorcode_session".to_owned()];
            self.warm_up(&doorcode, "/auth/check", "cookies.lua", cookie_args.clone())?;
            let m = self.load(
                &doorcode,
                &format!("check-{name}"),
                "/auth/check",
                "cookies.lua",
                cookie_args,
                args.secs,
            )?;
            if name == "big" {
                big_seed_secs = secs;
                big_peak = doorcode.peak_rss_kib();
            }
            doorcode.stop(STOP_GRACE)?;
            measured.push(m);
        }
        let big = measured.pop().context("no big run")?;
        let small = measured.pop().context("no small run")?;
        Ok(Scale {
            small_sessions: args.small_sessions,
            small,
            big_sessions: args.big_sessions,
            big,
            big_seed_secs,
            big_peak_rss_kib: big_peak,
        })
    }
}

fn case(name: &str, request: &str, measured: Measured, server: &Server) -> Case {
    Case {
        name: name.to_owned(),
        request: request.to_owned(),
        measured,
        peak_rss_kib: server.peak_rss_kib(),
    }
}

fn step(what: &str) {
    eprintln!("== {what}");
}

/// The origin doorcode is told it serves: `localhost` rather than the loopback
/// address it listens on, as WebAuthn takes only a domain name for its relying
/// party.
fn base_url(listen: SocketAddr) -> String {
    format!("http://localhost:{}", listen.port())
}

/// Only what the benchmark needs differs from the defaults: loopback addresses,
/// the local SMTP sink and siteverify stand-in, limits no benchmark client could
/// reach, and trust in `X-Forwarded-For`, which gives each sign-in its own client
/// address (thousands of sign-ins a second from one address are not a real load).
fn config_file(listen: SocketAddr, db: &Path, sink: SocketAddr, siteverify: SocketAddr) -> String {
    let base_url = base_url(listen);
    format!(
        r#"# Written by doorcode-bench.
[server]
listen = "{listen}"
base_url = "{base_url}"
trust_proxy_headers = true

[database]
path = "{db}"

[email]
smtp_url = "smtp://{sink}"

[turnstile]
site_key = "{SITE_KEY}"
secret_key = "{SECRET_KEY}"
verify_url = "http://{siteverify}{path}"

[rate_limit]
email_per_hour = 1000000
ip_per_hour = 1000000
failures_per_email_per_hour = 1000000

[[oidc.clients]]
id = "{BENCH_CLIENT}"
name = "Bench"
secret = "{BENCH_SECRET}"
redirect_uris = ["{BENCH_REDIRECT}"]
skip_consent = true
"#,
        db = db.display(),
        path = crate::siteverify::PATH,
    )
}

fn write_unknown_cookies(path: &Path) -> anyhow::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for _ in 0..UNKNOWN_COOKIES {
        writeln!(
            out,
            "{}",
            doorcode::domain::SessionToken::generate().expose()
        )?;
    }
    out.flush()?;
    Ok(())
}

fn open_read_only(db: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

fn pending_mail(db: &Connection) -> anyhow::Result<u64> {
    Ok(db.query_row(
        "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
        [],
        |row| row.get(0),
    )?)
}

/// The sink's `recipient code unix_millis` lines.
fn sink_lines(codes: &Path) -> anyhow::Result<Vec<(String, String, u64)>> {
    let text = std::fs::read_to_string(codes).unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let (to, code, millis) = (parts.next()?, parts.next()?, parts.next()?);
            Some((to.to_owned(), code.to_owned(), millis.parse().ok()?))
        })
        .collect())
}

fn sink_times(codes: &Path) -> anyhow::Result<Vec<u64>> {
    Ok(sink_lines(codes)?.into_iter().map(|(_, _, t)| t).collect())
}

/// `binding challenge code` for every open sign-in whose code reached the sink.
/// The binding is the one start.lua derived from the address.
fn write_sign_ins(db: &Connection, codes: &Path, out: &Path) -> anyhow::Result<u64> {
    let mut code_for = std::collections::HashMap::new();
    for (to, code, _) in sink_lines(codes)? {
        if code.len() == 6 {
            code_for.insert(to, code);
        }
    }
    let mut stmt = db.prepare(
        "SELECT id, email FROM login_challenges WHERE finished_at IS NULL ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut file = BufWriter::new(File::create(out)?);
    let mut written = 0;
    for row in rows {
        let (challenge, email) = row?;
        let (Some(binding), Some(code)) = (binding_for(&email), code_for.get(&email)) else {
            continue;
        };
        writeln!(file, "{binding} {challenge} {code}")?;
        written += 1;
    }
    file.flush()?;
    if written == 0 {
        bail!("no sign-in could be prepared for verify (no codes reached the sink?)");
    }
    Ok(written)
}

/// start.lua's binding for `s<round>n<n>@bench.example`.
fn binding_for(email: &str) -> Option<String> {
    let local = email.strip_suffix("@bench.example")?.strip_prefix('s')?;
    let (round, n) = local.split_once('n')?;
    Some(format!(
        "{:08}{:024}",
        round.parse::<u64>().ok()?,
        n.parse::<u64>().ok()?
    ))
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// CPU model, cores, kernel.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = command_line("uname", &["-sr"]);
    format!("{cpu}, {cores} cores, {kernel}")
}

/// The checkout's commit, marked when the work tree has changes.
fn revision(repo: &Path) -> String {
    let repo = repo.display().to_string();
    let commit = command_line("git", &["-C", &repo, "rev-parse", "--short", "HEAD"]);
    if commit.is_empty() {
        return "(not a git checkout)".into();
    }
    let dirty = !command_line(
        "git",
        &["-C", &repo, "status", "--porcelain", "--untracked-files=no"],
    )
    .is_empty();
    if dirty {
        format!("{commit}+changes")
    } else {
        commit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_follow_start_lua() {
        assert_eq!(
            binding_for("s2n17@bench.example").as_deref(),
            Some("00000002000000000000000000000017")
        );
        assert_eq!(binding_for("user1@bench.example"), None);
    }
}
