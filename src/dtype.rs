//! Element types. Every kernel computes in f32 today; the enum exists so that storage in f16/bf16
//! (through the `half` crate) can be added without changing any API: checkpoints already read
//! f16 and bf16 tensors and widen them to f32.

use std::fmt;

/// The element type of a tensor's storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    BF16,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
        }
    }

    /// Decode little-endian bytes of this type into f32 values.
    pub fn decode_le(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            DType::F32 => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F16 => bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => bytes
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
        };
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_half_precision() {
        let h = half::f16::from_f32(1.5).to_le_bytes();
        assert_eq!(DType::F16.decode_le(&h), vec![1.5]);
        let b = half::bf16::from_f32(-2.0).to_le_bytes();
        assert_eq!(DType::BF16.decode_le(&b), vec![-2.0]);
    }
}
