//! The `shortcut` command: data, training, evaluation, explanations and the whole study.
//!
//! Every mistake a user can make (a wrong path, a bad flag value, a checkpoint of another
//! model, a missing dataset) ends with one line on stderr saying what is wrong and what to do,
//! and a non-zero exit code — never a panic backtrace. Each command is a file of
//! `src/commands/`; this file only parses the line and reports how it ended.

mod cli_args;
mod commands;

use clap::Parser;
use cli_args::Cli;
use shortcut::Error;
use std::process::ExitCode;

/// The Vulkan loader and Mesa print "XDG_RUNTIME_DIR is invalid or not set" on every adapter
/// query when the variable is missing (containers, CI); give them a private folder instead.
/// Runs first thing in `main`, before any thread exists.
fn quiet_vulkan_loader() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join("shortcut-xdg-runtime");
        if std::fs::create_dir_all(&dir).is_ok() {
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}

fn main() -> ExitCode {
    quiet_vulkan_loader();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            // --help and --version print as usual; so does the help a bare `shortcut` (or
            // `shortcut data`) shows, which exits as an error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
        Err(e) => {
            // One line, like every other mistake (clap adds usage and tips below it).
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{} (see --help)", first.trim_end_matches('.'));
            return ExitCode::from(2);
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Interrupted(msg)) => {
            eprintln!("interrupted: {msg}");
            ExitCode::from(shortcut::interrupt::EXIT_STATUS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
