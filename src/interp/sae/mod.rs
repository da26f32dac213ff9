//! Sparse autoencoders (SAEs) on a model's hidden layer (SPEC Task 6).
//!
//! An SAE rewrites each activation vector x ∈ ℝᴰ of a layer as a sparse, non-negative code
//! h ∈ ℝᴹ over an overcomplete dictionary (M > D) and reads x back from it:
//!
//! ```text
//! h  = ReLU(W_e·x + b_e)         encoder, W_e [M, D]
//! x̂  = W_d·h + b_d               decoder, W_d [D, M]; column j of W_d is feature j's direction
//! L  = MSE(x, x̂) + λ·S(h)        MSE averaged over batch and the D elements
//! ```
//!
//! The sparsity penalty S has two forms ([`L1Form`]), because the report's formula and its
//! numbers disagree (SPEC, Task 6 "Resolution"):
//!
//! * `mean` — S = mean over batch *and* features of |hⱼ| = ‖h‖₁ / M per sample. This is what
//!   PyTorch's `h.abs().mean()` gives and what reproduces the report's dense codes (~70 % of
//!   features active); the default.
//! * `sum` — S = ‖h‖₁ per sample, averaged over the batch (the textbook SAE loss). It is M = 256
//!   times stronger at the same λ and gives a far sparser code.
//!
//! Plain L1 has a loophole: the loss can shrink h and grow the decoder columns to match, so the
//! penalty falls without the code getting sparser. The **decoder-norm-weighted** penalty
//! (Anthropic's April 2024 update) closes it by charging each feature |hⱼ|·‖W_d[:, j]‖ instead.
//!
//! A **TopK SAE** ([`SaeKind::TopK`], Gao et al. 2024) keeps only the k largest
//! pre-activations of each sample (then ReLU): the sparsity is set by k, so it trains on the MSE
//! alone (λ is ignored).
//!
//! The activations are collected once through a forward hook ([`collect`]) and stay on the
//! model's device; training ([`train`]) draws shuffled mini-batches from them there.
//! [`splice`] puts an SAE back into the model (its reconstruction, an edited code, or an
//! ablation in place of the layer); [`metrics`] computes the SPEC's tables and scores.

pub mod analysis;
pub mod metrics;
pub mod splice;

use crate::autograd::{no_grad, HookHandle};
use crate::checkpoint;
use crate::data::{BiasedMnist, Paint, Split};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::measure::capture::{keep_output, take};
use crate::nn::{ForwardHooks, Linear, Module};
use crate::optim::{Adam, Optimizer};
use crate::rng::{streams, Rng};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How the L1 penalty is normalized (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum L1Form {
    /// Mean of |h| over batch and features (reproduces the report).
    Mean,
    /// Sum of |h| over features, mean over the batch.
    Sum,
}

impl L1Form {
    /// Parse `mean` or `sum`.
    pub fn parse(s: &str) -> Result<L1Form> {
        match s {
            "mean" => Ok(L1Form::Mean),
            "sum" => Ok(L1Form::Sum),
            other => Err(Error::Invalid(format!(
                "unknown --l1 '{other}': expected mean or sum"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            L1Form::Mean => "mean",
            L1Form::Sum => "sum",
        }
    }
}

/// The encoder's non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaeKind {
    /// h = ReLU(W_e·x + b_e), sparsity from the L1 penalty.
    Relu,
    /// Only the k largest pre-activations of each sample survive (then ReLU).
    TopK(usize),
}

impl SaeKind {
    /// Parse `relu` or `topk` (with its k).
    pub fn parse(s: &str, k: Option<usize>) -> Result<SaeKind> {
        match (s, k) {
            ("relu", None) => Ok(SaeKind::Relu),
            ("relu", Some(_)) => Err(Error::Invalid("--k applies to --kind topk only".into())),
            ("topk", Some(k)) => Ok(SaeKind::TopK(k)),
            ("topk", None) => Err(Error::Invalid("--kind topk needs --k K".into())),
            (other, _) => Err(Error::Invalid(format!(
                "unknown --kind '{other}': expected relu or topk"
            ))),
        }
    }

    /// `relu` or `topk-K`.
    pub fn label(self) -> String {
        match self {
            SaeKind::Relu => "relu".to_string(),
            SaeKind::TopK(k) => format!("topk-{k}"),
        }
    }
}

/// The largest dictionary accepted (the encoder of a 2,048-unit layer would hold 268 million
/// weights at this width).
pub const MAX_WIDTH: usize = 1 << 17;

/// Everything that defines an SAE and its training.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct SaeConfig {
    /// Dictionary size M.
    pub width: usize,
    pub kind: SaeKind,
    /// λ of the sparsity penalty (ignored by TopK).
    pub lambda: f32,
    pub l1: L1Form,
    /// Weight each feature's |hⱼ| by its decoder column's norm.
    pub decoder_norm: bool,
    pub lr: f32,
    pub batch: usize,
    pub epochs: usize,
    pub seed: u64,
}

impl SaeConfig {
    /// SPEC Task 6: 64 → 256, λ = 5e-4 with the `mean` L1, Adam 1e-3, batch 128, 100 epochs.
    pub const SPEC: SaeConfig = SaeConfig {
        width: 256,
        kind: SaeKind::Relu,
        lambda: 5e-4,
        l1: L1Form::Mean,
        decoder_norm: false,
        lr: 1e-3,
        batch: 128,
        epochs: 100,
        seed: 0,
    };

    /// Reject settings that cannot train an SAE on `d_in`-wide activations, one line each.
    pub fn validate(&self, d_in: usize) -> Result<()> {
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::Invalid(format!(
                "λ = {}: the sparsity weight must be a finite number ≥ 0",
                self.lambda
            )));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::Invalid(format!(
                "learning rate {}: must be a finite number > 0",
                self.lr
            )));
        }
        if self.width == 0 || self.batch == 0 || self.epochs == 0 {
            return Err(Error::Invalid(
                "the SAE's width, batch and epochs must be at least 1".into(),
            ));
        }
        if self.width > MAX_WIDTH {
            return Err(Error::Invalid(format!(
                "--width {}: at most {MAX_WIDTH} features (64× the widest layer an SAE here reads)",
                self.width
            )));
        }
        if d_in == 0 {
            return Err(Error::Invalid("the layer has no units".into()));
        }
        if let SaeKind::TopK(k) = self.kind {
            if k == 0 || k > self.width {
                return Err(Error::Invalid(format!(
                    "--k {k}: k must be between 1 and the dictionary size {}",
                    self.width
                )));
            }
        }
        Ok(())
    }

    /// A short label: `relu, L1 mean λ=0.0005`, `topk-12`, ….
    pub fn label(&self) -> String {
        match self.kind {
            SaeKind::TopK(k) => format!("TopK k={k}"),
            SaeKind::Relu => format!(
                "ReLU, {}L1 {} λ={}",
                if self.decoder_norm {
                    "decoder-norm-weighted "
                } else {
                    ""
                },
                self.l1.name(),
                self.lambda
            ),
        }
    }
}

/// A sparse autoencoder: `encoder` (Linear D→M) and `decoder` (Linear M→D), named as a
/// PyTorch module with `self.encoder` and `self.decoder` would name them.
pub struct Sae {
    pub encoder: Linear,
    pub decoder: Linear,
    pub kind: SaeKind,
    hooks: ForwardHooks,
}

impl Sae {
    /// A fresh SAE with PyTorch's default `nn.Linear` initialization, drawn from the seed's
    /// SAE stream.
    pub fn new(d_in: usize, width: usize, kind: SaeKind, seed: u64, device: Device) -> Result<Sae> {
        let mut rng = Rng::new(seed, streams::SAE_INIT);
        let encoder = Linear::new(d_in, width, true, &mut rng, device)?;
        let decoder = Linear::new(width, d_in, true, &mut rng, device)?;
        Sae::from_layers(encoder, decoder, kind)
    }

    /// An SAE from given layers (tests build an identity SAE this way).
    pub fn from_layers(encoder: Linear, decoder: Linear, kind: SaeKind) -> Result<Sae> {
        let we = encoder.weight.dims();
        let (m, d) = if we.len() == 2 {
            (we[0], we[1])
        } else {
            (0, 0)
        };
        let bias_is = |l: &Linear, n: usize| l.bias.as_ref().is_some_and(|b| b.dims() == [n]);
        if m == 0
            || d == 0
            || decoder.weight.dims() != [d, m]
            || !bias_is(&encoder, m)
            || !bias_is(&decoder, d)
        {
            return Err(Error::Invalid(format!(
                "an SAE needs encoder [M, D] with bias [M] and decoder [D, M] with bias [D]; got {} and {}",
                encoder.weight.shape(),
                decoder.weight.shape()
            )));
        }
        let sae = Sae {
            encoder,
            decoder,
            kind,
            hooks: ForwardHooks::default(),
        };
        sae.name_parameters();
        Ok(sae)
    }

    /// Input width D.
    pub fn d_in(&self) -> usize {
        self.encoder.weight.dim(1)
    }

    /// Dictionary size M.
    pub fn width(&self) -> usize {
        self.encoder.weight.dim(0)
    }

    /// The code h of x [N, D]: ReLU of the encoder, and for TopK only each row's k largest.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let pre = self.encoder.forward(x)?;
        match self.kind {
            SaeKind::Relu => pre.relu(),
            SaeKind::TopK(k) => pre.relu()?.mul(&topk_mask(&pre, k)?),
        }
    }

    /// The reconstruction x̂ of a code h [N, M].
    pub fn decode(&self, h: &Tensor) -> Result<Tensor> {
        self.decoder.forward(h)
    }

    /// The training loss on a batch x [N, D], with its two parts.
    pub fn loss(&self, x: &Tensor, cfg: &SaeConfig) -> Result<SaeLoss> {
        let h = self.encode(x)?;
        let mse = self.decode(&h)?.sub(x)?.sqr()?.mean_all()?;
        let total = match self.kind {
            SaeKind::TopK(_) => None,
            SaeKind::Relu if cfg.lambda == 0.0 => None,
            SaeKind::Relu => {
                let norms = cfg.decoder_norm.then_some(&self.decoder.weight);
                let s = sparsity_penalty(&h, norms, cfg.l1)?;
                Some((mse.add(&s.mul_scalar(cfg.lambda)?)?, s))
            }
        };
        Ok(match total {
            Some((total, penalty)) => SaeLoss {
                total,
                mse,
                penalty: Some(penalty),
            },
            None => SaeLoss {
                total: mse.clone(),
                mse,
                penalty: None,
            },
        })
    }

    /// Save as safetensors (`encoder.weight`, `encoder.bias`, `decoder.weight`,
    /// `decoder.bias`), with the layer it decomposes and the settings as metadata.
    pub fn save(&self, path: &Path, layer: &str, cfg: &SaeConfig) -> Result<()> {
        let meta = vec![
            ("shortcut.sae.layer".to_string(), layer.to_string()),
            ("shortcut.sae.kind".to_string(), self.kind.label()),
            (
                "shortcut.sae.config".to_string(),
                serde_json::to_string(cfg).map_err(|e| Error::Invalid(e.to_string()))?,
            ),
        ];
        checkpoint::save_with_metadata(path, &self.state_dict(), &meta)
    }

    /// Load an SAE saved by [`Sae::save`], checking that it was made for `layer` and its width
    /// `d_in`; returns it with the settings it was trained with (when the file records them).
    pub fn load(
        path: &Path,
        layer: &str,
        d_in: usize,
        device: Device,
    ) -> Result<(Sae, Option<SaeConfig>)> {
        let meta = checkpoint::load_metadata(path)?;
        let t = checkpoint::load(path, device)?;
        let get = |name: &str| {
            t.get(name).cloned().ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: not an SAE checkpoint (no tensor '{name}')",
                    path.display()
                ))
            })
        };
        let saved_layer = meta.get("shortcut.sae.layer").map(String::as_str);
        if saved_layer.is_some_and(|l| l != layer) {
            return Err(Error::Invalid(format!(
                "{}: this SAE was trained on layer '{}', not '{layer}'",
                path.display(),
                saved_layer.unwrap_or_default()
            )));
        }
        let we = get("encoder.weight")?;
        if we.rank() != 2 || we.dim(1) != d_in {
            return Err(Error::Invalid(format!(
                "{}: the SAE reads {} units but layer '{layer}' has {d_in}",
                path.display(),
                if we.rank() == 2 { we.dim(1) } else { 0 }
            )));
        }
        let kind = match meta.get("shortcut.sae.kind").map(String::as_str) {
            Some(k) if k.starts_with("topk-") => k[5..]
                .parse()
                .map(SaeKind::TopK)
                .map_err(|_| Error::Invalid(format!("{}: bad SAE kind '{k}'", path.display())))?,
            _ => SaeKind::Relu,
        };
        let linear = |w: Tensor, b: Tensor| -> Result<Linear> {
            if w.rank() != 2 || b.rank() != 1 {
                return Err(Error::Invalid(format!(
                    "{}: an SAE layer needs an [out, in] weight and an [out] bias, got {} and {}",
                    path.display(),
                    w.shape(),
                    b.shape()
                )));
            }
            let mut l = Linear::new(w.dim(1), w.dim(0), true, &mut Rng::new(0, 0), device)?;
            l.weight = w;
            l.bias = Some(b);
            Ok(l)
        };
        let encoder = linear(we, get("encoder.bias")?)?;
        let decoder = linear(get("decoder.weight")?, get("decoder.bias")?)?;
        if let SaeKind::TopK(k) = kind {
            if k == 0 || k > encoder.weight.dim(0) {
                return Err(Error::Invalid(format!(
                    "{}: bad TopK k {k}",
                    path.display()
                )));
            }
        }
        let sae = Sae::from_layers(encoder, decoder, kind)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let cfg = meta
            .get("shortcut.sae.config")
            .and_then(|j| serde_json::from_str::<SaeConfig>(j).ok())
            .map(|c| SaeConfig {
                width: sae.width(),
                kind,
                ..c
            });
        Ok((sae, cfg))
    }
}

impl Module for Sae {
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        self.decode(&self.encode(x)?)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("encoder".to_string(), &self.encoder as &dyn Module),
            ("decoder".to_string(), &self.decoder as &dyn Module),
        ]
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = crate::nn::prefixed("encoder", self.encoder.named_parameters());
        v.extend(crate::nn::prefixed(
            "decoder",
            self.decoder.named_parameters(),
        ));
        v
    }
}

/// The SAE loss and its parts (scalars, still on the tape).
pub struct SaeLoss {
    pub total: Tensor,
    pub mse: Tensor,
    /// S(h) before λ (None for TopK or λ = 0).
    pub penalty: Option<Tensor>,
}

/// The sparsity penalty S(h) of a code h [N, M] (see the module docs): |h| (optionally times
/// each feature's decoder-column norm ‖W_d[:, j]‖, for `decoder_weight` [D, M]), then the mean
/// over everything (`Mean`) or the sum over features averaged over the batch (`Sum`).
pub fn sparsity_penalty(
    h: &Tensor,
    decoder_weight: Option<&Tensor>,
    form: L1Form,
) -> Result<Tensor> {
    let mut a = h.abs()?;
    if let Some(w) = decoder_weight {
        let norms = w.sqr()?.sum(0, false)?.sqrt()?;
        a = a.mul(&norms)?;
    }
    match form {
        L1Form::Mean => a.mean_all(),
        L1Form::Sum => a.sum_all()?.mul_scalar(1.0 / h.dim(0).max(1) as f32),
    }
}

/// A 0/1 mask [N, M] with ones at the k largest entries of each row of `pre` (ties broken by
/// the lower index). Computed on the host: selecting is not differentiable, and the gradient
/// flows through the product with the mask as through a constant.
pub fn topk_mask(pre: &Tensor, k: usize) -> Result<Tensor> {
    if pre.rank() != 2 {
        return Err(Error::shape("topk", "expects [N, M]"));
    }
    let (n, m) = (pre.dim(0), pre.dim(1));
    let v = pre.to_vec()?;
    let mut mask = vec![0f32; n * m];
    let mut order: Vec<usize> = Vec::with_capacity(m);
    for (row, out) in v.chunks(m.max(1)).zip(mask.chunks_mut(m.max(1))) {
        order.clear();
        order.extend(0..m);
        let k = k.min(m);
        if k < m {
            order.select_nth_unstable_by(k, |&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        }
        for &j in &order[..k] {
            out[j] = 1.0;
        }
    }
    Tensor::from_vec(mask, [n, m], pre.device())
}

/// A layer's activations over a split, flattened to [N, D] on the model's device, with each
/// sample's digit and painted colour.
pub struct Activations {
    pub x: Tensor,
    /// The layer output's shape for one sample (`[64]`, `[128, 1, 1]`, …): a splice hook
    /// reshapes the reconstruction back to it.
    pub sample_dims: Vec<usize>,
    pub labels: Vec<usize>,
    pub colours: Vec<usize>,
    pub split: Split,
}

impl Activations {
    /// Width D.
    pub fn d_in(&self) -> usize {
        self.x.dim(1)
    }
    pub fn len(&self) -> usize {
        self.x.dim(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Run `model` over the first `n` samples of `split` (painted at epoch 0) and keep `layer`'s
/// output through a forward hook — once, so training the SAE never runs the model again.
pub fn collect(
    model: &dyn Module,
    layer: &str,
    data: &BiasedMnist,
    split: Split,
    n: usize,
    device: Device,
) -> Result<Activations> {
    if n == 0 {
        return Err(Error::Invalid(
            "no samples to collect activations from".into(),
        ));
    }
    let (slot, handle): (_, HookHandle) = keep_output(model, layer)?;
    let idx: Vec<usize> = (0..n).collect();
    let mut parts = Vec::new();
    let mut labels = Vec::with_capacity(n);
    let mut sample_dims = Vec::new();
    let ran = no_grad(|| -> Result<()> {
        for chunk in idx.chunks(crate::measure::eval::EVAL_BATCH) {
            let (xb, yb) = data.batch(split, 0, chunk, Paint::DRAWN, device)?;
            model.forward(&xb)?;
            let out = take(&slot, layer)?.detach();
            sample_dims = out.dims()[1..].to_vec();
            parts.push(out.reshape([chunk.len(), out.numel() / chunk.len()])?);
            labels.extend(yb);
        }
        Ok(())
    });
    handle.remove();
    ran?;
    let colours = (0..n).map(|i| data.color_of(split, 0, i)).collect();
    Ok(Activations {
        x: Tensor::cat(&parts, 0)?,
        sample_dims,
        labels,
        colours,
        split,
    })
}

/// What training produced: the mean loss (and its parts) of every epoch, and the time.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrainLog {
    pub loss: Vec<f64>,
    pub mse: Vec<f64>,
    pub penalty: Vec<f64>,
    pub seconds: f64,
}

/// Train `sae` on the rows of `x` [N, D] with Adam, shuffling every epoch (the seed's SAE
/// shuffle stream); `on_epoch(epoch, log)` runs after each epoch (progress, printing).
pub fn train(
    sae: &Sae,
    x: &Tensor,
    cfg: &SaeConfig,
    on_epoch: &mut dyn FnMut(usize, &TrainLog),
) -> Result<TrainLog> {
    if x.rank() != 2 || x.dim(1) != sae.d_in() {
        return Err(Error::Invalid(format!(
            "SAE training data must be [N, {}], got {}",
            sae.d_in(),
            x.shape()
        )));
    }
    cfg.validate(x.dim(1))?;
    let start = std::time::Instant::now();
    let mut opt = Adam::new(sae.parameters(), cfg.lr)?;
    let n = x.dim(0);
    let mut log = TrainLog::default();
    for epoch in 0..cfg.epochs {
        crate::interrupt::check()?;
        let order =
            Rng::new(cfg.seed, streams::SAE_SHUFFLE.wrapping_add(epoch as u32)).permutation(n);
        // The epoch's sums stay on the device: one read-back per epoch, not per step.
        let mut sums: Option<(Tensor, Tensor, Option<Tensor>)> = None;
        let mut steps = 0usize;
        for rows in order.chunks(cfg.batch) {
            let xb = x.index_select(rows)?;
            opt.zero_grad();
            let l = sae.loss(&xb, cfg)?;
            l.total.backward()?;
            opt.step()?;
            let (t, m, p) = (
                l.total.detach(),
                l.mse.detach(),
                l.penalty.map(|p| p.detach()),
            );
            sums = Some(match sums {
                None => (t, m, p),
                Some((st, sm, sp)) => (
                    st.add(&t)?,
                    sm.add(&m)?,
                    match (sp, p) {
                        (Some(a), Some(b)) => Some(a.add(&b)?),
                        _ => None,
                    },
                ),
            });
            steps += 1;
        }
        let per = |t: &Tensor| -> Result<f64> { Ok(t.to_scalar()? as f64 / steps.max(1) as f64) };
        if let Some((t, m, p)) = &sums {
            let loss = per(t)?;
            if !loss.is_finite() {
                return Err(Error::Invalid(format!(
                    "the SAE's loss became {loss} in epoch {}: lower the learning rate or λ",
                    epoch + 1
                )));
            }
            log.loss.push(loss);
            log.mse.push(per(m)?);
            log.penalty.push(match p {
                Some(p) => per(p)?,
                None => 0.0,
            });
        }
        log.seconds = start.elapsed().as_secs_f64();
        on_epoch(epoch, &log);
    }
    Ok(log)
}

/// The code and the reconstruction of every row of `x`, in chunks, without the tape:
/// (h [N, M], x̂ [N, D]) on the host.
pub fn encode_all(sae: &Sae, x: &Tensor) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = x.dim(0);
    let (mut h, mut xh) = (Vec::new(), Vec::new());
    no_grad(|| -> Result<()> {
        let mut start = 0;
        while start < n {
            let len = 4096.min(n - start);
            let xb = x.slice(0, start, len)?;
            let hb = sae.encode(&xb)?;
            xh.extend(sae.decode(&hb)?.to_vec()?);
            h.extend(hb.to_vec()?);
            start += len;
        }
        Ok(())
    })?;
    Ok((h, xh))
}
