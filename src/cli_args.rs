//! The command line's arguments (clap), the whole grammar in one file, apart from what the
//! commands do (`src/commands/`), so the fuzz tests (`tests/fuzz.rs`) parse exactly what the
//! binary parses.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "shortcut",
    version,
    about = "A from-scratch tensor engine and the shortcut-learning study on Biased MNIST"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole study — the biased data, the lazy model, what it learned, Grad-CAM,
    /// debiasing methods, adversarial attacks, sparse autoencoders — and write a report folder
    /// (index.html, results.json); run it again to resume.
    Study(StudyArgs),
    /// Render a finished study's index.html again from its results.json, computing nothing
    /// (refuses a folder changed since the study wrote it).
    Report {
        /// The study's folder (its --out).
        #[arg(default_value = "study-out")]
        dir: PathBuf,
    },
    /// Train a model on Biased MNIST with one of the debiasing methods.
    Train(TrainArgs),
    /// Evaluate a saved checkpoint (LazyCNN or ShapeCNN) on the train, hard and aligned splits.
    Eval(EvalArgs),
    /// Explain a checkpoint (LazyCNN, ShapeCNN or AttentionCNN): images that maximize each
    /// class and filter, how colour-selective its units are, and Grad-CAM heat maps; writes
    /// explain.html, explain.json and the figures.
    Explain(ExplainArgs),
    /// Attack a checkpoint (FGSM, PGD or colour-only) for each ε; writes attack.json,
    /// attack.html and a strip.
    Attack(AttackArgs),
    /// Train a sparse autoencoder on a checkpoint's hidden layer and measure it: how well it
    /// reconstructs, how sparse it is, which features carry digit or colour, and what splicing
    /// it into the model does; writes sae.safetensors, sae.json, sae.html and the figures.
    Sae(SaeArgs),
    /// Draw one Grad-CAM overlay: the image and its CAM side by side.
    Gradcam(GradcamArgs),
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

/// `shortcut study`: how much of the study, where, and on what.
#[derive(clap::Args)]
pub struct StudyArgs {
    /// quick (smoke run: 2 epochs, 5,000 samples, one seed), default (the original study's
    /// settings: every run's own epochs, all samples, one seed) or full (three seeds and the method × architecture table).
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// cpu, cuda, wgpu, or auto (CUDA if usable, else a hardware wgpu adapter, else the CPU).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Output folder.
    #[arg(long, default_value = "study-out")]
    pub out: PathBuf,
    /// Number of seeds (0, 1, …) to train; default: 3 for full, 1 for quick.
    #[arg(long, allow_hyphen_values = true, value_parser = seed_value)]
    pub seeds: Option<u64>,
    /// Epochs per training run (default: the profile's).
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub epochs: Option<usize>,
    /// Use only the first N samples of each split.
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub limit: Option<usize>,
    /// Adam's learning rate of the plain runs (Task 1's LazyCNN and the attention CNN); the
    /// debiasing runs keep their own (focal 5e-4, the others 1e-3).
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    pub lr: f32,
    /// Which tasks to run: `all`, or numbers such as 0,1,4 (a task pulls in the tasks it
    /// needs: 2 needs 1; 4 needs 1; 3 needs 1, 2, 4; 5 and 6 need 1, 4).
    #[arg(long, default_value = "all")]
    pub tasks: String,
    /// Redo everything: remove the study's earlier files in --out instead of reusing the
    /// finished runs and analyses there.
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `shortcut eval CHECKPOINT`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// A model.safetensors written by `shortcut train`.
    pub checkpoint: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// The data seed (colours and noise of the splits).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = seed_value)]
    pub seed: u64,
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `shortcut explain CHECKPOINT`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// A model.safetensors written by `shortcut train` or `shortcut study`.
    pub checkpoint: PathBuf,
    /// Output folder (default: explain-<model> beside the current folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// The data seed (colours and noise of the test images).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = seed_value)]
    pub seed: u64,
    /// A tenth of the optimization steps and fewer images: a smoke run in seconds.
    #[arg(long)]
    pub quick: bool,
    /// Use only the first N test images.
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `shortcut gradcam CHECKPOINT --index I --out F.png`.
#[derive(clap::Args)]
pub struct GradcamArgs {
    /// A model.safetensors written by `shortcut train` or `shortcut study`.
    pub checkpoint: PathBuf,
    /// train, hard or aligned.
    #[arg(long, default_value = "hard")]
    pub split: String,
    /// The image's index in the split.
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub index: usize,
    /// The class to explain (default: the predicted one).
    #[arg(long, allow_hyphen_values = true)]
    pub class: Option<i64>,
    /// The layer, by dotted name (default: the model's last convolution).
    #[arg(long)]
    pub layer: Option<String>,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = seed_value)]
    pub seed: u64,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `shortcut train <lazy|shape|attention|mlp>`: the model, the method and their settings.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// The model: lazy (LazyCNN: one 3×3 convolution and an average pool, the model that
    /// learns the colour), shape (ShapeCNN: five convolutions, deep enough to learn shapes),
    /// attention (two convolutions and a spatial-attention pooling) or mlp (the
    /// 2352→100→100→100→10 MLP of the Learning from Failure benchmark).
    pub model: String,
    /// plain (cross-entropy), consistency (colour jitter + symmetric KL), focal (focal loss),
    /// suppress (a forward hook scales the last conv's colour and shape channels) or lff
    /// (Learning from Failure: a biased model trained beside it decides which samples count).
    #[arg(long, default_value = "plain")]
    pub method: String,
    /// Epochs (default: the method's own — plain 10 lazy / 20 shape / 100 mlp, consistency 25,
    /// focal 30, suppress 15, lff as plain).
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub epochs: Option<usize>,
    #[arg(long, default_value_t = 64, allow_hyphen_values = true, value_parser = count)]
    pub batch: usize,
    /// Adam's learning rate (default: 5e-4 for focal, 1e-3 otherwise).
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f32>,
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = seed_value)]
    pub seed: u64,
    /// cpu, cuda, wgpu, or auto (CUDA if usable, else a hardware wgpu adapter, else the CPU).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Output folder (default: runs/<model>-<method>-seed<SEED>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Probability of the dominant colour in the train split.
    #[arg(long, default_value_t = 0.95, allow_hyphen_values = true)]
    pub bias: f32,
    /// Draw the train colours and noise once instead of every epoch.
    #[arg(long)]
    pub fixed_colors: bool,
    /// Use only the first N samples of each split.
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub limit: Option<usize>,
    /// consistency: weight λ of the symmetric KL term (default 5).
    #[arg(long, allow_hyphen_values = true)]
    pub lambda: Option<f32>,
    /// focal: focusing parameter γ (default 2).
    #[arg(long, allow_hyphen_values = true)]
    pub gamma: Option<f32>,
    /// suppress: factor of the colour channels (default 0.3).
    #[arg(long, allow_hyphen_values = true)]
    pub suppress: Option<f32>,
    /// lff: q of the biased model's generalized cross-entropy, in (0, 1] (default 0.7).
    #[arg(long, allow_hyphen_values = true)]
    pub q: Option<f32>,
    /// suppress: factor of the shape channels (default 3.0).
    #[arg(long, allow_hyphen_values = true)]
    pub amplify: Option<f32>,
    /// Continue the unfinished run in --out (after Ctrl-C or a crash) from its last save.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace the run already in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// suppress: rank the channels on this trained checkpoint of the same model (default:
    /// train the plain model of the same seed first, into <out>/ranked-plain).
    #[arg(long)]
    pub rank_from: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Subcommand)]
pub enum DataAction {
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
        #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = seed_value)]
        seed: u64,
        #[arg(long, default_value_t = 0.95, allow_hyphen_values = true)]
        bias: f32,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(clap::Args)]
pub struct DataArgs {
    /// MNIST folder (else $SHORTCUT_DATA, ./data/mnist, ../shared/data/mnist; fetched into
    /// ./data/mnist when none has it).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Parse a count or size (`--epochs`, `--limit`, `--batch`, …): our own message for what clap
/// would reject with its own (a negative number, a word), so every mistake reads alike.
pub fn count(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<i128>() {
        Ok(v) if v < 0 => Err(format!("{v} is negative: a count is a whole number ≥ 0")),
        Ok(v) => usize::try_from(v).map_err(|_| format!("{v} is too large")),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

/// Parse a seed: any whole number in 0 … 2⁶⁴ − 1.
pub fn seed_value(s: &str) -> std::result::Result<u64, String> {
    match s.trim().parse::<i128>() {
        Ok(v) if v < 0 => Err(format!("{v} is negative: a seed is a whole number ≥ 0")),
        Ok(v) => u64::try_from(v).map_err(|_| format!("{v} is larger than 2^64 − 1")),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

/// `shortcut attack CHECKPOINT`: which images, which attack, which ε.
#[derive(clap::Args)]
pub struct AttackArgs {
    /// A model.safetensors written by `shortcut train` or `shortcut study`.
    pub checkpoint: PathBuf,
    /// fgsm, pgd (α = ε/10, 40 steps) or colour (repaint the stroke; no ε).
    #[arg(long, default_value = "pgd")]
    pub method: String,
    /// Comma-separated ε values in [0, 1].
    #[arg(
        long,
        default_value = "0.01,0.02,0.03,0.05,0.07,0.1",
        allow_hyphen_values = true
    )]
    pub eps: String,
    /// Attack the first --n images of this digit (default 7; with --limit: every digit).
    #[arg(long, allow_hyphen_values = true)]
    pub source: Option<i64>,
    /// The target class (default 3; with --limit: untargeted unless given).
    #[arg(long, allow_hyphen_values = true)]
    pub target: Option<i64>,
    /// How many source images.
    #[arg(long, default_value_t = 20, allow_hyphen_values = true, value_parser = count)]
    pub n: usize,
    /// Attack the first N images of --split instead of --n images of --source.
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub limit: Option<usize>,
    /// train, hard or aligned.
    #[arg(long, default_value = "hard")]
    pub split: String,
    #[arg(long, default_value = "attack-out")]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = seed_value)]
    pub seed: u64,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `shortcut sae CHECKPOINT`: the SAE's settings (the original study's by default).
#[derive(clap::Args)]
pub struct SaeArgs {
    /// A model.safetensors written by `shortcut train` or `shortcut study`.
    pub checkpoint: PathBuf,
    /// The L1 penalty's form: mean (over batch and features; reproduces the report; the
    /// default) or sum (over features, mean over the batch).
    #[arg(long)]
    pub l1: Option<String>,
    /// relu (L1-penalized) or topk (keep the k largest pre-activations; needs --k).
    #[arg(long, default_value = "relu")]
    pub kind: String,
    #[arg(long, allow_hyphen_values = true)]
    pub k: Option<i64>,
    /// λ of the L1 penalty (default 5e-4).
    #[arg(long, allow_hyphen_values = true)]
    pub lambda: Option<f32>,
    /// Weight each feature's |h| by its decoder column's norm.
    #[arg(long)]
    pub decoder_norm: bool,
    /// Dictionary size (default: 4× the layer's width).
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub width: Option<usize>,
    #[arg(long, default_value_t = 100, allow_hyphen_values = true, value_parser = count)]
    pub epochs: usize,
    /// The layer, by dotted name (default: LazyCNN classifier.2, ShapeCNN pool, AttentionCNN attention).
    #[arg(long)]
    pub layer: Option<String>,
    /// Measure this saved SAE (sae.safetensors) instead of training one.
    #[arg(long)]
    pub load: Option<PathBuf>,
    /// Use only the first N samples of each split.
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub limit: Option<usize>,
    /// Output folder (default: sae-<model>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// The data seed (colours and noise); also seeds the SAE's initialization and shuffles.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = seed_value)]
    pub seed: u64,
    #[command(flatten)]
    pub data: DataArgs,
}
