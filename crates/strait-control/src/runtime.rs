//! The event loop: sockets, timers, configuration changes, commands.

use std::collections::{hash_map, BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use ike_proto::{ChildSaParams, Endpoint, EndpointConfig, Event, Random, SessionId};
use strait_dataplane::{Dataplane, DataplaneEvents, Encapsulation, SaInstall};
use strait_model::status::{SessionStatusNsxT, StatusSource, TunnelTrafficStatistics};
use strait_policy::Policy;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::board::{Entry, StatusBoard};
use crate::desired::{desired, Plan};

/// The data plane's view of a Child SA IKE negotiated (keys move, never copied to logs).
fn sa_install(sa: &ChildSaParams, rng: &mut OsRandom) -> Option<SaInstall> {
    let transform = match esp_proto::Transform::from_ikev2(
        sa.cipher.transform_id(),
        sa.cipher.key_bits(),
        sa.integrity,
    ) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(session = %sa.session, error = %e, "negotiated ESP transform has no data-plane implementation");
            return None;
        }
    };
    let mut iv_seed = [0u8; 16];
    rng.fill(&mut iv_seed);
    Some(SaInstall {
        session: sa.session.0.clone(),
        spi_in: sa.spi_in,
        spi_out: sa.spi_out,
        transform,
        esn: sa.esn,
        enc_key_in: sa.enc_key_in.clone(),
        integ_key_in: sa.integ_key_in.clone(),
        enc_key_out: sa.enc_key_out.clone(),
        integ_key_out: sa.integ_key_out.clone(),
        local: sa.local,
        remote: sa.remote,
        encapsulation: if sa.udp_encapsulation {
            Encapsulation::Udp
        } else {
            Encapsulation::Esp
        },
        initiator: sa.we_initiated,
        iv_seed,
    })
}

/// The OS random generator.
pub struct OsRandom(aws_lc_rs::rand::SystemRandom);

impl Default for OsRandom {
    fn default() -> Self {
        OsRandom(aws_lc_rs::rand::SystemRandom::new())
    }
}

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        use aws_lc_rs::rand::SecureRandom;
        // The system generator does not fail on Linux; if it ever did, IKE must not run on
        // predictable values.
        self.0
            .fill(buf)
            .expect("the operating system's random generator failed");
    }
}

enum Command {
    RekeyChild(String),
    RekeyIke(String),
    Shutdown(oneshot::Sender<()>),
}

/// Handle to the running control plane.
pub struct ControlPlane {
    board: Arc<StatusBoard>,
    dataplane: Arc<Dataplane>,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    log_level: tokio::sync::watch::Receiver<&'static str>,
}

/// What the API holds: status, statistics and operator actions.
pub struct RuntimeHandle {
    board: Arc<StatusBoard>,
    dataplane: Arc<Dataplane>,
    commands: mpsc::Sender<Command>,
}

impl StatusSource for RuntimeHandle {
    fn session_status(&self, path: &str) -> Option<SessionStatusNsxT> {
        let mut st = self.board.session_status(path)?;
        if let Some(name) = self.dataplane.interface_name(path) {
            st.interface_name = Some(name);
        }
        if let Some(c) = self.dataplane.counters(path) {
            st.aggregate_traffic_counters = tunnel_statistics(&st, c).aggregate();
        }
        Some(st)
    }

    fn rekey(&self, path: &str, kind: strait_model::status::RekeyKind) -> bool {
        let up = self
            .board
            .session_status(path)
            .is_some_and(|s| s.ike_status.ike_session_state == "UP");
        let cmd = match kind {
            strait_model::status::RekeyKind::Ike => Command::RekeyIke(path.to_owned()),
            strait_model::status::RekeyKind::Child => Command::RekeyChild(path.to_owned()),
        };
        up && self.commands.try_send(cmd).is_ok()
    }

    fn tunnel_statistics(&self, path: &str) -> Option<TunnelTrafficStatistics> {
        let counters = self.dataplane.counters(path)?;
        let st = self.board.session_status(path)?;
        Some(tunnel_statistics(&st, counters))
    }

    fn reset_statistics(&self, path: &str) -> bool {
        self.dataplane.reset_counters(path)
    }
}

/// NSX per-tunnel statistics from the data plane's counters and the session's status.
fn tunnel_statistics(
    st: &SessionStatusNsxT,
    c: strait_dataplane::CounterSnapshot,
) -> TunnelTrafficStatistics {
    let up = st.negotiated_tunnels > 0;
    let down_reason = if up {
        String::new()
    } else if st.ike_status.ike_session_state != "UP" {
        // NSX's tunnel-level reason when IKE is not up.
        "IKE SA down".to_owned()
    } else if st.ike_status.fail_reason.is_empty() {
        "IPsec negotiation not started".to_owned()
    } else {
        st.ike_status.fail_reason.clone()
    };
    TunnelTrafficStatistics {
        tunnel_status: if up { "UP" } else { "DOWN" }.to_owned(),
        tunnel_down_reason: down_reason,
        // A route-based session's Child SA covers everything (the VTI's routes decide).
        local_subnet: "0.0.0.0/0".to_owned(),
        peer_subnet: "0.0.0.0/0".to_owned(),
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
        packets_in: c.packets_in,
        packets_out: c.packets_out,
        dropped_packets_in: c.dropped_packets_in,
        dropped_packets_out: c.dropped_packets_out,
        decryption_failures: c.decryption_failures,
        encryption_failures: c.encryption_failures,
        integrity_failures: c.integrity_failures,
        nomatching_policy_errors: c.nomatching_policy_errors,
        packets_received_other_error: c.packets_received_other_error,
        packets_sent_other_error: c.packets_sent_other_error,
        replay_errors: c.replay_errors,
        sa_mismatch_errors_in: c.sa_mismatch_errors_in,
        sa_mismatch_errors_out: c.sa_mismatch_errors_out,
        seq_number_overflow_error: c.seq_number_overflow_error,
    }
}

/// The log targets whose level a VPN service's `ike_log_level` sets.
pub const IKE_LOG_TARGETS: &[&str] = &["strait_control"];

/// Datagrams waiting for the protocol; beyond this, new ones are dropped (the peer retransmits).
const INBOX_MAX: usize = 4096;
/// How often binding a missing local endpoint address is tried again.
const BIND_RETRY: std::time::Duration = std::time::Duration::from_secs(10);
/// How often the data plane's counters are read for DPD.
const TRAFFIC_TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// Largest datagram read.
const DATAGRAM_MAX: usize = 65_535;

impl ControlPlane {
    /// Start the control plane on the current tokio runtime, driving `dataplane` (whose
    /// events it takes).
    pub fn start(
        policy: Policy,
        dataplane: Arc<Dataplane>,
        events: DataplaneEvents,
        cfg: EndpointConfig,
    ) -> ControlPlane {
        let board = Arc::new(StatusBoard::default());
        let (tx, rx) = mpsc::channel(64);
        let (level_tx, log_level) = tokio::sync::watch::channel("info");
        let task = tokio::spawn(run(
            policy,
            dataplane.clone(),
            events,
            board.clone(),
            cfg,
            rx,
            level_tx,
        ));
        ControlPlane {
            board,
            dataplane,
            commands: tx,
            task,
            log_level,
        }
    }

    /// The IKE log level the VPN services ask for (`ike_log_level`, the most verbose of the
    /// enabled services): `debug`, `info`, `warn` or `error` (EMERGENCY logs errors only).
    /// straitd applies it to the IKE log targets ([`IKE_LOG_TARGETS`]).
    pub fn ike_log_level(&self) -> tokio::sync::watch::Receiver<&'static str> {
        self.log_level.clone()
    }

    /// The status board.
    pub fn board(&self) -> Arc<StatusBoard> {
        self.board.clone()
    }

    /// Status and actions for the API.
    pub fn handle(&self) -> Arc<RuntimeHandle> {
        Arc::new(RuntimeHandle {
            board: self.board.clone(),
            dataplane: self.dataplane.clone(),
            commands: self.commands.clone(),
        })
    }

    /// Rekey a session's Child SAs now.
    pub async fn rekey_child(&self, session_path: &str) {
        let _ = self
            .commands
            .send(Command::RekeyChild(session_path.to_owned()))
            .await;
    }

    /// Rekey a session's IKE SA now.
    pub async fn rekey_ike(&self, session_path: &str) {
        let _ = self
            .commands
            .send(Command::RekeyIke(session_path.to_owned()))
            .await;
    }

    /// Send Deletes for every IKE SA, remove the VTIs, and stop (contract: SIGTERM).
    pub async fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), rx).await;
        }
        self.task.abort();
        self.dataplane.shutdown().await;
    }
}

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

struct Sockets {
    /// (local ip, port) → socket.
    by_addr: HashMap<SocketAddr, IkeSocket>,
    readers: HashMap<SocketAddr, JoinHandle<()>>,
    /// Addresses that could not be bound, with the error.
    failed: HashMap<IpAddr, String>,
}

impl Sockets {
    /// Drop sockets of addresses no longer wanted (after the Deletes sent from them left).
    /// Returns once port 500 is really closed: its reader task holds the socket, and an
    /// address wanted again right away (a session disabled and enabled at once) must be able
    /// to bind it.
    async fn prune(&mut self, want: &HashSet<IpAddr>, dataplane: &Dataplane) {
        let stale: Vec<SocketAddr> = self
            .by_addr
            .keys()
            .filter(|a| !want.contains(&a.ip()))
            .copied()
            .collect();
        for a in stale {
            if let Some(IkeSocket::Shared(_)) = self.by_addr.remove(&a) {
                dataplane.close_port(a.ip());
            }
            if let Some(r) = self.readers.remove(&a) {
                r.abort();
                // Cancelled, as asked: the task and its socket are gone.
                let _ = r.await;
            }
        }
        self.failed.retain(|ip, _| want.contains(ip));
    }

    /// Bind 500 (here) and 4500 (through the data plane) on every address in `want`
    /// (sockets no longer wanted stay until [`Sockets::prune`], so that Deletes can still
    /// be sent from them).
    async fn reconcile(
        &mut self,
        want: &HashSet<IpAddr>,
        inbox: &mpsc::Sender<(SocketAddr, SocketAddr, Vec<u8>)>,
        dataplane: &Dataplane,
    ) {
        for ip in want {
            let mut first_error = None;
            let ike = SocketAddr::new(*ip, 500);
            if let hash_map::Entry::Vacant(slot) = self.by_addr.entry(ike) {
                match UdpSocket::bind(ike).await {
                    Ok(sock) => {
                        let sock = Arc::new(sock);
                        let reader = tokio::spawn(read_loop(sock.clone(), ike, inbox.clone()));
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
            if let hash_map::Entry::Vacant(slot) = self.by_addr.entry(nat_t) {
                match dataplane.open_port(*ip).await {
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
}

async fn read_loop(
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    inbox: mpsc::Sender<(SocketAddr, SocketAddr, Vec<u8>)>,
) {
    let mut buf = vec![0u8; DATAGRAM_MAX];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, remote)) => {
                // A full inbox drops the datagram: IKE retransmits, and a flood cannot grow memory.
                let _ = inbox.try_send((local, remote, buf[..n].to_vec()));
            }
            Err(e) => {
                tracing::debug!(%local, error = %e, "receive error");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn run(
    policy: Policy,
    dataplane: Arc<Dataplane>,
    events: DataplaneEvents,
    board: Arc<StatusBoard>,
    cfg: EndpointConfig,
    mut commands: mpsc::Receiver<Command>,
    log_level: tokio::sync::watch::Sender<&'static str>,
) {
    let mut rng = OsRandom::default();
    let mut ep = Endpoint::new(cfg, &mut rng);
    let (inbox_tx, mut inbox) = mpsc::channel(INBOX_MAX);
    let DataplaneEvents {
        ike: mut nat_t_inbox,
        rekey: mut rekey_requests,
    } = events;
    let mut sockets = Sockets {
        by_addr: HashMap::new(),
        readers: HashMap::new(),
        failed: HashMap::new(),
    };
    let mut rt = Realize {
        policy: &policy,
        dataplane: &dataplane,
        board: &board,
        inbox: &inbox_tx,
        running: HashSet::new(),
        log_level,
    };
    let mut changes = policy.subscribe();
    // ESP activity per session for DPD (packets in, packets out at the last tick).
    let mut traffic: HashMap<String, (u64, u64)> = HashMap::new();
    let mut traffic_tick = tokio::time::interval(TRAFFIC_TICK);
    traffic_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    rt.reconcile(&mut ep, &mut sockets, &mut rng).await;
    flush(&mut ep, &sockets, &dataplane, &board, &mut rng).await;
    loop {
        let wake = ep.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            Some((local, remote, data)) = inbox.recv() => {
                log_datagram("IKE received", local, remote, &data);
                ep.handle_datagram(Instant::now(), local, remote, &data, &mut rng);
            }
            Some((local, remote, data)) = nat_t_inbox.recv() => {
                log_datagram("IKE received", local, remote, &data);
                ep.handle_datagram(Instant::now(), local, remote, &data, &mut rng);
            }
            Some(session) = rekey_requests.recv() => {
                ep.rekey_child(Instant::now(), &SessionId(session), &mut rng);
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                let wanted = rt.reconcile(&mut ep, &mut sockets, &mut rng).await;
                flush(&mut ep, &sockets, &dataplane, &board, &mut rng).await;
                if let Some(w) = wanted {
                    sockets.prune(&w, &dataplane).await;
                }
            }
            // A local endpoint address may be added to the host later: try binding again.
            _ = tokio::time::sleep(BIND_RETRY), if !sockets.failed.is_empty() => {
                let wanted = rt.reconcile(&mut ep, &mut sockets, &mut rng).await;
                flush(&mut ep, &sockets, &dataplane, &board, &mut rng).await;
                if let Some(w) = wanted {
                    sockets.prune(&w, &dataplane).await;
                }
            }
            _ = async { match wake { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                ep.handle_timeout(Instant::now(), &mut rng);
            }
            _ = traffic_tick.tick() => {
                // Tell DPD whether ESP flowed (RFC 3706-style: traffic from the peer proves
                // it alive; on-demand DPD probes only when we send and hear nothing).
                let now = Instant::now();
                traffic.retain(|p, _| rt.running.contains(p));
                for path in &rt.running {
                    let Some(c) = dataplane.counters(path) else { continue };
                    let now_counts = (c.packets_in, c.packets_out);
                    let before = traffic.insert(path.clone(), now_counts);
                    let (received, sent) = match before {
                        Some((i, o)) => (i != now_counts.0, o != now_counts.1),
                        None => (false, false),
                    };
                    if received || sent {
                        ep.note_traffic(now, &SessionId(path.clone()), sent, received);
                    }
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::RekeyChild(p)) => ep.rekey_child(Instant::now(), &SessionId(p), &mut rng),
                Some(Command::RekeyIke(p)) => ep.rekey_ike(Instant::now(), &SessionId(p), &mut rng),
                Some(Command::Shutdown(done)) => {
                    ep.shutdown(Instant::now(), &mut rng);
                    flush(&mut ep, &sockets, &dataplane, &board, &mut rng).await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    ep.shutdown(Instant::now(), &mut rng);
                    flush(&mut ep, &sockets, &dataplane, &board, &mut rng).await;
                    return;
                }
            },
        }
        flush(&mut ep, &sockets, &dataplane, &board, &mut rng).await;
    }
}

/// An IKE message's header at debug level (RFC 7296 §3.1: exchange type at byte 18, flags at
/// 19, message ID at 20..24; behind the non-ESP marker on port 4500). Never the payloads.
fn log_datagram(what: &str, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let msg = match data {
        [0, 0, 0, 0, rest @ ..] => rest,
        d => d,
    };
    let (exchange, flags, message_id) = match msg.get(16..24) {
        Some(h) => (h[2], h[3], u32::from_be_bytes([h[4], h[5], h[6], h[7]])),
        None => (0, 0, 0),
    };
    tracing::debug!(
        %local,
        %remote,
        bytes = data.len(),
        exchange = ike_wire::ExchangeType(exchange).to_string(),
        response = flags & 0x20 != 0,
        message_id,
        "{what}"
    );
}

/// A session's state change: up at info, down with its reason and alarm at warn.
fn log_status(id: &SessionId, st: &ike_proto::SessionStatus) {
    match (st.ike_state, st.fail_reason) {
        (ike_proto::IkeState::Up, _) => tracing::info!(
            session = %id,
            algorithms = st.ike.as_ref().map(|i| i.algorithms.clone()).unwrap_or_default(),
            child_sas = st.children.len(),
            "session up"
        ),
        (ike_proto::IkeState::Negotiating, _) => {
            tracing::info!(session = %id, "session negotiating")
        }
        (state, Some(reason)) => tracing::warn!(
            session = %id,
            state = ?state,
            reason = reason.as_str(),
            alarm = st.alarm.as_deref().unwrap_or(""),
            "session down"
        ),
        (state, None) => tracing::info!(session = %id, state = ?state, "session state"),
    }
}

/// Send what the protocol produced, apply its events.
async fn flush(
    ep: &mut Endpoint,
    sockets: &Sockets,
    dataplane: &Dataplane,
    board: &StatusBoard,
    rng: &mut OsRandom,
) {
    while let Some(t) = ep.poll_transmit() {
        log_datagram("IKE sent", t.local, t.remote, &t.data);
        match sockets.by_addr.get(&t.local) {
            Some(sock) => {
                if let Err(e) = sock.send_to(&t.data, t.remote).await {
                    tracing::debug!(local = %t.local, remote = %t.remote, error = %e, "send failed");
                }
            }
            None => tracing::debug!(local = %t.local, "no socket for this local address"),
        }
    }
    while let Some(ev) = ep.poll_event() {
        match ev {
            Event::ChildSaInstalled(sa) => {
                tracing::info!(session = %sa.session, spi_in = format_args!("{:08x}", sa.spi_in), spi_out = format_args!("{:08x}", sa.spi_out), cipher = %sa.cipher.nsx_name(), esn = sa.esn, udp_encapsulation = sa.udp_encapsulation, "Child SA installed");
                if let Some(install) = sa_install(&sa, rng) {
                    if let Err(e) = dataplane.install(install).await {
                        tracing::error!(error = %e, "Child SA not installed in the data plane");
                    }
                }
            }
            Event::ChildSaDeleted {
                session,
                spi_in,
                spi_out,
            } => {
                tracing::info!(%session, spi_in = format_args!("{spi_in:08x}"), spi_out = format_args!("{spi_out:08x}"), "Child SA removed");
                dataplane.remove(&session.0, spi_in, spi_out);
            }
            Event::StatusChanged(id) => {
                if let Some(st) = ep.status(&id) {
                    log_status(&id, &st);
                    board.update(&id.0, |e| e.status = Some(st));
                }
            }
        }
    }
}

/// What turns the stored policy into running sessions and tunnels.
struct Realize<'a> {
    policy: &'a Policy,
    dataplane: &'a Dataplane,
    board: &'a StatusBoard,
    inbox: &'a mpsc::Sender<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Sessions the endpoint runs.
    running: HashSet<String>,
    /// Where the services' IKE log level goes.
    log_level: tokio::sync::watch::Sender<&'static str>,
}

impl Realize<'_> {
    /// Make the endpoint's sessions and the data plane's tunnels match the stored policy.
    /// Returns the local addresses still wanted.
    async fn reconcile(
        &mut self,
        ep: &mut Endpoint,
        sockets: &mut Sockets,
        rng: &mut OsRandom,
    ) -> Option<HashSet<IpAddr>> {
        let p = self.policy.clone();
        let tree = match tokio::task::spawn_blocking(move || p.snapshot_all()).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the configuration");
                return None;
            }
            Err(_) => return None,
        };
        for (route, hops) in crate::desired::routes_without_vti(&tree) {
            let hops: Vec<String> = hops.iter().map(ToString::to_string).collect();
            tracing::warn!(
                route,
                next_hops = hops.join(", "),
                "static route not installed: no next hop is inside a session's tunnel-interface subnet on its gateway; use the peer's VTI address (e.g. 169.254.10.2 for a 169.254.10.1/30 session) as next hop"
            );
        }
        let level = crate::desired::ike_log_level(&tree);
        self.log_level
            .send_if_modified(|l| std::mem::replace(l, level) != level);
        let wanted = desired(&tree);
        let addrs: HashSet<IpAddr> = wanted
            .iter()
            .filter_map(|d| match &d.plan {
                Plan::Run(c, _) => Some(c.local),
                Plan::Idle { .. } => None,
            })
            .collect();
        sockets.reconcile(&addrs, self.inbox, self.dataplane).await;
        // Tunnels for the sessions that can run: created before IKE can install SAs.
        let specs: Vec<strait_dataplane::TunnelSpec> = wanted
            .iter()
            .filter_map(|d| match &d.plan {
                Plan::Run(c, t) if !sockets.failed.contains_key(&c.local) => Some((**t).clone()),
                _ => None,
            })
            .collect();
        let tunnels = self.dataplane.set_tunnels(specs).await;
        let now = Instant::now();
        let mut entries = BTreeMap::new();
        let mut keep = HashSet::new();
        for d in wanted {
            let mut entry = Entry {
                display_name: d.display_name.clone(),
                idle: None,
                status: None,
            };
            match d.plan {
                Plan::Run(cfg, _) => {
                    let problem = match (sockets.failed.get(&cfg.local), tunnels.get(&d.path)) {
                        (Some(err), _) => Some(format!(
                            "{err}: the local endpoint address {} must be configured on an interface of this host",
                            cfg.local
                        )),
                        (None, Some(Err(e))) => Some(format!(
                            "the session's tunnel interface cannot be created: {e}"
                        )),
                        _ => None,
                    };
                    if let Some(problem) = problem {
                        entry.idle = Some((
                            strait_model::status::reasons::CONFIGURATION_FAILED,
                            Some(problem),
                        ));
                        if self.running.remove(&d.path) {
                            ep.remove_session(now, &SessionId(d.path.clone()), rng);
                        }
                    } else {
                        ep.set_session(now, *cfg, rng);
                        self.running.insert(d.path.clone());
                        keep.insert(d.path.clone());
                        entry.status = ep.status(&SessionId(d.path.clone()));
                    }
                }
                Plan::Idle { reason, alarm } => {
                    entry.idle = Some((reason, alarm));
                }
            }
            entries.insert(d.path, entry);
        }
        let gone: Vec<String> = self
            .running
            .iter()
            .filter(|p| !keep.contains(*p))
            .cloned()
            .collect();
        for p in gone {
            ep.remove_session(now, &SessionId(p.clone()), rng);
            self.running.remove(&p);
        }
        self.board.replace(entries);
        Some(addrs)
    }
}
