//! `berth version`.

use serde_json::json;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format output using a Go template or 'json'.
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client_part = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": "1.50",
        "DefaultAPIVersion": "1.50",
        "Os": "linux",
        "Arch": "amd64",
    });
    let server = match target.client().await {
        Ok(c) => c.version().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let server_value = server
        .as_ref()
        .ok()
        .and_then(|s| serde_json::to_value(s).ok());
    if let Some(f) = args.format.as_deref() {
        let data = json!({"Client": client_part, "Server": server_value});
        let f = if f == "json" { "{{json .}}" } else { f };
        return match berth_template::render(f, &data) {
            Ok(s) => {
                println!("{s}");
                if server.is_err() {
                    1
                } else {
                    0
                }
            }
            Err(e) => super::fail(format!("template: {e}")),
        };
    }
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       1.50");
    println!(" OS/Arch:           linux/amd64");
    println!();
    match server {
        Ok(v) => {
            println!("Server: {}", v.platform.name);
            println!(" Engine:");
            println!("  Version:          {}", v.version);
            println!(
                "  API version:      {} (minimum version {})",
                v.api_version, v.min_api_version
            );
            println!("  OS/Arch:          {}/{}", v.os, v.arch);
            println!("  Kernel:           {}", v.kernel_version);
            0
        }
        Err(e) => super::fail(e),
    }
}
