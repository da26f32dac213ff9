//! Interpretability tools: functions that take a model (and its hooks) and return tensors and
//! numbers. They never draw (the study does) and never import the study.
//!
//! * [`featviz`]: activation maximization (class logits, conv filters), colour purity, filter
//!   tiles.
//! * [`poly`]: the report's polysemanticity probes for one unit.
//! * [`gradcam`]: Grad-CAM from a forward hook and a gradient hook; concentration ratio,
//!   CAM mass on the stroke, the pointing game, the parameter-randomization sanity check.
//! * [`attention`]: the attention CNN's own attention maps.
//! * [`attack`]: FGSM, L∞ PGD (random starts, restarts, per-image ε), each image's minimal ε,
//!   and the colour-only attack — all with the parameters frozen.
//! * [`sae`]: sparse autoencoders on a hidden layer — training, the code's tables and scores,
//!   and splicing the SAE (or an edited code) back into the model through a forward hook.
//!
//! What training uses too — reading a layer through a hook, colour selectivity, evaluation,
//! statistics — is one layer below, in [`crate::measure`].

pub mod attack;
pub mod attention;
pub mod featviz;
pub mod gradcam;
pub mod poly;
pub mod sae;
