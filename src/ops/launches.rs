//! A per-thread tally of primitive launches, for seeing (and testing) which kernels an
//! operation really runs.
//!
//! The costly backward primitives note themselves here when they are called: a learner can
//! check that freezing a model's parameters ([`crate::nn::freeze`]) leaves the weight-gradient
//! kernels out of backward, and a test asserts it. The tally is per thread (backward runs on
//! the thread that called it), so tests running in parallel do not see each other's launches.
//! Noting a launch costs one hash-map update, nothing next to a kernel.

use std::cell::RefCell;
use std::collections::BTreeMap;

thread_local! {
    static LAUNCHES: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// Count one launch of primitive `name` on this thread.
pub(crate) fn note(name: &'static str) {
    LAUNCHES.with(|l| *l.borrow_mut().entry(name).or_insert(0) += 1);
}

/// How many times each counted primitive ran on this thread since the last [`reset`].
pub fn counts() -> BTreeMap<&'static str, u64> {
    LAUNCHES.with(|l| l.borrow().clone())
}

/// Launches of one primitive on this thread since the last [`reset`].
pub fn count(name: &str) -> u64 {
    LAUNCHES.with(|l| l.borrow().get(name).copied().unwrap_or(0))
}

/// Forget this thread's tally.
pub fn reset() {
    LAUNCHES.with(|l| l.borrow_mut().clear());
}
