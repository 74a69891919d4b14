//! Reading and writing cgroup interface files.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CgroupError, Result};

/// Reads a whole file.
pub(super) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file holding one number; `max` (and v1's huge "unlimited"
/// values) read as `None`.
pub(super) fn read_limit(path: &Path) -> Result<Option<u64>> {
    let text = read(path)?;
    let t = text.trim();
    if t == "max" {
        return Ok(None);
    }
    let v: u64 = t.parse().map_err(|_| CgroupError::Read {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {t:?}")),
    })?;
    // v1 reports "unlimited" as the largest page-aligned i64.
    Ok((v < (1u64 << 62)).then_some(v))
}

/// Reads a file holding one number.
pub(super) fn read_u64(path: &Path) -> Result<u64> {
    Ok(read_limit(path)?.unwrap_or(u64::MAX))
}

/// Parses `name value` lines (memory.stat, cpu.stat, memory.events, ...).
pub(super) fn keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect()
}

/// Writes `value` to an existing interface file (never creates one).
pub(super) fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source,
        })
}

/// Creates `root/rel` and every missing directory between; returns the
/// directories it made, outermost first.
pub(super) fn mkdir_chain(root: &Path, rel: &Path) -> Result<Vec<PathBuf>> {
    if !root.is_dir() {
        return Err(CgroupError::NotFound(root.to_path_buf()));
    }
    let mut made = Vec::new();
    let mut dir = root.to_path_buf();
    for part in rel.components() {
        dir.push(part);
        match std::fs::create_dir(&dir) {
            Ok(()) => made.push(dir.clone()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                remove_made(&made);
                return Err(CgroupError::Create { path: dir, source });
            }
        }
    }
    Ok(made)
}

/// Removes directories made by [`mkdir_chain`], innermost first, ignoring
/// errors (used to undo a failed creation).
pub(super) fn remove_made(made: &[PathBuf]) {
    for d in made.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

/// `rmdir` with short retries: a cgroup stays busy for a moment after its
/// last process was reaped. A missing directory counts as removed.
pub(super) fn rmdir_retry(dir: &Path) -> io::Result<()> {
    let mut delay = Duration::from_millis(1);
    let mut last = None;
    for _ in 0..12 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(100));
    }
    Err(last.unwrap_or_else(|| io::Error::other("rmdir failed")))
}

/// Waits (briefly) until `pids` reports no process.
pub(super) fn wait_empty(pids: impl Fn() -> Result<Vec<i32>>) -> Result<()> {
    for _ in 0..200 {
        if pids()?.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(CgroupError::Invalid(
        "processes are still in the cgroup after it was killed".into(),
    ))
}

/// Parses a `cgroup.procs` file.
pub(super) fn parse_pids(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}
