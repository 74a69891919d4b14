//! A process's stdio on both sides of the monitor's `fork`.
//!
//! [`prepare`] makes the pipes (or, for a terminal, the console socket the
//! process sends its pty master back on) and the start gate. The child
//! keeps [`ChildStdio`] and calls [`ChildIo::before_exec`] as the last step
//! before `execve`: it starts a session, takes the terminal as its
//! controlling terminal and stdio, and, when the monitor waits for a first
//! attach client, blocks at the gate until the monitor opens it. The
//! monitor keeps [`ParentStdio`] and runs [`ParentStdio::handshake`].

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::attach::Hub;
use crate::errno::errno_text;
use crate::log::Stream;
use crate::program::{ExecError, EXIT_SETUP_FAILED};
use crate::pty;
use crate::relay::{Input, Output, Streams};

/// How long the monitor holds a process at its gate waiting for the first
/// attach client before it lets it run anyway.
pub const ATTACH_WAIT: Duration = Duration::from_secs(10);

/// What the process's stdio should be.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdioOptions {
    /// A pseudo-terminal from the container's `/dev/ptmx`.
    pub terminal: bool,
    /// Stdin is fed by attach clients (else `/dev/null`).
    pub open_stdin: bool,
    /// Hold the process before `execve` until a first client attached.
    pub wait_for_attach: bool,
    /// The terminal's initial size (rows, cols).
    pub console_size: Option<(u16, u16)>,
}

/// What the child needs just before `execve`.
#[derive(Debug)]
pub struct ChildIo {
    /// The child's end of the console socket (terminal only).
    console: Option<OwnedFd>,
    /// The read end of the start gate (wait for attach only).
    gate: Option<OwnedFd>,
    size: Option<(u16, u16)>,
}

/// The child's descriptors.
#[derive(Debug)]
pub struct ChildStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub io: ChildIo,
}

/// The monitor's ends.
#[derive(Debug)]
pub struct ParentStdio {
    opts: StdioOptions,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    console: Option<OwnedFd>,
    gate: Option<OwnedFd>,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)
}

fn dev_null(write: bool) -> io::Result<OwnedFd> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open("/dev/null")
        .map(OwnedFd::from)
}

/// Makes the descriptors for a process with `opts`.
pub fn prepare(opts: StdioOptions) -> io::Result<(ChildStdio, ParentStdio)> {
    let (gate_child, gate_parent) = match opts.wait_for_attach {
        true => pipe().map(|(r, w)| (Some(r), Some(w)))?,
        false => (None, None),
    };
    if opts.terminal {
        let (child, parent) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )?;
        // Placeholders until the terminal replaces them just before exec.
        let child_side = ChildStdio {
            stdin: dev_null(false)?,
            stdout: dev_null(true)?,
            stderr: dev_null(true)?,
            io: ChildIo {
                console: Some(child),
                gate: gate_child,
                size: opts.console_size,
            },
        };
        let parent_side = ParentStdio {
            opts,
            stdin: None,
            stdout: None,
            stderr: None,
            console: Some(parent),
            gate: gate_parent,
        };
        return Ok((child_side, parent_side));
    }
    let (stdin_child, stdin_parent) = match opts.open_stdin {
        true => pipe().map(|(r, w)| (r, Some(w)))?,
        false => (dev_null(false)?, None),
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let child_side = ChildStdio {
        stdin: stdin_child,
        stdout: out_w,
        stderr: err_w,
        io: ChildIo {
            console: None,
            gate: gate_child,
            size: None,
        },
    };
    let parent_side = ParentStdio {
        opts,
        stdin: stdin_parent,
        stdout: Some(out_r),
        stderr: Some(err_r),
        console: None,
        gate: gate_parent,
    };
    Ok((child_side, parent_side))
}

fn set_nonblocking(fd: &OwnedFd) -> Result<(), String> {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)
        .map_err(|e| format!("F_GETFL: {}", errno_text(e)))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags))
        .map(drop)
        .map_err(|e| format!("F_SETFL: {}", errno_text(e)))
}

impl ParentStdio {
    /// After the fork: receives the terminal, holds the process at its
    /// gate until a first client is attached to `hub` (or [`ATTACH_WAIT`]
    /// passed), then lets it go. `sync` is the child's report pipe: once it
    /// is readable the child has failed. `Ok(None)` means the child ended
    /// before it was ready; its report says why.
    pub fn handshake(
        self,
        hub: Option<&mut Hub>,
        sync: BorrowedFd<'_>,
    ) -> Result<Option<Streams>, String> {
        let Self {
            opts,
            stdin,
            stdout,
            stderr,
            console,
            gate,
        } = self;
        let master = match &console {
            Some(c) => match pty::recv_fd(c.as_fd()).map_err(|e| e.to_string())? {
                Some(m) => Some(m),
                None => return Ok(None),
            },
            None => None,
        };
        drop(console);
        if let Some(gate) = gate {
            if let Some(hub) = hub {
                if hub.wait_for_client(sync, ATTACH_WAIT) {
                    return Ok(None);
                }
            }
            // EPIPE: the child is gone; its report says why.
            while let Err(Errno::EINTR) = nix::unistd::write(&gate, b"g") {}
        }
        let streams = match master {
            Some(m) => Streams {
                outputs: vec![Output {
                    fd: m,
                    stream: Stream::Stdout,
                }],
                input: if opts.open_stdin {
                    Input::Terminal
                } else {
                    Input::Closed
                },
                terminal: true,
            },
            None => Streams {
                outputs: [(stdout, Stream::Stdout), (stderr, Stream::Stderr)]
                    .into_iter()
                    .filter_map(|(fd, stream)| fd.map(|fd| Output { fd, stream }))
                    .collect(),
                input: stdin.map_or(Input::Closed, Input::Pipe),
                terminal: false,
            },
        };
        for o in &streams.outputs {
            set_nonblocking(&o.fd)?;
        }
        if let Input::Pipe(fd) = &streams.input {
            set_nonblocking(fd)?;
        }
        Ok(Some(streams))
    }
}

fn setup_err(message: impl std::fmt::Display) -> ExecError {
    ExecError {
        message: message.to_string(),
        exit_code: EXIT_SETUP_FAILED,
    }
}

impl ChildIo {
    /// The last step before `execve` (after the user switch, so a terminal
    /// belongs to the user it runs as): a new session, the terminal as
    /// controlling terminal and stdio, and the wait at the start gate.
    pub fn before_exec(&self) -> Result<(), ExecError> {
        match &self.console {
            Some(c) => pty::attach_new_terminal(c.as_fd(), self.size),
            None => pty::start_session(),
        }
        .map_err(setup_err)?;
        if let Some(gate) = &self.gate {
            let mut byte = [0u8; 1];
            loop {
                match nix::unistd::read(gate, &mut byte) {
                    Ok(1) => break,
                    Err(Errno::EINTR) => {}
                    Ok(_) => return Err(setup_err("the monitor went away before the start")),
                    Err(e) => {
                        return Err(setup_err(format!(
                            "waiting for the monitor: {}",
                            errno_text(e)
                        )))
                    }
                }
            }
        }
        Ok(())
    }
}
