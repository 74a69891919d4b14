//! One module per resource; each registers its own routes.

pub mod build;
pub mod containers;
pub mod events;
pub mod exec;
pub mod images;
pub mod networks;
pub mod swarm;
pub mod system;
pub mod volumes;
