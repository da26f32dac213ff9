//! `shortcut report DIR`: render a finished study's page again from its results.

use super::inputs::say;
use shortcut::Result;
use std::path::Path;

pub fn run(dir: &Path) -> Result<()> {
    shortcut::study::rerender::rerender(dir)?;
    say(&format!(
        "rendered {} from {} (nothing computed)",
        dir.join("index.html").display(),
        dir.join(shortcut::study::RESULTS_FILE).display()
    ));
    Ok(())
}
