//! Overlayfs helpers for the commit and diff tests: mounts undone on drop, a base
//! image, and a container's worth of changes made through a real overlay mount.

use berth_image::{ImageStore, ImportOptions};
use rustix::mount::{mount, unmount, MountFlags, UnmountFlags};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::layer_tar;

pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "these tests need root: they mount overlayfs and set trusted xattrs"
    );
}

/// An overlayfs mount, undone on drop (even when a test fails).
pub struct Overlay {
    target: PathBuf,
}

impl Overlay {
    /// Mounts `lowers` (lowest first), with `upper`/`work` if given (else read-only).
    pub fn mount(lowers: &[PathBuf], rw: Option<(&Path, &Path)>, target: &Path) -> Self {
        std::fs::create_dir_all(target).unwrap();
        let lower: Vec<String> = lowers
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        let mut data = format!("lowerdir={}", lower.join(":"));
        if let Some((upper, work)) = rw {
            data.push_str(&format!(
                ",upperdir={},workdir={}",
                upper.display(),
                work.display()
            ));
        }
        if lowers.len() == 1 && rw.is_none() {
            // overlayfs needs two lowers without an upper; an empty one does.
            let empty = target.with_extension("empty");
            std::fs::create_dir_all(&empty).unwrap();
            data.push_str(&format!(":{}", empty.display()));
        }
        let data = std::ffi::CString::new(data).unwrap();
        mount(
            "overlay",
            target,
            "overlay",
            MountFlags::empty(),
            data.as_c_str(),
        )
        .unwrap_or_else(|e| panic!("mount overlay at {}: {e}", target.display()));
        Self {
            target: target.to_path_buf(),
        }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if let Err(e) = unmount(&self.target, UnmountFlags::DETACH) {
            eprintln!("unmount {}: {e}", self.target.display());
        }
    }
}

pub fn open(t: &Path, name: &str) -> ImageStore {
    ImageStore::open(&t.join(name)).unwrap()
}

/// A base image: keep, modify, delete, dir/old, dir/keep2, other/x.
pub fn base_image(s: &ImageStore) -> String {
    let tar = layer_tar(&[
        ("keep", b"keep"),
        ("modify", b"old"),
        ("delete", b"doomed"),
        ("dir/old", b"old"),
        ("dir/keep2", b"old"),
        ("other/x", b"x"),
    ]);
    let opts = ImportOptions {
        reference: Some("base:1".into()),
        changes: vec![
            "ENV PATH=/bin".into(),
            "CMD [\"sh\"]".into(),
            "LABEL from=base".into(),
            "EXPOSE 80".into(),
        ],
        ..ImportOptions::default()
    };
    s.import(&mut &tar[..], &opts).unwrap().id
}

/// Runs a container's worth of changes through an overlay of `lowers` and returns
/// the upper directory.
pub fn make_changes(t: &Path, lowers: &[PathBuf]) -> PathBuf {
    let upper = t.join("ctr/upper");
    let work = t.join("ctr/work");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let merged = t.join("ctr/merged");
    let m = Overlay::mount(lowers, Some((&upper, &work)), &merged);
    std::fs::write(merged.join("new"), b"brand new").unwrap();
    std::os::unix::fs::chown(merged.join("new"), Some(1000), Some(1001)).unwrap();
    std::fs::set_permissions(merged.join("new"), std::fs::Permissions::from_mode(0o640)).unwrap();
    xattr::set(merged.join("new"), "user.note", b"kept").unwrap();
    std::fs::hard_link(merged.join("new"), merged.join("new-link")).unwrap();
    std::fs::write(merged.join("modify"), b"modified").unwrap();
    std::fs::remove_file(merged.join("delete")).unwrap();
    std::fs::remove_dir_all(merged.join("dir")).unwrap();
    std::fs::create_dir(merged.join("dir")).unwrap();
    std::fs::write(merged.join("dir/fresh"), b"fresh").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", merged.join("other/sl")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        merged.join("other/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    drop(m);
    upper
}
