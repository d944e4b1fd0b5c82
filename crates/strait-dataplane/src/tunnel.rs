//! One route-based session's tunnel: its VTI, its current SAs and its counters.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, ArcSwapOption};
use esp_proto::Transform;
use ipnet::IpNet;
use tun_rs::AsyncDevice;

use crate::counters::TunnelCounters;
use crate::mss::{default_mss, MssDirection, MssPolicy};
use crate::sa::Outbound;
use crate::sa_set::TunnelSas;
use crate::vti::Vti;

/// The path MTU assumed outside the tunnel: Ethernet's 1500 bytes.
pub const OUTER_MTU: u16 = 1500;

/// Bytes of outer IP and UDP header: IPv4 20 / IPv6 40, plus UDP 8 (RFC 3948 §2.1; the VTI
/// MTU always leaves room for UDP so that a NAT found later changes nothing).
fn outer_headers(outer_ipv6: bool) -> usize {
    if outer_ipv6 {
        40 + 8
    } else {
        20 + 8
    }
}

/// The VTI MTU for a session whose ESP may use any of `transforms`: the largest inner packet
/// whose ESP-in-UDP packet fits in [`OUTER_MTU`] with the most expensive of them (RFC 4303
/// §2: header, IV, padding, trailer, ICV). At least 1280 so that IPv6 works over the VTI.
pub fn vti_mtu(outer_ipv6: bool, transforms: &[Transform]) -> u16 {
    let esp_len = usize::from(OUTER_MTU) - outer_headers(outer_ipv6);
    let worst = transforms
        .iter()
        .map(|t| t.max_inner_len(esp_len))
        .min()
        .unwrap_or(esp_len - 64);
    u16::try_from(worst).unwrap_or(OUTER_MTU).max(1280)
}

/// DF bit of the outer header (NSX `df_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfPolicy {
    /// Copy the inner packet's DF bit (IPv6 inner packets count as DF).
    Copy,
    /// Always clear: the outer packet may be fragmented.
    Clear,
}

/// What the control plane wants a session's tunnel to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSpec {
    /// The session's policy path.
    pub session: String,
    /// The VTI's addresses with prefix, e.g. 169.254.10.1/30.
    pub addresses: Vec<IpNet>,
    /// The VTI MTU (see [`vti_mtu`]).
    pub mtu: u16,
    /// TCP MSS clamping direction.
    pub mss_direction: MssDirection,
    /// Configured MSS; None: derived from the MTU per address family (contract).
    pub mss_value: Option<u16>,
    /// Outer DF bit.
    pub df: DfPolicy,
    /// Kernel routes over the VTI (static routes whose next hop is in its subnet). strait
    /// owns them (protocol [`crate::vti::RTPROT_STRAIT`]): missing ones are added, others of
    /// ours removed, on every [`crate::Dataplane::set_tunnels`].
    pub routes: Vec<crate::vti::VtiRoute>,
}

/// Settings a tunnel can change without being recreated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) mss_v4: MssPolicy,
    pub(crate) mss_v6: MssPolicy,
    pub(crate) df: DfPolicy,
}

impl Settings {
    pub(crate) fn of(spec: &TunnelSpec) -> Settings {
        let policy = |ipv6| MssPolicy {
            direction: spec.mss_direction,
            max_segment_size: spec.mss_value.unwrap_or(default_mss(spec.mtu, ipv6)),
        };
        Settings {
            mss_v4: policy(false),
            mss_v6: policy(true),
            df: spec.df,
        }
    }

    /// The MSS policy for an inner packet (by its IP version).
    pub(crate) fn mss_for(&self, packet: &[u8]) -> MssPolicy {
        match packet.first().map(|b| b >> 4) {
            Some(6) => self.mss_v6,
            _ => self.mss_v4,
        }
    }
}

/// A live tunnel.
pub(crate) struct Tunnel {
    pub(crate) session: String,
    pub(crate) ifname: String,
    /// The VTI's interface index (fixed for the device's life).
    pub(crate) ifindex: u32,
    /// The VTI MTU (a change recreates the tunnel).
    pub(crate) mtu: u16,
    pub(crate) spec: Mutex<TunnelSpec>,
    pub(crate) settings: ArcSwap<Settings>,
    /// The TUN queues: one per worker (each registered with that worker's runtime), or, for
    /// a tunnel made when the gateway already had many (see `maker`), one queue, read by
    /// worker `owner` and written by whichever worker decrypts for it.
    pub(crate) queues: Vec<Arc<AsyncDevice>>,
    /// The worker that reads a one-queue tunnel's VTI.
    pub(crate) owner: usize,
    /// The SA packets are sent on, as chosen by `sas` (published for lock-free reads by the
    /// workers; written only under the `sas` lock).
    pub(crate) outbound: ArcSwapOption<Outbound>,
    /// Every installed Child SA of the tunnel (see `sa_set`).
    pub(crate) sas: Mutex<TunnelSas<Outbound>>,
    /// The inbound SPIs this tunnel has in the shared inbound map (changed only under the
    /// data plane's write lock), so that reading one tunnel's state costs O(its SAs), not
    /// O(every SA of the gateway).
    pub(crate) inbound_spis: Mutex<BTreeSet<u32>>,
    pub(crate) counters: TunnelCounters,
    pub(crate) vti: tokio::sync::Mutex<Option<Vti>>,
    pub(crate) closed: AtomicBool,
}

impl Tunnel {
    /// The queue worker `worker` reads from (None: it reads none of this tunnel's).
    pub(crate) fn read_queue(&self, worker: usize) -> Option<&Arc<AsyncDevice>> {
        if self.queues.len() == 1 {
            return (worker == self.owner)
                .then(|| self.queues.first())
                .flatten();
        }
        self.queues.get(worker)
    }

    /// The queue worker `worker` writes decrypted packets to: its own, or the only one.
    pub(crate) fn write_queue(&self, worker: usize) -> Option<&Arc<AsyncDevice>> {
        self.queues.get(worker).or_else(|| self.queues.first())
    }

    pub(crate) fn spec_mtu(&self) -> u16 {
        self.mtu
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub(crate) fn sas(&self) -> std::sync::MutexGuard<'_, TunnelSas<Outbound>> {
        self.sas.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the SA set and publish its sender to the workers (under the lock, so that
    /// concurrent changes publish in order).
    pub(crate) fn with_sas<T>(&self, f: impl FnOnce(&mut TunnelSas<Outbound>) -> T) -> T {
        let mut sas = self.sas();
        let r = f(&mut sas);
        let sender = sas.sender().map(|e| e.sa.clone());
        let current = self.outbound.load();
        let same = match (current.as_ref(), sender.as_ref()) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.outbound.store(sender);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use esp_proto::Integrity;

    #[test]
    fn mtu_leaves_room_for_the_costliest_transform() {
        let gcm = Transform::AesGcm16 { key_bits: 128 };
        // 1500 - 20 - 8 = 1472 bytes of ESP: 1472 - 8 (SPI, seq) - 8 (IV) - 16 (ICV) = 1440
        // for payload, pad length and next header, in 4-byte blocks: 1438 inner.
        assert_eq!(vti_mtu(false, &[gcm]), 1438);
        assert_eq!(vti_mtu(true, &[gcm]), 1418);
        let cbc = Transform::AesCbc {
            key_bits: 256,
            integ: Integrity::HmacSha512_256,
        };
        let both = vti_mtu(false, &[gcm, cbc]);
        assert!(both < 1438, "{both}");
        assert!(cbc.overhead(usize::from(both)) + usize::from(both) <= 1472);
        assert!(vti_mtu(false, &[]) >= 1280);
    }

    #[test]
    fn mss_defaults_per_address_family() {
        let spec = TunnelSpec {
            session: "s".into(),
            addresses: vec![],
            mtu: 1438,
            mss_direction: MssDirection::Both,
            mss_value: None,
            df: DfPolicy::Copy,
            routes: vec![],
        };
        let s = Settings::of(&spec);
        assert_eq!(s.mss_for(&[0x45]).max_segment_size, 1398);
        assert_eq!(s.mss_for(&[0x60]).max_segment_size, 1378);
        let s = Settings::of(&TunnelSpec {
            mss_value: Some(1200),
            ..spec
        });
        assert_eq!(s.mss_for(&[0x60]).max_segment_size, 1200);
    }
}
