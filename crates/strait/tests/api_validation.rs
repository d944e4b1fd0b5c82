//! Every validation rule of the API, each with a failing and a passing case, checked
//! against the real straitd.
mod common;

use common::pki;
use common::{assert_fields, assert_nsx_error, seed, url, Daemon, Http, Resp};
use serde_json::{json, Value};

const IKE: &str = "/infra/ipsec-vpn-ike-profiles";
const TUN: &str = "/infra/ipsec-vpn-tunnel-profiles";
const DPD: &str = "/infra/ipsec-vpn-dpd-profiles";

fn started() -> (Daemon, Http) {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    (d, h)
}

fn body() -> Value {
    seed::session("203.0.113.2", "169.254.100.1")
}

fn with(f: impl FnOnce(&mut Value)) -> Value {
    let mut b = body();
    f(&mut b);
    b
}

fn remove(b: &mut Value, k: &str) {
    b.as_object_mut().unwrap().remove(k);
}

/// A session body that must be accepted: created, read back, and deleted again so that the
/// next case starts from the same tree.
#[track_caller]
fn accepted(h: &Http, b: &Value) -> Value {
    let u = seed::session_url("probe");
    let r = h.patch(&u, b);
    assert_eq!(
        r.status, 200,
        "expected the session to be accepted; body: {}",
        r.text
    );
    let got = h.get(&u).expect(200).body;
    h.delete(&u).expect(200);
    got
}

/// A session body that must be rejected with a problem on `field` mentioning `needle`; the
/// session must not exist afterwards.
#[track_caller]
fn rejected(h: &Http, b: &Value, field: &str, needle: &str) -> Resp {
    let u = seed::session_url("probe");
    let r = h.patch(&u, b).expect_problem(field, needle);
    assert_nsx_error(&r, 400);
    assert_eq!(
        h.get(&u).status,
        404,
        "a rejected PATCH must not create anything"
    );
    r
}

#[track_caller]
fn obj_ok(h: &Http, path: &str, b: &Value) -> Value {
    let r = h.patch(&url(path), b);
    assert_eq!(
        r.status, 200,
        "expected {path} to accept {b}; body: {}",
        r.text
    );
    let got = h.get(&url(path)).expect(200).body;
    h.delete(&url(path)).expect(200);
    got
}

#[track_caller]
fn obj_bad(h: &Http, path: &str, b: &Value, field: &str, needle: &str) -> Resp {
    let r = h.patch(&url(path), b).expect_problem(field, needle);
    assert_eq!(
        h.get(&url(path)).status,
        404,
        "rejected PATCH created {path}"
    );
    r
}

// ------------------------------------------------------------ required fields

#[test]
fn required_session_fields() {
    let (_d, h) = started();
    accepted(&h, &body());
    for (field, needle) in [
        ("local_endpoint_path", "is required"),
        ("peer_address", "is required"),
        ("peer_id", "is required"),
        ("tunnel_interfaces", "is required"),
    ] {
        let b = with(|b| remove(b, field));
        let r = rejected(&h, &b, field, needle);
        assert_eq!(r.error_fields(), [field], "{}", r.text);
    }
    rejected(
        &h,
        &with(|b| b["peer_id"] = json!("")),
        "peer_id",
        "must not be empty",
    );
    rejected(
        &h,
        &with(|b| b["peer_address"] = json!("")),
        "peer_address",
        "not an IPv4 or IPv6 address",
    );
    rejected(
        &h,
        &with(|b| b["peer_address"] = json!("site-b.example.com")),
        "peer_address",
        "not an IPv4 or IPv6",
    );
    rejected(
        &h,
        &with(|b| b["peer_address"] = json!("203.0.113.0/24")),
        "peer_address",
        "without a prefix length",
    );
    rejected(
        &h,
        &with(|b| b["peer_address"] = json!("0.0.0.0")),
        "peer_address",
        "unspecified",
    );
    rejected(
        &h,
        &with(|b| b["peer_address"] = json!("224.0.0.1")),
        "peer_address",
        "multicast",
    );
    rejected(
        &h,
        &with(|b| b["tunnel_interfaces"] = json!([])),
        "tunnel_interfaces",
        "is empty",
    );
    rejected(
        &h,
        &with(|b| b["tunnel_interfaces"] = json!([{}])),
        "tunnel_interfaces[0].ip_subnets",
        "is required",
    );
    rejected(
        &h,
        &with(|b| b["tunnel_interfaces"] = json!([{"ip_subnets": []}])),
        "tunnel_interfaces[0].ip_subnets",
        "is empty",
    );
    rejected(
        &h,
        &with(|b| {
            b["tunnel_interfaces"] = json!([{"ip_subnets": [{"ip_addresses": ["169.254.100.1"]}]}])
        }),
        "tunnel_interfaces[0].ip_subnets[0].prefix_length",
        "is required",
    );
    rejected(
        &h,
        &with(|b| b["tunnel_interfaces"] = json!([{"ip_subnets": [{"prefix_length": 30}]}])),
        "tunnel_interfaces[0].ip_subnets[0].ip_addresses",
        "is required",
    );
    // All four missing at once: every one is reported.
    let b = with(|b| {
        for f in [
            "local_endpoint_path",
            "peer_address",
            "peer_id",
            "tunnel_interfaces",
        ] {
            remove(b, f);
        }
    });
    let r = h.patch(&seed::session_url("probe"), &b);
    assert_fields(
        &r,
        &[
            "local_endpoint_path",
            "peer_address",
            "peer_id",
            "tunnel_interfaces",
        ],
    );
    // Local endpoints need a local_address.
    let le = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le2";
    obj_bad(&h, le, &json!({}), "local_address", "is required");
    obj_bad(
        &h,
        le,
        &json!({"local_address": "not-an-ip"}),
        "local_address",
        "not an IPv4 or IPv6",
    );
    obj_ok(&h, le, &json!({"local_address": "2001:db8::10"}));
}

// ------------------------------------------------------------ string lengths

#[test]
fn description_display_name_and_tag_limits() {
    let (_d, h) = started();
    let got = accepted(&h, &with(|b| b["description"] = json!("d".repeat(1024))));
    assert_eq!(got["description"].as_str().unwrap().len(), 1024);
    rejected(
        &h,
        &with(|b| b["description"] = json!("d".repeat(1025))),
        "description",
        "maximum is 1024",
    );
    // Characters, not bytes.
    accepted(&h, &with(|b| b["description"] = json!("é".repeat(1024))));
    accepted(&h, &with(|b| b["display_name"] = json!("n".repeat(255))));
    rejected(
        &h,
        &with(|b| b["display_name"] = json!("n".repeat(256))),
        "display_name",
        "maximum is 255",
    );
    // Same limits on every object kind.
    obj_ok(
        &h,
        &format!("{DPD}/x"),
        &json!({"description": "d".repeat(1024), "display_name": "n".repeat(255)}),
    );
    obj_bad(
        &h,
        &format!("{DPD}/x"),
        &json!({"description": "d".repeat(1025)}),
        "description",
        "1024",
    );
    obj_bad(
        &h,
        "/infra/tier-0s/t9",
        &json!({"display_name": "n".repeat(256)}),
        "display_name",
        "255",
    );

    let tags = |n: usize| {
        json!((0..n)
            .map(|i| json!({"scope": format!("s{i}"), "tag": format!("t{i}")}))
            .collect::<Vec<_>>())
    };
    let got = accepted(&h, &with(|b| b["tags"] = tags(30)));
    assert_eq!(got["tags"].as_array().unwrap().len(), 30);
    rejected(&h, &with(|b| b["tags"] = tags(31)), "tags", "at most 30");
    accepted(
        &h,
        &with(|b| b["tags"] = json!([{"scope": "s".repeat(128), "tag": "t".repeat(256)}])),
    );
    rejected(
        &h,
        &with(|b| b["tags"] = json!([{"scope": "s".repeat(129), "tag": "t"}])),
        "tags[0].scope",
        "maximum is 128",
    );
    rejected(
        &h,
        &with(|b| b["tags"] = json!([{"scope": "s", "tag": "t".repeat(257)}])),
        "tags[0].tag",
        "maximum is 256",
    );
    rejected(
        &h,
        &with(|b| b["tags"] = json!([{"scope": "s", "tga": "t"}])),
        "tags[0].tga",
        "did you mean \"tag\"",
    );
    rejected(
        &h,
        &with(|b| b["tags"] = json!(["prod"])),
        "tags[0]",
        "expected a JSON object",
    );
    obj_bad(
        &h,
        "/infra/tier-0s/t9",
        &json!({"tags": tags(31)}),
        "tags",
        "at most 30",
    );
}

// ---------------------------------------------------------------------- PSK

#[test]
fn psk_rules() {
    let (_d, h) = started();
    let u = seed::session_url("probe");
    let got = accepted(&h, &with(|b| b["psk"] = json!("k".repeat(128))));
    assert!(got.get("psk").is_none());
    rejected(
        &h,
        &with(|b| b["psk"] = json!("k".repeat(129))),
        "psk",
        "maximum is 128",
    );
    rejected(
        &h,
        &with(|b| remove(b, "psk")),
        "psk",
        "is required with authentication_mode PSK",
    );
    rejected(&h, &with(|b| b["psk"] = json!("")), "psk", "empty");
    rejected(
        &h,
        &with(|b| b["psk"] = json!("line\nbreak")),
        "psk",
        "control character",
    );
    rejected(
        &h,
        &with(|b| b["psk"] = json!(1234)),
        "psk",
        "expected a string",
    );
    // Explicit PSK mode, same rules.
    accepted(&h, &with(|b| b["authentication_mode"] = json!("PSK")));
    rejected(
        &h,
        &with(|b| {
            b["authentication_mode"] = json!("PSK");
            remove(b, "psk");
        }),
        "psk",
        "is required",
    );
    // Kept across a PATCH that does not name it.
    h.patch(&u, &body()).expect(200);
    h.patch(&u, &json!({"description": "no psk in this patch"}))
        .expect(200);
    let s = h
        .get(&format!("{u}?action=show_sensitive_data"))
        .expect(200)
        .body;
    assert_eq!(s["psk"], "correct horse battery staple");
    // Terraform's provider sends "psk": "" when it has no key (e.g. after an import, since GET
    // never returns it): the stored key stays.
    h.patch(&u, &json!({"psk": "", "description": "terraform update"}))
        .expect(200);
    let s = h
        .get(&format!("{u}?action=show_sensitive_data"))
        .expect(200)
        .body;
    assert_eq!(s["psk"], "correct horse battery staple");
    // PATCH psk: null removes it, which PSK mode does not allow.
    h.patch(&u, &json!({"psk": null}))
        .expect_problem("psk", "is required");
    h.delete(&u).expect(200);

    // Not required (and not allowed) in CERTIFICATE mode.
    pki::certificate_endpoint(&h);
    let cert = |b: &mut Value| {
        b["authentication_mode"] = json!("CERTIFICATE");
        b["peer_id"] = json!("C=US, O=Org, CN=site-b");
        remove(b, "psk");
    };
    accepted(&h, &with(cert));
    // An empty psk (what Terraform's provider sends for certificate sessions) is no PSK.
    accepted(
        &h,
        &with(|b| {
            cert(b);
            b["psk"] = json!("");
        }),
    );
    rejected(
        &h,
        &with(|b| {
            cert(b);
            b["psk"] = json!("not used");
        }),
        "psk",
        "only used with authentication_mode PSK",
    );
    // Switching an existing session from PSK to CERTIFICATE drops the stored PSK.
    h.patch(&u, &body()).expect(200);
    h.patch(
        &u,
        &json!({"authentication_mode": "CERTIFICATE", "peer_id": "C=US, O=Org, CN=site-b"}),
    )
    .expect(200);
    let s = h
        .get(&format!("{u}?action=show_sensitive_data"))
        .expect(200)
        .body;
    assert!(s.get("psk").is_none(), "{s}");
    // ...and back to PSK needs a new one.
    h.patch(
        &u,
        &json!({"authentication_mode": "PSK", "peer_id": "203.0.113.2"}),
    )
    .expect_problem("psk", "is required");
    h.patch(
        &u,
        &json!({"authentication_mode": "PSK", "peer_id": "203.0.113.2", "psk": "fresh"}),
    )
    .expect(200);
}

// --------------------------------------------------------- tunnel interfaces

fn vti(subnets: Value) -> Value {
    with(|b| b["tunnel_interfaces"] = json!([{"ip_subnets": subnets}]))
}

fn sub(ip: &str, prefix: i64) -> Value {
    json!({"ip_addresses": [ip], "prefix_length": prefix})
}

const S0: &str = "tunnel_interfaces[0].ip_subnets[0]";
const S1: &str = "tunnel_interfaces[0].ip_subnets[1]";

#[test]
fn tunnel_interface_shape() {
    let (_d, h) = started();
    // Exactly one address per subnet.
    rejected(
        &h,
        &vti(json!([{"ip_addresses": ["169.254.100.1", "169.254.100.2"], "prefix_length": 30}])),
        &format!("{S0}.ip_addresses"),
        "give exactly one",
    );
    rejected(
        &h,
        &vti(json!([{"ip_addresses": [], "prefix_length": 30}])),
        &format!("{S0}.ip_addresses"),
        "exactly one",
    );
    rejected(
        &h,
        &vti(json!([sub("169.254.100.1/30", 30)])),
        &format!("{S0}.ip_addresses[0]"),
        "not an IPv4 or IPv6",
    );
    // IPv4 prefixes 1..31.
    let got = accepted(&h, &vti(json!([sub("169.254.100.0", 31)])));
    assert_eq!(
        got["tunnel_interfaces"][0]["ip_subnets"][0]["prefix_length"],
        31
    );
    accepted(&h, &vti(json!([sub("169.254.100.1", 31)])));
    accepted(&h, &vti(json!([sub("10.0.0.1", 1)])));
    rejected(
        &h,
        &vti(json!([sub("169.254.100.1", 32)])),
        &format!("{S0}.prefix_length"),
        "use 1 to 31",
    );
    rejected(
        &h,
        &vti(json!([sub("169.254.100.1", 0)])),
        &format!("{S0}.prefix_length"),
        "out of range",
    );
    rejected(
        &h,
        &vti(json!([sub("169.254.100.1", 200)])),
        &format!("{S0}.prefix_length"),
        "out of range",
    );
    // IPv6 prefixes 1..127.
    accepted(&h, &vti(json!([sub("fd00::1", 127)])));
    accepted(&h, &vti(json!([sub("fd00::1", 64)])));
    rejected(
        &h,
        &vti(json!([sub("fd00::1", 128)])),
        &format!("{S0}.prefix_length"),
        "out of range",
    );
    // One subnet per IP version.
    let got = accepted(
        &h,
        &vti(json!([sub("169.254.100.1", 30), sub("fd00::1", 64)])),
    );
    assert_eq!(
        got["tunnel_interfaces"][0]["ip_subnets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    rejected(
        &h,
        &vti(json!([sub("169.254.100.1", 30), sub("169.254.101.1", 30)])),
        S1,
        "at most one IPv4 and one IPv6",
    );
    rejected(
        &h,
        &vti(json!([sub("fd00::1", 64), sub("fd01::1", 64)])),
        S1,
        "at most one IPv4 and one IPv6",
    );
    rejected(
        &h,
        &vti(json!([
            sub("169.254.100.1", 30),
            sub("fd00::1", 64),
            sub("fd01::1", 64)
        ])),
        "tunnel_interfaces[0].ip_subnets",
        "at most 2",
    );
    // Network and broadcast addresses are not host addresses.
    rejected(
        &h,
        &vti(json!([sub("169.254.100.0", 30)])),
        &format!("{S0}.ip_addresses[0]"),
        "network address",
    );
    rejected(
        &h,
        &vti(json!([sub("169.254.100.3", 30)])),
        &format!("{S0}.ip_addresses[0]"),
        "broadcast address",
    );
    rejected(
        &h,
        &vti(json!([sub("fd00::", 64)])),
        &format!("{S0}.ip_addresses[0]"),
        "network address",
    );
    accepted(&h, &vti(json!([sub("169.254.100.2", 30)])));
    // Exactly one tunnel interface.
    rejected(
        &h,
        &with(
            |b| b["tunnel_interfaces"] = json!([{"ip_subnets": [sub("169.254.100.1", 30)]}, {"ip_subnets": [sub("169.254.101.1", 30)]}]),
        ),
        "tunnel_interfaces",
        "exactly one tunnel interface",
    );
    // The peer must not be inside its own tunnel.
    rejected(
        &h,
        &with(|b| b["peer_address"] = json!("169.254.100.2")),
        S0,
        "contains the peer_address",
    );
}

#[test]
fn vti_overlap_and_duplicate_peers() {
    let (_d, h) = started();
    h.patch(
        &seed::session_url("a"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    // Overlapping VTI subnet on the same gateway (another peer): rejected, naming the session.
    let r = h.patch(
        &seed::session_url("b"),
        &seed::session("203.0.113.3", "169.254.100.2"),
    );
    let r = r.expect_problem(S0, "overlaps");
    assert!(r.text.contains("/sessions/a"), "{}", r.text);
    let mut wide = seed::session("203.0.113.3", "169.254.0.1");
    wide["tunnel_interfaces"][0]["ip_subnets"][0]["prefix_length"] = json!(16);
    h.patch(&seed::session_url("b"), &wide)
        .expect_problem(S0, "overlaps");
    // Adjacent subnet: fine.
    h.patch(
        &seed::session_url("b"),
        &seed::session("203.0.113.3", "169.254.100.5"),
    )
    .expect(200);
    // Changing b onto a's subnet later is caught as well.
    h.patch(
        &seed::session_url("b"),
        &json!({"tunnel_interfaces": [{"ip_subnets": [sub("169.254.100.2", 30)]}]}),
    )
    .expect_problem(S0, "overlaps");
    // Same local endpoint and peer address: rejected.
    let r = h.patch(
        &seed::session_url("c"),
        &seed::session("203.0.113.2", "169.254.100.9"),
    );
    r.expect_problem(
        "peer_address",
        "already connects local address 198.51.100.1",
    );
    // ... also through another local endpoint with the same address (IKE could not tell
    // the two sessions apart).
    let le_same = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le-same";
    h.patch(&url(le_same), &json!({"local_address": "198.51.100.1"}))
        .expect(200);
    let mut c = seed::session("203.0.113.2", "169.254.100.9");
    c["local_endpoint_path"] = json!(le_same);
    h.patch(&seed::session_url("c"), &c)
        .expect_problem("peer_address", "already connects local address");
    // The peer may not be this gateway's own address, and the VTI may not hold the local one.
    let mut own = seed::session("198.51.100.1", "169.254.100.13");
    own["peer_id"] = json!("peer.example.com");
    h.patch(&seed::session_url("own"), &own)
        .expect_problem("peer_address", "own local endpoint address");
    let mut holds = seed::session("203.0.113.9", "198.51.100.2");
    holds["tunnel_interfaces"][0]["ip_subnets"][0]["prefix_length"] = json!(24);
    h.patch(&seed::session_url("holds"), &holds)
        .expect_problem(S0, "contains the local endpoint's address");
    // Same peer through a local endpoint with another address is fine.
    let le2 = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le2";
    h.patch(&url(le2), &json!({"local_address": "198.51.100.7"}))
        .expect(200);
    let mut c = seed::session("203.0.113.2", "169.254.100.9");
    c["local_endpoint_path"] = json!(le2);
    h.patch(&seed::session_url("c"), &c).expect(200);
    // The same VTI subnet on a different gateway is fine.
    h.patch(&url("/infra/tier-1s/t1"), &json!({})).expect(200);
    let svc = "/infra/tier-1s/t1/ipsec-vpn-services/vpn";
    h.patch(&url(svc), &json!({})).expect(200);
    h.patch(
        &url(&format!("{svc}/local-endpoints/le")),
        &json!({"local_address": "198.51.100.9"}),
    )
    .expect(200);
    let mut other = seed::session("203.0.113.2", "169.254.100.2");
    other["local_endpoint_path"] = json!(format!("{svc}/local-endpoints/le"));
    h.patch(&url(&format!("{svc}/sessions/a")), &other)
        .expect(200);
    // An update of a session does not conflict with itself.
    h.patch(
        &seed::session_url("a"),
        &json!({"description": "still fine"}),
    )
    .expect(200);
    // IPv4 and IPv6 subnets never overlap each other.
    let mut v6 = seed::session("203.0.113.20", "169.254.110.1");
    v6["tunnel_interfaces"][0]["ip_subnets"] =
        json!([sub("169.254.110.1", 30), sub("fd00::1", 64)]);
    h.patch(&seed::session_url("d"), &v6).expect(200);
    let mut v6b = seed::session("203.0.113.21", "169.254.111.1");
    v6b["tunnel_interfaces"][0]["ip_subnets"] =
        json!([sub("169.254.111.1", 30), sub("fd00::2", 64)]);
    h.patch(&seed::session_url("e"), &v6b)
        .expect_problem(S1, "overlaps");
}

// ------------------------------------------------------------------ remote IDs

#[test]
fn remote_id_types() {
    let (_d, h) = started();
    for id in [
        "203.0.113.2",
        "2001:db8::2",
        "site-b.example.com",
        "site-b",
        "vpn@example.com",
    ] {
        accepted(&h, &with(|b| b["peer_id"] = json!(id)));
    }
    let dn =
        "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=admin@example.com";
    rejected(
        &h,
        &with(|b| b["peer_id"] = json!(dn)),
        "peer_id",
        "distinguished name",
    );
    rejected(
        &h,
        &with(|b| b["peer_id"] = json!("C=US, O=Org, CN=site-b")),
        "peer_id",
        "CERTIFICATE",
    );
    rejected(
        &h,
        &with(|b| b["peer_id"] = json!("has space.example.com")),
        "peer_id",
        "",
    );
    rejected(
        &h,
        &with(|b| b["peer_id"] = json!("@example.com")),
        "peer_id",
        "email",
    );
    rejected(
        &h,
        &with(|b| b["peer_id"] = json!(" 203.0.113.2")),
        "peer_id",
        "spaces",
    );

    pki::certificate_endpoint(&h);
    let cert = |id: &str| {
        let id = id.to_owned();
        with(move |b| {
            b["authentication_mode"] = json!("CERTIFICATE");
            b["peer_id"] = json!(id);
            remove(b, "psk");
        })
    };
    let got = accepted(&h, &cert(dn));
    assert_eq!(got["peer_id"], dn, "the DN is stored as given");
    accepted(&h, &cert("C=US, O=Org, CN=site-b"));
    accepted(&h, &cert("site-b.example.com"));
    accepted(&h, &cert("203.0.113.2"));
    // The seed page's OpenSSL form (with the trailing quote removed): rejected with the fix.
    let slash =
        "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123/emailAddress=admin@example.com";
    let r = rejected(&h, &cert(slash), "peer_id", "/");
    assert!(
        r.text
            .contains("CN=Site123, emailAddress=admin@example.com"),
        "the hint shows the corrected DN: {}",
        r.text
    );
    rejected(&h, &cert("C=US, =Org"), "peer_id", "distinguished name");
    // local_id follows the same syntax.
    let le = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le3";
    obj_bad(
        &h,
        le,
        &json!({"local_address": "198.51.100.3", "local_id": "bad id"}),
        "local_id",
        "",
    );
    obj_ok(
        &h,
        le,
        &json!({"local_address": "198.51.100.3", "local_id": "a@example.com"}),
    );
}

// ----------------------------------------------------------- compliance suites

#[test]
fn compliance_suites_force_certificates_and_their_profiles() {
    let (_d, h) = started();
    let suite = |s: &str| {
        let s = s.to_owned();
        with(move |b| {
            b["compliance_suite"] = json!(s);
            b["peer_id"] = json!("C=US, O=Org, CN=site-b");
            remove(b, "psk");
        })
    };
    // Without a certificate on the local endpoint: rejected, saying what to set.
    rejected(
        &h,
        &suite("CNSA"),
        "local_endpoint_path",
        "certificate_path",
    );
    let ca = pki::ca("Only CA");
    let site = pki::leaf("only-site", &ca);
    pki::import_ca(&h, "ca0", &ca);
    pki::import_site(&h, "site0", &site, &ca);
    h.patch(
        seed::LE,
        &json!({"certificate_path": pki::cert_path("site0")}),
    )
    .expect(200);
    rejected(&h, &suite("CNSA"), "local_endpoint_path", "trust_ca_paths");
    h.patch(
        seed::LE,
        &json!({"trust_ca_paths": [pki::cert_path("ca0")]}),
    )
    .expect(200);

    for (s, prefix) in [
        ("CNSA", "cnsa"),
        ("SUITE_B_GCM_128", "suite-b-gcm-128"),
        ("SUITE_B_GCM_256", "suite-b-gcm-256"),
        ("PRIME", "prime"),
        ("FOUNDATION", "foundation"),
        ("FIPS", "fips"),
    ] {
        let got = accepted(&h, &suite(s));
        assert_eq!(got["compliance_suite"], s);
        assert_eq!(got["authentication_mode"], "CERTIFICATE", "{s}");
        assert_eq!(
            got["ike_profile_path"],
            format!("{IKE}/{prefix}-ipsec-ike-profile"),
            "{s}"
        );
        assert_eq!(
            got["tunnel_profile_path"],
            format!("{TUN}/{prefix}-ipsec-tunnel-profile"),
            "{s}"
        );
        assert_eq!(
            got["dpd_profile_path"],
            format!("{DPD}/nsx-default-l3vpn-dpd-profile"),
            "{s}"
        );
        // Naming the suite's own profiles explicitly is fine.
        accepted(
            &h,
            &with(|b| {
                *b = suite(s);
                b["ike_profile_path"] = json!(format!("{IKE}/{prefix}-ipsec-ike-profile"));
                b["tunnel_profile_path"] = json!(format!("{TUN}/{prefix}-ipsec-tunnel-profile"));
                b["authentication_mode"] = json!("CERTIFICATE");
            }),
        );
    }
    // An explicit PSK mode, a PSK, or other profiles are rejected.
    rejected(
        &h,
        &with(|b| {
            *b = suite("CNSA");
            b["authentication_mode"] = json!("PSK");
        }),
        "authentication_mode",
        "requires CERTIFICATE",
    );
    rejected(
        &h,
        &with(|b| {
            *b = suite("CNSA");
            b["psk"] = json!("secret");
        }),
        "psk",
        "only used with authentication_mode PSK",
    );
    rejected(
        &h,
        &with(|b| {
            *b = suite("CNSA");
            b["ike_profile_path"] = json!(format!("{IKE}/nsx-default-l3vpn-ike-profile"));
        }),
        "ike_profile_path",
        "uses its own",
    );
    rejected(
        &h,
        &with(|b| {
            *b = suite("PRIME");
            b["tunnel_profile_path"] = json!(format!("{TUN}/cnsa-ipsec-tunnel-profile"));
        }),
        "tunnel_profile_path",
        "uses its own",
    );
    // The DPD profile stays selectable.
    h.patch(
        &url(&format!("{DPD}/mine")),
        &json!({"dpd_probe_interval": 20}),
    )
    .expect(200);
    let got = accepted(
        &h,
        &with(|b| {
            *b = suite("CNSA");
            b["dpd_profile_path"] = json!(format!("{DPD}/mine"));
        }),
    );
    assert_eq!(got["dpd_profile_path"], format!("{DPD}/mine"));

    // Switching an existing PSK session to a suite by PATCH: the server fills in the rest.
    let u = seed::session_url("switch");
    h.patch(&u, &body()).expect(200);
    h.patch(
        &u,
        &json!({"compliance_suite": "SUITE_B_GCM_256", "peer_id": "C=US, O=Org, CN=site-b"}),
    )
    .expect(200);
    let s = h.get(&u).expect(200).body;
    assert_eq!(s["authentication_mode"], "CERTIFICATE");
    assert_eq!(
        s["ike_profile_path"],
        format!("{IKE}/suite-b-gcm-256-ipsec-ike-profile")
    );
    // And back to NONE: PSK again needs a key.
    h.patch(
        &u,
        &json!({"compliance_suite": "NONE", "peer_id": "203.0.113.2"}),
    )
    .expect_problem("psk", "is required");
    assert_eq!(
        h.get(&u).expect(200).body["compliance_suite"],
        "SUITE_B_GCM_256"
    );
    // A suite session survives a GET -> PUT round trip.
    let got = h.get(&u).expect(200).body;
    let put = h.put(&u, &got).expect(200).body;
    assert_eq!(
        put["tunnel_profile_path"],
        format!("{TUN}/suite-b-gcm-256-ipsec-tunnel-profile")
    );
    assert_eq!(put["_revision"], got["_revision"].as_i64().unwrap() + 1);
    // Unknown suite.
    rejected(&h, &suite("NSA"), "compliance_suite", "CNSA");
    // The certificate endpoint cannot lose its certificate while a certificate session uses it.
    h.patch(seed::LE, &json!({"certificate_path": null}))
        .expect_problem("certificate_path", "/sessions/switch");
}

#[test]
fn initiation_modes() {
    let (_d, h) = started();
    let got = accepted(
        &h,
        &with(|b| b["connection_initiation_mode"] = json!("INITIATOR")),
    );
    assert_eq!(got["connection_initiation_mode"], "INITIATOR");
    let got = accepted(
        &h,
        &with(|b| b["connection_initiation_mode"] = json!("RESPOND_ONLY")),
    );
    assert_eq!(got["connection_initiation_mode"], "RESPOND_ONLY");
    let r = rejected(
        &h,
        &with(|b| b["connection_initiation_mode"] = json!("ON_DEMAND")),
        "connection_initiation_mode",
        "route-based",
    );
    assert!(
        r.text.contains("INITIATOR"),
        "says what to use instead: {}",
        r.text
    );
    rejected(
        &h,
        &with(|b| b["connection_initiation_mode"] = json!("initiator")),
        "connection_initiation_mode",
        "did you mean INITIATOR",
    );
    // Also when PATCHed onto an existing session.
    let u = seed::session_url("s");
    h.patch(&u, &body()).expect(200);
    h.patch(&u, &json!({"connection_initiation_mode": "ON_DEMAND"}))
        .expect_problem("connection_initiation_mode", "route-based");
}

// ------------------------------------------------------------------- profiles

#[test]
fn ike_profile_rules() {
    let d = Daemon::start();
    let h = d.admin();
    let p = format!("{IKE}/p");
    // GCM only with IKE_V2.
    let got = obj_ok(
        &h,
        &p,
        &json!({"ike_version": "IKE_V2", "encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": []}),
    );
    assert_eq!(
        got["digest_algorithms"],
        json!([]),
        "a GCM-only profile has no digests"
    );
    let got = obj_ok(
        &h,
        &p,
        &json!({"encryption_algorithms": ["AES_GCM_256", "AES_GCM_192"]}),
    );
    assert_eq!(got["digest_algorithms"], json!([]));
    obj_bad(
        &h,
        &p,
        &json!({"ike_version": "IKE_V1", "encryption_algorithms": ["AES_GCM_128"]}),
        "encryption_algorithms",
        "IKE_V2",
    );
    obj_bad(
        &h,
        &p,
        &json!({"ike_version": "IKE_FLEX", "encryption_algorithms": ["AES_GCM_256"]}),
        "encryption_algorithms",
        "IKE_V2",
    );
    // GCM-only with digests.
    obj_bad(
        &h,
        &p,
        &json!({"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": ["SHA2_256"]}),
        "digest_algorithms",
        "leave digest_algorithms empty",
    );
    // Mixed GCM + CBC uses the digests for CBC.
    let got = obj_ok(
        &h,
        &p,
        &json!({"encryption_algorithms": ["AES_GCM_128", "AES_256"], "digest_algorithms": ["SHA2_384"]}),
    );
    assert_eq!(got["digest_algorithms"], json!(["SHA2_384"]));
    // CBC without digests gets SHA2_256.
    let got = obj_ok(
        &h,
        &p,
        &json!({"encryption_algorithms": ["AES_256"], "digest_algorithms": []}),
    );
    assert_eq!(got["digest_algorithms"], json!(["SHA2_256"]));
    let got = obj_ok(
        &h,
        &p,
        &json!({"ike_version": "IKE_V1", "encryption_algorithms": ["AES_128"]}),
    );
    assert_eq!(got["digest_algorithms"], json!(["SHA2_256"]));
    // GROUP31 (Curve25519) is a strait extension.
    let got = obj_ok(&h, &p, &json!({"dh_groups": ["GROUP31", "GROUP14"]}));
    assert_eq!(got["dh_groups"], json!(["GROUP31", "GROUP14"]));
    obj_bad(
        &h,
        &p,
        &json!({"dh_groups": ["GROUP99"]}),
        "dh_groups[0]",
        "GROUP31",
    );
    // Empty lists and duplicates.
    obj_bad(
        &h,
        &p,
        &json!({"encryption_algorithms": []}),
        "encryption_algorithms",
        "is empty",
    );
    obj_bad(&h, &p, &json!({"dh_groups": []}), "dh_groups", "is empty");
    obj_bad(
        &h,
        &p,
        &json!({"dh_groups": ["GROUP14", "GROUP14"]}),
        "dh_groups[1]",
        "listed twice",
    );
    obj_bad(
        &h,
        &p,
        &json!({"encryption_algorithms": ["AES_128", "AES_128"]}),
        "encryption_algorithms[1]",
        "listed twice",
    );
    obj_bad(
        &h,
        &p,
        &json!({"digest_algorithms": ["SHA1", "SHA1"]}),
        "digest_algorithms[1]",
        "listed twice",
    );
    obj_bad(
        &h,
        &p,
        &json!({"encryption_algorithms": ["AES_GCM_128", "DES"]}),
        "encryption_algorithms[1]",
        "AES_GCM_256",
    );
    // SA lifetime 21600..31536000.
    assert_eq!(
        obj_ok(&h, &p, &json!({"sa_life_time": 21600}))["sa_life_time"],
        21600
    );
    assert_eq!(
        obj_ok(&h, &p, &json!({"sa_life_time": 31536000}))["sa_life_time"],
        31536000
    );
    obj_bad(
        &h,
        &p,
        &json!({"sa_life_time": 21599}),
        "sa_life_time",
        "21600 to 31536000",
    );
    obj_bad(
        &h,
        &p,
        &json!({"sa_life_time": 31536001}),
        "sa_life_time",
        "21600 to 31536000",
    );
    obj_bad(
        &h,
        &p,
        &json!({"sa_life_time": "86400"}),
        "sa_life_time",
        "expected an integer",
    );
}

#[test]
fn tunnel_profile_rules() {
    let d = Daemon::start();
    let h = d.admin();
    let p = format!("{TUN}/p");
    obj_bad(
        &h,
        &p,
        &json!({"encryption_algorithms": ["NO_ENCRYPTION"]}),
        "digest_algorithms",
        "NO_ENCRYPTION needs a digest",
    );
    let got = obj_ok(
        &h,
        &p,
        &json!({"encryption_algorithms": ["NO_ENCRYPTION"], "digest_algorithms": ["SHA2_256"]}),
    );
    assert_eq!(got["encryption_algorithms"], json!(["NO_ENCRYPTION"]));
    for gmac in [
        "NO_ENCRYPTION_AUTH_AES_GMAC_128",
        "NO_ENCRYPTION_AUTH_AES_GMAC_192",
        "NO_ENCRYPTION_AUTH_AES_GMAC_256",
        "AES_GCM_128",
        "AES_GCM_192",
        "AES_GCM_256",
    ] {
        let got = obj_ok(&h, &p, &json!({"encryption_algorithms": [gmac]}));
        assert_eq!(got["digest_algorithms"], json!([]), "{gmac}");
        obj_bad(
            &h,
            &p,
            &json!({"encryption_algorithms": [gmac], "digest_algorithms": ["SHA2_256"]}),
            "digest_algorithms",
            "leave digest_algorithms empty",
        );
    }
    let got = obj_ok(&h, &p, &json!({"encryption_algorithms": ["AES_128"]}));
    assert_eq!(got["digest_algorithms"], json!(["SHA2_256"]));
    let got = obj_ok(
        &h,
        &p,
        &json!({"encryption_algorithms": ["AES_256"], "digest_algorithms": ["SHA2_512"]}),
    );
    assert_eq!(got["digest_algorithms"], json!(["SHA2_512"]));
    // SA lifetime 900..31536000.
    assert_eq!(
        obj_ok(&h, &p, &json!({"sa_life_time": 900}))["sa_life_time"],
        900
    );
    assert_eq!(
        obj_ok(&h, &p, &json!({"sa_life_time": 31536000}))["sa_life_time"],
        31536000
    );
    obj_bad(
        &h,
        &p,
        &json!({"sa_life_time": 899}),
        "sa_life_time",
        "900 to 31536000",
    );
    obj_bad(
        &h,
        &p,
        &json!({"sa_life_time": 31536001}),
        "sa_life_time",
        "900 to 31536000",
    );
    // DH groups, PFS, DF.
    let got = obj_ok(
        &h,
        &p,
        &json!({"dh_groups": ["GROUP31"], "enable_perfect_forward_secrecy": false, "df_policy": "CLEAR"}),
    );
    assert_eq!(got["enable_perfect_forward_secrecy"], false);
    assert_eq!(got["df_policy"], "CLEAR");
    obj_bad(&h, &p, &json!({"dh_groups": []}), "dh_groups", "is empty");
    obj_bad(
        &h,
        &p,
        &json!({"encryption_algorithms": []}),
        "encryption_algorithms",
        "is empty",
    );
    obj_bad(
        &h,
        &p,
        &json!({"dh_groups": ["GROUP19", "GROUP19"]}),
        "dh_groups[1]",
        "listed twice",
    );
    obj_bad(
        &h,
        &p,
        &json!({"df_policy": "KEEP"}),
        "df_policy",
        "COPY, CLEAR",
    );
    obj_bad(
        &h,
        &p,
        &json!({"enable_perfect_forward_secrecy": "yes"}),
        "enable_perfect_forward_secrecy",
        "true or false",
    );
}

#[test]
fn dpd_profile_rules() {
    let d = Daemon::start();
    let h = d.admin();
    let p = format!("{DPD}/p");
    for (mode, lo, hi) in [("PERIODIC", 3, 360), ("ON_DEMAND", 1, 10)] {
        for ok in [lo, hi] {
            assert_eq!(
                obj_ok(
                    &h,
                    &p,
                    &json!({"dpd_probe_mode": mode, "dpd_probe_interval": ok})
                )["dpd_probe_interval"],
                ok
            );
        }
        for bad in [lo - 1, hi + 1] {
            obj_bad(
                &h,
                &p,
                &json!({"dpd_probe_mode": mode, "dpd_probe_interval": bad}),
                "dpd_probe_interval",
                &format!("use {lo} to {hi}"),
            );
        }
    }
    assert_eq!(
        obj_ok(&h, &p, &json!({"dpd_probe_mode": "ON_DEMAND"}))["dpd_probe_interval"],
        10
    );
    assert_eq!(obj_ok(&h, &p, &json!({"retry_count": 1}))["retry_count"], 1);
    assert_eq!(
        obj_ok(&h, &p, &json!({"retry_count": 100}))["retry_count"],
        100
    );
    obj_bad(
        &h,
        &p,
        &json!({"retry_count": 0}),
        "retry_count",
        "1 to 100",
    );
    obj_bad(
        &h,
        &p,
        &json!({"retry_count": 101}),
        "retry_count",
        "1 to 100",
    );
    obj_bad(
        &h,
        &p,
        &json!({"dpd_probe_interval": 2.5}),
        "dpd_probe_interval",
        "",
    );
    obj_bad(
        &h,
        &p,
        &json!({"dpd_probe_mode": "SOMETIMES"}),
        "dpd_probe_mode",
        "PERIODIC, ON_DEMAND",
    );
    assert_eq!(obj_ok(&h, &p, &json!({"enabled": false}))["enabled"], false);
}

// ------------------------------------------------------------------------ MSS

#[test]
fn mss_clamping_range() {
    let (_d, h) = started();
    let mss = |dir: &str, v: Value| {
        let dir = dir.to_owned();
        with(move |b| b["tcp_mss_clamping"] = json!({"direction": dir, "max_segment_size": v}))
    };
    for ok in [108, 1360, 8902] {
        let got = accepted(&h, &mss("BOTH", json!(ok)));
        assert_eq!(got["tcp_mss_clamping"]["max_segment_size"], ok);
    }
    for bad in [107, 8903, 0, -5] {
        rejected(
            &h,
            &mss("BOTH", json!(bad)),
            "tcp_mss_clamping.max_segment_size",
            "108 to 8902",
        );
    }
    rejected(
        &h,
        &mss("BOTH", json!("1360")),
        "tcp_mss_clamping.max_segment_size",
        "expected an integer",
    );
    for dir in ["INBOUND_CONNECTION", "OUTBOUND_CONNECTION", "BOTH"] {
        let got = accepted(
            &h,
            &with(|b| b["tcp_mss_clamping"] = json!({"direction": dir})),
        );
        assert_eq!(got["tcp_mss_clamping"]["direction"], dir);
    }
    accepted(
        &h,
        &with(|b| b["tcp_mss_clamping"] = json!({"direction": "NONE"})),
    );
    rejected(
        &h,
        &mss("NONE", json!(1360)),
        "tcp_mss_clamping.max_segment_size",
        "no effect while direction is NONE",
    );
    rejected(
        &h,
        &mss("SIDEWAYS", json!(1360)),
        "tcp_mss_clamping.direction",
        "INBOUND_CONNECTION",
    );
    rejected(
        &h,
        &with(|b| b["tcp_mss_clamping"] = json!({"direction": "BOTH", "mss": 1})),
        "tcp_mss_clamping.mss",
        "has no field",
    );
}

// ---------------------------------------------------------------- references

#[test]
fn paths_must_name_existing_objects_of_the_right_kind() {
    let (_d, h) = started();
    // Right kind but missing.
    rejected(
        &h,
        &with(|b| b["ike_profile_path"] = json!(format!("{IKE}/missing"))),
        "ike_profile_path",
        "does not exist",
    );
    rejected(
        &h,
        &with(|b| b["tunnel_profile_path"] = json!(format!("{TUN}/missing"))),
        "tunnel_profile_path",
        "does not exist",
    );
    rejected(
        &h,
        &with(|b| b["dpd_profile_path"] = json!(format!("{DPD}/missing"))),
        "dpd_profile_path",
        "does not exist",
    );
    rejected(
        &h,
        &with(|b| {
            b["local_endpoint_path"] =
                json!("/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/missing")
        }),
        "local_endpoint_path",
        "does not exist",
    );
    // Wrong kind.
    rejected(
        &h,
        &with(|b| b["ike_profile_path"] = json!(format!("{TUN}/nsx-default-l3vpn-tunnel-profile"))),
        "ike_profile_path",
        "is an IPsec tunnel profile, but this field needs an IKE profile",
    );
    rejected(
        &h,
        &with(|b| b["dpd_profile_path"] = json!(format!("{IKE}/nsx-default-l3vpn-ike-profile"))),
        "dpd_profile_path",
        "DPD profile",
    );
    rejected(
        &h,
        &with(|b| b["local_endpoint_path"] = json!("/infra/tier-0s/t0")),
        "local_endpoint_path",
        "local endpoint",
    );
    // Not a path at all.
    rejected(
        &h,
        &with(|b| b["ike_profile_path"] = json!("nsx-default-l3vpn-ike-profile")),
        "ike_profile_path",
        "policy path",
    );
    rejected(
        &h,
        &with(|b| b["tunnel_profile_path"] = json!(42)),
        "tunnel_profile_path",
        "expected a string",
    );
    // Right kind, existing, but of another service.
    h.patch(&url("/infra/tier-1s/t1"), &json!({})).expect(200);
    h.patch(
        &url("/infra/tier-1s/t1/ipsec-vpn-services/other"),
        &json!({}),
    )
    .expect(200);
    let other_le = "/infra/tier-1s/t1/ipsec-vpn-services/other/local-endpoints/le";
    h.patch(&url(other_le), &json!({"local_address": "198.51.100.50"}))
        .expect(200);
    rejected(
        &h,
        &with(|b| b["local_endpoint_path"] = json!(other_le)),
        "local_endpoint_path",
        "belongs to service",
    );
    // A local endpoint of the other IP version.
    let v6_le = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/v6";
    h.patch(&url(v6_le), &json!({"local_address": "2001:db8::1"}))
        .expect(200);
    rejected(
        &h,
        &with(|b| b["local_endpoint_path"] = json!(v6_le)),
        "peer_address",
        "different IP versions",
    );
    // Custom profiles of the right kind work.
    h.patch(&url(&format!("{IKE}/mine")), &json!({}))
        .expect(200);
    h.patch(&url(&format!("{TUN}/mine")), &json!({}))
        .expect(200);
    h.patch(&url(&format!("{DPD}/mine")), &json!({}))
        .expect(200);
    let got = accepted(
        &h,
        &with(|b| {
            b["ike_profile_path"] = json!(format!("{IKE}/mine"));
            b["tunnel_profile_path"] = json!(format!("{TUN}/mine"));
            b["dpd_profile_path"] = json!(format!("{DPD}/mine"));
        }),
    );
    assert_eq!(got["ike_profile_path"], format!("{IKE}/mine"));

    // Local endpoint references.
    let le = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/lx";
    let ca = pki::ca("Ref CA");
    pki::import_ca(&h, "ca", &ca);
    h.patch(&pki::crl_url("crl"), &json!({"pem_encoded": pki::crl(&ca)}))
        .expect(200);
    obj_bad(
        &h,
        le,
        &json!({"local_address": "198.51.100.4", "certificate_path": "/infra/crls/crl"}),
        "certificate_path",
        "certificate",
    );
    obj_bad(
        &h,
        le,
        &json!({"local_address": "198.51.100.4", "certificate_path": "/infra/certificates/missing"}),
        "certificate_path",
        "does not exist",
    );
    obj_bad(
        &h,
        le,
        &json!({"local_address": "198.51.100.4", "certificate_path": "/infra/certificates/ca"}),
        "certificate_path",
        "without a private key",
    );
    obj_bad(
        &h,
        le,
        &json!({"local_address": "198.51.100.4", "trust_ca_paths": ["/infra/certificates/missing"]}),
        "trust_ca_paths[0]",
        "does not exist",
    );
    obj_bad(
        &h,
        le,
        &json!({"local_address": "198.51.100.4", "trust_crl_paths": ["/infra/certificates/ca"]}),
        "trust_crl_paths[0]",
        "CRL",
    );
    obj_bad(
        &h,
        le,
        &json!({"local_address": "198.51.100.4", "trust_ca_paths": ["/infra/certificates/ca", "/infra/certificates/ca"]}),
        "trust_ca_paths[1]",
        "listed twice",
    );
    obj_ok(
        &h,
        le,
        &json!({"local_address": "198.51.100.4", "trust_ca_paths": ["/infra/certificates/ca"], "trust_crl_paths": ["/infra/crls/crl"]}),
    );
    // Children need their parent.
    let r = h.patch(
        &url("/infra/tier-0s/nope/ipsec-vpn-services/vpn"),
        &json!({}),
    );
    // 404: what is missing is the parent the URL names.
    assert_nsx_error(&r, 404);
    assert!(
        r.text.contains("does not exist; create it first"),
        "{}",
        r.text
    );
}

#[test]
fn vpn_services_need_active_standby_gateways() {
    let d = Daemon::start();
    let h = d.admin();
    h.patch(
        &url("/infra/tier-0s/aa"),
        &json!({"ha_mode": "ACTIVE_ACTIVE"}),
    )
    .expect(200);
    let r = h.patch(&url("/infra/tier-0s/aa/ipsec-vpn-services/vpn"), &json!({}));
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("ACTIVE_STANDBY"), "{}", r.text);
    h.patch(
        &url("/infra/tier-0s/aa"),
        &json!({"ha_mode": "ACTIVE_STANDBY"}),
    )
    .expect(200);
    h.patch(&url("/infra/tier-0s/aa/ipsec-vpn-services/vpn"), &json!({}))
        .expect(200);
    // Once a service exists, the gateway cannot become ACTIVE_ACTIVE.
    h.patch(
        &url("/infra/tier-0s/aa"),
        &json!({"ha_mode": "ACTIVE_ACTIVE"}),
    )
    .expect_problem("ha_mode", "ACTIVE_STANDBY");
    // One service per gateway.
    let r = h.patch(
        &url("/infra/tier-0s/aa/ipsec-vpn-services/second"),
        &json!({}),
    );
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("at most one"), "{}", r.text);
    h.patch(&url("/infra/tier-0s/aa"), &json!({"ha_mode": "BOTH"}))
        .expect_problem("ha_mode", "ACTIVE_STANDBY");
    // Service fields.
    let svc = url("/infra/tier-0s/aa/ipsec-vpn-services/vpn");
    h.patch(&svc, &json!({"ike_log_level": "LOUD"}))
        .expect_problem("ike_log_level", "DEBUG");
    h.patch(
        &svc,
        &json!({"enabled": false, "ha_sync": false, "ike_log_level": "ERROR"}),
    )
    .expect(200);
    let s = h.get(&svc).expect(200).body;
    assert_eq!(
        (
            s["enabled"].clone(),
            s["ha_sync"].clone(),
            s["ike_log_level"].clone()
        ),
        (json!(false), json!(false), json!("ERROR"))
    );
    h.patch(&svc, &json!({"bypass_rules": [{"sources": []}]}))
        .expect_problem("bypass_rules", "policy-based");
}

// ------------------------------------------------------- all problems at once

#[test]
fn one_request_reports_every_problem() {
    let (_d, h) = started();
    let b = json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "description": "d".repeat(1025),
        "enabled": "true",
        "local_endpoint_path": "/infra/tier-0s/t0",
        "peer_address": "999.1.1.1",
        "peer_id": "C=US, CN=dn-with-psk",
        "psk": "k".repeat(129),
        "connection_initiation_mode": "ON_DEMAND",
        "tcp_mss_clamping": {"direction": "BOTH", "max_segment_size": 50},
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": ["169.254.100.1"], "prefix_length": 32}]}],
        "tags": [{"scope": "s".repeat(129), "tag": "t"}],
        "unknown_field": 1
    });
    let r = h.patch(&seed::session_url("many"), &b);
    assert_fields(
        &r,
        &[
            "description",
            "enabled",
            "local_endpoint_path",
            "peer_address",
            "peer_id",
            "psk",
            "connection_initiation_mode",
            "tcp_mss_clamping.max_segment_size",
            "tunnel_interfaces[0].ip_subnets[0].prefix_length",
            "tags[0].scope",
            "unknown_field",
        ],
    );
    assert!(
        r.body["error_message"]
            .as_str()
            .unwrap()
            .contains("11 problems"),
        "{}",
        r.text
    );
    // Cross-object problems are reported together too.
    let b = with(|b| {
        b["ike_profile_path"] = json!(format!("{IKE}/missing"));
        b["tunnel_profile_path"] = json!(format!("{TUN}/missing"));
        b["dpd_profile_path"] = json!(format!("{DPD}/missing"));
    });
    let r = h.patch(&seed::session_url("many"), &b);
    assert_fields(
        &r,
        &[
            "ike_profile_path",
            "tunnel_profile_path",
            "dpd_profile_path",
        ],
    );
    // And for profiles.
    let r = h.patch(
        &url(&format!("{IKE}/many")),
        &json!({"ike_version": "IKE_V9", "encryption_algorithms": [], "dh_groups": ["GROUP14", "GROUP14"], "sa_life_time": 5}),
    );
    assert_fields(
        &r,
        &[
            "ike_version",
            "encryption_algorithms",
            "dh_groups[1]",
            "sa_life_time",
        ],
    );
}

// --------------------------------------------------------------- certificates

#[test]
fn certificate_import_rules() {
    let d = Daemon::start();
    let h = d.admin();
    let ca = pki::ca("Import CA");
    let site = pki::leaf("site-x", &ca);
    // A chain with its key.
    h.patch(&pki::cert_url("site"), &json!({"pem_encoded": format!("{}{}", site.pem, ca.pem), "private_key": site.key_pem(), "purpose": "site"}))
        .expect(200);
    let c = h.get(&pki::cert_url("site")).expect(200).body;
    assert_eq!(c["resource_type"], "TlsCertificate");
    assert_eq!(c["has_private_key"], true);
    assert_eq!(c["key_algo"], "EC");
    assert_eq!(c["purpose"], "site");
    let details = c["details"].as_array().expect("details");
    assert_eq!(details.len(), 2, "leaf and chain: {c}");
    assert!(
        details[0]["subject"]
            .as_str()
            .unwrap()
            .contains("CN=site-x"),
        "{c}"
    );
    assert!(
        details[1]["subject"]
            .as_str()
            .unwrap()
            .contains("CN=Import CA"),
        "{c}"
    );
    // Expiry (2039-06-01T00:00:00Z) is shown.
    assert_eq!(details[0]["not_after"], 2_190_499_200_000i64, "{c}");
    assert!(c.get("private_key").is_none(), "{c}");
    assert!(!h.get(&pki::cert_url("site")).text.contains("PRIVATE KEY"));
    // Never through show_sensitive_data or a list either.
    let s = h
        .get(&format!(
            "{}?action=show_sensitive_data",
            pki::cert_url("site")
        ))
        .expect(200);
    assert!(!s.text.contains("PRIVATE KEY"), "{}", s.text);
    let l = h.get(&common::url("/infra/certificates")).expect(200);
    assert!(!l.text.contains("PRIVATE KEY"));
    assert_eq!(l.body["result_count"], 1);

    // The key must match.
    let other = pki::leaf("other", &ca);
    let r = h.patch(
        &pki::cert_url("bad"),
        &json!({"pem_encoded": site.pem, "private_key": other.key_pem()}),
    );
    r.expect_problem("private_key", "");
    assert_nsx_error(&h.get(&pki::cert_url("bad")), 404);
    // SHA-1 signatures are refused.
    let r = h.patch(
        &pki::cert_url("sha1"),
        &json!({"pem_encoded": pki::SHA1_CERT}),
    );
    let r = r.expect_problem("pem_encoded", "");
    assert!(r.text.contains("SHA"), "names the weak hash: {}", r.text);
    // Not PEM at all / missing.
    h.patch(&pki::cert_url("junk"), &json!({"pem_encoded": "hello"}))
        .expect_problem("pem_encoded", "");
    h.patch(
        &pki::cert_url("junk"),
        &json!({"private_key": site.key_pem()}),
    )
    .expect_problem("pem_encoded", "is required");
    h.patch(&pki::cert_url("junk"), &json!({"pem_encoded": site.pem, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}))
        .expect_problem("private_key", "");
    h.patch(
        &pki::cert_url("junk"),
        &json!({"pem_encoded": ca.pem, "key_algo": "RSA"}),
    )
    .expect_problem("key_algo", "EC");
    // A CA certificate alone.
    pki::import_ca(&h, "ca", &ca);
    assert_eq!(
        h.get(&pki::cert_url("ca")).expect(200).body["has_private_key"],
        false
    );
    // Replacing the certificate keeps the stored key only if it still matches.
    h.patch(&pki::cert_url("site"), &json!({"pem_encoded": other.pem}))
        .expect_problem("pem_encoded", "");
    h.patch(&pki::cert_url("site"), &json!({"description": "renamed"}))
        .expect(200);
    assert_eq!(
        h.get(&pki::cert_url("site")).expect(200).body["has_private_key"],
        true
    );

    // CRLs.
    let crl_pem = pki::crl(&ca);
    h.patch(&pki::crl_url("crl"), &json!({"pem_encoded": crl_pem}))
        .expect(200);
    let crl = h.get(&pki::crl_url("crl")).expect(200).body;
    assert_eq!(crl["resource_type"], "TlsCrl");
    assert_eq!(crl["crl_type"], "X509");
    assert!(
        crl["details"]["issuer"]
            .as_str()
            .unwrap()
            .contains("CN=Import CA"),
        "{crl}"
    );
    assert_eq!(crl["details"]["revoked_count"], 0);
    h.patch(&pki::crl_url("bad"), &json!({"pem_encoded": ca.pem}))
        .expect_problem("pem_encoded", "");
    h.patch(
        &pki::crl_url("bad"),
        &json!({"pem_encoded": crl_pem, "crl_type": "OPENSSL"}),
    )
    .expect_problem("crl_type", "X509");
    h.patch(&pki::crl_url("bad"), &json!({}))
        .expect_problem("pem_encoded", "is required");
}

// ------------------------------------------- rules seen from the local endpoint

#[test]
fn local_endpoint_edits_cannot_break_its_sessions() {
    let (_d, h) = started();
    let dn = "C=US, O=Org, CN=site-a";
    // A DN local_id needs certificates: a PSK session through such an endpoint is rejected...
    h.patch(seed::LE, &json!({"local_id": dn})).expect(200);
    rejected(&h, &body(), "local_endpoint_path", "is a DN");
    h.patch(seed::LE, &json!({"local_id": "198.51.100.1"}))
        .expect(200);
    let u = seed::session_url("s");
    h.patch(&u, &body()).expect(200);
    // ...and editing the endpoint afterwards cannot sneak the DN in.
    h.patch(seed::LE, &json!({"local_id": dn}))
        .expect_problem("local_id", "/sessions/s");
    assert_eq!(h.get(seed::LE).expect(200).body["local_id"], "198.51.100.1");
    h.patch(seed::LE, &json!({"local_id": "gw-a.example.com"}))
        .expect(200);
    h.patch(seed::LE, &json!({"local_id": "vpn@example.com"}))
        .expect(200);
    // The endpoint keeps the sessions' IP version.
    h.patch(seed::LE, &json!({"local_address": "2001:db8::1"}))
        .expect_problem("local_address", "/sessions/s");
    h.patch(seed::LE, &json!({"local_address": "198.51.100.2"}))
        .expect(200);

    // Certificate sessions need the endpoint's certificate_path and trust_ca_paths, both ways.
    pki::certificate_endpoint(&h);
    h.patch(
        &u,
        &json!({"authentication_mode": "CERTIFICATE", "peer_id": "C=US, O=Org, CN=site-b"}),
    )
    .expect(200);
    h.patch(seed::LE, &json!({"trust_ca_paths": []}))
        .expect_problem("trust_ca_paths", "/sessions/s");
    h.patch(seed::LE, &json!({"trust_ca_paths": null}))
        .expect_problem("trust_ca_paths", "/sessions/s");
    h.patch(seed::LE, &json!({"certificate_path": null}))
        .expect_problem("certificate_path", "/sessions/s");
    let le = h.get(seed::LE).expect(200).body;
    assert_eq!(le["trust_ca_paths"], json!([pki::cert_path("ca")]));
    assert_eq!(le["certificate_path"], pki::cert_path("site"));
    // With certificates a DN local_id is fine; going back to PSK then is not.
    h.patch(seed::LE, &json!({"local_id": dn})).expect(200);
    h.patch(
        &u,
        &json!({"authentication_mode": "PSK", "psk": "k", "peer_id": "203.0.113.2"}),
    )
    .expect_problem("local_endpoint_path", "is a DN");
    // Another CA can replace the trusted one.
    let ca2 = pki::ca("Second CA");
    pki::import_ca(&h, "ca2", &ca2);
    h.patch(
        seed::LE,
        &json!({"trust_ca_paths": [pki::cert_path("ca2")]}),
    )
    .expect(200);
}
