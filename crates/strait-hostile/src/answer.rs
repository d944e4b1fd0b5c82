//! Reading a gateway's answers to forged requests (in the namespace that owns the forged
//! source address, with a UDP socket bound to it).

use std::io;
use std::net::{SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use ike_wire::{Header, Message, NotifyType, Payload};

/// An answer as the tests look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The raw datagram.
    pub bytes: Vec<u8>,
    /// The header (parsed even when the payloads are not).
    pub header: Option<Header>,
    /// Notify types and data, in order (empty when the message does not parse).
    pub notifies: Vec<(NotifyType, Vec<u8>)>,
}

impl Answer {
    /// Decode a datagram.
    pub fn parse(bytes: &[u8]) -> Answer {
        let notifies = Message::parse(bytes)
            .map(|m| {
                m.payloads
                    .into_iter()
                    .filter_map(|p| match p {
                        Payload::Notify(n) => Some((n.notify_type, n.data)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Answer {
            bytes: bytes.to_vec(),
            header: Header::parse(bytes).ok(),
            notifies,
        }
    }

    /// The data of the first notify of type `t`.
    pub fn notify(&self, t: NotifyType) -> Option<&[u8]> {
        self.notifies
            .iter()
            .find(|(n, _)| *n == t)
            .map(|(_, d)| d.as_slice())
    }

    /// The initiator SPI the answer is for.
    pub fn spi_i(&self) -> Option<u64> {
        self.header.map(|h| u64::from_be_bytes(h.spi_i))
    }
}

/// A UDP socket bound to `addr` (in the calling thread's namespace).
pub fn listen(addr: SocketAddrV4) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind(addr)?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(s)
}

/// Every datagram arriving on `socket` within `window`.
pub fn collect(socket: &UdpSocket, window: Duration) -> Vec<Answer> {
    let end = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < end {
        match socket.recv(&mut buf) {
            Ok(n) => out.push(Answer::parse(&buf[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    out
}
