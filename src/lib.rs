//! # shortcut — a tensor engine written from scratch, and a shortcut-learning study on top
//!
//! The engine is small enough to read: tensors on a device ([`Tensor`], [`Device`]), primitive
//! ops organised one folder per op ([`ops`]), an autograd tape you can print ([`autograd`]),
//! PyTorch-like modules with forward and gradient hooks ([`nn`]), losses ([`loss`]),
//! optimizers ([`optim`]) and safetensors checkpoints ([`checkpoint`]).
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

pub mod autograd;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod dtype;
pub mod error;
pub mod files;
pub mod interp;
pub mod interrupt;
pub mod loss;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod plots;
pub mod progress;
pub mod report;
pub mod rng;
pub mod shape;
pub mod study;
pub mod tensor;
pub mod train;

pub use autograd::{no_grad, NoGradGuard};
pub use device::Device;
pub use dtype::DType;
pub use error::{Error, Result};
pub use rng::Rng;
pub use shape::Shape;
pub use tensor::Tensor;
