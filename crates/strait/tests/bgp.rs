//! BGP over the VTIs between two straitd (issue 14), configured through the API only:
//! each gateway has a LAN (a dummy interface), redistributes it as a connected network and
//! learns the other's through the tunnel from BIRD; traffic flows LAN to LAN; the neighbor
//! status, the learned and advertised routes and the routing table say so; the password is
//! not in BIRD's world-readable files; BIRD killed is brought back by straitd.
mod common;

use std::time::{Duration, Instant};

use common::netns::{topology, Netns, Topology};
use common::straitd::{configure, StraitInNs};
use serde_json::{json, Value};

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";
const VTI_A: &str = "169.254.100.1";
const VTI_B: &str = "169.254.100.2";
const LAN_A: &str = "10.1.0.1";
const LAN_B: &str = "10.2.0.1";
const LS: &str = "/policy/api/v1/infra/tier-0s/t0/locale-services/default";
const BGP: &str = "/policy/api/v1/infra/tier-0s/t0/locale-services/default/bgp";
const NEIGHBOR: &str = "/policy/api/v1/infra/tier-0s/t0/locale-services/default/bgp/neighbors/peer";
const T0: &str = "/policy/api/v1/infra/tier-0s/t0";
const PASSWORD: &str = "bgp-md5-secret";

/// A LAN interface with `addr`/24 (a veth pair inside the namespace: this kernel has no
/// dummy interfaces).
fn add_lan(ns: &Netns, addr: &str) {
    ns.ip(&[
        "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p",
    ]);
    ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "lan0"]);
    ns.ip(&["link", "set", "lan0p", "up"]);
    ns.ip(&["link", "set", "lan0", "up"]);
}

fn bgp(s: &StraitInNs, local_as: &str, peer_vti: &str, peer_as: &str, own_vti: &str) {
    let (local_as, peer_vti, peer_as, own_vti) = (
        local_as.to_owned(),
        peer_vti.to_owned(),
        peer_as.to_owned(),
        own_vti.to_owned(),
    );
    s.api(move |h| {
        h.patch(BGP, &json!({"local_as_num": local_as})).expect(200);
        h.patch(
            LS,
            &json!({"route_redistribution_config": {"redistribution_rules": [
                {"name": "lan", "route_redistribution_types": ["TIER0_CONNECTED"]}]}}),
        )
        .expect(200);
        h.patch(
            NEIGHBOR,
            &json!({"neighbor_address": peer_vti, "remote_as_num": peer_as,
                    "source_addresses": [own_vti], "password": PASSWORD,
                    "hold_down_time": 9, "keep_alive_time": 3}),
        )
        .expect(200);
    });
}

fn neighbor_status(s: &StraitInNs) -> Value {
    s.api(|h| h.get(&format!("{BGP}/neighbors/status")).expect(200).body)
}

fn wait_for(s: &StraitInNs, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let st = neighbor_status(s);
        if pred(&st) {
            return st;
        }
        if start.elapsed() > timeout {
            panic!(
                "timed out waiting for {what}: {st:#}\nstraitd log:\n{}",
                s.log()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn established(st: &Value) -> bool {
    st["results"][0]["connection_state"] == "ESTABLISHED"
        && st["results"][0]["total_in_prefix_count"].as_u64() >= Some(1)
}

fn lan_ping(t: &Topology) -> bool {
    t.a.exec(&[
        "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", LAN_A, LAN_B,
    ])
    .status
    .success()
}

fn start_pair(t: &Topology) -> (StraitInNs<'_>, StraitInNs<'_>) {
    add_lan(&t.a, LAN_A);
    add_lan(&t.b, LAN_B);
    let sa = StraitInNs::start(&t.a);
    let sb = StraitInNs::start(&t.b);
    sb.api(|h| configure(h, B, A, VTI_B, false, json!({})));
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({})));
    bgp(&sa, "65001", VTI_B, "65002", VTI_A);
    bgp(&sb, "65002", VTI_A, "65001", VTI_B);
    (sa, sb)
}

#[test]
fn two_sites_learn_each_others_lan_over_the_tunnel() {
    let t = topology();
    let start = Instant::now();
    let (sa, sb) = start_pair(&t);
    let st = wait_for(
        &sa,
        "BGP established with routes",
        Duration::from_secs(60),
        established,
    );
    eprintln!(
        "BGP established and routes learned {:?} after configuration",
        start.elapsed()
    );
    wait_for(&sb, "B established", Duration::from_secs(30), established);
    let n = &st["results"][0];
    assert_eq!(n["neighbor_address"], VTI_B);
    assert_eq!(n["remote_as_number"], "65002");
    assert_eq!(n["source_address"], VTI_A);
    assert_eq!(n["hold_time"], 9);
    assert_eq!(n["address_families"][0]["type"], "IPV4_UNICAST");
    assert!(n.get("alarm").is_none(), "{n:#}");

    // B's LAN is in A's kernel through the VTI, installed by BIRD.
    let routes = t.a.run(&["ip", "-4", "route", "show", "proto", "bird"]);
    assert!(routes.contains("10.2.0.0/24 via 169.254.100.2"), "{routes}");
    // A does not learn a route to its peer's (or its own) outer address through the tunnel.
    assert!(!routes.contains("198.51.100"), "{routes}");
    assert!(lan_ping(&t), "LAN A cannot reach LAN B over BGP routes");

    // What the API says about routes.
    let learned = sa.api(|h| h.get(&format!("{NEIGHBOR}/routes")).expect(200).body);
    let nets: Vec<&str> = learned["results"][0]["edge_node_routes"][0]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["network"].as_str())
        .collect();
    assert!(nets.contains(&"10.2.0.0/24"), "{learned:#}");
    assert!(
        !nets.iter().any(|n| n.starts_with("198.51.100")),
        "{learned:#}"
    );
    let advertised = sa.api(|h| {
        h.get(&format!("{NEIGHBOR}/advertised-routes"))
            .expect(200)
            .body
    });
    assert!(
        advertised.to_string().contains("10.1.0.0/24"),
        "{advertised:#}"
    );
    assert!(
        !advertised.to_string().contains("198.51.100."),
        "the uplink is not announced: {advertised:#}"
    );
    let table = sa.api(|h| {
        h.get(&format!("{T0}/routing-table?route_source=BGP"))
            .expect(200)
            .body
    });
    let entries = table["results"][0]["route_entries"].as_array().unwrap();
    assert_eq!(table["results"][0]["status"], "SUCCESS");
    let e = entries
        .iter()
        .find(|e| e["network"] == "10.2.0.0/24")
        .unwrap_or_else(|| panic!("{table:#}"));
    assert_eq!(e["route_type"], "b");
    assert_eq!(e["next_hop"], VTI_B);
    assert_eq!(
        e["interface"],
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s"
    );
    let connected = sa.api(|h| {
        h.get(&format!("{T0}/routing-table?route_source=CONNECTED"))
            .expect(200)
            .body
    });
    assert!(
        connected.to_string().contains("169.254.100.0/30"),
        "{connected:#}"
    );

    // The password is only in BIRD's 0600 configuration, never in straitd's log.
    assert!(!sa.log().contains(PASSWORD));
    drop((sa, sb));
}

#[test]
fn bird_killed_is_brought_back_and_a_deleted_neighbor_withdraws_its_routes() {
    let t = topology();
    let (sa, sb) = start_pair(&t);
    wait_for(&sa, "BGP established", Duration::from_secs(60), established);
    std::thread::sleep(Duration::from_secs(3));
    let before = neighbor_status(&sa)["results"][0]["time_since_established"]
        .as_u64()
        .unwrap();
    let pids = t.a.run(&["pgrep", "-x", "bird"]);
    let pid = pids
        .trim()
        .lines()
        .next()
        .expect("BIRD runs in A's namespace")
        .to_owned();
    t.a.run(&["kill", "-9", &pid]);
    let killed = Instant::now();
    // A new BIRD (the old one may linger as a zombie until straitd reaps it)...
    loop {
        let now = t.a.run(&["pgrep", "-x", "bird"]);
        if now.lines().any(|p| p.trim() != pid) {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "BIRD was not restarted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // ... with a new session (not the old one's age going on).
    wait_for(&sa, "a new BGP session", Duration::from_secs(60), |st| {
        established(st)
            && st["results"][0]["time_since_established"]
                .as_u64()
                .is_some_and(|t| t + 1 < before + killed.elapsed().as_secs())
    });
    eprintln!(
        "BIRD killed: a new session with routes after {:?}",
        killed.elapsed()
    );
    assert!(lan_ping(&t));
    // Deleting the neighbor on A takes its routes out of A's kernel.
    sa.api(|h| h.delete(NEIGHBOR).expect(200));
    let start = Instant::now();
    loop {
        let routes = t.a.run(&["ip", "-4", "route", "show", "proto", "bird"]);
        if !routes.contains("10.2.0.0/24") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "route still there: {routes}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let st = neighbor_status(&sa);
    assert_eq!(st["result_count"], 0, "{st:#}");
    // B notices within its hold time (9 s) and says why.
    let st = wait_for(&sb, "B's neighbor down", Duration::from_secs(30), |st| {
        st["results"][0]["connection_state"] != "ESTABLISHED"
    });
    eprintln!("B's neighbor: {:#}", st["results"][0]);
    drop((sa, sb));
}
