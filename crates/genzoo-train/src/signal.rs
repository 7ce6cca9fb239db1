//! Ctrl-C and SIGTERM: the first signal asks the run loop to save `last` and stop after the
//! current step; a second signal exits at once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Exit status of a run stopped by a signal (128 + SIGINT), as shells report it.
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

/// Installs the handler once per process; later calls do nothing. Returns whether a handler is
/// active (installation fails if the embedding program already set its own).
pub fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("second interrupt: exiting without saving");
                std::process::exit(INTERRUPTED_EXIT_CODE);
            }
            eprintln!("interrupt: finishing the current step, saving `last`; press Ctrl-C again to exit at once");
        })
        .is_ok()
    })
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks the loop to stop as if a signal had arrived (used by tests and embedding programs).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Clears a pending request, so that one process can run several trainings.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}
