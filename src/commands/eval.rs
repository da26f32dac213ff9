//! `shortcut eval CHECKPOINT`: accuracy on the train, hard and aligned splits.

use super::inputs::{check_limit, load_checkpoint, load_data, say};
use crate::cli_args::EvalArgs;
use shortcut::data::Split;
use shortcut::{Device, Result};

pub fn run(a: EvalArgs) -> Result<()> {
    let device = Device::parse(&a.device)?;
    check_limit(a.limit)?;
    let model = load_checkpoint(&a.checkpoint, device)?.model;
    let d = load_data(&a.data, a.seed, 0.95, true)?;
    for split in Split::ALL {
        let start = std::time::Instant::now();
        let e = shortcut::measure::eval::evaluate(model.as_ref(), &d, split, a.limit, device)?;
        let secs = start.elapsed().as_secs_f64();
        say(&format!(
            "{:<8} {:5.1}%  ({} samples, {:.0} images/s including colourization)",
            split.name(),
            e.accuracy,
            e.samples,
            e.samples as f64 / secs
        ));
    }
    Ok(())
}
