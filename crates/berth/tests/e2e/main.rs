//! End-to-end tests: one `berth daemon` on a temporary root and socket,
//! driven through the real `berth` binary (and the real docker CLI, skopeo
//! and podman where the test needs them). A custom harness, so the shared
//! daemon is started once and always stopped and cleaned up at the end.

mod api;
mod attacks;
mod build;
mod check;
mod compat;
mod compose;
mod containers;
mod crash;
mod files;
mod front;
mod harness;
mod images;
mod interactive;
mod interop;
mod lifecycle;
mod network;
mod registry;
mod registry_client;
mod registry_resume;
mod remap;
mod rootless;
mod security;
mod volumes;

use harness::{Ctx, TestFn};

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: Vec<(&str, TestFn)> = [
        containers::TESTS,
        lifecycle::TESTS,
        security::TESTS,
        files::TESTS,
        interactive::TESTS,
        volumes::TESTS,
        network::TESTS,
        registry::TESTS,
        registry_client::TESTS,
        registry_resume::TESTS,
        images::TESTS,
        build::TESTS,
        compose::TESTS,
        api::TESTS,
        compat::TESTS,
        interop::TESTS,
        check::TESTS,
        crash::TESTS,
        remap::TESTS,
        attacks::TESTS,
        rootless::TESTS,
    ]
    .concat();
    let code = harness::run_all(&tests, &filter, Ctx::start);
    std::process::exit(code);
}
