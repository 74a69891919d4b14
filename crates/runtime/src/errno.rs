//! Errno text as Go prints it (and so runc and Docker), and the errno
//! behind an I/O error: the one spelling every message in the runtime uses.

use nix::errno::Errno;

/// Lower-case text of an errno, as Go (and so runc and Docker) prints it.
pub fn errno_text(e: Errno) -> String {
    let desc = e.desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => desc.to_string(),
    }
}

/// The errno behind an I/O error (EIO when it carries none).
pub fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
