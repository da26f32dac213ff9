//! Adversarial attacks (SPEC Task 5 and beyond): FGSM, L∞ PGD with random starts and restarts,
//! the minimal ε of each image by bisection, and a colour-only attack that repaints the digit's
//! stroke. All of them take gradients for the input only: the model's parameters are frozen
//! ([`crate::nn::freeze`]), so backward never runs a weight-gradient kernel, and the model is
//! in evaluation mode.
//!
//! With L(x) = Σ_b CE(f(x)_b, y_b) — y the target class (targeted: *descend* L) or the true
//! class (untargeted: *ascend* L):
//!
//! ```text
//! FGSM:  x' = clamp(x ∓ ε·sign(∇ₓL), 0, 1)
//! PGD:   x⁰ = x (or x + U(−ε, ε), clamped, with a random start)
//!        xᵗ⁺¹ = clamp(min(max(xᵗ ∓ α·sign(∇L(xᵗ)), x − ε), x + ε), 0, 1)
//! ```
//!
//! Projecting onto the ε-ball and then clamping to [0, 1] keeps both: clamping moves a value
//! toward [0, 1], which the ball around an image in [0, 1] always meets. ε may differ per image
//! (the bisection needs that): it is a [N, 1, 1, 1] tensor broadcast over the pixels.

pub mod batches;
pub mod checkpoint;

use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::measure::stats::{argmax, mean};
use crate::nn::{freeze, Module};
use crate::optim::{Adam, Optimizer};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// SPEC's success threshold of a targeted attack: the target's probability above 0.9.
pub const THRESHOLD: f32 = 0.9;

/// What the attacker wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Goal {
    /// Make the model answer `labels[b]` (a target class).
    Targeted,
    /// Make the model stop answering `labels[b]` (the true class).
    Untargeted,
}

/// PGD's settings.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Pgd {
    pub eps: f32,
    /// Step size.
    pub alpha: f32,
    pub steps: usize,
    /// Start from a uniform point of the ε-ball instead of the image.
    pub random_start: bool,
    /// Runs (each with a fresh random start after the first when `random_start`); per image
    /// the best run is kept.
    pub restarts: usize,
    pub seed: u64,
}

impl Pgd {
    /// SPEC Task 5: α = ε/10, 40 steps, no random start, one run.
    pub fn spec(eps: f32) -> Pgd {
        Pgd {
            eps,
            alpha: eps / 10.0,
            steps: 40,
            random_start: false,
            restarts: 1,
            seed: 0,
        }
    }
}

/// Check ε (and a learning-rate-like step) before any work.
pub fn check_eps(eps: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&eps) {
        return Err(Error::Invalid(format!(
            "ε = {eps} is outside [0, 1] (pixels are in [0, 1])"
        )));
    }
    Ok(())
}

/// Softmax probabilities `[image][class]` of a batch (no recording).
pub fn probabilities(model: &dyn Module, x: &Tensor) -> Result<Vec<Vec<f32>>> {
    let p = no_grad(|| model.forward(x)?.softmax())?;
    let k = p.dim(1);
    Ok(p.to_vec()?.chunks(k).map(|c| c.to_vec()).collect())
}

/// ∇ₓ Σ_b CE(f(x)_b, labels_b), with the parameters frozen by the caller.
fn input_gradient(model: &dyn Module, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
    let leaf = x.detach().requires_grad_(true)?;
    let logits = model.forward(&leaf)?;
    check_labels(labels, leaf.dim(0), logits.dim(1))?;
    logits.cross_entropy(labels)?.sum_all()?.backward()?;
    leaf.grad()
        .ok_or_else(|| Error::Autograd("the input received no gradient".into()))
}

fn check_labels(labels: &[usize], n: usize, classes: usize) -> Result<()> {
    if labels.len() != n {
        return Err(Error::Invalid(format!(
            "an attack needs one class per image: {} for {n} images",
            labels.len()
        )));
    }
    if let Some(&bad) = labels.iter().find(|&&c| c >= classes) {
        return Err(Error::Invalid(format!(
            "class {bad} is out of range: the model has {classes} classes (0–{})",
            classes - 1
        )));
    }
    Ok(())
}

/// Runs `f` with the parameters frozen and the model in evaluation mode, restoring both.
fn attacking<T>(model: &dyn Module, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _frozen = freeze(model)?;
    let was = model.is_training();
    model.set_training(false);
    let out = f();
    model.set_training(was);
    out
}

/// The signed step direction: −sign(g) to descend (targeted), +sign(g) to ascend.
fn direction(g: &Tensor, goal: Goal) -> Result<Tensor> {
    match goal {
        Goal::Targeted => g.sign()?.neg(),
        Goal::Untargeted => g.sign(),
    }
}

/// FGSM: one signed-gradient step of size ε, then clamp to [0, 1].
pub fn fgsm(
    model: &dyn Module,
    x: &Tensor,
    labels: &[usize],
    goal: Goal,
    eps: f32,
) -> Result<Tensor> {
    check_eps(eps)?;
    attacking(model, || {
        let g = input_gradient(model, x, labels)?;
        no_grad(|| {
            x.add(&direction(&g, goal)?.mul_scalar(eps)?)?
                .clamp(0.0, 1.0)
        })
    })
}

/// L∞ PGD with one ε for every image.
pub fn pgd(
    model: &dyn Module,
    x: &Tensor,
    labels: &[usize],
    goal: Goal,
    cfg: Pgd,
) -> Result<Tensor> {
    check_eps(cfg.eps)?;
    let ratio = if cfg.eps > 0.0 {
        cfg.alpha / cfg.eps
    } else {
        0.0
    };
    pgd_per_image(model, x, labels, goal, &vec![cfg.eps; x.dim(0)], ratio, cfg)
}

/// L∞ PGD where image b has its own ε_b and step α_b = `alpha_ratio`·ε_b; `cfg.eps` and
/// `cfg.alpha` are ignored.
pub fn pgd_per_image(
    model: &dyn Module,
    x: &Tensor,
    labels: &[usize],
    goal: Goal,
    eps: &[f32],
    alpha_ratio: f32,
    cfg: Pgd,
) -> Result<Tensor> {
    let n = x.dim(0);
    if eps.len() != n {
        return Err(Error::Invalid(format!(
            "{} ε values for {n} images",
            eps.len()
        )));
    }
    for &e in eps {
        check_eps(e)?;
    }
    if cfg.restarts == 0 {
        return Err(Error::Invalid(
            "PGD needs at least one run (restarts ≥ 1)".into(),
        ));
    }
    attacking(model, || {
        let dev = x.device();
        let e = Tensor::from_vec(eps.to_vec(), [n, 1, 1, 1], dev)?;
        let a = e.mul_scalar(alpha_ratio)?;
        let (lo, hi) = no_grad(|| Ok::<_, Error>((x.sub(&e)?, x.add(&e)?)))?;
        let per = x.numel() / n.max(1);
        let mut best: Option<(Vec<f32>, Vec<f32>)> = None; // (images, scores)
        for run in 0..cfg.restarts {
            let mut adv = if cfg.random_start {
                let mut rng = Rng::new(cfg.seed, run as u32);
                let u = Tensor::rand_uniform(x.shape().clone(), -1.0, 1.0, &mut rng, dev)?;
                no_grad(|| x.add(&u.mul(&e)?)?.clamp(0.0, 1.0))?
            } else {
                x.detach()
            };
            for _ in 0..cfg.steps {
                crate::interrupt::check()?;
                let g = input_gradient(model, &adv, labels)?;
                adv = no_grad(|| {
                    adv.add(&direction(&g, goal)?.mul(&a)?)?
                        .maximum(&lo)?
                        .minimum(&hi)?
                        .clamp(0.0, 1.0)
                })?;
            }
            let scores = score(&probabilities(model, &adv)?, labels, goal);
            let images = adv.to_vec()?;
            best = Some(match best {
                None => (images, scores),
                Some((mut bi, mut bs)) => {
                    for b in 0..n {
                        if scores[b] > bs[b] {
                            bs[b] = scores[b];
                            bi[b * per..(b + 1) * per]
                                .copy_from_slice(&images[b * per..(b + 1) * per]);
                        }
                    }
                    (bi, bs)
                }
            });
        }
        let (images, _) = best.ok_or_else(|| Error::Invalid("PGD ran no restart".into()))?;
        Tensor::from_vec(images, x.shape().clone(), dev)
    })
}

/// How well each image's attack did (higher is better for the attacker): the target's
/// probability (targeted), or 1 − the true class's probability (untargeted).
fn score(probs: &[Vec<f32>], labels: &[usize], goal: Goal) -> Vec<f32> {
    probs
        .iter()
        .zip(labels)
        .map(|(p, &c)| match goal {
            Goal::Targeted => p[c],
            Goal::Untargeted => 1.0 - p[c],
        })
        .collect()
}

/// Does the attack count as a success on each image? Targeted: the target's probability is
/// above `threshold` (SPEC: 0.9); untargeted: the prediction is not the true class.
pub fn successes(probs: &[Vec<f32>], labels: &[usize], goal: Goal, threshold: f32) -> Vec<bool> {
    probs
        .iter()
        .zip(labels)
        .map(|(p, &c)| match goal {
            Goal::Targeted => p[c] > threshold,
            Goal::Untargeted => argmax(p) != c,
        })
        .collect()
}

/// The smallest ε (within `eps_max / 2^iters`) at which untargeted PGD (`steps` steps,
/// α = 2.5·ε/steps, as Madry et al.) makes the model misclassify each image, by bisection on
/// all images at once. `None`: still right at `eps_max`; `Some(0.0)`: wrong without attack.
pub fn minimal_eps(
    model: &dyn Module,
    x: &Tensor,
    labels: &[usize],
    steps: usize,
    iters: usize,
    eps_max: f32,
) -> Result<Vec<Option<f32>>> {
    check_eps(eps_max)?;
    let n = x.dim(0);
    let ratio = 2.5 / steps.max(1) as f32;
    // ε and α are given per image to `pgd_per_image`; only the steps come from here.
    let cfg = Pgd {
        steps,
        ..Pgd::spec(0.0)
    };
    let wrong = |eps: &[f32]| -> Result<Vec<bool>> {
        let adv = pgd_per_image(model, x, labels, Goal::Untargeted, eps, ratio, cfg)?;
        Ok(successes(
            &probabilities(model, &adv)?,
            labels,
            Goal::Untargeted,
            0.0,
        ))
    };
    let clean = successes(&probabilities(model, x)?, labels, Goal::Untargeted, 0.0);
    let at_max = wrong(&vec![eps_max; n])?;
    let (mut lo, mut hi) = (vec![0.0f32; n], vec![eps_max; n]);
    for _ in 0..iters {
        let mid: Vec<f32> = lo.iter().zip(&hi).map(|(a, b)| (a + b) / 2.0).collect();
        let w = wrong(&mid)?;
        for b in 0..n {
            if w[b] {
                hi[b] = mid[b];
            } else {
                lo[b] = mid[b];
            }
        }
    }
    Ok((0..n)
        .map(|b| {
            if clean[b] {
                Some(0.0)
            } else if at_max[b] {
                Some(hi[b])
            } else {
                None
            }
        })
        .collect())
}

/// Settings of the colour-only attack.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct ColourAttack {
    pub steps: usize,
    pub lr: f32,
}

impl ColourAttack {
    /// 100 Adam steps of 0.05 on the three colour values. Adam moves each value by about the
    /// learning rate per step whatever the gradient's scale, so 20 steps can cross the whole
    /// [0, 1] range; 100 allow five crossings, and the best colour seen at any step is kept, so
    /// more steps can only help the attacker. (Not the SPEC's: the report has no such attack.)
    pub const DEFAULT: ColourAttack = ColourAttack {
        steps: 100,
        lr: 0.05,
    };
}

impl Default for ColourAttack {
    fn default() -> Self {
        ColourAttack::DEFAULT
    }
}

/// The colour-only attack's outcome per image.
pub struct Recoloured {
    /// `[N, 3, 28, 28]`, the digit repainted in `colours[b]` over its own background.
    pub images: Tensor,
    pub colours: Vec<[f32; 3]>,
}

/// Repaint each digit's stroke: image b is `clamp(gray_b · c_b + background_b, 0, 1)` with
/// only the colour c_b ∈ [0, 1]³ free — 3 numbers per image; the stroke's shape and the
/// background are untouched. Adam on c (clamped to [0, 1] after each step) pushes the model
/// toward (targeted) or away from (untargeted) `labels`; per image the colour that did best
/// over the steps is kept. `gray` is [N, 1, 28, 28], `background` [N, 3, 28, 28], `start` the
/// digits' own colours.
pub fn colour_attack(
    model: &dyn Module,
    gray: &Tensor,
    background: &Tensor,
    start: &[[f32; 3]],
    labels: &[usize],
    goal: Goal,
    cfg: ColourAttack,
) -> Result<Recoloured> {
    let n = gray.dim(0);
    if start.len() != n || background.dim(0) != n {
        return Err(Error::Invalid(
            "colour attack: one colour and background per image".into(),
        ));
    }
    attacking(model, || {
        let dev = gray.device();
        let c = Tensor::from_vec(start.concat(), [n, 3, 1, 1], dev)?.requires_grad_(true)?;
        let paint = |c: &Tensor| gray.mul(c)?.add(background)?.clamp(0.0, 1.0);
        let mut opt = Adam::new(vec![c.clone()], cfg.lr)?;
        let mut best: Vec<([f32; 3], f32)> =
            start.iter().map(|&s| (s, f32::NEG_INFINITY)).collect();
        for step in 0..=cfg.steps {
            crate::interrupt::check()?;
            opt.zero_grad();
            let logits = model.forward(&paint(&c)?)?;
            check_labels(labels, n, logits.dim(1))?;
            let probs = no_grad(|| logits.softmax())?.to_vec()?;
            let k = logits.dim(1);
            let now = c.to_vec()?;
            let probs: Vec<Vec<f32>> = probs.chunks(k).map(|p| p.to_vec()).collect();
            for (b, s) in score(&probs, labels, goal).into_iter().enumerate() {
                if s > best[b].1 {
                    best[b] = ([now[3 * b], now[3 * b + 1], now[3 * b + 2]], s);
                }
            }
            if step == cfg.steps {
                break;
            }
            let ce = logits.cross_entropy(labels)?.sum_all()?;
            let loss = match goal {
                Goal::Targeted => ce,
                Goal::Untargeted => ce.neg()?,
            };
            loss.backward()?;
            opt.step()?;
            no_grad(|| c.assign(&c.clamp(0.0, 1.0)?))?;
        }
        let colours: Vec<[f32; 3]> = best.iter().map(|(c, _)| *c).collect();
        let cbest = Tensor::from_vec(colours.concat(), [n, 3, 1, 1], dev)?;
        Ok(Recoloured {
            images: no_grad(|| paint(&cbest))?,
            colours,
        })
    })
}

/// Mean of the `labels` classes' probabilities (the attacks' "mean target confidence").
pub fn mean_confidence(probs: &[Vec<f32>], labels: &[usize]) -> f64 {
    mean(
        &probs
            .iter()
            .zip(labels)
            .map(|(p, &c)| p[c] as f64)
            .collect::<Vec<_>>(),
    )
}
