//! Fixtures shared by strait-policy's integration tests and benchmarks (`benches/list.rs`
//! includes this file by path).

use serde_json::json;
use strait_policy::{Actor, Policy};

/// The VPN service the fixtures make.
pub const SVC: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn";

/// A tier-0 `t0`, its VPN service `vpn` and that service's local endpoint `le`
/// (198.51.100.1), made as the API makes them.
pub fn vpn_with_endpoint(policy: &Policy) {
    let admin = Actor::system();
    policy
        .patch("/infra/tier-0s/t0", &json!({}), &admin)
        .unwrap();
    policy.patch(SVC, &json!({}), &admin).unwrap();
    policy
        .patch(
            &format!("{SVC}/local-endpoints/le"),
            &json!({"local_address": "198.51.100.1"}),
            &admin,
        )
        .unwrap();
}
