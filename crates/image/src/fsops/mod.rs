//! Container filesystem operations for `docker cp` (`HEAD|GET|PUT
//! /containers/{id}/archive`) and `docker export`, on a container's root directory
//! handed over by the engine (`/proc/<pid>/root` of a running container, or a
//! temporary overlay mount of a stopped one).
//!
//! Every path is resolved inside that root as if it were `/`: symlinks in the
//! container (absolute ones, `../..` chains, links to `/`) are followed inside it
//! and never reach host files. Lookups go component by component with `*at` calls
//! below the root's descriptor, opens with `openat2(RESOLVE_IN_ROOT)`, archives are
//! written by walking descriptors without following symlinks, and extraction
//! reuses the layer unpacker's contained writes.
//!
//! Path rules follow Docker's: a path is absolute in the container (a relative one
//! is taken from `/`), `..` cannot climb above `/`, the last element is not
//! followed if it is a symlink, a trailing `/` follows it, and a trailing `/.`
//! means "the directory's contents".

mod resolve;
mod user;

pub use crate::layer::UnpackStats;
pub use crate::treewalk::{TarSummary, WalkError};

use crate::compression;
use crate::error::ErrorKind;
use crate::layer::extract::{open_in_root, unpack_in, Policy};
use crate::layer::LayerError;
use crate::treewalk::{st, WalkOptions, Walker};
use resolve::{clean, resolve, ContainerPath, Last};
use rustix::fd::OwnedFd;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub use berth_api::container::{PathStat, PATH_STAT_HEADER};

/// Why a container filesystem operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The path does not exist in the container (Docker answers 404 with
    /// `Could not find the file <path> in container <name>`).
    #[error("no such file or directory: {path}")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// A component of the path that must be a directory is not one.
    #[error("not a directory: {path}")]
    NotADirectory {
        /// The path as given.
        path: String,
    },
    /// The destination of an extraction is not a directory.
    #[error("extraction point is not a directory")]
    ExtractPointNotDirectory {
        /// The path as given.
        path: String,
    },
    /// Too many symlinks while resolving the path.
    #[error("too many levels of symbolic links: {path}")]
    Loop {
        /// The path as given.
        path: String,
    },
    /// The container's user could not be resolved (`copy_uid_gid`).
    #[error("{0}")]
    User(String),
    /// The tar to extract is malformed or cannot be applied.
    #[error(transparent)]
    Archive(#[from] LayerError),
    /// Writing an archive failed.
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl FsError {
    /// The kind, for mapping to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FsError::NotFound { .. } => ErrorKind::NotFound,
            FsError::NotADirectory { .. }
            | FsError::ExtractPointNotDirectory { .. }
            | FsError::Loop { .. }
            | FsError::User(_) => ErrorKind::InvalidArgument,
            FsError::Archive(e) => e.kind(),
            FsError::Walk(e) => e.kind(),
            FsError::Io { .. } => ErrorKind::Internal,
        }
    }
}

fn path_err(path: &str, e: Errno) -> FsError {
    let path = path.to_string();
    match e {
        Errno::NOENT => FsError::NotFound { path },
        Errno::NOTDIR => FsError::NotADirectory { path },
        Errno::LOOP => FsError::Loop { path },
        e => FsError::Io {
            op: "resolve",
            path,
            source: e.into(),
        },
    }
}

/// Go's `os.FileMode` type bits.
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// `st_mode` as a Go `os.FileMode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match FileType::from_raw_mode(st_mode) {
        FileType::Directory => go_mode::DIR,
        FileType::Symlink => go_mode::SYMLINK,
        FileType::BlockDevice => go_mode::DEVICE,
        FileType::CharacterDevice => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        FileType::Fifo => go_mode::NAMED_PIPE,
        FileType::Socket => go_mode::SOCKET,
        FileType::RegularFile | FileType::Unknown => 0,
    };
    if st_mode & 0o4000 != 0 {
        m |= go_mode::SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= go_mode::SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= go_mode::STICKY;
    }
    m
}

/// A time as Go's `time.Time` marshals to JSON in UTC: RFC 3339, fraction of a
/// second without trailing zeros.
fn go_time(secs: i64, nanos: u32) -> String {
    let Some(t) = chrono::DateTime::from_timestamp(secs, nanos) else {
        return String::new();
    };
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos > 0 {
        let frac = format!(".{nanos:09}");
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

fn open_root(root: &Path) -> Result<OwnedFd, FsError> {
    rfs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| FsError::Io {
        op: "open",
        path: root.display().to_string(),
        source: e.into(),
    })
}

/// What a container path names, located inside the root.
enum Node {
    /// The entry `name` of the directory `parent` (a symlink is not followed).
    Named { parent: OwnedFd, name: OsString },
    /// A directory (the path ended with `/` or `/.`, or was `/`).
    Dir(OwnedFd),
}

impl Node {
    fn stat(&self, shown: &str) -> Result<Stat, FsError> {
        match self {
            Node::Named { parent, name } => rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW),
            Node::Dir(fd) => rfs::fstat(fd),
        }
        .map_err(|e| path_err(shown, e))
    }
}

fn locate(root: &OwnedFd, cp: &ContainerPath, shown: &str) -> Result<Node, FsError> {
    let dir = resolve(root, &cp.dir, true).map_err(|e| path_err(shown, e))?;
    let fd = open_in_root(root, &dir).map_err(|e| path_err(shown, e))?;
    Ok(match &cp.last {
        Last::Name(name) => Node::Named {
            parent: fd,
            name: name.clone(),
        },
        Last::Slash | Last::Dot => Node::Dir(fd),
    })
}

/// Metadata of `path` inside `root` (Docker's `HEAD /containers/{id}/archive`).
/// A symlink is described itself, with `link_target` the path it resolves to.
pub fn stat_path(root: &Path, path: &str) -> Result<PathStat, FsError> {
    let rootfd = open_root(root)?;
    let cp = ContainerPath::parse(path);
    let node = locate(&rootfd, &cp, path)?;
    let st = node.stat(path)?;
    let mode = st::mode(&st);
    let link_target = if FileType::from_raw_mode(mode) == FileType::Symlink {
        let comps = resolve(&rootfd, cp.abs.as_bytes(), true).map_err(|e| path_err(path, e))?;
        let mut s = String::new();
        for c in &comps {
            s.push('/');
            s.push_str(&c.to_string_lossy());
        }
        if s.is_empty() {
            s.push('/');
        }
        s
    } else {
        String::new()
    };
    Ok(PathStat {
        name: cp.base_name().to_string(),
        size: st::size(&st),
        mode: go_file_mode(mode),
        mtime: go_time(st::mtime(&st), st::mtime_nsec(&st)),
        link_target,
    })
}

/// Writes a tar of `path` inside `root` to `w` (Docker's `GET
/// /containers/{id}/archive`). The top entry is named after the path's last
/// element: a directory is archived with its contents under that name, `dir/.`
/// gives `./` and the contents below it, `/` gives `/` and absolute names. A
/// symlink is archived as a symlink unless the path ends with `/`. Nothing is
/// followed below the top. Directories on kernel pseudo-filesystems (a running
/// container's `/proc`, `/sys`, ...) are written without their contents.
pub fn archive_path(root: &Path, path: &str, w: &mut dyn Write) -> Result<TarSummary, FsError> {
    let rootfd = open_root(root)?;
    let cp = ContainerPath::parse(path);
    let node = locate(&rootfd, &cp, path)?;
    let top = match cp.base_name() {
        "/" => "",
        n => n,
    };
    let mut walker = Walker::new(
        w,
        WalkOptions {
            skip_pseudo_fs: true,
            ..WalkOptions::default()
        },
    );
    match node {
        Node::Named { parent, name } => {
            if !walker.entry(&parent, &name, top.as_bytes())? {
                return Err(FsError::NotFound {
                    path: path.to_string(),
                });
            }
        }
        Node::Dir(fd) => walker.dir(fd, top.as_bytes())?,
    }
    Ok(walker.finish()?)
}

/// How [`extract_into`] applies an archive.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Docker's `noOverwriteDirNonDir`: fail rather than replace a directory with a
    /// non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Docker's `copyUIDGID` (`docker cp -a`): entries are owned by the container's
    /// user instead of the ids in the archive.
    pub copy_uid_gid: bool,
    /// The container's `Config.User`, resolved in its `/etc/passwd` and
    /// `/etc/group` when `copy_uid_gid` is set; if empty, the archive's ids stay.
    pub user: String,
    /// Leave everything owned by the calling process, whatever the archive
    /// says (`docker cp` out of a container onto the host, as the docker
    /// CLI extracts).
    pub caller_owns: bool,
    /// See [`crate::layer::UnpackOptions::ignore_chown_errors`].
    pub ignore_chown_errors: bool,
    /// `(top, new)`: the archive's top entry `top` (and all below it) is
    /// written as `new` (`docker cp c:/etc/hosts ./renamed`).
    pub rename_top: Option<(String, String)>,
}

/// Extracts the tar `r` (plain, gzip or zstd) into the directory `dest` inside
/// `root` (Docker's `PUT /containers/{id}/archive`). `dest` is resolved with every
/// symlink followed and must be an existing directory. Entries may not climb above
/// `dest`; symlinks met while creating them resolve inside `root`. Whiteout names
/// are ordinary files here. The archive's root entry (`./`) leaves `dest` as it is.
pub fn extract_into(
    root: &Path,
    dest: &str,
    r: &mut dyn Read,
    opts: &ExtractOptions,
) -> Result<UnpackStats, FsError> {
    let rootfd = open_root(root)?;
    let cp = ContainerPath::parse(dest);
    let base = resolve(&rootfd, cp.abs.as_bytes(), true).map_err(|e| path_err(dest, e))?;
    match open_in_root(&rootfd, &base) {
        Ok(_) => {}
        Err(Errno::NOTDIR) => {
            return Err(FsError::ExtractPointNotDirectory {
                path: dest.to_string(),
            })
        }
        Err(e) => return Err(path_err(dest, e)),
    }
    let owner = if opts.copy_uid_gid && !opts.user.is_empty() {
        Some(user::lookup_user(&rootfd, &opts.user)?)
    } else {
        None
    };
    let (_, mut plain) = compression::decompress(r).map_err(LayerError::Tar)?;
    let policy = Policy {
        base,
        whiteouts: crate::layer::Whiteouts::Keep,
        root_meta: false,
        no_overwrite_dir_non_dir: opts.no_overwrite_dir_non_dir,
        owner,
        caller_owns: opts.caller_owns,
        ignore_chown_errors: opts.ignore_chown_errors,
        // Whiteouts are kept as files here: no overlay marker is written.
        user_xattrs: false,
        rename_top: opts
            .rename_top
            .as_ref()
            .map(|(a, b)| (OsString::from(a), OsString::from(b))),
    };
    Ok(unpack_in(&mut plain, rootfd, &policy)?)
}

/// Resolves `user[:group]` (names or ids) in the `/etc/passwd` and
/// `/etc/group` of the tree at `root`, as `COPY --chown` does.
pub fn resolve_user(root: &Path, spec: &str) -> Result<(u32, u32), FsError> {
    let rootfd = open_root(root)?;
    user::lookup_user(&rootfd, spec)
}

/// Writes the whole filesystem under `root` to `w` as `docker export` does: names
/// relative to the root without a leading `./` or `/`, no entry for the root
/// itself, directories before their contents, symlinks not followed. The
/// directories in `skip` (relative to the root, e.g. volume mount points) and
/// those on kernel pseudo-filesystems (`proc`, `sys`, ... of a running container)
/// are written without their contents.
pub fn export_root(root: &Path, w: &mut dyn Write, skip: &[&str]) -> Result<TarSummary, FsError> {
    let fd = open_root(root)?;
    let skip_contents = skip
        .iter()
        .map(|s| {
            let comps = clean(s.as_bytes());
            let mut out = Vec::new();
            for (i, c) in comps.iter().enumerate() {
                if i > 0 {
                    out.push(b'/');
                }
                out.extend_from_slice(c.as_bytes());
            }
            out
        })
        .filter(|s| !s.is_empty())
        .collect();
    let mut walker = Walker::new(
        w,
        WalkOptions {
            overlay: false,
            skip_contents,
            skip_pseudo_fs: true,
            clamp_mtime: None,
        },
    );
    walker.contents(fd, b"")?;
    Ok(walker.finish()?)
}

#[cfg(test)]
mod tests;
