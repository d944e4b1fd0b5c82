//! Plain ESP (IP protocol 50, RFC 4303 without RFC 3948): the outer IP header we write on
//! send (an `IPPROTO_RAW` socket, so the DF bit is per packet) and strip on receive.

use std::net::{IpAddr, Ipv4Addr};

use crate::socket::IPPROTO_ESP;

/// An outer IPv4 (20 bytes) or IPv6 (40 bytes) header.
pub(crate) enum OuterHeader {
    V4([u8; 20]),
    V6([u8; 40]),
}

impl AsRef<[u8]> for OuterHeader {
    fn as_ref(&self) -> &[u8] {
        match self {
            OuterHeader::V4(h) => h,
            OuterHeader::V6(h) => h,
        }
    }
}

/// TTL / hop limit of outer packets.
const OUTER_TTL: u8 = 64;

/// The outer header for an ESP packet of `esp_len` bytes. For IPv4 the kernel fills the
/// identification (when 0), total length and checksum of a header-included raw packet; we set
/// them anyway so the header is right on its own.
pub(crate) fn outer_header(src: IpAddr, dst: IpAddr, esp_len: usize, df: bool) -> OuterHeader {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = [0u8; 20];
            h[0] = 0x45;
            let total = u16::try_from(20 + esp_len).unwrap_or(u16::MAX);
            h[2..4].copy_from_slice(&total.to_be_bytes());
            if df {
                h[6] = 0x40;
            }
            h[8] = OUTER_TTL;
            h[9] = IPPROTO_ESP as u8;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let sum = ipv4_checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            OuterHeader::V4(h)
        }
        (s, d) => {
            let mut h = [0u8; 40];
            h[0] = 0x60;
            let payload = u16::try_from(esp_len).unwrap_or(u16::MAX);
            h[4..6].copy_from_slice(&payload.to_be_bytes());
            h[6] = IPPROTO_ESP as u8;
            h[7] = OUTER_TTL;
            h[8..24].copy_from_slice(&to_v6(s).octets());
            h[24..40].copy_from_slice(&to_v6(d).octets());
            OuterHeader::V6(h)
        }
    }
}

fn to_v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// RFC 791 header checksum.
fn ipv4_checksum(h: &[u8; 20]) -> u16 {
    let high = h.iter().step_by(2);
    let low = h.iter().skip(1).step_by(2);
    let mut sum: u32 = high
        .zip(low)
        .map(|(&hi, &lo)| u32::from(u16::from_be_bytes([hi, lo])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// What an IPv4 raw ESP socket read: the IP header, then ESP. Returns the sender and the ESP
/// packet; IPv6 raw sockets deliver ESP alone (no sender known here). None for anything that
/// is not a whole, unfragmented ESP packet.
pub(crate) fn strip_outer(ipv4: bool, packet: &mut [u8]) -> Option<(Option<IpAddr>, &mut [u8])> {
    if !ipv4 {
        return Some((None, packet));
    }
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || packet.len() < ihl {
        return None;
    }
    // The kernel reassembles before raw delivery; a fragment here would be a bug elsewhere.
    let flags_frag = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]);
    if flags_frag & 0x3fff != 0 || *packet.get(9)? != IPPROTO_ESP as u8 {
        return None;
    }
    let src = Ipv4Addr::new(
        *packet.get(12)?,
        *packet.get(13)?,
        *packet.get(14)?,
        *packet.get(15)?,
    );
    let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    let end = total.clamp(ihl, packet.len());
    Some((Some(IpAddr::V4(src)), packet.get_mut(ihl..end)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_round_trips_and_checksums() {
        let src: IpAddr = "198.51.100.1".parse().unwrap();
        let dst: IpAddr = "198.51.100.2".parse().unwrap();
        let h = outer_header(src, dst, 100, true);
        let OuterHeader::V4(bytes) = h else {
            panic!("IPv4 expected")
        };
        assert_eq!(ipv4_checksum(&bytes), 0, "a valid header sums to 0");
        assert_eq!(bytes[6] & 0x40, 0x40);
        let mut packet = bytes.to_vec();
        packet.extend_from_slice(&[7u8; 100]);
        let (from, esp) = strip_outer(true, &mut packet).unwrap();
        assert_eq!(from, Some(src));
        assert_eq!(esp, &[7u8; 100][..]);
        let OuterHeader::V4(clear) = outer_header(src, dst, 100, false) else {
            panic!("IPv4 expected")
        };
        assert_eq!(clear[6] & 0x40, 0);
    }

    #[test]
    fn ipv6_header_carries_the_payload_length() {
        let h = outer_header(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
            300,
            true,
        );
        let b = h.as_ref();
        assert_eq!(b.len(), 40);
        assert_eq!(u16::from_be_bytes([b[4], b[5]]), 300);
        assert_eq!(b[6], 50);
    }

    #[test]
    fn strip_rejects_what_is_not_one_esp_packet() {
        assert!(strip_outer(true, &mut []).is_none());
        assert!(strip_outer(true, &mut [0x45; 10]).is_none());
        let mut udp = outer_header(
            "198.51.100.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
            8,
            false,
        )
        .as_ref()
        .to_vec();
        udp[9] = 17;
        udp.extend_from_slice(&[0; 8]);
        assert!(strip_outer(true, &mut udp).is_none());
        let mut frag = outer_header(
            "198.51.100.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
            8,
            false,
        )
        .as_ref()
        .to_vec();
        frag[6] = 0x20;
        frag.extend_from_slice(&[0; 8]);
        assert!(strip_outer(true, &mut frag).is_none());
    }
}
