//! The endpoint's IKE SAs with two indexes kept beside them: the SAs of each session, and a
//! timer queue ordered by each SA's next deadline.
//!
//! With thousands of sessions the endpoint cannot scan every SA on each input: asking for
//! the next deadline, firing timers, or finding a session's SAs would each cost O(SAs)
//! per packet (measured with 10,000 tunnels: most of the control plane's CPU went to such
//! scans, issue 16). So every way to change an SA goes through this table, which notes the
//! SA as *dirty*; [`SaTable::refresh`] recomputes the deadlines of the dirty SAs only, and
//! the endpoint calls it before it reads the queue. Reading an SA (`get`) changes nothing.
//!
//! A deadline is a pure function of the SA and its session (see `Endpoint::sa_deadline`),
//! so the queue can be checked against a full recomputation at any time
//! (`Endpoint::check_invariants` does).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use crate::config::SessionId;
use crate::sa::IkeSa;
use crate::timer_queue::TimerQueue;

#[derive(Default)]
pub(crate) struct SaTable {
    /// By handle (a BTreeMap: handles are visited in a fixed order, so a seeded run replays).
    sas: BTreeMap<u64, IkeSa>,
    /// Each session's SAs, by handle (an SA's session never changes).
    by_session: HashMap<SessionId, BTreeSet<u64>>,
    /// SAs changed since the last refresh: their entries in `timers` may be stale.
    dirty: BTreeSet<u64>,
    /// Each SA's deadline as last computed.
    timers: TimerQueue<u64>,
    /// Inbound Child SA SPIs as of each SA's last refresh (SPI -> SA, and SA -> SPIs), so a
    /// new SPI is checked for uniqueness without visiting every SA.
    child_spis: HashMap<u32, u64>,
    spis_of: HashMap<u64, Vec<u32>>,
}

impl SaTable {
    pub(crate) fn get(&self, h: &u64) -> Option<&IkeSa> {
        self.sas.get(h)
    }

    /// The SA, to change it: its deadline is recomputed at the next refresh.
    pub(crate) fn get_mut(&mut self, h: &u64) -> Option<&mut IkeSa> {
        let sa = self.sas.get_mut(h)?;
        self.dirty.insert(*h);
        Some(sa)
    }

    pub(crate) fn contains_key(&self, h: &u64) -> bool {
        self.sas.contains_key(h)
    }

    pub(crate) fn insert(&mut self, h: u64, sa: IkeSa) {
        let session = sa.session.clone();
        let old = self.sas.insert(h, sa);
        // Handles are never reused while an SA holds one; if one were, the session index
        // must not keep it under the old SA's session.
        debug_assert!(old.is_none(), "IKE SA handle {h} inserted twice");
        if let Some(old) = old {
            self.unindex_session(&old.session, h);
        }
        self.by_session.entry(session).or_default().insert(h);
        self.dirty.insert(h);
    }

    pub(crate) fn remove(&mut self, h: &u64) -> Option<IkeSa> {
        let sa = self.sas.remove(h)?;
        self.unindex_session(&sa.session, *h);
        self.dirty.remove(h);
        self.timers.set(h, None);
        self.unindex_spis(*h);
        Some(sa)
    }

    fn unindex_spis(&mut self, h: u64) {
        for spi in self.spis_of.remove(&h).unwrap_or_default() {
            if self.child_spis.get(&spi) == Some(&h) {
                self.child_spis.remove(&spi);
            }
        }
    }

    /// Whether an inbound Child SA SPI is used by any SA (or may be: an SA changed since
    /// the last refresh is looked at itself).
    pub(crate) fn child_spi_in_use(&self, spi: u32) -> bool {
        self.child_spis.contains_key(&spi)
            || self.dirty.iter().any(|h| {
                self.sas
                    .get(h)
                    .is_some_and(|sa| sa.children.iter().any(|c| c.spi_in == spi))
            })
    }

    fn unindex_session(&mut self, session: &SessionId, h: u64) {
        if let Some(set) = self.by_session.get_mut(session) {
            set.remove(&h);
            if set.is_empty() {
                self.by_session.remove(session);
            }
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &IkeSa> {
        self.sas.values()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u64, &IkeSa)> {
        self.sas.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.sas.len()
    }

    /// Handles of a session's SAs, oldest first.
    pub(crate) fn of_session(&self, id: &SessionId) -> impl Iterator<Item = u64> + '_ {
        self.by_session.get(id).into_iter().flatten().copied()
    }

    /// Note that something an SA's deadline depends on outside the SA changed (its
    /// session's configuration or traffic).
    pub(crate) fn touch(&mut self, h: u64) {
        if self.sas.contains_key(&h) {
            self.dirty.insert(h);
        }
    }

    /// Recompute the deadlines of the SAs changed since the last refresh.
    pub(crate) fn refresh(&mut self, deadline: impl Fn(&IkeSa) -> Option<Instant>) {
        for h in std::mem::take(&mut self.dirty) {
            self.unindex_spis(h);
            let Some(sa) = self.sas.get(&h) else {
                self.timers.set(&h, None);
                continue;
            };
            let spis: Vec<u32> = sa.children.iter().map(|c| c.spi_in).collect();
            for spi in &spis {
                self.child_spis.insert(*spi, h);
            }
            if !spis.is_empty() {
                self.spis_of.insert(h, spis);
            }
            self.timers.set(&h, deadline(sa));
        }
    }

    /// The earliest deadline (only exact after a refresh).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// SAs whose deadline is at or before `now`, by handle (after a refresh).
    pub(crate) fn due(&self, now: Instant) -> Vec<u64> {
        self.timers.due(now)
    }

    /// Check the indexes against the SAs: every SA indexed under its session, and every SA
    /// not dirty queued at the deadline `deadline` computes for it now.
    pub(crate) fn check(&self, deadline: impl Fn(&IkeSa) -> Option<Instant>) -> Result<(), String> {
        let indexed: usize = self.by_session.values().map(BTreeSet::len).sum();
        if indexed != self.sas.len() {
            return Err(format!(
                "{} IKE SAs, but {indexed} in the per-session index",
                self.sas.len()
            ));
        }
        for (h, sa) in &self.sas {
            if !self
                .by_session
                .get(&sa.session)
                .is_some_and(|s| s.contains(h))
            {
                return Err(format!("IKE SA {h} is not indexed under its session"));
            }
            if self.dirty.contains(h) {
                continue;
            }
            if let Some(c) = sa
                .children
                .iter()
                .find(|c| self.child_spis.get(&c.spi_in) != Some(h))
            {
                return Err(format!(
                    "IKE SA {h}: Child SA {:08x} is not in the SPI index",
                    c.spi_in
                ));
            }
            let want = deadline(sa);
            let have = self.timers.get(h);
            if want != have {
                return Err(format!(
                    "IKE SA {h}: timer queued for {have:?}, but its deadline is {want:?}"
                ));
            }
        }
        if let Some(h) = self.timers.keys().find(|h| !self.sas.contains_key(*h)) {
            return Err(format!(
                "a timer is queued for IKE SA {h}, which does not exist"
            ));
        }
        self.timers.check("IKE SAs")
    }
}
