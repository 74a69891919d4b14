//! Container paths: Docker's reading of a path given to `docker cp` (absolute in
//! the container, a trailing `/` or `/.` kept), and symlink resolution inside a
//! root as if it were `/`. Resolution is done one component at a time with `*at`
//! calls on descriptors below the root; `..` and absolute symlink targets never
//! climb above it. The result is the canonical component list, which callers open
//! again with `openat2(RESOLVE_IN_ROOT)`, so a tree that changes in between still
//! cannot lead them outside the root.

use crate::layer::extract::open_in_root_with;
use rustix::fd::OwnedFd;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Symlinks followed before giving up with `ELOOP` (Linux's limit).
const MAX_LINKS: usize = 40;

/// What a container path names, after Docker's cleaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerPath {
    /// The absolute path, cleaned, with a trailing `/` or `/.` kept
    /// (Docker's `PreserveTrailingDotOrSeparator`).
    pub abs: String,
    /// Everything up to the last slash of `abs`; always resolved with symlinks
    /// followed.
    pub dir: Vec<u8>,
    /// What follows the last slash.
    pub last: Last,
}

/// The last element of a container path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Last {
    /// A name: the entry itself, a symlink not followed.
    Name(OsString),
    /// Nothing (the path ends with `/`, or is `/`): the directory `dir` resolves to.
    Slash,
    /// `.`: the contents of the directory `dir` resolves to.
    Dot,
}

/// Go's `filepath.Base`: the last element, trailing slashes ignored; `/` for a
/// path of slashes, `.` for an empty one.
pub(crate) fn go_base(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { "." } else { "/" };
    }
    t.rsplit('/').next().unwrap_or(t)
}

/// Path components: empty and `.` dropped, `..` kept.
fn split(path: &[u8]) -> Vec<OsString> {
    path.split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsStr::from_bytes(c).to_os_string())
        .collect()
}

/// Lexical cleaning: `..` pops, never above the root.
pub(crate) fn clean(path: &[u8]) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in split(path) {
        if c == ".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

fn join_abs(comps: &[OsString]) -> String {
    let mut s = String::new();
    for c in comps {
        s.push('/');
        s.push_str(&c.to_string_lossy());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

impl ContainerPath {
    /// Reads `path` as Docker does: relative paths are taken from `/`, `..` cannot
    /// climb above `/`, a trailing `/.` (or a last element `.`) means "the
    /// directory's contents" and a trailing `/` "follow the last element".
    pub fn parse(path: &str) -> Self {
        let comps = clean(path.as_bytes());
        let mut abs = join_abs(&comps);
        let dot = go_base(path) == "." && go_base(&abs) != ".";
        if dot {
            if !abs.ends_with('/') {
                abs.push('/');
            }
            abs.push('.');
        }
        if path.ends_with('/') && !abs.ends_with('/') {
            abs.push('/');
        }
        let cut = abs.rfind('/').unwrap_or(0);
        let (dir, base) = (&abs[..=cut], &abs[cut + 1..]);
        let last = match base {
            "" => Last::Slash,
            "." => Last::Dot,
            name => Last::Name(OsString::from(name)),
        };
        Self {
            dir: dir.as_bytes().to_vec(),
            last,
            abs,
        }
    }

    /// The name Docker reports for the path and gives the archive's top entry:
    /// `filepath.Base` of the absolute path.
    pub fn base_name(&self) -> &str {
        go_base(&self.abs)
    }
}

fn open_path(root: &OwnedFd, comps: &[OsString]) -> Result<OwnedFd, Errno> {
    open_in_root_with(
        root,
        comps,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
    )
}

/// Resolves `path` inside `root`, following symlinks in every component (in the
/// last one only if `follow_last`). Returns the canonical components below the
/// root. From the first component that does not exist on, the rest is kept as
/// cleaned text, so callers see `ENOENT` when they open the result.
pub(crate) fn resolve(
    root: &OwnedFd,
    path: &[u8],
    follow_last: bool,
) -> Result<Vec<OsString>, Errno> {
    let mut todo: Vec<OsString> = split(path);
    todo.reverse();
    let mut done: Vec<OsString> = Vec::new();
    let mut cur = open_path(root, &done)?;
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            done.pop();
            cur = open_path(root, &done)?;
            continue;
        }
        let last = todo.is_empty();
        let st = match rfs::statat(&cur, &c, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => {
                done.push(c);
                while let Some(c) = todo.pop() {
                    if c == ".." {
                        done.pop();
                    } else {
                        done.push(c);
                    }
                }
                return Ok(done);
            }
            Err(e) => return Err(e),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink && (!last || follow_last) {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::LOOP);
            }
            let target = rfs::readlinkat(&cur, &c, Vec::new())?;
            let target = target.as_bytes();
            if target.first() == Some(&b'/') {
                done.clear();
                cur = open_path(root, &done)?;
            }
            todo.extend(split(target).into_iter().rev());
            continue;
        }
        if !last {
            cur = rfs::openat(
                &cur,
                &c,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
        }
        done.push(c);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(p: &str) -> (String, String, Last, String) {
        let c = ContainerPath::parse(p);
        (
            c.abs.clone(),
            String::from_utf8(c.dir.clone()).unwrap(),
            c.last.clone(),
            c.base_name().to_string(),
        )
    }

    fn name(s: &str) -> Last {
        Last::Name(OsString::from(s))
    }

    #[test]
    fn docker_path_shapes() {
        assert_eq!(
            parsed("/etc/passwd"),
            (
                "/etc/passwd".into(),
                "/etc/".into(),
                name("passwd"),
                "passwd".into()
            )
        );
        assert_eq!(
            parsed("etc/passwd"),
            (
                "/etc/passwd".into(),
                "/etc/".into(),
                name("passwd"),
                "passwd".into()
            )
        );
        assert_eq!(
            parsed("/etc/"),
            ("/etc/".into(), "/etc/".into(), Last::Slash, "etc".into())
        );
        assert_eq!(
            parsed("/etc/."),
            ("/etc/.".into(), "/etc/".into(), Last::Dot, ".".into())
        );
        assert_eq!(
            parsed("/etc/./"),
            ("/etc/./".into(), "/etc/./".into(), Last::Slash, ".".into())
        );
        assert_eq!(
            parsed("/"),
            ("/".into(), "/".into(), Last::Slash, "/".into())
        );
        assert_eq!(
            parsed("/."),
            ("/.".into(), "/".into(), Last::Dot, ".".into())
        );
        assert_eq!(parsed(""), ("/.".into(), "/".into(), Last::Dot, ".".into()));
        assert_eq!(
            parsed("/../../etc/shadow"),
            (
                "/etc/shadow".into(),
                "/etc/".into(),
                name("shadow"),
                "shadow".into()
            )
        );
        assert_eq!(
            parsed("/a/b/.."),
            ("/a".into(), "/".into(), name("a"), "a".into())
        );
        assert_eq!(
            parsed("//a//b//"),
            ("/a/b/".into(), "/a/b/".into(), Last::Slash, "b".into())
        );
    }

    #[test]
    fn go_base_matches_filepath_base() {
        for (p, want) in [
            ("", "."),
            ("/", "/"),
            ("///", "/"),
            ("a", "a"),
            ("/a/b/", "b"),
            ("/a/.", "."),
        ] {
            assert_eq!(go_base(p), want, "{p:?}");
        }
    }

    #[test]
    fn clean_never_climbs() {
        assert_eq!(
            clean(b"/../a/./b/../c"),
            vec![OsString::from("a"), OsString::from("c")]
        );
        assert!(clean(b"../..").is_empty());
    }
}
