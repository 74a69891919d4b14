//! `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`.

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    pub container: String,
    /// `80` or `80/tcp`.
    pub port: Option<String>,
}

/// `"80/tcp" -> [{"HostIp":..,"HostPort":..}]` as `docker port` prints it.
pub fn lines(ports: &Value, only: Option<&str>) -> Vec<String> {
    let Some(map) = ports.as_object() else {
        return Vec::new();
    };
    let wanted = only.map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut out = Vec::new();
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by_key(|k| {
        let (n, proto) = k.split_once('/').unwrap_or((k, ""));
        (n.parse::<u32>().unwrap_or(0), proto.to_string())
    });
    for key in keys {
        if wanted.as_deref().is_some_and(|w| w != key) {
            continue;
        }
        for b in map[key].as_array().into_iter().flatten() {
            let addr = format!(
                "{}:{}",
                b["HostIp"].as_str().unwrap_or_default(),
                b["HostPort"].as_str().unwrap_or_default()
            );
            out.push(if wanted.is_some() {
                addr
            } else {
                format!("{key} -> {addr}")
            });
        }
    }
    out
}

pub async fn run(a: PortArgs, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let info = match client.container_inspect(&a.container).await {
        Ok(v) => v,
        Err(e) => return super::fail(e),
    };
    let found = lines(&info.network_settings["Ports"], a.port.as_deref());
    if found.is_empty() {
        if let Some(p) = &a.port {
            let key = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            };
            eprintln!(
                "Error: No public port '{key}' published for {}",
                a.container
            );
            return 1;
        }
    }
    for l in found {
        println!("{l}");
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_docker() {
        let ports = json!({
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18080"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "15353"}],
            "443/tcp": null,
        });
        assert_eq!(
            lines(&ports, None),
            vec!["53/udp -> 127.0.0.1:15353", "80/tcp -> 0.0.0.0:18080"]
        );
        assert_eq!(lines(&ports, Some("80")), vec!["0.0.0.0:18080"]);
        assert!(lines(&ports, Some("443")).is_empty());
    }
}
