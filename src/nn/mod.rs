//! Neural-network modules in the style of PyTorch's `torch.nn`.
//!
//! A [`Module`] maps a tensor to a tensor and owns named parameters. Calling
//! [`Module::forward`] runs the module's own computation ([`Module::forward_raw`]) and then its
//! forward hooks, each of which sees the output and may replace it (see [`hooks`]). Parameter
//! names follow PyTorch's `state_dict` (`0.weight`, `classifier.1.bias`, …) so checkpoints load in
//! PyTorch and vice versa.

pub mod hooks;
pub mod init;
mod layers;
mod sequential;

pub use hooks::{ForwardHook, ForwardHooks};
pub use layers::{AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU};
pub use sequential::Sequential;

use crate::autograd::HookHandle;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// A layer or a model.
pub trait Module: Send + Sync {
    /// The module's own computation, without hooks. Implement this; call [`Module::forward`].
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor>;

    /// The module's forward hooks.
    fn hooks(&self) -> &ForwardHooks;

    /// Parameters with their PyTorch-style names, relative to this module.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The layer's type, as PyTorch prints it (`Conv2d`, `Linear`, …); containers and models
    /// say `Module`. Used to find layers by type ("the last conv").
    fn kind(&self) -> &'static str {
        "Module"
    }

    /// This layer followed by a ReLU, computed as one fused operation, for layers that have one
    /// (`Conv2d`: [`Tensor::conv2d_relu`]); `None` for the others. [`Sequential`] calls it for a
    /// layer and the `ReLU` right after it when neither has forward hooks (a hook has to see the
    /// tensor between the two, which the fused operation never makes). The hooks of the layer
    /// itself are not run here.
    fn forward_relu_fused(&self, _x: &Tensor) -> Option<Result<Tensor>> {
        None
    }

    /// This layer, a ReLU and an adaptive average pool to `out` (height, width), as one fused
    /// operation, for layers that have one (`Conv2d`:
    /// [`Tensor::conv2d_relu_adaptive_avg_pool2d`]); `None` for the others. The caller checks
    /// that no hook would miss a tensor the fused operation never makes.
    fn forward_relu_pool_fused(&self, _x: &Tensor, _out: (usize, usize)) -> Option<Result<Tensor>> {
        None
    }

    /// This layer, a ReLU and a 2×2, stride-2 max pool as one fused operation, for layers that
    /// have one (`Conv2d`: [`Tensor::conv2d_relu_max_pool2d`]); `None` for the others.
    /// [`Sequential`] calls it for such a triple when none of the three has forward hooks.
    fn forward_relu_max_pool_fused(&self, _x: &Tensor) -> Option<Result<Tensor>> {
        None
    }

    /// The window, stride and padding of a max-pooling layer (`MaxPool2d`); `None` for others.
    fn max_pool_params(&self) -> Option<crate::ops::PoolParams> {
        None
    }

    /// Sub-modules with their names (empty for a leaf layer).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// Switch training mode on (true) or off (eval). Modules whose behaviour depends on the mode
    /// read [`Module::is_training`]; containers pass the switch to their children.
    fn set_training(&self, on: bool) {
        self.hooks().set_training(on);
        for (_, c) in self.children() {
            c.set_training(on);
        }
    }

    /// Is the module in training mode? (New modules are.)
    fn is_training(&self) -> bool {
        self.hooks().is_training()
    }

    /// Run the module, then its forward hooks in registration order.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.forward_raw(x)?;
        self.hooks().run(x, y)
    }

    /// Register a forward hook: `hook(input, output)` runs after every forward and may return a
    /// replacement output (same shape not required, as in PyTorch).
    fn register_forward_hook(
        &self,
        hook: impl Fn(&Tensor, &Tensor) -> Result<Option<Tensor>> + Send + Sync + 'static,
    ) -> HookHandle
    where
        Self: Sized,
    {
        self.hooks().add(hook)
    }

    /// All parameters, in `named_parameters` order.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|t| t.numel()).sum()
    }

    /// Ask for the gradients of every parameter (`true`, how modules start) or of none
    /// (`false`, PyTorch's `requires_grad_(False)`). Frozen parameters are constants to
    /// backward: the weight- and bias-gradient kernels of their layers do not run at all, so
    /// an input gradient (Grad-CAM, activation maximization, an attack) costs only the
    /// input-gradient kernels. [`freeze`] does this and undoes it when dropped.
    fn requires_grad_(&self, on: bool) -> Result<()> {
        for p in self.parameters() {
            p.requires_grad_(on)?;
        }
        Ok(())
    }

    /// Clear every parameter's gradient.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Sets each parameter's tape label to its full name (called by containers and models).
    fn name_parameters(&self) {
        for (name, t) in self.named_parameters() {
            t.set_name(name);
        }
    }

    /// The parameters by name (PyTorch's `state_dict`).
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.named_parameters()
    }

    /// Copy values into the parameters by name. Every parameter must be present with its exact
    /// shape, and no unknown name may appear: the error names the first tensor that is wrong.
    fn load_state_dict(&self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let own = self.named_parameters();
        for (name, p) in &own {
            let src = tensors.get(name).ok_or_else(|| {
                Error::Invalid(format!(
                    "state dict has no tensor '{name}' (expected shape {})",
                    p.shape()
                ))
            })?;
            if src.shape() != p.shape() {
                return Err(Error::Invalid(format!(
                    "tensor '{name}' has shape {} but the model expects {}",
                    src.shape(),
                    p.shape()
                )));
            }
        }
        let known: std::collections::HashSet<&str> = own.iter().map(|(n, _)| n.as_str()).collect();
        let mut extra: Vec<&String> = tensors
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .collect();
        extra.sort();
        if let Some(name) = extra.first() {
            return Err(Error::Invalid(format!(
                "state dict has an unexpected tensor '{name}' (not a parameter of this model)"
            )));
        }
        for (name, p) in &own {
            p.assign(&tensors[name].to_device(p.device())?)?;
        }
        Ok(())
    }
}

/// Parameters frozen by [`freeze`]; dropping it gives each parameter back the gradient flag it
/// had before.
#[must_use = "the parameters are unfrozen when this guard is dropped"]
pub struct Frozen {
    params: Vec<(Tensor, bool)>,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for (p, was) in self.params.drain(..) {
            // Parameters are leaves, so setting the flag cannot fail.
            let _ = p.requires_grad_(was);
        }
    }
}

/// Freeze every parameter of `model` until the returned guard is dropped: what the
/// interpretability tools and attacks do, so that backward computes ∂/∂input only.
pub fn freeze(model: &dyn Module) -> Result<Frozen> {
    let params: Vec<(Tensor, bool)> = model
        .parameters()
        .into_iter()
        .map(|p| {
            let was = p.requires_grad();
            (p, was)
        })
        .collect();
    model.requires_grad_(false)?;
    Ok(Frozen { params })
}

/// Every module inside `root` (itself first, as ""), depth first, with PyTorch's dotted names
/// (`classifier.1`, `features.10`) — what `named_modules()` gives in PyTorch.
pub fn named_modules(root: &dyn Module) -> Vec<(String, &dyn Module)> {
    let mut out = vec![(String::new(), root)];
    for (name, child) in root.children() {
        for (sub, m) in named_modules(child) {
            let full = if sub.is_empty() {
                name.clone()
            } else {
                format!("{name}.{sub}")
            };
            out.push((full, m));
        }
    }
    out
}

/// The module at dotted path `path` inside `root` (PyTorch's `get_submodule`); "" is `root`.
pub fn get_submodule<'a>(root: &'a dyn Module, path: &str) -> Result<&'a dyn Module> {
    named_modules(root)
        .into_iter()
        .find(|(n, _)| n == path)
        .map(|(_, m)| m)
        .ok_or_else(|| {
            let names: Vec<String> = named_modules(root)
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| !n.is_empty())
                .collect();
            Error::Invalid(format!(
                "the model has no layer '{path}'; its layers are {}",
                names.join(", ")
            ))
        })
}

/// The dotted name of the last layer of type `kind` in `root` (e.g. the last `Conv2d`).
pub fn last_of_kind(root: &dyn Module, kind: &str) -> Result<String> {
    named_modules(root)
        .into_iter()
        .rev()
        .find(|(_, m)| m.kind() == kind)
        .map(|(n, _)| n)
        .ok_or_else(|| Error::Invalid(format!("the model has no {kind} layer")))
}

/// Prefix every name with `prefix.` (how containers build PyTorch's dotted names).
pub fn prefixed(prefix: &str, named: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    named
        .into_iter()
        .map(|(n, t)| (format!("{prefix}.{n}"), t))
        .collect()
}
