//! CPU kernels `adam_step_f32` and `sgd_step_f32`.

use super::{AdamArgs, SgdArgs};

/// Adam (PyTorch's rule, eps added after the square root):
/// ```text
/// g ← g + wd·p
/// m ← β₁·m + (1−β₁)·g
/// v ← β₂·v + (1−β₂)·g²
/// p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + eps)
/// ```
pub fn adam_step(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], a: &AdamArgs) {
    let step = a.lr / a.bias_correction1;
    for i in 0..p.len() {
        let gi = g[i] + a.weight_decay * p[i];
        m[i] = a.beta1 * m[i] + (1.0 - a.beta1) * gi;
        v[i] = a.beta2 * v[i] + (1.0 - a.beta2) * gi * gi;
        let denom = v[i].sqrt() / a.bias_correction2_sqrt + a.eps;
        p[i] -= step * m[i] / denom;
    }
}

/// SGD with momentum (PyTorch's rule):
/// ```text
/// d ← g + wd·p
/// buf ← d                          on the first step
/// buf ← μ·buf + (1−dampening)·d    afterwards
/// d ← d + μ·buf (Nesterov) or d ← buf
/// p ← p − lr·d
/// ```
/// With momentum 0 the buffer is unused and p ← p − lr·(g + wd·p).
pub fn sgd_step(p: &mut [f32], g: &[f32], buf: &mut [f32], a: &SgdArgs) {
    for i in 0..p.len() {
        let mut d = g[i] + a.weight_decay * p[i];
        if a.momentum != 0.0 {
            buf[i] = if a.first_step != 0 {
                d
            } else {
                a.momentum * buf[i] + (1.0 - a.dampening) * d
            };
            d = if a.nesterov != 0 {
                d + a.momentum * buf[i]
            } else {
                buf[i]
            };
        }
        p[i] -= a.lr * d;
    }
}
