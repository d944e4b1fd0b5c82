//! The tokio side: one supervised BIRD process, its configuration file and its control
//! socket.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{watch, Notify};
use zeroize::Zeroizing;

use crate::client::{Client, ClientError};
use crate::model::{ConfigError, RoutingConfig};
use crate::render::{protocol_name, render};
use crate::status::{
    parse_bfd_sessions, parse_protocols, parse_routes, BfdSession, ConnectionState, ProtocolStatus,
    Route,
};
use crate::Paths;

/// How to run BIRD.
#[derive(Clone, Debug)]
pub struct BirdOptions {
    /// The `bird` binary (default `/usr/sbin/bird`).
    pub bird: PathBuf,
    /// Run BIRD inside this network namespace (`ip netns exec <ns> bird ...`).
    pub netns: Option<String>,
    /// More exits than this within a minute and the supervisor stops restarting BIRD
    /// ([`ProcessState::Failed`]) until the next [`Bird::apply`].
    pub max_restarts_per_minute: usize,
    /// First restart delay; doubled after each quick exit, up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest restart delay.
    pub backoff_max: Duration,
    /// Time allowed for one control-socket command.
    pub command_timeout: Duration,
    /// Time allowed for a started BIRD to open its control socket.
    pub start_timeout: Duration,
}

impl Default for BirdOptions {
    fn default() -> Self {
        BirdOptions {
            bird: PathBuf::from("/usr/sbin/bird"),
            netns: None,
            max_restarts_per_minute: 5,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            command_timeout: Duration::from_secs(10),
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// The BIRD process as the supervisor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Spawned, control socket not yet seen.
    Starting,
    /// Running with this PID.
    Running {
        /// BIRD's PID.
        pid: u32,
    },
    /// Exited; restarted after a delay.
    Restarting {
        /// The delay.
        after: Duration,
    },
    /// Exited too often; not restarted until the next [`Bird::apply`].
    Failed {
        /// Why, for the operator.
        reason: String,
    },
    /// Shut down by [`Bird::shutdown`].
    Stopped,
}

/// The supervisor's own status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessStatus {
    /// Current state.
    pub state: ProcessState,
    /// Restarts since [`Bird::start`].
    pub restarts: u32,
    /// How BIRD last exited (e.g. `signal: 9 (SIGKILL)`), with the last lines it logged.
    pub last_exit: Option<String>,
}

/// What went wrong realizing the configuration or reading status.
#[derive(Debug, thiserror::Error)]
pub enum BirdError {
    /// The configuration does not validate.
    #[error("invalid routing configuration: {}", join(.0))]
    Invalid(Vec<ConfigError>),
    /// BIRD refused the rendered configuration; its own message, verbatim.
    #[error("BIRD refused the configuration: {message}")]
    Rejected {
        /// BIRD's message (e.g. `/var/lib/strait/bird/bird.conf.new:12:8 syntax error, ...`).
        message: String,
    },
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Talking to BIRD failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// BIRD is not running.
    #[error("BIRD is not running: {0}")]
    NotRunning(String),
}

fn join(v: &[ConfigError]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One neighbor's live status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighborStatus {
    /// The API's neighbor ID.
    pub name: String,
    /// The BIRD protocol name.
    pub protocol: String,
    /// NSX's connection state.
    pub connection_state: ConnectionState,
    /// What BIRD said (`None` when BIRD does not know the neighbor).
    pub bird: Option<ProtocolStatus>,
    /// Since when the session is Established (Unix seconds).
    pub established_since: Option<u64>,
    /// Routes accepted from the neighbor (all families).
    pub routes_received: u64,
    /// Routes sent to the neighbor (all families).
    pub routes_advertised: u64,
    /// A family's `max_routes` is reached (BIRD blocks further routes).
    pub max_routes_hit: bool,
    /// The BFD session to the neighbor, when the neighbor has BFD and BIRD has one.
    pub bfd: Option<BfdSession>,
    /// (local, remote) TCP ports of the Established session, from the kernel's socket table.
    pub ports: Option<(u16, u16)>,
    /// Why it is not Established, or what is wrong, for the operator.
    pub reason: Option<String>,
}

/// Everything [`Bird::status`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingStatus {
    /// The BIRD process.
    pub process: ProcessStatus,
    /// The configured neighbors, in configuration order.
    pub neighbors: Vec<NeighborStatus>,
    /// Routes learned over BGP (best and alternatives).
    pub routes: Vec<Route>,
}

struct Shared {
    state: ProcessState,
    restarts: u32,
    last_exit: Option<String>,
    config: Option<RoutingConfig>,
}

struct Inner {
    paths: Paths,
    opts: BirdOptions,
    shared: Mutex<Shared>,
    /// Serializes configuration changes (file + `configure`).
    apply_lock: tokio::sync::Mutex<()>,
    /// Wakes a Failed supervisor.
    kick: Notify,
    stop: watch::Sender<bool>,
}

impl Inner {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        // A poisoned lock only means a panic elsewhere; the data is still usable.
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn set_state(&self, s: ProcessState) {
        self.shared().state = s;
    }
}

/// A supervised BIRD.
pub struct Bird {
    inner: Arc<Inner>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Bird {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bird")
            .field("paths", &self.inner.paths)
            .finish_non_exhaustive()
    }
}

/// The configuration BIRD starts with before the first [`Bird::apply`]: no protocols but
/// the device scan.
fn idle_config() -> String {
    "# Generated by strait: no routing configured yet.\nlog stderr all;\nrouter id 0.0.0.1;\nprotocol device strait_device {\n}\n"
        .to_string()
}

fn write_private(path: &Path, text: &str) -> Result<(), BirdError> {
    let io = |what: &str, source| BirdError::Io {
        what: format!("{what} {}", path.display()),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io("creating", e))?;
    // An older file may have been created with another mode.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| io("chmod", e))?;
    f.write_all(text.as_bytes()).map_err(|e| io("writing", e))?;
    f.sync_all().map_err(|e| io("syncing", e))
}

impl Bird {
    /// Starts BIRD (`bird -f -c <config> -s <socket> -P <pid>`) under supervision with an idle
    /// configuration, and waits until its control socket answers. A BIRD left running on the
    /// same socket (e.g. by a crashed straitd) is told to shut down first.
    pub async fn start(paths: Paths, opts: BirdOptions) -> Result<Bird, BirdError> {
        std::fs::create_dir_all(&paths.dir).map_err(|source| BirdError::Io {
            what: format!("creating {}", paths.dir.display()),
            source,
        })?;
        let leftover = leftover_pid(&paths);
        if let Ok(mut old) = Client::connect(&paths.socket, Duration::from_secs(2)).await {
            tracing::warn!(socket = %paths.socket.display(), "a BIRD is already running on strait's socket; shutting it down");
            let _ = old.command("down").await;
            wait_socket_gone(&paths.socket, Duration::from_secs(10)).await;
        }
        // A BIRD left by a straitd that was killed (it outlives its parent) must be gone
        // before ours starts: two would fight over the BGP port and the kernel routes.
        if let Some(pid) = leftover {
            stop_process(pid, Duration::from_secs(5)).await;
        }
        write_private(&paths.config, &idle_config())?;
        let (stop, stop_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            paths,
            opts,
            shared: Mutex::new(Shared {
                state: ProcessState::Starting,
                restarts: 0,
                last_exit: None,
                config: None,
            }),
            apply_lock: tokio::sync::Mutex::new(()),
            kick: Notify::new(),
            stop,
        });
        let task = tokio::spawn(supervise(inner.clone(), stop_rx));
        let bird = Bird {
            inner,
            task: Some(task),
        };
        bird.wait_ready(bird.inner.opts.start_timeout).await?;
        Ok(bird)
    }

    /// Waits until the control socket answers.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), BirdError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let ProcessState::Failed { reason } = &self.inner.shared().state {
                return Err(BirdError::NotRunning(reason.clone()));
            }
            match Client::connect(&self.inner.paths.socket, Duration::from_secs(1)).await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    let last = self.inner.shared().last_exit.clone().unwrap_or_default();
                    return Err(BirdError::NotRunning(format!("{e}; {last}")));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The files and socket.
    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    async fn client(&self) -> Result<Client, BirdError> {
        let t = self.inner.opts.command_timeout;
        Ok(Client::connect(&self.inner.paths.socket, t).await?)
    }

    /// Validates and renders `cfg`, has BIRD check it (`configure check`), then replaces the
    /// configuration file atomically (mode 0600) and runs `configure`: BIRD restarts only the
    /// protocols whose configuration changed, other sessions stay up. While BIRD is down
    /// (being restarted) the file is checked with `bird -p` instead and BIRD reads it when it
    /// comes back.
    pub async fn apply(&self, cfg: &RoutingConfig) -> Result<(), BirdError> {
        cfg.validate().map_err(BirdError::Invalid)?;
        let text = Zeroizing::new(render(cfg, &self.inner.paths));
        let _guard = self.inner.apply_lock.lock().await;
        let candidate = self.inner.paths.candidate();
        write_private(&candidate, &text)?;
        let mut client = match self.client().await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "BIRD's socket does not answer; checking the configuration with bird -p");
                None
            }
        };
        let checked = match client.as_mut() {
            Some(c) => {
                let r = c
                    .command(&format!("configure check \"{}\"", candidate.display()))
                    .await?;
                if r.is_error() {
                    Err(r.error_text())
                } else {
                    Ok(())
                }
            }
            None => parse_only(&self.inner.opts.bird, &candidate).await,
        };
        if let Err(message) = checked {
            let _ = std::fs::remove_file(&candidate);
            return Err(BirdError::Rejected { message });
        }
        std::fs::rename(&candidate, &self.inner.paths.config).map_err(|source| BirdError::Io {
            what: format!(
                "renaming {} to {}",
                candidate.display(),
                self.inner.paths.config.display()
            ),
            source,
        })?;
        let previous = {
            let mut s = self.inner.shared();
            let previous = s.config.replace(cfg.clone());
            if matches!(s.state, ProcessState::Failed { .. }) {
                self.inner.kick.notify_one();
            }
            previous
        };
        if let Some(c) = client.as_mut() {
            let r = c.command("configure").await?;
            if r.is_error() {
                return Err(BirdError::Rejected {
                    message: r.error_text(),
                });
            }
            tracing::info!(
                neighbors = cfg.neighbors.len(),
                bytes = text.len(),
                bird = %r.final_text(),
                "BGP configuration applied"
            );
            for name in limits_changed(previous.as_ref(), cfg) {
                // BIRD drops routes beyond an import limit (`action block`) and does not ask
                // for them again when the limit changes: a route refresh (RFC 2918, `reload
                // in`) brings them back without resetting the session.
                let protocol = protocol_name(&name);
                let r = c.command(&format!("reload in {protocol}")).await?;
                if r.is_error() {
                    tracing::warn!(neighbor = %name, bird = %r.error_text(), "BIRD did not reload the neighbor's routes after its maximum_routes changed");
                }
            }
        }
        Ok(())
    }

    /// The supervisor's view of the process.
    pub fn process(&self) -> ProcessStatus {
        let s = self.inner.shared();
        ProcessStatus {
            state: s.state.clone(),
            restarts: s.restarts,
            last_exit: s.last_exit.clone(),
        }
    }

    /// Sends any one-line command and returns BIRD's reply (diagnostics).
    pub async fn command(&self, cmd: &str) -> Result<crate::Reply, BirdError> {
        Ok(self.client().await?.command(cmd).await?)
    }

    /// Neighbors (from `show protocols all`) and BGP routes (from `show route all`).
    pub async fn status(&self) -> Result<RoutingStatus, BirdError> {
        let process = self.process();
        let config = self.inner.shared().config.clone();
        let mut c = match self.client().await {
            Ok(c) => c,
            Err(e) => {
                let reason = match &process.state {
                    ProcessState::Failed { reason } => reason.clone(),
                    _ => e.to_string(),
                };
                let neighbors = config
                    .iter()
                    .flat_map(|cfg| cfg.neighbors.iter())
                    .map(|n| NeighborStatus {
                        name: n.name.clone(),
                        protocol: protocol_name(&n.name),
                        connection_state: ConnectionState::Unknown,
                        bird: None,
                        established_since: None,
                        routes_received: 0,
                        routes_advertised: 0,
                        max_routes_hit: false,
                        bfd: None,
                        ports: None,
                        reason: Some(format!("BIRD is not running: {reason}")),
                    })
                    .collect();
                return Ok(RoutingStatus {
                    process,
                    neighbors,
                    routes: Vec::new(),
                });
            }
        };
        let protocols =
            parse_protocols(&c.command("show protocols all").await?).map_err(ClientError::from)?;
        let mut routes = Vec::new();
        for table in ["master4", "master6"] {
            let r = c
                .command(&format!(
                    "show route all table {table} where source = RTS_BGP"
                ))
                .await?;
            routes.extend(parse_routes(&r).map_err(ClientError::from)?);
        }
        // `show bfd sessions` fails when no BFD protocol exists: ask only when one is rendered.
        let wants_bfd = config
            .iter()
            .flat_map(|cfg| cfg.neighbors.iter())
            .any(|n| n.enabled && n.bfd.is_some());
        let bfd = if wants_bfd && protocols.iter().any(|p| p.proto == "BFD") {
            parse_bfd_sessions(&c.command("show bfd sessions").await?).map_err(ClientError::from)?
        } else {
            Vec::new()
        };
        let mut neighbors = match &config {
            Some(cfg) => neighbor_status(cfg, &protocols, &bfd),
            None => Vec::new(),
        };
        if neighbors.iter().any(|n| n.established_since.is_some()) {
            let pid = match process.state {
                ProcessState::Running { pid } => Some(pid),
                _ => None,
            };
            let connections = crate::tcp::read_tcp_connections(pid);
            for n in neighbors
                .iter_mut()
                .filter(|n| n.established_since.is_some())
            {
                let bgp = n.bird.as_ref().and_then(|b| b.bgp.as_ref());
                if let Some(addr) = bgp.and_then(|b| b.neighbor_address) {
                    let local = bgp.and_then(|b| b.source_address);
                    n.ports = crate::tcp::bgp_ports(&connections, local, addr);
                }
            }
        }
        Ok(RoutingStatus {
            process,
            neighbors,
            routes,
        })
    }

    /// Shuts BIRD down gracefully (`down`: peers get a Cease, kernel routes are withdrawn),
    /// killing it if it does not exit within 10 s, and stops supervising.
    pub async fn shutdown(mut self) -> Result<(), BirdError> {
        let _ = self.inner.stop.send(true);
        if let Ok(mut c) = self.client().await {
            let _ = c.command("down").await;
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.inner.set_state(ProcessState::Stopped);
        Ok(())
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        // The task kills BIRD (kill_on_drop) when it sees the stop signal.
        let _ = self.inner.stop.send(true);
    }
}

/// Enabled neighbors, kept from `previous` to `cfg`, whose `max_routes` changed in any family.
fn limits_changed(previous: Option<&RoutingConfig>, cfg: &RoutingConfig) -> Vec<String> {
    let limits = |n: &crate::model::Neighbor| -> Vec<(crate::model::Afi, Option<u32>)> {
        n.families.iter().map(|f| (f.afi, f.max_routes)).collect()
    };
    let Some(previous) = previous else {
        return Vec::new();
    };
    cfg.neighbors
        .iter()
        .filter(|n| n.enabled)
        .filter(|n| {
            previous
                .neighbors
                .iter()
                .find(|p| p.name == n.name)
                .is_some_and(|p| p.enabled && limits(p) != limits(n))
        })
        .map(|n| n.name.clone())
        .collect()
}

/// The live status of each configured neighbor from `show protocols all` and `show bfd
/// sessions`.
pub fn neighbor_status(
    cfg: &RoutingConfig,
    protocols: &[ProtocolStatus],
    bfd_sessions: &[BfdSession],
) -> Vec<NeighborStatus> {
    cfg.neighbors
        .iter()
        .map(|n| {
            let protocol = protocol_name(&n.name);
            let p = protocols.iter().find(|p| p.name == protocol);
            let Some(p) = p else {
                return NeighborStatus {
                    name: n.name.clone(),
                    protocol,
                    connection_state: ConnectionState::Unknown,
                    bird: None,
                    established_since: None,
                    routes_received: 0,
                    routes_advertised: 0,
                    max_routes_hit: false,
                    bfd: None,
                    ports: None,
                    reason: Some("not in BIRD's running configuration".into()),
                };
            };
            let bgp_state = p.bgp.as_ref().map(|b| b.bgp_state.as_str()).unwrap_or("");
            let connection_state =
                if p.bgp.is_some() { ConnectionState::from_bird(bgp_state) } else { ConnectionState::Invalid };
            let established = connection_state == ConnectionState::Established;
            let hit: Vec<&str> =
                p.channels.iter().filter(|c| c.import_limit_hit || c.receive_limit_hit).map(|c| c.name.as_str()).collect();
            let bfd = n
                .bfd
                .and_then(|_| bfd_sessions.iter().find(|b| b.address == n.address))
                .cloned();
            let mut reasons = Vec::new();
            if !n.enabled {
                reasons.push("neighbor is disabled".to_string());
            } else if !established {
                if let Some(e) = p.bgp.as_ref().and_then(|b| b.last_error.as_deref()) {
                    reasons.push(format!("last error: {e}"));
                }
                if let Some(b) = bfd.as_ref().filter(|b| b.state != "Up") {
                    reasons.push(format!(
                        "BFD session is {}: BGP waits for BFD; check that the neighbor runs BFD for this address with compatible intervals and that the path to it (the tunnel) is up",
                        b.state
                    ));
                }
                if matches!(connection_state, ConnectionState::Connect | ConnectionState::Active) {
                    reasons.push(if n.password.is_some() {
                        "no BGP session: the TCP connection does not complete; check that the neighbor is reachable, runs BGP for this address, and uses the same TCP-MD5 password (a mismatch drops the TCP handshake silently)".to_string()
                    } else {
                        "no BGP session: the TCP connection does not complete; check that the neighbor is reachable and runs BGP for this address, without a TCP-MD5 password".to_string()
                    });
                }
            }
            for ch in &hit {
                let max = p.channels.iter().find(|c| c.name == *ch).and_then(|c| c.import_limit.or(c.receive_limit));
                reasons.push(format!(
                    "max_routes ({}) reached for {ch}: further routes from this neighbor are dropped",
                    max.map_or_else(|| "?".to_string(), |m| m.to_string())
                ));
            }
            NeighborStatus {
                name: n.name.clone(),
                protocol,
                connection_state,
                established_since: if established { p.since } else { None },
                routes_received: p.channels.iter().map(|c| c.imported).sum(),
                routes_advertised: p.channels.iter().map(|c| c.exported).sum(),
                max_routes_hit: !hit.is_empty(),
                bfd,
                ports: None,
                reason: if reasons.is_empty() { None } else { Some(reasons.join("; ")) },
                bird: Some(p.clone()),
            }
        })
        .collect()
}

async fn wait_socket_gone(socket: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if Client::connect(socket, Duration::from_millis(500))
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `bird -p -c <file>`: parse only (used while the daemon is down).
async fn parse_only(bird: &Path, file: &Path) -> Result<(), String> {
    let out = Command::new(bird)
        .arg("-p")
        .arg("-c")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(format!("running {} -p: {e}", bird.display())),
    }
}

fn command(inner: &Inner) -> Command {
    let p = &inner.paths;
    let mut args: Vec<OsString> = vec![
        "-f".into(),
        "-c".into(),
        p.config.clone().into(),
        "-s".into(),
        p.socket.clone().into(),
        "-P".into(),
        p.pid.clone().into(),
    ];
    let mut cmd = match &inner.opts.netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            let mut pre: Vec<OsString> = vec![
                "netns".into(),
                "exec".into(),
                ns.into(),
                inner.opts.bird.clone().into(),
            ];
            pre.append(&mut args);
            c.args(pre);
            c
        }
        None => {
            let mut c = Command::new(&inner.opts.bird);
            c.args(args);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// BIRD's log lines (stderr) → tracing, each line bounded; the last few kept for the exit
/// message.
async fn forward_log(child: &mut Child, tail: Arc<Mutex<VecDeque<String>>>) {
    let Some(stderr) = child.stderr.take() else {
        return;
    };
    tokio::spawn(async move {
        let mut r = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut r).take(4096).read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    tracing::info!(target: "strait_routing::bird", "{text}");
                    let mut t = tail
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if t.len() >= 5 {
                        t.pop_front();
                    }
                    t.push_back(text);
                }
            }
        }
    });
}

async fn supervise(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut exits: VecDeque<Instant> = VecDeque::new();
    let mut backoff = inner.opts.backoff_initial;
    loop {
        if *stop.borrow() {
            break;
        }
        inner.set_state(ProcessState::Starting);
        let started = Instant::now();
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let exit = match command(&inner).spawn() {
            Ok(mut child) => {
                let pid = child.id().unwrap_or(0);
                tracing::info!(pid, config = %inner.paths.config.display(), "BIRD started");
                inner.set_state(ProcessState::Running { pid });
                forward_log(&mut child, tail.clone()).await;
                tokio::select! {
                    r = child.wait() => match r {
                        Ok(s) => s.to_string(),
                        Err(e) => format!("waiting for BIRD failed: {e}"),
                    },
                    _ = stopped(&mut stop) => {
                        // shutdown() sent `down`; give BIRD time to withdraw its routes.
                        if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_err() {
                            let _ = child.kill().await;
                        }
                        break;
                    }
                }
            }
            Err(e) => format!("cannot start {}: {e}", inner.opts.bird.display()),
        };
        // Let the log forwarder catch BIRD's last words.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let last_lines: Vec<String> = tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        let message = if last_lines.is_empty() {
            exit
        } else {
            format!("{exit}; last log: {}", last_lines.join(" | "))
        };
        tracing::warn!(exit = %message, "BIRD exited");
        let now = Instant::now();
        exits.push_back(now);
        while exits
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            exits.pop_front();
        }
        {
            let mut s = inner.shared();
            s.last_exit = Some(message.clone());
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = inner.opts.backoff_initial;
        }
        if exits.len() > inner.opts.max_restarts_per_minute {
            let reason = format!(
                "BIRD exited {} times within a minute; last: {message}",
                exits.len()
            );
            tracing::error!(%reason, "not restarting BIRD until the configuration changes");
            inner.set_state(ProcessState::Failed { reason });
            tokio::select! {
                _ = inner.kick.notified() => {}
                _ = stopped(&mut stop) => break,
            }
            exits.clear();
            backoff = inner.opts.backoff_initial;
        } else {
            inner.set_state(ProcessState::Restarting { after: backoff });
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stopped(&mut stop) => break,
            }
            backoff = (backoff * 2).min(inner.opts.backoff_max);
        }
        inner.shared().restarts += 1;
    }
    inner.set_state(ProcessState::Stopped);
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The PID in `paths.pid`, if that process is alive and is a BIRD (a recycled PID of
/// another program is left alone).
fn leftover_pid(paths: &Paths) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(&paths.pid)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "bird" && pid > 1).then_some(pid)
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purpose (its parent has not reaped it yet).
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

/// SIGTERM `pid`, wait up to `grace`, then SIGKILL.
async fn stop_process(pid: i32, grace: Duration) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if !alive(pid) {
        return;
    }
    tracing::warn!(pid, "stopping a BIRD left running by an earlier straitd");
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if alive(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
