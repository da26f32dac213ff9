//! Training and evaluating a classifier on Biased MNIST — shared by every task of the study.

use crate::autograd::no_grad;
use crate::data::{BiasedMnist, Paint, Split};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::optim::{Adam, Optimizer};
use crate::rng::Rng;
use crate::tensor::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::time::Instant;

/// How to train.
#[derive(Clone, Debug, Serialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    /// One seed fixes the data's colours and noise, the initialization and the shuffling.
    pub seed: u64,
    /// Use only the first `limit` samples of each split (smoke runs).
    pub limit: Option<usize>,
    #[serde(serialize_with = "device_name")]
    pub device: Device,
    /// Show a progress bar on the terminal.
    #[serde(skip)]
    pub progress: bool,
}

fn device_name<S: serde::Serializer>(d: &Device, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

impl TrainConfig {
    /// Check the values a user can get wrong.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::Invalid("--epochs must be at least 1".into()));
        }
        if self.batch == 0 {
            return Err(Error::Invalid("--batch must be at least 1".into()));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::Invalid(format!(
                "--lr must be a positive number, got {}",
                self.lr
            )));
        }
        if self.limit == Some(0) {
            return Err(Error::Invalid("--limit must be at least 1".into()));
        }
        Ok(())
    }
}

/// What one epoch measured. Accuracies are in percent.
#[derive(Clone, Debug, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Running accuracy over the epoch's training batches (as the model was updating).
    pub train_acc: f64,
    pub train_loss: f64,
    pub hard_acc: f64,
    pub aligned_acc: f64,
    /// Seconds spent training (evaluation excluded).
    pub seconds: f64,
}

/// Images per forward pass when evaluating: small enough that a LazyCNN batch's activations
/// (128·16·28·28 floats = 6.4 MB) stay in cache, large enough to amortize
/// per-op overheads.
const EVAL_BATCH: usize = 128;

/// Number of samples of `split` in use.
pub fn split_len(data: &BiasedMnist, split: Split, limit: Option<usize>) -> usize {
    let n = data.len(split);
    limit.map_or(n, |l| l.min(n))
}

/// Train `model` with Adam and cross-entropy, evaluating on the hard and aligned splits after
/// every epoch. `loss_fn` maps (logits, labels) to the loss, so later tasks can swap it.
pub fn train_classifier(
    model: &dyn Module,
    data: &BiasedMnist,
    cfg: &TrainConfig,
    label: &str,
    loss_fn: &dyn Fn(&Tensor, &[usize]) -> Result<Tensor>,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<Vec<EpochRecord>> {
    cfg.validate()?;
    let n = split_len(data, Split::Train, cfg.limit);
    let steps = n.div_ceil(cfg.batch);
    let mut opt = Adam::new(model.parameters(), cfg.lr)?;
    let mut records = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        model.set_training(true);
        let bar = progress_bar(
            cfg.progress,
            steps as u64,
            &format!("{label} epoch {}/{}", epoch + 1, cfg.epochs),
        );
        let start = Instant::now();
        let order = Rng::new(cfg.seed, 1000 + epoch as u32).permutation(n);
        // The epoch's running loss sum and correct count stay on the device (DESIGN rule 6):
        // reading them every step would make the host wait for the GPU at every step. They are
        // read once at the end of the epoch (and every 64 steps when a progress bar is shown).
        let mut loss_acc = Tensor::zeros([1], cfg.device)?;
        let mut correct_acc = Tensor::zeros([1], cfg.device)?;
        let mut seen = 0usize;
        for (step, batch) in order.chunks(cfg.batch).enumerate() {
            let (x, y) = data.batch(Split::Train, epoch, batch, Paint::DRAWN, cfg.device)?;
            let logits = model.forward(&x)?;
            let loss = loss_fn(&logits, &y)?;
            opt.zero_grad();
            loss.backward()?;
            opt.step()?;
            seen += y.len();
            (loss_acc, correct_acc) = no_grad(|| -> Result<(Tensor, Tensor)> {
                let batch_loss = loss.detach().reshape([1])?.mul_scalar(y.len() as f32)?;
                Ok((
                    loss_acc.add(&batch_loss)?,
                    correct_acc.add(&count_correct(&logits, &y)?)?,
                ))
            })?;
            if !bar.is_hidden() && step % 64 == 0 {
                let (l, c) = (loss_acc.to_scalar()?, correct_acc.to_scalar()?);
                bar.set_message(format!(
                    "loss {:.4} acc {:.1}%",
                    l as f64 / seen as f64,
                    100.0 * c as f64 / seen as f64
                ));
            }
            bar.inc(1);
        }
        let (loss_sum, correct) = (
            loss_acc.to_scalar()? as f64,
            correct_acc.to_scalar()? as f64,
        );
        if !loss_sum.is_finite() {
            return Err(Error::Numeric(format!(
                "the training loss became {loss_sum} during epoch {}; try a smaller --lr",
                epoch + 1
            )));
        }
        let seconds = start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        model.set_training(false);
        let hard = evaluate(model, data, Split::Hard, cfg.limit, cfg.device)?;
        let aligned = evaluate(model, data, Split::Aligned, cfg.limit, cfg.device)?;
        let rec = EpochRecord {
            epoch: epoch + 1,
            train_acc: 100.0 * correct / seen as f64,
            train_loss: loss_sum / seen as f64,
            hard_acc: hard.accuracy,
            aligned_acc: aligned.accuracy,
            seconds,
        };
        on_epoch(&rec);
        records.push(rec);
    }
    Ok(records)
}

fn progress_bar(show: bool, len: u64, prefix: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix.to_string());
    bar
}

/// Predicted classes of a batch of logits.
pub fn predictions(logits: &Tensor) -> Result<Vec<usize>> {
    Ok(logits
        .argmax(1)?
        .to_vec()?
        .into_iter()
        .map(|v| v as usize)
        .collect())
}

/// How many predictions of a batch are right, as a one-element tensor on the logits' device
/// (argmax, compare with the labels, sum: no read-back).
fn count_correct(logits: &Tensor, y: &[usize]) -> Result<Tensor> {
    let labels: Vec<f32> = y.iter().map(|&t| t as f32).collect();
    let labels = Tensor::from_vec(labels, [y.len()], logits.device())?;
    logits.argmax(1)?.eq_mask(&labels)?.sum_all()?.reshape([1])
}

/// Accuracy (%) and the confusion matrix (`confusion[true][predicted]`, counts) on a split.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub accuracy: f64,
    pub confusion: Vec<Vec<u32>>,
    pub samples: usize,
}

/// Evaluate on `split` (first `limit` samples), painted as the split draws them.
pub fn evaluate(
    model: &dyn Module,
    data: &BiasedMnist,
    split: Split,
    limit: Option<usize>,
    device: Device,
) -> Result<Evaluation> {
    evaluate_painted(model, data, split, limit, Paint::DRAWN, device)
}

/// Evaluate with the colour and noise overridden by `paint`.
pub fn evaluate_painted(
    model: &dyn Module,
    data: &BiasedMnist,
    split: Split,
    limit: Option<usize>,
    paint: Paint,
    device: Device,
) -> Result<Evaluation> {
    let n = split_len(data, split, limit);
    let mut confusion = vec![vec![0u32; 10]; 10];
    let idx: Vec<usize> = (0..n).collect();
    no_grad(|| -> Result<()> {
        for chunk in idx.chunks(EVAL_BATCH) {
            let (x, y) = data.batch(split, 0, chunk, paint, device)?;
            for (p, t) in predictions(&model.forward(&x)?)?.into_iter().zip(y) {
                confusion[t][p] += 1;
            }
        }
        Ok(())
    })?;
    let correct: u32 = (0..10).map(|d| confusion[d][d]).sum();
    Ok(Evaluation {
        accuracy: 100.0 * correct as f64 / n.max(1) as f64,
        confusion,
        samples: n,
    })
}

/// For every (digit, colour): accuracy (%) on the test digits of that class painted in that
/// colour (with the usual noise). Row = digit, column = palette colour. The diagonal is the
/// digits' own dominant colours; a colour-following model is right only there.
pub fn conflict_matrix(
    model: &dyn Module,
    data: &BiasedMnist,
    limit: Option<usize>,
    device: Device,
) -> Result<Vec<Vec<f64>>> {
    let mut m = vec![vec![0.0; 10]; 10];
    for (c, _) in crate::data::PALETTE.iter().enumerate() {
        let e = evaluate_painted(
            model,
            data,
            Split::Hard,
            limit,
            Paint {
                color: Some(c),
                noise: true,
            },
            device,
        )?;
        for (d, row) in m.iter_mut().enumerate() {
            let total: u32 = e.confusion[d].iter().sum();
            row[c] = if total == 0 {
                0.0
            } else {
                100.0 * e.confusion[d][d] as f64 / total as f64
            };
        }
    }
    Ok(m)
}

/// The red-1 probe: a real digit 1 from the test split painted pure red (digit 0's colour)
/// without noise.
#[derive(Clone, Debug, Serialize)]
pub struct Red1Probe {
    /// Index in MNIST's test split of the first digit 1.
    pub test_index: usize,
    pub predicted: usize,
    pub probabilities: Vec<f32>,
    /// Over every test 1 painted red: how many were predicted as each class.
    pub all_ones_predicted: Vec<u32>,
    pub all_ones_count: usize,
}

/// Run the red-1 probe.
pub fn red1_probe(model: &dyn Module, data: &BiasedMnist, device: Device) -> Result<Red1Probe> {
    let ones: Vec<usize> = (0..data.len(Split::Hard))
        .filter(|&i| data.label(Split::Hard, i) == 1)
        .collect();
    let first = *ones
        .first()
        .ok_or_else(|| Error::Invalid("the test split has no digit 1".into()))?;
    let paint = Paint {
        color: Some(0),
        noise: false,
    };
    no_grad(|| {
        let (x, _) = data.batch(Split::Hard, 0, &[first], paint, device)?;
        let logits = model.forward(&x)?;
        let probabilities = logits.softmax()?.to_vec()?;
        let predicted = predictions(&logits)?[0];
        let mut all = vec![0u32; 10];
        for chunk in ones.chunks(EVAL_BATCH) {
            let (x, _) = data.batch(Split::Hard, 0, chunk, paint, device)?;
            for p in predictions(&model.forward(&x)?)? {
                all[p] += 1;
            }
        }
        Ok(Red1Probe {
            test_index: first,
            predicted,
            probabilities,
            all_ones_predicted: all,
            all_ones_count: ones.len(),
        })
    })
}
