//! A thousand tunnels between two gateways (issue 16's correctness check in CI;
//! `scripts/bench-scale.sh` measures the same layout at any size, in a release build).
//!
//! Two straitd in two network namespaces joined by a veth. Outer addresses may only come from
//! 198.51.100.0/24 and 203.0.113.0/24, so A has 4 local endpoints (198.51.100.1-4) and B 250
//! (203.0.113.1-250), and session i joins A's address i / 250 to B's address i % 250 (IKE
//! tells sessions apart by their pair of addresses), each with its own /30 VTI subnet in
//! 169.254.0.0/16 (A .1, B .2). Every session is stored through hierarchical `PATCH /infra`
//! requests, B's RESPOND_ONLY in an enabled service, A's INITIATOR in a service enabled once
//! all are stored, with NSX's default profiles (MODP-2048). The test asserts that
//! - all 1,000 sessions come UP on both sides (the service summaries) within 5 minutes;
//! - a sample of 20 tunnels carries pings from A's VTI address to B's;
//! - neither straitd logged an error;
//! - disabling A's service takes every one of A's VTIs away.
//!
//! It runs the release build of straitd, as shipped (built here if need be, as the README's
//! demo builds it; `STRAIT_TEST_STRAITD` names another): a debug straitd checks every
//! invariant of every IKE SA after every input, made for the simulation's small gateways,
//! and at a thousand tunnels that alone keeps it from answering in time.
//!
//! Needs root (fails loudly otherwise, never skips).
mod common;

use std::time::{Duration, Instant};

use common::netns::{ping, Link, Netns};
use common::straitd::{StraitInNs, PSK, SVC};
use serde_json::{json, Value};

const SESSIONS: usize = 1000;
const B_ADDRESSES: usize = 250;
const A_ADDRESSES: usize = SESSIONS / B_ADDRESSES;
const SVC_PATH: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn";
const UP_WITHIN: Duration = Duration::from_secs(300);

fn a_addr(j: usize) -> String {
    format!("198.51.100.{}", 1 + j)
}

fn b_addr(k: usize) -> String {
    format!("203.0.113.{}", 1 + k)
}

fn vti(i: usize, a_side: bool) -> String {
    format!(
        "169.254.{}.{}",
        i / 64,
        (i % 64) * 4 + if a_side { 1 } else { 2 }
    )
}

/// Gateway, service, local endpoints and every session of one side.
fn configure(gw: &StraitInNs, a_side: bool, enabled: bool) {
    let endpoints = if a_side { A_ADDRESSES } else { B_ADDRESSES };
    let sessions: Vec<Value> = (0..SESSIONS)
        .map(|i| {
            let (j, k) = (i / B_ADDRESSES, i % B_ADDRESSES);
            let (local, peer) = if a_side { (j, b_addr(k)) } else { (k, a_addr(j)) };
            json!({"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": {
                "resource_type": "RouteBasedIPSecVpnSession", "id": format!("s{i}"),
                "display_name": format!("s{i}"),
                "local_endpoint_path": format!("{SVC_PATH}/local-endpoints/le-{local}"),
                "peer_address": peer, "peer_id": peer, "psk": PSK,
                "connection_initiation_mode": if a_side { "INITIATOR" } else { "RESPOND_ONLY" },
                "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti(i, a_side)], "prefix_length": 30}]}]
            }})
        })
        .collect();
    gw.api(|h| {
        h.patch("/policy/api/v1/infra/tier-0s/t0", &json!({}))
            .expect(200);
        h.patch(SVC, &json!({"enabled": enabled})).expect(200);
        for x in 0..endpoints {
            let addr = if a_side { a_addr(x) } else { b_addr(x) };
            h.patch(
                &format!("{SVC}/local-endpoints/le-{x}"),
                &json!({"local_address": addr}),
            )
            .expect(200);
        }
        for chunk in sessions.chunks(250) {
            let body = json!({"resource_type": "Infra", "children": [{"resource_type": "ChildTier0", "Tier0": {
                "resource_type": "Tier0", "id": "t0", "children": [{
                    "resource_type": "ChildIPSecVpnService", "IPSecVpnService": {
                        "resource_type": "IPSecVpnService", "id": "vpn", "children": chunk}}]}}]});
            h.patch("/policy/api/v1/infra", &body).expect(200);
        }
    });
}

/// The straitd to measure: `STRAIT_TEST_STRAITD`, or this workspace's release build (built
/// now if it is not up to date: cargo makes that a no-op when it is).
fn release_straitd() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("STRAIT_TEST_STRAITD") {
        return p.into();
    }
    let debug = std::path::Path::new(env!("CARGO_BIN_EXE_straitd"));
    let target = debug
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "--locked", "-p", "strait", "--bins"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --release of straitd failed");
    target.join("release").join("straitd")
}

fn established(gw: &StraitInNs) -> u64 {
    let s = gw.api(|h| h.get(&format!("{SVC}/summary")).expect(200).body);
    s["session_summary"]["established_sessions"]
        .as_u64()
        .unwrap_or(0)
}

fn vtis(ns: &Netns) -> usize {
    ns.ip(&["-o", "link", "show", "type", "tun"])
        .lines()
        .filter(|l| l.contains(": st"))
        .count()
}

#[test]
fn a_thousand_tunnels_come_up_and_carry_traffic() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test creates network namespaces and TUN devices: run it as root (scripts/test.sh does)"
    );
    let na = Netns::new();
    let nb = Netns::new();
    let _link = Link::veth(
        &na,
        "sc-a",
        "198.51.100.1/24",
        &nb,
        "sc-b",
        "203.0.113.1/24",
    );
    for j in 1..A_ADDRESSES {
        na.add_addr("sc-a", &format!("{}/24", a_addr(j)));
    }
    for k in 1..B_ADDRESSES {
        nb.add_addr("sc-b", &format!("{}/24", b_addr(k)));
    }
    // The two outer networks share the link (on-link routes to each other's).
    na.ip(&["route", "add", "203.0.113.0/24", "dev", "sc-a"]);
    nb.ip(&["route", "add", "198.51.100.0/24", "dev", "sc-b"]);

    let straitd = release_straitd();
    let b = StraitInNs::start_binary(&nb, &straitd);
    let a = StraitInNs::start_binary(&na, &straitd);
    configure(&b, false, true);
    configure(&a, true, false);

    let start = Instant::now();
    a.api(|h| h.patch(SVC, &json!({"enabled": true})).expect(200));
    let mut up = 0;
    while start.elapsed() < UP_WITHIN {
        up = established(&a);
        if up == SESSIONS as u64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let took = start.elapsed();
    assert_eq!(
        up,
        SESSIONS as u64,
        "{up} of {SESSIONS} sessions UP on A after {took:?}; A's log ends:\n{}\nB's warnings:\n{}",
        tail(&a.log()),
        warnings(&b.log())
    );
    eprintln!("{SESSIONS} sessions UP on A in {took:?}");
    // B counts them too (its side of each Child SA is installed before A's answer leaves).
    let deadline = Instant::now() + Duration::from_secs(30);
    while established(&b) < SESSIONS as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(established(&b), SESSIONS as u64, "B's summary");

    // A sample of tunnels carries traffic both ways (echo request out, reply back).
    for i in (0..SESSIONS).step_by(SESSIONS / 20) {
        let i = i + (i / 50) % 7;
        assert!(
            ping(&na, &vti(i, false), 2),
            "no ping through session s{i} ({} to {})",
            vti(i, true),
            vti(i, false)
        );
    }

    for (name, gw) in [("A", &a), ("B", &b)] {
        let log = gw.log();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
        assert!(
            errors.is_empty(),
            "{name} logged errors:\n{}",
            errors.join("\n")
        );
    }

    assert_eq!(vtis(&na), SESSIONS);
    a.api(|h| h.patch(SVC, &json!({"enabled": false})).expect(200));
    let deadline = Instant::now() + Duration::from_secs(120);
    while vtis(&na) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(vtis(&na), 0, "A's VTIs after its service was disabled");
}

/// A log's warnings and errors, counted by message (the text after the target, digits
/// masked so that sessions and addresses fall together).
fn warnings(log: &str) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for line in log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
    {
        let message: String = line
            .split_once(": ")
            .map_or(line, |(_, m)| m)
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(160)
            .collect();
        *counts.entry(message).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(m, n)| format!("{n:>6} {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
