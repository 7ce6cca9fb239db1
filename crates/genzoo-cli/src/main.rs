//! The `genzoo` binary: parses the command line, sets up logging, maps errors to exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use genzoo_cli::{Cli, run};

/// mimalloc rather than the system allocator: burn's CPU backends allocate a fresh buffer for every
/// tensor op, and glibc returns large buffers to the OS on free, so each step faulted its
/// activations back in page by page (measured in `docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its index in `mi_option_t` (mimalloc 3's `mimalloc.h`), which
/// the Rust bindings do not name. The test below checks the index by mimalloc's default for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc keep freed memory for reuse instead of handing it back to the OS (purge delay −1),
/// unless the user set `MIMALLOC_PURGE_DELAY`. A training step frees and reallocates the same large
/// activation buffers every step; with mimalloc's default (purge after 1 s, longer than a PixelCNN
/// step) the kernel unmapped them and zero-filled them again on every step: PixelCNN-family steps
/// are 15–40% faster without it, for a process that keeps its peak memory (`docs/performance.md`).
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` writes one entry of mimalloc's option table; it may be called at any
    // time from any thread, and the index is that of the purge delay (tested).
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1)
    };
}

/// The first line of a clap error, with the line after it when the first only introduces it
/// ("the following required arguments were not provided:").
fn first_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        None => "invalid arguments".into(),
        Some(first) if first.ends_with(':') => match lines.next() {
            Some(next) => format!("{first} {next}"),
            None => first.into(),
        },
        Some(first) => first.into(),
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One clear line; `--help` has the rest.
            eprintln!("{} (see `genzoo --help`)", first_line(&e.to_string()));
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
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unsafe_code)]
    fn option(option: libmimalloc_sys::mi_option_t) -> std::os::raw::c_long {
        // SAFETY: reading an option is valid at any time from any thread.
        unsafe { libmimalloc_sys::mi_option_get(option) }
    }

    #[test]
    fn a_clap_error_that_introduces_a_list_keeps_its_first_item() {
        let missing =
            "error: the following required arguments were not provided:\n  <RUN>\n\nUsage: x";
        assert_eq!(
            first_line(missing),
            "error: the following required arguments were not provided: <RUN>"
        );
        assert_eq!(first_line("error: bad value\n\nmore"), "error: bad value");
        assert_eq!(first_line(""), "invalid arguments");
    }

    /// The one test that touches the option (tests share the process): before, index 15 holds
    /// mimalloc 3's default purge delay of 1,000 ms — its documented value, which no neighbouring
    /// option has — and after, −1.
    #[test]
    fn keep_freed_memory_sets_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the user's setting wins, and the default cannot be observed
        }
        #[allow(unsafe_code)]
        // SAFETY: a pure query of the linked library's version (3.3.2 is 30302).
        let version = unsafe { libmimalloc_sys::mi_version() };
        assert!(
            (30_000..40_000).contains(&version),
            "mimalloc {version}: the option index is mimalloc 3's"
        );
        assert_eq!(option(MI_OPTION_PURGE_DELAY), 1000);
        assert_eq!(option(libmimalloc_sys::mi_option_max_errors), 32);
        keep_freed_memory();
        assert_eq!(option(MI_OPTION_PURGE_DELAY), -1);
    }
}
