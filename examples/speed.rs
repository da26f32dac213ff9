//! Our side of `benches/side_by_side.py`: the workloads of CPU-speed issue, timed inside one
//! process, printed as one JSON line each. The script runs this and the same workloads in PyTorch
//! in alternation and prints the ratios.
//!
//! ```sh
//! cargo run --release --example speed -- --group lazy|shape|conv [--reps 20] [--epoch-samples N]
//! ```
//!
//! Workloads (batch 64 unless said; random weights and random images in [0, 1] — speed does not
//! depend on the values):
//! - `<model>/step`: one training step (forward, cross-entropy, backward, Adam), median in ms;
//! - `<model>/epoch`: one epoch over `--epoch-samples` images already in memory (shuffled,
//!   batches gathered with `index_select`, the running loss summed on the device), in s;
//! - `<model>/infer`: forward passes in evaluation mode with no tape, batches of 128 (the study's evaluation batch), images/s;
//! - `conv/<layer>/fwd` and `conv/<layer>/fwd+bwd`: ShapeCNN's five convolutions alone (forward;
//!   forward then the input and weight gradients through the tape), median in ms.
//!
//! The convolution algorithm is the library's automatic choice unless `SHORTCUT_CONV` forces one.

use shortcut::autograd::no_grad;
use shortcut::models::ModelKind;
use shortcut::nn::Module;
use shortcut::ops::Conv2dParams;
use shortcut::optim::{Adam, Optimizer};
use shortcut::train::{Batch, CrossEntropyStep, Step};
use shortcut::{Device, Result, Rng, Tensor};
use std::time::Instant;

#[path = "support/args.rs"]
mod support;

use support::{arg, count};

const BATCH: usize = 64;
/// The study's evaluation batch ([`shortcut::train::EVAL_BATCH`]).
const INFER_BATCH: usize = shortcut::train::EVAL_BATCH;

/// ShapeCNN's convolutions: name, input channels, output channels, side (3×3, padding 1).
pub const CONV_LAYERS: [(&str, usize, usize, usize); 5] = [
    ("conv1_3x32_28", 3, 32, 28),
    ("conv2_32x64_28", 32, 64, 28),
    ("conv3_64x64_14", 64, 64, 14),
    ("conv4_64x128_14", 64, 128, 14),
    ("conv5_128x128_7", 128, 128, 7),
];

fn main() {
    support::exit_on_error(run);
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reps = count(&args, "--reps", "20")?.max(1);
    match arg(&args, "--group", "lazy").as_str() {
        "lazy" => model_workloads(
            ModelKind::Lazy,
            reps,
            count(&args, "--epoch-samples", "60000")?,
        ),
        "shape" => model_workloads(
            ModelKind::Shape,
            reps,
            count(&args, "--epoch-samples", "6400")?,
        ),
        "conv" => conv_workloads(reps),
        other => Err(shortcut::Error::Invalid(format!(
            "--group wants lazy, shape or conv, not {other}"
        ))),
    }
}

/// One JSON line: the workload, its value and unit. A closed pipe (`| head`) is not an error
/// worth a panic: the line is dropped.
fn emit(workload: &str, value: f64, unit: &str) {
    use std::io::Write;
    let line =
        format!("{{\"workload\": \"{workload}\", \"value\": {value:.6}, \"unit\": \"{unit}\"}}");
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds of each of `reps` calls of `f`, after two calls not timed (warm caches and pools).
fn timed(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    f()?;
    f()?;
    let mut secs = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    Ok(secs)
}

fn model_workloads(kind: ModelKind, reps: usize, epoch_samples: usize) -> Result<()> {
    let slug = kind.slug();
    let device = Device::Cpu;
    let model = kind.build(0, device)?;
    let mut opt = Adam::new(model.parameters(), 1e-3)?;
    let mut rng = Rng::new(1, 0);
    let n = epoch_samples.max(BATCH);
    let x = Tensor::rand_uniform([n, 3, 28, 28], 0.0, 1.0, &mut rng, device)?;
    let y: Vec<usize> = (0..n).map(|i| i % 10).collect();

    model.set_training(true);
    let first: Vec<usize> = (0..BATCH).collect();
    let step = timed(reps, || {
        train_step(model.as_ref(), &mut opt, &x, &y, &first, &mut None)
    })?;
    emit(&format!("{slug}/step"), 1e3 * median(step), "ms");

    let epoch = timed(1, || {
        let order = rng.permutation(n);
        let mut sum = Some(Tensor::zeros([1], device)?);
        for idx in order.chunks(BATCH) {
            train_step(model.as_ref(), &mut opt, &x, &y, idx, &mut sum)?;
        }
        sum.map_or(Ok(0.0), |s| s.to_scalar()).map(|_| ())
    })?;
    emit(&format!("{slug}/epoch"), median(epoch), "s");

    model.set_training(false);
    let images = n.min(10_000);
    let infer = timed(3, || {
        no_grad(|| -> Result<()> {
            for start in (0..images).step_by(INFER_BATCH) {
                let len = INFER_BATCH.min(images - start);
                model.forward(&x.slice(0, start, len)?)?.to_vec()?;
            }
            Ok(())
        })
    })?;
    emit(
        &format!("{slug}/infer"),
        images as f64 / median(infer),
        "images/s",
    );
    Ok(())
}

/// One training step on the rows `idx` of `x`; adds the batch's summed loss to `sum` (on the
/// device, as the training loop does) when given one.
fn train_step(
    model: &dyn Module,
    opt: &mut Adam,
    x: &Tensor,
    y: &[usize],
    idx: &[usize],
    sum: &mut Option<Tensor>,
) -> Result<()> {
    let labels: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
    let batch = Batch {
        x: x.index_select(idx)?,
        y: &labels,
        indices: idx,
        epoch: 0,
        seed: 0,
    };
    let loss = CrossEntropyStep.loss(model, &batch)?.loss;
    opt.zero_grad();
    loss.backward()?;
    opt.step()?;
    if let Some(s) = sum.take() {
        let l = no_grad(|| loss.detach().reshape([1])?.mul_scalar(labels.len() as f32))?;
        *sum = Some(no_grad(|| s.add(&l))?);
    }
    Ok(())
}

fn conv_workloads(reps: usize) -> Result<()> {
    let device = Device::Cpu;
    let mut rng = Rng::new(2, 0);
    let p = Conv2dParams::new(1, 1);
    for (name, ci, co, hw) in CONV_LAYERS {
        let x = Tensor::rand_uniform([BATCH, ci, hw, hw], 0.0, 1.0, &mut rng, device)?;
        let w = Tensor::rand_uniform([co, ci, 3, 3], -0.1, 0.1, &mut rng, device)?;
        let b = Tensor::rand_uniform([co], -0.1, 0.1, &mut rng, device)?;
        let g = Tensor::rand_uniform([BATCH, co, hw, hw], -1.0, 1.0, &mut rng, device)?;
        let fwd = timed(reps, || no_grad(|| x.conv2d(&w, Some(&b), p).map(|_| ())))?;
        emit(&format!("conv/{name}/fwd"), 1e3 * median(fwd), "ms");
        let (xg, wg, bg) = (
            x.clone().requires_grad_(true)?,
            w.clone().requires_grad_(true)?,
            b.clone().requires_grad_(true)?,
        );
        let both = timed(reps, || {
            xg.conv2d(&wg, Some(&bg), p)?.backward_with_grad(&g)?;
            for t in [&xg, &wg, &bg] {
                t.zero_grad();
            }
            Ok(())
        })?;
        emit(&format!("conv/{name}/fwd+bwd"), 1e3 * median(both), "ms");
    }
    Ok(())
}
