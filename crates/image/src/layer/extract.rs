//! Unpacking a layer tar into a directory, entirely with our own code: the `tar`
//! crate only parses headers. Every path is resolved with `openat2(RESOLVE_IN_ROOT)`
//! against the destination, so `..`, absolute paths and symlinks inside the tree
//! can never lead a write outside it; the last component of every entry is handled
//! with `*at` calls that do not follow symlinks.
//!
//! The same unpacker serves `docker cp` into a container ([`crate::fsops`]): there the
//! resolution root is the container's root while entries land below a directory
//! inside it, whiteouts stay ordinary files, and Docker's copy options apply.

use super::LayerError;
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid,
    XattrFlags,
};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use tar::EntryType;

/// Prefix of an OCI whiteout entry: `.wh.<name>` deletes `<name>`.
pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
/// The OCI entry marking its directory opaque.
pub(crate) const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// The overlayfs xattr marking a directory opaque.
pub(crate) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The same marker for overlays mounted with `userxattr` (in a user
/// namespace, where `trusted.*` cannot be set).
pub(crate) const OVERLAY_USER_OPAQUE_XATTR: &str = "user.overlay.opaque";

/// What OCI whiteouts (`.wh.name`, `.wh..wh..opq`) become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Whiteouts {
    /// Overlayfs whiteouts (a 0/0 character device, the
    /// `trusted.overlay.opaque` xattr): the layer is a lower directory.
    Overlay,
    /// Done: `.wh.name` removes `name`, `.wh..wh..opq` empties its directory
    /// of what earlier layers put there (layers unpacked one over another
    /// into one tree, as `docker export` sees it). An opaque marker must
    /// come before the layer's own entries in its directory, as it does in
    /// every diff Berth writes ([`crate::diff`]).
    Apply,
    /// Ordinary files with those names.
    #[default]
    Keep,
}

/// How to unpack.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// What whiteouts become.
    pub whiteouts: Whiteouts,
    /// An owner this process may not give (EPERM, or EINVAL for an id its user
    /// namespace does not map) leaves the entry owned by the caller instead of
    /// failing the unpack: Podman's `ignore_chown_errors`, for a process that
    /// is not root or has a single id mapped.
    pub ignore_chown_errors: bool,
    /// Opaque directories marked for an overlay mounted with `userxattr`
    /// (`user.overlay.opaque`): a rootless daemon's layers.
    pub user_xattrs: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            whiteouts: Whiteouts::Overlay,
            ignore_chown_errors: false,
            user_xattrs: false,
        }
    }
}

/// What an unpack produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Bytes of regular file content written.
    pub size: u64,
    /// Tar entries processed.
    pub entries: u64,
}

/// Unpacks the (uncompressed) tar stream `r` into `dest`, an existing directory.
/// Reads the tar up to its end-of-archive marker; the caller drains anything after.
pub fn unpack(
    r: &mut dyn Read,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, LayerError> {
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| LayerError::Io {
        op: "open",
        path: dest.to_path_buf(),
        source: e.into(),
    })?;
    let policy = Policy {
        whiteouts: opts.whiteouts,
        ignore_chown_errors: opts.ignore_chown_errors,
        user_xattrs: opts.user_xattrs,
        root_meta: true,
        ..Policy::default()
    };
    unpack_in(r, root, &policy)
}

/// How [`unpack_in`] treats entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    /// Where entries land, as components below the resolution root (already
    /// resolved, an existing directory). Entry paths and hardlink targets may not
    /// climb above it.
    pub base: Vec<OsString>,
    /// What OCI whiteouts become.
    pub whiteouts: Whiteouts,
    /// Apply a root entry's (`./`) metadata to `base`.
    pub root_meta: bool,
    /// Docker's `noOverwriteDirNonDir`: refuse to replace a directory with a
    /// non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Owner for every entry instead of the one in its header.
    pub owner: Option<(u32, u32)>,
    /// Leave every entry owned by the calling process: no chown at all
    /// (`docker cp` out of a container onto the host).
    pub caller_owns: bool,
    /// See [`UnpackOptions::ignore_chown_errors`].
    pub ignore_chown_errors: bool,
    /// See [`UnpackOptions::user_xattrs`].
    pub user_xattrs: bool,
    /// An entry whose first component is `.0` lands under `.1` instead (so
    /// are hardlink targets): `docker cp` to a new name.
    pub rename_top: Option<(OsString, OsString)>,
}

impl Policy {
    fn renamed(&self, mut comps: Vec<OsString>) -> Vec<OsString> {
        if let (Some((from, to)), Some(first)) = (&self.rename_top, comps.first_mut()) {
            if first == from {
                *first = to.clone();
            }
        }
        comps
    }
}

/// Unpacks `r` below `policy.base`, resolving every path as if `root` were `/`.
pub(crate) fn unpack_in(
    r: &mut dyn Read,
    root: OwnedFd,
    policy: &Policy,
) -> Result<UnpackStats, LayerError> {
    let mut u = Unpacker {
        root,
        policy,
        dirs: Vec::new(),
        stats: UnpackStats::default(),
    };
    let mut ar = tar::Archive::new(r);
    for entry in ar.entries().map_err(LayerError::Tar)? {
        let mut entry = entry.map_err(LayerError::Tar)?;
        u.entry(&mut entry)?;
        u.stats.entries += 1;
    }
    u.finish_dirs()?;
    Ok(u.stats)
}

/// Metadata of one entry.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: Timespec,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

struct Unpacker<'a> {
    root: OwnedFd,
    policy: &'a Policy,
    dirs: Vec<(Vec<OsString>, Timespec)>,
    stats: UnpackStats,
}

/// Splits a tar path into clean components. `.` and empty parts vanish; `..` pops.
/// A relative path that climbs above the root is refused (`None`); an absolute one
/// is clamped at the root, as `filepath.Clean` does for Docker.
pub(crate) fn clean_path(raw: &[u8]) -> Option<Vec<OsString>> {
    let absolute = raw.first() == Some(&b'/');
    let mut out: Vec<OsString> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !absolute {
                    return None;
                }
            }
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Some(out)
}

/// Like [`clean_path`] but any climb above the root is refused (hardlink targets).
fn clean_link_target(raw: &[u8]) -> Option<Vec<OsString>> {
    let mut out: Vec<OsString> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop()?;
            }
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Some(out)
}

pub(crate) fn join(comps: &[OsString]) -> OsString {
    if comps.is_empty() {
        return OsString::from(".");
    }
    let mut s = OsString::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            s.push("/");
        }
        s.push(c);
    }
    s
}

/// Opens `comps` as a directory, resolved as if `root` were `/`.
pub(crate) fn open_in_root(root: &OwnedFd, comps: &[OsString]) -> Result<OwnedFd, Errno> {
    open_in_root_with(
        root,
        comps,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
    )
}

/// Opens `comps` with `flags`, resolved as if `root` were `/` (magic links refused).
pub(crate) fn open_in_root_with(
    root: &OwnedFd,
    comps: &[OsString],
    flags: OFlags,
) -> Result<OwnedFd, Errno> {
    let path = join(comps);
    let mut tries = 0;
    loop {
        match rfs::openat2(
            root,
            path.as_os_str(),
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(Errno::AGAIN) if tries < 16 => tries += 1,
            other => return other,
        }
    }
}

fn proc_path(dir: &OwnedFd, name: &OsStr) -> OsString {
    let mut p = OsString::from(format!("/proc/self/fd/{}/", dir.as_raw_fd()));
    p.push(name);
    p
}

fn read_meta<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta, LayerError> {
    let h = e.header();
    let old = h.as_old();
    let mut uid = lenient(h.uid(), &old.uid)?;
    let mut gid = lenient(h.gid(), &old.gid)?;
    let mode = lenient(h.mode().map(u64::from), &old.mode)? as u32 & 0o7777;
    let mut mtime = Timespec {
        tv_sec: lenient(h.mtime(), &old.mtime)? as i64,
        tv_nsec: 0,
    };
    let mut xattrs = Vec::new();
    if let Some(pax) = e.pax_extensions().map_err(LayerError::Tar)? {
        for ext in pax {
            let ext = ext.map_err(LayerError::Tar)?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                xattrs.push((OsStr::from_bytes(name).to_os_string(), value.to_vec()));
            } else if key == b"uid" {
                uid = parse_num(value).unwrap_or(uid);
            } else if key == b"gid" {
                gid = parse_num(value).unwrap_or(gid);
            } else if key == b"mtime" {
                if let Some(t) = parse_pax_time(value) {
                    mtime = t;
                }
            }
        }
    }
    let uid = u32::try_from(uid).ok().filter(|u| *u != u32::MAX);
    let gid = u32::try_from(gid).ok().filter(|g| *g != u32::MAX);
    let (Some(uid), Some(gid)) = (uid, gid) else {
        return Err(LayerError::Entry {
            path: display(e),
            reason: "uid or gid out of range".into(),
        });
    };
    Ok(Meta {
        uid,
        gid,
        mode,
        mtime,
        xattrs,
    })
}

/// Empty numeric fields (all NUL or spaces) read as 0, as Go's archive/tar does.
fn lenient(v: io::Result<u64>, raw: &[u8]) -> Result<u64, LayerError> {
    match v {
        Ok(n) => Ok(n),
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
        Err(e) => Err(LayerError::Tar(e)),
    }
}

fn parse_num(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// PAX times are decimal seconds with an optional fraction: `1700000000.123456789`.
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    let mut tv_nsec: i64 = digits.parse().ok()?;
    if tv_sec < 0 && tv_nsec > 0 {
        tv_nsec = -tv_nsec;
    }
    Some(Timespec { tv_sec, tv_nsec })
}

/// Device major and minor; empty fields read as 0.
fn device_numbers(h: &tar::Header) -> Result<(u32, u32), LayerError> {
    let (raw_major, raw_minor) = match (h.as_ustar(), h.as_gnu()) {
        (Some(u), _) => (u.dev_major, u.dev_minor),
        (None, Some(g)) => (g.dev_major, g.dev_minor),
        (None, None) => return Ok((0, 0)),
    };
    let major = lenient(h.device_major().map(|d| d.unwrap_or(0).into()), &raw_major)?;
    let minor = lenient(h.device_minor().map(|d| d.unwrap_or(0).into()), &raw_minor)?;
    let fit = |n: u64| {
        u32::try_from(n)
            .map_err(|_| LayerError::Tar(io::Error::other("device number out of range")))
    };
    Ok((fit(major)?, fit(minor)?))
}

fn display<R: Read>(e: &tar::Entry<'_, R>) -> String {
    String::from_utf8_lossy(&e.path_bytes()).into_owned()
}

fn times(t: Timespec) -> Timestamps {
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        let kind = e.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let path = display(e);
        let rel = clean_path(&e.path_bytes())
            .map(|c| self.policy.renamed(c))
            .ok_or_else(|| LayerError::Breakout { path: path.clone() })?;
        let mut meta = read_meta(e)?;
        if let Some((uid, gid)) = self.policy.owner {
            meta.uid = uid;
            meta.gid = gid;
        }
        let apply = |source: Errno| LayerError::Apply {
            path: path.clone(),
            source: source.into(),
        };
        if rel.is_empty() {
            // The root itself ("./"): only directory metadata applies.
            if kind == EntryType::Directory && self.policy.root_meta {
                let fd = open_in_root(&self.root, &self.policy.base).map_err(apply)?;
                self.set_fd_meta(&fd, &meta).map_err(apply)?;
                self.dirs.push((self.policy.base.clone(), meta.mtime));
            }
            return Ok(());
        }
        let mut comps = self.policy.base.clone();
        comps.extend(rel);
        let Some((name, parent)) = comps.split_last() else {
            return Ok(());
        };
        let name_str = name.to_string_lossy();
        if self.policy.whiteouts != Whiteouts::Keep && name_str.starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(parent, name, &meta).map_err(apply);
        }
        if !matches!(
            kind,
            EntryType::Regular
                | EntryType::Continuous
                | EntryType::GNUSparse
                | EntryType::Directory
                | EntryType::Symlink
                | EntryType::Link
                | EntryType::Char
                | EntryType::Block
                | EntryType::Fifo
        ) {
            return Err(LayerError::Entry {
                path,
                reason: format!("unsupported tar entry type {:?}", kind.as_byte() as char),
            });
        }
        let dir = self.ensure_dir(parent).map_err(apply)?;
        let is_dir = kind == EntryType::Directory;
        if self.policy.no_overwrite_dir_non_dir {
            self.check_overwrite(&dir, name, is_dir, &comps)
                .map_err(|reason| LayerError::Entry {
                    path: path.clone(),
                    reason,
                })?;
        }
        // An existing directory stays when the new entry is a directory too.
        self.clear_slot(&dir, name, is_dir).map_err(apply)?;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let fd = rfs::openat(
                    &dir,
                    name.as_os_str(),
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(apply)?;
                let mut f = File::from(fd);
                let n = copy_data(e, &mut f, &path)?;
                if kind != EntryType::GNUSparse && n != e.size() {
                    return Err(LayerError::Tar(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("unexpected end of data in {path:?}"),
                    )));
                }
                self.stats.size += n;
                let fd = OwnedFd::from(f);
                self.set_fd_meta(&fd, &meta).map_err(apply)?;
                rfs::futimens(&fd, &times(meta.mtime)).map_err(apply)?;
            }
            EntryType::Directory => {
                match rfs::mkdirat(&dir, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(err) => return Err(apply(err)),
                }
                let fd = rfs::openat(
                    &dir,
                    name.as_os_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(apply)?;
                self.set_fd_meta(&fd, &meta).map_err(apply)?;
                self.dirs.push((comps.clone(), meta.mtime));
            }
            EntryType::Symlink => {
                let target = e.link_name_bytes().ok_or_else(|| LayerError::Entry {
                    path: path.clone(),
                    reason: "symlink without target".into(),
                })?;
                rfs::symlinkat(OsStr::from_bytes(&target), &dir, name.as_os_str())
                    .map_err(apply)?;
                self.set_at_meta(&dir, name, &meta, false).map_err(apply)?;
            }
            EntryType::Link => {
                let raw = e.link_name_bytes().ok_or_else(|| LayerError::Entry {
                    path: path.clone(),
                    reason: "hardlink without target".into(),
                })?;
                let target = String::from_utf8_lossy(&raw).into_owned();
                let tcomps = clean_link_target(&raw)
                    .filter(|c| !c.is_empty())
                    .map(|c| self.policy.renamed(c))
                    .map(|c| {
                        let mut full = self.policy.base.clone();
                        full.extend(c);
                        full
                    })
                    .ok_or_else(|| LayerError::LinkOutside {
                        path: path.clone(),
                        target: target.clone(),
                    })?;
                let (tname, tparent) =
                    tcomps.split_last().ok_or_else(|| LayerError::LinkOutside {
                        path: path.clone(),
                        target: target.clone(),
                    })?;
                let tdir = open_in_root(&self.root, tparent).map_err(apply)?;
                rfs::linkat(
                    &tdir,
                    tname.as_os_str(),
                    &dir,
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(apply)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (major, minor) = device_numbers(e.header())?;
                let ft = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                rfs::mknodat(
                    &dir,
                    name.as_os_str(),
                    ft,
                    Mode::from_raw_mode(0o600),
                    rfs::makedev(major, minor),
                )
                .map_err(apply)?;
                self.set_at_meta(&dir, name, &meta, true).map_err(apply)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Opens the directory `comps`, creating missing components (mode 0755).
    fn ensure_dir(&self, comps: &[OsString]) -> Result<OwnedFd, Errno> {
        match open_in_root(&self.root, comps) {
            Err(Errno::NOENT) => {}
            other => return other,
        }
        let mut cur = rustix::io::dup(&self.root)?;
        for i in 0..comps.len() {
            cur = match open_in_root(&self.root, &comps[..=i]) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    rfs::mkdirat(&cur, comps[i].as_os_str(), Mode::from_raw_mode(0o755))?;
                    let fd = open_in_root(&self.root, &comps[..=i])?;
                    rfs::fchmod(&fd, Mode::from_raw_mode(0o755))?;
                    fd
                }
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }

    /// Docker's `noOverwriteDirNonDir`: the reason an entry may not replace what is
    /// at `name` in `dir`, if any.
    fn check_overwrite(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        new_is_dir: bool,
        comps: &[OsString],
    ) -> Result<(), String> {
        let Ok(st) = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            return Ok(());
        };
        let old_is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let shown = format!("/{}", join(comps).to_string_lossy());
        match (old_is_dir, new_is_dir) {
            (true, false) => Err(format!(
                "cannot overwrite directory {shown:?} with non-directory"
            )),
            (false, true) => Err(format!(
                "cannot overwrite non-directory {shown:?} with directory"
            )),
            _ => Ok(()),
        }
    }

    /// Makes room for a new entry `name` in `dir`. Returns true if an existing
    /// directory was kept because the new entry is a directory too.
    fn clear_slot(&self, dir: &OwnedFd, name: &OsStr, new_is_dir: bool) -> Result<bool, Errno> {
        let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(e),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            if new_is_dir {
                return Ok(true);
            }
            // remove_dir_all opens the final component without following symlinks.
            std::fs::remove_dir_all(proc_path(dir, name))
                .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        } else {
            rfs::unlinkat(dir, name, AtFlags::empty())?;
        }
        Ok(false)
    }

    fn whiteout(&self, parent: &[OsString], name: &OsStr, meta: &Meta) -> Result<(), Errno> {
        let dir = self.ensure_dir(parent)?;
        let s = name.as_bytes();
        let apply = self.policy.whiteouts == Whiteouts::Apply;
        if s == OPAQUE_WHITEOUT.as_bytes() {
            if apply {
                // The marker follows its directory's own entry: everything
                // in the directory now came from earlier layers.
                for entry in std::fs::read_dir(proc_path(&dir, OsStr::new("")))
                    .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?
                {
                    let entry = entry.map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
                    self.clear_slot(&dir, &entry.file_name(), false)?;
                }
                return Ok(());
            }
            let name = if self.policy.user_xattrs {
                OVERLAY_USER_OPAQUE_XATTR
            } else {
                OVERLAY_OPAQUE_XATTR
            };
            return rfs::fsetxattr(&dir, name, b"y", XattrFlags::empty());
        }
        if s.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            // Other AUFS metadata (.wh..wh.plnk, ...) has no overlay meaning.
            return Ok(());
        }
        let real = OsStr::from_bytes(&s[WHITEOUT_PREFIX.len()..]);
        if real.is_empty() || real == "." || real == ".." {
            return Err(Errno::INVAL);
        }
        self.clear_slot(&dir, real, false)?;
        if apply {
            return Ok(());
        }
        rfs::mknodat(
            &dir,
            real,
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )?;
        if self.policy.caller_owns {
            return Ok(());
        }
        self.owned(rfs::chownat(
            &dir,
            real,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        ))
    }

    /// The result of giving an entry its owner, under `ignore_chown_errors`.
    fn owned(&self, r: Result<(), Errno>) -> Result<(), Errno> {
        match r {
            Err(Errno::PERM | Errno::INVAL) if self.policy.ignore_chown_errors => Ok(()),
            other => other,
        }
    }

    /// Owner, mode and xattrs through an open fd (files and directories).
    fn set_fd_meta(&self, fd: &OwnedFd, m: &Meta) -> Result<(), Errno> {
        if !self.policy.caller_owns {
            self.owned(rfs::fchown(
                fd,
                Some(Uid::from_raw(m.uid)),
                Some(Gid::from_raw(m.gid)),
            ))?;
        }
        // chmod after chown: chown clears setuid/setgid.
        rfs::fchmod(fd, Mode::from_raw_mode(m.mode))?;
        for (k, v) in &m.xattrs {
            tolerate_xattr(rfs::fsetxattr(
                fd.as_fd(),
                k.as_os_str(),
                v,
                XattrFlags::empty(),
            ))?;
        }
        Ok(())
    }

    /// Owner, mode, xattrs and times of `name` in `dir`, never following a symlink.
    fn set_at_meta(&self, dir: &OwnedFd, name: &OsStr, m: &Meta, chmod: bool) -> Result<(), Errno> {
        if !self.policy.caller_owns {
            self.owned(rfs::chownat(
                dir,
                name,
                Some(Uid::from_raw(m.uid)),
                Some(Gid::from_raw(m.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            ))?;
        }
        if chmod {
            rfs::chmodat(dir, name, Mode::from_raw_mode(m.mode), AtFlags::empty())?;
        }
        if !m.xattrs.is_empty() {
            let p = proc_path(dir, name);
            for (k, v) in &m.xattrs {
                tolerate_xattr(rfs::lsetxattr(
                    p.as_os_str(),
                    k.as_os_str(),
                    v,
                    XattrFlags::empty(),
                ))?;
            }
        }
        rfs::utimensat(dir, name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW)
    }

    /// Directory times last, so creating their contents does not change them.
    /// Directories replaced by later entries are skipped.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        for (comps, t) in self.dirs.iter().rev() {
            let apply = |source: Errno| LayerError::Apply {
                path: join(comps).to_string_lossy().into_owned(),
                source: source.into(),
            };
            let fd = match comps.split_last() {
                None => rustix::io::dup(&self.root),
                Some((name, parent)) => open_in_root(&self.root, parent).and_then(|p| {
                    rfs::openat(
                        &p,
                        name.as_os_str(),
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                }),
            };
            match fd {
                Ok(fd) => rfs::futimens(&fd, &times(*t)).map_err(apply)?,
                Err(Errno::NOTDIR | Errno::NOENT | Errno::LOOP) => {}
                Err(e) => return Err(apply(e)),
            }
        }
        Ok(())
    }
}

/// Some filesystems refuse some xattr namespaces; Docker warns and goes on.
fn tolerate_xattr(r: Result<(), Errno>) -> Result<(), Errno> {
    match r {
        Err(e @ (Errno::NOTSUP | Errno::PERM)) => {
            tracing::warn!("ignoring xattr that cannot be set: {e}");
            Ok(())
        }
        other => other,
    }
}

/// Copies entry data to a file, separating read (input) errors from write errors.
fn copy_data<R: Read>(
    e: &mut tar::Entry<'_, R>,
    f: &mut File,
    path: &str,
) -> Result<u64, LayerError> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        let n = match e.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(LayerError::Tar(err)),
        };
        f.write_all(&buf[..n]).map_err(|source| LayerError::Apply {
            path: path.to_string(),
            source,
        })?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn cleans_paths() {
        assert_eq!(clean_path(b"./a/b/"), Some(s(&["a", "b"])));
        assert_eq!(clean_path(b"a/./b/../c"), Some(s(&["a", "c"])));
        assert_eq!(clean_path(b"/abs/path"), Some(s(&["abs", "path"])));
        assert_eq!(clean_path(b"/../etc/passwd"), Some(s(&["etc", "passwd"])));
        assert_eq!(clean_path(b"../etc/passwd"), None);
        assert_eq!(clean_path(b"a/../../etc"), None);
        assert_eq!(clean_path(b"./"), Some(vec![]));
        assert_eq!(clean_link_target(b"/../x"), None);
        assert_eq!(clean_link_target(b"/a/x"), Some(s(&["a", "x"])));
        assert_eq!(clean_link_target(b"../../outside"), None);
    }

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1700000000.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 500_000_000));
        let t = parse_pax_time(b"12").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (12, 0));
        assert!(parse_pax_time(b"x").is_none());
    }
}
