//! Data: MNIST files, their download, and the Biased-MNIST colouring.

pub mod biased;
pub mod fetch;
pub mod mnist;

pub use biased::{BiasedMnist, Paint, Split, COLOR_NAMES, PALETTE};
pub use mnist::Mnist;

use std::path::PathBuf;

/// Where to look for MNIST: `--data-dir`, else `$SHORTCUT_DATA`, else `./data/mnist`, else
/// `../shared/data/mnist`. Returns the first candidate that holds all four files, or `None`
/// with the list of places tried.
pub fn find_data_dir(
    explicit: Option<&std::path::Path>,
) -> std::result::Result<PathBuf, Vec<PathBuf>> {
    let mut tried = Vec::new();
    if let Some(p) = explicit {
        // an explicit choice is never silently replaced by another directory
        return if mnist::is_present(p) {
            Ok(p.to_path_buf())
        } else {
            Err(vec![p.to_path_buf()])
        };
    }
    if let Some(env) = std::env::var_os("SHORTCUT_DATA") {
        // Set by the user: as explicit as --data-dir (a misspelt path must not start a
        // download into ./data/mnist).
        let p = PathBuf::from(env);
        return if mnist::is_present(&p) {
            Ok(p)
        } else {
            Err(vec![p])
        };
    }
    tried.push(PathBuf::from("data/mnist"));
    tried.push(PathBuf::from("../shared/data/mnist"));
    for p in &tried {
        if mnist::is_present(p) {
            return Ok(p.clone());
        }
    }
    Err(tried)
}
