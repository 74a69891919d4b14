//! The one `berth` binary: the CLI, `berth daemon`, `berth registry`, and the hidden
//! per-container monitor entry (`berth __monitor <bundle>`), exec
//! monitor entry (`berth __exec <exec-dir>`) and a rootless daemon's
//! namespace holder and port helper (`berth __rootless-ns`,
//! `berth __rootless-ports <socket>`).

mod daemon;
mod registry;
mod remap;
mod rootless;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        // The monitor must stay single-threaded: it forks. No runtime here.
        Some("__monitor") => match args.get(2) {
            Some(bundle) => berth_runtime::monitor::run(std::path::Path::new(bundle)),
            None => {
                eprintln!("berth __monitor: missing bundle directory");
                125
            }
        },
        Some("__exec") => match args.get(2) {
            Some(dir) => berth_runtime::exec_monitor::run(std::path::Path::new(dir)),
            None => {
                eprintln!("berth __exec: missing exec directory");
                125
            }
        },
        // A rootless daemon's helpers, also single-threaded.
        Some("__rootless-ns") => rootless::holder_main(),
        Some("__rootless-ports") => match args.get(2) {
            Some(socket) => rootless::ports_main(std::path::Path::new(socket)),
            None => {
                eprintln!("berth __rootless-ports: missing socket path");
                125
            }
        },
        Some("daemon") => daemon::main(&args[1..]),
        Some("registry") => registry::main(&args[1..]),
        _ => cli_main(args),
    };
    std::process::exit(code);
}

fn cli_main(args: Vec<String>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth: starting the async runtime: {e}");
            return berth_cli::EXIT_BERTH;
        }
    };
    runtime.block_on(berth_cli::main(args))
}
