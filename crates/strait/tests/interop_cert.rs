//! Certificate authentication against Debian's strongSwan 5.9.8 (`auth = pubkey`), each in
//! its own network namespace: certificates, CAs and CRLs are imported and the session is
//! configured through strait's REST API only (the seed flow), strongSwan loads its own
//! certificate from files. Covers RSA-2048/3072 and ECDSA P-256/P-384 in both roles, an
//! intermediate CA, the seed page's DN-with-e-mail identities, refusals that name their
//! cause (unknown CA, expired, revoked, Remote ID mismatch), rekeys, IKE fragmentation seen
//! in strongSwan's log, and the compliance suites CNSA, PRIME, SUITE_B_GCM_128/256.
//!
//! Needs root and `scripts/install-deps.sh` (fails loudly otherwise, never skips).
mod common;

use std::time::Duration;

use common::netns::{topology, ConnAuth, IkeSaInfo, PskConn, StrongSwan, Topology};
use common::straitd::StraitInNs;
use common::Http;
use ike_testdata::pki::{Issued, KeyKind, Leaf, TestCa};
use serde_json::json;

const STRAIT: &str = "198.51.100.1";
const SWAN: &str = "198.51.100.2";
const WAIT: Duration = Duration::from_secs(25);
const SVC: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn";
const SESSION: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/to-swan";
const LE: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le";
/// The seed page's example DN (its e-mail shown obfuscated there).
const SWAN_DN: &str =
    "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=site123@example.com";
const SWAN_DN_ATTRS: &[(&str, &str)] = &[
    ("C", "US"),
    ("ST", "California"),
    ("O", "MyCompany"),
    ("OU", "MyOrg"),
    ("CN", "Site123"),
    ("emailAddress", "site123@example.com"),
];

/// One test's PKI: a CA, strait's site certificate (SAN IP = its address, so its derived
/// local ID is 198.51.100.1) and strongSwan's (the seed DN).
struct Pki {
    ca: TestCa,
    strait: Issued,
    swan: Issued,
}

fn pki(strait_key: KeyKind, swan_key: KeyKind) -> Pki {
    let mut ca = TestCa::root("strait interop CA", KeyKind::Rsa3072);
    let strait = ca.issue(&Leaf {
        subject: &[("C", "US"), ("O", "strait"), ("CN", "strait-gw")],
        sans: &[STRAIT],
        key: strait_key,
        ..Leaf::default()
    });
    let swan = ca.issue(&Leaf {
        subject: SWAN_DN_ATTRS,
        key: swan_key,
        ..Leaf::default()
    });
    Pki { ca, strait, swan }
}

/// What strait is told (all through the API).
struct StraitSide<'a> {
    site_chain_pem: String,
    site_key_pem: &'a str,
    cas: Vec<&'a str>,
    crls: Vec<String>,
    initiator: bool,
    peer_id: &'a str,
    suite: Option<&'a str>,
    local_id: Option<&'a str>,
}

fn configure(h: &Http, s: &StraitSide<'_>) {
    h.patch("/policy/api/v1/infra/tier-0s/t0", &json!({}))
        .expect(200);
    h.patch(SVC, &json!({})).expect(200);
    h.patch(
        "/policy/api/v1/infra/certificates/site",
        &json!({"pem_encoded": s.site_chain_pem, "private_key": s.site_key_pem}),
    )
    .expect(200);
    let mut ca_paths = Vec::new();
    for (i, ca) in s.cas.iter().enumerate() {
        h.patch(
            &format!("/policy/api/v1/infra/certificates/ca-{i}"),
            &json!({"pem_encoded": ca}),
        )
        .expect(200);
        ca_paths.push(format!("/infra/certificates/ca-{i}"));
    }
    let mut crl_paths = Vec::new();
    for (i, crl) in s.crls.iter().enumerate() {
        h.patch(
            &format!("/policy/api/v1/infra/crls/crl-{i}"),
            &json!({"pem_encoded": crl}),
        )
        .expect(200);
        crl_paths.push(format!("/infra/crls/crl-{i}"));
    }
    let mut le = json!({
        "local_address": STRAIT,
        "certificate_path": "/infra/certificates/site",
        "trust_ca_paths": ca_paths,
        "trust_crl_paths": crl_paths,
    });
    if let Some(id) = s.local_id {
        le["local_id"] = json!(id);
    }
    h.patch(&format!("/policy/api/v1{LE}"), &le).expect(200);
    let mut body = json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "display_name": "to strongSwan (certificates)",
        "local_endpoint_path": LE,
        "peer_address": SWAN,
        "peer_id": s.peer_id,
        "authentication_mode": "CERTIFICATE",
        "connection_initiation_mode": if s.initiator { "INITIATOR" } else { "RESPOND_ONLY" },
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": ["169.254.100.1"], "prefix_length": 30}]}]
    });
    if let Some(suite) = s.suite {
        body["compliance_suite"] = json!(suite);
    }
    h.patch(SESSION, &body).expect(200);
}

/// strongSwan with its certificate, the CA and a pubkey connection; `initiate` starts it.
fn swan(
    t: &Topology,
    p: &Pki,
    intermediates: &[&Issued],
    conn: impl FnOnce(&mut PskConn),
) -> StrongSwan {
    let ss = StrongSwan::start(&t.b);
    let mut chain_files: Vec<(String, String)> = vec![("swan.pem".into(), p.swan.cert_pem.clone())];
    for (i, c) in intermediates.iter().enumerate() {
        chain_files.push((format!("inter-{i}.pem"), c.cert_pem.clone()));
    }
    let certs: Vec<(&str, &str)> = chain_files
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_str()))
        .collect();
    ss.install_credentials(
        &certs,
        &[("swan.key", p.swan.key_pem.as_str())],
        &[("ca.pem", p.ca.cert.cert_pem.as_str())],
        &[],
    );
    let mut c = PskConn::new("rb", SWAN, STRAIT, "unused-psk-unused-psk");
    c.local_id = SWAN_DN.to_owned();
    c.remote_id = STRAIT.to_owned();
    c.auth = ConnAuth::Pubkey {
        cert: "swan.pem".into(),
        cacert: "ca.pem".into(),
    };
    conn(&mut c);
    ss.load(&c.render());
    ss
}

fn swan_up(ss: &StrongSwan) -> IkeSaInfo {
    ss.wait_sas(
        "an ESTABLISHED IKE SA with an INSTALLED child",
        WAIT,
        |sas| {
            sas.iter()
                .any(|s| s.state == "ESTABLISHED" && !s.installed_children().is_empty())
        },
    );
    ss.list_sas()
        .into_iter()
        .find(|s| s.state == "ESTABLISHED")
        .expect("established")
}

fn strait_side<'a>(p: &'a Pki, initiator: bool) -> StraitSide<'a> {
    StraitSide {
        site_chain_pem: p.strait.cert_pem.clone(),
        site_key_pem: &p.strait.key_pem,
        cas: vec![&p.ca.cert.cert_pem],
        crls: vec![],
        initiator,
        peer_id: SWAN_DN,
        suite: None,
        local_id: None,
    }
}

/// Up both ways, with traffic through the tunnel and strongSwan's log showing IKE
/// fragments both ways (RSA certificates do not fit one 1,280-byte datagram).
fn assert_up(t: &Topology, strait: &StraitInNs<'_>, ss: &StrongSwan, expect_fragments: bool) {
    let sa = swan_up(ss);
    let st = strait.wait_status(SESSION, "UP", |s| s["runtime_status"] == "UP");
    assert_eq!(st["ike_status"]["fail_reason"], "", "{st:#}");
    assert_eq!(
        st["sas"]["ike"]["spi_i"].as_str().unwrap(),
        sa.initiator_spi.trim_start_matches("0x")
    );
    ss.set_tunnel_addr("169.254.100.2/30");
    assert!(
        common::netns::ping(&t.b, "169.254.100.1", 3),
        "no traffic through the tunnel\n--- strongSwan ---\n{}",
        ss.log()
    );
    if expect_fragments {
        let log = ss.log();
        assert!(
            log.contains("received fragment #1"),
            "strongSwan received no IKE fragment from strait:\n{log}"
        );
        assert!(
            log.contains("into 2 fragments")
                || log.contains("into 3 fragments")
                || log.contains("fragments"),
            "strongSwan sent no fragments:\n{log}"
        );
    }
}

#[test]
fn rsa_and_ecdsa_certificates_come_up_in_both_roles() {
    let keys = [
        KeyKind::Rsa2048,
        KeyKind::Rsa3072,
        KeyKind::EcdsaP256,
        KeyKind::EcdsaP384,
    ];
    for (key, strait_initiates) in keys.iter().flat_map(|k| [(*k, true), (*k, false)]) {
        let t = topology();
        let p = pki(key, key);
        let ss = swan(&t, &p, &[], |_| {});
        let strait = StraitInNs::start(&t.a);
        strait.api(|h| configure(h, &strait_side(&p, strait_initiates)));
        if !strait_initiates {
            // strait is RESPOND_ONLY: strongSwan starts.
            std::thread::sleep(Duration::from_millis(500));
            ss.initiate("rb")
                .unwrap_or_else(|e| panic!("{key:?}: {e}\n{}", strait.log()));
        }
        let rsa = matches!(key, KeyKind::Rsa2048 | KeyKind::Rsa3072);
        assert_up(&t, &strait, &ss, rsa);
    }
}

#[test]
fn an_intermediate_ca_chain_and_rekeys_with_certificates() {
    let t = topology();
    let mut root = TestCa::root("strait interop root", KeyKind::Rsa3072);
    let mut inter = root.intermediate("strait interop issuing CA", KeyKind::EcdsaP384);
    let strait_cert = inter.issue(&Leaf {
        subject: &[("CN", "strait-gw")],
        sans: &[STRAIT],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let swan_cert = inter.issue(&Leaf {
        subject: SWAN_DN_ATTRS,
        key: KeyKind::Rsa2048,
        ..Leaf::default()
    });
    let p = Pki {
        ca: root,
        strait: strait_cert,
        swan: swan_cert,
    };
    // Both sides trust only the root; each sends its intermediate.
    let ss = swan(&t, &p, &[&inter.cert], |_| {});
    let strait = StraitInNs::start(&t.a);
    let mut side = strait_side(&p, true);
    side.site_chain_pem = format!("{}{}", p.strait.cert_pem, inter.cert.cert_pem);
    strait.api(|h| configure(h, &side));
    assert_up(&t, &strait, &ss, false);
    // Child and IKE rekeys keep the certificate-authenticated tunnel up.
    let before = swan_up(&ss);
    ss.rekey_child("rb").unwrap();
    ss.rekey_ike("rb").unwrap();
    ss.wait_sas("a rekeyed IKE SA with a child", WAIT, |s| {
        s.iter().any(|x| {
            x.state == "ESTABLISHED"
                && x.initiator_spi != before.initiator_spi
                && !x.installed_children().is_empty()
        })
    });
    assert!(common::netns::ping(&t.b, "169.254.100.1", 3));
    let st = strait.status(SESSION);
    assert_eq!(st["runtime_status"], "UP", "{st:#}");
}

/// strait refuses strongSwan: its status says Authentication failed and the alarm names
/// the cause.
#[track_caller]
fn strait_refuses(ss: &StrongSwan, strait: &StraitInNs<'_>, want: &[&str]) {
    let _ = ss.initiate("rb");
    let st = strait.wait_status(SESSION, "Authentication failed", |s| {
        s["ike_status"]["fail_reason"] == "Authentication failed"
    });
    let alarm = st["alarm"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for w in want {
        assert!(alarm.contains(w), "alarm {alarm:?} lacks {w:?}");
    }
    assert_ne!(st["runtime_status"], "UP");
}

#[test]
fn refusals_name_the_cause_and_the_fix() {
    // An untrusted CA.
    {
        let t = topology();
        let p = pki(KeyKind::EcdsaP256, KeyKind::EcdsaP256);
        let mut other = TestCa::root("untrusted CA", KeyKind::EcdsaP256);
        let swan_cert = other.issue(&Leaf {
            subject: SWAN_DN_ATTRS,
            key: KeyKind::EcdsaP256,
            ..Leaf::default()
        });
        let p2 = Pki {
            ca: other,
            strait: p.strait.clone(),
            swan: swan_cert,
        };
        // strongSwan initiates and sends its certificate first: strait is the one refusing.
        let ss = swan(&t, &p2, &[], |_| {});
        let strait = StraitInNs::start(&t.a);
        strait.api(|h| configure(h, &strait_side(&p, false)));
        strait_refuses(&ss, &strait, &["untrusted CA", "trust_ca_paths"]);
    }
    // A revoked peer certificate (the CRL is imported through the API).
    {
        let t = topology();
        let p = pki(KeyKind::EcdsaP256, KeyKind::EcdsaP256);
        let crl = p.ca.crl(&[p.swan.serial]);
        let ss = swan(&t, &p, &[], |_| {});
        let strait = StraitInNs::start(&t.a);
        let mut side = strait_side(&p, false);
        side.crls = vec![crl];
        strait.api(|h| configure(h, &side));
        strait_refuses(&ss, &strait, &["revoked", "crl-0"]);
    }
    // An expired peer certificate.
    {
        let t = topology();
        let mut p = pki(KeyKind::EcdsaP256, KeyKind::EcdsaP256);
        p.swan = p.ca.issue(&Leaf {
            subject: SWAN_DN_ATTRS,
            key: KeyKind::EcdsaP256,
            not_before_days: -60,
            not_after_days: -1,
            ..Leaf::default()
        });
        let ss = swan(&t, &p, &[], |_| {});
        let strait = StraitInNs::start(&t.a);
        strait.api(|h| configure(h, &strait_side(&p, false)));
        strait_refuses(&ss, &strait, &["expired"]);
    }
    // A Remote ID that does not match.
    {
        let t = topology();
        let p = pki(KeyKind::EcdsaP256, KeyKind::EcdsaP256);
        let ss = swan(&t, &p, &[], |_| {});
        let strait = StraitInNs::start(&t.a);
        let mut side = strait_side(&p, false);
        side.peer_id = "C=US, O=MyCompany, CN=SomeoneElse";
        strait.api(|h| configure(h, &side));
        strait_refuses(&ss, &strait, &["Site123", "SomeoneElse"]);
    }
}

#[test]
fn compliance_suites_come_up_with_strongswan_configured_for_them() {
    // (suite, strongSwan IKE proposal, ESP proposal, key) per the NSX suite table.
    for (suite, ike, esp, key) in [
        (
            "CNSA",
            "aes256-sha384-ecp384",
            "aes256-sha384-ecp384",
            KeyKind::EcdsaP384,
        ),
        (
            "PRIME",
            "aes128gcm16-prfsha256-ecp256",
            "aes128gcm16-ecp256",
            KeyKind::EcdsaP256,
        ),
        (
            "SUITE_B_GCM_128",
            "aes128-sha256-ecp256",
            "aes128gcm16-ecp256",
            KeyKind::EcdsaP256,
        ),
        (
            "SUITE_B_GCM_256",
            "aes256-sha384-ecp384",
            "aes256gcm16-ecp384",
            KeyKind::EcdsaP384,
        ),
    ] {
        let t = topology();
        let p = pki(key, key);
        let ss = swan(&t, &p, &[], |c| {
            c.proposals = ike.into();
            c.esp_proposals = esp.into();
        });
        let strait = StraitInNs::start(&t.a);
        let mut side = strait_side(&p, true);
        side.suite = Some(suite);
        strait.api(|h| configure(h, &side));
        let sa = swan_up(&ss);
        let st = strait.wait_status(SESSION, "UP", |s| s["runtime_status"] == "UP");
        assert_eq!(st["ike_status"]["fail_reason"], "", "{suite}: {st:#}");
        assert!(!sa.installed_children().is_empty(), "{suite}");
    }
}

#[test]
fn a_local_id_must_be_one_of_the_certificates_identities() {
    let t = topology();
    let mut p = pki(KeyKind::EcdsaP256, KeyKind::EcdsaP256);
    // strait identifies itself by its certificate's subject DN (with an e-mail address, as
    // on the seed page) instead of the derived subjectAltName IP; strongSwan expects exactly
    // that DN, and strait expects strongSwan's seed-page DN.
    p.strait = p.ca.issue(&Leaf {
        subject: &[
            ("C", "US"),
            ("O", "strait"),
            ("CN", "strait-gw"),
            ("emailAddress", "gw@strait.example"),
        ],
        sans: &[STRAIT],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let our_dn = "C=US, O=strait, CN=strait-gw, emailAddress=gw@strait.example";
    let ss = swan(&t, &p, &[], |c| c.remote_id = our_dn.to_owned());
    let strait = StraitInNs::start(&t.a);
    let mut side = strait_side(&p, true);
    side.local_id = Some(our_dn);
    strait.api(|h| configure(h, &side));
    swan_up(&ss);
    strait.wait_status(SESSION, "UP", |s| s["runtime_status"] == "UP");
    // An ID the certificate does not hold is refused before anything is sent.
    strait.api(|h| {
        h.patch(
            &format!("/policy/api/v1{LE}"),
            &json!({"local_address": STRAIT, "local_id": "gw.example.com",
                    "certificate_path": "/infra/certificates/site",
                    "trust_ca_paths": ["/infra/certificates/ca-0"]}),
        )
        .expect(200)
    });
    let st = strait.wait_status(SESSION, "Configuration failed", |s| {
        s["ike_status"]["fail_reason"] == "Configuration failed"
    });
    let alarm = st["alarm"]["message"].as_str().unwrap_or_default();
    assert!(
        alarm.contains("gw.example.com") && alarm.contains("not in its site certificate"),
        "{alarm}"
    );
}

#[test]
fn a_peer_that_refuses_our_certificate_is_named_in_the_alarm() {
    let t = topology();
    let p = pki(KeyKind::EcdsaP256, KeyKind::EcdsaP256);
    // strongSwan trusts another CA than the one that issued strait's certificate.
    let other = TestCa::root("a CA strongSwan trusts", KeyKind::EcdsaP256);
    let ss = StrongSwan::start(&t.b);
    ss.install_credentials(
        &[("swan.pem", p.swan.cert_pem.as_str())],
        &[("swan.key", p.swan.key_pem.as_str())],
        &[("ca.pem", other.cert.cert_pem.as_str())],
        &[],
    );
    let mut c = PskConn::new("rb", SWAN, STRAIT, "unused-psk-unused-psk");
    c.local_id = SWAN_DN.to_owned();
    c.remote_id = STRAIT.to_owned();
    c.auth = ConnAuth::Pubkey {
        cert: "swan.pem".into(),
        cacert: "ca.pem".into(),
    };
    ss.load(&c.render());
    let strait = StraitInNs::start(&t.a);
    strait.api(|h| configure(h, &strait_side(&p, true)));
    let st = strait.wait_status(SESSION, "Authentication failed", |s| {
        s["ike_status"]["fail_reason"] == "Authentication failed"
    });
    let alarm = st["alarm"]["message"].as_str().unwrap_or_default();
    assert!(
        alarm.contains("rejected our authentication") && alarm.contains("strait-gw"),
        "{alarm}"
    );
}
