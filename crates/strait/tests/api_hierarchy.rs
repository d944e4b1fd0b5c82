//! NSX's hierarchical Policy API (`PATCH /policy/api/v1/infra` with `Child*` wrappers)
//! through the real straitd: what VMware's Terraform provider sends for tier-0 gateways,
//! a whole VPN in one request, all-or-nothing failure, deletion, and revisions.
mod common;

use common::{assert_nsx_error, seed, url, Daemon, Http, P};
use serde_json::{json, Value};

const INFRA: &str = "/policy/api/v1/infra";

fn infra(children: Value) -> Value {
    json!({"resource_type": "Infra", "children": children})
}

fn tier0(id: &str, extra: Value, children: Value) -> Value {
    let mut t = json!({"resource_type": "Tier0", "id": id, "children": children});
    if let (Value::Object(t), Value::Object(e)) = (&mut t, extra) {
        t.extend(e);
    }
    json!({"resource_type": "ChildTier0", "Tier0": t})
}

/// A tier-0, service, local endpoint and session, nested as one request.
fn whole_vpn(session_extra: Value) -> Value {
    let mut session = seed::session("198.51.100.2", "169.254.10.1");
    session["id"] = json!("s1");
    if let (Value::Object(s), Value::Object(e)) = (&mut session, session_extra) {
        s.extend(e);
    }
    infra(json!([tier0(
        "t0",
        json!({"display_name": "edge"}),
        json!([{
            "resource_type": "ChildIPSecVpnService",
            "IPSecVpnService": {"id": "vpn", "resource_type": "IPSecVpnService", "children": [
                {"resource_type": "ChildIPSecVpnLocalEndpoint", "IPSecVpnLocalEndpoint": {
                    "id": "le", "resource_type": "IPSecVpnLocalEndpoint",
                    "local_address": "198.51.100.1", "local_id": "198.51.100.1"}},
                {"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": session}
            ]}
        }])
    )]))
}

fn exists(h: &Http, path: &str) -> bool {
    match h.get(&url(path)).status {
        200 => true,
        404 => false,
        s => panic!("GET {path}: {s}"),
    }
}

#[test]
fn the_terraform_providers_tier0_create_read_and_delete() {
    let d = Daemon::start();
    let h = d.admin();
    // The provider's create body (v3.11.1, captured).
    let body = infra(json!([{"Tier0": {
        "default_rule_logging": false, "description": "", "dhcp_config_paths": [],
        "disable_firewall": false, "display_name": "edge-t0", "enable_rd_per_edge": false,
        "failover_mode": "NON_PREEMPTIVE", "force_whitelisting": false,
        "ha_mode": "ACTIVE_STANDBY", "id": "edge-t0", "multi_vrf_inter_sr_routing": false,
        "resource_type": "Tier0", "tags": []}, "resource_type": "ChildTier0"}]));
    h.patch(&format!("{INFRA}?enforce_revision_check=false"), &body)
        .expect(200);
    let t0 = h.get(&url("/infra/tier-0s/edge-t0")).expect(200).body;
    // Every field the provider reads is there, with NSX's defaults.
    for (field, want) in [
        ("display_name", json!("edge-t0")),
        ("ha_mode", json!("ACTIVE_STANDBY")),
        ("failover_mode", json!("NON_PREEMPTIVE")),
        ("disable_firewall", json!(false)),
        ("default_rule_logging", json!(false)),
        ("force_whitelisting", json!(false)),
        ("enable_rd_per_edge", json!(false)),
        ("multi_vrf_inter_sr_routing", json!(false)),
        ("dhcp_config_paths", json!([])),
        ("internal_transit_subnets", json!(["169.254.0.0/24"])),
        ("transit_subnets", json!(["100.64.0.0/16"])),
        ("vrf_transit_subnets", json!(["169.254.2.0/23"])),
        (
            "ipv6_profile_paths",
            json!([
                "/infra/ipv6-ndra-profiles/default",
                "/infra/ipv6-dad-profiles/default"
            ]),
        ),
        (
            "advanced_config",
            json!({"connectivity": "ON", "forwarding_up_timer": 5}),
        ),
    ] {
        assert_eq!(t0[field], want, "{field} in {t0}");
    }
    // Its locale services, as the provider lists them.
    let ls = h
        .get(&url(
            "/infra/tier-0s/edge-t0/locale-services?include_mark_for_delete_objects=false",
        ))
        .expect(200)
        .body;
    assert_eq!(ls["result_count"], 1, "{ls}");
    assert_eq!(ls["results"][0]["id"], "default", "{ls}");
    // An update with enforce_revision_check and the current _revision.
    let rev = t0["_revision"].clone();
    let update = infra(json!([tier0(
        "edge-t0",
        json!({"description": "edge gateway", "_revision": rev, "transit_subnets": ["100.65.0.0/16"]}),
        json!([])
    )]));
    h.patch(&format!("{INFRA}?enforce_revision_check=true"), &update)
        .expect(200);
    let t0 = h.get(&url("/infra/tier-0s/edge-t0")).expect(200).body;
    assert_eq!(t0["description"], "edge gateway");
    assert_eq!(t0["transit_subnets"], json!(["100.65.0.0/16"]));
    // A stale _revision is refused when revisions are enforced, not otherwise.
    let r = h.patch(&format!("{INFRA}?enforce_revision_check=true"), &update);
    assert_nsx_error(&r, 412);
    h.patch(INFRA, &update).expect(200);
    // The provider's delete: the tier-0 and its locale services go.
    let delete = infra(
        json!([{"resource_type": "ChildTier0", "marked_for_delete": true,
        "Tier0": {"id": "edge-t0", "resource_type": "Tier0"}}]),
    );
    h.patch(&format!("{INFRA}?enforce_revision_check=false"), &delete)
        .expect(200);
    assert!(!exists(&h, "/infra/tier-0s/edge-t0"));
    assert!(!exists(
        &h,
        "/infra/tier-0s/edge-t0/locale-services/default"
    ));
    // Deleting what is gone is not an error (as DELETE).
    h.patch(INFRA, &delete).expect(200);
}

#[test]
fn a_whole_vpn_in_one_request_and_its_deletion_children_first() {
    let d = Daemon::start();
    let h = d.admin();
    h.patch(INFRA, &whole_vpn(json!({}))).expect(200);
    let s = h.get(&seed::session_url("s1")).expect(200).body;
    assert_eq!(s["resource_type"], "RouteBasedIPSecVpnSession");
    assert_eq!(s["peer_address"], "198.51.100.2");
    assert!(s.get("psk").is_none(), "a GET never shows the PSK: {s}");
    let psk = h
        .get(&format!(
            "{}?action=show_sensitive_data",
            seed::session_url("s1")
        ))
        .expect(200)
        .body;
    assert_eq!(psk["psk"], "correct horse battery staple");
    // Everything goes in one request; the order in the body is parents first, and the
    // deletions run children first.
    let gone = |kind: &str, key: &str, id: &str, children: Value| {
        json!({"resource_type": kind, "marked_for_delete": true,
               key: {"id": id, "children": children}})
    };
    let delete = infra(json!([gone(
        "ChildTier0",
        "Tier0",
        "t0",
        json!([gone(
            "ChildIPSecVpnService",
            "IPSecVpnService",
            "vpn",
            json!([
                gone(
                    "ChildIPSecVpnLocalEndpoint",
                    "IPSecVpnLocalEndpoint",
                    "le",
                    json!([])
                ),
                gone("ChildIPSecVpnSession", "IPSecVpnSession", "s1", json!([]))
            ])
        )])
    )]));
    h.patch(INFRA, &delete).expect(200);
    assert!(!exists(&h, "/infra/tier-0s/t0"));
    assert_eq!(
        h.get(&url("/infra/tier-0s")).expect(200).body["result_count"],
        0
    );
}

/// A tier-1 placed on an edge cluster the way NSX clients write it: the gateway and its
/// locale service `default` in one hierarchical request; no BGP under a tier-1.
#[test]
fn a_tier1_with_its_locale_service_in_one_request() {
    let d = Daemon::start();
    let h = d.admin();
    const EC: &str = "/infra/sites/default/enforcement-points/default/edge-clusters/ec1";
    let tier1 = |locale: Value| {
        infra(json!([{"resource_type": "ChildTier1", "Tier1": {
            "resource_type": "Tier1", "id": "t1", "display_name": "branch",
            "children": [{"resource_type": "ChildLocaleServices", "LocaleServices": locale}]
        }}]))
    };
    h.patch(
        INFRA,
        &tier1(
            json!({"resource_type": "LocaleServices", "id": "default", "edge_cluster_path": EC}),
        ),
    )
    .expect(200);
    let ls = h
        .get(&url("/infra/tier-1s/t1/locale-services"))
        .expect(200)
        .body;
    assert_eq!(ls["result_count"], 1, "{ls}");
    assert_eq!(ls["results"][0]["edge_cluster_path"], EC, "{ls}");
    assert_eq!(ls["results"][0]["parent_path"], "/infra/tier-1s/t1");
    // BGP under a tier-1 is refused, and nothing of that request is applied.
    let r = h.patch(
        INFRA,
        &tier1(json!({"id": "default", "display_name": "renamed", "children": [
            {"resource_type": "ChildBgpRoutingConfig", "BgpRoutingConfig": {"local_as_num": "65001"}}
        ]})),
    );
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("tier-1 gateways have no BGP"), "{}", r.text);
    assert_eq!(
        h.get(&url("/infra/tier-1s/t1/locale-services/default"))
            .expect(200)
            .body["display_name"],
        "default"
    );
    // Deleting the tier-1 takes its configured locale service along when both are marked.
    h.patch(
        INFRA,
        &infra(
            json!([{"resource_type": "ChildTier1", "marked_for_delete": true, "Tier1": {
                "id": "t1",
                "children": [{"resource_type": "ChildLocaleServices", "marked_for_delete": true,
                              "LocaleServices": {"id": "default"}}]
            }}]),
        ),
    )
    .expect(200);
    assert!(!exists(&h, "/infra/tier-1s/t1"));
    assert!(!exists(&h, "/infra/tier-1s/t1/locale-services/default"));
}

#[test]
fn one_bad_child_fails_the_request_and_nothing_changes() {
    let d = Daemon::start();
    let h = d.admin();
    // The session's VTI address is not an address: the tier-0, service and endpoint before
    // it in the same request are not created either.
    let r = h.patch(
        INFRA,
        &whole_vpn(json!({"tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": ["not-an-ip"], "prefix_length": 30}]}]})),
    );
    assert_nsx_error(&r, 400);
    assert!(
        r.text
            .contains("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1"),
        "the error names the failing child: {}",
        r.text
    );
    assert!(!exists(&h, "/infra/tier-0s/t0"));
    // A reference to a missing object is a 404 naming it, and nothing else is applied.
    let r = h.patch(
        INFRA,
        &infra(json!([
            {"resource_type": "ChildIPSecVpnDpdProfile", "IPSecVpnDpdProfile": {"id": "dpd-x"}},
            {"resource_type": "ChildResourceReference", "target_type": "Tier0", "id": "missing",
             "children": []}
        ])),
    );
    assert_nsx_error(&r, 404);
    assert!(r.text.contains("/infra/tier-0s/missing"), "{}", r.text);
    assert!(!exists(&h, "/infra/ipsec-vpn-dpd-profiles/dpd-x"));
    // A wrapper strait does not know is named with the ones it does.
    let r = h.patch(
        INFRA,
        &infra(json!([{"resource_type": "ChildSegment", "Segment": {"id": "s"}}])),
    );
    assert_nsx_error(&r, 400);
    assert!(
        r.text.contains("ChildSegment") && r.text.contains("ChildTier0"),
        "{}",
        r.text
    );
    // Deleting a tier-0 that still has a service is refused, naming what it contains.
    h.patch(INFRA, &whole_vpn(json!({}))).expect(200);
    let r = h.patch(
        INFRA,
        &infra(
            json!([{"resource_type": "ChildTier0", "marked_for_delete": true,
            "Tier0": {"id": "t0"}}]),
        ),
    );
    assert_eq!(r.status / 100, 4, "{}", r.text);
    assert!(exists(
        &h,
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1"
    ));
}

#[test]
fn only_admins_write_and_the_audit_log_names_each_object() {
    let d = Daemon::start();
    let h = d.admin();
    h.put(
        "/api/v1/users/reader",
        &json!({"role": "auditor", "password": "reader-password-1"}),
    )
    .expect(200);
    let reader = d.as_user("reader", "reader-password-1");
    let r = reader.patch(INFRA, &whole_vpn(json!({})));
    assert_nsx_error(&r, 403);
    assert!(!exists(&h, "/infra/tier-0s/t0"));
    h.patch(INFRA, &whole_vpn(json!({}))).expect(200);
    let log = h.get("/api/v1/audit-log").expect(200).body;
    let text = log.to_string();
    for path in [
        "/infra/tier-0s/t0",
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1",
    ] {
        assert!(text.contains(path), "audit log lacks {path}: {text}");
    }
    assert!(!text.contains("correct horse"), "no PSK in the audit log");
    // GET /infra answers NSX's Infra root.
    let root = h.get(&format!("{P}/infra")).expect(200).body;
    assert_eq!(root["resource_type"], "Infra");
}

#[test]
fn search_finds_objects_as_get_shows_them_and_refuses_what_it_cannot_parse() {
    let d = Daemon::start();
    let h = d.admin();
    h.patch(INFRA, &whole_vpn(json!({}))).expect(200);
    let search = |q: &str| {
        let q: String = q
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        h.get(&format!("{P}/search/query?query={q}"))
    };
    // The Terraform provider's data-source queries.
    let r = search(
        r"resource_type:Tier0 AND display_name:edge* AND marked_for_delete:false AND path:\/infra*",
    )
    .expect(200)
    .body;
    assert_eq!(r["result_count"], 1, "{r}");
    assert_eq!(r["results"][0]["path"], "/infra/tier-0s/t0");
    let r = search(r"resource_type:IPSecVpnLocalEndpoint AND display_name:le* AND parent_path:\/infra\/tier\-0s\/t0\/ipsec\-vpn\-services\/vpn*")
        .expect(200)
        .body;
    assert_eq!(r["results"][0]["local_address"], "198.51.100.1", "{r}");
    // Results are objects as GET shows them: no secrets.
    let r = search("resource_type:RouteBasedIPSecVpnSession").expect(200);
    assert_eq!(r.body["result_count"], 1, "{}", r.text);
    assert!(!r.text.contains("correct horse"), "{}", r.text);
    // OR, NOT, nested fields; paging like lists.
    let r = search("(resource_type:Tier0 OR resource_type:IPSecVpnService) AND NOT id:vpn")
        .expect(200)
        .body;
    assert_eq!(r["result_count"], 1, "{r}");
    let r = h
        .get(&format!(
            "{P}/search/query?query=marked_for_delete%3Afalse&page_size=2"
        ))
        .expect(200)
        .body;
    assert!(
        r["result_count"].as_u64().unwrap() > 2 && r["cursor"].is_string(),
        "{r}"
    );
    // What it cannot parse is a 400 saying what it can.
    let r = search("_revision:[1 TO 3]");
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("field:value"), "{}", r.text);
    assert_nsx_error(&h.get(&format!("{P}/search/query")), 400);
}
