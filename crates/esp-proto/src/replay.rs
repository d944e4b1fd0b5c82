//! The receiver's anti-replay window (RFC 4303 §3.4.3, Appendix A) and extended sequence
//! number reconstruction (RFC 4303 Appendix A2).
//!
//! The bitmap is the ring of 64-bit words of RFC 6479 ("IPsec Anti-Replay Algorithm
//! without Bit Shifting"): advancing the window clears the words it enters instead of
//! shifting the whole bitmap, so a check or update costs O(1) (O(words) only for a jump).

use crate::EspError;

/// Smallest window: issue 4 asks for at least 1024 packets.
pub const MIN_REPLAY_WINDOW: u32 = 1024;
/// Largest window (8 KiB of bitmap per SA at 64 bits per word, twice for the ring slack).
pub const MAX_REPLAY_WINDOW: u32 = 1 << 16;

/// A sliding window of the last `size` sequence numbers received (RFC 4303 §3.4.3).
///
/// `check` before the ICV, `update` only after it verified. Sequence numbers are 64-bit;
/// without ESN they simply stay below 2^32.
#[derive(Clone)]
pub struct ReplayWindow {
    /// Highest sequence number accepted so far (0: none).
    top: u64,
    /// Window size W in packets (a power of two).
    size: u64,
    /// `words.len() - 1`; `words.len()` is a power of two and at least `size / 64 + 1`.
    mask: u64,
    /// Bit `seq % 64` of word `(seq / 64) & mask` is set when `seq` was received.
    words: Box<[u64]>,
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("top", &self.top)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// A window of `size` packets, rounded up to a power of two, at least
    /// [`MIN_REPLAY_WINDOW`] and at most [`MAX_REPLAY_WINDOW`] (RFC 4303 §3.4.3: the
    /// default of 64 is a minimum; bigger windows tolerate more reordering).
    pub fn new(size: u32) -> ReplayWindow {
        let size = size
            .clamp(MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW)
            .next_power_of_two();
        // RFC 6479 §2: one word more than the window spans, so the word being filled
        // never overlaps the oldest one still inside the window.
        let words = (size / 64 + 1).next_power_of_two();
        ReplayWindow {
            top: 0,
            size: u64::from(size),
            mask: u64::from(words - 1),
            words: vec![0; words as usize].into_boxed_slice(),
        }
    }

    /// The window size W in packets (RFC 4303 §3.4.3).
    pub fn size(&self) -> u32 {
        u32::try_from(self.size).unwrap_or(u32::MAX)
    }

    /// The highest sequence number accepted so far, the window's right edge (RFC 4303
    /// §3.4.3; 0 before the first).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// Where `seq` lives in the bitmap (RFC 6479 §2: block `seq / 64` in a ring of words).
    fn slot(&self, seq: u64) -> (usize, u64) {
        (self.word_index(seq >> 6), 1u64 << (seq & 63))
    }

    /// The ring index of 64-packet block `block` (RFC 6479 §2).
    fn word_index(&self, block: u64) -> usize {
        // The mask keeps the index below `words.len()`, which is a usize: the fallback
        // cannot be taken, and an out-of-range index would only miss in `get`.
        let index = usize::try_from(block & self.mask).unwrap_or(usize::MAX);
        debug_assert!(
            index < self.words.len(),
            "replay ring index {index} outside its {} words",
            self.words.len()
        );
        index
    }

    /// Whether a packet with this sequence number may be processed further (RFC 4303
    /// §3.4.3): not 0 (the first packet is 1, §3.3.3), not left of the window, not already
    /// received. Does not change the window.
    pub fn check(&self, seq: u64) -> Result<(), EspError> {
        if seq == 0 {
            return Err(EspError::Replay { seq });
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= self.size {
            return Err(EspError::Replay { seq });
        }
        let (word, bit) = self.slot(seq);
        match self.words.get(word) {
            Some(w) if w & bit == 0 => Ok(()),
            _ => Err(EspError::Replay { seq }),
        }
    }

    /// Records `seq` as received, sliding the window right if it is the new highest (RFC
    /// 4303 §3.4.3: only after the ICV verified; RFC 6479 §2 for the word ring). A number
    /// that [`ReplayWindow::check`] would reject leaves the window unchanged.
    pub fn update(&mut self, seq: u64) {
        if seq == 0 {
            return;
        }
        if seq > self.top {
            let old_block = self.top >> 6;
            let new_block = seq >> 6;
            // Clear the words the window moves into; all of them on a jump past the ring.
            let entering = (new_block - old_block).min(self.mask + 1);
            for i in 1..=entering {
                let word = self.word_index(old_block + i);
                if let Some(w) = self.words.get_mut(word) {
                    *w = 0;
                }
            }
            self.top = seq;
        } else if self.top - seq >= self.size {
            return;
        }
        let (word, bit) = self.slot(seq);
        if let Some(w) = self.words.get_mut(word) {
            *w |= bit;
        }
    }

    /// The full 64-bit sequence number of a packet that carries only its low 32 bits, when
    /// ESN is in use (RFC 4303 Appendix A2.1): the high half is the window top's, one more
    /// if the low half lies below the window (the counter wrapped), one less if the window
    /// straddles a 2^32 boundary and the low half is in its older part. None when the
    /// result would be below 1 or above 2^64 - 1 (it cannot be a packet of this SA).
    pub fn infer_esn(&self, seq_lo: u32) -> Option<u64> {
        let (top_hi, top_lo) = crate::seq_halves(self.top);
        // W - 1 < 2^32 (MAX_REPLAY_WINDOW); W >= MIN_REPLAY_WINDOW, so no saturation.
        let w_minus_1 = self.size().saturating_sub(1);
        let bottom_lo = top_lo.wrapping_sub(w_minus_1);
        let hi = if top_lo >= w_minus_1 {
            // Case A: the window lies within one 2^32 subspace.
            if seq_lo >= bottom_lo {
                Some(top_hi)
            } else {
                top_hi.checked_add(1)
            }
        } else {
            // Case B: the window spans two subspaces.
            if seq_lo >= bottom_lo {
                top_hi.checked_sub(1)
            } else {
                Some(top_hi)
            }
        }?;
        let seq = (u64::from(hi) << 32) | u64::from(seq_lo);
        (seq != 0).then_some(seq)
    }
}
