//! The `shortcut` binary end to end on small subsets of the real MNIST (`--limit`), and its
//! one-line errors for user mistakes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

/// MNIST, found or fetched like the CLI does (`common::mnist_dir`); `None`: skip the test.
fn shared() -> Option<PathBuf> {
    common::mnist_dir()
}

fn shortcut(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shortcut"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// A user error: non-zero exit, one `error:` line on stderr mentioning `needle`, no panic.
fn assert_user_error(o: &Output, needle: &str) {
    let (out, err) = text(o);
    assert!(!o.status.success(), "expected failure; stdout: {out}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "panic: {err}"
    );
    assert!(err.contains(needle), "stderr lacks '{needle}': {err}");
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn train_lazy_writes_metrics_figures_and_a_checkpoint_that_eval_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let Some(data) = shared() else { return };
    let o = shortcut(&[
        "train",
        "lazy",
        "--epochs",
        "2",
        "--limit",
        "600",
        "--seed",
        "3",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("epoch  2:") && stdout.contains("red-1 probe predicts"),
        "{stdout}"
    );
    for f in [
        "model.safetensors",
        "curves.png",
        "confusion_hard.png",
        "conflict_matrix.png",
        "metrics.json",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let m = read_json(&out.join("metrics.json"));
    for key in [
        "train_acc",
        "hard_acc",
        "aligned_acc",
        "epoch_seconds",
        "train_loss",
    ] {
        assert_eq!(m[key].as_array().unwrap().len(), 2, "{key}");
    }
    let conf = m["confusion_hard"].as_array().unwrap();
    assert_eq!(conf.len(), 10);
    let total: u64 = conf
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 600);
    assert_eq!(
        m["red1_probe"]["probabilities"].as_array().unwrap().len(),
        10
    );
    assert!(m["red1_probe"]["predicted"].as_u64().unwrap() < 10);
    assert_eq!(m["conflict_matrix"].as_array().unwrap().len(), 10);

    let ckpt = out.join("model.safetensors");
    let o = shortcut(&[
        "eval",
        ckpt.to_str().unwrap(),
        "--limit",
        "300",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    for split in ["train", "hard", "aligned"] {
        assert!(stdout.contains(split), "{stdout}");
    }
}

/// LfF's MLP trains with the plain, focal, consistency and lff methods, its checkpoint is read back
/// by eval, attack and sae; what needs a convolution (suppress, explain, gradcam) refuses it in
/// one line.
#[test]
fn the_mlp_trains_and_what_needs_a_convolution_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = shared() else { return };
    let d = data.to_str().unwrap();
    for method in ["plain", "focal", "consistency", "lff"] {
        let out = dir.path().join(format!("mlp-{method}"));
        let o = shortcut(&[
            "train",
            "mlp",
            "--method",
            method,
            "--epochs",
            "1",
            "--limit",
            "300",
            "--data-dir",
            d,
            "--out",
            out.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{method}: {stdout}\n{stderr}");
        let m = read_json(&out.join("metrics.json"));
        assert_eq!(m["hard_acc"].as_array().unwrap().len(), 1, "{method}");
    }
    // LfF is not the MLP's alone: it trains a CNN beside its biased twin too.
    let out = dir.path().join("lazy-lff");
    let o = shortcut(&[
        "train",
        "lazy",
        "--method",
        "lff",
        "--epochs",
        "1",
        "--limit",
        "300",
        "--data-dir",
        d,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let ckpt = dir.path().join("mlp-plain/model.safetensors");
    let c = ckpt.to_str().unwrap();
    let o = shortcut(&["eval", c, "--limit", "200", "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o).1);
    let attack = dir.path().join("attack");
    let o = shortcut(&[
        "attack",
        c,
        "--n",
        "3",
        "--data-dir",
        d,
        "--out",
        attack.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(attack.join("attack.html").is_file());
    let sae = dir.path().join("sae");
    let o = shortcut(&[
        "sae",
        c,
        "--epochs",
        "1",
        "--limit",
        "200",
        "--data-dir",
        d,
        "--out",
        sae.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(read_json(&sae.join("sae.json"))["layer"], "feature");
    assert_user_error(
        &shortcut(&["train", "mlp", "--method", "suppress", "--data-dir", d]),
        "the MLP has no convolution",
    );
    assert_user_error(
        &shortcut(&[
            "train",
            "mlp",
            "--method",
            "lff",
            "--q",
            "0",
            "--data-dir",
            d,
        ]),
        "--q must be in (0, 1]",
    );
    assert_user_error(
        &shortcut(&["train", "lazy", "--q", "0.5", "--data-dir", d]),
        "--q applies to --method lff",
    );
    assert_user_error(
        &shortcut(&["explain", c, "--data-dir", d]),
        "an MLP has no convolution",
    );
    let png = dir.path().join("cam.png");
    assert_user_error(
        &shortcut(&[
            "gradcam",
            c,
            "--index",
            "0",
            "--data-dir",
            d,
            "--out",
            png.to_str().unwrap(),
        ]),
        "Grad-CAM needs a convolution's [N, C, H, W] output",
    );
}

#[test]
fn study_quick_writes_an_html_report_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let Some(data) = shared() else { return };
    let o = shortcut(&[
        "study",
        "--profile",
        "quick",
        "--epochs",
        "1",
        "--limit",
        "400",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("Task 0") && html.contains("Task 1") && html.contains("17.8"),
        "report lacks content"
    );
    assert!(
        html.matches("<img src=\"data:image/png;base64,").count() >= 6,
        "figures are not inline"
    );
    assert!(
        html.contains("Task 4") && html.contains("91.35") && html.contains("best"),
        "report lacks Task 4"
    );
    let r = read_json(&out.join("results.json"));
    assert_same_numbers_as_stored(&r, &out, &data);
    let undocumented = undocumented_keys(&r);
    assert!(
        undocumented.is_empty(),
        "results.json keys missing from docs/results.md: {undocumented:?}"
    );
    assert_eq!(r["task1"]["runs"].as_array().unwrap().len(), 1);
    let rows = r["task4"]["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["plain", "consistency", "focal", "suppress", "plain"]
    );
    assert_eq!(rows[4]["model"], "ShapeCNN");
    for folder in [
        "lazy-consistency",
        "lazy-focal",
        "lazy-suppress",
        "shape-plain",
    ] {
        assert!(out
            .join(format!("task4/{folder}/seed-0/metrics.json"))
            .is_file());
    }
    assert!(out.join("task0/samples_train.png").is_file());
    // Task 6: SPEC's SAE on the lazy model, method 1 and ShapeCNN; the variants on the lazy one.
    assert!(html.contains("Task 6") && html.contains("0.000298") && html.contains("Spliced-in"));
    let main: Vec<&str> = r["task6"]["main"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        main,
        [
            "plain — LazyCNN",
            "consistency — LazyCNN",
            "plain — ShapeCNN"
        ]
    );
    assert_eq!(r["task6"]["main"][2]["config"]["width"], 512);
    assert_eq!(r["task6"]["variants"].as_array().unwrap().len(), 3);
    assert!(out
        .join("task6/plain-lazycnn/spec/sae.safetensors")
        .is_file());
    check_report_in_a_browser(&out.join("index.html"));

    // `shortcut report` renders the page again from results.json, computing nothing: in a
    // moved folder, the same bytes; a folder whose files changed since is refused.
    let moved = dir.path().join("moved");
    std::fs::rename(&out, &moved).unwrap();
    let page = std::fs::read(moved.join("index.html")).unwrap();
    std::fs::remove_file(moved.join("index.html")).unwrap();
    let o = shortcut(&["report", moved.to_str().unwrap()]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        std::fs::read(moved.join("index.html")).unwrap() == page,
        "the page rendered again differs from the one the study wrote"
    );
    let figure = moved.join("task0/samples_train.png");
    let mut bytes = std::fs::read(&figure).unwrap();
    bytes.push(0);
    std::fs::write(&figure, bytes).unwrap();
    assert_user_error(
        &shortcut(&["report", moved.to_str().unwrap()]),
        "was changed since its study finished",
    );
}

#[test]
fn data_preview_writes_one_grid_per_split() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = shared() else { return };
    let o = shortcut(&[
        "data",
        "preview",
        "--out",
        dir.path().to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    for s in ["train", "hard", "aligned"] {
        assert!(dir.path().join(format!("samples_{s}.png")).is_file());
    }
}

#[test]
fn user_mistakes_get_one_clear_line_and_a_nonzero_exit() {
    let Some(data) = shared() else { return };
    let d = data.to_str().unwrap();
    assert_user_error(
        &shortcut(&["train", "lazy", "--epochs", "0", "--data-dir", d]),
        "--epochs must be between 1 and",
    );
    assert_user_error(
        &shortcut(&["train", "lazy", "--lr", "0", "--data-dir", d]),
        "--lr must be a positive number",
    );
    assert_user_error(
        &shortcut(&["train", "lazy", "--bias", "1.5", "--data-dir", d]),
        "--bias must be between 0 and 1",
    );
    assert_user_error(
        &shortcut(&["train", "lazy", "--device", "tpu", "--data-dir", d]),
        "unknown device 'tpu'",
    );
    assert_user_error(
        &shortcut(&["train", "lazy", "--data-dir", "/no/such/dir"]),
        "--data-dir /no/such/dir",
    );
    assert_user_error(
        &shortcut(&["study", "--profile", "huge", "--data-dir", d]),
        "unknown profile 'huge'",
    );
    assert_user_error(
        &shortcut(&["eval", "/no/such/model.safetensors", "--data-dir", d]),
        "cannot read",
    );
    for (tasks, bad) in [("7", "'7'"), ("1,x", "'x'"), ("", "''")] {
        assert_user_error(
            &shortcut(&["study", "--tasks", tasks, "--data-dir", d]),
            &format!("--tasks: unknown task {bad}"),
        );
    }
    assert_user_error(
        &shortcut(&["study", "--lr", "-1", "--data-dir", d]),
        "--lr must be a positive number",
    );
    // A folder holding a study of an earlier version (no study.json) or another format: say so
    // and suggest --fresh; nothing in it is touched.
    let old = tempfile::tempdir().unwrap();
    let results = old.path().join("results.json");
    std::fs::write(&results, b"{}").unwrap();
    let o = old.path().to_str().unwrap();
    assert_user_error(
        &shortcut(&["study", "--out", o, "--data-dir", d]),
        "written by an earlier version of shortcut (no study.json): run the same command with --fresh",
    );
    std::fs::write(
        old.path().join("study.json"),
        br#"{"format": 0, "version": "0.0.1"}"#,
    )
    .unwrap();
    assert_user_error(
        &shortcut(&["study", "--out", o, "--data-dir", d]),
        "study format 0; this one writes 1",
    );
    assert_eq!(std::fs::read(&results).unwrap(), b"{}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a checkpoint at all").unwrap();
    assert_user_error(
        &shortcut(&["eval", junk.to_str().unwrap(), "--data-dir", d]),
        "not a valid safetensors",
    );

    let other = dir.path().join("other.safetensors");
    let t = shortcut::Tensor::zeros([2, 2], shortcut::Device::Cpu).unwrap();
    shortcut::checkpoint::save(&other, &[("encoder.weight".to_string(), t)]).unwrap();
    assert_user_error(
        &shortcut(&["eval", other.to_str().unwrap(), "--data-dir", d]),
        "not a checkpoint of a known model",
    );

    // a LazyCNN checkpoint with one wrong shape names the tensor
    let mut rng = shortcut::Rng::new(0, 0);
    let lazy = shortcut::models::LazyCNN::new(&mut rng, shortcut::Device::Cpu).unwrap();
    let mut sd = shortcut::nn::Module::state_dict(&lazy);
    sd[2].1 = shortcut::Tensor::zeros([32, 64], shortcut::Device::Cpu).unwrap();
    let bad = dir.path().join("bad.safetensors");
    shortcut::checkpoint::save(&bad, &sd).unwrap();
    assert_user_error(
        &shortcut(&["eval", bad.to_str().unwrap(), "--data-dir", d]),
        "classifier.1.weight",
    );

    // clap's own errors (unknown flag) also exit non-zero without a panic
    let o = shortcut(&["train", "lazy", "--no-such-flag"]);
    assert!(!o.status.success() && !text(&o).1.contains("panicked"));
}

#[test]
fn every_method_trains_on_both_models_and_eval_reapplies_the_suppression_hook() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = shared() else { return };
    let d = data.to_str().unwrap();
    let run = |args: &[&str], out: &Path| {
        let mut all = vec!["train"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--epochs", "1", "--limit", "300", "--data-dir", d]);
        all.extend_from_slice(&["--out", out.to_str().unwrap()]);
        let o = shortcut(&all);
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{args:?}: {stdout}\n{stderr}");
        (read_json(&out.join("metrics.json")), stdout)
    };
    let shape = dir.path().join("shape");
    let (m, _) = run(&["shape"], &shape);
    assert_eq!(m["model"], "ShapeCNN");
    assert_eq!(m["method"]["method"], "plain");
    assert!(m["best_hard_acc"].as_f64().is_some() && m["best_epoch"].as_u64() == Some(1));
    let (m, _) = run(
        &["lazy", "--method", "focal", "--gamma", "1.5"],
        &dir.path().join("f"),
    );
    assert_eq!(
        (
            m["method"]["method"].as_str(),
            m["method"]["gamma"].as_f64()
        ),
        (Some("focal"), Some(1.5))
    );
    let lr = m["config"]["lr"].as_f64().unwrap();
    assert!((lr - 5e-4).abs() < 1e-9, "focal's SPEC lr, got {lr}");
    let (m, _) = run(&["shape", "--method", "consistency"], &dir.path().join("c"));
    assert_eq!(m["method"]["lambda"].as_f64(), Some(5.0));
    // suppression ranked on the plain ShapeCNN above; eval re-attaches the recorded hook
    let ranked = shape.join("model.safetensors");
    let sup = dir.path().join("s");
    let (m, stdout) = run(
        &[
            "shape",
            "--method",
            "suppress",
            "--rank-from",
            ranked.to_str().unwrap(),
        ],
        &sup,
    );
    assert!(
        stdout.contains("suppression hook on features.10"),
        "{stdout}"
    );
    assert_eq!(
        m["suppression"]["color_channels"].as_array().unwrap().len(),
        32
    );
    let o = shortcut(&[
        "eval",
        sup.join("model.safetensors").to_str().unwrap(),
        "--limit",
        "100",
        "--data-dir",
        d,
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("applying its neuron-suppression hook on features.10"),
        "{stdout}"
    );
}

#[test]
fn method_mistakes_get_one_clear_line() {
    let Some(data) = shared() else { return };
    let d = data.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["train", "giraffe"], "unknown model 'giraffe'"),
        (
            &["train", "lazy", "--method", "nope"],
            "unknown method 'nope'",
        ),
        (
            &["train", "lazy", "--gamma", "2"],
            "--gamma applies to --method focal",
        ),
        (
            &["train", "lazy", "--method", "focal", "--lambda", "2"],
            "--lambda applies to --method consistency",
        ),
        (
            &["train", "lazy", "--method", "consistency", "--lambda", "-1"],
            "--lambda must be a finite number ≥ 0",
        ),
        (
            &["train", "lazy", "--method", "focal", "--gamma", "nan"],
            "--gamma must be a finite number ≥ 0",
        ),
        (
            &["train", "lazy", "--method", "suppress", "--suppress", "inf"],
            "--suppress must be a finite number ≥ 0",
        ),
        (
            &["train", "lazy", "--method", "suppress", "--amplify", "-3"],
            "--amplify must be a finite number ≥ 0",
        ),
        (
            &["train", "lazy", "--epochs", "18446744073709551615"],
            "--epochs must be between 1 and",
        ),
        (
            &["train", "shape", "--lr", "-1"],
            "--lr must be a positive number",
        ),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--data-dir", d]);
        assert_user_error(&shortcut(&all), needle);
    }
    // an output folder that cannot be created fails before any training
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("run");
    assert_user_error(
        &shortcut(&[
            "train",
            "lazy",
            "--data-dir",
            d,
            "--out",
            out.to_str().unwrap(),
        ]),
        "cannot create",
    );
}

/// Serve the files of `dir` over HTTP on 127.0.0.1 for `max_requests` requests, in a thread.
fn serve(dir: PathBuf, max_requests: usize) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let name = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            match std::fs::read(dir.join(&name)) {
                Ok(body) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(&body);
                }
                Err(_) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    format!("http://{addr}")
}

#[test]
fn data_fetch_downloads_and_verifies_from_a_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mnist");
    let Some(data) = shared() else { return };
    let url = serve(data, 4);
    let o = shortcut(&[
        "data",
        "fetch",
        "--dir",
        target.to_str().unwrap(),
        "--mirror",
        &url,
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("MNIST is ready"), "{stdout}");
    assert!(shortcut::data::mnist::load(&target).is_ok());
}

#[test]
fn cuda_without_a_usable_gpu_is_one_clear_error_and_auto_falls_back() {
    // Where a GPU, its driver and NVRTC are present this selects CUDA; anywhere else (CI, this
    // machine without a driver) it must be one `error:` line naming what is missing — never a
    // panic from the driver loader.
    let o = shortcut(&["devices", "--device", "cuda"]);
    let (out, _) = text(&o);
    if o.status.success() {
        assert!(out.contains("selects: cuda"), "{out}");
    } else {
        assert_user_error(&o, "cuda");
    }
    // `auto` never fails for want of CUDA: it falls back to wgpu or the CPU.
    let o = shortcut(&["devices", "--device", "auto"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("cuda: "), "the CUDA line is missing: {out}");
}

/// Train `model` for one epoch on 600 samples into `run`; returns its checkpoint.
fn train_one_epoch(model: &str, run: &Path) -> PathBuf {
    let data = shared().expect("callers check shared() first");
    let o = shortcut(&[
        "train",
        model,
        "--epochs",
        "1",
        "--limit",
        "600",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    run.join("model.safetensors")
}

#[test]
fn explain_and_gradcam_run_on_a_checkpoint_and_refuse_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = shared() else { return };
    let d = data.to_str().unwrap();
    let ckpt = train_one_epoch("attention", &dir.path().join("att"));
    let c = ckpt.to_str().unwrap();

    let out = dir.path().join("explain");
    let o = shortcut(&[
        "explain",
        c,
        "--quick",
        "--limit",
        "300",
        "--data-dir",
        d,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let j = read_json(&out.join("explain.json"));
    assert_eq!(j["model"], "AttentionCNN");
    assert_eq!(j["task2"]["class_purity"].as_array().unwrap().len(), 10);
    assert_eq!(j["task2"]["units"]["csi"].as_array().unwrap().len(), 32);
    assert!(j["task2"]["units"]["csi_max"].as_f64().unwrap() <= 3.0 + 1e-4);
    assert_eq!(j["task3"]["cases"].as_array().unwrap().len(), 16);
    assert_eq!(j["task3"]["cam_stroke"]["images"], 200);
    assert!(j["task3"]["attention_stroke"]["images"].as_u64() == Some(200));
    assert_eq!(j["task3"]["randomization"].as_array().unwrap().len(), 4);
    let html = std::fs::read_to_string(out.join("explain.html")).unwrap();
    assert!(
        html.contains("Task 2")
            && html.contains("Task 3")
            && html.contains("data:image/png;base64,")
    );
    for f in [
        "task2/class_logits.png",
        "task2/filters.png",
        "task3/cases_conflict.png",
        "task3/randomization.png",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
    }

    let png = dir.path().join("one.png");
    let o = shortcut(&[
        "gradcam",
        c,
        "--split",
        "hard",
        "--index",
        "7",
        "--class",
        "3",
        "--data-dir",
        d,
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o).0.contains("CAM of class 3 at features.4"),
        "{:?}",
        text(&o)
    );
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);

    let p = png.to_str().unwrap();
    let gc = |extra: &[&str]| {
        let mut args = vec!["gradcam", c, "--data-dir", d, "--out", p];
        args.extend_from_slice(extra);
        shortcut(&args)
    };
    assert_user_error(
        &gc(&["--index", "10000"]),
        "--index 10000 is past the hard split (10000 images",
    );
    assert_user_error(
        &gc(&["--index", "0", "--class", "12"]),
        "--class 12: a class is a digit 0–9",
    );
    assert_user_error(&gc(&["--index", "0", "--class", "-1"]), "--class -1");
    assert_user_error(
        &gc(&["--index", "0", "--split", "test"]),
        "unknown split 'test'",
    );
    assert_user_error(
        &gc(&["--index", "0", "--layer", "features.9"]),
        "no layer 'features.9'; its layers are features, features.0",
    );
    let other = dir.path().join("other.safetensors");
    let t = shortcut::Tensor::zeros([2, 2], shortcut::Device::Cpu).unwrap();
    shortcut::checkpoint::save(&other, &[("encoder.weight".to_string(), t)]).unwrap();
    assert_user_error(
        &shortcut(&["explain", other.to_str().unwrap(), "--data-dir", d]),
        "not a checkpoint of a known model",
    );
    assert_user_error(
        &shortcut(&["explain", c, "--limit", "0", "--data-dir", d]),
        "--limit must be at least 1",
    );
}

#[test]
fn attack_runs_each_method_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = shared() else { return };
    let d = data.to_str().unwrap();
    let ckpt = train_one_epoch("lazy", &dir.path().join("lazy"));
    let c = ckpt.to_str().unwrap();
    let out = dir.path().join("atk");
    let o_ = out.to_str().unwrap();
    let atk = |extra: &[&str]| {
        let mut args = vec!["attack", c, "--data-dir", d, "--out", o_];
        args.extend_from_slice(extra);
        shortcut(&args)
    };

    let o = atk(&["--method", "pgd", "--n", "5", "--eps", "0.05,0.1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let j = read_json(&out.join("attack.json"));
    assert_eq!(j["spec"]["source"], 7);
    assert_eq!(j["spec"]["target"], 3);
    assert_eq!(j["indices"].as_array().unwrap().len(), 5);
    let pts = j["points"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    assert!(
        pts[1]["mean_confidence"].as_f64().unwrap()
            >= pts[0]["mean_confidence"].as_f64().unwrap() - 1e-6
    );
    assert!(std::fs::metadata(out.join("strip_0.png")).unwrap().len() > 1000);

    let o = atk(&["--method", "fgsm", "--limit", "40", "--eps", "0.1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let j = read_json(&out.join("attack.json"));
    assert!(
        j["spec"]["target"].is_null(),
        "--limit without --target is untargeted"
    );
    assert_eq!(j["indices"].as_array().unwrap().len(), 40);

    let o = atk(&["--method", "colour", "--n", "4"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        read_json(&out.join("attack.json"))["points"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert_user_error(&atk(&["--eps", "-0.1"]), "--eps -0.1: ε must be in [0, 1]");
    assert_user_error(&atk(&["--eps", "1.5"]), "--eps 1.5: ε must be in [0, 1]");
    assert_user_error(&atk(&["--eps", ""]), "--eps needs at least one value");
    assert_user_error(&atk(&["--eps", "0.1,x"]), "--eps: 'x' is not a number");
    assert_user_error(
        &atk(&["--target", "12"]),
        "--target 12: classes are digits 0–9",
    );
    assert_user_error(
        &atk(&["--source", "-1"]),
        "--source -1: classes are digits 0–9",
    );
    assert_user_error(&atk(&["--source", "3", "--target", "3"]), "same class");
    assert_user_error(
        &atk(&["--n", "5000"]),
        "--n 5000: the hard split has only 1028 images of digit 7",
    );
    assert_user_error(
        &atk(&["--limit", "20000"]),
        "--limit 20000: the hard split has 10000 images",
    );
    assert_user_error(&atk(&["--n", "0"]), "at least 1");
    assert_user_error(&atk(&["--method", "cw"]), "unknown attack 'cw'");
    assert_user_error(
        &atk(&["--method", "colour", "--split", "train"]),
        "use --split hard",
    );
}

#[test]
fn sae_trains_measures_reloads_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = shared() else { return };
    let d = data.to_str().unwrap();
    let lazy = train_one_epoch("lazy", &dir.path().join("lazy"));
    let l = lazy.to_str().unwrap();
    let out = dir.path().join("sae");
    let o_ = out.to_str().unwrap();
    let sae = |ckpt: &str, extra: &[&str]| {
        let mut args = vec!["sae", ckpt, "--data-dir", d, "--out", o_, "--limit", "400"];
        args.extend_from_slice(extra);
        shortcut(&args)
    };

    let o = sae(l, &["--epochs", "2"]);
    assert!(o.status.success(), "{:?}", text(&o));
    for f in [
        "sae.safetensors",
        "sae.html",
        "digit_table.csv",
        "colour_table.csv",
        "loss.png",
        "digits_top50.png",
        "colours_top50.png",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 100, "{f}");
    }
    let j = read_json(&out.join("sae.json"));
    assert_eq!(j["layer"], "classifier.2");
    assert_eq!(j["config"]["width"], 256);
    assert_eq!(j["digit_table"].as_array().unwrap().len(), 10);
    assert_eq!(j["train"]["loss"].as_array().unwrap().len(), 2);
    assert_eq!(j["interventions"].as_array().unwrap().len(), 2);
    let csv = std::fs::read_to_string(out.join("digit_table.csv")).unwrap();
    assert_eq!(csv.lines().count(), 11, "a header and ten digits");
    // SPEC's interventions edit each digit's top feature; the page shows the measured numbers.
    let i = &j["interventions"];
    assert_eq!(
        (i[0]["digit"].as_u64(), i[0]["factor"].as_f64()),
        (Some(0), Some(3.0))
    );
    assert_eq!(
        (i[1]["digit"].as_u64(), i[1]["factor"].as_f64()),
        (Some(3), Some(0.0))
    );
    assert_eq!(i[0]["feature"], j["top5"][0][0][0]);
    let html = std::fs::read_to_string(out.join("sae.html")).unwrap();
    let mse = format!("{:.2e}", j["test"]["mse"].as_f64().unwrap());
    assert!(html.contains(&mse), "the page lacks the MSE {mse}");

    // The saved SAE measures again without training; a TopK SAE trains too.
    let saved = dir.path().join("saved.safetensors");
    std::fs::copy(out.join("sae.safetensors"), &saved).unwrap();
    let s = saved.to_str().unwrap();
    let o = sae(l, &["--load", s]);
    assert!(o.status.success(), "{:?}", text(&o));
    let again = read_json(&out.join("sae.json"));
    assert_eq!(again["test"]["mse"], j["test"]["mse"]);
    assert_eq!(
        again["config"], j["config"],
        "a loaded SAE reports the settings it was trained with"
    );
    let o = sae(l, &["--epochs", "1", "--kind", "topk", "--k", "8"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        read_json(&out.join("sae.json"))["test"]["l0"]
            .as_f64()
            .unwrap()
            <= 8.0
    );

    assert_user_error(&sae(l, &["--layer", "nope"]), "nope");
    assert_user_error(
        &sae(l, &["--layer", "color_mixer.1"]),
        "layer 'color_mixer.1' has 12544 values per image",
    );
    assert_user_error(
        &sae(l, &["--kind", "topk", "--k", "300"]),
        "--k 300: k must be between 1 and the dictionary size 256",
    );
    assert_user_error(&sae(l, &["--kind", "topk", "--k", "0"]), "--k 0");
    assert_user_error(&sae(l, &["--kind", "topk"]), "--kind topk needs --k K");
    assert_user_error(&sae(l, &["--lambda", "-1"]), "λ = -1");
    assert_user_error(
        &sae(l, &["--kind", "topk", "--k", "8", "--lambda", "0.1"]),
        "which a TopK SAE has none of",
    );
    assert_user_error(&sae(l, &["--width", "999999999"]), "--width 999999999");
    assert_user_error(&sae(l, &["--lambda", "NaN"]), "λ = NaN");
    assert_user_error(&sae(l, &["--l1", "max"]), "unknown --l1 'max'");
    assert_user_error(&sae(l, &["--epochs", "0"]), "--epochs 0");
    assert_user_error(
        &sae(l, &["--load", s, "--layer", "classifier.1"]),
        "this SAE was trained on layer 'classifier.2', not 'classifier.1'",
    );
    assert_user_error(&sae(l, &["--load", l]), "not an SAE checkpoint");
    let shape = train_one_epoch("shape", &dir.path().join("shape"));
    assert_user_error(
        &sae(shape.to_str().unwrap(), &["--load", s]),
        "this SAE was trained on layer 'classifier.2', not 'pool'",
    );
}

/// A headless Chromium, or None (printing why) where there is none — a failure under
/// `CI=true`, where `.ci/run` installs Debian's `chromium`. `$SHORTCUT_CHROMIUM` names one.
fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("SHORTCUT_CHROMIUM")
        .map(|p| vec![PathBuf::from(p)])
        .unwrap_or_else(|| {
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .flat_map(|name| {
                    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                        .map(move |dir| dir.join(name))
                        .collect::<Vec<_>>()
                })
                .collect()
        });
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        let why = "no Chromium (chromium, chromium-browser, google-chrome or $SHORTCUT_CHROMIUM): the report is not checked in a browser";
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{why}");
        eprintln!("skipping the browser check: {why}");
    }
    found
}

/// Chromium, headless, on `url`, with `extra` flags: (stdout, stderr).
fn headless(chrome: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let o = Command::new(chrome)
        .args([
            "--headless=new",
            "--no-sandbox", // CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            "--virtual-time-budget=15000",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("Chromium runs");
    text(&o)
}

/// Load the report in a real browser: every image must decode, every task must have its
/// section, and the page must log nothing to the console. Keeps a screenshot of its top in
/// `target/tmp/report-screenshot.png` for a person to look at.
fn check_report_in_a_browser(index: &Path) {
    let Some(chrome) = chromium() else { return };
    let dir = index.parent().unwrap();
    // A checker page beside the report loads it in a frame and reads its DOM once loaded.
    let checker = dir.join("browser-check.html");
    std::fs::write(
        &checker,
        r#"<!doctype html><html><body><pre id="result">pending</pre>
<iframe id="f" src="index.html" style="width:1280px;height:900px"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {
  var r = {};
  try {
    var d = this.contentDocument;
    var imgs = Array.from(d.images);
    r.images = imgs.length;
    r.broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                   .map(function (i) { return i.alt || i.src.slice(0, 60); });
    r.headings = Array.from(d.querySelectorAll('h2')).map(function (h) { return h.textContent; });
    var links = Array.from(d.querySelectorAll('nav a'));
    r.toc = links.length;
    r.dangling = links.map(function (a) { return a.getAttribute('href').slice(1); })
                      .filter(function (id) { return !d.getElementById(id); });
  } catch (e) { r.error = String(e); }
  document.getElementById('result').textContent = 'RESULT ' + JSON.stringify(r);
});
</script></body></html>"#,
    )
    .unwrap();
    let url = |p: &Path| format!("file://{}", std::fs::canonicalize(p).unwrap().display());
    let (dom, _) = headless(&chrome, &url(&checker), &["--dump-dom"]);
    let line = dom
        .lines()
        .find_map(|l| {
            l.split_once("RESULT ")
                .map(|(_, r)| r.trim_end_matches("</pre>").to_string())
        })
        .unwrap_or_else(|| panic!("the checker page did not run: {dom}"));
    let r: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(r["error"].is_null(), "{r}");
    assert!(r["images"].as_u64().unwrap() >= 20, "too few figures: {r}");
    assert_eq!(
        r["broken"],
        serde_json::json!([]),
        "images that do not decode"
    );
    let headings: Vec<String> = r["headings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(headings.iter().any(|h| h == "Summary"), "{headings:?}");
    // The table of contents: each task and the timing table, every link landing on a section.
    assert_eq!(r["toc"], 8, "{r}");
    assert_eq!(r["dangling"], serde_json::json!([]), "links to no section");
    for task in 0..=6 {
        assert!(
            headings
                .iter()
                .any(|h| h.starts_with(&format!("Task {task} "))),
            "no section for Task {task}: {headings:?}"
        );
    }
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let (_, log) = headless(
        &chrome,
        &url(index),
        &[
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "the page logged: {console:?}");
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot"
    );
    eprintln!("report screenshot: {}", shot.display());
}

/// Every object key of `v` that no table row of `docs/results.md` names (as `` `key` `` in
/// its first column): results.json's keys are documented, and stay so.
/// Keys whose values are clocks: they differ from run to run.
const CLOCKS: [&str; 8] = [
    "seconds",
    "epoch_seconds",
    "seconds_per_epoch",
    "step_seconds",
    "task_seconds",
    "total_seconds",
    "task_peak_mb",
    "computed_seconds",
];

/// `v` without clocks, with the study folder written `@study` and the data folder `@data`.
fn without_clocks(v: &serde_json::Value, out: &str, data: &str) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !CLOCKS.contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), without_clocks(x, out, data)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| without_clocks(x, out, data)).collect()),
        Value::String(s) if s == data => Value::String("@data".into()),
        Value::String(s) => match s.strip_prefix(out) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                Value::String(format!("@study{rest}"))
            }
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

/// The first path where two JSON values differ, with both values.
fn first_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    at: &str,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, &format!("{at}/{k}")),
                (u, v) => Some((format!("{at}/{k}"), format!("{u:?}"), format!("{v:?}"))),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some((at.to_string(), a.to_string(), b.to_string())),
    }
}

/// The quick study's numbers are those of the copy stored before the study's code was
/// restructured (issue 26): `tests/fixtures/quick_study_results.json.gz`, made with
/// `shortcut study --profile quick --epochs 1 --limit 400 --data-dir ../shared/data/mnist
/// --out OUT` on the CPU (2026-12-07, Intel Xeon Ice Lake, AVX-512; the numbers are the same
/// with 1 or 2 threads) and written through [`without_clocks`]. Every number must be equal,
/// bit for bit: a change of code that changes a number (a new kernel, another summation
/// order) must say so by storing a new copy with that command.
fn assert_same_numbers_as_stored(r: &serde_json::Value, out: &Path, data: &Path) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quick_study_results.json.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()),
        &mut text,
    )
    .unwrap();
    let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut now = without_clocks(r, out.to_str().unwrap(), data.to_str().unwrap());
    // Added since the copy was stored: the study folder's name (for `shortcut report`).
    assert_eq!(now["folder"], "@study");
    now.as_object_mut().unwrap().remove("folder");
    let stored = without_clocks(&stored, "@study", "@data");
    if let Some((at, now, then)) = first_difference(&now, &stored, "") {
        panic!(
            "results.json differs from the stored quick study at {at}: now {now}, stored {then}"
        );
    }
}

fn undocumented_keys(v: &serde_json::Value) -> Vec<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/results.md"))
            .unwrap();
    let documented: std::collections::HashSet<String> = doc
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    out.insert(k.clone());
                    keys(x, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
            _ => {}
        }
    }
    let mut all = std::collections::BTreeSet::new();
    keys(v, &mut all);
    all.into_iter()
        .filter(|k| !documented.contains(k))
        .collect()
}
