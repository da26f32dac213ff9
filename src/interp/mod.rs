//! Interpretability tools: functions that take a model (and its hooks) and return tensors and
//! numbers. They never draw (the study does) and never import the study.
//!
//! * [`selectivity`]: how strongly a layer's channels respond to colour alone — the colour
//!   selectivity index (CSI) over uniform images of the palette colours.

pub mod selectivity;
