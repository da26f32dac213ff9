//! Layout and indexing: reshape, flatten, permute, index_select, slice (narrow), cat.
//!
//! * reshape shares the storage (contiguous row-major data reads the same under any shape with
//!   the same numel); backward reshapes g back.
//! * permute copies: out[i₀…] = x[i_{perm⁻¹}…]; backward permutes g by the inverse permutation.
//! * index_select along axis 0 copies rows; backward adds each row of g into the row it came
//!   from (`index_select_bwd`; a row picked twice gets both gradients).
//! * slice copies `len` entries of an axis starting at `start`; backward writes g into zeros
//!   at that offset (`slice_bwd`).
//! * cat copies tensors one after another along an axis; backward slices g.

pub mod cpu;
pub mod gpu;
mod gpu_args;

use super::{normalize_axis, same_device};
use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

impl Tensor {
    /// The same data under another shape with the same number of elements (no copy).
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if shape.numel() != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!(
                    "cannot view {} ({} elements) as {shape}",
                    self.shape(),
                    self.numel()
                ),
            ));
        }
        let src = self.shape().clone();
        Ok(record(
            "reshape",
            &[self],
            self.storage(),
            shape,
            move |_, g| Ok(vec![Some(g.reshape(src.clone())?)]),
        ))
    }

    /// Merge axes `start..` into one (PyTorch's `flatten(start_dim)`; `nn.Flatten` uses 1).
    pub fn flatten(&self, start: usize) -> Result<Tensor> {
        if start >= self.rank().max(1) {
            return Err(Error::shape(
                "flatten",
                format!("start axis {start} out of range for {}", self.shape()),
            ));
        }
        let mut d = self.dims()[..start].to_vec();
        d.push(self.dims()[start..].iter().product());
        self.reshape(d)
    }

    /// Reorder the axes: output axis i is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        let r = self.rank();
        let mut seen = vec![false; r];
        if perm.len() != r
            || perm
                .iter()
                .any(|&p| p >= r || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::shape(
                "permute",
                format!(
                    "{perm:?} is not a permutation of the {r} axes of {}",
                    self.shape()
                ),
            ));
        }
        let out_dims: Vec<usize> = perm.iter().map(|&p| self.dim(p)).collect();
        let s = self.storage();
        let out = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::permute(s.cpu()?, self.dims(), perm)),
            Device::Cuda => Storage::Cuda(gpu::permute::<Cuda>(s.cuda()?, self.dims(), perm)?),
            Device::Wgpu => Storage::Wgpu(gpu::permute::<Wgpu>(s.wgpu()?, self.dims(), perm)?),
        };
        let mut inv = vec![0; r];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        Ok(record(
            "permute",
            &[self],
            out,
            Shape::new(out_dims),
            move |_, g| Ok(vec![Some(g.permute(&inv)?)]),
        ))
    }

    /// Rows `indices` of axis 0, in that order (selecting a batch from a dataset).
    pub fn index_select(&self, indices: &[usize]) -> Result<Tensor> {
        if self.rank() == 0 {
            return Err(Error::shape("index_select", "needs at least one axis"));
        }
        let rows = self.dim(0);
        if let Some(&bad) = indices.iter().find(|&&i| i >= rows) {
            return Err(Error::Invalid(format!(
                "index_select: index {bad} out of range for {rows} rows"
            )));
        }
        let row = self.numel() / rows.max(1);
        let s = self.storage();
        let out = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::index_select(s.cpu()?, row, indices)),
            Device::Cuda => Storage::Cuda(gpu::index_select::<Cuda>(s.cuda()?, row, indices)?),
            Device::Wgpu => Storage::Wgpu(gpu::index_select::<Wgpu>(s.wgpu()?, row, indices)?),
        };
        let mut dims = self.dims().to_vec();
        dims[0] = indices.len();
        let idx = indices.to_vec();
        let in_shape = self.shape().clone();
        Ok(record(
            "index_select",
            &[self],
            out,
            Shape::new(dims),
            move |_, g| {
                let sg = g.storage();
                let dx = match g.device() {
                    Device::Cpu => Storage::from_cpu(cpu::index_select_bwd(
                        sg.cpu()?,
                        row,
                        &idx,
                        in_shape.dim(0),
                    )),
                    Device::Cuda => Storage::Cuda(gpu::index_select_bwd::<Cuda>(
                        sg.cuda()?,
                        row,
                        &idx,
                        in_shape.dim(0),
                    )?),
                    Device::Wgpu => Storage::Wgpu(gpu::index_select_bwd::<Wgpu>(
                        sg.wgpu()?,
                        row,
                        &idx,
                        in_shape.dim(0),
                    )?),
                };
                Ok(vec![Some(Tensor::from_storage(dx, in_shape.clone()))])
            },
        ))
    }

    /// Entries `start .. start + len` of `axis` (PyTorch's `narrow`).
    pub fn slice(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let ax = normalize_axis("slice", axis, self.rank())?;
        let (outer, n, inner) = self.shape().split_at_axis(ax);
        if start + len > n {
            return Err(Error::shape(
                "slice",
                format!("{start}..{} exceeds axis {ax} of size {n}", start + len),
            ));
        }
        let s = self.storage();
        let out = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::slice(s.cpu()?, outer, n, inner, start, len)),
            Device::Cuda => {
                Storage::Cuda(gpu::slice::<Cuda>(s.cuda()?, outer, n, inner, start, len)?)
            }
            Device::Wgpu => {
                Storage::Wgpu(gpu::slice::<Wgpu>(s.wgpu()?, outer, n, inner, start, len)?)
            }
        };
        let mut dims = self.dims().to_vec();
        dims[ax] = len;
        let in_shape = self.shape().clone();
        Ok(record(
            "slice",
            &[self],
            out,
            Shape::new(dims),
            move |_, g| {
                let sg = g.storage();
                let dx = match g.device() {
                    Device::Cpu => {
                        Storage::from_cpu(cpu::slice_bwd(sg.cpu()?, outer, n, inner, start, len))
                    }
                    Device::Cuda => Storage::Cuda(gpu::slice_bwd::<Cuda>(
                        sg.cuda()?,
                        outer,
                        n,
                        inner,
                        start,
                        len,
                    )?),
                    Device::Wgpu => Storage::Wgpu(gpu::slice_bwd::<Wgpu>(
                        sg.wgpu()?,
                        outer,
                        n,
                        inner,
                        start,
                        len,
                    )?),
                };
                Ok(vec![Some(Tensor::from_storage(dx, in_shape.clone()))])
            },
        ))
    }

    /// Concatenate tensors along `axis` (all other axes must agree).
    pub fn cat(tensors: &[Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::Invalid("cat of no tensors".into()))?;
        let ax = normalize_axis("cat", axis, first.rank())?;
        for t in tensors {
            let ok = t.rank() == first.rank()
                && t.dims()
                    .iter()
                    .zip(first.dims())
                    .enumerate()
                    .all(|(i, (a, b))| i == ax || a == b);
            if !ok {
                return Err(Error::shape(
                    "cat",
                    format!(
                        "cannot concatenate {} with {} along axis {ax}",
                        first.shape(),
                        t.shape()
                    ),
                ));
            }
        }
        let refs: Vec<&Tensor> = tensors.iter().collect();
        let device = same_device("cat", &refs)?;
        let sizes: Vec<usize> = tensors.iter().map(|t| t.dim(ax)).collect();
        let mut dims = first.dims().to_vec();
        dims[ax] = sizes.iter().sum();
        let out_shape = Shape::new(dims);
        let (outer, total, inner) = out_shape.split_at_axis(ax);
        let storages: Vec<_> = tensors.iter().map(|t| t.storage()).collect();
        let out = match device {
            Device::Cpu => {
                let parts: Vec<&[f32]> = storages.iter().map(|s| s.cpu()).collect::<Result<_>>()?;
                Storage::from_cpu(cpu::cat(&parts, &sizes, outer, total, inner))
            }
            Device::Cuda => {
                let parts: Vec<_> = storages.iter().map(|s| s.cuda()).collect::<Result<_>>()?;
                Storage::Cuda(gpu::cat::<Cuda>(&parts, &sizes, outer, total, inner)?)
            }
            Device::Wgpu => {
                let parts: Vec<_> = storages.iter().map(|s| s.wgpu()).collect::<Result<_>>()?;
                Storage::Wgpu(gpu::cat::<Wgpu>(&parts, &sizes, outer, total, inner)?)
            }
        };
        Ok(record("cat", &refs, out, out_shape, move |_, g| {
            let mut start = 0;
            let mut grads = Vec::with_capacity(sizes.len());
            for &len in &sizes {
                grads.push(Some(g.slice(ax as isize, start, len)?));
                start += len;
            }
            Ok(grads)
        }))
    }
}

/// Sizes of an indexing launch, mirrored in `shaders/index.wgsl` and `kernels/index.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct IndexArgs {
    pub count: u32,
    pub outer: u32,
    pub n: u32,
    pub inner: u32,
    pub start: u32,
    pub len: u32,
    pub row: u32,
    pub _pad: u32,
}
