//! Compose files with interpolation, `.env`, `extends` and `include`, as
//! `berth compose` loads them.

use std::collections::BTreeMap;

use berth_compose::envfile;
use berth_compose::loader::{load, LoadOptions};

use crate::{parts, scratch, text};

/// The files one input holds, split at NUL bytes: `compose.yaml`, `.env`,
/// `other.yaml` (for `extends: {file: other.yaml}`) and `sub/compose.yaml`
/// (for `include`). Loads the project from a scratch directory.
pub fn compose(data: &[u8]) {
    let dir = scratch();
    let names = ["compose.yaml", ".env", "other.yaml", "sub/compose.yaml"];
    std::fs::create_dir(dir.path().join("sub")).unwrap_or_else(|e| panic!("creating sub/: {e}"));
    for (name, bytes) in names.iter().zip(parts(data, names.len())) {
        std::fs::write(dir.path().join(name), bytes)
            .unwrap_or_else(|e| panic!("writing {name}: {e}"));
    }
    let opts = LoadOptions {
        files: vec![dir.path().join("compose.yaml")],
        project_name: Some("fuzz".into()),
        project_directory: None,
        env_files: Vec::new(),
        profiles: vec!["debug".into()],
        environ: BTreeMap::from([
            ("HOME".into(), "/root".into()),
            ("TAG".into(), "1.0".into()),
        ]),
        cwd: dir.path().to_path_buf(),
    };
    if let Ok(p) = load(&opts) {
        let _ = p.start_order();
    }
}

/// An `env_file`, with one variable known from outside.
pub fn envfile(data: &[u8]) {
    let lookup = |k: &str| (k == "HOME").then(|| "/root".to_string());
    if let Ok(vars) = envfile::parse(&text(data), &lookup) {
        for (k, _) in &vars {
            assert!(!k.is_empty(), "an empty variable name was accepted");
        }
    }
}
