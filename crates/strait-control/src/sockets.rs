//! The real IKE sockets: UDP 500 owned here (one reader task per address), UDP 4500 owned by
//! the data plane (ESP arrives there too). IKE from both goes into one
//! [`strait_dataplane::IkeInbox`], bounded and fair per sender, that the runtime serves.

use std::collections::{btree_map, BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ike_proto::Transmit;
use strait_dataplane::{Dataplane, IkeInbox};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::boundary::IkeSockets;

/// Largest datagram read.
const DATAGRAM_MAX: usize = 65_535;

/// A socket IKE is sent from.
enum IkeSocket {
    /// Port 500, owned here.
    Own(Arc<UdpSocket>),
    /// Port 4500, owned by the data plane (ESP arrives there too); a non-blocking duplicate.
    Shared(std::net::UdpSocket),
}

impl IkeSocket {
    async fn send_to(&self, data: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        match self {
            IkeSocket::Own(s) => s.send_to(data, to).await,
            // A full send buffer drops the message; IKE retransmits.
            IkeSocket::Shared(s) => s.send_to(data, to),
        }
    }
}

/// UDP 500 and 4500 on every local endpoint address.
pub struct UdpSockets {
    dataplane: Arc<Dataplane>,
    inbox: Arc<IkeInbox>,
    /// (local ip, port) → socket.
    by_addr: BTreeMap<SocketAddr, IkeSocket>,
    readers: BTreeMap<SocketAddr, JoinHandle<()>>,
    /// Addresses that could not be bound, with the error.
    failed: BTreeMap<IpAddr, String>,
}

impl UdpSockets {
    /// Sockets whose port-500 datagrams go to `inbox` (the data plane's, where port 4500's
    /// go).
    pub fn new(dataplane: Arc<Dataplane>, inbox: Arc<IkeInbox>) -> UdpSockets {
        UdpSockets {
            dataplane,
            inbox,
            by_addr: BTreeMap::new(),
            readers: BTreeMap::new(),
            failed: BTreeMap::new(),
        }
    }
}

impl IkeSockets for UdpSockets {
    async fn open(&mut self, want: &BTreeSet<IpAddr>) {
        for ip in want {
            let mut first_error = None;
            let ike = SocketAddr::new(*ip, 500);
            if let btree_map::Entry::Vacant(slot) = self.by_addr.entry(ike) {
                let bound = strait_dataplane::bind_ike(*ip).and_then(UdpSocket::from_std);
                match bound {
                    Ok(sock) => {
                        let sock = Arc::new(sock);
                        let reader = tokio::spawn(read_loop(sock.clone(), ike, self.inbox.clone()));
                        slot.insert(IkeSocket::Own(sock));
                        self.readers.insert(ike, reader);
                        tracing::info!(addr = %ike, "IKE listening");
                    }
                    Err(e) => {
                        tracing::warn!(addr = %ike, error = %e, "cannot listen for IKE");
                        first_error.get_or_insert_with(|| format!("cannot listen on {ike}: {e}"));
                    }
                }
            }
            let nat_t = SocketAddr::new(*ip, strait_dataplane::NAT_T_PORT);
            if let btree_map::Entry::Vacant(slot) = self.by_addr.entry(nat_t) {
                match self.dataplane.open_port(*ip).await {
                    Ok(sock) => {
                        slot.insert(IkeSocket::Shared(sock));
                    }
                    Err(e) => {
                        tracing::warn!(addr = %nat_t, error = %e, "cannot listen for IKE and ESP");
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            match first_error {
                Some(e) => {
                    self.failed.insert(*ip, e);
                }
                None => {
                    self.failed.remove(ip);
                }
            }
        }
    }

    async fn close_others(&mut self, want: &BTreeSet<IpAddr>) {
        let stale: Vec<SocketAddr> = self
            .by_addr
            .keys()
            .filter(|a| !want.contains(&a.ip()))
            .copied()
            .collect();
        for a in stale {
            if let Some(IkeSocket::Shared(_)) = self.by_addr.remove(&a) {
                self.dataplane.close_port(a.ip());
            }
            if let Some(r) = self.readers.remove(&a) {
                r.abort();
                // Cancelled, as asked: the task and its socket are gone, so the address can
                // be bound again right away (a session disabled and enabled at once).
                let _ = r.await;
            }
        }
        self.failed.retain(|ip, _| want.contains(ip));
    }

    fn failed(&self) -> &BTreeMap<IpAddr, String> {
        &self.failed
    }

    fn take_receive_drops(&mut self) -> u64 {
        self.inbox.take_dropped()
    }

    async fn send(&self, t: &Transmit) {
        match self.by_addr.get(&t.local) {
            Some(sock) => {
                if let Err(e) = sock.send_to(&t.data, t.remote).await {
                    tracing::debug!(local = %t.local, remote = %t.remote, error = %e, "send failed");
                }
            }
            None => tracing::debug!(local = %t.local, "no socket for this local address"),
        }
    }
}

async fn read_loop(sock: Arc<UdpSocket>, local: SocketAddr, inbox: Arc<IkeInbox>) {
    let mut buf = vec![0u8; DATAGRAM_MAX];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, remote)) => {
                // A sender's full queue drops its datagram: IKE retransmits, and a flood
                // grows no memory and delays nobody else (the inbox serves senders in turn).
                inbox.push(local, remote, buf.get(..n).unwrap_or_default(), 0);
            }
            Err(e) => {
                tracing::debug!(%local, error = %e, "receive error");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
