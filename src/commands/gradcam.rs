//! `shortcut gradcam CHECKPOINT`: one image, one class, one overlay.

use super::inputs::{load_checkpoint, load_data, parse_split, say};
use crate::cli_args::GradcamArgs;
use shortcut::data::Paint;
use shortcut::interp::gradcam::grad_cam_one;
use shortcut::{Device, Error, Result};

pub fn run(a: GradcamArgs) -> Result<()> {
    let device = Device::parse(&a.device)?;
    let split = parse_split(&a.split)?;
    if let Some(c) = a.class {
        if !(0..10).contains(&c) {
            return Err(Error::Invalid(format!(
                "--class {c}: a class is a digit 0–9"
            )));
        }
    }
    if a.out.extension().and_then(|e| e.to_str()) != Some("png") {
        return Err(Error::Invalid(format!(
            "--out {}: give a .png file",
            a.out.display()
        )));
    }
    let loaded = load_checkpoint(&a.checkpoint, device)?;
    let layer = a
        .layer
        .unwrap_or_else(|| loaded.kind.cam_layer().to_string());
    shortcut::nn::get_submodule(loaded.model.as_ref(), &layer)?;
    let d = load_data(&a.data, a.seed, 0.95, true)?;
    let (n, index) = (d.len(split), a.index);
    if index >= n {
        return Err(Error::Invalid(format!(
            "--index {index} is past the {} split ({n} images: 0–{})",
            split.name(),
            n - 1
        )));
    }
    let (x, y) = d.batch(split, 0, &[index], Paint::DRAWN, device)?;
    let class = a.class.map(|c| c as usize);
    let one = grad_cam_one(loaded.model.as_ref(), &layer, &x, class)?;
    let title = format!(
        "{} {} #{index}: digit {} → {} ({:.2}); CAM of class {} at {layer}",
        loaded.kind.name(),
        split.name(),
        y[0],
        one.predicted,
        one.probability,
        one.class
    );
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    }
    let image = x.to_vec()?;
    let tiles = vec![image.clone(), shortcut::plots::overlay(&image, &one.cam)];
    shortcut::plots::image_grid_png(&a.out, &tiles, 28, 28, 1, 2, 10, None, Some(&title))
        .map_err(|e| Error::Invalid(e.to_string()))?;
    say(&format!(
        "{title}; concentration ratio {}{}; wrote {}",
        one.ratio
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "— (empty CAM)".into()),
        if one.empty {
            " (no positive evidence for this class: the CAM is all zero)"
        } else {
            ""
        },
        a.out.display()
    ));
    Ok(())
}
