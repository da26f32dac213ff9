//! Primitive kernels at the study's layer shapes (batch 64), on the CPU.
//!
//! Throughput is declared as `Elements(FLOPs)`, so criterion's "elem/s" column reads as FLOP/s
//! (e.g. "150 Gelem/s" = 150 GFLOP/s). One multiply–add counts as 2 FLOPs; each of the three
//! conv2d passes does the same number of multiply–adds.
//!
//! Run: `cargo bench --bench ops` (or `-- conv2d/fwd` to filter).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
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

fn rand(shape: &[usize], seed: u64) -> Tensor {
    Tensor::rand_uniform(
        shape.to_vec(),
        -1.0,
        1.0,
        &mut Rng::new(seed, 0),
        Device::Cpu,
    )
    .unwrap()
}

fn conv2d(c: &mut Criterion) {
    for pass in ["fwd", "bwd_input", "bwd_weight", "fwd+bwd"] {
        let mut group = c.benchmark_group(format!("conv2d/{pass}/cpu"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for &(name, ci, co, hw) in CONV_LAYERS {
            let p = Conv2dParams::new(1, 1);
            let x = rand(&[BATCH, ci, hw, hw], 1);
            let w = rand(&[co, ci, 3, 3], 2);
            let b = rand(&[co], 3);
            let args = Conv2dArgs::new(x.shape(), w.shape(), &p).unwrap();
            let g = rand(args.out_shape().dims(), 4);
            let passes = if pass == "fwd+bwd" { 3 } else { 1 };
            group.throughput(Throughput::Elements(2 * args.macs() * passes));
            group.bench_function(BenchmarkId::from_parameter(name), |bench| match pass {
                "fwd" => bench.iter(|| x.conv2d(&w, Some(&b), p).unwrap()),
                "bwd_input" => bench.iter(|| conv2d_bwd_input(&g, &w, &args).unwrap()),
                "bwd_weight" => bench.iter(|| conv2d_bwd_weight(&g, &x, &args).unwrap()),
                _ => bench.iter(|| {
                    x.conv2d(&w, Some(&b), p).unwrap();
                    conv2d_bwd_input(&g, &w, &args).unwrap();
                    conv2d_bwd_weight(&g, &x, &args).unwrap()
                }),
            });
        }
        group.finish();
    }
}

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul/cpu");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for &(name, m, k, n) in MATMULS {
        let a = rand(&[m, k], 5);
        let b = rand(&[k, n], 6);
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| a.matmul(&b).unwrap())
        });
        let bt = rand(&[n, k], 7);
        group.bench_function(
            BenchmarkId::from_parameter(format!("{name}_transB")),
            |bench| bench.iter(|| a.matmul_t(&bt, false, true).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, conv2d, matmul);
criterion_main!(benches);
