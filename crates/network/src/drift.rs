//! Whether Berth's firewall tables in the kernel are the ones its records
//! describe (`berth system check`). The expected batch is applied in a
//! private network namespace, so the host never holds a second copy of
//! the table, and both are compared as `nft list` prints them: the kernel
//! normalises both the same way.

use std::fmt;
use std::process::Command;

use nftables::schema::Nftables;

use crate::nft::apply;
use crate::Error;

/// How a live table differs from the expected one, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The records call for the table; the kernel has none.
    Missing,
    /// The kernel has the table; the records call for none.
    Unexpected,
    /// Both exist and differ: lines only the expected table has, lines
    /// only the live one has (each multiset-wise, in listing order); both
    /// empty when the same lines stand in another order.
    Differs {
        missing: Vec<String>,
        extra: Vec<String>,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing => write!(f, "absent, though the records call for it"),
            Drift::Unexpected => write!(f, "present, though the records call for none"),
            Drift::Differs { missing, extra } if missing.is_empty() && extra.is_empty() => {
                write!(f, "holds the recorded rules in another order")
            }
            Drift::Differs { missing, extra } => {
                write!(
                    f,
                    "differs from the records: {} line(s) missing, {} not recorded",
                    missing.len(),
                    extra.len()
                )?;
                if let Some(m) = missing.first() {
                    write!(f, "; missing `{m}`")?;
                }
                if let Some(x) = extra.first() {
                    write!(f, "; not recorded `{x}`")?;
                }
                Ok(())
            }
        }
    }
}

/// Compares two `nft list table` texts (pure): `None` when they agree,
/// ignoring indentation and blank lines.
pub fn compare(live: Option<&str>, expected: Option<&str>) -> Option<Drift> {
    let (live, expected) = match (live, expected) {
        (None, None) => return None,
        (None, Some(_)) => return Some(Drift::Missing),
        (Some(_), None) => return Some(Drift::Unexpected),
        (Some(l), Some(e)) => (lines(l), lines(e)),
    };
    if live == expected {
        return None;
    }
    let missing = only_in(&expected, &live);
    let extra = only_in(&live, &expected);
    Some(Drift::Differs { missing, extra })
}

fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The lines of `a` not matched by one of `b`'s, counting repeats.
fn only_in(a: &[&str], b: &[&str]) -> Vec<String> {
    let mut left: Vec<&str> = b.to_vec();
    let mut out = Vec::new();
    for line in a {
        match left.iter().position(|l| l == line) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => out.push((*line).to_string()),
        }
    }
    out
}

/// `nft list table FAMILY NAME` in the calling thread's network namespace;
/// `None` when there is no such table.
pub fn listed(family: &str, name: &str) -> Result<Option<String>, Error> {
    let out = Command::new("nft")
        .args(["list", "table", family, name])
        .output()
        .map_err(|e| Error::Firewall(format!("running nft: {e}")))?;
    if out.status.success() {
        return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No such file or directory") {
        return Ok(None);
    }
    Err(Error::Firewall(format!(
        "nft list table {family} {name}: {}",
        err.trim()
    )))
}

/// How the kernel lists `batch`'s table `family name`, learned in a fresh
/// network namespace entered by a thread of its own (the namespace goes
/// away with the thread; the host's tables are never touched).
fn listed_privately(family: &str, name: &str, batch: &Nftables<'_>) -> Result<String, Error> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                Error::Firewall(format!("a private network namespace to compare in: {e}"))
            })?;
            apply(batch)?;
            listed(family, name)?.ok_or_else(|| {
                Error::Firewall(format!("the expected table {family} {name} did not list"))
            })
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Firewall("the comparison thread panicked".into())))
    })
}

/// How the host's table `family name` differs from `expected` (`None`:
/// the records call for no such table).
pub fn drift(
    family: &str,
    name: &str,
    expected: Option<&Nftables<'_>>,
) -> Result<Option<Drift>, Error> {
    let live = listed(family, name)?;
    let want = match expected {
        Some(batch) => Some(listed_privately(family, name, batch)?),
        None => None,
    };
    Ok(compare(live.as_deref(), want.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "table ip t {\n\tchain c {\n\t\ta\n\t\tb\n\t\tb\n\t}\n}\n";

    #[test]
    fn comparison() {
        assert_eq!(compare(None, None), None);
        assert_eq!(compare(Some(TABLE), Some(TABLE)), None);
        assert_eq!(compare(None, Some(TABLE)), Some(Drift::Missing));
        assert_eq!(compare(Some(TABLE), None), Some(Drift::Unexpected));
        assert_eq!(
            compare(Some(&TABLE.replace("\t", "  ")), Some(TABLE)),
            None,
            "indentation does not count"
        );
        let live = TABLE
            .replace("\t\ta\n", "\t\ta\n\t\tx\n")
            .replacen("\t\tb\n", "", 1);
        let d = compare(Some(&live), Some(TABLE)).expect("a difference");
        assert_eq!(
            d,
            Drift::Differs {
                missing: vec!["b".into()],
                extra: vec!["x".into()],
            }
        );
        assert_eq!(
            d.to_string(),
            "differs from the records: 1 line(s) missing, 1 not recorded; missing `b`; not recorded `x`"
        );
        let reordered = TABLE.replace("\t\ta\n\t\tb\n", "\t\tb\n\t\ta\n");
        let d = compare(Some(&reordered), Some(TABLE)).expect("order counts");
        assert_eq!(d.to_string(), "holds the recorded rules in another order");
    }

    /// Root: the kernel's table compared with the expected batch; a rule
    /// added by hand and a deleted table are found. The comparison leaves
    /// no table behind, and the test removes its own however it ends.
    #[test]
    fn finds_a_changed_and_a_missing_table() {
        use crate::nft::{render, render_delete, Ruleset};
        struct Gone(String);
        impl Drop for Gone {
            fn drop(&mut self) {
                let _ = apply(&render_delete(&self.0));
            }
        }
        let name = format!("berth-drift-{}", std::process::id());
        let _gone = Gone(name.clone());
        let expected = render(&name, &Ruleset::default());
        apply(&expected).expect("nft applies the ruleset (needs root and nft)");
        assert_eq!(drift("ip", &name, Some(&expected)).unwrap(), None);
        let added = Command::new("nft")
            .args([
                "add", "rule", "ip", &name, "forward", "iifname", "\"x0\"", "drop",
            ])
            .status()
            .unwrap();
        assert!(added.success());
        match drift("ip", &name, Some(&expected)).unwrap() {
            Some(Drift::Differs { missing, extra }) => {
                assert!(missing.is_empty(), "{missing:?}");
                assert_eq!(extra, vec![r#"iifname "x0" drop"#.to_string()]);
            }
            other => panic!("expected the added rule, got {other:?}"),
        }
        apply(&render_delete(&name)).unwrap();
        assert_eq!(
            drift("ip", &name, Some(&expected)).unwrap(),
            Some(Drift::Missing)
        );
        assert_eq!(drift("ip", &name, None).unwrap(), None);
        assert_eq!(
            listed("ip", &name).unwrap(),
            None,
            "the comparison left no table on the host"
        );
    }
}
