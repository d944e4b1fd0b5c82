//! `GET {session}/peer-config` against the real straitd (no namespace needed: nothing
//! negotiates here): both formats, the PSK only for admins, errors, and the CLI's
//! `strait session peer-config`. That a strongSwan peer comes up with the generated file is
//! shown in interop_peer_config.rs.
mod common;

use std::process::Command;

use common::{assert_nsx_error, seed, Daemon, Resp, ADMIN_PASSWORD};
use serde_json::json;

const PSK: &str = "correct horse battery staple";

fn peer_config(session: &str, query: &str) -> String {
    format!("{session}/peer-config{query}")
}

#[track_caller]
fn text_ok(r: Resp) -> String {
    let r = r.expect(200);
    assert_eq!(
        r.headers["content-type"], "text/plain; charset=utf-8",
        "{:?}",
        r.headers
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    r.text
}

/// A peer configuration without the line that says when it was generated (two requests may
/// fall in different seconds: a CI run saw 16:03:43 and 16:03:44).
fn strip_time(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains(" GMT 20"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn admins_get_the_psk_auditors_do_not() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    let url = seed::session_url("s");
    h.patch(&url, &seed::session("203.0.113.2", "169.254.100.1"))
        .expect(200);

    // nsx (the default): NSX's layout, strait's point of view, the VTI section.
    let nsx = text_ok(h.get(&peer_config(&url, "")));
    assert_eq!(
        strip_time(&nsx),
        strip_time(&text_ok(h.get(&peer_config(&url, "?format=nsx"))))
    );
    for needle in [
        "# Suggestive peer configuration for Policy IPSec Vpn Session\n#\n",
        "# IPSec VPN session path          : /infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s\n",
        "# IPSec VPN session name          : to-site-b\n",
        "# Tier 0 path                     : /infra/tier-0s/t0\n",
        "# IPSecVPNSession type       : Route based VPN\n",
        "GMT 20",
        "IKE version                  : IKE_V2\n",
        "Connection initiation mode   : INITIATOR\n",
        "Pre shared key               : correct horse battery staple\n",
        "Encryption algorithm         : [AES_128]\n",
        "Prf Algorithm                : [SHA2_256]\n",
        "Encryption algorithm            : [AES_GCM_128]\n",
        "Perfect forward secrecy DH group: [GROUP14]\n",
        "DPD probe interval  : 60\n",
        "Peer address    : 203.0.113.2 # Peer gateway public IP.\n",
        "Local address   : 198.51.100.1 # Local gateway public IP.\n",
        "Local id        : 198.51.100.1\n",
        "Local tunnel interface    : 169.254.100.1/30 # this gateway's VTI address\n",
        "Peer tunnel interface     : 169.254.100.2/30 # address and prefix the peer's VTI should use\n",
    ] {
        assert!(nsx.contains(needle), "missing {needle:?} in\n{nsx}");
    }
    // The session's unique_id is NSX's "IPSecVPNSession Id".
    let stored = h.get(&url).expect(200).body;
    let uid = stored["unique_id"].as_str().unwrap();
    assert!(nsx.contains(&format!("# IPSecVPNSession Id         : {uid}\n")));
    assert!(!nsx.contains("Sources:"), "no policy rules for route-based");

    let swan = text_ok(h.get(&peer_config(&url, "?format=strongswan")));
    for needle in [
        "        local_addrs = 203.0.113.2\n",
        "        remote_addrs = 198.51.100.1\n",
        "        proposals = aes128-sha256-prfsha256-modp2048\n",
        "                esp_proposals = aes128gcm16-modp2048\n",
        "        secret = \"correct horse battery staple\"\n",
        "#   ip addr add 169.254.100.2/30 dev ipsec0\n",
    ] {
        assert!(swan.contains(needle), "missing {needle:?} in\n{swan}");
    }

    // An auditor sees everything but the key.
    h.put(
        "/api/v1/users/ops",
        &json!({"role": "auditor", "password": "auditor-pass-1"}),
    )
    .expect(200);
    let ops = d.as_user("ops", "auditor-pass-1");
    let nsx = text_ok(ops.get(&peer_config(&url, "")));
    assert!(!nsx.contains(PSK), "{nsx}");
    assert!(
        nsx.contains(
            "Pre shared key               : <hidden> # only admins can see the pre-shared key\n"
        ),
        "{nsx}"
    );
    let swan = text_ok(ops.get(&peer_config(&url, "?format=strongswan")));
    assert!(!swan.contains(PSK), "{swan}");
    assert!(swan.contains("only admins can see the pre-shared key"));
    assert!(!swan.lines().any(|l| l.trim_start().starts_with("secret =")));

    // Never logged.
    assert!(
        !d.stderr_lines().iter().any(|l| l.contains(PSK)),
        "the PSK appears in straitd's log"
    );
}

#[test]
fn errors_and_other_paths() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    let url = seed::session_url("s");
    h.patch(&url, &seed::session("203.0.113.2", "169.254.100.1"))
        .expect(200);

    let r = h.get(&peer_config(&url, "?format=cisco"));
    assert_nsx_error(&r, 400);
    let msg = r.body["error_message"].as_str().unwrap();
    assert!(
        msg.contains("cisco") && msg.contains("nsx") && msg.contains("strongswan"),
        "{msg}"
    );
    assert_nsx_error(&h.get(&peer_config(&url, "?colour=blue")), 400);
    // enforcement_point_path is accepted and ignored, as on the other session sub-resources.
    text_ok(h.get(&peer_config(
        &url,
        "?enforcement_point_path=/infra/sites/default/enforcement-points/default",
    )));
    assert_nsx_error(&h.get(&peer_config(&seed::session_url("nope"), "")), 404);
    assert_nsx_error(&h.get(&peer_config(seed::LE, "")), 404);
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        assert_nsx_error(&h.request(m, &peer_config(&url, ""), None, &[]), 405);
    }
    // Unauthenticated: 401 like everything else.
    assert_nsx_error(&d.anonymous().get(&peer_config(&url, "")), 401);

    // Tier-1 sessions, a RESPOND_ONLY session with a custom IKE profile and an IPv6 VTI.
    h.patch(
        &common::url("/infra/ipsec-vpn-ike-profiles/strong"),
        &json!({"encryption_algorithms": ["AES_256"], "digest_algorithms": ["SHA2_384"],
                "dh_groups": ["GROUP20"], "sa_life_time": 28800}),
    )
    .expect(200);
    let t1 = "/policy/api/v1/infra/tier-1s/t1";
    h.patch(t1, &json!({})).expect(200);
    h.patch(&format!("{t1}/ipsec-vpn-services/v"), &json!({}))
        .expect(200);
    h.patch(
        &format!("{t1}/ipsec-vpn-services/v/local-endpoints/le"),
        &json!({"local_address": "198.51.100.9", "local_id": "gw.example.net"}),
    )
    .expect(200);
    let s1 = format!("{t1}/ipsec-vpn-services/v/sessions/b");
    h.patch(
        &s1,
        &json!({
            "resource_type": "RouteBasedIPSecVpnSession",
            "local_endpoint_path": "/infra/tier-1s/t1/ipsec-vpn-services/v/local-endpoints/le",
            "peer_address": "203.0.113.9",
            "peer_id": "branch@example.net",
            "psk": PSK,
            "connection_initiation_mode": "RESPOND_ONLY",
            "ike_profile_path": "/infra/ipsec-vpn-ike-profiles/strong",
            "tunnel_interfaces": [{"ip_subnets": [
                {"ip_addresses": ["169.254.200.1"], "prefix_length": 30},
                {"ip_addresses": ["fd00:200::1"], "prefix_length": 64}]}]
        }),
    )
    .expect(200);
    let nsx = text_ok(h.get(&peer_config(&s1, "")));
    for needle in [
        "# Tier 1 path                     : /infra/tier-1s/t1\n",
        "Connection initiation mode   : RESPOND_ONLY\n",
        "Authentication algorithm     : [SHA2_384]\n",
        "Encryption algorithm         : [AES_256]\n",
        "SA life time                 : 28800\n",
        "DH group                     : [GROUP20]\n",
        "Local id        : gw.example.net\n",
        "Peer id         : branch@example.net\n",
        "Peer tunnel interface     : fd00:200::2/64 # suggested",
    ] {
        assert!(nsx.contains(needle), "missing {needle:?} in\n{nsx}");
    }
    let swan = text_ok(h.get(&peer_config(&s1, "?format=strongswan")));
    for needle in [
        "proposals = aes256-sha384-prfsha384-ecp384\n",
        "rekey_time = 28800s\n",
        "id = \"branch@example.net\"\n",
        "id = \"gw.example.net\"\n",
        "local_ts = 0.0.0.0/0, ::/0\n",
        "start_action = start\n",
    ] {
        assert!(swan.contains(needle), "missing {needle:?} in\n{swan}");
    }
}

#[test]
fn cli_prints_the_peer_config() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    h.patch(
        &seed::session_url("s"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    h.put(
        "/api/v1/users/ops",
        &json!({"role": "auditor", "password": "auditor-pass-1"}),
    )
    .expect(200);
    let run = |user: &str, password: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_strait"))
            .arg("--server")
            .arg(&d.base)
            .arg("--ca-cert")
            .arg(d.path("tls-cert.pem"))
            .args(["--user", user])
            .args(args)
            .env("STRAIT_PASSWORD", password)
            .env_remove("STRAIT_SERVER")
            .env_remove("STRAIT_USER")
            .output()
            .expect("run strait");
        assert!(
            out.status.success(),
            "strait {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let api = |query: &str| {
        h.get(&peer_config(&seed::session_url("s"), query))
            .expect(200)
            .text
    };
    let nsx = run("admin", ADMIN_PASSWORD, &["session", "peer-config", "s"]);
    assert!(nsx.contains("IPSecVPNSession type       : Route based VPN"));
    assert!(nsx.contains(PSK));
    assert_eq!(strip_time(&nsx), strip_time(&api("")));
    let swan = run(
        "admin",
        ADMIN_PASSWORD,
        &[
            "--json",
            "session",
            "peer-config",
            "s",
            "--format",
            "strongswan",
            "--gateway",
            "t0",
            "--service",
            "vpn",
        ],
    );
    assert_eq!(strip_time(&swan), strip_time(&api("?format=strongswan")));
    let hidden = run(
        "ops",
        "auditor-pass-1",
        &["session", "peer-config", "s", "--format", "strongswan"],
    );
    assert!(!hidden.contains(PSK));
    assert!(hidden.contains("only admins can see the pre-shared key"));
}

/// A certificate session: CA and site certificate (with its key) imported through the API,
/// the local endpoint pointing at them, the seed page's DN as Remote ID. Both formats name
/// the certificates and IDs; neither carries a key or a PSK.
#[test]
fn certificate_session_in_both_formats() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    let (ca, site) = common::pki::certificate_endpoint(&h);
    let peer_ca = common::pki::ca("Peer Root");
    common::pki::import_ca(&h, "peer-ca", &peer_ca);
    h.patch(
        seed::LE,
        &json!({"trust_ca_paths": ["/infra/certificates/peer-ca", "/infra/certificates/ca"]}),
    )
    .expect(200);
    let seed_dn =
        "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=site123@example.com";
    let url = seed::session_url("cert");
    let mut body = seed::session("203.0.113.2", "169.254.100.1");
    body["authentication_mode"] = json!("CERTIFICATE");
    body["peer_id"] = json!(seed_dn);
    body.as_object_mut().unwrap().remove("psk");
    h.patch(&url, &body).expect(200);

    let nsx = text_ok(h.get(&peer_config(&url, "")));
    for needle in [
        "Authentication method        : CERTIFICATE\n\
         Local certificate            : site (C=US, O=Org, CN=site-a)\n\
         Local certificate issuer     : ca (C=US, O=Strait Test, CN=Test CA) # the peer must trust this CA\n\
         Trusted CA certificates      : [peer-ca (C=US, O=Strait Test, CN=Peer Root), ca (C=US, O=Strait Test, CN=Test CA)] # the peer's certificate must be issued by one of these\n",
        &format!("Peer id         : {seed_dn}\n"),
        "Local id        : site-a.example.com # from certificate site: its subjectAltName DNS name\n",
    ] {
        assert!(nsx.contains(needle), "missing {needle:?} in\n{nsx}");
    }
    assert!(!nsx.contains("Pre shared key"), "{nsx}");

    let swan = text_ok(h.get(&peer_config(&url, "?format=strongswan")));
    for needle in [
        "#   /etc/swanctl/x509/cert-peer.pem\n",
        "#   /etc/swanctl/private/cert-peer-key.pem\n",
        "#   /etc/swanctl/x509ca/ca.pem\n",
        "        local {\n            auth = pubkey\n",
        "            certs = cert-peer.pem\n",
        &format!("            id = \"{seed_dn}\"\n"),
        "        remote {\n            auth = pubkey\n",
        "            id = \"site-a.example.com\"\n",
        "            cacerts = ca.pem\n",
    ] {
        assert!(swan.contains(needle), "missing {needle:?} in\n{swan}");
    }
    assert!(!swan.contains("\nsecrets {"), "{swan}");

    // With an explicit DN local_id (the certificate's subject) strait is identified by it.
    h.patch(seed::LE, &json!({"local_id": "C=US, O=Org, CN=site-a"}))
        .expect(200);
    let swan = text_ok(h.get(&peer_config(&url, "?format=strongswan")));
    assert!(
        swan.contains("            id = \"C=US, O=Org, CN=site-a\"\n"),
        "{swan}"
    );

    // No key material in either format, for admins or auditors.
    let key = site.key_pem();
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    h.put(
        "/api/v1/users/audit",
        &json!({"username": "audit", "role": "auditor", "password": "auditor password 1"}),
    )
    .expect(200);
    let auditor = d.as_user("audit", "auditor password 1");
    for who in [&h, &auditor] {
        for q in ["", "?format=strongswan"] {
            let text = text_ok(who.get(&peer_config(&url, q)));
            assert!(!text.contains("PRIVATE KEY"), "{text}");
            assert!(!text.contains(&key_body[..40]), "{text}");
            assert!(!text.contains(ca.pem.lines().nth(1).unwrap()), "{text}");
        }
    }
}
