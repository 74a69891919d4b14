//! What a container's `NetworkMode` means: networks (the default bridge or
//! user networks), loopback only, the host's, or another container's.

use berth_api::container::HostConfig;

/// What `NetworkMode` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Connected to networks (the default bridge or user networks).
    Networks,
    /// Loopback only.
    None,
    Host,
    /// Another container's namespace.
    Container(String),
}

pub fn mode(hc: &HostConfig) -> Mode {
    match hc.network_mode.as_str() {
        "none" => Mode::None,
        "host" => Mode::Host,
        m => match m.strip_prefix("container:") {
            Some(other) => Mode::Container(other.to_string()),
            None => Mode::Networks,
        },
    }
}
