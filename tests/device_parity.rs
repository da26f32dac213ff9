//! Parity of every GPU kernel with the CPU kernel, forward and backward, on every device this
//! machine has: each shared case (`tests/parity_cases/mod.rs`, with its tolerances; random
//! inputs whose sizes are not multiples of the block or workgroup, 256, or the GEMM tile, 64)
//! runs once per device — `cuda::unary_ops`, `wgpu::unary_ops`, … — plus every tile variant of
//! the CUDA GEMMs and convolutions, which only CUDA has.
//!
//! **One skip rule** ([`device`]): a device this machine lacks skips its tests, printing why —
//! unless it must be there: WebGPU under `CI=true` (CI installs lavapipe, a Vulkan driver on the
//! CPU, so every shader really runs there) and CUDA with `SHORTCUT_REQUIRE_CUDA=1` (set by the GPU
//! runs, so a missing GPU fails loudly instead of passing). CI has no NVIDIA GPU: its CUDA tests
//! skip with the reason (CI compiles every kernel with NVRTC instead: `cuda_kernels_compile.rs`).

mod common;
mod parity_cases;

use shortcut::Device;

/// The device `name` (`cuda` or `wgpu`), or `None` — with the reason printed — where this
/// machine lacks it and nothing requires it.
fn device(name: &str) -> Option<Device> {
    let flag = |k: &str| std::env::var(k).is_ok_and(|v| v == "1" || v == "true");
    let required = match name {
        "wgpu" => flag("CI").then_some("CI=true (CI installs lavapipe)"),
        _ => flag("SHORTCUT_REQUIRE_CUDA").then_some("SHORTCUT_REQUIRE_CUDA=1"),
    };
    match Device::parse(name) {
        Ok(d) => Some(d),
        Err(e) => {
            if let Some(why) = required {
                panic!("{why}, but the {name} parity tests found no device: {e}");
            }
            eprintln!("skipping the {name} parity test: {e}");
            None
        }
    }
}

/// One test per case and device: a module per device, a test per case in it.
macro_rules! on_every_device {
    ($($case:ident),* $(,)?) => {
        mod cuda {
            $(
                #[test]
                fn $case() {
                    if let Some(dev) = super::device("cuda") {
                        super::parity_cases::$case(dev);
                    }
                }
            )*
        }
        mod wgpu {
            $(
                #[test]
                fn $case() {
                    if let Some(dev) = super::device("wgpu") {
                        super::parity_cases::$case(dev);
                    }
                }
            )*
        }
    };
}

on_every_device!(
    binary_ops_with_broadcasting,
    unary_ops,
    sum_to_and_broadcast_to,
    relu_on_a_grid_of_more_than_65535_blocks,
    matmul_with_every_transpose,
    conv2d_forward_and_both_gradients,
    pooling_forward_and_backward,
    reductions,
    softmax_and_cross_entropy,
    indexing_and_layout,
    upsample_bilinear,
    fused_optimizer_steps,
    colorization_matches_the_cpu_pixel_for_pixel,
    color_jitter_matches_the_cpu,
    spatial_attention_pooling,
);

/// What only CUDA has.
mod cuda_only {
    use super::common::uniform;
    use super::device;
    use super::parity_cases::{assert_close, SUMS};
    use shortcut::ops::Conv2dParams;
    use shortcut::Tensor;

    /// Every tile shape the CUDA GEMM launchers can pick, and the simple direct/naive kernels the
    /// bench compares them with, against the CPU kernels (called on raw buffers, so each variant is
    /// reached whatever the dispatch thresholds are).
    #[test]
    fn every_gemm_and_convolution_variant_matches_the_cpu() {
        use shortcut::device::cuda;
        use shortcut::ops::conv2d::{cpu as conv_cpu, cuda as conv_cuda, Conv2dArgs};
        use shortcut::ops::matmul::{cpu as mm_cpu, cuda as mm_cuda};
        use shortcut::shape::Shape;
        if device("cuda").is_none() {
            return;
        }
        let g = cuda::gpu().unwrap();
        let host = |t: &Tensor| t.to_vec().unwrap();
        let up = |v: &[f32]| g.upload(v).unwrap();
        let down = |b: &cuda::CudaBuffer| g.download::<f32>(b).unwrap();

        // matmul: 64×64 tiles (small), 128×128 tiles (≥ 256 big tiles), naive; every transpose.
        for &(m, k, n) in &[(67, 45, 93), (2050, 37, 2049)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = host(&uniform(&[m * k], -1.0, 1.0, 40));
                let b = host(&uniform(&[k * n], -1.0, 1.0, 41));
                let want = mm_cpu::matmul(&a, &b, m, n, k, ta, tb);
                let (ab, bb) = (up(&a), up(&b));
                let tiled = down(&mm_cuda::matmul(&ab, &bb, m, n, k, ta, tb).unwrap());
                assert_close(
                    &format!("matmul {m}x{k}x{n} {ta}/{tb}"),
                    &tiled,
                    &want,
                    SUMS,
                    SUMS,
                );
                if m < 100 {
                    let naive = down(&mm_cuda::matmul_naive(&ab, &bb, m, n, k, ta, tb).unwrap());
                    assert_close(
                        &format!("matmul_naive {m}x{k}x{n}"),
                        &naive,
                        &want,
                        SUMS,
                        SUMS,
                    );
                }
            }
        }

        // conv2d: C_out ≤ 32 (32×128 tiles), a medium layer (64×64), a large one (64×128), with
        // stride and padding; input gradients with C_in ≤ 32 and > 32.
        let cases: &[([usize; 4], [usize; 4], usize, usize)] = &[
            ([3, 3, 17, 19], [16, 3, 3, 3], 1, 1),
            ([2, 5, 9, 11], [40, 5, 3, 3], 2, 1),
            ([21, 3, 28, 28], [70, 3, 3, 3], 1, 1),
            ([9, 40, 28, 28], [8, 40, 3, 3], 1, 0),
            ([4, 36, 30, 30], [48, 36, 5, 5], 1, 2),
        ];
        for (i, &(xs, ws, stride, pad)) in cases.iter().enumerate() {
            let p = Conv2dParams::new(stride, pad);
            let a = Conv2dArgs::new(&Shape::new(xs), &Shape::new(ws), &p).unwrap();
            let x = host(&uniform(&xs, -1.0, 1.0, 50 + i as u64));
            let w = host(&uniform(&ws, -1.0, 1.0, 60 + i as u64));
            let bias = host(&uniform(&[ws[0]], -1.0, 1.0, 70 + i as u64));
            let gy = host(&uniform(a.out_shape().dims(), -1.0, 1.0, 80 + i as u64));
            let (xb, wb, bb, gb) = (up(&x), up(&w), up(&bias), up(&gy));
            let what = |pass: &str| format!("conv2d case {i} {xs:?}*{ws:?} {pass}");

            let want = conv_cpu::conv2d_fwd(&x, &w, Some(&bias), &a);
            let tiled = down(&conv_cuda::conv2d_fwd(&xb, &wb, Some(&bb), &a).unwrap());
            let direct = down(&conv_cuda::conv2d_fwd_direct(&xb, &wb, Some(&bb), &a).unwrap());
            assert_close(&what("fwd"), &tiled, &want, SUMS, SUMS);
            assert_close(&what("fwd direct"), &direct, &want, SUMS, SUMS);

            let want = conv_cpu::conv2d_bwd_input(&gy, &w, &a);
            let tiled = down(&conv_cuda::conv2d_bwd_input(&gb, &wb, &a).unwrap());
            let direct = down(&conv_cuda::conv2d_bwd_input_direct(&gb, &wb, &a).unwrap());
            assert_close(&what("bwd_input"), &tiled, &want, SUMS, SUMS);
            assert_close(&what("bwd_input direct"), &direct, &want, SUMS, SUMS);

            let want = conv_cpu::conv2d_bwd_weight(&gy, &x, &a);
            let tiled = down(&conv_cuda::conv2d_bwd_weight(&gb, &xb, &a).unwrap());
            let direct = down(&conv_cuda::conv2d_bwd_weight_direct(&gb, &xb, &a).unwrap());
            // dW sums K = N·OH·OW terms (up to 16,464 here) of magnitude ≤ 1. Two summation
            // orders differ by rounding errors that add up like a random walk, ≈ u·√K·‖terms‖₂
            // ≤ u·K with u = 2⁻²⁴ ≈ 6e-8: about 1e-3 at the largest K. So atol = 6e-8·K + 1e-4.
            let scale = (a.out_shape().numel() / ws[0]) as f32;
            let tol = scale * 6e-8 + SUMS;
            assert_close(&what("bwd_weight"), &tiled, &want, tol, SUMS);
            assert_close(&what("bwd_weight direct"), &direct, &want, tol, SUMS);
        }
    }
}
