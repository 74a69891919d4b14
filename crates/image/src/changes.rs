//! `import --change` instructions: the Dockerfile subset Docker accepts there (CMD,
//! ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL, ONBUILD,
//! HEALTHCHECK), applied to an image's container config. Words are split and
//! unquoted, and `$VAR`/`${VAR}` expanded from the config's environment, as the
//! Dockerfile builder does for these instructions.

use crate::config::{ContainerConfig, Healthcheck};
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a change could not be applied.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// An instruction not allowed in `--change`.
    #[error("{0} is not a valid change command")]
    NotAllowed(String),
    /// Not a Dockerfile instruction at all.
    #[error("dockerfile parse error on line {line}: unknown instruction: {instruction}")]
    Unknown {
        /// 1-based line in the joined changes.
        line: usize,
        /// The word found.
        instruction: String,
    },
    /// Bad arguments.
    #[error("{0}")]
    Invalid(String),
}

const ALL_INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Applies `changes` (each one or more Dockerfile lines) to `cfg`, in order.
pub fn apply_changes(cfg: &mut ContainerConfig, changes: &[String]) -> Result<(), ChangeError> {
    let joined = changes.join("\n");
    let mut cmd_set = false;
    for (line_no, line) in logical_lines(&joined) {
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (line.as_str(), ""),
        };
        let instr = word.to_ascii_uppercase();
        if !ALL_INSTRUCTIONS.contains(&instr.as_str()) {
            return Err(ChangeError::Unknown {
                line: line_no,
                instruction: instr,
            });
        }
        apply_one(cfg, &instr, rest, &mut cmd_set)?;
    }
    Ok(())
}

/// Joins `\` continuations and drops blank and comment lines.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if cur.is_empty() {
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            start = i + 1;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
            }
            None => {
                cur.push_str(t);
                out.push((start, std::mem::take(&mut cur)));
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur));
    }
    out
}

fn env_map(cfg: &ContainerConfig) -> BTreeMap<String, String> {
    cfg.env
        .iter()
        .flatten()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn need_args(instr: &str, rest: &str) -> Result<(), ChangeError> {
    if rest.is_empty() {
        return Err(ChangeError::Invalid(format!(
            "{instr} requires at least one argument"
        )));
    }
    Ok(())
}

fn apply_one(
    cfg: &mut ContainerConfig,
    instr: &str,
    rest: &str,
    cmd_set: &mut bool,
) -> Result<(), ChangeError> {
    let env = env_map(cfg);
    match instr {
        "CMD" => {
            cfg.cmd = Some(command(cfg, rest));
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            cfg.entrypoint = Some(command(cfg, rest));
            if !*cmd_set {
                cfg.cmd = None;
            }
        }
        "ENV" => {
            need_args(instr, rest)?;
            for (k, v) in key_values(instr, rest, &env)? {
                let list = cfg.env.get_or_insert_with(Vec::new);
                let entry = format!("{k}={v}");
                match list
                    .iter_mut()
                    .find(|e| e.split_once('=').map(|p| p.0) == Some(&k))
                {
                    Some(slot) => *slot = entry,
                    None => list.push(entry),
                }
            }
        }
        "LABEL" => {
            need_args(instr, rest)?;
            let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in key_values(instr, rest, &env)? {
                labels.insert(k, v);
            }
        }
        "WORKDIR" => {
            need_args(instr, rest)?;
            let dir = process_word(rest, &env)?;
            let base = cfg.working_dir.clone().unwrap_or_else(|| "/".to_string());
            let joined = if dir.starts_with('/') {
                dir
            } else {
                format!("{base}/{dir}")
            };
            cfg.working_dir = Some(clean_abs(&joined));
        }
        "USER" => {
            need_args(instr, rest)?;
            cfg.user = Some(process_word(rest, &env)?);
        }
        "EXPOSE" => {
            need_args(instr, rest)?;
            let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for w in split_words(rest) {
                for p in port_keys(&process_word(&w, &env)?)? {
                    ports.insert(p, Value::Object(Default::default()));
                }
            }
        }
        "VOLUME" => {
            need_args(instr, rest)?;
            let list = match json_array(rest) {
                Some(v) => v,
                None => split_words(rest)
                    .iter()
                    .map(|w| process_word(w, &env))
                    .collect::<Result<_, _>>()?,
            };
            let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
            for v in list {
                if v.trim().is_empty() {
                    return Err(ChangeError::Invalid(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                vols.insert(v, Value::Object(Default::default()));
            }
        }
        "STOPSIGNAL" => {
            need_args(instr, rest)?;
            let sig = process_word(rest, &env)?;
            if !valid_signal(&sig) {
                return Err(ChangeError::Invalid(format!("Invalid signal: {sig}")));
            }
            cfg.stop_signal = Some(sig);
        }
        "ONBUILD" => {
            need_args(instr, rest)?;
            let (w, _) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let inner = w.to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(ChangeError::Invalid(format!(
                    "{inner} isn't allowed as an ONBUILD trigger"
                )));
            }
            let trigger = format!("{inner}{}", &rest[w.len()..]);
            cfg.on_build.get_or_insert_with(Vec::new).push(trigger);
        }
        "HEALTHCHECK" => {
            need_args(instr, rest)?;
            cfg.healthcheck = Some(healthcheck(rest)?);
        }
        other => return Err(ChangeError::NotAllowed(other.to_string())),
    }
    Ok(())
}

/// Exec form (a JSON array of strings) or shell form (`[shell..., "cmd"]`).
fn command(cfg: &ContainerConfig, rest: &str) -> Vec<String> {
    if let Some(v) = json_array(rest) {
        return v;
    }
    let mut shell = cfg
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string()]);
    shell.push(rest.to_string());
    shell
}

fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest).ok()
}

/// `k=v k2="v 2"`, or the legacy single `k value with spaces`.
fn key_values(
    instr: &str,
    rest: &str,
    env: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ChangeError> {
    let words = split_words(rest);
    let Some(first) = words.first() else {
        return Err(ChangeError::Invalid(format!(
            "{instr} requires at least one argument"
        )));
    };
    if !first.contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| ChangeError::Invalid(format!("{instr} must have two arguments")))?;
        return Ok(vec![(
            process_word(k, env)?,
            process_word(v.trim_start(), env)?,
        )]);
    }
    let mut out = Vec::new();
    for w in words {
        let (k, v) = w.split_once('=').ok_or_else(|| {
            ChangeError::Invalid(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ))
        })?;
        if k.is_empty() {
            return Err(ChangeError::Invalid(format!(
                "{instr} names can not be blank"
            )));
        }
        out.push((process_word(k, env)?, process_word(v, env)?));
    }
    Ok(out)
}

/// Splits on unquoted whitespace; quotes and escapes stay in the words.
pub(crate) fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (_, '\\') if quote != Some('\'') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Removes quotes and escapes and expands `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR:+x}`.
pub(crate) fn process_word(s: &str, env: &BTreeMap<String, String>) -> Result<String, ChangeError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => out.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (q, '\\') => {
                i += 1;
                match chars.get(i) {
                    // Inside double quotes only these are escapes.
                    Some(&n) if q.is_none() || matches!(n, '"' | '\\' | '$') => out.push(n),
                    Some(&n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                }
            }
            (_, '$') => {
                let (value, used) = expand(&chars[i + 1..], env)?;
                out.push_str(&value);
                i += used;
            }
            (_, c) => out.push(c),
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(ChangeError::Invalid(format!(
            "unexpected end of statement while looking for matching quote: {s}"
        )));
    }
    Ok(out)
}

/// Expands a variable reference following `$`; returns the value and chars used.
fn expand(rest: &[char], env: &BTreeMap<String, String>) -> Result<(String, usize), ChangeError> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if rest.first() == Some(&'{') {
        let end = rest
            .iter()
            .position(|&c| c == '}')
            .ok_or_else(|| ChangeError::Invalid("missing '}' in variable reference".into()))?;
        let inner: String = rest[1..end].iter().collect();
        let name_len = inner.chars().take_while(|&c| is_name(c)).count();
        let (name, op) = inner.split_at(name_len);
        let val = env.get(name);
        let set_nonempty = val.is_some_and(|v| !v.is_empty());
        let value = match op {
            "" => val.cloned().unwrap_or_default(),
            o if o.starts_with(":-") => {
                if set_nonempty {
                    val.cloned().unwrap_or_default()
                } else {
                    process_word(&o[2..], env)?
                }
            }
            o if o.starts_with(":+") => {
                if set_nonempty {
                    process_word(&o[2..], env)?
                } else {
                    String::new()
                }
            }
            o if o.starts_with('-') => match val {
                Some(v) => v.clone(),
                None => process_word(&o[1..], env)?,
            },
            o if o.starts_with('+') => match val {
                Some(_) => process_word(&o[1..], env)?,
                None => String::new(),
            },
            _ => {
                return Err(ChangeError::Invalid(format!(
                    "bad substitution: ${{{inner}}}"
                )))
            }
        };
        return Ok((value, end + 1));
    }
    let n = rest.iter().take_while(|&&c| is_name(c)).count();
    if n == 0 {
        return Ok(("$".to_string(), 0));
    }
    let name: String = rest[..n].iter().collect();
    Ok((env.get(&name).cloned().unwrap_or_default(), n))
}

fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `80`, `80/udp`, `8000-8002/tcp` to `["80/tcp"]`-style keys.
fn port_keys(spec: &str) -> Result<Vec<String>, ChangeError> {
    let bad = || ChangeError::Invalid(format!("invalid containerPort: {spec}"));
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(ChangeError::Invalid(format!("invalid proto: {proto}")));
    }
    let parse = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(ports)?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn valid_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-')
}

fn healthcheck(rest: &str) -> Result<Healthcheck, ChangeError> {
    let mut hc = Healthcheck::default();
    let mut rest = rest.trim();
    while let Some(flag) = rest.strip_prefix("--") {
        let (f, after) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        let (name, value) = f
            .split_once('=')
            .ok_or_else(|| ChangeError::Invalid(format!("missing value for flag --{f}")))?;
        match name {
            "interval" => hc.interval = Some(duration_ns(value)?),
            "timeout" => hc.timeout = Some(duration_ns(value)?),
            "start-period" => hc.start_period = Some(duration_ns(value)?),
            "start-interval" => hc.start_interval = Some(duration_ns(value)?),
            "retries" => {
                hc.retries =
                    Some(value.parse().map_err(|_| {
                        ChangeError::Invalid(format!("invalid retries value: {value}"))
                    })?)
            }
            _ => return Err(ChangeError::Invalid(format!("unknown flag: {name}"))),
        }
        rest = after.trim_start();
    }
    let (kind, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim();
    hc.test = Some(match kind.to_ascii_uppercase().as_str() {
        "NONE" if args.is_empty() => vec!["NONE".to_string()],
        "CMD" if !args.is_empty() => match json_array(args) {
            Some(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
            None => vec!["CMD-SHELL".to_string(), args.to_string()],
        },
        _ => {
            return Err(ChangeError::Invalid(
                "Unknown type in HEALTHCHECK (try CMD or NONE)".into(),
            ))
        }
    });
    Ok(hc)
}

/// Go durations: `30s`, `1m30s`, `500ms`, `1h`, `10us`, `5ns`.
fn duration_ns(s: &str) -> Result<i64, ChangeError> {
    berth_api::units::go_duration_ns(s)
        .ok_or_else(|| ChangeError::Invalid(format!("time: invalid duration {s:?}")))
}

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
