//! The simulated gateways' IKE sockets and the network between them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ike_proto::Transmit;
use strait_control::IkeSockets;

use super::dataplane::SimDataplane;

/// What a gateway's sockets share with the world: the host's addresses and the datagrams
/// sent.
#[derive(Default)]
pub struct Host {
    /// Addresses configured on the host (binding others fails, as on Linux).
    pub addresses: BTreeSet<IpAddr>,
    /// Addresses with UDP 500/4500 open.
    pub bound: BTreeSet<IpAddr>,
    /// Sent, not yet taken by the network, each with the data plane's install count at
    /// the moment it was sent ([`SimDataplane::installs`]).
    pub outbox: Vec<(Transmit, u64)>,
}

pub struct SimSockets {
    pub host: Arc<Mutex<Host>>,
    /// The gateway's data plane, read at each send: which SAs it could receive on then.
    dp: Arc<SimDataplane>,
    failed: BTreeMap<IpAddr, String>,
}

impl SimSockets {
    pub fn new(host: Arc<Mutex<Host>>, dp: Arc<SimDataplane>) -> SimSockets {
        SimSockets {
            host,
            dp,
            failed: BTreeMap::new(),
        }
    }
}

impl IkeSockets for SimSockets {
    async fn open(&mut self, want: &BTreeSet<IpAddr>) {
        let mut host = self.host.lock().unwrap();
        for ip in want {
            if host.addresses.contains(ip) {
                host.bound.insert(*ip);
                self.failed.remove(ip);
            } else {
                self.failed.insert(
                    *ip,
                    format!("cannot listen on {ip}:500: Cannot assign requested address"),
                );
            }
        }
    }

    async fn close_others(&mut self, want: &BTreeSet<IpAddr>) {
        self.host
            .lock()
            .unwrap()
            .bound
            .retain(|ip| want.contains(ip));
        self.failed.retain(|ip, _| want.contains(ip));
    }

    fn failed(&self) -> &BTreeMap<IpAddr, String> {
        &self.failed
    }

    async fn send(&self, t: &Transmit) {
        let mut host = self.host.lock().unwrap();
        if host.bound.contains(&t.local.ip()) {
            host.outbox.push((t.clone(), self.dp.installs()));
        }
    }
}

/// A small deterministic generator for the network's and the scenarios' choices
/// (splitmix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x005e_ed0f_5747_a1d5)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}
