//! Seccomp: Docker's default profile ([`default`]), custom profiles in
//! Docker's JSON format ([`profile`]), compiling the resolved OCI section to
//! BPF with libseccomp, a cache of compiled filters, and loading a filter.
//!
//! The engine resolves a profile for a container's capabilities and the
//! machine's architecture while building the spec (the result is the spec's
//! `linux.seccomp`). The container's first process turns that section into
//! BPF once per distinct section: compiled filters are cached as files named
//! by a hash of the section, the architecture and the libseccomp version,
//! written by atomic rename, so later containers only read and load them.

pub mod default;
pub mod profile;

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use sha2::{Digest, Sha256};

use crate::errno::errno_text;

/// Errors compiling, caching or loading a filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: {what}: {message}")]
    Lib { what: String, message: String },
    #[error("seccomp: {what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("seccomp: the compiled filter is malformed ({0} bytes)")]
    Malformed(usize),
    #[error("seccomp: loading the filter: {}", errno_text(*.0))]
    Load(Errno),
}

fn lib_err(
    what: impl Into<String>,
) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let what = what.into();
    move |e| SeccompError::Lib {
        what,
        message: e.to_string(),
    }
}

/// A compiled filter: classic BPF instructions, 8 bytes each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpf(Vec<u8>);

impl Bpf {
    /// Wraps raw bytes, checking their length.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Bpf, SeccompError> {
        let n = bytes.len();
        if n == 0 || n % 8 != 0 || n / 8 > usize::from(u16::MAX) {
            return Err(SeccompError::Malformed(n));
        }
        Ok(Bpf(bytes))
    }

    /// The raw instructions.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.0.len() / 8
    }

    /// Never true for a valid filter.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn scmp_action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    use LinuxSeccompAction as A;
    match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32),
        A::ScmpActNotify => ScmpAction::Notify,
        A::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
    }
}

fn scmp_cmp(a: &oci_spec::runtime::LinuxSeccompArg) -> ScmpArgCompare {
    use LinuxSeccompOperator as O;
    let (op, datum) = match a.op() {
        O::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
        O::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
        O::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
        O::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
        O::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
        O::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
        O::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    ScmpArgCompare::new(a.index() as u32, op, datum)
}

fn oci_arch_name(a: &oci_spec::runtime::Arch) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Compiles an OCI seccomp section to BPF. Syscall names libseccomp does not
/// know are skipped (as other runtimes do), so one profile serves old and
/// new kernels.
pub fn compile(s: &LinuxSeccomp) -> Result<Bpf, SeccompError> {
    let default = scmp_action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(lib_err("creating the filter"))?;
    for a in s.architectures().iter().flatten() {
        let name = oci_arch_name(a);
        let arch: ScmpArch = name
            .parse()
            .map_err(lib_err(format!("architecture {name}")))?;
        if !ctx.is_arch_present(arch).unwrap_or(false) {
            ctx.add_arch(arch)
                .map_err(lib_err(format!("adding architecture {name}")))?;
        }
    }
    for rule in s.syscalls().iter().flatten() {
        let action = scmp_action(rule.action(), rule.errno_ret());
        if action == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = rule.args().iter().flatten().map(scmp_cmp).collect();
        // libseccomp ANDs the conditions of one rule but cannot hold two
        // on the same argument: those become one rule each (ORed).
        let mut indexes: Vec<usize> = rule.args().iter().flatten().map(|a| a.index()).collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            let Ok(sc) = libseccomp::ScmpSyscall::from_name(name) else {
                continue;
            };
            let res = if conds.is_empty() {
                ctx.add_rule(action, sc)
            } else if repeated {
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(action, sc, &[*c]).map(drop))
                    .map(|()| &mut ctx)
            } else {
                ctx.add_rule_conditional(action, sc, &conds)
            };
            res.map_err(lib_err(format!("adding a rule for {name}")))?;
        }
    }
    export(&ctx)
}

fn export(ctx: &ScmpFilterContext) -> Result<Bpf, SeccompError> {
    let memfd_path = PathBuf::from("memfd:berth-seccomp");
    let io_err = |what, source| SeccompError::Io {
        what,
        path: memfd_path.clone(),
        source,
    };
    let fd = rustix::fs::memfd_create("berth-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| io_err("creating", e.into()))?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file)
        .map_err(lib_err("exporting the filter"))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| io_err("reading", e))?;
    Bpf::from_bytes(bytes)
}

/// The cache key of a section on this machine: it changes with the section,
/// the architecture and the libseccomp version.
pub fn cache_key(s: &LinuxSeccomp) -> String {
    let mut h = Sha256::new();
    h.update(b"berth-seccomp-1\0");
    h.update(std::env::consts::ARCH.as_bytes());
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        h.update(format!("\0{}.{}.{}\0", v.major, v.minor, v.micro).as_bytes());
    }
    h.update(serde_json::to_vec(s).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a section's compiled filter is cached in `dir`.
pub fn cache_path(dir: &Path, s: &LinuxSeccomp) -> PathBuf {
    dir.join(format!("{}.bpf", cache_key(s)))
}

/// The filter for a section: read from the cache in `cache_dir` when it is
/// there, else compiled (and stored there, atomically, when a cache dir is
/// given). A cache that cannot be written is not an error.
pub fn filter_for(s: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Bpf, SeccompError> {
    let Some(dir) = cache_dir else {
        return compile(s);
    };
    let path = cache_path(dir, s);
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(bpf) = Bpf::from_bytes(bytes) {
            return Ok(bpf);
        }
    }
    let bpf = compile(s)?;
    let _ = store(&path, &bpf);
    Ok(bpf)
}

fn store(path: &Path, bpf: &Bpf) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let res = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bpf.bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Loads `bpf` into the calling thread. Needs no_new_privs or CAP_SYS_ADMIN.
/// Every syscall made afterwards must be allowed by the filter.
pub fn install(bpf: &Bpf) -> Result<(), SeccompError> {
    let insns: Vec<libc::sock_filter> = bpf
        .bytes()
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: insns.len() as u16,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `insns`, which lives until after the call; the
    // kernel copies the program and keeps no pointer to it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_uint,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(SeccompError::Load(Errno::last()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
