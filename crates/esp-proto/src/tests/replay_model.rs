//! The anti-replay window against a model: the set of sequence numbers seen and the left
//! edge of the window (RFC 4303 §3.4.3), including huge jumps and ESN wrap (Appendix A2).

use std::collections::HashSet;

use proptest::prelude::*;

use crate::{EspError, ReplayWindow};

/// What a receiver following RFC 4303 §3.4.3 literally would do.
struct Model {
    seen: HashSet<u64>,
    top: u64,
    size: u64,
}

impl Model {
    fn accepts(&self, seq: u64) -> bool {
        seq != 0 && !self.seen.contains(&seq) && (seq > self.top || self.top - seq < self.size)
    }
    fn update(&mut self, seq: u64) {
        self.seen.insert(seq);
        self.top = self.top.max(seq);
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Relative to the top: a little behind or ahead (reordering, loss).
    Near(i64),
    /// A big jump ahead (a long burst of loss).
    Jump(u64),
    /// A small absolute number (an old packet).
    Absolute(u64),
    /// A number received before (a replay), by index into the history.
    Again(usize),
}

fn op() -> impl Strategy<Value = (Op, bool)> {
    let op = prop_oneof![
        6 => (-2500i64..80).prop_map(Op::Near),
        1 => (64u64..1 << 40).prop_map(Op::Jump),
        1 => (0u64..3000).prop_map(Op::Absolute),
        2 => any::<usize>().prop_map(Op::Again),
    ];
    // The bool: the ICV verified (else check only, no update).
    (op, prop::bool::weighted(0.9))
}

fn run(size: u32, start: u64, ops: &[(Op, bool)], esn: bool) -> Result<(), TestCaseError> {
    let mut w = ReplayWindow::new(size);
    let mut m = Model {
        seen: HashSet::new(),
        top: 0,
        size: u64::from(w.size()),
    };
    if start > 0 {
        w.update(start);
        m.update(start);
    }
    let mut history = vec![start.max(1)];
    for (op, icv_ok) in ops {
        let seq = match *op {
            Op::Near(d) => m.top.saturating_add_signed(d),
            Op::Jump(d) => m.top.saturating_add(d),
            Op::Absolute(a) => a,
            Op::Again(i) => history[i % history.len()],
        };
        // With ESN only the low half travels; what the receiver reconstructs must be the
        // real number whenever the RFC's assumption holds (within the window or less than
        // 2^32 - W ahead of it).
        let seq = if esn {
            let in_range = seq > 0
                && seq.saturating_add(m.size) > m.top
                && seq - m.top.min(seq) < (1 << 32) - m.size;
            match w.infer_esn(seq as u32) {
                Some(inferred) if in_range => {
                    prop_assert_eq!(inferred, seq, "top {} lo {:#x}", m.top, seq as u32);
                    seq
                }
                Some(_) => continue,
                None => {
                    prop_assert!(!in_range, "top {} seq {}", m.top, seq);
                    continue;
                }
            }
        } else {
            seq
        };
        let expected = m.accepts(seq);
        match w.check(seq) {
            Ok(()) => prop_assert!(expected, "accepted {} (top {})", seq, m.top),
            Err(EspError::Replay { seq: s }) => {
                prop_assert_eq!(s, seq);
                prop_assert!(!expected, "rejected {} (top {})", seq, m.top);
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
        if expected && *icv_ok {
            w.update(seq);
            m.update(seq);
            history.push(seq);
        }
        prop_assert_eq!(w.top(), m.top);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn window_matches_model(
        size in prop::sample::select(vec![0u32, 1000, 1024, 2048, 3000, 65536]),
        ops in prop::collection::vec(op(), 1..400),
    ) {
        run(size, 0, &ops, false)?;
    }

    /// Starting anywhere (up to the 64-bit end), so shifts and clears cross word, ring and
    /// 2^32 boundaries.
    #[test]
    fn window_matches_model_anywhere(
        size in prop::sample::select(vec![1024u32, 4096]),
        start in prop_oneof![any::<u64>(), (1u64 << 32) - 5000..(1u64 << 32) + 5000],
        ops in prop::collection::vec(op(), 1..300),
    ) {
        run(size, start, &ops, false)?;
    }

    /// ESN: the low halves only, across 2^32 boundaries.
    #[test]
    fn esn_window_matches_model(
        size in prop::sample::select(vec![1024u32, 2048]),
        k in 0u64..4,
        off in 0u64..6000,
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let start = ((k << 32) + off).saturating_sub(3000);
        run(size, start, &ops, true)?;
    }

    /// RFC 4303 Appendix A2.1 directly: any number from the window's left edge to 2^31
    /// ahead comes back from its low half.
    #[test]
    fn esn_inference(
        top in prop_oneof![any::<u64>(), (1u64 << 32) - 3000..(1u64 << 32) + 3000, 0u64..3000],
        delta in -1023i64..(1 << 31),
    ) {
        let mut w = ReplayWindow::new(1024);
        w.update(top);
        let seq = top.wrapping_add_signed(delta);
        let real = top.checked_add_signed(delta).filter(|&s| s > 0);
        prop_assert_eq!(w.infer_esn(seq as u32), real);
    }
}

#[test]
fn window_edges() {
    let mut w = ReplayWindow::new(1024);
    assert_eq!(w.size(), 1024);
    assert_eq!(w.check(0), Err(EspError::Replay { seq: 0 }));
    assert!(w.check(1).is_ok());
    w.update(1);
    assert!(w.check(1).is_err());
    w.update(1025);
    assert!(w.check(1).is_err(), "1 is now left of the window");
    assert!(w.check(2).is_ok(), "2 = 1025 - 1023 is the left edge");
    w.update(2);
    assert!(w.check(2).is_err());
    // A jump far beyond the ring clears everything it held.
    w.update(1 << 40);
    assert!(w.check((1 << 40) - 1).is_ok());
    assert!(w.check((1 << 40) - 1023).is_ok());
    assert!(w.check((1 << 40) - 1024).is_err());
    w.update(u64::MAX);
    assert!(w.check(u64::MAX).is_err());
    assert!(w.check(u64::MAX - 1).is_ok());
}

#[test]
fn esn_inference_edges() {
    let w = ReplayWindow::new(1024);
    assert_eq!(w.infer_esn(1), Some(1));
    assert_eq!(w.infer_esn(0), None, "0 never");
    assert_eq!(
        w.infer_esn(u32::MAX),
        None,
        "would be before the first packet"
    );
    let mut w = ReplayWindow::new(1024);
    w.update(u64::MAX - 5);
    assert_eq!(w.infer_esn(u32::MAX - 2), Some(u64::MAX - 2));
    assert_eq!(w.infer_esn(3), None, "past 2^64");
    let mut w = ReplayWindow::new(1024);
    w.update((5 << 32) + 10);
    assert_eq!(
        w.infer_esn(u32::MAX),
        Some((5 << 32) - 1),
        "case B, previous cycle"
    );
    assert_eq!(w.infer_esn(11), Some((5 << 32) + 11), "case B, ahead");
    w.update((5 << 32) + 5000);
    assert_eq!(
        w.infer_esn(4000),
        Some((5 << 32) + 4000),
        "case A, in window"
    );
    assert_eq!(w.infer_esn(10), Some((6 << 32) + 10), "case A, next cycle");
}
