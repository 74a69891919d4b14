//! berth-image: references, digests, the content store, image configs, layers,
//! image records and archives (`docker save`/`load`, `docker import`).

pub mod digest;
pub mod reference;
pub mod compression;
pub mod config;
pub mod content;
pub mod layer;
pub mod layout;
