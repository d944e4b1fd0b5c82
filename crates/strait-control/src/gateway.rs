//! The gateway's control plane without I/O of its own: the IKE endpoint (`ike-proto`), the
//! reconciler that turns the stored policy into sessions and tunnels, and the boundary to
//! the data plane and the sockets ([`DataplaneApi`], [`IkeSockets`]). Time and randomness
//! come in as inputs, so straitd's runtime (real sockets, real clock) and the whole-gateway
//! simulation (in-memory data plane and network, virtual time, a seed) run the same code.
//!
//! Every input ends with [`Gateway`] checking the invariants of `invariants.rs` on the
//! sessions it touched (all of them once per traffic tick).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ike_proto::{
    ChildSaParams, CryptoDone, CryptoJob, DropCause, DropReport, Endpoint, EndpointConfig, Event,
    Random, SessionId,
};
use strait_dataplane::{Encapsulation, SaInstall};
use strait_policy::TreeSnapshot;

use crate::board::StatusBoard;
use crate::boundary::{DataplaneApi, IkeSockets};
use crate::invariants;

mod realize;

/// How often binding a missing local endpoint address is tried again.
pub const BIND_RETRY: Duration = Duration::from_secs(10);
/// How often the data plane's counters are read for DPD (and a share of the sessions'
/// invariants checked: see [`SWEEP_ROUND`]).
pub const TRAFFIC_TICK: Duration = Duration::from_secs(1);
/// The invariant sweep checks every session within this many ticks: each tick checks the
/// next `max(SWEEP_MIN, sessions / SWEEP_ROUND)` of them in path order, and each round
/// starts with the IKE endpoint's own checks and the tunnels without a running session. At
/// 10,000 tunnels checking all of them every second cost most of an idle gateway's CPU
/// (issue 16); what an input changes is still checked when the input ends.
pub const SWEEP_ROUND: usize = 10;
/// Sessions checked per tick at least (so a small gateway checks all of them every tick).
pub const SWEEP_MIN: usize = 256;
/// Debug lines per second for IKE datagrams sent and received (see `log_datagram`).
const DATAGRAM_LOG_PER_SECOND: u64 = 50;
/// The debug log of IKE datagrams, limited per second of the gateway's clock (`now`, an
/// input like every other time here): past the limit, lines are only counted, and the count
/// is logged when the next second starts.
#[derive(Debug, Default)]
struct DatagramLog {
    second_start: Option<Instant>,
    logged: u64,
    skipped: u64,
}

impl DatagramLog {
    fn log(
        &mut self,
        now: Instant,
        what: &str,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let start = *self.second_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= Duration::from_secs(1) {
            self.second_start = Some(now);
            self.logged = 0;
            if self.skipped > 0 {
                let skipped = std::mem::take(&mut self.skipped);
                tracing::debug!(
                    skipped,
                    "IKE datagrams not logged in the last second (rate limit)"
                );
            }
        }
        if self.logged >= DATAGRAM_LOG_PER_SECOND {
            self.skipped += 1;
            return;
        }
        self.logged += 1;
        log_datagram(what, local, remote, data);
    }
}

/// How often the counts of unauthenticated messages dropped or refused are logged: one line
/// per cause per interval at most, never a line per packet.
pub const UNAUTHENTICATED_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Where key-exchange work goes when the runtime computes it on other threads; the result
/// comes back through [`Gateway::handle_crypto`].
pub type CryptoSubmit = Box<dyn FnMut(CryptoJob) + Send>;

/// A gateway's control plane (see the module documentation).
pub struct Gateway<D: DataplaneApi, S: IkeSockets> {
    ep: Endpoint,
    rng: Box<dyn Random + Send>,
    dataplane: Arc<D>,
    sockets: S,
    board: Arc<StatusBoard>,
    log_level: tokio::sync::watch::Sender<&'static str>,
    /// The configuration last applied.
    tree: Option<Arc<TreeSnapshot>>,
    /// Sessions the endpoint runs (each has a tunnel).
    running: BTreeSet<String>,
    /// The local address of every session whose plan is to run (bound or not), so that a
    /// change to a few sessions knows which addresses all the others still need.
    run_locals: BTreeMap<String, IpAddr>,
    /// Sessions whose tunnel could not be made (they are retried by a full realization).
    tunnel_failures: BTreeSet<String>,
    /// Sessions waiting for the data plane to make their tunnel: each starts when
    /// [`Gateway::handle_tunnel_made`] reports it.
    making: BTreeSet<String>,
    /// ESP activity per session for DPD: (packets in, packets out) at the last tick.
    traffic: BTreeMap<String, (u64, u64)>,
    next_traffic_tick: Instant,
    /// Child SAs the data plane refused (deleted in IKE, not expected in the data plane).
    refused: BTreeSet<(String, u32)>,
    /// Sessions an input changed: their invariants are checked when it ends.
    touched: BTreeSet<String>,
    /// The last session the sweep checked (None: the next tick starts a round).
    sweep_cursor: Option<String>,
    /// A repair asked for the tunnels to be set again.
    reconcile_due: bool,
    /// When to try binding the local endpoint addresses that failed again.
    next_bind_retry: Option<Instant>,
    /// Panic on a violated invariant instead of repairing it (test and debug builds).
    strict: bool,
    /// Key-exchange work goes here; None computes it in place.
    crypto_submit: Option<CryptoSubmit>,
    next_unauthenticated_report: Instant,
    datagram_log: DatagramLog,
}

impl<D: DataplaneApi, S: IkeSockets> Gateway<D, S> {
    /// A gateway with no configuration yet.
    pub fn new(
        cfg: EndpointConfig,
        dataplane: Arc<D>,
        sockets: S,
        mut rng: Box<dyn Random + Send>,
        now: Instant,
    ) -> Self {
        let ep = Endpoint::new(cfg, &mut *rng);
        let (log_level, _) = tokio::sync::watch::channel("info");
        Gateway {
            ep,
            rng,
            dataplane,
            sockets,
            board: Arc::new(StatusBoard::default()),
            log_level,
            tree: None,
            running: BTreeSet::new(),
            run_locals: BTreeMap::new(),
            tunnel_failures: BTreeSet::new(),
            making: BTreeSet::new(),
            traffic: BTreeMap::new(),
            next_traffic_tick: now + TRAFFIC_TICK,
            refused: BTreeSet::new(),
            touched: BTreeSet::new(),
            sweep_cursor: None,
            reconcile_due: false,
            next_bind_retry: None,
            strict: cfg!(debug_assertions),
            crypto_submit: None,
            next_unauthenticated_report: now + UNAUTHENTICATED_REPORT_INTERVAL,
            datagram_log: DatagramLog::default(),
        }
    }

    /// Compute key exchanges elsewhere: every job the endpoint hands out goes to `submit`,
    /// and its result must come back through [`Gateway::handle_crypto`]. Without it (and in
    /// the simulation) jobs run in place, in order.
    pub fn set_crypto_offload(&mut self, submit: CryptoSubmit) {
        self.crypto_submit = Some(submit);
    }

    /// The calendar time (seconds since 1970) at `now`, for certificate checks (see
    /// [`Endpoint::set_wall_clock`]).
    pub fn set_wall_clock(&mut self, now: Instant, unix_secs: u64) {
        self.ep.set_wall_clock(now, unix_secs);
    }

    /// Panic on a violated invariant (the default in test and debug builds), or log,
    /// alarm and repair it (release builds; tests of the repairs).
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    /// The status board the API reads.
    pub fn board(&self) -> Arc<StatusBoard> {
        self.board.clone()
    }

    /// The data plane.
    pub fn dataplane(&self) -> &Arc<D> {
        &self.dataplane
    }

    /// The IKE endpoint (read-only, for status and tests).
    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// The IKE log level the VPN services ask for (see `ControlPlane::ike_log_level`).
    pub fn ike_log_level(&self) -> tokio::sync::watch::Receiver<&'static str> {
        self.log_level.subscribe()
    }

    /// Sessions the endpoint runs.
    pub fn running(&self) -> &BTreeSet<String> {
        &self.running
    }

    /// When [`Gateway::handle_timeout`] must be called next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let mut t = Some(self.next_traffic_tick);
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        at(self.ep.poll_timeout());
        at(self.next_bind_retry);
        t
    }

    // ---- inputs ----------------------------------------------------------------------

    /// The stored configuration changed: realize it (sessions, tunnels, sockets, routes).
    pub async fn apply_config(&mut self, now: Instant, tree: impl Into<Arc<TreeSnapshot>>) {
        let tree = tree.into();
        let has_static_routes = tree
            .of_kind(strait_model::Kind::StaticRoute)
            .next()
            .is_some();
        let stray_routes = if has_static_routes {
            crate::desired::routes_without_vti(&tree)
        } else {
            Vec::new()
        };
        for (route, hops) in stray_routes {
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
        let mut scope = realize::Scope::of_change(self.tree.as_deref(), &tree);
        if !self.sockets.failed().is_empty() || !self.tunnel_failures.is_empty() {
            // Sessions outside the change are waiting on a local address to bind or on a
            // tunnel to be made: a full realization tries those again too (as every change
            // did before realizations could be partial).
            scope = realize::Scope::All;
        }
        self.tree = Some(tree);
        self.realize(now, scope).await;
    }

    /// The configuration last applied (the runtime reads the next one from it: only what
    /// changed since).
    pub fn config(&self) -> Option<Arc<TreeSnapshot>> {
        self.tree.clone()
    }

    /// An IKE datagram arrived (port 500, or 4500 with its non-ESP marker).
    pub async fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        self.datagram_log
            .log(now, "IKE received", local, remote, data);
        self.ep
            .handle_datagram(now, local, remote, data, &mut *self.rng);
        self.finish(now, false).await;
    }

    /// Timers: IKE's, the traffic tick (DPD hints, full invariant sweep), bind retries.
    pub async fn handle_timeout(&mut self, now: Instant) {
        if self.ep.poll_timeout().is_some_and(|t| t <= now) {
            self.ep.handle_timeout(now, &mut *self.rng);
        }
        let mut sweep = false;
        if now >= self.next_traffic_tick {
            self.next_traffic_tick = now + TRAFFIC_TICK;
            self.note_traffic(now);
            sweep = true;
        }
        if now >= self.next_unauthenticated_report {
            self.next_unauthenticated_report = now + UNAUTHENTICATED_REPORT_INTERVAL;
            log_unauthenticated(&self.ep.take_unauthenticated_report());
            let dropped = self.sockets.take_receive_drops();
            if dropped > 0 {
                tracing::info!(
                    count = dropped,
                    "IKE datagrams dropped on receipt in the last {} s: one sender sent more than the control plane could answer (a flood, or a peer retransmitting hard); other senders were served in turn",
                    UNAUTHENTICATED_REPORT_INTERVAL.as_secs()
                );
            }
        }
        if self.next_bind_retry.is_some_and(|t| t <= now) {
            // A local endpoint address may have been added to the host since.
            self.next_bind_retry = None;
            self.reconcile_due = true;
        }
        if std::mem::take(&mut self.reconcile_due) {
            self.realize(now, realize::Scope::All).await;
        }
        self.finish(now, sweep).await;
    }

    /// The data plane made a tunnel that a realization left pending (or could not make it):
    /// its session starts now (or shows why not).
    pub async fn handle_tunnel_made(&mut self, now: Instant, made: strait_dataplane::TunnelMade) {
        self.tunnel_made(now, made);
        self.finish(now, false).await;
    }

    /// Sessions waiting for their tunnel to be made.
    pub fn making(&self) -> &BTreeSet<String> {
        &self.making
    }

    /// A key-exchange computation handed out by [`Gateway::set_crypto_offload`] finished.
    pub async fn handle_crypto(&mut self, now: Instant, done: CryptoDone) {
        self.ep.handle_crypto(now, done, &mut *self.rng);
        self.finish(now, false).await;
    }

    /// Rekey a session's Child SAs now (operator action, or sequence numbers running out).
    pub async fn rekey_child(&mut self, now: Instant, session: &str) {
        self.ep
            .rekey_child(now, &SessionId(session.to_owned()), &mut *self.rng);
        self.finish(now, false).await;
    }

    /// Rekey a session's IKE SA now.
    pub async fn rekey_ike(&mut self, now: Instant, session: &str) {
        self.ep
            .rekey_ike(now, &SessionId(session.to_owned()), &mut *self.rng);
        self.finish(now, false).await;
    }

    /// Send Deletes for every IKE SA and forget every session (SIGTERM).
    pub async fn shutdown(&mut self, now: Instant) {
        self.ep.shutdown(now, &mut *self.rng);
        self.running.clear();
        self.flush(now).await;
    }

    // ---- internals -------------------------------------------------------------------

    /// Tell DPD whether ESP flowed since the last tick (RFC 3706-style: traffic from the
    /// peer proves it alive; on-demand DPD probes only when we send and hear nothing).
    fn note_traffic(&mut self, now: Instant) {
        let running = &self.running;
        self.traffic.retain(|p, _| running.contains(p));
        for path in &self.running {
            let Some(c) = self.dataplane.counters(path) else {
                continue;
            };
            let now_counts = (c.packets_in, c.packets_out);
            let before = self.traffic.insert(path.clone(), now_counts);
            let (received, sent) = match before {
                Some((i, o)) => (i != now_counts.0, o != now_counts.1),
                None => (false, false),
            };
            if received || sent {
                self.ep
                    .note_traffic(now, &SessionId(path.clone()), sent, received);
            }
        }
    }

    /// Apply what the input produced, check the invariants, repair what they found.
    async fn finish(&mut self, now: Instant, sweep: bool) {
        self.flush(now).await;
        let (mut sessions, whole) = if sweep {
            self.sweep_share()
        } else {
            (Vec::new(), false)
        };
        sessions.extend(std::mem::take(&mut self.touched));
        sessions.sort_unstable();
        sessions.dedup();
        let found = invariants::check(
            &self.ep,
            &*self.dataplane,
            &self.running,
            &self.making,
            &self.refused,
            &sessions,
            whole,
        );
        if found.is_empty() {
            return;
        }
        if self.strict {
            // Test and debug builds stop here: a violation is a bug to find, not to hide.
            let status: Vec<_> = found
                .iter()
                .map(|v| {
                    let id = SessionId(v.session.clone());
                    (v.session.clone(), self.ep.status(&id))
                })
                .collect();
            stop_on_violation(format!(
                "control/data plane invariant violated: {found:#?}\nIKE status: {status:#?}"
            ));
        }
        let mut by_session: BTreeMap<String, (Vec<String>, Vec<invariants::Repair>)> =
            BTreeMap::new();
        for v in found {
            tracing::warn!(session = %v.session, problem = %v.problem, repair = %v.repair.describe(), "control and data plane out of step: repairing");
            let e = by_session.entry(v.session).or_default();
            e.0.push(v.problem);
            if !e.1.contains(&v.repair) {
                e.1.push(v.repair);
            }
        }
        for (session, (problems, repairs)) in by_session {
            let alarm = format!(
                "strait found {} and repaired it ({}); if this alarm returns, send the straitd log to the developers",
                problems.join("; "),
                repairs
                    .iter()
                    .map(invariants::Repair::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            self.board
                .update(&session, |e| e.repair = Some((now, alarm)));
            for r in repairs {
                self.repair(now, &session, r).await;
            }
        }
        self.flush(now).await;
        self.touched.clear();
    }

    /// The sessions this tick's sweep checks (see [`SWEEP_ROUND`]), and whether a round
    /// starts (then the endpoint as a whole and tunnels without a running session too).
    fn sweep_share(&mut self) -> (Vec<String>, bool) {
        let (mut sessions, whole) = sweep_share(&self.running, &mut self.sweep_cursor);
        if whole {
            let running = &self.running;
            sessions.extend(
                self.dataplane
                    .tunnel_sessions()
                    .into_iter()
                    .filter(|s| !running.contains(s)),
            );
        }
        (sessions, whole)
    }

    async fn repair(&mut self, now: Instant, session: &str, repair: invariants::Repair) {
        use invariants::Repair;
        let id = SessionId(session.to_owned());
        match repair {
            Repair::RemoveFromDataplane { spi_in, spi_out } => {
                self.dataplane.remove(session, spi_in, spi_out)
            }
            Repair::RecreateChildSas => self.ep.rekey_child(now, &id, &mut *self.rng),
            Repair::Reconcile => self.realize(now, realize::Scope::All).await,
            Repair::Report => {}
        }
    }

    /// Apply the protocol's events and send what it produced, until it has nothing more.
    ///
    /// Events go first: a message that lets the peer send on a new Child SA (the rekey
    /// initiator's Delete of the old one, a responder's IKE_AUTH or CREATE_CHILD_SA
    /// response) must leave only once the data plane can receive on it (RFC 7296 §2.8
    /// make-before-break), or the packets the peer sends at once are dropped as unknown
    /// SPIs. The simulation checks this order (`tests/sim/causality.rs`).
    async fn flush(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(ev) = self.ep.poll_event() {
                moved = true;
                self.apply_event(now, ev).await;
            }
            while let Some(t) = self.ep.poll_transmit() {
                moved = true;
                self.datagram_log
                    .log(now, "IKE sent", t.local, t.remote, &t.data);
                self.sockets.send(&t).await;
            }
            while let Some(job) = self.ep.poll_crypto() {
                match self.crypto_submit.as_mut() {
                    Some(submit) => submit(job),
                    None => {
                        moved = true;
                        self.ep.handle_crypto(now, job.run(), &mut *self.rng);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    async fn apply_event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::ChildSaInstalled(sa) => {
                self.touched.insert(sa.session.0.clone());
                tracing::info!(session = %sa.session, spi_in = format_args!("{:08x}", sa.spi_in), spi_out = format_args!("{:08x}", sa.spi_out), cipher = %sa.cipher.nsx_name(), esn = sa.esn, udp_encapsulation = sa.udp_encapsulation, "Child SA installed");
                let result = match sa_install(&sa, &mut *self.rng) {
                    Ok(install) => self
                        .dataplane
                        .install(install)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    // Nothing is installed: delete the Child SA in IKE too (a new one is
                    // negotiated), so that both planes agree and the peer does not send
                    // into an SA we cannot decrypt.
                    tracing::error!(session = %sa.session, spi_in = format_args!("{:08x}", sa.spi_in), error = %e, "Child SA not installed in the data plane; deleting it");
                    self.refused.insert((sa.session.0.clone(), sa.spi_in));
                    let alarm = format!("a Child SA could not be installed in the data plane ({e}); strait deleted it and negotiates another");
                    self.board
                        .update(&sa.session.0, |e| e.repair = Some((now, alarm)));
                    // Its Delete goes out on the next flush round.
                    self.ep
                        .delete_child_sa(now, &sa.session, sa.spi_in, &mut *self.rng);
                }
            }
            Event::ChildSaRetired {
                session,
                spi_in,
                spi_out,
            } => {
                tracing::info!(%session, spi_in = format_args!("{spi_in:08x}"), spi_out = format_args!("{spi_out:08x}"), "Child SA being deleted: no longer sent on");
                self.dataplane.retire(&session.0, spi_in);
                self.touched.insert(session.0);
            }
            Event::ChildSaDeleted {
                session,
                spi_in,
                spi_out,
            } => {
                tracing::info!(%session, spi_in = format_args!("{spi_in:08x}"), spi_out = format_args!("{spi_out:08x}"), "Child SA removed");
                self.refused.remove(&(session.0.clone(), spi_in));
                self.dataplane.remove(&session.0, spi_in, spi_out);
                self.touched.insert(session.0);
            }
            Event::StatusChanged(id) => {
                if let Some(st) = self.ep.status(&id) {
                    log_status(&id, &st);
                    self.board.update(&id.0, |e| e.status = Some(st));
                }
                self.touched.insert(id.0);
            }
        }
    }
}

/// The data plane's view of a Child SA IKE negotiated (keys move, never copied to logs).
fn sa_install(sa: &ChildSaParams, rng: &mut dyn Random) -> Result<SaInstall, String> {
    let transform = esp_proto::Transform::from_ikev2(
        sa.cipher.transform_id(),
        sa.cipher.key_bits(),
        sa.integrity,
    )
    .map_err(|e| format!("the negotiated ESP transform has no data-plane implementation: {e}"))?;
    let mut iv_seed = [0u8; 16];
    rng.fill(&mut iv_seed);
    Ok(SaInstall {
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

/// An IKE message's header at debug level (RFC 7296 §3.1: exchange type at byte 18, flags at
/// 19, message ID at 20..24; behind the non-ESP marker on port 4500). Never the payloads.
///
/// Even at debug level a flood must not become a line per packet: [`DatagramLog`] lets at
/// most [`DATAGRAM_LOG_PER_SECOND`] lines a second through.
fn log_datagram(what: &str, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
    let msg = match data {
        [0, 0, 0, 0, rest @ ..] => rest,
        d => d,
    };
    let (exchange, flags, message_id) = match msg.get(16..24) {
        Some(&[_, _, exchange, flags, a, b, c, d]) => {
            (exchange, flags, u32::from_be_bytes([a, b, c, d]))
        }
        _ => (0, 0, 0),
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

/// Log the counts of unauthenticated messages dropped or refused in the last interval: one
/// line per cause, with how many, from how many claimed addresses, the busiest one, and an
/// example where it helps (e.g. the proposals a peer offered). The texts come from the
/// wire, unauthenticated: they are reported as such and never become a session's status.
fn log_unauthenticated(report: &[DropReport]) {
    let mut by_cause: BTreeMap<DropCause, Vec<&DropReport>> = BTreeMap::new();
    for r in report {
        by_cause.entry(r.cause).or_default().push(r);
    }
    for (cause, entries) in by_cause {
        let total: u64 = entries.iter().map(|r| r.count).sum();
        let busiest = entries.iter().max_by_key(|r| r.count);
        let example = entries.iter().rev().find_map(|r| r.example.as_deref());
        let secs = UNAUTHENTICATED_REPORT_INTERVAL.as_secs();
        let top = busiest.map_or_else(String::new, |r| format!("{} ({})", r.peer, r.count));
        match cause {
            // What a misconfigured real peer causes: worth a warning.
            DropCause::NoProposalChosen | DropCause::WrongKeGroup | DropCause::Malformed => {
                tracing::warn!(count = total, addresses = entries.len(), busiest = %top, example = example.unwrap_or(""), "unauthenticated IKE in the last {secs} s: {cause}; if this is a real peer, compare its IKE proposal with the session's IKE profile")
            }
            _ => {
                tracing::info!(count = total, addresses = entries.len(), busiest = %top, "unauthenticated IKE in the last {secs} s: {cause}")
            }
        }
    }
}

/// Strict mode's end (test and debug builds, never the release default): the one
/// deliberate panic of the control plane, so a violated invariant is found, not hidden.
#[allow(clippy::panic)]
fn stop_on_violation(report: String) -> ! {
    panic!("{report}")
}

/// The next share of `running` after `cursor` for the invariant sweep, advancing the cursor,
/// and whether this share starts a round (see [`SWEEP_ROUND`]).
fn sweep_share(running: &BTreeSet<String>, cursor: &mut Option<String>) -> (Vec<String>, bool) {
    use std::ops::Bound::{Excluded, Unbounded};
    let share = SWEEP_MIN.max(running.len().div_ceil(SWEEP_ROUND));
    let start = cursor.take();
    // One more than the share: whether any session is left for the next tick.
    let mut sessions: Vec<String> = match &start {
        None => running.iter().take(share + 1).cloned().collect(),
        Some(after) => running
            .range::<String, _>((Excluded(after), Unbounded))
            .take(share + 1)
            .cloned()
            .collect(),
    };
    if sessions.len() > share {
        sessions.pop();
        *cursor = sessions.last().cloned();
    }
    (sessions, start.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(n: usize) -> BTreeSet<String> {
        (0..n).map(|i| format!("/s/{i:05}")).collect()
    }

    #[test]
    fn the_sweep_checks_every_session_once_per_round_of_ten_ticks() {
        let running = sessions(10_000);
        let mut cursor = None;
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut rounds = Vec::new();
        for tick in 0..20 {
            let (share, whole) = sweep_share(&running, &mut cursor);
            assert_eq!(share.len(), 1_000, "tick {tick}");
            if whole {
                rounds.push(tick);
            }
            for s in share {
                *seen.entry(s).or_default() += 1;
            }
        }
        assert_eq!(rounds, [0, 10]);
        assert_eq!(seen.len(), 10_000);
        assert!(
            seen.values().all(|&n| n == 2),
            "each session twice in 20 ticks"
        );
    }

    #[test]
    fn a_small_gateway_is_swept_whole_every_tick_and_removals_do_not_stop_a_round() {
        let small = sessions(SWEEP_MIN);
        let mut cursor = None;
        for _ in 0..3 {
            let (share, whole) = sweep_share(&small, &mut cursor);
            assert!(whole);
            assert_eq!(share.len(), SWEEP_MIN);
            assert_eq!(cursor, None);
        }
        let mut running = sessions(3_000);
        let mut cursor = None;
        let (first, whole) = sweep_share(&running, &mut cursor);
        assert!(whole && first.len() == 300);
        // The session the cursor points at goes away: the round goes on after it.
        running.remove(first.last().unwrap());
        let (second, whole) = sweep_share(&running, &mut cursor);
        assert!(!whole);
        assert_eq!(second.first().map(String::as_str), Some("/s/00300"));
    }
}
