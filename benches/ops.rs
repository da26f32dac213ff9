//! Primitive kernels at the study's layer shapes (batch 64), on every device this machine has:
//! the CPU, the CUDA GPU, and the WebGPU adapter `--device wgpu` would pick (set
//! `SHORTCUT_BENCH_CUDA=0` or `SHORTCUT_BENCH_WGPU=0` to skip one). Group names end in the
//! device: `conv2d/fwd/cpu`, `conv2d/fwd/cuda`, `conv2d/fwd/wgpu`.
//!
//! Compute-bound kernels declare `Elements(FLOPs)`, so criterion's "elem/s" column reads as
//! FLOP/s (e.g. "150 Gelem/s" = 150 GFLOP/s; one multiply–add = 2 FLOPs; each of the three
//! conv2d passes does the same number of multiply–adds). Memory-bound kernels declare the bytes
//! they read and write, so their column reads as GB/s.
//!
//! Every timed iteration ends with `device.synchronize()`: GPU launches return before the work
//! is done, and a bench that did not wait would time only the recording of commands.
//!
//! On CUDA, `cuda-variants/…` also compares each GEMM-shaped kernel with its simple version
//! (tiled implicit-GEMM convolutions vs. direct ones, tiled GEMM vs. naive).
//!
//! Run: `cargo bench --bench ops` (or `-- conv2d/fwd/wgpu` to filter).

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use shortcut::ops::conv2d::{conv2d_bwd_input, conv2d_bwd_weight, Conv2dArgs};
use shortcut::ops::Conv2dParams;
use shortcut::{Device, Rng, Tensor};
use std::time::Duration;

/// (name, C_in, C_out, H = W) of every conv layer of LazyCNN and ShapeCNN (3×3, padding 1).
const CONV_LAYERS: &[(&str, usize, usize, usize)] = &[
    ("lazy.conv_3to16_28x28", 3, 16, 28),
    ("shape.conv1_3to32_28x28", 3, 32, 28),
    ("shape.conv2_32to64_28x28", 32, 64, 28),
    ("shape.conv3_64to64_14x14", 64, 64, 14),
    ("shape.conv4_64to128_14x14", 64, 128, 14),
    ("shape.conv5_128to128_7x7", 128, 128, 7),
];

/// (name, M, K, N) of the linear layers' matmuls and one large square product.
const MATMULS: &[(&str, usize, usize, usize)] = &[
    ("lazy.fc1_64x64x64", 64, 64, 64),
    ("lazy.fc2_64x64x10", 64, 64, 10),
    ("shape.fc_64x128x10", 64, 128, 10),
    ("square_512", 512, 512, 512),
];

const BATCH: usize = 64;

/// The devices to bench: the CPU, CUDA when a GPU is usable (`SHORTCUT_BENCH_CUDA=0` skips it)
/// and wgpu when an adapter exists (`SHORTCUT_BENCH_WGPU=0` skips it).
fn devices() -> Vec<Device> {
    let mut d = vec![Device::Cpu];
    for (name, var) in [
        ("cuda", "SHORTCUT_BENCH_CUDA"),
        ("wgpu", "SHORTCUT_BENCH_WGPU"),
    ] {
        if std::env::var(var).is_ok_and(|v| v == "0") {
            continue;
        }
        match Device::parse(name) {
            Ok(dev) => {
                eprintln!("benching {}", dev.describe());
                d.push(dev);
            }
            Err(e) => eprintln!("not benching {name}: {e}"),
        }
    }
    d
}

fn rand_on(shape: &[usize], seed: u64, device: Device) -> Tensor {
    Tensor::rand_uniform(
        shape.to_vec(),
        -1.0,
        1.0,
        &mut Rng::new(seed, 0),
        Device::Cpu,
    )
    .unwrap()
    .to_device(device)
    .unwrap()
}

/// Run `f` and wait for the device, so the timed region covers the kernel's execution.
fn synced<T>(device: Device, f: impl FnOnce() -> T) -> T {
    let out = f();
    device.synchronize().unwrap();
    out
}

fn conv2d(c: &mut Criterion) {
    for device in devices() {
        conv2d_on(c, device);
    }
}

/// Input, weight, bias, arguments and an output gradient of one 3×3, padding-1 conv layer.
fn conv_inputs(
    ci: usize,
    co: usize,
    hw: usize,
    device: Device,
) -> (Tensor, Tensor, Tensor, Conv2dArgs, Tensor) {
    let x = rand_on(&[BATCH, ci, hw, hw], 1, device);
    let w = rand_on(&[co, ci, 3, 3], 2, device);
    let b = rand_on(&[co], 3, device);
    let args = Conv2dArgs::new(x.shape(), w.shape(), &Conv2dParams::new(1, 1)).unwrap();
    let g = rand_on(args.out_shape().dims(), 4, device);
    (x, w, b, args, g)
}

/// A benchmark group with the convolutions' settings: 10 samples, 0.5 s warm-up, 2 s measured.
fn conv_group(c: &mut Criterion, name: String) -> BenchmarkGroup<'_, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group
}

fn conv2d_on(c: &mut Criterion, device: Device) {
    for pass in ["fwd", "bwd_input", "bwd_weight", "fwd+bwd"] {
        let mut group = conv_group(c, format!("conv2d/{pass}/{device}"));
        for &(name, ci, co, hw) in CONV_LAYERS {
            let p = Conv2dParams::new(1, 1);
            let (x, w, b, args, g) = conv_inputs(ci, co, hw, device);
            let passes = if pass == "fwd+bwd" { 3 } else { 1 };
            group.throughput(Throughput::Elements(2 * args.macs() * passes));
            group.bench_function(BenchmarkId::from_parameter(name), |bench| match pass {
                "fwd" => bench.iter(|| synced(device, || x.conv2d(&w, Some(&b), p).unwrap())),
                "bwd_input" => {
                    bench.iter(|| synced(device, || conv2d_bwd_input(&g, &w, &args).unwrap()))
                }
                "bwd_weight" => {
                    bench.iter(|| synced(device, || conv2d_bwd_weight(&g, &x, &args).unwrap()))
                }
                _ => bench.iter(|| {
                    synced(device, || {
                        x.conv2d(&w, Some(&b), p).unwrap();
                        conv2d_bwd_input(&g, &w, &args).unwrap();
                        conv2d_bwd_weight(&g, &x, &args).unwrap()
                    })
                }),
            });
        }
        group.finish();
    }
}

fn matmul(c: &mut Criterion) {
    for device in devices() {
        matmul_on(c, device);
    }
}

fn matmul_on(c: &mut Criterion, device: Device) {
    let rand = |shape: &[usize], seed: u64| rand_on(shape, seed, device);
    let mut group = c.benchmark_group(format!("matmul/{device}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for &(name, m, k, n) in MATMULS {
        let a = rand(&[m, k], 5);
        let b = rand(&[k, n], 6);
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| synced(device, || a.matmul(&b).unwrap()))
        });
        let bt = rand(&[n, k], 7);
        group.bench_function(
            BenchmarkId::from_parameter(format!("{name}_transB")),
            |bench| bench.iter(|| synced(device, || a.matmul_t(&bt, false, true).unwrap())),
        );
    }
    group.finish();
}

/// Memory-bound kernels at the study's activation sizes; throughput in bytes moved.
fn memory_bound(c: &mut Criterion) {
    use shortcut::ops::optim::{adam_step, AdamArgs};
    use shortcut::ops::PoolParams;
    for device in devices() {
        let rand = |shape: &[usize], seed: u64| rand_on(shape, seed, device);
        let mut group = c.benchmark_group(format!("memory/{device}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        let act = rand(&[BATCH, 64, 28, 28], 8);
        let n = act.numel() as u64;
        group.throughput(Throughput::Bytes(8 * n));
        group.bench_function("relu_fwd_64x64x28x28", |b| {
            b.iter(|| synced(device, || act.relu().unwrap()))
        });
        group.throughput(Throughput::Bytes(4 * n + 8 * n / 4));
        group.bench_function("max_pool2d_fwd_2x2_64x64x28x28", |b| {
            b.iter(|| synced(device, || act.max_pool2d(PoolParams::new(2, 2, 0)).unwrap()))
        });
        let other = rand(&[BATCH, 64, 28, 28], 9);
        group.throughput(Throughput::Bytes(12 * n));
        group.bench_function("add_64x64x28x28", |b| {
            b.iter(|| synced(device, || act.add(&other).unwrap()))
        });
        let logits = rand(&[4096, 10], 10);
        group.throughput(Throughput::Bytes(8 * logits.numel() as u64));
        group.bench_function("softmax_4096x10", |b| {
            b.iter(|| synced(device, || logits.softmax().unwrap()))
        });
        // Adam over ShapeCNN-sized parameters (~0.3 M): reads p, g, m, v, writes p, m, v.
        let params = 300_000;
        let (p, g) = (rand(&[params], 11), rand(&[params], 12));
        let (m, v) = (rand(&[params], 13), rand(&[params], 14).abs().unwrap());
        let args = AdamArgs {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            bias_correction1: 0.1,
            bias_correction2_sqrt: 0.03,
            _pad: 0.0,
        };
        group.throughput(Throughput::Bytes(28 * params as u64));
        group.bench_function("adam_step_300k", |b| {
            b.iter(|| synced(device, || adam_step(&p, &g, &m, &v, &args).unwrap()))
        });
        group.finish();
    }
}

/// The CUDA kernels' versions side by side, at the study's layer shapes: the tiled implicit-GEMM
/// convolutions against the direct ones (one thread per output element), and the tiled GEMM
/// against the naive one. Groups `cuda-variants/conv2d_{fwd,bwd_input,bwd_weight}` and
/// `cuda-variants/matmul`, functions `tiled/<layer>` and `direct/<layer>` (`naive/…`).
/// Colour jitter (Task 4.1) on batches of 3×28×28 images in [0, 1]: images per second
/// (criterion's "elem/s" column), SPEC's jitter with the extreme half.
fn color_jitter(c: &mut Criterion) {
    use shortcut::ops::color_jitter::ColorJitter;
    for device in devices() {
        let mut group = c.benchmark_group(format!("color_jitter/{device}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for batch in [64usize, 1024] {
            let x = rand_on(&[batch, 3, 28, 28], 11, device)
                .add_scalar(1.0)
                .unwrap()
                .mul_scalar(0.5)
                .unwrap();
            let idx: Vec<usize> = (0..batch).collect();
            let jitter = ColorJitter::default();
            let key = ColorJitter::key(0, 0);
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_function(BenchmarkId::new("images", batch), |b| {
                b.iter(|| synced(device, || x.color_jitter(&jitter, key, &idx).unwrap()))
            });
        }
        group.finish();
    }
}

fn cuda_variants(c: &mut Criterion) {
    use shortcut::device::cuda::{self, CudaBuffer};
    use shortcut::ops::conv2d::cuda as conv;
    use shortcut::ops::matmul::cuda as mm;
    if std::env::var("SHORTCUT_BENCH_CUDA").is_ok_and(|v| v == "0") {
        return;
    }
    let Ok(g) = cuda::gpu() else {
        eprintln!("not benching the CUDA kernel variants: no usable CUDA GPU");
        return;
    };
    let device = Device::Cuda;
    let buf = |n: usize, seed: u64| -> CudaBuffer {
        let t = rand_on(&[n], seed, Device::Cpu);
        g.upload(&t.to_vec().unwrap()).unwrap()
    };
    type ConvPass = fn(&CudaBuffer, &CudaBuffer, &Conv2dArgs) -> shortcut::Result<CudaBuffer>;
    let passes: [(&str, ConvPass, ConvPass); 3] = [
        (
            "fwd",
            |x, w, a| conv::conv2d_fwd(x, w, None, a),
            |x, w, a| conv::conv2d_fwd_direct(x, w, None, a),
        ),
        (
            "bwd_input",
            conv::conv2d_bwd_input,
            conv::conv2d_bwd_input_direct,
        ),
        (
            "bwd_weight",
            conv::conv2d_bwd_weight,
            conv::conv2d_bwd_weight_direct,
        ),
    ];
    for (pass, tiled, direct) in passes {
        let mut group = c.benchmark_group(format!("cuda-variants/conv2d_{pass}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for &(name, ci, co, hw) in CONV_LAYERS {
            let p = Conv2dParams::new(1, 1);
            let xs = shortcut::shape::Shape::new([BATCH, ci, hw, hw]);
            let ws = shortcut::shape::Shape::new([co, ci, 3, 3]);
            let args = Conv2dArgs::new(&xs, &ws, &p).unwrap();
            // operands in the order each pass takes them: fwd (x, w), bwd_input (g, w),
            // bwd_weight (g, x)
            let (x, w, gy) = (
                buf(xs.numel(), 1),
                buf(ws.numel(), 2),
                buf(args.out_shape().numel(), 4),
            );
            let (first, second) = match pass {
                "fwd" => (&x, &w),
                "bwd_input" => (&gy, &w),
                _ => (&gy, &x),
            };
            group.throughput(Throughput::Elements(2 * args.macs()));
            for (label, f) in [("tiled", tiled), ("direct", direct)] {
                group.bench_function(BenchmarkId::new(label, name), |b| {
                    b.iter(|| synced(device, || f(first, second, &args).unwrap()))
                });
            }
        }
        group.finish();
    }
    let mut group = c.benchmark_group("cuda-variants/matmul");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for &(name, m, k, n) in MATMULS.iter().chain(&[("square_2048", 2048, 2048, 2048)]) {
        let (a, b) = (buf(m * k, 5), buf(k * n, 6));
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        group.bench_function(BenchmarkId::new("tiled", name), |bench| {
            bench.iter(|| {
                synced(device, || {
                    mm::matmul(&a, &b, m, n, k, false, false).unwrap()
                })
            })
        });
        group.bench_function(BenchmarkId::new("naive", name), |bench| {
            bench.iter(|| {
                synced(device, || {
                    mm::matmul_naive(&a, &b, m, n, k, false, false).unwrap()
                })
            })
        });
    }
    group.finish();
}

/// The CPU's 3×3 paths side by side on every conv layer: im2col + GEMM, Winograd F(2×2, 3×3)
/// and F(4×4, 3×3), forward, input gradient and weight gradient. GFLOP/s are counted with the
/// *direct* convolution's FLOPs (2 · MACs), so a faster algorithm shows as a higher rate:
/// Winograd's numbers are "effective" GFLOP/s. Groups
/// `conv2d_winograd/{fwd,bwd_input,bwd_weight}/<algorithm>`.
fn conv2d_winograd(c: &mut Criterion) {
    use shortcut::ops::conv2d::cpu::{set_algorithm, Algorithm};
    use shortcut::ops::conv2d::winograd::Tile;
    let algorithms = [
        ("im2col", Algorithm::Im2col),
        ("winograd2", Algorithm::Winograd(Tile::F2)),
        ("winograd4", Algorithm::Winograd(Tile::F4)),
    ];
    for pass in ["fwd", "bwd_input", "bwd_weight"] {
        for (label, algorithm) in algorithms {
            let mut group = conv_group(c, format!("conv2d_winograd/{pass}/{label}"));
            for &(name, ci, co, hw) in CONV_LAYERS {
                let p = Conv2dParams::new(1, 1);
                let (x, w, b, args, g) = conv_inputs(ci, co, hw, Device::Cpu);
                group.throughput(Throughput::Elements(2 * args.macs()));
                set_algorithm(algorithm);
                group.bench_function(BenchmarkId::from_parameter(name), |bench| match pass {
                    "fwd" => bench.iter(|| x.conv2d(&w, Some(&b), p).unwrap()),
                    "bwd_input" => bench.iter(|| conv2d_bwd_input(&g, &w, &args).unwrap()),
                    _ => bench.iter(|| conv2d_bwd_weight(&g, &x, &args).unwrap()),
                });
            }
            group.finish();
        }
    }
    set_algorithm(Algorithm::Auto);
}

/// The fused convolution + ReLU against the two ops it replaces, forward alone and forward plus
/// backward through the tape (the mask, the bias sum and the three convolution gradients), on the
/// CPU at the study's layer shapes. The algorithm is `auto`. GFLOP/s are counted with the direct
/// convolution's FLOPs (2·MACs per pass; forward+backward: 3 passes, the ReLU not counted).
/// Groups `conv2d_relu/{fwd,fwd+bwd}`, functions `fused/<layer>` and `unfused/<layer>`.
fn conv2d_relu(c: &mut Criterion) {
    for pass in ["fwd", "fwd+bwd"] {
        let mut group = conv_group(c, format!("conv2d_relu/{pass}"));
        for &(name, ci, co, hw) in CONV_LAYERS {
            let p = Conv2dParams::new(1, 1);
            let (x, w, b, args, g) = conv_inputs(ci, co, hw, Device::Cpu);
            let passes = if pass == "fwd" { 1 } else { 3 };
            group.throughput(Throughput::Elements(2 * args.macs() * passes));
            let leaves: Vec<Tensor> = [&x, &w, &b]
                .iter()
                .map(|t| t.detach().requires_grad_(pass != "fwd").unwrap())
                .collect();
            for fused in [true, false] {
                let id = format!("{}/{name}", if fused { "fused" } else { "unfused" });
                group.bench_function(id, |bench| {
                    bench.iter(|| {
                        let (x, w, b) = (&leaves[0], &leaves[1], &leaves[2]);
                        let y = if fused {
                            x.conv2d_relu(w, Some(b), p).unwrap()
                        } else {
                            x.conv2d(w, Some(b), p).unwrap().relu().unwrap()
                        };
                        if pass != "fwd" {
                            y.backward_with_grad(&g).unwrap();
                            leaves.iter().for_each(Tensor::zero_grad);
                        }
                    })
                });
            }
        }
        group.finish();
    }
}

/// LazyCNN's feature extractor, conv 3→16 (3×3, padding 1) + ReLU + adaptive average pool to
/// 2×2, on the CPU at batch 64: `fused/…` is `conv2d_relu_adaptive_avg_pool2d` (one pass, the
/// activation never formed, Winograd F(2×2) inside), `unfused/…` is `conv2d_relu` then
/// `adaptive_avg_pool2d`. Forward+backward computes the weight and bias gradients (LazyCNN's
/// input needs none). GFLOP/s are counted with the direct convolution's FLOPs (2·MACs per pass;
/// forward+backward: 2 passes), not the fewer the fused kernel does.
/// Groups `conv2d_relu_pool/{fwd,fwd+bwd}`.
fn conv2d_relu_pool(c: &mut Criterion) {
    let (name, ci, co, hw) = CONV_LAYERS[0];
    for pass in ["fwd", "fwd+bwd"] {
        let mut group = conv_group(c, format!("conv2d_relu_pool/{pass}"));
        let p = Conv2dParams::new(1, 1);
        let (x, w, b, args, _) = conv_inputs(ci, co, hw, Device::Cpu);
        let g = rand_on(&[BATCH, co, 2, 2], 5, Device::Cpu);
        let passes = if pass == "fwd" { 1 } else { 2 };
        group.throughput(Throughput::Elements(2 * args.macs() * passes));
        let (w, b) = (
            w.detach().requires_grad_(pass != "fwd").unwrap(),
            b.detach().requires_grad_(pass != "fwd").unwrap(),
        );
        for fused in [true, false] {
            let id = format!("{}/{name}", if fused { "fused" } else { "unfused" });
            group.bench_function(id, |bench| {
                bench.iter(|| {
                    let y = if fused {
                        x.conv2d_relu_adaptive_avg_pool2d(&w, Some(&b), p, 2, 2)
                            .unwrap()
                    } else {
                        let a = x.conv2d_relu(&w, Some(&b), p).unwrap();
                        a.adaptive_avg_pool2d(2, 2).unwrap()
                    };
                    if pass != "fwd" {
                        y.backward_with_grad(&g).unwrap();
                        w.zero_grad();
                        b.zero_grad();
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group!(
    benches,
    conv2d,
    conv2d_winograd,
    conv2d_relu,
    conv2d_relu_pool,
    matmul,
    memory_bound,
    color_jitter,
    cuda_variants
);
criterion_main!(benches);
