//! One whole training step (forward, cross-entropy, backward, Adam) of LazyCNN and ShapeCNN at
//! batch 64, and LazyCNN's colour-consistency step (jitter, both views, the combined loss), on the CPU (the numbers the engine-core issue compares with PyTorch), on the CUDA
//! GPU and on the wgpu adapter when there are (`SHORTCUT_BENCH_CUDA=0` / `SHORTCUT_BENCH_WGPU=0`
//! skip them). Each timed step ends with `device.synchronize()`.
//!
//! FLOPs per step: 2·MACs for the forward and 2·MACs for each backward pass that runs, i.e.
//! 3 × forward for every layer except the first conv, whose input needs no gradient (2 ×).
//! Criterion's "elem/s" column reads as FLOP/s.
//!
//! Run: `cargo bench --bench train_step`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shortcut::models::{LazyCNN, ShapeCNN};
use shortcut::nn::Module;
use shortcut::ops::color_jitter::ColorJitter;
use shortcut::optim::{Adam, Optimizer};
use shortcut::train::{Batch, ConsistencyStep, CrossEntropyStep, Step};
use shortcut::{Device, Rng, Tensor};
use std::time::Duration;

const BATCH: usize = 64;

fn step_flops(macs_per_image: u64, first_conv_macs: u64) -> u64 {
    BATCH as u64 * (6 * macs_per_image - 2 * first_conv_macs)
}

/// The CPU, plus CUDA when a GPU is usable and wgpu when an adapter exists
/// (`SHORTCUT_BENCH_CUDA=0` / `SHORTCUT_BENCH_WGPU=0` skip them).
fn devices() -> Vec<Device> {
    let mut d = vec![Device::Cpu];
    for (name, var) in [
        ("cuda", "SHORTCUT_BENCH_CUDA"),
        ("wgpu", "SHORTCUT_BENCH_WGPU"),
    ] {
        if std::env::var(var).is_ok_and(|v| v == "0") {
            continue;
        }
        if let Ok(dev) = Device::parse(name) {
            d.push(dev);
        }
    }
    d
}

fn bench_model(c: &mut Criterion, name: &str, model: &dyn Module, flops: u64, device: Device) {
    bench_step(c, name, model, flops, device, &CrossEntropyStep);
}

/// One step of `step` (the training frame's: forward pass(es), loss) plus backward and Adam.
fn bench_step(
    c: &mut Criterion,
    name: &str,
    model: &dyn Module,
    flops: u64,
    device: Device,
    step: &dyn Step,
) {
    let mut rng = Rng::new(1, 0);
    let x = Tensor::rand_uniform([BATCH, 3, 28, 28], 0.0, 1.0, &mut rng, device).unwrap();
    let y: Vec<usize> = (0..BATCH).map(|i| i % 10).collect();
    let indices: Vec<usize> = (0..BATCH).collect();
    let mut opt = Adam::new(model.parameters(), 1e-3).unwrap();
    let mut group = c.benchmark_group(format!("train_step/{device}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(flops));
    group.bench_function(name, |b| {
        b.iter(|| {
            opt.zero_grad();
            let batch = Batch {
                x: x.clone(),
                y: &y,
                indices: &indices,
                epoch: 0,
                seed: 0,
            };
            let loss = step.loss(model, &batch).unwrap().loss;
            loss.backward().unwrap();
            opt.step().unwrap();
            device.synchronize().unwrap();
        })
    });
    group.finish();
}

fn train_step(c: &mut Criterion) {
    for device in devices() {
        let mut rng = Rng::new(0, 0);
        let lazy = LazyCNN::new(&mut rng, device).unwrap();
        bench_model(
            c,
            "lazy_cnn_batch64",
            &lazy,
            step_flops(LazyCNN::macs_per_image(), 16 * 784 * 27),
            device,
        );
        // Colour consistency (Task 4.1): the jitter plus one pass over both views (2 × 64
        // images), so twice the plain step's FLOPs. Goal: at most 2.2 × the plain step's time.
        bench_step(
            c,
            "lazy_cnn_consistency_batch64",
            &lazy,
            2 * step_flops(LazyCNN::macs_per_image(), 16 * 784 * 27),
            device,
            &ConsistencyStep {
                lambda: 5.0,
                jitter: ColorJitter::default(),
            },
        );
        let shape = ShapeCNN::new(&mut rng, device).unwrap();
        bench_model(
            c,
            "shape_cnn_batch64",
            &shape,
            step_flops(ShapeCNN::macs_per_image(), 32 * 784 * 27),
            device,
        );
    }
}

/// Inference throughput of LazyCNN on data already in memory (as the PyTorch reference
/// measures it): forward passes under `no_grad` over 10,000 images in batches of 128.
/// Criterion's "elem/s" column reads as images/s.
fn inference(c: &mut Criterion) {
    let mut rng = Rng::new(0, 0);
    let lazy = LazyCNN::new(&mut rng, Device::Cpu).unwrap();
    let n = 10_000;
    let batches: Vec<Tensor> = (0..n)
        .step_by(128)
        .map(|s| {
            let b = 128.min(n - s);
            Tensor::rand_uniform([b, 3, 28, 28], 0.0, 1.0, &mut rng, Device::Cpu).unwrap()
        })
        .collect();
    let mut group = c.benchmark_group("inference/cpu");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("lazy_cnn_10k_images_batch128", |b| {
        b.iter(|| {
            shortcut::no_grad(|| {
                for x in &batches {
                    lazy.forward(x).unwrap().argmax(1).unwrap();
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, train_step, inference);
criterion_main!(benches);
