//! NSX's BGP API on tier-0 gateways through the real straitd: every tier-0 comes with its
//! `default` locale service and that with its `bgp` configuration; neighbors with a secret
//! password; prefix lists; route redistribution; validation and error bodies; revisions;
//! roles; what a delete takes with it and what it refuses.
mod common;

use common::seed::{self, T0};
use common::{Daemon, Http};
use serde_json::{json, Value};

const LS: &str = "/policy/api/v1/infra/tier-0s/t0/locale-services/default";
const BGP: &str = "/policy/api/v1/infra/tier-0s/t0/locale-services/default/bgp";
const NEIGHBORS: &str = "/policy/api/v1/infra/tier-0s/t0/locale-services/default/bgp/neighbors";
const PL: &str = "/policy/api/v1/infra/tier-0s/t0/prefix-lists";

fn started() -> (Daemon, Http) {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    // A session whose VTI is 169.254.10.1/30: BGP runs over it to 169.254.10.2.
    h.patch(
        &seed::session_url("s1"),
        &seed::session("203.0.113.2", "169.254.10.1"),
    )
    .expect(200);
    (d, h)
}

fn neighbor() -> Value {
    json!({
        "neighbor_address": "169.254.10.2",
        "remote_as_num": "65002",
        "source_addresses": ["169.254.10.1"],
    })
}

#[test]
fn every_tier0_has_a_default_locale_service_with_bgp_defaults() {
    let (_d, h) = started();
    let list = h.get(&format!("{T0}/locale-services")).expect(200).body;
    assert_eq!(list["result_count"], 1, "{list}");
    assert_eq!(list["results"][0]["id"], "default");
    assert_eq!(list["results"][0]["resource_type"], "LocaleServices");
    let bgp = h.get(BGP).expect(200).body;
    assert_eq!(bgp["resource_type"], "BgpRoutingConfig");
    assert_eq!(bgp["id"], "bgp");
    assert_eq!(bgp["path"], "/infra/tier-0s/t0/locale-services/default/bgp");
    assert_eq!(
        bgp["parent_path"],
        "/infra/tier-0s/t0/locale-services/default"
    );
    assert_eq!(bgp["enabled"], true);
    assert_eq!(bgp["ecmp"], true);
    assert_eq!(bgp["multipath_relax"], true);
    assert_eq!(bgp["graceful_restart_config"]["mode"], "HELPER_ONLY");
    assert_eq!(
        bgp["graceful_restart_config"]["timer"]["restart_timer"],
        180
    );
    assert_eq!(
        bgp["graceful_restart_config"]["timer"]["stale_route_timer"],
        600
    );
    assert!(bgp.get("local_as_num").is_none(), "{bgp}");
    // A second tier-0 gets its own.
    h.patch("/policy/api/v1/infra/tier-0s/t0b", &json!({}))
        .expect(200);
    h.get("/policy/api/v1/infra/tier-0s/t0b/locale-services/default/bgp")
        .expect(200);
    // A tier-1 comes with its locale service `default` too (edge placement, as NSX), but
    // has no BGP: that path is not NSX's (501 with a hint), and redistribution is refused.
    h.patch("/policy/api/v1/infra/tier-1s/t1", &json!({}))
        .expect(200);
    let t1_ls = "/policy/api/v1/infra/tier-1s/t1/locale-services";
    let list = h.get(t1_ls).expect(200).body;
    assert_eq!(list["result_count"], 1, "{list}");
    assert_eq!(list["results"][0]["id"], "default");
    assert_eq!(list["results"][0]["parent_path"], "/infra/tier-1s/t1");
    let r = h.get(&format!("{t1_ls}/default/bgp"));
    assert_eq!(r.status, 501, "{}", r.text);
    assert!(r.text.contains("tier-1 gateways have no BGP"), "{}", r.text);
    let r = h.patch(
        &format!("{t1_ls}/default"),
        &json!({"route_redistribution_types": ["TIER0_CONNECTED"]}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("tier-0 gateways only"), "{}", r.text);
    h.patch(
        &format!("{t1_ls}/default"),
        &json!({"edge_cluster_path": "/infra/sites/default/enforcement-points/default/edge-clusters/ec1"}),
    )
    .expect(200);
    assert_eq!(
        h.get(&format!("{t1_ls}/default")).expect(200).body["edge_cluster_path"],
        "/infra/sites/default/enforcement-points/default/edge-clusters/ec1"
    );
    // A configured locale service keeps its tier-1 from being deleted, as on a tier-0.
    h.delete("/policy/api/v1/infra/tier-1s/t1").expect(400);
    h.delete(&format!("{t1_ls}/default")).expect(200);
    h.delete("/policy/api/v1/infra/tier-1s/t1").expect(200);
    h.get(t1_ls).expect(404);
}

#[test]
fn bgp_configuration_is_validated_and_revisioned() {
    let (_d, h) = started();
    h.patch(
        BGP,
        &json!({"local_as_num": "65001", "graceful_restart_config": {"mode": "GR_AND_HELPER"},
                "route_aggregations": [{"prefix": "10.1.0.0/16"}]}),
    )
    .expect(200);
    let bgp = h.get(BGP).expect(200).body;
    assert_eq!(bgp["local_as_num"], "65001");
    assert_eq!(bgp["graceful_restart_config"]["mode"], "GR_AND_HELPER");
    assert_eq!(
        bgp["graceful_restart_config"]["timer"]["restart_timer"],
        180
    );
    assert_eq!(bgp["route_aggregations"][0]["summary_only"], true);
    assert_eq!(bgp["_revision"], 1);
    // ASDOT is accepted as NSX does.
    h.patch(BGP, &json!({"local_as_num": "1.10"})).expect(200);
    // Every problem at once, each naming its field and what to change.
    let r = h
        .patch(
            BGP,
            &json!({"local_as_num": "0", "ecmp": "yes",
                    "graceful_restart_config": {"mode": "ALWAYS", "timer": {"restart_timer": 0}},
                    "route_aggregations": [{"prefix": "10.1.0.1/16"}, {"summary_only": false}],
                    "ebgp_admin_distance": 300}),
        )
        .expect(400);
    let fields = r.error_fields();
    for f in [
        "local_as_num",
        "ecmp",
        "graceful_restart_config.mode",
        "graceful_restart_config.timer.restart_timer",
        "route_aggregations[0].prefix",
        "route_aggregations[1].prefix",
        "ebgp_admin_distance",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} missing in {fields:?}");
    }
    let r = h
        .patch(BGP, &json!({"local_as_num": "65001a"}))
        .expect_problem("local_as_num", "ASPLAIN");
    drop(r);
    // PUT replaces and needs the current _revision.
    h.put(BGP, &json!({"local_as_num": "65001"})).expect(400);
    let rev = h.get(BGP).expect(200).body["_revision"].clone();
    h.put(BGP, &json!({"local_as_num": "65001", "_revision": rev}))
        .expect(200);
    let bgp = h.get(BGP).expect(200).body;
    assert_eq!(
        bgp["graceful_restart_config"]["mode"], "HELPER_ONLY",
        "PUT reset it"
    );
    h.put(BGP, &json!({"local_as_num": "65001", "_revision": 0}))
        .expect(412);
}

#[test]
fn neighbors_with_a_secret_password() {
    let (d, h) = started();
    let n1 = format!("{NEIGHBORS}/n1");
    let mut body = neighbor();
    body["password"] = json!("md5-secret-1");
    body["bfd"] = json!({"enabled": true, "interval": 300});
    h.patch(&n1, &body).expect(200);
    let got = h.get(&n1).expect(200).body;
    assert_eq!(got["resource_type"], "BgpNeighborConfig");
    assert_eq!(got["neighbor_address"], "169.254.10.2");
    assert_eq!(got["remote_as_num"], "65002");
    assert_eq!(got["hold_down_time"], 180);
    assert_eq!(got["keep_alive_time"], 60);
    assert_eq!(got["maximum_hop_limit"], 1);
    assert_eq!(got["enabled"], true);
    assert_eq!(got["allow_as_in"], false);
    assert_eq!(
        got["bfd"],
        json!({"enabled": true, "interval": 300, "multiple": 3})
    );
    assert_eq!(got["has_password"], true);
    assert_eq!(
        got["parent_path"],
        "/infra/tier-0s/t0/locale-services/default/bgp"
    );
    // The password is never returned: not by GET, not with show_sensitive_data, not in lists.
    let sensitive = h
        .get(&format!("{n1}?action=show_sensitive_data"))
        .expect(200)
        .text;
    let list = h.get(NEIGHBORS).expect(200).text;
    for text in [h.get(&n1).text, sensitive, list] {
        assert!(!text.contains("md5-secret-1"), "{text}");
    }
    // Nor written to the audit log or the data directory in the clear.
    let log = h.get("/api/v1/audit-log").expect(200).text;
    assert!(!log.contains("md5-secret-1"));
    for file in ["strait.db", "strait.db-wal"] {
        let db = std::fs::read(d.data_dir().join(file)).unwrap_or_default();
        assert!(
            !db.windows(12).any(|w| w == b"md5-secret-1"),
            "the password is stored in the clear in {file}"
        );
    }
    // PATCH without password keeps it; "" clears it (NSX); echoing has_password is ignored.
    h.patch(
        &n1,
        &json!({"hold_down_time": 90, "keep_alive_time": 30, "has_password": true}),
    )
    .expect(200);
    assert_eq!(h.get(&n1).expect(200).body["has_password"], true);
    h.patch(&n1, &json!({"password": ""})).expect(200);
    assert_eq!(h.get(&n1).expect(200).body["has_password"], false);
    h.patch(&n1, &json!({"password": "x".repeat(33)}))
        .expect_problem("password", "at most 32");
    let list = h.get(NEIGHBORS).expect(200).body;
    assert_eq!(list["result_count"], 1);
}

#[test]
fn neighbor_validation_names_fields_and_fixes() {
    let (_d, h) = started();
    let n = |id: &str| format!("{NEIGHBORS}/{id}");
    // Not an address of this gateway.
    let mut body = neighbor();
    body["source_addresses"] = json!(["169.254.99.1"]);
    h.patch(&n("x"), &body)
        .expect_problem("source_addresses[0]", "169.254.10.1");
    // Keepalive must be shorter than hold; a range is not a neighbor; an AS is required.
    let r = h
        .patch(
            &n("x"),
            &json!({"neighbor_address": "169.254.10.0/30", "keep_alive_time": 200,
                    "hold_down_time": 100, "maximum_hop_limit": 0,
                    "bfd": {"interval": 10, "multiple": 1},
                    "route_filtering": [{"address_family": "L2VPN_EVPN"}]}),
        )
        .expect(400);
    let fields = r.error_fields();
    for f in [
        "neighbor_address",
        "remote_as_num",
        "keep_alive_time",
        "maximum_hop_limit",
        "bfd.interval",
        "bfd.multiple",
        "route_filtering[0].address_family",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} missing in {fields:?}");
    }
    // One neighbor per address.
    h.patch(&n("a"), &neighbor()).expect(200);
    h.patch(&n("b"), &neighbor())
        .expect_problem("neighbor_address", "already peers");
    // Prefix lists: must exist, and be this tier-0's.
    let mut body = json!({"neighbor_address": "169.254.10.6", "remote_as_num": "65003",
        "route_filtering": [{"address_family": "IPV4",
            "in_route_filters": ["/infra/tier-0s/t0/prefix-lists/lans"], "maximum_routes": 100}]});
    h.patch(&n("c"), &body)
        .expect_problem("route_filtering[0].in_route_filters[0]", "does not exist");
    h.patch(
        &format!("{PL}/lans"),
        &json!({"prefixes": [{"network": "10.2.0.0/16", "le": 24}, {"network": "ANY", "action": "DENY"}]}),
    )
    .expect(200);
    h.patch(&n("c"), &body).expect(200);
    let got = h.get(&n("c")).expect(200).body;
    assert_eq!(got["route_filtering"][0]["maximum_routes"], 100);
    assert_eq!(got["route_filtering"][0]["enabled"], true);
    // The prefix list says who uses it, and cannot go while it is used.
    let pl = h.get(&format!("{PL}/lans")).expect(200).body;
    assert_eq!(
        pl["used_by"][0]["target_id"],
        "/infra/tier-0s/t0/locale-services/default/bgp/neighbors/c"
    );
    h.delete(&format!("{PL}/lans")).expect(400);
    body["route_filtering"][0]["in_route_filters"] = json!([]);
    h.patch(&n("c"), &body).expect(200);
    h.delete(&format!("{PL}/lans")).expect(200);
    // Prefix list entries.
    let r = h
        .patch(
            &format!("{PL}/bad"),
            &json!({"prefixes": [{"network": "10.2.0.0/16", "ge": 8}, {"network": "10.3.0.0/16", "ge": 24, "le": 20},
                                 {"network": "10.4.0.1/16"}, {"action": "PERMIT"}]}),
        )
        .expect(400);
    let fields = r.error_fields();
    for f in [
        "prefixes[0].ge",
        "prefixes[1].le",
        "prefixes[2].network",
        "prefixes[3].network",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} missing in {fields:?}");
    }
    h.patch(&format!("{PL}/empty"), &json!({"prefixes": []}))
        .expect_problem("prefixes", "at least one");
}

#[test]
fn route_redistribution_on_the_locale_service() {
    let (_d, h) = started();
    h.patch(
        LS,
        &json!({"route_redistribution_config": {"redistribution_rules": [
            {"name": "lans", "route_redistribution_types": ["TIER0_CONNECTED", "TIER0_STATIC"]}]}}),
    )
    .expect(200);
    let ls = h.get(LS).expect(200).body;
    let cfg = &ls["route_redistribution_config"];
    assert_eq!(cfg["bgp_enabled"], true);
    assert_eq!(cfg["ospf_enabled"], false);
    assert_eq!(
        cfg["redistribution_rules"][0]["destinations"],
        json!(["BGP"])
    );
    h.patch(
        LS,
        &json!({"route_redistribution_config": {"ospf_enabled": true}}),
    )
    .expect_problem("route_redistribution_config.ospf_enabled", "OSPF");
    h.patch(
        LS,
        &json!({"route_redistribution_config": {"redistribution_rules": [
            {"route_redistribution_types": ["TIER0_NOPE"], "route_map_path": "/infra/x"}]}}),
    )
    .expect(400);
}

#[test]
fn deletes_take_unconfigured_containers_along_and_refuse_configured_ones() {
    let (d, h) = started();
    let t = "/policy/api/v1/infra/tier-0s/t9";
    h.patch(t, &json!({})).expect(200);
    h.delete(t).expect(200);
    h.get(&format!("{t}/locale-services/default")).expect(404);
    h.get(&format!("{t}/locale-services/default/bgp"))
        .expect(404);
    // Configured BGP is not deleted behind the user's back.
    h.patch(t, &json!({})).expect(200);
    h.patch(
        &format!("{t}/locale-services/default/bgp"),
        &json!({"local_as_num": "65009"}),
    )
    .expect(200);
    let r = h.delete(t).expect(400);
    assert!(r.text.contains("locale-services/default"), "{}", r.text);
    h.delete(&format!("{t}/locale-services/default/bgp"))
        .expect(200);
    h.delete(t).expect(200);
    // Neighbors keep their BGP configuration.
    h.patch(&format!("{NEIGHBORS}/n1"), &neighbor()).expect(200);
    h.delete(BGP).expect(400);
    // An auditor reads but cannot write.
    h.put(
        "/api/v1/users/aud",
        &json!({"role": "auditor", "password": "auditor-pass-1"}),
    )
    .expect(200);
    let a = d.as_user("aud", "auditor-pass-1");
    a.get(BGP).expect(200);
    a.patch(BGP, &json!({"local_as_num": "65001"})).expect(403);
    a.patch(&format!("{NEIGHBORS}/n2"), &neighbor()).expect(403);
}

#[test]
fn paths_under_bgp_are_exact() {
    let (_d, h) = started();
    // Shapes strait does not have: 501; a missing object of a kind it has: 404.
    h.get("/policy/api/v1/infra/tier-0s/t0/locale-services/default/bgp/nope")
        .expect(501);
    h.get("/policy/api/v1/infra/tier-0s/t0/bgp").expect(501);
    h.get("/policy/api/v1/infra/tier-0s/nope/locale-services/default/bgp")
        .expect(404);
    // A neighbor needs its BGP configuration: the parent the URL names is missing.
    h.patch(
        "/policy/api/v1/infra/tier-0s/t0/locale-services/other/bgp/neighbors/n",
        &neighbor(),
    )
    .expect(404);
}

/// straitd without BIRD (the test daemons get `--bird /nonexistent/...`): the neighbor's status
/// says what is missing and what to install, in one message, and the log says it once, not
/// at every rescan.
#[test]
fn a_gateway_without_bird_says_what_to_install() {
    let (d, h) = started();
    h.patch(BGP, &json!({"local_as_num": "65001"})).expect(200);
    h.patch(&format!("{NEIGHBORS}/peer"), &neighbor())
        .expect(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let n = loop {
        let st = h.get(&format!("{NEIGHBORS}/status")).expect(200).body;
        let n = st["results"][0].clone();
        if n["alarm"]
            .as_str()
            .is_some_and(|a| a.contains("is missing"))
        {
            break n;
        }
        assert!(std::time::Instant::now() < deadline, "{st:#}");
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    let alarm = n["alarm"].as_str().unwrap();
    assert_eq!(
        alarm,
        "BGP cannot run: /nonexistent/strait-test-no-bird (BIRD 2, the routing daemon) is missing: install Debian's bird2, or start straitd with --bird pointing at BIRD"
    );
    assert_ne!(n["connection_state"], "ESTABLISHED");
    // Past one 10 s rescan, which retries and fails the same way: still one log line.
    std::thread::sleep(std::time::Duration::from_secs(11));
    let lines = d
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("is missing: install Debian's bird2"))
        .count();
    assert_eq!(lines, 1, "{:#?}", d.stderr_lines());
}
