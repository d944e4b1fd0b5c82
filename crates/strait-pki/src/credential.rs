//! The gateway's site certificate with its private key, for signing IKEv2 AUTH payloads
//! (RFC 7296 §2.15, RFC 7427, RFC 4754), and the identity NSX derives from it.

use std::fmt;
use std::net::IpAddr;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair};

use crate::algorithms::{Curve, KeyInfo};
use crate::cert::{parse_certificate_chain, parse_one, CertificateDetails};
use crate::dn::dn_equal;
use crate::error::PkiError;
use crate::key::{load_private_key, LoadedKey};
use crate::signature::SignatureScheme;

/// An identity a certificate can present (RFC 4945 §3.1: the IKE ID must be in the
/// certificate, as the subject DN or a subjectAltName).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertIdentity {
    /// subjectAltName iPAddress (ID_IPV4_ADDR / ID_IPV6_ADDR).
    Ip(IpAddr),
    /// subjectAltName dNSName (ID_FQDN).
    Dns(String),
    /// subjectAltName rfc822Name (ID_RFC822_ADDR).
    Email(String),
    /// The subject DN (ID_DER_ASN1_DN): its DER and display form.
    Dn {
        /// DER of the X.500 Name.
        der: Vec<u8>,
        /// RFC 4514-style text, e.g. `C=US, O=Example, CN=gw`.
        display: String,
    },
}

impl fmt::Display for CertIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertIdentity::Ip(ip) => write!(f, "{ip}"),
            CertIdentity::Dns(s) | CertIdentity::Email(s) => f.write_str(s),
            CertIdentity::Dn { display, .. } => f.write_str(display),
        }
    }
}

/// Whether a certificate (its parsed details and subject DER) presents `id`.
pub(crate) fn presents(
    details: &CertificateDetails,
    subject_der: &[u8],
    id: &CertIdentity,
) -> bool {
    match id {
        CertIdentity::Ip(ip) => details
            .san_ip
            .iter()
            .any(|s| s.parse::<IpAddr>().is_ok_and(|a| a == *ip)),
        CertIdentity::Dns(name) => details.san_dns.iter().any(|d| d.eq_ignore_ascii_case(name)),
        CertIdentity::Email(addr) => details
            .san_email
            .iter()
            .any(|e| e.eq_ignore_ascii_case(addr)),
        CertIdentity::Dn { der, display } => {
            der.as_slice() == subject_der || dn_equal(display, &details.subject_dn)
        }
    }
}

/// The identity NSX uses for a site certificate: subjectAltName IP, else DNS name, else
/// e-mail, else the subject DN.
pub(crate) fn default_identity(details: &CertificateDetails, subject_der: &[u8]) -> CertIdentity {
    if let Some(ip) = details.san_ip.iter().find_map(|s| s.parse::<IpAddr>().ok()) {
        return CertIdentity::Ip(ip);
    }
    if let Some(d) = details.san_dns.first() {
        return CertIdentity::Dns(d.clone());
    }
    if let Some(e) = details.san_email.first() {
        return CertIdentity::Email(e.clone());
    }
    CertIdentity::Dn {
        der: subject_der.to_vec(),
        display: details.subject_dn.clone(),
    }
}

/// A site certificate (with its chain) and its private key. The key stays inside
/// aws-lc-rs, which zeroizes it when this is dropped; `Debug` shows only the subject.
pub struct SigningCredential {
    chain_der: Vec<Vec<u8>>,
    leaf: CertificateDetails,
    subject_der: Vec<u8>,
    key: LoadedKey,
    /// The same EC key, signing fixed-length r||s for RFC 4754 AUTH methods 9-11.
    ecdsa_fixed: Option<EcdsaKeyPair>,
    info: KeyInfo,
}

impl fmt::Debug for SigningCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningCredential")
            .field("subject", &self.leaf.subject_dn)
            .field("key", &self.info.to_string())
            .finish_non_exhaustive()
    }
}

impl SigningCredential {
    /// The site certificate (leaf first, then its intermediates, as stored on an NSX
    /// certificate object) and its private key (PEM, optionally encrypted).
    ///
    /// # Errors
    /// The chain or key does not parse, or the key is not the leaf's.
    pub fn from_pem(
        chain_pem: &str,
        key_pem: &str,
        passphrase: Option<&str>,
    ) -> Result<SigningCredential, PkiError> {
        let chain = parse_certificate_chain(chain_pem)?;
        let (key, info) = load_private_key(&chain, key_pem, passphrase)?;
        let leaf_der = chain.ders.first().ok_or(PkiError::NoCertificate)?;
        let (cert, leaf) = parse_one(1, leaf_der)?;
        let subject_der = cert.tbs_certificate.subject.as_raw().to_vec();
        let ecdsa_fixed = match (&key, info.curve) {
            (LoadedKey::Ec(k, _), Some(curve)) => {
                let pkcs8 = k.to_pkcs8v1().map_err(|_| PkiError::InvalidPrivateKey {
                    format: "EC",
                    reason: "it cannot be re-encoded for fixed-length signatures".to_owned(),
                })?;
                Some(
                    EcdsaKeyPair::from_pkcs8(fixed_alg(curve), pkcs8.as_ref()).map_err(|_| {
                        PkiError::InvalidPrivateKey {
                            format: "EC",
                            reason: "it cannot sign fixed-length signatures".to_owned(),
                        }
                    })?,
                )
            }
            _ => None,
        };
        // Self-signed certificates (a root included by mistake) are not sent: the peer
        // must already trust its root (RFC 7296 §3.6 sends the chain to it).
        let chain_der = chain
            .ders
            .iter()
            .zip(&chain.certificates)
            .enumerate()
            .filter(|(i, (_, d))| *i == 0 || d.subject_dn != d.issuer_dn)
            .map(|(_, (der, _))| der.clone())
            .collect();
        Ok(SigningCredential {
            chain_der,
            leaf,
            subject_der,
            key,
            ecdsa_fixed,
            info,
        })
    }

    /// DER certificates for CERT payloads: the leaf, then intermediates.
    #[must_use]
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    /// The leaf's subject Name as DER (the body of an ID_DER_ASN1_DN identity).
    #[must_use]
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// The leaf's subject DN as text.
    #[must_use]
    pub fn subject_display(&self) -> String {
        self.leaf.subject_dn.clone()
    }

    /// The local ID NSX derives from the site certificate.
    #[must_use]
    pub fn default_identity(&self) -> CertIdentity {
        default_identity(&self.leaf, &self.subject_der)
    }

    /// Whether the leaf presents `id` (see [`CertIdentity`]).
    #[must_use]
    pub fn presents(&self, id: &CertIdentity) -> bool {
        presents(&self.leaf, &self.subject_der, id)
    }

    /// The key's algorithm and size.
    #[must_use]
    pub fn key_algorithm(&self) -> KeyInfo {
        self.info
    }

    /// The leaf's validity, seconds since 1970 (not before, not after).
    #[must_use]
    pub fn validity(&self) -> (i64, i64) {
        (
            self.leaf.not_before.div_euclid(1000),
            self.leaf.not_after.div_euclid(1000),
        )
    }

    /// Schemes this key signs with, preferred first, among the hash algorithms the peer
    /// announced (RFC 7427 §4). RSA: PKCS#1 v1.5 (what strongSwan uses by default), with
    /// SHA-384 first for keys of 3072 bits or more (CNSA); ECDSA: the curve's own hash
    /// (RFC 4754 pairs); Ed25519 needs "Identity".
    #[must_use]
    pub fn schemes(&self, peer_hashes: &[u16]) -> Vec<SignatureScheme> {
        let candidates: Vec<SignatureScheme> = match (&self.key, self.info.curve) {
            (LoadedKey::Rsa(_), _) if self.info.bits >= 3072 => vec![
                SignatureScheme::RsaPkcs1Sha384,
                SignatureScheme::RsaPkcs1Sha512,
                SignatureScheme::RsaPkcs1Sha256,
            ],
            (LoadedKey::Rsa(_), _) => vec![
                SignatureScheme::RsaPkcs1Sha256,
                SignatureScheme::RsaPkcs1Sha384,
                SignatureScheme::RsaPkcs1Sha512,
            ],
            (LoadedKey::Ec(..), Some(Curve::P256)) => vec![SignatureScheme::EcdsaSha256],
            (LoadedKey::Ec(..), Some(Curve::P384)) => vec![SignatureScheme::EcdsaSha384],
            (LoadedKey::Ec(..), _) => vec![SignatureScheme::EcdsaSha512],
            (LoadedKey::Ed25519(_), _) => vec![SignatureScheme::Ed25519],
        };
        candidates
            .into_iter()
            .filter(|s| peer_hashes.contains(&s.hash_id()))
            .collect()
    }

    /// Sign `message` (RFC 7427: ECDSA signatures DER-encoded).
    ///
    /// # Errors
    /// The scheme does not fit the key, or signing failed.
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let unfit = || PkiError::Signing {
            reason: format!("a {} key cannot sign with {}", self.info, scheme.name()),
        };
        let failed = || PkiError::Signing {
            reason: format!("{} signing failed", scheme.name()),
        };
        let rng = SystemRandom::new();
        match &self.key {
            LoadedKey::Rsa(k) => {
                let encoding: &'static dyn signature::RsaEncoding = match scheme {
                    SignatureScheme::RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
                    SignatureScheme::RsaPkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
                    SignatureScheme::RsaPkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
                    SignatureScheme::RsaPssSha256 => &signature::RSA_PSS_SHA256,
                    SignatureScheme::RsaPssSha384 => &signature::RSA_PSS_SHA384,
                    SignatureScheme::RsaPssSha512 => &signature::RSA_PSS_SHA512,
                    _ => return Err(unfit()),
                };
                let mut out = vec![0u8; k.public_modulus_len()];
                k.sign(encoding, &rng, message, &mut out)
                    .map_err(|_| failed())?;
                Ok(out)
            }
            LoadedKey::Ec(k, curve) => {
                let native = match curve {
                    Curve::P256 => SignatureScheme::EcdsaSha256,
                    Curve::P384 => SignatureScheme::EcdsaSha384,
                    Curve::P521 => SignatureScheme::EcdsaSha512,
                };
                if scheme != native {
                    return Err(unfit());
                }
                Ok(k.sign(&rng, message)
                    .map_err(|_| failed())?
                    .as_ref()
                    .to_vec())
            }
            LoadedKey::Ed25519(k) => {
                if scheme != SignatureScheme::Ed25519 {
                    return Err(unfit());
                }
                Ok(k.sign(message).as_ref().to_vec())
            }
        }
    }

    /// RFC 4754 (AUTH methods 9/10/11): ECDSA with the curve's hash, fixed-length r||s.
    ///
    /// # Errors
    /// The key is not an ECDSA key, or signing failed.
    pub fn sign_ecdsa_fixed(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let key = self.ecdsa_fixed.as_ref().ok_or_else(|| PkiError::Signing {
            reason: format!(
                "a {} key cannot make an RFC 4754 ECDSA signature",
                self.info
            ),
        })?;
        let sig = key
            .sign(&SystemRandom::new(), message)
            .map_err(|_| PkiError::Signing {
                reason: "ECDSA signing failed".to_owned(),
            })?;
        Ok(sig.as_ref().to_vec())
    }
}

fn fixed_alg(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}
