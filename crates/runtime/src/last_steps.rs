//! The steps every process that enters a container takes in its forked
//! child, in one place: the container's first process
//! ([`crate::first_process`]) and an exec'd one ([`crate::exec_monitor`])
//! both go through [`child_main`], start with [`install_stdio`] and
//! [`reset_signals`], and end with [`exec_program`].
//!
//! [`exec_program`] is the sequence between "the container's file system is
//! in place" and `execve`, in the order runc uses: the identity is resolved
//! in the container's own `/etc/passwd` and `/etc/group`, then the working
//! directory, rlimits, `no_new_privs`, the seccomp filter (here when
//! `no_new_privs` is off, while `CAP_SYS_ADMIN` is still held), the
//! bounding set, the user switch (keeping capabilities across it), the
//! death signal, the remaining capability sets, the umask, the executable
//! lookup, the terminal and start gate, closing inherited descriptors, the
//! seccomp filter (here when `no_new_privs` is on: as late as possible, so
//! the fewest syscalls run under it), and `execve`.

use std::convert::Infallible;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Process;

use crate::program::{self, errno_err, setup_err, ExecError};
use crate::seccomp::Bpf;
use crate::{caps, rlimit, user};

/// The whole life of a forked child that becomes a container process: runs
/// `body` (after making the process undumpable), and when it fails (it
/// returns only on failure) writes the error as one JSON [`ExecError`] to
/// the sync pipe, if `body` left it there, and `_exit`s with its code. A
/// successful `execve` closes the pipe (it is close-on-exec) and the parent
/// reads EOF with nothing.
pub(crate) fn child_main(
    sync: OwnedFd,
    body: impl FnOnce(&mut Option<OwnedFd>) -> Result<Infallible, ExecError>,
) -> ! {
    let mut sync = Some(sync);
    // A panic must never unwind into the monitor's code in this child.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        program::undumpable()?;
        body(&mut sync)
    }));
    let err = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(e)) => e,
        Err(_) => setup_err("container setup panicked"),
    };
    if let Some(sync) = sync {
        let mut sync = std::fs::File::from(sync);
        if let Ok(text) = serde_json::to_vec(&err) {
            let _ = sync.write_all(&text);
        }
    }
    // SAFETY: _exit ends this forked child without running the parent's
    // atexit handlers or flushing stdio buffers copied from the monitor.
    unsafe { libc::_exit(err.exit_code) }
}

/// Makes the given descriptors the process's stdin, stdout and stderr.
pub(crate) fn install_stdio(
    stdin: &OwnedFd,
    stdout: &OwnedFd,
    stderr: &OwnedFd,
) -> Result<(), ExecError> {
    nix::unistd::dup2_stdin(stdin).map_err(|e| errno_err("dup2 stdin", e))?;
    nix::unistd::dup2_stdout(stdout).map_err(|e| errno_err("dup2 stdout", e))?;
    nix::unistd::dup2_stderr(stderr).map_err(|e| errno_err("dup2 stderr", e))?;
    Ok(())
}

/// Undoes the monitor's signal setup: the process starts with default
/// dispositions (Rust ignores SIGPIPE) and nothing blocked.
pub(crate) fn reset_signals() -> Result<(), ExecError> {
    for sig in [Signal::SIGPIPE, Signal::SIGCHLD] {
        // SAFETY: installing SIG_DFL runs no Rust code in signal context.
        unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) }
            .map_err(|e| errno_err("resetting signals", e))?;
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|e| errno_err("unblocking signals", e))
}

/// What [`exec_program`] needs besides the OCI process.
pub(crate) struct Program<'a> {
    /// `args`, `env`, `cwd`, `user` (numeric ids, `additionalGids`,
    /// `umask`), `rlimits`, `capabilities` (absent: left as they are),
    /// `noNewPrivileges`.
    pub process: &'a Process,
    /// The raw `-u` string, resolved with Docker's rules; `None` runs as
    /// `process.user`'s numeric ids as they stand (runc's behaviour).
    pub user: Option<&'a str>,
    /// `--group-add` names, resolved in the container's `/etc/group`.
    pub group_names: &'a [String],
    /// The compiled seccomp filter, read before the container's mount
    /// namespace was entered (`None`: unconfined).
    pub filter: Option<&'a Bpf>,
    /// Create the working directory when it is missing (the first process
    /// does, as Docker does; an exec fails instead).
    pub create_cwd: bool,
    /// Terminal and start gate, used just before exec.
    pub io: &'a crate::stdio::ChildIo,
}

/// Who the process runs as, and its supplementary groups, with Docker's
/// rules: a `-u` string is resolved in the container's `/etc/passwd` and
/// `/etc/group`, and its primary group is listed as a supplementary one too
/// (CVE-2022-36109); without one the numeric ids stand as given. The
/// additional gids (`--group-add`, numeric then named) follow, each once.
pub(crate) fn identity(
    root: &Path,
    who: Option<&str>,
    process: &Process,
    group_names: &[String],
) -> Result<(user::ExecUser, Vec<u32>), ExecError> {
    let spec_user = process.user();
    let resolved = match who {
        Some(u) => user::resolve_in(root, u, 0),
        None => user::resolve_in(root, "", spec_user.uid()).map(|mut r| {
            r.uid = spec_user.uid();
            r.gid = spec_user.gid();
            r.sgids.clear();
            r
        }),
    }
    .map_err(setup_err)?;
    let mut candidates = Vec::new();
    if who.is_some() {
        candidates.push(resolved.gid);
        candidates.extend(&resolved.sgids);
    }
    candidates.extend(spec_user.additional_gids().clone().unwrap_or_default());
    if !group_names.is_empty() {
        let file = root.join("etc/group");
        let groups = user::parse_group(&std::fs::read_to_string(file).unwrap_or_default());
        for name in group_names {
            let g = groups.iter().find(|g| &g.name == name).ok_or_else(|| {
                setup_err(format!(
                    "unable to find group {name}: no matching entries in group file"
                ))
            })?;
            candidates.push(g.gid);
        }
    }
    let mut groups = Vec::new();
    for g in candidates {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok((resolved, groups))
}

/// Switches to `uid`/`gid` with `groups`, keeping the permitted
/// capabilities across the switch (the sets are applied afterwards).
fn switch_user(uid: u32, gid: u32, groups: &[u32]) -> Result<(), ExecError> {
    nix::sys::prctl::set_keepcaps(true).map_err(|e| errno_err("PR_SET_KEEPCAPS", e))?;
    let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&groups).map_err(|e| errno_err("setgroups", e))?;
    let gid = Gid::from_raw(gid);
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| errno_err("setgid", e))?;
    let uid = Uid::from_raw(uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| errno_err("setuid", e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| errno_err("PR_SET_KEEPCAPS", e))
}

fn load_seccomp(filter: Option<&Bpf>) -> Result<(), ExecError> {
    match filter {
        Some(f) => crate::seccomp::install(f).map_err(setup_err),
        None => Ok(()),
    }
}

/// The last steps, from the identity to `execve` (see the module docs for
/// the order). `before_execve` runs last of all, with the seccomp filter in
/// place (the first process's `--init` forks there). Returns only on
/// failure.
pub(crate) fn exec_program(
    p: &Program<'_>,
    before_execve: impl FnOnce() -> Result<(), ExecError>,
) -> Result<Infallible, ExecError> {
    let process = p.process;
    let (resolved, groups) = identity(Path::new("/"), p.user, process, p.group_names)?;
    let mut env = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", resolved.home));
    }
    program::enter_cwd(process.cwd(), p.create_cwd)?;
    rlimit::apply(&process.rlimits().clone().unwrap_or_default()).map_err(setup_err)?;
    let nnp = process.no_new_privileges() == Some(true);
    if nnp {
        nix::sys::prctl::set_no_new_privs().map_err(|e| errno_err("PR_SET_NO_NEW_PRIVS", e))?;
    } else {
        // Loading a filter needs CAP_SYS_ADMIN without no_new_privs.
        load_seccomp(p.filter)?;
    }
    // No capabilities section: leave them as they are (as runc does).
    let capabilities = process.capabilities().as_ref();
    if let Some(c) = capabilities {
        caps::drop_bounding(c.bounding()).map_err(setup_err)?;
    }
    switch_user(resolved.uid, resolved.gid, &groups)?;
    // Die with the monitor (set after the user switch, which clears it): a
    // process whose monitor was killed must not run on unsupervised, and
    // a container's end releases its namespaces (the network one with its
    // veths).
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| errno_err("PR_SET_PDEATHSIG", e))?;
    if let Some(c) = capabilities {
        caps::apply_sets(c).map_err(setup_err)?;
    }
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    let args = process
        .args()
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| setup_err("the process has no args"))?;
    let path = program::find_executable(&args[0], program::path_of(&env))?;
    p.io.before_exec()?;
    program::cloexec_from_3()?;
    if nnp {
        load_seccomp(p.filter)?;
    }
    before_execve()?;
    Err(program::execve(&path, &args, &env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{ProcessBuilder, UserBuilder};

    fn root_with(passwd: &str, group: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), passwd).unwrap();
        std::fs::write(dir.path().join("etc/group"), group).unwrap();
        dir
    }

    fn process(uid: u32, gid: u32, additional: Vec<u32>) -> Process {
        ProcessBuilder::default()
            .user(
                UserBuilder::default()
                    .uid(uid)
                    .gid(gid)
                    .additional_gids(additional)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\naudio:x:29:\n";

    #[test]
    fn named_user_gets_primary_supplementary_then_added_groups() {
        let root = root_with(PASSWD, GROUP);
        let names = vec!["audio".to_string(), "staff".to_string()];
        let (who, groups) = identity(
            root.path(),
            Some("alice"),
            &process(0, 0, vec![7, 50]),
            &names,
        )
        .unwrap();
        assert_eq!(
            (who.uid, who.gid, who.home.as_str()),
            (1000, 1000, "/home/alice")
        );
        // Primary, /etc/group membership, numeric --group-add, named ones;
        // each once, in that order.
        assert_eq!(groups, [1000, 50, 7, 29]);
    }

    #[test]
    fn numeric_ids_stand_as_given() {
        let root = root_with(PASSWD, GROUP);
        let (who, groups) = identity(root.path(), None, &process(1000, 5, vec![9]), &[]).unwrap();
        assert_eq!((who.uid, who.gid), (1000, 5));
        assert_eq!(who.home, "/home/alice");
        assert_eq!(groups, [9]);
    }

    #[test]
    fn missing_named_group_is_docker_error() {
        let root = root_with(PASSWD, GROUP);
        let err = identity(
            root.path(),
            Some(""),
            &process(0, 0, vec![]),
            &["nope".into()],
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "unable to find group nope: no matching entries in group file"
        );
        assert_eq!(err.exit_code, program::EXIT_SETUP_FAILED);
    }
}
