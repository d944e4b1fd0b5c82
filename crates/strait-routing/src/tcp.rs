//! The TCP ports of a BGP session, which BIRD 2 does not print: read from the kernel's socket
//! table (`/proc/net/tcp`, `/proc/net/tcp6`) of the network namespace straitd and BIRD share.
//! NSX reports them as `local_port` and `remote_port` of a neighbor's status.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The BGP port (RFC 4271 §8.2.1: the listener is on TCP port 179).
pub const BGP_PORT: u16 = 179;

/// One row of `/proc/net/tcp{,6}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConnection {
    /// Local address and port.
    pub local: (IpAddr, u16),
    /// Remote address and port.
    pub remote: (IpAddr, u16),
    /// The kernel's TCP state (`1` = ESTABLISHED, include/net/tcp_states.h).
    pub state: u8,
}

const TCP_ESTABLISHED: u8 = 1;
/// The socket table is read whole; a gateway's BGP sessions are a handful, but a host may have
/// many other sockets: stop after this many rows.
const MAX_ROWS: usize = 65_536;

/// An address as the kernel prints it: each 32-bit word in hexadecimal, in host byte order.
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| {
        hex.get(i * 8..i * 8 + 8)
            .and_then(|w| u32::from_str_radix(w, 16).ok())
            .map(u32::to_ne_bytes)
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for (i, chunk) in b.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    Some((parse_addr(addr)?, u16::from_str_radix(port, 16).ok()?))
}

/// Parses the text of `/proc/net/tcp` or `/proc/net/tcp6` (the header and any row that does
/// not parse are skipped).
pub fn parse_proc_net_tcp(text: &str) -> Vec<TcpConnection> {
    text.lines()
        .skip(1)
        .take(MAX_ROWS)
        .filter_map(|line| {
            let mut w = line.split_whitespace().skip(1);
            let local = parse_endpoint(w.next()?)?;
            let remote = parse_endpoint(w.next()?)?;
            let state = u8::from_str_radix(w.next()?, 16).ok()?;
            Some(TcpConnection {
                local,
                remote,
                state,
            })
        })
        .collect()
}

/// The (local, remote) ports of the established BGP connection between `local` (our source
/// address, if known) and `neighbor`, either side having opened it.
pub fn bgp_ports(
    connections: &[TcpConnection],
    local: Option<IpAddr>,
    neighbor: IpAddr,
) -> Option<(u16, u16)> {
    connections
        .iter()
        .filter(|c| {
            c.state == TCP_ESTABLISHED && c.remote.0.to_canonical() == neighbor.to_canonical()
        })
        .filter(|c| local.is_none_or(|l| c.local.0.to_canonical() == l.to_canonical()))
        .find(|c| c.local.1 == BGP_PORT || c.remote.1 == BGP_PORT)
        .map(|c| (c.local.1, c.remote.1))
}

/// Reads both socket tables of the network namespace of process `pid` (BIRD's, which is
/// straitd's own in production but not in tests that run BIRD in another namespace), or of
/// this process. An unreadable table counts as empty.
pub fn read_tcp_connections(pid: Option<u32>) -> Vec<TcpConnection> {
    let dir = pid.map_or_else(|| "/proc/net".to_string(), |p| format!("/proc/{p}/net"));
    ["tcp", "tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(format!("{dir}/{t}")).ok())
        .flat_map(|t| parse_proc_net_tcp(&t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_families_in_host_order() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100D30A:C35A 0200D30A:00B3 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 4 30 10 -1\n   1: 00000000:00B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n";
        let c = parse_proc_net_tcp(v4);
        assert_eq!(c.len(), 2);
        if cfg!(target_endian = "little") {
            let a: IpAddr = "10.211.0.1".parse().unwrap();
            let b: IpAddr = "10.211.0.2".parse().unwrap();
            assert_eq!(c[0].local, (a, 50010));
            assert_eq!(c[0].remote, (b, 179));
            assert_eq!(bgp_ports(&c, Some(a), b), Some((50010, 179)));
            assert_eq!(bgp_ports(&c, None, b), Some((50010, 179)));
            // A listening socket is not a session.
            assert_eq!(bgp_ports(&c, None, "0.0.0.0".parse().unwrap()), None);
        }
        let v6 = "  sl  local_address                         remote_address                        st\n   0: 0000000000000000FFFF00000100D30A:00B3 0000000000000000FFFF00000200D30A:D2F0 01 x\n";
        let c = parse_proc_net_tcp(v6);
        assert_eq!(c.len(), 1);
        if cfg!(target_endian = "little") {
            assert_eq!(c[0].local.0, "::ffff:10.211.0.1".parse::<IpAddr>().unwrap());
            assert_eq!(c[0].remote.1, 0xD2F0);
            // An IPv4 session on an IPv6 socket (v4-mapped) is found by its IPv4 addresses.
            let b: IpAddr = "10.211.0.2".parse().unwrap();
            assert_eq!(bgp_ports(&c, None, b), Some((179, 0xD2F0)));
        }
    }

    #[test]
    fn garbage_rows_are_skipped() {
        let t = "header\n 0: zz:1 00:2 01\n 1: 0100007F 0100007F:00B3 01\n 2: 0100007F:00B3 0100007F:FFFFF 01\n\n";
        assert!(parse_proc_net_tcp(t).is_empty());
    }
}
