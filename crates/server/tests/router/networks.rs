//! Network create and inspect shapes: IPv6 pools, Docker's errors.

use axum::http::StatusCode;
use serde_json::json;

use crate::api::Api;

crate::tests!(ipv6_networks);

fn ip6_table_exists(api: &Api) -> bool {
    api.network.has_table("ip6", api.nft_table())
}

async fn ipv6_networks(api: &Api) {
    let a = api
        .post_json(
            "/networks/create",
            &json!({"Name": "rt-v6", "EnableIPv6": true,
                    "IPAM": {"Config": [{"Subnet": "fd99:1::/64", "Gateway": "fd99:1::ffff", "IPRange": "fd99:1::/96"}]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let n = api.get("/networks/rt-v6").await.json();
    assert_eq!(n["EnableIPv6"], true, "{n}");
    let config = n["IPAM"]["Config"].as_array().expect("config");
    assert_eq!(config.len(), 2, "an IPv4 pool is chosen too: {n}");
    assert_eq!(
        config[1],
        json!({"Subnet": "fd99:1::/64", "Gateway": "fd99:1::ffff", "IPRange": "fd99:1::/96"})
    );
    assert!(
        ip6_table_exists(api),
        "the ip6 table exists with an IPv6 network"
    );

    let a = api
        .post_json(
            "/networks/create",
            &json!({"Name": "rt-v6-auto", "EnableIPv6": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let n = api.get("/networks/rt-v6-auto").await.json();
    let subnet = n["IPAM"]["Config"][1]["Subnet"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        subnet.starts_with("fd") && subnet.ends_with("::/64"),
        "a unique local /64: {n}"
    );

    let cases = [
        (
            json!({"Name": "rt-v6-bad", "IPAM": {"Config": [{"Subnet": "fd99:2::/64"}]}}),
            StatusCode::BAD_REQUEST,
            "an IPv6 subnet needs an IPv6 network: create it with EnableIPv6 (--ipv6)",
        ),
        (
            json!({"Name": "rt-v6-bad", "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": "fd99:1:0:0:1::/80"}]}}),
            StatusCode::CONFLICT,
            "invalid pool request: Pool overlaps with other one on this address space (fd99:1::/64)",
        ),
        (
            json!({"Name": "rt-v6-bad", "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": "fd99:3::/64", "Gateway": "fd99:4::1"}]}}),
            StatusCode::BAD_REQUEST,
            "no matching subnet for gateway fd99:4::1",
        ),
        (
            json!({"Name": "rt-v6-bad", "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": "fd99:5::/64"}, {"Subnet": "fd99:6::/64"}]}}),
            StatusCode::BAD_REQUEST,
            "several IPv6 pools per network are not supported yet",
        ),
    ];
    for (body, status, message) in cases {
        let a = api.post_json("/networks/create", &body).await;
        assert_eq!(a.status, status, "{body}: {}", a.text());
        assert_eq!(a.message(), message, "{body}");
    }
    for name in ["rt-v6", "rt-v6-auto"] {
        assert_eq!(
            api.delete(format!("/networks/{name}")).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert!(
        !ip6_table_exists(api),
        "the ip6 table goes with the last IPv6 network"
    );
}
