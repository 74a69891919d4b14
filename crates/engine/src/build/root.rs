//! An image's filesystem, mounted read-only for a build step that reads
//! it (`COPY --from`, `--chown` by name, WORKDIR checks): the overlay of
//! its layers (or the single layer's tree) on a private temporary
//! directory, unmounted when dropped.

use std::path::{Path, PathBuf};

use crate::Error;

pub(crate) struct ImageRoot {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl ImageRoot {
    /// Mounts the tree made of `layers` (lowest first) under `scratch`.
    pub(crate) fn mount(layers: &[PathBuf], scratch: &Path) -> Result<ImageRoot, Error> {
        std::fs::create_dir_all(scratch).map_err(Error::io("creating", scratch))?;
        let dir = tempfile::Builder::new()
            .prefix("root-")
            .tempdir_in(scratch)
            .map_err(Error::io("creating a directory in", scratch))?;
        let mut root = ImageRoot {
            dir,
            mounted: false,
        };
        if layers.is_empty() {
            return Ok(root);
        }
        let flags = nix::mount::MsFlags::MS_RDONLY;
        let result = if layers.len() == 1 {
            nix::mount::mount(
                Some(&layers[0]),
                root.dir.path(),
                None::<&str>,
                flags | nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .and_then(|()| {
                // A bind mount takes read-only only on a remount.
                nix::mount::mount(
                    None::<&str>,
                    root.dir.path(),
                    None::<&str>,
                    flags | nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REMOUNT,
                    None::<&str>,
                )
            })
        } else {
            let lower: Vec<String> = layers
                .iter()
                .rev()
                .map(|p| p.display().to_string())
                .collect();
            let opts = format!("lowerdir={}", lower.join(":"));
            nix::mount::mount(
                Some("overlay"),
                root.dir.path(),
                Some("overlay"),
                flags,
                Some(opts.as_str()),
            )
        };
        result.map_err(|e| {
            Error::Internal(format!("mounting an image's filesystem for the build: {e}"))
        })?;
        root.mounted = true;
        Ok(root)
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ImageRoot {
    fn drop(&mut self) {
        if self.mounted {
            let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
