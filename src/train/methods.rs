//! The debiasing methods of SPEC Task 4, each with the SPEC's hyper-parameters as defaults.
//!
//! | method | step | extra | epochs | Adam lr | report (hard test) |
//! | --- | --- | --- | --- | --- | --- |
//! | `plain` | cross-entropy | — | 10 (LazyCNN), 20 (ShapeCNN) | 1e-3 | 17.8 % (Lazy), 95.84 % (Shape) |
//! | `consistency` | CE on both views + λ·symmetric KL, λ = 5 | colour jitter | 25 | 1e-3 | 91.35 % |
//! | `focal` | focal loss, γ = 2 | — | 30 | 5e-4 | 21.24 % |
//! | `suppress` | cross-entropy | forward hook: colour channels × 0.3, shape × 3.0 | 15 | 1e-3 | 35.78 % |
//! | `lff` | Learning from Failure (Nam et al. 2020): a biased model on GCE, q = 0.7, beside the model, whose CE is weighted per sample | loss averages, α = 0.7 | as `plain` | 1e-3 | — (not in the report) |
//!
//! Every method fits both CNNs (the method × architecture table of the study); the MLP
//! (`ModelKind::Mlp`) takes every method but `suppress`, which scales a convolution's channels.

use super::lff::{LffStep, LFF_Q};
use super::step::{ConsistencyStep, CrossEntropyStep, FocalStep, Step};
use super::suppression::check_factor;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::ops::color_jitter::ColorJitter;
use serde::{Deserialize, Serialize};

/// A training method and its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Method {
    Plain,
    Consistency { lambda: f32, jitter: ColorJitter },
    Focal { gamma: f32 },
    Suppress { suppress: f32, amplify: f32 },
    Lff { q: f32 },
}

/// The method names the CLI accepts.
pub const METHOD_NAMES: [&str; 5] = ["plain", "consistency", "focal", "suppress", "lff"];

/// What a step may need to know of its run (Learning from Failure builds a second model and
/// keeps an average per training sample).
pub struct StepContext {
    pub kind: ModelKind,
    pub seed: u64,
    pub device: Device,
    /// The classes of the training samples the run reads, in order.
    pub train_labels: Vec<usize>,
}

impl Method {
    /// The method `name` with the SPEC's hyper-parameters.
    pub fn with_defaults(name: &str) -> Result<Method> {
        Ok(match name {
            "plain" => Method::Plain,
            "consistency" => Method::Consistency {
                lambda: 5.0,
                jitter: ColorJitter::default(),
            },
            "focal" => Method::Focal { gamma: 2.0 },
            "suppress" => Method::Suppress {
                suppress: 0.3,
                amplify: 3.0,
            },
            "lff" => Method::Lff { q: LFF_Q },
            other => {
                return Err(Error::Invalid(format!(
                    "unknown method '{other}': expected one of {}",
                    METHOD_NAMES.join(", ")
                )))
            }
        })
    }

    /// `plain`, `consistency`, `focal` or `suppress`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Plain => "plain",
            Method::Consistency { .. } => "consistency",
            Method::Focal { .. } => "focal",
            Method::Suppress { .. } => "suppress",
            Method::Lff { .. } => "lff",
        }
    }

    /// SPEC's epochs for this method on `model`.
    pub fn default_epochs(&self, model: ModelKind) -> usize {
        match (self, model) {
            (Method::Plain, ModelKind::Lazy | ModelKind::Attention) => 10,
            (Method::Plain, ModelKind::Shape) => 20,
            // Not a SPEC model: Learning from Failure's protocol trains its MLP 100 epochs.
            (Method::Plain, ModelKind::Mlp) => 100,
            (Method::Consistency { .. }, _) => 25,
            (Method::Focal { .. }, _) => 30,
            (Method::Suppress { .. }, _) => 15,
            (Method::Lff { .. }, m) => Method::Plain.default_epochs(m),
        }
    }

    /// SPEC's Adam learning rate for this method.
    pub fn default_lr(&self) -> f32 {
        match self {
            Method::Focal { .. } => 5e-4,
            _ => 1e-3,
        }
    }

    /// The report's hard-test accuracy (%) for this method on `model`, where it gave one.
    pub fn reference_hard_acc(&self, model: ModelKind) -> Option<f64> {
        match (self, model) {
            (Method::Plain, ModelKind::Lazy) => Some(17.8),
            (Method::Plain, ModelKind::Shape) => Some(95.84),
            (Method::Consistency { .. }, ModelKind::Lazy) => Some(91.35),
            (Method::Focal { .. }, ModelKind::Lazy) => Some(21.24),
            (Method::Suppress { .. }, ModelKind::Lazy) => Some(35.78),
            _ => None,
        }
    }

    /// Can this method train `model`? Neuron suppression scales a convolution's channels, and
    /// the MLP has none.
    pub fn check_model(&self, model: ModelKind) -> Result<()> {
        match (self, model) {
            (Method::Suppress { .. }, ModelKind::Mlp) => Err(Error::Invalid(
                "--method suppress scales the channels of the last convolution, and the MLP has no convolution: choose plain, consistency or focal".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Check the hyper-parameters a user can get wrong.
    pub fn validate(&self) -> Result<()> {
        match self {
            Method::Plain => Ok(()),
            Method::Consistency { lambda, jitter } => {
                if !(lambda.is_finite() && *lambda >= 0.0) {
                    return Err(Error::Invalid(format!(
                        "--lambda must be a finite number ≥ 0, got {lambda}"
                    )));
                }
                jitter.check()
            }
            Method::Focal { gamma } => {
                if !(gamma.is_finite() && *gamma >= 0.0) {
                    return Err(Error::Invalid(format!(
                        "--gamma must be a finite number ≥ 0, got {gamma}"
                    )));
                }
                Ok(())
            }
            Method::Suppress { suppress, amplify } => {
                check_factor("suppress", *suppress)?;
                check_factor("amplify", *amplify)
            }
            Method::Lff { q } => {
                if !(*q > 0.0 && *q <= 1.0) {
                    return Err(Error::Invalid(format!("--q must be in (0, 1], got {q}")));
                }
                Ok(())
            }
        }
    }

    /// The training step of this method (suppression trains with cross-entropy; its hook is
    /// attached to the model, see [`super::Suppression`]).
    pub fn step(&self, ctx: &StepContext) -> Result<Box<dyn Step>> {
        Ok(match self {
            Method::Plain | Method::Suppress { .. } => Box::new(CrossEntropyStep),
            Method::Consistency { lambda, jitter } => Box::new(ConsistencyStep {
                lambda: *lambda,
                jitter: *jitter,
            }),
            Method::Focal { gamma } => Box::new(FocalStep { gamma: *gamma }),
            Method::Lff { q } => Box::new(LffStep::new(
                ctx.kind,
                ctx.seed,
                ctx.device,
                ctx.train_labels.clone(),
                *q,
            )?),
        })
    }
}
