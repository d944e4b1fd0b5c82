//! Access to the strongSwan 5.9.8 reference captures in `testdata/strongswan-captures/`
//! (see the README there): every UDP datagram of `capture.pcap`, and the `keys.json` and
//! `messages.json` that describe them. For known-answer tests of the IKEv2 codec, key
//! derivation, AUTH and ESP; test-only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod pki;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use serde_json::Value;

/// The scenario names (a: PSK/IPs, b: PSK/FQDN ECP-384, c: AEAD IKE curve25519,
/// d: RSA certificates with fragmentation, e: COOKIE).
pub const SCENARIOS: [&str; 5] = ["a", "b", "c", "d", "e"];

/// The PSK of every PSK scenario.
pub const PSK: &str = "interop-test-psk-0123456789";

/// One UDP datagram of a capture.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// 1-based frame number, as tshark and `messages.json` count.
    pub frame: usize,
    /// Source.
    pub src: SocketAddrV4,
    /// Destination.
    pub dst: SocketAddrV4,
    /// UDP payload.
    pub payload: Vec<u8>,
}

impl Datagram {
    /// Whether this is an IKE message: port 500, or port 4500 with the 4-byte non-ESP
    /// marker (RFC 3948 §2.2).
    pub fn is_ike(&self) -> bool {
        self.dst.port() == 500
            || self.src.port() == 500
            || (self.payload.len() >= 4 && self.payload[..4] == [0, 0, 0, 0])
    }

    /// The IKE message without the non-ESP marker (None for ESP).
    pub fn ike_message(&self) -> Option<&[u8]> {
        if self.dst.port() == 500 || self.src.port() == 500 {
            Some(&self.payload)
        } else if self.payload.len() >= 4 && self.payload[..4] == [0, 0, 0, 0] {
            Some(&self.payload[4..])
        } else {
            None
        }
    }
}

/// A loaded scenario.
pub struct Capture {
    /// Scenario name.
    pub name: &'static str,
    /// Every UDP datagram, in order.
    pub datagrams: Vec<Datagram>,
    /// `keys.json`.
    pub keys: Value,
    /// `messages.json` (one entry per IKE message).
    pub messages: Value,
}

impl Capture {
    /// The datagram of a frame.
    pub fn frame(&self, frame: usize) -> Option<&Datagram> {
        self.datagrams.iter().find(|d| d.frame == frame)
    }

    /// The IKE messages in order.
    pub fn ike(&self) -> impl Iterator<Item = (&Datagram, &[u8])> {
        self.datagrams
            .iter()
            .filter_map(|d| d.ike_message().map(|m| (d, m)))
    }
}

/// Directory of the captures.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/strongswan-captures")
}

/// Load a scenario ("a" to "e").
pub fn load(name: &'static str) -> Capture {
    let d = dir().join(name);
    let pcap = std::fs::read(d.join("capture.pcap")).expect("capture.pcap");
    let keys = serde_json::from_slice(&std::fs::read(d.join("keys.json")).expect("keys.json"))
        .expect("keys json");
    let messages =
        serde_json::from_slice(&std::fs::read(d.join("messages.json")).expect("messages.json"))
            .expect("messages json");
    Capture {
        name,
        datagrams: read_pcap(&pcap),
        keys,
        messages,
    }
}

/// Decode hex.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Classic pcap, Ethernet, IPv4, UDP (what the captures contain).
fn read_pcap(b: &[u8]) -> Vec<Datagram> {
    let le = match b[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] => false,
        _ => panic!("not a classic pcap"),
    };
    let u32_at = |o: usize| {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut out = Vec::new();
    let mut off = 24;
    let mut frame = 0;
    while off + 16 <= b.len() {
        frame += 1;
        let caplen = u32_at(off + 8) as usize;
        let pkt = &b[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        // Ethernet II, IPv4 only.
        if pkt.len() < 14 + 20 || pkt[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &pkt[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 17 {
            continue;
        }
        let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let udp = &ip[ihl..total];
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        out.push(Datagram {
            frame,
            src: SocketAddrV4::new(src_ip, sport),
            dst: SocketAddrV4::new(dst_ip, dport),
            payload: udp[8..].to_vec(),
        });
    }
    out
}
