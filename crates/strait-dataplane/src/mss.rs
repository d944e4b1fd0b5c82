//! TCP MSS clamping on the SYN and SYN-ACK of connections crossing a VTI.
//!
//! Pure and allocation-free: [`apply`] and [`clamp`] take one IP packet (IPv4 or IPv6, no
//! link-layer header) in a mutable buffer, never read or write outside it, never panic, and
//! change at most the MSS option's value and the TCP checksum (updated incrementally, RFC 1624,
//! so a packet whose checksum was wrong stays exactly as wrong). Anything they do not fully
//! understand (not TCP, not a SYN, a non-first fragment, a truncated header, a malformed option
//! list, too many IPv6 extension headers, an AH-protected or jumbo packet) is left untouched.
//!
//! Checksums must be complete when `apply` runs: on the TUN offload path that means after
//! `recv_multiple` has split a read and finished `NEEDS_CSUM` checksums (packets leaving through
//! the tunnel), and before GRO coalescing on the way into the TUN (packets coming out of it). A
//! `CHECKSUM_PARTIAL` packet holds only the pseudo-header sum in its checksum field, which an
//! incremental update would corrupt.

/// NSX `tcp_mss_clamping.direction`, as the contract defines it: OUTBOUND_CONNECTION clamps the
/// SYN of TCP connections opened from the local side (the SYN entering the VTI, i.e. going out
/// through the tunnel) and their SYN-ACK (coming in); INBOUND_CONNECTION the connections opened
/// from the peer side (SYN coming in, SYN-ACK going out); BOTH both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssDirection {
    /// No clamping.
    None,
    /// Connections opened by the peer's side: the SYN coming in, the SYN-ACK going out.
    InboundConnection,
    /// Connections opened by the local side: the SYN going out, the SYN-ACK coming in.
    OutboundConnection,
    /// Every SYN and SYN-ACK, both ways.
    Both,
}

/// A session's MSS clamping setting, resolved: `max_segment_size` is the configured value or,
/// when the configuration has none, [`default_mss`] of the VTI MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MssPolicy {
    /// Which connections are clamped.
    pub direction: MssDirection,
    /// The largest MSS a clamped SYN / SYN-ACK may carry. 0 disables clamping (see [`clamp`]).
    pub max_segment_size: u16,
}

const IPPROTO_TCP: u8 = 6;
const TCP_FLAG_SYN: u8 = 0x02;
const TCP_FLAG_ACK: u8 = 0x10;
const TCPOPT_EOL: u8 = 0;
const TCPOPT_NOP: u8 = 1;
const TCPOPT_MSS: u8 = 2;
const TCPOLEN_MSS: usize = 4;

/// How many IPv6 extension headers [`clamp`] walks through before giving up. RFC 8200 §4.1
/// recommends at most one of each kind (Destination Options twice): 8 leaves room.
pub const MAX_IPV6_EXTENSION_HEADERS: usize = 8;

/// Apply the policy to one IP packet crossing the VTI (`outbound`: from the VTI into the
/// tunnel). Returns whether the packet was changed.
pub fn apply(policy: MssPolicy, outbound: bool, packet: &mut [u8]) -> bool {
    let (want_syn, want_syn_ack) = match (policy.direction, outbound) {
        (MssDirection::None, _) => return false,
        (MssDirection::Both, _) => (true, true),
        // The local side opens: its SYN goes out, the peer's SYN-ACK comes in.
        (MssDirection::OutboundConnection, true) | (MssDirection::InboundConnection, false) => {
            (true, false)
        }
        (MssDirection::OutboundConnection, false) | (MssDirection::InboundConnection, true) => {
            (false, true)
        }
    };
    let Some(tcp) = locate_tcp_syn(packet) else {
        return false;
    };
    let is_ack = tcp.flags & TCP_FLAG_ACK != 0;
    if (is_ack && !want_syn_ack) || (!is_ack && !want_syn) {
        return false;
    }
    clamp_segment(packet, tcp, policy.max_segment_size)
}

/// Lower the MSS option of a TCP SYN / SYN-ACK (IPv4 or IPv6, IPv6 extension headers skipped up
/// to a bound) to `max` if it is larger (or insert nothing if absent: never add options),
/// updating the TCP checksum incrementally (RFC 1624). Non-TCP, non-SYN, non-first fragments,
/// truncated packets: untouched, false.
///
/// A `max` of 0 also leaves the packet untouched: a zero MSS would stall the connection, and an
/// unset configuration value is [`default_mss`], resolved by the caller. Bytes past the IP
/// length (link-layer padding) are ignored. If the option list is malformed anywhere (a length
/// of 0 or 1, an option running past the TCP header, an MSS option whose length is not 4) no
/// option is changed.
pub fn clamp(packet: &mut [u8], max: u16) -> bool {
    match locate_tcp_syn(packet) {
        Some(tcp) => clamp_segment(packet, tcp, max),
        None => false,
    }
}

/// The MSS to use when the policy gives none: VTI MTU - 40 (IPv4) / - 60 (IPv6) (contract).
/// Saturates at 0 for MTUs too small to carry any TCP payload.
pub fn default_mss(vti_mtu: u16, ipv6: bool) -> u16 {
    vti_mtu.saturating_sub(if ipv6 { 60 } else { 40 })
}

/// Where the TCP header of a SYN (with or without ACK) sits in a packet.
#[derive(Debug, Clone, Copy)]
struct TcpLocation {
    /// Offset of the TCP header.
    start: usize,
    /// Offset just past the TCP header (options included).
    header_end: usize,
    /// The flags byte.
    flags: u8,
}

/// Find the TCP header of a SYN or SYN-ACK, or `None` for anything else or anything malformed.
fn locate_tcp_syn(packet: &[u8]) -> Option<TcpLocation> {
    let (start, segment_end) = match packet.first()? >> 4 {
        4 => ipv4_tcp_segment(packet)?,
        6 => ipv6_tcp_segment(packet)?,
        _ => return None,
    };
    // Fixed TCP header: data offset in the high nibble of byte 12, flags in byte 13.
    let data_offset = usize::from(*packet.get(start.checked_add(12)?)? >> 4) * 4;
    let flags = *packet.get(start.checked_add(13)?)?;
    if data_offset < 20 {
        return None;
    }
    let header_end = start.checked_add(data_offset)?;
    if header_end > segment_end || flags & TCP_FLAG_SYN == 0 {
        return None;
    }
    Some(TcpLocation {
        start,
        header_end,
        flags,
    })
}

/// IPv4: (TCP header offset, end of the IP packet) for TCP in an unfragmented packet or a first
/// fragment.
fn ipv4_tcp_segment(packet: &[u8]) -> Option<(usize, usize)> {
    let header: &[u8; 20] = packet.first_chunk()?;
    let ihl = usize::from(header[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let fragment_offset = u16::from_be_bytes([header[6], header[7]]) & 0x1fff;
    if ihl < 20 || total_len < ihl || total_len > packet.len() {
        return None;
    }
    if fragment_offset != 0 || header[9] != IPPROTO_TCP {
        return None;
    }
    Some((ihl, total_len))
}

/// IPv6: (TCP header offset, end of the IP packet), walking at most
/// [`MAX_IPV6_EXTENSION_HEADERS`] extension headers.
fn ipv6_tcp_segment(packet: &[u8]) -> Option<(usize, usize)> {
    let header: &[u8; 40] = packet.first_chunk()?;
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    // A payload length of 0 is a jumbogram (RFC 2675) or garbage: leave it alone.
    if payload_len == 0 {
        return None;
    }
    let end = 40usize.checked_add(payload_len)?;
    if end > packet.len() {
        return None;
    }
    let mut next = header[6];
    let mut offset = 40usize;
    for _ in 0..=MAX_IPV6_EXTENSION_HEADERS {
        match next {
            IPPROTO_TCP => return Some((offset, end)),
            // Hop-by-Hop Options, Routing, Destination Options: (Hdr Ext Len + 1) * 8 bytes.
            0 | 43 | 60 => {
                let &[ext_next, ext_len] = packet.get(offset..end)?.first_chunk::<2>()?;
                next = ext_next;
                offset = offset.checked_add((usize::from(ext_len) + 1) * 8)?;
            }
            // Fragment: 8 bytes; only the first fragment carries the TCP header.
            44 => {
                let ext: &[u8; 8] = packet.get(offset..end)?.first_chunk()?;
                let fragment_offset = u16::from_be_bytes([ext[2], ext[3]]) >> 3;
                if fragment_offset != 0 {
                    return None;
                }
                next = ext[0];
                offset = offset.checked_add(8)?;
            }
            // Anything else: ESP and AH (changing an AH-protected packet would break its ICV),
            // No Next Header, other upper layers, unknown headers.
            _ => return None,
        }
    }
    None
}

/// Lower every MSS option of the located TCP header to `max`, if the option list is well formed.
fn clamp_segment(packet: &mut [u8], tcp: TcpLocation, max: u16) -> bool {
    if max == 0 || !options_well_formed(packet, tcp) {
        return false;
    }
    let Some(checksum_at) = tcp.start.checked_add(16) else {
        return false;
    };
    let mut changed = false;
    let mut i = tcp.start + 20;
    while i < tcp.header_end {
        let Some(&kind) = packet.get(i) else {
            return changed;
        };
        match kind {
            TCPOPT_EOL => break,
            TCPOPT_NOP => i += 1,
            _ => {
                let Some(&len) = packet.get(i + 1) else {
                    return changed;
                };
                let len = usize::from(len);
                if kind == TCPOPT_MSS {
                    let value = packet
                        .get_mut(i + 2..)
                        .and_then(<[u8]>::first_chunk_mut::<2>);
                    if let Some(value) = value {
                        let old = u16::from_be_bytes(*value);
                        if old > max {
                            *value = max.to_be_bytes();
                            // The checksum sums 16-bit words from the (even) start of the TCP
                            // header: a value at an odd offset straddles two words, and
                            // contributes with its bytes swapped.
                            let odd = (i + 2 - tcp.start) % 2 == 1;
                            let (old, new) = if odd {
                                (old.swap_bytes(), max.swap_bytes())
                            } else {
                                (old, max)
                            };
                            let field = packet
                                .get_mut(checksum_at..)
                                .and_then(<[u8]>::first_chunk_mut::<2>);
                            if let Some(field) = field {
                                *field = checksum_update(u16::from_be_bytes(*field), old, new)
                                    .to_be_bytes();
                            }
                            changed = true;
                        }
                    }
                }
                i += len;
            }
        }
    }
    changed
}

/// Whether the TCP option list parses: every option other than EOL/NOP has a length of at least
/// 2 that stays inside the header, and MSS options have length 4.
fn options_well_formed(packet: &[u8], tcp: TcpLocation) -> bool {
    let Some(options) = packet.get(tcp.start + 20..tcp.header_end) else {
        return false;
    };
    let mut i = 0;
    while let Some(&kind) = options.get(i) {
        match kind {
            TCPOPT_EOL => return true,
            TCPOPT_NOP => i += 1,
            _ => {
                let Some(&len) = options.get(i + 1) else {
                    return false;
                };
                let len = usize::from(len);
                if len < 2 || i + len > options.len() || (kind == TCPOPT_MSS && len != TCPOLEN_MSS)
                {
                    return false;
                }
                i += len;
            }
        }
    }
    true
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement arithmetic.
fn checksum_update(hc: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    // After two folds the sum fits in 16 bits.
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mss_follows_the_contract() {
        assert_eq!(default_mss(1400, false), 1360);
        assert_eq!(default_mss(1400, true), 1340);
        assert_eq!(default_mss(1500, false), 1460);
        assert_eq!(default_mss(30, true), 0);
    }

    #[test]
    fn checksum_update_matches_rfc1624_example() {
        // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assert_eq!(checksum_update(0xdd2f, 0x5555, 0x3285), 0x0000);
    }
}
