//! The bookkeeping of Learning from Failure (Nam et al. 2020; `train.py` and `util.py` of
//! alinlab/LfF): how much the debiased model should learn from each training sample.
//!
//! LfF trains two models side by side on the same batches. The *biased* one learns with
//! generalized cross-entropy ([`crate::loss::lff_gce`]), which makes it lean into the easiest
//! signal; the *debiased* one learns with cross-entropy weighted per sample by
//!
//! ```text
//! w(i) = b̂(i) / (b̂(i) + d̂(i) + 1e-8),   b̂(i) = B(i) / max_{j: y_j = y_i} B(j)   (d̂ likewise)
//! ```
//!
//! where B and D are each model's cross-entropy on sample i, smoothed over the epochs by an
//! exponential moving average ([`SampleLossEma`]), and normalized by the largest smoothed loss of
//! the sample's class. A sample the biased model finds hard (a digit in another colour than its
//! class's usual one) gets a weight near 1; one it finds easy gets a weight near 0.
//!
//! Faithful to the original code in three details a reader might not expect: a sample's first
//! update sets its average to the loss itself (not α·0 + (1 − α)·loss); the class maximum runs
//! over *every* training sample of the class, those not yet seen included (their average is
//! still 0); and the averages are updated with the batch's losses *before* the weights are
//! computed from them.

use super::step::{Batch, Step, StepLoss};
use crate::autograd::no_grad;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::rng::{streams, Rng};
use crate::tensor::Tensor;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

/// LfF's smoothing factor for the per-sample loss averages.
pub const LFF_EMA_ALPHA: f32 = 0.7;
/// LfF's q of the biased model's generalized cross-entropy.
pub const LFF_Q: f32 = 0.7;

/// A per-sample exponential moving average of a model's training loss.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleLossEma {
    alpha: f32,
    /// The class of every training sample, and the samples of each class (the class-wise
    /// maximum, taken every step, reads only its class's samples).
    labels: Vec<usize>,
    members: Vec<Vec<usize>>,
    /// The average of each sample, 0 until its first update.
    value: Vec<f32>,
    updated: Vec<bool>,
}

impl SampleLossEma {
    /// Averages for the training samples of classes `labels`, smoothing factor `alpha` in [0, 1).
    pub fn new(labels: Vec<usize>, alpha: f32) -> Result<SampleLossEma> {
        if !(0.0..1.0).contains(&alpha) {
            return Err(Error::Invalid(format!(
                "LfF: the loss average's alpha must be in [0, 1), got {alpha}"
            )));
        }
        let n = labels.len();
        let mut members = vec![Vec::new(); labels.iter().max().map_or(0, |&m| m + 1)];
        for (i, &c) in labels.iter().enumerate() {
            members[c].push(i);
        }
        Ok(SampleLossEma {
            alpha,
            labels,
            members,
            value: vec![0.0; n],
            updated: vec![false; n],
        })
    }

    /// Fold the batch's losses into the averages of samples `indices`:
    /// first time `v ← loss`, after that `v ← α·v + (1 − α)·loss`.
    pub fn update(&mut self, indices: &[usize], losses: &[f32]) -> Result<()> {
        if indices.len() != losses.len() {
            return Err(Error::Invalid(format!(
                "LfF: {} sample indices but {} losses",
                indices.len(),
                losses.len()
            )));
        }
        let n = self.value.len();
        for (&i, &loss) in indices.iter().zip(losses) {
            if i >= n {
                return Err(Error::Invalid(format!(
                    "LfF: sample {i} out of range ({n} training samples)"
                )));
            }
            self.value[i] = if self.updated[i] {
                self.alpha * self.value[i] + (1.0 - self.alpha) * loss
            } else {
                loss
            };
            self.updated[i] = true;
        }
        Ok(())
    }

    /// The average of sample `i`.
    pub fn value(&self, i: usize) -> f32 {
        self.value[i]
    }

    /// Every average, and which samples have one (1) or not yet (0), as tensors on `device`
    /// (for the resume file).
    pub fn to_tensors(&self, device: Device) -> Result<(Tensor, Tensor)> {
        let n = self.value.len();
        let updated = self.updated.iter().map(|&u| u as u8 as f32).collect();
        Ok((
            Tensor::from_vec(self.value.clone(), [n], device)?,
            Tensor::from_vec(updated, [n], device)?,
        ))
    }

    /// Restore what [`SampleLossEma::to_tensors`] gave.
    pub fn load_tensors(&mut self, value: &Tensor, updated: &Tensor) -> Result<()> {
        let (v, u) = (value.to_vec()?, updated.to_vec()?);
        if v.len() != self.value.len() || u.len() != self.value.len() {
            return Err(Error::Invalid(format!(
                "LfF: saved loss averages of {} samples, this run has {}",
                v.len(),
                self.value.len()
            )));
        }
        self.value = v;
        self.updated = u.iter().map(|&x| x != 0.0).collect();
        Ok(())
    }

    /// The largest average among the training samples of class `class` (0 if none).
    pub fn class_max(&self, class: usize) -> f32 {
        self.members.get(class).map_or(0.0, |m| {
            m.iter().map(|&i| self.value[i]).fold(0.0, f32::max)
        })
    }

    /// The averages of samples `indices`, each divided by its class's largest average. A class
    /// whose averages are all 0 (every loss underflowed to 0: learnt perfectly) gives 0, where
    /// the original code would divide 0 by 0 and stop on a NaN.
    pub fn normalized(&self, indices: &[usize]) -> Vec<f32> {
        let mut max = std::collections::HashMap::new();
        indices
            .iter()
            .map(|&i| {
                let c = self.labels[i];
                let m = *max.entry(c).or_insert_with(|| self.class_max(c));
                if m > 0.0 {
                    self.value[i] / m
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// LfF's per-sample weights of the debiased model's cross-entropy for samples `indices`:
/// b̂ / (b̂ + d̂ + 1e-8), from the biased model's averages `biased` and the debiased model's
/// `debiased` (both already updated with this batch).
pub fn lff_weights(
    biased: &SampleLossEma,
    debiased: &SampleLossEma,
    indices: &[usize],
) -> Vec<f32> {
    let b = biased.normalized(indices);
    let d = debiased.normalized(indices);
    b.iter().zip(&d).map(|(b, d)| b / (b + d + 1e-8)).collect()
}

/// Learning from Failure as a training step: the frame's model is the *debiased* one; the step
/// owns the *biased* model (same architecture, initialized from its own stream) and both
/// models' loss averages. Per batch:
///
/// ```text
/// B, D   = per-sample CE of the biased and the debiased model (values only)
/// update both averages with B and D, then w = LfF's weights (see the module's doc)
/// loss   = lff_gce(f_b(x), y, q) + mean(w ⊙ CE(f_d(x), y))
/// ```
///
/// One backward pass of that sum gives each model its own gradient (no term mixes them, since
/// w is a constant), and the frame's Adam, built over both models' parameters, steps both —
/// as LfF's two Adams with the same settings do (Adam keeps its state per parameter).
pub struct LffStep {
    pub q: f32,
    biased: Box<dyn Module>,
    /// The biased model's and the debiased model's loss averages.
    averages: Mutex<(SampleLossEma, SampleLossEma)>,
}

impl LffStep {
    /// The step for a run of `kind` with `seed` on `device`, over training samples of classes
    /// `labels` (the train split, as far as the run reads it).
    pub fn new(
        kind: ModelKind,
        seed: u64,
        device: Device,
        labels: Vec<usize>,
        q: f32,
    ) -> Result<LffStep> {
        let biased = kind.build_with(&mut Rng::new(seed, streams::LFF_BIASED_INIT), device)?;
        Ok(LffStep {
            q,
            biased,
            averages: Mutex::new((
                SampleLossEma::new(labels.clone(), LFF_EMA_ALPHA)?,
                SampleLossEma::new(labels, LFF_EMA_ALPHA)?,
            )),
        })
    }

    /// The biased model.
    pub fn biased(&self) -> &dyn Module {
        self.biased.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (SampleLossEma, SampleLossEma)> {
        self.averages.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Step for LffStep {
    fn name(&self) -> &'static str {
        "lff"
    }
    fn hyper(&self) -> serde_json::Value {
        json!({ "q": self.q, "alpha": LFF_EMA_ALPHA })
    }
    fn loss(&self, model: &dyn Module, batch: &Batch) -> Result<StepLoss> {
        let logits_b = self.biased.forward(&batch.x)?;
        let logits_d = model.forward(&batch.x)?;
        let ce_d = logits_d.cross_entropy(batch.y)?;
        let (loss_b, loss_d) = no_grad(|| -> Result<(Vec<f32>, Vec<f32>)> {
            Ok((
                logits_b.detach().cross_entropy(batch.y)?.to_vec()?,
                ce_d.detach().to_vec()?,
            ))
        })?;
        let weights = {
            let mut avg = self.lock();
            avg.0.update(batch.indices, &loss_b)?;
            avg.1.update(batch.indices, &loss_d)?;
            lff_weights(&avg.0, &avg.1, batch.indices)
        };
        let w = Tensor::from_vec(weights, [batch.y.len()], batch.x.device())?;
        let loss =
            crate::loss::lff_gce(&logits_b, batch.y, self.q)?.add(&ce_d.mul(&w)?.mean_all()?)?;
        Ok(StepLoss {
            loss,
            logits: logits_d,
        })
    }
    fn extra_parameters(&self) -> Vec<Tensor> {
        self.biased.parameters()
    }
    fn state(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out: Vec<(String, Tensor)> = self
            .biased
            .state_dict()
            .into_iter()
            .map(|(n, t)| (format!("biased.{n}"), t))
            .collect();
        let device = out.first().map_or(Device::Cpu, |(_, t)| t.device());
        let avg = self.lock();
        for (name, e) in [("biased", &avg.0), ("debiased", &avg.1)] {
            let (v, u) = e.to_tensors(device)?;
            out.push((format!("ema.{name}.value"), v));
            out.push((format!("ema.{name}.updated"), u));
        }
        Ok(out)
    }
    fn restore(&self, state: &HashMap<String, Tensor>) -> Result<()> {
        let weights: HashMap<String, Tensor> = state
            .iter()
            .filter_map(|(n, t)| {
                n.strip_prefix("biased.")
                    .map(|s| (s.to_string(), t.clone()))
            })
            .collect();
        self.biased.load_state_dict(&weights)?;
        let get = |k: &str| {
            state
                .get(k)
                .ok_or_else(|| Error::Invalid(format!("LfF: the resume file has no {k}")))
        };
        let mut avg = self.lock();
        avg.0
            .load_tensors(get("ema.biased.value")?, get("ema.biased.updated")?)?;
        avg.1
            .load_tensors(get("ema.debiased.value")?, get("ema.debiased.updated")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four training samples, classes [0, 0, 1, 1]; two batches worked by hand.
    #[test]
    fn the_averages_and_weights_match_a_hand_computed_case() {
        let labels = vec![0, 0, 1, 1];
        let mut b = SampleLossEma::new(labels.clone(), 0.7).unwrap();
        let mut d = SampleLossEma::new(labels, 0.7).unwrap();
        // Batch 1: samples 0 and 2. First updates take the loss itself.
        b.update(&[0, 2], &[2.0, 0.5]).unwrap();
        d.update(&[0, 2], &[1.0, 1.5]).unwrap();
        assert_eq!((b.value(0), b.value(2)), (2.0, 0.5));
        // Class maxima: class 0 = max(2, 0 unseen) = 2; class 1 = max(0.5, 0) = 0.5.
        // b̂ = [2/2, 0.5/0.5] = [1, 1]; d̂ = [1/1, 1.5/1.5] = [1, 1]; w = 1/(2 + 1e-8) ≈ ½.
        let w = lff_weights(&b, &d, &[0, 2]);
        assert!(
            (w[0] - 0.5).abs() < 1e-6 && (w[1] - 0.5).abs() < 1e-6,
            "{w:?}"
        );
        // Batch 2: samples 0, 1, 3. Sample 0 again: 0.7·2 + 0.3·1 = 1.7; 1 and 3 first time.
        b.update(&[0, 1, 3], &[1.0, 4.0, 0.25]).unwrap();
        d.update(&[0, 1, 3], &[1.0, 0.5, 3.0]).unwrap();
        assert!((b.value(0) - 1.7).abs() < 1e-6);
        assert!((d.value(0) - 1.0).abs() < 1e-6); // 0.7·1 + 0.3·1
                                                  // biased: class 0 max = max(1.7, 4) = 4, class 1 max = max(0.5, 0.25) = 0.5
                                                  //   b̂ = [1.7/4, 4/4, 0.25/0.5] = [0.425, 1, 0.5]
                                                  // debiased: class 0 max = max(1, 0.5) = 1, class 1 max = max(1.5, 3) = 3
                                                  //   d̂ = [1/1, 0.5/1, 3/3] = [1, 0.5, 1]
                                                  // w = [0.425/1.425, 1/1.5, 0.5/1.5]
        let w = lff_weights(&b, &d, &[0, 1, 3]);
        let want = [0.425 / 1.425, 1.0 / 1.5, 0.5 / 1.5];
        for (got, want) in w.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn a_class_with_all_zero_losses_weighs_zero_not_nan() {
        let mut b = SampleLossEma::new(vec![0, 1], 0.7).unwrap();
        let mut d = SampleLossEma::new(vec![0, 1], 0.7).unwrap();
        b.update(&[0, 1], &[0.0, 1.0]).unwrap();
        d.update(&[0, 1], &[0.0, 1.0]).unwrap();
        assert_eq!(lff_weights(&b, &d, &[0, 1]), vec![0.0, 0.5]);
    }

    #[test]
    fn bad_settings_and_indices_are_errors() {
        assert!(SampleLossEma::new(vec![0], 1.0).is_err());
        assert!(SampleLossEma::new(vec![0], -0.1).is_err());
        assert!(SampleLossEma::new(vec![0], f32::NAN).is_err());
        let mut e = SampleLossEma::new(vec![0, 1], 0.7).unwrap();
        assert!(e.update(&[2], &[1.0]).is_err());
        assert!(e.update(&[0, 1], &[1.0]).is_err());
    }
}
