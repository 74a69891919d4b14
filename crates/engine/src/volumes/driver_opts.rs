//! The local driver's options, as Docker's: `type` and `device` name what
//! `mount(2)` mounts on the volume's `_data` directory at first use and `o`
//! carries the mount options (`bind`, `size=64m`, `uid=1000`...). Checked at
//! create, turned into one mount plan here; pure.

use std::collections::BTreeMap;

use berth_runtime::mounts::parse_options;
use nix::mount::MsFlags;

use crate::Error;

/// What mounting a volume with options does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    /// `device`: a path for binds, else the file system's source.
    pub device: String,
    /// `type` (`none` for binds).
    pub fstype: String,
    /// Flags from `o`, `MS_BIND` among them for binds.
    pub flags: MsFlags,
    /// The rest of `o`, for the file system.
    pub data: String,
}

impl MountPlan {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

const KEYS: &[&str] = &["type", "device", "o", "size"];

fn bad(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// Checks options as Docker's local driver does: known keys only, and
/// `type`, `device` and `o` only together (`o` needs both others).
pub fn validate(opts: &BTreeMap<String, String>) -> Result<(), Error> {
    if let Some(k) = opts.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(format!("invalid option: \"{k}\"")));
    }
    if opts.contains_key("size") {
        return Err(bad(
            "volume option size (a project quota) is not supported yet by berth's local driver; use -o type=tmpfs -o device=tmpfs -o o=size=... for a bounded volume".into(),
        ));
    }
    let required: &[(&str, &[&str])] = &[
        ("device", &["type"]),
        ("type", &["device"]),
        ("o", &["device", "type"]),
    ];
    for (key, needs) in required {
        if opts.contains_key(*key) {
            if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                return Err(bad(format!("missing required option: \"{missing}\"")));
            }
        }
    }
    if let Some(p) = plan(opts) {
        if p.is_bind() && !p.device.starts_with('/') {
            return Err(bad(format!(
                "invalid option: a bind volume's device must be an absolute host path, not \"{}\"",
                p.device
            )));
        }
    }
    Ok(())
}

/// The mount a volume's options ask for; `None` for a plain directory.
pub fn plan(opts: &BTreeMap<String, String>) -> Option<MountPlan> {
    let device = opts.get("device")?;
    let fstype = opts.get("type")?;
    let o: Vec<String> = opts
        .get("o")
        .map(|o| {
            o.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let parsed = parse_options(&o);
    Some(MountPlan {
        device: device.clone(),
        fstype: fstype.clone(),
        flags: parsed.flags,
        data: parsed.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validates_like_docker() {
        assert!(validate(&opts(&[])).is_ok());
        let e = |p: &[(&str, &str)]| validate(&opts(p)).unwrap_err().to_string();
        assert_eq!(e(&[("colour", "red")]), "invalid option: \"colour\"");
        assert_eq!(
            e(&[("type", "tmpfs")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            e(&[("device", "tmpfs")]),
            "missing required option: \"type\""
        );
        assert_eq!(
            e(&[("o", "size=1m")]),
            "missing required option: \"device\""
        );
        assert!(e(&[("size", "1g")]).contains("not supported yet"));
        assert!(
            e(&[("type", "none"), ("device", "rel/path"), ("o", "bind")])
                .contains("absolute host path")
        );
        assert!(validate(&opts(&[
            ("type", "none"),
            ("device", "/srv"),
            ("o", "bind")
        ]))
        .is_ok());
    }

    #[test]
    fn plans_tmpfs_and_bind() {
        let t = plan(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m,uid=1000,noexec"),
        ]))
        .unwrap();
        assert_eq!(
            t,
            MountPlan {
                device: "tmpfs".into(),
                fstype: "tmpfs".into(),
                flags: MsFlags::MS_NOEXEC,
                data: "size=1m,uid=1000".into(),
            }
        );
        assert!(!t.is_bind());
        let b = plan(&opts(&[
            ("type", "none"),
            ("device", "/srv/x"),
            ("o", "bind,ro"),
        ]))
        .unwrap();
        assert!(b.is_bind());
        assert!(b.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(plan(&opts(&[])), None);
    }
}
