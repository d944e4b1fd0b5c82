//! strait's data plane: for each route-based session a TUN-backed virtual tunnel interface
//! (VTI) whose routes decide what crosses the tunnel, userspace ESP (RFC 4303, `esp-proto`)
//! over UDP 4500 (RFC 3948) or IP protocol 50, TCP MSS clamping and per-tunnel counters.
//!
//! The control plane drives it: [`Dataplane::set_tunnels`] on every configuration change
//! (new tunnels are made in the background and reported on [`DataplaneEvents::tunnels`]),
//! [`Dataplane::install`] / [`Dataplane::remove`] as IKE negotiates and deletes Child SAs,
//! [`Dataplane::open_port`] for each local endpoint address (the data plane owns UDP 4500 and
//! hands IKE messages that arrive there back through [`DataplaneEvents::ike`]).
//!
//! Packets never go through the control plane: see `worker` for the two loops.
#![deny(unsafe_code)]
// `unsafe` lives only in `socket` (FFI socket options); every block argues its safety.
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
// Wire and API input reach this crate: no panics by construction (issue 12).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod counters;
pub mod ike_inbox;
mod maker;
pub mod mss;
pub mod peer_index;
mod raw;
pub mod sa;
pub mod sa_set;
mod socket;
pub mod tunnel;
pub mod vti;
mod worker;

pub use maker::{TunnelMade, TunnelOutcome};

/// Parsers of wire bytes, exposed for the fuzz targets.
#[doc(hidden)]
pub mod fuzzing {
    /// Strip the outer IPv4 header a raw ESP socket delivers (see `raw::strip_outer`).
    pub fn strip_outer_ipv4(packet: &mut [u8]) -> Option<usize> {
        crate::raw::strip_outer(true, packet).map(|(_, esp)| esp.len())
    }
}

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::io::unix::AsyncFd;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

pub use counters::CounterSnapshot;
pub use sa::{Encapsulation, SaInstall};
pub use socket::bind_ike;
pub use socket::NAT_T_PORT;
pub use tunnel::{vti_mtu, DfPolicy, TunnelSpec, OUTER_MTU};
pub use vti::{host_networks, HostNetwork, VtiRoute};

use sa::{Inbound, Outbound};
use sa_set::SaSetError;
use tunnel::{Settings, Tunnel};

pub use ike_inbox::{IkeDatagram, IkeInbox, InboxLimits};

/// Data plane settings.
#[derive(Debug, Clone)]
pub struct DataplaneConfig {
    /// Worker threads (and TUN queues per VTI, and port-4500 sockets per address).
    pub workers: usize,
    /// TUN offloads (virtio-net header, TSO/USO): GSO super-packets in, coalesced writes out.
    pub offload: bool,
    /// Anti-replay window in packets (RFC 4303 §3.4.3), at least 1024.
    pub replay_window: u32,
    /// How long an inbound SA keeps decrypting after IKE deleted it, for packets already
    /// in flight (make-before-break).
    pub inbound_linger: Duration,
    /// As responder of a rekey, start sending on the new SA after this long even if the peer
    /// has not used it yet.
    pub promote_after: Duration,
    /// NAT keepalive interval (RFC 3948 §2.3).
    pub keepalive: Duration,
    /// The interface group (IFLA_GROUP) of every VTI, which [`Dataplane::shutdown`] deletes
    /// in one request instead of one VTI at a time (at 10,000 VTIs a stop took about ten
    /// minutes, the kernel waiting for an RCU grace period per interface). Nonzero and this
    /// data plane's own: any interface in the group goes with it. straitd derives it from
    /// its data directory ([`link_group_for`]); the default is random.
    pub link_group: u32,
}

/// The first 16 bits of every group [`link_group_for`] gives (ASCII `ST`), so that strait's
/// groups read as such in `ip -d link` (0x5354....) and stay clear of the small numbers
/// administrators give their own groups.
pub const LINK_GROUP_PREFIX: u32 = 0x5354_0000;

/// The interface group for a data plane known by `key` (straitd: its data directory): the
/// same across restarts, different (but for a 1 in 65,536 chance) for two daemons on one
/// host: the top 16 bits of [`vti::stable_hash`] (the hash VTI names come from), after
/// [`LINK_GROUP_PREFIX`].
pub fn link_group_for(key: &[u8]) -> u32 {
    let top = u32::try_from(vti::stable_hash(key) >> 48).unwrap_or(0);
    LINK_GROUP_PREFIX | top
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        DataplaneConfig {
            workers: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, 16),
            offload: true,
            replay_window: 4096,
            inbound_linger: Duration::from_secs(3),
            promote_after: Duration::from_secs(3),
            keepalive: Duration::from_secs(20),
            // A random group per data plane: two in one namespace (tests) never share one.
            link_group: {
                use std::hash::{BuildHasher, Hasher};
                let random = std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish();
                link_group_for(&random.to_le_bytes())
            },
        }
    }
}

/// What the data plane tells the control plane.
pub struct DataplaneEvents {
    /// IKE messages received on port 4500 (with their non-ESP marker); the control plane
    /// queues port 500's here too, so every sender is served in turn.
    pub ike: Arc<IkeInbox>,
    /// Sessions whose outbound SA is running out of sequence numbers: rekey them.
    pub rekey: mpsc::Receiver<String>,
    /// Tunnels made in the background (see [`TunnelOutcome::Pending`]), as they are ready.
    pub tunnels: mpsc::UnboundedReceiver<TunnelMade>,
}

/// Why the data plane refused something.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// No tunnel for this session.
    #[error("session {0} has no tunnel interface")]
    NoTunnel(String),
    /// The SA cannot be built from what IKE negotiated.
    #[error("cannot install the Child SA of {session}: {source}")]
    BadSa {
        /// The session.
        session: String,
        /// What esp-proto rejected.
        source: esp_proto::EspError,
    },
    /// The tunnel's SA set refused the SA (its inbound SPI is installed already, or the
    /// tunnel has too many SAs).
    #[error("cannot install the Child SA of {session}: {source}")]
    Refused {
        /// The session.
        session: String,
        /// Why.
        source: SaSetError,
    },
    /// An outer socket could not be opened.
    #[error("{0}")]
    Socket(String),
}

/// One Child SA as the data plane holds it (see [`Dataplane::sa_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSaState {
    /// Inbound SPI.
    pub spi_in: u32,
    /// Outbound SPI.
    pub spi_out: u32,
    /// Its inbound half decrypts (is in the SPI table).
    pub inbound: bool,
    /// The peer is known to have it (see [`sa_set`]).
    pub peer_has_it: bool,
}

/// A tunnel's Child SAs as the data plane holds them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TunnelSaState {
    /// Installed Child SAs, oldest first.
    pub child_sas: Vec<ChildSaState>,
    /// Inbound SPI of the Child SA packets leave on.
    pub sender: Option<u32>,
    /// The workers send on that SA (what they read is the set's choice).
    pub sender_published: bool,
    /// Inbound SPIs of retired Child SAs (IKE is deleting them: no longer sent on, still
    /// decrypting), sorted.
    pub inbound_only: Vec<u32>,
}

/// One worker's port-4500 socket.
pub(crate) struct WorkerSocket {
    pub(crate) socket: Arc<tokio::net::UdpSocket>,
    pub(crate) state: quinn_udp::UdpSocketState,
    /// Current outer DF mode (see `socket::set_df`).
    pub(crate) df: AtomicU8,
}

/// UDP 4500 on one local address: a socket per worker.
pub(crate) struct Port {
    pub(crate) ip: IpAddr,
    pub(crate) per_worker: Vec<WorkerSocket>,
    readers: Mutex<Vec<AbortHandle>>,
}

/// Plain ESP on one local address.
pub(crate) struct RawPort {
    pub(crate) ip: IpAddr,
    /// Protocol-50 socket all ESP to this host arrives on (read by worker 0).
    pub(crate) receiver: AsyncFd<socket2::Socket>,
    /// Per worker, an `IPPROTO_RAW` socket (we write the IP header; it receives nothing).
    pub(crate) senders: Vec<AsyncFd<socket2::Socket>>,
    reader: Mutex<Option<AbortHandle>>,
}

/// ESP packets dropped before any SA was found, gateway-wide (also those from addresses
/// that are no session's peer, which no session's counters show).
#[derive(Default)]
pub(crate) struct UnmatchedCounters {
    pub(crate) malformed: AtomicU64,
    pub(crate) unknown_spi: AtomicU64,
}

/// ESP packets the data plane dropped before finding an SA for them, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnmatchedEsp {
    /// Too short to carry an SPI and sequence number, or SPI 0 (reserved, RFC 4303 §2.1).
    pub malformed: u64,
    /// An SPI no installed SA has.
    pub unknown_spi: u64,
}

/// State shared by the API side and the workers.
pub(crate) struct Shared {
    pub(crate) tunnels: ArcSwap<HashMap<String, Arc<Tunnel>>>,
    pub(crate) inbound: ArcSwap<HashMap<u32, Arc<Inbound>>>,
    /// Peer address → tunnel, to count packets that match no SA on their session.
    pub(crate) peers: peer_index::PeerIndex<Tunnel>,
    /// ESP packets that matched no SA, whoever sent them.
    pub(crate) unmatched: UnmatchedCounters,
    pub(crate) ports: ArcSwap<HashMap<IpAddr, Arc<Port>>>,
    pub(crate) raw: ArcSwap<HashMap<IpAddr, Arc<RawPort>>>,
    pub(crate) ike: Arc<IkeInbox>,
    pub(crate) rekey: mpsc::Sender<String>,
    /// Serializes writers of the maps above (readers never lock).
    pub(crate) write: Mutex<()>,
}

/// The running data plane.
pub struct Dataplane {
    cfg: DataplaneConfig,
    shared: Arc<Shared>,
    workers: Vec<Handle>,
    stops: Mutex<Vec<oneshot::Sender<()>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Tunnel creation and removal, one at a time.
    changes: tokio::sync::Mutex<()>,
    keepalive: Mutex<Option<AbortHandle>>,
    /// The runtime `start` was called on: timers (inbound linger, promotion) run there.
    timers: Handle,
    /// Every VTI and route change goes over this one connection.
    netlink: vti::Netlink,
    /// Makes new tunnels in the background.
    maker: Arc<maker::Maker>,
    maker_task: AbortHandle,
}

impl Dataplane {
    /// Start the worker threads. Must be called inside a tokio runtime (keepalives and SA
    /// timers run on it); the other methods may be called from anywhere.
    pub fn start(cfg: DataplaneConfig) -> io::Result<(Dataplane, DataplaneEvents)> {
        let ike = Arc::new(IkeInbox::new(InboxLimits::default()));
        let (rekey_tx, rekey_rx) = mpsc::channel(64);
        let shared = Arc::new(Shared {
            tunnels: ArcSwap::default(),
            inbound: ArcSwap::default(),
            peers: Default::default(),
            unmatched: Default::default(),
            ports: ArcSwap::default(),
            raw: ArcSwap::default(),
            ike: ike.clone(),
            rekey: rekey_tx,
            write: Mutex::new(()),
        });
        let mut workers = Vec::new();
        let mut stops = Vec::new();
        let mut threads = Vec::new();
        for k in 0..cfg.workers.max(1) {
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("strait-dp{k}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = handle_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = handle_tx.send(Ok(rt.handle().clone()));
                    rt.block_on(async {
                        let _ = stop_rx.await;
                    });
                })?;
            let handle = handle_rx
                .recv()
                .map_err(|_| io::Error::other("data-plane worker did not start"))??;
            workers.push(handle);
            stops.push(stop_tx);
            threads.push(thread);
        }
        let netlink = vti::Netlink::open().map_err(io::Error::other)?;
        let (made_tx, made_rx) = mpsc::unbounded_channel();
        let maker = Arc::new(maker::Maker::new(
            workers.clone(),
            shared.clone(),
            netlink.clone(),
            cfg.offload,
            cfg.link_group,
            made_tx,
        ));
        let maker_task = tokio::spawn(maker.clone().run()).abort_handle();
        let dp = Dataplane {
            cfg: cfg.clone(),
            shared: shared.clone(),
            workers,
            stops: Mutex::new(stops),
            threads: Mutex::new(threads),
            changes: tokio::sync::Mutex::new(()),
            keepalive: Mutex::new(None),
            timers: Handle::current(),
            netlink,
            maker,
            maker_task,
        };
        let every = cfg.keepalive;
        let ka = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                worker::send_keepalives(&shared);
            }
        });
        *lock(&dp.keepalive) = Some(ka.abort_handle());
        Ok((
            dp,
            DataplaneEvents {
                ike,
                rekey: rekey_rx,
                tunnels: made_rx,
            },
        ))
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Run `f` on worker `k` (so that sockets and TUN queues it creates register with that
    /// worker's runtime).
    async fn on_worker<T: Send + 'static>(
        &self,
        k: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<T> {
        let h = self
            .workers
            .get(k)
            .ok_or_else(|| io::Error::other("no such worker"))?;
        h.spawn(async move { f() })
            .await
            .map_err(|e| io::Error::other(format!("data-plane worker failed: {e}")))
    }

    /// Own UDP port 4500 on `ip`: a socket per worker reads ESP, and IKE that arrives there
    /// goes to [`DataplaneEvents::ike`]. Returns a socket the control plane sends IKE on.
    pub async fn open_port(&self, ip: IpAddr) -> Result<std::net::UdpSocket, DataplaneError> {
        if let Some(p) = self.shared.ports.load().get(&ip) {
            return ike_sender(p);
        }
        let mut per_worker = Vec::new();
        let mut readers = Vec::new();
        let mut stds = Vec::new();
        for _ in 0..self.workers.len() {
            stds.push(socket::bind_nat_t(ip).map_err(|e| {
                DataplaneError::Socket(socket::explain(
                    &format!("listen on {}", SocketAddr::new(ip, NAT_T_PORT)),
                    &e,
                ))
            })?);
        }
        for (k, std_sock) in stds.into_iter().enumerate() {
            let ws = self
                .on_worker(k, move || -> io::Result<WorkerSocket> {
                    let state = quinn_udp::UdpSocketState::new((&std_sock).into())?;
                    let socket = Arc::new(tokio::net::UdpSocket::from_std(std_sock)?);
                    Ok(WorkerSocket {
                        socket,
                        state,
                        df: AtomicU8::new(socket::DfMode::Unknown as u8),
                    })
                })
                .await
                .and_then(|r| r)
                .map_err(|e| DataplaneError::Socket(socket::explain("set up port 4500", &e)))?;
            per_worker.push(ws);
        }
        let port = Arc::new(Port {
            ip,
            per_worker,
            readers: Mutex::new(Vec::new()),
        });
        for k in 0..self.workers.len() {
            if let Some(h) = self.workers.get(k) {
                readers.push(
                    h.spawn(worker::peer_to_vti(self.shared.clone(), port.clone(), k))
                        .abort_handle(),
                );
            }
        }
        *lock(&port.readers) = readers;
        {
            let _w = lock(&self.shared.write);
            let mut map = HashMap::clone(&self.shared.ports.load());
            map.insert(ip, port.clone());
            self.shared.ports.store(Arc::new(map));
        }
        tracing::info!(addr = %SocketAddr::new(ip, NAT_T_PORT), workers = self.workers.len(), "ESP and IKE listening (UDP encapsulation)");
        ike_sender(&port)
    }

    /// Stop listening on `ip`:4500 (and for plain ESP on `ip`).
    pub fn close_port(&self, ip: IpAddr) {
        let _w = lock(&self.shared.write);
        let mut map = HashMap::clone(&self.shared.ports.load());
        if let Some(p) = map.remove(&ip) {
            for r in lock(&p.readers).drain(..) {
                r.abort();
            }
        }
        self.shared.ports.store(Arc::new(map));
        let mut raw = HashMap::clone(&self.shared.raw.load());
        if let Some(r) = raw.remove(&ip) {
            if let Some(t) = lock(&r.reader).take() {
                t.abort();
            }
        }
        self.shared.raw.store(Arc::new(raw));
    }

    /// Plain ESP sockets on `ip`, opened on first use.
    async fn raw_port(&self, ip: IpAddr) -> Result<(), DataplaneError> {
        if self.shared.raw.load().contains_key(&ip) {
            return Ok(());
        }
        let explain = |e: io::Error| {
            DataplaneError::Socket(socket::explain(
                &format!("open a raw ESP (IP protocol 50) socket on {ip}"),
                &e,
            ))
        };
        let receiver = socket::bind_raw_esp(ip).map_err(explain)?;
        let receiver = self
            .on_worker(0, move || socket::register(receiver))
            .await
            .and_then(|r| r)
            .map_err(explain)?;
        let mut senders = Vec::new();
        for k in 0..self.workers.len() {
            let s = socket::raw_sender(ip).map_err(explain)?;
            let s = self
                .on_worker(k, move || socket::register(s))
                .await
                .and_then(|r| r)
                .map_err(explain)?;
            senders.push(s);
        }
        let raw = Arc::new(RawPort {
            ip,
            receiver,
            senders,
            reader: Mutex::new(None),
        });
        if let Some(h) = self.workers.first() {
            let t = h.spawn(worker::raw_to_vti(self.shared.clone(), raw.clone()));
            *lock(&raw.reader) = Some(t.abort_handle());
        }
        let _w = lock(&self.shared.write);
        let mut map = HashMap::clone(&self.shared.raw.load());
        map.insert(ip, raw);
        self.shared.raw.store(Arc::new(map));
        tracing::info!(%ip, "plain ESP (IP protocol 50) listening");
        Ok(())
    }

    /// Make the tunnels match `specs` (one per session that should have a VTI): update the
    /// tunnels that exist, queue the new ones to be made (reported on
    /// [`DataplaneEvents::tunnels`] as they are ready), remove the rest. Returns what became of
    /// each session's tunnel.
    pub async fn set_tunnels(&self, specs: Vec<TunnelSpec>) -> HashMap<String, TunnelOutcome> {
        let _one = self.changes.lock().await;
        let wanted: HashMap<String, TunnelSpec> =
            specs.into_iter().map(|s| (s.session.clone(), s)).collect();
        self.maker.retain(|s| wanted.contains_key(s));
        let current = self.shared.tunnels.load_full();
        // Remove tunnels no longer wanted, or whose MTU changed (made again below).
        for (session, t) in current.iter() {
            let keep = wanted.get(session).is_some_and(|w| w.mtu == t.spec_mtu());
            if !keep {
                self.drop_tunnel(session).await;
            }
        }
        // strait's routes over every VTI in one dump, not one per VTI.
        let mut routes = match self.netlink.strait_routes().await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list strait's routes; they are checked on the next change");
                None
            }
        };
        let mut results = HashMap::new();
        for (session, spec) in wanted {
            let r = match self.maker.find_or_request(&spec) {
                maker::Found::Published(t) => {
                    let have = routes
                        .as_mut()
                        .map(|r| r.remove(&t.ifindex).unwrap_or_default());
                    self.update_tunnel(&t, &spec, have).await
                }
                maker::Found::Queued => TunnelOutcome::Pending,
            };
            results.insert(session, r);
        }
        results
    }

    /// Change only these tunnels: update or queue one per spec in `upserts` (as
    /// [`Dataplane::set_tunnels`]), remove those of `removals`; every other tunnel is left as
    /// it is (a configuration change that touches a few of thousands of sessions costs the
    /// data plane only those). Returns what became of each upserted session's tunnel.
    pub async fn update_tunnels(
        &self,
        upserts: Vec<TunnelSpec>,
        removals: Vec<String>,
    ) -> HashMap<String, TunnelOutcome> {
        let _one = self.changes.lock().await;
        for session in &removals {
            self.maker.cancel(session);
            if self.shared.tunnels.load().contains_key(session) {
                self.drop_tunnel(session).await;
            }
        }
        let mut results = HashMap::new();
        for spec in upserts {
            // A new MTU needs a new device (as in set_tunnels).
            let mtu_changed = self
                .shared
                .tunnels
                .load()
                .get(&spec.session)
                .is_some_and(|t| t.spec_mtu() != spec.mtu);
            if mtu_changed {
                self.drop_tunnel(&spec.session).await;
            }
            let r = match self.maker.find_or_request(&spec) {
                maker::Found::Published(t) => self.update_tunnel(&t, &spec, None).await,
                maker::Found::Queued => TunnelOutcome::Pending,
            };
            results.insert(spec.session.clone(), r);
        }
        results
    }

    /// Sessions whose tunnel is queued or being made, sorted.
    pub fn queued_tunnels(&self) -> Vec<String> {
        self.maker.queued()
    }

    /// Change a tunnel's addresses, routes and settings to `spec`'s. `have` is strait's routes
    /// over its VTI when the caller listed them (None: listed here).
    async fn update_tunnel(
        &self,
        t: &Arc<Tunnel>,
        spec: &TunnelSpec,
        have: Option<Vec<vti::VtiRoute>>,
    ) -> TunnelOutcome {
        let old = lock(&t.spec).clone();
        {
            let vti = t.vti.lock().await;
            if let Some(v) = vti.as_ref() {
                if old.addresses != spec.addresses {
                    if let Err(e) = v.set_addresses(&spec.addresses).await {
                        return TunnelOutcome::Failed(e.to_string());
                    }
                }
                // Also heals routes removed by hand since the last change.
                sync_routes(&self.netlink, v, &spec.routes, have).await;
            }
        }
        t.settings.store(Arc::new(Settings::of(spec)));
        *lock(&t.spec) = spec.clone();
        TunnelOutcome::Ready(t.ifname.clone())
    }

    /// Remove a session's tunnel: its SAs, then its VTI (the kernel drops its routes).
    async fn drop_tunnel(&self, session: &str) {
        let tunnel = {
            let _w = lock(&self.shared.write);
            let mut map = HashMap::clone(&self.shared.tunnels.load());
            let t = map.remove(session);
            self.shared.tunnels.store(Arc::new(map));
            if let Some(t) = &t {
                let mut inbound = HashMap::clone(&self.shared.inbound.load());
                for spi in std::mem::take(&mut *lock(&t.inbound_spis)) {
                    if inbound
                        .get(&spi)
                        .is_some_and(|i| i.tunnel.session == session)
                    {
                        inbound.remove(&spi);
                    }
                }
                self.shared.inbound.store(Arc::new(inbound));
            }
            if let Some(t) = &t {
                self.shared.peers.remove(t);
            }
            t
        };
        let Some(t) = tunnel else { return };
        maker::close_tunnel(&t).await;
    }

    /// Install a Child SA negotiated by IKE (both directions).
    pub async fn install(&self, sa: SaInstall) -> Result<(), DataplaneError> {
        let tunnel = self
            .shared
            .tunnels
            .load()
            .get(&sa.session)
            .cloned()
            .ok_or_else(|| DataplaneError::NoTunnel(sa.session.clone()))?;
        let (outbound, inbound) =
            sa.build(self.cfg.replay_window)
                .map_err(|source| DataplaneError::BadSa {
                    session: sa.session.clone(),
                    source,
                })?;
        if sa.encapsulation == Encapsulation::Esp {
            self.raw_port(sa.local.ip()).await?;
        }
        let out = Arc::new(Outbound {
            sa: outbound,
            remote: sa.remote,
            local: sa.local,
            encapsulation: sa.encapsulation,
            rekey_requested: AtomicBool::new(false),
        });
        // Outbound first: an SA the set refuses (duplicate SPI, too many) installs nothing.
        let now = Instant::now();
        tunnel
            .with_sas(|sas| {
                sas.install(
                    sa.spi_in,
                    sa.spi_out,
                    out,
                    sa.initiator,
                    now,
                    self.cfg.promote_after,
                )
            })
            .map_err(|source| DataplaneError::Refused {
                session: sa.session.clone(),
                source,
            })?;
        {
            let _w = lock(&self.shared.write);
            let mut map = HashMap::clone(&self.shared.inbound.load());
            map.insert(
                sa.spi_in,
                Arc::new(Inbound {
                    sa: Mutex::new(inbound),
                    tunnel: tunnel.clone(),
                    used: AtomicBool::new(false),
                    spi_in: sa.spi_in,
                    lingering: AtomicBool::new(false),
                }),
            );
            self.shared.inbound.store(Arc::new(map));
            lock(&tunnel.inbound_spis).insert(sa.spi_in);
            self.shared.peers.set(sa.remote.ip(), &tunnel);
        }
        if !sa.initiator {
            // As responder the peer installs this SA when our response arrives: it becomes
            // the sender when the peer uses it, or after `promote_after` (see `sa_set`).
            let t = tunnel.clone();
            let after = self.cfg.promote_after;
            self.timers.spawn(async move {
                tokio::time::sleep(after).await;
                t.with_sas(|sas| sas.handle_timeout(Instant::now()));
            });
        }
        tracing::info!(session = %sa.session, vti = %tunnel.ifname, spi_in = format_args!("{:08x}", sa.spi_in), spi_out = format_args!("{:08x}", sa.spi_out), transform = ?sa.transform, encapsulation = ?sa.encapsulation, "Child SA installed in the data plane");
        Ok(())
    }

    /// Stop sending on a Child SA IKE is deleting (the tunnel falls back to the newest
    /// remaining SA); its inbound half keeps decrypting until [`Dataplane::remove`].
    pub fn retire(&self, session: &str, spi_in: u32) {
        if let Some(t) = self.shared.tunnels.load().get(session) {
            t.with_sas(|sas| sas.remove(spi_in));
        }
    }

    /// Remove a Child SA: outbound at once (the tunnel falls back to the newest remaining
    /// SA), inbound after a grace period for packets already in flight.
    pub fn remove(&self, session: &str, spi_in: u32, spi_out: u32) {
        let _ = spi_out;
        self.retire(session, spi_in);
        if let Some(i) = self
            .shared
            .inbound
            .load()
            .get(&spi_in)
            .filter(|i| i.tunnel.session == session)
        {
            i.lingering.store(true, Ordering::Relaxed);
        }
        let shared = self.shared.clone();
        let linger = self.cfg.inbound_linger;
        let session = session.to_owned();
        self.timers.spawn(async move {
            tokio::time::sleep(linger).await;
            let _w = lock(&shared.write);
            let mut map = HashMap::clone(&shared.inbound.load());
            // Unless the same SPI was installed again meanwhile (it is then in the set).
            let tunnels = shared.tunnels.load();
            let tunnel = tunnels.get(&session);
            let reinstalled = tunnel.is_some_and(|t| t.sas().entries().any(|e| e.spi_in == spi_in));
            if !reinstalled
                && map
                    .get(&spi_in)
                    .is_some_and(|i| i.tunnel.session == session)
            {
                map.remove(&spi_in);
                shared.inbound.store(Arc::new(map));
                if let Some(t) = tunnel {
                    lock(&t.inbound_spis).remove(&spi_in);
                }
            }
        });
    }

    /// ESP packets dropped before an SA was found (counted, never logged per packet).
    pub fn unmatched_esp(&self) -> UnmatchedEsp {
        UnmatchedEsp {
            malformed: self.shared.unmatched.malformed.load(Ordering::Relaxed),
            unknown_spi: self.shared.unmatched.unknown_spi.load(Ordering::Relaxed),
        }
    }

    /// Whether the session's tunnel has an SA to send on.
    pub fn has_outbound(&self, session: &str) -> bool {
        self.shared
            .tunnels
            .load()
            .get(session)
            .is_some_and(|t| t.outbound.load().is_some())
    }

    /// The session's Child SAs as the data plane holds them (None: no tunnel): what the
    /// control plane's invariant checks compare with IKE's view.
    pub fn sa_state(&self, session: &str) -> Option<TunnelSaState> {
        let tunnels = self.shared.tunnels.load();
        let t = tunnels.get(session)?;
        let inbound = self.shared.inbound.load();
        let sas = t.sas();
        let view = sas.view();
        let published = t.outbound.load().as_ref().map(|o| o.sa.spi());
        let sender_out = sas.sender().map(|e| e.spi_out);
        let inbound_only: Vec<u32> = lock(&t.inbound_spis)
            .iter()
            .filter_map(|spi| inbound.get(spi))
            .filter(|i| {
                i.tunnel.session == session
                    && !i.lingering.load(Ordering::Relaxed)
                    && !view.sas.iter().any(|s| s.0 == i.spi_in)
            })
            .map(|i| i.spi_in)
            .collect();
        Some(TunnelSaState {
            child_sas: view
                .sas
                .iter()
                .map(|&(spi_in, spi_out, peer_has_it)| ChildSaState {
                    spi_in,
                    spi_out,
                    inbound: inbound
                        .get(&spi_in)
                        .is_some_and(|i| i.tunnel.session == session),
                    peer_has_it,
                })
                .collect(),
            sender: view.sender,
            sender_published: published.is_some() && published == sender_out,
            inbound_only,
        })
    }

    /// Sessions that have a tunnel.
    pub fn tunnel_sessions(&self) -> Vec<String> {
        let mut v: Vec<String> = self.shared.tunnels.load().keys().cloned().collect();
        v.sort();
        v
    }

    /// The session's VTI name, if it has one.
    pub fn interface_name(&self, session: &str) -> Option<String> {
        self.shared
            .tunnels
            .load()
            .get(session)
            .map(|t| t.ifname.clone())
    }

    /// The session's counters.
    pub fn counters(&self, session: &str) -> Option<CounterSnapshot> {
        self.shared
            .tunnels
            .load()
            .get(session)
            .map(|t| t.counters.snapshot())
    }

    /// Zero the session's counters; false if it has no tunnel.
    pub fn reset_counters(&self, session: &str) -> bool {
        match self.shared.tunnels.load().get(session) {
            Some(t) => {
                t.counters.reset();
                true
            }
            None => false,
        }
    }

    /// Skip the session's outbound sequence numbers ahead (never back; see
    /// [`esp_proto::OutboundSa::advance_to`]), to exercise the rekey that exhaustion triggers.
    pub fn advance_outbound_sequence(&self, session: &str, last_sent: u64) -> bool {
        self.shared
            .tunnels
            .load()
            .get(session)
            .and_then(|t| t.outbound.load_full())
            .map(|o| o.sa.advance_to(last_sent))
            .is_some()
    }

    /// Remove every VTI and stop the workers. The VTIs go in one netlink request (their
    /// group, see [`DataplaneConfig::link_group`]), and every tunnel leaves the maps in one
    /// step: removing them one by one copies the maps once per tunnel (quadratic at 10,000).
    pub async fn shutdown(&self) {
        self.maker_task.abort();
        self.maker.retain(|_| false);
        let tunnels: Vec<Arc<Tunnel>> = {
            let _w = lock(&self.shared.write);
            let all = self.shared.tunnels.swap(Arc::new(HashMap::new()));
            self.shared.inbound.store(Arc::new(HashMap::new()));
            for t in all.values() {
                self.shared.peers.remove(t);
            }
            all.values().cloned().collect()
        };
        let mut group_deleted = false;
        if !tunnels.is_empty() {
            let started = std::time::Instant::now();
            match self.netlink.delete_group(self.cfg.link_group).await {
                Ok(_) => {
                    group_deleted = true;
                    tracing::info!(
                        vtis = tunnels.len(),
                        group = format_args!("{:#x}", self.cfg.link_group),
                        elapsed_ms =
                            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        "VTIs deleted"
                    );
                }
                // Then each is deleted on its own.
                Err(e) => tracing::warn!(error = %e, "cannot delete the VTIs as one group"),
            }
        }
        for t in &tunnels {
            if group_deleted {
                drop(maker::retire_tunnel(t).await);
            } else {
                maker::close_tunnel(t).await;
            }
        }
        let ips: Vec<IpAddr> = self.shared.ports.load().keys().copied().collect();
        for ip in ips {
            self.close_port(ip);
        }
        if let Some(k) = lock(&self.keepalive).take() {
            k.abort();
        }
        for s in lock(&self.stops).drain(..) {
            let _ = s.send(());
        }
        let threads: Vec<_> = lock(&self.threads).drain(..).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// A socket for the control plane's IKE sends on port 4500 (a duplicate of worker 0's).
fn ike_sender(p: &Port) -> Result<std::net::UdpSocket, DataplaneError> {
    let ws = p
        .per_worker
        .first()
        .ok_or_else(|| DataplaneError::Socket("port 4500 has no socket".into()))?;
    let fd = std::os::fd::AsFd::as_fd(&*ws.socket)
        .try_clone_to_owned()
        .map_err(|e| DataplaneError::Socket(socket::explain("share port 4500 with IKE", &e)))?;
    let sock = std::net::UdpSocket::from(fd);
    Ok(sock)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Make strait's kernel routes over `vti` exactly `want` (static routes, contract §Routes).
/// `have` is what is there now when the caller knows (None: listed here). A route that cannot
/// be installed is logged and retried on the next change; it never takes the tunnel down.
pub(crate) async fn sync_routes(
    netlink: &vti::Netlink,
    vti: &vti::Vti,
    want: &[vti::VtiRoute],
    have: Option<Vec<vti::VtiRoute>>,
) {
    let ifindex = vti.ifindex();
    let have = match have {
        Some(h) => h,
        None => match netlink.routes_of(ifindex).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(vti = vti.name(), error = %e, "cannot list the VTI's routes");
                return;
            }
        },
    };
    for r in &have {
        if !want.iter().any(|w| w.net.trunc() == r.net) {
            match netlink.delete_route(ifindex, r.net).await {
                Ok(()) => tracing::info!(vti = vti.name(), route = %r.net, "route removed"),
                Err(e) => {
                    tracing::warn!(vti = vti.name(), route = %r.net, error = %e, "cannot remove the route")
                }
            }
        }
    }
    for w in want {
        // Already there as wanted. Anything else (IPv6's metric 0, stored as 1024, included)
        // goes to `add_route`, which is idempotent.
        let wanted = vti::VtiRoute {
            net: w.net.trunc(),
            metric: w.metric,
        };
        if have.contains(&wanted) {
            continue;
        }
        match netlink.add_route(ifindex, w.net, w.metric).await {
            Ok(()) => {
                tracing::info!(vti = vti.name(), route = %w.net, metric = w.metric, "route added")
            }
            Err(e) => {
                tracing::warn!(vti = vti.name(), route = %w.net, error = %e, "cannot add the route; check for a conflicting route to the same network")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_groups_are_strait_s_own_stable_and_apart() {
        let a = link_group_for(b"/var/lib/strait");
        assert_eq!(
            a,
            link_group_for(b"/var/lib/strait"),
            "stable across restarts"
        );
        assert_eq!(a & 0xffff_0000, LINK_GROUP_PREFIX);
        assert_ne!(a, link_group_for(b"/var/lib/strait-b"));
        // Every default is in strait's range, and random (three alike: 1 in 2^32).
        let groups: Vec<u32> = (0..3)
            .map(|_| DataplaneConfig::default().link_group)
            .collect();
        assert!(groups.iter().all(|g| g & 0xffff_0000 == LINK_GROUP_PREFIX));
        assert!(groups.windows(2).any(|w| w[0] != w[1]), "{groups:x?}");
    }
}
