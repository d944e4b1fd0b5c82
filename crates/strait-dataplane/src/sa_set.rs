//! The Child SAs of one tunnel, kept the way a kernel SAD keeps them: every installed SA
//! stays until IKE removes it, and the SA packets leave on is *chosen* from that set, never
//! remembered on its own. Sans-IO (time comes in as an argument) so that every order of
//! install / peer-used / timeout / remove can be tested, and so that the simulated gateways
//! of `strait-control` run exactly this logic.
//!
//! Which SA to send on (RFC 7296 §2.8, make-before-break):
//! - an SA is *known to the peer* when we initiated the exchange that made it (the responder
//!   installed both directions before it answered), when an authenticated packet arrived on
//!   its inbound half (the peer uses it, so it has it), or `promote_after` after it was
//!   installed (the initiator of the exchange installs the SA when our response arrives);
//! - packets leave on the **newest SA known to the peer**; if none is known yet, on the
//!   newest installed one (the first SA of a tunnel, or the successor left when the peer
//!   deleted the SA it replaced: the peer deletes an SA only once it has its successor);
//! - removing an SA (IKE deleted it) can therefore never leave a tunnel without a sender
//!   while another SA is installed: this is what lost a direction when both gateways
//!   initiated at once (issue 10: install Y, install X, remove X left nothing to send on).

use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most this many Child SAs per tunnel (normally one; two during a rekey or a
/// simultaneous initiation; a few more during collisions). A peer cannot grow it further.
pub const MAX_SAS_PER_TUNNEL: usize = 32;

/// Why an SA could not be added to a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaSetError {
    /// The inbound SPI is already installed on this tunnel.
    #[error("inbound SPI {0:08x} is already installed")]
    DuplicateSpi(u32),
    /// The tunnel has [`MAX_SAS_PER_TUNNEL`] SAs.
    #[error("the tunnel already has {MAX_SAS_PER_TUNNEL} Child SAs")]
    TooMany,
}

/// Whether the peer is known to have an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerHasIt {
    /// Known: we initiated it, or the peer used it, or the wait ran out.
    Yes,
    /// Assumed from this moment on (the rekey responder's wait, `promote_after`).
    From(Instant),
}

/// One installed Child SA of a tunnel.
#[derive(Debug)]
pub struct SaEntry<O> {
    /// Our inbound SPI (we chose it: unique on this gateway).
    pub spi_in: u32,
    /// The SPI on packets we send.
    pub spi_out: u32,
    /// The sending half.
    pub sa: Arc<O>,
    /// Install order (larger is newer).
    order: u64,
    peer: PeerHasIt,
}

impl<O> SaEntry<O> {
    /// Whether the peer is known to have this SA.
    pub fn peer_has_it(&self) -> bool {
        self.peer == PeerHasIt::Yes
    }
}

/// What a tunnel's SA set looks like (for invariant checks and status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaSetView {
    /// Installed SAs in install order: (inbound SPI, outbound SPI, known to the peer).
    pub sas: Vec<(u32, u32, bool)>,
    /// The inbound SPI of the SA packets leave on.
    pub sender: Option<u32>,
}

/// The installed Child SAs of one tunnel (see the module documentation).
#[derive(Debug)]
pub struct TunnelSas<O> {
    entries: Vec<SaEntry<O>>,
    installs: u64,
}

impl<O> Default for TunnelSas<O> {
    fn default() -> Self {
        TunnelSas {
            entries: Vec::new(),
            installs: 0,
        }
    }
}

impl<O> TunnelSas<O> {
    /// Add a Child SA. `we_initiated`: we started the exchange that made it, so the peer has
    /// it already; otherwise it is assumed known to the peer `promote_after` from `now`
    /// unless the peer uses it earlier.
    pub fn install(
        &mut self,
        spi_in: u32,
        spi_out: u32,
        sa: Arc<O>,
        we_initiated: bool,
        now: Instant,
        promote_after: Duration,
    ) -> Result<(), SaSetError> {
        if self.entries.iter().any(|e| e.spi_in == spi_in) {
            return Err(SaSetError::DuplicateSpi(spi_in));
        }
        if self.entries.len() >= MAX_SAS_PER_TUNNEL {
            return Err(SaSetError::TooMany);
        }
        self.installs += 1;
        self.entries.push(SaEntry {
            spi_in,
            spi_out,
            sa,
            order: self.installs,
            peer: if we_initiated {
                PeerHasIt::Yes
            } else {
                PeerHasIt::From(now + promote_after)
            },
        });
        self.debug_check();
        Ok(())
    }

    /// An authenticated packet arrived on the SA with inbound SPI `spi_in`: the peer has it.
    /// Returns whether the sender changed.
    pub fn peer_used(&mut self, spi_in: u32) -> bool {
        let before = self.sender_spi();
        if let Some(e) = self.entries.iter_mut().find(|e| e.spi_in == spi_in) {
            e.peer = PeerHasIt::Yes;
        }
        self.sender_spi() != before
    }

    /// Remove the SA with inbound SPI `spi_in` (IKE deleted it). Returns whether it was
    /// installed.
    pub fn remove(&mut self, spi_in: u32) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.spi_in != spi_in);
        self.debug_check();
        self.entries.len() != before
    }

    /// Apply the waits that ran out by `now`. Returns whether the sender changed.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        let before = self.sender_spi();
        for e in &mut self.entries {
            if matches!(e.peer, PeerHasIt::From(t) if t <= now) {
                e.peer = PeerHasIt::Yes;
            }
        }
        self.sender_spi() != before
    }

    /// When [`TunnelSas::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter_map(|e| match e.peer {
                PeerHasIt::From(t) => Some(t),
                PeerHasIt::Yes => None,
            })
            .min()
    }

    /// The SA packets leave on: the newest known to the peer, else the newest installed.
    pub fn sender(&self) -> Option<&SaEntry<O>> {
        self.entries
            .iter()
            .filter(|e| e.peer_has_it())
            .max_by_key(|e| e.order)
            .or_else(|| self.entries.iter().max_by_key(|e| e.order))
    }

    fn sender_spi(&self) -> Option<u32> {
        self.sender().map(|e| e.spi_in)
    }

    /// The installed SAs, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &SaEntry<O>> {
        self.entries.iter()
    }

    /// Whether no SA is installed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of installed SAs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The set as the invariant checks see it.
    pub fn view(&self) -> SaSetView {
        SaSetView {
            sas: self
                .entries
                .iter()
                .map(|e| (e.spi_in, e.spi_out, e.peer_has_it()))
                .collect(),
            sender: self.sender_spi(),
        }
    }

    /// The set's invariants: bounded, inbound SPIs unique, install order strictly
    /// increasing, and a sender exactly when an SA is installed (the sender is one of them).
    pub fn check(&self) -> Result<(), String> {
        if self.entries.len() > MAX_SAS_PER_TUNNEL {
            return Err(format!("{} SAs on one tunnel", self.entries.len()));
        }
        let mut previous: Option<&SaEntry<O>> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if self.entries.iter().take(i).any(|o| o.spi_in == e.spi_in) {
                return Err(format!("inbound SPI {:08x} installed twice", e.spi_in));
            }
            if previous.is_some_and(|p| p.order >= e.order) {
                return Err("install order not increasing".into());
            }
            previous = Some(e);
        }
        match (self.sender(), self.entries.is_empty()) {
            (None, false) => Err("SAs installed but none to send on".into()),
            (Some(_), true) => Err("a sender without SAs".into()),
            _ => Ok(()),
        }
    }

    fn debug_check(&self) {
        if cfg!(debug_assertions) {
            if let Err(e) = self.check() {
                debug_assert!(false, "tunnel SA set invariant violated: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(3);

    /// One step of a test sequence.
    #[derive(Debug, Clone, Copy)]
    enum Op {
        /// Install SA `n` (SPI in n, out 100+n), initiated by us or by the peer.
        Install(u32, bool),
        /// The peer used SA `n`.
        Used(u32),
        /// IKE removed SA `n`.
        Remove(u32),
        /// Time passes beyond every wait.
        Wait,
    }

    fn run(ops: &[Op]) -> (TunnelSas<u32>, Instant) {
        let mut t = Instant::now();
        let mut sas = TunnelSas::default();
        for op in ops {
            match *op {
                Op::Install(n, ours) => {
                    let _ = sas.install(n, 100 + n, Arc::new(n), ours, t, WAIT);
                }
                Op::Used(n) => {
                    sas.peer_used(n);
                }
                Op::Remove(n) => {
                    sas.remove(n);
                }
                Op::Wait => {
                    t += WAIT * 2;
                    sas.handle_timeout(t);
                }
            }
            sas.check().unwrap();
        }
        (sas, t)
    }

    fn sender(ops: &[Op]) -> Option<u32> {
        run(ops).0.sender().map(|e| e.spi_in)
    }

    #[test]
    fn the_issue_10_sequence_keeps_a_sender() {
        use Op::*;
        // Site B in the failing demo: Y (peer-initiated) first, X (ours), X removed as the
        // duplicate. The old model forgot Y when X was installed.
        assert_eq!(
            sender(&[Install(2, false), Install(1, true), Remove(1)]),
            Some(2)
        );
        // And the mirror image on site A.
        assert_eq!(
            sender(&[Install(1, true), Install(2, false), Remove(1)]),
            Some(2)
        );
        assert_eq!(
            sender(&[Install(1, true), Install(2, false), Remove(2)]),
            Some(1)
        );
    }

    #[test]
    fn make_before_break_as_rekey_initiator_switches_at_once() {
        use Op::*;
        assert_eq!(sender(&[Install(1, true), Install(2, true)]), Some(2));
        assert_eq!(sender(&[Install(1, false), Install(2, true)]), Some(2));
    }

    #[test]
    fn make_before_break_as_rekey_responder_waits_for_the_peer() {
        use Op::*;
        // Keeps sending on the old SA until the peer uses the new one...
        assert_eq!(sender(&[Install(1, true), Install(2, false)]), Some(1));
        assert_eq!(
            sender(&[Install(1, true), Install(2, false), Used(2)]),
            Some(2)
        );
        // ... or the wait runs out ...
        assert_eq!(
            sender(&[Install(1, true), Install(2, false), Wait]),
            Some(2)
        );
        // ... or the old one is deleted.
        assert_eq!(
            sender(&[Install(1, true), Install(2, false), Remove(1)]),
            Some(2)
        );
        // An old SA still in use by the peer does not take the sender back.
        assert_eq!(
            sender(&[Install(1, true), Install(2, false), Used(2), Used(1)]),
            Some(2)
        );
    }

    #[test]
    fn the_first_sa_sends_even_before_the_peer_used_it() {
        use Op::*;
        assert_eq!(sender(&[Install(1, false)]), Some(1));
        assert_eq!(sender(&[Install(1, false), Remove(1)]), None);
    }

    #[test]
    fn waits_are_reported_and_consumed() {
        let mut sas = TunnelSas::default();
        let t = Instant::now();
        sas.install(1, 101, Arc::new(1), true, t, WAIT).unwrap();
        assert_eq!(sas.poll_timeout(), None);
        sas.install(2, 102, Arc::new(2), false, t, WAIT).unwrap();
        assert_eq!(sas.poll_timeout(), Some(t + WAIT));
        assert!(!sas.handle_timeout(t + WAIT / 2));
        assert!(sas.handle_timeout(t + WAIT));
        assert_eq!(sas.poll_timeout(), None);
        assert_eq!(sas.sender().map(|e| e.spi_out), Some(102));
    }

    #[test]
    fn limits_and_duplicates_are_refused() {
        let mut sas = TunnelSas::default();
        let t = Instant::now();
        sas.install(1, 101, Arc::new(1), true, t, WAIT).unwrap();
        assert_eq!(
            sas.install(1, 999, Arc::new(9), true, t, WAIT),
            Err(SaSetError::DuplicateSpi(1))
        );
        for n in 2..=MAX_SAS_PER_TUNNEL as u32 {
            sas.install(n, 100 + n, Arc::new(n), false, t, WAIT)
                .unwrap();
        }
        assert_eq!(
            sas.install(1000, 1, Arc::new(0), true, t, WAIT),
            Err(SaSetError::TooMany)
        );
        assert!(!sas.remove(4242));
        assert_eq!(sas.len(), MAX_SAS_PER_TUNNEL);
    }

    /// Every order of up to 7 operations over 3 SAs (each installed once, by either side):
    /// after each step there is a sender exactly when SAs are installed, it is the newest
    /// SA the peer is known to have (else the newest), and removing the sender falls back
    /// to the newest remaining SA.
    #[test]
    fn every_order_of_install_use_wait_remove() {
        let mut ops = Vec::new();
        for n in 1..=3u32 {
            ops.push(Op::Install(n, true));
            ops.push(Op::Install(n, false));
            ops.push(Op::Used(n));
            ops.push(Op::Remove(n));
        }
        ops.push(Op::Wait);
        let mut seq = Vec::new();
        let mut checked = 0u64;
        explore(&ops, &mut seq, 6, &mut checked);
        assert!(checked > 100_000, "{checked}");
    }

    fn explore(ops: &[Op], seq: &mut Vec<Op>, depth: usize, checked: &mut u64) {
        check_model(seq);
        *checked += 1;
        if depth == 0 {
            return;
        }
        for op in ops {
            // Each SA is installed at most once (SPIs are never reused).
            if let Op::Install(n, _) = op {
                if seq.iter().any(|o| matches!(o, Op::Install(m, _) if m == n)) {
                    continue;
                }
            }
            seq.push(*op);
            explore(ops, seq, depth - 1, checked);
            seq.pop();
        }
    }

    /// An independent statement of the rule, checked against the set after `seq`.
    fn check_model(seq: &[Op]) {
        let (sas, _) = run(seq);
        // Model: installed SAs in order, with "known to the peer".
        let mut model: Vec<(u32, bool)> = Vec::new();
        for op in seq {
            match *op {
                Op::Install(n, ours) => {
                    if !model.iter().any(|(m, _)| *m == n) {
                        model.push((n, ours));
                    }
                }
                Op::Used(n) => {
                    for e in &mut model {
                        if e.0 == n {
                            e.1 = true;
                        }
                    }
                }
                Op::Remove(n) => model.retain(|e| e.0 != n),
                Op::Wait => {
                    for e in &mut model {
                        e.1 = true;
                    }
                }
            }
        }
        let want = model
            .iter()
            .rev()
            .find(|e| e.1)
            .or(model.last())
            .map(|e| e.0);
        assert_eq!(sas.sender().map(|e| e.spi_in), want, "after {seq:?}");
        assert_eq!(sas.len(), model.len(), "after {seq:?}");
        assert_eq!(sas.sender().is_some(), !model.is_empty());
    }
}
