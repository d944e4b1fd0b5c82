//! "Make before break", seen from the wire (RFC 7296 §2.8, §1.3): a gateway starts sending
//! on a Child SA only once its peer can receive on it. The peer proves that by a datagram
//! it sent after installing the SA: the rekey initiator's Delete of the old SA, the
//! responder's CREATE_CHILD_SA or IKE_AUTH response. A gateway that sends such a message
//! before its data plane holds the new inbound SA loses the packets the other side sends
//! on it at once (seen with strongSwan: a few "SA mismatch" drops per rekey under load).
//!
//! Every datagram carries a [`Stamp`]: its sender's data-plane install count when it was
//! sent. The world remembers, per (receiver, sender), the newest stamp the receiver has
//! heard; when the receiver then switches to sending on an SA (installs one as initiator,
//! or its sender moves to a newer SA), that SA's inbound half must be older than the stamp.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::SimGateway;

/// What a datagram proves about its sender's data plane.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub from: usize,
    /// The sender's incarnation (a restarted gateway has a new data plane).
    pub starts: u64,
    /// Its data plane's install count when the datagram left.
    pub installs: u64,
}

#[derive(Default)]
pub struct Causality {
    /// (receiver, sender) → (sender's incarnation, newest install count heard).
    heard: BTreeMap<(usize, usize), (u64, u64)>,
    pub violations: Vec<String>,
}

impl Causality {
    /// Gateway `to` received a datagram stamped `stamp`.
    pub fn heard(&mut self, to: usize, stamp: Stamp) {
        let e = self
            .heard
            .entry((to, stamp.from))
            .or_insert((stamp.starts, 0));
        if stamp.starts > e.0 {
            *e = (stamp.starts, stamp.installs);
        } else if stamp.starts == e.0 {
            e.1 = e.1.max(stamp.installs);
        }
    }

    /// Gateway `k` now sends on `session`'s SA with outbound SPI `spi` to `peer` (`why`:
    /// what made it). Records a violation unless `k` heard from the peer after the peer's
    /// data plane installed that SA.
    pub fn sends_on(
        &mut self,
        gws: &[SimGateway],
        k: usize,
        session: &str,
        spi: u32,
        peer: IpAddr,
        why: &str,
    ) {
        let Some(p) = gws.iter().position(|g| g.addr == peer) else {
            return;
        };
        let g = &gws[p];
        if g.gw.is_none() {
            return;
        }
        let heard = self.heard.get(&(k, p)).copied();
        match (g.dp.installed_at(spi), heard) {
            (Some(at), Some((starts, installs))) if starts == g.starts && at <= installs => {}
            // An SA of an earlier incarnation of the peer (it restarted since): its
            // data plane is gone, nothing to check against.
            (None, Some((starts, _))) if starts != g.starts => {}
            (at, heard) => self.violations.push(format!(
                "gateway {} sends on {session} with SPI {spi:08x} ({why}), but gateway {} \
                 had not installed it when it last sent to {} (installed at {at:?}, heard \
                 {heard:?})",
                gws[k].name, g.name, gws[k].name
            )),
        }
    }
}
