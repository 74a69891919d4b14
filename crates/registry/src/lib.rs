//! The OCI distribution protocol: the names, routes and error bodies of the
//! API ([`protocol`]), a registry's storage ([`storage`]) and `berth
//! registry serve`'s HTTP server ([`server`]) with basic auth ([`auth`])
//! and TLS ([`tls`]).

pub mod auth;
pub mod client;
pub mod protocol;
pub mod server;
pub mod storage;
pub mod tls;
