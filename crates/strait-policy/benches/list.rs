//! The management plane with 10,000 sessions stored. Listing a collection (issue 16: "a list of 1,000 under 100 ms"),
//! on a real SQLite store: the first page and a later one, sorted by the default
//! `display_name` and by another body field, and one with `included_fields` (which reads
//! every object).
//!
//! `cargo bench -p strait-policy --bench list`

use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};
use strait_policy::hierarchy::HierarchyOptions;
use strait_policy::{Actor, ListQuery, Policy};
use strait_store::Store;

#[path = "../tests/common/mod.rs"]
mod common;
use common::{vpn_with_endpoint, SVC};

const SESSIONS: u32 = 10_000;

fn main() {
    divan::main();
}

fn session(i: u32) -> Value {
    json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "id": format!("s{i:05}"),
        "display_name": format!("Site {} ({i})", (i * 7919) % SESSIONS),
        "description": format!("branch office number {i}"),
        "local_endpoint_path": format!("{SVC}/local-endpoints/le"),
        "peer_address": format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
        "peer_id": format!("peer-{i}.example.net"),
        "psk": "bench-psk-0123456789",
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [
            format!("169.254.{}.{}", i / 64, (i % 64) * 4 + 1)
        ], "prefix_length": 30}]}],
    })
}

/// A store with one service and 10,000 sessions (made once; 1,000 per hierarchical PATCH).
fn policy() -> &'static Policy {
    &world().1
}

fn world() -> &'static (Arc<Store>, Policy, tempfile::TempDir) {
    static P: OnceLock<(Arc<Store>, Policy, tempfile::TempDir)> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let policy = Policy::open(store.clone()).unwrap();
        let admin = Actor::system();
        vpn_with_endpoint(&policy);
        for chunk in (0..SESSIONS).collect::<Vec<_>>().chunks(1_000) {
            let children: Vec<Value> = chunk
                .iter()
                .map(|&i| json!({"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": session(i)}))
                .collect();
            let body = json!({"resource_type": "Infra", "children": [{
                "resource_type": "ChildTier0", "Tier0": {"id": "t0", "resource_type": "Tier0",
                "children": [{"resource_type": "ChildIPSecVpnService", "IPSecVpnService": {
                    "id": "vpn", "resource_type": "IPSecVpnService", "children": children}}]}}]});
            policy
                .patch_infra(&body, &admin, HierarchyOptions::default())
                .unwrap();
        }
        (store, policy, dir)
    })
}

fn list(q: ListQuery) -> strait_policy::ListResult {
    let r = policy().list(&format!("{SVC}/sessions"), &q).unwrap();
    assert_eq!(r.result_count, u64::from(SESSIONS));
    r
}

#[divan::bench(sample_count = 20)]
fn first_page_by_display_name(b: divan::Bencher) {
    policy();
    b.bench(|| list(ListQuery::default()));
}

#[divan::bench(sample_count = 20)]
fn later_page_by_display_name(b: divan::Bencher) {
    let cursor = list(ListQuery::default()).cursor;
    b.bench(|| {
        list(ListQuery {
            cursor: cursor.clone(),
            ..ListQuery::default()
        })
    });
}

#[divan::bench(sample_count = 20)]
fn first_page_by_peer_address_descending(b: divan::Bencher) {
    policy();
    b.bench(|| {
        list(ListQuery {
            sort_by: Some("peer_address".into()),
            sort_ascending: Some(false),
            ..ListQuery::default()
        })
    });
}

#[divan::bench(sample_count = 20)]
fn first_page_with_included_fields(b: divan::Bencher) {
    policy();
    b.bench(|| {
        list(ListQuery {
            included_fields: Some("display_name,peer_address".into()),
            ..ListQuery::default()
        })
    });
}

/// The first step of a default listing alone: every session's `display_name`, read by
/// SQLite without decoding the bodies.
#[divan::bench(sample_count = 20)]
fn sort_values_alone(b: divan::Bencher) {
    let (store, _, _) = world();
    b.bench(|| {
        store
            .read(|tx| tx.field_values("session", SVC, "$.display_name"))
            .unwrap()
            .len()
    });
}

/// The last step alone: 1,000 sessions' bodies read by path and decoded.
#[divan::bench(sample_count = 20)]
fn page_bodies_alone(b: divan::Bencher) {
    let (store, _, _) = world();
    let paths: Vec<String> = (0..1000)
        .map(|i| format!("{SVC}/sessions/s{:05}", i * 10))
        .collect();
    b.bench(|| store.read(|tx| tx.object_bodies_at(&paths)).unwrap().len());
}

/// What each runtime does after one edit among 10,000 sessions: the next configuration
/// snapshot from the one it holds (`Policy::snapshot_since`).
#[divan::bench(sample_count = 50)]
fn snapshot_after_one_edit(b: divan::Bencher) {
    let policy = policy();
    let held = policy.snapshot_all().unwrap();
    policy
        .patch(
            &format!("{SVC}/sessions/s04321"),
            &json!({"description": "edited"}),
            &Actor::system(),
        )
        .unwrap();
    b.bench(|| policy.snapshot_since(&held).unwrap());
}
