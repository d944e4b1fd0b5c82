//! When initiator sessions try again, in time order. One place holds a session's retry time,
//! so there is no second copy that could be changed behind the queue's back (a retry missing
//! from the queue never fires: the ike_established fuzz target found one, crash-17e0b2ae).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use crate::config::SessionId;

#[derive(Default)]
pub(crate) struct RetryQueue {
    at: HashMap<SessionId, Instant>,
    queue: BTreeSet<(Instant, SessionId)>,
}

impl RetryQueue {
    /// The session's retry time, if it has one.
    pub(crate) fn get(&self, id: &SessionId) -> Option<Instant> {
        self.at.get(id).copied()
    }

    /// Set (or with None clear) the session's retry time.
    pub(crate) fn set(&mut self, id: &SessionId, at: Option<Instant>) {
        if self.get(id) == at {
            return;
        }
        if let Some(old) = self.at.remove(id) {
            self.queue.remove(&(old, id.clone()));
        }
        if let Some(t) = at {
            self.at.insert(id.clone(), t);
            self.queue.insert((t, id.clone()));
        }
    }

    /// The earliest retry time.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(t, _)| *t)
    }

    /// Sessions whose retry time is at or before `now`, in session order.
    pub(crate) fn due(&self, now: Instant) -> Vec<SessionId> {
        let mut due: Vec<SessionId> = self
            .queue
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| id.clone())
            .collect();
        due.sort_unstable();
        due
    }

    /// Sessions with a retry time.
    pub(crate) fn sessions(&self) -> impl Iterator<Item = &SessionId> {
        self.at.keys()
    }

    /// The time order holds exactly the sessions' retry times.
    pub(crate) fn check(&self) -> Result<(), String> {
        let consistent = self.queue.len() == self.at.len()
            && self.queue.iter().all(|(t, id)| self.at.get(id) == Some(t));
        if consistent {
            Ok(())
        } else {
            Err("the retry queue disagrees with the sessions' retry times".into())
        }
    }
}
