//! Durability and robustness of the real straitd: restarts, kill -9, secrets at rest,
//! concurrent writers, and a property test that throws arbitrary JSON at every object kind.
mod common;

use std::sync::{Arc, Barrier};

use common::pki;
use common::{assert_nsx_error, seed, url, Daemon, Http};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

const PSK: &str = "a-very-distinctive-psk-7Qz9";

fn sensitive(h: &Http, u: &str) -> Value {
    h.get(&format!("{u}?action=show_sensitive_data"))
        .expect(200)
        .body
}

/// Everything a restart must keep: one of each kind, with a PSK, a private key and a user.
fn populate(h: &Http) {
    seed::base(h);
    h.patch(
        &url("/infra/tier-1s/t1"),
        &json!({"tier0_path": "/infra/tier-0s/t0", "tags": [{"scope": "s", "tag": "t"}]}),
    )
    .expect(200);
    h.patch(
        &url("/infra/ipsec-vpn-ike-profiles/ike"),
        &json!({"encryption_algorithms": ["AES_GCM_256"], "dh_groups": ["GROUP31"]}),
    )
    .expect(200);
    h.patch(
        &url("/infra/ipsec-vpn-tunnel-profiles/tun"),
        &json!({"sa_life_time": 1800}),
    )
    .expect(200);
    h.patch(
        &url("/infra/ipsec-vpn-dpd-profiles/dpd"),
        &json!({"dpd_probe_mode": "ON_DEMAND"}),
    )
    .expect(200);
    pki::certificate_endpoint(h);
    let mut s = seed::session("203.0.113.2", "169.254.100.1");
    s["psk"] = json!(PSK);
    s["ike_profile_path"] = json!("/infra/ipsec-vpn-ike-profiles/ike");
    s["tunnel_profile_path"] = json!("/infra/ipsec-vpn-tunnel-profiles/tun");
    s["dpd_profile_path"] = json!("/infra/ipsec-vpn-dpd-profiles/dpd");
    s["tcp_mss_clamping"] = json!({"direction": "BOTH", "max_segment_size": 1350});
    h.patch(&seed::session_url("s1"), &s).expect(200);
    h.patch(&seed::session_url("s1"), &json!({"description": "rev 1"}))
        .expect(200);
    h.patch(
        &url("/infra/tier-0s/t0/static-routes/r"),
        &json!({"network": "10.2.0.0/16", "next_hops": [{"ip_address": "169.254.100.2"}]}),
    )
    .expect(200);
    h.put(
        "/api/v1/users/aud",
        &json!({"role": "auditor", "password": "auditor-pass-1"}),
    )
    .expect(200);
}

const PATHS: &[&str] = &[
    "/infra/tier-0s/t0",
    "/infra/tier-1s/t1",
    "/infra/tier-0s/t0/ipsec-vpn-services/vpn",
    "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
    "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1",
    "/infra/ipsec-vpn-ike-profiles/ike",
    "/infra/ipsec-vpn-tunnel-profiles/tun",
    "/infra/ipsec-vpn-dpd-profiles/dpd",
    "/infra/certificates/ca",
    "/infra/certificates/site",
    "/infra/tier-0s/t0/static-routes/r",
    "/infra/ipsec-vpn-ike-profiles/nsx-default-l3vpn-ike-profile",
];

fn snapshot(h: &Http) -> Vec<Value> {
    PATHS
        .iter()
        .map(|p| h.get(&url(p)).expect(200).body)
        .collect()
}

#[test]
fn sigterm_restart_keeps_everything() {
    let mut d = Daemon::start();
    let h = d.admin();
    populate(&h);
    let before = snapshot(&h);
    let audit_before = h.get("/api/v1/audit-log?page_size=1000").expect(200).body;
    let status = d.terminate().expect("exit status");
    assert!(
        status.success(),
        "SIGTERM must end straitd with exit 0, got {status:?}"
    );
    d.start_again();
    let h = d.admin();
    assert_eq!(snapshot(&h), before);
    assert_eq!(sensitive(&h, &seed::session_url("s1"))["psk"], PSK);
    assert_eq!(
        h.get(&pki::cert_url("site")).expect(200).body["has_private_key"],
        true
    );
    d.as_user("aud", "auditor-pass-1").get(seed::T0).expect(200);
    let audit_after = h.get("/api/v1/audit-log?page_size=1000").expect(200).body;
    assert_eq!(audit_after["results"], audit_before["results"]);
    // Revisions keep counting from where they were.
    h.patch(&seed::session_url("s1"), &json!({"description": "rev 2"}))
        .expect(200);
    assert_eq!(
        h.get(&seed::session_url("s1")).expect(200).body["_revision"],
        2
    );
    // A second restart with a system profile refresh does not bump their revisions.
    d.restart();
    let h = d.admin();
    let sys = h
        .get(&url(
            "/infra/ipsec-vpn-ike-profiles/nsx-default-l3vpn-ike-profile",
        ))
        .expect(200)
        .body;
    assert_eq!(sys["_revision"], 0);
}

#[test]
fn kill_9_right_after_a_200_loses_nothing() {
    let mut d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    for round in 0..5 {
        let id = format!("s{round}");
        let mut s = seed::session(
            &format!("203.0.113.{}", 10 + round),
            &format!("169.254.{}.1", 10 + round),
        );
        s["psk"] = json!(format!("{PSK}-{round}"));
        h.patch(&seed::session_url(&id), &s).expect(200);
        h.patch(
            &url(&format!("/infra/ipsec-vpn-dpd-profiles/d{round}")),
            &json!({"dpd_probe_interval": 10 + round}),
        )
        .expect(200);
        d.restart_after_kill9();
        let h2 = d.admin();
        for r in 0..=round {
            let s = h2
                .get(&seed::session_url(&format!("s{r}")))
                .expect(200)
                .body;
            assert_eq!(s["_revision"], 0);
            assert_eq!(
                sensitive(&h2, &seed::session_url(&format!("s{r}")))["psk"],
                format!("{PSK}-{r}")
            );
            let p = h2
                .get(&url(&format!("/infra/ipsec-vpn-dpd-profiles/d{r}")))
                .expect(200)
                .body;
            assert_eq!(p["dpd_probe_interval"], 10 + r);
        }
    }
    // A DELETE acknowledged just before the kill stays deleted.
    let h = d.admin();
    h.delete(&seed::session_url("s0")).expect(200);
    d.restart_after_kill9();
    assert_nsx_error(&d.admin().get(&seed::session_url("s0")), 404);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secrets_are_encrypted_at_rest() {
    let mut d = Daemon::start();
    let h = d.admin();
    populate(&h);
    // Also a PSK change and a failed write that carried a PSK.
    h.patch(
        &seed::session_url("s1"),
        &json!({"psk": format!("{PSK}-second")}),
    )
    .expect(200);
    h.patch(
        &seed::session_url("s1"),
        &json!({"psk": format!("{PSK}-third"), "peer_address": "bad"}),
    )
    .expect(400);
    let site_key = {
        // The private key's base64 body (a distinctive line of it).
        let ca = pki::ca("Rest CA");
        let site = pki::leaf("rest-site", &ca);
        pki::import_site(&h, "rest", &site, &ca);
        site.key_pem().lines().nth(1).unwrap().to_owned()
    };
    let check = |d: &Daemon, when: &str| {
        for name in ["strait.db", "strait.db-wal", "strait.db-shm"] {
            let Ok(bytes) = std::fs::read(d.path(name)) else {
                continue;
            };
            assert!(
                !contains(&bytes, PSK.as_bytes()),
                "{when}: the PSK is readable in {name}"
            );
            assert!(
                !contains(&bytes, site_key.as_bytes()),
                "{when}: the private key is readable in {name}"
            );
        }
        for entry in std::fs::read_dir(d.data_dir()).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !contains(&bytes, PSK.as_bytes()),
                    "{when}: the PSK is readable in {}",
                    p.display()
                );
            }
        }
        let stderr = d.stderr_lines().join("\n");
        assert!(!stderr.contains(PSK), "{when}: the PSK was logged");
    };
    check(&d, "while running");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.path("secret.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "secret.key mode");
    assert_eq!(std::fs::metadata(d.path("secret.key")).unwrap().len(), 32);
    let db_mode = std::fs::metadata(d.path("strait.db"))
        .unwrap()
        .permissions()
        .mode()
        & 0o077;
    assert_eq!(db_mode, 0, "strait.db must not be readable by others");
    d.terminate();
    check(&d, "after shutdown");
    d.start_again();
    assert_eq!(
        sensitive(&d.admin(), &seed::session_url("s1"))["psk"],
        format!("{PSK}-second")
    );
}

#[test]
fn concurrent_put_with_the_same_revision_has_one_winner() {
    let d = Daemon::start();
    let h = d.admin();
    let u = url("/infra/ipsec-vpn-ike-profiles/contended");
    h.put(&u, &json!({"display_name": "start"})).expect(200);
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (h, u, b) = (h.clone(), u.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                h.put(
                    &u,
                    &json!({"display_name": format!("writer {i}"), "_revision": 0}),
                )
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != 200) {
        assert_nsx_error(r, 412);
    }
    let stored = h.get(&u).expect(200).body;
    assert_eq!(stored["_revision"], 1);
    assert_eq!(stored["display_name"], winners[0].body["display_name"]);
}

#[test]
fn concurrent_sessions_with_overlapping_vtis_have_one_winner() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (h, b) = (h.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = seed::session(
                    &format!("203.0.113.{}", 20 + i),
                    &format!("169.254.100.{}", [1, 2][i % 2]),
                );
                b.wait();
                h.patch(&seed::session_url(&format!("c{i}")), &body)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.status == 200).count(),
        1,
        "{:?}",
        results.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != 200) {
        r.clone()
            .expect_problem("tunnel_interfaces[0].ip_subnets[0]", "overlaps");
    }
    assert_eq!(h.get(seed::SESSIONS).expect(200).body["result_count"], 1);

    // Many concurrent PATCHes without _revision: none is lost.
    let u = url("/infra/ipsec-vpn-dpd-profiles/counter");
    h.patch(&u, &json!({})).expect(200);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (h, u) = (h.clone(), u.clone());
            std::thread::spawn(move || {
                for j in 0..5 {
                    h.patch(&u, &json!({"description": format!("{i}-{j}")}))
                        .expect(200);
                }
            })
        })
        .collect();
    for t in handles {
        t.join().unwrap();
    }
    assert_eq!(h.get(&u).expect(200).body["_revision"], 5 * n as i64);
}

// ------------------------------------------------------------- property test

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            Just(30),
            Just(108),
            Just(8902),
            Just(86400),
            Just(i64::MAX),
            Just(i64::MIN)
        ]
        .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("AES_128"),
            Just("GROUP14"),
            Just("PSK"),
            Just("CERTIFICATE"),
            Just("ON_DEMAND"),
            Just("NONE"),
            Just("CNSA"),
            Just("169.254.100.1"),
            Just("203.0.113.2"),
            Just("2001:db8::1"),
            Just("C=US, CN=x"),
            Just("/infra/ipsec-vpn-ike-profiles/nsx-default-l3vpn-ike-profile"),
            Just("/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le"),
            Just("RouteBasedIPSecVpnSession"),
            Just("PolicyBasedIPSecVpnSession"),
            Just("\u{0}"),
            Just("💥🔥 ünïcödé"),
            Just("/infra/../etc")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "resource_type",
            "display_name",
            "description",
            "tags",
            "enabled",
            "psk",
            "peer_address",
            "peer_id",
            "local_endpoint_path",
            "tunnel_interfaces",
            "ip_subnets",
            "ip_addresses",
            "prefix_length",
            "tcp_mss_clamping",
            "direction",
            "max_segment_size",
            "ike_version",
            "encryption_algorithms",
            "digest_algorithms",
            "dh_groups",
            "sa_life_time",
            "dpd_probe_mode",
            "dpd_probe_interval",
            "retry_count",
            "local_address",
            "local_id",
            "certificate_path",
            "trust_ca_paths",
            "pem_encoded",
            "private_key",
            "ha_mode",
            "tier0_path",
            "network",
            "next_hops",
            "ip_address",
            "_revision",
            "id",
            "compliance_suite",
            "authentication_mode",
            "connection_initiation_mode",
            "scope",
            "tag",
            "_links",
            "path",
        ])
        .prop_map(str::to_owned),
        ".{0,12}",
    ]
}

/// A valid session body with some fields deleted or replaced.
fn mutated_session() -> impl Strategy<Value = Value> {
    let base = seed::session("203.0.113.99", "169.254.99.1");
    let keys: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
    let huge = prop_oneof![
        Just(json!(1e308)),
        Just(json!(u64::MAX)),
        Just(json!(-9.9e307)),
        Just(Value::String("é".repeat(5000))),
        Just(json!([[[[[[[[[[[]]]]]]]]]]])),
    ];
    prop::collection::vec((prop::sample::select(keys), 0..4u8, arb_json(), huge), 1..5).prop_map(
        move |muts| {
            let mut b = base.clone();
            for (k, op, v, h) in muts {
                let o = b.as_object_mut().unwrap();
                match op {
                    0 => {
                        o.remove(&k);
                    }
                    1 => {
                        o.insert(k, v);
                    }
                    2 => {
                        o.insert(k, h);
                    }
                    _ => {
                        // Swap the type: wrap in an array.
                        let old = o.get(&k).cloned().unwrap_or(Value::Null);
                        o.insert(k, json!([old]));
                    }
                }
            }
            b
        },
    )
}

#[test]
fn arbitrary_json_never_gets_a_5xx() {
    let d = Daemon::start();
    let h = d.admin();
    populate(&h);
    let targets: Vec<String> = [
        "/infra/tier-0s/t0",
        "/infra/tier-0s/fuzz",
        "/infra/tier-1s/t1",
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn",
        "/infra/tier-1s/t1/ipsec-vpn-services/fuzz",
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/fuzz",
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1",
        "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/fuzz",
        "/infra/ipsec-vpn-ike-profiles/ike",
        "/infra/ipsec-vpn-ike-profiles/fuzz",
        "/infra/ipsec-vpn-tunnel-profiles/tun",
        "/infra/ipsec-vpn-dpd-profiles/dpd",
        "/infra/ipsec-vpn-dpd-profiles/nsx-default-l3vpn-dpd-profile",
        "/infra/certificates/site",
        "/infra/certificates/fuzz",
        "/infra/crls/fuzz",
        "/infra/tier-0s/t0/static-routes/r",
    ]
    .iter()
    .map(|p| url(p))
    .collect();
    let session_urls = vec![seed::session_url("s1"), seed::session_url("fuzz")];

    let check = |method: &str, u: &str, body: &Value| -> Result<(), TestCaseError> {
        let r = h.raw(method, u, &body.to_string());
        prop_assert!(
            r.status < 500,
            "{method} {u} {body} -> {} {}",
            r.status,
            r.text
        );
        if r.status >= 400 {
            prop_assert!(
                r.body["httpStatus"].is_string()
                    && r.body["error_code"].is_u64()
                    && r.body["error_message"].is_string(),
                "{method} {u} {body}: not an NSX error body: {}",
                r.text
            );
            prop_assert!(
                !r.text.contains(PSK),
                "an error echoed the stored PSK: {}",
                r.text
            );
        } else if method == "PATCH" {
            prop_assert!(r.text.is_empty(), "PATCH 200 with a body: {}", r.text);
        } else {
            prop_assert!(
                r.body["path"].is_string(),
                "PUT 200 without the object: {}",
                r.text
            );
        }
        Ok(())
    };

    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let targets2 = targets.clone();
    runner
        .run(
            &(prop::sample::select(targets2), any::<bool>(), arb_json()),
            |(u, put, body)| check(if put { "PUT" } else { "PATCH" }, &u, &body),
        )
        .unwrap();

    let mut runner = TestRunner::new(Config {
        cases: 250,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(
                prop::sample::select(session_urls),
                any::<bool>(),
                mutated_session(),
            ),
            |(u, put, mut body)| {
                if put {
                    // PUT of an existing session needs its current revision to get past the lock.
                    if let Some(rev) = h.get(&u).body.get("_revision").cloned() {
                        body.as_object_mut()
                            .unwrap()
                            .insert("_revision".into(), rev);
                    }
                }
                check(if put { "PUT" } else { "PATCH" }, &u, &body)
            },
        )
        .unwrap();

    // Bytes that are not JSON at all.
    let mut runner = TestRunner::new(Config {
        cases: 100,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(
                prop::sample::select(targets),
                prop::collection::vec(any::<u8>(), 0..200),
            ),
            |(u, bytes)| {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let r = h.raw("PATCH", &u, &text);
                prop_assert!(r.status < 500, "{u} {text:?} -> {} {}", r.status, r.text);
                prop_assert!(
                    r.status == 200 || r.body["error_message"].is_string(),
                    "{}",
                    r.text
                );
                Ok(())
            },
        )
        .unwrap();

    // Every write attempt (accepted or not) reached the engine and is in the audit log.
    let log = h.get("/api/v1/audit-log?page_size=1000").expect(200).body;
    assert!(
        log["results"].as_array().unwrap().len() >= 650,
        "too few requests were made: {}",
        log["results"].as_array().unwrap().len()
    );
    // Still healthy, and the stored PSK survived whatever happened.
    d.anonymous().get("/healthz").expect(200);
    let s = h.get(&format!(
        "{}?action=show_sensitive_data",
        seed::session_url("s1")
    ));
    if s.status == 200 && s.body["authentication_mode"] == "PSK" {
        assert!(s.body["psk"].is_string());
    }
}
