//! `berth compose`: the compose model and loader (pure), the plan that
//! brings a project's containers, networks and volumes to what the files
//! say (pure, printable), and its execution over the Engine API client.
//! Compose keeps no state of its own: it finds what it made by the
//! `com.docker.compose.*` labels, as Docker Compose does.

pub mod apply;
pub mod convert;
pub mod de;
pub mod envfile;
pub mod error;
pub mod interpolate;
pub mod loader;
pub mod merge;
pub mod model;
pub mod order;
pub mod plan;
pub mod ports;
pub mod progress;
pub mod volumes;
pub mod watch;
pub mod yaml;

pub use error::Error;
pub use loader::{load, LoadOptions, Project};
