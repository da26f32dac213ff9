//! Nothing trained is lost and nothing half-written is trusted, tested on the real binary with
//! real signals: Ctrl-C saves and `--resume` finishes with the same bytes as a run never
//! stopped; `kill -9` at any moment leaves only files that read back (and temporaries a later
//! run removes); a folder holding another run is refused; a changed or unfinished run folder is
//! refused by its readers; the same seed gives the same bytes with any thread count; numbers a
//! user types get our message, never a panic.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shortcut"));
    c.env("RUST_BACKTRACE", "1");
    c
}

/// `train lazy` on the first 20,000 samples, 3 epochs (≈ 1 s an epoch on 2 cores).
fn train_args(data: &Path, out: &Path) -> Vec<String> {
    common::strings(&[
        "train",
        "lazy",
        "--epochs",
        "3",
        "--limit",
        "20000",
        "--device",
        "cpu",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn run(args: &[String], extra: &[&str]) -> Output {
    bin().args(args).args(extra).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn spawn(args: &[String]) -> Child {
    bin()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until `path` exists (the first epoch's checkpoint), at most a minute.
fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {} appeared",
            path.display()
        );
        assert!(start.elapsed() < Duration::from_secs(60), "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// metrics.json without the timings (which differ run to run).
fn metrics(dir: &Path) -> serde_json::Value {
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("epoch_seconds");
    m
}

/// A run never stopped, for comparison (computed once per test binary).
fn reference(data: &Path) -> PathBuf {
    static DONE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep().join("reference");
        let o = run(&train_args(data, &dir), &[]);
        assert!(o.status.success(), "{}", text(&o));
        dir
    })
    .clone()
}

fn same_run(a: &Path, b: &Path) {
    assert!(
        std::fs::read(a.join("model.safetensors")).unwrap()
            == std::fs::read(b.join("model.safetensors")).unwrap(),
        "the resumed run's checkpoint differs from the uninterrupted one"
    );
    assert_eq!(metrics(a), metrics(b));
}

#[test]
fn ctrl_c_saves_the_step_and_resume_ends_with_the_same_bytes() {
    let Some(data) = common::mnist_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = train_args(&data, &out);
    let mut child = spawn(&args);
    // From its first moment the run marks the folder unfinished.
    wait_for(&out.join("resume.safetensors"), &mut child);
    wait_for(&out.join("model.safetensors"), &mut child);
    // A second process cannot write into the folder meanwhile.
    let o = run(&args, &["--overwrite"]);
    assert!(
        !o.status.success() && text(&o).contains("another shortcut process is writing"),
        "{}",
        text(&o)
    );
    std::thread::sleep(Duration::from_millis(150));
    signal(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: stopped after step") && err.contains("--resume"),
        "{err}"
    );
    assert!(out.join("resume.safetensors").exists());
    assert!(!out.join("manifest.json").exists());

    // Readers refuse the unfinished folder; a fresh run into it is refused too.
    let o = bin()
        .args(["eval", out.join("model.safetensors").to_str().unwrap()])
        .args(["--data-dir", data.to_str().unwrap(), "--limit", "10"])
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text(&o).contains("unfinished run"),
        "{}",
        text(&o)
    );
    let o = run(&args, &[]);
    assert!(
        !o.status.success() && text(&o).contains("--resume continues it"),
        "{}",
        text(&o)
    );
    // Other settings cannot continue it.
    let mut other = args.clone();
    other[3] = "4".into();
    let o = run(&other, &["--resume"]);
    assert!(
        !o.status.success() && text(&o).contains("epochs 3 there, 4 here"),
        "{}",
        text(&o)
    );

    let o = run(&args, &["--resume"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resuming"), "{}", text(&o));
    assert!(out.join("manifest.json").exists() && !out.join("resume.safetensors").exists());
    same_run(&reference(&data), &out);
    let o = run(&args, &["--resume"]);
    assert!(text(&o).contains("already finished"), "{}", text(&o));
}

#[test]
fn kill_9_leaves_only_files_that_read_back_and_resume_still_matches() {
    let Some(data) = common::mnist_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = train_args(&data, &out);
    let mut child = spawn(&args);
    wait_for(&out.join("model.safetensors"), &mut child);
    // Somewhere in the second epoch, possibly while a file is being written.
    std::thread::sleep(Duration::from_millis(137));
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    // Every file under a real name reads back; a write cut short is only a temporary.
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".safetensors") && !name.starts_with('.') {
            shortcut::checkpoint::load(e.path(), shortcut::Device::Cpu)
                .unwrap_or_else(|err| panic!("{name} does not read back: {err}"));
        }
    }
    // A temporary as a kill mid-write leaves it: the next run removes it.
    let stale = out.join(".model.safetensors.tmp-424242");
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    let o = run(&args, &["--resume"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!stale.exists(), "the stale temporary was left behind");
    same_run(&reference(&data), &out);
}

#[test]
fn a_folder_holding_a_run_is_refused_unless_overwritten_and_a_changed_file_is_noticed() {
    let Some(data) = common::mnist_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = train_args(&data, &out);
    args[3] = "1".into();
    assert!(run(&args, &[]).status.success());
    let o = run(&args, &[]);
    assert!(
        !o.status.success() && text(&o).contains("holds a finished run"),
        "{}",
        text(&o)
    );
    let o = run(&args, &["--overwrite"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("manifest.json").exists());

    // Another tool's manifest.json is neither trusted nor written over.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("manifest.json"), b"{\"name\": \"my web app\"}").unwrap();
    let mut a3 = train_args(&data, &foreign);
    a3[3] = "1".into();
    for extra in [&[][..], &["--overwrite"][..]] {
        let o = run(&a3, extra);
        assert!(
            !o.status.success() && text(&o).contains("not a shortcut run's"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(
        std::fs::read(foreign.join("manifest.json")).unwrap(),
        b"{\"name\": \"my web app\"}"
    );

    // Files of an older version of a run (no manifest) are not silently mixed in either.
    let loose = dir.path().join("loose");
    std::fs::create_dir_all(&loose).unwrap();
    std::fs::write(loose.join("metrics.json"), b"{}").unwrap();
    let mut a2 = train_args(&data, &loose);
    a2[3] = "1".into();
    let o = run(&a2, &[]);
    assert!(
        !o.status.success() && text(&o).contains("files of an earlier run"),
        "{}",
        text(&o)
    );

    // A checkpoint replaced after the run finished no longer matches the manifest.
    let ckpt = out.join("model.safetensors");
    let model = shortcut::models::ModelKind::Lazy
        .build(9, shortcut::Device::Cpu)
        .unwrap();
    shortcut::checkpoint::save_module(&ckpt, model.as_ref()).unwrap();
    let o = bin()
        .args([
            "eval",
            ckpt.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text(&o).contains("changed after its run finished"),
        "{}",
        text(&o)
    );
    // A file copied out of the folder is the user's own: it loads.
    let copy = dir.path().join("copy.safetensors");
    std::fs::copy(&ckpt, &copy).unwrap();
    let o = bin()
        .args(["eval", copy.to_str().unwrap(), "--limit", "10"])
        .args(["--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn the_same_seed_gives_the_same_bytes_with_any_thread_count() {
    let Some(data) = common::mnist_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for threads in ["1", "2", "3"] {
        let out = dir.path().join(format!("t{threads}"));
        let mut args = train_args(&data, &out);
        args[3] = "1".into();
        args[5] = "3000".into();
        let o = bin()
            .args(&args)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        outs.push(out);
    }
    // Every file's hash but metrics.json's (its timings differ) must agree: the PNGs too.
    let hashes = |dir: &Path| {
        let mut m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        m["files"].as_object_mut().unwrap().remove("metrics.json");
        m
    };
    for o in &outs[1..] {
        same_run(&outs[0], o);
        assert_eq!(
            hashes(&outs[0]),
            hashes(o),
            "file bytes differ between thread counts"
        );
    }
}

/// The inputs of the reliability report that once panicked or aborted, and the ones that got
/// someone else's message: each is now one `error:` line of ours, before any work.
#[test]
fn numbers_a_user_types_get_our_message_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let o_ = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "lazy", "--epochs", "18446744073709551615"],
            "--epochs must be between 1 and 100000",
        ),
        (
            vec!["train", "lazy", "--epochs", "1000000000000"],
            "--epochs must be between 1 and 100000",
        ),
        (vec!["train", "lazy", "--epochs", "-1"], "-1 is negative"),
        (
            vec!["train", "lazy", "--batch", "0"],
            "--batch must be between 1 and 60000",
        ),
        (
            vec!["train", "lazy", "--seed", "-3"],
            "-3 is negative: a seed",
        ),
        (
            vec!["study", "--seeds", "18446744073709551615", "--out", o_],
            "--seeds must be between 1 and 100",
        ),
        (
            vec!["study", "--epochs", "0", "--out", o_],
            "--epochs must be between 1",
        ),
        (
            vec!["study", "--limit", "0", "--out", o_],
            "--limit must be at least 1",
        ),
        (
            vec!["eval", "m.safetensors", "--limit", "0"],
            "--limit must be at least 1",
        ),
        (
            vec!["attack", "m.safetensors", "--n", "-5"],
            "-5 is negative",
        ),
        (
            vec!["train", "lazy", "--epochs", "ten"],
            "'ten' is not a whole number",
        ),
    ];
    for (args, needle) in cases {
        let o = bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    // The rejected study wrote nothing: no folder without its index.html.
    assert!(!out.exists(), "a rejected study left {}", out.display());
}

#[test]
fn a_misspelt_shortcut_data_is_an_error_not_a_download() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(dir.path())
        .env("SHORTCUT_DATA", "/no/such/mnist")
        .args(["data", "preview", "--out", "p"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success());
    assert!(
        err.contains("$SHORTCUT_DATA=/no/such/mnist") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!dir.path().join("data").exists(), "it started a download");
}

/// Learning from Failure carries a second model and a loss average per sample from batch to
/// batch: a Ctrl-C in the middle of an epoch and `--resume` must still end with the bytes of a
/// run never stopped (the biased model, both averages and Adam's state over both models are in
/// the resume file).
#[test]
fn an_lff_run_stopped_by_ctrl_c_resumes_to_the_same_bytes() {
    let Some(data) = common::mnist_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        common::strings(&[
            "train",
            "mlp",
            "--method",
            "lff",
            "--epochs",
            "3",
            "--limit",
            "1000",
            "--device",
            "cpu",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let reference = dir.path().join("reference");
    let o = run(&args(&reference), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let m = metrics(&reference);
    assert_eq!(m["method"]["method"], "lff", "{m}");

    let out = dir.path().join("stopped");
    let mut child = spawn(&args(&out));
    wait_for(&out.join("model.safetensors"), &mut child);
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(130), "{err}");
    let o = run(&args(&out), &["--resume"]);
    assert!(o.status.success(), "{}", text(&o));
    same_run(&reference, &out);
}
