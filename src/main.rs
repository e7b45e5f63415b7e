//! The `stride` binary: see `stride --help` and README.md.

use std::process::ExitCode;

use clap::Parser;
use stride::cli::Cli;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    match Cli::parse().run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
