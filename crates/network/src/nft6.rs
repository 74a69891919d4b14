//! The IPv6 half of berth's firewall: table `ip6 <name>` (the name of the
//! `ip` table), present only while an IPv6 network exists, rendered whole
//! (pure) and swapped in with `nft -j` like the IPv4 one. It masquerades
//! the outbound IPv6 traffic of non-internal networks (NAT66, Docker's
//! default for IPv6 networks) and keeps IPv6 networks apart and internal
//! ones closed, as the `ip` table does for IPv4.

use std::borrow::Cow;

use ipnet::Ipv6Net;
use nftables::batch::Batch;
use nftables::expr::{Expression, MetaKey, NamedExpression, Prefix};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::Statement;
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use crate::nft::{is, is_not, isolation, meta, payload, s};

/// An IPv6 network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRule6 {
    pub bridge: String,
    pub subnet: Ipv6Net,
    pub internal: bool,
}

fn prefix6(net: &Ipv6Net) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(s(&net.network().to_string())),
        len: u32::from(net.prefix_len()),
    }))
}

/// The batch that replaces table `ip6 name` with rules for `networks`.
pub fn render6(name: &str, networks: &[NetRule6]) -> Nftables<'static> {
    let family = NfFamily::IP6;
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
    let chain = |name: &'static str, kind: (NfChainType, NfHook, i32)| Chain {
        family,
        table: table.clone(),
        name: Cow::Borrowed(name),
        _type: Some(kind.0),
        hook: Some(kind.1),
        prio: Some(kind.2),
        policy: Some(NfChainPolicy::Accept),
        ..Default::default()
    };
    batch.add(NfListObject::Chain(chain(
        "postrouting",
        (NfChainType::NAT, NfHook::Postrouting, 100),
    )));
    batch.add(NfListObject::Chain(chain(
        "forward",
        (NfChainType::Filter, NfHook::Forward, 0),
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
    for n in networks {
        if !n.internal {
            batch.add(rule(
                "postrouting",
                vec![
                    is(payload("ip6", "saddr"), prefix6(&n.subnet)),
                    is_not(meta(MetaKey::Oifname), s(&n.bridge)),
                    Statement::Masquerade(None),
                ],
            ));
        }
        let others = networks
            .iter()
            .filter(|o| o.bridge != n.bridge)
            .map(|o| o.bridge.as_str());
        for expr in isolation(&n.bridge, n.internal, others) {
            batch.add(rule("forward", expr));
        }
    }
    batch.to_nftables()
}

/// The batch that removes table `ip6 name` (a no-op when it is absent).
pub fn render_delete6(name: &str) -> Nftables<'static> {
    let t = Table {
        family: NfFamily::IP6,
        name: Cow::Owned(name.to_string()),
        handle: None,
    };
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(t.clone()));
    batch.delete(NfListObject::Table(t));
    batch.to_nftables()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<NetRule6> {
        vec![
            NetRule6 {
                bridge: "br-v6".into(),
                subnet: "fd12:3456:789a::/64".parse().unwrap(),
                internal: false,
            },
            NetRule6 {
                bridge: "br-v6int".into(),
                subnet: "2001:db8:1::/64".parse().unwrap(),
                internal: true,
            },
        ]
    }

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
    fn golden_ruleset6() {
        let got = lines(&render6("berth", &sample()));
        let want: Vec<&str> = include_str!("testdata/ruleset6.golden").lines().collect();
        assert!(
            got == want,
            "rendered ruleset differs from the golden file:\n{}",
            got.join("\n")
        );
    }

    /// Root: the kernel takes the table and lists it back as the golden
    /// text; the table is removed however the test ends.
    #[test]
    fn kernel_accepts_the_ruleset6() {
        crate::nft::kernel_round_trip(
            "ip6",
            &format!("berth-test6-{}", std::process::id()),
            &|name| render6(name, &sample()),
            &render_delete6,
            include_str!("testdata/ruleset6.nft.golden"),
        );
    }
}
