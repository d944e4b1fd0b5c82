//! Per-tunnel counters with the fields of NSX's `IpSecVpnTunnelTrafficStatistics`
//! (reference §6). Traffic counters count inner packets crossing the VTI; drops and failures
//! count ESP packets (contract §Status).
//!
//! Workers add a whole batch at once ([`CounterBatch`]), so two cores sending on one tunnel
//! touch the shared cache line once per batch, not once per packet.

use std::sync::atomic::{AtomicU64, Ordering};

use esp_proto::Counter;

/// One tunnel's counters, shared by every worker.
#[derive(Debug, Default)]
pub struct TunnelCounters {
    cells: [AtomicU64; FIELDS],
}

/// A copy of a tunnel's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Inner bytes received from the peer and written to the VTI.
    pub bytes_in: u64,
    /// Inner bytes read from the VTI and sent to the peer.
    pub bytes_out: u64,
    /// Inner packets received from the peer.
    pub packets_in: u64,
    /// Inner packets sent to the peer.
    pub packets_out: u64,
    /// ESP packets from the peer that were dropped, whatever the cause.
    pub dropped_packets_in: u64,
    /// Packets routed into the VTI that were not sent, whatever the cause.
    pub dropped_packets_out: u64,
    /// Decrypted to garbage (bad padding or next header).
    pub decryption_failures: u64,
    /// Could not be encrypted.
    pub encryption_failures: u64,
    /// ICV did not verify.
    pub integrity_failures: u64,
    /// Routed into the VTI while the tunnel had no SA.
    pub nomatching_policy_errors: u64,
    /// Inbound, dropped for other reasons (truncated, malformed, VTI write failed).
    pub packets_received_other_error: u64,
    /// Outbound, the socket would not take them.
    pub packets_sent_other_error: u64,
    /// Rejected by the anti-replay window.
    pub replay_errors: u64,
    /// Inbound ESP for an SPI this tunnel does not have.
    pub sa_mismatch_errors_in: u64,
    /// Outbound with no usable SA.
    pub sa_mismatch_errors_out: u64,
    /// Not sent: the sequence number would have wrapped.
    pub seq_number_overflow_error: u64,
}

/// Which counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Field {
    BytesIn,
    BytesOut,
    PacketsIn,
    PacketsOut,
    DroppedIn,
    DroppedOut,
    DecryptionFailures,
    EncryptionFailures,
    IntegrityFailures,
    NoMatchingPolicy,
    ReceivedOtherError,
    SentOtherError,
    ReplayErrors,
    SaMismatchIn,
    SaMismatchOut,
    SeqOverflow,
}

const FIELDS: usize = Field::SeqOverflow as usize + 1;

/// Counts gathered while a worker handles one batch, added to the tunnel in one go.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CounterBatch {
    cells: [u64; FIELDS],
}

impl CounterBatch {
    pub(crate) fn add(&mut self, field: Field, n: u64) {
        if let Some(c) = self.cells.get_mut(field as usize) {
            *c = c.wrapping_add(n);
        }
    }

    /// An inbound ESP packet dropped for `counter` (also counted in `dropped_packets_in`).
    pub(crate) fn drop_in(&mut self, counter: Counter) {
        self.add(Field::DroppedIn, 1);
        let field = match counter {
            Counter::IntegrityFailures => Field::IntegrityFailures,
            Counter::ReplayErrors => Field::ReplayErrors,
            Counter::DecryptionFailures => Field::DecryptionFailures,
            Counter::SaMismatchIn => Field::SaMismatchIn,
            Counter::EncryptionFailures => Field::EncryptionFailures,
            Counter::SeqNumberOverflow => Field::SeqOverflow,
            Counter::PacketsSentOtherError => Field::SentOtherError,
            _ => Field::ReceivedOtherError,
        };
        self.add(field, 1);
    }

    /// An outbound packet not sent, for `field` (also counted in `dropped_packets_out`).
    pub(crate) fn drop_out(&mut self, field: Field, n: u64) {
        self.add(Field::DroppedOut, n);
        self.add(field, n);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.cells.iter().all(|c| *c == 0)
    }

    /// Add to the shared counters and start over.
    pub(crate) fn flush(&mut self, into: &TunnelCounters) {
        if self.is_empty() {
            return;
        }
        for (cell, n) in into.cells.iter().zip(self.cells.iter_mut()) {
            if *n != 0 {
                cell.fetch_add(*n, Ordering::Relaxed);
                *n = 0;
            }
        }
    }
}

impl TunnelCounters {
    fn get(&self, field: Field) -> u64 {
        self.cells
            .get(field as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The counters now.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            bytes_in: self.get(Field::BytesIn),
            bytes_out: self.get(Field::BytesOut),
            packets_in: self.get(Field::PacketsIn),
            packets_out: self.get(Field::PacketsOut),
            dropped_packets_in: self.get(Field::DroppedIn),
            dropped_packets_out: self.get(Field::DroppedOut),
            decryption_failures: self.get(Field::DecryptionFailures),
            encryption_failures: self.get(Field::EncryptionFailures),
            integrity_failures: self.get(Field::IntegrityFailures),
            nomatching_policy_errors: self.get(Field::NoMatchingPolicy),
            packets_received_other_error: self.get(Field::ReceivedOtherError),
            packets_sent_other_error: self.get(Field::SentOtherError),
            replay_errors: self.get(Field::ReplayErrors),
            sa_mismatch_errors_in: self.get(Field::SaMismatchIn),
            sa_mismatch_errors_out: self.get(Field::SaMismatchOut),
            seq_number_overflow_error: self.get(Field::SeqOverflow),
        }
    }

    /// Zero every counter (NSX `POST …/statistics?action=reset`). Packets counted while this
    /// runs land either before or after the reset, never lost twice.
    pub fn reset(&self) {
        for c in &self.cells {
            c.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_add_up_and_reset_zeroes() {
        let shared = TunnelCounters::default();
        let mut b = CounterBatch::default();
        b.add(Field::PacketsOut, 3);
        b.add(Field::BytesOut, 4200);
        b.drop_in(Counter::ReplayErrors);
        b.drop_in(Counter::IntegrityFailures);
        b.drop_out(Field::SeqOverflow, 2);
        b.flush(&shared);
        assert!(b.is_empty());
        b.add(Field::PacketsOut, 1);
        b.flush(&shared);
        let s = shared.snapshot();
        assert_eq!(s.packets_out, 4);
        assert_eq!(s.bytes_out, 4200);
        assert_eq!(s.dropped_packets_in, 2);
        assert_eq!((s.replay_errors, s.integrity_failures), (1, 1));
        assert_eq!((s.dropped_packets_out, s.seq_number_overflow_error), (2, 2));
        shared.reset();
        assert_eq!(shared.snapshot(), CounterSnapshot::default());
    }
}
