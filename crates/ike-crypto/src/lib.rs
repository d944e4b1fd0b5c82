//! The IKEv2 crypto provider of strait.
//!
//! Every cryptographic operation the IKEv2 control plane needs, as pure functions: no
//! sockets, no clocks and no operating-system randomness. Whatever must be random (DH
//! private keys) is passed in as bytes by the caller, so every function is deterministic
//! and testable against captures. Errors are [`CryptoError`] values whose `Display` says
//! what went wrong in words an operator can act on. No input makes a function panic (the
//! infallible ones, such as [`Prf::compute`], could panic only if aws-lc itself failed to
//! allocate memory, as aws-lc-rs's own infallible functions do). Secrets are returned in
//! [`zeroize::Zeroizing`] buffers, private keys are wiped when dropped, and nothing is
//! logged: no `Debug` output of this crate shows key material.
//!
//! What is implemented, by RFC section:
//!
//! | Area | Items | Specification |
//! |---|---|---|
//! | PRF and prf+ | [`Prf`] (HMAC-SHA1/-SHA2-256/384/512) | RFC 7296 §2.13, §3.3.2 (transform type 2); RFC 2104; RFC 4868 §2.1 |
//! | Integrity | [`Integrity`] (HMAC-SHA1-96, HMAC-SHA2-256-128/384-192/512-256) | RFC 7296 §3.3.2 (type 3); RFC 2404; RFC 4868 §2.1.1 |
//! | SK payload ciphers | [`Cipher`] (AES-CBC, AES-GCM with 16-octet ICV) | RFC 7296 §3.14; RFC 3602; RFC 5282 |
//! | Diffie-Hellman | [`DhGroup`], [`DhPrivate`] (MODP 2/5/14/15/16, ECP 19/20/21, Curve25519) | RFC 7296 §3.4; RFC 2409 §6.2; RFC 3526; RFC 5903; RFC 8031; RFC 7748 |
//! | IKE SA keys | [`skeyseed`], [`derive_ike_keys`], [`rekey_skeyseed`] | RFC 7296 §2.14, §2.18 |
//! | Child SA keys | [`child_keymat`], [`child_sa_keys`], [`esp_key_lengths`] | RFC 7296 §2.17; RFC 4303; RFC 4106 §8.1; RFC 4543 §5.1 |
//! | Authentication | [`psk_auth`], [`signed_octets`] | RFC 7296 §2.15 |
//! | NAT detection, cookies | [`nat_detection_hash`], [`hmac_sha256`] | RFC 7296 §2.23, §2.6 |
//!
//! The primitives come from aws-lc-rs; MODP exponentiation uses aws-lc's constant-time
//! `BN_mod_exp_mont_consttime` through `aws-lc-sys`, in the crate's only `unsafe` module
//! (`modp`). Not covered here: signatures and certificates (RFC 7427 AUTH), ESP packet
//! processing, and choosing or checking proposals.

#![deny(unsafe_code)]
// `unsafe` lives only in `modp` (aws-lc FFI); every block argues its safety.
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
// Wire and API input reach this crate: no panics by construction (issue 12).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod cipher;
mod dh;
mod error;
mod keys;
mod modp;
mod prf;

pub use cipher::Cipher;
pub use dh::{DhGroup, DhPrivate};
pub use error::CryptoError;
pub use keys::{
    child_keymat, child_sa_keys, derive_ike_keys, esp_key_lengths, nat_detection_hash, psk_auth,
    rekey_skeyseed, signed_octets, skeyseed, ChildSaKeys, IkeKeys, ENCR_AES_CBC, ENCR_AES_GCM_16,
    ENCR_NULL, ENCR_NULL_AUTH_AES_GMAC,
};
pub use prf::{hmac_sha256, Integrity, Prf};

pub use zeroize::Zeroizing;
