//! berth-image: image references, digests, the content store, image configs,
//! layers (secure unpacking, chain ids), image records, archives (`docker save` /
//! `docker load`), `docker import`, `docker commit` (layer diffs of overlayfs upper
//! directories), and the container filesystem operations behind `docker cp` and
//! `docker export`.
//! Synchronous: the daemon calls it from blocking tasks. The on-disk layout is
//! documented in [`layout`].

pub mod archive;
pub mod changes;
pub mod check;
pub mod commit;
pub mod compressed;
pub mod compression;
pub mod config;
pub mod content;
pub mod diff;
pub mod digest;
pub mod error;
pub mod fsops;
pub mod import;
pub mod layer;
pub mod layout;
pub mod manifest;
pub mod platform;
pub mod records;
pub mod reference;
mod remove;
mod store;
mod tarwrite;
pub mod time;
mod treewalk;
mod txn;

pub use commit::{CommitOptions, ReusedStep};
pub use config::ImageConfig;
pub use digest::Digest;
pub use error::{Error, ErrorKind};
pub use reference::Reference;
pub use store::{ImageInfo, ImageStore, ImportOptions, Loaded, Removed, StoreOptions};
pub use txn::{LayerInput, NewImage};
