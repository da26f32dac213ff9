//! Loss functions, all differentiable (composed from primitives, so their gradients come from
//! the primitives' backward rules).
//!
//! | loss | definition |
//! | --- | --- |
//! | [`cross_entropy`] | mean over the batch of −log softmax(x)[t] |
//! | [`focal_loss`] | mean of (1 − p_t)^γ · CE, p_t = softmax(x)[t] = e^(−CE) |
//! | [`generalized_cross_entropy`] | mean of (1 − p_t^q) / q (Zhang & Sabuncu 2018) |
//! | [`lff_gce`] | LfF's form of it: CE per sample × q·p_t^q, the weight detached (same direction, see there) |
//! | [`kl_div_logits`] | KL(p‖q) = Σ_c p_c (log p_c − log q_c), summed over classes, mean over the batch |
//! | [`symmetric_kl_logits`] | ½ (KL(p‖q) + KL(q‖p)) |
//! | [`mse`] | mean of (a − b)² over all elements |
//! | [`l1`] | mean of \|a − b\| over all elements |

use crate::error::{Error, Result};
use crate::optim::non_negative;
use crate::tensor::Tensor;

/// Mean cross-entropy of logits [N, C] against class indices.
pub fn cross_entropy(logits: &Tensor, targets: &[usize]) -> Result<Tensor> {
    logits.cross_entropy(targets)?.mean_all()
}

/// Focal loss (Lin et al. 2017) with focusing parameter γ ≥ 0: down-weights samples the model
/// already gets right. γ = 0 is plain cross-entropy. The gradient flows through p_t too, as in
/// the usual PyTorch implementation `((1 - exp(-ce)) ** γ * ce).mean()`.
pub fn focal_loss(logits: &Tensor, targets: &[usize], gamma: f32) -> Result<Tensor> {
    if !non_negative(gamma) {
        return Err(Error::Invalid(format!(
            "focal_loss: gamma must be ≥ 0, got {gamma}"
        )));
    }
    let ce = logits.cross_entropy(targets)?;
    // 1 − p_t, clamped to [0, 1] because rounding can make CE a hair below 0.
    let one_minus_pt = ce
        .neg()?
        .exp()?
        .mul_scalar(-1.0)?
        .add_scalar(1.0)?
        .clamp(0.0, 1.0)?;
    one_minus_pt.pow_scalar(gamma)?.mul(&ce)?.mean_all()
}

/// Generalized cross-entropy (Zhang & Sabuncu 2018) with 0 < q ≤ 1: the mean over the batch
/// of (1 − p_t^q) / q, p_t = softmax(x)[t]. It tends to cross-entropy as q → 0 and to the
/// bounded 1 − p_t at q = 1. Its gradient is p_t^q · ∇CE: samples the model already finds easy
/// (large p_t) pull harder, which is why Learning from Failure trains its *biased* model with
/// it — the model leans further into whatever is easiest (the colour).
///
/// Computed as (1 − e^(−q·CE)) / q, since p_t^q = e^(−q·CE), from the per-sample
/// cross-entropy primitive, so its gradient is the primitives'.
pub fn generalized_cross_entropy(logits: &Tensor, targets: &[usize], q: f32) -> Result<Tensor> {
    check_q(q)?;
    let ce = logits.cross_entropy(targets)?;
    ce.mul_scalar(-q)?
        .exp()?
        .mul_scalar(-1.0)?
        .add_scalar(1.0)?
        .mul_scalar(1.0 / q)?
        .mean_all()
}

/// Generalized cross-entropy as the Learning from Failure code writes it
/// (`module/loss.py` of alinlab/LfF): per sample CE · (q · p_t^q) with the weight **detached**,
/// averaged over the batch. Its value is not the GCE, but its gradient is q · p_t^q · ∇CE =
/// q times [`generalized_cross_entropy`]'s: the same direction, a step q times as long (with
/// Adam, whose steps do not scale with the gradient, nearly the same training). Kept so that
/// the LfF protocol can be reproduced exactly.
pub fn lff_gce(logits: &Tensor, targets: &[usize], q: f32) -> Result<Tensor> {
    check_q(q)?;
    let ce = logits.cross_entropy(targets)?;
    let weight = ce.detach().mul_scalar(-q)?.exp()?.mul_scalar(q)?;
    ce.mul(&weight)?.mean_all()
}

/// GCE's q must be in (0, 1].
fn check_q(q: f32) -> Result<()> {
    if !(q > 0.0 && q <= 1.0) {
        return Err(Error::Invalid(format!(
            "generalized cross-entropy: q must be in (0, 1], got {q}"
        )));
    }
    Ok(())
}

fn check_pair(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::shape(
            op,
            format!("operands have shapes {} and {}", a.shape(), b.shape()),
        ));
    }
    Ok(())
}

/// KL(p‖q) for two batches of logits [N, C] (p = softmax(p_logits), q = softmax(q_logits)):
/// Σ_c p_c (log p_c − log q_c) per sample, mean over the batch (PyTorch's `batchmean`).
pub fn kl_div_logits(p_logits: &Tensor, q_logits: &Tensor) -> Result<Tensor> {
    check_pair("kl_div_logits", p_logits, q_logits)?;
    if p_logits.rank() != 2 {
        return Err(Error::shape_expected(
            "kl_div_logits",
            "logits [N, C]",
            p_logits.shape(),
        ));
    }
    let log_p = p_logits.log_softmax()?;
    let log_q = q_logits.log_softmax()?;
    let per_sample = log_p.exp()?.mul(&log_p.sub(&log_q)?)?.sum(1, false)?;
    per_sample.mean_all()
}

/// The symmetric KL divergence ½ (KL(p‖q) + KL(q‖p)) used by the colour-consistency loss.
pub fn symmetric_kl_logits(p_logits: &Tensor, q_logits: &Tensor) -> Result<Tensor> {
    kl_div_logits(p_logits, q_logits)?
        .add(&kl_div_logits(q_logits, p_logits)?)?
        .mul_scalar(0.5)
}

/// Mean squared error over all elements.
pub fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    check_pair("mse", a, b)?;
    a.sub(b)?.sqr()?.mean_all()
}

/// Mean absolute error over all elements.
pub fn l1(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    check_pair("l1", a, b)?;
    a.sub(b)?.abs()?.mean_all()
}
