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
    let stream = client
        .archive_get(container, src)
        .await
        .map_err(|e| e.to_string())?;
    stream_into(stream, into, top, rename).await
}

/// Unpacks the archive as it arrives, with the project's hardened
/// extractor (the one that serves `docker cp` into containers): every path
/// is resolved inside `into`, so no `..`, absolute name, symlink (planted by
/// the archive or already there) or hard link writes outside it. Files are
/// owned by the caller, as the docker CLI leaves them; the top entry `top`
/// is written as `rename` when given.
async fn stream_into(
    mut stream: berth_client::calls::BodyStream,
    into: PathBuf,
    top: String,
    rename: Option<String>,
) -> Result<(), String> {
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let extract = tokio::task::spawn_blocking(move || {
        extract_local(&mut ChunkReader::new(rx), &into, &top, rename.as_deref())
    });
    let mut fed = Ok(());
    loop {
        match stream.next().await {
            Ok(Some(chunk)) => {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                fed = Err(e.to_string());
                break;
            }
        }
    }
    drop(tx);
    let extracted = extract.await.map_err(|e| e.to_string())?;
    extracted.and(fed)
}

/// A blocking reader over chunks sent from async code.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    chunk: bytes::Bytes,
}

impl ChunkReader {
    fn new(rx: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        ChunkReader {
            rx,
            chunk: bytes::Bytes::new(),
        }
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.chunk = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// Unpacks the tar read from `r` under the existing directory `into` (see
/// [`stream_into`]).
fn extract_local(
    r: &mut dyn std::io::Read,
    into: &Path,
    top: &str,
    rename: Option<&str>,
) -> Result<(), String> {
    let opts = berth_image::fsops::ExtractOptions {
        no_overwrite_dir_non_dir: true,
        caller_owns: true,
        rename_top: rename.map(|r| (top.to_string(), r.to_string())),
        ..Default::default()
    };
    berth_image::fsops::extract_into(into, "/", r, &opts)
        .map(|_| ())
        .map_err(|e| format!("copying into {}: {e}", into.display()))
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
    let dest_is_dir = stat.as_ref().is_some_and(|s| s.is_dir());
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
            // The planted link resolves inside `into`, where nothing is at
            // its target: the write is refused, the victim untouched.
            let err = extract_local(&mut &through[..], &into, "d", rename).unwrap_err();
            assert!(err.contains("d/esc/pwned"), "{err}");
            assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
        }
        std::fs::write(victim.join("secret"), "s").unwrap();
        let hard = tar_of(&[(
            "h",
            tar::EntryType::Link,
            victim.join("secret").to_str().unwrap(),
        )]);
        // The link's target is looked up inside `into`, where it is not.
        let err = extract_local(&mut &hard[..], &into, "h", None).unwrap_err();
        assert!(err.contains("\"h\""), "{err}");
        assert_eq!(std::fs::read_to_string(victim.join("secret")).unwrap(), "s");
        let climb = tar_of(&[("../../escaped", tar::EntryType::Regular, "x")]);
        assert!(extract_local(&mut &climb[..], &into, "x", None).is_err());
        assert!(!dir.path().join("escaped").exists());
        // An ordinary copy under a new name, with an inner hard link.
        let fine = tar_of(&[
            ("dir", tar::EntryType::Directory, ""),
            ("dir/a", tar::EntryType::Regular, "hello"),
            ("dir/b", tar::EntryType::Link, "dir/a"),
        ]);
        extract_local(&mut &fine[..], &into, "dir", Some("copy")).unwrap();
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
