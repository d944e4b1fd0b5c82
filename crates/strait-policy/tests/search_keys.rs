//! Cross-object validation finds conflicting sessions through search keys (issue 16), on a
//! real SQLite store: a subnet inside a wider one stored before, the same peer through
//! another local endpoint with the same address, deletion, and keys rebuilt at startup.

use std::sync::Arc;

use serde_json::{json, Value};
use strait_policy::{Actor, Policy, PolicyError};
use strait_store::Store;

const SVC: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn";

fn session(peer: &str, vti: &str, prefix: u8, le: &str) -> Value {
    json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "local_endpoint_path": format!("{SVC}/local-endpoints/{le}"),
        "peer_address": peer, "peer_id": peer, "psk": "search-keys-test",
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": prefix}]}],
    })
}

fn setup(dir: &std::path::Path) -> Policy {
    let policy = Policy::open(Arc::new(Store::open(dir).unwrap())).unwrap();
    let admin = Actor::system();
    policy
        .patch("/infra/tier-0s/t0", &json!({}), &admin)
        .unwrap();
    policy.patch(SVC, &json!({}), &admin).unwrap();
    for (id, addr) in [("le", "198.51.100.1"), ("le-same", "198.51.100.1")] {
        policy
            .patch(
                &format!("{SVC}/local-endpoints/{id}"),
                &json!({"local_address": addr}),
                &admin,
            )
            .unwrap();
    }
    policy
}

fn write(policy: &Policy, id: &str, body: &Value) -> Result<i64, String> {
    policy
        .patch(&format!("{SVC}/sessions/{id}"), body, &Actor::system())
        .map_err(|e| match e {
            PolicyError::Invalid { problems, .. } => format!("{problems:?}"),
            other => format!("{other}"),
        })
}

#[test]
fn conflicts_are_found_by_key_not_by_reading_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let policy = setup(dir.path());
    // Many sessions, so that a conflict cannot be found by accident among the first few.
    for i in 0..200u32 {
        let body = session(
            &format!("203.0.113.{}", i % 250),
            &format!("169.254.{}.{}", i / 64, (i % 64) * 4 + 1),
            30,
            if i < 100 { "le" } else { "le-same" },
        );
        // Both local endpoints have one address, so every peer differs.
        write(&policy, &format!("s{i}"), &body).unwrap();
    }
    write(
        &policy,
        "wide",
        &session("198.51.100.50", "10.99.0.1", 16, "le"),
    )
    .unwrap();
    // A /30 inside the /16 stored before it: the wider key starts below the searched range.
    let e = write(
        &policy,
        "inner",
        &session("198.51.100.51", "10.99.77.1", 30, "le"),
    )
    .unwrap_err();
    assert!(
        e.contains("overlaps") && e.contains("/sessions/wide"),
        "{e}"
    );
    // A /22 spanning 64 stored /30s names the first 16 of them.
    let e = write(
        &policy,
        "span",
        &session("198.51.100.52", "169.254.1.1", 22, "le"),
    )
    .unwrap_err();
    assert!(
        e.contains("/sessions/s0 ") && e.contains("/sessions/s15 "),
        "{e}"
    );
    assert_eq!(e.matches("overlaps").count(), 16, "{e}");
    // The same peer through the other local endpoint with the same address.
    let e = write(
        &policy,
        "dup",
        &session("203.0.113.150", "169.254.200.1", 30, "le"),
    )
    .unwrap_err();
    assert!(
        e.contains("already connects") && e.contains("/sessions/s150"),
        "{e}"
    );
    // Once the wide session is gone, its subnet is free.
    policy
        .delete(&format!("{SVC}/sessions/wide"), &Actor::system())
        .unwrap();
    write(
        &policy,
        "inner",
        &session("198.51.100.51", "10.99.77.1", 30, "le"),
    )
    .unwrap();
}

#[test]
fn keys_an_older_store_lacks_are_rebuilt_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let policy = setup(dir.path());
        write(
            &policy,
            "a",
            &session("203.0.113.2", "169.254.10.1", 30, "le"),
        )
        .unwrap();
        // As a store written before search keys existed would be.
        policy.store().write(|tx| tx.clear_search_keys()).unwrap();
    }
    let policy = Policy::open(Arc::new(Store::open(dir.path()).unwrap())).unwrap();
    let e = write(
        &policy,
        "b",
        &session("203.0.113.3", "169.254.10.2", 30, "le"),
    )
    .unwrap_err();
    assert!(e.contains("overlaps") && e.contains("/sessions/a"), "{e}");
    let e = write(
        &policy,
        "c",
        &session("203.0.113.2", "169.254.20.1", 30, "le-same"),
    )
    .unwrap_err();
    assert!(e.contains("already connects"), "{e}");
}

#[test]
fn every_session_to_a_peer_is_checked_however_many_share_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = setup(dir.path());
    let admin = Actor::system();
    // 20 local endpoints with their own addresses, each with a session to one hub peer:
    // allowed (IKE tells them apart by local address).
    for i in 0..20u32 {
        policy
            .patch(
                &format!("{SVC}/local-endpoints/le{i}"),
                &json!({"local_address": format!("198.51.100.{}", 100 + i)}),
                &admin,
            )
            .unwrap();
        let body = session(
            "203.0.113.250",
            &format!("169.254.{i}.1"),
            30,
            &format!("le{i}"),
        );
        write(&policy, &format!("hub{i}"), &body).unwrap();
    }
    // A second session through the last local endpoint to the same peer is the conflict,
    // though 19 other sessions share the peer.
    let e = write(
        &policy,
        "dup",
        &session("203.0.113.250", "169.254.99.1", 30, "le19"),
    )
    .unwrap_err();
    assert!(
        e.contains("already connects") && e.contains("/sessions/hub19"),
        "{e}"
    );
}
