//! CPU kernels: `relu_fwd_f32`, `relu_bwd_f32`.

use crate::device::cpu::{map1, map2};

/// y[i] = max(x[i], 0)
pub fn relu_fwd(x: &[f32]) -> Vec<f32> {
    map1(x, |v| if v > 0.0 { v } else { 0.0 })
}

/// dx[i] = g[i] if y[i] > 0 else 0
pub fn relu_bwd(g: &[f32], y: &[f32]) -> Vec<f32> {
    map2(g, y, |g, y| if y > 0.0 { g } else { 0.0 })
}
