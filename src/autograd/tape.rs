//! A printable view of the recorded ops behind a tensor.

use super::collect_nodes;
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorId};
use std::collections::HashMap;
use std::fmt;

/// One recorded op, as the tape shows it.
#[derive(Clone, Debug)]
pub struct TapeEntry {
    /// Position in recording order (0 = first op recorded).
    pub index: usize,
    /// The op's name (`conv2d`, `relu`, ...).
    pub op: &'static str,
    /// For each input: a label (a parameter's name, `%k` for the output of entry k, or `input`),
    /// its shape, and whether it needs a gradient.
    pub inputs: Vec<(String, Shape, bool)>,
    /// The shape of the op's output.
    pub output_shape: Shape,
}

/// The ops recorded on the way to a tensor, in the order they ran. `backward()` walks this list
/// from the last entry to the first.
#[derive(Clone, Debug)]
pub struct Tape {
    pub entries: Vec<TapeEntry>,
}

impl Tape {
    /// The tape behind `t` (empty if `t` was not produced by recorded ops). Print it before
    /// calling `backward()`, which releases the recorded inputs.
    pub fn of(t: &Tensor) -> Result<Tape> {
        let mut nodes = collect_nodes(t)?;
        nodes.reverse(); // oldest first
        let mut label: HashMap<TensorId, String> = HashMap::new();
        let mut entries = Vec::with_capacity(nodes.len());
        for (index, node) in nodes.iter().enumerate() {
            let inputs_now = node.inputs.lock().unwrap().clone().unwrap_or_default();
            let inputs = node
                .input_info
                .iter()
                .enumerate()
                .map(|(k, (id, shape, rg))| {
                    let name = label.get(id).cloned().unwrap_or_else(|| {
                        inputs_now.get(k).and_then(|t| t.name()).unwrap_or_else(|| {
                            if *rg {
                                "leaf".into()
                            } else {
                                "const".into()
                            }
                        })
                    });
                    (name, shape.clone(), *rg)
                })
                .collect();
            label.insert(node.output_id, format!("%{index}"));
            entries.push(TapeEntry {
                index,
                op: node.op,
                inputs,
                output_shape: node.output_shape.clone(),
            });
        }
        Ok(Tape { entries })
    }

    /// Number of recorded ops.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            write!(f, "%{:<3} = {:<22}(", e.index, e.op)?;
            for (i, (name, shape, rg)) in e.inputs.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{name}{shape}{}", if *rg { "*" } else { "" })?;
            }
            writeln!(f, ") -> {}", e.output_shape)?;
        }
        write!(f, "({} ops; * = needs gradient)", self.entries.len())
    }
}
