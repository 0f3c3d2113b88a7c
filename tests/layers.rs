//! The crate's import graph (tests/layers.py): no circle between files or folders, and no import
//! back up a layer (docs/architecture.md, "The layers").

#[test]
fn src_has_no_import_circle_and_no_import_up_a_layer() {
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/layers.py"))
        .output()
        .expect("python3 runs tests/layers.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(" 0 problems"), "{text}");
}
