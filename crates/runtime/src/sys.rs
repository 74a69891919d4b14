//! The narrow syscall seam for container setup.
//!
//! Everything that changes kernel state while a container's root filesystem
//! is assembled goes through [`Sys`]: [`RealSys`] makes the syscalls,
//! [`RecordingSys`] records them as text so the mount, device and pivot
//! sequences can be tested without root. Plain file-system reads and the
//! creation of mount-point directories and files are done directly, on the
//! path given, so tests point them at a tempdir.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};

/// Result of one seam call.
pub type SysResult<T = ()> = Result<T, Errno>;

/// Kernel operations used while setting up a container.
pub trait Sys {
    /// `unshare(2)`.
    fn unshare(&self, flags: CloneFlags) -> SysResult;
    /// `setns(2)` into the namespace file at `path`.
    fn setns(&self, path: &Path, flags: CloneFlags) -> SysResult;
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> SysResult;
    /// Mounts a new file system through the new mount API (`fsopen`,
    /// `fsconfig` with each `(key, value)` in order, `fsmount`, `move_mount`).
    fn mount_fs(&self, fstype: &str, config: &[(&str, String)], target: &Path) -> SysResult;
    /// `umount2(2)`.
    fn umount(&self, target: &Path, flags: MntFlags) -> SysResult;
    /// `pivot_root(2)`.
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult;
    /// `chdir(2)`.
    fn chdir(&self, path: &Path) -> SysResult;
    /// `fchdir(2)` to an open directory.
    fn fchdir(&self, dir: BorrowedFd<'_>) -> SysResult;
    /// `mknod(2)`.
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> SysResult;
    /// `symlink(2)`: a link at `link` pointing to `target`.
    fn symlink(&self, target: &Path, link: &Path) -> SysResult;
    /// `umask(2)`, returning the previous mask.
    fn umask(&self, mask: Mode) -> Mode;
    /// `sethostname(2)`.
    fn sethostname(&self, name: &str) -> SysResult;
    /// Brings the loopback interface of the current network namespace up.
    fn loopback_up(&self) -> SysResult;
    /// The mount flags (`MS_RDONLY`, `MS_NOSUID`, ...) of the mount holding `path`.
    fn mount_flags(&self, path: &Path) -> SysResult<MsFlags>;
    /// Makes the mount at `path` and every mount below it read-only
    /// (`mount_setattr(2)` with `AT_RECURSIVE` and `MOUNT_ATTR_RDONLY`).
    fn readonly_recursive(&self, path: &Path) -> SysResult;
}

/// The real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSys;

impl Sys for RealSys {
    fn unshare(&self, flags: CloneFlags) -> SysResult {
        nix::sched::unshare(flags)
    }

    fn setns(&self, path: &Path, flags: CloneFlags) -> SysResult {
        let file = std::fs::File::open(path).map_err(|e| crate::errno::io_errno(&e))?;
        nix::sched::setns(&file, flags)
    }

    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> SysResult {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn mount_fs(&self, fstype: &str, config: &[(&str, String)], target: &Path) -> SysResult {
        use rustix::mount as rm;
        let to_errno = |e: rustix::io::Errno| Errno::from_raw(e.raw_os_error());
        let fs = rm::fsopen(fstype, rm::FsOpenFlags::FSOPEN_CLOEXEC).map_err(to_errno)?;
        for (key, value) in config {
            if value.is_empty() {
                rm::fsconfig_set_flag(&fs, *key).map_err(to_errno)?;
            } else {
                rm::fsconfig_set_string(&fs, *key, value.as_str()).map_err(to_errno)?;
            }
        }
        rm::fsconfig_create(&fs).map_err(to_errno)?;
        let mnt = rm::fsmount(
            &fs,
            rm::FsMountFlags::FSMOUNT_CLOEXEC,
            rm::MountAttrFlags::empty(),
        )
        .map_err(to_errno)?;
        rm::move_mount(
            &mnt,
            "",
            rustix::fs::CWD,
            target,
            rm::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(to_errno)
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> SysResult {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> SysResult {
        nix::unistd::chdir(path)
    }

    fn fchdir(&self, dir: BorrowedFd<'_>) -> SysResult {
        nix::unistd::fchdir(dir)
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> SysResult {
        nix::sys::stat::mknod(path, kind, perm, dev)
    }

    fn symlink(&self, target: &Path, link: &Path) -> SysResult {
        nix::unistd::symlinkat(target, nix::fcntl::AT_FDCWD, link)
    }

    fn umask(&self, mask: Mode) -> Mode {
        nix::sys::stat::umask(mask)
    }

    fn sethostname(&self, name: &str) -> SysResult {
        nix::unistd::sethostname(name)
    }

    fn loopback_up(&self) -> SysResult {
        let sock = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Datagram,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        set_iface_up(sock.as_fd(), b"lo")
    }

    fn mount_flags(&self, path: &Path) -> SysResult<MsFlags> {
        use nix::sys::statvfs::FsFlags;
        let st = nix::sys::statvfs::statvfs(path)?;
        let f = st.flags();
        let mut out = MsFlags::empty();
        for (st_flag, ms_flag) in [
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(st_flag) {
                out |= ms_flag;
            }
        }
        Ok(out)
    }

    fn readonly_recursive(&self, path: &Path) -> SysResult {
        use std::os::unix::ffi::OsStrExt;
        const MOUNT_ATTR_RDONLY: u64 = 0x1;
        let c_path =
            std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        mount_setattr(libc::AT_FDCWD, &c_path, libc::AT_RECURSIVE, &attr)
    }
}

/// `struct mount_attr` of `<linux/mount.h>`.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// `mount_setattr(2)` on `path` relative to `dirfd` (`AT_FDCWD`, or a
/// mount descriptor with an empty path and `AT_EMPTY_PATH`).
pub(crate) fn mount_setattr(
    dirfd: libc::c_int,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    attr: &MountAttr,
) -> SysResult {
    // SAFETY: `path` is a NUL-terminated string and `attr` a properly laid
    // out mount_attr; both outlive the call, and the size passed is the
    // struct's own.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// Sets `IFF_UP` on the interface `name` with `SIOCGIFFLAGS`/`SIOCSIFFLAGS`.
fn set_iface_up(sock: BorrowedFd<'_>, name: &[u8]) -> SysResult {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(Errno::EINVAL);
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the interface named in `req` and writes the
    // flags into its union; `req` outlives the call and `sock` is open.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    Errno::result(rc)?;
    // SAFETY: the kernel just filled `ifru_flags` of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) };
    Errno::result(rc).map(drop)
}

/// A fake that records every call as a line of text and fails the calls
/// whose text starts with a configured prefix.
#[derive(Debug, Default)]
pub struct RecordingSys {
    calls: RefCell<Vec<String>>,
    fail: RefCell<Vec<(String, Errno)>>,
    umask: RefCell<u32>,
}

fn flag_names(flags: MsFlags) -> String {
    if flags.is_empty() {
        return "0".to_string();
    }
    flags
        .iter_names()
        .map(|(name, _)| name)
        .collect::<Vec<_>>()
        .join("|")
}

impl RecordingSys {
    /// A recorder on which every call succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes calls whose recorded text starts with `prefix` fail with `errno`.
    pub fn fail_on(&self, prefix: &str, errno: Errno) {
        self.fail.borrow_mut().push((prefix.to_string(), errno));
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: String) -> SysResult {
        let failure = self
            .fail
            .borrow()
            .iter()
            .find(|(p, _)| call.starts_with(p.as_str()))
            .map(|(_, e)| *e);
        self.calls.borrow_mut().push(call);
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A `/proc/self/fd/N` target as the path it names, so recorded calls
/// read the same whether a mount went by path or by descriptor.
fn shown(target: &Path) -> std::path::PathBuf {
    if target.starts_with("/proc/self/fd") {
        if let Ok(real) = std::fs::read_link(target) {
            return real;
        }
    }
    target.to_path_buf()
}

impl Sys for RecordingSys {
    fn unshare(&self, flags: CloneFlags) -> SysResult {
        let names: Vec<_> = flags.iter_names().map(|(n, _)| n).collect();
        self.record(format!("unshare {}", names.join("|")))
    }

    fn setns(&self, path: &Path, flags: CloneFlags) -> SysResult {
        let names: Vec<_> = flags.iter_names().map(|(n, _)| n).collect();
        self.record(format!("setns {} {}", path.display(), names.join("|")))
    }

    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> SysResult {
        self.record(format!(
            "mount {} {} {} {} {}",
            source.unwrap_or("-"),
            shown(target).display(),
            fstype.unwrap_or("-"),
            flag_names(flags),
            data.unwrap_or("-")
        ))
    }

    fn mount_fs(&self, fstype: &str, config: &[(&str, String)], target: &Path) -> SysResult {
        let cfg: Vec<_> = config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.record(format!(
            "mount_fs {fstype} {} {}",
            target.display(),
            cfg.join(" ")
        ))
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> SysResult {
        let names: Vec<_> = flags.iter_names().map(|(n, _)| n).collect();
        self.record(format!("umount {} {}", target.display(), names.join("|")))
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult {
        self.record(format!(
            "pivot_root {} {}",
            new_root.display(),
            put_old.display()
        ))
    }

    fn chdir(&self, path: &Path) -> SysResult {
        self.record(format!("chdir {}", path.display()))
    }

    fn fchdir(&self, _dir: BorrowedFd<'_>) -> SysResult {
        self.record("fchdir".to_string())
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> SysResult {
        let kind = if kind == SFlag::S_IFCHR {
            "c"
        } else if kind == SFlag::S_IFBLK {
            "b"
        } else {
            "p"
        };
        self.record(format!(
            "mknod {} {kind} {:o} {}:{} umask={:o}",
            path.display(),
            perm.bits(),
            nix::sys::stat::major(dev),
            nix::sys::stat::minor(dev),
            *self.umask.borrow()
        ))
    }

    fn symlink(&self, target: &Path, link: &Path) -> SysResult {
        self.record(format!(
            "symlink {} -> {}",
            link.display(),
            target.display()
        ))
    }

    fn umask(&self, mask: Mode) -> Mode {
        let old = self.umask.replace(mask.bits());
        Mode::from_bits_truncate(old)
    }

    fn sethostname(&self, name: &str) -> SysResult {
        self.record(format!("sethostname {name}"))
    }

    fn loopback_up(&self) -> SysResult {
        self.record("loopback_up".to_string())
    }

    fn mount_flags(&self, _path: &Path) -> SysResult<MsFlags> {
        Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
    }

    fn readonly_recursive(&self, path: &Path) -> SysResult {
        self.record(format!("readonly_recursive {}", shown(path).display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_fails() {
        let sys = RecordingSys::new();
        sys.fail_on("mount proc", Errno::EPERM);
        assert!(sys.sethostname("h").is_ok());
        assert_eq!(
            sys.mount(
                Some("proc"),
                Path::new("/r/proc"),
                Some("proc"),
                MsFlags::MS_NOSUID,
                None
            ),
            Err(Errno::EPERM)
        );
        assert_eq!(
            sys.calls(),
            vec![
                "sethostname h".to_string(),
                "mount proc /r/proc proc MS_NOSUID -".to_string()
            ]
        );
    }
}
