//! COPY (and ADD of local files): the sources, matched in the context or
//! another image's tree, are copied into a staging directory laid out like
//! the new layer (`<staging>/<dest>/...`), owned by root or `--chown`, with
//! `--chmod` applied; the layer is that directory. Docker's rules: a
//! directory source copies its contents; several sources, or a destination
//! ending in `/`, make the destination a directory; wildcards match within
//! a directory level; nothing outside the source root is reachable
//! (symlinks are copied as symlinks, never followed).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_builder::cache::FileEntry;
use sha2::Digest as _;

use crate::Error;

/// A COPY with its words substituted.
pub(super) struct CopySpec {
    pub sources: Vec<String>,
    /// Absolute (resolved against WORKDIR).
    pub dest: String,
    /// Dest ends with `/`.
    pub dest_is_dir: bool,
    pub owner: (u32, u32),
    pub chmod: Option<u32>,
    /// `--exclude` patterns (`.dockerignore` syntax), matched against paths
    /// inside each source.
    pub exclude: Option<berth_builder::ignore::Matcher>,
    /// `--parents`: keep each source's path under the destination.
    pub parents: bool,
    /// ADD: local tar archives (plain, gzip, bzip2, xz, zstd) are unpacked
    /// into the destination instead of copied.
    pub extract_archives: bool,
    /// An owner this process may not give leaves the file its own (the
    /// store's `ignore_chown_errors`).
    pub ignore_chown_errors: bool,
}

/// Whether `path` is a tar archive ADD unpacks (plain, gzip, bzip2, xz or
/// zstd).
fn is_tar_archive(path: &Path) -> Result<bool, Error> {
    use std::io::Read;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(false);
    };
    if !meta.is_file() {
        return Ok(false);
    }
    let f = std::fs::File::open(path).map_err(Error::io("reading", path))?;
    let Ok((_, mut plain)) = berth_image::compression::decompress(f) else {
        return Ok(false);
    };
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < head.len() {
        match plain.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(_) => return Ok(false),
        }
    }
    Ok(got == 512 && &head[257..262] == b"ustar")
}

fn invalid(m: impl Into<String>) -> Error {
    Error::InvalidArgument(m.into())
}

/// Go's `filepath.Match` for one path component (`*`, `?`, `[...]`, `\`).
fn component_matches(pattern: &str, name: &str) -> bool {
    let escaped = pattern.replace('/', "");
    berth_builder::ignore::Matcher::new(&[escaped])
        .map(|m| !name.contains('/') && m.ignored(name))
        .unwrap_or(false)
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The paths (relative to `root`) a source names: itself, or its wildcard
/// matches in order.
fn expand_source(root: &Path, source: &str) -> Result<Vec<PathBuf>, Error> {
    let cleaned = berth_builder::ignore::clean(source.trim_start_matches('/'));
    let rel = if cleaned == "." { "" } else { cleaned.as_str() };
    if rel.split('/').any(|c| c == "..") {
        return Err(invalid(format!(
            "forbidden path outside the build context: {source}"
        )));
    }
    if !has_magic(rel) {
        let p = PathBuf::from(rel);
        return match std::fs::symlink_metadata(root.join(&p)) {
            Ok(_) => Ok(vec![p]),
            Err(_) => Ok(Vec::new()),
        };
    }
    let mut found = vec![PathBuf::new()];
    for comp in rel.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if !has_magic(comp) {
                let p = base.join(comp);
                if std::fs::symlink_metadata(root.join(&p)).is_ok() {
                    next.push(p);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(root.join(base)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| component_matches(comp, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        found = next;
    }
    Ok(found)
}

/// Copies `src` (not following a symlink) to `dst`, recursively; `rel` is
/// its path inside the source, for `--exclude`.
fn copy_tree(src: &Path, dst: &Path, spec: &CopySpec, rel: &str) -> Result<(), Error> {
    if spec.exclude.as_ref().is_some_and(|m| m.ignored(rel)) {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(src).map_err(Error::io("reading", src))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(Error::io("reading", src))?;
        let _ = std::fs::remove_file(dst);
        std::os::unix::fs::symlink(&target, dst).map_err(Error::io("creating", dst))?;
    } else if ft.is_dir() {
        if !dst.is_dir() {
            std::fs::create_dir(dst).map_err(Error::io("creating", dst))?;
        }
        let mut names: Vec<_> = std::fs::read_dir(src)
            .map_err(Error::io("reading", src))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            let r = format!("{rel}/{}", n.to_string_lossy());
            copy_tree(&src.join(&n), &dst.join(&n), spec, &r)?;
        }
    } else if ft.is_file() {
        std::fs::copy(src, dst).map_err(Error::io("copying", src))?;
    } else {
        // Devices, fifos and sockets are not copied from a context.
        return Ok(());
    }
    finish_entry(dst, &meta, spec)
}

/// Owner, mode and mtime of a copied entry.
fn finish_entry(dst: &Path, src_meta: &std::fs::Metadata, spec: &CopySpec) -> Result<(), Error> {
    let (uid, gid) = spec.owner;
    match std::os::unix::fs::lchown(dst, Some(uid), Some(gid)) {
        Err(e)
            if spec.ignore_chown_errors
                && matches!(e.raw_os_error(), Some(libc::EPERM | libc::EINVAL)) => {}
        r => r.map_err(Error::io("chown", dst))?,
    }
    if !src_meta.file_type().is_symlink() {
        let mode = spec.chmod.unwrap_or(src_meta.mode() & 0o7777);
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode))
            .map_err(Error::io("chmod", dst))?;
    }
    let mtime = filetime::FileTime::from_last_modification_time(src_meta);
    filetime::set_symlink_file_times(dst, mtime, mtime).map_err(Error::io("setting times of", dst))
}

/// Creates `dir` and its missing parents under `staging` (root-owned, 0755).
fn make_dirs(staging: &Path, dir: &str) -> Result<PathBuf, Error> {
    let mut p = staging.to_path_buf();
    for c in dir.split('/').filter(|c| !c.is_empty()) {
        p.push(c);
        if !p.is_dir() {
            std::fs::create_dir(&p).map_err(Error::io("creating", &p))?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                .map_err(Error::io("chmod", &p))?;
        }
    }
    Ok(p)
}

/// Stages the copy from `root` into `staging`. Errors name the missing
/// source as Docker does.
pub(super) fn stage(root: &Path, spec: &CopySpec, staging: &Path) -> Result<(), Error> {
    let mut matched: Vec<PathBuf> = Vec::new();
    for s in &spec.sources {
        let found = expand_source(root, s)?;
        if found.is_empty() {
            return Err(invalid(format!(
                "COPY failed: file not found in build context or excluded by .dockerignore: stat {s}: file does not exist"
            )));
        }
        matched.extend(found);
    }
    let dest_root = spec.dest.trim_end_matches('/').to_string();
    let into_dir = spec.parents
        || spec.dest_is_dir
        || matched.len() > 1
        || matched
            .iter()
            .any(|m| root.join(m).symlink_metadata().is_ok_and(|md| md.is_dir()));
    for m in &matched {
        let src = root.join(m);
        let is_dir = src.symlink_metadata().is_ok_and(|md| md.is_dir());
        // `--parents`: the source's own path goes under the destination.
        let dest = match (spec.parents, m.parent()) {
            (true, Some(p)) if !p.as_os_str().is_empty() => {
                format!("{dest_root}/{}", p.display())
            }
            _ => dest_root.clone(),
        };
        let dest = if spec.parents && is_dir {
            format!("{dest_root}/{}", m.display())
        } else {
            dest
        };
        let dest = dest.as_str();
        if spec.extract_archives && is_tar_archive(&src)? {
            make_dirs(staging, dest)?;
            let mut f = std::fs::File::open(&src).map_err(Error::io("reading", &src))?;
            let opts = berth_image::fsops::ExtractOptions {
                ignore_chown_errors: spec.ignore_chown_errors,
                ..Default::default()
            };
            berth_image::fsops::extract_into(staging, dest, &mut f, &opts)?;
            continue;
        }
        if is_dir {
            // The directory's contents go into the destination.
            let d = make_dirs(staging, dest)?;
            let meta = std::fs::symlink_metadata(&src).map_err(Error::io("reading", &src))?;
            let mut names: Vec<_> = std::fs::read_dir(&src)
                .map_err(Error::io("reading", &src))?
                .flatten()
                .map(|e| e.file_name())
                .collect();
            names.sort();
            for n in names {
                let r = n.to_string_lossy().into_owned();
                copy_tree(&src.join(&n), &d.join(&n), spec, &r)?;
            }
            if !spec.dest_is_dir && matched.len() == 1 {
                // `COPY dir /d` gives /d the directory's own mode.
                finish_entry(&d, &meta, spec)?;
            }
        } else if into_dir {
            let d = make_dirs(staging, dest)?;
            let name = m.file_name().unwrap_or_default();
            copy_tree(&src, &d.join(name), spec, &name.to_string_lossy())?;
        } else {
            let (parent, name) = match dest.rsplit_once('/') {
                Some((p, n)) => (p, n),
                None => ("", dest),
            };
            let d = make_dirs(staging, parent)?;
            let base = m
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            copy_tree(&src, &d.join(name), spec, &base)?;
        }
    }
    Ok(())
}

/// The content checksum of a staged tree: names, modes, owners, bytes.
pub(super) fn checksum(staging: &Path) -> Result<String, Error> {
    let mut entries = Vec::new();
    for e in walkdir::WalkDir::new(staging)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| Error::Internal(format!("walking the staged copy: {e}")))?;
        let rel = e
            .path()
            .strip_prefix(staging)
            .unwrap_or(e.path())
            .to_string_lossy()
            .into_owned();
        let meta = e
            .path()
            .symlink_metadata()
            .map_err(Error::io("reading", e.path()))?;
        let data = if meta.file_type().is_symlink() {
            std::fs::read_link(e.path())
                .map_err(Error::io("reading", e.path()))?
                .to_string_lossy()
                .into_owned()
        } else if meta.is_file() {
            let mut f = std::fs::File::open(e.path()).map_err(Error::io("reading", e.path()))?;
            let mut h = sha2::Sha256::new();
            std::io::copy(&mut f, &mut h).map_err(Error::io("reading", e.path()))?;
            hex::encode(h.finalize())
        } else {
            String::new()
        };
        entries.push(FileEntry {
            path: rel,
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            data,
        });
    }
    Ok(berth_builder::cache::content_checksum(&entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sources: &[&str], dest: &str) -> CopySpec {
        CopySpec {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            dest: dest.to_string(),
            dest_is_dir: dest.ends_with('/'),
            owner: (0, 0),
            chmod: None,
            exclude: None,
            parents: false,
            extract_archives: false,
            ignore_chown_errors: false,
        }
    }

    fn tree(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .flatten()
            .map(|e| {
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn docker_copy_rules() {
        let ctx = tempfile::tempdir().unwrap();
        let c = ctx.path();
        std::fs::create_dir_all(c.join("src/sub")).unwrap();
        std::fs::write(c.join("src/a.txt"), "a").unwrap();
        std::fs::write(c.join("src/b.txt"), "b").unwrap();
        std::fs::write(c.join("src/sub/c.md"), "c").unwrap();
        std::fs::write(c.join("app.conf"), "conf").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", c.join("link")).unwrap();

        let cases: &[(&[&str], &str, &[&str])] = &[
            (
                &["src/"],
                "/src/",
                &["src", "src/a.txt", "src/b.txt", "src/sub", "src/sub/c.md"],
            ),
            (&["app.conf"], "/etc/app.conf", &["etc", "etc/app.conf"]),
            (&["app.conf"], "/etc/", &["etc", "etc/app.conf"]),
            (&["src/*.txt"], "/out/", &["out", "out/a.txt", "out/b.txt"]),
            (
                &["src/a.txt", "app.conf"],
                "/d",
                &["d", "d/a.txt", "d/app.conf"],
            ),
            (&["src/s?b"], "/x", &["x", "x/c.md"]),
            (&["link"], "/l", &["l"]),
        ];
        for (sources, dest, want) in cases {
            let staging = tempfile::tempdir().unwrap();
            stage(c, &spec(sources, dest), staging.path()).unwrap();
            assert_eq!(tree(staging.path()), *want, "{sources:?} -> {dest}");
        }
        let mut ex = spec(&["src/"], "/e/");
        ex.exclude = Some(berth_builder::ignore::Matcher::new(&["*.txt".to_string()]).unwrap());
        let staging = tempfile::tempdir().unwrap();
        stage(c, &ex, staging.path()).unwrap();
        assert_eq!(
            tree(staging.path()),
            vec!["e", "e/sub", "e/sub/c.md"],
            "--exclude"
        );
        let mut par = spec(&["src/*.txt", "src/sub"], "/p/");
        par.parents = true;
        let staging = tempfile::tempdir().unwrap();
        stage(c, &par, staging.path()).unwrap();
        assert_eq!(
            tree(staging.path()),
            vec![
                "p",
                "p/src",
                "p/src/a.txt",
                "p/src/b.txt",
                "p/src/sub",
                "p/src/sub/c.md"
            ],
            "--parents"
        );
        // ADD unpacks a tar (here gzip) into the destination.
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, "inner/x", &b"hi"[..]).unwrap();
        std::fs::write(c.join("a.tgz"), tar.into_inner().unwrap().finish().unwrap()).unwrap();
        let mut add = spec(&["a.tgz"], "/opt");
        add.extract_archives = true;
        let staging = tempfile::tempdir().unwrap();
        stage(c, &add, staging.path()).unwrap();
        assert_eq!(
            tree(staging.path()),
            vec!["opt", "opt/inner", "opt/inner/x"]
        );
        let staging = tempfile::tempdir().unwrap();
        stage(c, &spec(&["a.tgz"], "/opt/"), staging.path()).unwrap();
        assert_eq!(
            tree(staging.path()),
            vec!["opt", "opt/a.tgz"],
            "COPY does not unpack"
        );
        // A file that only looks like xz is copied, not unpacked.
        std::fs::write(c.join("b.xz"), [0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2]).unwrap();
        let mut xz = spec(&["b.xz"], "/opt/");
        xz.extract_archives = true;
        let staging = tempfile::tempdir().unwrap();
        stage(c, &xz, staging.path()).unwrap();
        assert_eq!(tree(staging.path()), vec!["opt", "opt/b.xz"]);
        let staging = tempfile::tempdir().unwrap();
        stage(c, &spec(&["link"], "/l"), staging.path()).unwrap();
        assert_eq!(
            std::fs::read_link(staging.path().join("l")).unwrap(),
            PathBuf::from("/etc/passwd"),
            "symlinks are copied, not followed"
        );

        let missing = stage(
            c,
            &spec(&["nope"], "/x"),
            tempfile::tempdir().unwrap().path(),
        );
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("file not found in build context"),);
        let escape = stage(
            c,
            &spec(&["../etc/passwd"], "/x"),
            tempfile::tempdir().unwrap().path(),
        );
        assert!(escape.is_err(), "a source outside the context is refused");
    }

    #[test]
    fn checksum_follows_content_and_metadata_not_mtime() {
        let a = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("f"), "x").unwrap();
        let one = checksum(a.path()).unwrap();
        filetime::set_file_mtime(a.path().join("f"), filetime::FileTime::from_unix_time(5, 0))
            .unwrap();
        assert_eq!(checksum(a.path()).unwrap(), one, "mtime does not count");
        std::fs::set_permissions(a.path().join("f"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        assert_ne!(checksum(a.path()).unwrap(), one);
        std::fs::write(a.path().join("f"), "y").unwrap();
        let two = checksum(a.path()).unwrap();
        assert_ne!(two, one);
    }
}
