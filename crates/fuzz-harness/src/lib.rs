//! The body of every fuzz target. Each function takes untrusted bytes,
//! feeds them to one parser the way the daemon or the CLI does, and panics
//! (which libFuzzer reports as a crash) when something that must hold does
//! not: no write outside a root, no half-changed store, no 5xx from the
//! registry, no reference that prints as one that does not parse. Errors
//! for bad input are the expected outcome, never a failure.
//!
//! `fuzz/` (cargo fuzz, libFuzzer) calls these one per target; this crate's
//! corpus test runs the committed seeds and every input the fuzzers kept
//! through the same functions on stable Rust, so a fixed crash stays fixed.

mod api;
mod build;
mod compose;
mod credentials;
mod image;
mod registry;
mod tree;

/// A target: its name (the `fuzz/fuzz_targets/<name>.rs` file and the
/// `fuzz/seeds/<name>/` corpus) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: &[Target] = &[
    ("dockerfile", build::dockerfile),
    ("dockerignore", build::dockerignore),
    ("compose", compose::compose),
    ("envfile", compose::envfile),
    ("reference", image::reference),
    ("manifest", image::manifest),
    ("layer", image::layer),
    ("archive", image::archive),
    ("template", api::template),
    ("api_request", api::api_request),
    ("registry_server", registry::registry_server),
    ("credentials", credentials::credentials),
];

pub use api::{api_request, template};
pub use build::{dockerfile, dockerignore};
pub use compose::{compose, envfile};
pub use credentials::credentials;
pub use image::{archive, layer, manifest, reference};
pub use registry::registry_server;

/// Bytes as text, as a reader of a text file would take them.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Up to `n` parts split at NUL bytes: one input holding several files.
fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |b| *b == 0).collect()
}

/// A fresh scratch directory; failing to make one is the machine's fault,
/// not the input's, so it stops the fuzzer.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-fuzz-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot make a scratch directory: {e}"))
}
