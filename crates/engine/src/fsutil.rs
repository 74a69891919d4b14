//! File-system helpers every service uses: the one atomic write (with its
//! one durability rule), the size of a directory tree, and running blocking
//! file work off the async workers.

use std::path::Path;

use crate::Error;

/// Writes `bytes` to `path` atomically and durably, as dockerd writes its
/// records: a temporary file in the same directory, `fsync`, `rename`. A
/// reader sees the old content or the new, never a part. The one
/// implementation is `berth_image`'s; this maps its error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    berth_image::layout::write_atomic(path, bytes).map_err(Error::io("writing", path))
}

/// Bytes in files under `dir` (not following symlinks). Blocking: call it
/// through [`blocking`] from async code.
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// Runs blocking work `f` on the blocking pool, not on an async worker.
pub async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two, longer");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["record.json"]);
        let err = write_atomic(&dir.path().join("no/such/file"), b"x").unwrap_err();
        assert!(err.to_string().contains("no/such/file"), "{err}");
    }

    #[test]
    fn dir_size_counts_files_not_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("sub/link")).unwrap();
        // The link's own length (4 bytes: "/etc") counts, not /etc.
        assert_eq!(dir_size(dir.path()), 19);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }
}
