//! The tensor: a shape, a device storage, and the autograd bookkeeping.
//!
//! `Tensor` is a cheap handle (`Arc`): cloning shares the same tensor, as a Python reference
//! would. The data sit behind `RwLock<Arc<Storage>>`: ops read a snapshot (`Arc` clone), and the
//! optimizers update parameters in place through [`Tensor::update_storage`], which copies first
//! only if some recorded graph still holds the old values (copy-on-write), so what backward sees
//! is always what forward used.

mod create;

use crate::autograd::{self, GradHook, HookHandle, HookList, Node};
use crate::device::{Device, Storage};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A process-unique tensor identity (two handles to the same tensor share it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> TensorId {
        TensorId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }
}

pub(crate) struct Inner {
    id: TensorId,
    shape: Shape,
    device: Device,
    storage: RwLock<Arc<Storage>>,
    requires_grad: AtomicBool,
    grad_fn: Option<Arc<Node>>,
    grad: Mutex<Option<Tensor>>,
    pub(crate) retains_grad: AtomicBool,
    hooks: HookList<GradHook>,
    name: Mutex<Option<String>>,
}

/// An n-dimensional array of f32 on a device, with optional gradient tracking.
#[derive(Clone)]
pub struct Tensor(Arc<Inner>);

impl Tensor {
    // ----- construction (internal) -----

    pub(crate) fn from_storage(storage: Storage, shape: Shape) -> Tensor {
        Tensor::from_shared(Arc::new(storage), shape)
    }

    /// A new tensor viewing already shared storage (reshape shares data this way).
    pub(crate) fn from_shared(storage: Arc<Storage>, shape: Shape) -> Tensor {
        debug_assert_eq!(storage.len(), shape.numel(), "storage/shape mismatch");
        Tensor(Arc::new(Inner {
            id: TensorId::fresh(),
            device: storage.device(),
            shape,
            storage: RwLock::new(storage),
            requires_grad: AtomicBool::new(false),
            grad_fn: None,
            grad: Mutex::new(None),
            retains_grad: AtomicBool::new(false),
            hooks: HookList::default(),
            name: Mutex::new(None),
        }))
    }

    /// Build a tensor whose node needs a weak reference back to it (the tape's output link).
    pub(crate) fn from_node(
        storage: Arc<Storage>,
        shape: Shape,
        make_node: impl FnOnce(Weak<Inner>, TensorId, Shape, HookList<GradHook>) -> Node,
    ) -> Tensor {
        let id = TensorId::fresh();
        let hooks = HookList::default();
        Tensor(Arc::new_cyclic(|weak| Inner {
            id,
            device: storage.device(),
            storage: RwLock::new(storage),
            requires_grad: AtomicBool::new(true),
            grad_fn: Some(Arc::new(make_node(
                weak.clone(),
                id,
                shape.clone(),
                hooks.clone(),
            ))),
            grad: Mutex::new(None),
            retains_grad: AtomicBool::new(false),
            hooks,
            name: Mutex::new(None),
            shape,
        }))
    }

    /// A detached tensor over `storage` carrying `like`'s shape and gradient flag: what a
    /// backward rule sees of one of its inputs.
    pub(crate) fn saved_view(storage: Arc<Storage>, like: &Tensor) -> Tensor {
        let t = Tensor::from_shared(storage, like.shape().clone());
        t.0.requires_grad
            .store(like.requires_grad(), Ordering::Relaxed);
        t
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Tensor {
        Tensor(inner)
    }

    pub(crate) fn grad_fn(&self) -> Option<Arc<Node>> {
        self.0.grad_fn.clone()
    }

    pub(crate) fn grad_hooks(&self) -> HookList<GradHook> {
        self.0.hooks.clone()
    }

    // ----- metadata -----

    /// This tensor's identity.
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.0.shape
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        self.0.shape.dims()
    }

    /// Size of axis `d`.
    pub fn dim(&self, d: usize) -> usize {
        self.0.shape.dim(d)
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.shape.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.shape.numel()
    }

    /// The device holding the data.
    pub fn device(&self) -> Device {
        self.0.device
    }

    /// The element type (f32 for every tensor today; see [`DType`]).
    pub fn dtype(&self) -> DType {
        DType::F32
    }

    /// A snapshot of the storage (cheap: an `Arc` clone).
    pub fn storage(&self) -> Arc<Storage> {
        self.0.storage.read().unwrap().clone()
    }

    /// A label used when printing the tape (modules name their parameters like PyTorch's
    /// `state_dict`).
    pub fn name(&self) -> Option<String> {
        self.0.name.lock().unwrap().clone()
    }

    /// Set the label shown on the tape.
    pub fn set_name(&self, name: impl Into<String>) {
        *self.0.name.lock().unwrap() = Some(name.into());
    }

    // ----- host transfer -----

    /// Copy the elements to a host vector (waits for the device).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.storage().to_host()
    }

    /// The single value of a one-element tensor.
    pub fn to_scalar(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::shape_expected(
                "to_scalar",
                "a one-element tensor",
                self.shape(),
            ));
        }
        Ok(self.to_vec()?[0])
    }

    /// A copy on another device (a detached tensor: no gradient flows through the move).
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.detach());
        }
        let data = self.to_vec()?;
        Ok(Tensor::from_storage(
            Storage::from_host(device, data)?,
            self.shape().clone(),
        ))
    }

    /// Replace the data in place through `f` (optimizer updates, loading checkpoints). If a
    /// recorded graph still holds the current data, it is copied first so that graph keeps the
    /// values it saw.
    pub fn update_storage(&self, f: impl FnOnce(&mut Storage) -> Result<()>) -> Result<()> {
        let mut guard = self.0.storage.write().unwrap();
        let storage = Arc::make_mut(&mut guard);
        f(storage)?;
        if storage.len() != self.numel() {
            return Err(Error::Invalid(format!(
                "update_storage changed the element count of a tensor of shape {}",
                self.shape()
            )));
        }
        Ok(())
    }

    /// Overwrite this tensor's data with `src`'s (same shape and device), in place.
    pub fn assign(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() {
            return Err(Error::shape(
                "assign",
                format!(
                    "source shape {} != target shape {}",
                    src.shape(),
                    self.shape()
                ),
            ));
        }
        let new = src.storage();
        if new.device() != self.device() {
            return Err(Error::DeviceMismatch {
                op: "assign",
                a: self.device().to_string(),
                b: new.device().to_string(),
            });
        }
        *self.0.storage.write().unwrap() = new;
        Ok(())
    }

    // ----- autograd -----

    /// Does this tensor take part in gradient computation?
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Ask for (or stop asking for) the gradient of a leaf tensor; returns `self` for chaining.
    /// Only leaves can change the flag: the result of an op needs a gradient exactly when one of
    /// its inputs does.
    pub fn requires_grad_(self, on: bool) -> Result<Tensor> {
        if !self.is_leaf() {
            return Err(Error::Autograd(
                "requires_grad_ can only be set on a leaf tensor; use detach() first".into(),
            ));
        }
        self.0.requires_grad.store(on, Ordering::Relaxed);
        Ok(self)
    }

    /// A leaf is a tensor that no recorded op produced (parameters, inputs, constants).
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.is_none()
    }

    /// The accumulated gradient ∂L/∂self, if backward reached this tensor (leaves always keep
    /// it; other tensors only after [`Tensor::retain_grad`]).
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap().clone()
    }

    /// Forget the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap() = None;
    }

    /// Keep the gradient of this intermediate tensor after backward (Grad-CAM needs ∂y/∂A).
    pub fn retain_grad(&self) {
        self.0.retains_grad.store(true, Ordering::Relaxed);
    }

    pub(crate) fn accumulate_grad(&self, g: &Tensor) -> Result<()> {
        let mut slot = self.0.grad.lock().unwrap();
        let new = match slot.take() {
            Some(prev) => autograd::no_grad(|| prev.add(g))?,
            None => g.detach(),
        };
        *slot = Some(new);
        Ok(())
    }

    /// Register a gradient hook: `hook(g)` runs when backward reaches this tensor, with the
    /// summed gradient ∂L/∂self, before it flows to earlier ops; returning `Ok(Some(g2))`
    /// replaces it, and an error stops backward (it is what `backward()` returns).
    pub fn register_grad_hook(
        &self,
        hook: impl Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        if !self.requires_grad() {
            return Err(Error::Autograd(
                "register_grad_hook on a tensor that does not require grad".into(),
            ));
        }
        Ok(self.0.hooks.add(Arc::new(hook)))
    }

    /// A tensor sharing this one's data but cut from the graph: no gradient flows through it.
    pub fn detach(&self) -> Tensor {
        Tensor::from_shared(self.storage(), self.shape().clone())
    }

    /// Back-propagate from this scalar (one-element) tensor: ∂self/∂self = 1.
    pub fn backward(&self) -> Result<()> {
        self.backward_impl(false)
    }

    /// Like [`Tensor::backward`] but keeps the recorded graph, so backward can run again.
    pub fn backward_retain_graph(&self) -> Result<()> {
        self.backward_impl(true)
    }

    fn backward_impl(&self, retain: bool) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::Autograd(format!(
                "backward() needs a one-element tensor, got shape {}; reduce it (sum, mean) or use backward_with_grad",
                self.shape()
            )));
        }
        let seed = Tensor::ones(self.shape().clone(), self.device())?;
        autograd::backward(self, seed, retain)
    }

    /// Back-propagate from a tensor of any shape, with ∂L/∂self = `grad` given.
    pub fn backward_with_grad(&self, grad: &Tensor) -> Result<()> {
        autograd::backward(self, grad.detach(), false)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor(shape={}, device={}, requires_grad={}",
            self.shape(),
            self.device(),
            self.requires_grad()
        )?;
        if let Some(n) = self.name() {
            write!(f, ", name={n}")?;
        }
        if let Some(node) = &self.0.grad_fn {
            write!(f, ", grad_fn={}", node.op)?;
        }
        if self.numel() <= 8 {
            if let Ok(v) = self.to_vec() {
                write!(f, ", data={v:?}")?;
            }
        }
        write!(f, ")")
    }
}
