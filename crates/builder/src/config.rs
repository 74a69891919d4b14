//! How metadata instructions change an image's config (pure): the Docker
//! `config` object (`Env`, `Cmd`, `Entrypoint`, `WorkingDir`, `User`,
//! `ExposedPorts`, `Volumes`, `Labels`, `StopSignal`, `Shell`,
//! `Healthcheck`, `OnBuild`), given instructions whose words are already
//! substituted.

use serde_json::{json, Map, Value};

use crate::dockerfile::Form;

/// The default shell of a stage.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// An instruction's effect on the config, with its words substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Cmd(Form),
    Entrypoint(Form),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    Shell(Vec<String>),
    /// `None`: `HEALTHCHECK NONE`.
    Healthcheck {
        test: Option<Form>,
        interval_ns: i64,
        timeout_ns: i64,
        start_period_ns: i64,
        start_interval_ns: i64,
        retries: i64,
    },
    OnBuild(String),
}

fn obj(config: &mut Value) -> &mut Map<String, Value> {
    if !config.is_object() {
        *config = json!({});
    }
    config
        .as_object_mut()
        .unwrap_or_else(|| unreachable!("made an object above"))
}

/// The stage's shell (`Shell`, else `/bin/sh -c`).
pub fn shell(config: &Value) -> Vec<String> {
    config["Shell"]
        .as_array()
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect())
}

/// A command form as argv: the shell form prefixed with the stage's shell.
pub fn argv(config: &Value, form: &Form) -> Vec<String> {
    match form {
        Form::Exec(v) => v.clone(),
        Form::Shell(s) => {
            let mut v = shell(config);
            v.push(s.clone());
            v
        }
    }
}

/// `Env` as pairs, in order.
pub fn env(config: &Value) -> Vec<(String, String)> {
    config["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.to_string(), String::new()),
        })
        .collect()
}

/// Resolves `WORKDIR` against the current one (relative paths join it).
pub fn workdir(config: &Value, dir: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_string()
    } else {
        let cur = config["WorkingDir"].as_str().unwrap_or("/");
        format!("{}/{dir}", cur.trim_end_matches('/'))
    };
    crate::ignore::clean(&joined)
}

fn set_map(m: &mut Map<String, Value>, key: &str, items: &[String]) {
    let entry = m.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    if let Some(o) = entry.as_object_mut() {
        for i in items {
            o.insert(i.clone(), json!({}));
        }
    }
}

/// Applies a change.
pub fn apply(config: &mut Value, change: &Change) {
    let shell_now = shell(config);
    let m = obj(config);
    match change {
        Change::Env(pairs) => {
            let mut env: Vec<String> = m
                .get("Env")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for (k, v) in pairs {
                let item = format!("{k}={v}");
                match env
                    .iter_mut()
                    .find(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) == k)
                {
                    Some(e) => *e = item,
                    None => env.push(item),
                }
            }
            m.insert("Env".into(), json!(env));
        }
        Change::Label(pairs) => {
            let labels = m.entry("Labels".to_string()).or_insert_with(|| json!({}));
            if !labels.is_object() {
                *labels = json!({});
            }
            if let Some(l) = labels.as_object_mut() {
                for (k, v) in pairs {
                    l.insert(k.clone(), json!(v));
                }
            }
        }
        Change::Cmd(f) => {
            let v = match f {
                Form::Exec(v) => v.clone(),
                Form::Shell(s) => {
                    let mut v = shell_now.clone();
                    v.push(s.clone());
                    v
                }
            };
            m.insert("Cmd".into(), json!(v));
        }
        Change::Entrypoint(f) => {
            let v = match f {
                Form::Exec(v) => v.clone(),
                Form::Shell(s) => {
                    let mut v = shell_now.clone();
                    v.push(s.clone());
                    v
                }
            };
            m.insert("Entrypoint".into(), json!(v));
            // As Docker: an ENTRYPOINT resets a CMD inherited or set before it.
            m.insert("Cmd".into(), Value::Null);
        }
        Change::Workdir(dir) => {
            m.insert("WorkingDir".into(), json!(dir));
        }
        Change::User(u) => {
            m.insert("User".into(), json!(u));
        }
        Change::Expose(ports) => {
            let ports: Vec<String> = ports
                .iter()
                .map(|p| {
                    if p.contains('/') {
                        p.to_lowercase()
                    } else {
                        format!("{p}/tcp")
                    }
                })
                .collect();
            set_map(m, "ExposedPorts", &ports);
        }
        Change::Volume(v) => set_map(m, "Volumes", v),
        Change::StopSignal(s) => {
            m.insert("StopSignal".into(), json!(s));
        }
        Change::Shell(s) => {
            m.insert("Shell".into(), json!(s));
        }
        Change::Healthcheck {
            test,
            interval_ns,
            timeout_ns,
            start_period_ns,
            start_interval_ns,
            retries,
        } => {
            let test = match test {
                None => vec!["NONE".to_string()],
                Some(Form::Exec(v)) => {
                    let mut t = vec!["CMD".to_string()];
                    t.extend(v.iter().cloned());
                    t
                }
                Some(Form::Shell(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
            };
            let mut h = json!({ "Test": test });
            for (k, v) in [
                ("Interval", interval_ns),
                ("Timeout", timeout_ns),
                ("StartPeriod", start_period_ns),
                ("StartInterval", start_interval_ns),
                ("Retries", retries),
            ] {
                if *v != 0 {
                    h[k] = json!(v);
                }
            }
            m.insert("Healthcheck".into(), h);
        }
        Change::OnBuild(t) => {
            let list = m.entry("OnBuild".to_string()).or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            if let Some(a) = list.as_array_mut() {
                a.push(json!(t));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes() {
        let mut c = json!({"Env": ["PATH=/usr/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/app"});
        apply(
            &mut c,
            &Change::Env(vec![("A".into(), "2".into()), ("B".into(), "x y".into())]),
        );
        assert_eq!(c["Env"], json!(["PATH=/usr/bin", "A=2", "B=x y"]));
        assert_eq!(env(&c)[2], ("B".to_string(), "x y".to_string()));
        apply(&mut c, &Change::Cmd(Form::Shell("echo hi".into())));
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "echo hi"]));
        apply(
            &mut c,
            &Change::Shell(vec!["/bin/bash".into(), "-c".into()]),
        );
        apply(&mut c, &Change::Entrypoint(Form::Shell("run".into())));
        assert_eq!(c["Entrypoint"], json!(["/bin/bash", "-c", "run"]));
        assert_eq!(c["Cmd"], Value::Null, "ENTRYPOINT resets CMD");
        apply(&mut c, &Change::Expose(vec!["80".into(), "53/UDP".into()]));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        apply(&mut c, &Change::Volume(vec!["/data".into()]));
        assert_eq!(c["Volumes"], json!({"/data": {}}));
        apply(&mut c, &Change::Label(vec![("a".into(), "b".into())]));
        assert_eq!(c["Labels"], json!({"a": "b"}));
        apply(&mut c, &Change::OnBuild("RUN echo x".into()));
        assert_eq!(c["OnBuild"], json!(["RUN echo x"]));
        apply(
            &mut c,
            &Change::Healthcheck {
                test: Some(Form::Shell("true".into())),
                interval_ns: 5_000_000_000,
                timeout_ns: 0,
                start_period_ns: 0,
                start_interval_ns: 0,
                retries: 3,
            },
        );
        assert_eq!(
            c["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64, "Retries": 3})
        );
        assert_eq!(workdir(&c, "sub/../x"), "/app/x");
        assert_eq!(workdir(&c, "/abs/"), "/abs");
        assert_eq!(workdir(&json!({}), "rel"), "/rel");
        assert_eq!(
            argv(&json!({}), &Form::Shell("ls".into())),
            vec!["/bin/sh", "-c", "ls"]
        );
    }
}
