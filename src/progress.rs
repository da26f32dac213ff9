//! Terminal progress: the per-epoch bars of training and, during a study, one overall bar above
//! them. Both live in one [`indicatif::MultiProgress`] so that they redraw together, and log
//! lines go through it ([`println`]) so that they scroll above the bars instead of tearing them.
//! Bars draw only on a terminal; in a pipe or a file only the log lines appear.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::Mutex;

/// A duration for people: `93 s`, `14 min`, `2.3 h`.
pub fn human(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

static MULTI: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn multi() -> Option<MultiProgress> {
    MULTI.lock().ok().and_then(|m| m.clone())
}

/// Start drawing bars together (until [`end`]); returns the group.
pub fn begin() -> MultiProgress {
    let m = MultiProgress::new();
    if let Ok(mut slot) = MULTI.lock() {
        *slot = Some(m.clone());
    }
    m
}

/// Stop grouping bars.
pub fn end() {
    if let Ok(mut slot) = MULTI.lock() {
        *slot = None;
    }
}

/// A bar of `len` steps titled `prefix` (hidden unless `show`), inside the group when one is
/// active.
pub fn bar(show: bool, len: u64, prefix: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix.to_string());
    match multi() {
        Some(m) => m.add(bar),
        None => bar,
    }
}

/// Print a log line (stdout), above the bars when they are drawn.
pub fn println(s: &str) {
    match multi() {
        Some(m) if !m.is_hidden() => {
            if m.println(s).is_err() {
                println!("{s}");
            }
        }
        _ => println!("{s}"),
    }
}
