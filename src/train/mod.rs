//! Training and evaluation, below the study: one frame every method and model shares.
//!
//! A training run is four swappable pieces around one loop ([`fit`]):
//!
//! * the **data**: batches of Biased MNIST painted on the device ([`crate::data`]);
//! * the **model**: any [`Module`] (hooks included — neuron suppression is a forward hook);
//! * the **step** ([`Step`]): what one batch costs — one forward pass and cross-entropy, focal
//!   loss, or two views and a consistency term — returning the loss to differentiate and the
//!   logits whose accuracy is counted;
//! * the **optimizer**: any [`Optimizer`].
//!
//! ```text
//! for epoch:                                   (shuffle: stream streams::shuffle(epoch))
//!     for batch:  x, y = data.batch(..)        (painted on the device)
//!                 loss, logits = step.loss(model, batch)
//!                 opt.zero_grad(); loss.backward(); opt.step()
//!                 epoch sums += loss·B, correct(logits, y)      (on the device: no read-back)
//!     read the two sums once; evaluate on the hard and aligned splits; on_epoch(record, model)
//! ```
//!
//! [`run_folder::train_run`] wraps the loop into a run that writes its folder (checkpoint after
//! every epoch, `metrics.json`, curves, confusion and conflict matrices); [`methods`] names the
//! SPEC's debiasing methods and builds their steps and hooks.

pub mod lff;
pub mod methods;
pub mod resume;
pub mod run_folder;
pub mod step;
pub mod suppression;

/// Evaluation lives below training and interpretability ([`crate::measure::eval`]): both use it.
pub use crate::measure::eval::{
    conflict_matrix, count_correct, evaluate, evaluate_painted, predict_split, predictions,
    red1_probe, split_len, Evaluation, Red1Probe, EVAL_BATCH,
};
pub use methods::Method;
pub use run_folder::{train_run, RunRecord};
pub use step::{Batch, ConsistencyStep, CrossEntropyStep, FocalStep, Step, StepLoss};
pub use suppression::Suppression;

use crate::autograd::no_grad;
use crate::data::{BiasedMnist, Paint, Split};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::rng::{streams, Rng};
use crate::tensor::Tensor;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How to train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    /// One seed fixes the data's colours and noise, the initialization, the shuffling and the
    /// jitter.
    pub seed: u64,
    /// Use only the first `limit` samples of each split (smoke runs).
    pub limit: Option<usize>,
    #[serde(with = "crate::device::serde_name")]
    pub device: Device,
    /// Show a progress bar on the terminal.
    #[serde(skip)]
    pub progress: bool,
}

/// The largest epoch count accepted: far beyond any real run, small enough that per-epoch
/// vectors and stream ids never overflow.
pub const MAX_EPOCHS: usize = 100_000;

/// The largest batch accepted: the whole train split.
pub const MAX_BATCH: usize = 60_000;

impl TrainConfig {
    /// Check the values a user can get wrong.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return Err(Error::Invalid(format!(
                "--epochs must be between 1 and {MAX_EPOCHS}, got {}",
                self.epochs
            )));
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(Error::Invalid(format!(
                "--batch must be between 1 and {MAX_BATCH} (the train split's size), got {}",
                self.batch
            )));
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
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Running accuracy over the epoch's training batches (as the model was updating).
    pub train_acc: f64,
    pub train_loss: f64,
    pub hard_acc: f64,
    pub aligned_acc: f64,
    /// Seconds spent training (evaluation excluded).
    pub seconds: f64,
    /// The epoch's hard and aligned evaluations (with their confusion matrices), held in
    /// memory so that a run's final evaluation is not computed a second time; not saved.
    #[serde(skip)]
    pub evaluations: Option<Box<(Evaluation, Evaluation)>>,
}

/// Equal when every saved field is (the evaluations held in memory are not compared).
impl PartialEq for EpochRecord {
    fn eq(&self, o: &EpochRecord) -> bool {
        (self.epoch, self.train_acc, self.train_loss) == (o.epoch, o.train_acc, o.train_loss)
            && (self.hard_acc, self.aligned_acc, self.seconds)
                == (o.hard_acc, o.aligned_acc, o.seconds)
    }
}

/// Train `model` with `step` and `opt`, evaluating on the hard and aligned splits after every
/// epoch and handing each epoch's record (and the model) to `on_epoch` — which may save a
/// checkpoint, print, or stop the run with an error. A loss that is not finite stops the run
/// with an error naming the step and the epoch, before `on_epoch` sees that epoch.
pub fn fit(
    model: &dyn Module,
    data: &BiasedMnist,
    cfg: &TrainConfig,
    step: &dyn Step,
    opt: &mut dyn Optimizer,
    label: &str,
    on_epoch: impl FnMut(&EpochRecord, &dyn Module) -> Result<()>,
) -> Result<Vec<EpochRecord>> {
    fit_from(
        model,
        data,
        cfg,
        step,
        opt,
        label,
        resume::Progress::default(),
        on_epoch,
        &mut |_, _, _| Ok(()),
    )
}

/// What [`fit_from`] calls to save where the run stands (the run folder writes its resume file).
pub type SaveProgress<'a> =
    dyn FnMut(&resume::Progress, &dyn Module, &dyn Optimizer) -> Result<()> + 'a;

/// [`fit`] from a saved point (`from`; `Progress::default()` is the beginning), calling `save`
/// with where the run stands after every epoch and, when the user interrupts
/// ([`crate::interrupt`]), after the step in progress — then returning
/// [`Error::Interrupted`]. Started from a point that `save` was given, it computes exactly
/// what the uninterrupted loop computes.
#[allow(clippy::too_many_arguments)]
pub fn fit_from(
    model: &dyn Module,
    data: &BiasedMnist,
    cfg: &TrainConfig,
    step: &dyn Step,
    opt: &mut dyn Optimizer,
    label: &str,
    from: resume::Progress,
    mut on_epoch: impl FnMut(&EpochRecord, &dyn Module) -> Result<()>,
    save: &mut SaveProgress,
) -> Result<Vec<EpochRecord>> {
    cfg.validate()?;
    let n = split_len(data, Split::Train, cfg.limit);
    let steps = n.div_ceil(cfg.batch);
    let first = from.epoch;
    let mut records = from.records.clone();
    for epoch in first..cfg.epochs {
        // Where this epoch starts: at its beginning, or where the saved run stopped.
        let resumed = epoch == first;
        let (skip, prior_seconds) = if resumed {
            (from.step, from.seconds)
        } else {
            (0, 0.0)
        };
        model.set_training(true);
        let bar = progress_bar(
            cfg.progress,
            steps as u64,
            &format!("{label} epoch {}/{}", epoch + 1, cfg.epochs),
        );
        let start = Instant::now();
        let order = Rng::new(cfg.seed, streams::shuffle(epoch)).permutation(n);
        // The epoch's running loss sum and correct count stay on the device (DESIGN rule 6):
        // reading them every step would make the host wait for the GPU at every step. They are
        // read once at the end of the epoch (and every 64 steps when a progress bar is shown).
        let (mut loss_acc, mut correct_acc, mut seen) = if resumed {
            (
                Tensor::from_vec(vec![from.loss_sum], [1], cfg.device)?,
                Tensor::from_vec(vec![from.correct], [1], cfg.device)?,
                from.seen,
            )
        } else {
            (
                Tensor::zeros([1], cfg.device)?,
                Tensor::zeros([1], cfg.device)?,
                0usize,
            )
        };
        bar.inc(skip as u64);
        for (i, indices) in order.chunks(cfg.batch).enumerate().skip(skip) {
            let (x, y) = data.batch(Split::Train, epoch, indices, Paint::DRAWN, cfg.device)?;
            let batch = Batch {
                x,
                y: &y,
                indices,
                epoch,
                seed: cfg.seed,
            };
            let out = step.loss(model, &batch)?;
            // On the CPU reading the loss costs nothing, so a non-finite one stops the run at
            // its step, before the update spoils the weights; on a GPU (where a read makes the
            // host wait) the epoch's sum is checked at the end of the epoch instead.
            if cfg.device == Device::Cpu {
                let l = out.loss.to_scalar()?;
                if !l.is_finite() {
                    return Err(Error::Numeric(format!(
                        "the {} loss of {label} became {l} at step {} of epoch {}; try a smaller --lr",
                        step.name(),
                        i + 1,
                        epoch + 1
                    )));
                }
            }
            opt.zero_grad();
            out.loss.backward()?;
            opt.step()?;
            seen += y.len();
            (loss_acc, correct_acc) = no_grad(|| -> Result<(Tensor, Tensor)> {
                let batch_loss = out.loss.detach().reshape([1])?.mul_scalar(y.len() as f32)?;
                Ok((
                    loss_acc.add(&batch_loss)?,
                    correct_acc.add(&count_correct(&out.logits, &y)?)?,
                ))
            })?;
            if !bar.is_hidden() && i % 64 == 0 {
                let (l, c) = (loss_acc.to_scalar()?, correct_acc.to_scalar()?);
                bar.set_message(format!(
                    "loss {:.4} acc {:.1}%",
                    l as f64 / seen as f64,
                    100.0 * c as f64 / seen as f64
                ));
            }
            bar.inc(1);
            if crate::interrupt::requested() {
                bar.finish_and_clear();
                let (loss_sum, correct) = (loss_acc.to_scalar()?, correct_acc.to_scalar()?);
                // On a GPU a non-finite loss is only seen here or at the epoch's end: never
                // save over the last good resume file with it.
                if !loss_sum.is_finite() {
                    return Err(Error::Numeric(format!(
                        "the {} loss of {label} became {loss_sum} during epoch {}; try a smaller --lr",
                        step.name(),
                        epoch + 1
                    )));
                }
                save(
                    &resume::Progress {
                        epoch,
                        step: i + 1,
                        loss_sum,
                        correct,
                        seen,
                        seconds: prior_seconds + start.elapsed().as_secs_f64(),
                        records: records.clone(),
                    },
                    model,
                    opt,
                )?;
                return Err(Error::Interrupted(format!(
                    "stopped after step {} of {steps} in epoch {} of {}",
                    i + 1,
                    epoch + 1,
                    cfg.epochs
                )));
            }
        }
        let (loss_sum, correct) = (
            loss_acc.to_scalar()? as f64,
            correct_acc.to_scalar()? as f64,
        );
        bar.finish_and_clear();
        if !loss_sum.is_finite() {
            return Err(Error::Numeric(format!(
                "the {} loss of {label} became {loss_sum} during epoch {}; try a smaller --lr",
                step.name(),
                epoch + 1
            )));
        }
        let seconds = prior_seconds + start.elapsed().as_secs_f64();
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
            evaluations: Some(Box::new((hard, aligned))),
        };
        on_epoch(&rec, model)?;
        records.push(rec);
        save(
            &resume::Progress {
                epoch: epoch + 1,
                records: records.clone(),
                ..resume::Progress::default()
            },
            model,
            opt,
        )?;
    }
    Ok(records)
}

fn progress_bar(show: bool, len: u64, prefix: &str) -> ProgressBar {
    crate::progress::bar(show, len, prefix)
}
