//! Private key parsing and the check that a key belongs to the leaf
//! certificate.

use crate::algorithms::{analyze_spki, Curve, KeyAlgorithm, KeyInfo};
use crate::cert::{parse_one, CertificateChain};
use crate::error::PkiError;
use crate::pem_input::parse_blocks;
use crate::util::strip_leading_zeros;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use pkcs8::pkcs5;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::Zeroizing;

/// Largest DER private key accepted (a 16384-bit RSA key is about 9.5 KiB).
pub const MAX_KEY_DER_BYTES: usize = 16 * 1024;
/// Most PBKDF2 iterations accepted for an encrypted key.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// Most memory (128 * r * N bytes) accepted for scrypt-encrypted keys.
pub const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;
/// Most scrypt work (N * r * p) accepted for scrypt-encrypted keys.
pub const MAX_SCRYPT_WORK: u64 = 1 << 22;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";

/// The PEM encodings of a private key that are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFormat {
    Pkcs8,
    Pkcs1,
    Sec1,
    EncryptedPkcs8,
}

impl KeyFormat {
    fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "PRIVATE KEY" => Some(Self::Pkcs8),
            "RSA PRIVATE KEY" => Some(Self::Pkcs1),
            "EC PRIVATE KEY" => Some(Self::Sec1),
            "ENCRYPTED PRIVATE KEY" => Some(Self::EncryptedPkcs8),
            _ => None,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Pkcs8 => "PKCS#8",
            Self::Pkcs1 => "PKCS#1 RSA",
            Self::Sec1 => "SEC1 EC",
            Self::EncryptedPkcs8 => "encrypted PKCS#8",
        }
    }
}

/// A private key loaded by aws-lc-rs (which frees and zeroizes it on drop).
pub(crate) enum LoadedKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, Curve),
    Ed25519(Ed25519KeyPair),
}

impl LoadedKey {
    const fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Rsa(_) => KeyAlgorithm::Rsa,
            Self::Ec(..) => KeyAlgorithm::Ec,
            Self::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }
}

/// Checks that `key_pem` holds exactly one private key and that it belongs
/// to the leaf (first) certificate of `chain`.
///
/// Accepted PEM blocks: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1),
/// `EC PRIVATE KEY` (SEC1, an accompanying `EC PARAMETERS` block is ignored)
/// and `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2, decrypted with `passphrase`).
/// The passphrase is ignored for unencrypted keys. Key types: RSA 2048-8192
/// bits (the sizes aws-lc-rs can sign with), EC P-256/P-384/P-521, Ed25519.
///
/// # Errors
/// [`PkiError::KeyMismatch`] when the key is valid but not the leaf's, and
/// other [`PkiError`] variants for missing, repeated, malformed, encrypted
/// without passphrase, wrongly decrypted or unsupported keys.
pub fn check_private_key(
    chain: &CertificateChain,
    key_pem: &str,
    passphrase: Option<&str>,
) -> Result<KeyAlgorithm, PkiError> {
    load_private_key(chain, key_pem, passphrase).map(|(k, _)| k.algorithm())
}

/// Loads the private key of `key_pem` and checks it belongs to the leaf of `chain` (see
/// [`check_private_key`]); returns it with what is known about the leaf's public key.
pub(crate) fn load_private_key(
    chain: &CertificateChain,
    key_pem: &str,
    passphrase: Option<&str>,
) -> Result<(LoadedKey, KeyInfo), PkiError> {
    let leaf_der = chain.ders.first().ok_or(PkiError::NoCertificate)?;
    let (leaf, leaf_details) = parse_one(1, leaf_der)?;
    let leaf_spki = leaf.public_key();
    let leaf_info = analyze_spki(leaf_spki).map_err(|reason| PkiError::UnsupportedPublicKey {
        what: "the leaf certificate".to_owned(),
        reason,
    })?;

    let blocks = parse_blocks(key_pem, "private key PEM")?;
    let mut keys = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        let tag = block.tag().to_owned();
        if tag == "EC PARAMETERS" {
            continue;
        }
        if tag.contains("PRIVATE KEY") {
            let legacy_encrypted = block
                .headers()
                .get("Proc-Type")
                .is_some_and(|v| v.contains("ENCRYPTED"));
            keys.push((tag, legacy_encrypted, Zeroizing::new(block.into_contents())));
        } else {
            return Err(PkiError::UnexpectedKeyBlock { index: i + 1, tag });
        }
    }
    let (tag, legacy_encrypted, der) = match keys.len() {
        0 => return Err(PkiError::NoPrivateKey),
        1 => keys.pop().ok_or(PkiError::NoPrivateKey)?,
        count => return Err(PkiError::MultiplePrivateKeys { count }),
    };
    if legacy_encrypted {
        return Err(PkiError::UnsupportedKeyEncryption {
            detail: "legacy OpenSSL PEM encryption (Proc-Type: 4,ENCRYPTED)".to_owned(),
        });
    }
    let Some(format) = KeyFormat::from_tag(&tag) else {
        return Err(PkiError::InvalidPrivateKey {
            format: "PEM",
            reason: format!(
                "\"{tag}\" keys are not supported; convert it to PKCS#8, e.g. with \
                 `openssl pkcs8 -topk8 -nocrypt -in key.pem`"
            ),
        });
    };
    if der.len() > MAX_KEY_DER_BYTES {
        return Err(PkiError::InvalidPrivateKey {
            format: format.name(),
            reason: format!(
                "it is {} bytes long, larger than any supported key ({MAX_KEY_DER_BYTES} bytes)",
                der.len()
            ),
        });
    }

    let loaded = match format {
        KeyFormat::Pkcs8 => load_pkcs8(&der, format)?,
        KeyFormat::Pkcs1 => RsaKeyPair::from_der(&der)
            .map(LoadedKey::Rsa)
            .map_err(|e| rejected(format, e))?,
        KeyFormat::Sec1 => load_sec1(&der, leaf_info)?,
        KeyFormat::EncryptedPkcs8 => {
            let plain = decrypt_pkcs8(&der, passphrase)?;
            load_pkcs8(plain.as_bytes(), format)?
        }
    };

    if public_keys_match(&loaded, leaf_info, leaf_spki) {
        Ok((loaded, leaf_info))
    } else {
        Err(PkiError::KeyMismatch {
            subject: leaf_details.subject_dn,
        })
    }
}

fn rejected(format: KeyFormat, e: KeyRejected) -> PkiError {
    let reason = match e.description_() {
        "TooSmall" => "the RSA key is shorter than 2048 bits".to_owned(),
        "TooLarge" => "the RSA key is longer than 8192 bits, the largest size strait can \
                       sign with"
            .to_owned(),
        "InconsistentComponents" => "its public and private parts do not agree".to_owned(),
        "WrongAlgorithm" => "the key type does not match its encoding".to_owned(),
        _ => "it could not be decoded".to_owned(),
    };
    PkiError::InvalidPrivateKey {
        format: format.name(),
        reason,
    }
}

pub(crate) fn ecdsa_signing_alg(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
    }
}

fn load_pkcs8(der: &[u8], format: KeyFormat) -> Result<LoadedKey, PkiError> {
    let invalid = |reason: String| PkiError::InvalidPrivateKey {
        format: format.name(),
        reason,
    };
    let info = pkcs8::PrivateKeyInfo::try_from(der)
        .map_err(|e| invalid(format!("it is not a PKCS#8 PrivateKeyInfo: {e}")))?;
    let oid = info.algorithm.oid.to_string();
    match oid.as_str() {
        OID_RSA => RsaKeyPair::from_pkcs8(der)
            .map(LoadedKey::Rsa)
            .map_err(|e| rejected(format, e)),
        OID_EC => {
            let curve_oid = info
                .algorithm
                .parameters_oid()
                .map_err(|_| invalid("the EC key does not name its curve".to_owned()))?
                .to_string();
            let curve = Curve::from_oid(&curve_oid).ok_or_else(|| {
                invalid(format!(
                    "the EC key is on the unsupported curve {curve_oid} (use P-256, P-384 or \
                     P-521)"
                ))
            })?;
            EcdsaKeyPair::from_pkcs8(ecdsa_signing_alg(curve), der)
                .map(|k| LoadedKey::Ec(k, curve))
                .map_err(|e| rejected(format, e))
        }
        OID_ED25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(LoadedKey::Ed25519)
            .map_err(|e| rejected(format, e)),
        other => Err(invalid(format!(
            "the key algorithm {other} is not supported (use RSA, EC or Ed25519)"
        ))),
    }
}

fn load_sec1(der: &[u8], leaf: KeyInfo) -> Result<LoadedKey, PkiError> {
    // A SEC1 key may omit its curve: try the leaf's curve first.
    let mut curves = vec![Curve::P256, Curve::P384, Curve::P521];
    if let Some(leaf_curve) = leaf.curve {
        curves.retain(|c| *c != leaf_curve);
        curves.insert(0, leaf_curve);
    }
    curves
        .into_iter()
        .find_map(|curve| {
            EcdsaKeyPair::from_private_key_der(ecdsa_signing_alg(curve), der)
                .ok()
                .map(|k| LoadedKey::Ec(k, curve))
        })
        .ok_or(PkiError::InvalidPrivateKey {
            format: KeyFormat::Sec1.name(),
            reason: "it is not a valid P-256, P-384 or P-521 ECPrivateKey".to_owned(),
        })
}

fn decrypt_pkcs8(der: &[u8], passphrase: Option<&str>) -> Result<pkcs8::SecretDocument, PkiError> {
    let encrypted =
        pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|e| PkiError::InvalidPrivateKey {
            format: KeyFormat::EncryptedPkcs8.name(),
            reason: format!("it is not a PKCS#8 EncryptedPrivateKeyInfo: {e}"),
        })?;
    check_encryption_cost(&encrypted.encryption_algorithm)?;
    let passphrase = passphrase.unwrap_or("");
    match encrypted.decrypt(passphrase) {
        Ok(doc) => Ok(doc),
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::UnsupportedAlgorithm { oid })) => {
            Err(PkiError::UnsupportedKeyEncryption {
                detail: format!("algorithm {oid}"),
            })
        }
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::AlgorithmParametersInvalid {
            oid,
        })) => Err(PkiError::UnsupportedKeyEncryption {
            detail: format!("invalid parameters for algorithm {oid}"),
        }),
        Err(_) if passphrase.is_empty() => Err(PkiError::PassphraseRequired),
        // Padding failure, or decrypted bytes that are not a key: wrong passphrase.
        Err(_) => Err(PkiError::WrongPassphrase),
    }
}

/// Refuses key-derivation parameters that would take too long or too much
/// memory (they come from untrusted input).
fn check_encryption_cost(scheme: &pkcs5::EncryptionScheme<'_>) -> Result<(), PkiError> {
    let unsupported = |detail: String| PkiError::UnsupportedKeyEncryption { detail };
    let params = match scheme {
        pkcs5::EncryptionScheme::Pbes2(params) => params,
        pkcs5::EncryptionScheme::Pbes1(_) => {
            return Err(unsupported(
                "PBES1 (PKCS#5 v1.5, e.g. openssl pkcs8 -v1)".to_owned(),
            ))
        }
        _ => return Err(unsupported("an unknown encryption scheme".to_owned())),
    };
    match &params.kdf {
        pkcs5::pbes2::Kdf::Pbkdf2(p) => {
            if p.iteration_count > MAX_PBKDF2_ITERATIONS {
                return Err(unsupported(format!(
                    "PBKDF2 with {} iterations, more than the {MAX_PBKDF2_ITERATIONS} accepted",
                    p.iteration_count
                )));
            }
        }
        pkcs5::pbes2::Kdf::Scrypt(s) => {
            let n = u128::from(s.cost_parameter);
            let r = u128::from(s.block_size);
            let p = u128::from(s.parallelization);
            let memory = 128 * r * n;
            let work = n * r * p;
            if memory > u128::from(MAX_SCRYPT_MEMORY) || work > u128::from(MAX_SCRYPT_WORK) {
                return Err(unsupported(format!(
                    "scrypt with N={n}, r={r}, p={p}, which needs too much memory or time"
                )));
            }
        }
        _ => return Err(unsupported("an unknown key derivation function".to_owned())),
    }
    Ok(())
}

fn public_keys_match(key: &LoadedKey, leaf: KeyInfo, spki: &SubjectPublicKeyInfo<'_>) -> bool {
    if key.algorithm() != leaf.algorithm {
        return false;
    }
    let cert_key = &spki.subject_public_key.data;
    match key {
        LoadedKey::Rsa(k) => {
            let Ok(PublicKey::RSA(cert_rsa)) = spki.parsed() else {
                return false;
            };
            let public = k.public_key();
            strip_leading_zeros(public.modulus().big_endian_without_leading_zero())
                == strip_leading_zeros(cert_rsa.modulus)
                && strip_leading_zeros(public.exponent().big_endian_without_leading_zero())
                    == strip_leading_zeros(cert_rsa.exponent)
        }
        LoadedKey::Ec(k, curve) => {
            Some(*curve) == leaf.curve && ec_points_match(k.public_key().as_ref(), cert_key)
        }
        LoadedKey::Ed25519(k) => k.public_key().as_ref() == cert_key.as_ref(),
    }
}

/// Compares an uncompressed point from aws-lc-rs with the certificate's
/// point, which may be uncompressed or compressed.
fn ec_points_match(uncompressed: &[u8], cert_point: &[u8]) -> bool {
    match cert_point.first() {
        Some(4) => uncompressed == cert_point,
        Some(prefix @ (2 | 3)) => {
            let (Some(4), Some(x), Some(last)) = (
                uncompressed.first(),
                uncompressed.get(1..cert_point.len()),
                uncompressed.last(),
            ) else {
                return false;
            };
            let y_is_odd = last & 1 == 1;
            let prefix_says_odd = *prefix == 3;
            uncompressed.len() == 2 * cert_point.len() - 1
                && Some(x) == cert_point.get(1..)
                && y_is_odd == prefix_says_odd
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_points() {
        // Fake 2-byte coordinates: 04 || X(2) || Y(2).
        let uncompressed = [4u8, 0xaa, 0xbb, 0x01, 0x03];
        assert!(ec_points_match(&uncompressed, &uncompressed));
        assert!(ec_points_match(&uncompressed, &[3, 0xaa, 0xbb]));
        assert!(!ec_points_match(&uncompressed, &[2, 0xaa, 0xbb]));
        assert!(!ec_points_match(&uncompressed, &[3, 0xaa, 0xbc]));
        assert!(!ec_points_match(&uncompressed, &[]));
        assert!(!ec_points_match(&[], &[3, 0xaa, 0xbb]));
    }

    #[test]
    fn formats() {
        assert_eq!(KeyFormat::from_tag("PRIVATE KEY"), Some(KeyFormat::Pkcs8));
        assert_eq!(KeyFormat::from_tag("DSA PRIVATE KEY"), None);
        assert_eq!(KeyFormat::Sec1.name(), "SEC1 EC");
    }

    #[test]
    fn empty_chain() {
        let chain = CertificateChain {
            certificates: vec![],
            ders: vec![],
        };
        assert_eq!(
            check_private_key(&chain, "", None),
            Err(PkiError::NoCertificate)
        );
        let chain = CertificateChain {
            certificates: vec![],
            ders: vec![vec![1, 2, 3]],
        };
        assert!(matches!(
            check_private_key(&chain, "", None),
            Err(PkiError::InvalidCertificate { .. })
        ));
    }

    #[test]
    fn scrypt_and_pbkdf2_bounds() {
        let salt = [0u8; 16];
        let iv = [0u8; 16];
        let ok = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv)
            .map(pkcs5::EncryptionScheme::Pbes2);
        assert!(check_encryption_cost(&ok.unwrap()).is_ok());
        let slow = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(
            MAX_PBKDF2_ITERATIONS + 1,
            &salt,
            &iv,
        )
        .map(pkcs5::EncryptionScheme::Pbes2);
        assert!(matches!(
            check_encryption_cost(&slow.unwrap()),
            Err(PkiError::UnsupportedKeyEncryption { .. })
        ));
        let heavy = pkcs5::pbes2::Parameters::scrypt_aes256cbc(
            pkcs5::scrypt::Params::new(20, 8, 1, 32).unwrap(),
            &salt,
            &iv,
        )
        .map(pkcs5::EncryptionScheme::Pbes2);
        assert!(matches!(
            check_encryption_cost(&heavy.unwrap()),
            Err(PkiError::UnsupportedKeyEncryption { .. })
        ));
        let light = pkcs5::pbes2::Parameters::scrypt_aes256cbc(
            pkcs5::scrypt::Params::new(14, 8, 1, 32).unwrap(),
            &salt,
            &iv,
        )
        .map(pkcs5::EncryptionScheme::Pbes2);
        assert!(check_encryption_cost(&light.unwrap()).is_ok());
    }
}
