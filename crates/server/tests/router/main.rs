//! The API tier: requests through `berth_server::handle` and the router, in
//! memory, against one engine on a temporary root. Each test takes
//! milliseconds; response shapes, status codes and error bodies are
//! checked here, the kernel and the binaries in the end-to-end suite.
//!
//! The engine's networking and the containers' processes are in memory (no
//! bridge, namespace, firewall, cgroup or process of this machine is
//! touched), and the tier needs no privilege: started as root, it first
//! becomes `nobody`, so a route that reached for the kernel fails here.
//! The image store leaves image files owned by the caller
//! (`ignore_chown_errors`).

mod api;
mod build;
mod filters;
mod goldens;
mod lifecycle;
mod listener;
mod networks;
mod routes;
mod shapes;
mod use_cases;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Instant;

use futures_util::FutureExt;

pub use api::Api;

pub type TestFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;
pub type TestFn = for<'a> fn(&'a Api) -> TestFuture<'a>;

/// `("name", name)` pairs of async test functions taking `&Api`.
#[macro_export]
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pub const TESTS: &[(&str, $crate::TestFn)] = &[
            $((stringify!($name), |api| Box::pin($name(api)))),*
        ];
    };
}

/// Gives up root for good, before any thread starts: the user and groups
/// become `nobody`'s (65534).
fn drop_root() -> Result<(), String> {
    use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let (uid, gid) = (Uid::from_raw(65534), Gid::from_raw(65534));
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setresgid(gid, gid, gid).map_err(|e| format!("setresgid: {e}"))?;
    setresuid(uid, uid, uid).map_err(|e| format!("setresuid: {e}"))?;
    Ok(())
}

fn main() {
    routes::read_source();
    if let Err(e) = drop_root() {
        eprintln!("router tests cannot give up root: {e}");
        std::process::exit(1);
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: Vec<(&str, TestFn)> = [
        api::TESTS,
        build::TESTS,
        filters::TESTS,
        goldens::TESTS,
        lifecycle::TESTS,
        listener::TESTS,
        networks::TESTS,
        routes::TESTS,
        shapes::TESTS,
        use_cases::TESTS,
    ]
    .concat();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let code = runtime.block_on(async {
        let api = match Api::open().await {
            Ok(api) => api,
            Err(e) => {
                eprintln!("router tests cannot run: {e}");
                return 1;
            }
        };
        let mut failed = Vec::new();
        let selected: Vec<_> = tests
            .iter()
            .filter(|(n, _)| filter.is_empty() || filter.iter().any(|f| n.contains(f.as_str())))
            .collect();
        println!("\nrunning {} router tests", selected.len());
        for (name, test) in selected {
            let t0 = Instant::now();
            let ok = AssertUnwindSafe(test(&api)).catch_unwind().await.is_ok();
            println!(
                "test {name} ... {} ({:.2}s)",
                if ok { "ok" } else { "FAILED" },
                t0.elapsed().as_secs_f64()
            );
            if !ok {
                failed.push(name.to_string());
            }
        }
        if let Err(e) = api.close().await {
            failed.push(format!("cleanup: {e}"));
        }
        println!(
            "\ntest result: {}. {} failed",
            if failed.is_empty() { "ok" } else { "FAILED" },
            failed.len()
        );
        for f in &failed {
            println!("    {f}");
        }
        i32::from(!failed.is_empty())
    });
    std::process::exit(code);
}
