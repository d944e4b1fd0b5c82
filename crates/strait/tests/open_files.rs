//! straitd raises its open-files limit to the hard limit at startup, and says in its log
//! when even that is too low for the sessions configured (issue 16). Its own test binary:
//! it lowers this process's limits, which straitd inherits.
mod common;

use std::time::{Duration, Instant};

use common::{url, Daemon};
use nix::sys::resource::{setrlimit, Resource};
use serde_json::{json, Value};

fn wait_for_log(d: &Daemon, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if d.stderr_lines().iter().any(|l| l.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn max_open_files(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `n` sessions in a disabled service, in one hierarchical request.
fn store_sessions(d: &Daemon, n: u32) {
    let le = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le";
    let mut children: Vec<Value> = vec![json!({"resource_type": "ChildIPSecVpnLocalEndpoint",
        "IPSecVpnLocalEndpoint": {"id": "le", "resource_type": "IPSecVpnLocalEndpoint",
            "local_address": "198.51.100.1"}})];
    for i in 0..n {
        let peer = format!("198.18.{}.{}", i / 256, i % 256);
        children.push(json!({"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": {
            "id": format!("s{i}"), "resource_type": "RouteBasedIPSecVpnSession",
            "local_endpoint_path": le, "peer_address": peer, "peer_id": peer, "psk": "open-files-test",
            "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [format!("169.254.{}.{}", i / 64, (i % 64) * 4 + 1)], "prefix_length": 30}]}]}}));
    }
    let body = json!({"resource_type": "Infra", "children": [{"resource_type": "ChildTier0", "Tier0": {
        "resource_type": "Tier0", "id": "t0", "children": [{"resource_type": "ChildIPSecVpnService",
            "IPSecVpnService": {"resource_type": "IPSecVpnService", "id": "vpn", "enabled": false,
                "children": children}}]}}]});
    d.admin().patch(&url("/infra"), &body).expect(200);
}

#[test]
fn straitd_raises_its_open_files_limit_and_says_when_it_is_too_low() {
    setrlimit(Resource::RLIMIT_NOFILE, 256, 4096).unwrap();
    let mut d = Daemon::start_with_env(&[
        ("STRAIT_ADMIN_PASSWORD", common::ADMIN_PASSWORD),
        ("STRAIT_LOG", "info"),
    ]);
    assert_eq!(max_open_files(d.pid().unwrap()), "4096 4096");
    assert!(
        wait_for_log(&d, "raised the open-files limit"),
        "{:?}",
        d.stderr_lines()
    );
    assert!(!d.stderr_lines().iter().any(|l| l.contains("too low")));
    store_sessions(&d, 300);
    d.terminate();
    // 300 tunnels need more than 500 descriptors with any number of data-plane workers.
    setrlimit(Resource::RLIMIT_NOFILE, 256, 500).unwrap();
    d.start_again();
    assert_eq!(max_open_files(d.pid().unwrap()), "500 500");
    assert!(
        wait_for_log(
            &d,
            "the open-files limit is too low for the configured sessions"
        ),
        "{:?}",
        d.stderr_lines()
    );
    let warning = d
        .stderr_lines()
        .into_iter()
        .find(|l| l.contains("too low"))
        .unwrap();
    assert!(
        warning.contains("LimitNOFILE") && warning.contains("sessions=300"),
        "{warning}"
    );
}
