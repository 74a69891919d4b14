use super::*;

fn opts() -> SpecOptions {
    SpecOptions {
        args: vec!["sh".into()],
        rootfs: "/r".into(),
        ..Default::default()
    }
}

#[test]
fn parses_user_forms() {
    let p = |s| parse_user(s).unwrap();
    assert_eq!(
        p(""),
        UserSpec {
            uid: None,
            gid: None
        }
    );
    assert_eq!(
        p("1000"),
        UserSpec {
            uid: Some(1000),
            gid: None
        }
    );
    assert_eq!(
        p("1000:50"),
        UserSpec {
            uid: Some(1000),
            gid: Some(50)
        }
    );
    assert_eq!(
        p("bob"),
        UserSpec {
            uid: None,
            gid: None
        }
    );
    assert_eq!(
        p("bob:7"),
        UserSpec {
            uid: None,
            gid: Some(7)
        }
    );
    assert_eq!(
        p("7:staff"),
        UserSpec {
            uid: Some(7),
            gid: None
        }
    );
    assert!(parse_user("4294967296").is_err());
    assert!(parse_user("2147483648").is_err());
    assert!(parse_user(":5").is_err());
}

#[test]
fn path_added_only_when_missing() {
    let spec = build_spec(&SpecOptions {
        env: vec!["A=1".into()],
        ..opts()
    })
    .unwrap();
    let env = spec.process().as_ref().unwrap().env().clone().unwrap();
    assert_eq!(env, vec![DEFAULT_PATH_ENV.to_string(), "A=1".into()]);
    let spec = build_spec(&SpecOptions {
        env: vec!["PATH=/x".into()],
        ..opts()
    })
    .unwrap();
    let env = spec.process().as_ref().unwrap().env().clone().unwrap();
    assert_eq!(env, vec!["PATH=/x".to_string()]);
}

#[test]
fn rejects_bad_input() {
    assert!(matches!(
        build_spec(&SpecOptions {
            args: vec![],
            ..opts()
        }),
        Err(Error::NoCommand)
    ));
    assert!(matches!(
        build_spec(&SpecOptions {
            cwd: "rel".into(),
            ..opts()
        }),
        Err(Error::RelativeCwd(_))
    ));
    assert!(matches!(
        build_spec(&SpecOptions {
            env: vec!["=x".into()],
            ..opts()
        }),
        Err(Error::InvalidEnv(_))
    ));
}

#[test]
fn device_cgroup_rules() {
    let r = parse_device_cgroup_rule("c 7:128 rwm").unwrap();
    assert_eq!(
        r,
        DeviceCgroupRule {
            kind: 'c',
            major: Some(7),
            minor: Some(128),
            access: "rwm".into()
        }
    );
    let any = parse_device_cgroup_rule("a *:* m").unwrap();
    assert_eq!((any.major, any.minor), (None, None));
    for bad in [
        "c 7:128",
        "x 1:2 r",
        "c 1-2 r",
        "c 1:2 rwx",
        "c a:2 r",
        "c 1:2  r",
    ] {
        assert_eq!(
            parse_device_cgroup_rule(bad).unwrap_err().to_string(),
            format!("invalid device cgroup format '{bad}'")
        );
    }
    let spec = build_spec(&SpecOptions {
        device_cgroup_rules: vec!["c 7:128 rwm".into()],
        ..opts()
    })
    .unwrap();
    let devices = spec
        .linux()
        .as_ref()
        .unwrap()
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .clone()
        .unwrap();
    let last =
        serde_json::to_value(devices.iter().find(|d| d.major() == Some(7)).unwrap()).unwrap();
    assert_eq!(
        last,
        serde_json::json!({"allow": true, "type": "c", "major": 7, "minor": 128, "access": "rwm"})
    );
}

#[test]
fn a_name_without_a_value_unsets_it() {
    let env = |e: &[&str]| {
        let spec = build_spec(&SpecOptions {
            env: e.iter().map(|s| s.to_string()).collect(),
            ..opts()
        })
        .unwrap();
        spec.process().as_ref().unwrap().env().clone().unwrap()
    };
    assert_eq!(
        env(&["A=1", "B=2", "A", "C"]),
        vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "B=2"
        ]
    );
    assert_eq!(env(&["PATH", "X="]), vec!["X="]);
}

#[test]
fn no_new_privileges_only_when_asked() {
    let spec = build_spec(&opts()).unwrap();
    assert_eq!(spec.process().as_ref().unwrap().no_new_privileges(), None);
    let spec = build_spec(&SpecOptions {
        no_new_privileges: true,
        ..opts()
    })
    .unwrap();
    assert_eq!(
        spec.process().as_ref().unwrap().no_new_privileges(),
        Some(true)
    );
}

fn err(o: SpecOptions) -> String {
    build_spec_with(&o, &FixedHost::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn options_are_validated_with_clear_errors() {
    let e = err(SpecOptions {
        cap_add: vec!["CAP_BOGUS".into()],
        ..opts()
    });
    assert_eq!(e, "unknown capability: \"CAP_BOGUS\"");
    let e = err(SpecOptions {
        cap_add: vec!["SYS_RESOURCE".into()],
        ..opts()
    });
    assert!(
        e.contains("CAP_SYS_RESOURCE") && e.contains("bounding set"),
        "{e}"
    );
    let e = err(SpecOptions {
        sysctls: [("kernel.panic".to_string(), "1".to_string())].into(),
        ..opts()
    });
    assert!(e.contains("not namespaced"), "{e}");
    let mut o = SpecOptions {
        sysctls: [("net.core.somaxconn".to_string(), "1".to_string())].into(),
        ..opts()
    };
    o.namespaces.net = NsMode::Host;
    assert!(err(o).contains("network namespace"));
    let e = err(SpecOptions {
        devices: vec!["/dev/nope".into()],
        ..opts()
    });
    assert!(e.contains("adding custom device \"/dev/nope\""), "{e}");
    assert!(err(SpecOptions {
        devices: vec!["/dev/fuse:/dev/fuse:x".into()],
        ..opts()
    })
    .contains("invalid device mode"));
    let e = err(SpecOptions {
        ulimits: vec![Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 1_048_576,
        }],
        ..opts()
    });
    assert!(e.contains("20000") && e.contains("CAP_SYS_RESOURCE"), "{e}");
    let e = err(SpecOptions {
        id: "c".into(),
        resources: Resources {
            nano_cpus: Some(1_000_000_000),
            cpu_quota: Some(50_000),
            ..Default::default()
        },
        ..opts()
    });
    assert_eq!(
        e,
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
    );
    let e = err(SpecOptions {
        resources: Resources {
            pids_limit: Some(5),
            ..Default::default()
        },
        ..opts()
    });
    assert!(e.contains("container id"), "{e}");
    assert!(err(SpecOptions {
        id: "a/b".into(),
        ..opts()
    })
    .contains("invalid cgroup name"));
    assert!(err(SpecOptions {
        tmpfs: vec![("rel".into(), String::new())],
        ..opts()
    })
    .contains("tmpfs"));
    let mut o = opts();
    o.namespaces.pid = NsMode::Join("proc/1/ns/pid".into());
    assert!(err(o).contains("pid namespace path"));
    assert!(err(SpecOptions {
        seccomp: Seccomp::Profile("{".into()),
        ..opts()
    })
    .contains("decoding seccomp profile"));
}

#[test]
fn host_namespaces_are_left_out() {
    let mut o = opts();
    o.namespaces.pid = NsMode::Host;
    o.namespaces.net = NsMode::Host;
    o.hostname = "h".into();
    o.namespaces.uts = NsMode::Join("/proc/9/ns/uts".into());
    let spec = build_spec_with(&o, &FixedHost::default()).unwrap();
    let kinds: Vec<_> = spec
        .linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .clone()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    assert_eq!(
        kinds,
        vec![
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Ipc
        ]
    );
    assert_eq!(spec.hostname(), &None);
}

#[test]
fn tmpfs_options_merge_like_docker() {
    assert_eq!(
        tmpfs_options("exec,size=1m,size=2m,ro"),
        vec!["nosuid", "nodev", "exec", "size=2m", "ro", "rprivate"]
    );
    assert_eq!(
        tmpfs_options(""),
        vec!["noexec", "nosuid", "nodev", "rprivate"]
    );
}

#[test]
fn default_capabilities_match_docker_mask() {
    let mask: u64 = DEFAULT_CAPABILITIES
        .iter()
        .map(|c| crate::caps::index(*c).unwrap())
        .map(|i| 1u64 << i)
        .sum();
    assert_eq!(format!("{mask:016x}"), "00000000a80425fb");
}

#[test]
fn user_annotations_never_replace_the_runtimes() {
    let spec = build_spec(&SpecOptions {
        annotations: BTreeMap::from([
            ("org.example/team".to_string(), "a".to_string()),
            (INIT_ANNOTATION.to_string(), "true".to_string()),
            (
                SECCOMP_CACHE_ANNOTATION.to_string(),
                "/tmp/evil".to_string(),
            ),
        ]),
        ..opts()
    })
    .unwrap();
    let a = spec.annotations().as_ref().unwrap();
    assert_eq!(a.get("org.example/team").map(String::as_str), Some("a"));
    assert!(!a.contains_key(INIT_ANNOTATION));
    assert!(!a.contains_key(SECCOMP_CACHE_ANNOTATION));
    assert!(a.contains_key(USER_ANNOTATION));
}
