//! `berth daemon --userns-remap USER[:GROUP]|default`: the maps a root
//! daemon's containers get, from the subordinate ranges of a user and a
//! group, as Docker builds them. `default` is Docker's `dockremap` user
//! and group, made (with a range of 65536 ids past every range already
//! given) when missing.

use std::process::Command;

use anyhow::{bail, Context};
use berth_runtime::subid;
use nix::unistd::{Group, User};

/// The user and group Docker's `default` stands for.
pub const DEFAULT_USER: &str = "dockremap";

const SUBUID: &str = "/etc/subuid";
const SUBGID: &str = "/etc/subgid";

/// The remapping `value` asks for; `default` may make `dockremap`.
pub fn resolve(value: &str) -> anyhow::Result<berth_engine::UsernsRemap> {
    let (user_spec, group_spec) = match value {
        "default" => {
            ensure_default_user()?;
            (DEFAULT_USER, Some(DEFAULT_USER))
        }
        v => match v.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (v, None),
        },
    };
    if user_spec.is_empty() || group_spec == Some("") {
        bail!("--userns-remap {value:?}: expected USER[:GROUP] or default");
    }
    let user = find_user(user_spec)?;
    // Without a group, the group named as the user (Docker's rule).
    let group = find_group(group_spec.unwrap_or(&user.name))?;
    let uids = ranges(SUBUID, &user.name, user.uid.as_raw(), "user")?;
    let gids = ranges(SUBGID, &group.name, group.gid.as_raw(), "group")?;
    Ok(berth_engine::UsernsRemap {
        user: user.name,
        group: group.name,
        maps: berth_runtime::spec::UserNamespace {
            uids: subid::remap_mapping(&uids),
            gids: subid::remap_mapping(&gids),
        },
    })
}

fn find_user(spec: &str) -> anyhow::Result<User> {
    let found = match spec.parse::<u32>() {
        Ok(uid) => User::from_uid(uid.into()),
        Err(_) => User::from_name(spec),
    };
    found
        .with_context(|| format!("looking up user {spec:?}"))?
        .with_context(|| format!("--userns-remap: no user {spec:?} on this machine"))
}

fn find_group(spec: &str) -> anyhow::Result<Group> {
    let found = match spec.parse::<u32>() {
        Ok(gid) => Group::from_gid(gid.into()),
        Err(_) => Group::from_name(spec),
    };
    found
        .with_context(|| format!("looking up group {spec:?}"))?
        .with_context(|| format!("--userns-remap: no group {spec:?} on this machine"))
}

fn ranges(file: &str, name: &str, id: u32, kind: &str) -> anyhow::Result<Vec<(u32, u32)>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {file}")),
    };
    let found = subid::ranges_for(file, &text, name, id)?;
    if found.is_empty() {
        bail!(
            "Can't create ID mappings: no subordinate ranges for {kind} {name:?} in {file} (add one, e.g. with usermod --add-sub{}s)",
            if kind == "user" { "uid" } else { "gid" }
        );
    }
    Ok(found)
}

/// Makes `dockremap` (a system user with its own group) and gives it
/// 65536 subordinate ids past every range in `/etc/subuid` and
/// `/etc/subgid`, when missing.
fn ensure_default_user() -> anyhow::Result<()> {
    if User::from_name(DEFAULT_USER)?.is_none() {
        run(Command::new("useradd").args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/bin/false",
            DEFAULT_USER,
        ]))?;
    }
    let user = find_user(DEFAULT_USER)?;
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    let (subuid, subgid) = (read(SUBUID), read(SUBGID));
    let has = |file: &str, text: &str| {
        subid::ranges_for(file, text, DEFAULT_USER, user.uid.as_raw())
            .map(|r| !r.is_empty())
            .unwrap_or(false)
    };
    if has(SUBUID, &subuid) && has(SUBGID, &subgid) {
        return Ok(());
    }
    let start = next_free(&[&subuid, &subgid]);
    let range = format!("{start}-{}", start + 65535);
    run(Command::new("usermod").args([
        "--add-subuids",
        &range,
        "--add-subgids",
        &range,
        DEFAULT_USER,
    ]))
}

/// The first id at or above 100000 past every range in `files`.
pub fn next_free(files: &[&str]) -> u32 {
    let ends = files.iter().flat_map(|text| {
        text.lines().filter_map(|l| {
            let mut f = l.trim().split(':');
            let (_, start, count) = (f.next()?, f.next()?, f.next()?);
            start.parse::<u32>().ok()?.checked_add(count.parse().ok()?)
        })
    });
    ends.fold(100_000, u32::max)
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("running {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_free;

    #[test]
    fn default_ranges_go_past_every_range_given() {
        assert_eq!(next_free(&["", ""]), 100_000);
        assert_eq!(
            next_free(&[
                "ann:100000:65536\nbob:3100000:65536\n",
                "ann:100000:65536\n"
            ]),
            3_165_536
        );
        assert_eq!(next_free(&["# comment\nbroken\nx:5:5\n", ""]), 100_000);
    }
}
