//! Admission of unauthenticated IKE_SA_INIT requests, and the counts of what was dropped.
//!
//! The principle (RFC 7296 §2.6, RFC 8019): until a message is authenticated, anyone on the
//! path can have sent it, so it may cost us only bounded, cheap work and may change nothing
//! a user or a timer relies on. Concretely:
//!
//! - a request is admitted only from a configured peer, only up to a size limit, and only
//!   while that peer and the gateway are under their half-open limits;
//! - a COOKIE is required (§2.6) as soon as half-open SAs, IKE_SA_INIT requests per second
//!   or Diffie-Hellman computations per second pass a threshold, globally or for one peer
//!   address, so a flood from a forged address gets cheap stateless answers;
//! - cookie secrets rotate ([`COOKIE_ROTATION`]); the current and the previous one are
//!   accepted, so a captured cookie is good for at most two periods;
//! - refusals never touch a session's status, alarm or retry timer (only authenticated
//!   messages do); they are counted here per cause and per peer, and the runtime logs the
//!   counts once per interval ([`crate::Endpoint::take_unauthenticated_report`]), never a
//!   line per packet.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use crate::random::{self, Random};

/// How often the cookie secret changes. A cookie is accepted while its secret is the
/// current or the previous one: at most two periods.
pub const COOKIE_ROTATION: Duration = Duration::from_secs(60);

/// Largest IKE_SA_INIT request admitted. The biggest legitimate one carries a MODP-8192 KE
/// (1 KiB), a few proposals, a nonce of at most 256 bytes and a handful of notifies; it is
/// never fragmented (RFC 7383 applies only from IKE_AUTH on). Bigger ones are dropped
/// before anything is kept.
pub const INIT_REQUEST_MAX: usize = 4096;

/// Nonce sizes accepted (RFC 7296 §2.10, §3.9: 16 to 256 octets).
pub const NONCE_MIN: usize = 16;
/// See [`NONCE_MIN`].
pub const NONCE_MAX: usize = 256;

/// Distinct (cause, peer) pairs kept between two reports; more are summed under the
/// unspecified address, so a flood from random sources cannot grow the table.
const REPORT_KEYS_MAX: usize = 256;

/// Why an unauthenticated message was dropped or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropCause {
    /// IKE_SA_INIT from an address no session is configured for.
    NotConfigured,
    /// IKE_SA_INIT larger than [`INIT_REQUEST_MAX`].
    TooLarge,
    /// The gateway's half-open limit was reached.
    HalfOpenLimit,
    /// The peer address's half-open limit was reached.
    PeerHalfOpenLimit,
    /// A COOKIE was required and missing or wrong: answered with a fresh one.
    CookieRequired,
    /// A retransmitted IKE_SA_INIT answered again less than [`RETRANSMIT_ANSWER_SPACING`]
    /// after the previous answer (a replay from many ports): ignored.
    ReplayedInit,
    /// Missing or oversized SA, KE or Nonce: answered INVALID_SYNTAX.
    Malformed,
    /// No acceptable IKE proposal: answered NO_PROPOSAL_CHOSEN.
    NoProposalChosen,
    /// KE for another group: answered INVALID_KE_PAYLOAD.
    WrongKeGroup,
    /// A KE value that fails validation (RFC 6989): answered INVALID_SYNTAX, no DH done.
    InvalidKe,
    /// Major version above 2: answered INVALID_MAJOR_VERSION (§2.5).
    UnsupportedVersion,
    /// Unknown critical payload: answered UNSUPPORTED_CRITICAL_PAYLOAD (§3.2).
    UnsupportedCriticalPayload,
    /// A message that does not decode, or a response nobody asked for.
    Undecodable,
    /// A message for an IKE SA we do not have.
    UnknownSpi,
    /// An encrypted message whose integrity check failed (§2.21.2: dropped silently).
    IntegrityCheckFailed,
    /// The public-key work queue was full (a flood): dropped, the peer retransmits.
    CryptoBusy,
    /// An authentic IKE fragment that cannot be used: of an older split, beyond its total,
    /// or making the message larger than the reassembly limit (RFC 7383 §2.6).
    UnusableFragment,
}

impl fmt::Display for DropCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropCause::NotConfigured => "IKE_SA_INIT from an address no session is configured for (dropped)",
            DropCause::TooLarge => {
                return write!(f, "IKE_SA_INIT larger than {INIT_REQUEST_MAX} bytes (dropped)")
            }
            DropCause::HalfOpenLimit => "IKE_SA_INIT over the gateway's half-open limit (dropped)",
            DropCause::PeerHalfOpenLimit => "IKE_SA_INIT over the peer's half-open limit (dropped)",
            DropCause::CookieRequired => "IKE_SA_INIT without a valid COOKIE while under load (answered with a COOKIE)",
            DropCause::ReplayedInit => "IKE_SA_INIT replayed faster than a retransmission (ignored)",
            DropCause::Malformed => "malformed IKE_SA_INIT (answered INVALID_SYNTAX)",
            DropCause::NoProposalChosen => "IKE_SA_INIT with no acceptable IKE proposal (answered NO_PROPOSAL_CHOSEN)",
            DropCause::WrongKeGroup => "IKE_SA_INIT with a KE for another DH group (answered INVALID_KE_PAYLOAD)",
            DropCause::InvalidKe => "IKE_SA_INIT with an invalid DH public value (answered INVALID_SYNTAX)",
            DropCause::UnsupportedVersion => "IKE message of a major version above 2 (answered INVALID_MAJOR_VERSION)",
            DropCause::UnsupportedCriticalPayload => "IKE_SA_INIT with an unknown critical payload (answered UNSUPPORTED_CRITICAL_PAYLOAD)",
            DropCause::Undecodable => "undecodable or unexpected IKE message (dropped)",
            DropCause::UnknownSpi => "IKE message for an unknown IKE SA (dropped)",
            DropCause::IntegrityCheckFailed => "IKE message failing its integrity check (dropped)",
            DropCause::CryptoBusy => "IKE_SA_INIT while the key-exchange queue was full (dropped)",
            DropCause::UnusableFragment => "IKE fragment that is stale, out of range or makes the message too large (dropped)",
        })
    }
}

/// Least time between two answers to retransmissions of one IKE_SA_INIT request: real
/// retransmissions are seconds apart (§2.4); a captured request replayed from many source
/// ports must not turn us into a reflector.
pub const RETRANSMIT_ANSWER_SPACING: Duration = Duration::from_millis(500);

/// Counts of one (cause, peer) pair since the last report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropReport {
    /// Why.
    pub cause: DropCause,
    /// The claimed source address (unauthenticated); the unspecified address sums the
    /// pairs beyond the table's size.
    pub peer: IpAddr,
    /// How many since the last report.
    pub count: u64,
    /// What the last one said, where that helps an operator (e.g. the proposals offered),
    /// at most 200 characters. Unauthenticated: anyone could have chosen it.
    pub example: Option<String>,
}

/// An estimate of events per second over a sliding one-second window.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rate {
    window_start: Option<Instant>,
    current: u32,
    previous: u32,
}

impl Rate {
    fn roll(&mut self, now: Instant) -> Instant {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= Duration::from_secs(2) {
            self.previous = 0;
            self.current = 0;
            self.window_start = Some(now);
            now
        } else if elapsed >= Duration::from_secs(1) {
            self.previous = self.current;
            self.current = 0;
            let next = start + Duration::from_secs(1);
            self.window_start = Some(next);
            next
        } else {
            start
        }
    }

    pub(crate) fn add(&mut self, now: Instant) {
        self.roll(now);
        self.current = self.current.saturating_add(1);
    }

    /// Events in the last second (the previous window weighted by how much of it is still
    /// inside the last second).
    pub(crate) fn per_second(&mut self, now: Instant) -> u32 {
        let start = self.roll(now);
        let into = now.saturating_duration_since(start).as_secs_f64().min(1.0);
        let carried = f64::from(self.previous) * (1.0 - into);
        self.current.saturating_add(carried as u32)
    }
}

/// Load of one configured peer address.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PeerLoad {
    pub(crate) half_open: usize,
    pub(crate) init_rate: Rate,
    pub(crate) dh_rate: Rate,
}

/// Thresholds, from [`crate::EndpointConfig`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) half_open_max: usize,
    pub(crate) peer_half_open_max: usize,
    pub(crate) cookie_half_open: usize,
    pub(crate) cookie_peer_half_open: usize,
    pub(crate) cookie_init_rate: u32,
    pub(crate) cookie_peer_init_rate: u32,
    pub(crate) cookie_dh_rate: u32,
    pub(crate) cookie_peer_dh_rate: u32,
}

struct CookieSecret {
    version: u8,
    secret: [u8; 32],
}

/// The admission state of an endpoint.
pub(crate) struct Admission {
    current: CookieSecret,
    previous: Option<CookieSecret>,
    rotated_at: Option<Instant>,
    /// Per configured peer address (the map holds only addresses of configured sessions,
    /// so it is bounded by the configuration).
    peers: HashMap<IpAddr, PeerLoad>,
    pub(crate) half_open_total: usize,
    init_rate: Rate,
    dh_rate: Rate,
    pending: BTreeMap<(DropCause, IpAddr), (u64, Option<String>)>,
    totals: BTreeMap<DropCause, u64>,
}

impl Admission {
    pub(crate) fn new(rng: &mut dyn Random) -> Admission {
        Admission {
            current: CookieSecret {
                version: 0,
                secret: random::bytes(rng),
            },
            previous: None,
            rotated_at: None,
            peers: HashMap::new(),
            half_open_total: 0,
            init_rate: Rate::default(),
            dh_rate: Rate::default(),
            pending: BTreeMap::new(),
            totals: BTreeMap::new(),
        }
    }

    fn peer(&mut self, ip: IpAddr) -> &mut PeerLoad {
        self.peers.entry(ip).or_default()
    }

    /// Forget the load of an address no session is configured for any more (keeps the map
    /// bounded by the configuration); kept while half-open SAs of it still count.
    pub(crate) fn forget_peer(&mut self, ip: IpAddr) {
        if self.peers.get(&ip).is_some_and(|p| p.half_open == 0) {
            self.peers.remove(&ip);
        }
    }

    /// An IKE_SA_INIT request from a configured peer arrived.
    pub(crate) fn note_init(&mut self, now: Instant, ip: IpAddr) {
        self.init_rate.add(now);
        self.peer(ip).init_rate.add(now);
    }

    /// A Diffie-Hellman computation for an unauthenticated request is about to be done.
    pub(crate) fn note_dh(&mut self, now: Instant, ip: IpAddr) {
        self.dh_rate.add(now);
        self.peer(ip).dh_rate.add(now);
    }

    /// Whether a new half-open SA for `ip` is refused outright.
    pub(crate) fn over_limit(&mut self, ip: IpAddr, l: &Limits) -> Option<DropCause> {
        if self.half_open_total >= l.half_open_max {
            return Some(DropCause::HalfOpenLimit);
        }
        if self.peer(ip).half_open >= l.peer_half_open_max {
            return Some(DropCause::PeerHalfOpenLimit);
        }
        None
    }

    /// Whether a request from `ip` must carry a COOKIE (§2.6): the gateway or this peer
    /// address is under load by half-open count, request rate or DH work.
    pub(crate) fn cookie_required(&mut self, now: Instant, ip: IpAddr, l: &Limits) -> bool {
        let global = self.half_open_total >= l.cookie_half_open
            || self.init_rate.per_second(now) >= l.cookie_init_rate
            || self.dh_rate.per_second(now) >= l.cookie_dh_rate;
        let p = self.peer(ip);
        global
            || p.half_open >= l.cookie_peer_half_open
            || p.init_rate.per_second(now) >= l.cookie_peer_init_rate
            || p.dh_rate.per_second(now) >= l.cookie_peer_dh_rate
    }

    pub(crate) fn half_open_added(&mut self, ip: IpAddr) {
        self.half_open_total += 1;
        self.peer(ip).half_open += 1;
    }

    pub(crate) fn half_open_removed(&mut self, ip: IpAddr) {
        debug_assert!(self.half_open_total > 0, "half-open count underflow");
        self.half_open_total = self.half_open_total.saturating_sub(1);
        if let Some(p) = self.peers.get_mut(&ip) {
            debug_assert!(p.half_open > 0, "half-open count of {ip} underflow");
            p.half_open = p.half_open.saturating_sub(1);
        }
    }

    /// Half-open SAs counted for `ip` (for the invariant check).
    pub(crate) fn half_open_of(&self, ip: &IpAddr) -> usize {
        self.peers.get(ip).map_or(0, |p| p.half_open)
    }

    /// Sum of the per-peer half-open counts (for the invariant check).
    pub(crate) fn half_open_sum(&self) -> usize {
        self.peers.values().map(|p| p.half_open).sum()
    }

    fn rotate(&mut self, now: Instant, rng: &mut dyn Random) {
        let rotated_at = *self.rotated_at.get_or_insert(now);
        let age = now.saturating_duration_since(rotated_at);
        if age < COOKIE_ROTATION {
            return;
        }
        let next = CookieSecret {
            version: self.current.version.wrapping_add(1),
            secret: random::bytes(rng),
        };
        // Two periods or more without use: the previous secret is too old to honour.
        let stale = age >= 2 * COOKIE_ROTATION;
        let old = std::mem::replace(&mut self.current, next);
        self.previous = (!stale).then_some(old);
        self.rotated_at = Some(now);
    }

    /// The cookie for a request (§2.6: `<VersionIDofSecret> | Hash(Ni | IPi | SPIi |
    /// <secret>)`), made with the current secret.
    pub(crate) fn cookie(
        &mut self,
        now: Instant,
        ip: IpAddr,
        spi_i: &[u8; 8],
        ni: &[u8],
        rng: &mut dyn Random,
    ) -> Vec<u8> {
        self.rotate(now, rng);
        make_cookie(&self.current, ip, spi_i, ni)
    }

    /// Whether `cookie` was made by the current or the previous secret for this request.
    pub(crate) fn cookie_valid(
        &mut self,
        now: Instant,
        cookie: &[u8],
        ip: IpAddr,
        spi_i: &[u8; 8],
        ni: &[u8],
        rng: &mut dyn Random,
    ) -> bool {
        self.rotate(now, rng);
        let Some(&version) = cookie.first() else {
            return false;
        };
        [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .filter(|s| s.version == version)
            .any(|s| crate::exchanges::ct_eq(cookie, &make_cookie(s, ip, spi_i, ni)))
    }

    /// Count a refused or dropped unauthenticated message.
    pub(crate) fn dropped(&mut self, cause: DropCause, peer: IpAddr, example: Option<String>) {
        *self.totals.entry(cause).or_default() += 1;
        let key = if self.pending.len() >= REPORT_KEYS_MAX
            && !self.pending.contains_key(&(cause, peer))
        {
            (cause, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        } else {
            (cause, peer)
        };
        let entry = self.pending.entry(key).or_insert((0, None));
        entry.0 += 1;
        if let Some(e) = example {
            entry.1 = Some(e.chars().take(200).collect());
        }
    }

    pub(crate) fn take_report(&mut self) -> Vec<DropReport> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|((cause, peer), (count, example))| DropReport {
                cause,
                peer,
                count,
                example,
            })
            .collect()
    }

    pub(crate) fn totals(&self) -> &BTreeMap<DropCause, u64> {
        &self.totals
    }
}

fn make_cookie(s: &CookieSecret, ip: IpAddr, spi_i: &[u8; 8], ni: &[u8]) -> Vec<u8> {
    let ip_bytes = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let mut c = vec![s.version];
    c.extend_from_slice(&ike_crypto::hmac_sha256(&s.secret, &[ni, &ip_bytes, spi_i]));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TestRandom;

    #[test]
    fn a_cookie_lives_at_most_two_rotation_periods() {
        let mut rng = TestRandom::new(1);
        let t0 = Instant::now();
        let mut a = Admission::new(&mut rng);
        let ip: IpAddr = "198.51.100.2".parse().unwrap();
        let c = a.cookie(t0, ip, &[1; 8], &[2; 32], &mut rng);
        assert!(a.cookie_valid(t0, &c, ip, &[1; 8], &[2; 32], &mut rng));
        // Another address, SPI or nonce: refused.
        let other: IpAddr = "198.51.100.3".parse().unwrap();
        assert!(!a.cookie_valid(t0, &c, other, &[1; 8], &[2; 32], &mut rng));
        assert!(!a.cookie_valid(t0, &c, ip, &[9; 8], &[2; 32], &mut rng));
        assert!(!a.cookie_valid(t0, &c, ip, &[1; 8], &[3; 32], &mut rng));
        // After one rotation the previous secret still counts...
        let t1 = t0 + COOKIE_ROTATION + Duration::from_secs(1);
        assert!(a.cookie_valid(t1, &c, ip, &[1; 8], &[2; 32], &mut rng));
        // ...after the second it does not.
        let t2 = t1 + COOKIE_ROTATION + Duration::from_secs(1);
        assert!(!a.cookie_valid(t2, &c, ip, &[1; 8], &[2; 32], &mut rng));
        // A long idle gap forgets the previous secret at once.
        let mut b = Admission::new(&mut rng);
        let c = b.cookie(t0, ip, &[1; 8], &[2; 32], &mut rng);
        let late = t0 + 2 * COOKIE_ROTATION + Duration::from_secs(1);
        assert!(!b.cookie_valid(late, &c, ip, &[1; 8], &[2; 32], &mut rng));
    }

    #[test]
    fn rates_follow_a_sliding_second() {
        let t0 = Instant::now();
        let mut r = Rate::default();
        for _ in 0..100 {
            r.add(t0);
        }
        assert_eq!(r.per_second(t0), 100);
        // Half a second into the next window, half of the previous one still counts.
        let t = t0 + Duration::from_millis(1500);
        assert!((45..=55).contains(&r.per_second(t)), "{}", r.per_second(t));
        assert_eq!(r.per_second(t0 + Duration::from_secs(5)), 0);
    }

    #[test]
    fn the_report_is_bounded_and_drained() {
        let mut rng = TestRandom::new(1);
        let mut a = Admission::new(&mut rng);
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            a.dropped(DropCause::NotConfigured, ip, Some("x".repeat(1000)));
        }
        let r = a.take_report();
        assert!(r.len() <= REPORT_KEYS_MAX + 1, "{}", r.len());
        assert_eq!(r.iter().map(|d| d.count).sum::<u64>(), 10_000);
        assert!(r
            .iter()
            .all(|d| d.example.as_ref().is_none_or(|e| e.len() <= 200)));
        assert!(a.take_report().is_empty());
        assert_eq!(a.totals()[&DropCause::NotConfigured], 10_000);
    }
}
