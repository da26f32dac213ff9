//! The study's models, with the parameter names the original PyTorch code gives them.
//!
//! * [`LazyCNN`]: one 3×3 conv, then an immediate 2×2 average pool — it can only average
//!   colours, so it learns the colour shortcut (SPEC Task 1).
//! * [`ShapeCNN`]: five 3×3 convs with gradual pooling — deep enough that shape becomes the
//!   easiest signal (SPEC Task 4.3).
//! * [`AttentionCNN`]: two convs and a spatial-attention pooling layer whose softmax over
//!   positions shows where the model looks (SPEC Task 2.5).
//! * [`LffMlp`]: the three-hidden-layer MLP of Learning from Failure's Colored-MNIST protocol
//!   (the debiasing benchmark's model, `ModelKind::Mlp`; the study itself does not train it).

mod attention_cnn;
mod lazy_cnn;
mod mlp;
mod shape_cnn;

pub use attention_cnn::{
    attention_pool, position_scores, softmax_over_positions, AttentionCNN, SpatialAttention,
    SpatialSoftmax,
};
pub use lazy_cnn::LazyCNN;
pub use mlp::{LffMlp, MLP_HIDDEN, MLP_INPUTS};
pub use shape_cnn::ShapeCNN;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::rng::{streams, Rng};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// Which of the study's classifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ModelKind {
    Lazy,
    Shape,
    Attention,
    Mlp,
}

impl ModelKind {
    /// Parse `lazy`, `shape`, `attention` or `mlp`.
    pub fn parse(s: &str) -> Result<ModelKind> {
        match s {
            "lazy" => Ok(ModelKind::Lazy),
            "shape" => Ok(ModelKind::Shape),
            "attention" => Ok(ModelKind::Attention),
            "mlp" => Ok(ModelKind::Mlp),
            other => Err(Error::Invalid(format!(
                "unknown model '{other}': expected lazy, shape, attention or mlp"
            ))),
        }
    }

    /// `LazyCNN` or `ShapeCNN`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lazy => "LazyCNN",
            ModelKind::Shape => "ShapeCNN",
            ModelKind::Attention => "AttentionCNN",
            ModelKind::Mlp => "MLP",
        }
    }

    /// `lazy`, `shape` or `attention` (folder names, CLI).
    pub fn slug(self) -> &'static str {
        match self {
            ModelKind::Lazy => "lazy",
            ModelKind::Shape => "shape",
            ModelKind::Attention => "attention",
            ModelKind::Mlp => "mlp",
        }
    }

    /// The layer Grad-CAM looks at (SPEC Task 3: "the last conv"), by its dotted name: the
    /// ReLU right after the model's last convolution, i.e. the rectified feature maps the
    /// Grad-CAM paper weights. Hooking the convolution itself (before its ReLU) lets negative
    /// activations cancel the positive ones: on a trained ShapeCNN 14 % (plain) to 57 %
    /// (consistency) of the hard-test CAMs came out all zero that way, none after the ReLU.
    pub fn cam_layer(self) -> &'static str {
        match self {
            ModelKind::Lazy => "color_mixer.1",
            ModelKind::Shape => "features.11",
            ModelKind::Attention => "features.4",
            // No convolution: there is no map to weight. Grad-CAM refuses the layer's
            // [N, 100] activations with its own error (see `interp::gradcam`).
            ModelKind::Mlp => "feature.5",
        }
    }

    /// The ReLU after the first convolution: Task 2.2's filter responses are read there
    /// (the report runs `model.color_mixer`, conv + ReLU).
    pub fn first_conv_activation(self) -> &'static str {
        match self {
            ModelKind::Lazy => "color_mixer.1",
            ModelKind::Shape | ModelKind::Attention => "features.1",
            // The MLP's first hidden layer after its ReLU (its "filters" are 2352-wide).
            ModelKind::Mlp => "feature.1",
        }
    }

    /// The hidden units whose colour selectivity Task 2.3 measures: LazyCNN's first Linear
    /// (64 units, before its ReLU, as SPEC says); for the other models, the features their
    /// classifier reads (ShapeCNN's 128 pooled channels, AttentionCNN's 32 attention-pooled
    /// channels), since they have no hidden Linear.
    pub fn hidden_layer(self) -> &'static str {
        match self {
            ModelKind::Lazy => "classifier.1",
            ModelKind::Shape => "pool",
            ModelKind::Attention => "attention",
            // The 100 features its classifier reads (LfF's `feat`).
            ModelKind::Mlp => "feature",
        }
    }

    /// A freshly initialized model: the parameters are drawn from the seed's initialization
    /// stream ([`streams::INIT`]), so two models of one kind and seed start identical (neuron
    /// suppression relies on that: channel k of its model starts as channel k of the lazy model
    /// it was ranked on).
    pub fn build(self, seed: u64, device: Device) -> Result<Box<dyn Module>> {
        self.build_with(&mut Rng::new(seed, streams::INIT), device)
    }

    /// A freshly initialized model drawn from `rng` (a second model of one seed, such as
    /// Learning from Failure's biased model, draws from its own stream).
    pub fn build_with(self, rng: &mut Rng, device: Device) -> Result<Box<dyn Module>> {
        Ok(match self {
            ModelKind::Lazy => Box::new(LazyCNN::new(rng, device)?),
            ModelKind::Shape => Box::new(ShapeCNN::new(rng, device)?),
            ModelKind::Attention => Box::new(AttentionCNN::new(rng, device)?),
            // Our pixels in [0, 1] as they are (see [`LffMlp`] on LfF's second division).
            ModelKind::Mlp => Box::new(LffMlp::new(1.0, rng, device)?),
        })
    }

    /// The model a checkpoint's tensors belong to, told by a parameter name only it has.
    pub fn of_checkpoint(tensors: &HashMap<String, Tensor>) -> Option<ModelKind> {
        if tensors.contains_key("color_mixer.0.weight") {
            Some(ModelKind::Lazy)
        } else if tensors.contains_key("attention.weight") {
            Some(ModelKind::Attention)
        } else if tensors.contains_key("features.0.weight") {
            Some(ModelKind::Shape)
        } else if tensors.contains_key("feature.0.weight") {
            Some(ModelKind::Mlp)
        } else {
            None
        }
    }
}
