//! From the stored configuration to BIRD's: what is announced (connected LANs, not the
//! uplink, the VTIs or loopback), what may never be learned (the tunnels' own endpoints),
//! neighbors with their passwords and filters, and why nothing runs when it cannot.

use std::sync::Arc;

use serde_json::json;
use strait_control::routing::desired;
use strait_dataplane::HostNetwork;
use strait_policy::{Actor, Policy};
use strait_store::Store;

const T0: &str = "/infra/tier-0s/t0";
const SVC: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn";
const BGP: &str = "/infra/tier-0s/t0/locale-services/default/bgp";

fn policy() -> (tempfile::TempDir, Policy) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    (dir, Policy::open(store).unwrap())
}

fn patch(p: &Policy, path: &str, body: serde_json::Value) {
    p.patch(path, &body, &Actor::system())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
}

fn host(interface: &str, cidr: &str) -> HostNetwork {
    HostNetwork {
        interface: interface.into(),
        address: cidr.parse().unwrap(),
    }
}

fn site(p: &Policy) {
    patch(p, T0, json!({}));
    patch(p, SVC, json!({}));
    patch(
        p,
        &format!("{SVC}/local-endpoints/le"),
        json!({"local_address": "198.51.100.1"}),
    );
    patch(
        p,
        &format!("{SVC}/sessions/s"),
        json!({"resource_type": "RouteBasedIPSecVpnSession", "local_endpoint_path": format!("{SVC}/local-endpoints/le"),
               "peer_address": "198.51.100.2", "peer_id": "198.51.100.2", "psk": "a-psk-of-some-length",
               "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": ["169.254.10.1"], "prefix_length": 30}]}]}),
    );
}

#[test]
fn nothing_runs_without_a_local_as_and_the_status_says_why() {
    let (_d, p) = policy();
    site(&p);
    patch(
        &p,
        &format!("{BGP}/neighbors/n"),
        json!({"neighbor_address": "169.254.10.2", "remote_as_num": "65002"}),
    );
    let d = desired(&p.snapshot_all().unwrap(), &[]);
    assert!(d.config.is_none());
    let why = d.neighbors[0].problem.as_deref().unwrap();
    assert!(why.contains("local_as_num"), "{why}");
}

#[test]
fn connected_lans_are_announced_and_tunnel_endpoints_never_learned() {
    let (_d, p) = policy();
    site(&p);
    patch(
        &p,
        BGP,
        json!({"local_as_num": "65001", "ebgp_admin_distance": 30}),
    );
    patch(
        &p,
        "/infra/tier-0s/t0/locale-services/default",
        json!({"route_redistribution_config": {"redistribution_rules": [
            {"route_redistribution_types": ["TIER0_CONNECTED", "TIER0_STATIC"]}]}}),
    );
    patch(
        &p,
        "/infra/tier-0s/t0/static-routes/r",
        json!({"network": "10.9.0.0/16", "next_hops": [{"ip_address": "169.254.10.2"}]}),
    );
    patch(
        &p,
        "/infra/tier-0s/t0/prefix-lists/in",
        json!({"prefixes": [{"network": "10.2.0.0/16", "le": 24}]}),
    );
    patch(
        &p,
        &format!("{BGP}/neighbors/n"),
        json!({"neighbor_address": "169.254.10.2", "remote_as_num": "65002", "source_addresses": ["169.254.10.1"],
               "password": "pw-1", "bfd": {"enabled": true, "interval": 300},
               "route_filtering": [{"address_family": "IPV4", "in_route_filters": ["/infra/tier-0s/t0/prefix-lists/in"], "maximum_routes": 50}]}),
    );
    let vti = strait_dataplane::vti::vti_name(&format!("{SVC}/sessions/s"));
    let hosts = [
        host("lo", "127.0.0.1/8"),
        host("uplink", "198.51.100.1/24"),
        host(&vti, "169.254.10.1/30"),
        host("lan0", "10.1.0.1/24"),
        host("lan1", "fe80::1/64"),
    ];
    let d = desired(&p.snapshot_all().unwrap(), &hosts);
    let cfg = d.config.expect("BGP runs");
    assert_eq!(cfg.local_as, 65001);
    assert_eq!(cfg.router_id.to_string(), "198.51.100.1");
    assert_eq!(cfg.ebgp_admin_distance, Some(30));
    let nets: Vec<String> = cfg
        .redistribute
        .networks
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(nets, ["10.1.0.0/24", "10.9.0.0/16"]);
    let never: Vec<String> = cfg.never_import.iter().map(ToString::to_string).collect();
    assert_eq!(never, ["198.51.100.1", "198.51.100.2"]);
    let n = &cfg.neighbors[0];
    assert_eq!(n.remote_as, 65002);
    assert_eq!(n.password.as_deref().map(String::as_str), Some("pw-1"));
    assert_eq!(n.bfd.map(|b| (b.interval_ms, b.multiplier)), Some((300, 3)));
    assert_eq!(n.families[0].max_routes, Some(50));
    assert_eq!(
        n.families[0].import_filter.as_deref(),
        Some("/infra/tier-0s/t0/prefix-lists/in")
    );
    assert_eq!(cfg.prefix_lists.len(), 1);
    cfg.validate().expect("BIRD would take it");
    assert!(d.neighbors[0].problem.is_none());
    assert!(d
        .local_routes
        .iter()
        .any(|r| r.network == "169.254.10.0/30" && r.route_type == "t0c"));
}
