//! `shortcut report DIR`: a finished study's page rendered again from its `results.json`,
//! computing nothing — after a change of the report's templates, or to check a study folder.
//!
//! When a study finishes it seals its folder: `manifest.json` at the top lists every file the
//! study wrote (results, figures, checkpoints, every unit's records) with its MD5, all but the
//! page itself. The report is rendered again only from a folder whose manifest verifies, so a
//! page never mixes numbers with figures that changed since; rendered from the same results
//! and figures, it is the same page, byte for byte.

use super::registry::TASKS;
use super::units::relocate;
use super::{report, StudyResults, RESULTS_FILE};
use crate::error::{Error, Result};
use crate::files::{files_under, manifest_verifies, write_manifest, MANIFEST};
use serde_json::Value;
use std::path::Path;

/// The page of the study folder: rendered from the sealed files, never sealed itself.
const PAGE: &str = "index.html";

/// Seal the finished study in `out`: its manifest lists every file but the page.
pub fn seal(out: &Path) -> Result<()> {
    let files: Vec<String> = files_under(out)?
        .into_iter()
        .filter(|f| f != PAGE)
        .collect();
    write_manifest(out, &files)
}

/// Render `dir/index.html` again from `dir/results.json`; refuse a folder that is not a
/// finished, untouched study.
pub fn rerender(dir: &Path) -> Result<StudyResults> {
    let results = dir.join(RESULTS_FILE);
    if !results.is_file() {
        return Err(Error::Invalid(format!(
            "{} holds no finished study (no {RESULTS_FILE}): run `shortcut study --out {}` first",
            dir.display(),
            dir.display()
        )));
    }
    if !manifest_verifies(dir) {
        return Err(Error::Invalid(format!(
            "{} was changed since its study finished ({MANIFEST} is missing or does not match its files): run the same `shortcut study` again to bring it up to date",
            dir.display()
        )));
    }
    let text = std::fs::read_to_string(&results)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", results.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Invalid(format!("{} does not read: {e}", results.display())))?;
    // The figures' paths begin with the folder's name when the study ran; read them from here.
    let folder = value["folder"].as_str().unwrap_or_default();
    let folder = folder.trim_end_matches('/').to_string();
    let here = dir.to_string_lossy().trim_end_matches('/').to_string();
    let value = if folder.is_empty() {
        value
    } else {
        relocate(value, &folder, &here)
    };
    let r: StudyResults = serde_json::from_value(value)
        .map_err(|e| Error::Invalid(format!("{} does not read: {e}", results.display())))?;
    report::write_index_with(&TASKS, &r, dir)?;
    Ok(r)
}
