//! `shortcut data fetch` and `shortcut data preview`.

use super::inputs::{check_bias, fetch_into, load_data, say};
use crate::cli_args::DataAction;
use shortcut::Result;

pub fn run(action: DataAction) -> Result<()> {
    match action {
        DataAction::Fetch { dir, mirror } => {
            fetch_into(&dir, &mirror)?;
            say(&format!("MNIST is ready in {}", dir.display()));
        }
        DataAction::Preview {
            out,
            seed,
            bias,
            data,
        } => {
            check_bias(bias)?;
            let d = load_data(&data, seed, bias, true)?;
            for p in shortcut::study::task0::write_previews(&d, &out, 8)? {
                say(&format!("wrote {}", p.display()));
            }
        }
    }
    Ok(())
}
