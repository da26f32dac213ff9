//! What a trained model does on data, measured: used by training (after every epoch, and to
//! rank neuron suppression's channels), by the interpretability tools and by the study, so it
//! sits below all of them (docs/architecture.md).
//!
//! * [`eval`]: accuracy and confusion on a split, the digit × colour conflict matrix, the
//!   red-1 probe.
//! * [`capture`]: read any layer's output by its dotted name with a forward hook.
//! * [`selectivity`]: how strongly a layer's units respond to colour alone — the colour
//!   selectivity index (CSI), favourite colours, the poly score.
//! * [`stats`]: ranks, Spearman, entropy, percentiles, Wilson intervals.

pub mod capture;
pub mod eval;
pub mod selectivity;
pub mod stats;
