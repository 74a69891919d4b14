//! `berth info`.

use berth_api::system::Info;

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
        let value = match serde_json::to_value(&info) {
            Ok(v) => v,
            Err(e) => return super::fail(format!("info: {e}")),
        };
        return match berth_template::render(f, &value) {
            Ok(s) => {
                println!("{s}");
                0
            }
            Err(e) => super::fail(format!("template: {e}")),
        };
    }
    print!("{}", text(&info));
    // As docker does: the daemon's warnings last, on stderr.
    for w in info.warnings.iter().flatten() {
        eprintln!("WARNING: {w}");
    }
    0
}

/// `Security Options`' lines: each `name=X,k=v` as `X` and its settings
/// capitalised below it, as docker prints them.
fn security_lines(options: &[String]) -> String {
    let mut out = String::new();
    for opt in options {
        let mut fields = opt.split(',');
        let name = fields
            .next()
            .map(|f| f.strip_prefix("name=").unwrap_or(f))
            .unwrap_or_default();
        out.push_str(&format!("  {name}\n"));
        for f in fields {
            if let Some((k, v)) = f.split_once('=') {
                let mut k = k.to_string();
                if let Some(first) = k.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                out.push_str(&format!("   {k}: {v}\n"));
            }
        }
    }
    out
}

/// `info`'s text, in docker's layout.
fn text(info: &Info) -> String {
    format!(
        "Server:
 Containers: {}
  Running: {}
  Paused: {}
  Stopped: {}
 Images: {}
 Server Version: {}
 Storage Driver: {}
{} Logging Driver: {}
 Cgroup Driver: {}
 Cgroup Version: {}
 Security Options:
{} Kernel Version: {}
 Operating System: {}
 OSType: {}
 Architecture: {}
 CPUs: {}
 Total Memory: {}
 Name: {}
 Docker Root Dir: {}
",
        info.containers,
        info.containers_running,
        info.containers_paused,
        info.containers_stopped,
        info.images,
        info.server_version,
        info.driver,
        info.driver_status
            .iter()
            .filter_map(|pair| match pair.as_slice() {
                [k, v] => Some(format!("  {k}: {v}\n")),
                _ => None,
            })
            .collect::<String>(),
        info.logging_driver,
        info.cgroup_driver,
        info.cgroup_version,
        security_lines(&info.security_options),
        info.kernel_version,
        info.operating_system,
        info.os_type,
        info.architecture,
        info.ncpu,
        crate::human::bytes_size(info.mem_total as f64),
        info.name,
        info.docker_root_dir,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_golden() {
        let info = Info {
            containers: 3,
            containers_running: 1,
            containers_stopped: 2,
            images: 4,
            server_version: "0.1.0".into(),
            driver: "overlay".into(),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: "1".into(),
            kernel_version: "6.1.0".into(),
            operating_system: "Debian GNU/Linux 12 (bookworm)".into(),
            os_type: "linux".into(),
            architecture: "x86_64".into(),
            ncpu: 2,
            mem_total: 2 << 30,
            name: "host".into(),
            docker_root_dir: "/var/lib/berth".into(),
            driver_status: vec![vec!["Backing Filesystem".into(), "extfs".into()]],
            security_options: vec![
                "name=seccomp,profile=builtin".into(),
                "name=rootless".into(),
            ],
            ..Default::default()
        };
        assert_eq!(
            text(&info),
            "Server:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 4\n \
             Server Version: 0.1.0\n Storage Driver: overlay\n  Backing Filesystem: extfs\n \
             Logging Driver: json-file\n Cgroup Driver: cgroupfs\n Cgroup Version: 1\n \
             Security Options:\n  seccomp\n   Profile: builtin\n  rootless\n Kernel Version: 6.1.0\n \
             Operating System: Debian GNU/Linux 12 (bookworm)\n OSType: linux\n \
             Architecture: x86_64\n CPUs: 2\n Total Memory: 2GiB\n Name: host\n \
             Docker Root Dir: /var/lib/berth\n"
        );
    }
}
