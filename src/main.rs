//! The `shortcut` command.
//!
//! Today it reports what the engine can run on; the study commands (`train`, `eval`, `study`,
//! `data`) build on this engine in the following issues.

use clap::{Parser, Subcommand};
use shortcut::Device;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "shortcut",
    version,
    about = "A from-scratch tensor engine and the shortcut-learning study on Biased MNIST"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the devices this build can use and how `--device auto` would choose.
    Devices {
        /// Device to check (cpu, auto).
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

fn run(cli: Cli) -> shortcut::Result<()> {
    match cli.command {
        Command::Devices { device } => {
            let d = Device::parse(&device)?;
            println!(
                "cpu: available ({} threads; set RAYON_NUM_THREADS to change)",
                rayon_threads()
            );
            println!("cuda: not in this build yet");
            println!("wgpu: not in this build yet");
            println!("--device {device} selects: {d}");
            Ok(())
        }
    }
}

fn rayon_threads() -> usize {
    shortcut::device::cpu::num_threads()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
