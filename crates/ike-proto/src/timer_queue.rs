//! A keyed timer queue: each key's deadline, and the same in time order. One place holds a
//! key's deadline, so no second copy can be changed behind the queue's back (a retry missing
//! from the queue never fires: the ike_established fuzz target found one, crash-17e0b2ae).
//! The endpoint keeps two: its IKE SAs' deadlines (in `SaTable`) and its initiator
//! sessions' retry times.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

pub(crate) struct TimerQueue<K> {
    at: HashMap<K, Instant>,
    queue: BTreeSet<(Instant, K)>,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            at: HashMap::new(),
            queue: BTreeSet::new(),
        }
    }
}

impl<K: Clone + Ord + Hash> TimerQueue<K> {
    /// The key's deadline, if it has one.
    pub(crate) fn get(&self, key: &K) -> Option<Instant> {
        self.at.get(key).copied()
    }

    /// Set (or with None clear) the key's deadline.
    pub(crate) fn set(&mut self, key: &K, at: Option<Instant>) {
        if self.get(key) == at {
            return;
        }
        if let Some(old) = self.at.remove(key) {
            self.queue.remove(&(old, key.clone()));
        }
        if let Some(t) = at {
            self.at.insert(key.clone(), t);
            self.queue.insert((t, key.clone()));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(t, _)| *t)
    }

    /// Keys whose deadline is at or before `now`, in key order (so a seeded run replays).
    pub(crate) fn due(&self, now: Instant) -> Vec<K> {
        let mut due: Vec<K> = self
            .queue
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, k)| k.clone())
            .collect();
        due.sort_unstable();
        due
    }

    /// Keys with a deadline.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.at.keys()
    }

    /// The time order holds exactly the keys' deadlines.
    pub(crate) fn check(&self, what: &str) -> Result<(), String> {
        let consistent = self.queue.len() == self.at.len()
            && self.queue.iter().all(|(t, k)| self.at.get(k) == Some(t));
        if consistent {
            Ok(())
        } else {
            Err(format!(
                "the timer queue of {what} disagrees with their deadlines"
            ))
        }
    }
}
