//! Writing a directory tree as a tar stream, walking it by file descriptors: every
//! entry is looked at relative to its parent directory's descriptor without
//! following symlinks, and regular files are opened only after checking (on an
//! `O_PATH` descriptor) that they are regular files, so a tree that changes while
//! it is read (a running container) can neither lead the walk outside it nor make
//! it open a device or a fifo. Directories are read whole and sorted by name, so
//! the same tree always gives the same stream. Entries that vanish during the walk
//! are left out; sockets are left out, as Docker does. For container roots, the
//! contents of kernel pseudo-filesystems mounted in them (proc, sysfs, cgroup,
//! devpts, ...) are left out too: Docker archives the rootfs, where those are
//! empty mount points.
//!
//! Shared by layer diffs ([`crate::diff`]), `docker cp` and `docker export`
//! ([`crate::fsops`]).

use crate::error::ErrorKind;
use crate::layer::extract::{
    OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, OVERLAY_USER_OPAQUE_XATTR, WHITEOUT_PREFIX,
};
use crate::tarwrite::{Entry, Kind, TarWriter};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;

const OVERLAY_XATTR_PREFIX: &[u8] = b"trusted.overlay.";
/// The same for overlays mounted with `userxattr` (rootless).
const OVERLAY_USER_XATTR_PREFIX: &[u8] = b"user.overlay.";
/// fuse-overlayfs's own markers, where it may not write `trusted.*`.
const FUSE_OVERLAY_XATTR_PREFIX: &[u8] = b"user.fuseoverlayfs.";
const FUSE_OPAQUE_XATTR: &[u8] = b"user.fuseoverlayfs.opaque";
/// The whiteout of `.opq` fuse-overlayfs puts beside the OCI opaque marker.
const FUSE_OPAQUE_WHITEOUT: &[u8] = b".wh..opq";
const OVERLAY_REDIRECT_XATTR: &[u8] = b"trusted.overlay.redirect";
const OVERLAY_METACOPY_XATTR: &[u8] = b"trusted.overlay.metacopy";

/// Why a tree could not be written as a tar stream.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// An entry could not be read.
    #[error("reading {path:?}: {source}")]
    Read {
        /// The entry's name in the archive.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The output could not be written.
    #[error("writing the tar stream: {0}")]
    Write(#[source] io::Error),
    /// The tree holds something the archive cannot represent.
    #[error("{path:?}: {reason}")]
    Unsupported {
        /// The entry's name in the archive.
        path: String,
        /// Why.
        reason: String,
    },
}

impl WalkError {
    /// The kind, for mapping to a status code.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

/// What a tar stream holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TarSummary {
    /// Entries written (not counting PAX headers).
    pub entries: u64,
    /// Bytes of regular file content.
    pub size: u64,
    /// Overlay whiteouts written as `.wh.<name>` entries.
    pub whiteouts: u64,
    /// Opaque directories marked with a `.wh..wh..opq` entry.
    pub opaque_dirs: u64,
    /// Length of the whole stream.
    pub tar_size: u64,
}

/// How to walk.
#[derive(Debug, Clone, Default)]
pub(crate) struct WalkOptions {
    /// The tree is an overlayfs upper directory: whiteouts (0/0 character devices)
    /// and opaque directories become their OCI forms.
    pub overlay: bool,
    /// Directories (archive names without a trailing slash) written without
    /// their contents.
    pub skip_contents: Vec<Vec<u8>>,
    /// Write directories on kernel pseudo-filesystems without their contents.
    pub skip_pseudo_fs: bool,
    /// Entries newer than this (unix seconds) get it as their mtime
    /// (`SOURCE_DATE_EPOCH`).
    pub clamp_mtime: Option<i64>,
}

/// `f_type`s of kernel pseudo-filesystems, whose contents are not files.
const PSEUDO_FS: &[u32] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x1cd1,      // devpts
    0x1980_0202, // mqueue
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0xcafe_4a11, // bpf
    0x6165_676c, // pstore
    0xf97c_ff8c, // selinuxfs
    0xde5e_81e4, // efivarfs
    0x6265_6570, // configfs
    0x6573_5543, // fusectl
    0x4249_4e4d, // binfmt_misc
];

fn is_pseudo_fs(fd: &OwnedFd) -> bool {
    rfs::fstatfs(fd).is_ok_and(|s| PSEUDO_FS.contains(&st::fs_type(&s)))
}

/// Writes trees into one tar stream.
pub(crate) struct Walker<'w> {
    sink: Sink<'w>,
    stack: Vec<Frame>,
}

struct Frame {
    fd: OwnedFd,
    names: Vec<OsString>,
    next: usize,
    prefix: Vec<u8>,
}

struct Sink<'w> {
    tar: TarWriter<'w>,
    opts: WalkOptions,
    links: HashMap<(u64, u64), Vec<u8>>,
    sum: TarSummary,
}

enum Step {
    Gone,
    Done,
    Dir(Frame),
}

impl Sink<'_> {
    /// An entry's mtime, clamped to `clamp_mtime` when set.
    fn clamp(&self, t: i64) -> i64 {
        match self.opts.clamp_mtime {
            Some(c) => t.min(c),
            None => t,
        }
    }
}

impl<'w> Walker<'w> {
    pub fn new(w: &'w mut dyn Write, opts: WalkOptions) -> Self {
        Self {
            sink: Sink {
                tar: TarWriter::new(w),
                opts,
                links: HashMap::new(),
                sum: TarSummary::default(),
            },
            stack: Vec::new(),
        }
    }

    /// Writes everything below the directory `dir`, named `prefix` followed by the
    /// path below `dir` (`prefix` is empty or ends with a slash).
    pub fn contents(&mut self, dir: OwnedFd, prefix: &[u8]) -> Result<(), WalkError> {
        let names = read_names(&dir).map_err(|e| read_err(prefix, e))?;
        self.stack.push(Frame {
            fd: dir,
            names,
            next: 0,
            prefix: prefix.to_vec(),
        });
        self.run()
    }

    /// Writes the directory `dir` itself as `name` (a slash is appended; an empty
    /// name gives `/`), then everything below it.
    pub fn dir(&mut self, dir: OwnedFd, name: &[u8]) -> Result<(), WalkError> {
        if let Some(f) = self.sink.dir(dir, name)? {
            self.stack.push(f);
        }
        self.run()
    }

    /// Writes the entry `name` of `parent` as `tarname` (and, for a directory,
    /// everything below it). Returns false if there is no such entry.
    pub fn entry(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        tarname: &[u8],
    ) -> Result<bool, WalkError> {
        match self.sink.entry(parent, name, tarname)? {
            Step::Gone => Ok(false),
            Step::Done => Ok(true),
            Step::Dir(f) => {
                self.stack.push(f);
                self.run()?;
                Ok(true)
            }
        }
    }

    /// Ends the stream.
    pub fn finish(self) -> Result<TarSummary, WalkError> {
        let mut sum = self.sink.sum;
        sum.tar_size = self.sink.tar.finish().map_err(WalkError::Write)?;
        Ok(sum)
    }

    fn run(&mut self) -> Result<(), WalkError> {
        while let Some(top) = self.stack.last_mut() {
            if top.next == top.names.len() {
                self.stack.pop();
                continue;
            }
            let name = std::mem::take(&mut top.names[top.next]);
            top.next += 1;
            let mut tarname = top.prefix.clone();
            tarname.extend_from_slice(name.as_bytes());
            if let Step::Dir(f) = self.sink.entry(&top.fd, &name, &tarname)? {
                self.stack.push(f);
            }
        }
        Ok(())
    }
}

fn read_err(path: &[u8], e: impl Into<io::Error>) -> WalkError {
    WalkError::Read {
        path: String::from_utf8_lossy(path).into_owned(),
        source: e.into(),
    }
}

/// The names in a directory (without `.` and `..`), sorted bytewise.
fn read_names(dir: &OwnedFd) -> Result<Vec<OsString>, Errno> {
    let mut d = rfs::Dir::read_from(dir)?;
    let mut names = Vec::new();
    while let Some(e) = d.read() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

fn proc_path(dir: BorrowedFd<'_>, name: Option<&OsStr>) -> OsString {
    let mut p = OsString::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    if let Some(n) = name {
        p.push("/");
        p.push(n);
    }
    p
}

/// Where to read xattrs from.
enum XSrc<'a> {
    /// An open file or directory.
    Fd(BorrowedFd<'a>),
    /// A path whose last component is not followed.
    Path(&'a OsStr),
}

/// All extended attributes of an entry (empty where the filesystem has none).
fn read_xattrs(src: &XSrc<'_>) -> Result<Xattrs, Errno> {
    let list = loop {
        let want = match src {
            XSrc::Fd(fd) => rfs::flistxattr_query(fd),
            XSrc::Path(p) => rfs::llistxattr_query(*p),
        };
        let want = match want {
            Ok(0) | Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        let mut buf = vec![0u8; want];
        let got = match src {
            XSrc::Fd(fd) => rfs::flistxattr(fd, &mut buf[..]),
            XSrc::Path(p) => rfs::llistxattr(*p, &mut buf[..]),
        };
        match got {
            Ok(n) => {
                buf.truncate(n);
                break buf;
            }
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(e),
        }
    };
    let mut out = Vec::new();
    for name in list.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let key = OsStr::from_bytes(name);
        let value = loop {
            let want = match src {
                XSrc::Fd(fd) => rfs::fgetxattr_query(fd, key),
                XSrc::Path(p) => rfs::lgetxattr_query(*p, key),
            };
            let want = match want {
                Ok(n) => n,
                Err(Errno::NODATA) => break None,
                Err(e) => return Err(e),
            };
            if want == 0 {
                break Some(Vec::new());
            }
            let mut buf = vec![0u8; want];
            let got = match src {
                XSrc::Fd(fd) => rfs::fgetxattr(fd, key, &mut buf[..]),
                XSrc::Path(p) => rfs::lgetxattr(*p, key, &mut buf[..]),
            };
            match got {
                Ok(n) => {
                    buf.truncate(n);
                    break Some(buf);
                }
                Err(Errno::RANGE) => continue,
                Err(Errno::NODATA) => break None,
                Err(e) => return Err(e),
            }
        };
        if let Some(v) = value {
            out.push((name.to_vec(), v));
        }
    }
    Ok(out)
}

/// Which xattrs go into archives: everything except overlayfs' private ones and,
/// in the `security` namespace, everything but file capabilities (SELinux labels
/// and IMA/EVM data belong to the host, as Docker also holds).
fn keep_xattr(name: &[u8]) -> bool {
    if name.starts_with(OVERLAY_XATTR_PREFIX)
        || name.starts_with(OVERLAY_USER_XATTR_PREFIX)
        || name.starts_with(FUSE_OVERLAY_XATTR_PREFIX)
    {
        return false;
    }
    if name.starts_with(b"security.") {
        return name == b"security.capability";
    }
    true
}

/// Fields of `struct stat`, whose integer types differ between architectures.
#[allow(clippy::useless_conversion)]
pub(crate) mod st {
    use rustix::fs::Stat;

    pub fn ids(st: &Stat) -> (u64, u64) {
        (u64::from(st.st_uid), u64::from(st.st_gid))
    }

    pub fn mtime(st: &Stat) -> i64 {
        i64::from(st.st_mtime)
    }

    pub fn mtime_nsec(st: &Stat) -> u32 {
        u32::try_from(st.st_mtime_nsec).unwrap_or(0)
    }

    pub fn mode(st: &Stat) -> u32 {
        u32::from(st.st_mode)
    }

    pub fn size(st: &Stat) -> i64 {
        i64::from(st.st_size)
    }

    pub fn nlink(st: &Stat) -> u64 {
        u64::from(st.st_nlink)
    }

    pub fn dev_ino(st: &Stat) -> (u64, u64) {
        (u64::from(st.st_dev), u64::from(st.st_ino))
    }

    pub fn rdev(st: &Stat) -> u64 {
        u64::from(st.st_rdev)
    }

    /// `statfs.f_type`, as the kernel's 32-bit magic number.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn fs_type(s: &rustix::fs::StatFs) -> u32 {
        i64::from(s.f_type) as u32
    }
}

use st::{ids, mode, mtime};

/// An entry's extended attributes: (name, value).
type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

impl Sink<'_> {
    fn write_header(&mut self, e: &Entry<'_>) -> Result<(), WalkError> {
        self.tar.header(e).map_err(|err| {
            if err.kind() == io::ErrorKind::InvalidInput {
                WalkError::Unsupported {
                    path: String::from_utf8_lossy(e.name).into_owned(),
                    reason: err.to_string(),
                }
            } else {
                WalkError::Write(err)
            }
        })?;
        self.sum.entries += 1;
        Ok(())
    }

    /// Filters xattrs for the archive; in overlay mode, refuses overlay features a
    /// layer cannot express and reports whether the directory is opaque.
    fn xattrs(&self, all: Xattrs, tarname: &[u8]) -> Result<(Xattrs, bool), WalkError> {
        let mut opaque = false;
        if self.opts.overlay {
            for (k, v) in &all {
                if k == OVERLAY_REDIRECT_XATTR || k == OVERLAY_METACOPY_XATTR {
                    return Err(WalkError::Unsupported {
                        path: String::from_utf8_lossy(tarname).into_owned(),
                        reason: format!(
                            "overlayfs {} cannot be expressed in a layer; mount container \
                             overlays with redirect_dir=off and metacopy=off",
                            String::from_utf8_lossy(k)
                        ),
                    });
                }
                let opaque_marker = k == OVERLAY_OPAQUE_XATTR.as_bytes()
                    || k == OVERLAY_USER_OPAQUE_XATTR.as_bytes()
                    || k == FUSE_OPAQUE_XATTR;
                if opaque_marker && v == b"y" {
                    opaque = true;
                }
            }
        }
        let kept = all.into_iter().filter(|(k, _)| keep_xattr(k)).collect();
        Ok((kept, opaque))
    }

    /// Writes a hardlink entry if an earlier entry has the same inode.
    fn hardlink(&mut self, st: &Stat, tarname: &[u8]) -> Result<bool, WalkError> {
        if st::nlink(st) < 2 {
            return Ok(false);
        }
        let key = st::dev_ino(st);
        let Some(first) = self.links.get(&key).cloned() else {
            self.links.insert(key, tarname.to_vec());
            return Ok(false);
        };
        let (uid, gid) = ids(st);
        let mut e = Entry::new(tarname, Kind::HardLink, mode(st), self.clamp(mtime(st)));
        e.uid = uid;
        e.gid = gid;
        e.link = &first;
        self.write_header(&e)?;
        Ok(true)
    }

    fn entry(&mut self, parent: &OwnedFd, name: &OsStr, tarname: &[u8]) -> Result<Step, WalkError> {
        let st = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(Step::Gone),
            Err(e) => return Err(read_err(tarname, e)),
        };
        let ft = FileType::from_raw_mode(st.st_mode);
        match ft {
            FileType::Directory => {
                let fd = match rfs::openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    // Replaced by something else since the stat.
                    Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(Step::Gone),
                    Err(e) => return Err(read_err(tarname, e)),
                };
                Ok(match self.dir(fd, tarname)? {
                    Some(f) => Step::Dir(f),
                    None => Step::Done,
                })
            }
            FileType::RegularFile => self.regular(parent, name, tarname),
            FileType::CharacterDevice if self.opts.overlay && st::rdev(&st) == 0 => {
                let cut = tarname
                    .iter()
                    .rposition(|b| *b == b'/')
                    .map_or(0, |i| i + 1);
                let mut wh = tarname[..cut].to_vec();
                wh.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
                wh.extend_from_slice(&tarname[cut..]);
                let (uid, gid) = ids(&st);
                let mut e = Entry::new(&wh, Kind::Regular, 0o600, self.clamp(mtime(&st)));
                e.uid = uid;
                e.gid = gid;
                self.write_header(&e)?;
                self.sum.whiteouts += 1;
                Ok(Step::Done)
            }
            FileType::Symlink
            | FileType::CharacterDevice
            | FileType::BlockDevice
            | FileType::Fifo => {
                let link = if ft == FileType::Symlink {
                    match rfs::readlinkat(parent, name, Vec::new()) {
                        Ok(t) => t.into_bytes(),
                        Err(Errno::NOENT | Errno::INVAL) => return Ok(Step::Gone),
                        Err(e) => return Err(read_err(tarname, e)),
                    }
                } else {
                    Vec::new()
                };
                if self.hardlink(&st, tarname)? {
                    return Ok(Step::Done);
                }
                let path = proc_path(parent.as_fd(), Some(name));
                let all = match read_xattrs(&XSrc::Path(&path)) {
                    Ok(x) => x,
                    Err(Errno::NOENT) => return Ok(Step::Gone),
                    Err(e) => return Err(read_err(tarname, e)),
                };
                let (xattrs, _) = self.xattrs(all, tarname)?;
                let kind = match ft {
                    FileType::Symlink => Kind::Symlink,
                    FileType::CharacterDevice => Kind::Char,
                    FileType::BlockDevice => Kind::Block,
                    _ => Kind::Fifo,
                };
                let (uid, gid) = ids(&st);
                let rdev = st::rdev(&st);
                let mut e = Entry::new(tarname, kind, mode(&st), self.clamp(mtime(&st)));
                e.uid = uid;
                e.gid = gid;
                e.link = &link;
                if matches!(kind, Kind::Char | Kind::Block) {
                    e.dev_major = rfs::major(rdev);
                    e.dev_minor = rfs::minor(rdev);
                }
                e.xattrs = &xattrs;
                self.write_header(&e)?;
                Ok(Step::Done)
            }
            FileType::Socket | FileType::Unknown => {
                tracing::debug!(
                    "not archiving {:?}: sockets cannot be archived",
                    String::from_utf8_lossy(tarname)
                );
                Ok(Step::Done)
            }
        }
    }

    /// Writes a directory's header (and opaque marker); returns the frame to walk
    /// its contents, unless they are skipped.
    fn dir(&mut self, fd: OwnedFd, name: &[u8]) -> Result<Option<Frame>, WalkError> {
        let st = rfs::fstat(&fd).map_err(|e| read_err(name, e))?;
        let all = read_xattrs(&XSrc::Fd(fd.as_fd())).map_err(|e| read_err(name, e))?;
        let (xattrs, mut opaque) = self.xattrs(all, name)?;
        let mut listed = None;
        if self.opts.overlay {
            let mut names = read_names(&fd).map_err(|e| read_err(name, e))?;
            // fuse-overlayfs marks an opaque directory with its own pair
            // of entries (the OCI marker as a file, and a whiteout of
            // `.opq`), besides or instead of the xattr.
            if names
                .iter()
                .any(|n| n.as_bytes() == OPAQUE_WHITEOUT.as_bytes())
            {
                opaque = true;
                names.retain(|n| {
                    n.as_bytes() != OPAQUE_WHITEOUT.as_bytes()
                        && n.as_bytes() != FUSE_OPAQUE_WHITEOUT
                });
            }
            listed = Some(names);
        }
        let mut hname = name.to_vec();
        if !hname.ends_with(b"/") {
            hname.push(b'/');
        }
        let (uid, gid) = ids(&st);
        let mut e = Entry::new(&hname, Kind::Dir, mode(&st), self.clamp(mtime(&st)));
        e.uid = uid;
        e.gid = gid;
        e.xattrs = &xattrs;
        self.write_header(&e)?;
        if opaque {
            let mut opq = hname.clone();
            opq.extend_from_slice(OPAQUE_WHITEOUT.as_bytes());
            let mut e = Entry::new(
                &opq,
                Kind::Regular,
                mode(&st) & 0o777,
                self.clamp(mtime(&st)),
            );
            e.uid = uid;
            e.gid = gid;
            self.write_header(&e)?;
            self.sum.opaque_dirs += 1;
        }
        let bare = name.strip_suffix(b"/").unwrap_or(name);
        if self.opts.skip_contents.iter().any(|s| s == bare)
            || (self.opts.skip_pseudo_fs && is_pseudo_fs(&fd))
        {
            return Ok(None);
        }
        let names = match listed {
            Some(names) => names,
            None => read_names(&fd).map_err(|e| read_err(name, e))?,
        };
        Ok(Some(Frame {
            fd,
            names,
            next: 0,
            prefix: hname,
        }))
    }

    fn regular(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        tarname: &[u8],
    ) -> Result<Step, WalkError> {
        // An O_PATH descriptor first: opening a fifo or device that replaced the
        // file since the stat could block or have side effects.
        let pfd = match rfs::openat(
            parent,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(Step::Gone),
            Err(e) => return Err(read_err(tarname, e)),
        };
        let st = rfs::fstat(&pfd).map_err(|e| read_err(tarname, e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Ok(Step::Gone);
        }
        if self.hardlink(&st, tarname)? {
            return Ok(Step::Done);
        }
        let fd = rfs::open(
            proc_path(pfd.as_fd(), None).as_os_str(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| read_err(tarname, e))?;
        let all = read_xattrs(&XSrc::Fd(fd.as_fd())).map_err(|e| read_err(tarname, e))?;
        let (xattrs, _) = self.xattrs(all, tarname)?;
        let (uid, gid) = ids(&st);
        let size = u64::try_from(st::size(&st)).unwrap_or(0);
        let mut e = Entry::new(tarname, Kind::Regular, mode(&st), self.clamp(mtime(&st)));
        e.uid = uid;
        e.gid = gid;
        e.size = size;
        e.xattrs = &xattrs;
        self.write_header(&e)?;
        let mut f = File::from(fd);
        let mut reader = ReadErr {
            inner: &mut f,
            err: None,
        };
        let got = self.tar.data(&mut reader, size);
        if let Some(err) = reader.err {
            return Err(read_err(tarname, err));
        }
        let got = got.map_err(WalkError::Write)?;
        if got != size {
            tracing::warn!(
                "{:?} changed size while being archived ({got} of {size} bytes read)",
                String::from_utf8_lossy(tarname)
            );
        }
        self.sum.size += size;
        Ok(Step::Done)
    }
}

/// Keeps read errors apart from write errors: a failed read ends the data early
/// and is reported by the caller.
struct ReadErr<'a> {
    inner: &'a mut File,
    err: Option<io::Error>,
}

impl Read for ReadErr<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.err = Some(e);
                    return Ok(0);
                }
                ok => return ok,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xattr_policy() {
        assert!(keep_xattr(b"user.mime_type"));
        assert!(keep_xattr(b"trusted.foo"));
        assert!(keep_xattr(b"security.capability"));
        assert!(keep_xattr(b"system.posix_acl_access"));
        assert!(!keep_xattr(b"security.selinux"));
        assert!(!keep_xattr(b"trusted.overlay.opaque"));
        assert!(!keep_xattr(b"trusted.overlay.origin"));
        assert!(!keep_xattr(b"user.overlay.opaque"));
        assert!(!keep_xattr(b"user.fuseoverlayfs.opaque"));
    }
}
