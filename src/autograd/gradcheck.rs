//! Finite-difference gradient checking.
//!
//! To check the gradient of `y = f(x₁, …, x_k)` (any shape), we contract y with fixed random
//! weights w to a scalar `L = Σᵢ wᵢ yᵢ`, so every output element takes part. Backward seeded
//! with ∂L/∂y = w gives the analytic ∂L/∂x; the numeric one is the central difference
//! `(L(x + h·eⱼ) − L(x − h·eⱼ)) / 2h` for each input element j.
//!
//! # Precision, and how the tolerance is chosen
//!
//! The kernels are f32 (unit roundoff u = 2⁻²⁴ ≈ 6·10⁻⁸). L is accumulated in f64 on the host, so
//! the rounding in L comes only from the f32 outputs themselves: |δL| ≲ c·u·S with
//! S = Σᵢ|wᵢ yᵢ| and c a small constant covering the few roundings inside each output. The
//! central difference divides two such errors by 2h, so its rounding noise is about
//! c·u·S/h; its truncation error is (h²/6)·|∂³L| for smooth ops. The check therefore accepts
//!
//! ```text
//! |analytic − numeric| ≤ atol + rtol·|numeric| + 16·u·S/h
//! ```
//!
//! with h = 10⁻², atol = 10⁻³, rtol = 10⁻² by default. A wrong rule (a missing factor, a
//! transposed index, a gradient sent to the wrong element) is off by O(1) and fails by orders of
//! magnitude. Ops with kinks (relu, max, abs, clamp, min/max) are tested on inputs kept further
//! than h from the kink, so a difference never straddles it.

use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// Settings of a gradient check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// Finite-difference step.
    pub h: f32,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to |numeric|).
    pub rtol: f64,
    /// Seed of the random contraction weights.
    pub seed: u64,
}

impl Default for GradCheck {
    /// h = 1e-2, atol = 1e-3, rtol = 1e-2 (see the module docs for why).
    fn default() -> Self {
        GradCheck {
            h: 1e-2,
            atol: 1e-3,
            rtol: 1e-2,
            seed: 0x5eed,
        }
    }
}

/// The largest error found, for reporting.
#[derive(Clone, Debug)]
pub struct GradCheckReport {
    pub max_abs_err: f64,
    pub checked: usize,
}

fn contract(y: &Tensor, w: &[f64]) -> Result<f64> {
    Ok(y.to_vec()?.iter().zip(w).map(|(&a, &b)| a as f64 * b).sum())
}

/// Check the gradients of `f` with respect to every input. Inputs are copied into fresh leaves
/// that require gradients, so the caller's tensors are untouched.
pub fn check_gradients(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    cfg: GradCheck,
) -> Result<GradCheckReport> {
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.detach().to_device(t.device())?.requires_grad_(true))
        .collect::<Result<_>>()?;
    let y = f(&leaves)?;
    let mut rng = Rng::new(cfg.seed, 77);
    let w: Vec<f64> = (0..y.numel())
        .map(|_| rng.uniform_range(-1.0, 1.0) as f64)
        .collect();
    let seed = Tensor::from_vec(
        w.iter().map(|&v| v as f32).collect(),
        y.shape().clone(),
        y.device(),
    )?;
    // rounding-noise allowance 16·u·S/h, S = Σ|wᵢ yᵢ| at the base point
    let s_abs: f64 = y
        .to_vec()?
        .iter()
        .zip(&w)
        .map(|(&a, &b)| (a as f64 * b).abs())
        .sum();
    let noise = 16.0 * f32::EPSILON as f64 / 2.0 * s_abs / cfg.h as f64;
    y.backward_with_grad(&seed)?;

    let mut report = GradCheckReport {
        max_abs_err: 0.0,
        checked: 0,
    };
    let mut failures = Vec::new();
    for (k, leaf) in leaves.iter().enumerate() {
        let analytic = match leaf.grad() {
            Some(g) => g.to_vec()?,
            None => vec![0.0; leaf.numel()],
        };
        let base = leaf.to_vec()?;
        for j in 0..base.len() {
            let eval = |delta: f32| -> Result<f64> {
                let mut v = base.clone();
                v[j] += delta;
                let moved = Tensor::from_vec(v, leaf.shape().clone(), leaf.device())?;
                let args: Vec<Tensor> = leaves
                    .iter()
                    .enumerate()
                    .map(|(i, t)| if i == k { moved.clone() } else { t.detach() })
                    .collect();
                no_grad(|| contract(&f(&args)?, &w))
            };
            // the actual step after rounding x ± h to f32
            let hp = (base[j] + cfg.h) - base[j];
            let hm = base[j] - (base[j] - cfg.h);
            let numeric = (eval(hp)? - eval(-hm)?) / (hp as f64 + hm as f64);
            let a = analytic[j] as f64;
            let err = (a - numeric).abs();
            report.max_abs_err = report.max_abs_err.max(err);
            report.checked += 1;
            if err > cfg.atol + cfg.rtol * numeric.abs() + noise && failures.len() < 5 {
                failures.push(format!(
                    "input {k} element {j}: analytic {a:.6}, numeric {numeric:.6}"
                ));
            }
        }
    }
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(Error::Numeric(format!(
            "gradient check failed: {}",
            failures.join("; ")
        )))
    }
}
