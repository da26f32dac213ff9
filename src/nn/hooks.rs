//! Forward hooks: code that runs after a module's forward and may replace its output.
//!
//! This is how the study inspects and edits a network without changing it: Grad-CAM keeps the
//! last conv's output (and registers a gradient hook on it), neuron suppression scales some
//! channels during training, and the SAE intervention swaps a layer's output for its
//! reconstruction. A replaced output is what the next layer sees *and* what backward
//! differentiates, so gradients change accordingly.

use crate::autograd::{HookHandle, HookList};
use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `hook(input, output) -> Ok(Some(new_output))` to replace, `Ok(None)` to keep.
pub type ForwardHook = dyn Fn(&Tensor, &Tensor) -> Result<Option<Tensor>> + Send + Sync;

/// A module's forward hooks, plus its train/eval flag (every module embeds one of these).
pub struct ForwardHooks {
    list: HookList<ForwardHook>,
    training: AtomicBool,
}

impl Default for ForwardHooks {
    fn default() -> Self {
        ForwardHooks {
            list: HookList::default(),
            training: AtomicBool::new(true),
        }
    }
}

impl ForwardHooks {
    /// Register a hook; see [`crate::nn::Module::register_forward_hook`].
    pub fn add(
        &self,
        hook: impl Fn(&Tensor, &Tensor) -> Result<Option<Tensor>> + Send + Sync + 'static,
    ) -> HookHandle {
        self.list.add(Arc::new(hook))
    }

    /// Run the hooks in order on `output`, each seeing the previous one's result.
    pub fn run(&self, input: &Tensor, mut output: Tensor) -> Result<Tensor> {
        for hook in self.list.snapshot() {
            if let Some(new) = hook(input, &output)? {
                output = new;
            }
        }
        Ok(output)
    }

    /// Number of hooks registered.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no hook is registered.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn set_training(&self, on: bool) {
        self.training.store(on, Ordering::Relaxed);
    }

    pub(crate) fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}
