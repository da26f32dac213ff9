//! Tensor shapes. Storage is always contiguous and row-major (the last axis varies fastest), so a
//! shape alone fixes the memory layout: element `(i0, i1, …, i_{r-1})` lives at
//! `Σ_d i_d · stride_d` with `stride_{r-1} = 1` and `stride_d = stride_{d+1} · dim_{d+1}`.
//! Images are NCHW: `x[n][c][h][w]` is at `((n·C + c)·H + h)·W + w`.

use std::fmt;

/// The dimensions of a tensor. A scalar has rank 0 and one element.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// A shape from its dimensions.
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    /// The rank-0 shape of a scalar.
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Size of axis `d`.
    pub fn dim(&self, d: usize) -> usize {
        self.0[d]
    }

    /// Contiguous row-major strides, in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.0.len()];
        for d in (0..self.0.len().saturating_sub(1)).rev() {
            s[d] = s[d + 1] * self.0[d + 1];
        }
        s
    }

    /// The four dimensions of an NCHW tensor, or `None` if the rank is not 4.
    pub fn nchw(&self) -> Option<(usize, usize, usize, usize)> {
        match self.0[..] {
            [n, c, h, w] => Some((n, c, h, w)),
            _ => None,
        }
    }

    /// Split the shape around axis `d`: (product of the axes before, size of d, product after).
    /// Reductions, softmax, slicing and concatenation all view a tensor this way.
    pub fn split_at_axis(&self, d: usize) -> (usize, usize, usize) {
        let outer = self.0[..d].iter().product();
        let inner = self.0[d + 1..].iter().product();
        (outer, self.0[d], inner)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Self {
        Shape(v)
    }
}
impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Self {
        Shape(v.to_vec())
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(v: [usize; N]) -> Self {
        Shape(v.to_vec())
    }
}
impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_row_major() {
        assert_eq!(Shape::new([2, 3, 4]).strides(), vec![12, 4, 1]);
        assert_eq!(Shape::scalar().numel(), 1);
        assert_eq!(Shape::new([2, 3, 4]).split_at_axis(1), (2, 3, 4));
    }
}
