//! A daemon started by an ordinary user: the namespaces it works in and
//! the helpers left outside them.
//!
//! Three processes of the user's, each started once and found again by a
//! daemon started later (their pids in `$exec_root/rootless/`):
//! - the **holder** (`berth __rootless-ns`) owns the user namespace (the
//!   user as 0, the subordinate ranges after it), the mount namespace and
//!   the network namespace every container and the daemon live in; the
//!   daemon joins it, so a killed daemon's containers keep running and the
//!   next daemon re-adopts them;
//! - the **port helper** (`berth __rootless-ports`) stays on the host's
//!   network and binds published ports there ([`berth_network::hostports`]);
//! - **slirp4netns**, when `/dev/net/tun` is usable, gives the namespace a
//!   `tap0` to the outside (outbound traffic of containers).
//!
//! When the daemon stops and no container is left in the namespaces, it
//! ends the three and removes their files: nothing of the user's stays.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use berth_runtime::subid;
use berth_runtime::userns;

const HOLDER: &str = "__rootless-ns";
const PORTS: &str = "__rootless-ports";

/// What the daemon knows of its rootless setting.
#[derive(Debug, Clone)]
pub struct Rootless {
    /// `$exec_root/rootless`: the helpers' pid files and sockets.
    pub dir: PathBuf,
    /// The port helper's socket.
    pub ports_socket: PathBuf,
    /// What does not work in this setting, for `info` and the log.
    pub warnings: Vec<String>,
    /// The user's own id is the only one mapped.
    pub single_id: bool,
}

/// Before any thread exists: finds or makes the namespaces and helpers of
/// user `uid`, and joins the namespaces.
pub fn enter(exec_root: &Path) -> anyhow::Result<Rootless> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let dir = exec_root.join("rootless");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exe = std::env::current_exe().context("finding the berth binary")?;
    // Two daemons starting at once must not make two holders.
    let lock = std::fs::File::create(dir.join("lock"))
        .with_context(|| format!("creating {}", dir.join("lock").display()))?;
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", dir.join("lock").display()))?;
    let mut warnings = Vec::new();
    let holder = match live_pid(&dir.join("holder.pid"), uid, HOLDER) {
        Some(pid) => pid,
        None => {
            let (uids, gids) = mapping(uid, gid)?;
            start_holder(&exe, &dir, &uids, &gids)?
        }
    };
    let ports_socket = dir.join("ports.sock");
    if live_pid(&dir.join("ports.pid"), uid, PORTS).is_none() {
        start_port_helper(&exe, &dir, &ports_socket)?;
    }
    match tun_usable() {
        Ok(()) => {
            if read_pid(&dir.join("slirp4netns.pid")).is_none() {
                start_slirp(&dir, holder)?;
            }
        }
        Err(why) => warnings.push(format!(
            "containers have no outbound network: slirp4netns needs /dev/net/tun, which {why}; published ports and networks between containers work"
        )),
    }
    let single = subid_mapping_single(holder);
    if single {
        warnings.push(single_mapping_warning(uid));
    }
    userns::join(holder).context("joining the rootless namespaces")?;
    Ok(Rootless {
        dir,
        ports_socket,
        warnings,
        single_id: single,
    })
}

fn single_mapping_warning(uid: u32) -> String {
    format!(
        "uid {uid} has no ranges in /etc/subuid and /etc/subgid: containers see only root; images with files of other owners keep them as root, and --user other than 0 fails (add ranges, e.g. with usermod --add-subuids)"
    )
}

/// The maps: the user's id as 0 and its subordinate ranges after it, or
/// the user alone.
fn mapping(uid: u32, gid: u32) -> anyhow::Result<(Vec<subid::IdRange>, Vec<subid::IdRange>)> {
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let read = |file: &str, id: u32| -> anyhow::Result<Vec<(u32, u32)>> {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {file}")),
        };
        Ok(subid::ranges_for(file, &text, &name, id)?)
    };
    let (uranges, granges) = (read("/etc/subuid", uid)?, read("/etc/subgid", uid)?);
    if uranges.is_empty() || granges.is_empty() {
        let alone = |id| vec![subid::user_mapping(id, &[])[0]];
        return Ok((alone(uid), alone(gid)));
    }
    Ok((
        subid::user_mapping(uid, &uranges),
        subid::user_mapping(gid, &granges),
    ))
}

/// Whether the holder's user namespace maps one id only.
fn subid_mapping_single(holder: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{holder}/uid_map"))
        .map(|m| m.lines().count() <= 1)
        .unwrap_or(false)
}

/// The pid a pid file holds.
fn read_pid(file: &Path) -> Option<i32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Records a helper's pid in `dir/name`.
fn write_pid(dir: &Path, name: &str, pid: u32) -> anyhow::Result<()> {
    let file = dir.join(name);
    std::fs::write(&file, pid.to_string()).with_context(|| format!("writing {}", file.display()))
}

/// The pid in `file` when it is a live helper `marker` of `uid`.
fn live_pid(file: &Path, uid: u32, marker: &str) -> Option<i32> {
    let pid = read_pid(file)?;
    userns::is_ours(pid, uid, marker).ok().map(|()| pid)
}

fn read_line(out: &mut impl BufRead, what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    out.read_line(&mut line)
        .with_context(|| format!("reading from the {what}"))?;
    Ok(line.trim_end().to_string())
}

fn start_holder(
    exe: &Path,
    dir: &Path,
    uids: &[subid::IdRange],
    gids: &[subid::IdRange],
) -> anyhow::Result<i32> {
    let mut child = Command::new(exe)
        .arg(HOLDER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .context("starting the namespace holder")?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    let (Some(mut input), Some(out)) = (child.stdin.take(), child.stdout.take()) else {
        bail!("the namespace holder has no pipes");
    };
    let mut out = BufReader::new(out);
    let step = read_line(&mut out, "namespace holder")?;
    if step != "unshared" {
        let _ = child.wait();
        bail!("creating the user namespace: {step}");
    }
    if let Err(e) = userns::write_maps(pid, uids, gids) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e).context("mapping the user namespace's ids");
    }
    input
        .write_all(b"mapped\n")
        .context("signalling the namespace holder")?;
    let step = read_line(&mut out, "namespace holder")?;
    if step != "ready" {
        let _ = child.wait();
        bail!("setting up the rootless namespaces: {step}");
    }
    write_pid(dir, "holder.pid", pid.unsigned_abs())?;
    // The holder outlives this daemon; dropping the handle leaves it be.
    drop(child);
    Ok(pid)
}

fn start_port_helper(exe: &Path, dir: &Path, socket: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(socket);
    let mut child = Command::new(exe)
        .arg(PORTS)
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .context("starting the port helper")?;
    let Some(out) = child.stdout.take() else {
        bail!("the port helper has no pipe");
    };
    let step = read_line(&mut BufReader::new(out), "port helper")?;
    if step != "ready" {
        let _ = child.wait();
        bail!("starting the port helper: {step}");
    }
    write_pid(dir, "ports.pid", child.id())?;
    drop(child);
    Ok(())
}

/// `Ok` when this user may open `/dev/net/tun`; else why not.
fn tun_usable() -> Result<(), String> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("does not exist".into()),
        Err(e) => Err(format!("this user cannot open ({e})")),
    }
}

fn start_slirp(dir: &Path, holder: i32) -> anyhow::Result<()> {
    let child = Command::new("slirp4netns")
        .args(["--configure", "--mtu=65520", "--disable-host-loopback"])
        .arg(holder.to_string())
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "slirp4netns is not installed (Debian's package slirp4netns has it)"
                )
            } else {
                anyhow::anyhow!("starting slirp4netns: {e}")
            }
        })?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let dev = format!("/proc/{holder}/net/dev");
    while !std::fs::read_to_string(&dev)
        .map(|t| t.contains("tap0:"))
        .unwrap_or(false)
    {
        if Instant::now() > deadline {
            bail!("slirp4netns did not bring up tap0 within 5 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    write_pid(dir, "slirp4netns.pid", child.id())?;
    drop(child);
    Ok(())
}

/// After the daemon stopped: when no process but the holder and this one
/// is left in the namespaces, ends the helpers and the holder and removes
/// their files (and, after a clean stop, the log of a daemon the CLI
/// started; after a failed start it tells the CLI why). Returns how many
/// processes keep the namespaces.
pub fn leave(r: &Rootless, clean: bool) -> usize {
    let Ok(own) = std::fs::read_link("/proc/self/ns/user") else {
        return 0;
    };
    let me = std::process::id();
    let holder = read_pid(&r.dir.join("holder.pid")).map(i32::unsigned_abs);
    let others = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&pid| pid != me && Some(pid) != holder && !is_zombie(pid))
                .filter(|pid| {
                    std::fs::read_link(format!("/proc/{pid}/ns/user")).ok() == Some(own.clone())
                })
                .count()
        })
        .unwrap_or(0);
    if others > 0 {
        return others;
    }
    for file in ["slirp4netns.pid", "ports.pid", "holder.pid", "lock"] {
        let path = r.dir.join(file);
        if let Some(pid) = read_pid(&path) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(&r.ports_socket);
    let _ = std::fs::remove_dir(&r.dir);
    // The runtime root's own leftovers: empty directories and the log of
    // a daemon the CLI started; then the root itself when empty.
    if let Some(exec_root) = r.dir.parent() {
        if clean {
            let _ = std::fs::remove_file(exec_root.join("daemon.log"));
        }
        for entry in std::fs::read_dir(exec_root).into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(entry.path());
        }
        let _ = std::fs::remove_dir(exec_root);
    }
    0
}

/// An exited process not yet reaped keeps its credentials (and so its
/// user namespace link) but holds nothing.
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
        })
        .is_some_and(|state| state == 'Z' || state == 'X')
}

/// `berth __rootless-ns`: the holder. Unshares its user namespace, waits
/// for its maps, takes the mount and network namespaces, brings up
/// loopback, says `ready`, and sleeps until it is signalled.
pub fn holder_main() -> i32 {
    let say = |line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    if let Err(e) = userns::unshare_user() {
        say(&e.to_string());
        return 1;
    }
    say("unshared");
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() || line.trim() != "mapped" {
        return 1;
    }
    let set_up = userns::take_mount_and_network()
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let mut nl = berth_network::netlink::Netlink::open().map_err(|e| e.to_string())?;
            let lo = nl
                .link_index("lo")
                .map_err(|e| e.to_string())?
                .ok_or("no loopback device")?;
            nl.set_up(lo)
                .map_err(|e| format!("bringing up loopback: {e}"))
        });
    if let Err(e) = set_up {
        say(&e);
        return 1;
    }
    say("ready");
    loop {
        nix::unistd::pause();
    }
}

/// `berth __rootless-ports SOCKET`: the port helper.
pub fn ports_main(socket: &Path) -> i32 {
    let listener = match std::os::unix::net::UnixListener::bind(socket) {
        Ok(l) => l,
        Err(e) => {
            println!("binding {}: {e}", socket.display());
            return 1;
        }
    };
    println!("ready");
    match berth_network::hostports::serve(listener) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth port helper: {e}");
            1
        }
    }
}
