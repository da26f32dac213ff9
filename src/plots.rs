//! The study's figures as PNG files: line charts (training curves), annotated heatmaps
//! (confusion and conflict matrices) and image grids (dataset samples), drawn with `plotters`.
//!
//! Text is rendered with a font embedded in the binary (DejaVu Sans, `assets/fonts/`, under
//! its free licence), so figures look the same on machines without system fonts.

use base64::Engine;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// A figure could not be drawn or written.
#[derive(Debug)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static FONT_OK: OnceLock<bool> = OnceLock::new();

fn ensure_font() -> Result<(), PlotError> {
    let ok = *FONT_OK.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError("the embedded font could not be loaded".into()))
    }
}

fn err(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError(format!("cannot draw {}: {e}", path.display()))
}

/// Distinct, colour-blind-friendly line colours (Okabe–Ito).
const LINE_COLORS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// Draw into a temporary file beside `path` and rename it over `path`: a process killed while
/// drawing leaves no half-written (0-byte) PNG under the real name. The temporary name keeps the
/// `.png` extension, which tells the encoder the format.
fn atomic_png(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}.png", std::process::id()));
    // Errors name the real file, not the temporary.
    let named = |e: PlotError| {
        PlotError(e.0.replace(&tmp.display().to_string(), &path.display().to_string()))
    };
    let done = draw(&tmp).map_err(named).and_then(|()| {
        crate::files::sync_and_rename(&tmp, path)
            .map_err(|e| PlotError(format!("cannot write {}: {e}", path.display())))
    });
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// A line chart over x = 1..=len: one line with markers per series, dashed horizontal
/// reference lines, a legend. `y_range` fixes the axis; `None` fits the data.
pub fn line_chart_png(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, &[f32])],
    refs: &[(&str, f32)],
    y_range: Option<(f32, f32)>,
) -> Result<(), PlotError> {
    atomic_png(path, |path| {
        ensure_font()?;
        let len = series
            .iter()
            .map(|(_, v)| v.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let (y0, y1) = match y_range {
            Some(r) if r.0 < r.1 => r,
            _ => {
                let vals = series
                    .iter()
                    .flat_map(|(_, v)| v.iter().copied())
                    .chain(refs.iter().map(|r| r.1))
                    .filter(|v| v.is_finite());
                let (lo, hi) = vals.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
                if !lo.is_finite() {
                    (0.0, 1.0)
                } else if hi - lo < 1e-6 {
                    (lo - 1.0, hi + 1.0)
                } else {
                    let m = 0.08 * (hi - lo);
                    (lo - m, hi + m)
                }
            }
        };
        let root = BitMapBackend::new(path, (820, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 22))
            .margin(18)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5f32..len as f32 + 0.5, y0..y1)
            .map_err(|e| err(path, e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels(len.min(20))
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .y_label_formatter(&|y| {
                if y1 - y0 >= 10.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.2}")
                }
            })
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(|e| err(path, e))?;
        for (i, (name, values)) in series.iter().enumerate() {
            let color = LINE_COLORS[i % LINE_COLORS.len()];
            let pts: Vec<(f32, f32)> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, &v)| (k as f32 + 1.0, v))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(3)))
                .map_err(|e| err(path, e))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| err(path, e))?;
        }
        for (name, v) in refs {
            if !v.is_finite() {
                continue;
            }
            let color = RGBColor(90, 90, 90);
            let dash = DashedLineSeries::new(
                vec![(0.5, *v), (len as f32 + 0.5, *v)],
                8,
                6,
                color.stroke_width(2),
            );
            chart
                .draw_series(dash)
                .map_err(|e| err(path, e))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 8, y), (x + 14, y), (x + 22, y)],
                        color.stroke_width(2),
                    )
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .position(SeriesLabelPosition::MiddleRight)
            .draw()
            .map_err(|e| err(path, e))?;
        root.present().map_err(|e| err(path, e))
    })
}

/// White → dark blue ("Blues"), t ∈ [0, 1].
fn blues(t: f32) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let a = (247.0, 251.0, 255.0);
    let b = (8.0, 48.0, 107.0);
    let l = |x: f32, y: f32| (x + (y - x) * t).round() as u8;
    RGBColor(l(a.0, b.0), l(a.1, b.1), l(a.2, b.2))
}

/// An annotated heatmap: `values[r][c]`, rows top to bottom, columns left to right, with a
/// colour bar over `range` (None: the data's min..max).
#[allow(clippy::too_many_arguments)]
pub fn heatmap_png(
    path: &Path,
    title: &str,
    row_label: &str,
    col_label: &str,
    row_names: &[String],
    col_names: &[String],
    values: &[Vec<f32>],
    range: Option<(f32, f32)>,
    annotate: bool,
    fmt_decimals: usize,
) -> Result<(), PlotError> {
    atomic_png(path, |path| {
        ensure_font()?;
        let (rows, cols) = (row_names.len(), col_names.len());
        if values.len() != rows || values.iter().any(|r| r.len() != cols) || rows == 0 || cols == 0
        {
            return Err(PlotError(format!(
            "cannot draw {}: values must be {rows}×{cols} (one row per row name, one column per column name)",
            path.display()
        )));
        }
        let (lo, hi) = match range {
            Some(r) if r.0 < r.1 => r,
            _ => {
                let (a, b) = values
                    .iter()
                    .flatten()
                    .filter(|v| v.is_finite())
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                if !a.is_finite() || b - a < 1e-12 {
                    (a.min(0.0).min(b), a.max(1.0).max(b))
                } else {
                    (a, b)
                }
            }
        };
        let cell = 54i32;
        let (left, top, bottom, right) = (86i32, 64i32, 70i32, 120i32);
        let (w, h) = (
            left + cell * cols as i32 + right,
            top + cell * rows as i32 + bottom,
        );
        let root = BitMapBackend::new(path, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let centered = |size: u32| {
            TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
        };
        root.draw(&Text::new(
            title.to_string(),
            ((left + cell * cols as i32 / 2), 26),
            centered(20),
        ))
        .map_err(|e| err(path, e))?;
        for (r, row) in values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let (x0, y0) = (left + c as i32 * cell, top + r as i32 * cell);
                let t = if v.is_finite() {
                    (v - lo) / (hi - lo)
                } else {
                    0.0
                };
                let fill = if v.is_finite() {
                    blues(t)
                } else {
                    RGBColor(200, 200, 200)
                };
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    fill.filled(),
                ))
                .map_err(|e| err(path, e))?;
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    RGBColor(255, 255, 255).stroke_width(1),
                ))
                .map_err(|e| err(path, e))?;
                if annotate {
                    let text = if v.is_finite() {
                        format!("{v:.fmt_decimals$}")
                    } else {
                        "–".into()
                    };
                    let color = if t > 0.55 { WHITE } else { BLACK };
                    let size = if text.len() > 4 { 12 } else { 15 };
                    root.draw(&Text::new(
                        text,
                        (x0 + cell / 2, y0 + cell / 2),
                        centered(size).color(&color),
                    ))
                    .map_err(|e| err(path, e))?;
                }
            }
        }
        for (r, name) in row_names.iter().enumerate() {
            let style =
                TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(
                name.clone(),
                (left - 8, top + r as i32 * cell + cell / 2),
                style,
            ))
            .map_err(|e| err(path, e))?;
        }
        for (c, name) in col_names.iter().enumerate() {
            let size = if name.len() > 6 { 12 } else { 15 };
            root.draw(&Text::new(
                name.clone(),
                (
                    left + c as i32 * cell + cell / 2,
                    top + rows as i32 * cell + 14,
                ),
                centered(size),
            ))
            .map_err(|e| err(path, e))?;
        }
        root.draw(&Text::new(
            col_label.to_string(),
            (left + cell * cols as i32 / 2, h - 22),
            centered(16),
        ))
        .map_err(|e| err(path, e))?;
        let vertical = TextStyle::from((FONT, 16).into_font().transform(FontTransform::Rotate270))
            .pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(
            row_label.to_string(),
            (18, top + cell * rows as i32 / 2),
            vertical,
        ))
        .map_err(|e| err(path, e))?;
        // colour bar
        let (bx, by, bh) = (left + cell * cols as i32 + 24, top, cell * rows as i32);
        for i in 0..bh {
            let t = 1.0 - i as f32 / (bh - 1).max(1) as f32;
            root.draw(&Rectangle::new(
                [(bx, by + i), (bx + 18, by + i + 1)],
                blues(t).filled(),
            ))
            .map_err(|e| err(path, e))?;
        }
        root.draw(&Rectangle::new(
            [(bx, by), (bx + 18, by + bh)],
            RGBColor(150, 150, 150).stroke_width(1),
        ))
        .map_err(|e| err(path, e))?;
        let left_style =
            TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        for (frac, v) in [(0.0f32, hi), (0.5, (lo + hi) / 2.0), (1.0, lo)] {
            let y = by + (frac * bh as f32) as i32;
            root.draw(&Text::new(
                format!("{v:.fmt_decimals$}"),
                (bx + 24, y),
                left_style.clone(),
            ))
            .map_err(|e| err(path, e))?;
        }
        root.present().map_err(|e| err(path, e))
    })
}

/// A grid of RGB images (CHW, values in [0, 1]) laid out `rows`×`cols`, each scaled by `scale`.
#[allow(clippy::too_many_arguments)]
pub fn image_grid_png(
    path: &Path,
    images: &[Vec<f32>],
    h: usize,
    w: usize,
    rows: usize,
    cols: usize,
    scale: usize,
    row_labels: Option<&[String]>,
    title: Option<&str>,
) -> Result<(), PlotError> {
    labelled_grid_png(
        path, images, h, w, rows, cols, scale, row_labels, None, title,
    )
}

/// [`image_grid_png`] with column headings, and a label column as wide as its longest label.
#[allow(clippy::too_many_arguments)]
pub fn labelled_grid_png(
    path: &Path,
    images: &[Vec<f32>],
    h: usize,
    w: usize,
    rows: usize,
    cols: usize,
    scale: usize,
    row_labels: Option<&[String]>,
    col_labels: Option<&[String]>,
    title: Option<&str>,
) -> Result<(), PlotError> {
    atomic_png(path, |path| {
        ensure_font()?;
        if h == 0 || w == 0 || rows == 0 || cols == 0 || scale == 0 {
            return Err(PlotError(format!(
                "cannot draw {}: empty grid",
                path.display()
            )));
        }
        let gap = 2usize;
        let longest = row_labels
            .map(|l| l.iter().map(|s| s.chars().count()).max().unwrap_or(0))
            .unwrap_or(0);
        let left = if row_labels.is_some() {
            34.max(8 * longest + 12)
        } else {
            gap
        };
        let title_h = if title.is_some() { 36 } else { 0 };
        let heads_h = if col_labels.is_some() { 24 } else { 0 };
        let top = (title_h + heads_h).max(gap);
        let (cw, ch) = (w * scale, h * scale);
        let width = left + cols * (cw + gap);
        let height = top + rows * (ch + gap);
        let root = BitMapBackend::new(path, (width as u32, height as u32)).into_drawing_area();
        root.fill(&RGBColor(30, 30, 30)).map_err(|e| err(path, e))?;
        let label_area = RGBColor(255, 255, 255);
        if left > gap {
            root.draw(&Rectangle::new(
                [(0, 0), (left as i32, height as i32)],
                label_area.filled(),
            ))
            .map_err(|e| err(path, e))?;
        }
        if top > gap {
            root.draw(&Rectangle::new(
                [(0, 0), (width as i32, top as i32)],
                label_area.filled(),
            ))
            .map_err(|e| err(path, e))?;
        }
        for (k, img) in images.iter().enumerate().take(rows * cols) {
            if img.len() < 3 * h * w {
                continue; // a missing image stays dark
            }
            let (r, c) = (k / cols, k % cols);
            let (x0, y0) = (left + c * (cw + gap), top + r * (ch + gap));
            for y in 0..ch {
                for x in 0..cw {
                    let p = (y / scale) * w + x / scale;
                    let px =
                        |ch: usize| (img[ch * h * w + p].clamp(0.0, 1.0) * 255.0).round() as u8;
                    root.draw_pixel(
                        ((x0 + x) as i32, (y0 + y) as i32),
                        &RGBColor(px(0), px(1), px(2)),
                    )
                    .map_err(|e| err(path, e))?;
                }
            }
        }
        let style =
            TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
        if let Some(labels) = row_labels {
            for (r, l) in labels.iter().enumerate().take(rows) {
                root.draw(&Text::new(
                    l.clone(),
                    (left as i32 / 2, (top + r * (ch + gap) + ch / 2) as i32),
                    style.clone(),
                ))
                .map_err(|e| err(path, e))?;
            }
        }
        if let Some(t) = title {
            root.draw(&Text::new(
                t.to_string(),
                (width as i32 / 2, 18),
                style.clone(),
            ))
            .map_err(|e| err(path, e))?;
        }
        if let Some(heads) = col_labels {
            let small =
                TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
            for (c, l) in heads.iter().enumerate().take(cols) {
                root.draw(&Text::new(
                    l.clone(),
                    (
                        (left + c * (cw + gap) + cw / 2) as i32,
                        (title_h + 12) as i32,
                    ),
                    small.clone(),
                ))
                .map_err(|e| err(path, e))?;
            }
        }
        root.present().map_err(|e| err(path, e))
    })
}

/// OpenCV's and matplotlib's "jet" colour map: t ∈ [0, 1] from dark blue through cyan and
/// yellow to dark red.
pub fn jet(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    let f = |c: f32| (1.5 - (4.0 * t - c).abs()).clamp(0.0, 1.0);
    [f(3.0), f(2.0), f(1.0)]
}

/// SPEC Task 3's overlay: 0.6 · image + 0.4 · jet(map), for a CHW 3×H×W image and an H×W map
/// in [0, 1].
pub fn overlay(image: &[f32], map: &[f32]) -> Vec<f32> {
    let hw = map.len();
    let mut out = vec![0.0f32; 3 * hw];
    for (p, &m) in map.iter().enumerate() {
        let c = jet(m);
        for ch in 0..3 {
            out[ch * hw + p] = (0.6 * image[ch * hw + p] + 0.4 * c[ch]).clamp(0.0, 1.0);
        }
    }
    out
}

/// A PNG file as a `data:image/png;base64,…` URI, to embed figures in HTML.
pub fn png_data_uri(path: &Path) -> Result<String, PlotError> {
    let bytes = std::fs::read(path)
        .map_err(|e| PlotError(format!("cannot read {}: {e}", path.display())))?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(img: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
        let i = ((y * img.0 + x) * 3) as usize;
        [img.2[i], img.2[i + 1], img.2[i + 2]]
    }

    #[test]
    fn heatmap_darker_for_larger_values_and_checks_its_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.png");
        let names: Vec<String> = (0..3).map(|i| i.to_string()).collect();
        let v = vec![
            vec![0.0, 1.0, 2.0],
            vec![3.0, 4.0, 5.0],
            vec![6.0, 7.0, 100.0],
        ];
        heatmap_png(&p, "t", "r", "c", &names, &names, &v, None, true, 0).unwrap();
        let img = decode(&p);
        // cell (0,0) holds the minimum, (2,2) the maximum; sample near a corner of each cell
        let lum = |c: [u8; 3]| c.iter().map(|&x| x as u32).sum::<u32>();
        let min_cell = pixel(&img, 86 + 4, 64 + 4);
        let max_cell = pixel(&img, 86 + 2 * 54 + 4, 64 + 2 * 54 + 4);
        assert!(
            lum(max_cell) < lum(min_cell),
            "{max_cell:?} vs {min_cell:?}"
        );
        assert!(heatmap_png(&p, "t", "r", "c", &names, &names, &v[..2], None, true, 0).is_err());
    }

    #[test]
    fn image_grid_reproduces_pixels_and_line_chart_is_not_blank() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.png");
        let mut red = vec![0.0f32; 3 * 4 * 4];
        red[..16].fill(1.0);
        image_grid_png(&p, &[red], 4, 4, 1, 2, 5, None, None).unwrap();
        let img = decode(&p);
        assert_eq!((img.0, img.1), (2 + 2 * (20 + 2), 2 + 22));
        assert_eq!(pixel(&img, 2 + 10, 2 + 10), [255, 0, 0]);

        let q = dir.path().join("l.png");
        line_chart_png(
            &q,
            "acc",
            "epoch",
            "%",
            &[("a", &[1.0, 2.0, 3.0]), ("b", &[f32::NAN, 1.0])],
            &[("ref", 2.5)],
            None,
        )
        .unwrap();
        let img = decode(&q);
        let distinct: std::collections::HashSet<[u8; 3]> = (0..img.1)
            .step_by(7)
            .flat_map(|y| (0..img.0).step_by(7).map(move |x| (x, y)))
            .map(|(x, y)| pixel(&img, x, y))
            .collect();
        assert!(distinct.len() > 5);
        assert!(png_data_uri(&q)
            .unwrap()
            .starts_with("data:image/png;base64,iVBOR"));
    }

    #[test]
    fn unwritable_path_is_an_error_naming_it() {
        let e = line_chart_png(
            Path::new("/no/such/dir/x.png"),
            "t",
            "x",
            "y",
            &[("a", &[1.0])],
            &[],
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("/no/such/dir/x.png"), "{e}");
    }
}
