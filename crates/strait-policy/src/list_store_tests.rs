//! Listings from a real store against the reference: [`crate::list::page`] over every
//! object as `GET` renders it. The store's listing sorts most queries from the bodies'
//! field values alone (`tree.rs`, `list_by_body_field`) and decodes only the page, so this
//! checks that both give the same pages, cursors and errors, for every kind of value
//! (missing, null, booleans, numbers, strings that differ only in case or accents, arrays),
//! both directions and page sizes that split runs of equal values.

use std::sync::Arc;

use serde_json::{json, Value};
use strait_store::Store;

use crate::list::{page, ListQuery};
use crate::{Actor, GetOptions, Policy};

const SVC: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn";
const SESSIONS: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions";

fn store_with_sessions(n: u32) -> (tempfile::TempDir, Policy) {
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy::open(Arc::new(Store::open(dir.path()).unwrap())).unwrap();
    let admin = Actor::system();
    policy
        .patch("/infra/tier-0s/t0", &json!({}), &admin)
        .unwrap();
    policy.patch(SVC, &json!({}), &admin).unwrap();
    policy
        .patch(
            &format!("{SVC}/local-endpoints/le"),
            &json!({"local_address": "198.51.100.1"}),
            &admin,
        )
        .unwrap();
    let names = ["b", "B", "a", "É", "é", "z", "Z", "a", "10", "9"];
    for i in 0..n {
        let mut body = json!({
            "resource_type": "RouteBasedIPSecVpnSession",
            "display_name": names[i as usize % names.len()],
            "local_endpoint_path": format!("{SVC}/local-endpoints/le"),
            "peer_address": format!("203.0.113.{}", 50 - i),
            "peer_id": format!("203.0.113.{}", 50 - i),
            "psk": "list-test-psk",
            "enabled": i % 3 != 0,
            "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [format!("169.254.{}.1", i % 5 * 10 + i / 5)], "prefix_length": 30}]}],
        });
        if i % 4 != 0 {
            body["description"] = json!(format!("site {}", i % 6));
        }
        policy
            .patch(&format!("{SESSIONS}/s{i:02}"), &body, &admin)
            .unwrap();
    }
    (dir, policy)
}

/// Every page of a listing (following cursors), or its error.
fn pages(
    list: impl Fn(&ListQuery) -> Result<crate::ListResult, crate::PolicyError>,
    q: &ListQuery,
) -> Result<Vec<crate::ListResult>, String> {
    let mut q = q.clone();
    let mut out = Vec::new();
    loop {
        let r = list(&q).map_err(|e| e.to_string())?;
        let next = r.cursor.clone();
        out.push(r);
        match next {
            Some(c) if out.len() < 100 => q.cursor = Some(c),
            _ => return Ok(out),
        }
    }
}

#[test]
fn store_listings_equal_the_reference_for_every_sort_and_page_size() {
    let (_dir, policy) = store_with_sessions(23);
    let all: Vec<Value> = policy
        .list(
            SESSIONS,
            &ListQuery {
                sort_by: Some("_create_time".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .results
        .iter()
        .map(|o| {
            policy
                .get(
                    o["path"].as_str().unwrap(),
                    &Actor::system(),
                    GetOptions::default(),
                )
                .unwrap()
        })
        .collect();
    assert_eq!(all.len(), 23);
    let fields = [
        None,
        Some("display_name"),
        Some("description"),
        Some("enabled"),
        Some("peer_address"),
        Some("tunnel_interfaces"),
        Some("id"),
        Some("_create_time"),
        Some("nonesuch"),
    ];
    for sort_by in fields {
        for ascending in [None, Some(false)] {
            for page_size in [None, Some(1), Some(4), Some(7)] {
                let q = ListQuery {
                    sort_by: sort_by.map(str::to_owned),
                    sort_ascending: ascending,
                    page_size,
                    ..Default::default()
                };
                let got = pages(|q| policy.list(SESSIONS, q), &q);
                let want = pages(|q| page(all.clone(), q), &q);
                assert_eq!(got, want, "{q:?}");
                if sort_by != Some("nonesuch") {
                    let seen: usize = got.unwrap().iter().map(|r| r.results.len()).sum();
                    assert_eq!(seen, 23, "{q:?}");
                }
            }
        }
    }
}

#[test]
fn an_empty_collection_lists_as_empty_whatever_the_sort() {
    let (_dir, policy) = store_with_sessions(0);
    for sort_by in [None, Some("description"), Some("nonesuch")] {
        let q = ListQuery {
            sort_by: sort_by.map(str::to_owned),
            ..Default::default()
        };
        let got = policy.list(SESSIONS, &q).unwrap();
        assert_eq!(got, page(Vec::<Value>::new(), &q).unwrap(), "{q:?}");
        assert_eq!(got.result_count, 0);
    }
    // A collection under an object that does not exist is not found, whatever the sort.
    let e = policy
        .list(
            "/infra/tier-0s/t0/ipsec-vpn-services/none/sessions",
            &ListQuery::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("none"), "{e}");
}
