//! The OCI distribution protocol, both sides: the names, routes and error
//! bodies of the API ([`protocol`]); the client the engine pulls and pushes
//! with ([`client`]: token and basic auth, resumable blob downloads,
//! mounts and chunked uploads); and `berth registry serve` — a registry's
//! storage ([`storage`]) and its HTTP server ([`server`]) with basic auth
//! ([`auth`]) and TLS ([`tls`]).

pub mod auth;
pub mod client;
pub mod dial;
pub mod protocol;
pub mod server;
pub mod storage;
pub mod tls;
