//! X.509 certificate, private key and CRL parsing and checks for strait.
//!
//! Used by the management API when an operator imports a certificate
//! (`/infra/certificates/{id}`) or a CRL (`/infra/crls/{id}`), and by IKE
//! identity matching ([`dn_equal`]).
//!
//! The crate is pure: no I/O and no clock (functions that need the time take
//! `now_ms`, epoch milliseconds). Every input is bounded (PEM at most
//! [`MAX_PEM_BYTES`], at most [`MAX_CERTIFICATES`] certificates, RSA keys at
//! most 16384 bits) and every parse function returns an error instead of
//! panicking. Error messages ([`PkiError`]) say what is wrong and what the
//! operator should change.
//!
//! Accepted algorithms: signatures SHA-256/384/512 with RSA (PKCS#1 v1.5 or
//! RSASSA-PSS) or ECDSA, and Ed25519; keys RSA 2048-16384 bits (2048-8192
//! for signature checks and local private keys, the range aws-lc-rs
//! supports), EC P-256/P-384/P-521, Ed25519.

#![forbid(unsafe_code)]
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

mod algorithms;
mod cert;
mod credential;
mod crl;
mod dn;
mod error;
mod key;
mod pem_input;
mod signature;
mod trust;
mod util;

pub use algorithms::{KeyAlgorithm, KeyInfo, MAX_RSA_BITS, MAX_RSA_VERIFY_BITS, MIN_RSA_BITS};
pub use cert::{
    parse_certificate_chain, parse_certificate_der, CertificateChain, CertificateDetails,
    MAX_CERTIFICATES,
};
pub use credential::{CertIdentity, SigningCredential};
pub use crl::{parse_crl, verify_crl_signature, CrlDetails, MAX_LISTED_SERIALS};
pub use dn::{dn_display, dn_equal, normalize_dn, MAX_DN_LEN};
pub use error::PkiError;
pub use key::{
    check_private_key, MAX_KEY_DER_BYTES, MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_MEMORY, MAX_SCRYPT_WORK,
};
pub use pem_input::MAX_PEM_BYTES;
pub use signature::{SignatureScheme, HASH_IDENTITY, HASH_SHA2_256, HASH_SHA2_384, HASH_SHA2_512};
pub use trust::{dn_identity, PeerCertificate, SignatureError, TrustError, TrustStore};
