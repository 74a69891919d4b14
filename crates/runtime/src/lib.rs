//! Berth's own low-level container runtime.
//!
//! This crate is sync only and owns everything that happens between "the engine
//! wrote a bundle" and "the container's pid 1 has exited":
//!
//! * [`spec`] builds the OCI runtime spec (`config.json`) for a container with
//!   Docker's defaults. It is pure and golden-tested.
//! * [`monitor`] is the per-container monitor process (`berth __monitor
//!   <bundle>`): it creates the container, writes its log ([`log`]), serves
//!   attach clients ([`attach`], [`frame`]), reports events on stdout and
//!   records the exit status. [`exec_monitor`] is the same for a process
//!   started in a running container (`berth __exec <dir>`).
//! * [`pty`] and the private `stdio` and `relay` are the plumbing both share:
//!   pipes or a terminal from the container's own `/dev/ptmx`, the start
//!   gate, and the poll loop that moves the bytes.
//! * [`cgroups`] creates, limits, measures, freezes and removes a
//!   container's cgroup on v1 and v2; the engine reaches it with
//!   [`cgroups::Cgroup::open`].
//! * [`seccomp`] holds Docker's default policy as data, resolves profiles,
//!   compiles and caches BPF, and loads it.
//! * The private `first_process` is what the container's first process does
//!   between `fork` and `execve`: namespaces, the root filesystem
//!   ([`mounts`]), device nodes ([`devices`]), [`sysctl`]s, going through
//!   the narrow syscall seam in [`sys`] where it assembles the mount table.
//!   It and [`exec_monitor`] end with the same private `last_steps`: the
//!   user ([`user`]), rlimits ([`rlimit`]), capabilities ([`caps`]),
//!   seccomp, and the executable lookup and `execve` ([`program`]). The
//!   optional built-in init that stays pid 1 is [`mini_init`].
//! * [`errno`] spells errno values as Go does, for every message.
//! * [`subid`] reads `/etc/subuid` and `/etc/subgid` and builds the id
//!   mapping of a rootless daemon's user namespace (pure); [`userns`]
//!   unshares, maps and joins that namespace and its mount and network
//!   namespaces.
#![allow(unsafe_code)]

pub mod attach;
pub mod caps;
pub mod cgroups;
pub mod devices;
pub mod errno;
pub mod exec_monitor;
mod first_process;
mod footprint;
pub mod frame;
mod last_steps;
pub mod log;
pub mod mini_init;
pub mod monitor;
pub mod mountinfo;
pub mod mounts;
pub mod program;
pub mod pty;
mod reap;
mod relay;
pub mod remap;
pub mod rlimit;
pub mod seccomp;
pub mod sockq;
pub mod spec;
mod stdio;
pub mod subid;
pub mod sys;
pub mod sysctl;
pub mod user;
pub mod userns;

/// Annotation holding the raw `docker run -u` string (possibly empty),
/// resolved inside the container against its own `/etc/passwd` and
/// `/etc/group` with Docker's rules. Without it the runtime uses the spec's
/// numeric `process.user` as it stands, as runc does.
pub const USER_ANNOTATION: &str = "berth.user";

/// Annotation keys the runtime reads itself; a container's own annotations
/// may not use them.
pub const RESERVED_ANNOTATION_PREFIX: &str = "berth.";

/// Annotation: `--group-add` names (comma-separated) to resolve against the
/// container's `/etc/group`; numeric ones are in `process.user.additionalGids`.
pub const GROUPS_ANNOTATION: &str = "berth.groups";

/// Annotation: `"true"` runs the runtime's own minimal init as pid 1.
pub const INIT_ANNOTATION: &str = "berth.init";

/// Annotation: the directory where compiled seccomp filters are cached.
pub const SECCOMP_CACHE_ANNOTATION: &str = "berth.seccomp-cache";
