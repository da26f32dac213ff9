//! The study's models, with the parameter names the original PyTorch code gives them.
//!
//! * [`LazyCNN`]: one 3×3 conv, then an immediate 2×2 average pool — it can only average
//!   colours, so it learns the colour shortcut (SPEC Task 1).
//! * [`ShapeCNN`]: five 3×3 convs with gradual pooling — deep enough that shape becomes the
//!   easiest signal (SPEC Task 4.3).

mod lazy_cnn;
mod shape_cnn;

pub use lazy_cnn::LazyCNN;
pub use shape_cnn::ShapeCNN;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::rng::{streams, Rng};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// Which of the study's classifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ModelKind {
    Lazy,
    Shape,
}

impl ModelKind {
    /// Parse `lazy` or `shape`.
    pub fn parse(s: &str) -> Result<ModelKind> {
        match s {
            "lazy" => Ok(ModelKind::Lazy),
            "shape" => Ok(ModelKind::Shape),
            other => Err(Error::Invalid(format!(
                "unknown model '{other}': expected lazy or shape"
            ))),
        }
    }

    /// `LazyCNN` or `ShapeCNN`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lazy => "LazyCNN",
            ModelKind::Shape => "ShapeCNN",
        }
    }

    /// `lazy` or `shape` (folder names, CLI).
    pub fn slug(self) -> &'static str {
        match self {
            ModelKind::Lazy => "lazy",
            ModelKind::Shape => "shape",
        }
    }

    /// A freshly initialized model: the parameters are drawn from the seed's initialization
    /// stream ([`streams::INIT`]), so two models of one kind and seed start identical (neuron
    /// suppression relies on that: channel k of its model starts as channel k of the lazy model
    /// it was ranked on).
    pub fn build(self, seed: u64, device: Device) -> Result<Box<dyn Module>> {
        let mut rng = Rng::new(seed, streams::INIT);
        Ok(match self {
            ModelKind::Lazy => Box::new(LazyCNN::new(&mut rng, device)?),
            ModelKind::Shape => Box::new(ShapeCNN::new(&mut rng, device)?),
        })
    }

    /// The model a checkpoint's tensors belong to, told by a parameter name only it has.
    pub fn of_checkpoint(tensors: &HashMap<String, Tensor>) -> Option<ModelKind> {
        if tensors.contains_key("color_mixer.0.weight") {
            Some(ModelKind::Lazy)
        } else if tensors.contains_key("features.0.weight") {
            Some(ModelKind::Shape)
        } else {
            None
        }
    }
}
