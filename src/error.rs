//! One error type for the whole engine.
//!
//! Every fallible operation returns [`Result`]. Device problems (no driver, out of memory), shape
//! mistakes and bad files are values a caller can print, never panics: a user of the CLI sees one
//! line that says what is wrong.

use crate::shape::Shape;

/// Everything that can go wrong inside the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Operand shapes do not fit the operation.
    #[error("{op}: {msg}")]
    Shape { op: &'static str, msg: String },

    /// Two operands live on different devices.
    #[error(
        "{op}: operands are on different devices ({a} and {b}); move them with to_device first"
    )]
    DeviceMismatch {
        op: &'static str,
        a: String,
        b: String,
    },

    /// A device was asked for but cannot be used on this machine (no driver, no adapter...).
    #[error("device {device} is not available: {reason}")]
    DeviceUnavailable { device: String, reason: String },

    /// A device ran out of memory.
    #[error("out of memory on {device}: {msg}")]
    OutOfMemory { device: String, msg: String },

    /// Something about automatic differentiation was used wrongly.
    /// A device backend failed (a kernel that does not compile, a lost device, …).
    #[error("device error: {0}")]
    Device(String),

    #[error("autograd: {0}")]
    Autograd(String),

    /// A checkpoint could not be written or read back.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: String, msg: String },

    /// A numeric problem (NaN/inf loss, ...).
    #[error("numeric problem: {0}")]
    Numeric(String),

    /// The user asked the run to stop (Ctrl-C, SIGTERM); the message says what was saved and how
    /// to resume.
    #[error("{0}")]
    Interrupted(String),

    /// An invalid argument that is not a shape problem.
    #[error("{0}")]
    Invalid(String),

    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Shorthand used everywhere in the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A shape error for `op`.
    pub fn shape(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Shape {
            op,
            msg: msg.into(),
        }
    }

    /// A shape error saying `op` expected `expected` and got `got`.
    pub fn shape_expected(op: &'static str, expected: &str, got: &Shape) -> Self {
        Error::Shape {
            op,
            msg: format!("expected {expected}, got shape {got}"),
        }
    }
}
