//! LazyCNN, exactly as the report defines it:
//!
//! ```text
//! color_mixer = Sequential(Conv2d(3, 16, 3, padding=1), ReLU())     names color_mixer.0.*
//! global_pool = AdaptiveAvgPool2d((2, 2))
//! classifier  = Sequential(Flatten(), Linear(64, 64), ReLU(), Linear(64, 10))
//!                                                                    names classifier.1.*, classifier.3.*
//! ```

use crate::device::Device;
use crate::error::Result;
use crate::nn::{
    prefixed, AdaptiveAvgPool2d, Conv2d, Flatten, ForwardHooks, Linear, Module, ReLU, Sequential,
};
use crate::ops::Conv2dParams;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// The lazy baseline: 3×28×28 images → 10 logits.
pub struct LazyCNN {
    pub color_mixer: Sequential,
    pub global_pool: AdaptiveAvgPool2d,
    pub classifier: Sequential,
    hooks: ForwardHooks,
}

impl LazyCNN {
    /// A freshly initialized LazyCNN (PyTorch's default init, drawn from `rng` in layer order).
    pub fn new(rng: &mut Rng, device: Device) -> Result<LazyCNN> {
        let color_mixer = Sequential::new()
            .push(Conv2d::new(3, 16, 3, Conv2dParams::new(1, 1), rng, device)?)
            .push(ReLU::new());
        let classifier = Sequential::new()
            .push(Flatten::new())
            .push(Linear::new(64, 64, true, rng, device)?)
            .push(ReLU::new())
            .push(Linear::new(64, 10, true, rng, device)?);
        let m = LazyCNN {
            color_mixer,
            global_pool: AdaptiveAvgPool2d::new(2, 2),
            classifier,
            hooks: ForwardHooks::default(),
        };
        m.name_parameters();
        Ok(m)
    }

    /// Multiply–adds of one forward pass per image (conv + the two linear layers).
    pub fn macs_per_image() -> u64 {
        16 * 784 * 27 + 64 * 64 + 64 * 10
    }
}

impl Module for LazyCNN {
    /// The convolution, its ReLU and the pool run as one fused operation
    /// ([`Tensor::conv2d_relu_adaptive_avg_pool2d`]) unless a hook sits on one of them.
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        let h = match self.color_mixer.fused_with_pool(x, &self.global_pool) {
            Some(h) => h?,
            None => self.global_pool.forward(&self.color_mixer.forward(x)?)?,
        };
        self.classifier.forward(&h)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed("color_mixer", self.color_mixer.named_parameters());
        v.extend(prefixed("classifier", self.classifier.named_parameters()));
        v
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("color_mixer".into(), &self.color_mixer as &dyn Module),
            ("global_pool".into(), &self.global_pool),
            ("classifier".into(), &self.classifier),
        ]
    }
}
