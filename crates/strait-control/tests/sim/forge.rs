//! Forged IKE_SA_INIT requests in the simulation (issue 12's attacks, on virtual time): an
//! attacker on the path saw a gateway's last request and sends variants of it to another
//! gateway, from a source port the real peer does not use.

use std::net::SocketAddr;

use ike_proto::Transmit;

use super::{Packet, World};

/// What a forged IKE_SA_INIT looks like.
#[derive(Debug, Clone, Copy)]
pub enum Forgery {
    /// The captured request, unchanged (a replay), from another source port.
    Replay,
    /// A fresh initiator SPI (a new half-open SA, if admitted).
    FreshSpi,
    /// Transform ids nobody implements (NO_PROPOSAL_CHOSEN).
    BadProposal,
    /// An all-zero KE (invalid DH public value).
    ZeroKe,
}

impl World {
    pub(super) fn forge(&mut self, from: usize, to: usize, kind: Forgery) {
        let Some(t) = self.captured_init[from].clone() else {
            return;
        };
        let marker = t.local.port() == 4500;
        let body = if marker { &t.data[4..] } else { &t.data[..] };
        let Ok(mut m) = ike_wire::Message::parse(body) else {
            return;
        };
        let spi = self.rng.below(u64::MAX).to_be_bytes();
        match kind {
            Forgery::Replay => {}
            Forgery::FreshSpi => m.header.spi_i = spi,
            Forgery::BadProposal => {
                m.header.spi_i = spi;
                for p in &mut m.payloads {
                    if let ike_wire::Payload::Sa(props) = p {
                        for t in props.iter_mut().flat_map(|p| p.transforms.iter_mut()) {
                            t.id = 700 + t.id % 50;
                        }
                    }
                }
            }
            Forgery::ZeroKe => {
                m.header.spi_i = spi;
                for p in &mut m.payloads {
                    if let ike_wire::Payload::Ke { data, .. } = p {
                        data.iter_mut().for_each(|b| *b = 0);
                    }
                }
            }
        }
        let mut data = if marker { vec![0; 4] } else { Vec::new() };
        data.extend_from_slice(&m.emit());
        // From a port the real peer does not use: the forgery is not a retransmission.
        let local = SocketAddr::new(t.local.ip(), 40_000 + self.rng.below(20_000) as u16);
        self.note(("forge", from, to, format!("{kind:?}")));
        self.forged += 1;
        self.deliver(
            to,
            Packet::Ike(
                Transmit {
                    local,
                    remote: t.remote,
                    data,
                },
                None,
            ),
        );
    }
}
