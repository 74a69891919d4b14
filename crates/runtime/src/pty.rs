//! Pseudo-terminals for containers and exec processes.
//!
//! The terminal must belong to the container: its process opens the
//! container's own `/dev/ptmx` (a devpts instance of the container's) after
//! it entered the container's mount namespace, makes the slave its
//! controlling terminal and its stdio, and hands the master to the monitor
//! over a socket pair with `SCM_RIGHTS`. The monitor reads the master,
//! writes stdin to it and resizes it.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;

/// Errors handling a terminal.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: rustix::io::Errno,
    },
    #[error("the console socket carried no terminal")]
    NoTerminal,
}

fn sys(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> PtyError {
    move |source| PtyError::Sys { op, source }
}

/// A terminal pair.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a new terminal from the `ptmx` at `ptmx` (the container's
/// `/dev/ptmx` once inside it), with the given size (rows, cols).
pub fn open(ptmx: &Path, size: Option<(u16, u16)>) -> Result<Pty, PtyError> {
    let master = rustix::fs::open(
        ptmx,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("opening /dev/ptmx"))?;
    rustix::pty::unlockpt(&master).map_err(sys("unlocking the terminal"))?;
    // TIOCGPTPEER opens the slave of this very master, never a path another
    // process could have replaced.
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )
    .map_err(sys("opening the terminal's slave"))?;
    if let Some((rows, cols)) = size {
        set_size(master.as_fd(), rows, cols)?;
    }
    Ok(Pty { master, slave })
}

/// Sets the terminal's size; the foreground process group gets `SIGWINCH`.
pub fn set_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), PtyError> {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, size).map_err(sys("setting the terminal size"))
}

/// Makes `slave` the controlling terminal of a new session led by the
/// calling process and its stdin, stdout and stderr.
pub fn become_session_leader_on(slave: &OwnedFd) -> Result<(), PtyError> {
    start_session()?;
    rustix::process::ioctl_tiocsctty(slave).map_err(sys("TIOCSCTTY"))?;
    let dup = |e: nix::errno::Errno| PtyError::Sys {
        op: "dup2 of the terminal onto stdio",
        source: rustix::io::Errno::from_raw_os_error(e as i32),
    };
    nix::unistd::dup2_stdin(slave).map_err(dup)?;
    nix::unistd::dup2_stdout(slave).map_err(dup)?;
    nix::unistd::dup2_stderr(slave).map_err(dup)?;
    Ok(())
}

/// Starts a new session (and process group) led by the caller, unless it
/// already leads one.
pub fn start_session() -> Result<(), PtyError> {
    match rustix::process::setsid() {
        Ok(_) => Ok(()),
        // EPERM: the caller already leads a process group.
        Err(rustix::io::Errno::PERM) if rustix::process::getpgrp() == rustix::process::getpid() => {
            Ok(())
        }
        Err(e) => Err(PtyError::Sys {
            op: "setsid",
            source: e,
        }),
    }
}

/// Sends `fd` over the unix socket `sock`.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<(), PtyError> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(PtyError::Sys {
            op: "sending the terminal",
            source: rustix::io::Errno::NOBUFS,
        });
    }
    loop {
        match rustix::net::sendmsg(
            sock,
            &[IoSlice::new(b"t")],
            &mut control,
            SendFlags::empty(),
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                return Err(PtyError::Sys {
                    op: "sending the terminal",
                    source: e,
                })
            }
        }
    }
}

/// Receives one descriptor from `sock`; `Ok(None)` when the peer closed
/// the socket without sending one (it failed before it got that far).
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<Option<OwnedFd>, PtyError> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let msg = loop {
        match rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(m) => break m,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                return Err(PtyError::Sys {
                    op: "receiving the terminal",
                    source: e,
                })
            }
        }
    };
    let mut received = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                // Keep the first; any further descriptor is closed on drop.
                received.get_or_insert(fd);
            }
        }
    }
    match (msg.bytes, received) {
        (0, None) => Ok(None),
        (_, Some(fd)) => Ok(Some(fd)),
        (_, None) => Err(PtyError::NoTerminal),
    }
}

/// The process side of a console socket: opens a terminal from the
/// container's `/dev/ptmx`, sends its master over `console`, and makes the
/// slave the caller's controlling terminal and stdio.
pub fn attach_new_terminal(
    console: BorrowedFd<'_>,
    size: Option<(u16, u16)>,
) -> Result<(), PtyError> {
    let pty = open(Path::new("/dev/ptmx"), size)?;
    send_fd(console, pty.master.as_fd())?;
    drop(pty.master);
    become_session_leader_on(&pty.slave)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_round_trip_over_a_socket_pair() {
        let pty = open(Path::new("/dev/ptmx"), Some((33, 77))).unwrap();
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        send_fd(a.as_fd(), pty.master.as_fd()).unwrap();
        let got = recv_fd(b.as_fd()).unwrap().unwrap();
        let size = rustix::termios::tcgetwinsize(&pty.slave).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (33, 77));
        set_size(got.as_fd(), 10, 20).unwrap();
        let size = rustix::termios::tcgetwinsize(&pty.slave).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (10, 20));
        drop(a);
        assert!(recv_fd(b.as_fd()).unwrap().is_none());
    }
}
