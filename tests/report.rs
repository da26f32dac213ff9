//! The pages escape what they print: a model label, a path or a summary sentence that contains
//! markup shows as text (`src/report/mod.rs`).

use shortcut::interp::attack::checkpoint::{AttackPoint, AttackReport, AttackSpec};
use shortcut::report::attack_page;

/// A model label and a checkpoint path that contain markup show as text, not as markup.
#[test]
fn labels_and_paths_are_escaped() {
    let report = AttackReport {
        checkpoint: "/tmp/<script>alert(1)</script>/model.safetensors".into(),
        model: "<script>alert('model')</script> & co".into(),
        spec: AttackSpec {
            method: "fgsm".into(),
            eps: vec![0.1],
            target: Some(3),
            source: Some(7),
            n: 1,
            split: shortcut::data::Split::Hard,
        },
        split: "hard",
        indices: vec![0],
        already_target: 0,
        clean_accuracy: 1.0,
        points: vec![AttackPoint {
            eps: 0.1,
            success: 0.0,
            success_ci: (0.0, 0.8),
            mean_confidence: 0.1,
            accuracy: 1.0,
        }],
        seconds: 0.5,
    };
    let html = attack_page(&report, &[]).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;model&#x27;)"),
        "{html}"
    );
    assert!(html.contains("&amp; co"), "{html}");
    assert!(html.contains("<title>Attack — &lt;script&gt;"), "{html}");
    // The page's own markup is not escaped.
    assert!(html.starts_with("<!doctype html>") && html.ends_with("</html>\n"));
}

#[test]
fn summary_items_are_escaped() {
    let html =
        shortcut::report::render("summary.html", serde_json::json!({ "items": ["a <b> c"] }))
            .unwrap();
    assert!(html.contains("<li>a &lt;b&gt; c</li>"), "{html}");
}
