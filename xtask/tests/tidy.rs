//! Rules of the codebase that a reviewer should not have to check by eye.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // Fixture workspaces are inputs, not the project's code.
            if name != "target" && name != "fixtures" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "fuzz"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` module doc:\n{}",
        missing.join("\n")
    );
}

#[test]
fn libraries_do_not_depend_on_the_commands_crates() {
    let root = root();
    for lib in ["trueno", "aprender", "realizar"] {
        let path = root.join("crates").join(lib).join("Cargo.toml");
        let manifest: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let deps = manifest
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .unwrap();
        for cli in ["clap", "anyhow", "indicatif"] {
            assert!(
                !deps.contains_key(cli),
                "{}: `{cli}` is a command-line dependency; it belongs in the command's crate",
                path.display()
            );
        }
    }
    let trueno = std::fs::read_to_string(root.join("crates/trueno/Cargo.toml")).unwrap();
    let trueno: toml::Table = trueno.parse().unwrap();
    assert_eq!(
        trueno["dependencies"]["serde"].get("optional"),
        Some(&toml::Value::Boolean(true)),
        "trueno's serde is an optional feature"
    );
}
