//! The network service over the in-memory host: networks, attachments,
//! ports, DNS names and cleanup, with no kernel work.

use std::sync::Arc;

use berth_network::nft::Proto;

use super::ports::PortRequest;
use super::*;

fn service(dir: &tempfile::TempDir) -> (NetworkService, Arc<FakeHost>) {
    let host = Arc::new(FakeHost::default());
    let svc = NetworkService::open(
        dir.path().join("network"),
        dir.path().join("netns"),
        NetSettings::default(),
        Events::default(),
        host.clone(),
    )
    .unwrap();
    (svc, host)
}

fn create(name: &str, subnet: Option<&str>) -> CreateNetwork {
    CreateNetwork {
        name: name.into(),
        driver: String::new(),
        internal: false,
        attachable: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        subnet: subnet.map(|s| s.parse().unwrap()),
        gateway: None,
        ip_range: None,
        aux_addresses: BTreeMap::new(),
        ipv6: false,
        subnet6: None,
        gateway6: None,
        ip_range6: None,
    }
}

fn endpoint(n: &NetworkRecord) -> Endpoint {
    Endpoint {
        network_id: n.id.clone(),
        network_name: n.name.clone(),
        aliases: vec!["web".into()],
        ..Default::default()
    }
}

#[test]
fn builtins_bridges_and_removal() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, host) = service(&dir);
    let names: Vec<String> = svc.list().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    assert_eq!(host.links(), ["berth0"], "the default bridge is up");
    let n = svc.create(create("app", Some("10.77.0.0/24"))).unwrap();
    assert_eq!(n.gateway.unwrap().to_string(), "10.77.0.1");
    assert!(host.links().contains(&n.bridge));
    let err = svc
        .create(create("other", Some("10.77.0.128/25")))
        .unwrap_err();
    assert!(err.to_string().contains("Pool overlaps"), "{err}");
    let err = svc.create(create("app", None)).unwrap_err();
    assert_eq!(err.to_string(), "network with name app already exists");
    assert!(svc
        .remove("bridge")
        .unwrap_err()
        .to_string()
        .contains("pre-defined"));
    svc.remove("app").unwrap();
    assert_eq!(host.links(), ["berth0"]);
    assert!(matches!(svc.get("app"), Err(Error::NoSuchNetwork(_))));
}

#[test]
fn attach_ports_dns_and_detach() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, host) = service(&dir);
    let n = svc.create(create("app", Some("10.78.0.0/24"))).unwrap();
    let cid = "c".repeat(64);
    let mut eps = vec![endpoint(&n)];
    let req = PortRequest {
        proto: Proto::Tcp,
        ctr_port: 80,
        host_ip: None,
        host_ports: (8080, 8080),
    };
    let (netns, published) = svc
        .attach(&cid, "web1", &mut eps, std::slice::from_ref(&req))
        .unwrap();
    assert!(netns.exists(), "the namespace is held at its path");
    assert_eq!(eps[0].ip.unwrap().to_string(), "10.78.0.2");
    assert_eq!(eps[0].if_name, "eth0");
    assert!(host.links().contains(&eps[0].host_veth));
    assert_eq!(published[0].host_port, 8080);
    assert!(host.has_table("ip", "berth"));
    assert!(host.firewall().contains("8080"), "{}", host.firewall());
    assert!(svc.attached(&n.id).contains_key(&cid));
    // The same host port is taken while the first container runs.
    let other = "d".repeat(64);
    let mut eps2 = vec![endpoint(&n)];
    let err = svc
        .attach(&other, "web2", &mut eps2, std::slice::from_ref(&req))
        .unwrap_err();
    assert!(
        err.to_string().contains("port is already allocated"),
        "{err}"
    );
    assert!(eps2[0].ip.is_none() && !svc.netns_path(&other).exists());
    // A network with containers on it cannot go.
    assert!(svc
        .remove("app")
        .unwrap_err()
        .to_string()
        .contains("active endpoints"));
    assert!(svc.detach(&cid, &eps).is_empty());
    assert!(!netns.exists());
    assert!(!host.firewall().contains("8080"));
    // Released: the port can be taken again.
    svc.attach(&other, "web2", &mut eps2, &[req]).unwrap();
    assert!(svc.detach(&other, &eps2).is_empty());
    svc.remove("app").unwrap();
}

#[test]
fn reconcile_removes_what_no_container_owns() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, host) = service(&dir);
    let n = svc.create(create("app", Some("10.79.0.0/24"))).unwrap();
    let cid = "e".repeat(64);
    let mut eps = vec![endpoint(&n)];
    svc.attach(&cid, "gone", &mut eps, &[]).unwrap();
    // A daemon that restarts finds the namespace and veth but no running
    // container: they go.
    let (again, _) = {
        let host2: Arc<dyn NetworkHost> = host.clone();
        let svc2 = NetworkService::open(
            dir.path().join("network"),
            dir.path().join("netns"),
            NetSettings::default(),
            Events::default(),
            host2,
        )
        .unwrap();
        (svc2, ())
    };
    let problems = again.check(false);
    assert_eq!(problems.len(), 2, "{problems:?}");
    again.reconcile();
    assert!(again.check(false).is_empty());
    assert!(!host.links().contains(&eps[0].host_veth));
    assert!(!svc.netns_path(&cid).exists());
}
