//! Helpers shared by the integration tests: hex, and a minimal reader of the classic pcap
//! files in testdata/strongswan-captures (Ethernet / IPv4 / UDP only).
#![allow(dead_code)]

use std::path::PathBuf;

/// Decodes hex (whitespace ignored); panics on bad input (test data only).
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "odd-length hex: {s}");
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap();
            u8::from_str_radix(text, 16).unwrap_or_else(|_| panic!("bad hex {text:?}"))
        })
        .collect()
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// testdata/strongswan-captures/<scenario>.
pub fn capture_dir(scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/strongswan-captures")
        .join(scenario)
}

/// One UDP datagram of a capture.
#[derive(Debug, Clone)]
pub struct Udp {
    /// 1-based frame number, as tshark and messages.json count.
    pub frame: usize,
    pub src_ip: std::net::Ipv4Addr,
    pub dst_ip: std::net::Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// Every UDP-over-IPv4-over-Ethernet datagram of a classic (microsecond or nanosecond,
/// either byte order) pcap file, in capture order.
pub fn read_pcap(path: &std::path::Path) -> Vec<Udp> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{}: not a classic pcap file", path.display()),
    };
    let u32_at = |at: usize| {
        let w = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    assert_eq!(u32_at(20), 1, "link type must be Ethernet");
    let mut out = Vec::new();
    let mut off = 24;
    let mut frame = 0;
    while off + 16 <= bytes.len() {
        frame += 1;
        let incl = u32_at(off + 8) as usize;
        let data = &bytes[off + 16..off + 16 + incl];
        off += 16 + incl;
        if be16(data, 12) != 0x0800 {
            continue; // not IPv4
        }
        let ip = &data[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 17 {
            continue; // not UDP
        }
        let ip = &ip[..be16(ip, 2)];
        let udp = &ip[ihl..];
        out.push(Udp {
            frame,
            src_ip: std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            dst_ip: std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
            src_port: be16(udp, 0) as u16,
            dst_port: be16(udp, 2) as u16,
            payload: udp[8..be16(udp, 4)].to_vec(),
        });
    }
    out
}

impl Udp {
    /// The IKE message (without the non-ESP marker on port 4500), or None for ESP.
    pub fn ike_message(&self) -> Option<&[u8]> {
        if self.src_port == 500 || self.dst_port == 500 {
            Some(&self.payload)
        } else if self.payload.starts_with(&[0, 0, 0, 0]) {
            Some(&self.payload[4..])
        } else {
            None
        }
    }

    /// The ESP packet (UDP-encapsulated, RFC 3948), or None for IKE and keepalives.
    pub fn esp_packet(&self) -> Option<&[u8]> {
        if self.ike_message().is_none() && self.payload.len() > 8 {
            Some(&self.payload)
        } else {
            None
        }
    }
}

/// Reads a JSON file of a scenario.
pub fn json(scenario: &str, file: &str) -> serde_json::Value {
    let path = capture_dir(scenario).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A string field as hex bytes.
pub fn hex_field(v: &serde_json::Value, key: &str) -> Vec<u8> {
    hex(v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {key} in {v}")))
}
