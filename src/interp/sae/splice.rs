//! Putting an SAE back into the model: a forward hook on the layer replaces its output by the
//! SAE's reconstruction — of the code as it is, of an edited code, or by an ablation.
//!
//! With the **error term** the hook returns `x̂(h') + (x − x̂(h))`: the part of x the SAE does
//! not explain is added back, so with no edit the model computes exactly what it computed
//! before (up to f32 rounding) and any change of the output is the edit's (as SAELens does).
//! Without it, the model runs on the SAE's reconstruction alone, and its output also moves by
//! whatever the SAE fails to reconstruct.
//!
//! Every function here removes its hook before returning, whatever happened.

use super::Sae;
use crate::autograd::no_grad;
use crate::data::{BiasedMnist, Paint, Split};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::{get_submodule, Module};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// An edit of the code h [N, M], applied to every sample of the batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Leave the code as it is.
    None,
    /// hⱼ ← factor · hⱼ (×3 amplifies, ×0 suppresses).
    Scale { feature: usize, factor: f32 },
    /// h_{features[i]} ← values[i].
    Set {
        features: Vec<usize>,
        values: Vec<f32>,
    },
}

impl Edit {
    /// Apply to a host copy of the code, rows of `m`.
    fn apply(&self, h: &mut [f32], m: usize) -> Result<()> {
        let check = |j: usize| {
            if j < m {
                Ok(())
            } else {
                Err(Error::Invalid(format!(
                    "feature {j} does not exist: the SAE has {m} features"
                )))
            }
        };
        match self {
            Edit::None => {}
            Edit::Scale { feature, factor } => {
                check(*feature)?;
                for row in h.chunks_mut(m) {
                    row[*feature] *= factor;
                }
            }
            Edit::Set { features, values } => {
                if features.len() != values.len() {
                    return Err(Error::Invalid(
                        "an Edit::Set needs one value per feature".into(),
                    ));
                }
                for &j in features {
                    check(j)?;
                }
                for row in h.chunks_mut(m) {
                    for (&j, &v) in features.iter().zip(values) {
                        row[j] = v;
                    }
                }
            }
        }
        Ok(())
    }
}

/// What the hook puts in place of the layer's output.
#[derive(Clone, Debug)]
pub enum Splice {
    /// The SAE's reconstruction x̂ = decode(encode(x)).
    Reconstruction,
    /// decode(edit(encode(x))), plus the error term x − x̂ when `error_term`.
    Edited { edit: Edit, error_term: bool },
    /// Zeros (zero-ablation: the layer carries nothing).
    Zero,
    /// Every sample's output replaced by this [D] vector (mean-ablation with the train mean).
    Constant(Tensor),
}

/// What the hook computes for one layer output `out` [N, …] (flattened to [N, D] for the SAE).
fn replace(sae: &Sae, splice: &Splice, out: &Tensor) -> Result<Tensor> {
    let n = out.dim(0);
    let d = out.numel() / n.max(1);
    if d != sae.d_in() {
        return Err(Error::Invalid(format!(
            "the SAE reads {} units but the layer has {d}",
            sae.d_in()
        )));
    }
    let x = out.reshape([n, d])?;
    let y = match splice {
        Splice::Reconstruction => sae.decode(&sae.encode(&x)?)?,
        Splice::Edited { edit, error_term } => {
            let h = sae.encode(&x)?;
            let m = sae.width();
            let mut v = h.to_vec()?;
            edit.apply(&mut v, m)?;
            let edited = sae.decode(&Tensor::from_vec(v, [n, m], x.device())?)?;
            if *error_term {
                edited.add(&x.sub(&sae.decode(&h)?)?)?
            } else {
                edited
            }
        }
        Splice::Zero => x.zeros_like()?,
        Splice::Constant(c) => x.zeros_like()?.add(c)?,
    };
    y.reshape(out.shape().clone())
}

/// Run `f` with `layer`'s output replaced as `splice` says; the hook is removed afterwards.
pub fn with_splice<T>(
    model: &dyn Module,
    layer: &str,
    sae: &Arc<Sae>,
    splice: Splice,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let target = get_submodule(model, layer)?;
    let s = sae.clone();
    let _guard = RemoveOnDrop(
        target
            .hooks()
            .add(move |_, out| replace(&s, &splice, out).map(Some)),
    );
    f()
}

/// Removes its hook when dropped: on return, on error, and while unwinding from a panic, so a
/// spliced model is never left behind.
struct RemoveOnDrop(crate::autograd::HookHandle);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        self.0.remove();
    }
}

/// Class probabilities of `x` with the splice in place (one row per image).
pub fn spliced_probabilities(
    model: &dyn Module,
    layer: &str,
    sae: &Arc<Sae>,
    splice: Splice,
    x: &Tensor,
) -> Result<Vec<Vec<f32>>> {
    with_splice(model, layer, sae, splice, || {
        crate::interp::attack::probabilities(model, x)
    })
}

/// Accuracy (%) and mean cross-entropy of the model on a split, one variant of the layer.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Score {
    pub accuracy: f64,
    pub cross_entropy: f64,
}

/// The model with its layer replaced by the SAE, against the clean model and two ablations.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SplicedScores {
    pub split: String,
    pub samples: usize,
    pub clean: Score,
    /// The SAE's reconstruction in place of the layer (no error term).
    pub sae: Score,
    pub zero_ablation: Score,
    /// Every output replaced by its mean over the SAE's training activations.
    pub mean_ablation: Score,
    /// (SAE − zero) / (clean − zero) accuracy: the share of what the layer contributes that the
    /// SAE keeps (1 = all; NaN when zero-ablation costs nothing).
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub accuracy_recovered: f64,
    /// The same with cross-entropy (SAELens's "CE loss recovered").
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub ce_recovered: f64,
}

fn score(
    model: &dyn Module,
    data: &BiasedMnist,
    split: Split,
    n: usize,
    device: Device,
) -> Result<Score> {
    let idx: Vec<usize> = (0..n).collect();
    let (mut right, mut ce) = (0usize, 0f64);
    no_grad(|| -> Result<()> {
        for chunk in idx.chunks(crate::measure::eval::EVAL_BATCH) {
            let (x, y) = data.batch(split, 0, chunk, Paint::DRAWN, device)?;
            let logits = model.forward(&x)?;
            ce += logits.cross_entropy(&y)?.sum_all()?.to_scalar()? as f64;
            right += crate::measure::eval::predictions(&logits)?
                .iter()
                .zip(&y)
                .filter(|(p, t)| p == t)
                .count();
        }
        Ok(())
    })?;
    Ok(Score {
        accuracy: 100.0 * right as f64 / n.max(1) as f64,
        cross_entropy: ce / n.max(1) as f64,
    })
}

/// Spliced-in accuracy and cross-entropy on the first `n` samples of `split`, with `mean` the
/// layer's mean output [D] for the mean-ablation.
#[allow(clippy::too_many_arguments)]
pub fn spliced_scores(
    model: &dyn Module,
    layer: &str,
    sae: &Arc<Sae>,
    mean: &Tensor,
    data: &BiasedMnist,
    split: Split,
    n: usize,
    device: Device,
) -> Result<SplicedScores> {
    let run = |s: Option<Splice>| -> Result<Score> {
        match s {
            None => score(model, data, split, n, device),
            Some(s) => with_splice(model, layer, sae, s, || {
                score(model, data, split, n, device)
            }),
        }
    };
    let clean = run(None)?;
    let spliced = run(Some(Splice::Reconstruction))?;
    let zero = run(Some(Splice::Zero))?;
    let mean_ab = run(Some(Splice::Constant(mean.clone())))?;
    let frac = |c: f64, s: f64, z: f64| {
        if (c - z).abs() > 1e-12 {
            (s - z) / (c - z)
        } else {
            f64::NAN
        }
    };
    Ok(SplicedScores {
        split: split.name().to_string(),
        samples: n,
        accuracy_recovered: frac(clean.accuracy, spliced.accuracy, zero.accuracy),
        ce_recovered: frac(
            clean.cross_entropy,
            spliced.cross_entropy,
            zero.cross_entropy,
        ),
        clean,
        sae: spliced,
        zero_ablation: zero,
        mean_ablation: mean_ab,
    })
}
