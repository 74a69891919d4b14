//! A typed Docker Engine API client over a unix socket, and decoders for the
//! API's streams (multiplexed stdout/stderr frames, JSON message lines).

pub mod demux;
pub mod error;
pub mod locations;
pub mod transport;

pub mod calls;

pub use error::Error;
pub use hyper::Method;
pub use transport::{Client, RequestBody};
