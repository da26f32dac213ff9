//! The `shortcut` commands, one file each: a command reads its arguments ([`crate::cli_args`]
//! holds the whole grammar, so the fuzz tests parse exactly what the binary parses), checks
//! them, calls the library and prints what happened. The work itself lives in the library.

mod attack;
mod data;
mod devices;
mod eval;
mod explain;
mod gradcam;
mod inputs;
mod report;
mod sae;
mod study;
mod train;

use crate::cli_args::{Cli, Command};
use shortcut::Result;

/// Run the command `cli` names.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Study(a) => study::run(a),
        Command::Report { dir } => report::run(&dir),
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Gradcam(a) => gradcam::run(a),
        Command::Attack(a) => attack::run(a),
        Command::Sae(a) => sae::run(a),
        Command::Data { action } => data::run(action),
        Command::Devices { device } => devices::run(&device),
    }
}
