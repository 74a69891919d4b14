//! A container's mounts from `-v` (`HostConfig.Binds`), `--mount`
//! (`HostConfig.Mounts`), `--tmpfs` and anonymous volumes (`Config.Volumes`,
//! the image's VOLUME): parsed and checked here, pure; volumes are created
//! and the OCI mounts built at create and start.

use std::collections::BTreeMap;

use berth_api::container::{HostConfig, Mount as ApiMount};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
}

/// One planned mount, stored in the container record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: MountKind,
    /// Volume name (empty before an anonymous one is created) or host path.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// An anonymous volume (removed with `rm -v` and `--rm`).
    #[serde(default)]
    pub anonymous: bool,
    /// tmpfs options (`size=1m,mode=1777`).
    #[serde(default)]
    pub options: String,
    /// Bind propagation (`rprivate` by default).
    #[serde(default)]
    pub propagation: String,
    /// `-v` creates a missing host directory; `--mount type=bind` does not.
    #[serde(default)]
    pub create_host_dir: bool,
    /// `nocopy` / `volume-nocopy`: an empty volume is not filled from the image.
    #[serde(default)]
    pub no_copy: bool,
    /// `:U`: the volume is chowned to the container's user on first use.
    #[serde(default)]
    pub chown: bool,
    /// `bind-recursive`: how submounts of a bind are carried and made read-only.
    #[serde(default)]
    pub recursive: Recursive,
    /// `volume-opt`: local driver options for a volume this mount creates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_options: BTreeMap<String, String>,
    /// `volume-label`: labels for a volume this mount creates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_labels: BTreeMap<String, String>,
    /// `volume-subpath` (`VolumeOptions.Subpath`, API 1.45): the directory
    /// of the volume that is mounted, relative to its root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subpath: String,
}

/// `--mount ...,bind-recursive=`: Docker's four modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recursive {
    /// Submounts are bound too; read-only applies to them where the kernel
    /// can (Linux 5.12) and propagation is private.
    #[default]
    Enabled,
    /// Only the source mount itself is bound.
    Disabled,
    /// Submounts are bound but stay writable under a read-only mount.
    Writable,
    /// Submounts are bound and read-only, or the start fails.
    Readonly,
}

fn invalid(spec: &str, why: &str) -> Error {
    Error::InvalidArgument(format!("invalid mount config: {spec}: {why}"))
}

fn clean_target(spec: &str, target: &str) -> Result<String, Error> {
    if !target.starts_with('/') {
        return Err(invalid(spec, "the destination must be an absolute path"));
    }
    if target == "/" {
        return Err(invalid(spec, "the destination can not be \"/\""));
    }
    let cleaned: Vec<&str> = target
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if cleaned.contains(&"..") {
        return Err(invalid(spec, "the destination may not contain \"..\""));
    }
    Ok(format!("/{}", cleaned.join("/")))
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// `-v src:dst[:opts]` (opts: ro, rw, z, Z, nocopy, propagation modes).
pub fn parse_bind(spec: &str) -> Result<MountPoint, Error> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => return Err(invalid(spec, "too many colons")),
    };
    let mut read_only = false;
    let mut propagation = String::new();
    let mut no_copy = false;
    let mut chown = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" | "z" | "Z" => {}
            "nocopy" => no_copy = true,
            "U" => chown = true,
            p if PROPAGATIONS.contains(&p) => propagation = p.to_string(),
            other => return Err(invalid(spec, &format!("unknown option {other}"))),
        }
    }
    let target = clean_target(spec, target)?;
    let kind = if source.is_empty() || !source.starts_with('/') {
        MountKind::Volume
    } else {
        MountKind::Bind
    };
    if kind == MountKind::Volume && !source.is_empty() && !crate::volumes::valid_name(source) {
        return Err(invalid(
            spec,
            &format!("\"{source}\" is not a volume name or an absolute host path"),
        ));
    }
    if kind == MountKind::Volume && !propagation.is_empty() {
        return Err(invalid(spec, "propagation applies to bind mounts only"));
    }
    Ok(MountPoint {
        kind,
        source: source.to_string(),
        target,
        read_only,
        anonymous: source.is_empty(),
        options: String::new(),
        propagation,
        create_host_dir: kind == MountKind::Bind,
        no_copy,
        chown,
        recursive: Recursive::Enabled,
        volume_options: BTreeMap::new(),
        volume_labels: BTreeMap::new(),
        subpath: String::new(),
    })
}

/// A JSON object of strings as a map (`Labels`, `DriverConfig.Options`).
fn string_map(v: Option<Value>) -> BTreeMap<String, String> {
    v.and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// `BindOptions.NonRecursive`, `ReadOnlyNonRecursive` and
/// `ReadOnlyForceRecursive` as one mode, checked as Docker does.
fn recursive_mode(spec: &str, m: &ApiMount, propagation: &str) -> Result<Recursive, Error> {
    let flag = |k: &str| {
        m.bind_options
            .as_ref()
            .and_then(|o| o.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let (non_recursive, ro_non_recursive, ro_force) = (
        flag("NonRecursive"),
        flag("ReadOnlyNonRecursive"),
        flag("ReadOnlyForceRecursive"),
    );
    if (ro_non_recursive || ro_force) && !m.read_only {
        return Err(invalid(
            spec,
            "bind-recursive=writable and bind-recursive=readonly need readonly",
        ));
    }
    if u8::from(non_recursive) + u8::from(ro_non_recursive) + u8::from(ro_force) > 1 {
        return Err(invalid(spec, "conflicting bind-recursive options"));
    }
    if ro_force && !matches!(propagation, "" | "private" | "rprivate") {
        return Err(invalid(
            spec,
            "bind-recursive=readonly needs private or rprivate propagation",
        ));
    }
    Ok(if non_recursive {
        Recursive::Disabled
    } else if ro_non_recursive {
        Recursive::Writable
    } else if ro_force {
        Recursive::Readonly
    } else {
        Recursive::Enabled
    })
}

/// `--mount type=...` as the API carries it.
pub fn parse_mount(m: &ApiMount) -> Result<MountPoint, Error> {
    let spec = format!("type={},target={}", m.kind, m.target);
    let target = clean_target(&spec, &m.target)?;
    let opt = |v: &Option<Value>, k: &str| {
        v.as_ref()
            .and_then(|o| o.get(k))
            .cloned()
            .filter(|x| !x.is_null())
    };
    match m.kind.as_str() {
        "volume" => {
            if opt(&m.volume_options, "DriverConfig").is_some_and(|d| {
                d.get("Name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty() && n != "local")
            }) {
                return Err(invalid(&spec, "only the local volume driver is supported"));
            }
            if !m.source.is_empty() && !crate::volumes::valid_name(&m.source) {
                return Err(invalid(&spec, &format!("invalid volume name {}", m.source)));
            }
            let volume_options = string_map(
                opt(&m.volume_options, "DriverConfig").and_then(|d| d.get("Options").cloned()),
            );
            crate::volumes::driver_opts::validate(&volume_options)?;
            let subpath = opt(&m.volume_options, "Subpath")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if !subpath.is_empty() {
                if m.source.is_empty() {
                    return Err(invalid(&spec, "a subpath needs a named volume"));
                }
                if subpath.starts_with('/') || subpath.split('/').any(|c| c == "..") {
                    return Err(invalid(
                        &spec,
                        "subpath must be a relative path within the volume",
                    ));
                }
            }
            Ok(MountPoint {
                kind: MountKind::Volume,
                source: m.source.clone(),
                target,
                read_only: m.read_only,
                anonymous: m.source.is_empty(),
                options: String::new(),
                propagation: String::new(),
                create_host_dir: false,
                no_copy: opt(&m.volume_options, "NoCopy")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
                chown: false,
                recursive: Recursive::Enabled,
                volume_options,
                volume_labels: string_map(opt(&m.volume_options, "Labels")),
                subpath,
            })
        }
        "bind" => {
            if !m.source.starts_with('/') {
                return Err(invalid(&spec, "bind source must be an absolute path"));
            }
            let propagation = opt(&m.bind_options, "Propagation")
                .and_then(|p| p.as_str().map(str::to_string))
                .unwrap_or_default();
            if !propagation.is_empty() && !PROPAGATIONS.contains(&propagation.as_str()) {
                return Err(invalid(
                    &spec,
                    &format!("invalid propagation {propagation}"),
                ));
            }
            let recursive = recursive_mode(&spec, m, &propagation)?;
            Ok(MountPoint {
                kind: MountKind::Bind,
                source: m.source.clone(),
                target,
                read_only: m.read_only,
                anonymous: false,
                options: String::new(),
                propagation,
                create_host_dir: false,
                no_copy: false,
                chown: false,
                recursive,
                volume_options: BTreeMap::new(),
                volume_labels: BTreeMap::new(),
                subpath: String::new(),
            })
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(invalid(&spec, "tmpfs mounts have no source"));
            }
            let mut opts = Vec::new();
            if let Some(size) = opt(&m.tmpfs_options, "SizeBytes")
                .and_then(|v| v.as_i64())
                .filter(|s| *s > 0)
            {
                opts.push(format!("size={size}"));
            }
            if let Some(mode) = opt(&m.tmpfs_options, "Mode")
                .and_then(|v| v.as_u64())
                .filter(|m| *m > 0)
            {
                opts.push(format!("mode={mode:o}"));
            }
            Ok(MountPoint {
                kind: MountKind::Tmpfs,
                source: String::new(),
                target,
                read_only: m.read_only,
                anonymous: false,
                options: opts.join(","),
                propagation: String::new(),
                create_host_dir: false,
                no_copy: false,
                chown: false,
                recursive: Recursive::Enabled,
                volume_options: BTreeMap::new(),
                volume_labels: BTreeMap::new(),
                subpath: String::new(),
            })
        }
        other => Err(invalid(
            &spec,
            &format!("mount type {other} is not supported"),
        )),
    }
}

/// Every mount of a container: binds, mounts, then anonymous volumes for
/// the image's and the request's `Volumes` not already covered. Two mounts
/// on one target are an error, as Docker.
pub fn plan(
    hc: &HostConfig,
    volumes: Option<&BTreeMap<String, Value>>,
) -> Result<Vec<MountPoint>, Error> {
    let mut out: Vec<MountPoint> = Vec::new();
    let push = |m: MountPoint, out: &mut Vec<MountPoint>| -> Result<(), Error> {
        if out.iter().any(|o| o.target == m.target) {
            return Err(Error::InvalidArgument(format!(
                "Duplicate mount point: {}",
                m.target
            )));
        }
        out.push(m);
        Ok(())
    };
    // Clients older than API 1.44 got read-only binds whose submounts
    // stay writable, unless they asked otherwise.
    let legacy = |mut m: MountPoint| {
        if hc.read_only_non_recursive
            && m.kind == MountKind::Bind
            && m.read_only
            && m.recursive == Recursive::Enabled
        {
            m.recursive = Recursive::Writable;
        }
        m
    };
    for b in &hc.binds {
        push(legacy(parse_bind(b)?), &mut out)?;
    }
    for m in &hc.mounts {
        push(legacy(parse_mount(m)?), &mut out)?;
    }
    for target in volumes
        .map(|v| v.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let target = clean_target(&target, &target)?;
        if out.iter().any(|o| o.target == target) || hc.tmpfs.contains_key(&target) {
            continue;
        }
        out.push(MountPoint {
            kind: MountKind::Volume,
            source: String::new(),
            target,
            read_only: false,
            anonymous: true,
            options: String::new(),
            propagation: String::new(),
            create_host_dir: false,
            no_copy: false,
            chown: false,
            recursive: Recursive::Enabled,
            volume_options: BTreeMap::new(),
            volume_labels: BTreeMap::new(),
            subpath: String::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds() {
        let v = parse_bind("data:/d").unwrap();
        assert_eq!(
            (v.kind, v.source.as_str(), v.target.as_str(), v.anonymous),
            (MountKind::Volume, "data", "/d", false)
        );
        let b = parse_bind("/host/x:/x:ro").unwrap();
        assert_eq!(
            (b.kind, b.read_only, b.create_host_dir),
            (MountKind::Bind, true, true)
        );
        let a = parse_bind("/anon").unwrap();
        assert!(a.anonymous && a.kind == MountKind::Volume);
        assert_eq!(
            parse_bind("/h:/x:rw,rprivate").unwrap().propagation,
            "rprivate"
        );
        assert_eq!(parse_bind("/h:/x:rshared").unwrap().propagation, "rshared");
        assert!(parse_bind("data:/x:rslave").is_err());
        assert!(parse_bind("data:relative").is_err());
        assert!(parse_bind("data:/").is_err());
        assert!(parse_bind("data:/a/../b").is_err());
        assert!(parse_bind("da ta:/x").is_err());
        assert!(parse_bind("/h:/x:bogus").is_err());
        let u = parse_bind("vol:/data:U,nocopy").unwrap();
        assert!(u.chown && u.no_copy);
        assert!(parse_bind("a:b:c:d").is_err());
        assert_eq!(parse_bind("/h:/x/./y/").unwrap().target, "/x/y");
    }

    #[test]
    fn mounts() {
        let m: ApiMount = serde_json::from_value(json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 511}})).unwrap();
        let p = parse_mount(&m).unwrap();
        assert_eq!(
            (p.kind, p.options.as_str()),
            (MountKind::Tmpfs, "size=1048576,mode=777")
        );
        let b: ApiMount = serde_json::from_value(json!({"Type": "bind", "Source": "/h", "Target": "/x", "BindOptions": {"Propagation": "private"}})).unwrap();
        assert_eq!(parse_mount(&b).unwrap().propagation, "private");
        let s: ApiMount = serde_json::from_value(json!({"Type": "bind", "Source": "/h", "Target": "/x", "BindOptions": {"Propagation": "rslave"}})).unwrap();
        assert_eq!(parse_mount(&s).unwrap().propagation, "rslave");
        let odd: ApiMount = serde_json::from_value(json!({"Type": "bind", "Source": "/h", "Target": "/x", "BindOptions": {"Propagation": "sideways"}})).unwrap();
        assert!(parse_mount(&odd).is_err());
        let v: ApiMount = serde_json::from_value(json!({"Type": "volume", "Source": "t1", "Target": "/x",
            "VolumeOptions": {"Labels": {"a": "b"}, "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}}})).unwrap();
        let pv = parse_mount(&v).unwrap();
        assert_eq!(
            pv.volume_options.get("type").map(String::as_str),
            Some("tmpfs")
        );
        assert_eq!(pv.volume_labels.get("a").map(String::as_str), Some("b"));
        let badopt: ApiMount =
            serde_json::from_value(json!({"Type": "volume", "Source": "t1", "Target": "/x",
            "VolumeOptions": {"DriverConfig": {"Options": {"colour": "red"}}}}))
            .unwrap();
        assert!(parse_mount(&badopt)
            .unwrap_err()
            .to_string()
            .contains("colour"));
        let bad: ApiMount =
            serde_json::from_value(json!({"Type": "npipe", "Target": "/x"})).unwrap();
        assert!(parse_mount(&bad).is_err());
        let sub = |source: &str, subpath: &str| -> Result<MountPoint, Error> {
            let m: ApiMount = serde_json::from_value(json!({"Type": "volume", "Source": source,
                "Target": "/mnt", "VolumeOptions": {"Subpath": subpath}}))
            .unwrap();
            parse_mount(&m)
        };
        assert_eq!(sub("data", "a/b").unwrap().subpath, "a/b");
        for (source, subpath) in [("data", "/abs"), ("data", "a/../.."), ("", "a")] {
            assert!(sub(source, subpath).is_err(), "{source} {subpath}");
        }
    }

    #[test]
    fn bind_recursive_modes() {
        let mk = |ro: bool, opts: Value| -> ApiMount {
            serde_json::from_value(json!({"Type": "bind", "Source": "/h", "Target": "/x", "ReadOnly": ro, "BindOptions": opts})).unwrap()
        };
        let mode = |ro, opts| parse_mount(&mk(ro, opts)).map(|m| m.recursive);
        assert_eq!(mode(false, json!({})).unwrap(), Recursive::Enabled);
        assert_eq!(
            mode(false, json!({"NonRecursive": true})).unwrap(),
            Recursive::Disabled
        );
        assert_eq!(
            mode(true, json!({"ReadOnlyNonRecursive": true})).unwrap(),
            Recursive::Writable
        );
        assert_eq!(
            mode(true, json!({"ReadOnlyForceRecursive": true})).unwrap(),
            Recursive::Readonly
        );
        assert!(mode(false, json!({"ReadOnlyForceRecursive": true})).is_err());
        assert!(mode(
            true,
            json!({"ReadOnlyForceRecursive": true, "NonRecursive": true})
        )
        .is_err());
        assert!(mode(
            true,
            json!({"ReadOnlyForceRecursive": true, "Propagation": "rshared"})
        )
        .is_err());
    }

    #[test]
    fn plan_adds_anonymous_volumes_and_refuses_duplicates() {
        let hc = HostConfig {
            binds: vec!["data:/data".into()],
            ..Default::default()
        };
        let vols = BTreeMap::from([
            ("/data".to_string(), json!({})),
            ("/var/lib/app".to_string(), json!({})),
        ]);
        let p = plan(&hc, Some(&vols)).unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[1].anonymous && p[1].target == "/var/lib/app");
        let dup = HostConfig {
            binds: vec!["a1:/x".into(), "b1:/x".into()],
            ..Default::default()
        };
        assert!(plan(&dup, None)
            .unwrap_err()
            .to_string()
            .contains("Duplicate mount point"));
    }
}
