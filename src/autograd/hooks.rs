//! Hook lists and the handles that remove hooks.
//!
//! A hook list is shared (`Arc`) between the thing that owns it (a tensor, a module) and the
//! autograd node that runs it, so a hook keeps working even when the user dropped their handle to
//! the tensor. Removing goes through a [`HookHandle`], which holds only a weak reference: removing
//! after the owner is gone is a harmless no-op.

use crate::tensor::Tensor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

static NEXT_HOOK_ID: AtomicU64 = AtomicU64::new(1);

/// The shared entries of a hook list: (hook id, hook) in registration order.
type Entries<F> = Arc<Mutex<Vec<(u64, Arc<F>)>>>;

/// An ordered list of hooks of type `F` (a `dyn Fn`), shared between owner and runner.
pub struct HookList<F: ?Sized> {
    inner: Entries<F>,
}

impl<F: ?Sized> Clone for HookList<F> {
    fn clone(&self) -> Self {
        HookList {
            inner: self.inner.clone(),
        }
    }
}

impl<F: ?Sized> Default for HookList<F> {
    fn default() -> Self {
        HookList {
            inner: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl<F: ?Sized + Send + Sync + 'static> HookList<F> {
    /// Append a hook; hooks run in the order they were added.
    pub fn add(&self, hook: Arc<F>) -> HookHandle {
        let id = NEXT_HOOK_ID.fetch_add(1, Ordering::Relaxed);
        self.inner.lock().unwrap().push((id, hook));
        let weak = Arc::downgrade(&self.inner);
        HookHandle {
            id,
            remover: Arc::new(move || {
                if let Some(list) = weak.upgrade() {
                    list.lock().unwrap().retain(|(i, _)| *i != id);
                }
            }),
        }
    }

    /// A snapshot of the hooks, so they run without holding the lock (a hook may add hooks).
    pub fn snapshot(&self) -> Vec<Arc<F>> {
        self.inner
            .lock()
            .unwrap()
            .iter()
            .map(|(_, h)| h.clone())
            .collect()
    }

    /// Number of hooks registered.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().len()
    }

    /// True when no hook is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Returned when a hook is registered; [`HookHandle::remove`] unregisters it. Dropping the handle
/// does *not* remove the hook (as in PyTorch).
#[derive(Clone)]
pub struct HookHandle {
    id: u64,
    remover: Arc<dyn Fn() + Send + Sync>,
}

impl HookHandle {
    /// Unregister the hook. Calling it twice, or after the owner is gone, does nothing.
    pub fn remove(&self) {
        (self.remover)()
    }

    /// A process-unique id of this hook.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// A gradient hook: receives the gradient of the tensor it is registered on, when backward
/// reaches that tensor and before the gradient flows further. Returning `Ok(Some(g))` replaces
/// the gradient by `g` (same shape); `Ok(None)` keeps it; an `Err` stops backward and is what
/// `backward()` returns (a hook that stores or edits tensors can fail, as forward hooks can).
pub type GradHook = dyn Fn(&Tensor) -> crate::error::Result<Option<Tensor>> + Send + Sync;
