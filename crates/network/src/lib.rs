//! Container networking, the kernel side and the pure decisions: IPAM
//! ([`ipam`]), the firewall table ([`nft`]), bridges and veths over
//! rtnetlink ([`netlink`]), network namespaces held by bind mounts
//! ([`netns`]), host sysctls ([`sysctl`]), `/etc/hosts` and
//! `/etc/resolv.conf` ([`files`]) and the embedded DNS server ([`dns`]).
//! The engine decides what each container gets; this crate does it.

#![allow(unsafe_code)]

pub mod dns;
pub mod drift;
pub mod files;
pub mod hostports;
pub mod ipam;
pub mod ipam6;
pub mod netlink;
pub mod netns;
pub mod nft;
pub mod nft6;
pub mod sysctl;

/// Errors from network setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request that cannot be met as asked (bad subnet, taken address).
    #[error("{0}")]
    Invalid(String),
    /// Something already uses what was asked for.
    #[error("{0}")]
    Conflict(String),
    /// A netlink request failed.
    #[error("{op}: {}", nix::errno::Errno::from_raw(*.errno).desc().to_lowercase())]
    Netlink { op: String, errno: i32 },
    /// Talking to the kernel over netlink failed.
    #[error("netlink: {0}")]
    NetlinkIo(String),
    /// `nft` refused or failed.
    #[error("nftables: {0}")]
    Firewall(String),
    /// A file or namespace operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl AsRef<std::path::Path>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().display().to_string();
        move |source| Error::Io { op, path, source }
    }
}
