//! Resolving `docker run -u` inside the container.
//!
//! Names can only be resolved once the container's `/etc/passwd` and
//! `/etc/group` are visible, so this runs after `pivot_root`. The rules are
//! Docker's: a numeric user is always a uid (with the passwd entry's gid and
//! home when there is one); a user without an explicit group gets the
//! supplementary groups that list it in `/etc/group`; an explicit group
//! replaces the primary gid and adds no supplementary groups.

use std::path::Path;

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One `/etc/group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The identity the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub sgids: Vec<u32>,
    /// Home directory, `/` when unknown.
    pub home: String,
}

/// Errors resolving a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("uids and gids must be in range 0-2147483647")]
    OutOfRange,
}

fn parse_num(s: &str) -> Option<u32> {
    s.parse::<u32>().ok()
}

/// Parses passwd text, skipping malformed and comment lines.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: parse_num(f.get(2)?)?,
                gid: parse_num(f.get(3)?)?,
                home: f.get(5).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// Parses group text, skipping malformed and comment lines.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: parse_num(f.get(2)?)?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn numeric(s: &str) -> Result<Option<u32>, UserError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<u64>() {
        Ok(n) if n <= 2_147_483_647 => Ok(Some(n as u32)),
        _ => Err(UserError::OutOfRange),
    }
}

/// Resolves `spec` (`""`, `uid`, `uid:gid`, `name`, `name:group`, ...)
/// against parsed passwd and group entries. `default_uid` is the user when
/// `spec` names none.
pub fn resolve(
    spec: &str,
    default_uid: u32,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<ExecUser, UserError> {
    let (user_arg, group_arg) = spec.split_once(':').unwrap_or((spec, ""));
    let uid_arg = numeric(user_arg)?;
    let gid_arg = numeric(group_arg)?;
    let found = passwd.iter().find(|u| match uid_arg {
        _ if user_arg.is_empty() => u.uid == default_uid,
        Some(uid) => u.uid == uid,
        None => u.name == user_arg,
    });
    let mut user = ExecUser {
        uid: default_uid,
        gid: 0,
        sgids: Vec::new(),
        home: "/".to_string(),
    };
    let mut name = None;
    match found {
        Some(u) => {
            user.uid = u.uid;
            user.gid = u.gid;
            if !u.home.is_empty() {
                user.home = u.home.clone();
            }
            name = Some(u.name.as_str());
        }
        None if user_arg.is_empty() => {}
        None => match uid_arg {
            Some(uid) => user.uid = uid,
            None => return Err(UserError::NoUser(user_arg.to_string())),
        },
    }
    if !group_arg.is_empty() {
        let g = groups
            .iter()
            .find(|g| g.name == group_arg || Some(g.gid) == gid_arg);
        user.gid = match (g, gid_arg) {
            (Some(g), _) => g.gid,
            (None, Some(gid)) => gid,
            (None, None) => return Err(UserError::NoGroup(group_arg.to_string())),
        };
    } else if let Some(name) = name {
        user.sgids = groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.gid)
            .collect();
    }
    Ok(user)
}

/// Resolves `spec` against `<root>/etc/passwd` and `<root>/etc/group`;
/// missing files count as empty.
pub fn resolve_in(root: &Path, spec: &str, default_uid: u32) -> Result<ExecUser, UserError> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
    let passwd = parse_passwd(&read("etc/passwd"));
    let groups = parse_group(&read("etc/group"));
    resolve(spec, default_uid, &passwd, &groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        broken line\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:alice,root\n\
        audio:x:29: alice \n\
        alice:x:1000:\n\
        staff:x:50:\n";

    fn r(spec: &str) -> Result<ExecUser, UserError> {
        resolve(spec, 0, &parse_passwd(PASSWD), &parse_group(GROUP))
    }

    #[test]
    fn empty_is_root_with_groups() {
        let u = r("").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.sgids, vec![10]);
    }

    #[test]
    fn name_gets_passwd_gid_home_and_groups() {
        let u = r("alice").unwrap();
        assert_eq!(
            u,
            ExecUser {
                uid: 1000,
                gid: 1000,
                sgids: vec![10, 29],
                home: "/home/alice".into()
            }
        );
    }

    #[test]
    fn numeric_user_known_and_unknown() {
        assert_eq!(r("1000").unwrap().sgids, vec![10, 29]);
        let u = r("4242").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        assert!(u.sgids.is_empty());
    }

    #[test]
    fn explicit_group_replaces_gid_without_supplementary() {
        let u = r("1000:1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert!(u.sgids.is_empty());
        assert_eq!(r("alice:staff").unwrap().gid, 50);
        assert_eq!(r("alice:77").unwrap().gid, 77);
        assert_eq!(r("4242:4343").unwrap().gid, 4343);
    }

    #[test]
    fn missing_names_use_dockers_messages() {
        assert_eq!(
            r("bob").unwrap_err().to_string(),
            "unable to find user bob: no matching entries in passwd file"
        );
        assert_eq!(
            r("alice:nogroup").unwrap_err().to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert_eq!(r("9999999999"), Err(UserError::OutOfRange));
    }

    #[test]
    fn missing_files_allow_numeric_only() {
        let dir = tempfile::tempdir().unwrap();
        let u = resolve_in(dir.path(), "5:6", 0).unwrap();
        assert_eq!((u.uid, u.gid), (5, 6));
        assert!(resolve_in(dir.path(), "bob", 0).is_err());
        let u = resolve_in(dir.path(), "", 0).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/"));
    }
}
