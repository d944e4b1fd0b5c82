//! Errors of the crypto provider. Each message says what went wrong and names the
//! algorithm, because it may end up in an operator-facing alarm. No message contains key
//! material.

use crate::{Cipher, DhGroup, Prf};

/// Why a crypto operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An input (key, IV, nonce, ...) does not have the length the algorithm needs.
    #[error("{what} for {algorithm} must be {expected} bytes long, got {actual}")]
    BadLength {
        /// Which input, e.g. "encryption key".
        what: &'static str,
        /// The algorithm, e.g. "ENCR_AES_CBC (128-bit key)".
        algorithm: String,
        /// The length the algorithm needs.
        expected: usize,
        /// The length given.
        actual: usize,
    },

    /// CBC input that is not a whole number of cipher blocks (RFC 3602 §2.4: the IKE
    /// layer pads before encrypting).
    #[error(
        "{what} for {cipher} is {actual} bytes, not a multiple of the {block}-byte block size"
    )]
    NotBlockAligned {
        /// "plaintext" or "ciphertext".
        what: &'static str,
        /// The cipher.
        cipher: Cipher,
        /// The length given.
        actual: usize,
        /// The block size.
        block: usize,
    },

    /// AEAD ciphertext shorter than its ICV.
    #[error("ciphertext for {cipher} is {actual} bytes, shorter than its {icv}-byte ICV")]
    CiphertextTooShort {
        /// The cipher.
        cipher: Cipher,
        /// The length given.
        actual: usize,
        /// The ICV length.
        icv: usize,
    },

    /// A transform ID or key size this crate does not implement.
    #[error("unsupported {transform}: {detail}")]
    Unsupported {
        /// The transform type, e.g. "ESP encryption algorithm".
        transform: &'static str,
        /// What exactly, e.g. "transform ID 3".
        detail: String,
    },

    /// An integrity algorithm together with a combined-mode (AEAD) cipher (RFC 5282 §8).
    #[error("{cipher} is a combined-mode cipher and must not be combined with an integrity algorithm (RFC 5282 §8)")]
    IntegrityWithAead {
        /// The AEAD cipher.
        cipher: String,
    },

    /// A non-AEAD cipher without an integrity algorithm.
    #[error("{cipher} needs an integrity algorithm, but none was negotiated")]
    MissingIntegrity {
        /// The cipher.
        cipher: String,
    },

    /// `DhGroup::generate` was given the wrong number of random bytes.
    #[error("{group} key generation needs exactly {expected} random bytes, got {actual}")]
    RandomLength {
        /// The group.
        group: DhGroup,
        /// [`DhGroup::random_len`].
        expected: usize,
        /// The length given.
        actual: usize,
    },

    /// The random bytes do not form a valid private key (e.g. an ECP scalar of zero or not
    /// below the group order). The caller retries with fresh random bytes.
    #[error(
        "the random bytes do not give a valid {group} private key; retry with fresh random bytes"
    )]
    BadRandom {
        /// The group.
        group: DhGroup,
    },

    /// The peer's KE payload data has the wrong length for the group (RFC 7296 §3.4).
    #[error("peer's DH public value for {group} must be {expected} bytes long, got {actual}")]
    PeerPublicLength {
        /// The group.
        group: DhGroup,
        /// [`DhGroup::public_len`].
        expected: usize,
        /// The length received.
        actual: usize,
    },

    /// A MODP public value outside 1 < y < p-1 (RFC 7296 §5 / NIST SP 800-56A §5.6.2.3.1).
    #[error("peer's DH public value is out of range for {group}")]
    PeerPublicOutOfRange {
        /// The group.
        group: DhGroup,
    },

    /// An ECP public value that is not a point on the curve (RFC 5903 §7; RFC 6989 §2.3).
    #[error("peer's DH public value is not a point on the {group} curve")]
    PeerPublicNotOnCurve {
        /// The group.
        group: DhGroup,
    },

    /// A public value that gives an all-zero (Curve25519, RFC 8031 §2) or trivial shared
    /// secret: a low-order point or element.
    #[error("peer's DH public value for {group} is a low-order value (the shared secret would be trivial)")]
    PeerPublicLowOrder {
        /// The group.
        group: DhGroup,
    },

    /// prf+ asked for more than 255 blocks (RFC 7296 §2.13).
    #[error("prf+ with {prf} can produce at most {max} bytes (255 blocks), {requested} were requested (RFC 7296 §2.13)")]
    PrfPlusTooLong {
        /// The PRF.
        prf: Prf,
        /// The length requested.
        requested: usize,
        /// 255 × the PRF output length.
        max: usize,
    },

    /// AEAD decryption failed: the ICV does not match.
    #[error("{cipher} decryption failed: the ICV does not match (message modified or wrong key)")]
    AuthenticationFailed {
        /// The cipher.
        cipher: Cipher,
    },

    /// The underlying crypto library reported an error it should not (e.g. out of memory).
    #[error("crypto library failure during {operation}")]
    Library {
        /// What was being done.
        operation: &'static str,
    },
}
