//! `detailed-status` for sessions that cannot run, and the rekey actions' permissions,
//! against the real straitd (no network namespace needed: nothing negotiates here).
mod common;

use std::time::{Duration, Instant};

use common::{assert_nsx_error, pki, seed, Daemon, Http};
use serde_json::{json, Value};

fn status(h: &Http, id: &str) -> Value {
    h.get(&format!("{}/detailed-status", seed::session_url(id)))
        .expect(200)
        .body
}

/// Wait until the control plane has reconciled the session (it runs asynchronously).
fn wait(h: &Http, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let s = status(h, id);
        if pred(&s["results"][0]) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out; last status {s:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn reason(v: &Value) -> &str {
    v["ike_status"]["fail_reason"].as_str().unwrap_or_default()
}

#[test]
fn sessions_that_cannot_run_say_why() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    // PSK session whose local address is not on this host: the socket cannot be bound.
    h.patch(
        &seed::session_url("psk"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    let s = wait(&h, "psk", |r| reason(r) == "Configuration failed");
    assert_eq!(
        s["intent_path"],
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/psk"
    );
    let r = &s["results"][0];
    assert_eq!(r["resource_type"], "IPSecVpnSessionStatusNsxT");
    assert_eq!(r["runtime_status"], "DOWN");
    assert_eq!(r["ike_status"]["ike_session_state"], "DOWN");
    assert_eq!(r["display_name"], "to-site-b");
    assert_eq!(
        r["enforcement_point_path"],
        "/infra/sites/default/enforcement-points/default"
    );
    let alarm = r["alarm"]["message"].as_str().unwrap();
    assert!(
        alarm.contains("cannot listen on 198.51.100.1:500:"),
        "{alarm}"
    );
    assert!(
        alarm.contains("must be configured on an interface"),
        "{alarm}"
    );

    // Disabled session, then disabled service.
    h.patch(&seed::session_url("psk"), &json!({"enabled": false}))
        .expect(200);
    wait(&h, "psk", |r| reason(r) == "Session not enabled");
    h.patch(seed::SVC, &json!({"enabled": false})).expect(200);
    let s = wait(&h, "psk", |r| reason(r) == "IPsec service not enabled");
    assert!(s["results"][0]["alarm"]["message"]
        .as_str()
        .unwrap()
        .contains("enable it"));
    h.patch(seed::SVC, &json!({"enabled": true})).expect(200);

    // An IKEv1 profile: stored, but strait speaks IKEv2 only.
    h.patch(
        &format!("{}/infra/ipsec-vpn-ike-profiles/v1", common::P),
        &json!({"ike_version": "IKE_V1"}),
    )
    .expect(200);
    let mut v1 = seed::session("203.0.113.3", "169.254.100.5");
    v1["ike_profile_path"] = json!("/infra/ipsec-vpn-ike-profiles/v1");
    h.patch(&seed::session_url("v1"), &v1).expect(200);
    let s = wait(&h, "v1", |r| reason(r) == "Configuration failed");
    assert!(s["results"][0]["alarm"]["message"]
        .as_str()
        .unwrap()
        .contains("IKEv2 only"));

    // A certificate session under a compliance suite whose key rules the site certificate
    // (ECDSA P-256) does not meet: the alarm names the certificate, its key and the rule.
    pki::certificate_endpoint(&h);
    let mut cert = seed::session("203.0.113.4", "169.254.100.9");
    cert.as_object_mut().unwrap().remove("psk");
    cert["compliance_suite"] = json!("CNSA");
    cert["peer_id"] = json!("C=US, O=Peer, CN=site-c");
    h.patch(&seed::session_url("cert"), &cert).expect(200);
    let s = wait(&h, "cert", |r| reason(r) == "Configuration failed");
    let alarm = s["results"][0]["alarm"]["message"].as_str().unwrap();
    assert!(
        alarm.contains("compliance suite CNSA")
            && alarm.contains("ECDSA P-256")
            && alarm.contains("P-384"),
        "{alarm}"
    );
    // FOUNDATION needs IKEv1, which strait does not speak yet: said so, with the choices.
    let mut f = seed::session("203.0.113.5", "169.254.100.13");
    f.as_object_mut().unwrap().remove("psk");
    f["compliance_suite"] = json!("FOUNDATION");
    f["peer_id"] = json!("C=US, O=Peer, CN=site-d");
    h.patch(&seed::session_url("foundation"), &f).expect(200);
    let s = wait(&h, "foundation", |r| reason(r) == "Configuration failed");
    let alarm = s["results"][0]["alarm"]["message"].as_str().unwrap();
    assert!(
        alarm.contains("compliance suite FOUNDATION") && alarm.contains("IKEv2 only"),
        "{alarm}"
    );
}

#[test]
fn detailed_status_paths_and_permissions() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    h.patch(
        &seed::session_url("s"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    // Unknown session and non-session paths.
    assert_nsx_error(
        &h.get(&format!("{}/detailed-status", seed::session_url("nope"))),
        404,
    );
    assert_nsx_error(&h.get(&format!("{}/detailed-status", seed::LE)), 404);
    // Auditors may read the status but not rekey.
    h.put(
        "/api/v1/users/ops",
        &json!({"role": "auditor", "password": "auditor-pass-1"}),
    )
    .expect(200);
    let ops = d.as_user("ops", "auditor-pass-1");
    ops.get(&format!("{}/detailed-status", seed::session_url("s")))
        .expect(200);
    let r = ops.request(
        "POST",
        &format!("{}?action=rekey_ike", seed::session_url("s")),
        None,
        &[],
    );
    assert_nsx_error(&r, 403);
    // An admin's rekey of a session that is not up is refused with the reason.
    let r = h.request(
        "POST",
        &format!("{}?action=rekey_child", seed::session_url("s")),
        None,
        &[],
    );
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("no established IKE SA"), "{}", r.text);
    let r = h.request(
        "POST",
        &format!("{}?action=reboot", seed::session_url("s")),
        None,
        &[],
    );
    assert_nsx_error(&r, 400);
}

/// `{session}/statistics` (NSX `AggregateIPSecVpnSessionStatistics`) for a session without a
/// tunnel, its reset action and permissions. Traffic counters are checked in interop_esp.
#[test]
fn statistics_shape_reset_and_permissions() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    h.patch(
        &seed::session_url("s"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    let url = format!("{}/statistics", seed::session_url("s"));
    let v = h.get(&url).expect(200).body;
    assert_eq!(
        v["intent_path"],
        seed::session_url("s").trim_start_matches("/policy/api/v1")
    );
    let r = &v["results"][0];
    assert_eq!(r["resource_type"], "IPSecVpnSessionStatisticsNsxT");
    assert_eq!(
        r["enforcement_point_path"],
        "/infra/sites/default/enforcement-points/default"
    );
    for f in [
        "bytes_in",
        "bytes_out",
        "packets_in",
        "packets_out",
        "dropped_packets_in",
        "dropped_packets_out",
    ] {
        assert_eq!(r["aggregate_traffic_counters"][f], 0, "{f}");
    }
    let p = &r["policy_statistics"][0];
    assert!(p["tunnel_interface_path"]
        .as_str()
        .unwrap()
        .ends_with("/sessions/s/tunnel-interfaces/default"));
    let t = &p["tunnel_statistics"][0];
    assert_eq!(t["tunnel_status"], "DOWN");
    assert!(
        !t["tunnel_down_reason"].as_str().unwrap().is_empty(),
        "{t:#}"
    );
    for f in [
        "decryption_failures",
        "encryption_failures",
        "integrity_failures",
        "nomatching_policy_errors",
        "packets_received_other_error",
        "packets_sent_other_error",
        "replay_errors",
        "sa_mismatch_errors_in",
        "sa_mismatch_errors_out",
        "seq_number_overflow_error",
    ] {
        assert_eq!(t[f], 0, "{f}: {t:#}");
    }
    // Reset: admins only, ?action=reset only, GET/POST only.
    h.request("POST", &format!("{url}?action=reset"), None, &[])
        .expect(200);
    assert_nsx_error(&h.request("POST", &url, None, &[]), 400);
    assert_nsx_error(
        &h.request("POST", &format!("{url}?action=clear"), None, &[]),
        400,
    );
    assert_nsx_error(&h.request("DELETE", &url, None, &[]), 405);
    h.put(
        "/api/v1/users/ops",
        &json!({"role": "auditor", "password": "auditor-pass-1"}),
    )
    .expect(200);
    let ops = d.as_user("ops", "auditor-pass-1");
    ops.get(&url).expect(200);
    assert_nsx_error(
        &ops.request("POST", &format!("{url}?action=reset"), None, &[]),
        403,
    );
    // Unknown sessions and other objects.
    assert_nsx_error(
        &h.get(&format!("{}/statistics", seed::session_url("nope"))),
        404,
    );
    assert_nsx_error(&h.get(&format!("{}/statistics", seed::LE)), 404);
}
