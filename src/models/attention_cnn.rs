//! The spatial-attention CNN (SPEC Task 2.5): two convolutions, then an attention layer that
//! scores every spatial position, turns the scores into weights with a softmax over the
//! positions, and pools the feature maps with those weights.
//!
//! ```text
//! features  = Sequential(0 Conv2d(3, 16, 3, padding=1)  1 ReLU  2 MaxPool2d(2)     28×28 → 14×14
//!                        3 Conv2d(16, 32, 3, padding=1) 4 ReLU)                    32×14×14
//! attention = SpatialAttention(32)   s = w·F + b (a 1×1 conv to one score per position)
//!                                    a = softmax over the 196 positions of s   (attention.softmax)
//!                                    z_c = Σ_p a_p · F_c,p                      32 features
//! classifier = Linear(32, 10)
//! ```
//!
//! The report adds "a simple attention layer after conv2" without giving its code; this is the
//! smallest model that matches that sentence. The attention map is the output of the
//! `attention.softmax` layer, so a forward hook on that name reads it (see
//! [`crate::interp::attention`]). Parameter names: `features.{0,3}.*`,
//! `attention.{weight,bias}`, `classifier.{weight,bias}`.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::init::{default_bias, kaiming_uniform};
use crate::nn::{prefixed, Conv2d, ForwardHooks, Linear, MaxPool2d, Module, ReLU, Sequential};
use crate::ops::Conv2dParams;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// One score per position: s = w·F(p) + b, a 1×1 convolution of [N, C, H, W] features with
/// w [1, C, 1, 1] and b [1], giving [N, 1, H, W].
pub fn position_scores(f: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    f.conv2d(w, Some(b), Conv2dParams::new(1, 0))
}

/// a = softmax of a [N, 1, H, W] score map over its H·W positions, in the same shape. The
/// softmax primitive subtracts each row's maximum before exponentiating, so large scores
/// cannot overflow.
pub fn softmax_over_positions(s: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = s
        .shape()
        .nchw()
        .ok_or_else(|| Error::shape_expected("SpatialSoftmax", "scores [N, 1, H, W]", s.shape()))?;
    s.reshape([n, c * h * w])?.softmax()?.reshape([n, c, h, w])
}

/// z_c = Σ_p a_p · F_c,p: features [N, C, H, W] pooled with weights [N, 1, H, W] → [N, C].
pub fn attention_pool(f: &Tensor, a: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = f.shape().nchw().ok_or_else(|| {
        Error::shape_expected("SpatialAttention", "features [N, C, H, W]", f.shape())
    })?;
    f.reshape([n, c, h * w])?
        .mul(&a.reshape([n, 1, h * w])?)?
        .sum(2, false)
}

/// Softmax over the spatial positions of a [N, 1, H, W] score map, returned in the same shape:
/// every image's weights are positive and sum to 1.
#[derive(Default)]
pub struct SpatialSoftmax {
    hooks: ForwardHooks,
}

impl Module for SpatialSoftmax {
    fn kind(&self) -> &'static str {
        "SpatialSoftmax"
    }
    fn forward_raw(&self, s: &Tensor) -> Result<Tensor> {
        softmax_over_positions(s)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
}

/// Attention pooling: one score per position (a 1×1 convolution of the C channels), a softmax
/// over positions, and the attention-weighted sum of each channel: [N, C, H, W] → [N, C].
pub struct SpatialAttention {
    /// [1, C, 1, 1]: the score of a position is w·F(p) + b.
    pub weight: Tensor,
    pub bias: Tensor,
    pub softmax: SpatialSoftmax,
    hooks: ForwardHooks,
}

impl SpatialAttention {
    /// Scores initialized as PyTorch initializes a 1×1 `Conv2d(channels, 1)`.
    pub fn new(channels: usize, rng: &mut Rng, device: Device) -> Result<SpatialAttention> {
        Ok(SpatialAttention {
            weight: kaiming_uniform([1, channels, 1, 1], channels, 5f32.sqrt(), rng, device)?,
            bias: default_bias([1], channels, rng, device)?,
            softmax: SpatialSoftmax::default(),
            hooks: ForwardHooks::default(),
        })
    }
}

impl Module for SpatialAttention {
    fn kind(&self) -> &'static str {
        "SpatialAttention"
    }
    fn forward_raw(&self, f: &Tensor) -> Result<Tensor> {
        let scores = position_scores(f, &self.weight, &self.bias)?;
        // Through the module, so a forward hook on `attention.softmax` sees (or edits) the map.
        let a = self.softmax.forward(&scores)?;
        attention_pool(f, &a)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("softmax".into(), &self.softmax as &dyn Module)]
    }
}

/// The attention model: 3×28×28 images → 10 logits.
pub struct AttentionCNN {
    pub features: Sequential,
    pub attention: SpatialAttention,
    pub classifier: Linear,
    hooks: ForwardHooks,
}

impl AttentionCNN {
    /// A freshly initialized AttentionCNN (PyTorch's default init, in layer order).
    pub fn new(rng: &mut Rng, device: Device) -> Result<AttentionCNN> {
        let p = Conv2dParams::new(1, 1);
        let features = Sequential::new()
            .push(Conv2d::new(3, 16, 3, p, rng, device)?)
            .push(ReLU::new())
            .push(MaxPool2d::new(2, 2))
            .push(Conv2d::new(16, 32, 3, p, rng, device)?)
            .push(ReLU::new());
        let m = AttentionCNN {
            features,
            attention: SpatialAttention::new(32, rng, device)?,
            classifier: Linear::new(32, 10, true, rng, device)?,
            hooks: ForwardHooks::default(),
        };
        m.name_parameters();
        Ok(m)
    }

    /// Multiply–adds of one forward pass per image.
    pub fn macs_per_image() -> u64 {
        3 * 9 * 16 * 784 + 16 * 9 * 32 * 196 + 2 * 32 * 196 + 32 * 10
    }
}

impl Module for AttentionCNN {
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        let f = self.features.forward(x)?;
        let z = self.attention.forward(&f)?;
        self.classifier.forward(&z)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed("features", self.features.named_parameters());
        v.extend(prefixed("attention", self.attention.named_parameters()));
        v.extend(prefixed("classifier", self.classifier.named_parameters()));
        v
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("features".into(), &self.features as &dyn Module),
            ("attention".into(), &self.attention),
            ("classifier".into(), &self.classifier),
        ]
    }
}
