//! A data plane without TUN devices or sockets, for the whole-gateway simulation: tunnels
//! hold their Child SAs in the real `TunnelSas` (the logic that chooses the SA packets leave
//! on), and packets are really encrypted and decrypted by esp-proto, so "traffic injected at
//! one VTI comes out of the other" means exactly what it means in straitd.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use esp_proto::{InboundSa, OutboundSa};
use strait_control::DataplaneApi;
use strait_dataplane::sa_set::TunnelSas;
use strait_dataplane::{
    ChildSaState, CounterSnapshot, DataplaneError, SaInstall, TunnelMade, TunnelOutcome,
    TunnelSaState, TunnelSpec,
};

/// As straitd's defaults (`DataplaneConfig`).
pub const INBOUND_LINGER: Duration = Duration::from_secs(3);
pub const PROMOTE_AFTER: Duration = Duration::from_secs(3);
const REPLAY_WINDOW: u32 = 4096;

pub struct SimOutbound {
    sa: OutboundSa,
    local: SocketAddr,
    remote: SocketAddr,
}

struct SimInbound {
    session: String,
    sa: InboundSa,
    /// Removed by IKE: decrypts until then (make-before-break).
    linger_until: Option<Instant>,
}

struct SimTunnel {
    spec: TunnelSpec,
    sas: TunnelSas<SimOutbound>,
    counters: CounterSnapshot,
}

#[derive(Default)]
struct Inner {
    now: Option<Instant>,
    tunnels: BTreeMap<String, SimTunnel>,
    inbound: BTreeMap<u32, SimInbound>,
    /// Tunnels to make, as straitd's tunnel maker queues them: per session the generation
    /// of the request that counts and its spec; requests in order.
    wanted: BTreeMap<String, (u64, TunnelSpec)>,
    order: std::collections::VecDeque<(String, u64)>,
    last_generation: u64,
    /// Requests queued since the world last asked (it schedules one make for each).
    new_requests: usize,
    /// Child SAs installed so far, and when (as that count) each inbound SPI was: what a
    /// datagram sent now proves the gateway could already receive on.
    installs: u64,
    installed_at: HashMap<u32, u64>,
    /// SAs installed as the exchange's initiator, not yet checked by the world:
    /// (session, outbound SPI, peer address).
    initiated: Vec<(String, u32, std::net::IpAddr)>,
}

/// The simulated data plane of one gateway.
#[derive(Default)]
pub struct SimDataplane {
    inner: Mutex<Inner>,
}

/// An ESP packet to put on the wire.
pub struct EspOut {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Vec<u8>,
}

impl SimDataplane {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The virtual time of the calls that follow.
    pub fn set_now(&self, now: Instant) {
        self.lock().now = Some(now);
    }

    fn now(inner: &Inner) -> Instant {
        inner.now.expect("the simulation sets the time first")
    }

    /// Timers: rekey-responder waits and inbound linger.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let inner = self.lock();
        let a = inner.tunnels.values().filter_map(|t| t.sas.poll_timeout());
        let b = inner.inbound.values().filter_map(|i| i.linger_until);
        a.chain(b).min()
    }

    pub fn handle_timeout(&self, now: Instant) {
        let mut inner = self.lock();
        inner.now = Some(now);
        for t in inner.tunnels.values_mut() {
            t.sas.handle_timeout(now);
        }
        inner
            .inbound
            .retain(|_, i| i.linger_until.is_none_or(|t| t > now));
    }

    /// A packet routed into `session`'s VTI: encrypted on the tunnel's sender, or None (no
    /// SA: counted as dropped, as straitd counts `nomatching_policy_errors`).
    pub fn send_from_vti(&self, session: &str, inner_packet: &[u8]) -> Option<EspOut> {
        let mut inner = self.lock();
        let t = inner.tunnels.get_mut(session)?;
        let Some(sender) = t.sas.sender() else {
            t.counters.dropped_packets_out += 1;
            t.counters.nomatching_policy_errors += 1;
            return None;
        };
        let out = sender.sa.clone();
        let headroom = out.sa.header_len();
        let mut buf =
            vec![0u8; headroom + inner_packet.len() + out.sa.trailer_len(inner_packet.len())];
        buf[headroom..headroom + inner_packet.len()].copy_from_slice(inner_packet);
        let range = out
            .sa
            .encapsulate(&mut buf, headroom, inner_packet.len(), 4)
            .expect("the simulated packet fits");
        t.counters.packets_out += 1;
        t.counters.bytes_out += inner_packet.len() as u64;
        Some(EspOut {
            local: out.local,
            remote: out.remote,
            data: buf[range].to_vec(),
        })
    }

    /// An ESP packet from the wire: the session it came out of and the inner packet, or
    /// None (unknown SPI, integrity, replay).
    pub fn receive_esp(&self, packet: &[u8]) -> Option<(String, Vec<u8>)> {
        let mut inner = self.lock();
        let spi = esp_proto::spi_of(packet)?;
        let mut data = packet.to_vec();
        let inb = inner.inbound.get_mut(&spi)?;
        let (_next, range) = inb.sa.decapsulate(&mut data).ok()?;
        let session = inb.session.clone();
        let t = inner.tunnels.get_mut(&session)?;
        t.sas.peer_used(spi);
        t.counters.packets_in += 1;
        t.counters.bytes_in += range.len() as u64;
        Some((session, data[range].to_vec()))
    }

    /// Fault injection (tests of the repairs): forget the outbound half of the SA
    /// `session` sends on without telling anyone, as a data-plane bug would.
    pub fn lose_sender(&self, session: &str) -> Option<u32> {
        let mut inner = self.lock();
        let t = inner.tunnels.get_mut(session)?;
        let spi = t.sas.sender()?.spi_in;
        t.sas.remove(spi);
        Some(spi)
    }

    /// How many Child SAs this data plane has installed (stamped on the datagrams its
    /// gateway sends).
    pub fn installs(&self) -> u64 {
        self.lock().installs
    }

    /// When (as a count of installs) inbound SPI `spi` was installed, if ever.
    pub fn installed_at(&self, spi: u32) -> Option<u64> {
        self.lock().installed_at.get(&spi).copied()
    }

    /// The SAs installed as initiator since the last call: (session, outbound SPI, peer).
    pub fn take_initiated(&self) -> Vec<(String, u32, std::net::IpAddr)> {
        std::mem::take(&mut self.lock().initiated)
    }

    /// Each tunnel's sending SA: session → (outbound SPI, peer address).
    pub fn senders(&self) -> BTreeMap<String, (u32, std::net::IpAddr)> {
        self.lock()
            .tunnels
            .iter()
            .filter_map(|(s, t)| {
                let e = t.sas.sender()?;
                Some((s.clone(), (e.spi_out, e.sa.remote.ip())))
            })
            .collect()
    }

    /// The outbound SPIs of every installed SA.
    pub fn outbound_spis(&self) -> BTreeSet<u32> {
        self.lock()
            .tunnels
            .values()
            .flat_map(|t| t.sas.entries().map(|e| e.spi_out))
            .collect()
    }

    pub fn has_sender(&self, session: &str) -> bool {
        self.lock()
            .tunnels
            .get(session)
            .is_some_and(|t| t.sas.sender().is_some())
    }

    /// Give an existing tunnel the new spec, or queue it to be made (as straitd's tunnel
    /// maker: a queued request with another spec is replaced).
    fn update_or_request(inner: &mut Inner, spec: TunnelSpec) -> TunnelOutcome {
        let name = strait_dataplane::vti::vti_name(&spec.session);
        if let Some(t) = inner.tunnels.get_mut(&spec.session) {
            t.spec = spec;
            return TunnelOutcome::Ready(name);
        }
        if inner
            .wanted
            .get(&spec.session)
            .is_some_and(|(_, s)| *s == spec)
        {
            return TunnelOutcome::Pending;
        }
        inner.last_generation += 1;
        let generation = inner.last_generation;
        inner.order.push_back((spec.session.clone(), generation));
        inner
            .wanted
            .insert(spec.session.clone(), (generation, spec));
        inner.new_requests += 1;
        TunnelOutcome::Pending
    }

    /// How many tunnels were asked for since the last call.
    pub fn take_new_requests(&self) -> usize {
        std::mem::take(&mut self.lock().new_requests)
    }

    /// Make the oldest requested tunnel that still counts (None: none does); the report
    /// straitd's maker would send.
    pub fn make_next(&self) -> Option<TunnelMade> {
        let mut inner = self.lock();
        while let Some((session, generation)) = inner.order.pop_front() {
            if inner
                .wanted
                .get(&session)
                .is_some_and(|(g, _)| *g == generation)
            {
                let (_, spec) = inner.wanted.remove(&session).expect("just seen");
                let name = strait_dataplane::vti::vti_name(&spec.session);
                inner.tunnels.insert(
                    session.clone(),
                    SimTunnel {
                        spec,
                        sas: TunnelSas::default(),
                        counters: CounterSnapshot::default(),
                    },
                );
                return Some(TunnelMade {
                    session,
                    result: Ok(name),
                });
            }
        }
        None
    }

    fn drop_tunnel(inner: &mut Inner, session: &str) {
        inner.tunnels.remove(session);
        inner.inbound.retain(|_, i| i.session != session);
    }
}

impl DataplaneApi for SimDataplane {
    async fn set_tunnels(&self, specs: Vec<TunnelSpec>) -> HashMap<String, TunnelOutcome> {
        let mut inner = self.lock();
        let wanted: BTreeMap<String, TunnelSpec> =
            specs.into_iter().map(|s| (s.session.clone(), s)).collect();
        inner.wanted.retain(|s, _| wanted.contains_key(s));
        let current: Vec<(String, u16)> = inner
            .tunnels
            .iter()
            .map(|(k, t)| (k.clone(), t.spec.mtu))
            .collect();
        // As straitd: tunnels no longer wanted, or whose MTU changed, are removed (and
        // made again) with their SAs.
        for (session, mtu) in current {
            if wanted.get(&session).is_none_or(|w| w.mtu != mtu) {
                Self::drop_tunnel(&mut inner, &session);
            }
        }
        let mut out = HashMap::new();
        for (session, spec) in wanted {
            let outcome = Self::update_or_request(&mut inner, spec);
            out.insert(session, outcome);
        }
        out
    }

    async fn update_tunnels(
        &self,
        upserts: Vec<TunnelSpec>,
        removals: Vec<String>,
    ) -> HashMap<String, TunnelOutcome> {
        let mut inner = self.lock();
        for session in &removals {
            inner.wanted.remove(session);
            Self::drop_tunnel(&mut inner, session);
        }
        let mut out = HashMap::new();
        for spec in upserts {
            // As straitd: a new MTU means a new tunnel, without the old one's SAs.
            if inner
                .tunnels
                .get(&spec.session)
                .is_some_and(|t| t.spec.mtu != spec.mtu)
            {
                Self::drop_tunnel(&mut inner, &spec.session);
            }
            let session = spec.session.clone();
            let outcome = Self::update_or_request(&mut inner, spec);
            out.insert(session, outcome);
        }
        out
    }

    async fn install(&self, sa: SaInstall) -> Result<(), DataplaneError> {
        let mut inner = self.lock();
        let now = Self::now(&inner);
        let (outbound, inbound) =
            sa.build(REPLAY_WINDOW)
                .map_err(|source| DataplaneError::BadSa {
                    session: sa.session.clone(),
                    source,
                })?;
        let t = inner
            .tunnels
            .get_mut(&sa.session)
            .ok_or_else(|| DataplaneError::NoTunnel(sa.session.clone()))?;
        t.sas
            .install(
                sa.spi_in,
                sa.spi_out,
                Arc::new(SimOutbound {
                    sa: outbound,
                    local: sa.local,
                    remote: sa.remote,
                }),
                sa.initiator,
                now,
                PROMOTE_AFTER,
            )
            .map_err(|source| DataplaneError::Refused {
                session: sa.session.clone(),
                source,
            })?;
        inner.inbound.insert(
            sa.spi_in,
            SimInbound {
                session: sa.session.clone(),
                sa: inbound,
                linger_until: None,
            },
        );
        inner.installs += 1;
        let seq = inner.installs;
        inner.installed_at.insert(sa.spi_in, seq);
        if sa.initiator {
            inner
                .initiated
                .push((sa.session.clone(), sa.spi_out, sa.remote.ip()));
        }
        Ok(())
    }

    fn retire(&self, session: &str, spi_in: u32) {
        if let Some(t) = self.lock().tunnels.get_mut(session) {
            t.sas.remove(spi_in);
        }
    }

    fn remove(&self, session: &str, spi_in: u32, _spi_out: u32) {
        let mut inner = self.lock();
        let now = Self::now(&inner);
        if let Some(t) = inner.tunnels.get_mut(session) {
            t.sas.remove(spi_in);
        }
        if let Some(i) = inner.inbound.get_mut(&spi_in) {
            if i.session == session {
                i.linger_until = Some(now + INBOUND_LINGER);
            }
        }
    }

    fn counters(&self, session: &str) -> Option<CounterSnapshot> {
        self.lock().tunnels.get(session).map(|t| t.counters)
    }

    fn reset_counters(&self, session: &str) -> bool {
        match self.lock().tunnels.get_mut(session) {
            Some(t) => {
                t.counters = CounterSnapshot::default();
                true
            }
            None => false,
        }
    }

    fn interface_name(&self, session: &str) -> Option<String> {
        let inner = self.lock();
        inner
            .tunnels
            .contains_key(session)
            .then(|| strait_dataplane::vti::vti_name(session))
    }

    fn sa_state(&self, session: &str) -> Option<TunnelSaState> {
        let inner = self.lock();
        let t = inner.tunnels.get(session)?;
        let view = t.sas.view();
        Some(TunnelSaState {
            child_sas: view
                .sas
                .iter()
                .map(|&(spi_in, spi_out, peer_has_it)| ChildSaState {
                    spi_in,
                    spi_out,
                    inbound: inner
                        .inbound
                        .get(&spi_in)
                        .is_some_and(|i| i.session == session && i.linger_until.is_none()),
                    peer_has_it,
                })
                .collect(),
            sender: view.sender,
            sender_published: view.sender.is_some(),
            inbound_only: inner
                .inbound
                .iter()
                .filter(|(spi, i)| {
                    i.session == session
                        && i.linger_until.is_none()
                        && !view.sas.iter().any(|s| s.0 == **spi)
                })
                .map(|(spi, _)| *spi)
                .collect(),
        })
    }

    fn tunnel_sessions(&self) -> Vec<String> {
        self.lock().tunnels.keys().cloned().collect()
    }
}
