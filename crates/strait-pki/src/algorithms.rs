//! Signature algorithm policy, public key policy and signature verification.

use crate::util::bit_length;
use aws_lc_rs::signature;
use x509_parser::asn1_rs::BitString;
use x509_parser::error::X509Error;
use x509_parser::public_key::PublicKey;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest RSA modulus accepted in a certificate, in bits.
pub const MAX_RSA_BITS: u32 = 16384;
/// Largest RSA modulus whose signatures (and private keys) aws-lc-rs handles.
pub const MAX_RSA_VERIFY_BITS: u32 = 8192;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";
const OID_MGF1: &str = "1.2.840.113549.1.1.8";

/// Kind of key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum KeyAlgorithm {
    /// RSA (PKCS#1).
    #[serde(rename = "RSA")]
    Rsa,
    /// ECDSA on a NIST curve (P-256, P-384, P-521).
    #[serde(rename = "EC")]
    Ec,
    /// Ed25519.
    #[serde(rename = "ED25519")]
    Ed25519,
}

impl KeyAlgorithm {
    /// `"RSA"`, `"EC"` or `"ED25519"` (the names used in [`crate::CertificateDetails`]).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "RSA",
            Self::Ec => "EC",
            Self::Ed25519 => "ED25519",
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The NIST curves accepted for EC keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub(crate) fn from_oid(dotted: &str) -> Option<Self> {
        match dotted {
            "1.2.840.10045.3.1.7" => Some(Self::P256),
            "1.3.132.0.34" => Some(Self::P384),
            "1.3.132.0.35" => Some(Self::P521),
            _ => None,
        }
    }

    pub(crate) const fn bits(self) -> u32 {
        match self {
            Self::P256 => 256,
            Self::P384 => 384,
            Self::P521 => 521,
        }
    }

    /// Length in bytes of one field element (coordinate).
    pub(crate) const fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }
}

/// What is known about an accepted public key: its algorithm and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    pub(crate) algorithm: KeyAlgorithm,
    pub(crate) bits: u32,
    pub(crate) curve: Option<Curve>,
}

impl KeyInfo {
    /// RSA, EC or Ed25519.
    #[must_use]
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The modulus size of an RSA key.
    #[must_use]
    pub fn rsa_bits(&self) -> Option<u32> {
        (self.algorithm == KeyAlgorithm::Rsa).then_some(self.bits)
    }

    /// 256, 384 or 521 for an ECDSA key on P-256, P-384 or P-521.
    #[must_use]
    pub fn curve_bits(&self) -> Option<u32> {
        self.curve.map(Curve::bits)
    }
}

impl std::fmt::Display for KeyInfo {
    /// "RSA-2048", "ECDSA P-384", "Ed25519".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.algorithm, self.curve) {
            (KeyAlgorithm::Rsa, _) => write!(f, "RSA-{}", self.bits),
            (KeyAlgorithm::Ec, Some(c)) => write!(f, "ECDSA {}", c.name()),
            (KeyAlgorithm::Ec, None) => f.write_str("ECDSA"),
            (KeyAlgorithm::Ed25519, _) => f.write_str("Ed25519"),
        }
    }
}

/// Checks a SubjectPublicKeyInfo against the key policy. The error is a
/// phrase like "a 1024-bit RSA key (at least 2048 bits are required)".
pub(crate) fn analyze_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyInfo, String> {
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        OID_RSA => {
            let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
                return Err("a malformed RSA public key".to_owned());
            };
            let bits = bit_length(rsa.modulus);
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "a {bits}-bit RSA key (at least {MIN_RSA_BITS} bits are required)"
                ));
            }
            if bits > MAX_RSA_BITS {
                return Err(format!(
                    "a {bits}-bit RSA key (at most {MAX_RSA_BITS} bits are accepted)"
                ));
            }
            if rsa.try_exponent().is_err() {
                return Err("an RSA key with an invalid public exponent".to_owned());
            }
            Ok(KeyInfo {
                algorithm: KeyAlgorithm::Rsa,
                bits,
                curve: None,
            })
        }
        OID_EC => {
            let curve_oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let Some(curve_oid) = curve_oid else {
                return Err("an EC key without a named curve".to_owned());
            };
            let Some(curve) = Curve::from_oid(&curve_oid) else {
                return Err(format!("an EC key on the unsupported curve {curve_oid}"));
            };
            if !ec_point_is_well_formed(curve, &spki.subject_public_key.data) {
                return Err(format!("a malformed {} public key", curve.name()));
            }
            Ok(KeyInfo {
                algorithm: KeyAlgorithm::Ec,
                bits: curve.bits(),
                curve: Some(curve),
            })
        }
        OID_ED25519 => {
            if spki.subject_public_key.data.len() != 32 {
                return Err("a malformed Ed25519 public key".to_owned());
            }
            Ok(KeyInfo {
                algorithm: KeyAlgorithm::Ed25519,
                bits: 256,
                curve: None,
            })
        }
        OID_RSA_PSS => Err("an RSASSA-PSS-only RSA key (id-RSASSA-PSS)".to_owned()),
        OID_ED448 => Err("an Ed448 key".to_owned()),
        "1.2.840.10040.4.1" => Err("a DSA key".to_owned()),
        other => Err(format!("a key of the unsupported type {other}")),
    }
}

fn ec_point_is_well_formed(curve: Curve, point: &[u8]) -> bool {
    let n = curve.coordinate_len();
    match point.first() {
        Some(4) => point.len() == 1 + 2 * n,
        Some(2 | 3) => point.len() == 1 + n,
        _ => false,
    }
}

/// Names a hash OID, `None` when it is not SHA-2 256/384/512.
fn sha2_name(dotted: &str) -> Option<&'static str> {
    match dotted {
        "2.16.840.1.101.3.4.2.1" => Some("SHA256"),
        "2.16.840.1.101.3.4.2.2" => Some("SHA384"),
        "2.16.840.1.101.3.4.2.3" => Some("SHA512"),
        _ => None,
    }
}

fn any_hash_name(dotted: &str) -> String {
    match dotted {
        "1.3.14.3.2.26" => "SHA1".to_owned(),
        "2.16.840.1.101.3.4.2.4" => "SHA224".to_owned(),
        "1.2.840.113549.2.5" => "MD5".to_owned(),
        other => sha2_name(other).map_or_else(|| other.to_owned(), str::to_owned),
    }
}

/// Classifies a signature algorithm: `Ok(name)` when accepted
/// (SHA-2 with RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA, or Ed25519), `Err(name)`
/// naming the rejected algorithm otherwise.
pub(crate) fn signature_algorithm_name(alg: &AlgorithmIdentifier<'_>) -> Result<String, String> {
    let oid = alg.algorithm.to_id_string();
    let accepted = match oid.as_str() {
        "1.2.840.113549.1.1.11" => "SHA256withRSA",
        "1.2.840.113549.1.1.12" => "SHA384withRSA",
        "1.2.840.113549.1.1.13" => "SHA512withRSA",
        "1.2.840.10045.4.3.2" => "SHA256withECDSA",
        "1.2.840.10045.4.3.3" => "SHA384withECDSA",
        "1.2.840.10045.4.3.4" => "SHA512withECDSA",
        OID_ED25519 => "ED25519",
        OID_RSA_PSS => return pss_name(alg),
        "1.2.840.113549.1.1.14" => return Err("SHA224withRSA".to_owned()),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => return Err("SHA1withRSA".to_owned()),
        "1.2.840.113549.1.1.4" => return Err("MD5withRSA".to_owned()),
        "1.2.840.113549.1.1.3" => return Err("MD4withRSA".to_owned()),
        "1.2.840.113549.1.1.2" => return Err("MD2withRSA".to_owned()),
        "1.2.840.10045.4.1" => return Err("SHA1withECDSA".to_owned()),
        "1.2.840.10045.4.3.1" => return Err("SHA224withECDSA".to_owned()),
        "1.2.840.10040.4.3" => return Err("SHA1withDSA".to_owned()),
        "2.16.840.1.101.3.4.3.1" => return Err("SHA224withDSA".to_owned()),
        "2.16.840.1.101.3.4.3.2" => return Err("SHA256withDSA".to_owned()),
        OID_ED448 => return Err("ED448".to_owned()),
        other => return Err(format!("the unsupported algorithm {other}")),
    };
    Ok(accepted.to_owned())
}

fn pss_name(alg: &AlgorithmIdentifier<'_>) -> Result<String, String> {
    let Some(params) = alg
        .parameters
        .as_ref()
        .and_then(|p| RsaSsaPssParams::try_from(p).ok())
    else {
        // Absent parameters mean SHA-1 (RFC 4055).
        return Err("RSASSA-PSS(SHA1)".to_owned());
    };
    let hash = params.hash_algorithm_oid().to_id_string();
    let Some(name) = sha2_name(&hash) else {
        return Err(format!("RSASSA-PSS({})", any_hash_name(&hash)));
    };
    let Ok(mgf) = params.mask_gen_algorithm() else {
        return Err(format!("RSASSA-PSS({name}) with malformed MGF parameters"));
    };
    let mgf_hash = mgf.hash.to_id_string();
    if mgf.mgf.to_id_string() != OID_MGF1 || mgf_hash != hash {
        return Err(format!(
            "RSASSA-PSS({name}, MGF1-{})",
            any_hash_name(&mgf_hash)
        ));
    }
    Ok(format!("RSASSA-PSS({name})"))
}

/// Outcome of a signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verification {
    Valid,
    Invalid,
    Unsupported(String),
}

/// Verifies `signature` over `signed` with the signer's SubjectPublicKeyInfo.
///
/// Uses x509-parser's `verify_signature` (aws-lc-rs backend) and adds the
/// ECDSA curve/hash combinations it lacks (P-521, SHA-512).
pub(crate) fn verify_signed(
    signer: &SubjectPublicKeyInfo<'_>,
    algorithm: &AlgorithmIdentifier<'_>,
    signature: &BitString<'_>,
    signed: &[u8],
) -> Verification {
    let signer_info = match analyze_spki(signer) {
        Ok(info) => info,
        Err(reason) => return Verification::Unsupported(format!("the signer has {reason}")),
    };
    if signer_info.algorithm == KeyAlgorithm::Rsa && signer_info.bits > MAX_RSA_VERIFY_BITS {
        return Verification::Unsupported(format!(
            "signatures by RSA keys longer than {MAX_RSA_VERIFY_BITS} bits cannot be checked"
        ));
    }
    match x509_parser::verify::verify_signature(signer, algorithm, signature, signed) {
        Ok(()) => Verification::Valid,
        Err(X509Error::SignatureUnsupportedAlgorithm) => {
            verify_ecdsa_fallback(signer_info, algorithm, signer, signature, signed)
        }
        Err(_) => Verification::Invalid,
    }
}

fn verify_ecdsa_fallback(
    signer_info: KeyInfo,
    algorithm: &AlgorithmIdentifier<'_>,
    signer: &SubjectPublicKeyInfo<'_>,
    signature: &BitString<'_>,
    signed: &[u8],
) -> Verification {
    let oid = algorithm.algorithm.to_id_string();
    let hash = match oid.as_str() {
        "1.2.840.10045.4.3.2" => 256,
        "1.2.840.10045.4.3.3" => 384,
        "1.2.840.10045.4.3.4" => 512,
        _ => {
            let name = signature_algorithm_name(algorithm).unwrap_or_else(|n| n);
            return Verification::Unsupported(format!(
                "{name} with {} keys is not supported",
                signer_info.algorithm
            ));
        }
    };
    let Some(curve) = signer_info.curve else {
        return Verification::Invalid;
    };
    let alg: &'static signature::EcdsaVerificationAlgorithm = match (curve, hash) {
        (Curve::P256, 256) => &signature::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, 384) => &signature::ECDSA_P256_SHA384_ASN1,
        (Curve::P256, _) => &signature::ECDSA_P256_SHA512_ASN1,
        (Curve::P384, 256) => &signature::ECDSA_P384_SHA256_ASN1,
        (Curve::P384, 384) => &signature::ECDSA_P384_SHA384_ASN1,
        (Curve::P384, _) => &signature::ECDSA_P384_SHA512_ASN1,
        (Curve::P521, 256) => &signature::ECDSA_P521_SHA256_ASN1,
        (Curve::P521, 384) => &signature::ECDSA_P521_SHA384_ASN1,
        (Curve::P521, _) => &signature::ECDSA_P521_SHA512_ASN1,
    };
    let key = signature::UnparsedPublicKey::new(alg, &signer.subject_public_key.data);
    match key.verify(signed, &signature.data) {
        Ok(()) => Verification::Valid,
        Err(_) => Verification::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_algorithm_names() {
        assert_eq!(KeyAlgorithm::Rsa.as_str(), "RSA");
        assert_eq!(KeyAlgorithm::Ec.to_string(), "EC");
        assert_eq!(KeyAlgorithm::Ed25519.as_str(), "ED25519");
        assert_eq!(
            serde_json::to_string(&KeyAlgorithm::Ed25519)
                .ok()
                .as_deref(),
            Some("\"ED25519\"")
        );
    }

    #[test]
    fn curves() {
        assert_eq!(Curve::from_oid("1.3.132.0.35").map(Curve::bits), Some(521));
        assert_eq!(Curve::from_oid("1.3.36.3.3.2.8.1.1.7"), None);
        assert!(ec_point_is_well_formed(Curve::P256, &[4; 65]));
        assert!(ec_point_is_well_formed(Curve::P256, &[2; 33]));
        assert!(!ec_point_is_well_formed(Curve::P256, &[4; 64]));
        assert!(!ec_point_is_well_formed(Curve::P256, &[]));
    }

    #[test]
    fn hash_names() {
        assert_eq!(any_hash_name("1.3.14.3.2.26"), "SHA1");
        assert_eq!(any_hash_name("2.16.840.1.101.3.4.2.2"), "SHA384");
        assert_eq!(any_hash_name("1.2.3"), "1.2.3");
    }
}
