//! The OpenAPI document is part of the contract: an unintended change to any path, field or
//! schema fails here. After an intended change, regenerate the checked-in copy with
//! `STRAIT_UPDATE_OPENAPI=1 cargo test -p strait-api --test openapi_golden` and review the diff.

use std::path::PathBuf;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/strait.json")
}

#[test]
fn openapi_matches_the_checked_in_document() {
    let generated = strait_api::openapi::json() + "\n";
    let path = golden_path();
    if std::env::var_os("STRAIT_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi/strait.json");
        return;
    }
    let golden = std::fs::read_to_string(&path).expect("openapi/strait.json is checked in");
    if golden != generated {
        let first_diff = golden
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}: checked in {a:?}, generated {b:?}", i + 1))
            .unwrap_or_else(|| "lengths differ".into());
        panic!(
            "the generated OpenAPI document differs from openapi/strait.json ({first_diff}). If the API \
             change is intended, run STRAIT_UPDATE_OPENAPI=1 cargo test -p strait-api --test openapi_golden"
        );
    }
}

#[test]
fn openapi_documents_every_policy_path_and_schema() {
    let doc: serde_json::Value = serde_json::from_str(&strait_api::openapi::json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/policy/api/v1/infra/tier-0s/{tier-0-id}",
        "/policy/api/v1/infra/tier-1s/{tier-1-id}/ipsec-vpn-services/{ipsec-vpn-service-id}/sessions/{session-id}",
        "/policy/api/v1/infra/tier-0s/{tier-0-id}/ipsec-vpn-services/{ipsec-vpn-service-id}/local-endpoints",
        "/policy/api/v1/infra/ipsec-vpn-ike-profiles/{ipsec-vpn-ike-profile-id}",
        "/policy/api/v1/infra/ipsec-vpn-tunnel-profiles/{ipsec-vpn-tunnel-profile-id}",
        "/policy/api/v1/infra/ipsec-vpn-dpd-profiles/{ipsec-vpn-dpd-profile-id}",
        "/policy/api/v1/infra/certificates/{certificate-id}",
        "/policy/api/v1/infra/crls/{crl-id}",
        "/policy/api/v1/infra/tier-0s/{tier-0-id}/static-routes/{static-route-id}",
        "/api/v1/users/{username}",
        "/api/v1/audit-log",
        "/api/v1/node/version",
        "/policy/api/v1/infra",
        "/policy/api/v1/search/query",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    let session = &doc["components"]["schemas"]["RouteBasedSession"]["properties"];
    for f in [
        "peer_address",
        "peer_id",
        "tunnel_interfaces",
        "tcp_mss_clamping",
        "compliance_suite",
    ] {
        assert!(
            session.get(f).is_some()
                || doc["components"]["schemas"]["RouteBasedSession"]
                    .to_string()
                    .contains(f),
            "session schema lacks {f}"
        );
    }
    let enums = doc["components"]["schemas"]["DhGroup"].to_string();
    assert!(enums.contains("GROUP31"), "{enums}");
}
