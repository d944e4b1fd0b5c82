//! A raw IPv4 socket (`SOCK_RAW`, `IPPROTO_RAW`, which implies IP_HDRINCL: raw(7)) that
//! sends packets whose IPv4 header we wrote, so any source address and port can be forged.
//! Needs CAP_NET_RAW. The socket lives in the network namespace of the thread that opens it.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Packets handed to one `sendmmsg` call at most.
pub const BATCH_MAX: usize = 64;

/// A raw socket for complete IPv4 packets.
#[derive(Debug)]
pub struct RawSender {
    fd: OwnedFd,
}

fn sockaddr(dst: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        // With IP_HDRINCL the port here is ignored; the UDP header carries it.
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(dst).to_be(),
        },
        sin_zero: [0; 8],
    }
}

impl RawSender {
    /// Open the socket (in the caller's network namespace).
    #[allow(unsafe_code)]
    pub fn open() -> io::Result<RawSender> {
        // SAFETY: socket(2) takes no pointers; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a descriptor socket(2) just returned to us and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let buf: libc::c_int = 4 << 20;
        // SAFETY: SO_SNDBUF takes an int; the pointer and length describe `buf`, which
        // outlives the call. A failure only leaves the default buffer size.
        let _ = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&buf as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Ok(RawSender { fd })
    }

    /// Send one complete IPv4 packet (header included) towards `dst`.
    #[allow(unsafe_code)]
    pub fn send(&self, packet: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let sa = sockaddr(dst);
        // SAFETY: the buffer pointer/length describe `packet`, the address pointer/length
        // describe `sa`; both outlive the call, and sendto(2) only reads them.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Send up to [`BATCH_MAX`] packets with one `sendmmsg`; returns how many were sent
    /// (fewer when the kernel stops early, e.g. a full send buffer).
    #[allow(unsafe_code)]
    pub fn send_batch(&self, packets: &[Vec<u8>], dst: Ipv4Addr) -> io::Result<usize> {
        let packets = &packets[..packets.len().min(BATCH_MAX)];
        if packets.is_empty() {
            return Ok(0);
        }
        let mut sa = sockaddr(dst);
        let mut iov: Vec<libc::iovec> = packets
            .iter()
            .map(|p| libc::iovec {
                iov_base: p.as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            })
            .collect();
        // SAFETY: mmsghdr is plain old data; all-zero is a valid empty header.
        let mut msgs: Vec<libc::mmsghdr> = (0..packets.len())
            .map(|_| unsafe { std::mem::zeroed() })
            .collect();
        for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
            m.msg_hdr.msg_name = (&mut sa as *mut libc::sockaddr_in).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every msghdr points at `sa` and at one iovec of `iov`, whose buffers are
        // the `packets` slices; all of them outlive the call. The kernel reads the buffers
        // and writes only `msg_len` of each mmsghdr, which we own mutably.
        let n = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}
