//! Berth's firewall: one nftables table of its own (`ip berth` by default),
//! rendered whole from data (pure) and swapped in atomically with `nft -j`.
//! No other table, chain or policy is ever touched.
//!
//! Chains: `prerouting`/`output` (nat, dstnat) send traffic for the host's
//! own addresses to `ports`, which DNATs published ports to containers;
//! `postrouting` (nat, srcnat) masquerades outbound traffic of non-internal
//! networks, traffic from 127.0.0.0/8 reaching a bridge (published ports
//! used through loopback, with `route_localnet` on the bridge) and hairpin
//! traffic (a container reaching a published port on its own bridge);
//! `forward` (filter) drops traffic between different networks and in or
//! out of internal ones.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use nftables::batch::Batch;
use nftables::expr::{
    Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload, PayloadField,
    Prefix, CT,
};
/// A batch of nftables commands, as [`render`] makes and [`apply`] runs.
pub use nftables::schema::Nftables;
use nftables::schema::{Chain, NfListObject, Rule, Table};
use nftables::stmt::{JumpTarget, Match, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use crate::Error;

/// A network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRule {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// No traffic in or out of the bridge but between its containers.
    pub internal: bool,
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port: traffic for `host_ip` (any of the host's
/// addresses when `None`) on `host_port` goes to `ctr_ip:ctr_port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRule {
    pub proto: Proto,
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub ctr_ip: Ipv4Addr,
    pub ctr_port: u16,
}

/// Everything the table holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub networks: Vec<NetRule>,
    pub ports: Vec<PortRule>,
}

pub(crate) fn s(text: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(text.to_string()))
}

pub(crate) fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(protocol),
            field: Cow::Borrowed(field),
        },
    )))
}

pub(crate) fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn prefix(net: &Ipv4Net) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(s(&net.network().to_string())),
        len: u32::from(net.prefix_len()),
    }))
}

pub(crate) fn is(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::EQ,
    })
}

pub(crate) fn is_not(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::NEQ,
    })
}

fn local_daddr() -> Statement<'static> {
    let mut flags = HashSet::new();
    flags.insert(FibFlag::Daddr);
    is(
        Expression::Named(NamedExpression::Fib(Fib {
            result: FibResult::Type,
            flags,
        })),
        s("local"),
    )
}

fn masquerade() -> Statement<'static> {
    Statement::Masquerade(None)
}

/// The batch that replaces table `name` with `rules`, atomically: the
/// table is added (a no-op when it exists), deleted and built again in one
/// transaction.
pub fn render(name: &str, rules: &Ruleset) -> Nftables<'static> {
    let family = NfFamily::IP;
    let table: Cow<'static, str> = Cow::Owned(name.to_string());
    let mut batch = Batch::new();
    let t = Table {
        family,
        name: table.clone(),
        handle: None,
    };
    batch.add(NfListObject::Table(t.clone()));
    batch.delete(NfListObject::Table(t.clone()));
    batch.add(NfListObject::Table(t));
    let chain = |name: &'static str, kind: Option<(NfChainType, NfHook, i32)>| Chain {
        family,
        table: table.clone(),
        name: Cow::Borrowed(name),
        _type: kind.map(|k| k.0),
        hook: kind.map(|k| k.1),
        prio: kind.map(|k| k.2),
        policy: kind.map(|_| NfChainPolicy::Accept),
        ..Default::default()
    };
    batch.add(NfListObject::Chain(chain("ports", None)));
    batch.add(NfListObject::Chain(chain(
        "prerouting",
        Some((NfChainType::NAT, NfHook::Prerouting, -100)),
    )));
    batch.add(NfListObject::Chain(chain(
        "output",
        Some((NfChainType::NAT, NfHook::Output, -100)),
    )));
    batch.add(NfListObject::Chain(chain(
        "postrouting",
        Some((NfChainType::NAT, NfHook::Postrouting, 100)),
    )));
    batch.add(NfListObject::Chain(chain(
        "forward",
        Some((NfChainType::Filter, NfHook::Forward, 0)),
    )));
    let rule = |chain: &'static str, expr: Vec<Statement<'static>>| {
        NfListObject::Rule(Rule {
            family,
            table: table.clone(),
            chain: Cow::Borrowed(chain),
            expr: Cow::Owned(expr),
            ..Default::default()
        })
    };
    let to_ports = || {
        vec![
            local_daddr(),
            Statement::Jump(JumpTarget {
                target: Cow::Borrowed("ports"),
            }),
        ]
    };
    batch.add(rule("prerouting", to_ports()));
    batch.add(rule("output", to_ports()));
    let mut ports = rules.ports.clone();
    ports.sort();
    for p in &ports {
        let mut expr = Vec::new();
        if let Some(ip) = p.host_ip {
            expr.push(is(payload("ip", "daddr"), s(&ip.to_string())));
        }
        expr.push(is(
            payload(p.proto.as_str(), "dport"),
            Expression::Number(u32::from(p.host_port)),
        ));
        expr.push(Statement::DNAT(Some(NAT {
            addr: Some(s(&p.ctr_ip.to_string())),
            family: None,
            port: Some(Expression::Number(u32::from(p.ctr_port))),
            flags: None,
        })));
        batch.add(rule("ports", expr));
    }
    let bridges: Vec<&NetRule> = rules.networks.iter().collect();
    for n in &bridges {
        let br = || s(&n.bridge);
        if !n.internal {
            batch.add(rule(
                "postrouting",
                vec![
                    is(payload("ip", "saddr"), prefix(&n.subnet)),
                    is_not(meta(MetaKey::Oifname), br()),
                    masquerade(),
                ],
            ));
        }
        batch.add(rule(
            "postrouting",
            vec![
                is(
                    payload("ip", "saddr"),
                    prefix(&"127.0.0.0/8".parse().expect("valid net")),
                ),
                is(meta(MetaKey::Oifname), br()),
                masquerade(),
            ],
        ));
        batch.add(rule(
            "postrouting",
            vec![
                is(payload("ip", "saddr"), prefix(&n.subnet)),
                is(meta(MetaKey::Oifname), br()),
                Statement::Match(Match {
                    left: Expression::Named(NamedExpression::CT(CT {
                        key: Cow::Borrowed("status"),
                        family: None,
                        dir: None,
                    })),
                    right: s("dnat"),
                    // A bit test: the status holds other bits too.
                    op: Operator::IN,
                }),
                masquerade(),
            ],
        ));
        let others = bridges
            .iter()
            .filter(|o| o.bridge != n.bridge)
            .map(|o| o.bridge.as_str());
        for expr in isolation(&n.bridge, n.internal, others) {
            batch.add(rule("forward", expr));
        }
    }
    batch.to_nftables()
}

/// The `forward` rules that keep a bridge's traffic in: all of it in and
/// out of an internal one, and to each of the `others`. The same for both
/// address families.
pub(crate) fn isolation<'a>(
    bridge: &str,
    internal: bool,
    others: impl Iterator<Item = &'a str>,
) -> Vec<Vec<Statement<'static>>> {
    let br = || s(bridge);
    let mut out = Vec::new();
    if internal {
        out.push(vec![
            is(meta(MetaKey::Iifname), br()),
            is_not(meta(MetaKey::Oifname), br()),
            Statement::Drop(None),
        ]);
        out.push(vec![
            is(meta(MetaKey::Oifname), br()),
            is_not(meta(MetaKey::Iifname), br()),
            Statement::Drop(None),
        ]);
    }
    for other in others {
        out.push(vec![
            is(meta(MetaKey::Iifname), br()),
            is(meta(MetaKey::Oifname), s(other)),
            Statement::Drop(None),
        ]);
    }
    out
}

/// The batch that removes table `name` (added first so the delete cannot
/// fail when it is already gone).
pub fn render_delete(name: &str) -> Nftables<'static> {
    let t = Table {
        family: NfFamily::IP,
        name: Cow::Owned(name.to_string()),
        handle: None,
    };
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(t.clone()));
    batch.delete(NfListObject::Table(t));
    batch.to_nftables()
}

/// Hands a batch to `nft -j -f -`.
pub fn apply(batch: &Nftables<'_>) -> Result<(), Error> {
    nftables::helper::apply_ruleset(batch).map_err(|e| Error::Firewall(e.to_string()))
}

/// Root: the kernel takes the table `render` makes (twice: applying again
/// replaces it rather than adding to it) and `nft list` shows `golden`
/// (the name as `NAME`); `delete` removes it, also when it is absent, and
/// however the test ends.
#[cfg(test)]
pub(crate) fn kernel_round_trip(
    family: &str,
    name: &str,
    render: &dyn Fn(&str) -> Nftables<'static>,
    delete: &dyn Fn(&str) -> Nftables<'static>,
    golden: &str,
) {
    struct Gone<'a>(&'a str, &'a dyn Fn(&str) -> Nftables<'static>);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            let _ = apply(&(self.1)(self.0));
        }
    }
    let _gone = Gone(name, delete);
    apply(&render(name)).expect("nft applies the ruleset (needs root and nft)");
    apply(&render(name)).expect("nft re-applies the ruleset");
    let text = crate::drift::listed(family, name)
        .expect("nft list")
        .unwrap_or_default()
        .replace(name, "NAME");
    assert_eq!(text, golden, "nft lists the table as the golden text");
    apply(&delete(name)).unwrap();
    apply(&delete(name)).expect("deleting an absent table is fine");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ruleset {
        Ruleset {
            networks: vec![
                NetRule {
                    bridge: "berth0".into(),
                    subnet: "172.17.0.0/16".parse().unwrap(),
                    internal: false,
                },
                NetRule {
                    bridge: "br-int".into(),
                    subnet: "10.9.0.0/24".parse().unwrap(),
                    internal: true,
                },
            ],
            ports: vec![
                PortRule {
                    proto: Proto::Udp,
                    host_ip: None,
                    host_port: 15353,
                    ctr_ip: "172.17.0.3".parse().unwrap(),
                    ctr_port: 53,
                },
                PortRule {
                    proto: Proto::Tcp,
                    host_ip: Some(Ipv4Addr::LOCALHOST),
                    host_port: 18080,
                    ctr_ip: "172.17.0.2".parse().unwrap(),
                    ctr_port: 80,
                },
            ],
        }
    }

    /// The rendered batch, one command per line, as the golden text.
    fn lines(batch: &Nftables<'_>) -> Vec<String> {
        let v = serde_json::to_value(batch).unwrap();
        v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.to_string())
            .collect()
    }

    #[test]
    fn golden_ruleset() {
        let got = lines(&render("berth", &sample()));
        let golden = include_str!("testdata/ruleset.golden");
        let want: Vec<&str> = golden.lines().collect();
        if got != want {
            panic!(
                "rendered ruleset differs from the golden file:\n{}",
                got.join("\n")
            );
        }
    }

    /// Root: the kernel takes the rendered table, and lists it back as the
    /// golden nft text; the table is removed however the test ends.
    #[test]
    fn kernel_accepts_the_ruleset() {
        kernel_round_trip(
            "ip",
            &format!("berth-test-{}", std::process::id()),
            &|name| render(name, &sample()),
            &render_delete,
            include_str!("testdata/ruleset.nft.golden"),
        );
    }

    #[test]
    fn delete_is_safe_when_absent() {
        let got = lines(&render_delete("berth-x"));
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with(r#"{"add":{"table""#));
        assert!(got[1].starts_with(r#"{"delete":{"table""#));
    }
}
