//! The data plane on its own, without IKE: two [`Dataplane`]s in two network namespaces
//! joined by a veth, with Child SAs installed by hand (keys known to the test). Real TUN
//! devices, real sockets, real pings.
//!
//! - every ESP transform (and ESN) carries IPv4 and IPv6 pings, counted exactly;
//! - make-before-break: a rekey under a ping flood loses nothing;
//! - sequence-number exhaustion asks for a rekey, then stops sending rather than wrap;
//! - a UDP GSO super-packet crosses as a run of ESP packets, every segment intact;
//! - hostile packets are dropped and counted by cause; IKE on port 4500 is handed back;
//!   NAT keepalives are ignored.
//!
//! Needs root (fails, never skips, without it).
mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use common::Netns;
use esp_proto::{Integrity, OutboundSa, SaKeys, Transform};
use nix::sched::{setns, CloneFlags};
use strait_dataplane::mss::MssDirection;
use strait_dataplane::{
    CounterSnapshot, Dataplane, DataplaneConfig, DataplaneEvents, DfPolicy, Encapsulation,
    SaInstall, TunnelOutcome, TunnelSpec,
};
use zeroize::Zeroizing;

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";
const SESSION: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/dp";

/// One side: a namespace, a tokio runtime whose threads live in it, and a data plane.
struct Side {
    ns: Netns,
    rt: Option<tokio::runtime::Runtime>,
    dp: Arc<Dataplane>,
    events: DataplaneEvents,
    /// The VTI's name.
    vti: String,
}

impl Side {
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        let rt = self.rt.as_ref().expect("runtime");
        rt.block_on(rt.spawn(f)).expect("task")
    }

    fn counters(&self) -> CounterSnapshot {
        self.dp.counters(SESSION).expect("tunnel counters")
    }

    /// The counters once `settled` holds for them, or after a second: a worker counts a
    /// packet just after it writes it, so the reply a ping has already received may be
    /// counted a moment later (a CI run saw 5 of 6).
    fn counters_when(&self, settled: impl Fn(&CounterSnapshot) -> bool) -> CounterSnapshot {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            let c = self.counters();
            if settled(&c) || std::time::Instant::now() >= deadline {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn install(&self, sa: SaInstall) {
        let dp = self.dp.clone();
        self.run(async move { dp.install(sa).await })
            .expect("install");
    }

    fn ping(&self, dst: &str, count: u32, interval: &str) -> bool {
        let o = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns.name, "ping", "-n", "-q", "-c"])
            .arg(count.to_string())
            .args(["-i", interval, "-W", "2", dst])
            .output()
            .expect("ping");
        let text = String::from_utf8_lossy(&o.stdout);
        text.contains(&format!("{count} received"))
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            let dp = self.dp.clone();
            let _ = rt.block_on(rt.spawn(async move { dp.shutdown().await }));
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// A multi-threaded runtime whose threads (and so every socket and TUN device they make) are
/// in `ns`.
fn runtime_in(ns: &Netns) -> tokio::runtime::Runtime {
    let path = format!("/run/netns/{}", ns.name);
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).expect("netns file");
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime")
        })
        .join()
        .expect("runtime thread")
    })
}

fn side(ns: Netns, vti_v4: &str, vti_v6: &str) -> Side {
    let rt = runtime_in(&ns);
    let cfg = DataplaneConfig {
        workers: 2,
        inbound_linger: Duration::from_millis(500),
        promote_after: Duration::from_secs(5),
        keepalive: Duration::from_millis(300),
        ..DataplaneConfig::default()
    };
    let (dp, mut events) = rt
        .block_on(rt.spawn(async move { Dataplane::start(cfg) }))
        .expect("task")
        .expect("data plane starts");
    let dp = Arc::new(dp);
    let spec = TunnelSpec {
        session: SESSION.to_owned(),
        addresses: vec![vti_v4.parse().unwrap(), vti_v6.parse().unwrap()],
        mtu: 1438,
        mss_direction: MssDirection::None,
        mss_value: None,
        df: DfPolicy::Copy,
        routes: vec![],
    };
    let d = dp.clone();
    let res = rt
        .block_on(rt.spawn(async move { d.set_tunnels(vec![spec]).await }))
        .expect("task");
    // A new tunnel is made in the background and reported when it is ready.
    assert_eq!(res[SESSION], TunnelOutcome::Pending);
    let made = rt
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(10), events.tunnels.recv()).await
        })
        .expect("the tunnel is reported within 10 s")
        .expect("a report");
    assert_eq!(made.session, SESSION);
    let vti = made.result.expect("VTI created");
    assert_eq!(dp.tunnel_sessions(), vec![SESSION.to_owned()]);
    assert!(dp.queued_tunnels().is_empty());
    Side {
        ns,
        rt: Some(rt),
        dp,
        events,
        vti,
    }
}

struct Pair {
    a: Side,
    b: Side,
}

fn pair() -> Pair {
    let na = Netns::new();
    let nb = Netns::new();
    std::process::Command::new("ip")
        .args([
            "link", "add", "dp-a", "netns", &na.name, "type", "veth", "peer", "dp-b",
        ])
        .args(["netns", &nb.name])
        .status()
        .expect("veth");
    na.ip(&["addr", "add", &format!("{A}/24"), "dev", "dp-a"]);
    nb.ip(&["addr", "add", &format!("{B}/24"), "dev", "dp-b"]);
    na.ip(&["link", "set", "dp-a", "up"]);
    nb.ip(&["link", "set", "dp-b", "up"]);
    let a = side(na, "169.254.50.1/30", "fd00:50::1/64");
    let b = side(nb, "169.254.50.2/30", "fd00:50::2/64");
    for (s, ip) in [(&a, A), (&b, B)] {
        let dp = s.dp.clone();
        let ip: IpAddr = ip.parse().unwrap();
        s.run(async move { dp.open_port(ip).await.map(|_| ()) })
            .expect("port 4500");
    }
    Pair { a, b }
}

/// Keys for one SA pair, as IKE would derive them (here: random).
struct Keys {
    t: Transform,
    esn: bool,
    ab_enc: Vec<u8>,
    ab_integ: Vec<u8>,
    ba_enc: Vec<u8>,
    ba_integ: Vec<u8>,
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut v).unwrap();
    v
}

impl Keys {
    fn new(t: Transform, esn: bool) -> Keys {
        Keys {
            t,
            esn,
            ab_enc: random(t.enc_key_len()),
            ab_integ: random(t.integ_key_len()),
            ba_enc: random(t.enc_key_len()),
            ba_integ: random(t.integ_key_len()),
        }
    }

    /// The SA as side A installs it (`spi_a`: what B puts on packets to A) and as B does.
    fn installs(&self, spi_a: u32, spi_b: u32, a_initiator: bool) -> (SaInstall, SaInstall) {
        let make = |spi_in,
                    spi_out,
                    local: &str,
                    remote: &str,
                    in_keys: (&[u8], &[u8]),
                    out_keys: (&[u8], &[u8]),
                    initiator| SaInstall {
            session: SESSION.to_owned(),
            spi_in,
            spi_out,
            transform: self.t,
            esn: self.esn,
            enc_key_in: Zeroizing::new(in_keys.0.to_vec()),
            integ_key_in: Zeroizing::new(in_keys.1.to_vec()),
            enc_key_out: Zeroizing::new(out_keys.0.to_vec()),
            integ_key_out: Zeroizing::new(out_keys.1.to_vec()),
            local: SocketAddr::new(local.parse().unwrap(), 4500),
            remote: SocketAddr::new(remote.parse().unwrap(), 4500),
            encapsulation: Encapsulation::Udp,
            initiator,
            iv_seed: random(16).try_into().unwrap(),
        };
        (
            make(
                spi_a,
                spi_b,
                A,
                B,
                (&self.ba_enc, &self.ba_integ),
                (&self.ab_enc, &self.ab_integ),
                a_initiator,
            ),
            make(
                spi_b,
                spi_a,
                B,
                A,
                (&self.ab_enc, &self.ab_integ),
                (&self.ba_enc, &self.ba_integ),
                !a_initiator,
            ),
        )
    }
}

fn install_pair(p: &Pair, k: &Keys, spi_a: u32, spi_b: u32) {
    let (a, b) = k.installs(spi_a, spi_b, true);
    // The responder first (it answers before the initiator installs), then the initiator.
    p.b.install(b);
    p.a.install(a);
}

#[track_caller]
fn no_errors(c: &CounterSnapshot) {
    assert_eq!(
        (
            c.dropped_packets_in,
            c.dropped_packets_out,
            c.integrity_failures,
            c.replay_errors,
            c.sa_mismatch_errors_in,
            c.decryption_failures
        ),
        (0, 0, 0, 0, 0, 0),
        "{c:#?}"
    );
}

#[test]
fn every_transform_carries_ipv4_and_ipv6_pings_counted_exactly() {
    let p = pair();
    let transforms = [
        (Transform::AesGcm16 { key_bits: 128 }, false),
        (Transform::AesGcm16 { key_bits: 192 }, false),
        (Transform::AesGcm16 { key_bits: 256 }, true),
        (
            Transform::AesCbc {
                key_bits: 128,
                integ: Integrity::HmacSha1_96,
            },
            false,
        ),
        (
            Transform::AesCbc {
                key_bits: 256,
                integ: Integrity::HmacSha256_128,
            },
            true,
        ),
        (
            Transform::AesCbc {
                key_bits: 192,
                integ: Integrity::HmacSha384_192,
            },
            false,
        ),
        (
            Transform::AesCbc {
                key_bits: 128,
                integ: Integrity::HmacSha512_256,
            },
            false,
        ),
        (Transform::NullAuthAesGmac { key_bits: 128 }, false),
        (Transform::NullAuthAesGmac { key_bits: 256 }, true),
        (
            Transform::Null {
                integ: Integrity::HmacSha256_128,
            },
            false,
        ),
    ];
    let mut spi = 0x1000u32;
    for (t, esn) in transforms {
        spi += 2;
        install_pair(&p, &Keys::new(t, esn), spi, spi + 1);
        let before = (p.a.counters(), p.b.counters());
        let ok = p.a.ping("169.254.50.2", 3, "0.05");
        assert!(
            ok,
            "{t:?} esn={esn}: IPv4 ping over {}: A {:#?} B {:#?}",
            p.a.vti,
            p.a.counters(),
            p.b.counters()
        );
        assert!(
            p.b.ping("fd00:50::1", 3, "0.05"),
            "{t:?} esn={esn}: IPv6 ping"
        );
        // 6 echo requests and 6 replies each way: IPv4 84 bytes, IPv6 104 bytes.
        let want = 3 * 84 + 3 * 104;
        let a = p.a.counters_when(|c| {
            c.packets_out - before.0.packets_out >= 6 && c.packets_in - before.0.packets_in >= 6
        });
        let b =
            p.b.counters_when(|c| c.bytes_in - before.1.bytes_in >= want);
        assert_eq!(a.packets_out - before.0.packets_out, 6, "{t:?} {a:#?}");
        assert_eq!(a.packets_in - before.0.packets_in, 6, "{t:?} {a:#?}");
        assert_eq!(a.bytes_out - before.0.bytes_out, want, "{t:?}");
        assert_eq!(b.bytes_in - before.1.bytes_in, want, "{t:?}");
        no_errors(&a);
        no_errors(&b);
        // The previous SA goes (the next one is installed before its pings).
        p.a.dp.remove(SESSION, spi, spi + 1);
        p.b.dp.remove(SESSION, spi + 1, spi);
    }
}

#[test]
fn rekey_make_before_break_under_a_ping_flood_loses_nothing() {
    let p = pair();
    let t = Transform::AesGcm16 { key_bits: 128 };
    install_pair(&p, &Keys::new(t, false), 0x2000, 0x2001);
    assert!(p.a.ping("169.254.50.2", 2, "0.1"));
    let ns = p.a.ns.name.clone();
    let flood = std::thread::spawn(move || {
        std::process::Command::new("ip")
            .args([
                "netns", "exec", &ns, "ping", "-n", "-q", "-c", "400", "-i", "0.005", "-W", "2",
            ])
            .arg("169.254.50.2")
            .output()
            .expect("ping")
    });
    std::thread::sleep(Duration::from_millis(500));
    // Rekey: B answers (responder: keeps sending on the old SA until A uses the new one),
    // A installs on the response (initiator: sends on the new SA at once).
    let k2 = Keys::new(t, false);
    let (a2, b2) = k2.installs(0x3000, 0x3001, true);
    p.b.install(b2);
    std::thread::sleep(Duration::from_millis(100));
    p.a.install(a2);
    std::thread::sleep(Duration::from_millis(300));
    // The data plane's view, as the control plane's invariants read it: both SAs held.
    let state = p.a.dp.sa_state(SESSION).expect("A's tunnel");
    let held: Vec<u32> = state.child_sas.iter().map(|c| c.spi_in).collect();
    assert_eq!(held, [0x2000, 0x3000], "{state:?}");
    assert!(state.child_sas.iter().all(|c| c.inbound), "{state:?}");
    assert!(state.inbound_only.is_empty(), "{state:?}");
    // Retired (IKE is deleting it): no longer sent on, still decrypted.
    p.a.dp.retire(SESSION, 0x2000);
    let state = p.a.dp.sa_state(SESSION).expect("A's tunnel");
    let held: Vec<u32> = state.child_sas.iter().map(|c| c.spi_in).collect();
    assert_eq!(held, [0x3000], "{state:?}");
    assert_eq!(state.inbound_only, [0x2000], "{state:?}");
    // Then the old SA is deleted on both sides.
    p.a.dp.remove(SESSION, 0x2000, 0x2001);
    assert!(p
        .a
        .dp
        .sa_state(SESSION)
        .expect("A's tunnel")
        .inbound_only
        .is_empty());
    p.b.dp.remove(SESSION, 0x2001, 0x2000);
    let out = flood.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("400 received"), "{text}");
    no_errors(&p.a.counters());
    no_errors(&p.b.counters());
    // And traffic keeps flowing on the new SA alone.
    std::thread::sleep(Duration::from_millis(700));
    assert!(p.b.ping("169.254.50.1", 3, "0.05"));
    no_errors(&p.a.counters());
}

#[test]
fn sequence_exhaustion_asks_for_a_rekey_then_stops_sending() {
    let mut p = pair();
    install_pair(
        &p,
        &Keys::new(Transform::AesGcm16 { key_bits: 128 }, false),
        0x4000,
        0x4001,
    );
    assert!(p.a.ping("169.254.50.2", 1, "0.1"));
    // Near the end of the 32-bit space: the next packet asks the control plane for a rekey.
    assert!(p
        .a
        .dp
        .advance_outbound_sequence(SESSION, (1 << 32) - (1 << 16)));
    assert!(p.a.ping("169.254.50.2", 1, "0.1"));
    let asked = p.a.run_recv_rekey();
    assert_eq!(asked.as_deref(), Some(SESSION));
    // At the very end nothing more is sent (the counter must never cycle, RFC 4303 §3.3.3).
    assert!(p
        .a
        .dp
        .advance_outbound_sequence(SESSION, u64::from(u32::MAX)));
    assert!(!p.a.ping("169.254.50.2", 2, "0.1"));
    let c = p.a.counters();
    assert!(c.seq_number_overflow_error >= 2, "{c:#?}");
    assert_eq!(c.dropped_packets_out, c.seq_number_overflow_error);
}

impl Side {
    /// The next rekey request, waiting up to 2 s.
    fn run_recv_rekey(&mut self) -> Option<String> {
        let rt = self.rt.as_ref().expect("runtime");
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), self.events.rekey.recv())
                .await
                .ok()
                .flatten()
        })
    }

    /// The next IKE datagram handed back from port 4500, waiting up to 2 s.
    fn recv_ike(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        let rt = self.rt.as_ref().expect("runtime");
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), self.events.ike.recv())
                .await
                .ok()
        })
    }
}

/// A UDP GSO super-packet routed into the VTI is read as one batch, leaves through the
/// tunnel as a run of equal-sized ESP packets closed by the shorter last one, and arrives
/// whole: every segment, in order, byte for byte, counted exactly.
#[test]
fn a_gso_super_packet_crosses_the_tunnel_segment_by_segment() {
    let p = pair();
    let k = Keys::new(Transform::AesGcm16 { key_bits: 128 }, false);
    install_pair(&p, &k, 0x3000, 0x3001);
    // The SAs work before the burst (this also settles ARP on the veth).
    assert!(p.a.ping("169.254.50.2", 1, "0.05"), "ping before the burst");
    let rx = udp_in(&p.b.ns, "169.254.50.2:7000");
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let tx = udp_in(&p.a.ns, "169.254.50.1:6000");
    nix::sys::socket::setsockopt(&tx, nix::sys::socket::sockopt::UdpGsoSegment, &1000)
        .expect("UDP_SEGMENT");
    let before = (p.a.counters(), p.b.counters());

    // 20 segments of 1000 bytes and a last one of 500, in one sendmsg.
    let data: Vec<u8> = (0..20_500u32).map(|i| (i % 251) as u8).collect();
    tx.send_to(&data, "169.254.50.2:7000")
        .expect("send a GSO datagram");
    let mut segments = Vec::new();
    let mut buf = [0u8; 2048];
    while segments.iter().map(Vec::len).sum::<usize>() < data.len() {
        match rx.recv(&mut buf) {
            Ok(n) => segments.push(buf[..n].to_vec()),
            Err(e) => panic!(
                "{} of 21 segments arrived ({e}): A {:#?} B {:#?}",
                segments.len(),
                p.a.counters(),
                p.b.counters()
            ),
        }
    }
    let lens: Vec<usize> = segments.iter().map(Vec::len).collect();
    let mut want = vec![1000; 20];
    want.push(500);
    assert_eq!(lens, want);
    assert_eq!(segments.concat(), data);

    // Inner IPv4 packets: 20 + 8 bytes of headers per segment.
    let a =
        p.a.counters_when(|c| c.packets_out - before.0.packets_out >= 21);
    let b =
        p.b.counters_when(|c| c.packets_in - before.1.packets_in >= 21);
    assert_eq!(a.packets_out - before.0.packets_out, 21, "{a:#?}");
    assert_eq!(a.bytes_out - before.0.bytes_out, 20 * 1028 + 528, "{a:#?}");
    assert_eq!(b.packets_in - before.1.packets_in, 21, "{b:#?}");
    assert_eq!(b.bytes_in - before.1.bytes_in, 20 * 1028 + 528, "{b:#?}");
    no_errors(&a);
    no_errors(&b);
}

/// A UDP socket inside `ns` (bound to `addr`).
fn udp_in(ns: &Netns, addr: &str) -> UdpSocket {
    let path = format!("/run/netns/{}", ns.name);
    let addr = addr.to_owned();
    std::thread::scope(|s| {
        s.spawn(move || {
            let file = std::fs::File::open(&path).expect("netns file");
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
            UdpSocket::bind(addr).expect("bind")
        })
        .join()
        .expect("thread")
    })
}

#[test]
fn hostile_packets_are_dropped_and_counted_by_cause_ike_is_handed_back() {
    let mut p = pair();
    let t = Transform::AesGcm16 { key_bits: 128 };
    let k = Keys::new(t, false);
    install_pair(&p, &k, 0x5000, 0x5001);
    assert!(p.a.ping("169.254.50.2", 3, "0.05"));
    let attacker = udp_in(&p.b.ns, &format!("{B}:0"));
    let to_a = format!("{A}:4500");
    let base = p.a.counters();
    let unmatched_base = p.a.dp.unmatched_esp();

    // An SPI A does not have, from its peer's address: SA mismatch.
    let mut unknown = vec![0u8; 64];
    unknown[..4].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    unknown[7] = 1;
    attacker.send_to(&unknown, &to_a).unwrap();
    // A's SPI with garbage: integrity failure.
    let mut garbage = random(100);
    garbage[..4].copy_from_slice(&0x5000u32.to_be_bytes());
    garbage[4..8].copy_from_slice(&1000u32.to_be_bytes());
    attacker.send_to(&garbage, &to_a).unwrap();
    // A valid packet with a sequence number A has already seen: replay.
    let forger = OutboundSa::new(
        0x5000,
        t,
        SaKeys {
            encryption: &k.ba_enc,
            integrity: &k.ba_integ,
        },
        false,
        [0; 16],
    )
    .unwrap();
    let inner = [
        0x45u8, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 169, 254, 50, 2, 169, 254, 50, 1,
    ];
    let start = forger.header_len();
    let mut buf = vec![0u8; start + inner.len() + forger.trailer_len(inner.len())];
    buf[start..start + inner.len()].copy_from_slice(&inner);
    let r = forger.encapsulate(&mut buf, start, inner.len(), 4).unwrap();
    attacker.send_to(&buf[r], &to_a).unwrap();
    // Truncated ESP: other receive error.
    attacker.send_to(&0x5000u32.to_be_bytes(), &to_a).unwrap();
    // A NAT keepalive: ignored, not counted.
    attacker.send_to(&[0xff], &to_a).unwrap();
    // IKE behind the non-ESP marker: handed to the control plane as is.
    let ike = [0u8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    attacker.send_to(&ike, &to_a).unwrap();

    let got = p.a.recv_ike().expect("IKE handed back");
    assert_eq!(got.0, to_a.parse::<SocketAddr>().unwrap());
    assert_eq!(got.1, attacker.local_addr().unwrap());
    assert_eq!(got.2, ike);
    std::thread::sleep(Duration::from_millis(200));
    let c = p.a.counters();
    assert_eq!(
        c.sa_mismatch_errors_in - base.sa_mismatch_errors_in,
        1,
        "{c:#?}"
    );
    assert_eq!(c.integrity_failures - base.integrity_failures, 1, "{c:#?}");
    assert_eq!(c.replay_errors - base.replay_errors, 1, "{c:#?}");
    assert_eq!(
        c.packets_received_other_error - base.packets_received_other_error,
        1,
        "{c:#?}"
    );
    assert_eq!(c.dropped_packets_in - base.dropped_packets_in, 4, "{c:#?}");
    // The gateway-wide counts of packets that matched no SA saw the same two.
    let unmatched = p.a.dp.unmatched_esp();
    assert_eq!(unmatched.unknown_spi - unmatched_base.unknown_spi, 1);
    assert_eq!(unmatched.malformed - unmatched_base.malformed, 1);
    assert_eq!(
        c.packets_in, base.packets_in,
        "nothing hostile reached the VTI"
    );
    // The tunnel still works.
    assert!(p.a.ping("169.254.50.2", 2, "0.05"));
    // Reset zeroes everything.
    assert!(p.a.dp.reset_counters(SESSION));
    assert_eq!(p.a.counters(), CounterSnapshot::default());
}

/// `tcpdump -v` lines of the first `count` packets matching `filter` on `dev` in `ns`, while
/// `during` runs.
fn capture(ns: &Netns, dev: &str, filter: &str, count: u32, during: impl FnOnce()) -> Vec<String> {
    let child = std::process::Command::new("ip")
        .args([
            "netns", "exec", &ns.name, "timeout", "5", "tcpdump", "-n", "-v", "-l", "-i", dev, "-c",
        ])
        .arg(count.to_string())
        .args(filter.split_whitespace())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(700));
    during();
    let out = child.wait_with_output().expect("tcpdump output");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn nat_keepalives_go_to_udp_peers_and_df_follows_the_policy() {
    let p = pair();
    install_pair(
        &p,
        &Keys::new(Transform::AesGcm16 { key_bits: 128 }, false),
        0x6000,
        0x6001,
    );
    // RFC 3948 §2.3: a one-byte 0xff datagram to the peer's port 4500.
    let ka = capture(
        &p.b.ns,
        "dp-b",
        "udp dst port 4500 and src host 198.51.100.1 and udp[4:2] = 9 and udp[8] = 0xff",
        1,
        || {},
    );
    assert!(
        ka.iter().any(|l| l.contains("NAT-keepalive")
            || l.contains("UDP, length 1")
            || l.contains("isakmp-nat-keep-alive")),
        "{ka:#?}"
    );

    // COPY (the default): the inner DF bit goes to the outer header.
    let esp = "udp dst port 4500 and src host 198.51.100.1 and greater 200";
    let df = capture(&p.b.ns, "dp-b", esp, 2, || {
        let _ = p.a.ping_with("169.254.50.2", &["-M", "do", "-s", "300"]);
    });
    assert!(
        df.iter().filter(|l| l.contains("flags [DF]")).count() >= 2,
        "{df:#?}"
    );
    let no_df = capture(&p.b.ns, "dp-b", esp, 2, || {
        let _ = p.a.ping_with("169.254.50.2", &["-M", "dont", "-s", "300"]);
    });
    assert!(
        !no_df.is_empty() && no_df.iter().all(|l| !l.contains("flags [DF]")),
        "{no_df:#?}"
    );

    // CLEAR: never DF, whatever the inner packet says.
    let spec = TunnelSpec {
        session: SESSION.to_owned(),
        addresses: vec![
            "169.254.50.1/30".parse().unwrap(),
            "fd00:50::1/64".parse().unwrap(),
        ],
        mtu: 1438,
        mss_direction: MssDirection::None,
        mss_value: None,
        df: DfPolicy::Clear,
        routes: vec![],
    };
    let dp = p.a.dp.clone();
    let res = p.a.run(async move { dp.set_tunnels(vec![spec]).await });
    assert!(
        matches!(res[SESSION], TunnelOutcome::Ready(_)),
        "an existing tunnel is updated in place: {res:?}"
    );
    let cleared = capture(&p.b.ns, "dp-b", esp, 2, || {
        let _ = p.a.ping_with("169.254.50.2", &["-M", "do", "-s", "300"]);
    });
    assert!(
        !cleared.is_empty() && cleared.iter().all(|l| !l.contains("flags [DF]")),
        "{cleared:#?}"
    );
}

impl Side {
    fn ping_with(&self, dst: &str, extra: &[&str]) -> bool {
        std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns.name,
                "ping",
                "-n",
                "-q",
                "-c",
                "2",
                "-i",
                "0.2",
                "-W",
                "2",
            ])
            .args(extra)
            .arg(dst)
            .status()
            .is_ok_and(|s| s.success())
    }
}
