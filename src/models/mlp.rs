//! The MLP of Learning from Failure's Colored-MNIST protocol (Nam et al. 2020; `module/mlp.py`
//! of alinlab/LfF), with its parameter names:
//!
//! ```text
//! x          = flatten(image) · input_scale                      3·28·28 = 2352 values
//! feature    = Sequential(Linear(2352, 100), ReLU(), Linear(100, 100), ReLU(),
//!                         Linear(100, 100), ReLU())              names feature.0/2/4.*
//! classifier = Linear(100, 10)                                   names classifier.*
//! ```
//!
//! **The input scale.** LfF's data loader already gives images in [0, 1], and its `forward`
//! divides by 255 once more, so its MLP sees pixels in [0, 1/255]. [`LffMlp::LFF_SCALE`]
//! reproduces that; [`LffMlp::new`] takes the scale, and our own runs use 1 (pixels in [0, 1],
//! as every other model here reads them). A number reported for this model says which.
//!
//! With no convolution, the colour of a digit and its shape reach the first layer as the same
//! kind of evidence: 2352 weights per unit. On Colored MNIST the colour is far easier to fit,
//! which is what makes this MLP the benchmark's standard victim.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::{prefixed, Flatten, ForwardHooks, Linear, Module, ReLU, Sequential};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// Input values per image (3 × 28 × 28).
pub const MLP_INPUTS: usize = 3 * 28 * 28;
/// Units of each hidden layer.
pub const MLP_HIDDEN: usize = 100;

/// LfF's three-hidden-layer MLP: 3×28×28 images → 10 logits.
pub struct LffMlp {
    pub flatten: Flatten,
    pub feature: Sequential,
    pub classifier: Linear,
    /// What the flattened pixels are multiplied by before the first layer.
    pub input_scale: f32,
    hooks: ForwardHooks,
}

impl LffMlp {
    /// LfF's own scale: its images in [0, 1] divided by 255 again in `forward`.
    pub const LFF_SCALE: f32 = 1.0 / 255.0;

    /// A freshly initialized MLP (PyTorch's default init, drawn from `rng` in layer order)
    /// reading its pixels times `input_scale` (1 for ours, [`Self::LFF_SCALE`] for LfF's).
    pub fn new(input_scale: f32, rng: &mut Rng, device: Device) -> Result<LffMlp> {
        if !(input_scale.is_finite() && input_scale > 0.0) {
            return Err(Error::Invalid(format!(
                "MLP: the input scale must be a finite number > 0, got {input_scale}"
            )));
        }
        let feature = Sequential::new()
            .push(Linear::new(MLP_INPUTS, MLP_HIDDEN, true, rng, device)?)
            .push(ReLU::new())
            .push(Linear::new(MLP_HIDDEN, MLP_HIDDEN, true, rng, device)?)
            .push(ReLU::new())
            .push(Linear::new(MLP_HIDDEN, MLP_HIDDEN, true, rng, device)?)
            .push(ReLU::new());
        let m = LffMlp {
            flatten: Flatten::new(),
            feature,
            classifier: Linear::new(MLP_HIDDEN, 10, true, rng, device)?,
            input_scale,
            hooks: ForwardHooks::default(),
        };
        m.name_parameters();
        Ok(m)
    }

    /// Multiply–adds of one forward pass per image.
    pub fn macs_per_image() -> u64 {
        (MLP_INPUTS * MLP_HIDDEN + 2 * MLP_HIDDEN * MLP_HIDDEN + MLP_HIDDEN * 10) as u64
    }
}

impl Module for LffMlp {
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        let v = self.flatten.forward(x)?;
        if v.rank() != 2 || v.dim(1) != MLP_INPUTS {
            return Err(Error::shape_expected(
                "LffMlp",
                "images [N, 3, 28, 28]",
                x.shape(),
            ));
        }
        let v = if self.input_scale == 1.0 {
            v
        } else {
            v.mul_scalar(self.input_scale)?
        };
        self.classifier.forward(&self.feature.forward(&v)?)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed("feature", self.feature.named_parameters());
        v.extend(prefixed("classifier", self.classifier.named_parameters()));
        v
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("flatten".into(), &self.flatten as &dyn Module),
            ("feature".into(), &self.feature),
            ("classifier".into(), &self.classifier),
        ]
    }
}
