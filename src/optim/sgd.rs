//! Stochastic gradient descent with momentum, as `torch.optim.SGD`.

use super::{non_negative, state_for, Optimizer, OptimizerState};
use crate::error::{Error, Result};
use crate::ops::optim::{sgd_step, SgdArgs};
use crate::tensor::Tensor;

/// SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay.
pub struct Sgd {
    params: Vec<Tensor>,
    /// The momentum buffer per parameter, created on its first update.
    bufs: Vec<Option<Tensor>>,
    pub lr: f32,
    pub momentum: f32,
    pub dampening: f32,
    pub weight_decay: f32,
    pub nesterov: bool,
}

impl Sgd {
    /// Plain SGD (no momentum).
    pub fn new(params: Vec<Tensor>, lr: f32) -> Result<Sgd> {
        Sgd::with_options(params, lr, 0.0, 0.0, 0.0, false)
    }

    /// SGD with every option given.
    pub fn with_options(
        params: Vec<Tensor>,
        lr: f32,
        momentum: f32,
        dampening: f32,
        weight_decay: f32,
        nesterov: bool,
    ) -> Result<Sgd> {
        if !non_negative(lr) || !non_negative(momentum) || !non_negative(weight_decay) {
            return Err(Error::Invalid(format!(
                "SGD: invalid lr={lr} momentum={momentum} weight_decay={weight_decay}"
            )));
        }
        if nesterov && (momentum <= 0.0 || dampening != 0.0) {
            return Err(Error::Invalid(
                "SGD: Nesterov momentum requires momentum > 0 and dampening = 0".into(),
            ));
        }
        let bufs = vec![None; params.len()];
        Ok(Sgd {
            params,
            bufs,
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
        })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        for (p, buf) in self.params.iter().zip(self.bufs.iter_mut()) {
            let Some(g) = p.grad() else { continue };
            let first = buf.is_none();
            if first {
                *buf = Some(p.zeros_like()?);
            }
            let args = SgdArgs {
                lr: self.lr,
                momentum: self.momentum,
                dampening: self.dampening,
                weight_decay: self.weight_decay,
                nesterov: self.nesterov as u32,
                first_step: first as u32,
                _pad: [0; 2],
            };
            sgd_step(p, &g, buf.as_ref().unwrap(), &args)?;
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
        for (i, b) in self.bufs.iter().enumerate() {
            if let Some(b) = b {
                s.tensors.push((format!("sgd.{i}.momentum"), b.clone()));
            }
        }
        s
    }

    fn load_state(&mut self, s: &OptimizerState) -> Result<()> {
        let bufs = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| state_for(s, &format!("sgd.{i}.momentum"), p))
            .collect::<Result<Vec<_>>>()?;
        self.bufs = bufs;
        Ok(())
    }
}
