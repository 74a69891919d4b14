use std::collections::{BTreeSet, HashSet};
use std::time::Instant;

use oci_spec::runtime::{Capability, LinuxSeccompAction};

use super::profile::{parse, resolve, Profile, Target};
use super::*;
use crate::spec::DEFAULT_CAPABILITIES;

const X86_64: Target = Target {
    machine: "x86_64",
    kernel: (6, 1),
};

fn default_caps() -> HashSet<Capability> {
    DEFAULT_CAPABILITIES.iter().copied().collect()
}

/// Names a resolved section allows without conditions on arguments.
fn allowed(s: &LinuxSeccomp) -> BTreeSet<String> {
    s.syscalls()
        .iter()
        .flatten()
        .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow)
        .filter(|r| r.args().as_ref().is_none_or(|a| a.is_empty()))
        .flat_map(|r| r.names().clone())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn default_profile_depends_on_capabilities() {
    let plain = resolve(&default::profile(), &default_caps(), X86_64).unwrap();
    let a = allowed(&plain);
    for name in [
        "read",
        "execve",
        "arch_prctl",
        "modify_ldt",
        "chroot",
        "ptrace",
    ] {
        assert!(a.contains(name), "{name} not allowed");
    }
    for name in [
        "mount",
        "unshare",
        "setns",
        "keyctl",
        "add_key",
        "clone",
        "clone3",
        "reboot",
        "init_module",
        "bpf",
        "s390_runtime_instr",
        "open_by_handle_at",
    ] {
        assert!(!a.contains(name), "{name} allowed by default");
    }
    assert_eq!(
        plain.architectures().clone().unwrap().len(),
        3,
        "x86_64 maps to x86_64, x86 and x32"
    );
    // clone without namespace flags; clone3 answers ENOSYS.
    let clone: Vec<_> = plain
        .syscalls()
        .iter()
        .flatten()
        .filter(|r| r.names().iter().any(|n| n == "clone" || n == "clone3"))
        .collect();
    assert_eq!(clone.len(), 2);
    assert_eq!(clone[1].errno_ret(), Some(38));

    let mut admin = default_caps();
    admin.insert(Capability::SysAdmin);
    let a = allowed(&resolve(&default::profile(), &admin, X86_64).unwrap());
    for name in ["mount", "unshare", "setns", "clone", "clone3", "umount2"] {
        assert!(a.contains(name), "{name} not allowed with CAP_SYS_ADMIN");
    }
    assert!(!a.contains("keyctl"));
    let old_kernel = Target {
        kernel: (4, 4),
        ..X86_64
    };
    let a = allowed(&resolve(&default::profile(), &default_caps(), old_kernel).unwrap());
    assert!(!a.contains("ptrace"));
}

/// podman's profile (containers-common) as an oracle for the allowed set.
/// The two policies differ on purpose where listed here.
#[test]
fn default_profile_matches_the_podman_oracle() {
    let path = "/usr/share/containers/seccomp.json";
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{path}: {e}: the oracle comes with containers-common (apt-get install golang-github-containers-common)")
    });
    let theirs: Profile = parse(&text).unwrap();
    let theirs = allowed(&resolve(&theirs, &default_caps(), X86_64).unwrap());
    let ours = allowed(&resolve(&default::profile(), &default_caps(), X86_64).unwrap());
    let only_theirs: BTreeSet<String> = theirs.difference(&ours).cloned().collect();
    let only_ours: BTreeSet<String> = ours.difference(&theirs).cloned().collect();
    // podman allows these to every container and relies on capabilities and
    // user namespaces; Docker keeps them behind CAP_SYS_ADMIN (or refuses).
    let podman_wider = set(&[
        // namespaces and mounts: CAP_SYS_ADMIN only in Docker's policy
        "clone",
        "clone3",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "mount",
        "mount_setattr",
        "move_mount",
        "open_tree",
        "setns",
        "umount",
        "umount2",
        "unshare",
        "syslog",
        // refused by Docker's policy
        "keyctl",
        "pivot_root",
        // behind CAP_SYS_NICE, CAP_SYS_PTRACE and CAP_SYS_BOOT in Docker's policy
        "mbind",
        "set_mempolicy",
        "pidfd_getfd",
        "reboot",
        // legacy or nonexistent names only podman lists
        "readdir",
        "sigaction",
        "signal",
        "sigpending",
        "sigsuspend",
        "syscall",
        "timerfd",
    ]);
    // Syscalls newer than the podman 4.3 profile, and three podman refuses.
    let newer = set(&[
        "cachestat",
        "fchmodat2",
        "futex_requeue",
        "futex_wait",
        "futex_waitv",
        "futex_wake",
        "map_shadow_stack",
        "uretprobe",
        "io_pgetevents",
        "io_pgetevents_time64",
        "vmsplice",
    ]);
    assert_eq!(only_theirs, podman_wider, "allowed by podman only");
    assert_eq!(only_ours, newer, "allowed by berth only");
}

#[test]
fn custom_profile_in_dockers_format() {
    let json = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"name": "chmod", "action": "SCMP_ACT_ERRNO"},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
             "includes": {"caps": ["CAP_SYS_ADMIN"]}}
        ]
    }"#;
    let p = parse(json).unwrap();
    let s = resolve(&p, &default_caps(), X86_64).unwrap();
    assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActAllow);
    let rules = s.syscalls().clone().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].errno_ret(), Some(13));
    assert_eq!(rules[1].names(), &vec!["chmod".to_string()]);
    let bpf = compile(&s).unwrap();
    assert!(bpf.len() > 4);
    assert!(parse("{").is_err());
    let bad = r#"{"defaultAction": "SCMP_ACT_NOPE", "syscalls": []}"#;
    assert!(resolve(&parse(bad).unwrap(), &default_caps(), X86_64).is_err());
}

#[test]
fn compiled_filters_are_cached_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let s = resolve(&default::profile(), &default_caps(), X86_64).unwrap();
    let t0 = Instant::now();
    let first = filter_for(&s, Some(dir.path())).unwrap();
    let compile_time = t0.elapsed();
    let path = cache_path(dir.path(), &s);
    assert!(path.exists());
    let t1 = Instant::now();
    let again = filter_for(&s, Some(dir.path())).unwrap();
    let cached_time = t1.elapsed();
    assert_eq!(first, again);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    println!(
        "seccomp default profile: {} instructions; compile {:?}, cached read {:?}",
        first.len(),
        compile_time,
        cached_time
    );
    // Other capabilities, other filter, other file.
    let mut admin = default_caps();
    admin.insert(Capability::SysAdmin);
    let s2 = resolve(&default::profile(), &admin, X86_64).unwrap();
    assert_ne!(cache_key(&s), cache_key(&s2));
    let second = filter_for(&s2, Some(dir.path())).unwrap();
    assert_ne!(first, second);
    // A damaged cache file is recompiled, not trusted.
    std::fs::write(&path, b"short").unwrap();
    assert_eq!(filter_for(&s, Some(dir.path())).unwrap(), first);
    assert!(Bpf::from_bytes(vec![0; 7]).is_err());
}

fn median(mut v: Vec<std::time::Duration>) -> std::time::Duration {
    v.sort();
    v[v.len() / 2]
}

/// Prints compile, cached-read and load times of the default filter (run
/// with `--nocapture` to see them). Loading happens in a thread of its own,
/// which ends right after: a filter binds only the thread that loads it.
#[test]
fn measure_compile_cached_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let s = resolve(&default::profile(), &default_caps(), Target::native((6, 1))).unwrap();
    let compiles: Vec<_> = (0..5)
        .map(|_| {
            let t = Instant::now();
            compile(&s).unwrap();
            t.elapsed()
        })
        .collect();
    filter_for(&s, Some(dir.path())).unwrap();
    let cached: Vec<_> = (0..50)
        .map(|_| {
            let t = Instant::now();
            filter_for(&s, Some(dir.path())).unwrap();
            t.elapsed()
        })
        .collect();
    let bpf = compile(&s).unwrap();
    let load = std::thread::spawn(move || {
        let t = Instant::now();
        install(&bpf).unwrap();
        t.elapsed()
    })
    .join()
    .unwrap();
    println!(
        "seccomp default filter: compile {:?}, cached read {:?}, load {:?} (medians)",
        median(compiles),
        median(cached),
        load
    );
}
