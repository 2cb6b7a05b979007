//! `doorcode-bench`: the pieces of doorcode's benchmark, and `run`, which puts them
//! together. `bench/run` builds everything and calls `doorcode-bench run`; the
//! other subcommands are there to run one piece by hand while profiling.

mod ceiling;
mod passkeys;
mod process;
mod report;
mod run;
mod siteverify;
mod smtp_sink;
mod wrk;

use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "doorcode's benchmark and its parts")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every case and write the table (what bench/run does after building).
    Run(run::RunArgs),
    /// Create a fresh database with COUNT users, each signed in once, through
    /// doorcode's own storage code; the session cookies go to TOKENS, one a line.
    Seed {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        count: u64,
        #[arg(long)]
        tokens: PathBuf,
        /// The sessions' lifetime, as `session.ttl_secs`.
        #[arg(long, default_value_t = 2_592_000)]
        ttl_secs: i64,
    },
    /// The ceiling: a bare poem server doing one indexed session lookup per request.
    Ceiling {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value = "doorcode_session")]
        cookie_name: String,
        /// How the session is looked up.
        #[arg(long, value_enum, default_value = "bare")]
        via: ceiling::Via,
        /// Connections in the r2d2 pool and tokio's blocking threads [default: twice the cores].
        #[arg(long)]
        pool: Option<u32>,
    },
    /// A local SMTP server that accepts everything and appends
    /// `recipient code unix_millis` to CODES for each message.
    SmtpSink {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        codes: PathBuf,
    },
    /// A Turnstile siteverify stand-in that answers success to everything.
    Siteverify {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Print the table of a finished run again (from its JSON).
    Report {
        #[arg(long, default_value = "bench/results/latest.json")]
        results: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => run::run(args),
        Command::Seed {
            db,
            count,
            tokens,
            ttl_secs,
        } => seed(&db, count, &tokens, ttl_secs).map(drop),
        Command::Ceiling {
            db,
            listen,
            cookie_name,
            via,
            pool,
        } => ceiling::serve(
            &db,
            listen,
            cookie_name,
            via,
            pool.unwrap_or_else(ceiling::default_pool),
        ),
        Command::SmtpSink { listen, codes } => smtp_sink::serve(listen, &codes),
        Command::Siteverify { listen } => siteverify::serve(listen),
        Command::Report { results } => {
            let results = report::Results::load(&results)?;
            print!("{}", report::render(&results));
            Ok(())
        }
    }
}

/// Seeds a database; returns how long it took, in seconds.
pub fn seed(
    db: &std::path::Path,
    count: u64,
    tokens: &std::path::Path,
    ttl_secs: i64,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let file =
        File::create(tokens).with_context(|| format!("cannot create {}", tokens.display()))?;
    let mut out = BufWriter::new(file);
    let now = doorcode::clock::Clock::default().now();
    doorcode::storage::bench_seed::seed_bench_database(db, count, now, ttl_secs, &mut out)?;
    Ok(started.elapsed().as_secs_f64())
}
