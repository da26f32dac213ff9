//! The training step: what one batch costs. [`super::fit`] runs a step on every batch, then
//! backward and the optimizer; a method changes the step, not the loop.
//!
//! | step | loss on a batch (x, y) |
//! | --- | --- |
//! | [`CrossEntropyStep`] | CE(f(x), y) |
//! | [`FocalStep`] | mean (1 − p_t)^γ · CE (Lin et al. 2017) |
//! | [`ConsistencyStep`] | CE(f(x), y) + CE(f(x̃), y) + λ · ½(KL(p‖q) + KL(q‖p)), x̃ = jitter(x), p = softmax f(x), q = softmax f(x̃) |
//! | [`super::lff::LffStep`] | mean GCE_q(f_b(x), y) + mean w ⊙ CE(f(x), y): a biased model f_b beside f, w from both models' loss averages |

use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::loss;
use crate::nn::Module;
use crate::ops::color_jitter::ColorJitter;
use crate::tensor::Tensor;
use serde_json::json;

/// One training batch, as the frame hands it to a step.
pub struct Batch<'a> {
    /// Painted images [B, 3, 28, 28] on the training device.
    pub x: Tensor,
    /// Their labels.
    pub y: &'a [usize],
    /// Their sample indices in the train split (per-sample draws such as the jitter use them).
    pub indices: &'a [usize],
    /// The epoch (0-based) and the run's seed.
    pub epoch: usize,
    pub seed: u64,
}

/// What a step returns: the loss to differentiate, and the logits of the batch's original
/// images (the frame counts their accuracy on the device).
pub struct StepLoss {
    pub loss: Tensor,
    pub logits: Tensor,
}

/// One way of turning a batch into a loss.
pub trait Step: Send + Sync {
    /// Short name, recorded in `metrics.json` and error messages.
    fn name(&self) -> &'static str;
    /// The step's hyper-parameters, recorded in `metrics.json`.
    fn hyper(&self) -> serde_json::Value;
    /// Forward pass(es) and loss for one batch.
    fn loss(&self, model: &dyn Module, batch: &Batch) -> Result<StepLoss>;

    /// Parameters the step trains besides the model's (Learning from Failure's biased model):
    /// the frame's optimizer updates them with the model's.
    fn extra_parameters(&self) -> Vec<Tensor> {
        Vec::new()
    }

    /// What the step carries from batch to batch (weights of a second model, running
    /// averages), by name, for the resume file; empty for a stateless step.
    fn state(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }

    /// Restore what [`Step::state`] saved.
    fn restore(&self, _state: &std::collections::HashMap<String, Tensor>) -> Result<()> {
        Ok(())
    }
}

/// Plain cross-entropy.
pub struct CrossEntropyStep;

impl Step for CrossEntropyStep {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }
    fn hyper(&self) -> serde_json::Value {
        json!({})
    }
    fn loss(&self, model: &dyn Module, batch: &Batch) -> Result<StepLoss> {
        let logits = model.forward(&batch.x)?;
        let loss = loss::cross_entropy(&logits, batch.y)?;
        Ok(StepLoss { loss, logits })
    }
}

/// Focal loss with focusing parameter γ (γ = 0 is cross-entropy).
pub struct FocalStep {
    pub gamma: f32,
}

impl Step for FocalStep {
    fn name(&self) -> &'static str {
        "focal"
    }
    fn hyper(&self) -> serde_json::Value {
        json!({ "gamma": self.gamma })
    }
    fn loss(&self, model: &dyn Module, batch: &Batch) -> Result<StepLoss> {
        let logits = model.forward(&batch.x)?;
        let loss = loss::focal_loss(&logits, batch.y, self.gamma)?;
        Ok(StepLoss { loss, logits })
    }
}

/// Colour consistency (SPEC Task 4.1): the original and a colour-jittered view of every image,
/// both classified, and their predictions pulled together by a symmetric KL term.
///
/// The two views go through the model as two forward passes of B images. (One pass over the
/// 2B images concatenated gives the same numbers — no layer mixes images — but on the CPU it was
/// slower: LazyCNN's 128-image activations fall out of cache; `examples/consistency_cost.rs`
/// measures the step at 2.1 × a plain one, the jitter included.)
pub struct ConsistencyStep {
    /// Weight of the symmetric KL term (SPEC: 5).
    pub lambda: f32,
    pub jitter: ColorJitter,
}

impl ConsistencyStep {
    /// The combined loss of the two views' logits (exposed for the gradient test).
    pub fn combined_loss(
        &self,
        original: &Tensor,
        jittered: &Tensor,
        y: &[usize],
    ) -> Result<Tensor> {
        let kl = loss::symmetric_kl_logits(original, jittered)?;
        loss::cross_entropy(original, y)?
            .add(&loss::cross_entropy(jittered, y)?)?
            .add(&kl.mul_scalar(self.lambda)?)
    }
}

impl Step for ConsistencyStep {
    fn name(&self) -> &'static str {
        "consistency"
    }
    fn hyper(&self) -> serde_json::Value {
        json!({ "lambda": self.lambda, "jitter": self.jitter })
    }
    fn loss(&self, model: &dyn Module, batch: &Batch) -> Result<StepLoss> {
        let b = batch.y.len();
        if batch.x.dims().first() != Some(&b) {
            return Err(Error::Invalid(
                "consistency step: the batch's images and labels differ in number".into(),
            ));
        }
        let key = ColorJitter::key(batch.seed, batch.epoch);
        let jittered = no_grad(|| batch.x.color_jitter(&self.jitter, key, batch.indices))?;
        let original = model.forward(&batch.x)?;
        let second = model.forward(&jittered)?;
        let loss = self.combined_loss(&original, &second, batch.y)?;
        Ok(StepLoss {
            loss,
            logits: original,
        })
    }
}
