//! The outer sockets: ESP in UDP on port 4500 (RFC 3948) and plain ESP (IP protocol 50).
//!
//! Every worker has its own port-4500 socket per local address (`SO_REUSEPORT`; the kernel
//! keeps a flow on one socket), with multi-MB buffers (dependencies.md §9: default buffers are
//! what makes userspace tunnels lose packets), UDP GSO on send and GRO on receive (quinn-udp).
//! The only `unsafe` of the data plane is here: integer socket options that neither socket2 nor
//! nix wrap (`SO_RCVBUFFORCE`, `SO_SNDBUFFORCE`, `IP_MTU_DISCOVER`).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU8, Ordering};

use socket2::{Domain, Protocol, Socket, Type};

/// UDP port for IKE and ESP after NAT traversal (RFC 3948 §2, RFC 7296 §2.23).
pub const NAT_T_PORT: u16 = 4500;

/// IP protocol number of ESP.
pub const IPPROTO_ESP: i32 = 50;

/// Socket buffers: large enough that a burst from a fast peer never overflows while a worker
/// is busy encrypting (dependencies.md §9: 16 MiB removed all loss).
pub const SOCKET_BUFFER_BYTES: usize = 16 << 20;

/// How a socket sets the outer DF bit (IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum DfMode {
    /// Not yet set.
    Unknown = 0,
    /// DF set, and no local fragmentation (`IP_PMTUDISC_PROBE`).
    Set = 1,
    /// DF clear; the kernel may fragment (`IP_PMTUDISC_DONT`).
    Clear = 2,
}

/// Set an integer socket option.
fn set_int_option(fd: &impl AsFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    // SAFETY: `raw` is an open socket borrowed for the duration of the call (`AsFd`), and the
    // option value pointer/length describe a live `i32` on this stack frame, which is what
    // the kernel reads for these integer options.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::setsockopt(
            raw,
            level,
            name,
            std::ptr::from_ref(&value).cast::<libc::c_void>(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Large buffers: the FORCE variants (root / CAP_NET_ADMIN) pass `net.core.rmem_max`; without
/// the capability fall back to what the sysctl allows.
fn set_buffers(sock: &Socket) {
    if set_int_option(
        sock,
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        SOCKET_BUFFER_BYTES as i32,
    )
    .is_err()
    {
        let _ = sock.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    }
    if set_int_option(
        sock,
        libc::SOL_SOCKET,
        libc::SO_SNDBUFFORCE,
        SOCKET_BUFFER_BYTES as i32,
    )
    .is_err()
    {
        let _ = sock.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    }
}

/// Set or clear the outer DF bit for what is sent next (IPv4 only; IPv6 never fragments in
/// the network). Remembers the last setting in `cache` to skip redundant system calls.
pub(crate) fn set_df(fd: &impl AsFd, ipv4: bool, df: bool, cache: &AtomicU8) -> io::Result<()> {
    if !ipv4 {
        return Ok(());
    }
    let want = if df { DfMode::Set } else { DfMode::Clear };
    if cache.load(Ordering::Relaxed) == want as u8 {
        return Ok(());
    }
    let value = if df {
        libc::IP_PMTUDISC_PROBE
    } else {
        libc::IP_PMTUDISC_DONT
    };
    set_int_option(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, value)?;
    cache.store(want as u8, Ordering::Relaxed);
    Ok(())
}

/// A non-blocking UDP socket on `ip`:4500 that other workers' sockets can share
/// (`SO_REUSEPORT`), with large buffers.
pub(crate) fn bind_nat_t(ip: IpAddr) -> io::Result<std::net::UdpSocket> {
    let addr = SocketAddr::new(ip, NAT_T_PORT);
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if ip.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_port(true)?;
    sock.set_nonblocking(true)?;
    set_buffers(&sock);
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

/// The control plane's non-blocking UDP socket on `ip`:500, with the same large buffers as
/// the data plane's: a flood of forged IKE_SA_INIT requests is answered cheaply, but while
/// the event loop is scheduled out the kernel must hold what arrives, or a real peer's
/// request is dropped with the flood and waits for its retransmission (issue 12, measured
/// with `scripts/bench-hostile.sh`).
pub fn bind_ike(ip: IpAddr) -> io::Result<std::net::UdpSocket> {
    let addr = SocketAddr::new(ip, 500);
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if ip.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    set_buffers(&sock);
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

/// A non-blocking raw socket for ESP (IP protocol 50) on `ip`. On IPv4 what it reads starts
/// with the IP header; the kernel writes the IP header on send.
pub(crate) fn bind_raw_esp(ip: IpAddr) -> io::Result<Socket> {
    let domain = if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_ESP)))?;
    sock.set_nonblocking(true)?;
    set_buffers(&sock);
    sock.bind(&SocketAddr::new(ip, 0).into())?;
    Ok(sock)
}

/// A non-blocking send-only raw socket (`IPPROTO_RAW`: the caller writes the IP header, so
/// DF is per packet; such a socket receives nothing), with a large send buffer.
pub(crate) fn raw_sender(ip: IpAddr) -> io::Result<Socket> {
    let domain = if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))?;
    sock.set_nonblocking(true)?;
    if set_int_option(
        &sock,
        libc::SOL_SOCKET,
        libc::SO_SNDBUFFORCE,
        SOCKET_BUFFER_BYTES as i32,
    )
    .is_err()
    {
        let _ = sock.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    }
    Ok(sock)
}

/// Register a raw socket with the current tokio runtime (call on the worker that will use it).
pub(crate) fn register(sock: Socket) -> io::Result<tokio::io::unix::AsyncFd<Socket>> {
    // SAFETY: `Socket` owns its file descriptor: it stays open and refers to the same socket
    // until the `Socket` is dropped, which happens only when the `AsyncFd` is dropped (or
    // returned by `into_inner`), and `as_raw_fd` always returns that descriptor.
    #[allow(unsafe_code)]
    let fd = unsafe { tokio::io::unix::AsyncFd::register(sock) };
    fd.map_err(io::Error::from)
}

/// What an operator should do about a socket error.
pub(crate) fn explain(action: &str, e: &io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(libc::EADDRNOTAVAIL) => {
            ": the address must be configured on an interface of this host"
        }
        Some(libc::EADDRINUSE) => {
            ": another program (an IKE daemon such as charon?) holds the port; stop it"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            ": straitd needs root or CAP_NET_RAW/CAP_NET_ADMIN"
        }
        _ => "",
    };
    format!("cannot {action}: {e}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_cache_skips_redundant_calls_and_reports_errors() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let cache = AtomicU8::new(DfMode::Unknown as u8);
        set_df(&sock, true, false, &cache).unwrap();
        assert_eq!(cache.load(Ordering::Relaxed), DfMode::Clear as u8);
        set_df(&sock, true, true, &cache).unwrap();
        assert_eq!(cache.load(Ordering::Relaxed), DfMode::Set as u8);
        // IPv6: nothing to do, nothing remembered.
        set_df(&sock, false, false, &cache).unwrap();
        assert_eq!(cache.load(Ordering::Relaxed), DfMode::Set as u8);
        // A bad option on a socket surfaces as an error, not silence.
        assert!(set_int_option(&sock, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, 99).is_err());
    }

    #[test]
    fn reuse_port_lets_every_worker_bind_4500_and_buffers_are_large() {
        // Loopback of this (test) namespace only; a free port is not needed because 4500 is
        // bound with SO_REUSEPORT and released at the end.
        let a = bind_nat_t("127.0.0.1".parse().unwrap());
        let b = bind_nat_t("127.0.0.1".parse().unwrap());
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.local_addr().unwrap().port(), NAT_T_PORT);
                assert_eq!(b.local_addr().unwrap().port(), NAT_T_PORT);
                let rcv = socket2::SockRef::from(&a).recv_buffer_size().unwrap();
                // As root the FORCE option applies (the kernel doubles the value).
                if nix_is_root() {
                    assert!(rcv >= SOCKET_BUFFER_BYTES, "receive buffer {rcv}");
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                // Only acceptable if something outside the test holds 4500 without reuse.
                assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e}");
            }
        }
    }

    fn nix_is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
            })
            .unwrap_or(false)
    }
}
