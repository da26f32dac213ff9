//! The autograd tape: how gradients are computed.
//!
//! # The idea
//!
//! Every op on tensors that need gradients (parameters, or inputs you asked gradients for) is
//! *recorded*: the result tensor gets a [`Node`] holding the op's name, its input tensors, and its
//! backward rule, a closure that maps the gradient of the output, ∂L/∂y, to the gradients of the
//! inputs, ∂L/∂xᵢ (the vector–Jacobian product). Nodes are numbered in the order they were
//! recorded, so the recorded ops form a list — the *tape* — which [`Tape::of`] prints.
//!
//! `loss.backward()` walks that list in reverse. Reverse recording order is a valid order for the
//! chain rule: an op is always recorded after the ops that produced its inputs, so when we reach
//! a node, every op that used its output has already added its contribution to ∂L/∂y. For each
//! node we (1) take the summed gradient of its output, (2) run the gradient hooks registered on
//! that output, (3) keep the gradient on the tensor if `retain_grad` was asked, (4) call the
//! backward rule and add each input's gradient into a map keyed by tensor id. Leaves (tensors
//! made by the user, such as parameters) finally receive their summed gradient in `.grad()`,
//! adding to what was there: gradients accumulate across backward calls until `zero_grad`.
//!
//! # Who owns the tape
//!
//! The nodes are owned by the tensors they produced (each tensor holds its node, each node its
//! inputs), as in PyTorch: drop the loss and the whole recorded graph is freed, so an evaluation
//! loop that forgets `no_grad` cannot grow memory without bound. After `backward()` the nodes
//! release their saved tensors; call [`Tensor::backward_retain_graph`] to run backward twice.
//!
//! Backward rules run with recording switched off, so they may use ordinary tensor ops.

pub mod gradcheck;
pub mod hooks;
mod tape;

pub use hooks::{GradHook, HookHandle, HookList};
pub use tape::{Tape, TapeEntry};

use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::{Inner, Tensor, TensorId};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

static NEXT_SEQ: AtomicU64 = AtomicU64::new(0);

/// Is recording switched on for this thread?
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Switches recording off until dropped (then restores the previous mode).
pub struct NoGradGuard {
    prev: bool,
}

impl NoGradGuard {
    /// Stop recording on this thread.
    pub fn new() -> NoGradGuard {
        let prev = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { prev }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

/// Run `f` without recording anything (evaluation, optimizer steps, attacks' projections).
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = NoGradGuard::new();
    f()
}

/// A backward rule: given the op's inputs and ∂L/∂output, return ∂L/∂input for each input
/// (`None` where the input needs no gradient).
pub type BackwardFn = dyn Fn(&[Tensor], &Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync;

/// One recorded op.
pub struct Node {
    pub(crate) seq: u64,
    pub(crate) op: &'static str,
    /// The input tensors; released (set to `None`) after backward unless the graph is retained.
    pub(crate) inputs: Mutex<Option<Vec<Tensor>>>,
    /// The inputs' data as forward saw it. An in-place update of a parameter after forward
    /// (an optimizer step) copies the parameter's storage instead of changing these, so
    /// backward always differentiates at the point forward used.
    pub(crate) saved: Mutex<Option<Vec<Arc<crate::device::Storage>>>>,
    /// Shapes, ids and gradient flags of the inputs, kept for printing after release.
    pub(crate) input_info: Vec<(TensorId, Shape, bool)>,
    pub(crate) output: Weak<Inner>,
    pub(crate) output_id: TensorId,
    pub(crate) output_shape: Shape,
    pub(crate) hooks: HookList<GradHook>,
    pub(crate) backward: Mutex<Option<Box<BackwardFn>>>,
}

/// Build the result tensor of an op. If recording is on and any input requires a gradient, the
/// result gets a [`Node`] with the backward rule; otherwise the rule is dropped unused.
pub(crate) fn record(
    op: &'static str,
    inputs: &[&Tensor],
    storage: impl Into<Arc<crate::device::Storage>>,
    shape: Shape,
    backward: impl Fn(&[Tensor], &Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) -> Tensor {
    let storage = storage.into();
    let needs_grad = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    if !needs_grad {
        return Tensor::from_shared(storage, shape);
    }
    let input_info = inputs
        .iter()
        .map(|t| (t.id(), t.shape().clone(), t.requires_grad()))
        .collect();
    let saved = inputs.iter().map(|t| t.storage()).collect();
    let inputs: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
    let seq = NEXT_SEQ.fetch_add(1, Ordering::Relaxed);
    Tensor::from_node(storage, shape, |weak, id, shape, hooks| Node {
        seq,
        op,
        inputs: Mutex::new(Some(inputs)),
        saved: Mutex::new(Some(saved)),
        input_info,
        output: weak,
        output_id: id,
        output_shape: shape,
        hooks,
        backward: Mutex::new(Some(Box::new(backward))),
    })
}

/// All nodes reachable from `root`, most recent first.
pub(crate) fn collect_nodes(root: &Tensor) -> Result<Vec<Arc<Node>>> {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<Arc<Node>> = root.grad_fn().into_iter().collect();
    let mut nodes = Vec::new();
    while let Some(node) = stack.pop() {
        if !seen.insert(node.seq) {
            continue;
        }
        {
            let inputs = node.inputs.lock().unwrap();
            let Some(inputs) = inputs.as_ref() else {
                return Err(Error::Autograd(format!(
                    "the graph through '{}' was already freed by an earlier backward; \
                     use backward_retain_graph() to run backward twice",
                    node.op
                )));
            };
            for t in inputs {
                if let Some(n) = t.grad_fn() {
                    stack.push(n);
                }
            }
        }
        nodes.push(node);
    }
    nodes.sort_by_key(|n| std::cmp::Reverse(n.seq));
    Ok(nodes)
}

fn accumulate(map: &mut HashMap<TensorId, Tensor>, id: TensorId, g: Tensor) -> Result<()> {
    let sum = match map.remove(&id) {
        Some(prev) => prev.add(&g)?,
        None => g,
    };
    map.insert(id, sum);
    Ok(())
}

fn run_grad_hooks(hooks: &HookList<GradHook>, mut g: Tensor, shape: &Shape) -> Result<Tensor> {
    for hook in hooks.snapshot() {
        if let Some(new) = hook(&g)? {
            if new.shape() != shape {
                return Err(Error::Autograd(format!(
                    "a gradient hook returned shape {} for a tensor of shape {shape}",
                    new.shape()
                )));
            }
            g = new;
        }
    }
    Ok(g)
}

/// Run backward from `root`, seeding ∂L/∂root with `seed`. See the module docs.
pub(crate) fn backward(root: &Tensor, seed: Tensor, retain_graph: bool) -> Result<()> {
    if !root.requires_grad() {
        return Err(Error::Autograd(
            "backward on a tensor that does not require grad (did you compute it under no_grad, \
             or from tensors without requires_grad?)"
                .into(),
        ));
    }
    if seed.shape() != root.shape() {
        return Err(Error::Autograd(format!(
            "backward seed has shape {}, the tensor has shape {}",
            seed.shape(),
            root.shape()
        )));
    }
    let _guard = NoGradGuard::new();
    let nodes = collect_nodes(root)?;
    let mut grads: HashMap<TensorId, Tensor> = HashMap::new();
    let mut leaves: Vec<Tensor> = Vec::new();
    grads.insert(root.id(), seed);
    if root.is_leaf() {
        leaves.push(root.clone());
    }

    for node in &nodes {
        let Some(g) = grads.remove(&node.output_id) else {
            continue; // this op does not lead to the root
        };
        let g = run_grad_hooks(&node.hooks, g, &node.output_shape)?;
        if let Some(out) = node.output.upgrade() {
            if out.retains_grad.load(Ordering::Relaxed) {
                let t = Tensor::from_inner(out);
                t.accumulate_grad(&g)?;
            }
        }
        let inputs = node.inputs.lock().unwrap().clone().ok_or_else(|| {
            Error::Autograd(format!("the graph through '{}' was already freed", node.op))
        })?;
        // The rule sees the inputs' values as saved in forward, with their gradient flags.
        let views: Vec<Tensor> = {
            let saved = node.saved.lock().unwrap();
            let saved = saved.as_ref().ok_or_else(|| {
                Error::Autograd(format!("the graph through '{}' was already freed", node.op))
            })?;
            inputs
                .iter()
                .zip(saved)
                .map(|(t, s)| Tensor::saved_view(s.clone(), t))
                .collect()
        };
        let in_grads = {
            let rule = node.backward.lock().unwrap();
            let rule = rule.as_ref().ok_or_else(|| {
                Error::Autograd(format!("the graph through '{}' was already freed", node.op))
            })?;
            rule(&views, &g)?
        };
        if in_grads.len() != inputs.len() {
            return Err(Error::Autograd(format!(
                "backward rule of '{}' returned {} gradients for {} inputs",
                node.op,
                in_grads.len(),
                inputs.len()
            )));
        }
        for (input, gi) in inputs.iter().zip(in_grads) {
            let Some(gi) = gi else { continue };
            if !input.requires_grad() {
                continue;
            }
            if gi.shape() != input.shape() {
                return Err(Error::Autograd(format!(
                    "backward rule of '{}' returned a gradient of shape {} for an input of shape {}",
                    node.op,
                    gi.shape(),
                    input.shape()
                )));
            }
            if input.is_leaf() && !grads.contains_key(&input.id()) {
                leaves.push(input.clone());
            }
            accumulate(&mut grads, input.id(), gi)?;
        }
        if !retain_graph {
            *node.inputs.lock().unwrap() = None;
            *node.saved.lock().unwrap() = None;
            *node.backward.lock().unwrap() = None;
        }
    }

    for leaf in leaves {
        if let Some(g) = grads.remove(&leaf.id()) {
            let g = run_grad_hooks(&leaf.grad_hooks(), g, leaf.shape())?;
            leaf.accumulate_grad(&g)?;
        }
    }
    Ok(())
}
