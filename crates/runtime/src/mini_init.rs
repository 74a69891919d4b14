//! `--init`: the runtime's own minimal init, with no file in the image.
//!
//! After the container is set up, its first process forks: the child execs
//! the user's program, and the parent stays as pid 1 (still this code, no
//! exec). It forwards the signals a user sends to stop or poke a program to
//! that child, reaps every process that ends up as its child (orphans are
//! re-parented to pid 1), and exits with the program's status, or 128 + the
//! signal that killed it.
//!
//! Signals are blocked before the fork and taken with `sigwait`, so no
//! handler runs and nothing needs to be async-signal-safe. A blocked signal
//! is also never discarded by the kernel's "pid 1 ignores signals it has no
//! handler for" rule, so SIGTERM from outside reaches the program.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;

/// Signals passed on to the program.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The set init waits on: the forwarded signals and SIGCHLD.
pub fn signal_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks init's signals; call before forking the program.
pub fn block() -> Result<(), Errno> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signal_set()), None)
}

/// Unblocks everything again; the program's side calls this after the fork.
pub fn unblock_all() -> Result<(), Errno> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Init's loop; never returns. `program` is the forked child that execs the
/// user's program; init's signals must already be blocked.
pub fn run(program: Pid) -> ! {
    let set = signal_set();
    let code = loop {
        if let Some(code) = crate::reap::reap_ended(Some(program)) {
            break code;
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(program, sig);
            }
        }
    };
    // SAFETY: _exit ends pid 1 at once; the kernel then kills whatever else
    // is left in the pid namespace.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_on_forwarded_signals_and_sigchld() {
        let set = signal_set();
        for s in FORWARDED {
            assert!(set.contains(s));
        }
        assert!(set.contains(Signal::SIGCHLD));
        assert!(!set.contains(Signal::SIGKILL));
    }
}
