//! The runtime's incremental configuration read (issue 16): a snapshot built from the
//! previous one and the store's change log is the snapshot a full read gives, after
//! creates, updates (a PSK changed), deletes and a restart, on a real SQLite store.

use std::sync::Arc;

use serde_json::json;
use strait_policy::{Actor, Policy, TreeSnapshot};
use strait_store::Store;

mod common;
use common::{vpn_with_endpoint, SVC};

/// A snapshot's revision, objects (path, revision) and PSKs, comparable.
type Summary = (u64, Vec<(String, i64)>, Vec<(String, String)>);

/// One round of changes between two reads.
type Step = Box<dyn Fn(&Policy)>;

fn summary(t: &TreeSnapshot) -> Summary {
    let objects = t
        .objects()
        .map(|o| (o.path.to_string(), o.revision))
        .collect();
    let mut psks: Vec<(String, String)> = t
        .psks
        .iter()
        .map(|(p, k)| (p.clone(), k.to_string()))
        .collect();
    psks.sort();
    (t.revision, objects, psks)
}

fn session(i: u32, psk: &str) -> serde_json::Value {
    json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "local_endpoint_path": format!("{SVC}/local-endpoints/le"),
        "peer_address": format!("203.0.113.{i}"), "peer_id": format!("203.0.113.{i}"), "psk": psk,
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [format!("169.254.{i}.1")], "prefix_length": 30}]}],
    })
}

#[test]
fn a_snapshot_since_the_last_equals_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy::open(Arc::new(Store::open(dir.path()).unwrap())).unwrap();
    vpn_with_endpoint(&policy);
    let mut held = policy.snapshot_all().unwrap();
    let steps: Vec<Step> = vec![
        Box::new(|p| {
            for i in 0..20 {
                p.patch(
                    &format!("{SVC}/sessions/s{i}"),
                    &session(i, "first-psk"),
                    &Actor::system(),
                )
                .unwrap();
            }
        }),
        Box::new(|p| {
            p.patch(
                &format!("{SVC}/sessions/s3"),
                &json!({"psk": "second-psk"}),
                &Actor::system(),
            )
            .unwrap();
            p.patch(
                &format!("{SVC}/sessions/s4"),
                &json!({"description": "x"}),
                &Actor::system(),
            )
            .unwrap();
        }),
        Box::new(|p| {
            p.delete(&format!("{SVC}/sessions/s5"), &Actor::system())
                .unwrap();
            p.delete(&format!("{SVC}/sessions/s6"), &Actor::system())
                .unwrap();
        }),
        Box::new(|p| {
            // Deleted and created again between two reads.
            p.delete(&format!("{SVC}/sessions/s7"), &Actor::system())
                .unwrap();
            p.patch(
                &format!("{SVC}/sessions/s7"),
                &session(7, "third-psk"),
                &Actor::system(),
            )
            .unwrap();
        }),
        Box::new(|_| {}),
    ];
    for step in steps {
        step(&policy);
        let next = policy.snapshot_since(&held).unwrap();
        let full = policy.snapshot_all().unwrap();
        let delta = next.delta().expect("built from the held snapshot");
        assert_eq!(delta.since, held.revision);
        assert!(delta.paths.windows(2).all(|w| w[0] < w[1]));
        assert!(full.delta().is_none());
        assert_eq!(summary(&next), summary(&full));
        for o in full.objects() {
            assert_eq!(next.get(o.path.as_str()), Some(&o.object), "{}", o.path);
        }
        held = next;
    }
    assert_eq!(
        held.psks
            .get(&format!("{SVC}/sessions/s3"))
            .map(|k| k.as_str()),
        Some("second-psk")
    );
    assert!(held.get(&format!("{SVC}/sessions/s5")).is_none());
    drop(policy);
    // After a restart the log starts again: a snapshot from before it is read in full.
    let policy = Policy::open(Arc::new(Store::open(dir.path()).unwrap())).unwrap();
    policy
        .delete(&format!("{SVC}/sessions/s8"), &Actor::system())
        .unwrap();
    let next = policy.snapshot_since(&held).unwrap();
    assert_eq!(summary(&next), summary(&policy.snapshot_all().unwrap()));
    assert!(next.get(&format!("{SVC}/sessions/s8")).is_none());
}

#[test]
fn objects_are_found_by_path_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy::open(Arc::new(Store::open(dir.path()).unwrap())).unwrap();
    let t = policy.snapshot_all().unwrap();
    // The system-owned profiles are there from the start.
    let ike: Vec<String> = t
        .of_kind(strait_model::Kind::IkeProfile)
        .map(|o| o.path.to_string())
        .collect();
    assert!(!ike.is_empty());
    assert!(ike.windows(2).all(|w| w[0] < w[1]), "by path: {ike:?}");
    for p in &ike {
        assert!(t.get(p).is_some());
    }
    assert_eq!(t.of_kind(strait_model::Kind::Session).count(), 0);
    assert_eq!(
        t.objects().count(),
        t.objects()
            .map(|o| o.path.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
}
