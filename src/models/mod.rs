//! The study's models, with the parameter names the original PyTorch code gives them.
//!
//! * [`LazyCNN`]: one 3×3 conv, then an immediate 2×2 average pool — it can only average
//!   colours, so it learns the colour shortcut (SPEC Task 1).
//! * [`ShapeCNN`]: five 3×3 convs with gradual pooling — deep enough that shape becomes the
//!   easiest signal (SPEC Task 4.3).

mod lazy_cnn;
mod shape_cnn;

pub use lazy_cnn::LazyCNN;
pub use shape_cnn::ShapeCNN;
