//! Signature schemes of IKEv2 AUTH payloads: RFC 7427 ("Signature Authentication in
//! IKEv2") names them by an ASN.1 AlgorithmIdentifier, its Appendix A lists the encodings.

use x509_parser::asn1_rs::ToDer;
use x509_parser::prelude::FromDer;
use x509_parser::x509::AlgorithmIdentifier;

/// A signature scheme for IKEv2 AUTH (RFC 7427 §3). SHA-1 schemes are deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// sha256WithRSAEncryption (PKCS#1 v1.5).
    RsaPkcs1Sha256,
    /// sha384WithRSAEncryption.
    RsaPkcs1Sha384,
    /// sha512WithRSAEncryption.
    RsaPkcs1Sha512,
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32.
    RsaPssSha256,
    /// RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48.
    RsaPssSha384,
    /// RSASSA-PSS, SHA-512, MGF1-SHA-512, salt 64.
    RsaPssSha512,
    /// ecdsa-with-SHA256 (DER signature).
    EcdsaSha256,
    /// ecdsa-with-SHA384.
    EcdsaSha384,
    /// ecdsa-with-SHA512.
    EcdsaSha512,
    /// Ed25519 (RFC 8420: hash "Identity").
    Ed25519,
}

// RFC 7427 Appendix A.1 (PKCS#1 v1.5, NULL parameters).
const RSA_SHA256: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
const RSA_SHA384: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00,
];
const RSA_SHA512: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00,
];
// RFC 7427 Appendix A.3 (ECDSA, no parameters).
const ECDSA_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];
const ECDSA_SHA384: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
];
const ECDSA_SHA512: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04,
];
// RFC 8420 §2 (Ed25519).
const ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
// RFC 7427 Appendix A.4.3 style RSASSA-PSS: hashAlgorithm [0], maskGenAlgorithm [1]
// (MGF1 with the same hash), saltLength [2] = hash length, trailerField default.
const PSS_SHA256: &[u8] = &[
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03,
    0x02, 0x01, 0x20,
];
const PSS_SHA384: &[u8] = &[
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0xa2, 0x03,
    0x02, 0x01, 0x30,
];
const PSS_SHA512: &[u8] = &[
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0xa2, 0x03,
    0x02, 0x01, 0x40,
];

const ALL: [SignatureScheme; 10] = [
    SignatureScheme::RsaPkcs1Sha256,
    SignatureScheme::RsaPkcs1Sha384,
    SignatureScheme::RsaPkcs1Sha512,
    SignatureScheme::RsaPssSha256,
    SignatureScheme::RsaPssSha384,
    SignatureScheme::RsaPssSha512,
    SignatureScheme::EcdsaSha256,
    SignatureScheme::EcdsaSha384,
    SignatureScheme::EcdsaSha512,
    SignatureScheme::Ed25519,
];

/// RFC 7427 §4 hash algorithm numbers (IANA "IKEv2 Hash Algorithms").
pub const HASH_SHA2_256: u16 = 2;
/// SHA2-384.
pub const HASH_SHA2_384: u16 = 3;
/// SHA2-512.
pub const HASH_SHA2_512: u16 = 4;
/// Identity (RFC 8420, for Ed25519).
pub const HASH_IDENTITY: u16 = 5;

impl SignatureScheme {
    /// The DER AlgorithmIdentifier that precedes the signature in the AUTH payload.
    #[must_use]
    pub fn algorithm_identifier(self) -> &'static [u8] {
        match self {
            Self::RsaPkcs1Sha256 => RSA_SHA256,
            Self::RsaPkcs1Sha384 => RSA_SHA384,
            Self::RsaPkcs1Sha512 => RSA_SHA512,
            Self::RsaPssSha256 => PSS_SHA256,
            Self::RsaPssSha384 => PSS_SHA384,
            Self::RsaPssSha512 => PSS_SHA512,
            Self::EcdsaSha256 => ECDSA_SHA256,
            Self::EcdsaSha384 => ECDSA_SHA384,
            Self::EcdsaSha512 => ECDSA_SHA512,
            Self::Ed25519 => ED25519,
        }
    }

    /// The scheme a received AlgorithmIdentifier names; `None` for anything else (SHA-1,
    /// unknown algorithms, PSS with another salt length or mask hash).
    #[must_use]
    pub fn from_algorithm_identifier(der: &[u8]) -> Option<SignatureScheme> {
        if let Some(s) = ALL.iter().find(|s| s.algorithm_identifier() == der) {
            return Some(*s);
        }
        // Other encodings of the same: RSA PKCS#1 without the NULL, PSS with its hash
        // parameters absent instead of NULL (both seen in the field).
        let (_, alg) = AlgorithmIdentifier::from_der(der).ok()?;
        match alg.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.11" => Some(Self::RsaPkcs1Sha256),
            "1.2.840.113549.1.1.12" => Some(Self::RsaPkcs1Sha384),
            "1.2.840.113549.1.1.13" => Some(Self::RsaPkcs1Sha512),
            "1.2.840.113549.1.1.10" => pss_scheme(&alg),
            _ => None,
        }
    }

    /// Its RFC 7427 §4 hash algorithm number (for SIGNATURE_HASH_ALGORITHMS).
    #[must_use]
    pub fn hash_id(self) -> u16 {
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPssSha256 | Self::EcdsaSha256 => HASH_SHA2_256,
            Self::RsaPkcs1Sha384 | Self::RsaPssSha384 | Self::EcdsaSha384 => HASH_SHA2_384,
            Self::RsaPkcs1Sha512 | Self::RsaPssSha512 | Self::EcdsaSha512 => HASH_SHA2_512,
            Self::Ed25519 => HASH_IDENTITY,
        }
    }

    /// For alarms and logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::RsaPkcs1Sha256 => "RSA PKCS#1 v1.5 with SHA-256",
            Self::RsaPkcs1Sha384 => "RSA PKCS#1 v1.5 with SHA-384",
            Self::RsaPkcs1Sha512 => "RSA PKCS#1 v1.5 with SHA-512",
            Self::RsaPssSha256 => "RSASSA-PSS with SHA-256",
            Self::RsaPssSha384 => "RSASSA-PSS with SHA-384",
            Self::RsaPssSha512 => "RSASSA-PSS with SHA-512",
            Self::EcdsaSha256 => "ECDSA with SHA-256",
            Self::EcdsaSha384 => "ECDSA with SHA-384",
            Self::EcdsaSha512 => "ECDSA with SHA-512",
            Self::Ed25519 => "Ed25519",
        }
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(
            self,
            Self::RsaPkcs1Sha256
                | Self::RsaPkcs1Sha384
                | Self::RsaPkcs1Sha512
                | Self::RsaPssSha256
                | Self::RsaPssSha384
                | Self::RsaPssSha512
        )
    }

    pub(crate) fn is_ecdsa(self) -> bool {
        matches!(
            self,
            Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512
        )
    }
}

/// RSASSA-PSS parameters strait verifies: SHA-2 hash, MGF1 with the same hash, salt length
/// equal to the hash length (what aws-lc-rs checks, and what strongSwan sends).
fn pss_scheme(alg: &AlgorithmIdentifier<'_>) -> Option<SignatureScheme> {
    let params = alg.parameters.as_ref()?;
    let der = params.to_der_vec().ok()?;
    let (_, pss) = x509_parser::signature_algorithm::RsaSsaPssParams::from_der(&der).ok()?;
    let hash = pss.hash_algorithm_oid().to_id_string();
    let mgf_hash = pss
        .mask_gen_algorithm()
        .ok()
        .map(|m| m.hash.to_id_string())?;
    if mgf_hash != hash {
        return None;
    }
    let (scheme, salt) = match hash.as_str() {
        "2.16.840.1.101.3.4.2.1" => (SignatureScheme::RsaPssSha256, 32),
        "2.16.840.1.101.3.4.2.2" => (SignatureScheme::RsaPssSha384, 48),
        "2.16.840.1.101.3.4.2.3" => (SignatureScheme::RsaPssSha512, 64),
        _ => return None,
    };
    (pss.salt_length() == salt).then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_round_trips_its_algorithm_identifier() {
        for s in ALL {
            assert_eq!(
                SignatureScheme::from_algorithm_identifier(s.algorithm_identifier()),
                Some(s)
            );
            assert!(
                AlgorithmIdentifier::from_der(s.algorithm_identifier()).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn sha1_and_garbage_are_refused() {
        // sha1WithRSAEncryption
        let sha1 = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05,
            0x00,
        ];
        assert_eq!(SignatureScheme::from_algorithm_identifier(&sha1), None);
        assert_eq!(
            SignatureScheme::from_algorithm_identifier(&[0x30, 0x80]),
            None
        );
        assert_eq!(SignatureScheme::from_algorithm_identifier(&[]), None);
        // RSA PKCS#1 SHA-256 without the NULL parameters is the same scheme.
        let no_null = [
            0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
        ];
        assert_eq!(
            SignatureScheme::from_algorithm_identifier(&no_null),
            Some(SignatureScheme::RsaPkcs1Sha256)
        );
    }
}
