//! Finding the session of an ESP packet that matches no SA (too short or unknown SPI: what
//! a hostile network sends most cheaply), with 10 and 10,000 tunnels:
//! `cargo bench -p strait-dataplane --bench inbound_lookup`.
//!
//! `peer_index` is the data plane's lookup; `scan_every_tunnel` is what it replaced (a walk
//! over every tunnel comparing its peer address), kept here as the baseline.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use divan::{black_box, Bencher};
use strait_dataplane::peer_index::PeerIndex;

fn main() {
    divan::main();
}

const TUNNELS: [usize; 2] = [10, 10_000];

struct FakeTunnel {
    peer: IpAddr,
}

fn peer(i: usize) -> IpAddr {
    IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8])
}

/// An address that is no tunnel's peer: the worst case for the scan.
const STRANGER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 255, 255, 255));

#[divan::bench(args = TUNNELS)]
fn peer_index(bencher: Bencher, tunnels: usize) {
    let index = PeerIndex::default();
    for i in 0..tunnels {
        index.set(peer(i), &Arc::new(FakeTunnel { peer: peer(i) }));
    }
    let known = peer(tunnels / 2);
    bencher.bench_local(|| {
        let a = index.get(black_box(&known)).map(|t| t.peer);
        let b = index.get(black_box(&STRANGER)).map(|t| t.peer);
        (a, b)
    });
}

#[divan::bench(args = TUNNELS)]
fn scan_every_tunnel(bencher: Bencher, tunnels: usize) {
    let map: HashMap<String, Arc<FakeTunnel>> = (0..tunnels)
        .map(|i| {
            (
                format!("session-{i}"),
                Arc::new(FakeTunnel { peer: peer(i) }),
            )
        })
        .collect();
    let known = peer(tunnels / 2);
    bencher.bench_local(|| {
        let find = |ip: IpAddr| map.values().find(|t| t.peer == ip).map(|t| t.peer);
        (find(black_box(known)), find(black_box(STRANGER)))
    });
}
