//! Overlays through `fuse-overlayfs`, for kernels that refuse overlayfs in
//! a user namespace (before Linux 5.11) or when asked for
//! (`--storage-driver fuse-overlayfs`). Same directories as the kernel's
//! overlay (lower layers, upper, work), so everything that reads the
//! upper directory works unchanged; the mount is served by a
//! `fuse-overlayfs` process, which ends when the mount is unmounted.
//!
//! The process must not run in a container's namespaces: the monitor
//! mounts a container's root before it makes the container's pid
//! namespace, and unmounts it after the container's end.

use std::path::Path;
use std::process::Command;

use super::{MountError, Overlay};

/// The program, found on `PATH`.
pub const PROGRAM: &str = "fuse-overlayfs";

/// The arguments that mount `overlay` on `target` (read-only when it has
/// no upper directory).
pub fn args(overlay: &Overlay, target: &Path) -> Result<Vec<String>, String> {
    let lowers = overlay.lowerdirs();
    let mut paths = lowers.clone();
    let mut data = format!("lowerdir={}", lowers.join(":"));
    if !overlay.upper.as_os_str().is_empty() {
        let (upper, work) = (
            overlay.upper.display().to_string(),
            overlay.work.display().to_string(),
        );
        data.push_str(&format!(",upperdir={upper},workdir={work}"));
        paths.extend([upper, work]);
    }
    if let Some(p) = paths.iter().find(|p| p.contains([':', ','])) {
        return Err(format!(
            "{PROGRAM} cannot take the path {p:?}: it holds ':' or ','"
        ));
    }
    Ok(vec!["-o".into(), data, target.display().to_string()])
}

/// Mounts `overlay` on `target`; returns once the mount is in place.
pub fn mount(overlay: &Overlay, target: &Path) -> Result<(), MountError> {
    let fail = |detail: String| MountError::Fuse {
        path: target.to_path_buf(),
        detail,
    };
    let args = args(overlay, target).map_err(fail)?;
    let out = Command::new(PROGRAM).args(&args).output().map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::NotFound {
            format!("{PROGRAM} is not installed (Debian's package fuse-overlayfs has it)")
        } else {
            format!("running {PROGRAM}: {e}")
        })
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(fail(format!(
        "{PROGRAM} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Whether this process can mount through fuse-overlayfs: the program on
/// `PATH` and `/dev/fuse` open to it. The error says which is missing.
pub fn usable() -> Result<(), String> {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(PROGRAM).is_file()));
    if !on_path {
        return Err(format!(
            "{PROGRAM} is not installed (Debian's package fuse-overlayfs has it)"
        ));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(drop)
        .map_err(|e| format!("/dev/fuse cannot be opened: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_list_the_highest_layer_first() {
        let rw = Overlay {
            lower: vec!["/l/base".into(), "/l/top".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
            ..Default::default()
        };
        assert_eq!(
            args(&rw, Path::new("/c/merged")).unwrap(),
            [
                "-o",
                "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work",
                "/c/merged"
            ]
        );
        let ro = Overlay {
            lower: vec!["/l/base".into(), "/l/top".into()],
            ..Default::default()
        };
        assert_eq!(
            args(&ro, Path::new("/v")).unwrap(),
            ["-o", "lowerdir=/l/top:/l/base", "/v"]
        );
        let odd = Overlay {
            lower: vec!["/l/a,b".into()],
            ..Default::default()
        };
        assert!(args(&odd, Path::new("/v"))
            .unwrap_err()
            .contains("\"/l/a,b\""));
    }
}
