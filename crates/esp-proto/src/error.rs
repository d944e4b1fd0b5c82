//! What can go wrong, and which NSX tunnel counter each failure increments.

/// An ESP failure. Per-packet variants carry no heap data, so returning one costs nothing
/// on the packet path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EspError {
    /// The packet is shorter than an ESP header, the IV, the trailer and the ICV together
    /// (RFC 4303 §2).
    #[error("ESP packet truncated: shorter than header, IV, trailer and ICV")]
    Truncated,
    /// The ciphertext is not a whole number of cipher blocks (RFC 3602 §3: AES-CBC
    /// ciphertext is a multiple of 16 bytes), or otherwise cannot be a packet of this SA.
    #[error("ESP packet malformed: ciphertext is not a whole number of cipher blocks")]
    Malformed,
    /// The packet names another SA's SPI (it was handed to the wrong SA).
    #[error("ESP packet for SPI {spi:#010x} handed to another SA")]
    SpiMismatch {
        /// The SPI in the packet.
        spi: u32,
    },
    /// The sequence number was already received or lies left of the anti-replay window
    /// (RFC 4303 §3.4.3), or is 0, or (with ESN) cannot be placed (RFC 4303 Appendix A2).
    #[error("replayed or too old ESP sequence number {seq}")]
    Replay {
        /// The (reconstructed, with ESN) sequence number.
        seq: u64,
    },
    /// The ICV did not verify (RFC 4303 §3.4.4): a forged, corrupted or wrongly keyed packet.
    #[error("ESP integrity check failed")]
    IntegrityCheckFailed,
    /// The packet authenticated but its trailer is invalid: a pad length longer than the
    /// payload, or padding bytes other than 1, 2, 3, ... (RFC 4303 §2.4).
    #[error("ESP padding invalid after decryption")]
    BadPadding,
    /// The outbound sequence number would wrap: 2^32 - 1 packets sent without ESN, 2^64 - 1
    /// with (RFC 4303 §3.3.3). The SA must be rekeyed; nothing was sent.
    #[error("ESP sequence numbers exhausted: the SA must be rekeyed")]
    SequenceExhausted,
    /// The buffer has no room for the trailer and ICV after the inner packet.
    #[error("buffer too small for the ESP packet: {need} bytes needed")]
    BufferTooSmall {
        /// The buffer length needed.
        need: usize,
    },
    /// Fewer than `header_len()` bytes precede the inner packet in the buffer.
    #[error("not enough headroom for the ESP header: {need} bytes needed before the inner packet")]
    InsufficientHeadroom {
        /// The headroom needed.
        need: usize,
    },
    /// The crypto library refused to seal (it cannot, for sizes this crate accepts).
    #[error("ESP encryption failed")]
    EncryptionFailed,
    /// A transform this crate does not implement (IKEv2 transform IDs, RFC 7296 §3.3.2).
    #[error(
        "unsupported ESP transform: ENCR {encr} with key length {key_bits:?}, INTEG {integ:?}"
    )]
    UnknownTransform {
        /// Encryption transform ID.
        encr: u16,
        /// Key Length attribute, bits.
        key_bits: Option<u16>,
        /// Integrity transform ID, if any.
        integ: Option<u16>,
    },
    /// A key of the wrong length for the transform.
    #[error("{which} key is {got} bytes, the transform needs {expected}")]
    BadKeyLength {
        /// "encryption" or "integrity".
        which: &'static str,
        /// Length the transform needs.
        expected: usize,
        /// Length given.
        got: usize,
    },
}

/// The NSX per-tunnel statistics field (`IpSecVpnTunnelTrafficStatistics`) an error
/// increments. Every inbound error also counts in `dropped_packets_in`, every outbound one
/// in `dropped_packets_out`; the runtime adds those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Counter {
    /// `integrity_failures`.
    IntegrityFailures,
    /// `replay_errors`.
    ReplayErrors,
    /// `decryption_failures`.
    DecryptionFailures,
    /// `encryption_failures`.
    EncryptionFailures,
    /// `seq_number_overflow_error`.
    SeqNumberOverflow,
    /// `sa_mismatch_errors_in`.
    SaMismatchIn,
    /// `packets_received_other_error`.
    PacketsReceivedOtherError,
    /// `packets_sent_other_error`.
    PacketsSentOtherError,
    /// Not a packet error (SA setup); increments nothing.
    NotCounted,
}

impl Counter {
    /// The NSX JSON field name of `IpSecVpnTunnelTrafficStatistics` (None for
    /// [`Counter::NotCounted`]). Not an RFC matter: NSX's API.
    pub fn nsx_field(self) -> Option<&'static str> {
        Some(match self {
            Counter::IntegrityFailures => "integrity_failures",
            Counter::ReplayErrors => "replay_errors",
            Counter::DecryptionFailures => "decryption_failures",
            Counter::EncryptionFailures => "encryption_failures",
            Counter::SeqNumberOverflow => "seq_number_overflow_error",
            Counter::SaMismatchIn => "sa_mismatch_errors_in",
            Counter::PacketsReceivedOtherError => "packets_received_other_error",
            Counter::PacketsSentOtherError => "packets_sent_other_error",
            Counter::NotCounted => return None,
        })
    }
}

impl EspError {
    /// The NSX tunnel counter this error increments (the RFC 4303 §3.4 auditable events:
    /// replay, integrity failure, §3.3.3 counter overflow, map onto NSX's fields).
    pub fn counter(&self) -> Counter {
        match self {
            EspError::Truncated | EspError::Malformed => Counter::PacketsReceivedOtherError,
            EspError::SpiMismatch { .. } => Counter::SaMismatchIn,
            EspError::Replay { .. } => Counter::ReplayErrors,
            EspError::IntegrityCheckFailed => Counter::IntegrityFailures,
            EspError::BadPadding => Counter::DecryptionFailures,
            EspError::SequenceExhausted => Counter::SeqNumberOverflow,
            EspError::BufferTooSmall { .. } | EspError::InsufficientHeadroom { .. } => {
                Counter::PacketsSentOtherError
            }
            EspError::EncryptionFailed => Counter::EncryptionFailures,
            EspError::UnknownTransform { .. } | EspError::BadKeyLength { .. } => {
                Counter::NotCounted
            }
        }
    }
}
