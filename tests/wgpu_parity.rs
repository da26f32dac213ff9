//! Parity of every WGSL kernel with the CPU kernel, forward and backward, on random inputs whose
//! sizes are not multiples of the workgroup (256) or the GEMM tile (64). The cases and their
//! tolerances are in `tests/parity_cases/mod.rs`, shared with the CUDA parity tests.
//!
//! Where no adapter exists the tests print why and pass — except under `CI=true`, where a missing
//! adapter fails them (CI installs lavapipe, so the shaders always really run there).

mod common;
mod parity_cases;

use shortcut::Device;

fn wgpu() -> Option<Device> {
    match Device::parse("wgpu") {
        Ok(d) => Some(d),
        Err(e) => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "CI=true but the wgpu parity tests found no adapter: {e}"
            );
            eprintln!("skipping wgpu parity test: {e}");
            None
        }
    }
}

#[test]
fn binary_ops_with_broadcasting() {
    if let Some(dev) = wgpu() {
        parity_cases::binary_ops_with_broadcasting(dev);
    }
}

#[test]
fn unary_ops() {
    if let Some(dev) = wgpu() {
        parity_cases::unary_ops(dev);
    }
}

#[test]
fn sum_to_and_broadcast_to() {
    if let Some(dev) = wgpu() {
        parity_cases::sum_to_and_broadcast_to(dev);
    }
}

#[test]
fn relu_on_a_grid_of_more_than_65535_blocks() {
    if let Some(dev) = wgpu() {
        parity_cases::relu_on_a_grid_of_more_than_65535_blocks(dev);
    }
}

#[test]
fn matmul_with_every_transpose() {
    if let Some(dev) = wgpu() {
        parity_cases::matmul_with_every_transpose(dev);
    }
}

#[test]
fn conv2d_forward_and_both_gradients() {
    if let Some(dev) = wgpu() {
        parity_cases::conv2d_forward_and_both_gradients(dev);
    }
}

#[test]
fn pooling_forward_and_backward() {
    if let Some(dev) = wgpu() {
        parity_cases::pooling_forward_and_backward(dev);
    }
}

#[test]
fn reductions() {
    if let Some(dev) = wgpu() {
        parity_cases::reductions(dev);
    }
}

#[test]
fn softmax_and_cross_entropy() {
    if let Some(dev) = wgpu() {
        parity_cases::softmax_and_cross_entropy(dev);
    }
}

#[test]
fn indexing_and_layout() {
    if let Some(dev) = wgpu() {
        parity_cases::indexing_and_layout(dev);
    }
}

#[test]
fn upsample_bilinear() {
    if let Some(dev) = wgpu() {
        parity_cases::upsample_bilinear(dev);
    }
}

#[test]
fn fused_optimizer_steps() {
    if let Some(dev) = wgpu() {
        parity_cases::fused_optimizer_steps(dev);
    }
}

#[test]
fn colorization_matches_the_cpu_pixel_for_pixel() {
    if let Some(dev) = wgpu() {
        parity_cases::colorization_matches_the_cpu_pixel_for_pixel(dev);
    }
}

#[test]
fn color_jitter_matches_the_cpu() {
    if let Some(dev) = wgpu() {
        parity_cases::color_jitter_matches_the_cpu(dev);
    }
}

#[test]
fn spatial_attention_pooling() {
    if let Some(dev) = wgpu() {
        parity_cases::spatial_attention_pooling(dev);
    }
}
