//! Realizing the configuration: the endpoint's sessions, the IKE sockets, the data plane's
//! tunnels and the status board made to match the configuration last applied, for every
//! session, or (after a change that touched only sessions) for those sessions alone, so that
//! editing one of 10,000 sessions costs the control and data planes that one (issue 16).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Instant;

use ike_proto::SessionId;
use strait_model::{Kind, ObjectPath};
use strait_policy::TreeSnapshot;

use super::Gateway;
use strait_dataplane::{TunnelMade, TunnelOutcome};
use strait_model::status::reasons;

use crate::board::Entry;
use crate::boundary::{DataplaneApi, IkeSockets};
use crate::desired::{desired, desired_for, Desired, Plan};
use crate::gateway::BIND_RETRY;

/// Which sessions a realization covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every session: the tunnels are set as a whole.
    All,
    /// Only these session paths (written or deleted); nothing else changed.
    Sessions(Vec<String>),
}

impl Scope {
    /// What a move from `old` to `new` asks to realize: only the changed sessions when `new`
    /// was built from `old` and every change is to a session (a session's plan depends on
    /// its service, local endpoint, profiles, certificates and static routes, none of which
    /// changed then); everything otherwise.
    pub(crate) fn of_change(old: Option<&TreeSnapshot>, new: &TreeSnapshot) -> Scope {
        let (Some(old), Some(delta)) = (old, new.delta()) else {
            return Scope::All;
        };
        let only_sessions = delta
            .paths
            .iter()
            .all(|p| ObjectPath::parse(p).is_ok_and(|p| p.kind() == Kind::Session));
        if delta.since == old.revision && only_sessions {
            Scope::Sessions(delta.paths.clone())
        } else {
            Scope::All
        }
    }
}

impl<D: DataplaneApi, S: IkeSockets> Gateway<D, S> {
    /// Make the endpoint's sessions, the sockets and the data plane's tunnels match the
    /// configuration last applied, for the sessions of `scope`.
    pub(super) async fn realize(&mut self, now: Instant, scope: Scope) {
        let Some(tree) = self.tree.clone() else {
            return;
        };
        let (wanted, gone_from_config): (Vec<Desired>, Vec<String>) = match &scope {
            Scope::All => {
                let wanted = desired(&tree);
                let present: BTreeSet<&str> = wanted.iter().map(|d| d.path.as_str()).collect();
                let gone = self
                    .run_locals
                    .keys()
                    .filter(|p| !present.contains(p.as_str()))
                    .cloned()
                    .collect();
                (wanted, gone)
            }
            Scope::Sessions(paths) => {
                let wanted = desired_for(&tree, paths.iter().map(String::as_str));
                let gone = paths
                    .iter()
                    .filter(|p| {
                        !matches!(tree.get(p), Some(strait_model::PolicyObject::Session(_)))
                    })
                    .cloned()
                    .collect();
                (wanted, gone)
            }
        };
        if scope == Scope::All {
            self.run_locals.clear();
            self.tunnel_failures.clear();
            self.making.clear();
        }
        for p in &gone_from_config {
            self.run_locals.remove(p);
            self.tunnel_failures.remove(p);
            self.making.remove(p);
        }
        for d in &wanted {
            match &d.plan {
                Plan::Run(c, _) => self.run_locals.insert(d.path.clone(), c.local),
                Plan::Idle { .. } => self.run_locals.remove(&d.path),
            };
        }
        let addrs: BTreeSet<IpAddr> = self.run_locals.values().copied().collect();
        self.sockets.open(&addrs).await;
        // Tunnels for the sessions that can run: updated now, or made in the background (such
        // a session starts when its tunnel is reported made: `handle_tunnel_made`).
        let failed = self.sockets.failed().clone();
        let can_run =
            |d: &Desired| matches!(&d.plan, Plan::Run(c, _) if !failed.contains_key(&c.local));
        let specs: Vec<strait_dataplane::TunnelSpec> = wanted
            .iter()
            .filter(|d| can_run(d))
            .filter_map(|d| match &d.plan {
                Plan::Run(_, t) => Some((**t).clone()),
                Plan::Idle { .. } => None,
            })
            .collect();
        let tunnels = match &scope {
            Scope::All => self.dataplane.set_tunnels(specs).await,
            Scope::Sessions(_) => {
                let removals: Vec<String> = wanted
                    .iter()
                    .filter(|d| !can_run(d))
                    .map(|d| d.path.clone())
                    .chain(gone_from_config.iter().cloned())
                    .collect();
                self.dataplane.update_tunnels(specs, removals).await
            }
        };
        let mut entries = BTreeMap::new();
        let mut keep = BTreeSet::new();
        for d in wanted {
            let path = d.path.clone();
            let bind_error = match &d.plan {
                Plan::Run(c, _) => failed.get(&c.local).cloned(),
                Plan::Idle { .. } => None,
            };
            let (entry, started) = self.enact(now, d, bind_error.as_ref(), tunnels.get(&path));
            if started {
                keep.insert(path.clone());
            }
            entries.insert(path, entry);
        }
        // The endpoint stops running what it should no longer run: of every session after a
        // full realization, of the changed ones otherwise.
        let considered: Vec<String> = match &scope {
            Scope::All => self.running.iter().cloned().collect(),
            Scope::Sessions(paths) => paths.clone(),
        };
        for p in considered {
            if self.running.contains(&p) && !keep.contains(&p) {
                self.ep
                    .remove_session(now, &SessionId(p.clone()), &mut *self.rng);
                self.running.remove(&p);
                self.touched.insert(p);
            }
        }
        match &scope {
            Scope::All => self.board.replace(entries),
            Scope::Sessions(paths) => self.board.merge(paths, entries),
        }
        // Deletes first (they leave from the sockets about to close), then the sockets.
        self.flush(now).await;
        self.sockets.close_others(&addrs).await;
        self.next_bind_retry = if self.sockets.failed().is_empty() {
            None
        } else {
            Some(now + BIND_RETRY)
        };
    }

    /// Run, idle or hold one session as `d` says, given the error binding its local address
    /// (if any) and what became of its tunnel. Returns its board entry, and whether the
    /// endpoint now runs it.
    pub(super) fn enact(
        &mut self,
        now: Instant,
        d: Desired,
        bind_error: Option<&String>,
        tunnel: Option<&TunnelOutcome>,
    ) -> (Entry, bool) {
        let mut entry = Entry {
            display_name: d.display_name.clone(),
            idle: None,
            status: None,
            repair: self.board.get(&d.path).and_then(|e| e.repair),
        };
        self.tunnel_failures.remove(&d.path);
        self.making.remove(&d.path);
        self.touched.insert(d.path.clone());
        let cfg = match d.plan {
            Plan::Run(cfg, _) => cfg,
            Plan::Idle { reason, alarm } => {
                entry.idle = Some((reason, alarm));
                return (entry, false);
            }
        };
        let id = SessionId(d.path.clone());
        let problem = match (bind_error, tunnel) {
            (Some(err), _) => Some(format!(
                "{err}: the local endpoint address {} must be configured on an interface of this host",
                cfg.local
            )),
            (None, Some(TunnelOutcome::Failed(e))) => {
                self.tunnel_failures.insert(d.path.clone());
                Some(format!("the session's tunnel interface cannot be created: {e}"))
            }
            _ => None,
        };
        let hold = match (problem, tunnel) {
            (Some(problem), _) => Some((reasons::CONFIGURATION_FAILED, Some(problem))),
            // Starts when the data plane reports the tunnel made.
            (None, Some(TunnelOutcome::Pending)) => {
                self.making.insert(d.path.clone());
                Some((reasons::NEGOTIATION_NOT_STARTED, None))
            }
            (None, _) => None,
        };
        if let Some(idle) = hold {
            entry.idle = Some(idle);
            if self.running.remove(&d.path) {
                self.ep.remove_session(now, &id, &mut *self.rng);
            }
            return (entry, false);
        }
        self.ep.set_session(now, *cfg, &mut *self.rng);
        self.running.insert(d.path.clone());
        entry.status = self.ep.status(&id);
        (entry, true)
    }

    /// The data plane made (or could not make) a tunnel realize asked for: start its session
    /// if it still waits for it (a report overtaken by a later realization is ignored).
    pub(super) fn tunnel_made(&mut self, now: Instant, made: TunnelMade) {
        if !self.making.contains(&made.session) {
            return;
        }
        let Some(tree) = self.tree.clone() else {
            return;
        };
        let Some(d) = desired_for(&tree, [made.session.as_str()])
            .into_iter()
            .next()
        else {
            self.making.remove(&made.session);
            return;
        };
        let bind_error = match &d.plan {
            Plan::Run(c, _) => self.sockets.failed().get(&c.local).cloned(),
            Plan::Idle { .. } => None,
        };
        let outcome = match made.result {
            Ok(name) => TunnelOutcome::Ready(name),
            Err(e) => TunnelOutcome::Failed(e),
        };
        let paths = [d.path.clone()];
        let (entry, _) = self.enact(now, d, bind_error.as_ref(), Some(&outcome));
        self.board
            .merge(&paths, BTreeMap::from([(paths[0].clone(), entry)]));
    }
}
