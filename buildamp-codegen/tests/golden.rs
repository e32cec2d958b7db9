//! The Elm generator's golden cases: one folder per mapping rule or refusal under
//! `tests/golden/`, each a models folder (`input.rs`, or several files) with the expected module
//! (`expected.elm`) or the expected refusal (`error.txt`). Re-bless after an intended change with
//! `BLESS=1 cargo test -p buildamp-codegen --test golden`.
//!
//! Every expected module, and the module of the repository's `models/`, must also pass
//! `elm-format --validate` (elm-format 0.8.8, which `tests/run` installs from npm).

use std::path::{Path, PathBuf};
use std::process::Command;

use buildamp_codegen::elm;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_case_generates_what_its_folder_expects() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let mut counts = (0, 0);
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (file, actual) = match elm::generate(&case) {
            Ok(text) => {
                counts.0 += 1;
                ("expected.elm", text)
            }
            Err(e) => {
                counts.1 += 1;
                ("error.txt", format!("{e}\n"))
            }
        };
        let expected_path = case.join(file);
        if bless {
            for stale in ["expected.elm", "error.txt"] {
                let _ = std::fs::remove_file(case.join(stale));
            }
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(_) => failures.push(format!("{name}: {file} differs:\n{actual}")),
            Err(_) => failures.push(format!(
                "{name}: expected {file} (the case {}):\n{actual}",
                if file == "error.txt" {
                    "was refused"
                } else {
                    "generated"
                }
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(counts.0 >= 15 && counts.1 >= 15, "{counts:?}");
}

#[test]
fn refusals_name_the_type_the_field_and_the_fix() {
    let text = |case: &str| std::fs::read_to_string(golden().join(case).join("error.txt")).unwrap();
    let i64 = text("refuse_i64");
    assert!(i64.contains("`Charge.amount`"), "{i64}");
    assert!(i64.contains("is `i64`"), "{i64}");
    assert!(i64.contains("Use `i32`/`u32`"), "{i64}");
    let all = text("refuse_several_at_once");
    assert_eq!(all.lines().count(), 3, "{all}");
    assert!(all.contains("`First.id`") && all.contains("`First.when`") && all.contains("Nowhere"));
}

#[test]
fn generation_is_deterministic() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let first = elm::generate(&models).unwrap();
    for _ in 0..3 {
        assert_eq!(elm::generate(&models).unwrap(), first);
    }
    let recursive = golden().join("recursive");
    assert_eq!(
        elm::generate(&recursive).unwrap(),
        elm::generate(&recursive).unwrap()
    );
}

#[test]
fn the_module_names_its_sources_and_holds_no_secret_or_server_only_webhook() {
    let text = elm::generate(&golden().join("server_only_excluded")).unwrap();
    assert!(text.contains("@generated"));
    assert!(text.contains("`input.rs`"));
    for absent in [
        "Internal",
        "PUBLIC_API_KEY",
        "INTERNAL_SECRET_KEY",
        "INTERNAL_URL",
        "api.example.com",
        "Bearer",
    ] {
        assert!(!text.contains(absent), "the module mentions {absent}");
    }
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let text = elm::generate(&models).unwrap();
    assert!(
        !text.contains("CustomAPICall"),
        "a server-only model leaked"
    );
    for secret in ["API_KEY", "AUTH_TOKEN", "SECRET", "Bearer", "https://"] {
        assert!(!text.contains(secret), "the module mentions {secret}");
    }
}

/// elm-format 0.8.8: `ELM_FORMAT`, or where `tests/run` installs it.
fn elm_format() -> PathBuf {
    if let Some(path) = std::env::var_os("ELM_FORMAT") {
        return PathBuf::from(path);
    }
    let installed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/node_modules/.bin/elm-format");
    assert!(
        installed.exists(),
        "elm-format 0.8.8 is not installed: run tests/run once (it installs it from npm), or set ELM_FORMAT"
    );
    installed
}

#[test]
fn every_module_is_formatted_as_elm_format_formats_it() {
    let dir = std::env::temp_dir().join(format!("buildamp-elm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for case in cases() {
        let expected = case.join("expected.elm");
        if expected.exists() {
            files.push(expected);
        }
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/elm-app/src");
    files.push(example.join("Main.elm"));
    files.push(example.join(elm::MODULE_PATH));
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let models_module = dir.join("Models.elm");
    std::fs::write(&models_module, elm::generate(&models).unwrap()).unwrap();
    files.push(models_module);
    let output = Command::new(elm_format())
        .arg("--validate")
        .args(&files)
        .output()
        .expect("elm-format runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "elm-format --validate: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(files.len() >= 18);
}

#[test]
fn the_example_apps_committed_module_is_what_the_models_generate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let committed =
        std::fs::read_to_string(root.join("examples/elm-app/src").join(elm::MODULE_PATH)).unwrap();
    assert!(
        committed == elm::generate(&root.join("models")).unwrap(),
        "examples/elm-app/src/BuildAmp/Webhooks.elm is stale: run `cargo run -- gen --models models --out examples/elm-app/src`"
    );
}
