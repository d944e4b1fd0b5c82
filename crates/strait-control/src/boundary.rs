//! The control plane's two narrow interfaces to the outside: the data plane and the IKE
//! sockets. straitd plugs in the real ones ([`strait_dataplane::Dataplane`] and
//! [`crate::sockets::UdpSockets`]); the whole-gateway simulation (`tests/sim`) plugs in
//! in-memory ones on virtual time, so that the same [`crate::Gateway`] runs in both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::IpAddr;

use ike_proto::Transmit;
use strait_dataplane::{
    CounterSnapshot, Dataplane, DataplaneError, SaInstall, TunnelOutcome, TunnelSaState, TunnelSpec,
};

/// What the control plane asks of the data plane.
pub trait DataplaneApi: Send + Sync + 'static {
    /// Make the tunnels (VTIs) match `specs`: per session, updated (its interface name),
    /// being made (reported later to [`crate::Gateway::handle_tunnel_made`]), or the error.
    fn set_tunnels(
        &self,
        specs: Vec<TunnelSpec>,
    ) -> impl Future<Output = HashMap<String, TunnelOutcome>> + Send;
    /// Update or make the tunnels of `upserts` (as `set_tunnels`) and remove those of
    /// `removals`, leaving the others as they are.
    fn update_tunnels(
        &self,
        upserts: Vec<TunnelSpec>,
        removals: Vec<String>,
    ) -> impl Future<Output = HashMap<String, TunnelOutcome>> + Send;
    /// Install a Child SA negotiated by IKE (both directions).
    fn install(&self, sa: SaInstall) -> impl Future<Output = Result<(), DataplaneError>> + Send;
    /// Stop sending on a Child SA IKE is deleting (its inbound half stays).
    fn retire(&self, session: &str, spi_in: u32);
    /// Remove a Child SA that IKE deleted.
    fn remove(&self, session: &str, spi_in: u32, spi_out: u32);
    /// A session's traffic counters (None: no tunnel).
    fn counters(&self, session: &str) -> Option<CounterSnapshot>;
    /// Zero a session's counters; false if it has no tunnel.
    fn reset_counters(&self, session: &str) -> bool;
    /// A session's VTI name.
    fn interface_name(&self, session: &str) -> Option<String>;
    /// A session's Child SAs as the data plane holds them (None: no tunnel).
    fn sa_state(&self, session: &str) -> Option<TunnelSaState>;
    /// Sessions that have a tunnel, sorted.
    fn tunnel_sessions(&self) -> Vec<String>;
}

impl DataplaneApi for Dataplane {
    fn set_tunnels(
        &self,
        specs: Vec<TunnelSpec>,
    ) -> impl Future<Output = HashMap<String, TunnelOutcome>> + Send {
        Dataplane::set_tunnels(self, specs)
    }

    fn update_tunnels(
        &self,
        upserts: Vec<TunnelSpec>,
        removals: Vec<String>,
    ) -> impl Future<Output = HashMap<String, TunnelOutcome>> + Send {
        Dataplane::update_tunnels(self, upserts, removals)
    }

    fn install(&self, sa: SaInstall) -> impl Future<Output = Result<(), DataplaneError>> + Send {
        Dataplane::install(self, sa)
    }

    fn retire(&self, session: &str, spi_in: u32) {
        Dataplane::retire(self, session, spi_in)
    }

    fn remove(&self, session: &str, spi_in: u32, spi_out: u32) {
        Dataplane::remove(self, session, spi_in, spi_out)
    }

    fn counters(&self, session: &str) -> Option<CounterSnapshot> {
        Dataplane::counters(self, session)
    }

    fn reset_counters(&self, session: &str) -> bool {
        Dataplane::reset_counters(self, session)
    }

    fn interface_name(&self, session: &str) -> Option<String> {
        Dataplane::interface_name(self, session)
    }

    fn sa_state(&self, session: &str) -> Option<TunnelSaState> {
        Dataplane::sa_state(self, session)
    }

    fn tunnel_sessions(&self) -> Vec<String> {
        Dataplane::tunnel_sessions(self)
    }
}

/// Where IKE datagrams are received and sent (UDP 500 and 4500 on each local address).
pub trait IkeSockets: Send {
    /// Listen on every address of `want` (already open ones stay). Addresses that cannot be
    /// bound are reported by [`IkeSockets::failed`] and tried again on the next call.
    fn open(&mut self, want: &BTreeSet<IpAddr>) -> impl Future<Output = ()> + Send;
    /// Stop listening on the addresses not in `want` (called after the Deletes sent from
    /// them left). Returns once they are really closed, so they can be bound again at once.
    fn close_others(&mut self, want: &BTreeSet<IpAddr>) -> impl Future<Output = ()> + Send;
    /// Addresses that could not be bound, with the error in the operator's terms.
    fn failed(&self) -> &BTreeMap<IpAddr, String>;
    /// Send a datagram (best effort: IKE retransmits).
    fn send(&self, t: &Transmit) -> impl Future<Output = ()> + Send;
    /// Datagrams received but dropped before the protocol saw them (a sender's receive queue
    /// was full: a flood) since the last call.
    fn take_receive_drops(&mut self) -> u64 {
        0
    }
}
