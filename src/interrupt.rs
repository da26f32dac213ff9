//! Ctrl-C (SIGINT) and SIGTERM as a request to stop at the next safe point.
//!
//! [`install`] replaces the default action (die at once, losing the epoch in progress) by a
//! handler that only sets a flag. The training loop calls [`requested`] after each step (a
//! Ctrl-C during data loading or an evaluation takes effect at the next training step; one
//! after the last step lets the run finish normally); when it is set they save what they have (atomically), and return
//! [`crate::error::Error::Interrupted`] with a line saying how to resume. A second Ctrl-C while
//! that happens exits at once (status 130): every file is written to a temporary name and
//! renamed, so even then nothing half-written is left under a name a later run trusts.
//!
//! The handler does nothing but atomic operations and `_exit`, which is what a signal handler
//! may do.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_STATUS: u8 = 130;

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe; the user pressed Ctrl-C twice.
        unsafe { libc::_exit(EXIT_STATUS as libc::c_int) }
    }
}

/// Route SIGINT and SIGTERM to the flag (Unix; elsewhere the default action stays). A signal
/// the process was started with ignored (a background job of a non-interactive shell) stays
/// ignored, as the shell meant.
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic and calls _exit (async-signal-safe).
    unsafe {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        for sig in [libc::SIGINT, libc::SIGTERM] {
            if libc::signal(sig, handler) == libc::SIG_IGN {
                libc::signal(sig, libc::SIG_IGN);
            }
        }
    }
}

/// Has the user asked to stop?
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Set the flag as a signal would (tests, and code that wants a clean stop).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Clear the flag.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Return [`crate::error::Error::Interrupted`] when the user has asked to stop: long loops
/// that write nothing (an attack's steps, an SAE's epochs, activation maximization) call it so
/// that Ctrl-C is felt within a step, and the caller throws away the half-done work.
pub fn check() -> crate::error::Result<()> {
    if requested() {
        Err(crate::error::Error::Interrupted(
            "stopped by Ctrl-C".to_string(),
        ))
    } else {
        Ok(())
    }
}
