//! `RUN --mount=...` specifications (pure), with Docker's keys and
//! defaults: `type` (default `bind`), `target`/`dst`/`destination`,
//! `source`/`src`, `from`, `id`, `sharing`, `ro`/`readonly`, `rw`,
//! `required`, `size` (tmpfs). A secret's target defaults to
//! `/run/secrets/<id>`, a cache's id to its target.

/// One mount of a RUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// A persistent directory shared by builds (by `id`).
    Cache {
        target: String,
        id: String,
        readonly: bool,
    },
    /// Files of the context, a stage or an image, read-only.
    Bind {
        target: String,
        source: String,
        from: Option<String>,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    /// A secret given to the build (`--secret id=...`), never in a layer.
    Secret {
        id: String,
        target: String,
        required: bool,
    },
}

fn truthy(v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(format!("invalid boolean value {other:?}")),
    }
}

/// Parses one `--mount` value.
pub fn parse(spec: &str) -> Result<RunMount, String> {
    let mut kind = "bind".to_string();
    let (mut target, mut source, mut from, mut id) = (None, None, None, None);
    let (mut readonly, mut rw, mut required) = (false, false, false);
    let mut size = None;
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (part.trim().to_ascii_lowercase(), None),
        };
        let val = || {
            v.map(str::to_string)
                .ok_or_else(|| format!("{k} needs a value"))
        };
        match k.as_str() {
            "type" => kind = val()?,
            "target" | "dst" | "destination" => target = Some(val()?),
            "source" | "src" => source = Some(val()?),
            "from" => from = Some(val()?),
            "id" => id = Some(val()?),
            "ro" | "readonly" => readonly = truthy(v)?,
            "rw" | "readwrite" => rw = truthy(v)?,
            "required" => required = truthy(v)?,
            "sharing" => match v {
                Some("shared") => {}
                Some(other) => {
                    return Err(format!(
                        "sharing={other} is not supported yet (only shared)"
                    ))
                }
                None => return Err("sharing needs a value".into()),
            },
            "size" => {
                size = Some(
                    v.and_then(|s| s.parse::<u64>().ok())
                        .ok_or_else(|| format!("invalid tmpfs size {v:?}: use bytes"))?,
                )
            }
            "mode" | "uid" | "gid" => {
                return Err(format!("the mount option {k} is not supported yet"))
            }
            other => return Err(format!("unknown mount option {other:?}")),
        }
    }
    let need_target = |t: Option<String>| t.ok_or_else(|| format!("a {kind} mount needs a target"));
    match kind.as_str() {
        "cache" => {
            let target = need_target(target)?;
            if from.is_some() || source.is_some() {
                return Err("cache mounts from other stages are not supported yet".into());
            }
            Ok(RunMount::Cache {
                id: id.unwrap_or_else(|| target.clone()),
                target,
                readonly,
            })
        }
        "bind" => {
            if rw {
                return Err("read-write bind mounts (rw) are not supported yet".into());
            }
            Ok(RunMount::Bind {
                target: need_target(target)?,
                source: source.unwrap_or_else(|| "/".into()),
                from,
            })
        }
        "tmpfs" => Ok(RunMount::Tmpfs {
            target: need_target(target)?,
            size,
        }),
        "secret" => {
            let id = id
                .or_else(|| {
                    target
                        .as_ref()
                        .and_then(|t| t.rsplit('/').next().map(str::to_string))
                })
                .ok_or("a secret mount needs an id")?;
            Ok(RunMount::Secret {
                target: target.unwrap_or_else(|| format!("/run/secrets/{id}")),
                id,
                required,
            })
        }
        "ssh" => Err("ssh mounts are not supported yet".into()),
        other => Err(format!("unknown mount type {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            parse("type=cache,target=/root/.cache").unwrap(),
            RunMount::Cache {
                target: "/root/.cache".into(),
                id: "/root/.cache".into(),
                readonly: false
            }
        );
        assert_eq!(
            parse("type=cache,id=go,dst=/go,sharing=shared,ro").unwrap(),
            RunMount::Cache {
                target: "/go".into(),
                id: "go".into(),
                readonly: true
            }
        );
        assert_eq!(
            parse("target=/src,from=builder,source=/out").unwrap(),
            RunMount::Bind {
                target: "/src".into(),
                source: "/out".into(),
                from: Some("builder".into())
            }
        );
        assert_eq!(
            parse("type=secret,id=token").unwrap(),
            RunMount::Secret {
                id: "token".into(),
                target: "/run/secrets/token".into(),
                required: false
            }
        );
        assert_eq!(
            parse("type=secret,target=/etc/key,required").unwrap(),
            RunMount::Secret {
                id: "key".into(),
                target: "/etc/key".into(),
                required: true
            }
        );
        assert_eq!(
            parse("type=tmpfs,target=/t,size=1048576").unwrap(),
            RunMount::Tmpfs {
                target: "/t".into(),
                size: Some(1048576)
            }
        );
        for bad in [
            "type=cache",
            "type=ssh",
            "type=nope,target=/x",
            "type=cache,target=/x,sharing=locked",
            "type=bind,target=/x,rw",
            "type=cache,target=/x,bogus=1",
            "type=cache,target=/x,uid=1000",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
