//! straitd's runtime around the [`Gateway`]: the tokio event loop (real sockets, the real
//! clock, configuration changes, operator commands) and what the API reads.

use std::sync::Arc;
use std::time::Instant;

use ike_proto::{EndpointConfig, Random};
use strait_dataplane::{Dataplane, DataplaneEvents};
use strait_model::status::{SessionStatusNsxT, StatusSource, TunnelTrafficStatistics};
use strait_policy::Policy;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::board::StatusBoard;
use crate::boundary::DataplaneApi;
use crate::gateway::Gateway;
use crate::sockets::UdpSockets;

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
        // predictable values, so stopping is the only safe answer.
        #[allow(clippy::expect_used)]
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
    status: StatusView<Dataplane>,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    log_level: tokio::sync::watch::Receiver<&'static str>,
}

/// Session status and statistics as the API shows them: the board's status checked
/// against the data plane (VTI name, counters, and never UP for a tunnel that cannot send).
pub struct StatusView<D: DataplaneApi> {
    board: Arc<StatusBoard>,
    dataplane: Arc<D>,
}

impl<D: DataplaneApi> Clone for StatusView<D> {
    fn clone(&self) -> Self {
        StatusView {
            board: self.board.clone(),
            dataplane: self.dataplane.clone(),
        }
    }
}

impl<D: DataplaneApi> StatusView<D> {
    /// The view of a gateway's board and data plane.
    pub fn new(board: Arc<StatusBoard>, dataplane: Arc<D>) -> Self {
        StatusView { board, dataplane }
    }

    /// NSX `IPSecVpnSessionStatusNsxT` of a session.
    pub fn session_status(&self, path: &str) -> Option<SessionStatusNsxT> {
        let mut st = self.board.session_status(path)?;
        if st.runtime_status == "UP" {
            // A status is a promise: UP only if the tunnel has an SA to send on (the
            // invariant checks repair this within a second; until then, say so).
            let can_send = self
                .dataplane
                .sa_state(path)
                .is_some_and(|s| s.sender.is_some() && s.sender_published);
            if !can_send {
                degrade_no_sender(&mut st);
            }
        }
        if let Some(name) = self.dataplane.interface_name(path) {
            st.interface_name = Some(name);
        }
        if let Some(c) = self.dataplane.counters(path) {
            st.aggregate_traffic_counters = tunnel_statistics(&st, c).aggregate();
        }
        Some(st)
    }

    /// NSX per-tunnel statistics of a session.
    pub fn tunnel_statistics(&self, path: &str) -> Option<TunnelTrafficStatistics> {
        let counters = self.dataplane.counters(path)?;
        let st = self.session_status(path)?;
        Some(tunnel_statistics(&st, counters))
    }
}

/// IKE is up but the tunnel cannot send: DEGRADED, with an alarm saying what happens.
fn degrade_no_sender(st: &mut SessionStatusNsxT) {
    st.runtime_status = "DEGRADED".into();
    st.negotiated_tunnels = 0;
    st.failed_tunnels = st.total_tunnels.max(1);
    st.alarm = Some(strait_model::status::RuntimeAlarm {
        error_id: "TUNNEL_CANNOT_SEND".into(),
        message: "IKE is up but the tunnel has no IPsec SA to send on; strait is re-creating the Child SA. If this stays, rekey the session (POST .../sessions/ID?action=rekey) or disable and enable it".into(),
        error_details: Default::default(),
    });
}

/// What the API holds: status, statistics and operator actions.
pub struct RuntimeHandle {
    status: StatusView<Dataplane>,
    commands: mpsc::Sender<Command>,
    routing: Option<crate::routing::RoutingView>,
}

impl RuntimeHandle {
    /// Serve routing status from `routing` too.
    pub fn with_routing(mut self, routing: crate::routing::RoutingView) -> Self {
        self.routing = Some(routing);
        self
    }
}

impl StatusSource for RuntimeHandle {
    fn session_status(&self, path: &str) -> Option<SessionStatusNsxT> {
        self.status.session_status(path)
    }

    fn rekey(&self, path: &str, kind: strait_model::status::RekeyKind) -> bool {
        let up = self
            .status
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
        self.status.tunnel_statistics(path)
    }

    fn reset_statistics(&self, path: &str) -> bool {
        self.status.dataplane.reset_counters(path)
    }

    fn bgp_neighbors_status(
        &self,
        bgp_path: &str,
    ) -> Option<Vec<strait_model::routing_status::BgpNeighborStatus>> {
        Some(self.routing.as_ref()?.neighbors_status(bgp_path))
    }

    fn bgp_neighbor_routes(
        &self,
        neighbor_path: &str,
        advertised: bool,
    ) -> Option<Vec<strait_model::routing_status::RouteDetails>> {
        Some(
            self.routing
                .as_ref()?
                .neighbor_routes(neighbor_path, advertised),
        )
    }

    fn routing_table(
        &self,
        tier0_path: &str,
        forwarding: bool,
    ) -> Option<strait_model::routing_status::RoutingTable> {
        Some(self.routing.as_ref()?.routing_table(tier0_path, forwarding))
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

impl ControlPlane {
    /// Start the control plane on the current tokio runtime, driving `dataplane` (whose
    /// events it takes).
    pub fn start(
        policy: Policy,
        dataplane: Arc<Dataplane>,
        events: DataplaneEvents,
        mut cfg: EndpointConfig,
    ) -> ControlPlane {
        // Port 500's datagrams join port 4500's in the data plane's inbox: one queue per
        // sender, served in turn, so a flood from one address delays nobody else.
        let sockets = UdpSockets::new(dataplane.clone(), events.ike.clone());
        // Key exchanges run on their own threads (as many as cores, up to 4): the event loop
        // keeps serving timers and established SAs during a flood or a setup burst.
        let (crypto_tx, crypto_results) = mpsc::unbounded_channel();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let pool = match crate::crypto_pool::CryptoPool::start(threads, crypto_tx) {
            Ok(pool) => Some(pool),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the IKE key-exchange threads; computing key exchanges on the event loop");
                None
            }
        };
        cfg.offload_crypto = pool.is_some();
        let mut gateway = Gateway::new(
            cfg,
            dataplane.clone(),
            sockets,
            Box::new(OsRandom::default()),
            Instant::now(),
        );
        if let Some(pool) = pool {
            gateway.set_crypto_offload(Box::new(move |job| pool.submit(job)));
        }
        let status = StatusView::new(gateway.board(), dataplane);
        let log_level = gateway.ike_log_level();
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(policy, gateway, events, rx, crypto_results));
        ControlPlane {
            status,
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
        self.status.board.clone()
    }

    /// Status and actions for the API.
    pub fn handle(&self) -> RuntimeHandle {
        RuntimeHandle {
            status: self.status.clone(),
            commands: self.commands.clone(),
            routing: None,
        }
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

    /// Whether the control plane's task has ended (it runs until shutdown; it ends early
    /// only if it panicked, e.g. on a violated invariant in a debug build).
    pub fn has_stopped(&self) -> bool {
        self.task.is_finished()
    }

    /// Send Deletes for every IKE SA, remove the VTIs, and stop (contract: SIGTERM).
    pub async fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), rx).await;
        }
        self.task.abort();
        self.status.dataplane.shutdown().await;
    }
}

/// Read the configuration (on a blocking thread: SQLite): only what changed since
/// `previous` when there is one.
async fn read_config(
    policy: &Policy,
    previous: Option<Arc<strait_policy::TreeSnapshot>>,
) -> Option<strait_policy::TreeSnapshot> {
    let p = policy.clone();
    let read = move || match previous {
        Some(prev) => p.snapshot_since(&prev),
        None => p.snapshot_all(),
    };
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(t)) => Some(t),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read the configuration");
            None
        }
        Err(_) => None,
    }
}

/// The event loop: real sockets, the real clock, configuration changes and commands, each
/// handed to the [`Gateway`].
async fn run(
    policy: Policy,
    mut gw: Gateway<Dataplane, UdpSockets>,
    events: DataplaneEvents,
    mut commands: mpsc::Receiver<Command>,
    mut crypto_results: mpsc::UnboundedReceiver<ike_proto::CryptoDone>,
) {
    let DataplaneEvents {
        ike: inbox,
        rekey: mut rekey_requests,
        tunnels: mut tunnels_made,
    } = events;
    let mut changes = policy.subscribe();
    set_wall_clock(&mut gw);
    if let Some(tree) = read_config(&policy, None).await {
        gw.apply_config(Instant::now(), tree).await;
    }
    loop {
        // Certificates are checked in calendar time; following the system clock each turn
        // keeps a clock step (NTP) from leaving the endpoint's idea of the date behind.
        set_wall_clock(&mut gw);
        let wake = gw.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            (local, remote, data) = inbox.recv() => {
                gw.handle_datagram(Instant::now(), local, remote, &data).await;
            }
            Some(done) = crypto_results.recv() => {
                gw.handle_crypto(Instant::now(), done).await;
            }
            Some(made) = tunnels_made.recv() => {
                gw.handle_tunnel_made(Instant::now(), made).await;
            }
            Some(session) = rekey_requests.recv() => {
                gw.rekey_child(Instant::now(), &session).await;
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                if let Some(tree) = read_config(&policy, gw.config()).await {
                    gw.apply_config(Instant::now(), tree).await;
                }
            }
            _ = async { match wake { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                gw.handle_timeout(Instant::now()).await;
            }
            cmd = commands.recv() => match cmd {
                Some(Command::RekeyChild(p)) => gw.rekey_child(Instant::now(), &p).await,
                Some(Command::RekeyIke(p)) => gw.rekey_ike(Instant::now(), &p).await,
                Some(Command::Shutdown(done)) => {
                    gw.shutdown(Instant::now()).await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    gw.shutdown(Instant::now()).await;
                    return;
                }
            },
        }
    }
}

/// Tell the gateway the system's calendar time now.
fn set_wall_clock(gw: &mut Gateway<Dataplane, UdpSockets>) {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    gw.set_wall_clock(Instant::now(), unix);
}
