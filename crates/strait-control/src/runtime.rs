//! The event loop: sockets, timers, configuration changes, commands.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use ike_proto::{ChildSaParams, Endpoint, EndpointConfig, Event, Random, SessionId};
use strait_policy::Policy;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::board::{Entry, StatusBoard};
use crate::desired::{desired, Plan};

/// Where negotiated Child SAs go: the data plane (ESP over the session's VTI).
pub trait SaSink: Send + Sync {
    /// Install both directions of a Child SA.
    fn install(&self, sa: &ChildSaParams);
    /// Remove a Child SA.
    fn remove(&self, session: &SessionId, spi_in: u32, spi_out: u32);
}

/// An [`SaSink`] that only logs (SPIs and algorithms, never keys), until a data plane is
/// attached.
pub struct LoggingSaSink;

impl SaSink for LoggingSaSink {
    fn install(&self, sa: &ChildSaParams) {
        tracing::info!(session = %sa.session, spi_in = format_args!("{:08x}", sa.spi_in), spi_out = format_args!("{:08x}", sa.spi_out), cipher = ?sa.cipher, "Child SA installed");
    }
    fn remove(&self, session: &SessionId, spi_in: u32, spi_out: u32) {
        tracing::info!(%session, spi_in = format_args!("{spi_in:08x}"), spi_out = format_args!("{spi_out:08x}"), "Child SA removed");
    }
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
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

/// What the API holds: status and operator actions.
pub struct RuntimeHandle {
    board: Arc<StatusBoard>,
    commands: mpsc::Sender<Command>,
}

impl strait_model::status::StatusSource for RuntimeHandle {
    fn session_status(&self, path: &str) -> Option<strait_model::status::SessionStatusNsxT> {
        self.board.session_status(path)
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
}

/// Datagrams waiting for the protocol; beyond this, new ones are dropped (the peer retransmits).
const INBOX_MAX: usize = 4096;
/// How often binding a missing local endpoint address is tried again.
const BIND_RETRY: std::time::Duration = std::time::Duration::from_secs(10);
/// Largest datagram read.
const DATAGRAM_MAX: usize = 65_535;

impl ControlPlane {
    /// Start the control plane on the current tokio runtime.
    pub fn start(policy: Policy, sink: Arc<dyn SaSink>, cfg: EndpointConfig) -> ControlPlane {
        let board = Arc::new(StatusBoard::default());
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(policy, sink, board.clone(), cfg, rx));
        ControlPlane {
            board,
            commands: tx,
            task,
        }
    }

    /// The status board.
    pub fn board(&self) -> Arc<StatusBoard> {
        self.board.clone()
    }

    /// Status and actions for the API.
    pub fn handle(&self) -> Arc<RuntimeHandle> {
        Arc::new(RuntimeHandle {
            board: self.board.clone(),
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

    /// Send Deletes for every IKE SA and stop.
    pub async fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), rx).await;
        }
        self.task.abort();
    }
}

struct Sockets {
    /// (local ip, port) → socket.
    by_addr: HashMap<SocketAddr, Arc<UdpSocket>>,
    readers: HashMap<SocketAddr, JoinHandle<()>>,
    /// Addresses that could not be bound, with the error.
    failed: HashMap<IpAddr, String>,
}

impl Sockets {
    /// Drop sockets of addresses no longer wanted (after the Deletes sent from them left).
    fn prune(&mut self, want: &HashSet<IpAddr>) {
        let stale: Vec<SocketAddr> = self
            .by_addr
            .keys()
            .filter(|a| !want.contains(&a.ip()))
            .copied()
            .collect();
        for a in stale {
            self.by_addr.remove(&a);
            if let Some(r) = self.readers.remove(&a) {
                r.abort();
            }
        }
        self.failed.retain(|ip, _| want.contains(ip));
    }

    /// Bind 500 and 4500 on every address in `want` (sockets no longer wanted stay until
    /// [`Sockets::prune`], so that Deletes can still be sent from them).
    async fn reconcile(
        &mut self,
        want: &HashSet<IpAddr>,
        inbox: &mpsc::Sender<(SocketAddr, SocketAddr, Vec<u8>)>,
    ) {
        for ip in want {
            let mut first_error = None;
            for port in [500u16, 4500] {
                let addr = SocketAddr::new(*ip, port);
                if self.by_addr.contains_key(&addr) {
                    continue;
                }
                match UdpSocket::bind(addr).await {
                    Ok(sock) => {
                        let sock = Arc::new(sock);
                        let reader = tokio::spawn(read_loop(sock.clone(), addr, inbox.clone()));
                        self.by_addr.insert(addr, sock);
                        self.readers.insert(addr, reader);
                        tracing::info!(%addr, "IKE listening");
                    }
                    Err(e) => {
                        tracing::warn!(%addr, error = %e, "cannot listen for IKE");
                        first_error.get_or_insert_with(|| format!("cannot listen on {addr}: {e}"));
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
    sink: Arc<dyn SaSink>,
    board: Arc<StatusBoard>,
    cfg: EndpointConfig,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut rng = OsRandom::default();
    let mut ep = Endpoint::new(cfg, &mut rng);
    let (inbox_tx, mut inbox) = mpsc::channel(INBOX_MAX);
    let mut sockets = Sockets {
        by_addr: HashMap::new(),
        readers: HashMap::new(),
        failed: HashMap::new(),
    };
    let mut changes = policy.subscribe();
    let mut running: HashSet<String> = HashSet::new();
    reconcile(
        &policy,
        &mut ep,
        &mut sockets,
        &board,
        &inbox_tx,
        &mut running,
        &mut rng,
    )
    .await;
    flush(&mut ep, &sockets, &sink, &board).await;
    loop {
        let wake = ep.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            Some((local, remote, data)) = inbox.recv() => {
                ep.handle_datagram(Instant::now(), local, remote, &data, &mut rng);
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                let wanted = reconcile(&policy, &mut ep, &mut sockets, &board, &inbox_tx, &mut running, &mut rng).await;
                flush(&mut ep, &sockets, &sink, &board).await;
                if let Some(w) = wanted {
                    sockets.prune(&w);
                }
            }
            // A local endpoint address may be added to the host later: try binding again.
            _ = tokio::time::sleep(BIND_RETRY), if !sockets.failed.is_empty() => {
                let wanted = reconcile(&policy, &mut ep, &mut sockets, &board, &inbox_tx, &mut running, &mut rng).await;
                flush(&mut ep, &sockets, &sink, &board).await;
                if let Some(w) = wanted {
                    sockets.prune(&w);
                }
            }
            _ = async { match wake { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                ep.handle_timeout(Instant::now(), &mut rng);
            }
            cmd = commands.recv() => match cmd {
                Some(Command::RekeyChild(p)) => ep.rekey_child(Instant::now(), &SessionId(p), &mut rng),
                Some(Command::RekeyIke(p)) => ep.rekey_ike(Instant::now(), &SessionId(p), &mut rng),
                Some(Command::Shutdown(done)) => {
                    ep.shutdown(Instant::now(), &mut rng);
                    flush(&mut ep, &sockets, &sink, &board).await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    ep.shutdown(Instant::now(), &mut rng);
                    flush(&mut ep, &sockets, &sink, &board).await;
                    return;
                }
            },
        }
        flush(&mut ep, &sockets, &sink, &board).await;
    }
}

/// Send what the protocol produced, apply its events.
async fn flush(ep: &mut Endpoint, sockets: &Sockets, sink: &Arc<dyn SaSink>, board: &StatusBoard) {
    while let Some(t) = ep.poll_transmit() {
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
            Event::ChildSaInstalled(sa) => sink.install(&sa),
            Event::ChildSaDeleted {
                session,
                spi_in,
                spi_out,
            } => sink.remove(&session, spi_in, spi_out),
            Event::StatusChanged(id) => {
                if let Some(st) = ep.status(&id) {
                    board.update(&id.0, |e| e.status = Some(st));
                }
            }
        }
    }
}

/// Make the endpoint's sessions match the stored policy.
async fn reconcile(
    policy: &Policy,
    ep: &mut Endpoint,
    sockets: &mut Sockets,
    board: &StatusBoard,
    inbox: &mpsc::Sender<(SocketAddr, SocketAddr, Vec<u8>)>,
    running: &mut HashSet<String>,
    rng: &mut OsRandom,
) -> Option<HashSet<IpAddr>> {
    let p = policy.clone();
    let tree = match tokio::task::spawn_blocking(move || p.snapshot_all()).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read the configuration");
            return None;
        }
        Err(_) => return None,
    };
    let wanted = desired(&tree);
    let addrs: HashSet<IpAddr> = wanted
        .iter()
        .filter_map(|d| match &d.plan {
            Plan::Run(c) => Some(c.local),
            Plan::Idle { .. } => None,
        })
        .collect();
    sockets.reconcile(&addrs, inbox).await;
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
            Plan::Run(cfg) => {
                if let Some(err) = sockets.failed.get(&cfg.local) {
                    entry.idle = Some((
                        strait_model::status::reasons::CONFIGURATION_FAILED,
                        Some(format!(
                            "{err}: the local endpoint address {} must be configured on an interface of this host",
                            cfg.local
                        )),
                    ));
                    if running.remove(&d.path) {
                        ep.remove_session(now, &SessionId(d.path.clone()), rng);
                    }
                } else {
                    ep.set_session(now, *cfg, rng);
                    running.insert(d.path.clone());
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
    let gone: Vec<String> = running
        .iter()
        .filter(|p| !keep.contains(*p))
        .cloned()
        .collect();
    for p in gone {
        ep.remove_session(now, &SessionId(p.clone()), rng);
        running.remove(&p);
    }
    board.replace(entries);
    Some(addrs)
}
