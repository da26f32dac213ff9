//! ShapeCNN (SPEC Task 4.3): five 3×3 convolutions (padding 1) with gradual pooling.
//!
//! ```text
//! features = Sequential(
//!   0 Conv2d(3, 32)   1 ReLU   2 Conv2d(32, 64)  3 ReLU   4 MaxPool2d(2)     28×28 → 14×14
//!   5 Conv2d(64, 64)  6 ReLU   7 Conv2d(64, 128) 8 ReLU   9 MaxPool2d(2)     14×14 → 7×7
//!  10 Conv2d(128, 128) 11 ReLU)
//! pool = AdaptiveAvgPool2d(1)          global average, 128 features
//! fc   = Linear(128, 10)
//! ```
//!
//! Parameter names: `features.{0,2,5,7,10}.{weight,bias}`, `fc.{weight,bias}` (the report gives
//! no code for this model; these are the names the PyTorch `nn.Sequential` above would give).

use crate::device::Device;
use crate::error::Result;
use crate::nn::{
    prefixed, AdaptiveAvgPool2d, Conv2d, Flatten, ForwardHooks, Linear, MaxPool2d, Module, ReLU,
    Sequential,
};
use crate::ops::Conv2dParams;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// The shape-biased model: 3×28×28 images → 10 logits.
pub struct ShapeCNN {
    pub features: Sequential,
    pub pool: AdaptiveAvgPool2d,
    flatten: Flatten,
    pub fc: Linear,
    hooks: ForwardHooks,
}

impl ShapeCNN {
    /// A freshly initialized ShapeCNN.
    pub fn new(rng: &mut Rng, device: Device) -> Result<ShapeCNN> {
        let p = Conv2dParams::new(1, 1);
        let features = Sequential::new()
            .push(Conv2d::new(3, 32, 3, p, rng, device)?)
            .push(ReLU::new())
            .push(Conv2d::new(32, 64, 3, p, rng, device)?)
            .push(ReLU::new())
            .push(MaxPool2d::new(2, 2))
            .push(Conv2d::new(64, 64, 3, p, rng, device)?)
            .push(ReLU::new())
            .push(Conv2d::new(64, 128, 3, p, rng, device)?)
            .push(ReLU::new())
            .push(MaxPool2d::new(2, 2))
            .push(Conv2d::new(128, 128, 3, p, rng, device)?)
            .push(ReLU::new());
        let m = ShapeCNN {
            features,
            pool: AdaptiveAvgPool2d::new(1, 1),
            flatten: Flatten::new(),
            fc: Linear::new(128, 10, true, rng, device)?,
            hooks: ForwardHooks::default(),
        };
        m.name_parameters();
        Ok(m)
    }

    /// Multiply–adds of one forward pass per image.
    pub fn macs_per_image() -> u64 {
        let conv = |c: u64, o: u64, hw: u64| c * 9 * o * hw;
        conv(3, 32, 784)
            + conv(32, 64, 784)
            + conv(64, 64, 196)
            + conv(64, 128, 196)
            + conv(128, 128, 49)
            + 128 * 10
    }
}

impl Module for ShapeCNN {
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.features.forward(x)?;
        let h = self.pool.forward(&h)?;
        self.fc.forward(&self.flatten.forward(&h)?)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed("features", self.features.named_parameters());
        v.extend(prefixed("fc", self.fc.named_parameters()));
        v
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("features".into(), &self.features as &dyn Module),
            ("pool".into(), &self.pool),
            ("fc".into(), &self.fc),
        ]
    }
}
