//! The failed-login throttle.
//!
//! Two counters are kept per failed login, each over a fixed window of
//! [`FAILURE_WINDOW`]: one for the (client address, username) pair, so a guesser is
//! stopped on one account without locking its owner out from elsewhere, and one for the
//! client address as a whole, so cycling through usernames does not escape the first one.
//! IPv6 clients are counted per /64, the smallest prefix a single host is usually given.
//!
//! Memory is bounded: each table holds at most its maximum, and when full it first drops
//! expired entries and then the entry whose window started longest ago. It never stops
//! recording: a table that stopped taking new keys when full would let an attacker switch
//! the throttle off by filling it. The eviction scan is linear, which is cheap next to
//! the argon2 verification every recorded failure has already paid for.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed logins per (address, username) tolerated within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 10;
/// Failed logins per client address (any usernames) tolerated within [`FAILURE_WINDOW`].
/// Higher than [`MAX_FAILURES`] so that one person mistyping on a shared host does not
/// lock out the others there.
pub const MAX_ADDRESS_FAILURES: u32 = 50;
/// Window of the failure throttle.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// (address, username) pairs remembered.
pub const PAIRS_MAX: usize = 10_000;
/// Client addresses remembered.
pub const ADDRESSES_MAX: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

impl Failures {
    fn live(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since) < FAILURE_WINDOW
    }
}

/// A bounded table of failure counters.
#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Failures>,
    max: usize,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(max: usize) -> Self {
        Table {
            map: HashMap::new(),
            max,
        }
    }

    /// Seconds until `key` may try again, if it has used up `limit` in this window.
    fn blocked_for(&self, key: &K, limit: u32, now: Instant) -> Option<u64> {
        let f = self.map.get(key)?;
        if f.count >= limit && f.live(now) {
            let left = FAILURE_WINDOW.saturating_sub(now.saturating_duration_since(f.since));
            Some(left.as_secs() + 1)
        } else {
            None
        }
    }

    fn record(&mut self, key: K, now: Instant) {
        if !self.map.contains_key(&key) && self.map.len() >= self.max {
            self.map.retain(|_, f| f.live(now));
            if self.map.len() >= self.max {
                if let Some(oldest) = self
                    .map
                    .iter()
                    .min_by_key(|(_, f)| f.since)
                    .map(|(k, _)| k.clone())
                {
                    self.map.remove(&oldest);
                }
            }
        }
        let f = self.map.entry(key).or_insert(Failures {
            count: 0,
            since: now,
        });
        if !f.live(now) {
            *f = Failures {
                count: 0,
                since: now,
            };
        }
        f.count = f.count.saturating_add(1);
    }

    fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The key a client address is counted under: the address itself for IPv4, its /64 for
/// IPv6 (an IPv4-mapped IPv6 address counts as the IPv4 address).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// Why a login attempt is refused before its password is even checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttled {
    /// Too many failures for this username from this address.
    User {
        /// Seconds until the window ends.
        wait_secs: u64,
    },
    /// Too many failures from this address, whatever the usernames.
    Address {
        /// The address (IPv6: its /64) that is throttled.
        address: IpAddr,
        /// Seconds until the window ends.
        wait_secs: u64,
    },
}

impl Throttled {
    /// What the client is told (starts with "too many", which the API answers with 429).
    pub fn message(&self, username: &str) -> String {
        match self {
            Throttled::User { wait_secs } => format!(
                "too many failed logins for user {username:?} from this address; wait {wait_secs} seconds before trying again"
            ),
            Throttled::Address { address, wait_secs } => format!(
                "too many failed logins from address {address}; wait {wait_secs} seconds before trying again from there"
            ),
        }
    }
}

/// The failed-login throttle (see the module documentation).
#[derive(Debug)]
pub struct LoginThrottle {
    pairs: Table<(Option<IpAddr>, String)>,
    addresses: Table<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_limits(PAIRS_MAX, ADDRESSES_MAX)
    }
}

impl LoginThrottle {
    /// A throttle remembering at most this many pairs and addresses.
    pub fn with_limits(pairs_max: usize, addresses_max: usize) -> Self {
        LoginThrottle {
            pairs: Table::new(pairs_max.max(1)),
            addresses: Table::new(addresses_max.max(1)),
        }
    }

    /// Whether an attempt for `username` from `source` must be refused now.
    pub fn check(
        &self,
        source: Option<IpAddr>,
        username: &str,
        now: Instant,
    ) -> Result<(), Throttled> {
        if let Some(ip) = source {
            let address = address_key(ip);
            if let Some(wait_secs) = self
                .addresses
                .blocked_for(&address, MAX_ADDRESS_FAILURES, now)
            {
                return Err(Throttled::Address { address, wait_secs });
            }
        }
        let pair = (source.map(address_key), username.to_owned());
        match self.pairs.blocked_for(&pair, MAX_FAILURES, now) {
            Some(wait_secs) => Err(Throttled::User { wait_secs }),
            None => Ok(()),
        }
    }

    /// Count a failed login.
    pub fn record_failure(&mut self, source: Option<IpAddr>, username: &str, now: Instant) {
        if let Some(ip) = source {
            self.addresses.record(address_key(ip), now);
        }
        self.pairs
            .record((source.map(address_key), username.to_owned()), now);
    }

    /// Forget the pair's failures after a successful login. The address's count stays:
    /// otherwise one valid account would let its holder reset the count while guessing
    /// others.
    pub fn record_success(&mut self, source: Option<IpAddr>, username: &str) {
        self.pairs
            .remove(&(source.map(address_key), username.to_owned()));
    }

    /// (pairs, addresses) remembered, for tests of the bound.
    pub fn sizes(&self) -> (usize, usize) {
        (self.pairs.len(), self.addresses.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_pair_is_throttled_after_its_limit_and_released_after_the_window() {
        let mut t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert_eq!(t.check(ip("10.0.0.1"), "ops", now), Ok(()));
            t.record_failure(ip("10.0.0.1"), "ops", now);
        }
        assert!(matches!(
            t.check(ip("10.0.0.1"), "ops", now),
            Err(Throttled::User { wait_secs: 301 })
        ));
        // The same user elsewhere, and another user here, are unaffected.
        assert_eq!(t.check(ip("10.0.0.2"), "ops", now), Ok(()));
        assert_eq!(t.check(ip("10.0.0.1"), "admin", now), Ok(()));
        assert_eq!(t.check(ip("10.0.0.1"), "ops", now + FAILURE_WINDOW), Ok(()));
    }

    #[test]
    fn cycling_usernames_throttles_the_address_and_never_stops_recording() {
        let mut t = LoginThrottle::with_limits(100, 100);
        let now = Instant::now();
        t.record_failure(ip("10.0.0.9"), "victim", now);
        for i in 0..1000 {
            t.record_failure(ip("10.0.0.1"), &format!("guess{i}"), now);
        }
        let (pairs, addresses) = t.sizes();
        assert!(pairs <= 100 && addresses <= 100);
        // A full table still records new pairs (the newest guesses are there).
        for i in 990..1000 {
            t.record_failure(ip("10.0.0.1"), &format!("guess{i}"), now);
        }
        assert!(matches!(
            t.check(ip("10.0.0.1"), "anyone", now),
            Err(Throttled::Address { .. })
        ));
        assert_eq!(t.check(ip("10.0.0.2"), "anyone", now), Ok(()));
        // And once more after the pair table was full: a new pair reaching its limit is
        // throttled by the pair counter alone.
        let mut t = LoginThrottle::with_limits(100, 100);
        for i in 0..200 {
            t.record_failure(None, &format!("guess{i}"), now);
        }
        for _ in 0..MAX_FAILURES {
            t.record_failure(None, "ops", now);
        }
        assert!(matches!(
            t.check(None, "ops", now),
            Err(Throttled::User { .. })
        ));
    }

    #[test]
    fn eviction_drops_the_oldest_window_first() {
        let mut t = LoginThrottle::with_limits(3, 3);
        let t0 = Instant::now();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            for _ in 0..MAX_FAILURES {
                t.record_failure(None, name, t0 + Duration::from_secs(i as u64));
            }
        }
        t.record_failure(None, "d", t0 + Duration::from_secs(5));
        assert_eq!(t.sizes().0, 3);
        assert_eq!(t.check(None, "a", t0 + Duration::from_secs(5)), Ok(()));
        assert!(t.check(None, "b", t0 + Duration::from_secs(5)).is_err());
        assert!(t.check(None, "c", t0 + Duration::from_secs(5)).is_err());
    }

    #[test]
    fn ipv6_counts_per_64_and_success_clears_only_the_pair() {
        let mut t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..MAX_ADDRESS_FAILURES {
            t.record_failure(ip(&format!("2001:db8:1:2::{:x}", i + 1)), "x", now);
        }
        assert!(matches!(
            t.check(ip("2001:db8:1:2:ffff::1"), "y", now),
            Err(Throttled::Address { address, .. }) if address == "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        ));
        assert_eq!(t.check(ip("2001:db8:1:3::1"), "y", now), Ok(()));
        t.record_success(ip("2001:db8:1:2::1"), "x");
        assert!(t.check(ip("2001:db8:1:2::1"), "x", now).is_err());
    }
}
