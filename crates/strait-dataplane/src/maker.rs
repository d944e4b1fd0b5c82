//! Making tunnels in the background (issue 16).
//!
//! A VTI costs the kernel a few milliseconds (TUN device, MTU, qdisc, addresses, link up,
//! all under the RTNL lock), so 10,000 of them take tens of seconds. Made inside
//! [`crate::Dataplane::set_tunnels`], that time was a barrier: no session started IKE until
//! every VTI of the change existed, and the control plane, waiting on the call, answered no
//! IKE message and ran no timer meanwhile. Instead the data plane queues the tunnels to make,
//! one task makes them in order and publishes them a batch at a time (the tunnel map is copied
//! on write, so one copy per batch, not per tunnel), and each made tunnel is reported on
//! [`crate::DataplaneEvents::tunnels`] as soon as its batch is published: its session starts
//! then.
//!
//! A queued request can be replaced (a new spec) or cancelled (the session was removed or
//! stopped) at any time. Each request has a generation: a tunnel made for a generation that
//! is no longer the wanted one is closed instead of published, and nothing is reported for it.
//! Checking for a published tunnel and queueing a request happen under the queue's lock, as
//! does publishing, so a session never has a published tunnel and a queued request at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Notify};

use crate::sa_set::TunnelSas;
use crate::tunnel::{Settings, Tunnel, TunnelSpec};
use crate::{vti, worker, Shared};

/// Tunnels that get a TUN queue per worker (so that one tunnel's flows spread over every
/// worker). Beyond, a tunnel gets one queue, read by one worker (assigned in turn): one file
/// descriptor per tunnel, which 10,000 tunnels need under the usual open-files limits
/// (issue 16), with the load spread over the workers by tunnel instead of by flow.
pub const MULTI_QUEUE_TUNNELS: usize = 64;

/// Most tunnels published at once.
const MAX_BATCH: usize = 64;
/// Longest a made tunnel waits for the rest of its batch before being published.
const MAX_BATCH_TIME: Duration = Duration::from_millis(20);

/// A tunnel the data plane finished making (or could not make).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelMade {
    /// The session.
    pub session: String,
    /// Its interface name, or why the tunnel could not be made.
    pub result: Result<String, String>,
}

/// What became of one session's tunnel in [`crate::Dataplane::set_tunnels`] or
/// [`crate::Dataplane::update_tunnels`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelOutcome {
    /// The tunnel exists (it was updated in place): its interface name.
    Ready(String),
    /// The tunnel is being made; a [`TunnelMade`] will say when it is there.
    Pending,
    /// The tunnel cannot be changed as asked: why.
    Failed(String),
}

/// Tunnels waiting to be made, in the order they were asked for.
#[derive(Default)]
struct Queue {
    /// Per session: the generation of the request that counts, and its spec.
    wanted: HashMap<String, (u64, TunnelSpec)>,
    /// Requests in order; an entry whose generation is not the wanted one is skipped.
    order: VecDeque<(String, u64)>,
    last_generation: u64,
}

/// Where a session's tunnel stands, read under the queue's lock.
pub(crate) enum Found {
    /// Published.
    Published(Arc<Tunnel>),
    /// Now queued (or already queued with the same spec).
    Queued,
}

/// The tunnel maker: its queue, and what making a tunnel needs.
pub(crate) struct Maker {
    workers: Vec<Handle>,
    shared: Arc<Shared>,
    netlink: vti::Netlink,
    offload: bool,
    /// The interface group of every VTI (see [`crate::DataplaneConfig::link_group`]).
    group: u32,
    queue: Mutex<Queue>,
    wake: Notify,
    made: mpsc::UnboundedSender<TunnelMade>,
    /// One-queue tunnels made so far (their owners go round the workers).
    single_queue_made: std::sync::atomic::AtomicUsize,
}

impl Maker {
    /// A maker whose reports go to `made` (unbounded, but one report per request, and the
    /// requests are bounded by the configuration).
    pub(crate) fn new(
        workers: Vec<Handle>,
        shared: Arc<Shared>,
        netlink: vti::Netlink,
        offload: bool,
        group: u32,
        made: mpsc::UnboundedSender<TunnelMade>,
    ) -> Maker {
        Maker {
            workers,
            shared,
            netlink,
            offload,
            group,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            made,
            single_queue_made: Default::default(),
        }
    }

    /// The session's published tunnel if it has one; otherwise queue `spec` to be made
    /// (replacing a queued request with another spec).
    pub(crate) fn find_or_request(&self, spec: &TunnelSpec) -> Found {
        let mut q = lock(&self.queue);
        if let Some(t) = self.shared.tunnels.load().get(&spec.session) {
            return Found::Published(t.clone());
        }
        if q.wanted.get(&spec.session).is_some_and(|(_, s)| s == spec) {
            return Found::Queued;
        }
        q.last_generation += 1;
        let generation = q.last_generation;
        q.order.push_back((spec.session.clone(), generation));
        q.wanted
            .insert(spec.session.clone(), (generation, spec.clone()));
        drop(q);
        self.wake.notify_one();
        Found::Queued
    }

    /// Forget the session's queued request, if any (a tunnel being made for it is closed).
    pub(crate) fn cancel(&self, session: &str) {
        lock(&self.queue).wanted.remove(session);
    }

    /// Forget every queued request whose session `keep` refuses.
    pub(crate) fn retain(&self, keep: impl Fn(&str) -> bool) {
        lock(&self.queue).wanted.retain(|s, _| keep(s));
    }

    /// Sessions whose tunnel is queued or being made, sorted.
    pub(crate) fn queued(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.queue).wanted.keys().cloned().collect();
        v.sort();
        v
    }

    /// The next request that still counts.
    fn next_request(&self) -> Option<(String, u64, TunnelSpec)> {
        let mut q = lock(&self.queue);
        while let Some((session, generation)) = q.order.pop_front() {
            if let Some((g, spec)) = q.wanted.get(&session) {
                if *g == generation {
                    let spec = spec.clone();
                    return Some((session, generation, spec));
                }
            }
        }
        // Nothing counts any more: let the queue's memory go after a large burst.
        q.order.shrink_to_fit();
        None
    }

    /// Make tunnels as they are asked for, until the task is aborted.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            let started = Instant::now();
            let mut done = Vec::new();
            while let Some((session, generation, spec)) = self.next_request() {
                let result = self.make(&spec).await;
                done.push((session, generation, result));
                if done.len() >= MAX_BATCH || started.elapsed() >= MAX_BATCH_TIME {
                    break;
                }
            }
            if done.is_empty() {
                self.wake.notified().await;
                continue;
            }
            self.finish(done).await;
        }
    }

    /// Publish the tunnels made for requests that still count and report them; close the
    /// others.
    async fn finish(&self, done: Vec<(String, u64, Result<Arc<Tunnel>, String>)>) {
        let mut reports = Vec::with_capacity(done.len());
        let mut stale = Vec::new();
        {
            let mut q = lock(&self.queue);
            let mut publish = Vec::with_capacity(done.len());
            for (session, generation, result) in done {
                let counts = q
                    .wanted
                    .get(&session)
                    .is_some_and(|(g, _)| *g == generation);
                match (counts, result) {
                    (true, Ok(t)) => {
                        q.wanted.remove(&session);
                        reports.push(TunnelMade {
                            session,
                            result: Ok(t.ifname.clone()),
                        });
                        publish.push(t);
                    }
                    (true, Err(e)) => {
                        tracing::warn!(session = %session, error = %e, "cannot make the session's tunnel interface; it stays down (Configuration failed) until the next change");
                        q.wanted.remove(&session);
                        reports.push(TunnelMade {
                            session,
                            result: Err(e),
                        });
                    }
                    (false, Ok(t)) => stale.push(t),
                    (false, Err(_)) => {}
                }
            }
            publish_tunnels(&self.shared, publish);
        }
        for t in stale {
            close_tunnel(&t).await;
        }
        for r in reports {
            // The control plane is gone only while straitd stops.
            let _ = self.made.send(r);
        }
    }

    /// Make a session's VTI and start its workers' tasks (not yet published).
    async fn make(&self, spec: &TunnelSpec) -> Result<Arc<Tunnel>, String> {
        let name = vti::vti_name(&spec.session);
        // A queue per worker while the gateway has few tunnels: the VTI (and its first queue)
        // belongs to worker 0, each other worker opens its own queue so readiness reaches it
        // directly. Beyond, one queue, registered with (and read by) its owner, on a device
        // that is not multi-queue.
        let per_worker = self.shared.tunnels.load().len() < MULTI_QUEUE_TUNNELS;
        let cfg = vti::VtiConfig {
            name: name.clone(),
            addresses: spec.addresses.clone(),
            mtu: spec.mtu,
            queues: 1,
            multi_queue: per_worker && self.workers.len() > 1,
            offload: self.offload,
            group: self.group,
        };
        let owner = if per_worker || self.workers.is_empty() {
            0
        } else {
            self.single_queue_made
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                % self.workers.len()
        };
        let first = self
            .workers
            .get(owner)
            .ok_or("the data plane has no workers")?;
        let netlink = self.netlink.clone();
        let vti = first
            .spawn(async move { vti::Vti::create_on(&cfg, &netlink).await })
            .await
            .map_err(|e| format!("data-plane worker failed: {e}"))?
            .map_err(|e| e.to_string())?;
        // A new interface has no routes yet.
        crate::sync_routes(&self.netlink, &vti, &spec.routes, Some(Vec::new())).await;
        let ifindex = vti.ifindex();
        let mut queues = vti.queues().to_vec();
        if per_worker {
            for (k, worker) in self.workers.iter().enumerate().skip(1) {
                let q0 = queues.first().cloned().ok_or("the VTI has no queue")?;
                let q = worker
                    .spawn(async move { q0.try_clone() })
                    .await
                    .map_err(|e| format!("data-plane worker failed: {e}"))?
                    .map_err(|e| format!("cannot open TUN queue {k} of {name}: {e}"))?;
                queues.push(Arc::new(q));
            }
        }
        let tunnel = Arc::new(Tunnel {
            session: spec.session.clone(),
            ifname: name,
            ifindex,
            mtu: spec.mtu,
            spec: Mutex::new(spec.clone()),
            settings: ArcSwap::new(Arc::new(Settings::of(spec))),
            queues,
            owner,
            outbound: Default::default(),
            sas: Mutex::new(TunnelSas::default()),
            inbound_spis: Default::default(),
            counters: Default::default(),
            vti: tokio::sync::Mutex::new(Some(vti)),
            closed: Default::default(),
        });
        for (k, worker) in self.workers.iter().enumerate() {
            worker.spawn(worker::vti_to_peer(self.shared.clone(), tunnel.clone(), k));
        }
        Ok(tunnel)
    }
}

/// Make tunnels visible to the workers and to SA installation: one copy of the map for all.
fn publish_tunnels(shared: &Shared, made: Vec<Arc<Tunnel>>) {
    if made.is_empty() {
        return;
    }
    let _w = lock(&shared.write);
    let mut map = HashMap::clone(&shared.tunnels.load());
    map.reserve(made.len());
    for t in made {
        map.insert(t.session.clone(), t);
    }
    shared.tunnels.store(Arc::new(map));
}

/// Close a tunnel's VTI and stop its workers' tasks (the tunnel is not, or no longer, in the
/// map).
pub(crate) async fn close_tunnel(t: &Tunnel) {
    if let Some(v) = retire_tunnel(t).await {
        let name = v.name().to_owned();
        if let Err(e) = v.close().await {
            tracing::warn!(vti = %name, error = %e, "cannot remove the VTI");
        } else {
            tracing::info!(vti = %name, session = %t.session, "VTI removed");
        }
    }
}

/// Stop a tunnel's workers' tasks and forget its SAs; its VTI handle is returned, to close
/// (or to drop, when the VTI went with its group: dropping closes the queues).
pub(crate) async fn retire_tunnel(t: &Tunnel) -> Option<vti::Vti> {
    t.closed.store(true, std::sync::atomic::Ordering::Relaxed);
    t.with_sas(|sas| *sas = TunnelSas::default());
    t.vti.lock().await.take()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
