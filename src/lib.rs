//! # shortcut — a tensor engine written from scratch, and a shortcut-learning study on top
//!
//! The engine is small enough to read: tensors on a device ([`Tensor`], [`Device`]), primitive
//! ops organised one folder per op ([`ops`]), an autograd tape you can print ([`autograd`]),
//! PyTorch-like modules with forward and gradient hooks ([`nn`]), losses ([`loss`]),
//! optimizers ([`optim`]) and safetensors checkpoints ([`checkpoint`]).
//!
//! The study sits on top, in layers that only look down (docs/architecture.md): the data
//! ([`data`]) and the models ([`models`]); measuring a model ([`measure`]); the training frame
//! and methods ([`train`]) beside the interpretability tools ([`interp`]); and the study's
//! tasks and report ([`study`]).
//!
//! ## A worked example of the tape
//!
//! ```
//! use shortcut::{Device, Tensor, autograd::Tape};
//! # fn main() -> shortcut::Result<()> {
//! let w = Tensor::from_vec(vec![2.0, -1.0], [2, 1], Device::Cpu)?.requires_grad_(true)?;
//! let x = Tensor::from_vec(vec![1.0, 3.0], [1, 2], Device::Cpu)?;
//! let y = x.matmul(&w)?;            // recorded: matmul   y = 1·2 + 3·(−1) = −1
//! let loss = y.sqr()?.sum_all()?;  // recorded: pow_scalar, reshape, sum   L = y² = 1
//! println!("{}", Tape::of(&loss)?); // the recorded ops, oldest first
//! loss.backward()?;                // walks the tape backwards
//! // ∂L/∂w = xᵀ · 2y = [1, 3]ᵀ · (−2)
//! assert_eq!(w.grad().unwrap().to_vec()?, vec![-2.0, -6.0]);
//! # Ok(())
//! # }
//! ```
//!
//! See `examples/backprop_walkthrough.rs` for a conv net, step by step.

// The layers, lowest first (docs/architecture.md; `tests/layers.rs` checks that no module uses
// a layer above its own).

// Base: errors, shapes, the RNG, files, Ctrl-C, progress bars, PNG figures.
pub mod dtype;
pub mod error;
pub mod files;
pub mod interrupt;
pub mod plots;
pub mod progress;
pub mod report;
pub mod rng;
pub mod shape;

// The engine: devices and kernels, tensors, the tape, ops, modules, losses, optimizers.
pub mod autograd;
pub mod checkpoint;
pub mod device;
pub mod loss;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod tensor;

// The data and the models.
pub mod data;
pub mod models;

// The study: measuring a model, training methods and interpretability on top of that, the
// tasks and their report.
pub mod interp;
pub mod measure;
pub mod study;
pub mod train;

pub use autograd::{no_grad, NoGradGuard};
pub use device::Device;
pub use dtype::DType;
pub use error::{Error, Result};
pub use rng::Rng;
pub use shape::Shape;
pub use tensor::Tensor;
