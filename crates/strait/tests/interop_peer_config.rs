//! The acceptance test of `GET {session}/peer-config?format=strongswan`: strait is
//! configured through its REST API only, the generated swanctl.conf is loaded as is by a
//! strongSwan 5.9.8 peer (kernel-libipsec, with the strongswan.conf settings the file's
//! comments give), the peer's tunnel interface gets the address the comments give, and the
//! tunnel comes up on both sides and carries pings between the two VTI addresses. Two
//! profile combinations: NSX's defaults with strait initiating, and a non-default IKE and
//! tunnel profile with strait RESPOND_ONLY (the generated file must make strongSwan
//! initiate), the latter with a PSK that only the file's hex form can carry.
//!
//! Needs root and `scripts/install-deps.sh` (fails loudly otherwise, never skips).
mod common;

use std::time::{Duration, Instant};

use common::netns::{ping, topology, IkeSaInfo, StrongSwan, StrongSwanOptions};
use common::straitd::StraitInNs;
use common::Http;
use serde_json::{json, Value};

const STRAIT: &str = "198.51.100.1";
const SWAN: &str = "198.51.100.2";
const STRAIT_VTI: &str = "169.254.100.1";
const SVC: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn";
const SESSION: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/to-swan";
/// The connection name the generated file uses for session `to-swan`.
const CONN: &str = "strait-to-swan";
/// "UP within 10 s" of the moment both sides have their configuration.
const UP_WITHIN: Duration = Duration::from_secs(10);

/// What a test case configures in strait.
struct Case {
    /// Extra profile objects (path, body) to create first.
    profiles: Vec<(&'static str, Value)>,
    /// Extra session fields.
    session: Value,
    /// Extra local endpoint fields.
    endpoint: Value,
    psk: &'static str,
    initiator: bool,
    /// Certificate authentication: the PKI, imported into strait through the API, and the
    /// peer's certificate and key, placed where the generated file's comments say.
    certs: Option<Certs>,
}

/// A CA, strait's site certificate and the peer's.
struct Certs {
    ca: ike_testdata::pki::TestCa,
    strait: ike_testdata::pki::Issued,
    peer: ike_testdata::pki::Issued,
}

fn merge(into: &mut Value, extra: &Value) {
    if let (Some(b), Some(e)) = (into.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
}

/// The seed flow through the API. An initiating session starts disabled, so that strait
/// does not knock (and back off) before the peer has its configuration.
fn configure(h: &Http, case: &Case) {
    h.patch("/policy/api/v1/infra/tier-0s/t0", &json!({}))
        .expect(200);
    h.patch(SVC, &json!({})).expect(200);
    for (path, body) in &case.profiles {
        h.patch(&format!("/policy/api/v1{path}"), body).expect(200);
    }
    let mut le = json!({"local_address": STRAIT});
    if let Some(c) = &case.certs {
        h.patch(
            "/policy/api/v1/infra/certificates/site",
            &json!({"pem_encoded": c.strait.cert_pem, "private_key": c.strait.key_pem}),
        )
        .expect(200);
        h.patch(
            "/policy/api/v1/infra/certificates/ca",
            &json!({"pem_encoded": c.ca.cert.cert_pem}),
        )
        .expect(200);
        le["certificate_path"] = json!("/infra/certificates/site");
        le["trust_ca_paths"] = json!(["/infra/certificates/ca"]);
    }
    merge(&mut le, &case.endpoint);
    h.patch(&format!("{SVC}/local-endpoints/le"), &le)
        .expect(200);
    let mut body = json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "display_name": "to strongSwan",
        "enabled": !case.initiator,
        "local_endpoint_path": "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
        "peer_address": SWAN,
        "peer_id": SWAN,
        "psk": case.psk,
        "connection_initiation_mode": if case.initiator { "INITIATOR" } else { "RESPOND_ONLY" },
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [STRAIT_VTI], "prefix_length": 30}]}]
    });
    if case.certs.is_some() {
        body.as_object_mut().unwrap().remove("psk");
        body["authentication_mode"] = json!("CERTIFICATE");
    }
    merge(&mut body, &case.session);
    h.patch(SESSION, &body).expect(200);
}

/// The file name the comments give for `dir` (`#   /etc/swanctl/<dir>/<name>`).
fn placed_file(conf: &str, dir: &str) -> String {
    let prefix = format!("/etc/swanctl/{dir}/");
    conf.lines()
        .filter(|l| l.starts_with('#'))
        .find_map(|l| {
            let at = l.find(&prefix)?;
            let rest = &l[at + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != ')')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .unwrap_or_else(|| panic!("no {prefix}<file> in the comments of\n{conf}"))
}

/// A value from the generated file's strongswan.conf comment block (`#   key = value`).
fn comment_setting(conf: &str, key: &str) -> String {
    conf.lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter_map(|l| l.trim().strip_prefix(key))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|v| v.trim().to_owned())
        .next()
        .unwrap_or_else(|| panic!("no `{key} = ...` in the comments of\n{conf}"))
}

/// The peer VTI the comments tell a kernel-libipsec peer to configure.
fn peer_vti(conf: &str) -> String {
    let cidrs: Vec<&str> = conf
        .lines()
        .filter_map(|l| l.strip_prefix("#   ip addr add "))
        .filter_map(|l| l.strip_suffix(" dev ipsec0"))
        .collect();
    assert_eq!(
        cidrs.len(),
        1,
        "one `ip addr add ... dev ipsec0` expected in\n{conf}"
    );
    cidrs[0].to_owned()
}

/// strongSwan as the comments of `conf` say a kernel-libipsec peer should run.
fn strongswan_options(conf: &str) -> StrongSwanOptions {
    let opts = StrongSwanOptions {
        plugins: comment_setting(conf, "load"),
        routing_table: comment_setting(conf, "routing_table").parse().unwrap(),
        routing_table_prio: comment_setting(conf, "routing_table_prio").parse().unwrap(),
        ..StrongSwanOptions::default()
    };
    assert_eq!(
        comment_setting(conf, "load_modular"),
        "no",
        "kernel-libipsec must be loaded explicitly"
    );
    opts
}

/// Run a case; returns strongSwan's IKE SA and strait's status once the tunnel carries pings.
fn run(case: Case) -> (IkeSaInfo, Value, String) {
    let t = topology();
    let strait = StraitInNs::start(&t.a);
    strait.api(|h| configure(h, &case));
    let conf = strait.api(|h| {
        let r = h
            .get(&format!("{SESSION}/peer-config?format=strongswan"))
            .expect(200);
        assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
        r.text
    });
    assert!(
        conf.contains(&format!("{CONN} {{")),
        "connection {CONN} in\n{conf}"
    );

    // The peer: charon with the commented strongswan.conf settings, then the file as is.
    let ss = StrongSwan::start_with(&t.b, &strongswan_options(&conf));
    let vti = peer_vti(&conf);
    assert_eq!(vti, "169.254.100.2/30");
    ss.set_tunnel_addr(&vti);
    if let Some(c) = &case.certs {
        // The files the comments name, in the places they name (relative to swanctl.conf).
        let (cert, key, ca) = (
            placed_file(&conf, "x509"),
            placed_file(&conf, "private"),
            placed_file(&conf, "x509ca"),
        );
        ss.install_credentials(
            &[(cert.as_str(), c.peer.cert_pem.as_str())],
            &[(key.as_str(), c.peer.key_pem.as_str())],
            &[(ca.as_str(), c.ca.cert.cert_pem.as_str())],
            &[],
        );
    }
    ss.load(&conf);
    if case.initiator {
        strait.api(|h| {
            h.patch(SESSION, &json!({"enabled": true})).expect(200);
        });
    }
    let started = Instant::now();
    strait.wait_status(SESSION, "the session UP", |s| {
        s["runtime_status"] == "UP" && s["interface_name"].is_string()
    });
    assert!(
        started.elapsed() <= UP_WITHIN,
        "strait took {:?} to come UP (at most {UP_WITHIN:?})\n{conf}",
        started.elapsed()
    );
    let sa = ss.wait_established(CONN, UP_WITHIN);
    assert_eq!(sa.name, CONN);
    assert_eq!(sa.state, "ESTABLISHED");
    let child = sa.installed_children()[0].clone();
    assert_eq!(child.name, CONN);
    assert!(child.encap, "ESP in UDP");
    assert_eq!(sa.initiator, !case.initiator, "who initiated: {sa:#?}");

    // Traffic between the two VTI addresses, both ways, through the tunnel.
    let peer_addr = vti.split('/').next().unwrap().to_owned();
    assert!(
        ping(&t.a, &peer_addr, 5),
        "ping {peer_addr} from strait's side failed\n{}\n--- swanctl.conf ---\n{conf}",
        strait.log()
    );
    assert!(
        ping(&t.b, STRAIT_VTI, 5),
        "ping {STRAIT_VTI} from strongSwan's side failed\n{}",
        strait.log()
    );
    let sas = ss.list_sas();
    let installed = sas
        .iter()
        .flat_map(|s| s.installed_children())
        .find(|c| c.packets_in >= 5 && c.packets_out >= 5);
    assert!(
        installed.is_some(),
        "strongSwan's Child SA carried the pings: {sas:#?}"
    );
    let st = strait.status(SESSION);
    assert_eq!(st["runtime_status"], "UP", "{st:#}");
    drop(ss);
    drop(strait);
    (sa, st, conf)
}

#[test]
fn nsx_defaults_strait_initiates() {
    let (sa, st, conf) = run(Case {
        profiles: vec![],
        session: json!({}),
        endpoint: json!({}),
        psk: "strait-peer-config-psk-0123456789",
        initiator: true,
        certs: None,
    });
    assert!(conf.contains("proposals = aes128-sha256-prfsha256-modp2048\n"));
    assert!(conf.contains("start_action = none\n"));
    assert!(conf.contains("secret = \"strait-peer-config-psk-0123456789\"\n"));
    assert_eq!(
        sa.algorithms(),
        "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
    );
    assert_eq!(sa.installed_children()[0].algorithms(), "AES_GCM_16-128");
    assert_eq!(
        st["sas"]["ike"]["algorithms"],
        "AES_128/SHA2_256/PRF_SHA2_256/GROUP14"
    );
}

#[test]
fn custom_profiles_strait_responds_only() {
    // Quotes, a backslash, `#` and braces: only the 0x form can carry this key.
    let psk = "p\"s{k}#\\ 0x\"";
    let (sa, st, conf) = run(Case {
        profiles: vec![
            (
                "/infra/ipsec-vpn-ike-profiles/ike-384",
                json!({"encryption_algorithms": ["AES_256"], "digest_algorithms": ["SHA2_384"],
                       "dh_groups": ["GROUP20"]}),
            ),
            (
                "/infra/ipsec-vpn-tunnel-profiles/gcm-256",
                json!({"encryption_algorithms": ["AES_GCM_256"], "dh_groups": ["GROUP19"]}),
            ),
        ],
        session: json!({
            "ike_profile_path": "/infra/ipsec-vpn-ike-profiles/ike-384",
            "tunnel_profile_path": "/infra/ipsec-vpn-tunnel-profiles/gcm-256",
            "peer_id": "swan.example.net",
        }),
        endpoint: json!({"local_id": "strait.example.net"}),
        psk,
        initiator: false,
        certs: None,
    });
    assert!(conf.contains("proposals = aes256-sha384-prfsha384-ecp384\n"));
    assert!(conf.contains("esp_proposals = aes256gcm16-ecp256\n"));
    assert!(conf.contains("start_action = start\n"));
    let hex: String = psk.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(conf.contains(&format!("secret = 0x{hex}\n")), "{conf}");
    assert_eq!(
        sa.algorithms(),
        "AES_CBC-256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_384"
    );
    assert_eq!(sa.installed_children()[0].algorithms(), "AES_GCM_16-256");
    assert_eq!(sa.local_id, "swan.example.net");
    assert_eq!(sa.remote_id, "strait.example.net");
    assert_eq!(
        st["sas"]["ike"]["algorithms"],
        "AES_256/SHA2_384/PRF_SHA2_384/GROUP20"
    );
}

#[test]
fn certificate_session_with_the_seed_pages_dn() {
    use ike_testdata::pki::{KeyKind, Leaf, TestCa};
    let mut ca = TestCa::root("peer-config CA", KeyKind::EcdsaP256);
    let strait_cert = ca.issue(&Leaf {
        subject: &[("C", "US"), ("O", "strait"), ("CN", "strait-gw")],
        sans: &[STRAIT],
        key: KeyKind::Rsa2048,
        ..Leaf::default()
    });
    let peer = ca.issue(&Leaf {
        subject: &[
            ("C", "US"),
            ("ST", "California"),
            ("O", "MyCompany"),
            ("OU", "MyOrg"),
            ("CN", "Site123"),
            ("emailAddress", "site123@example.com"),
        ],
        key: KeyKind::Rsa2048,
        ..Leaf::default()
    });
    let seed_dn =
        "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=site123@example.com";
    let (sa, st, conf) = run(Case {
        profiles: vec![],
        session: json!({"peer_id": seed_dn}),
        endpoint: json!({}),
        psk: "",
        initiator: true,
        certs: Some(Certs {
            ca,
            strait: strait_cert,
            peer,
        }),
    });
    assert!(conf.contains("auth = pubkey"), "{conf}");
    assert!(
        !conf
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains("secret")),
        "no PSK for a certificate session:\n{conf}"
    );
    assert!(!conf.contains("PRIVATE KEY"), "no key material:\n{conf}");
    assert_eq!(
        sa.remote_id, STRAIT,
        "strait's ID derived from its certificate (SAN IP)"
    );
    assert_eq!(st["runtime_status"], "UP");
}
