//! Registry credentials where Docker keeps them: `$DOCKER_CONFIG/config.json`
//! (`~/.docker/config.json`): `auths` entries of base64 `user:password`,
//! or a credential helper (`credsStore`, `credHelpers`) run as
//! `docker-credential-<name> get|store|erase`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{json, Value};

/// Docker Hub's key in `auths`.
pub const HUB: &str = "https://index.docker.io/v1/";

/// `$DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return d.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".docker")
}

/// The registry a reference lives on, as `auths` keys it.
pub fn server_of(reference: &str) -> String {
    let first = reference.split('/').next().unwrap_or_default();
    let has_domain = reference.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain && first != "docker.io" && first != "index.docker.io" {
        first.to_string()
    } else {
        HUB.to_string()
    }
}

/// `login`'s argument as an `auths` key (Docker Hub when empty).
pub fn normalize_server(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    match s {
        "" | "docker.io" | "index.docker.io" | "index.docker.io/v1" | "registry-1.docker.io" => {
            HUB.to_string()
        }
        other => other.split('/').next().unwrap_or(other).to_string(),
    }
}

fn load(dir: &Path) -> Value {
    std::fs::read(dir.join("config.json"))
        .map(|b| parse(&b))
        .unwrap_or_else(|_| json!({}))
}

/// A `config.json`'s bytes; anything that is not a JSON object reads as
/// an empty configuration.
pub fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

fn save(dir: &Path, v: &Value) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join("config.json");
    let tmp = dir.join(".config.json.tmp");
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| e.to_string())?;
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        f.write_all(&bytes)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The helper configured for `server`, if any. A name that is not a plain
/// word (a `/`, a NUL, `..`) is ignored: it would name a program outside
/// `PATH` instead of `docker-credential-<name>`.
pub fn helper(cfg: &Value, server: &str) -> Option<String> {
    cfg["credHelpers"][server]
        .as_str()
        .or_else(|| cfg["credsStore"].as_str())
        .filter(|h| !h.is_empty() && !h.contains(['/', '\0']) && !h.contains(".."))
        .map(str::to_string)
}

fn run_helper(name: &str, action: &str, input: &str) -> Result<String, String> {
    let bin = format!("docker-credential-{name}");
    let mut child = Command::new(&bin)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {bin}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("{bin}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{bin}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{bin} {action}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The stored username and password for `server`.
pub fn get(dir: &Path, server: &str) -> Option<(String, String)> {
    let cfg = load(dir);
    if let Some(h) = helper(&cfg, server) {
        let out = run_helper(&h, "get", server).ok()?;
        let v: Value = serde_json::from_str(&out).ok()?;
        return Some((
            v["Username"].as_str()?.to_string(),
            v["Secret"].as_str()?.to_string(),
        ));
    }
    inline_credentials(&cfg, server)
}

/// The `auths.<server>.auth` entry (base64 of `user:password`).
pub fn inline_credentials(cfg: &Value, server: &str) -> Option<(String, String)> {
    let auth = cfg["auths"][server]["auth"].as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Stores credentials for `server` (through its helper when one is set).
pub fn store(dir: &Path, server: &str, user: &str, password: &str) -> Result<(), String> {
    let mut cfg = load(dir);
    if let Some(h) = helper(&cfg, server) {
        let input = json!({"ServerURL": server, "Username": user, "Secret": password}).to_string();
        run_helper(&h, "store", &input)?;
        if cfg["auths"].get(server).is_none() {
            cfg["auths"][server] = json!({});
        }
        return save(dir, &cfg);
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if !cfg["auths"].is_object() {
        cfg["auths"] = json!({});
    }
    cfg["auths"][server] = json!({ "auth": auth });
    save(dir, &cfg)
}

/// Removes the credentials for `server`; says whether there were any.
pub fn erase(dir: &Path, server: &str) -> Result<bool, String> {
    let mut cfg = load(dir);
    let had = cfg["auths"].get(server).is_some();
    if let Some(h) = helper(&cfg, server) {
        run_helper(&h, "erase", server)?;
    }
    if let Some(auths) = cfg["auths"].as_object_mut() {
        auths.remove(server);
    }
    save(dir, &cfg)?;
    Ok(had)
}

/// `X-Registry-Auth` for the daemon: base64url JSON.
pub fn registry_auth(user: &str, password: &str, server: &str) -> String {
    berth_api::auth::AuthConfig {
        username: user.to_string(),
        password: password.to_string(),
        serveraddress: server.to_string(),
        ..Default::default()
    }
    .to_header()
}

/// The `X-Registry-Auth` for a reference, from the stored credentials.
pub fn auth_for(reference: &str) -> Option<String> {
    let server = server_of(reference);
    let (u, p) = get(&config_dir(), &server)?;
    Some(registry_auth(&u, &p, &server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers() {
        assert_eq!(server_of("busybox"), HUB);
        assert_eq!(server_of("library/busybox:1"), HUB);
        assert_eq!(server_of("docker.io/library/busybox"), HUB);
        assert_eq!(server_of("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000");
        assert_eq!(server_of("localhost/x"), "localhost");
        assert_eq!(normalize_server(""), HUB);
        assert_eq!(
            normalize_server("https://reg.example:5000/"),
            "reg.example:5000"
        );
    }

    #[test]
    fn store_get_erase() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths": {"other": {"auth": "eDp5"}}, "detachKeys": "ctrl-x"}"#,
        )
        .unwrap();
        store(dir.path(), "127.0.0.1:5000", "alice", "s3:cret").unwrap();
        assert_eq!(
            get(dir.path(), "127.0.0.1:5000"),
            Some(("alice".into(), "s3:cret".into()))
        );
        let cfg = load(dir.path());
        assert_eq!(cfg["detachKeys"], "ctrl-x", "other settings are kept");
        assert_eq!(
            cfg["auths"]["127.0.0.1:5000"]["auth"],
            "YWxpY2U6czM6Y3JldA=="
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(erase(dir.path(), "127.0.0.1:5000").unwrap());
        assert_eq!(get(dir.path(), "127.0.0.1:5000"), None);
        assert_eq!(get(dir.path(), "other"), Some(("x".into(), "y".into())));
        let header = registry_auth("a", "b", "s");
        let v: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE
                .decode(header)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(v["username"], "a");
    }

    #[test]
    fn helper_names_are_plain_words() {
        let cfg = parse(
            br#"{"credsStore": "pass", "credHelpers": {"a": "../../bin/sh", "b": "x/y", "c": ""}}"#,
        );
        assert_eq!(helper(&cfg, "other").as_deref(), Some("pass"));
        assert_eq!(helper(&cfg, "a"), None);
        assert_eq!(helper(&cfg, "b"), None);
        assert_eq!(helper(&cfg, "c").as_deref(), None);
        assert_eq!(parse(b"[1]"), json!({}));
        assert_eq!(parse(b"\xff"), json!({}));
    }
}
