//! Every HTML page the project writes — the study's `index.html`, `explain.html`, `sae.html`,
//! `attack.html` — is rendered here from templates, with [minijinja].
//!
//! The templates are files under `src/report/templates/`, embedded in the binary with
//! `include_str!`, so the program needs no file beside it and every page stays one
//! self-contained file (the style sheet `report.css` is inlined into `<style>`, figures are
//! `data:` URIs). `page.html` is the layout every page extends; each task's section has its own
//! template; `macros.html` holds the figure macro.
//!
//! **Escaping.** Every template's name ends in `.html`, so minijinja escapes every value it
//! prints (`<`, `>`, `&`, `"`, `'`, `/`): a model label or a path that contains markup shows as
//! text. Only two kinds of values bypass it: sections that were themselves rendered from a
//! template ([`safe`]), and the `data:` URIs of the figures (base64, made here).
//!
//! **Who decides what.** Rust code computes every number and every verdict and hands them to a
//! template as plain data (a `#[derive(Serialize)]` view, or the results themselves); a
//! template only lays them out. The filters below format numbers so that a page's text reads
//! the same wherever the same kind of number appears:
//!
//! | filter | example | prints |
//! | --- | --- | --- |
//! | `fixed(d)` | `{{ 0.8123\|fixed(2) }}` | `0.81` |
//! | `signed(d)` | `{{ 0.5\|signed(2) }}` | `+0.50` |
//! | `sci(d)` | `{{ 0.000298\|sci(2) }}` | `2.98e-4` |
//! | `percent(d)` | `{{ 0.123\|percent(1) }}` | `12.3 %` (a fraction as a percentage) |
//! | `mean_std(n)` | `{{ [95.61, 0.4]\|mean_std(3) }}` | `95.6 ± 0.4 % (n = 3)`; with n = 1: `95.6 % (n = 1)` |
//! | `human` | `{{ 93\|human }}` | `93 s` (see [`crate::progress::human`]) |
//! | `png_data_uri` | `{{ path\|png_data_uri }}` | the PNG file as a `data:image/png;base64,…` URI |
//!
//! [minijinja]: https://docs.rs/minijinja

mod attack;

pub use attack::attack_page;

use crate::error::{Error, Result};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;
use std::sync::LazyLock;

/// Every template, by the name the others (and [`render`]) use for it.
const TEMPLATES: &[(&str, &str)] = &[
    ("report.css", include_str!("templates/report.css")),
    ("page.html", include_str!("templates/page.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("index.html", include_str!("templates/index.html")),
    ("summary.html", include_str!("templates/summary.html")),
    ("task0.html", include_str!("templates/task0.html")),
    ("task1.html", include_str!("templates/task1.html")),
    ("task2.html", include_str!("templates/task2.html")),
    ("attention.html", include_str!("templates/attention.html")),
    ("task3.html", include_str!("templates/task3.html")),
    ("task4.html", include_str!("templates/task4.html")),
    ("task5.html", include_str!("templates/task5.html")),
    ("task6.html", include_str!("templates/task6.html")),
    ("explain.html", include_str!("templates/explain.html")),
    ("sae.html", include_str!("templates/sae.html")),
    ("attack.html", include_str!("templates/attack.html")),
    (
        "section_page.html",
        include_str!("templates/section_page.html"),
    ),
];

/// The environment, built once on first use. Building fails only on a template with a syntax
/// error, which the tests catch; it is kept as an error rather than a panic all the same.
static ENV: LazyLock<std::result::Result<Environment<'static>, String>> =
    LazyLock::new(|| environment().map_err(|e| describe(&e)));

/// Render the template `template` (e.g. `"task2.html"`) with `ctx` as its variables.
///
/// `ctx` is any serializable value whose fields the template reads: a view struct made for the
/// page, or a result struct itself. A template that reads a field `ctx` lacks, a missing figure,
/// or a filter given the wrong kind of value is an [`Error::Invalid`] naming the template and
/// line.
pub fn render(template: &str, ctx: impl Serialize) -> Result<String> {
    let env = ENV
        .as_ref()
        .map_err(|e| Error::Invalid(format!("the report's templates do not load: {e}")))?;
    env.get_template(template)
        .and_then(|t| t.render(Value::from(Serde(ctx))))
        .map_err(|e| Error::Invalid(format!("cannot render {template}: {}", describe(&e))))
}

/// HTML that was already rendered from a template (a task's section), to be inserted into
/// another template as it is, not escaped a second time.
pub fn safe(html: String) -> Value {
    Value::from_safe_string(html)
}

/// A page of its own around one rendered section (`section_page.html`), titled `title`.
pub fn page(title: &str, section: String) -> Result<String> {
    #[derive(Serialize)]
    struct Page<'a> {
        title: &'a str,
        section: Value,
    }
    render(
        "section_page.html",
        Page {
            title,
            section: safe(section),
        },
    )
}

/// A minijinja error in one line: what went wrong, in which template and on which line, and
/// the error underneath (e.g. the figure that could not be read).
fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(detail) = e.detail() {
        s = format!("{s}: {detail}");
    }
    if let Some(name) = e.name() {
        s = format!("{s} (in {name}");
        if let Some(line) = e.line() {
            s = format!("{s}, line {line}");
        }
        s.push(')');
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s = format!("{s}; {inner}");
        source = inner.source();
    }
    s
}

/// The environment: strict about undefined variables (a typo in a template is an error, not
/// an empty cell), block tags on their own lines leave no blank lines, and the filters.
fn environment() -> std::result::Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    env.add_filter("fixed", fixed);
    env.add_filter("signed", signed);
    env.add_filter("sci", sci);
    env.add_filter("percent", percent);
    env.add_filter("mean_std", mean_std_filter);
    env.add_filter("human", |seconds: f64| crate::progress::human(seconds));
    env.add_filter("png_data_uri", png_data_uri);
    Ok(env)
}

/// `{{ x|fixed(2) }}`: `x` with `digits` decimals (Rust's `{:.2}`).
fn fixed(x: f64, digits: usize) -> String {
    format!("{x:.digits$}")
}

/// `{{ x|signed(2) }}`: `x` with its sign and `digits` decimals (Rust's `{:+.2}`).
fn signed(x: f64, digits: usize) -> String {
    format!("{x:+.digits$}")
}

/// `{{ x|sci(2) }}`: `x` in scientific notation with `digits` decimals (Rust's `{:.2e}`).
fn sci(x: f64, digits: usize) -> String {
    format!("{x:.digits$e}")
}

/// `{{ f|percent(1) }}`: a fraction as a percentage with `digits` decimals and the sign.
fn percent(fraction: f64, digits: usize) -> String {
    format!("{:.digits$} %", 100.0 * fraction)
}

/// `{{ [mean, std]|mean_std(n) }}`: a percentage over `n` runs; see [`mean_std`].
fn mean_std_filter(pair: Vec<f64>, n: usize) -> std::result::Result<String, minijinja::Error> {
    match pair[..] {
        [mean, std] => Ok(mean_std(mean, std, n)),
        _ => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "mean_std expects a [mean, std] pair",
        )),
    }
}

/// A percentage over `n` runs: `95.6 ± 0.4 % (n = 3)`. One run has no spread, so it prints
/// `95.6 % (n = 1)` rather than a misleading `± 0.0`.
pub fn mean_std(mean: f64, std: f64, n: usize) -> String {
    if n < 2 {
        format!("{mean:.1} % (n = {n})")
    } else {
        format!("{mean:.1} ± {std:.1} % (n = {n})")
    }
}

/// `{{ path|png_data_uri }}`: the PNG at `path` as a `data:` URI, so the page carries its figures.
/// A figure that cannot be read is an error: a report never silently lacks one.
fn png_data_uri(path: String) -> std::result::Result<Value, minijinja::Error> {
    let uri = crate::plots::png_data_uri(std::path::Path::new(&path))
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    // Base64 and the scheme only: nothing to escape, and escaping `/` would bloat the page.
    Ok(Value::from_safe_string(uri))
}

#[cfg(test)]
mod tests {
    // Escaping is tested in tests/report.rs: its expected output is HTML, which
    // tests/no_html_in_rust.rs keeps out of src/.
    use super::*;

    #[test]
    fn every_template_loads() {
        assert!(ENV.is_ok(), "{:?}", ENV.as_ref().err());
    }

    #[test]
    fn mean_std_shows_n_and_no_spread_for_one_run() {
        assert_eq!(mean_std(95.61, 0.0, 1), "95.6 % (n = 1)");
        assert_eq!(mean_std(95.61, 0.44, 3), "95.6 ± 0.4 % (n = 3)");
    }

    /// A figure that cannot be read fails the page, naming the template, its line and the file.
    #[test]
    fn a_missing_figure_is_an_error_naming_the_template() {
        let ctx = serde_json::json!({
            "train": 1.0, "hard": 2.0, "aligned": 3.0, "curves": "/no/such/curves.png"
        });
        let err = render("attention.html", ctx).unwrap_err().to_string();
        assert!(err.contains("attention.html"), "{err}");
        assert!(err.contains("line"), "{err}");
        assert!(err.contains("/no/such/curves.png"), "{err}");
    }

    #[test]
    fn an_undefined_variable_is_an_error() {
        let err = render("attention.html", serde_json::json!({})).unwrap_err();
        assert!(err.to_string().contains("attention.html"), "{err}");
    }
}

/// A figure on a page: the PNG and its caption (also its alt text).
#[derive(serde::Serialize)]
pub struct Figure {
    pub path: std::path::PathBuf,
    pub caption: String,
}

impl Figure {
    pub fn new(path: impl Into<std::path::PathBuf>, caption: impl Into<String>) -> Figure {
        Figure {
            path: path.into(),
            caption: caption.into(),
        }
    }
}
