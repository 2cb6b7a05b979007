use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    doorcode::cli::run(doorcode::cli::Cli::parse())
}
