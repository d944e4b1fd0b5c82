//! strait's bulk status read, `GET {service}/session-status` (issue 16): a service's
//! sessions a page at a time, each with what `detailed-status` and `statistics` show.
mod common;

use std::collections::BTreeSet;

use common::{url, Daemon};
use serde_json::{json, Value};

const SVC: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn";

fn store_sessions(d: &Daemon, ids: &[String]) {
    let le = format!("{SVC}/local-endpoints/le");
    let mut children: Vec<Value> = vec![json!({"resource_type": "ChildIPSecVpnLocalEndpoint",
        "IPSecVpnLocalEndpoint": {"id": "le", "resource_type": "IPSecVpnLocalEndpoint",
            "local_address": "198.51.100.1"}})];
    for (i, id) in ids.iter().enumerate() {
        let peer = format!("203.0.113.{}", i + 1);
        children.push(json!({"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": {
            "id": id, "display_name": format!("site {i}"), "resource_type": "RouteBasedIPSecVpnSession",
            "local_endpoint_path": le, "peer_address": peer, "peer_id": peer, "psk": "status-list-test",
            "tunnel_interfaces": [{"id": format!("vti-{i}"), "ip_subnets": [{"ip_addresses": [format!("169.254.{i}.1")], "prefix_length": 30}]}]}}));
    }
    let body = json!({"resource_type": "Infra", "children": [{"resource_type": "ChildTier0", "Tier0": {
        "resource_type": "Tier0", "id": "t0", "children": [{"resource_type": "ChildIPSecVpnService",
            "IPSecVpnService": {"resource_type": "IPSecVpnService", "id": "vpn", "enabled": false,
                "children": children}}]}}]});
    d.admin().patch(&url("/infra"), &body).expect(200);
}

/// A status or statistics object without the fields that change from one read to the next.
fn steady(mut v: Value) -> Value {
    for f in ["last_update_timestamp", "since"] {
        if let Some(o) = v.as_object_mut() {
            o.remove(f);
        }
    }
    v
}

#[test]
fn pages_of_session_status_match_each_sessions_own_reads() {
    let d = Daemon::start();
    let h = d.admin();
    // 25 sessions, one of them named like the service's sub-resource.
    let mut ids: Vec<String> = (0..24).map(|i| format!("s{i:02}")).collect();
    ids.push("summary".into());
    store_sessions(&d, &ids);
    // Once the runtime has taken the configuration, every session says why it is down.
    let last = url(&format!("{SVC}/sessions/s23/detailed-status"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.get(&last).expect(200).body["results"][0]["ike_status"]["fail_reason"]
        != "IPsec service not enabled"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the runtime never took the configuration"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let base = url(&format!("{SVC}/session-status"));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("{base}?page_size=10&cursor={}", c.replace('/', "%2F")),
            None => format!("{base}?page_size=10"),
        };
        let page: Value = h.get(&q).expect(200).body;
        pages += 1;
        assert_eq!(page["result_count"], 25);
        for row in page["results"].as_array().unwrap() {
            seen.push(row.clone());
        }
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let paths: Vec<&str> = seen.iter().map(|r| r["path"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = paths.iter().copied().collect();
    assert_eq!(unique.len(), 25, "every session once");
    assert!(paths.windows(2).all(|w| w[0] < w[1]), "by path: {paths:?}");
    // Each row is what the session's own reads say.
    for row in seen.iter().step_by(6) {
        let p = row["path"].as_str().unwrap();
        let status: Value = h
            .get(&url(&format!("{p}/detailed-status")))
            .expect(200)
            .body;
        let stats: Value = h.get(&url(&format!("{p}/statistics"))).expect(200).body;
        assert_eq!(
            steady(row["status"].clone()),
            steady(status["results"][0].clone()),
            "{p}"
        );
        assert_eq!(
            steady(row["statistics"].clone()),
            steady(stats["results"][0].clone()),
            "{p}"
        );
        assert_eq!(
            row["status"]["ike_status"]["fail_reason"],
            "IPsec service not enabled"
        );
    }
    let tunnel_ids: BTreeSet<&str> = seen
        .iter()
        .filter_map(|r| r["statistics"]["policy_statistics"][0]["tunnel_interface_path"].as_str())
        .collect();
    assert!(
        tunnel_ids.iter().any(|t| t.ends_with("vti-3")),
        "{tunnel_ids:?}"
    );
    // A session whose id is "summary" is still a session.
    let s: Value = h
        .get(&url(&format!("{SVC}/sessions/summary")))
        .expect(200)
        .body;
    assert_eq!(s["id"], "summary");
    // Mistakes are named.
    h.get(&format!("{base}?page_size=0"))
        .expect_problem("", "page_size");
    h.get(&format!("{base}?cursor=%2Finfra%2Felsewhere"))
        .expect_problem("", "cursor");
    h.get(&format!("{base}?sort_by=path")).expect(400);
    h.get(&url(
        "/infra/tier-0s/t0/ipsec-vpn-services/nope/session-status",
    ))
    .expect(404);
}
