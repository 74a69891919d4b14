//! `berth pull NAME[:TAG|@DIGEST]`.

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Download all tagged images in the repository (not supported yet).
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

/// Prints a pull's progress; the error message when it failed.
pub async fn follow(
    mut stream: berth_client::calls::BodyStream,
    quiet: bool,
) -> Result<(), String> {
    let mut lines = berth_client::demux::JsonLines::default();
    let show = |msg: Value| -> Result<(), String> {
        if let Some(e) = msg["error"].as_str() {
            return Err(e.to_string());
        }
        if !quiet {
            if let Some(l) = render(&msg) {
                println!("{l}");
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
    if a.all_tags {
        return super::fail("pull --all-tags is not supported yet");
    }
    let client = match target.client().await {
        Ok(c) => c.with_registry_auth(crate::dockercfg::auth_for(&a.name)),
        Err(e) => return super::fail(e),
    };
    let (name, mut tag) = split(&a.name);
    if tag.is_empty() {
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
    let full = if tag.contains(':') {
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
}
