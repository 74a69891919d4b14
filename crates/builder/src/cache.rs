//! Build cache keys (pure), with Docker's invalidation rules: a step's key
//! is its parent's key, the instruction as written after substitution, the
//! build args it can see (name and value; an unused one does not matter,
//! a changed used one does), and for COPY/ADD the checksum of the sources'
//! content (names, modes, ownership and bytes; never mtimes). A stage's
//! first key is its base image's id. Keys are sha256 over a canonical,
//! length-prefixed encoding, so no two different inputs collide by
//! concatenation.

use sha2::{Digest as _, Sha256};

/// A cache key (`sha256:<hex>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey(pub String);

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

struct Enc(Sha256);

impl Enc {
    fn new(kind: &str) -> Self {
        let mut e = Enc(Sha256::new());
        e.field(kind);
        e
    }

    fn field(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_be_bytes());
        self.0.update(s.as_bytes());
    }

    fn finish(self) -> CacheKey {
        CacheKey(format!("sha256:{}", hex::encode(self.0.finalize())))
    }
}

/// The key a stage starts from: its base image's id (or `scratch`) on a
/// platform.
pub fn base_key(image_id: &str, platform: &str) -> CacheKey {
    let mut e = Enc::new("berth-build-base-v1");
    e.field(image_id);
    e.field(platform);
    e.finish()
}

/// What a step's key is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepInput<'a> {
    /// The instruction as written, after substitution (`COPY src/ /src/`).
    pub text: &'a str,
    /// Build args in scope for the step, `(name, value)`; order does not
    /// matter.
    pub args: &'a [(String, String)],
    /// COPY/ADD: the checksum of the sources' content.
    pub content: Option<&'a str>,
    /// Anything else that changes the result: RUN's network mode, mounts'
    /// ids, the stage's platform...
    pub extra: &'a [(String, String)],
}

/// The key of a step on top of `parent`.
pub fn step_key(parent: &CacheKey, input: &StepInput<'_>) -> CacheKey {
    let mut e = Enc::new("berth-build-step-v1");
    e.field(&parent.0);
    e.field(input.text);
    let mut args: Vec<&(String, String)> = input.args.iter().collect();
    args.sort();
    e.field(&args.len().to_string());
    for (k, v) in args {
        e.field(k);
        e.field(v);
    }
    e.field(input.content.unwrap_or("-"));
    let mut extra: Vec<&(String, String)> = input.extra.iter().collect();
    extra.sort();
    e.field(&extra.len().to_string());
    for (k, v) in extra {
        e.field(k);
        e.field(v);
    }
    e.finish()
}

/// One file of a COPY/ADD source, for [`content_checksum`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileEntry {
    /// Path relative to the copy's destination root, `/`-separated.
    pub path: String,
    /// `st_mode` (type and permission bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// sha256 of a regular file's bytes, a symlink's target, or empty.
    pub data: String,
}

/// The content checksum of a COPY/ADD's sources: the sorted entries' names,
/// modes, ownership and data (mtimes are not part of it).
pub fn content_checksum(entries: &[FileEntry]) -> String {
    let mut sorted: Vec<&FileEntry> = entries.iter().collect();
    sorted.sort();
    let mut e = Enc::new("berth-build-content-v1");
    e.field(&sorted.len().to_string());
    for f in sorted {
        e.field(&f.path);
        e.field(&format!("{:o}:{}:{}", f.mode, f.uid, f.gid));
        e.field(&f.data);
    }
    e.finish().0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The encoding is pinned (keys outlive daemon versions); these values
    /// were cross-checked with an independent implementation of it
    /// (sha256 over 8-byte big-endian length-prefixed fields).
    #[test]
    fn golden_keys() {
        let base = base_key("sha256:abc", "linux/amd64");
        assert_eq!(
            base.0,
            "sha256:4642762fa6fc58f4df451548edeeb62094fa44147c4df2b2a0623c9591528969"
        );
        let k = step_key(
            &base,
            &StepInput {
                text: "RUN echo hi",
                ..Default::default()
            },
        );
        assert_eq!(
            k.0,
            "sha256:54685e69b71bf7cf7915ad7dfb58c2a31a0ebe4e6c4eb2a550fd6862f5cbc9f0"
        );
        let f = FileEntry {
            path: "a".into(),
            mode: 0o100644,
            uid: 0,
            gid: 0,
            data: "h".into(),
        };
        assert_eq!(
            content_checksum(&[f]),
            "sha256:429c3aed264ea7eb9f4b19a70b8733474d16bfd8bce38bc7040544fcd98da2b9"
        );
    }

    #[test]
    fn what_changes_a_key() {
        let base = base_key("sha256:abc", "linux/amd64");
        let a = args(&[("A", "1"), ("B", "2")]);
        let plain = StepInput {
            text: "RUN make",
            args: &a,
            ..Default::default()
        };
        let k = step_key(&base, &plain);
        let reordered = args(&[("B", "2"), ("A", "1")]);
        assert_eq!(
            k,
            step_key(
                &base,
                &StepInput {
                    args: &reordered,
                    ..plain.clone()
                }
            ),
            "arg order does not matter"
        );
        let changed = args(&[("A", "1"), ("B", "3")]);
        assert_ne!(
            k,
            step_key(
                &base,
                &StepInput {
                    args: &changed,
                    ..plain.clone()
                }
            )
        );
        assert_ne!(
            k,
            step_key(
                &base,
                &StepInput {
                    text: "RUN make all",
                    ..plain.clone()
                }
            )
        );
        assert_ne!(k, step_key(&base_key("sha256:abd", "linux/amd64"), &plain));
        assert_ne!(
            k,
            step_key(
                &base,
                &StepInput {
                    content: Some("x"),
                    ..plain.clone()
                }
            )
        );
        let net = args(&[("network", "none")]);
        assert_ne!(
            k,
            step_key(
                &base,
                &StepInput {
                    extra: &net,
                    ..plain.clone()
                }
            )
        );
        // Length prefixes: moving a boundary changes the key.
        let ab = args(&[("AB", "C")]);
        let a_bc = args(&[("A", "BC")]);
        assert_ne!(
            step_key(
                &base,
                &StepInput {
                    args: &ab,
                    ..plain.clone()
                }
            ),
            step_key(
                &base,
                &StepInput {
                    args: &a_bc,
                    ..plain.clone()
                }
            )
        );
    }

    #[test]
    fn content_ignores_order_not_metadata() {
        let f = |path: &str, mode: u32, uid: u32, data: &str| FileEntry {
            path: path.into(),
            mode,
            uid,
            gid: 0,
            data: data.into(),
        };
        let one = [f("a", 0o100644, 0, "h1"), f("b", 0o100644, 0, "h2")];
        let swapped = [f("b", 0o100644, 0, "h2"), f("a", 0o100644, 0, "h1")];
        assert_eq!(content_checksum(&one), content_checksum(&swapped));
        for changed in [
            [f("a", 0o100755, 0, "h1"), f("b", 0o100644, 0, "h2")],
            [f("a", 0o100644, 1000, "h1"), f("b", 0o100644, 0, "h2")],
            [f("a", 0o100644, 0, "h9"), f("b", 0o100644, 0, "h2")],
            [f("c", 0o100644, 0, "h1"), f("b", 0o100644, 0, "h2")],
        ] {
            assert_ne!(
                content_checksum(&one),
                content_checksum(&changed),
                "{changed:?}"
            );
        }
    }
}
