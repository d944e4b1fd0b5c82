//! The NSX policy objects through the real straitd: the seed page's flow end to end, NSX
//! defaults and metadata, collections, PATCH/PUT/DELETE semantics, revisions, references,
//! system-owned profiles, and how malformed requests are answered.
mod common;

use common::pki;
use common::{assert_nsx_error, seed, url, Daemon, Http, P};
use serde_json::{json, Value};

const IKE: &str = "/infra/ipsec-vpn-ike-profiles";
const TUN: &str = "/infra/ipsec-vpn-tunnel-profiles";
const DPD: &str = "/infra/ipsec-vpn-dpd-profiles";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn started() -> (Daemon, Http) {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    (d, h)
}

fn sensitive(h: &Http, path: &str) -> Value {
    h.get(&format!("{path}?action=show_sensitive_data"))
        .expect(200)
        .body
}

/// Custom profiles `ike-1`, `tun-1`, `dpd-1`.
fn custom_profiles(h: &Http) {
    h.patch(
        &url(&format!("{IKE}/ike-1")),
        &json!({"ike_version": "IKE_V2", "encryption_algorithms": ["AES_256"], "digest_algorithms": ["SHA2_384"], "dh_groups": ["GROUP20"]}),
    )
    .expect(200);
    h.patch(
        &url(&format!("{TUN}/tun-1")),
        &json!({"encryption_algorithms": ["AES_GCM_256"], "dh_groups": ["GROUP20"], "sa_life_time": 7200}),
    )
    .expect(200);
    h.patch(
        &url(&format!("{DPD}/dpd-1")),
        &json!({"dpd_probe_interval": 30}),
    )
    .expect(200);
}

// ------------------------------------------------------------------ seed flow

#[test]
fn seed_flow_with_every_session_field() {
    let (_d, h) = started();
    custom_profiles(&h);
    let body = json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "display_name": "Site B",
        "description": "route-based session to site B",
        "enabled": false,
        "authentication_mode": "PSK",
        "psk": "correct horse battery staple",
        "compliance_suite": "NONE",
        "connection_initiation_mode": "RESPOND_ONLY",
        "local_endpoint_path": seed::LE_PATH,
        "peer_address": "203.0.113.2",
        "peer_id": "site-b.example.com",
        "ike_profile_path": format!("{IKE}/ike-1"),
        "tunnel_profile_path": format!("{TUN}/tun-1"),
        "dpd_profile_path": format!("{DPD}/dpd-1"),
        "tcp_mss_clamping": {"direction": "BOTH", "max_segment_size": 1360},
        "tunnel_interfaces": [{"display_name": "vti-b", "ip_subnets": [{"ip_addresses": ["169.254.100.1"], "prefix_length": 30}]}],
        "tags": [{"scope": "site", "tag": "b"}, {"scope": "", "tag": "prod"}],
        "force_whitelisting": false
    });
    let r = h.patch(&seed::session_url("s-full"), &body).expect(200);
    assert!(
        r.text.is_empty(),
        "PATCH answers with an empty body, got {:?}",
        r.text
    );
    let s = h.get(&seed::session_url("s-full")).expect(200).body;
    for (k, v) in body.as_object().unwrap() {
        match k.as_str() {
            "psk" => assert!(s.get("psk").is_none(), "GET must never return the PSK: {s}"),
            "tunnel_interfaces" => {
                assert_eq!(s[k][0]["ip_subnets"], v[0]["ip_subnets"]);
                assert_eq!(s[k][0]["display_name"], "vti-b");
            }
            _ => assert_eq!(&s[k], v, "field {k} in {s}"),
        }
    }
    assert_eq!(
        sensitive(&h, &seed::session_url("s-full"))["psk"],
        "correct horse battery staple"
    );
    // The whole chain is listed.
    let list = h.get(seed::SESSIONS).expect(200).body;
    assert_eq!(list["result_count"], 1);
    assert_eq!(list["results"][0]["id"], "s-full");
    assert!(list["results"][0].get("psk").is_none());
}

#[test]
fn session_defaults_are_nsx_defaults() {
    let (_d, h) = started();
    h.patch(&seed::session_url("s1"), &{
        let mut b = seed::session("203.0.113.2", "169.254.100.1");
        b.as_object_mut().unwrap().remove("display_name");
        b
    })
    .expect(200);
    let s = h.get(&seed::session_url("s1")).expect(200).body;
    assert_eq!(s["display_name"], "s1", "display_name defaults to the id");
    assert_eq!(s["enabled"], true);
    assert_eq!(s["authentication_mode"], "PSK");
    assert_eq!(s["compliance_suite"], "NONE");
    assert_eq!(s["connection_initiation_mode"], "INITIATOR");
    assert_eq!(
        s["ike_profile_path"],
        format!("{IKE}/nsx-default-l3vpn-ike-profile")
    );
    assert_eq!(
        s["tunnel_profile_path"],
        format!("{TUN}/nsx-default-l3vpn-tunnel-profile")
    );
    assert_eq!(
        s["dpd_profile_path"],
        format!("{DPD}/nsx-default-l3vpn-dpd-profile")
    );
    assert_eq!(s["force_whitelisting"], false);
    assert!(s.get("tcp_mss_clamping").is_none() || s["tcp_mss_clamping"]["direction"] == "NONE");

    // Other objects' NSX defaults.
    let t0 = h.get(seed::T0).expect(200).body;
    assert_eq!(t0["ha_mode"], "ACTIVE_STANDBY");
    let svc = h.get(seed::SVC).expect(200).body;
    assert_eq!(svc["enabled"], true);
    assert_eq!(svc["ha_sync"], true);
    assert_eq!(svc["ike_log_level"], "INFO");
    h.patch(&url(&format!("{IKE}/i")), &json!({})).expect(200);
    let ike = h.get(&url(&format!("{IKE}/i"))).expect(200).body;
    assert_eq!(ike["display_name"], "i");
    assert_eq!(ike["ike_version"], "IKE_V2");
    assert_eq!(ike["encryption_algorithms"], json!(["AES_128"]));
    assert_eq!(ike["digest_algorithms"], json!(["SHA2_256"]));
    assert_eq!(ike["dh_groups"], json!(["GROUP14"]));
    assert_eq!(ike["sa_life_time"], 86400);
    h.patch(&url(&format!("{TUN}/t")), &json!({})).expect(200);
    let tun = h.get(&url(&format!("{TUN}/t"))).expect(200).body;
    assert_eq!(tun["encryption_algorithms"], json!(["AES_GCM_128"]));
    assert_eq!(tun["digest_algorithms"], json!([]));
    assert_eq!(tun["enable_perfect_forward_secrecy"], true);
    assert_eq!(tun["dh_groups"], json!(["GROUP14"]));
    assert_eq!(tun["df_policy"], "COPY");
    assert_eq!(tun["sa_life_time"], 3600);
    h.patch(&url(&format!("{DPD}/p")), &json!({})).expect(200);
    let dpd = h.get(&url(&format!("{DPD}/p"))).expect(200).body;
    assert_eq!(dpd["enabled"], true);
    assert_eq!(dpd["dpd_probe_mode"], "PERIODIC");
    assert_eq!(dpd["dpd_probe_interval"], 60);
}

// ------------------------------------------------------------------- metadata

fn check_metadata(h: &Http, path: &str, resource_type: &str, parent: &str, before: i64) {
    let o = h.get(&url(path)).expect(200).body;
    let id = path.rsplit('/').next().unwrap();
    assert_eq!(o["id"], id, "{o}");
    assert_eq!(o["path"], path, "{o}");
    assert_eq!(o["parent_path"], parent, "{o}");
    assert_eq!(o["relative_path"], id, "{o}");
    assert_eq!(o["resource_type"], resource_type, "{o}");
    assert_eq!(o["_revision"], 0, "{o}");
    assert_eq!(o["_system_owned"], false, "{o}");
    assert_eq!(o["_create_user"], "admin", "{o}");
    assert_eq!(o["_last_modified_user"], "admin", "{o}");
    assert_eq!(
        o["display_name"], id,
        "display_name defaults to the id: {o}"
    );
    let created = o["_create_time"].as_i64().expect("_create_time");
    assert!(
        created >= before - 1000 && created <= now_ms() + 1000,
        "{o}"
    );
    assert_eq!(o["_last_modified_time"].as_i64(), Some(created), "{o}");

    // An update bumps _revision by one and the modification time, not the creation time.
    std::thread::sleep(std::time::Duration::from_millis(5));
    h.patch(&url(path), &json!({"description": "changed"}))
        .expect(200);
    let o2 = h.get(&url(path)).expect(200).body;
    assert_eq!(o2["_revision"], 1, "{o2}");
    assert_eq!(o2["_create_time"], o["_create_time"]);
    assert!(
        o2["_last_modified_time"].as_i64().unwrap() > created,
        "{o2}"
    );
    assert_eq!(o2["description"], "changed");
    h.patch(&url(path), &json!({"description": "again"}))
        .expect(200);
    assert_eq!(h.get(&url(path)).expect(200).body["_revision"], 2);
    // The collection shows the same object.
    let coll = &path[..path.rfind('/').unwrap()];
    let list = h.get(&url(coll)).expect(200).body;
    let listed = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .expect("listed")
        .clone();
    assert_eq!(listed["_revision"], 2);
    assert_eq!(listed["path"], path);
}

#[test]
fn metadata_on_every_object_kind() {
    let d = Daemon::start();
    let h = d.admin();
    let before = now_ms();
    h.patch(&url("/infra/tier-0s/g0"), &json!({})).expect(200);
    check_metadata(&h, "/infra/tier-0s/g0", "Tier0", "/infra", before);
    h.patch(
        &url("/infra/tier-1s/g1"),
        &json!({"tier0_path": "/infra/tier-0s/g0"}),
    )
    .expect(200);
    check_metadata(&h, "/infra/tier-1s/g1", "Tier1", "/infra", before);
    let svc = "/infra/tier-0s/g0/ipsec-vpn-services/vpn";
    h.patch(&url(svc), &json!({})).expect(200);
    check_metadata(&h, svc, "IPSecVpnService", "/infra/tier-0s/g0", before);
    let le = format!("{svc}/local-endpoints/le");
    h.patch(&url(&le), &json!({"local_address": "198.51.100.1"}))
        .expect(200);
    check_metadata(&h, &le, "IPSecVpnLocalEndpoint", svc, before);
    let s = format!("{svc}/sessions/s1");
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["local_endpoint_path"] = json!(le);
    body.as_object_mut().unwrap().remove("display_name");
    h.patch(&url(&s), &body).expect(200);
    check_metadata(&h, &s, "RouteBasedIPSecVpnSession", svc, before);
    for (coll, rt) in [
        (IKE, "IPSecVpnIkeProfile"),
        (TUN, "IPSecVpnTunnelProfile"),
        (DPD, "IPSecVpnDpdProfile"),
    ] {
        let p = format!("{coll}/mine");
        h.patch(&url(&p), &json!({})).expect(200);
        check_metadata(&h, &p, rt, "/infra", before);
    }
    let ca = pki::ca("Meta CA");
    pki::import_ca(&h, "meta-ca", &ca);
    check_metadata(
        &h,
        "/infra/certificates/meta-ca",
        "TlsCertificate",
        "/infra",
        before,
    );
    h.patch(
        &pki::crl_url("meta-crl"),
        &json!({"pem_encoded": pki::crl(&ca)}),
    )
    .expect(200);
    check_metadata(&h, "/infra/crls/meta-crl", "TlsCrl", "/infra", before);
}

#[test]
fn tier1_gateways_hold_services_and_sessions() {
    let d = Daemon::start();
    let h = d.admin();
    // tier0_path must name an existing tier-0.
    let r = h.patch(
        &url("/infra/tier-1s/t1"),
        &json!({"tier0_path": "/infra/tier-0s/nope"}),
    );
    r.expect_problem("tier0_path", "does not exist");
    let r = h.patch(
        &url("/infra/tier-1s/t1"),
        &json!({"tier0_path": "/infra/tier-1s/other"}),
    );
    r.expect_problem("tier0_path", "tier-0");
    h.patch(
        &url("/infra/tier-1s/t1"),
        &json!({"display_name": "T1 gateway"}),
    )
    .expect(200);
    let t1 = h.get(&url("/infra/tier-1s/t1")).expect(200).body;
    assert_eq!(t1["resource_type"], "Tier1");
    assert_eq!(t1["display_name"], "T1 gateway");
    let svc = "/infra/tier-1s/t1/ipsec-vpn-services/vpn1";
    h.patch(&url(svc), &json!({"ike_log_level": "DEBUG"}))
        .expect(200);
    let le = format!("{svc}/local-endpoints/le1");
    h.patch(
        &url(&le),
        &json!({"local_address": "2001:db8::1", "local_id": "t1.example.com"}),
    )
    .expect(200);
    let mut body = seed::session("2001:db8:1::2", "169.254.200.1");
    body["local_endpoint_path"] = json!(le);
    body["tunnel_interfaces"][0]["ip_subnets"] = json!([
        {"ip_addresses": ["169.254.200.1"], "prefix_length": 30},
        {"ip_addresses": ["fd00:1::1"], "prefix_length": 64}
    ]);
    h.patch(&url(&format!("{svc}/sessions/v6")), &body)
        .expect(200);
    let s = h.get(&url(&format!("{svc}/sessions/v6"))).expect(200).body;
    assert_eq!(s["parent_path"], svc);
    assert_eq!(s["peer_address"], "2001:db8:1::2");
    assert_eq!(
        s["tunnel_interfaces"][0]["ip_subnets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let list = h.get(&url("/infra/tier-1s")).expect(200).body;
    assert_eq!(list["result_count"], 1);
    // A tier-0 collection stays empty.
    assert_eq!(
        h.get(&url("/infra/tier-0s")).expect(200).body["result_count"],
        0
    );
}

// ---------------------------------------------------------------- collections

#[test]
fn collections_page_sort_and_project() {
    let d = Daemon::start();
    let h = d.admin();
    let names = [
        "golf", "alpha", "echo", "charlie", "foxtrot", "bravo", "delta",
    ];
    for (i, n) in names.iter().enumerate() {
        h.patch(
            &url(&format!("/infra/tier-1s/gw{i}")),
            &json!({"display_name": n}),
        )
        .expect(200);
    }
    let all = h.get(&url("/infra/tier-1s")).expect(200).body;
    assert_eq!(all["result_count"], 7);
    assert!(all.get("cursor").is_none() || all["cursor"].is_null());
    let got: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"],
        "sorted by display_name by default"
    );

    // Cursor paging: 3 + 3 + 1, nothing repeated, nothing lost.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("?page_size=3&cursor={c}"),
            None => "?page_size=3".to_owned(),
        };
        let page = h.get(&url(&format!("/infra/tier-1s{q}"))).expect(200).body;
        pages += 1;
        assert_eq!(
            page["result_count"], 7,
            "result_count is the whole collection"
        );
        let results = page["results"].as_array().unwrap();
        assert!(results.len() <= 3);
        seen.extend(
            results
                .iter()
                .map(|r| r["display_name"].as_str().unwrap().to_owned()),
        );
        match page["cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    );

    let desc = h
        .get(&url(
            "/infra/tier-1s?sort_by=display_name&sort_ascending=false",
        ))
        .expect(200)
        .body;
    assert_eq!(desc["results"][0]["display_name"], "golf");
    assert_eq!(desc["sort_ascending"], false);
    assert_eq!(desc["sort_by"], "display_name");
    let by_id = h.get(&url("/infra/tier-1s?sort_by=id")).expect(200).body;
    assert_eq!(by_id["results"][0]["id"], "gw0");
    assert_eq!(by_id["results"][6]["id"], "gw6");

    let proj = h
        .get(&url("/infra/tier-1s?included_fields=id,display_name"))
        .expect(200)
        .body;
    for r in proj["results"].as_array().unwrap() {
        // The included fields and the object's identity and metadata, nothing else.
        assert!(r["id"].is_string() && r["display_name"].is_string(), "{r}");
        assert!(r["path"].is_string() && r["_revision"].is_number(), "{r}");
        assert!(
            r.get("ha_mode").is_none() && r.get("failover_mode").is_none(),
            "{r}"
        );
    }

    // Bad listing parameters are 400s that say what to do.
    assert_nsx_error(&h.get(&url("/infra/tier-1s?page_size=abc")), 400);
    assert_nsx_error(&h.get(&url("/infra/tier-1s?cursor=garbage")), 400);
    assert_nsx_error(&h.get(&url("/infra/tier-1s?sort_ascending=maybe")), 400);
    assert_nsx_error(&h.get(&url("/infra/tier-1s?bogus=1")), 400);
    // A collection under a missing parent is 404.
    assert_nsx_error(&h.get(&url("/infra/tier-0s/nope/ipsec-vpn-services")), 404);
}

// ---------------------------------------------------------------------- PATCH

#[test]
fn patch_is_a_json_merge_patch() {
    let (_d, h) = started();
    let u = seed::session_url("s1");
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["tcp_mss_clamping"] = json!({"direction": "BOTH", "max_segment_size": 1360});
    body["tags"] = json!([{"scope": "a", "tag": "1"}, {"scope": "b", "tag": "2"}]);
    body["description"] = json!("first");
    h.patch(&u, &body).expect(200);

    // Objects merge.
    h.patch(
        &u,
        &json!({"tcp_mss_clamping": {"direction": "INBOUND_CONNECTION"}}),
    )
    .expect(200);
    let s = h.get(&u).expect(200).body;
    assert_eq!(
        s["tcp_mss_clamping"],
        json!({"direction": "INBOUND_CONNECTION", "max_segment_size": 1360})
    );
    // Arrays replace.
    h.patch(&u, &json!({"tags": [{"scope": "c", "tag": "3"}]}))
        .expect(200);
    assert_eq!(
        h.get(&u).expect(200).body["tags"],
        json!([{"scope": "c", "tag": "3"}])
    );
    // null resets to the default.
    h.patch(
        &u,
        &json!({"enabled": false, "connection_initiation_mode": "RESPOND_ONLY"}),
    )
    .expect(200);
    assert_eq!(h.get(&u).expect(200).body["enabled"], false);
    h.patch(&u, &json!({"enabled": null, "connection_initiation_mode": null, "description": null, "tags": null})).expect(200);
    let s = h.get(&u).expect(200).body;
    assert_eq!(s["enabled"], true);
    assert_eq!(s["connection_initiation_mode"], "INITIATOR");
    assert!(s.get("description").is_none(), "{s}");
    assert!(s.get("tags").is_none() || s["tags"] == json!([]), "{s}");
    h.patch(&u, &json!({"tcp_mss_clamping": {"max_segment_size": null}}))
        .expect(200);
    assert_eq!(
        h.get(&u).expect(200).body["tcp_mss_clamping"],
        json!({"direction": "INBOUND_CONNECTION"})
    );
    // Fields not named are kept, including the PSK.
    assert_eq!(h.get(&u).expect(200).body["peer_address"], "203.0.113.2");
    assert_eq!(sensitive(&h, &u)["psk"], "correct horse battery staple");
    h.patch(&u, &json!({"psk": "a new key"})).expect(200);
    assert_eq!(sensitive(&h, &u)["psk"], "a new key");
    // PATCH with the current _revision is accepted; a stale one is 412.
    let rev = h.get(&u).expect(200).body["_revision"].as_i64().unwrap();
    h.patch(&u, &json!({"_revision": rev, "description": "ok"}))
        .expect(200);
    let r = h.patch(&u, &json!({"_revision": rev, "description": "stale"}));
    assert_nsx_error(&r, 412);
    assert_eq!(r.body["httpStatus"], "PRECONDITION_FAILED");
    assert!(
        r.body["error_message"]
            .as_str()
            .unwrap()
            .contains(&format!("_revision {}", rev + 1)),
        "{}",
        r.text
    );
    assert_eq!(h.get(&u).expect(200).body["description"], "ok");
}

#[test]
fn patch_dpd_mode_recomputes_a_defaulted_interval() {
    let d = Daemon::start();
    let h = d.admin();
    let u = url(&format!("{DPD}/dpd"));
    h.patch(&u, &json!({"dpd_probe_mode": "PERIODIC"}))
        .expect(200);
    assert_eq!(h.get(&u).expect(200).body["dpd_probe_interval"], 60);
    h.patch(&u, &json!({"dpd_probe_mode": "ON_DEMAND"}))
        .expect(200);
    let p = h.get(&u).expect(200).body;
    assert_eq!(p["dpd_probe_mode"], "ON_DEMAND");
    assert_eq!(
        p["dpd_probe_interval"], 10,
        "a defaulted interval follows the mode: {p}"
    );
    h.patch(&u, &json!({"dpd_probe_mode": null})).expect(200);
    assert_eq!(h.get(&u).expect(200).body["dpd_probe_interval"], 60);
    // An explicit interval is kept, and checked against the new mode.
    h.patch(&u, &json!({"dpd_probe_interval": 30})).expect(200);
    h.patch(&u, &json!({"dpd_probe_mode": "ON_DEMAND"}))
        .expect_problem("dpd_probe_interval", "1 to 10");
    h.patch(
        &u,
        &json!({"dpd_probe_mode": "ON_DEMAND", "dpd_probe_interval": null}),
    )
    .expect(200);
    assert_eq!(h.get(&u).expect(200).body["dpd_probe_interval"], 10);
}

#[test]
fn patch_recomputes_defaulted_digests() {
    let d = Daemon::start();
    let h = d.admin();
    // A CBC IKE profile gets SHA2_256 by default; switching it to GCM by PATCH drops the
    // defaulted digest instead of failing on it.
    let ike = url(&format!("{IKE}/i"));
    h.patch(&ike, &json!({"encryption_algorithms": ["AES_128"]}))
        .expect(200);
    assert_eq!(
        h.get(&ike).expect(200).body["digest_algorithms"],
        json!(["SHA2_256"])
    );
    h.patch(&ike, &json!({"encryption_algorithms": ["AES_GCM_128"]}))
        .expect(200);
    assert_eq!(h.get(&ike).expect(200).body["digest_algorithms"], json!([]));
    h.patch(&ike, &json!({"encryption_algorithms": ["AES_256"]}))
        .expect(200);
    assert_eq!(
        h.get(&ike).expect(200).body["digest_algorithms"],
        json!(["SHA2_256"])
    );
    // An explicit digest is the user's and stays: then GCM-only is refused.
    h.patch(&ike, &json!({"digest_algorithms": ["SHA2_512"]}))
        .expect(200);
    h.patch(&ike, &json!({"encryption_algorithms": ["AES_GCM_128"]}))
        .expect_problem("digest_algorithms", "empty");
    h.patch(
        &ike,
        &json!({"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": null}),
    )
    .expect(200);
    // The same for tunnel profiles.
    let tun = url(&format!("{TUN}/t"));
    h.patch(&tun, &json!({"encryption_algorithms": ["AES_256"]}))
        .expect(200);
    assert_eq!(
        h.get(&tun).expect(200).body["digest_algorithms"],
        json!(["SHA2_256"])
    );
    h.patch(
        &tun,
        &json!({"encryption_algorithms": ["NO_ENCRYPTION_AUTH_AES_GMAC_256"]}),
    )
    .expect(200);
    assert_eq!(h.get(&tun).expect(200).body["digest_algorithms"], json!([]));
}

// ------------------------------------------------------------------------ PUT

#[test]
fn put_creates_replaces_and_checks_revisions() {
    let d = Daemon::start();
    let h = d.admin();
    let u = url(&format!("{IKE}/put-me"));
    let r = h.put(&u, &json!({"display_name": "P", "encryption_algorithms": ["AES_256"], "sa_life_time": 28800})).expect(200);
    assert_eq!(r.body["_revision"], 0);
    assert_eq!(r.body["id"], "put-me");
    assert_eq!(r.body["path"], format!("{IKE}/put-me"));
    assert_eq!(r.body["sa_life_time"], 28800);
    assert_eq!(r.body["digest_algorithms"], json!(["SHA2_256"]));
    assert_eq!(
        r.body,
        h.get(&u).expect(200).body,
        "PUT returns the stored object"
    );

    // Update without _revision: 400 that says how to fix it.
    let r = h.put(&u, &json!({"display_name": "Q"}));
    r.clone().expect_problem("_revision", "_revision");
    assert!(
        r.body["error_message"].as_str().unwrap().contains("(0)"),
        "{}",
        r.text
    );
    // Stale _revision: 412 with an NSX body.
    let r = h.put(&u, &json!({"display_name": "Q", "_revision": 7}));
    assert_nsx_error(&r, 412);
    assert_eq!(r.body["httpStatus"], "PRECONDITION_FAILED");
    assert!(
        r.body["error_message"]
            .as_str()
            .unwrap()
            .contains("GET it again"),
        "{}",
        r.text
    );
    let r = h.put(&u, &json!({"display_name": "Q", "_revision": -1}));
    assert_nsx_error(&r, 412);
    // Nothing changed.
    assert_eq!(h.get(&u).expect(200).body["display_name"], "P");
    // Current _revision: replaced; fields left out go back to their defaults.
    let r = h
        .put(&u, &json!({"display_name": "Q", "_revision": 0}))
        .expect(200);
    assert_eq!(r.body["_revision"], 1);
    assert_eq!(r.body["display_name"], "Q");
    assert_eq!(r.body["sa_life_time"], 86400);
    assert_eq!(r.body["encryption_algorithms"], json!(["AES_128"]));
    // A non-integer _revision is a 400, not a 412 or 500.
    h.put(&u, &json!({"display_name": "Q", "_revision": "1"}))
        .expect_problem("_revision", "integer");
}

#[test]
fn put_keeps_the_psk_and_replaces_the_rest() {
    let (_d, h) = started();
    let u = seed::session_url("s1");
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["description"] = json!("will go");
    let r = h.put(&u, &body).expect(200);
    assert_eq!(r.body["_revision"], 0);
    assert!(
        r.body.get("psk").is_none(),
        "PUT never echoes the PSK: {}",
        r.text
    );
    let mut again = seed::session("203.0.113.2", "169.254.100.1");
    again.as_object_mut().unwrap().remove("psk");
    again["_revision"] = json!(0);
    let r = h.put(&u, &again).expect(200);
    assert!(r.body.get("description").is_none(), "{}", r.text);
    assert_eq!(sensitive(&h, &u)["psk"], "correct horse battery staple");
    again["_revision"] = json!(1);
    again["psk"] = Value::Null;
    h.put(&u, &again).expect(200);
    assert_eq!(
        sensitive(&h, &u)["psk"],
        "correct horse battery staple",
        "psk: null on PUT keeps it"
    );
}

// --------------------------------------------------------------------- DELETE

#[test]
fn delete_is_idempotent() {
    let d = Daemon::start();
    let h = d.admin();
    let u = url(&format!("{DPD}/gone"));
    let r = h.delete(&u).expect(200);
    assert!(r.text.is_empty());
    h.patch(&u, &json!({})).expect(200);
    h.delete(&u).expect(200);
    assert_nsx_error(&h.get(&u), 404);
    h.delete(&u).expect(200);
    h.delete(&url("/infra/tier-0s/none/ipsec-vpn-services/x/sessions/y"))
        .expect(200);
}

#[track_caller]
fn delete_blocked(h: &Http, path: &str, names: &[&str]) {
    let r = h.delete(&url(path));
    assert_nsx_error(&r, 400);
    let all = r.messages().join(" | ") + &r.text;
    for n in names {
        assert!(
            all.contains(n),
            "deleting {path} should name {n}: {}",
            r.text
        );
    }
    h.get(&url(path)).expect(200);
}

#[test]
fn delete_of_referenced_objects_names_the_referrers() {
    let (_d, h) = started();
    custom_profiles(&h);
    pki::certificate_endpoint(&h);
    // Certificate mode is not needed for the reference; a PSK session keeps it simple.
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["ike_profile_path"] = json!(format!("{IKE}/ike-1"));
    body["tunnel_profile_path"] = json!(format!("{TUN}/tun-1"));
    body["dpd_profile_path"] = json!(format!("{DPD}/dpd-1"));
    h.patch(&seed::session_url("s1"), &body).expect(200);
    let s1 = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1";

    delete_blocked(&h, &format!("{IKE}/ike-1"), &[s1]);
    delete_blocked(&h, &format!("{TUN}/tun-1"), &[s1]);
    delete_blocked(&h, &format!("{DPD}/dpd-1"), &[s1]);
    delete_blocked(&h, seed::LE_PATH, &[s1]);
    delete_blocked(&h, "/infra/tier-0s/t0/ipsec-vpn-services/vpn", &[s1]);
    delete_blocked(
        &h,
        "/infra/tier-0s/t0",
        &["/infra/tier-0s/t0/ipsec-vpn-services/vpn"],
    );
    delete_blocked(&h, "/infra/certificates/site", &[seed::LE_PATH]);
    delete_blocked(&h, "/infra/certificates/ca", &[seed::LE_PATH]);
    // used_by names the referrer (NSX ResourceReference), in GET and in the list.
    let cert = h.get(&url("/infra/certificates/site")).expect(200).body;
    assert_eq!(cert["used_by"][0]["target_id"], seed::LE_PATH, "{cert:#}");
    assert_eq!(cert["used_by"][0]["target_type"], "IPSecVpnLocalEndpoint");
    let list = h.get(&url("/infra/certificates")).expect(200).body;
    assert!(list["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "ca" && c["used_by"][0]["target_id"] == seed::LE_PATH));

    // Bottom-up deletion works.
    h.delete(&seed::session_url("s1")).expect(200);
    h.delete(&url(&format!("{IKE}/ike-1"))).expect(200);
    h.delete(&url(&format!("{TUN}/tun-1"))).expect(200);
    h.delete(&url(&format!("{DPD}/dpd-1"))).expect(200);
    h.delete(seed::LE).expect(200);
    let cert = h.get(&url("/infra/certificates/site")).expect(200).body;
    assert_eq!(cert["used_by"], json!([]), "nothing refers to it any more");
    h.delete(&url("/infra/certificates/site")).expect(200);
    h.delete(&url("/infra/certificates/ca")).expect(200);
    h.delete(seed::SVC).expect(200);
    h.delete(seed::T0).expect(200);
    assert_eq!(
        h.get(&url("/infra/tier-0s")).expect(200).body["result_count"],
        0
    );
}

// ------------------------------------------------------- system-owned profiles

fn ike_expect(h: &Http, id: &str, version: &str, enc: Value, dig: Value, dh: Value) {
    let p = h.get(&url(&format!("{IKE}/{id}"))).expect(200).body;
    assert_eq!(p["_system_owned"], true, "{id}: {p}");
    assert_eq!(p["ike_version"], version, "{id}");
    assert_eq!(p["encryption_algorithms"], enc, "{id}");
    assert_eq!(p["digest_algorithms"], dig, "{id}");
    assert_eq!(p["dh_groups"], dh, "{id}");
    assert_eq!(p["sa_life_time"], 86400, "{id}");
}

fn tun_expect(h: &Http, id: &str, enc: Value, dig: Value, dh: Value) {
    let p = h.get(&url(&format!("{TUN}/{id}"))).expect(200).body;
    assert_eq!(p["_system_owned"], true, "{id}: {p}");
    assert_eq!(p["encryption_algorithms"], enc, "{id}");
    assert_eq!(p["digest_algorithms"], dig, "{id}");
    assert_eq!(p["dh_groups"], dh, "{id}");
    assert_eq!(p["enable_perfect_forward_secrecy"], true, "{id}");
    assert_eq!(p["df_policy"], "COPY", "{id}");
    assert_eq!(p["sa_life_time"], 3600, "{id}");
}

#[test]
fn system_owned_profiles_exist_with_documented_algorithms() {
    let d = Daemon::start();
    let h = d.admin();
    ike_expect(
        &h,
        "nsx-default-l3vpn-ike-profile",
        "IKE_V2",
        json!(["AES_128"]),
        json!(["SHA2_256"]),
        json!(["GROUP14"]),
    );
    ike_expect(
        &h,
        "nsx-default-l2vpn-ike-profile",
        "IKE_V2",
        json!(["AES_128"]),
        json!(["SHA2_256"]),
        json!(["GROUP14"]),
    );
    tun_expect(
        &h,
        "nsx-default-l3vpn-tunnel-profile",
        json!(["AES_GCM_128"]),
        json!([]),
        json!(["GROUP14"]),
    );
    tun_expect(
        &h,
        "nsx-default-l2vpn-tunnel-profile",
        json!(["AES_GCM_128"]),
        json!([]),
        json!(["GROUP14"]),
    );
    let dpd = h
        .get(&url(&format!("{DPD}/nsx-default-l3vpn-dpd-profile")))
        .expect(200)
        .body;
    assert_eq!(dpd["_system_owned"], true);
    assert_eq!(dpd["enabled"], true);
    assert_eq!(dpd["dpd_probe_mode"], "PERIODIC");
    assert_eq!(dpd["dpd_probe_interval"], 60);

    // §4 compliance suites.
    ike_expect(
        &h,
        "cnsa-ipsec-ike-profile",
        "IKE_V2",
        json!(["AES_256"]),
        json!(["SHA2_384"]),
        json!(["GROUP15", "GROUP20"]),
    );
    tun_expect(
        &h,
        "cnsa-ipsec-tunnel-profile",
        json!(["AES_256"]),
        json!(["SHA2_384"]),
        json!(["GROUP15", "GROUP20"]),
    );
    ike_expect(
        &h,
        "fips-ipsec-ike-profile",
        "IKE_FLEX",
        json!(["AES_128"]),
        json!(["SHA2_256"]),
        json!(["GROUP20"]),
    );
    tun_expect(
        &h,
        "fips-ipsec-tunnel-profile",
        json!(["AES_GCM_128"]),
        json!([]),
        json!(["GROUP20"]),
    );
    ike_expect(
        &h,
        "foundation-ipsec-ike-profile",
        "IKE_V1",
        json!(["AES_128"]),
        json!(["SHA2_256"]),
        json!(["GROUP14"]),
    );
    tun_expect(
        &h,
        "foundation-ipsec-tunnel-profile",
        json!(["AES_128"]),
        json!(["SHA2_256"]),
        json!(["GROUP14"]),
    );
    ike_expect(
        &h,
        "prime-ipsec-ike-profile",
        "IKE_V2",
        json!(["AES_GCM_128"]),
        json!([]),
        json!(["GROUP19"]),
    );
    tun_expect(
        &h,
        "prime-ipsec-tunnel-profile",
        json!(["AES_GCM_128"]),
        json!([]),
        json!(["GROUP19"]),
    );
    ike_expect(
        &h,
        "suite-b-gcm-128-ipsec-ike-profile",
        "IKE_V2",
        json!(["AES_128"]),
        json!(["SHA2_256"]),
        json!(["GROUP19"]),
    );
    tun_expect(
        &h,
        "suite-b-gcm-128-ipsec-tunnel-profile",
        json!(["AES_GCM_128"]),
        json!([]),
        json!(["GROUP19"]),
    );
    ike_expect(
        &h,
        "suite-b-gcm-256-ipsec-ike-profile",
        "IKE_V2",
        json!(["AES_256"]),
        json!(["SHA2_384"]),
        json!(["GROUP20"]),
    );
    tun_expect(
        &h,
        "suite-b-gcm-256-ipsec-tunnel-profile",
        json!(["AES_GCM_256"]),
        json!([]),
        json!(["GROUP20"]),
    );

    assert_eq!(h.get(&url(IKE)).expect(200).body["result_count"], 8);
    assert_eq!(h.get(&url(TUN)).expect(200).body["result_count"], 8);
    let dpds = h.get(&url(DPD)).expect(200).body;
    assert!(dpds["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["_system_owned"] == true));
}

#[test]
fn system_owned_profiles_cannot_be_changed_or_deleted() {
    let d = Daemon::start();
    let h = d.admin();
    for p in [
        format!("{IKE}/nsx-default-l3vpn-ike-profile"),
        format!("{IKE}/cnsa-ipsec-ike-profile"),
        format!("{TUN}/nsx-default-l3vpn-tunnel-profile"),
        format!("{TUN}/prime-ipsec-tunnel-profile"),
        format!("{DPD}/nsx-default-l3vpn-dpd-profile"),
        format!("{IKE}/nsx-default-l2vpn-ike-profile"),
    ] {
        let before = h.get(&url(&p)).expect(200).body;
        let r = h.patch(&url(&p), &json!({"description": "mine now"}));
        assert_nsx_error(&r, 400);
        assert!(r.text.contains("system-owned"), "{p}: {}", r.text);
        let mut put = before.clone();
        put["description"] = json!("mine now");
        let r = h.put(&url(&p), &put);
        assert_nsx_error(&r, 400);
        assert!(r.text.contains("system-owned"), "{p}: {}", r.text);
        let r = h.delete(&url(&p));
        assert_nsx_error(&r, 400);
        assert!(r.text.contains("system-owned"), "{p}: {}", r.text);
        assert_eq!(h.get(&url(&p)).expect(200).body, before, "{p} unchanged");
    }
}

// -------------------------------------------------------- unsupported / errors

#[test]
fn policy_based_sessions_are_not_supported_yet() {
    let (_d, h) = started();
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["resource_type"] = json!("PolicyBasedIPSecVpnSession");
    body["rules"] = json!([{"sources": [{"subnet": "10.1.0.0/24"}], "destinations": [{"subnet": "10.2.0.0/24"}]}]);
    let r = h.patch(&seed::session_url("pb"), &body);
    r.clone()
        .expect_problem("resource_type", "not supported yet");
    assert_eq!(
        r.error_fields(),
        ["resource_type"],
        "one clear problem, not noise: {}",
        r.text
    );
    assert_nsx_error(&h.put(&seed::session_url("pb"), &body), 400);
    assert_nsx_error(&h.get(&seed::session_url("pb")), 404);
    // A missing resource_type on a session says what to put there.
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body.as_object_mut().unwrap().remove("resource_type");
    h.patch(&seed::session_url("pb"), &body)
        .expect_problem("resource_type", "RouteBasedIPSecVpnSession");
    body["resource_type"] = json!("Tier0");
    h.patch(&seed::session_url("pb"), &body)
        .expect_problem("resource_type", "RouteBasedIPSecVpnSession");
}

#[test]
fn unknown_paths_and_methods_get_nsx_errors() {
    let (_d, h) = started();
    // Objects of kinds strait has that do not exist, and paths outside NSX's API: 404.
    for path in [
        format!("{P}/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/missing"),
        format!("{P}/infra/tier-0s/missing"),
        "/something".to_owned(),
        "/policy/api/v2/infra/tier-0s".to_owned(),
    ] {
        let r = h.get(&path);
        assert_nsx_error(&r, 404);
        assert_eq!(r.body["httpStatus"], "NOT_FOUND", "{path}");
    }
    // Paths in NSX's API space that strait does not implement: 501, never 404 (a client
    // would take that for "does not exist").
    for path in [
        format!("{P}/infra/tier-0s/t0/nonsense"),
        format!("{P}/infra/segments/web"),
        format!("{P}/infra/domains/default/groups"),
        format!("{P}/orgs/default/projects"),
        "/api/v1/transport-zones".to_owned(),
    ] {
        let r = h.get(&path);
        assert_nsx_error(&r, 501);
        assert_eq!(r.body["httpStatus"], "NOT_IMPLEMENTED", "{path}");
        assert!(r.text.contains("not implemented by strait"), "{}", r.text);
    }
    // A bad id in the URL is a 404 naming the problem.
    let r = h.patch(&format!("{P}/infra/tier-0s/bad%20id"), &json!({}));
    assert_nsx_error(&r, 404);
    assert!(r.text.contains("contains"), "{}", r.text);

    // Errors made by the HTTP framework itself also carry NSX bodies.
    let r = h.get("/api/v1/users/%FF");
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("UTF-8"), "{}", r.text);
    for (m, path) in [
        ("POST", seed::LE.to_owned()),
        ("POST", seed::T0.to_owned()),
        ("PATCH", seed::SESSIONS.to_owned()),
        ("PUT", format!("{P}/infra/tier-0s")),
        ("DELETE", format!("{P}/infra/ipsec-vpn-ike-profiles")),
        ("DELETE", "/api/v1/users".to_owned()),
        ("POST", "/api/v1/audit-log".to_owned()),
        ("PATCH", "/api/v1/users/admin".to_owned()),
    ] {
        let r = h.raw(m, &path, "{}");
        assert_nsx_error(&r, 405);
        assert_eq!(r.body["httpStatus"], "METHOD_NOT_ALLOWED", "{m} {path}");
        // Every 405 says what is allowed (RFC 9110 §15.5.6), and that includes GET.
        let allow = r
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{m} {path}: 405 without an Allow header"));
        assert!(
            allow.contains("GET") && !allow.contains(m),
            "{m} {path}: Allow {allow}"
        );
    }
    // POST on a session is for the rekey actions (strait extension) and says so.
    let r = h.raw("POST", &seed::session_url("s1"), "{}");
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("rekey_ike"), "{}", r.text);
}

#[test]
fn malformed_bodies_get_precise_400s() {
    let (_d, h) = started();
    let u = seed::session_url("s1");
    // JSON syntax.
    let r = h.raw("PATCH", &u, "{\"peer_address\": ");
    assert_nsx_error(&r, 400);
    assert!(
        r.body["error_message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{}",
        r.text
    );
    assert!(
        r.body["error_message"].as_str().unwrap().contains("line 1"),
        "{}",
        r.text
    );
    let r = h.raw("PUT", &u, "{'single': 'quotes'}");
    assert_nsx_error(&r, 400);
    // Empty and non-object bodies.
    for b in [
        "",
        "   ",
        "[]",
        "[1,2]",
        "\"a string\"",
        "42",
        "null",
        "true",
    ] {
        let r = h.raw("PATCH", &u, b);
        assert_nsx_error(&r, 400);
        assert!(
            r.body["error_message"].as_str().unwrap().contains("object")
                || r.text.contains("empty"),
            "{b:?}: {}",
            r.text
        );
        let r = h.raw("PUT", &url(&format!("{IKE}/x")), b);
        assert_nsx_error(&r, 400);
    }
    assert_nsx_error(&h.get(&url(&format!("{IKE}/x"))), 404);

    // Wrong types.
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["enabled"] = json!("yes");
    body["peer_address"] = json!(12345);
    body["tunnel_interfaces"] = json!({"ip_subnets": []});
    body["tcp_mss_clamping"] = json!("BOTH");
    body["tags"] = json!("prod");
    let r = h.patch(&u, &body);
    common::assert_fields(
        &r,
        &[
            "enabled",
            "peer_address",
            "tunnel_interfaces",
            "tcp_mss_clamping",
            "tags",
        ],
    );
    r.clone().expect_problem("enabled", "true or false");
    r.clone()
        .expect_problem("peer_address", "expected an IP address");
    r.clone()
        .expect_problem("tunnel_interfaces", "expected an array");
    r.clone()
        .expect_problem("tcp_mss_clamping", "expected a JSON object");

    // Unknown enum values list what is accepted; a case mistake gets a hint.
    let r = h.patch(
        &url(&format!("{IKE}/x")),
        &json!({"ike_version": "IKE_V3", "dh_groups": ["group14"]}),
    );
    r.clone()
        .expect_problem("ike_version", "IKE_V1, IKE_V2, IKE_FLEX");
    r.clone()
        .expect_problem("dh_groups[0]", "did you mean GROUP14");
    // Unknown fields are named with a suggestion.
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["peer_adress"] = json!("203.0.113.9");
    h.patch(&u, &body)
        .expect_problem("peer_adress", "did you mean \"peer_address\"");
    // Numbers that do not fit.
    for n in ["1e300", "-1", "99999999999999999999999", "3.5"] {
        let r = h.raw(
            "PATCH",
            &url(&format!("{IKE}/x")),
            &format!("{{\"sa_life_time\": {n}}}"),
        );
        r.expect_problem("sa_life_time", "");
    }
    // Deeply nested JSON is rejected, not a crash.
    let deep = "[".repeat(5000) + &"]".repeat(5000);
    let r = h.raw("PATCH", &u, &deep);
    assert_nsx_error(&r, 400);
    // An id in the body must match the URL.
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["id"] = json!("other");
    h.patch(&u, &body)
        .expect_problem("id", "differs from the id in the URL");
    assert_nsx_error(&h.get(&u), 404);
}

#[test]
fn oversized_bodies_get_400_with_code_413() {
    let (d, h) = started();
    let big = format!("{{\"description\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let r = h.raw("PATCH", &url(&format!("{DPD}/big")), &big);
    assert_nsx_error(&r, 400);
    assert_eq!(r.body["error_code"], 413);
    assert!(r.text.contains("larger than"), "{}", r.text);
    let r = h.raw("PUT", "/api/v1/users/bob", &big);
    assert_nsx_error(&r, 400);
    assert_eq!(r.body["error_code"], 413);
    // The login form too (axum's own limit there used to answer in plain text).
    let r = d.anonymous().form(
        "/api/session/create",
        &format!("j_username=admin&j_password={}", "x".repeat(3 << 20)),
    );
    assert_nsx_error(&r, 400);
    assert_eq!(r.body["error_code"], 413);
    assert!(r.text.contains("larger than"), "{}", r.text);
    // A body just under the limit that is otherwise invalid gets a 400 about the field.
    let desc = "y".repeat(2000);
    h.patch(&url(&format!("{DPD}/big")), &json!({"description": desc}))
        .expect_problem("description", "1024");
    // The server is still fine.
    h.get(seed::T0).expect(200);
}

// ------------------------------------------------------------- GET -> PUT

#[test]
fn get_then_put_round_trips_for_every_kind() {
    let (_d, h) = started();
    custom_profiles(&h);
    pki::certificate_endpoint(&h);
    let ca = pki::ca("CRL CA");
    h.patch(&pki::crl_url("crl"), &json!({"pem_encoded": pki::crl(&ca)}))
        .expect(200);
    h.patch(
        &url("/infra/tier-1s/t1"),
        &json!({"tier0_path": "/infra/tier-0s/t0"}),
    )
    .expect(200);
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["tags"] = json!([{"scope": "s", "tag": "t"}]);
    body["tcp_mss_clamping"] =
        json!({"direction": "OUTBOUND_CONNECTION", "max_segment_size": 1300});
    h.patch(&seed::session_url("s1"), &body).expect(200);
    h.patch(
        &url("/infra/tier-0s/t0/static-routes/r1"),
        &json!({"network": "10.2.0.0/16", "next_hops": [{"ip_address": "169.254.100.2"}]}),
    )
    .expect(200);

    for path in [
        "/infra/tier-0s/t0".to_owned(),
        "/infra/tier-1s/t1".to_owned(),
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn".to_owned(),
        seed::LE_PATH.to_owned(),
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1".to_owned(),
        format!("{IKE}/ike-1"),
        format!("{TUN}/tun-1"),
        format!("{DPD}/dpd-1"),
        "/infra/certificates/site".to_owned(),
        "/infra/certificates/ca".to_owned(),
        "/infra/crls/crl".to_owned(),
        "/infra/tier-0s/t0/static-routes/r1".to_owned(),
    ] {
        let mut got = h.get(&url(&path)).expect(200).body;
        // What other NSX clients echo back as well.
        got["_links"] = json!([{"rel": "self", "href": format!("{P}{path}"), "action": "GET"}]);
        got["_schema"] = json!("/v1/schema/Whatever");
        got["_self"] = json!({"rel": "self", "href": "x"});
        let r = h.put(&url(&path), &got);
        assert_eq!(r.status, 200, "PUT of GET output for {path}: {}", r.text);
        let after = h.get(&url(&path)).expect(200).body;
        let mut a = after.clone();
        let mut b = got.clone();
        for m in [&mut a, &mut b] {
            let o = m.as_object_mut().unwrap();
            for k in [
                "_revision",
                "_last_modified_time",
                "_links",
                "_schema",
                "_self",
            ] {
                o.remove(k);
            }
        }
        assert_eq!(a, b, "{path} changed by a GET -> PUT round trip");
        assert_eq!(
            after["_revision"],
            got["_revision"].as_i64().unwrap() + 1,
            "{path}"
        );
    }
    // The PSK and the private key survived.
    assert_eq!(
        sensitive(&h, &seed::session_url("s1"))["psk"],
        "correct horse battery staple"
    );
    assert_eq!(
        h.get(&pki::cert_url("site")).expect(200).body["has_private_key"],
        true
    );
    // A PATCH with the whole GET output is fine too.
    let got = h.get(&seed::session_url("s1")).expect(200).body;
    h.patch(&seed::session_url("s1"), &got).expect(200);
}
