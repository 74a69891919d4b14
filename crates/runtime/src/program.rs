//! Finding and executing the container's program.
//!
//! The lookup follows the container's `PATH` and words its errors as runc
//! does (`exec: "nosuchcmd": executable file not found in $PATH`), because
//! Docker clients match on that text. Exit codes for a program that never
//! ran are Docker's: 127 when it does not exist, 126 when it cannot be
//! executed, and 128 for any other failure before the program started.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::AccessFlags;

use crate::errno::{errno_text, io_errno};

/// Exit code when the program does not exist.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code when the program exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit code for any other failure before the program started.
pub const EXIT_SETUP_FAILED: i32 = 128;

/// A failure to start the program, with the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{message}")]
pub struct ExecError {
    pub message: String,
    pub exit_code: i32,
}

/// A failure before the program started, with exit code 128.
pub(crate) fn setup_err(what: impl std::fmt::Display) -> ExecError {
    ExecError {
        message: what.to_string(),
        exit_code: EXIT_SETUP_FAILED,
    }
}

/// [`setup_err`] for a failed syscall: `<op>: <errno text>`.
pub(crate) fn errno_err(op: &str, e: Errno) -> ExecError {
    setup_err(format!("{op}: {}", errno_text(e)))
}

/// Docker's exit code for an errno from stat/access/execve.
pub fn exit_code_for(errno: Errno) -> i32 {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP => EXIT_NOT_FOUND,
        Errno::EACCES | Errno::EPERM | Errno::EISDIR | Errno::ENOEXEC => EXIT_CANNOT_EXECUTE,
        _ => EXIT_SETUP_FAILED,
    }
}

enum Unusable {
    Stat(Errno),
    Other(Errno),
    /// Reached only through a magic link such as `/proc/self/fd/N`, which
    /// can name a file outside the container (runc's CVE-2024-21626).
    MagicLink,
}

fn check_executable(path: &Path) -> Result<(), Unusable> {
    use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};
    let md = std::fs::metadata(path).map_err(|e| Unusable::Stat(io_errno(&e)))?;
    if md.is_dir() {
        return Err(Unusable::Other(Errno::EISDIR));
    }
    match openat2(
        CWD,
        path,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_MAGICLINKS,
    ) {
        Err(rustix::io::Errno::LOOP) => return Err(Unusable::MagicLink),
        Err(e) => return Err(Unusable::Other(Errno::from_raw(e.raw_os_error()))),
        Ok(_) => {}
    }
    nix::unistd::access(path, AccessFlags::X_OK).map_err(Unusable::Other)
}

/// Finds `name` as `execve` will run it: as given when it holds a `/`,
/// else in each directory of `path_env` (empty entries mean `.`).
pub fn find_executable(name: &str, path_env: Option<&str>) -> Result<PathBuf, ExecError> {
    if name.contains('/') {
        return match check_executable(Path::new(name)) {
            Ok(()) => Ok(PathBuf::from(name)),
            Err(Unusable::Stat(e)) => Err(ExecError {
                message: format!("exec: {name:?}: stat {name}: {}", errno_text(e)),
                exit_code: exit_code_for(e),
            }),
            Err(Unusable::Other(e)) => Err(ExecError {
                message: format!("exec: {name:?}: {}", errno_text(e)),
                exit_code: exit_code_for(e),
            }),
            Err(Unusable::MagicLink) => Err(ExecError {
                message: format!(
                    "exec: {name:?}: the path passes through a /proc magic link, \
                     which may lead outside the container"
                ),
                exit_code: EXIT_CANNOT_EXECUTE,
            }),
        };
    }
    if !name.is_empty() {
        for dir in path_env.unwrap_or_default().split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = Path::new(dir).join(name);
            if check_executable(&candidate).is_ok() {
                return Ok(candidate);
            }
        }
    }
    Err(ExecError {
        message: format!("exec: {name:?}: executable file not found in $PATH"),
        exit_code: EXIT_NOT_FOUND,
    })
}

/// The value of `PATH` in an environment list.
pub fn path_of(env: &[String]) -> Option<&str> {
    env.iter().rev().find_map(|e| e.strip_prefix("PATH="))
}

fn cstrings<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(
    items: I,
) -> Result<Vec<CString>, ExecError> {
    items
        .into_iter()
        .map(|s| {
            CString::new(s.as_ref()).map_err(|_| ExecError {
                message: "argument or environment holds a NUL byte".to_string(),
                exit_code: EXIT_SETUP_FAILED,
            })
        })
        .collect()
}

/// Makes `cwd` (a path in the container, whose root is now `/`) the
/// working directory: resolved from `/` by descriptor, so symlinks and `..`
/// stay inside and magic links (`/proc/self/fd/N`) are never followed; made
/// when `create` (a container's first process makes it, as runc does; an
/// exec does not); entered with `fchdir`; and then the kernel must still
/// find it under the root. runc's CVE-2024-21626 was a descriptor of a host
/// directory, reached as `/proc/self/fd/N`, becoming the working directory.
pub fn enter_cwd(cwd: &Path, create: bool) -> Result<(), ExecError> {
    use crate::mounts::{open_in_root, Create};
    let failed = |e: Errno| ExecError {
        message: format!(
            "chdir to cwd ({:?}) set in config.json failed: {}",
            cwd.display().to_string(),
            errno_text(e)
        ),
        exit_code: exit_code_for(e),
    };
    let how = if create { Create::Dir } else { Create::Nothing };
    let dir = open_in_root(Path::new("/"), cwd, how).map_err(|e| failed(io_errno(&e)))?;
    rustix::process::fchdir(&dir).map_err(|e| failed(Errno::from_raw(e.raw_os_error())))?;
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(ExecError {
            message: format!(
                "the working directory {} is outside the container's root: possible breakout",
                cwd.display()
            ),
            exit_code: EXIT_SETUP_FAILED,
        }),
    }
}

/// Makes this process (a container's first process or an exec, still
/// running berth's binary) not dumpable, so the container's processes
/// cannot open its `/proc/<pid>/exe` (or its memory, or its descriptors)
/// while it joins them: runc's CVE-2019-5736 opened the runtime's binary
/// that way and wrote over it. Executing the container's program makes it
/// dumpable again.
pub fn undumpable() -> Result<(), ExecError> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| ExecError {
        message: format!("PR_SET_DUMPABLE: {}", errno_text(e)),
        exit_code: EXIT_SETUP_FAILED,
    })
}

/// Marks every descriptor from 3 up close-on-exec, so nothing of the
/// monitor's leaks into the container.
pub fn cloexec_from_3() -> Result<(), ExecError> {
    // SAFETY: close_range takes plain integers; CLOSE_RANGE_CLOEXEC only sets
    // flags and closes nothing, so no live OwnedFd is invalidated.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc < 0 {
        let e = Errno::last();
        return Err(ExecError {
            message: format!("close_range: {}", errno_text(e)),
            exit_code: EXIT_SETUP_FAILED,
        });
    }
    Ok(())
}

/// Replaces the process with `path`; returns only on failure.
pub fn execve(path: &Path, args: &[String], env: &[String]) -> ExecError {
    let run = || -> Result<std::convert::Infallible, ExecError> {
        let cpath = cstrings([path.as_os_str().as_bytes()])?.remove(0);
        let cargs = cstrings(args)?;
        let cenv = cstrings(env)?;
        nix::unistd::execve(&cpath, &cargs, &cenv).map_err(|e| ExecError {
            message: format!("exec {}: {}", path.display(), errno_text(e)),
            exit_code: exit_code_for(e),
        })
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn finds_in_path_and_reports_like_runc() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = bin.join("plain");
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = format!("/nonexistent:{}", bin.display());

        assert_eq!(find_executable("tool", Some(&path)).unwrap(), tool);
        let e = find_executable("nosuchcmd", Some(&path)).unwrap_err();
        assert_eq!(
            e.message,
            "exec: \"nosuchcmd\": executable file not found in $PATH"
        );
        assert_eq!(e.exit_code, 127);
        let e = find_executable("/nosuch", Some(&path)).unwrap_err();
        assert_eq!(
            e.message,
            "exec: \"/nosuch\": stat /nosuch: no such file or directory"
        );
        assert_eq!(e.exit_code, 127);
        let d = bin.display().to_string();
        let e = find_executable(&d, Some(&path)).unwrap_err();
        assert_eq!(e.message, format!("exec: {d:?}: is a directory"));
        assert_eq!(e.exit_code, 126);
        let p = plain.display().to_string();
        let e = find_executable(&p, Some(&path)).unwrap_err();
        assert_eq!(e.exit_code, 126);
        assert!(find_executable("", Some(&path)).is_err());
    }

    /// A program named through a descriptor's magic link is refused, even
    /// when the file behind it exists and is executable; through `PATH` it
    /// is passed over.
    #[test]
    fn programs_through_magic_links_are_refused() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let held = std::fs::File::open(dir.path()).unwrap();
        let through = format!("/proc/self/fd/{}", held.as_raw_fd());
        let e = find_executable(&format!("{through}/tool"), None).unwrap_err();
        assert!(e.message.contains("magic link"), "{}", e.message);
        assert_eq!(e.exit_code, 126);
        assert!(find_executable("tool", Some(&through)).is_err());
        assert_eq!(
            find_executable(&tool.display().to_string(), None).unwrap(),
            tool
        );
    }

    #[test]
    fn path_is_the_last_entry() {
        let env = vec!["PATH=/a".to_string(), "X=1".into(), "PATH=/b".into()];
        assert_eq!(path_of(&env), Some("/b"));
        assert_eq!(path_of(&[]), None);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code_for(Errno::ENOENT), 127);
        assert_eq!(exit_code_for(Errno::EACCES), 126);
        assert_eq!(exit_code_for(Errno::ENOEXEC), 126);
        assert_eq!(exit_code_for(Errno::ENOMEM), 128);
    }
}
