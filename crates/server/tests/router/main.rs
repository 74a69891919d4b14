//! The API tier: requests through `berth_server::handle` and the router, in
//! memory, against one engine on a temporary root. Each test takes
//! milliseconds; response shapes, status codes and error bodies are
//! checked here, the kernel and the binaries in the end-to-end suite.
//!
//! The engine's networking is the in-memory host (no bridge, namespace or
//! firewall of this machine is touched); the image store still keeps the
//! owners of image files, so this runs as root like the rest of the suite.

mod api;
mod build;
mod filters;
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

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: Vec<(&str, TestFn)> = [
        api::TESTS,
        build::TESTS,
        filters::TESTS,
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
