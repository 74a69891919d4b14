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

/// An archive path as the relative path it is written to: its plain
/// components only, the top one renamed to `rename` when given.
fn rewritten(path: &Path, top: &str, rename: Option<&str>) -> PathBuf {
    let mut parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if let (Some(new), Some(first)) = (rename, parts.first_mut()) {
        if first == top {
            *first = new.to_string();
        }
    }
    parts.iter().collect()
}

/// `into/rel`, refused when a directory on the way there is a symlink:
/// the archive comes from the daemon, and a link it planted (`d/esc ->
/// /victim`, then `d/esc/pwned`) must not lead a write outside `into`.
fn checked(into: &Path, rel: &Path) -> Result<PathBuf, String> {
    let mut at = into.to_path_buf();
    let parents: Vec<_> = rel.components().collect();
    for c in parents.iter().take(parents.len().saturating_sub(1)) {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "refusing to write {} through the symlink {}",
                    rel.display(),
                    at.display()
                ))
            }
            Ok(m) if !m.is_dir() => return Err(format!("{} is not a directory", at.display())),
            _ => {}
        }
    }
    Ok(into.join(rel))
}

/// Unpacks the archive under `into`, renaming its top entry `top` to
/// `rename` when given. No entry is written outside `into`: not through
/// `..` or absolute names, not through symlinks (planted by the archive or
/// already there), not as a hard link to a file outside.
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
        let rel = rewritten(&path, top, rename);
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = checked(into, &rel)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        // What is at the target is replaced, never written through.
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            if !m.is_dir() {
                std::fs::remove_file(&target)
                    .map_err(|e| format!("replacing {}: {e}", target.display()))?;
            }
        }
        if entry.header().entry_type() == tar::EntryType::Link {
            let link = entry
                .link_name()
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("hard link {} has no target", rel.display()))?
                .into_owned();
            let source = checked(into, &rewritten(&link, top, rename))?;
            let is_file = std::fs::symlink_metadata(&source).is_ok_and(|m| m.is_file());
            if !is_file {
                return Err(format!(
                    "refusing the hard link {} to {}: not a file of this copy",
                    rel.display(),
                    link.display()
                ));
            }
            std::fs::hard_link(&source, &target)
                .map_err(|e| format!("writing {}: {e}", target.display()))?;
            continue;
        }
        entry
            .unpack(&target)
            .map_err(|e| format!("writing {}: {e}", target.display()))?;
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

    fn tar_of(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data_or_link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o755);
            match kind {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    h.set_size(0);
                    b.append_link(&mut h, name, data_or_link).unwrap();
                }
                _ if name.contains("..") => {
                    // The builder refuses such names; a hostile archive has them.
                    h.set_size(data_or_link.len() as u64);
                    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                    h.set_cksum();
                    b.append(&h, data_or_link.as_bytes()).unwrap();
                }
                _ => {
                    h.set_size(data_or_link.len() as u64);
                    b.append_data(&mut h, name, data_or_link.as_bytes())
                        .unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    /// The archive is the daemon's to make: a symlink it plants is never
    /// written through, a hard link never reaches outside.
    #[test]
    fn hostile_archives_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        let into = dir.path().join("into");
        std::fs::create_dir(&into).unwrap();
        let through = tar_of(&[
            ("d", tar::EntryType::Directory, ""),
            ("d/esc", tar::EntryType::Symlink, victim.to_str().unwrap()),
            ("d/esc/pwned", tar::EntryType::Regular, "x"),
        ]);
        for rename in [None, Some("new")] {
            let err = extract_local(&through, &into, "d", rename).unwrap_err();
            assert!(err.contains("through the symlink"), "{err}");
            assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
        }
        std::fs::write(victim.join("secret"), "s").unwrap();
        let hard = tar_of(&[(
            "h",
            tar::EntryType::Link,
            victim.join("secret").to_str().unwrap(),
        )]);
        let err = extract_local(&hard, &into, "h", None).unwrap_err();
        assert!(err.contains("refusing the hard link"), "{err}");
        let climb = tar_of(&[("../../escaped", tar::EntryType::Regular, "x")]);
        extract_local(&climb, &into, "x", None).unwrap();
        assert!(into.join("escaped").exists() && !dir.path().join("escaped").exists());
        // An ordinary copy under a new name, with an inner hard link.
        let fine = tar_of(&[
            ("dir", tar::EntryType::Directory, ""),
            ("dir/a", tar::EntryType::Regular, "hello"),
            ("dir/b", tar::EntryType::Link, "dir/a"),
        ]);
        extract_local(&fine, &into, "dir", Some("copy")).unwrap();
        assert_eq!(
            std::fs::read_to_string(into.join("copy/b")).unwrap(),
            "hello"
        );
        assert!(
            !into.join("dir").exists(),
            "no stray directory under the old name"
        );
    }

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
