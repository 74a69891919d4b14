//! Image archives: `load` reads docker-archive tarballs (`docker save`, `podman
//! save`) and OCI image layout tarballs, all-or-nothing; `save` writes one tarball
//! that is both a docker-archive and an OCI layout, as Docker 25+ does.

mod load;
pub mod oci;
mod save;
mod stage;

pub use crate::error::ArchiveError;
