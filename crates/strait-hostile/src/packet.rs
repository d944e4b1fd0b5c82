//! IPv4 + UDP headers written by hand (RFC 791, RFC 768), so that the source address and
//! port are whatever the attacker wants. The kernel does not fragment IP_HDRINCL packets
//! (a raw send over the MTU fails with EMSGSIZE), so datagrams larger than the MTU are
//! split into fragments here (RFC 791 §2.3, "Fragmentation and Reassembly").

use std::net::SocketAddrV4;

/// IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// Largest UDP payload one IPv4 datagram can carry.
pub const UDP_PAYLOAD_MAX: usize = 65_535 - IPV4_HEADER_LEN - UDP_HEADER_LEN;
/// Default TTL of forged packets.
const TTL: u8 = 64;
/// IP protocol number of UDP.
const PROTO_UDP: u8 = 17;
/// "More fragments" flag in the flags/offset field.
const MORE_FRAGMENTS: u16 = 0x2000;

/// Why a datagram cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The UDP payload does not fit one IPv4 datagram.
    #[error("UDP payload of {0} bytes exceeds the IPv4 maximum of {UDP_PAYLOAD_MAX}")]
    TooLarge(usize),
    /// An MTU that cannot carry a header and 8 bytes of data.
    #[error("MTU {0} is too small (at least {min})", min = IPV4_HEADER_LEN + 8)]
    MtuTooSmall(usize),
}

/// The Internet checksum (RFC 1071) of `data`, folded and complemented, continuing from a
/// partial sum `initial`.
fn checksum(initial: u32, data: &[u8]) -> u16 {
    let mut sum = initial;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A UDP header and payload with the checksum over the IPv4 pseudo-header (RFC 768).
pub fn udp_segment(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
) -> Result<Vec<u8>, PacketError> {
    if payload.len() > UDP_PAYLOAD_MAX {
        return Err(PacketError::TooLarge(payload.len()));
    }
    let udp_len = (UDP_HEADER_LEN + payload.len()) as u16;
    let mut seg = Vec::with_capacity(usize::from(udp_len));
    seg.extend_from_slice(&src.port().to_be_bytes());
    seg.extend_from_slice(&dst.port().to_be_bytes());
    seg.extend_from_slice(&udp_len.to_be_bytes());
    seg.extend_from_slice(&[0, 0]);
    seg.extend_from_slice(payload);
    let s = src.ip().octets();
    let d = dst.ip().octets();
    let pseudo = u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(PROTO_UDP)
        + u32::from(udp_len);
    let mut sum = checksum(pseudo, &seg);
    // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    if sum == 0 {
        sum = 0xffff;
    }
    seg[6..8].copy_from_slice(&sum.to_be_bytes());
    Ok(seg)
}

/// An IPv4 header (no options) with its checksum.
fn ipv4_header(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    id: u16,
    flags_offset: u16,
    payload_len: usize,
) -> [u8; IPV4_HEADER_LEN] {
    let total = (IPV4_HEADER_LEN + payload_len) as u16;
    let mut h = [0u8; IPV4_HEADER_LEN];
    h[0] = 0x45; // version 4, IHL 5
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&flags_offset.to_be_bytes());
    h[8] = TTL;
    h[9] = PROTO_UDP;
    h[12..16].copy_from_slice(&src.ip().octets());
    h[16..20].copy_from_slice(&dst.ip().octets());
    let sum = checksum(0, &h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h
}

/// The IPv4 packets carrying one UDP datagram `src` -> `dst`: one packet when it fits
/// `mtu`, otherwise fragments with identification `id` (each at most `mtu` bytes, data in
/// multiples of 8 bytes except the last).
pub fn udp_packets(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    id: u16,
    payload: &[u8],
    mtu: usize,
) -> Result<Vec<Vec<u8>>, PacketError> {
    if mtu < IPV4_HEADER_LEN + 8 {
        return Err(PacketError::MtuTooSmall(mtu));
    }
    let seg = udp_segment(src, dst, payload)?;
    if IPV4_HEADER_LEN + seg.len() <= mtu {
        let mut p = Vec::with_capacity(IPV4_HEADER_LEN + seg.len());
        p.extend_from_slice(&ipv4_header(src, dst, id, 0, seg.len()));
        p.extend_from_slice(&seg);
        return Ok(vec![p]);
    }
    let per_fragment = (mtu - IPV4_HEADER_LEN) / 8 * 8;
    let mut out = Vec::with_capacity(seg.len().div_ceil(per_fragment));
    for (i, chunk) in seg.chunks(per_fragment).enumerate() {
        let offset_units = (i * per_fragment / 8) as u16;
        let last = (i + 1) * per_fragment >= seg.len();
        let flags = if last { 0 } else { MORE_FRAGMENTS };
        let mut p = Vec::with_capacity(IPV4_HEADER_LEN + chunk.len());
        p.extend_from_slice(&ipv4_header(
            src,
            dst,
            id,
            flags | offset_units,
            chunk.len(),
        ));
        p.extend_from_slice(chunk);
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn checksums_verify_to_zero() {
        let src = addr("198.51.100.2:500");
        let dst = addr("198.51.100.1:500");
        for len in [0usize, 1, 2, 7, 333] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let p = udp_packets(src, dst, 9, &payload, 1500).unwrap();
            assert_eq!(p.len(), 1);
            let p = &p[0];
            assert_eq!(checksum(0, &p[..20]), 0, "IPv4 header checksum, len {len}");
            let seg = &p[20..];
            let pseudo = 0xc633 + 0x6402 + 0xc633 + 0x6401 + 17 + seg.len() as u32;
            assert_eq!(checksum(pseudo, seg), 0, "UDP checksum, len {len}");
        }
    }

    #[test]
    fn large_datagrams_are_fragmented_in_eights() {
        let payload = vec![0xab; 30_000];
        let p = udp_packets(
            addr("198.51.100.2:500"),
            addr("198.51.100.1:500"),
            77,
            &payload,
            1500,
        )
        .unwrap();
        assert_eq!(p.len(), 30_008usize.div_ceil(1480));
        let mut total = 0;
        for (i, f) in p.iter().enumerate() {
            assert!(f.len() <= 1500);
            assert_eq!(checksum(0, &f[..20]), 0);
            let fo = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(usize::from(fo & 0x1fff) * 8, total, "fragment {i} offset");
            assert_eq!(fo & MORE_FRAGMENTS != 0, i + 1 < p.len());
            total += f.len() - 20;
        }
        assert_eq!(total, 30_008);
        assert!(udp_segment(addr("1.2.3.4:1"), addr("1.2.3.4:2"), &vec![0; 70_000]).is_err());
    }
}
