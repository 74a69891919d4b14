//! Read-only views of an image's filesystem for the daemon's own use (a
//! build step's `COPY --from`, `--chown` by name and WORKDIR checks, a
//! volume's first copy from the image): the seam between the engine and
//! how layers are put together. [`MountSnapshots`] mounts them (an overlay,
//! or a read-only bind of a single layer); [`CopySnapshots`] copies them
//! one over another into a plain directory, whiteouts applied, with no
//! mount and no privilege (the API test tier runs builds over it).

use std::path::{Path, PathBuf};

use berth_image::layer::{unpack, UnpackOptions, Whiteouts};

use crate::Error;

/// Puts an image's layers together.
pub trait Snapshots: Send + Sync + 'static {
    /// The tree of `layers` (lowest first) at `target`, a directory this
    /// creates; the tree and the directory go when the view is dropped.
    fn view(&self, layers: &[PathBuf], target: &Path) -> Result<View, Error>;
}

/// A tree made by [`Snapshots::view`].
pub struct View {
    target: PathBuf,
    mounted: bool,
}

impl View {
    pub fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH) {
                // Never remove through a mount that is still there.
                tracing::warn!(target = %self.target.display(), error = %e, "unmounting an image view failed");
                return;
            }
            let _ = std::fs::remove_dir(&self.target);
        } else {
            let _ = std::fs::remove_dir_all(&self.target);
        }
    }
}

fn create_target(target: &Path) -> Result<View, Error> {
    std::fs::create_dir_all(target).map_err(Error::io("creating", target))?;
    Ok(View {
        target: target.to_path_buf(),
        mounted: false,
    })
}

/// The kernel's overlayfs (needs the right to mount).
pub struct MountSnapshots {
    /// Mount with `userxattr` (layers of a rootless daemon's store).
    pub userxattr: bool,
    /// Mount through `fuse-overlayfs` rather than the kernel.
    pub fuse: bool,
}

impl Snapshots for MountSnapshots {
    fn view(&self, layers: &[PathBuf], target: &Path) -> Result<View, Error> {
        use nix::mount::{mount, MsFlags};
        let mut view = create_target(target)?;
        let failed = |e| Error::Internal(format!("mounting an image at {}: {e}", target.display()));
        match layers {
            [] => return Ok(view),
            // A single layer is no overlay: a bind mount, made read-only
            // by a remount.
            [only] => {
                mount(
                    Some(only),
                    target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(failed)?;
                view.mounted = true;
                mount(
                    None::<&str>,
                    target,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    None::<&str>,
                )
                .map_err(failed)?;
            }
            _ if self.fuse => {
                let overlay = berth_runtime::mounts::Overlay {
                    lower: layers.to_vec(),
                    ..Default::default()
                };
                berth_runtime::mounts::fuse::mount(&overlay, target)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                view.mounted = true;
            }
            _ => {
                let lower: Vec<String> = layers
                    .iter()
                    .rev()
                    .map(|p| p.display().to_string())
                    .collect();
                let mut data = format!("lowerdir={}", lower.join(":"));
                if self.userxattr {
                    data.push_str(",userxattr");
                }
                mount(
                    Some("overlay"),
                    target,
                    Some("overlay"),
                    MsFlags::MS_RDONLY,
                    Some(data.as_str()),
                )
                .map_err(failed)?;
                view.mounted = true;
            }
        }
        Ok(view)
    }
}

/// Copies: each layer written as its diff and unpacked over the ones
/// below with its whiteouts applied. Costs a copy of the image; the tree
/// is writable, though nothing writes to it.
#[derive(Default)]
pub struct CopySnapshots {
    /// Files whose owners this process may not give stay its own (see
    /// [`UnpackOptions::ignore_chown_errors`]).
    pub ignore_chown_errors: bool,
}

impl Snapshots for CopySnapshots {
    fn view(&self, layers: &[PathBuf], target: &Path) -> Result<View, Error> {
        let view = create_target(target)?;
        let opts = UnpackOptions {
            whiteouts: Whiteouts::Apply,
            ignore_chown_errors: self.ignore_chown_errors,
            user_xattrs: false,
        };
        for layer in layers {
            let (reader, writer) =
                nix::unistd::pipe().map_err(|e| Error::Internal(format!("making a pipe: {e}")))?;
            let (mut reader, mut writer) =
                (std::fs::File::from(reader), std::fs::File::from(writer));
            std::thread::scope(|s| -> Result<(), Error> {
                let written = s.spawn(move || {
                    let r = berth_image::diff::write_diff_tar(layer, &mut writer);
                    drop(writer);
                    r
                });
                let unpacked = unpack(&mut reader, target, &opts);
                // What the writer still sends after the end marker.
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
                let written = written
                    .join()
                    .map_err(|_| Error::Internal("writing a layer's diff panicked".into()))?;
                written.map_err(|e| {
                    Error::Internal(format!("reading layer {}: {e}", layer.display()))
                })?;
                unpacked.map_err(|e| {
                    Error::Internal(format!("copying layer {}: {e}", layer.display()))
                })?;
                Ok(())
            })?;
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two layers, the upper one deleting a file of the lower one (an
    /// overlay whiteout, as layers are stored): the copy has the upper
    /// layer's files and not the deleted one, and goes with its view.
    #[test]
    fn copies_layers_with_whiteouts_applied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lower, upper) = (dir.path().join("lower"), dir.path().join("upper"));
        std::fs::create_dir_all(lower.join("etc")).expect("mkdir");
        std::fs::write(lower.join("etc/gone"), "old").expect("write");
        std::fs::write(lower.join("etc/kept"), "kept").expect("write");
        std::fs::create_dir_all(upper.join("etc")).expect("mkdir");
        std::fs::write(upper.join("etc/new"), "new").expect("write");
        let whiteout = upper.join("etc/gone");
        let made = nix::sys::stat::mknod(
            &whiteout,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        );
        made.expect("a whiteout (0/0 character device)");
        let target = dir.path().join("view");
        let snapshots = CopySnapshots {
            ignore_chown_errors: true,
        };
        let view = snapshots.view(&[lower, upper], &target).expect("view");
        let mut names: Vec<String> = std::fs::read_dir(view.path().join("etc"))
            .expect("etc")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["kept", "new"]);
        assert_eq!(
            std::fs::read_to_string(view.path().join("etc/kept")).expect("kept"),
            "kept"
        );
        drop(view);
        assert!(!target.exists());
    }
}
