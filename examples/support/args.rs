//! The few command-line helpers the speed examples share (included with `#[path]`: a folder
//! without a `main.rs` is not an example of its own).

use shortcut::Result;

/// The value after `name` in `args`, or `default`.
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// The whole number after `name`, or `default`.
pub fn count(args: &[String], name: &str, default: &str) -> Result<usize> {
    arg(args, name, default)
        .parse()
        .map_err(|_| shortcut::Error::Invalid(format!("{name} wants a number")))
}

/// Run `run`; on an error print one line and exit with status 1.
pub fn exit_on_error(run: impl FnOnce() -> Result<()>) {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
