//! `berth cp`: copy files between a container and the local filesystem,
//! with docker's naming rules. The daemon resolves every container path
//! inside the container's root; here we only read and write local paths.

use std::path::{Path, PathBuf};

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long = "archive")]
    pub archive: bool,
    /// Always follow symbol links in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output (berth prints none).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH or a local path (or - for a tar on stdin).
    pub src: String,
    /// CONTAINER:DEST_PATH or a local path (or - for a tar on stdout).
    pub dest: String,
}

/// `container:path` or a local path (docker: a colon separates a container
/// unless the argument starts with `/` or `.`).
fn split_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() && !c.contains('/') => (Some(c), p),
        _ => (None, arg),
    }
}

/// The last path element (`/` stays `/`).
fn base_name(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

fn parent_of(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => trimmed[..i].to_string(),
        None => ".".into(),
    }
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    match (split_arg(&args.src), split_arg(&args.dest)) {
        ((Some(c), src), (None, dest)) => match copy_from(&client, c, src, dest).await {
            Ok(()) => 0,
            Err(e) => super::fail(e),
        },
        ((None, src), (Some(c), dest)) => match copy_to(&client, src, c, dest, &args).await {
            Ok(()) => 0,
            Err(e) => super::fail(e),
        },
        ((Some(_), _), (Some(_), _)) => super::fail("copying between containers is not supported"),
        _ => super::fail("must specify at least one container source"),
    }
}

/// Collects the archive of a container path.
async fn fetch(
    client: &berth_client::Client,
    container: &str,
    src: &str,
) -> Result<Vec<u8>, String> {
    let mut stream = client
        .archive_get(container, src)
        .await
        .map_err(|e| e.to_string())?;
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await.map_err(|e| e.to_string())? {
        tar.extend_from_slice(&chunk);
    }
    Ok(tar)
}

async fn copy_from(
    client: &berth_client::Client,
    container: &str,
    src: &str,
    dest: &str,
) -> Result<(), String> {
    if dest == "-" {
        let stream = client
            .archive_get(container, src)
            .await
            .map_err(|e| e.to_string())?;
        return super::copy_stream(stream, &mut tokio::io::stdout()).await;
    }
    let tar = fetch(client, container, src).await?;
    let dest_path = PathBuf::from(dest);
    let (into, rename) = if dest_path.is_dir() {
        (dest_path, None)
    } else {
        if dest.ends_with('/') {
            return Err(format!("destination directory \"{dest}\" does not exist"));
        }
        let parent = dest_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(format!(
                "destination directory \"{}\" does not exist",
                parent.display()
            ));
        }
        let new_name = dest_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        (parent.to_path_buf(), new_name)
    };
    let top = base_name(src);
    tokio::task::spawn_blocking(move || extract_local(&tar, &into, &top, rename.as_deref()))
        .await
        .map_err(|e| e.to_string())?
}

/// Unpacks the archive under `into`, renaming its top entry `top` to
/// `rename` when given. Entries that would leave `into` are refused.
fn extract_local(tar: &[u8], into: &Path, top: &str, rename: Option<&str>) -> Result<(), String> {
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    let entries = archive
        .entries()
        .map_err(|e| format!("reading the archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the archive: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let mut parts: Vec<String> = path
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        if let (Some(new), true) = (rename, parts[0] == top) {
            parts[0] = new.to_string();
        }
        let rel: PathBuf = parts.iter().collect();
        let ok = entry
            .unpack_in(into)
            .map_err(|e| format!("writing {}: {e}", into.join(&rel).display()))?;
        if !ok {
            return Err(format!(
                "refusing to write {} outside {}",
                rel.display(),
                into.display()
            ));
        }
        let unpacked_as = into.join(&path);
        if rel != path && unpacked_as.exists() {
            std::fs::rename(&unpacked_as, into.join(&rel))
                .map_err(|e| format!("renaming to {}: {e}", rel.display()))?;
        }
    }
    Ok(())
}

async fn copy_to(
    client: &berth_client::Client,
    src: &str,
    container: &str,
    dest: &str,
    args: &Args,
) -> Result<(), String> {
    if src == "-" {
        let body = super::file_body(tokio::io::stdin());
        return client
            .archive_put(container, dest, body, args.archive)
            .await
            .map_err(|e| e.to_string());
    }
    let src_path = PathBuf::from(src);
    let meta = if args.follow_link {
        std::fs::metadata(&src_path)
    } else {
        std::fs::symlink_metadata(&src_path)
    }
    .map_err(|e| format!("stat {src}: {e}"))?;
    let stat = client
        .archive_stat(container, dest)
        .await
        .map_err(|e| e.to_string())?;
    let dest_is_dir = stat
        .as_ref()
        .and_then(|s| s["mode"].as_u64())
        .is_some_and(|m| m & (1 << 31) != 0);
    let (put_dir, name) = match (&stat, dest_is_dir) {
        (Some(_), true) => (dest.to_string(), base_name(src)),
        (Some(_), false) if meta.is_dir() => {
            return Err(format!(
                "cannot copy a directory to the file {dest} in the container"
            ))
        }
        _ => {
            if dest.ends_with('/') && stat.is_none() {
                return Err(format!(
                    "destination directory \"{dest}\" does not exist in the container"
                ));
            }
            (parent_of(dest), base_name(dest))
        }
    };
    let follow = args.follow_link;
    let tar = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(follow);
        if meta.is_dir() {
            b.append_dir_all(&name, &src_path)
                .map_err(|e| format!("archiving {}: {e}", src_path.display()))?;
        } else {
            b.append_path_with_name(&src_path, &name)
                .map_err(|e| format!("archiving {}: {e}", src_path.display()))?;
        }
        b.into_inner().map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    let body = berth_client::transport::full(tar);
    client
        .archive_put(container, &put_dir, body, args.archive)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_container_arguments() {
        assert_eq!(
            split_arg("web:/etc/hostname"),
            (Some("web"), "/etc/hostname")
        );
        assert_eq!(split_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_arg("/tmp/x"), (None, "/tmp/x"));
        assert_eq!(split_arg("file.txt"), (None, "file.txt"));
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/"), "/");
        assert_eq!(parent_of("/tmp/x"), "/tmp");
        assert_eq!(parent_of("/x"), "/");
    }
}
