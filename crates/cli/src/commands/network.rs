//! `berth network create|ls|inspect|rm|prune|connect|disconnect`.

use std::io::{BufRead, IsTerminal, Write};

use berth_api::network::{Ipam, IpamConfig, NetworkCreate, NetworkInspect};
use serde_json::{json, Value};

use crate::connect::Target;
use crate::format::render;

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(InspectArgs),
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Driver to manage the network (bridge).
    #[arg(short = 'd', long = "driver", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format.
    #[arg(long)]
    pub subnet: Vec<String>,
    /// Gateway for the subnet.
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container addresses from a sub-range.
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// Restrict external access to the network.
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment.
    #[arg(long)]
    pub attachable: bool,
    /// Enable IPv6 networking (a unique local /64 unless --subnet gives one).
    #[arg(long)]
    pub ipv6: bool,
    /// Set metadata on a network.
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options.
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display network IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Provide filter values (name=, id=, driver=, label=, type=custom|builtin, dangling=).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Provide filter values (label=...).
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container.
    #[arg(long)]
    pub alias: Vec<String>,
    /// IPv4 address.
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address.
    #[arg(long)]
    pub ip6: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    pub network: String,
    pub container: String,
}

fn pairs(list: &[String]) -> std::collections::BTreeMap<String, String> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// One IPAM pool per `--subnet` (one IPv4 and one IPv6 at most), each
/// with the `--gateway` and `--ip-range` inside it, as the docker CLI
/// pairs them.
fn create_body(a: &CreateArgs) -> Result<NetworkCreate, String> {
    let parse = |what: &str, s: &str| -> Result<ipnet::IpNet, String> {
        s.parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| format!("invalid {what}: {s}"))
    };
    let subnets: Vec<ipnet::IpNet> = a
        .subnet
        .iter()
        .map(|s| parse("subnet", s))
        .collect::<Result<_, _>>()?;
    if subnets
        .iter()
        .filter(|s| matches!(s, ipnet::IpNet::V4(_)))
        .count()
        > 1
        || subnets
            .iter()
            .filter(|s| matches!(s, ipnet::IpNet::V6(_)))
            .count()
            > 1
    {
        return Err("several subnets of one IP version per network are not supported yet".into());
    }
    if (!a.gateway.is_empty() || !a.ip_range.is_empty()) && a.subnet.is_empty() {
        return Err("gateway and ip-range need a subnet (--subnet)".into());
    }
    let mut configs: Vec<IpamConfig> = a
        .subnet
        .iter()
        .map(|s| IpamConfig {
            subnet: s.clone(),
            ..Default::default()
        })
        .collect();
    for g in &a.gateway {
        let ip = parse("gateway", g)?.addr();
        let i = subnets
            .iter()
            .position(|s| s.contains(&ip))
            .ok_or_else(|| format!("no matching subnet for gateway {g}"))?;
        configs[i].gateway = g.clone();
    }
    for r in &a.ip_range {
        let range = parse("ip-range", r)?;
        let i = subnets
            .iter()
            .position(|s| s.contains(&range))
            .ok_or_else(|| format!("no matching subnet for range {r}"))?;
        configs[i].ip_range = r.clone();
    }
    Ok(NetworkCreate {
        name: a.name.clone(),
        driver: a.driver.clone(),
        internal: a.internal,
        attachable: a.attachable,
        enable_ipv6: Some(a.ipv6),
        ipam: Some(Ipam {
            driver: "default".into(),
            options: None,
            config: configs,
        }),
        options: pairs(&a.opt),
        labels: pairs(&a.label),
    })
}

fn confirm(question: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("this needs confirmation: use -f when not on a terminal".into());
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub async fn run(cmd: NetworkCommand, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    match cmd {
        NetworkCommand::Create(a) => {
            let body = match create_body(&a) {
                Ok(b) => b,
                Err(e) => return super::fail(e),
            };
            match client.network_create(&body).await {
                Ok(v) => {
                    println!("{}", v.id);
                    0
                }
                Err(e) => super::fail(e),
            }
        }
        NetworkCommand::Ls(a) => {
            let q = match super::filters_query(&a.filter) {
                Ok(q) => q,
                Err(e) => return super::fail(e),
            };
            let nets = match client.networks(&q).await {
                Ok(v) => v,
                Err(e) => return super::fail(e),
            };
            let id = |n: &NetworkInspect| {
                let full = n.id.clone();
                if a.no_trunc {
                    full
                } else {
                    full.chars().take(12).collect()
                }
            };
            if a.quiet {
                for n in &nets {
                    println!("{}", id(n));
                }
                return 0;
            }
            let rows: Vec<Value> = nets
                .iter()
                .map(|n| json!({"ID": id(n), "Name": n.name, "Driver": n.driver, "Scope": n.scope,
                    "IPv6": n.enable_ipv6, "Internal": n.internal, "Labels": n.labels, "CreatedAt": n.created}))
                .collect();
            let headers = [
                ("ID", "NETWORK ID"),
                ("Name", "NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
                ("IPv6", "IPV6"),
                ("Internal", "INTERNAL"),
                ("Labels", "LABELS"),
                ("CreatedAt", "CREATED AT"),
            ];
            match render(
                &rows,
                a.format.as_deref(),
                "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                &headers,
            ) {
                Ok(s) => {
                    print!("{s}");
                    0
                }
                Err(e) => super::fail(e),
            }
        }
        NetworkCommand::Inspect(a) => {
            super::inspect_each(
                &client,
                &a.names,
                |n| format!("/networks/{n}"),
                a.format.as_deref(),
            )
            .await
        }
        NetworkCommand::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                match client
                    .request_empty(hyper::Method::DELETE, &format!("/networks/{n}"))
                    .await
                {
                    Ok(()) => println!("{n}"),
                    Err(e) if a.force && e.is_not_found() => {}
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
            code
        }
        NetworkCommand::Prune(a) => {
            if !a.force {
                match confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?") {
                    Ok(true) => {}
                    Ok(false) => return 0,
                    Err(e) => return super::fail(e),
                }
            }
            let q = match super::filters_query(&a.filter) {
                Ok(q) => q,
                Err(e) => return super::fail(e),
            };
            match client.networks_prune(&q).await {
                Ok(v) => {
                    if !v.networks_deleted.is_empty() {
                        println!("Deleted Networks:");
                        for d in &v.networks_deleted {
                            println!("{d}");
                        }
                    }
                    0
                }
                Err(e) => super::fail(e),
            }
        }
        NetworkCommand::Connect(a) => {
            let mut endpoint = json!({});
            if !a.alias.is_empty() {
                endpoint["Aliases"] = json!(a.alias);
            }
            let ipam = super::netflags::ipam_config(a.ip.as_deref(), a.ip6.as_deref());
            if !ipam.is_null() {
                endpoint["IPAMConfig"] = ipam;
            }
            let body = json!({"Container": a.container, "EndpointConfig": endpoint});
            match client
                .post_json_empty(&format!("/networks/{}/connect", a.network), &body)
                .await
            {
                Ok(()) => 0,
                Err(e) => super::fail(e),
            }
        }
        NetworkCommand::Disconnect(a) => {
            let body = json!({"Container": a.container, "Force": a.force});
            match client
                .post_json_empty(&format!("/networks/{}/disconnect", a.network), &body)
                .await
            {
                Ok(()) => 0,
                Err(e) => super::fail(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(subnet: &[&str], gateway: &[&str], range: &[&str]) -> CreateArgs {
        CreateArgs {
            driver: "bridge".into(),
            subnet: subnet.iter().map(|s| s.to_string()).collect(),
            gateway: gateway.iter().map(|s| s.to_string()).collect(),
            ip_range: range.iter().map(|s| s.to_string()).collect(),
            internal: false,
            attachable: false,
            ipv6: true,
            label: Vec::new(),
            opt: Vec::new(),
            name: "n".into(),
        }
    }

    #[test]
    fn pools_pair_gateways_and_ranges_by_subnet() {
        let body = create_body(&args(
            &["10.5.0.0/24", "2001:389::/64"],
            &["2001:389::ffff", "10.5.0.254"],
            &["2001:389::/96"],
        ))
        .unwrap();
        let body = serde_json::to_value(body).unwrap();
        assert_eq!(
            body["IPAM"]["Config"],
            json!([
                {"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.254"},
                {"Subnet": "2001:389::/64", "Gateway": "2001:389::ffff", "IPRange": "2001:389::/96"}
            ])
        );
        assert_eq!(body["EnableIPv6"], true);
        assert_eq!(
            create_body(&args(&["10.5.0.0/24"], &["10.6.0.1"], &[])).unwrap_err(),
            "no matching subnet for gateway 10.6.0.1"
        );
        assert!(create_body(&args(&["10.5.0.0/24", "10.6.0.0/24"], &[], &[])).is_err());
        assert!(create_body(&args(&["nonsense"], &[], &[])).is_err());
    }
}
