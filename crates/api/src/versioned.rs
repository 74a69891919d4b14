//! What the API version in the path changes for the container endpoints,
//! as dockerd's routers apply it: a create request from an old client is
//! read the way that Docker read it, and inspect and list answers carry
//! the fields that Docker returned at that version. Images are in
//! [`crate::image::inspect_for`] and [`crate::image::summary_for`].

use serde_json::{json, Value};

use crate::container::{ContainerInspect, ContainerSummary, CreateRequest};
use crate::ApiVersion;

fn below(v: ApiVersion, minor: u32) -> bool {
    v.major == 1 && v.minor < minor
}

/// Adapts `req` from a client of version `v`; errors are Docker's 400s
/// for settings that version cannot ask for.
pub fn adapt_create(v: ApiVersion, req: &mut CreateRequest) -> Result<(), String> {
    let hc = &mut req.host_config;
    if below(v, 40) {
        for m in &mut hc.mounts {
            if let Some(Value::Object(o)) = &mut m.bind_options {
                o.remove("NonRecursive");
            }
        }
    }
    if below(v, 42) {
        for m in &mut hc.mounts {
            if let Some(Value::Object(o)) = &mut m.bind_options {
                o.remove("CreateMountpoint");
            }
            if m.kind != "volume" {
                m.volume_options = None;
            }
            if m.kind != "tmpfs" {
                m.tmpfs_options = None;
            }
        }
        hc.other.remove("ConsoleSize");
    } else {
        for m in &hc.mounts {
            let set = |o: &Option<Value>| o.as_ref().is_some_and(|o| !o.is_null());
            for (name, opts, kind) in [
                ("VolumeOptions", &m.volume_options, "volume"),
                ("BindOptions", &m.bind_options, "bind"),
                ("TmpfsOptions", &m.tmpfs_options, "tmpfs"),
            ] {
                if set(opts) && m.kind != kind {
                    return Err(format!(
                        "{name} must not be specified on mount type \"{}\"",
                        m.kind
                    ));
                }
            }
        }
    }
    if below(v, 43) {
        hc.annotations.clear();
    }
    if below(v, 44) {
        if let Some(Value::Object(h)) = &mut req.config.healthcheck {
            h.remove("StartInterval");
        }
        hc.read_only_non_recursive = true;
        for m in &hc.mounts {
            let forced = m
                .bind_options
                .as_ref()
                .and_then(|o| o.get("ReadOnlyForceRecursive"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if m.kind == "bind" && forced {
                return Err("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer".into());
            }
        }
        let endpoints: Vec<&String> = req
            .networking_config
            .as_ref()
            .and_then(|n| n.get("EndpointsConfig"))
            .and_then(Value::as_object)
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        if endpoints.len() > 1 {
            let names: Vec<&str> = endpoints.iter().map(|s| s.as_str()).collect();
            return Err(format!(
                "Container cannot be created with multiple network endpoints: {}",
                names.join(", ")
            ));
        }
    }
    if below(v, 45) {
        let subpath = hc.mounts.iter().any(|m| {
            m.volume_options
                .as_ref()
                .and_then(|o| o.get("Subpath"))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        });
        if subpath {
            return Err("VolumeOptions.Subpath needs API v1.45 or newer".into());
        }
    }
    if below(v, 48) {
        if hc.mounts.iter().any(|m| m.kind == "image") {
            return Err("Mount type \"Image\" needs API v1.48 or newer".into());
        }
        if let Some(Value::Object(eps)) = req
            .networking_config
            .as_mut()
            .and_then(|n| n.get_mut("EndpointsConfig"))
        {
            for ep in eps.values_mut() {
                if let Value::Object(ep) = ep {
                    ep.remove("GwPriority");
                }
            }
        }
    }
    Ok(())
}

/// `GET /containers/{id}/json` for version `v`: below 1.45 the aliases on
/// user networks include the short id and the hostname, as they did.
pub fn container_inspect_for(v: ApiVersion, inspect: &ContainerInspect) -> Value {
    let mut out = serde_json::to_value(inspect).unwrap_or(Value::Null);
    if below(v, 45) {
        let short: String = inspect.id.chars().take(12).collect();
        let hostname = inspect.config.hostname.clone();
        if let Some(Value::Object(nets)) = out.pointer_mut("/NetworkSettings/Networks") {
            for (name, ep) in nets.iter_mut() {
                if matches!(name.as_str(), "bridge" | "host" | "none" | "default")
                    || name.starts_with("container:")
                {
                    continue;
                }
                let mut aliases: Vec<String> = ep["Aliases"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                for extra in [&short, &hostname] {
                    if !extra.is_empty() && !aliases.contains(extra) {
                        aliases.push(extra.clone());
                    }
                }
                ep["Aliases"] = json!(aliases);
            }
        }
    }
    out
}

/// One `GET /containers/json` entry for version `v`:
/// `HostConfig.Annotations` from 1.46.
pub fn container_summary_for(v: ApiVersion, summary: &ContainerSummary) -> Value {
    let mut out = serde_json::to_value(summary).unwrap_or(Value::Null);
    if below(v, 46) {
        if let Some(Value::Object(hc)) = out.get_mut("HostConfig") {
            hc.remove("Annotations");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ApiVersion {
        ApiVersion::parse(text).expect("version")
    }

    fn req(body: Value) -> CreateRequest {
        serde_json::from_value(body).expect("request")
    }

    #[test]
    fn old_clients_create_as_docker_read_them() {
        let body = json!({
            "Image": "busybox",
            "Healthcheck": {"Test": ["CMD", "true"], "StartInterval": 5},
            "HostConfig": {
                "Annotations": {"a": "b"},
                "ConsoleSize": [24, 80],
                "Mounts": [
                    {"Type": "bind", "Source": "/h", "Target": "/x", "ReadOnly": true,
                     "BindOptions": {"NonRecursive": true, "CreateMountpoint": true}},
                    {"Type": "tmpfs", "Target": "/t", "VolumeOptions": {"NoCopy": true}}
                ]
            }
        });
        let mut old = req(body.clone());
        adapt_create(v("1.38"), &mut old).expect("1.38");
        assert_eq!(old.host_config.mounts[0].bind_options, Some(json!({})));
        assert_eq!(old.host_config.mounts[1].volume_options, None);
        assert!(old.host_config.annotations.is_empty());
        assert!(!old.host_config.other.contains_key("ConsoleSize"));
        assert_eq!(
            old.config.healthcheck,
            Some(json!({"Test": ["CMD", "true"]}))
        );
        assert!(old.host_config.read_only_non_recursive);

        let mut new = req(body);
        assert_eq!(
            adapt_create(v("1.45"), &mut new).unwrap_err(),
            "VolumeOptions must not be specified on mount type \"tmpfs\""
        );
        let mut new = req(json!({"Image": "busybox", "HostConfig": {"Annotations": {"a": "b"}}}));
        adapt_create(v("1.50"), &mut new).expect("1.50");
        assert_eq!(new.host_config.annotations.len(), 1);
        assert!(!new.host_config.read_only_non_recursive);
    }

    #[test]
    fn settings_old_versions_cannot_ask_for() {
        let err = |ver: &str, body: Value| adapt_create(v(ver), &mut req(body)).unwrap_err();
        assert_eq!(
            err(
                "1.43",
                json!({"Image": "b", "NetworkingConfig": {"EndpointsConfig": {"a": {}, "b": {}}}})
            ),
            "Container cannot be created with multiple network endpoints: a, b"
        );
        assert_eq!(
            err(
                "1.43",
                json!({"Image": "b", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "/h", "Target": "/x", "ReadOnly": true, "BindOptions": {"ReadOnlyForceRecursive": true}}]}})
            ),
            "BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer"
        );
        assert_eq!(
            err(
                "1.44",
                json!({"Image": "b", "HostConfig": {"Mounts": [{"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "a"}}]}})
            ),
            "VolumeOptions.Subpath needs API v1.45 or newer"
        );
        assert_eq!(
            err(
                "1.47",
                json!({"Image": "b", "HostConfig": {"Mounts": [{"Type": "image", "Source": "busybox", "Target": "/x"}]}})
            ),
            "Mount type \"Image\" needs API v1.48 or newer"
        );
        let mut gw = req(
            json!({"Image": "b", "NetworkingConfig": {"EndpointsConfig": {"n": {"GwPriority": 5}}}}),
        );
        adapt_create(v("1.47"), &mut gw).expect("1.47");
        assert_eq!(
            gw.networking_config,
            Some(json!({"EndpointsConfig": {"n": {}}}))
        );
    }

    fn inspect(networks: Value) -> ContainerInspect {
        serde_json::from_value(json!({
            "Id": "0123456789abcdef0123", "Created": "", "Path": "sh", "Args": [],
            "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
                      "OOMKilled": false, "Dead": false, "Pid": 1, "ExitCode": 0, "Error": "",
                      "StartedAt": "", "FinishedAt": ""},
            "Image": "sha256:x", "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "",
            "LogPath": "", "Name": "/web", "RestartCount": 0, "Driver": "overlay",
            "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
            "ExecIDs": null, "HostConfig": {}, "GraphDriver": {}, "Mounts": [],
            "Config": {"Hostname": "0123456789ab", "Image": "busybox"},
            "NetworkSettings": {"Networks": networks}
        }))
        .expect("inspect")
    }

    #[test]
    fn aliases_by_version() {
        let i = inspect(json!({
            "bridge": {"Aliases": null},
            "app_default": {"Aliases": ["web"]}
        }));
        let old = container_inspect_for(v("1.38"), &i);
        assert_eq!(
            old["NetworkSettings"]["Networks"]["app_default"]["Aliases"],
            json!(["web", "0123456789ab"])
        );
        assert_eq!(
            old["NetworkSettings"]["Networks"]["bridge"]["Aliases"],
            Value::Null
        );
        let new = container_inspect_for(v("1.45"), &i);
        assert_eq!(
            new["NetworkSettings"]["Networks"]["app_default"]["Aliases"],
            json!(["web"])
        );
    }

    #[test]
    fn summary_annotations_from_1_46() {
        let s: ContainerSummary = serde_json::from_value(json!({
            "Id": "a", "Names": ["/a"], "Image": "b", "ImageID": "c", "Command": "", "Created": 0,
            "Ports": [], "Labels": {}, "State": "created", "Status": "Created",
            "HostConfig": {"NetworkMode": "default", "Annotations": {"k": "v"}},
            "NetworkSettings": {}, "Mounts": []
        }))
        .expect("summary");
        assert!(container_summary_for(v("1.45"), &s)["HostConfig"]
            .get("Annotations")
            .is_none());
        assert_eq!(
            container_summary_for(v("1.46"), &s)["HostConfig"]["Annotations"],
            json!({"k": "v"})
        );
    }
}
