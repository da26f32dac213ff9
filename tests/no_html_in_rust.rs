//! Every HTML page is rendered from a template under `src/report/templates/`, which escapes
//! what it prints (`src/report/mod.rs`). This test keeps it that way: it fails when a string
//! literal in any `src/**/*.rs` or `examples/**/*.rs` file contains an HTML tag, the sign of a page built with
//! `format!` again. Only string literals are read, so comments (doc comments may name a tag)
//! and Rust generics (`Vec<T>`) cannot trip it.

use std::path::{Path, PathBuf};

/// The tags the report uses, and a few more that would mean the same thing.
const TAGS: &[&str] = &[
    "html",
    "head",
    "body",
    "title",
    "style",
    "meta",
    "p",
    "table",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "img",
    "figure",
    "figcaption",
    "ul",
    "ol",
    "li",
    "div",
    "span",
    "a",
    "b",
    "i",
    "em",
    "strong",
    "code",
    "pre",
    "nav",
    "sub",
    "sup",
    "br",
    "section",
];

#[test]
fn no_rust_string_literal_holds_an_html_tag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for file in rust_files(&root.join("src"))
        .into_iter()
        .chain(rust_files(&root.join("examples")))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, literal) in string_literals(&text) {
            if let Some(tag) = html_tag(&literal) {
                found.push(format!(
                    "{}:{line}: <{tag}…> in {literal:?}",
                    file.display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "HTML belongs in src/report/templates/, not in Rust strings:\n{}",
        found.join("\n")
    );
}

/// The scanner itself: tags in strings are found, tags in comments and generics are not.
#[test]
fn the_scanner_reads_only_string_literals() {
    let code = r##"
        // a comment with <td> is fine
        /// so is a doc comment: `<table>`
        fn f<'a>(v: Vec<Option<u8>>) -> &'a str { let c = '"'; let q = '\''; "<td>x</td>" }
        const R: &str = r#"<img src="x">"#;
        const OK: &str = "a < b and Vec<T> and p<0.05";
    "##;
    let tags: Vec<Option<&str>> = string_literals(code)
        .iter()
        .map(|(_, s)| html_tag(s))
        .collect();
    assert_eq!(tags, vec![Some("td"), Some("img"), None]);
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The first HTML tag (`<td>`, `</td>`, `<a href…`) in `s`, by name.
fn html_tag(s: &str) -> Option<&'static str> {
    s.match_indices('<').find_map(|(i, _)| {
        let rest = s[i + 1..].strip_prefix('/').unwrap_or(&s[i + 1..]);
        TAGS.iter().copied().find(|tag| {
            rest.len() > tag.len()
                && rest[..tag.len()].eq_ignore_ascii_case(tag)
                && matches!(rest.as_bytes()[tag.len()], b'>' | b' ' | b'/' | b'\n')
        })
    })
}

/// The contents of every string literal in Rust source `code`, with its line: `"…"`, `b"…"`,
/// `r"…"` and `r#"…"#`. Comments and character literals are skipped; a `'` that starts no
/// character literal is a lifetime.
fn string_literals(code: &str) -> Vec<(usize, String)> {
    let c: Vec<char> = code.chars().collect();
    let line_at = |i: usize| 1 + c[..i].iter().filter(|&&x| x == '\n').count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            '\'' => {
                // '\n', '\'', '\u{1F600}' or 'x'; anything else is a lifetime ('a).
                if c.get(i + 1) == Some(&'\\') {
                    i += 3;
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if c.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            'r' if (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
                && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_')) =>
            {
                let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
                if c.get(i + 1 + hashes) != Some(&'"') {
                    i += 1;
                    continue;
                }
                let start = i + 2 + hashes;
                let closing: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let mut j = start;
                while j < c.len() && !c[j..].starts_with(&closing) {
                    j += 1;
                }
                out.push((line_at(start), c[start..j].iter().collect()));
                i = j + closing.len();
            }
            '"' => {
                let start = i + 1;
                let mut j = start;
                while j < c.len() && c[j] != '"' {
                    j += if c[j] == '\\' { 2 } else { 1 };
                }
                out.push((line_at(start), c[start..j].iter().collect()));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}
