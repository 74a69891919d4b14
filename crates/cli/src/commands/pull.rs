//! `berth pull NAME[:TAG|@DIGEST]`.

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    pub name: String,
}

/// Splits `name[:tag][@digest]` into the name and the tag (or digest).
pub fn split(reference: &str) -> (String, String) {
    if let Some((name, digest)) = reference.split_once('@') {
        return (name.to_string(), digest.to_string());
    }
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (reference.to_string(), String::new()),
    }
}

/// One progress message as `docker pull` prints it (downloads in flight
/// are not printed line by line).
pub fn render(msg: &Value) -> Option<String> {
    let status = msg["status"].as_str()?;
    if status == "Downloading" {
        return None;
    }
    Some(match msg["id"].as_str() {
        Some(id) => format!("{id}: {status}"),
        None => status.to_string(),
    })
}

/// `[=====>      ]  12.3MB/60MB`, as Docker's progress bar: 50 steps of
/// two percent, then the sizes (pure).
pub fn bar(current: u64, total: u64) -> String {
    let cur = crate::human::size(current as i64);
    if total == 0 {
        return format!("{cur:>8}");
    }
    let steps = ((current.min(total) * 100 / total) / 2) as usize;
    format!(
        "[{}>{}] {cur:>8}/{}",
        "=".repeat(steps),
        " ".repeat(50 - steps),
        crate::human::size(total as i64)
    )
}

/// A line per layer, redrawn in place on a terminal (as `docker pull`).
#[derive(Default)]
struct Board {
    /// Line index of each layer id.
    index: std::collections::HashMap<String, usize>,
    printed: usize,
}

impl Board {
    fn show(&mut self, msg: &Value) {
        let status = msg["status"].as_str().unwrap_or_default();
        let Some(id) = msg["id"].as_str() else {
            println!("{status}");
            self.printed += 1;
            return;
        };
        let detail = &msg["progressDetail"];
        let text = match (detail["current"].as_u64(), detail["total"].as_u64()) {
            (Some(c), Some(t)) => format!("{id}: {status} {}", bar(c, t)),
            _ => format!("{id}: {status}"),
        };
        match self.index.get(id) {
            None => {
                self.index.insert(id.to_string(), self.printed);
                println!("{text}");
                self.printed += 1;
            }
            Some(i) => {
                let up = self.printed - i;
                print!("\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r");
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
        }
    }
}

/// Prints a pull's or push's progress (bars on a terminal, status lines
/// otherwise); the error message when it failed.
pub async fn follow(
    mut stream: berth_client::calls::BodyStream,
    quiet: bool,
) -> Result<(), String> {
    use std::io::IsTerminal;
    let mut lines = berth_client::demux::JsonLines::default();
    let mut board = std::io::stdout().is_terminal().then(Board::default);
    let mut show = |msg: Value| -> Result<(), String> {
        if let Some(e) = msg["error"].as_str() {
            return Err(e.to_string());
        }
        if quiet {
            return Ok(());
        }
        match &mut board {
            Some(b) => b.show(&msg),
            None => {
                if let Some(l) = render(&msg) {
                    println!("{l}");
                }
            }
        }
        Ok(())
    };
    while let Some(chunk) = stream.next().await.map_err(|e| e.to_string())? {
        lines.feed(&chunk);
        while let Some(msg) = lines.next_message::<Value>() {
            show(msg.map_err(|e| format!("decoding the daemon's answer: {e}"))?)?;
        }
    }
    if let Some(msg) = lines.finish::<Value>() {
        show(msg.map_err(|e| format!("decoding the daemon's answer: {e}"))?)?;
    }
    Ok(())
}

pub async fn run(a: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c.with_registry_auth(crate::dockercfg::auth_for(&a.name)),
        Err(e) => return super::fail(e),
    };
    let (name, mut tag) = split(&a.name);
    if a.all_tags {
        if !tag.is_empty() {
            return super::fail("tag can't be used with --all-tags/-a");
        }
        if !a.quiet {
            println!("Pulling all tags of {name}");
        }
    } else if tag.is_empty() {
        if !a.quiet {
            println!("Using default tag: latest");
        }
        tag = "latest".into();
    }
    let stream = match client
        .image_pull_platform(&name, &tag, a.platform.as_deref().unwrap_or(""))
        .await
    {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    if let Err(e) = follow(stream, a.quiet).await {
        return super::fail(e);
    }
    let full = if tag.is_empty() {
        name
    } else if tag.contains(':') {
        format!("{name}@{tag}")
    } else {
        format!("{name}:{tag}")
    };
    println!("{}", qualified(&full));
    0
}

/// `busybox:latest` as `docker.io/library/busybox:latest`, as docker prints it.
fn qualified(reference: &str) -> String {
    let first = reference.split('/').next().unwrap_or_default();
    let has_domain = reference.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        reference.to_string()
    } else if reference.contains('/') {
        format!("docker.io/{reference}")
    } else {
        format!("docker.io/library/{reference}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splitting_and_rendering() {
        assert_eq!(split("busybox"), ("busybox".into(), String::new()));
        assert_eq!(
            split("127.0.0.1:5000/a/b:v1"),
            ("127.0.0.1:5000/a/b".into(), "v1".into())
        );
        assert_eq!(
            split("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000/a/b".into(), String::new())
        );
        assert_eq!(split("a@sha256:00"), ("a".into(), "sha256:00".into()));
        assert_eq!(
            render(&json!({"status": "Pull complete", "id": "abc"})).unwrap(),
            "abc: Pull complete"
        );
        assert!(render(&json!({"status": "Downloading", "id": "abc"})).is_none());
        assert_eq!(
            qualified("busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(qualified("127.0.0.1:5000/x:v1"), "127.0.0.1:5000/x:v1");
    }

    #[test]
    fn progress_bars() {
        assert_eq!(
            bar(0, 100_000_000),
            format!("[>{}]       0B/100MB", " ".repeat(50))
        );
        assert_eq!(
            bar(50_000_000, 100_000_000),
            format!("[{}>{}]     50MB/100MB", "=".repeat(25), " ".repeat(25))
        );
        assert_eq!(
            bar(100_000_000, 100_000_000),
            format!("[{}>]    100MB/100MB", "=".repeat(50))
        );
    }
}
