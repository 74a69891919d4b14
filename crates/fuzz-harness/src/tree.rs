//! What a directory tree holds, to compare before and after an input:
//! every path with its kind, size and link target (times left out).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File { size: u64, head: Vec<u8> },
    Link(PathBuf),
    Other,
}

/// The tree under `root`, skipping the subtrees at `skip`.
pub fn snapshot(root: &Path, skip: &[&Path]) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !skip.contains(&e.path()));
    for entry in walk {
        let entry = entry.unwrap_or_else(|e| panic!("walking {}: {e}", root.display()));
        let ft = entry.file_type();
        let node = if ft.is_dir() {
            Node::Dir
        } else if ft.is_symlink() {
            Node::Link(std::fs::read_link(entry.path()).unwrap_or_default())
        } else if ft.is_file() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            Node::File {
                size: bytes.len() as u64,
                head: bytes.into_iter().take(64).collect(),
            }
        } else {
            Node::Other
        };
        out.insert(entry.path().to_path_buf(), node);
    }
    out
}

/// A scratch tree for extraction targets: `root/` to write into, and
/// `outside/canary` beside it, which must look the same after any input.
pub fn sandbox(base: &Path) -> (PathBuf, PathBuf) {
    let root = base.join("root");
    let outside = base.join("outside");
    for d in [&root, &outside] {
        std::fs::create_dir(d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
    }
    std::fs::write(outside.join("canary"), b"canary")
        .unwrap_or_else(|e| panic!("writing the canary: {e}"));
    (root, outside)
}
