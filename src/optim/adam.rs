//! Adam (Kingma & Ba 2015) as `torch.optim.Adam`.

use super::{non_negative, state_for, Optimizer, OptimizerState};
use crate::error::{Error, Result};
use crate::ops::optim::{adam_step, AdamArgs};
use crate::tensor::Tensor;

/// Adam. Each parameter keeps its first and second moment estimates and its own step count.
pub struct Adam {
    params: Vec<Tensor>,
    /// (m, v, step) per parameter, created on its first update.
    state: Vec<Option<(Tensor, Tensor, u32)>>,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

impl Adam {
    /// Adam with PyTorch's defaults (β = 0.9/0.999, eps = 1e-8, no weight decay).
    pub fn new(params: Vec<Tensor>, lr: f32) -> Result<Adam> {
        Adam::with_options(params, lr, (0.9, 0.999), 1e-8, 0.0)
    }

    /// Adam with every hyper-parameter given.
    pub fn with_options(
        params: Vec<Tensor>,
        lr: f32,
        betas: (f32, f32),
        eps: f32,
        weight_decay: f32,
    ) -> Result<Adam> {
        let ok_beta = |b: f32| (0.0..1.0).contains(&b);
        if !non_negative(lr)
            || !ok_beta(betas.0)
            || !ok_beta(betas.1)
            || !non_negative(eps)
            || !non_negative(weight_decay)
        {
            return Err(Error::Invalid(format!(
                "Adam: invalid hyper-parameters lr={lr} betas={betas:?} eps={eps} weight_decay={weight_decay}"
            )));
        }
        let state = vec![None; params.len()];
        Ok(Adam {
            params,
            state,
            lr,
            beta1: betas.0,
            beta2: betas.1,
            eps,
            weight_decay,
        })
    }
}

impl Optimizer for Adam {
    fn step(&mut self) -> Result<()> {
        for (p, st) in self.params.iter().zip(self.state.iter_mut()) {
            let Some(g) = p.grad() else { continue };
            if st.is_none() {
                *st = Some((p.zeros_like()?, p.zeros_like()?, 0));
            }
            let (m, v, t) = st.as_mut().unwrap();
            *t += 1;
            let args = AdamArgs {
                lr: self.lr,
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.weight_decay,
                bias_correction1: 1.0 - self.beta1.powi(*t as i32),
                bias_correction2_sqrt: (1.0 - self.beta2.powi(*t as i32)).sqrt(),
                _pad: 0.0,
            };
            adam_step(p, &g, m, v, &args)?;
        }
        Ok(())
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    fn state(&self) -> OptimizerState {
        let mut s = OptimizerState::default();
        for (i, st) in self.state.iter().enumerate() {
            if let Some((m, v, t)) = st {
                s.tensors.push((format!("adam.{i}.m"), m.clone()));
                s.tensors.push((format!("adam.{i}.v"), v.clone()));
                s.counters.push((format!("adam.{i}.step"), *t as u64));
            }
        }
        s
    }

    fn load_state(&mut self, s: &OptimizerState) -> Result<()> {
        let mut restored = Vec::with_capacity(self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            let m = state_for(s, &format!("adam.{i}.m"), p)?;
            let v = state_for(s, &format!("adam.{i}.v"), p)?;
            let t = s.counter(&format!("adam.{i}.step"));
            restored.push(match (m, v, t) {
                (Some(m), Some(v), Some(t)) => Some((m, v, u32::try_from(t).unwrap_or(u32::MAX))),
                (None, None, None) => None,
                _ => {
                    return Err(Error::Invalid(format!(
                        "Adam state of parameter {i} is incomplete (needs m, v and step)"
                    )))
                }
            });
        }
        self.state = restored;
        Ok(())
    }
}
