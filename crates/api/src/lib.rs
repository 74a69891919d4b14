//! Docker Engine API wire types shared by the server and the client.
//!
//! Field names follow the Engine API (PascalCase). No I/O lives here.

pub mod auth;
pub mod container;
pub mod detach;
pub mod error;
pub mod exec;
pub mod image;
pub mod network;
pub mod ports;
pub mod stats;
pub mod system;
pub mod units;
pub mod version;
pub mod versioned;
pub mod volume;

pub use error::ErrorBody;
pub use version::ApiVersion;
