//! A chain of modules, named "0", "1", … like PyTorch's `nn.Sequential`.

use super::{prefixed, AdaptiveAvgPool2d, ForwardHooks, Module};
use crate::error::{Error, Result};
use crate::ops::PoolParams;
use crate::tensor::Tensor;

/// Runs its layers in order.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
    hooks: ForwardHooks,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Append a layer (builder style).
    pub fn push(mut self, layer: impl Module + 'static) -> Sequential {
        self.layers.push(Box::new(layer));
        self.name_parameters();
        self
    }

    /// Layer `i`, to register hooks on it or read its parameters.
    pub fn layer(&self, i: usize) -> Result<&dyn Module> {
        self.layers.get(i).map(|b| b.as_ref()).ok_or_else(|| {
            Error::Invalid(format!(
                "Sequential has {} layers, no layer {i}",
                self.layers.len()
            ))
        })
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there is no layer.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Sequential {
    /// Layers `i` and `i + 1` as one fused operation, when layer `i + 1` is a `ReLU`, neither has
    /// hooks and layer `i` has a fused form.
    fn fused_with_next(&self, i: usize, h: &Tensor) -> Option<Result<Tensor>> {
        let (l, next) = (self.layers.get(i)?, self.layers.get(i + 1)?);
        if next.kind() != "ReLU" || !l.hooks().is_empty() || !next.hooks().is_empty() {
            return None;
        }
        l.forward_relu_fused(h)
    }
}

impl Sequential {
    /// Layers `i`, `i + 1` and `i + 2` as one fused operation, when they are a layer with a
    /// fused form, a `ReLU` and a 2×2, stride-2 max pool, none with hooks.
    fn fused_with_next_two(&self, i: usize, h: &Tensor) -> Option<Result<Tensor>> {
        let [l, relu, pool] = self.layers.get(i..i + 3)? else {
            return None;
        };
        let hooked = [l, relu, pool].iter().any(|m| !m.hooks().is_empty());
        let pool_2x2 = pool.max_pool_params() == Some(PoolParams::new(2, 2, 0));
        if relu.kind() != "ReLU" || !pool_2x2 || hooked {
            return None;
        }
        l.forward_relu_max_pool_fused(h)
    }

    /// This chain and then `pool` as one fused operation, when the chain is exactly a layer
    /// with a fused form followed by a `ReLU` and nothing of the three has forward hooks
    /// (LazyCNN's `color_mixer` and `global_pool`); `None` otherwise.
    pub fn fused_with_pool(&self, x: &Tensor, pool: &AdaptiveAvgPool2d) -> Option<Result<Tensor>> {
        let [l, relu] = self.layers.as_slice() else {
            return None;
        };
        let hooked = [self.hooks(), l.hooks(), relu.hooks(), pool.hooks()]
            .iter()
            .any(|h| !h.is_empty());
        if relu.kind() != "ReLU" || hooked {
            return None;
        }
        l.forward_relu_pool_fused(x, pool.out)
    }
}

impl Module for Sequential {
    fn kind(&self) -> &'static str {
        "Sequential"
    }
    /// The layers in order; a layer and the `ReLU` after it run as one fused operation
    /// ([`Module::forward_relu_fused`]) when neither has a forward hook.
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let mut i = 0;
        while let Some(l) = self.layers.get(i) {
            if let Some(fused) = self.fused_with_next_two(i, &h) {
                h = fused?;
                i += 3;
            } else if let Some(fused) = self.fused_with_next(i, &h) {
                h = fused?;
                i += 2;
            } else {
                h = l.forward(&h)?;
                i += 1;
            }
        }
        Ok(h)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed(&i.to_string(), l.named_parameters()))
            .collect()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.as_ref()))
            .collect()
    }
}
