//! Smoke test of the harness and the seed flow through the API.
mod common;

use common::{seed, Daemon};

#[test]
fn seed_flow_through_the_api() {
    let d = Daemon::start();
    let h = d.admin();
    assert_eq!(d.anonymous().get("/healthz").text, "ok");
    seed::base(&h);
    h.patch(
        &seed::session_url("s1"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    let s = h.get(&seed::session_url("s1")).expect(200).body;
    assert_eq!(s["resource_type"], "RouteBasedIPSecVpnSession");
    assert!(s.get("psk").is_none());
}
