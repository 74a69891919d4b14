//! Waiting for children and turning their end into Docker's exit code: the
//! one place the monitor, the exec monitor, the relay and `--init` reap.

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The exit code Docker reports for a wait status: the code, or 128 + the
/// signal that killed the process.
pub fn exit_code_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Waits for `pid` to end; its exit code.
pub(crate) fn wait_for(pid: Pid) -> Result<i32, Errno> {
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = exit_code_of(status) {
                    return Ok(code);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reaps every child that has ended, without blocking; the exit code of
/// `watched` when it is among them.
pub(crate) fn reap_ended(watched: Option<Pid>) -> Option<i32> {
    let mut code = None;
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return code,
            Ok(status) if status.pid().is_some() && status.pid() == watched => {
                code = exit_code_of(status).or(code);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return code,
        }
    }
}

/// Reaps every remaining child without blocking.
pub(crate) fn reap_all() {
    reap_ended(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_map_to_128_plus() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code_of(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            exit_code_of(WaitStatus::Signaled(
                pid,
                nix::sys::signal::Signal::SIGKILL,
                false
            )),
            Some(137)
        );
        assert_eq!(exit_code_of(WaitStatus::StillAlive), None);
    }
}
