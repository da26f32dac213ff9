//! 2-D convolution (cross-correlation, as in PyTorch), NCHW.
//!
//! # Forward
//!
//! x: [N, C, H, W], w: [O, C, KH, KW], b: [O] → y: [N, O, OH, OW] with
//! `OH = (H + 2·pad_h − KH) / stride_h + 1` (likewise OW) and
//!
//! ```text
//! y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · x[n, c, oy·stride_h − pad_h + ky, ox·stride_w − pad_w + kx]
//! ```
//!
//! (x outside the image reads as 0: zero padding).
//!
//! # Backward, as three primitives
//!
//! * `conv2d_bwd_input`:  ∂L/∂x[n,c,iy,ix] = Σ_{o,ky,kx} g[n,o,oy,ox] · w[o,c,ky,kx] over the
//!   (oy, ox) with oy·stride_h − pad_h + ky = iy (and likewise for x): a transposed convolution.
//! * `conv2d_bwd_weight`: ∂L/∂w[o,c,ky,kx] = Σ_{n,oy,ox} g[n,o,oy,ox] · x[n,c,oy·s−p+ky,ox·s−p+kx].
//! * `conv2d_bwd_bias`:   ∂L/∂b[o] = Σ_{n,oy,ox} g[n,o,oy,ox].
//!
//! Kernels: `cpu.rs` (im2col + packed GEMM, the fast path) and `reference.rs` (direct loops in
//! f64, the test oracle).

pub mod cpu;
pub mod cuda;
pub mod pooled;
pub mod reference;
pub mod wgpu;
pub mod winograd;

use super::pool::{max_pool2d_bwd, PoolArgs, PoolParams};
use super::relu::{gpu::relu_fwd as gpu_relu, relu_bwd};
use super::same_device;
use crate::autograd::record;
use crate::device::backend::{Backend, Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::sync::Arc;

/// Stride and zero padding of a convolution, per spatial axis (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl Conv2dParams {
    /// The same stride and padding along both axes.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams {
            stride: (stride, stride),
            padding: (padding, padding),
        }
    }
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams::new(1, 0)
    }
}

/// Every size a conv2d kernel needs, as u32: the parameter struct mirrored in Rust, CUDA
/// (`kernels/conv2d.cu`) and WGSL (`shaders/conv2d.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Conv2dArgs {
    pub n: u32,
    pub c_in: u32,
    pub h: u32,
    pub w: u32,
    pub c_out: u32,
    pub kh: u32,
    pub kw: u32,
    pub stride_h: u32,
    pub stride_w: u32,
    pub pad_h: u32,
    pub pad_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub _pad: [u32; 3],
}

impl Conv2dArgs {
    /// Check the shapes of input and weight and derive the output size.
    pub fn new(x: &Shape, w: &Shape, p: &Conv2dParams) -> Result<Conv2dArgs> {
        let (n, c, h, wd) = x
            .nchw()
            .ok_or_else(|| Error::shape_expected("conv2d", "input [N, C, H, W]", x))?;
        let (o, wc, kh, kw) = w
            .nchw()
            .ok_or_else(|| Error::shape_expected("conv2d", "weight [O, C, KH, KW]", w))?;
        if wc != c {
            return Err(Error::shape(
                "conv2d",
                format!("input has {c} channels but the weight {w} expects {wc}"),
            ));
        }
        if p.stride.0 == 0 || p.stride.1 == 0 {
            return Err(Error::Invalid("conv2d: stride must be ≥ 1".into()));
        }
        if h + 2 * p.padding.0 < kh || wd + 2 * p.padding.1 < kw || kh == 0 || kw == 0 {
            return Err(Error::shape(
                "conv2d",
                format!(
                    "kernel {kh}×{kw} is larger than the padded input {h}×{wd} (padding {:?})",
                    p.padding
                ),
            ));
        }
        let out_h = (h + 2 * p.padding.0 - kh) / p.stride.0 + 1;
        let out_w = (wd + 2 * p.padding.1 - kw) / p.stride.1 + 1;
        let u = |v: usize| v as u32;
        Ok(Conv2dArgs {
            n: u(n),
            c_in: u(c),
            h: u(h),
            w: u(wd),
            c_out: u(o),
            kh: u(kh),
            kw: u(kw),
            stride_h: u(p.stride.0),
            stride_w: u(p.stride.1),
            pad_h: u(p.padding.0),
            pad_w: u(p.padding.1),
            out_h: u(out_h),
            out_w: u(out_w),
            _pad: [0; 3],
        })
    }

    /// Output shape [N, O, OH, OW].
    pub fn out_shape(&self) -> Shape {
        Shape::new([
            self.n as usize,
            self.c_out as usize,
            self.out_h as usize,
            self.out_w as usize,
        ])
    }

    /// Multiply–adds of the forward pass (each backward pass does as many).
    pub fn macs(&self) -> u64 {
        let a = |v: u32| v as u64;
        a(self.n)
            * a(self.c_out)
            * a(self.out_h)
            * a(self.out_w)
            * a(self.c_in)
            * a(self.kh)
            * a(self.kw)
    }
}

impl Tensor {
    /// Convolve this [N, C, H, W] input with `weight` [O, C, KH, KW] and an optional `bias` [O].
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
    ) -> Result<Tensor> {
        let (args, inputs) = conv2d_inputs(self, weight, bias, &params)?;
        let storage = conv2d_storage(&inputs, &args, false)?;
        Ok(record(
            "conv2d",
            &inputs,
            storage,
            args.out_shape(),
            move |inp, g| conv2d_grads(inp, g, &args),
        ))
    }

    /// `relu(conv2d(x, weight, bias))` as one operation on the tape, `conv2d_relu`: on the CPU
    /// the ReLU is applied where each output is produced (no separate pass over the output, no
    /// pre-activation tensor kept); on a GPU it is the two kernels in a row. Backward masks the
    /// incoming gradient with the saved output (y > 0 exactly where the pre-activation was) and
    /// then runs the convolution's three gradients. [`crate::nn::Sequential`] uses it for a
    /// `Conv2d` followed by a `ReLU` when neither has hooks.
    pub fn conv2d_relu(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
    ) -> Result<Tensor> {
        let (args, inputs) = conv2d_inputs(self, weight, bias, &params)?;
        let storage = Arc::new(conv2d_storage(&inputs, &args, true)?);
        let saved_y = Tensor::from_shared(storage.clone(), args.out_shape());
        Ok(record(
            "conv2d_relu",
            &inputs,
            storage,
            args.out_shape(),
            move |inp, g| conv2d_relu_grads(inp, g, &saved_y, &args),
        ))
    }
}

impl Tensor {
    /// `relu(conv2d(x, weight, bias))` pooled to `out_h × out_w` by adaptive averaging, as one
    /// operation on the tape (`conv2d_relu_pool`) where the CPU's fused kernel takes the shape
    /// ([`pooled::supports`]: a 3×3, stride-1, padding-1 convolution of at most 4 input
    /// channels on an even-sized map whose pooling windows split at even rows and columns —
    /// LazyCNN's feature extractor). The [N, O, H, W] activation is never formed: backward
    /// keeps one ReLU bit per output instead. Elsewhere (other shapes, GPUs, the im2col path
    /// forced) it is
    /// [`Tensor::conv2d_relu`] then [`Tensor::adaptive_avg_pool2d`], two operations on the
    /// tape. The fused convolution runs through Winograd F(2×2, 3×3), so its rounding differs
    /// from the im2col path's (`tests/pooled.rs` states the bound).
    pub fn conv2d_relu_adaptive_avg_pool2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
        out_h: usize,
        out_w: usize,
    ) -> Result<Tensor> {
        let (args, inputs) = conv2d_inputs(self, weight, bias, &params)?;
        let Some(s) = fused_pool_shape(&args, self.device(), out_h, out_w) else {
            return self
                .conv2d_relu(weight, bias, params)?
                .adaptive_avg_pool2d(out_h, out_w);
        };
        let keep_mask =
            crate::autograd::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
        let (y, mask) = {
            let (sx, sw) = (inputs[0].storage(), inputs[1].storage());
            let sb = inputs.get(2).map(|b| b.storage());
            let b = sb.as_ref().map(|st| st.cpu()).transpose()?;
            pooled::forward(sx.cpu()?, sw.cpu()?, b, s, keep_mask)
        };
        let mask = Arc::new(mask);
        Ok(record(
            "conv2d_relu_pool",
            &inputs,
            Storage::from_cpu(y),
            Shape::new([s.n, s.o, s.oh, s.ow]),
            move |inp, g| conv2d_relu_pool_grads(inp, g, &mask, s, &args),
        ))
    }
}

impl Tensor {
    /// `max_pool2d(relu(conv2d(x, weight, bias)), 2×2, stride 2)` as one operation on the tape
    /// (`conv2d_relu_maxpool`) where the CPU computes the convolution through Winograd and the
    /// map's sides are even (ShapeCNN's conv2 and conv4): each group of images is pooled while
    /// its outputs are still in the cache, so the full-size activation is neither written nor
    /// read back, nor kept for backward. Elsewhere it is [`Tensor::conv2d_relu`] then
    /// [`Tensor::max_pool2d`]. The values, the kept argmax and all three gradients have exactly
    /// the separate operations' bits (`tests/fusion.rs`): backward masks the pooled gradient
    /// with the pooled output (the ReLU's output at each window's argmax), routes it to the
    /// argmax (`max_pool2d`'s backward) and runs the convolution's gradients.
    pub fn conv2d_relu_max_pool2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
    ) -> Result<Tensor> {
        let pool = PoolParams::new(2, 2, 0);
        let (args, inputs) = conv2d_inputs(self, weight, bias, &params)?;
        let fused = if self.device() == Device::Cpu {
            let (sx, sw) = (inputs[0].storage(), inputs[1].storage());
            let sb = inputs.get(2).map(|b| b.storage());
            let b = sb.as_ref().map(|st| st.cpu()).transpose()?;
            cpu::conv2d_relu_max_pool2_fwd(sx.cpu()?, sw.cpu()?, b, &args)
        } else {
            None
        };
        let Some((y, idx)) = fused else {
            return self.conv2d_relu(weight, bias, params)?.max_pool2d(pool);
        };
        let conv_shape = args.out_shape();
        let (pool_args, out_shape) = PoolArgs::new("max_pool2d", &conv_shape, &pool)?;
        let storage = Arc::new(Storage::from_cpu(y));
        let saved_y = Tensor::from_shared(storage.clone(), out_shape.clone());
        let idx = Tensor::from_storage(Storage::from_cpu(idx), out_shape.clone());
        Ok(record(
            "conv2d_relu_maxpool",
            &inputs,
            storage,
            out_shape,
            move |inp, g| {
                let g_conv =
                    max_pool2d_bwd(&relu_bwd(g, &saved_y)?, &idx, &conv_shape, &pool_args)?;
                conv2d_grads(inp, &g_conv, &args)
            },
        ))
    }
}

/// The fused kernel's sizes, when it can run this convolution and pooling on this device.
fn fused_pool_shape(
    a: &Conv2dArgs,
    device: Device,
    out_h: usize,
    out_w: usize,
) -> Option<pooled::Shape> {
    let three_by_three = a.kh == 3 && a.kw == 3;
    let same = a.stride_h == 1 && a.stride_w == 1 && a.pad_h == 1 && a.pad_w == 1;
    let (c, h, w) = (a.c_in as usize, a.h as usize, a.w as usize);
    // `SHORTCUT_CONV=im2col` (or `set_algorithm(Im2col)`) asks for the plain path everywhere.
    let plain = cpu::algorithm() == cpu::Algorithm::Im2col;
    let fits = device == Device::Cpu
        && !plain
        && three_by_three
        && same
        && pooled::supports(c, h, w, out_h, out_w);
    fits.then_some(pooled::Shape {
        n: a.n as usize,
        c,
        h,
        w,
        o: a.c_out as usize,
        oh: out_h,
        ow: out_w,
    })
}

/// The gradients of [`Tensor::conv2d_relu_adaptive_avg_pool2d`]'s inputs from ∂L/∂pooled:
/// the weight and bias gradients straight from the input and the ReLU bits
/// ([`pooled::backward`]); the input's, when it needs one, through the pre-activation
/// gradient and the convolution's transposed pass.
fn conv2d_relu_pool_grads(
    inp: &[Tensor],
    g: &Tensor,
    mask: &[u16],
    s: pooled::Shape,
    args: &Conv2dArgs,
) -> Result<Vec<Option<Tensor>>> {
    same_device("conv2d_relu_pool backward", &[g, &inp[0]])?;
    let (x, w) = (&inp[0], &inp[1]);
    let wants_params = w.requires_grad() || inp.get(2).is_some_and(|b| b.requires_grad());
    let (mut gw, mut gb) = (None, None);
    if wants_params {
        super::launches::note("conv2d_relu_pool_bwd_params");
        let (dw, db) = {
            let (sg, sx) = (g.storage(), x.storage());
            pooled::backward(sx.cpu()?, sg.cpu()?, mask, s)
        };
        gw = w
            .requires_grad()
            .then(|| Tensor::from_storage(Storage::from_cpu(dw), Shape::new([s.o, s.c, 3, 3])));
        gb = Some(Tensor::from_storage(
            Storage::from_cpu(db),
            Shape::new([s.o]),
        ));
    }
    let gx = if x.requires_grad() {
        let gpre = {
            let sg = g.storage();
            pooled::pre_activation_grad(sg.cpu()?, mask, s)
        };
        let gpre = Tensor::from_storage(Storage::from_cpu(gpre), args.out_shape());
        Some(conv2d_bwd_input(&gpre, w, args)?)
    } else {
        None
    };
    let mut out = vec![gx, gw];
    if let Some(b) = inp.get(2) {
        out.push(gb.filter(|_| b.requires_grad()));
    }
    Ok(out)
}

/// Check a convolution's operands: its sizes and the list of inputs the tape records (x, w and
/// the bias when there is one).
fn conv2d_inputs<'a>(
    x: &'a Tensor,
    weight: &'a Tensor,
    bias: Option<&'a Tensor>,
    params: &Conv2dParams,
) -> Result<(Conv2dArgs, Vec<&'a Tensor>)> {
    let args = Conv2dArgs::new(x.shape(), weight.shape(), params)?;
    if let Some(b) = bias {
        if b.dims() != [args.c_out as usize] {
            return Err(Error::shape(
                "conv2d",
                format!("bias must have shape [{}], got {}", args.c_out, b.shape()),
            ));
        }
    }
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    same_device("conv2d", &inputs)?;
    Ok((args, inputs))
}

/// The forward kernels on the inputs' device (x, w, optional bias), ReLU included with `relu`.
fn conv2d_storage(inputs: &[&Tensor], args: &Conv2dArgs, relu: bool) -> Result<Storage> {
    let (sx, sw) = (inputs[0].storage(), inputs[1].storage());
    let sb = inputs.get(2).map(|b| b.storage());
    Ok(match inputs[0].device() {
        Device::Cpu => {
            let b = match &sb {
                Some(s) => Some(s.cpu()?),
                None => None,
            };
            let y = cpu::conv2d_fwd_fused(sx.cpu()?, sw.cpu()?, b, args, relu);
            Storage::from_cpu(y)
        }
        Device::Cuda => {
            let b = match &sb {
                Some(s) => Some(s.cuda()?),
                None => None,
            };
            let y = cuda::conv2d_fwd(sx.cuda()?, sw.cuda()?, b, args)?;
            Storage::Cuda(if relu { gpu_relu::<Cuda>(&y)? } else { y })
        }
        Device::Wgpu => {
            let b = match &sb {
                Some(s) => Some(s.wgpu()?),
                None => None,
            };
            let y = wgpu::conv2d_fwd(sx.wgpu()?, sw.wgpu()?, b, args)?;
            Storage::Wgpu(if relu { gpu_relu::<Wgpu>(&y)? } else { y })
        }
    })
}

/// The gradients of [`Tensor::conv2d_relu`]'s inputs from ∂L/∂y and the saved output y: the
/// ReLU's mask, then the convolution's gradients. On the CPU the mask and the bias gradient
/// are one pass ([`cpu::relu_mask_and_bias_grad`]); elsewhere two kernels.
fn conv2d_relu_grads(
    inp: &[Tensor],
    g: &Tensor,
    y: &Tensor,
    args: &Conv2dArgs,
) -> Result<Vec<Option<Tensor>>> {
    let wants_db = inp.get(2).is_some_and(|b| b.requires_grad());
    if g.device() != Device::Cpu || !wants_db {
        return conv2d_grads(inp, &relu_bwd(g, y)?, args);
    }
    super::launches::note("relu_mask_and_bias_grad");
    same_device("conv2d_relu backward", &[g, y])?;
    let (n, o, p) = (
        args.n as usize,
        args.c_out as usize,
        (args.out_h * args.out_w) as usize,
    );
    let (gm, db) = {
        let (sg, sy) = (g.storage(), y.storage());
        cpu::relu_mask_and_bias_grad(sg.cpu()?, sy.cpu()?, n, o, p)
    };
    let gm = Tensor::from_storage(Storage::from_cpu(gm), g.shape().clone());
    let mut out = conv2d_grads(&inp[..2], &gm, args)?;
    out.push(Some(Tensor::from_storage(
        Storage::from_cpu(db),
        Shape::new([o]),
    )));
    Ok(out)
}

/// The gradients of x, w and (when an input) the bias from ∂L/∂y, each only when its tensor
/// requires one.
fn conv2d_grads(inp: &[Tensor], g: &Tensor, args: &Conv2dArgs) -> Result<Vec<Option<Tensor>>> {
    let (x, w) = (&inp[0], &inp[1]);
    let gx = if x.requires_grad() {
        Some(conv2d_bwd_input(g, w, args)?)
    } else {
        None
    };
    let gw = if w.requires_grad() {
        Some(conv2d_bwd_weight(g, x, args)?)
    } else {
        None
    };
    let mut out = vec![gx, gw];
    if inp.len() == 3 {
        out.push(if inp[2].requires_grad() {
            Some(conv2d_bwd_bias(g)?)
        } else {
            None
        });
    }
    Ok(out)
}

/// Primitive: ∂L/∂x from ∂L/∂y and the weight.
pub fn conv2d_bwd_input(g: &Tensor, w: &Tensor, args: &Conv2dArgs) -> Result<Tensor> {
    super::launches::note("conv2d_bwd_input");
    same_device("conv2d_bwd_input", &[g, w])?;
    let (sg, sw) = (g.storage(), w.storage());
    let storage = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::conv2d_bwd_input(sg.cpu()?, sw.cpu()?, args)),
        Device::Cuda => Storage::Cuda(cuda::conv2d_bwd_input(sg.cuda()?, sw.cuda()?, args)?),
        Device::Wgpu => Storage::Wgpu(wgpu::conv2d_bwd_input(sg.wgpu()?, sw.wgpu()?, args)?),
    };
    let a = args;
    let shape = Shape::new([a.n as usize, a.c_in as usize, a.h as usize, a.w as usize]);
    Ok(Tensor::from_storage(storage, shape))
}

/// Primitive: ∂L/∂w from ∂L/∂y and the input.
pub fn conv2d_bwd_weight(g: &Tensor, x: &Tensor, args: &Conv2dArgs) -> Result<Tensor> {
    super::launches::note("conv2d_bwd_weight");
    same_device("conv2d_bwd_weight", &[g, x])?;
    let (sg, sx) = (g.storage(), x.storage());
    let storage = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::conv2d_bwd_weight(sg.cpu()?, sx.cpu()?, args)),
        Device::Cuda => Storage::Cuda(cuda::conv2d_bwd_weight(sg.cuda()?, sx.cuda()?, args)?),
        Device::Wgpu => Storage::Wgpu(wgpu::conv2d_bwd_weight(sg.wgpu()?, sx.wgpu()?, args)?),
    };
    let a = args;
    let shape = Shape::new([
        a.c_out as usize,
        a.c_in as usize,
        a.kh as usize,
        a.kw as usize,
    ]);
    Ok(Tensor::from_storage(storage, shape))
}

/// Primitive: ∂L/∂b[o] = Σ over n, oy, ox of ∂L/∂y.
pub fn conv2d_bwd_bias(g: &Tensor) -> Result<Tensor> {
    super::launches::note("conv2d_bwd_bias");
    let (n, o, oh, ow) = g
        .shape()
        .nchw()
        .ok_or_else(|| Error::shape_expected("conv2d_bwd_bias", "[N, O, OH, OW]", g.shape()))?;
    let sg = g.storage();
    let storage = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::conv2d_bwd_bias(sg.cpu()?, n, o, oh * ow)),
        Device::Cuda => Storage::Cuda(gpu_bias::<Cuda>(sg.cuda()?, n, o, oh * ow)?),
        Device::Wgpu => Storage::Wgpu(gpu_bias::<Wgpu>(sg.wgpu()?, n, o, oh * ow)?),
    };
    Ok(Tensor::from_storage(storage, Shape::new([o])))
}

/// The launch parameters of the GPU kernels: the shape plus per-pass extras, mirrored as
/// `ConvLaunch` in `shaders/conv2d.wgsl` and `kernels/conv2d.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConvLaunch {
    pub a: Conv2dArgs,
    pub has_bias: u32,
    /// Positions per split of the weight-gradient GEMM (a multiple of 16).
    pub k_chunk: u32,
    pub splits: u32,
    /// Threads of the 1-D kernels.
    pub count: u32,
}

/// The bias gradient on a GPU, the same on both: ∂L/∂b[o] = Σ_{n, pixel} g[n, o, pixel] as two
/// `sum_axis` reductions (over the pixels of each plane, then over the batch) — the order the
/// CPU kernel adds in.
fn gpu_bias<B: Backend>(g: &B::Buffer, n: usize, o: usize, pixels: usize) -> Result<B::Buffer> {
    let per_image = super::reduce::gpu::sum_axis::<B>(g, n * o, pixels, 1)?;
    super::reduce::gpu::sum_axis::<B>(&per_image, 1, n, o)
}
