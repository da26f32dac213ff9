//! Evaluation of a classifier on Biased MNIST: accuracy and confusion on a split, the
//! digit × colour conflict matrix, the red-1 probe. Used by training (after every epoch), by
//! the study and by the interpretability and attack code, so it sits below all of them.

use crate::autograd::no_grad;
use crate::data::{BiasedMnist, Paint, Split};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Images per forward pass when evaluating: small enough that a LazyCNN batch's activations
/// (128·16·28·28 floats = 6.4 MB) stay in cache, large enough to amortize
/// per-op overheads.
pub const EVAL_BATCH: usize = 128;

/// Number of samples of `split` in use.
pub fn split_len(data: &BiasedMnist, split: Split, limit: Option<usize>) -> usize {
    let n = data.len(split);
    limit.map_or(n, |l| l.min(n))
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
pub fn count_correct(logits: &Tensor, y: &[usize]) -> Result<Tensor> {
    let labels: Vec<f32> = y.iter().map(|&t| t as f32).collect();
    let labels = Tensor::from_vec(labels, [y.len()], logits.device())?;
    logits.argmax(1)?.eq_mask(&labels)?.sum_all()?.reshape([1])
}

/// The model's predicted class for each of the first `n` samples of `split` (painted at
/// epoch 0, as every evaluation sees them).
pub fn predict_split(
    model: &dyn Module,
    data: &BiasedMnist,
    split: Split,
    n: usize,
    device: Device,
) -> Result<Vec<usize>> {
    let idx: Vec<usize> = (0..n.min(data.len(split))).collect();
    let mut out = Vec::with_capacity(idx.len());
    no_grad(|| -> Result<()> {
        for chunk in idx.chunks(EVAL_BATCH) {
            let (x, _) = data.batch(split, 0, chunk, Paint::DRAWN, device)?;
            out.extend(predictions(&model.forward(&x)?)?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Accuracy (%) and the confusion matrix (`confusion[true][predicted]`, counts) on a split.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Serialize, Deserialize)]
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
