//! Compile-time behaviour of `#[derive(BuildAmpWebhook)]`: every promised error, pinned to its
//! message and span in `tests/ui/<category>/*.stderr`, and the forms that must compile in
//! `tests/ui/pass`. Re-bless after an intended change with `TRYBUILD=overwrite cargo test --test ui`.
//!
//! The `.stderr` files are pinned to the toolchain this machine runs (rustc 1.95); another
//! compiler version may word rustc's own notes differently.

use std::path::Path;

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut categories: Vec<String> = std::fs::read_dir(&ui)
        .expect("tests/ui exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && e.file_name() != "pass")
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    categories.sort();
    assert!(
        !categories.is_empty(),
        "no compile-fail categories in tests/ui"
    );
    for category in categories {
        cases.compile_fail(format!("tests/ui/{category}/*.rs"));
    }
}
