//! `berth info`.

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format output using a Go template or 'json'.
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let info = match client.info().await {
        Ok(i) => i,
        Err(e) => return super::fail(e),
    };
    if let Some(f) = args.format.as_deref() {
        let f = if f == "json" { "{{json .}}" } else { f };
        return match berth_template::render(f, &info) {
            Ok(s) => {
                println!("{s}");
                0
            }
            Err(e) => super::fail(format!("template: {e}")),
        };
    }
    let s = |k: &str| match &info[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(
        " Total Memory: {}",
        crate::human::size(info["MemTotal"].as_i64().unwrap_or(0))
    );
    println!(" Name: {}", s("Name"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    0
}
