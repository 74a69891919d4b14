use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBuilder, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, Spec,
};

use super::{plan, IdmappedBind};
use crate::subid::IdRange;

type Ns<'a> = (LinuxNamespaceType, Option<&'a str>);

fn spec(namespaces: &[Ns<'_>], mounts: Vec<Mount>) -> Spec {
    let ns = namespaces
        .iter()
        .map(|(t, p)| {
            let mut b = LinuxNamespaceBuilder::default().typ(*t);
            if let Some(p) = p {
                b = b.path(PathBuf::from(p));
            }
            b.build().expect("namespace")
        })
        .collect::<Vec<_>>();
    let map = |host: u32| {
        vec![LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(host)
            .size(65536u32)
            .build()
            .expect("mapping")]
    };
    let linux = LinuxBuilder::default()
        .namespaces(ns)
        .uid_mappings(map(100000))
        .gid_mappings(map(200000))
        .build()
        .expect("linux");
    let mut s = Spec::default();
    s.set_linux(Some(linux));
    s.set_mounts(Some(mounts));
    s
}

fn bind(dest: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .expect("mount")
}

const OWN: [Ns<'static>; 3] = [
    (LinuxNamespaceType::User, None),
    (LinuxNamespaceType::Pid, None),
    (LinuxNamespaceType::Network, Some("/run/netns/x")),
];

#[test]
fn idmap_binds_move_under_the_bundle_and_lose_the_option() {
    let mut s = spec(
        &OWN,
        vec![
            bind("/etc/hosts", "/c/hosts", &["rbind", "rprivate", "idmap"]),
            bind("/data", "/host/data", &["rbind"]),
            bind("/v", "/vols/v/_data", &["bind", "idmap", "ro"]),
        ],
    );
    let p = plan(&mut s, Path::new("/b"))
        .expect("plan")
        .expect("a user namespace");
    assert_eq!(
        p.uids,
        vec![IdRange {
            inside: 0,
            outside: 100000,
            size: 65536
        }]
    );
    assert_eq!(p.gids[0].outside, 200000);
    assert_eq!(p.dir, Path::new("/b/idmap"));
    assert_eq!(
        p.binds,
        vec![
            IdmappedBind {
                source: "/c/hosts".into(),
                path: "/b/idmap/m0".into(),
                recursive: true
            },
            IdmappedBind {
                source: "/vols/v/_data".into(),
                path: "/b/idmap/m1".into(),
                recursive: false
            },
        ]
    );
    let mounts = s.mounts().clone().expect("mounts");
    let shown: Vec<(String, Vec<String>)> = mounts
        .iter()
        .map(|m| {
            (
                m.source().as_ref().expect("source").display().to_string(),
                m.options().clone().unwrap_or_default(),
            )
        })
        .collect();
    let owned = |s: &str, o: &[&str]| (s.to_string(), o.iter().map(|x| x.to_string()).collect());
    assert_eq!(
        shown,
        vec![
            owned("/b/idmap/m0", &["rbind", "rprivate"]),
            owned("/host/data", &["rbind"]),
            owned("/b/idmap/m1", &["bind", "ro"]),
        ]
    );
}

#[test]
fn sysfs_in_a_joined_network_namespace_comes_from_the_monitor() {
    let sysfs = MountBuilder::default()
        .destination("/sys")
        .typ("sysfs")
        .source("sysfs")
        .options(
            ["nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        )
        .build()
        .expect("mount");
    let mut s = spec(&OWN, vec![sysfs.clone()]);
    let p = plan(&mut s, Path::new("/b"))
        .expect("plan")
        .expect("userns");
    assert_eq!(p.sysfs, Some(PathBuf::from("/b/idmap/sys")));
    let m = &s.mounts().as_ref().expect("mounts")[0];
    assert_eq!(m.typ().as_deref(), Some("bind"));
    assert_eq!(m.source().as_deref(), Some(Path::new("/b/idmap/sys")));
    assert_eq!(
        m.options().clone().unwrap_or_default(),
        ["rbind", "nosuid", "noexec", "nodev", "ro"].map(String::from)
    );
    // Its own network namespace: the child mounts sysfs itself.
    let own_net = [
        (LinuxNamespaceType::User, None),
        (LinuxNamespaceType::Pid, None),
    ];
    let mut s = spec(&own_net, vec![sysfs]);
    let p = plan(&mut s, Path::new("/b"))
        .expect("plan")
        .expect("userns");
    assert_eq!(p.sysfs, None);
    assert_eq!(
        s.mounts().as_ref().expect("mounts")[0].typ().as_deref(),
        Some("sysfs")
    );
}

#[test]
fn no_user_namespace_means_no_plan() {
    let mut s = spec(&[(LinuxNamespaceType::Pid, None)], vec![]);
    assert_eq!(plan(&mut s, Path::new("/b")), Ok(None));
}

#[test]
fn refusals_name_the_reason() {
    let joined_user: [Ns<'_>; 2] = [
        (LinuxNamespaceType::User, Some("/proc/1/ns/user")),
        (LinuxNamespaceType::Pid, None),
    ];
    let joined_pid: [Ns<'_>; 2] = [
        (LinuxNamespaceType::User, None),
        (LinuxNamespaceType::Pid, Some("/proc/9/ns/pid")),
    ];
    let host_pid: [Ns<'_>; 1] = [(LinuxNamespaceType::User, None)];
    let cases: [(&[Ns<'_>], &str); 3] = [
        (&joined_user, "joining another user namespace"),
        (&host_pid, "cannot share the host's"),
        (&joined_pid, "cannot join another pid namespace"),
    ];
    for (ns, want) in cases {
        let err = plan(&mut spec(ns, vec![]), Path::new("/b")).expect_err(want);
        assert!(err.contains(want), "{err}");
    }
    let tmpfs = MountBuilder::default()
        .destination("/t")
        .typ("tmpfs")
        .options(vec!["idmap".to_string()])
        .build()
        .expect("mount");
    let err = plan(&mut spec(&OWN, vec![tmpfs]), Path::new("/b")).expect_err("tmpfs");
    assert!(
        err.contains("mount /t: the idmap option applies to bind mounts only"),
        "{err}"
    );
}
