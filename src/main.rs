//! The `shortcut` command: data, training, evaluation and the whole study.
//!
//! Every mistake a user can make (a wrong path, a bad flag value, a checkpoint of another
//! model, a missing dataset) ends with one line on stderr saying what is wrong and what to do,
//! and a non-zero exit code — never a panic backtrace.

mod cli_args;

use clap::Parser;
use cli_args::{AttackArgs, Cli, Command, DataAction, DataArgs, SaeArgs, TrainArgs};
use shortcut::data::{self, fetch, mnist, BiasedMnist, Split};
use shortcut::models::ModelKind;
use shortcut::nn::Module;
use shortcut::study::{self, Profile, StudyConfig};
use shortcut::train::resume::RESUME_FILE;
use shortcut::train::run_folder::{FolderMode, LoadedModel, RunPlan};
use shortcut::train::{Method, Suppression, TrainConfig};
use shortcut::{Device, Error, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn say(s: &str) {
    println!("{s}");
}

/// Find MNIST, or download it into ./data/mnist when no local copy exists.
fn resolve_data(args: &DataArgs) -> Result<PathBuf> {
    match data::find_data_dir(args.data_dir.as_deref()) {
        Ok(dir) => Ok(dir),
        Err(_) if args.data_dir.is_some() || std::env::var_os("SHORTCUT_DATA").is_some() => {
            let (flag, d) = match &args.data_dir {
                Some(d) => (format!("--data-dir {}", d.display()), d.clone()),
                None => {
                    let d = PathBuf::from(std::env::var_os("SHORTCUT_DATA").unwrap_or_default());
                    (format!("$SHORTCUT_DATA={}", d.display()), d)
                }
            };
            Err(Error::Invalid(format!(
                "{flag}: no MNIST there ({}); fix the path or run `shortcut data fetch --dir {}`",
                mnist::describe_absence(&d),
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
            // Marked from the same choice `--device wgpu` makes (SHORTCUT_WGPU_ADAPTER included).
            let chosen = shortcut::device::wgpu::adapters::best()
                .ok()
                .map(|b| b.info);
            for a in &adapters {
                let tag = if chosen.as_ref() == Some(&a.info) {
                    " ← --device wgpu"
                } else {
                    ""
                };
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
        Command::Train(args) => {
            // Ctrl-C finishes the step in progress, saves, and says how to resume.
            shortcut::interrupt::install();
            train(args)
        }
        Command::Explain {
            checkpoint: path,
            out,
            device,
            seed,
            quick,
            limit,
            data,
        } => {
            let device = Device::parse(&device)?;
            if limit == Some(0) {
                return Err(Error::Invalid("--limit must be at least 1".into()));
            }
            let loaded = load_checkpoint(&path, device)?;
            let out =
                out.unwrap_or_else(|| PathBuf::from(format!("explain-{}", loaded.kind.slug())));
            let d = load_data(&data, seed, 0.95, true)?;
            let e = study::explain::explain(
                loaded.model.as_ref(),
                loaded.kind,
                &path,
                &d,
                quick,
                limit,
                device,
                &out,
                &mut |s| say(s),
            )?;
            say(&format!(
                "wrote {} and explain.json ({:.1} s)",
                out.join("explain.html").display(),
                e.seconds
            ));
            Ok(())
        }
        Command::Attack(args) => attack(args),
        Command::Sae(args) => sae(args),
        Command::Gradcam {
            checkpoint: path,
            split,
            index,
            class,
            layer,
            out,
            device,
            seed,
            data,
        } => gradcam_one(
            &path, &split, index, class, layer, &out, &device, seed, &data,
        ),
        Command::Eval {
            checkpoint: path,
            device,
            seed,
            limit,
            data,
        } => {
            let device = Device::parse(&device)?;
            if limit == Some(0) {
                return Err(Error::Invalid("--limit must be at least 1".into()));
            }
            let model = load_model(&path, device)?;
            let d = load_data(&data, seed, 0.95, true)?;
            for split in Split::ALL {
                let start = std::time::Instant::now();
                let e = shortcut::train::evaluate(model.as_ref(), &d, split, limit, device)?;
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
            lr,
            tasks,
            fresh,
            data,
        } => {
            let profile = Profile::parse(&profile)?;
            // The data folder is found (or fetched) only once every setting is known to be good.
            let mut cfg =
                StudyConfig::for_profile(profile, Device::parse(&device)?, PathBuf::new());
            if let Some(n) = seeds {
                if n == 0 || n > study::MAX_SEEDS as u64 {
                    return Err(Error::Invalid(format!(
                        "--seeds must be between 1 and {}, got {n}",
                        study::MAX_SEEDS
                    )));
                }
                cfg.seeds = (0..n).collect();
            }
            if let Some(e) = epochs {
                cfg.epochs = Some(e);
            }
            if limit.is_some() {
                cfg.limit = limit;
            }
            cfg.lr = lr;
            cfg.tasks = study::plan::parse_tasks(&tasks)?;
            cfg.fresh = fresh;
            cfg.progress = true;
            cfg.validate()?;
            cfg.data_dir = resolve_data(&data)?;
            shortcut::interrupt::install();
            let r = study::run_study(&cfg, &out, &mut |s| shortcut::progress::println(s))?;
            if let Some(t1) = &r.task1 {
                let (tm, ts) = t1.train_acc_mean_std;
                let (hm, hs) = t1.hard_acc_mean_std;
                say(&format!(
                    "LazyCNN over {} seed(s): train {tm:.1} ± {ts:.1}% (report 96.3%), hard {hm:.1} ± {hs:.1}% (report 17.8%)",
                    cfg.seeds.len()
                ));
            }
            let took: Vec<String> = r
                .task_seconds
                .iter()
                .map(|(t, s)| match r.task_peak_mb.get(t) {
                    Some(mb) => format!("{t} {} ({mb:.0} MB peak)", study::plan::human(*s)),
                    None => format!("{t} {}", study::plan::human(*s)),
                })
                .collect();
            say(&format!(
                "took {} in all: {}",
                study::plan::human(r.seconds),
                took.join(", ")
            ));
            say(&format!("open {}", out.join("index.html").display()));
            Ok(())
        }
    }
}

/// The method named on the command line, with the method-specific flags applied (a flag of
/// another method is a mistake, not silently ignored).
fn method_of(a: &TrainArgs) -> Result<Method> {
    let mut m = Method::with_defaults(&a.method)?;
    let flags = [
        (a.lambda.is_some(), "lambda", "consistency"),
        (a.gamma.is_some(), "gamma", "focal"),
        (a.suppress.is_some(), "suppress", "suppress"),
        (a.amplify.is_some(), "amplify", "suppress"),
        (a.rank_from.is_some(), "rank-from", "suppress"),
    ];
    if let Some((_, flag, owner)) = flags
        .iter()
        .find(|(given, _, owner)| *given && *owner != m.name())
    {
        return Err(Error::Invalid(format!(
            "--{flag} applies to --method {owner}, not --method {}",
            a.method
        )));
    }
    match &mut m {
        Method::Consistency { lambda, .. } => *lambda = a.lambda.unwrap_or(*lambda),
        Method::Focal { gamma } => *gamma = a.gamma.unwrap_or(*gamma),
        Method::Suppress { suppress, amplify } => {
            *suppress = a.suppress.unwrap_or(*suppress);
            *amplify = a.amplify.unwrap_or(*amplify);
        }
        Method::Plain => {}
    }
    m.validate()?;
    Ok(m)
}

/// A checkpoint of LazyCNN or ShapeCNN, with the suppression hook its metadata records.
fn load_model(path: &Path, device: Device) -> Result<Box<dyn Module>> {
    Ok(load_checkpoint(path, device)?.model)
}

/// Load a checkpoint of ours, saying so when it re-attaches a suppression hook.
fn load_checkpoint(path: &Path, device: Device) -> Result<LoadedModel> {
    let loaded = shortcut::train::run_folder::load_model(path, device)?;
    if let Some(s) = &loaded.suppression {
        say(&format!(
            "{}: applying its neuron-suppression hook on {} (colour channels {:?} × {}, shape channels {:?} × {})",
            path.display(),
            s.layer,
            s.color_channels,
            s.suppress,
            s.shape_channels,
            s.amplify
        ));
    }
    Ok(loaded)
}

/// The largest --epochs `shortcut sae` accepts (100 is SPEC's; a 60,000-sample epoch takes
/// about a second on a CPU).
const MAX_SAE_EPOCHS: usize = 100_000;

/// `shortcut sae`: validate everything, then train (or load) and measure.
fn sae(a: SaeArgs) -> Result<()> {
    let device = Device::parse(&a.device)?;
    let k = match a.k {
        Some(k) if k < 1 => {
            return Err(Error::Invalid(format!("--k {k}: k must be at least 1")));
        }
        Some(k) => Some(k as usize),
        None => None,
    };
    let kind = shortcut::interp::sae::SaeKind::parse(&a.kind, k)?;
    if matches!(kind, shortcut::interp::sae::SaeKind::TopK(_))
        && (a.lambda.is_some() || a.l1.is_some() || a.decoder_norm)
    {
        return Err(Error::Invalid(
            "--lambda, --l1 and --decoder-norm shape the L1 penalty, which a TopK SAE has none of (k sets its sparsity)"
                .into(),
        ));
    }
    if a.epochs == 0 || a.epochs > MAX_SAE_EPOCHS {
        return Err(Error::Invalid(format!(
            "--epochs {}: must be between 1 and {MAX_SAE_EPOCHS}",
            a.epochs
        )));
    }
    if a.limit == Some(0) || a.width == Some(0) {
        return Err(Error::Invalid(
            "--limit and --width must be at least 1".into(),
        ));
    }
    let config = shortcut::interp::sae::SaeConfig {
        kind,
        lambda: a
            .lambda
            .unwrap_or(shortcut::interp::sae::SaeConfig::SPEC.lambda),
        l1: shortcut::interp::sae::L1Form::parse(a.l1.as_deref().unwrap_or("mean"))?,
        decoder_norm: a.decoder_norm,
        epochs: a.epochs,
        seed: a.seed,
        ..shortcut::interp::sae::SaeConfig::SPEC
    };
    // λ and the rest now; k against the dictionary once the layer's width is known.
    shortcut::interp::sae::SaeConfig {
        kind: shortcut::interp::sae::SaeKind::Relu,
        ..config
    }
    .validate(1)?;
    let loaded = load_checkpoint(&a.checkpoint, device)?;
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("sae-{}", loaded.kind.slug())));
    let d = load_data(&a.data, a.seed, 0.95, true)?;
    let req = study::task6::SaeRequest {
        layer: a.layer.as_deref(),
        config,
        width: a.width,
        load: a.load.as_deref(),
        limit: a.limit,
    };
    let r = study::task6::sae_checkpoint(
        loaded.model.as_ref(),
        loaded.kind,
        loaded.kind.name(),
        &req,
        &d,
        device,
        &out,
        &mut |s| say(s),
    )?;
    say(&format!(
        "{} on {} ({}→{}): MSE {:.3e}, explained variance {:.2} % (SPEC's formula) / {:.2} %, L0 {:.1} ({:.1} %), {} dead",
        r.label,
        r.layer,
        r.d_in,
        r.config.width,
        r.test.mse,
        100.0 * r.test.explained_variance_spec,
        100.0 * r.test.explained_variance,
        r.test.l0,
        100.0 * r.test.density,
        r.test.dead,
    ));
    for s in &r.spliced {
        say(&format!(
            "spliced in, {}: {:.1} % (clean {:.1} %, zero-ablated {:.1} %)",
            s.split, s.sae.accuracy, s.clean.accuracy, s.zero_ablation.accuracy
        ));
    }
    say(&format!(
        "wrote {} and sae.json",
        out.join("sae.html").display()
    ));
    Ok(())
}

fn parse_split(s: &str) -> Result<Split> {
    Split::ALL
        .into_iter()
        .find(|x| x.name() == s)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "unknown split '{s}': expected train, hard or aligned"
            ))
        })
}

fn class_arg(flag: &str, v: Option<i64>) -> Result<Option<usize>> {
    match v {
        Some(c) if !(0..10).contains(&c) => Err(Error::Invalid(format!(
            "{flag} {c}: classes are digits 0–9"
        ))),
        Some(c) => Ok(Some(c as usize)),
        None => Ok(None),
    }
}

/// `shortcut attack`: one attack, every ε, one model.
fn attack(a: AttackArgs) -> Result<()> {
    let device = Device::parse(&a.device)?;
    let eps: Vec<f32> = a
        .eps
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<f32>()
                .map_err(|_| Error::Invalid(format!("--eps: '{s}' is not a number")))
        })
        .collect::<Result<_>>()?;
    if eps.is_empty() {
        return Err(Error::Invalid("--eps needs at least one value".into()));
    }
    for &e in &eps {
        shortcut::interp::attack::check_eps(e).map_err(|_| {
            Error::Invalid(format!(
                "--eps {e}: ε must be in [0, 1] (pixels are in [0, 1])"
            ))
        })?;
    }
    let (source, target, n) = match a.limit {
        Some(l) => (
            class_arg("--source", a.source)?,
            class_arg("--target", a.target)?,
            l,
        ),
        None => (
            Some(class_arg("--source", a.source)?.unwrap_or(7)),
            Some(class_arg("--target", a.target)?.unwrap_or(3)),
            a.n,
        ),
    };
    if n == 0 {
        return Err(Error::Invalid("--n / --limit must be at least 1".into()));
    }
    let spec = study::task5::AttackSpec {
        method: a.method,
        eps,
        target,
        source,
        n,
        split: parse_split(&a.split)?,
    };
    if !["fgsm", "pgd", "colour"].contains(&spec.method.as_str()) {
        return Err(Error::Invalid(format!(
            "unknown attack '{}': expected fgsm, pgd or colour",
            spec.method
        )));
    }
    let loaded = load_checkpoint(&a.checkpoint, device)?;
    let d = load_data(&a.data, a.seed, 0.95, true)?;
    let r = study::task5::attack_checkpoint(
        loaded.model.as_ref(),
        loaded.kind.name(),
        &a.checkpoint,
        &d,
        spec,
        device,
        &a.out,
    )?;
    say(&format!(
        "{} {} on {} {} images{} (clean accuracy {:.1} %{}):",
        r.model,
        r.spec.method,
        r.indices.len(),
        r.split,
        r.spec
            .source
            .map(|s| format!(" of digit {s}"))
            .unwrap_or_default(),
        100.0 * r.clean_accuracy,
        r.spec
            .target
            .map(|t| format!(", {} already predicted {t}", r.already_target))
            .unwrap_or_default()
    ));
    for p in &r.points {
        say(&format!(
            "  ε {:<5} success {:5.1} % [{:.1}, {:.1}]  mean {} probability {:.3}  accuracy {:.1} %",
            p.eps,
            100.0 * p.success,
            100.0 * p.success_ci.0,
            100.0 * p.success_ci.1,
            if r.spec.target.is_some() { "target" } else { "true-class" },
            p.mean_confidence,
            100.0 * p.accuracy
        ));
    }
    say(&format!(
        "wrote {}, attack.json and strip_0.png ({:.1} s)",
        a.out.join("attack.html").display(),
        r.seconds
    ));
    Ok(())
}

/// `shortcut gradcam`: one image, one class, one overlay.
#[allow(clippy::too_many_arguments)]
fn gradcam_one(
    path: &Path,
    split: &str,
    index: usize,
    class: Option<i64>,
    layer: Option<String>,
    out: &Path,
    device: &str,
    seed: u64,
    data: &DataArgs,
) -> Result<()> {
    let device = Device::parse(device)?;
    let split = parse_split(split)?;
    if let Some(c) = class {
        if !(0..10).contains(&c) {
            return Err(Error::Invalid(format!(
                "--class {c}: a class is a digit 0–9"
            )));
        }
    }
    if out.extension().and_then(|e| e.to_str()) != Some("png") {
        return Err(Error::Invalid(format!(
            "--out {}: give a .png file",
            out.display()
        )));
    }
    let loaded = load_checkpoint(path, device)?;
    let layer = layer.unwrap_or_else(|| loaded.kind.cam_layer().to_string());
    shortcut::nn::get_submodule(loaded.model.as_ref(), &layer)?;
    let d = load_data(data, seed, 0.95, true)?;
    let n = d.len(split);
    if index >= n {
        return Err(Error::Invalid(format!(
            "--index {index} is past the {} split ({n} images: 0–{})",
            split.name(),
            n - 1
        )));
    }
    let (x, y) = d.batch(split, 0, &[index], data::Paint::DRAWN, device)?;
    let model = loaded.model.as_ref();
    let logits = shortcut::autograd::no_grad(|| model.forward(&x))?;
    let predicted = shortcut::train::eval::predictions(&logits)?[0];
    let target = class.map(|c| c as usize).unwrap_or(predicted);
    let cam = shortcut::interp::gradcam::grad_cam(model, &layer, &x, &[target])?;
    let image = x.to_vec()?;
    let ratio = shortcut::interp::gradcam::concentration_ratio(&cam.cams[0], 0.8);
    let title = format!(
        "{} {} #{index}: digit {} → {predicted} ({:.2}); CAM of class {target} at {layer}",
        loaded.kind.name(),
        split.name(),
        y[0],
        cam.probs[0][predicted]
    );
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    }
    let tiles = vec![
        image.clone(),
        shortcut::plots::overlay(&image, &cam.cams[0]),
    ];
    shortcut::plots::image_grid_png(out, &tiles, 28, 28, 1, 2, 10, None, Some(&title))
        .map_err(|e| Error::Invalid(e.to_string()))?;
    say(&format!(
        "{title}; concentration ratio {}{}; wrote {}",
        ratio
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "— (empty CAM)".into()),
        if cam.empty[0] {
            " (no positive evidence for this class: the CAM is all zero)"
        } else {
            ""
        },
        out.display()
    ));
    Ok(())
}

/// `shortcut train <model> [--method ...]`.
fn train(a: TrainArgs) -> Result<()> {
    let kind = ModelKind::parse(&a.model)?;
    let method = method_of(&a)?;
    check_bias(a.bias)?;
    let cfg = TrainConfig {
        epochs: a.epochs.unwrap_or_else(|| method.default_epochs(kind)),
        batch: a.batch,
        lr: a.lr.unwrap_or_else(|| method.default_lr()),
        seed: a.seed,
        limit: a.limit,
        device: Device::parse(&a.device)?,
        progress: true,
    };
    cfg.validate()?;
    let d = load_data(&a.data, a.seed, a.bias, !a.fixed_colors)?;
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "runs/{}-{}-seed{}",
            kind.slug(),
            method.name(),
            a.seed
        ))
    });
    let mode = if a.resume {
        FolderMode::Resume
    } else if a.overwrite {
        FolderMode::Overwrite
    } else {
        FolderMode::Fresh
    };
    // A suppress run stopped while it was still training its plain model (the ranking) has its
    // resume file in out/ranked-plain: --resume continues that one first.
    let ranking_unfinished = matches!(method, Method::Suppress { .. })
        && a.rank_from.is_none()
        && out.join("ranked-plain").join(RESUME_FILE).exists();
    let mode =
        if mode == FolderMode::Resume && ranking_unfinished && !out.join(RESUME_FILE).exists() {
            FolderMode::Fresh
        } else {
            mode
        };
    shortcut::train::run_folder::precheck(&out, mode)?;
    let suppression = match &method {
        Method::Suppress { suppress, amplify } => {
            let ranked: Box<dyn Module> = match &a.rank_from {
                Some(p) => load_model(p, cfg.device)?,
                None => {
                    let dir = out.join("ranked-plain");
                    let plain_cfg = TrainConfig {
                        epochs: Method::Plain.default_epochs(kind),
                        lr: Method::Plain.default_lr(),
                        ..cfg.clone()
                    };
                    say(&format!(
                        "ranking channels: training the plain {} of seed {} first ({} epochs) → {}",
                        kind.name(),
                        a.seed,
                        plain_cfg.epochs,
                        dir.display()
                    ));
                    let ranked_ckpt = dir.join("model.safetensors");
                    if shortcut::files::has_our_manifest(&dir) && a.resume {
                        // A resumed suppress run reuses the plain model it already trained.
                        load_model(&ranked_ckpt, cfg.device)?
                    } else {
                        let plan = RunPlan {
                            kind,
                            method: &Method::Plain,
                            suppression: None,
                            cfg: &plain_cfg,
                            mode: if a.resume && ranking_unfinished {
                                FolderMode::Resume
                            } else {
                                FolderMode::Overwrite
                            },
                        };
                        shortcut::train::train_run(&plan, &d, &dir, &mut |s| {
                            say(&format!("  {s}"))
                        })?
                        .1
                    }
                }
            };
            let s = Suppression::rank(ranked.as_ref(), *suppress, *amplify, cfg.device)?;
            say(&format!(
                "suppression hook on {}: colour channels {:?} × {suppress}, shape channels {:?} × {amplify}",
                s.layer, s.color_channels, s.shape_channels
            ));
            Some(s)
        }
        _ => None,
    };
    say(&format!(
        "training {} with --method {} on {} (seed {}, {} epochs, batch {}, lr {}) → {}",
        kind.name(),
        method.name(),
        cfg.device.describe(),
        a.seed,
        cfg.epochs,
        cfg.batch,
        cfg.lr,
        out.display()
    ));
    let plan = RunPlan {
        kind,
        method: &method,
        suppression: suppression.as_ref(),
        cfg: &cfg,
        mode,
    };
    let (run, _) = shortcut::train::train_run(&plan, &d, &out, &mut |s| say(s))?;
    let p = &run.red1_probe;
    say(&format!(
        "final: train {:.1}%  hard {:.1}% (best {:.1}% at epoch {})  aligned {:.1}%  | red-1 probe predicts {} ({:.0}%); all red test 1s → {:?}",
        run.final_train_acc(),
        run.final_hard_acc(),
        run.best_hard_acc,
        run.best_epoch,
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
    match run(cli) {
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
