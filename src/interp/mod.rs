//! Interpretability tools: functions that take a model (and its hooks) and return tensors and
//! numbers. They never draw (the study does) and never import the study.
//!
//! * [`capture`]: read any layer's output by its dotted name with a forward hook.
//! * [`featviz`]: activation maximization (class logits, conv filters), colour purity, filter
//!   tiles.
//! * [`selectivity`]: how strongly a layer's units respond to colour alone — the colour
//!   selectivity index (CSI), favourite colours, the poly score.
//! * [`poly`]: the report's polysemanticity probes for one unit.
//! * [`gradcam`]: Grad-CAM from a forward hook and a gradient hook; concentration ratio,
//!   CAM mass on the stroke, the pointing game, the parameter-randomization sanity check.
//! * [`attention`]: the attention CNN's own attention maps.
//! * [`attack`]: FGSM, L∞ PGD (random starts, restarts, per-image ε), each image's minimal ε,
//!   and the colour-only attack — all with the parameters frozen.
//! * [`sae`]: sparse autoencoders on a hidden layer — training, the code's tables and scores,
//!   and splicing the SAE (or an edited code) back into the model through a forward hook.
//! * [`stats`]: ranks, Spearman, entropy, percentiles.

pub mod attack;
pub mod attention;
pub mod capture;
pub mod featviz;
pub mod gradcam;
pub mod poly;
pub mod sae;
pub mod selectivity;
pub mod stats;
