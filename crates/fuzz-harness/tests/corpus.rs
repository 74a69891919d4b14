//! Every committed seed (`fuzz/seeds/<target>/`), every reproducer of a
//! fixed crash (`fuzz/regressions/<target>/`) and every input a local fuzz
//! run kept (`fuzz/corpus/<target>/`, not committed) through its target's
//! body, on stable Rust, in the ordinary test suite.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use berth_fuzz_harness::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(target: &str, kind: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    out.sort();
    out
}

#[test]
fn every_target_is_a_cargo_fuzz_target_with_seeds() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml"))
        .unwrap_or_else(|e| panic!("fuzz/Cargo.toml: {e}"));
    for (name, _) in TARGETS {
        let file = fuzz_dir().join(format!("fuzz_targets/{name}.rs"));
        let src =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            src.contains(&format!("berth_fuzz_harness::{name}(data)")),
            "{} does not call berth_fuzz_harness::{name}",
            file.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(
            inputs(name, "seeds").len() >= 3,
            "fuzz/seeds/{name}/ needs at least three seeds"
        );
    }
}

#[test]
fn seeds_regressions_and_kept_inputs_pass() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, body) in TARGETS {
        for kind in ["seeds", "regressions", "corpus"] {
            for path in inputs(name, kind) {
                let data = match std::fs::read(&path) {
                    Ok(data) => data,
                    // A fuzzer running beside the suite replaces the inputs
                    // it keeps as it shrinks them.
                    Err(e) if kind == "corpus" && e.kind() == std::io::ErrorKind::NotFound => {
                        continue
                    }
                    Err(e) => panic!("{}: {e}", path.display()),
                };
                ran += 1;
                if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                    failures.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        ran > 0,
        "no fuzz inputs found under {}",
        fuzz_dir().display()
    );
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}
