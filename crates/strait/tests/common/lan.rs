//! One Ethernet segment shared by gateways and an attacker: a bridge in a namespace of its
//! own, and one namespace per host plugged into it by a veth pair, so that the attacker
//! sees (and can forge) what any host on the link could.
//!
//! Addresses: A 198.51.100.1, B .2, C .3, the attacker X .66 (all /24 on `st-lan`). Like
//! everything in [`super::netns`], it all goes away on Drop, also when a test panics.

use std::process::{Command, Stdio};

use super::netns::{require_interop_env, Netns};

/// Gateway A (the one under attack).
pub const A: &str = "198.51.100.1";
/// Peer B (whose address the attacker forges).
pub const B: &str = "198.51.100.2";
/// Peer C (a third configured peer).
pub const C: &str = "198.51.100.3";
/// The attacker.
pub const X: &str = "198.51.100.66";
/// Every host's interface on the segment.
pub const LAN_IF: &str = "st-lan";

/// The segment and its four hosts.
pub struct Lan {
    pub a: Netns,
    pub b: Netns,
    pub c: Netns,
    pub x: Netns,
    /// Holds the bridge `br0`; dropped last (fields drop in order), after its ports.
    switch: Netns,
}

#[track_caller]
fn run(args: &[&str]) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        o.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Lan {
    /// Four hosts on one bridge.
    pub fn new() -> Lan {
        require_interop_env();
        let switch = Netns::new();
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        let lan = Lan {
            a: Netns::new(),
            b: Netns::new(),
            c: Netns::new(),
            x: Netns::new(),
            switch,
        };
        for (ns, addr, port) in [
            (&lan.a, A, "pa"),
            (&lan.b, B, "pb"),
            (&lan.c, C, "pc"),
            (&lan.x, X, "px"),
        ] {
            // Created directly inside the two namespaces: the root namespace never sees it.
            run(&[
                "ip",
                "link",
                "add",
                LAN_IF,
                "netns",
                ns.name(),
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                lan.switch.name(),
            ]);
            lan.switch.ip(&["link", "set", port, "master", "br0"]);
            lan.switch.ip(&["link", "set", port, "up"]);
            ns.add_addr(LAN_IF, &format!("{addr}/24"));
            ns.ip(&["link", "set", LAN_IF, "up"]);
        }
        lan
    }
}

/// Resident set size of a process in bytes (`VmRSS` of /proc/PID/status); 0 once gone.
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
