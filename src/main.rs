//! The `shortcut` command: data, training, evaluation and the whole study.
//!
//! Every mistake a user can make (a wrong path, a bad flag value, a checkpoint of another
//! model, a missing dataset) ends with one line on stderr saying what is wrong and what to do,
//! and a non-zero exit code — never a panic backtrace.

use clap::{Parser, Subcommand};
use shortcut::checkpoint;
use shortcut::data::{self, fetch, mnist, BiasedMnist, Split};
use shortcut::models::{LazyCNN, ShapeCNN};
use shortcut::nn::Module;
use shortcut::study::{self, train::TrainConfig, Profile, StudyConfig};
use shortcut::{Device, Error, Result, Rng};
use std::path::{Path, PathBuf};
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
    /// Run the study (Tasks 0 and 1 today) and write a report folder with index.html.
    Study {
        /// quick (smoke run: 2 epochs, 5,000 samples, one seed) or full (the study's settings).
        #[arg(long, default_value = "full")]
        profile: String,
        /// cpu, cuda, wgpu, or auto (CUDA if usable, else a hardware wgpu adapter, else the CPU).
        #[arg(long, default_value = "auto")]
        device: String,
        /// Output folder.
        #[arg(long, default_value = "study-out")]
        out: PathBuf,
        /// Number of seeds (0, 1, …) to train; default: 3 for full, 1 for quick.
        #[arg(long)]
        seeds: Option<u64>,
        /// Epochs per training run (default: the profile's).
        #[arg(long)]
        epochs: Option<usize>,
        /// Use only the first N samples of each split.
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Train a model on Biased MNIST.
    Train {
        #[command(subcommand)]
        model: TrainModel,
    },
    /// Evaluate a saved checkpoint (LazyCNN or ShapeCNN) on the train, hard and aligned splits.
    Eval {
        /// A model.safetensors written by `shortcut train`.
        checkpoint: PathBuf,
        #[arg(long, default_value = "auto")]
        device: String,
        /// The data seed (colours and noise of the splits).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Download or inspect the dataset.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Show the devices this build can use.
    Devices {
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

#[derive(Subcommand)]
enum TrainModel {
    /// The lazy baseline (SPEC Task 1).
    Lazy {
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// cpu, cuda, wgpu, or auto (CUDA if usable, else a hardware wgpu adapter, else the CPU).
        #[arg(long, default_value = "auto")]
        device: String,
        /// Output folder (default: runs/lazy-seed<SEED>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Probability of the dominant colour in the train split.
        #[arg(long, default_value_t = 0.95)]
        bias: f32,
        /// Draw the train colours and noise once instead of every epoch.
        #[arg(long)]
        fixed_colors: bool,
        /// Use only the first N samples of each split.
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum DataAction {
    /// Download the four MNIST files from public mirrors, verifying their MD5 sums.
    Fetch {
        /// Target folder.
        #[arg(long, default_value = "data/mnist")]
        dir: PathBuf,
        /// A mirror to try first (serving <URL>/<file>.gz); may be repeated.
        #[arg(long)]
        mirror: Vec<String>,
    },
    /// Write a grid of samples per split as PNG.
    Preview {
        #[arg(long, default_value = "preview")]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 0.95)]
        bias: f32,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(clap::Args)]
struct DataArgs {
    /// MNIST folder (else $SHORTCUT_DATA, ./data/mnist, ../shared/data/mnist; fetched into
    /// ./data/mnist when none has it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn say(s: &str) {
    println!("{s}");
}

/// Find MNIST, or download it into ./data/mnist when no local copy exists.
fn resolve_data(args: &DataArgs) -> Result<PathBuf> {
    match data::find_data_dir(args.data_dir.as_deref()) {
        Ok(dir) => Ok(dir),
        Err(_) if args.data_dir.is_some() => {
            let d = args.data_dir.as_ref().unwrap();
            Err(Error::Invalid(format!(
                "--data-dir {}: the four MNIST files are not there (expected {}.gz etc.); fix the path or run `shortcut data fetch --dir {}`",
                d.display(),
                mnist::FILES[0],
                d.display()
            )))
        }
        Err(tried) => {
            let dir = PathBuf::from("data/mnist");
            say(&format!(
                "MNIST not found in {}; downloading it into {}",
                tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                dir.display()
            ));
            fetch_into(&dir, &[])?;
            Ok(dir)
        }
    }
}

fn fetch_into(dir: &Path, extra: &[String]) -> Result<()> {
    let mut mirrors: Vec<String> = extra.to_vec();
    mirrors.extend(fetch::DEFAULT_MIRRORS.iter().map(|s| s.to_string()));
    fetch::fetch_mnist(dir, &mirrors, &mut |s| say(&format!("  {s}")))
        .map_err(|e| Error::Invalid(e.to_string()))
}

fn load_data(args: &DataArgs, seed: u64, bias: f32, redraw: bool) -> Result<BiasedMnist> {
    let dir = resolve_data(args)?;
    BiasedMnist::new(mnist::load(&dir)?, seed, bias, redraw)
}

fn check_bias(bias: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&bias) {
        return Err(Error::Invalid(format!(
            "--bias must be between 0 and 1, got {bias}"
        )));
    }
    Ok(())
}

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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devices { device } => {
            let d = Device::parse(&device)?;
            say(&format!(
                "cpu: available ({} threads; set RAYON_NUM_THREADS to change)",
                shortcut::device::cpu::num_threads()
            ));
            match shortcut::device::cuda::gpu() {
                Ok(g) => say(&format!("cuda: {} ← --device cuda", g.describe())),
                Err(e) => say(&format!("cuda: unavailable — {e}")),
            }
            let adapters = shortcut::device::wgpu::adapters::list();
            if adapters.is_empty() {
                say(
                    "wgpu: no adapter (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers)",
                );
            }
            for (i, a) in adapters.iter().enumerate() {
                let tag = if i == 0 { " ← --device wgpu" } else { "" };
                say(&format!(
                    "wgpu: {}{tag}",
                    shortcut::device::wgpu::describe(&a.info)
                ));
            }
            say(&format!("--device {device} selects: {}", d.describe()));
            Ok(())
        }
        Command::Data {
            action: DataAction::Fetch { dir, mirror },
        } => {
            fetch_into(&dir, &mirror)?;
            say(&format!("MNIST is ready in {}", dir.display()));
            Ok(())
        }
        Command::Data {
            action:
                DataAction::Preview {
                    out,
                    seed,
                    bias,
                    data,
                },
        } => {
            check_bias(bias)?;
            let d = load_data(&data, seed, bias, true)?;
            for p in study::task0::write_previews(&d, &out, 8)? {
                say(&format!("wrote {}", p.display()));
            }
            Ok(())
        }
        Command::Train {
            model:
                TrainModel::Lazy {
                    epochs,
                    batch,
                    lr,
                    seed,
                    device,
                    out,
                    bias,
                    fixed_colors,
                    limit,
                    data,
                },
        } => {
            check_bias(bias)?;
            let cfg = TrainConfig {
                epochs,
                batch,
                lr,
                seed,
                limit,
                device: Device::parse(&device)?,
                progress: true,
            };
            cfg.validate()?;
            let d = load_data(&data, seed, bias, !fixed_colors)?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("runs/lazy-seed{seed}")));
            say(&format!("training LazyCNN on {} (seed {seed}, {epochs} epochs, batch {batch}, lr {lr}) → {}", cfg.device.describe(), out.display()));
            let (run, _) = study::task1::run(&d, &cfg, &out, &mut |s| say(s))?;
            let p = &run.red1_probe;
            say(&format!(
                "final: train {:.1}%  hard {:.1}%  aligned {:.1}%  | red-1 probe predicts {} ({:.0}%); all red test 1s → {:?}",
                run.final_train_acc(),
                run.final_hard_acc(),
                run.aligned.accuracy,
                p.predicted,
                100.0 * p.probabilities[p.predicted],
                p.all_ones_predicted
            ));
            say(&format!(
                "wrote {}",
                run.files
                    .iter()
                    .map(|f| out.join(f).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Ok(())
        }
        Command::Eval {
            checkpoint: path,
            device,
            seed,
            limit,
            data,
        } => {
            let device = Device::parse(&device)?;
            let tensors = checkpoint::load(&path, device)?;
            let mut rng = Rng::new(0, 0);
            let model: Box<dyn Module> = if tensors.contains_key("color_mixer.0.weight") {
                Box::new(LazyCNN::new(&mut rng, device)?)
            } else if tensors.contains_key("features.0.weight") {
                Box::new(ShapeCNN::new(&mut rng, device)?)
            } else {
                let mut names: Vec<&String> = tensors.keys().collect();
                names.sort();
                return Err(Error::Invalid(format!(
                    "{} is not a checkpoint of a known model (LazyCNN or ShapeCNN); it holds {:?}",
                    path.display(),
                    names
                )));
            };
            model
                .load_state_dict(&tensors)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
            let d = load_data(&data, seed, 0.95, true)?;
            for split in Split::ALL {
                let start = std::time::Instant::now();
                let e = study::train::evaluate(model.as_ref(), &d, split, limit, device)?;
                let secs = start.elapsed().as_secs_f64();
                say(&format!(
                    "{:<8} {:5.1}%  ({} samples, {:.0} images/s including colourization)",
                    split.name(),
                    e.accuracy,
                    e.samples,
                    e.samples as f64 / secs
                ));
            }
            Ok(())
        }
        Command::Study {
            profile,
            device,
            out,
            seeds,
            epochs,
            limit,
            data,
        } => {
            let profile = Profile::parse(&profile)?;
            let mut cfg =
                StudyConfig::for_profile(profile, Device::parse(&device)?, resolve_data(&data)?);
            if let Some(n) = seeds {
                if n == 0 {
                    return Err(Error::Invalid("--seeds must be at least 1".into()));
                }
                cfg.seeds = (0..n).collect();
            }
            if let Some(e) = epochs {
                cfg.epochs = e;
            }
            if limit.is_some() {
                cfg.limit = limit;
            }
            cfg.progress = true;
            let r = study::run_study(&cfg, &out, &mut |s| say(s))?;
            let (tm, ts) = r.task1.train_acc_mean_std;
            let (hm, hs) = r.task1.hard_acc_mean_std;
            say(&format!(
                "LazyCNN over {} seed(s): train {tm:.1} ± {ts:.1}% (report 96.3%), hard {hm:.1} ± {hs:.1}% (report 17.8%)",
                cfg.seeds.len()
            ));
            say(&format!("open {}", out.join("index.html").display()));
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    quiet_vulkan_loader();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
