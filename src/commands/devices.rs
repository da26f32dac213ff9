//! `shortcut devices`: what this build can run on, and what `--device` would choose.

use super::inputs::say;
use shortcut::device::{cpu, cuda, wgpu};
use shortcut::{Device, Result};

pub fn run(device: &str) -> Result<()> {
    let d = Device::parse(device)?;
    say(&format!(
        "cpu: available ({} threads; set RAYON_NUM_THREADS to change)",
        cpu::num_threads()
    ));
    match cuda::gpu() {
        Ok(g) => say(&format!("cuda: {} ← --device cuda", g.describe())),
        Err(e) => say(&format!("cuda: unavailable — {e}")),
    }
    let adapters = wgpu::adapters::list();
    if adapters.is_empty() {
        say("wgpu: no adapter (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers)");
    }
    // Marked from the same choice `--device wgpu` makes (SHORTCUT_WGPU_ADAPTER included).
    let chosen = wgpu::adapters::best().ok().map(|b| b.info);
    for a in &adapters {
        let tag = if chosen.as_ref() == Some(&a.info) {
            " ← --device wgpu"
        } else {
            ""
        };
        say(&format!("wgpu: {}{tag}", wgpu::describe(&a.info)));
    }
    say(&format!("--device {device} selects: {}", d.describe()));
    Ok(())
}
