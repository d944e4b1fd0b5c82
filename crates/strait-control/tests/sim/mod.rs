//! Whole gateways in one process, on virtual time, from a seed: each gateway is strait's
//! real control plane ([`strait_control::Gateway`]: reconciler, IKE, invariant checks) over
//! its own real policy store (SQLite in a temporary directory, changed with the same calls
//! the REST API makes), with a simulated data plane (the real SA-set logic and real ESP
//! crypto, no TUN) and simulated sockets on a simulated network that loses, duplicates and
//! reorders as the scenario says. Every choice comes from the seed, so a failing seed
//! replays exactly (`STRAIT_SIM_SEED=N`).
//!
//! After every step the world checks, beyond each gateway's own invariants (which panic in
//! strict mode): no session's status is UP while its tunnel has no SA to send on, and no
//! gateway sends on a Child SA its peer could not yet receive on (`causality.rs`). At
//! checkpoints (`observe.rs`) it stops all trouble and checks that every session comes UP on
//! both ends and that packets injected at either VTI come out of the other.
//!
//! Beside this file: the data plane (`dataplane.rs`), sockets and network (`net.rs`), forged
//! IKE_SA_INIT requests (`forge.rs`) and the certificates of certificate sessions
//! (`pki.rs`).
#![allow(dead_code)]

pub mod causality;
pub mod dataplane;
mod forge;
pub mod net;
mod observe;
mod pki;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use ike_proto::{CryptoJob, EndpointConfig, TestRandom, Transmit};
use serde_json::{json, Value};
use strait_control::Gateway;
use strait_policy::{Actor, Policy};
use strait_store::Store;

use causality::{Causality, Stamp};
use dataplane::SimDataplane;
pub use forge::Forgery;
use net::{Host, Rng, SimSockets};
pub use pki::certificate_session;

pub const SVC: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn";
/// `STRAIT_SIM_TRACE=1`: print what happens (and the gateways' logs) while replaying a seed.
static TRACE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    let on = std::env::var_os("STRAIT_SIM_TRACE").is_some();
    if on {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("strait_control=debug,ike_proto=debug")
            .with_writer(std::io::stderr)
            .without_time()
            .try_init();
    }
    on
});

pub const PSK: &str = "simulated-psk-0123456789";

/// Run a future that never waits (the simulated data plane and sockets answer at once).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a simulated component waited"),
    }
}

/// One simulated gateway.
pub struct SimGateway {
    pub name: String,
    pub addr: IpAddr,
    _dir: tempfile::TempDir,
    pub policy: Policy,
    pub dp: Arc<SimDataplane>,
    pub host: Arc<Mutex<Host>>,
    /// None while the gateway is down (crashed or stopped).
    pub gw: Option<Gateway<SimDataplane, SimSockets>>,
    pub starts: u64,
    /// Strict: panic on a violated invariant (the default).
    pub strict: bool,
    /// Crypto jobs the gateway handed out (with [`World::crypto_delay`]), not yet scheduled.
    jobs: Arc<Mutex<Vec<CryptoJob>>>,
}

/// A session between two gateways: (gateway index, session path) at each end.
#[derive(Debug, Clone)]
pub struct Link {
    pub a: (usize, String),
    pub b: (usize, String),
    /// The session bodies as created (to create them again after a delete).
    pub body_a: Value,
    pub body_b: Value,
}

/// How the network treats datagrams.
#[derive(Debug, Clone, Copy)]
pub struct NetProfile {
    pub loss: f64,
    pub duplicate: f64,
    /// One-way delay: base plus up to `jitter` (reordering comes from the jitter).
    pub delay: Duration,
    pub jitter: Duration,
}

impl NetProfile {
    pub const CLEAN: NetProfile = NetProfile {
        loss: 0.0,
        duplicate: 0.0,
        delay: Duration::from_millis(5),
        jitter: Duration::ZERO,
    };
}

/// Something the scenario does at a moment.
#[derive(Debug, Clone)]
pub enum Action {
    /// Start a gateway (it reads its configuration and initiates).
    Start(usize),
    /// `kill -9`: the process and its data plane vanish, nothing is sent.
    Crash(usize),
    /// SIGTERM: Deletes are sent, then the process stops.
    Stop(usize),
    /// Rekey a session's Child SAs / IKE SA (operator action).
    RekeyChild(usize, String),
    RekeyIke(usize, String),
    /// An API PATCH on a gateway, then the configuration change reaches its control plane.
    Patch(usize, String, Value),
    /// An API DELETE of a session on a gateway (the change reaches its control plane).
    Delete(usize, String),
    /// The network changes.
    Net(NetProfile),
    /// Inject a packet at a session's VTI.
    Probe(usize, String),
    /// An attacker on the path forges an IKE_SA_INIT request "from" gateway `from` to
    /// gateway `to`, made from the last genuine one `from` sent (issue 12).
    Forge {
        from: usize,
        to: usize,
        kind: Forgery,
    },
}

enum Packet {
    /// With what it proves about its sender (None: forged).
    Ike(Transmit, Option<Stamp>),
    Esp {
        local: SocketAddr,
        remote: SocketAddr,
        data: Vec<u8>,
    },
}

pub struct World {
    pub seed: u64,
    pub base: Instant,
    /// Calendar time (seconds since 1970) at `base`, for certificate checks.
    pub unix_base: u64,
    pub now: Instant,
    pub gws: Vec<SimGateway>,
    pub links: Vec<Link>,
    pub rng: Rng,
    pub net: NetProfile,
    /// Datagrams in flight, by arrival time (then sending order).
    wire: BTreeMap<(Instant, u64), (usize, Packet)>,
    /// Scheduled actions.
    actions: BTreeMap<(Instant, u64), Action>,
    /// Some(max): the gateways hand their crypto jobs (key exchanges, signatures) out, as
    /// straitd does to its thread pool, and each result comes back 0 to `max` later, in
    /// whatever order that makes. None: jobs run in place, in order.
    pub crypto_delay: Option<Duration>,
    /// Crypto jobs being computed, by completion time: (gateway, its incarnation, job).
    crypto: BTreeMap<(Instant, u64), (usize, u64, CryptoJob)>,
    /// Crypto jobs completed through `crypto_delay`.
    pub crypto_completed: u64,
    /// Each tunnel a gateway asks its data plane for is made 0 to this long later (straitd
    /// makes VTIs in the background and reports each as it is ready).
    pub tunnel_delay: Duration,
    /// Tunnel makes scheduled, by time: (gateway, its incarnation).
    makes: BTreeMap<(Instant, u64), (usize, u64)>,
    seq: u64,
    /// Probes sent (id → (gateway, session) it must come out of) and delivered.
    probes_sent: BTreeMap<u64, (usize, String)>,
    pub probes_delivered: BTreeSet<u64>,
    /// Probes that came out of the wrong tunnel (never allowed).
    pub misdelivered: Vec<u64>,
    next_probe: u64,
    /// A digest of everything that happened, to check that a seed replays exactly.
    trace: std::collections::hash_map::DefaultHasher,
    pub steps: u64,
    pub datagrams: u64,
    /// Steps at the same instant (a timer firing without progress is a bug).
    same_instant: u64,
    /// IKE_SA_INIT requests each gateway sent.
    pub init_requests: Vec<u64>,
    /// The last IKE_SA_INIT request each gateway sent (what an attacker on the path saw).
    captured_init: Vec<Option<Transmit>>,
    /// Forged datagrams delivered.
    pub forged: u64,
    /// Background traffic: every link direction whose session is UP sends a packet this
    /// often (not checked; it feeds DPD and the data plane's "peer used it").
    pub traffic_every: Option<Duration>,
    next_traffic: Option<Instant>,
    /// Check after every step that no UP session lacks a sender (off only in tests that
    /// break the data plane on purpose).
    pub check_up_has_sender: bool,
    /// Make before break on the wire (see `causality.rs`), checked after every step.
    causality: Causality,
}

impl World {
    /// Gateways at 198.51.100.1, .2, ... with one local endpoint each, configured but not
    /// started.
    pub fn new(seed: u64, gateways: usize) -> World {
        let base = Instant::now();
        let mut gws = Vec::new();
        for k in 0..gateways {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open(dir.path()).unwrap());
            let policy = Policy::open(store).unwrap();
            let addr: IpAddr = format!("198.51.100.{}", k + 1).parse().unwrap();
            let host = Arc::new(Mutex::new(Host {
                addresses: [addr].into_iter().collect(),
                ..Host::default()
            }));
            let g = SimGateway {
                name: ((b'a' + k as u8) as char).to_string(),
                addr,
                _dir: dir,
                policy,
                dp: Arc::new(SimDataplane::default()),
                host,
                gw: None,
                starts: 0,
                strict: true,
                jobs: Arc::default(),
            };
            g.patch("/infra/tier-0s/t0", json!({}));
            g.patch(SVC, json!({}));
            g.patch(
                &format!("{SVC}/local-endpoints/le"),
                json!({"local_address": addr.to_string()}),
            );
            gws.push(g);
        }
        World {
            seed,
            base,
            unix_base: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            now: base,
            gws,
            links: Vec::new(),
            rng: Rng::new(seed),
            net: NetProfile::CLEAN,
            wire: BTreeMap::new(),
            actions: BTreeMap::new(),
            crypto_delay: None,
            crypto: BTreeMap::new(),
            crypto_completed: 0,
            tunnel_delay: Duration::from_millis(5),
            makes: BTreeMap::new(),
            seq: 0,
            probes_sent: BTreeMap::new(),
            probes_delivered: BTreeSet::new(),
            misdelivered: Vec::new(),
            next_probe: 1,
            trace: Default::default(),
            steps: 0,
            datagrams: 0,
            same_instant: 0,
            init_requests: vec![0; gateways],
            captured_init: vec![None; gateways],
            forged: 0,
            traffic_every: None,
            next_traffic: None,
            check_up_has_sender: true,
            causality: Causality::default(),
        }
    }

    /// A route-based session between gateways `a` and `b` (link number `n` picks the VTI
    /// subnet 169.254.n.0/30), with `extra` fields on both ends.
    pub fn link(&mut self, a: usize, b: usize, extra_a: Value, extra_b: Value) -> usize {
        let n = self.links.len() + 10;
        let path_a = format!("{SVC}/sessions/to-{}", self.gws[b].name);
        let path_b = format!("{SVC}/sessions/to-{}", self.gws[a].name);
        let (addr_a, addr_b) = (self.gws[a].addr, self.gws[b].addr);
        let body_a = session_body(addr_b, &format!("169.254.{n}.1"), extra_a);
        let body_b = session_body(addr_a, &format!("169.254.{n}.2"), extra_b);
        self.gws[a].patch(&path_a, body_a.clone());
        self.gws[b].patch(&path_b, body_b.clone());
        self.links.push(Link {
            a: (a, path_a),
            b: (b, path_b),
            body_a,
            body_b,
        });
        self.links.len() - 1
    }

    pub fn at(&mut self, after: Duration, action: Action) {
        let t = self.now + after;
        self.seq += 1;
        self.actions.insert((t, self.seq), action);
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    pub fn trace_digest(&self) -> u64 {
        self.trace.finish()
    }

    fn note(&mut self, what: impl Hash + std::fmt::Debug) {
        (self.now - self.base).hash(&mut self.trace);
        what.hash(&mut self.trace);
        if *TRACE {
            eprintln!("[{:>10.3?}] {what:?}", self.now - self.base);
        }
    }

    // ---- running -----------------------------------------------------------------------

    /// Run until `d` has passed.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.step(end) {}
    }

    /// Process the next thing that happens no later than `until`. False when nothing does.
    pub fn step(&mut self, until: Instant) -> bool {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        consider(self.wire.keys().next().map(|k| k.0));
        consider(self.actions.keys().next().map(|k| k.0));
        consider(self.crypto.keys().next().map(|k| k.0));
        consider(self.makes.keys().next().map(|k| k.0));
        if self.traffic_every.is_some() {
            consider(Some(*self.next_traffic.get_or_insert(self.now)));
        }
        for g in &mut self.gws {
            if let Some(gw) = &mut g.gw {
                consider(gw.poll_timeout());
                consider(g.dp.poll_timeout());
            }
        }
        let Some(t) = next.filter(|t| *t <= until) else {
            self.now = self.now.max(until);
            return false;
        };
        if t > self.now {
            self.now = t;
            self.same_instant = 0;
        } else {
            self.same_instant += 1;
            assert!(
                self.same_instant < 100_000,
                "seed {}: no progress at {:?}",
                self.seed,
                self.elapsed()
            );
        }
        self.steps += 1;
        let now = self.now;
        if let Some((&key, _)) = self.actions.iter().next().filter(|(k, _)| k.0 <= now) {
            let action = self.actions.remove(&key).unwrap();
            self.act(action);
        } else if let (Some(every), Some(t)) =
            (self.traffic_every, self.next_traffic.filter(|t| *t <= now))
        {
            self.next_traffic = Some(t + every);
            self.background_traffic();
        } else if let Some((&key, _)) = self.crypto.iter().next().filter(|(k, _)| k.0 <= now) {
            let (k, starts, job) = self.crypto.remove(&key).unwrap();
            self.note(("crypto done", k, starts));
            let g = &mut self.gws[k];
            // A result for a gateway that crashed or stopped meanwhile is lost with it.
            if let Some(gw) = g.gw.as_mut().filter(|_| g.starts == starts) {
                g.dp.set_now(now);
                block_on(gw.handle_crypto(now, job.run()));
                self.crypto_completed += 1;
            }
        } else if let Some((&key, _)) = self.makes.iter().next().filter(|(k, _)| k.0 <= now) {
            let (k, starts) = self.makes.remove(&key).unwrap();
            // A gateway that crashed or stopped meanwhile lost its queue with its data plane.
            let alive = self.gws[k].gw.is_some() && self.gws[k].starts == starts;
            if let Some(made) = alive.then(|| self.gws[k].dp.make_next()).flatten() {
                self.note(("tunnel made", k, made.session.clone()));
                let g = &mut self.gws[k];
                g.dp.set_now(now);
                let gw = g.gw.as_mut().expect("alive");
                block_on(gw.handle_tunnel_made(now, made));
            }
        } else if let Some((&key, _)) = self.wire.iter().next().filter(|(k, _)| k.0 <= now) {
            let (to, packet) = self.wire.remove(&key).unwrap();
            self.deliver(to, packet);
        } else {
            for k in 0..self.gws.len() {
                let g = &mut self.gws[k];
                let Some(gw) = g.gw.as_mut() else { continue };
                if g.dp.poll_timeout().is_some_and(|t| t <= now) {
                    g.dp.handle_timeout(now);
                }
                if gw.poll_timeout().is_some_and(|t| t <= now) {
                    g.dp.set_now(now);
                    block_on(gw.handle_timeout(now));
                }
            }
        }
        self.pump();
        for k in 0..self.gws.len() {
            for (session, spi, peer) in self.gws[k].dp.take_initiated() {
                self.causality.sends_on(
                    &self.gws,
                    k,
                    &session,
                    spi,
                    peer,
                    "installed as the exchange's initiator",
                );
            }
        }
        self.check();
        true
    }

    fn act(&mut self, action: Action) {
        self.note(format!("{action:?}"));
        let now = self.now;
        match action {
            Action::Start(k) => self.start(k),
            Action::Crash(k) => {
                let g = &mut self.gws[k];
                g.gw = None;
                g.dp = Arc::new(SimDataplane::default());
                let mut host = g.host.lock().unwrap();
                host.bound.clear();
                host.outbox.clear();
            }
            Action::Stop(k) => {
                let g = &mut self.gws[k];
                if let Some(mut gw) = g.gw.take() {
                    g.dp.set_now(now);
                    block_on(gw.shutdown(now));
                }
                self.pump();
                let g = &mut self.gws[k];
                g.dp = Arc::new(SimDataplane::default());
                g.host.lock().unwrap().bound.clear();
            }
            Action::RekeyChild(k, s) => {
                let g = &mut self.gws[k];
                if let Some(gw) = g.gw.as_mut() {
                    g.dp.set_now(now);
                    block_on(gw.rekey_child(now, &s));
                }
            }
            Action::RekeyIke(k, s) => {
                let g = &mut self.gws[k];
                if let Some(gw) = g.gw.as_mut() {
                    g.dp.set_now(now);
                    block_on(gw.rekey_ike(now, &s));
                }
            }
            Action::Patch(k, path, body) => {
                // Overlapping perturbations may ask for something the API refuses (e.g. a
                // partial PATCH of a session deleted meanwhile): the user gets a 400, and
                // nothing changes.
                if let Err(e) = self.gws[k].policy.patch(&path, &body, &Actor::system()) {
                    self.note(format!("PATCH refused: {e:?}"));
                    return;
                }
                self.reload(k);
            }
            Action::Delete(k, path) => {
                if let Err(e) = self.gws[k].policy.delete(&path, &Actor::system()) {
                    self.note(format!("DELETE refused: {e:?}"));
                    return;
                }
                self.reload(k);
            }
            Action::Net(p) => self.net = p,
            Action::Probe(k, s) => {
                self.probe(k, &s);
            }
            Action::Forge { from, to, kind } => self.forge(from, to, kind),
        }
    }

    /// The configuration changed: the gateway's control plane reads it as straitd does on
    /// the store's change notification (only what changed since the configuration it holds,
    /// so a change to sessions alone is realized for those sessions alone).
    pub fn reload(&mut self, k: usize) {
        let now = self.now;
        let g = &mut self.gws[k];
        if let Some(gw) = g.gw.as_mut() {
            let tree = match gw.config() {
                Some(held) => g.policy.snapshot_since(&held).unwrap(),
                None => g.policy.snapshot_all().unwrap(),
            };
            g.dp.set_now(now);
            block_on(gw.apply_config(now, tree));
        }
    }

    /// Start gateway `k` (a no-op if it runs: one straitd per host).
    fn start(&mut self, k: usize) {
        if self.gws[k].gw.is_some() {
            return;
        }
        let now = self.now;
        let seed = self.seed;
        let g = &mut self.gws[k];
        g.starts += 1;
        let rng = TestRandom::new(seed ^ ((k as u64 + 1) << 32) ^ (g.starts << 48));
        // Key exchanges go through the endpoint's job queue (as in straitd): computed in
        // place by the gateway, in order, or (with `crypto_delay`) by the world after a
        // seeded delay; either way a seed replays.
        let mut gw = Gateway::new(
            EndpointConfig {
                offload_crypto: true,
                ..EndpointConfig::default()
            },
            g.dp.clone(),
            SimSockets::new(g.host.clone(), g.dp.clone()),
            Box::new(rng),
            now,
        );
        gw.set_strict(g.strict);
        if self.crypto_delay.is_some() {
            let jobs = g.jobs.clone();
            jobs.lock().unwrap().clear();
            gw.set_crypto_offload(Box::new(move |job| jobs.lock().unwrap().push(job)));
        }
        // Certificates are checked in calendar time: the world's start is "now" (the test
        // certificates are valid from yesterday), advancing with virtual time.
        gw.set_wall_clock(now, self.unix_base + (now - self.base).as_secs());
        let tree = g.policy.snapshot_all().unwrap();
        g.dp.set_now(now);
        block_on(gw.apply_config(now, tree));
        g.gw = Some(gw);
    }

    /// Move what the gateways sent onto the wire.
    fn pump(&mut self) {
        for k in 0..self.gws.len() {
            let asked = self.gws[k].dp.take_new_requests();
            for _ in 0..asked {
                let delay =
                    Duration::from_micros(self.rng.below(self.tunnel_delay.as_micros() as u64 + 1));
                self.seq += 1;
                let starts = self.gws[k].starts;
                self.makes.insert((self.now + delay, self.seq), (k, starts));
            }
        }
        if let Some(max) = self.crypto_delay {
            for k in 0..self.gws.len() {
                let jobs: Vec<CryptoJob> = std::mem::take(&mut *self.gws[k].jobs.lock().unwrap());
                for job in jobs {
                    let delay = Duration::from_micros(self.rng.below(max.as_micros() as u64 + 1));
                    self.seq += 1;
                    let starts = self.gws[k].starts;
                    self.crypto
                        .insert((self.now + delay, self.seq), (k, starts, job));
                }
            }
        }
        for k in 0..self.gws.len() {
            let sent = std::mem::take(&mut self.gws[k].host.lock().unwrap().outbox);
            let starts = self.gws[k].starts;
            for (t, installs) in sent {
                let stamp = Stamp {
                    from: k,
                    starts,
                    installs,
                };
                self.send(k, Packet::Ike(t, Some(stamp)));
            }
        }
    }

    fn send(&mut self, from: usize, packet: Packet) {
        let (local, remote, len) = match &packet {
            Packet::Ike(t, _) => (t.local, t.remote, t.data.len()),
            Packet::Esp {
                local,
                remote,
                data,
            } => (*local, *remote, data.len()),
        };
        let kind = match &packet {
            Packet::Ike(t, _) => describe_ike(&t.data),
            Packet::Esp { .. } => "ESP".to_owned(),
        };
        self.note(("send", from, local, remote, len, kind));
        if let Packet::Ike(t, _) = &packet {
            // RFC 7296 §3.1: exchange type at byte 18, flags at 19 (behind the non-ESP
            // marker on 4500).
            let msg = t
                .data
                .strip_prefix(&[0u8; 4][..])
                .filter(|_| t.local.port() == 4500)
                .unwrap_or(&t.data);
            if msg.get(18) == Some(&34) && msg.get(19).is_some_and(|f| f & 0x20 == 0) {
                self.init_requests[from] += 1;
                self.captured_init[from] = Some(t.clone());
            }
        }
        let Some(to) = self
            .gws
            .iter()
            .position(|g| g.host.lock().unwrap().addresses.contains(&remote.ip()))
        else {
            return;
        };
        let net = self.net;
        if self.rng.chance(net.loss) {
            return;
        }
        let copies = if self.rng.chance(net.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter = Duration::from_micros(self.rng.below(net.jitter.as_micros() as u64 + 1));
            let at = self.now + net.delay + jitter;
            self.seq += 1;
            let p = match &packet {
                Packet::Ike(t, stamp) => Packet::Ike(t.clone(), *stamp),
                Packet::Esp {
                    local,
                    remote,
                    data,
                } => Packet::Esp {
                    local: *local,
                    remote: *remote,
                    data: data.clone(),
                },
            };
            self.wire.insert((at, self.seq), (to, p));
        }
    }

    fn deliver(&mut self, to: usize, packet: Packet) {
        self.datagrams += 1;
        let now = self.now;
        match packet {
            Packet::Ike(t, stamp) => {
                self.note(("ike", to, t.remote, t.data.len()));
                let g = &mut self.gws[to];
                let bound = g.host.lock().unwrap().bound.contains(&t.remote.ip());
                if let (Some(gw), true) = (g.gw.as_mut(), bound) {
                    g.dp.set_now(now);
                    let before = g.dp.senders();
                    let installed = g.dp.outbound_spis();
                    if let Some(stamp) = stamp {
                        self.causality.heard(to, stamp);
                    }
                    block_on(gw.handle_datagram(now, t.remote, t.local, &t.data));
                    // A message can move a tunnel from one SA to a newer one it already
                    // held (the peer deleted the old): the peer must hold the newer one
                    // too. (An SA installed as this message's responder is exempt: its
                    // initiator installs it on the response, which leaves just now.)
                    for (session, (spi, peer)) in self.gws[to].dp.senders() {
                        if before.get(&session).is_some_and(|(old, _)| *old != spi)
                            && installed.contains(&spi)
                        {
                            self.causality.sends_on(
                                &self.gws,
                                to,
                                &session,
                                spi,
                                peer,
                                "moved to it on an IKE message",
                            );
                        }
                    }
                }
            }
            Packet::Esp { data, .. } => {
                let g = &self.gws[to];
                if g.gw.is_none() {
                    return;
                }
                g.dp.set_now(now);
                if let Some((session, inner)) = g.dp.receive_esp(&data) {
                    let id = u64::from_be_bytes(inner[20..28].try_into().unwrap());
                    self.note(("esp", to, id));
                    match self.probes_sent.get(&id) {
                        Some((want_gw, want_session))
                            if *want_gw == to && *want_session == session =>
                        {
                            self.probes_delivered.insert(id);
                        }
                        _ => self.misdelivered.push(id),
                    }
                }
            }
        }
    }

    fn background_traffic(&mut self) {
        for l in self.links.clone() {
            for (k, s) in [&l.a, &l.b] {
                if self.is_up(*k, s) {
                    self.probe(*k, s);
                }
            }
        }
    }

    /// Inject a probe packet at gateway `k`'s VTI of `session`.
    pub fn probe(&mut self, k: usize, session: &str) -> Option<u64> {
        let link = self
            .links
            .iter()
            .find(|l| (l.a.0 == k && l.a.1 == session) || (l.b.0 == k && l.b.1 == session))?
            .clone();
        let other = if link.a.0 == k { link.b } else { link.a };
        let id = self.next_probe;
        self.next_probe += 1;
        let mut inner = vec![0u8; 28];
        inner[0] = 0x45;
        inner[2..4].copy_from_slice(&28u16.to_be_bytes());
        inner[20..28].copy_from_slice(&id.to_be_bytes());
        let g = &self.gws[k];
        g.gw.as_ref()?;
        g.dp.set_now(self.now);
        self.probes_sent.insert(id, other);
        let esp = g.dp.send_from_vti(session, &inner)?;
        self.send(
            k,
            Packet::Esp {
                local: esp.local,
                remote: esp.remote,
                data: esp.data,
            },
        );
        Some(id)
    }

    /// After every step: no session is UP while its tunnel has no SA to send on, and no
    /// packet came out of the wrong tunnel.
    fn check(&mut self) {
        assert!(
            self.causality.violations.is_empty(),
            "seed {}: at {:?} a gateway sent on an SA its peer could not yet receive on: {:?}",
            self.seed,
            self.elapsed(),
            self.causality.violations
        );
        if !self.check_up_has_sender {
            return;
        }
        assert!(
            self.misdelivered.is_empty(),
            "seed {}: probes came out of the wrong tunnel: {:?}",
            self.seed,
            self.misdelivered
        );
        for g in &self.gws {
            let Some(gw) = &g.gw else { continue };
            let board = gw.board();
            for session in gw.running() {
                let st = strait_model::status::StatusSource::session_status(&*board, session);
                if st.is_some_and(|s| s.runtime_status == "UP") {
                    assert!(
                        g.dp.has_sender(session),
                        "seed {}: at {:?} gateway {} reports {session} UP but its tunnel has no SA to send on",
                        self.seed,
                        self.elapsed(),
                        g.name
                    );
                }
            }
        }
    }
}

impl SimGateway {
    /// What `PATCH /policy/api/v1{path}` does (validation included); panics if refused.
    pub fn patch(&self, path: &str, body: Value) {
        if let Err(e) = self.policy.patch(path, &body, &Actor::system()) {
            panic!("PATCH {path} {body}: {e:?}");
        }
    }
}

/// An IKE datagram's exchange, direction and message ID, for traces.
fn describe_ike(data: &[u8]) -> String {
    let msg = data.strip_prefix(&[0u8; 4][..]).unwrap_or(data);
    match msg.get(16..24) {
        Some(h) => format!(
            "{} {} #{} ispi {:02x?}",
            ike_wire::ExchangeType(h[2]),
            if h[3] & 0x20 != 0 {
                "response"
            } else {
                "request"
            },
            u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            &msg[..4]
        ),
        None => "?".into(),
    }
}

/// A route-based session to `peer` with VTI `vti`/30, NSX defaults, plus `extra`.
pub fn session_body(peer: IpAddr, vti: &str, extra: Value) -> Value {
    let mut body = json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "local_endpoint_path": format!("{SVC}/local-endpoints/le"),
        "peer_address": peer.to_string(),
        "peer_id": peer.to_string(),
        "psk": PSK,
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": 30}]}]
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            // null removes a field (e.g. the PSK of a certificate session)
            if v.is_null() {
                b.remove(k);
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    body
}
