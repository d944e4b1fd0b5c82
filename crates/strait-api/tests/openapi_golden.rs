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

/// The document and the router agree: every policy path the document lists parses as the
/// router parses it (same kind of object or collection), and every kind of object, under
/// every parent it may have, is in the document.
#[test]
fn openapi_policy_paths_are_the_routers() {
    use strait_model::path::{parse_any, ParsedPath};
    let doc: serde_json::Value = serde_json::from_str(&strait_api::openapi::json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    // Views and actions hanging off an object, routed before path parsing.
    let views = [
        "/detailed-status",
        "/statistics",
        "/peer-config",
        "/summary",
        "/session-status",
        "/routing-table",
        "/forwarding-table",
        "/neighbors/status",
        "/advertised-routes",
        "/routes",
    ];
    let mut kinds_seen = std::collections::BTreeSet::new();
    for template in paths.keys() {
        let Some(policy) = template.strip_prefix("/policy/api/v1") else {
            continue;
        };
        if !policy.starts_with("/infra/") {
            continue;
        }
        let mut path = String::new();
        for seg in policy.split('/').skip(1) {
            path.push('/');
            if seg.starts_with('{') {
                path.push_str("x1");
            } else {
                path.push_str(seg);
            }
        }
        let path = views
            .iter()
            .find_map(|v| path.strip_suffix(v))
            .unwrap_or(&path)
            .to_owned();
        match parse_any(&path) {
            Ok(ParsedPath::Object(o)) => {
                kinds_seen.insert((o.kind(), o.gateway().map(|g| g.kind())));
            }
            Ok(ParsedPath::Collection(c)) => {
                kinds_seen.insert((c.kind, c.parent.and_then(|p| p.gateway()).map(|g| g.kind())));
            }
            Err(e) => panic!("the document lists {template}, which the router refuses: {e}"),
        }
    }
    for kind in strait_model::Kind::ALL {
        let gateways: Vec<Option<strait_model::Kind>> = if kind.is_top_level() {
            vec![None]
        } else if kind.is_gateway() {
            vec![Some(kind)]
        } else if kind.only_on_tier0() {
            vec![Some(strait_model::Kind::Tier0)]
        } else {
            vec![
                Some(strait_model::Kind::Tier0),
                Some(strait_model::Kind::Tier1),
            ]
        };
        for gw in gateways {
            assert!(
                kinds_seen.contains(&(kind, gw)),
                "the document has no path for {kind:?} under {gw:?}"
            );
        }
    }
}
