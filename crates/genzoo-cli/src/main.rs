//! The `genzoo` binary: parses the command line, sets up logging, maps errors to exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use genzoo_cli::{Cli, run};
use genzoo_train::Error;

/// mimalloc rather than the system allocator: burn's CPU backends allocate a fresh buffer for every
/// tensor op, and glibc returns large buffers to the OS on free, so each step faulted its
/// activations back in page by page (measured in `docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One clear line; `--help` has the rest.
            let text = e.to_string();
            eprintln!(
                "{} (see `genzoo --help`)",
                text.lines().next().unwrap_or("invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                Error::Interrupted { .. } => {
                    ExitCode::from(genzoo_train::signal::INTERRUPTED_EXIT_CODE as u8)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}
