//! Moving a running process's bytes: its output to the json-file log and to
//! every attach client, clients' stdin to the process, resizes to its
//! terminal, all from one `poll` loop until the process has ended and its
//! output is drained.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use crate::attach::{poll_timeout, Hub, ReadOutcome};
use crate::frame::{Kind, Request};
use crate::log::{LogWriter, Stream};
use crate::program::EXIT_SETUP_FAILED;
use crate::pty;

/// Size of the one read buffer.
const READ_BUF: usize = 32 * 1024;
/// Stdin not yet taken by the process beyond which clients are not read.
const STDIN_HIGH_WATER: usize = 64 * 1024;
/// After an exec'd process ended: output still open (held by its own
/// children) is closed after this much silence...
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// ... or this long after the end at the latest.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// After this long without anything to do, the monitor gives back the
/// memory the last burst of work mapped (see
/// [`crate::monitor::release_startup_memory`]).
const IDLE_RELEASE: Duration = Duration::from_secs(5);

/// One output of the process.
#[derive(Debug)]
pub(crate) struct Output {
    pub fd: OwnedFd,
    pub stream: Stream,
}

/// Where clients' stdin goes.
#[derive(Debug)]
pub(crate) enum Input {
    /// Nowhere: stdin is `/dev/null` or has been closed.
    Closed,
    /// The write end of the process's stdin pipe.
    Pipe(OwnedFd),
    /// The terminal's master (the first output).
    Terminal,
}

/// The parent's ends of the process's stdio.
#[derive(Debug)]
pub(crate) struct Streams {
    /// `[master]` with a terminal, else `[stdout, stderr]`; non-blocking.
    pub outputs: Vec<Output>,
    pub input: Input,
    pub terminal: bool,
}

/// How the relay treats stdin and the end of the process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RelayOptions {
    /// A client's stdin EOF (or its disconnect after sending stdin) closes
    /// the process's stdin for good.
    pub stdin_once: bool,
    /// Once the process has ended, close output that others still hold open
    /// instead of waiting for its end (exec; a container's pid 1 takes its
    /// whole pid namespace with it, so its output always ends).
    pub drain_after_exit: bool,
}

/// Stdin waiting for the process.
#[derive(Debug)]
struct StdinQueue {
    input: Input,
    queue: Vec<u8>,
    /// Close the pipe once the queue is written.
    closing: bool,
}

impl StdinQueue {
    fn target<'a>(&'a self, master: Option<BorrowedFd<'a>>) -> Option<BorrowedFd<'a>> {
        match &self.input {
            Input::Closed => None,
            Input::Pipe(fd) => Some(fd.as_fd()),
            Input::Terminal => master,
        }
    }

    fn push(&mut self, data: &[u8], master: Option<BorrowedFd<'_>>) {
        if self.closing || matches!(self.input, Input::Closed) {
            return;
        }
        self.queue.extend_from_slice(data);
        self.flush(master);
    }

    /// Writes what the process takes; closes the pipe when asked to and
    /// done, or when the process closed its end.
    fn flush(&mut self, master: Option<BorrowedFd<'_>>) {
        let mut written = 0;
        let mut broken = false;
        match self.target(master) {
            Some(fd) => {
                while written < self.queue.len() {
                    match nix::unistd::write(fd, &self.queue[written..]) {
                        Ok(n) => written += n,
                        Err(Errno::EINTR) => {}
                        Err(Errno::EAGAIN) => break,
                        Err(_) => {
                            broken = true;
                            break;
                        }
                    }
                }
            }
            None => broken = true,
        }
        self.queue.drain(..written);
        if broken || (self.closing && self.queue.is_empty()) {
            self.input = Input::Closed;
            self.closing = false;
        }
        let idle_and_big = self.queue.is_empty() && self.queue.capacity() > STDIN_HIGH_WATER;
        if matches!(self.input, Input::Closed) || idle_and_big {
            self.queue = Vec::new();
        }
    }

    /// The process's stdin ends once what is queued is written (a terminal
    /// stays open: its master is also the output).
    fn close(&mut self, master: Option<BorrowedFd<'_>>) {
        if let Input::Pipe(_) = self.input {
            self.closing = true;
            self.flush(master);
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Tag {
    Output(usize),
    Stdin,
    Pid,
    Listener,
    Client(usize),
}

/// Relays until `pid` has ended and its output is drained; returns its
/// exit code (128 + signal when killed).
pub(crate) fn relay(
    pid: Pid,
    streams: Streams,
    mut log: Option<&mut LogWriter>,
    mut hub: Option<&mut Hub>,
    opts: RelayOptions,
) -> i32 {
    let Streams {
        outputs,
        input,
        terminal,
    } = streams;
    let mut outputs: Vec<Option<Output>> = outputs.into_iter().map(Some).collect();
    let mut stdin = StdinQueue {
        input,
        queue: Vec::new(),
        closing: false,
    };
    let pidfd: Option<OwnedFd> = rustix::process::Pid::from_raw(pid.as_raw())
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let mut buf = vec![0u8; READ_BUF];
    let mut exit_code: Option<i32> = None;
    let mut ended_at = Instant::now();
    let mut last_output = Instant::now();
    let mut log_failed = false;
    // Work was done since the memory was last given back.
    let mut busy = false;
    loop {
        let open_outputs = outputs.iter().any(Option::is_some);
        if exit_code.is_none() && pidfd.is_none() && !open_outputs {
            // No pidfd: wait for the process only once its output ended.
            exit_code = Some(crate::reap::wait_for(pid).unwrap_or(EXIT_SETUP_FAILED));
        }
        let mut timeout = PollTimeout::NONE;
        if exit_code.is_some() {
            if !outputs.iter().any(Option::is_some) {
                break;
            }
            if opts.drain_after_exit {
                let now = Instant::now();
                let quiet_until = last_output.max(ended_at) + DRAIN_QUIET;
                let give_up = ended_at + DRAIN_MAX;
                if now >= quiet_until || now >= give_up {
                    for (i, o) in outputs.iter_mut().enumerate() {
                        if let Some(o) = o.take() {
                            finish_stream(log.as_deref_mut(), o.stream, &mut log_failed);
                            if terminal && i == 0 {
                                stdin.input = Input::Closed;
                            }
                        }
                    }
                    break;
                }
                timeout = poll_timeout(quiet_until.min(give_up) - now);
            }
        }

        let backlogged = hub.as_deref().is_some_and(Hub::backlogged);
        let mut tags: Vec<Tag> = Vec::with_capacity(8);
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(8);
        for (i, o) in outputs.iter().enumerate() {
            let Some(o) = o else { continue };
            let mut ev = PollFlags::empty();
            if !backlogged {
                ev |= PollFlags::POLLIN;
            }
            if terminal && i == 0 && !stdin.queue.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            if !ev.is_empty() {
                tags.push(Tag::Output(i));
                fds.push(PollFd::new(o.fd.as_fd(), ev));
            }
        }
        if let Input::Pipe(fd) = &stdin.input {
            if !stdin.queue.is_empty() {
                tags.push(Tag::Stdin);
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
            }
        }
        if let (None, Some(p)) = (exit_code, &pidfd) {
            tags.push(Tag::Pid);
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        if let Some(h) = hub.as_deref() {
            if let Some(l) = h.listener_fd() {
                tags.push(Tag::Listener);
                fds.push(PollFd::new(l, PollFlags::POLLIN));
            }
            let stdin_full = stdin.queue.len() > STDIN_HIGH_WATER;
            for (i, c) in h.clients.iter().enumerate() {
                let mut ev = PollFlags::empty();
                if !c.read_closed && !stdin_full {
                    ev |= PollFlags::POLLIN;
                }
                if c.pending() > 0 {
                    ev |= PollFlags::POLLOUT;
                }
                // Even with no events asked for, a hang-up is reported.
                tags.push(Tag::Client(i));
                fds.push(PollFd::new(c.fd(), ev));
            }
        }
        if busy && exit_code.is_none() {
            timeout = poll_timeout(IDLE_RELEASE);
        }
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) if busy && exit_code.is_none() => {
                crate::footprint::release_startup_memory();
                busy = false;
            }
            Ok(_) => busy = true,
            Err(Errno::EINTR) => {}
            Err(e) => {
                tracing::error!(error = %e, "poll in the monitor");
                break;
            }
        }
        let ready: Vec<(Tag, PollFlags)> = tags
            .iter()
            .zip(&fds)
            .filter_map(|(t, fd)| fd.revents().filter(|r| !r.is_empty()).map(|r| (*t, r)))
            .collect();
        drop(fds);

        for (tag, rev) in ready {
            let readable =
                rev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR);
            match tag {
                Tag::Output(i) => {
                    if rev.contains(PollFlags::POLLOUT) {
                        let master = outputs[0].as_ref().map(|o| o.fd.as_fd());
                        stdin.flush(master);
                    }
                    if !readable {
                        continue;
                    }
                    let Some(o) = &outputs[i] else { continue };
                    let stream = o.stream;
                    let closed = match nix::unistd::read(&o.fd, &mut buf) {
                        Ok(0) => true,
                        Ok(n) => {
                            last_output = Instant::now();
                            let data = &buf[..n];
                            if let Some(l) = log.as_deref_mut() {
                                if let Err(e) = l.write(stream, data) {
                                    if !log_failed {
                                        tracing::error!(error = %e, "writing container log");
                                        log_failed = true;
                                    }
                                }
                            }
                            if let Some(h) = hub.as_deref_mut() {
                                h.broadcast(frame_kind(stream), data);
                            }
                            false
                        }
                        Err(Errno::EAGAIN | Errno::EINTR) => false,
                        // EIO: every holder of the terminal's slave is gone.
                        Err(_) => true,
                    };
                    if closed {
                        outputs[i] = None;
                        finish_stream(log.as_deref_mut(), stream, &mut log_failed);
                        if terminal && i == 0 {
                            stdin.input = Input::Closed;
                            stdin.queue = Vec::new();
                        }
                    }
                }
                Tag::Stdin => {
                    stdin.flush(None);
                }
                Tag::Pid => {
                    exit_code = Some(crate::reap::wait_for(pid).unwrap_or(EXIT_SETUP_FAILED));
                    ended_at = Instant::now();
                }
                Tag::Listener => {
                    if let Some(h) = hub.as_deref_mut() {
                        h.accept();
                    }
                }
                Tag::Client(i) => {
                    let Some(h) = hub.as_deref_mut() else {
                        continue;
                    };
                    let c = &mut h.clients[i];
                    if rev.contains(PollFlags::POLLOUT) {
                        c.flush();
                    }
                    if rev.intersects(PollFlags::POLLERR)
                        || (rev.contains(PollFlags::POLLHUP) && c.read_closed)
                    {
                        c.dead = true;
                        continue;
                    }
                    if !readable || c.read_closed {
                        continue;
                    }
                    let master = outputs
                        .first()
                        .and_then(Option::as_ref)
                        .filter(|_| terminal)
                        .map(|o| o.fd.as_fd());
                    let outcome = c.read(&mut buf, &mut |req| match req {
                        Request::Stdin(data) => stdin.push(data, master),
                        Request::StdinEof => {
                            if opts.stdin_once {
                                stdin.close(master);
                            }
                        }
                        Request::Resize { rows, cols } => {
                            if let Some(m) = master {
                                let _ = pty::set_size(m, rows, cols);
                            }
                        }
                    });
                    if let ReadOutcome::Closed = outcome {
                        if opts.stdin_once && c.used_stdin && !c.sent_eof {
                            stdin.close(master);
                        }
                    }
                }
            }
        }
        if let Some(h) = hub.as_deref_mut() {
            for c in h.take_dead() {
                if opts.stdin_once && c.used_stdin && !c.sent_eof {
                    let master = outputs
                        .first()
                        .and_then(Option::as_ref)
                        .filter(|_| terminal)
                        .map(|o| o.fd.as_fd());
                    stdin.close(master);
                }
            }
        }
    }
    exit_code.unwrap_or(EXIT_SETUP_FAILED)
}

fn frame_kind(stream: Stream) -> Kind {
    match stream {
        Stream::Stdout => Kind::Stdout,
        Stream::Stderr => Kind::Stderr,
    }
}

fn finish_stream(log: Option<&mut LogWriter>, stream: Stream, failed: &mut bool) {
    if let Some(log) = log {
        if let Err(e) = log.finish(stream) {
            if !*failed {
                tracing::error!(error = %e, "writing container log");
                *failed = true;
            }
        }
    }
}
