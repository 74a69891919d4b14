//! How much of what was sent on a stream socket its peer has not read yet
//! (`SIOCOUTQ`). The API server waits for this to reach zero after the
//! `101 UPGRADED` headers of a hijacked stream, so a client that reads the
//! headers through a buffer and then switches to the raw socket (docker-py)
//! never finds stream bytes swallowed by that buffer.

use std::io;
use std::os::fd::RawFd;

/// Bytes sent on `fd` that the peer has not consumed.
pub fn unread_by_peer(fd: RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one c_int through the pointer,
    // which points at a live local; an invalid descriptor only makes the
    // call fail with EBADF.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn counts_until_the_peer_reads() {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(unread_by_peer(a.as_raw_fd()).unwrap(), 0);
        a.write_all(b"HTTP/1.1 101 UPGRADED\r\n\r\n").unwrap();
        assert!(unread_by_peer(a.as_raw_fd()).unwrap() > 0);
        let mut buf = [0u8; 64];
        let n = b.read(&mut buf).unwrap();
        assert_eq!(n, 25);
        assert_eq!(unread_by_peer(a.as_raw_fd()).unwrap(), 0);
        assert!(unread_by_peer(-1).is_err());
    }
}
