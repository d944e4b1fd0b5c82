//! Trust decisions about a peer's certificate (RFC 7296 §3.6, RFC 4945 §5): a path to one
//! of the local endpoint's trusted CAs, validity at the given time, signatures (no SHA-1),
//! revocation by the imported CRLs. Path building and CRL checks are rustls-webpki's; this
//! module adds what IKE needs around it (any EKU, CERTREQ hashes, identities) and turns
//! each refusal into words an operator can act on.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use webpki::{
    EndEntityCert, ExpirationPolicy, KeyPurposeIdIter, OwnedCertRevocationList,
    RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};

use crate::algorithms::{analyze_spki, Curve, KeyAlgorithm, KeyInfo};
use crate::cert::{parse_certificate_chain, parse_one, CertificateDetails};
use crate::credential::{default_identity, presents, CertIdentity};
use crate::crl::{parse_crl, verify_crl_signature};
use crate::error::PkiError;
use crate::pem_input::parse_blocks;
use crate::signature::SignatureScheme;

/// Signature algorithms accepted in certificate chains: SHA-2 RSA (PKCS#1 v1.5, PSS),
/// ECDSA and Ed25519. SHA-1 is absent on purpose (NSX requires SHA-256/384/512).
static CHAIN_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P256_SHA512,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA512,
    webpki::aws_lc_rs::ECDSA_P521_SHA256,
    webpki::aws_lc_rs::ECDSA_P521_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA512,
    webpki::aws_lc_rs::ED25519,
];

/// Any extended key usage: IKE peers' certificates carry serverAuth, clientAuth,
/// id-kp-ipsecIKE (RFC 4945 §5.1.3.12) or none, and strongSwan accepts them all; only a
/// malformed extension is refused.
struct AnyExtendedKeyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyExtendedKeyUsage {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// A trusted CA.
struct Anchor {
    name: String,
    subject: String,
    der: Vec<u8>,
    anchor: TrustAnchor<'static>,
    spki_sha1: [u8; 20],
}

/// A loaded CRL.
struct Crl {
    name: String,
    issuer: String,
    list: OwnedCertRevocationList,
}

/// The CAs and CRLs a local endpoint trusts for its peers' certificates.
pub struct TrustStore {
    anchors: Vec<Anchor>,
    crls: Vec<Crl>,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field(
                "cas",
                &self.anchors.iter().map(|a| &a.subject).collect::<Vec<_>>(),
            )
            .field(
                "crls",
                &self.crls.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TrustStore {
    /// Trust the CA certificates in `cas` (each a (name, PEM) pair; a PEM may hold several
    /// certificates, each becomes a trust anchor) and revoke by the CRLs in `crls` (each
    /// must be signed by one of the CAs).
    ///
    /// # Errors
    /// [`PkiError::Trust`] naming the object that cannot be used.
    pub fn new(cas: &[(&str, &str)], crls: &[(&str, &str)]) -> Result<TrustStore, PkiError> {
        let unusable = |name: &str, reason: String| PkiError::Trust {
            name: name.to_owned(),
            reason,
        };
        let mut anchors = Vec::new();
        for (name, pem) in cas {
            let chain = parse_certificate_chain(pem).map_err(|e| unusable(name, e.to_string()))?;
            for (der, details) in chain.ders.iter().zip(&chain.certificates) {
                let cert_der = CertificateDer::from(der.as_slice());
                let anchor = webpki::anchor_from_trusted_cert(&cert_der)
                    .map_err(|e| {
                        unusable(name, format!("it is not a usable CA certificate ({e:?})"))
                    })?
                    .to_owned();
                let (cert, _) = parse_one(1, der)?;
                let spki = cert.tbs_certificate.subject_pki.raw;
                let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, spki);
                let mut spki_sha1 = [0u8; 20];
                spki_sha1.copy_from_slice(hash.as_ref().get(..20).unwrap_or(&[0; 20]));
                anchors.push(Anchor {
                    name: (*name).to_owned(),
                    subject: details.subject_dn.clone(),
                    der: der.clone(),
                    anchor,
                    spki_sha1,
                });
            }
        }
        let mut loaded = Vec::new();
        for (name, pem) in crls {
            let details = parse_crl(pem).map_err(|e| unusable(name, e.to_string()))?;
            // A CRL naming a trusted CA must carry that CA's signature. A CRL of another
            // issuer (an intermediate the peers send) is checked against it during path
            // validation, where webpki refuses a CRL whose signature does not verify.
            let named: Vec<&Anchor> = anchors
                .iter()
                .filter(|a| crate::dn::dn_equal(&a.subject, &details.issuer_dn))
                .collect();
            if !named.is_empty()
                && !named
                    .iter()
                    .any(|a| verify_crl_signature(pem, &a.der).is_ok())
            {
                return Err(unusable(
                    name,
                    format!(
                        "the CRL names {} as its issuer, but that trusted CA did not sign it: download the CRL again from the CA",
                        details.issuer_dn
                    ),
                ));
            }
            let block = parse_blocks(pem, "CRL PEM")?
                .into_iter()
                .find(|b| b.tag() == "X509 CRL")
                .ok_or(PkiError::NoCrl)?;
            let list = OwnedCertRevocationList::from_der(block.contents())
                .map_err(|e| unusable(name, format!("the CRL does not decode ({e:?})")))?;
            loaded.push(Crl {
                name: (*name).to_owned(),
                issuer: details.issuer_dn,
                list,
            });
        }
        Ok(TrustStore {
            anchors,
            crls: loaded,
        })
    }

    /// SHA-1 hashes of the trusted CAs' SubjectPublicKeyInfo, for CERTREQ (RFC 7296 §3.7).
    #[must_use]
    pub fn ca_key_hashes(&self) -> Vec<[u8; 20]> {
        self.anchors.iter().map(|a| a.spki_sha1).collect()
    }

    fn ca_list(&self) -> String {
        if self.anchors.is_empty() {
            return "none".to_owned();
        }
        self.anchors
            .iter()
            .map(|a| format!("{} ({})", a.subject, a.name))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Check a peer's end-entity certificate and the intermediates it sent at `now_unix`
    /// (seconds since 1970).
    ///
    /// # Errors
    /// [`TrustError`] saying why it is refused.
    pub fn verify(
        &self,
        end_entity_der: &[u8],
        intermediates: &[&[u8]],
        now_unix: u64,
    ) -> Result<PeerCertificate, TrustError> {
        let (cert, details) =
            parse_one(1, end_entity_der).map_err(|e| TrustError::Malformed(e.to_string()))?;
        let now_ms = i64::try_from(now_unix)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        if now_ms < details.not_before {
            return Err(TrustError::NotYetValid {
                subject: details.subject_dn,
                not_before: utc(details.not_before),
            });
        }
        if now_ms > details.not_after {
            return Err(TrustError::Expired {
                subject: details.subject_dn,
                not_after: utc(details.not_after),
            });
        }
        // RFC 4945 §5.1.3.2: a keyUsage, if present, must allow signatures.
        if let Ok(Some(ku)) = cert.key_usage() {
            if !(ku.value.digital_signature() || ku.value.non_repudiation()) {
                return Err(TrustError::KeyUsage {
                    subject: details.subject_dn,
                });
            }
        }
        let key = analyze_spki(cert.public_key()).map_err(|reason| TrustError::WeakAlgorithm {
            subject: details.subject_dn.clone(),
            what: reason,
        })?;
        let ee_der = CertificateDer::from(end_entity_der);
        let ee = EndEntityCert::try_from(&ee_der)
            .map_err(|e| TrustError::Malformed(format!("{e:?}")))?;
        let inter: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|d| CertificateDer::from(*d))
            .collect();
        let anchors: Vec<TrustAnchor<'_>> = self.anchors.iter().map(|a| a.anchor.clone()).collect();
        let crl_refs: Vec<webpki::CertRevocationList<'_>> = self
            .crls
            .iter()
            .map(|c| webpki::CertRevocationList::from(c.list.clone()))
            .collect();
        let crl_refs: Vec<&webpki::CertRevocationList<'_>> = crl_refs.iter().collect();
        let revocation = RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
            // A CA without a CRL is not an error; a CRL past its next update still revokes
            // what it lists (it may only miss newer revocations).
            b.with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(UnknownStatusPolicy::Allow)
                .with_expiration_policy(ExpirationPolicy::Ignore)
                .build()
        });
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now_unix));
        let verified = ee.verify_for_usage(
            CHAIN_ALGORITHMS,
            &anchors,
            &inter,
            time,
            AnyExtendedKeyUsage,
            revocation,
            None,
        );
        if let Err(e) = verified {
            return Err(self.explain(e, &details, cert.tbs_certificate.raw_serial()));
        }
        let subject_der = cert.tbs_certificate.subject.as_raw().to_vec();
        Ok(PeerCertificate {
            public_key: cert.public_key().subject_public_key.data.to_vec(),
            key,
            details,
            subject_der,
        })
    }

    fn explain(&self, e: webpki::Error, details: &CertificateDetails, serial: &[u8]) -> TrustError {
        let subject = details.subject_dn.clone();
        match e {
            webpki::Error::UnknownIssuer => TrustError::UnknownIssuer {
                subject,
                issuer: details.issuer_dn.clone(),
                trusted: self.ca_list(),
            },
            webpki::Error::CertRevoked => {
                let crl = self
                    .crls
                    .iter()
                    .find(|c| {
                        matches!(
                            webpki::CertRevocationList::from(c.list.clone()).find_serial(serial),
                            Ok(Some(_))
                        )
                    })
                    .map_or_else(
                        || "a CRL of an issuing CA".to_owned(),
                        |c| format!("CRL {} (issued by {})", c.name, c.issuer),
                    );
                TrustError::Revoked {
                    subject,
                    serial: details.serial_number.clone(),
                    crl,
                }
            }
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                TrustError::ChainNotValidNow { subject }
            }
            webpki::Error::InvalidSignatureForPublicKey
            | webpki::Error::InvalidCrlSignatureForPublicKey => {
                TrustError::BadSignature { subject }
            }
            webpki::Error::UnsupportedSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                TrustError::WeakAlgorithm {
                    subject,
                    what: format!("a chain signed with {}", details.signature_algorithm),
                }
            }
            other => TrustError::Refused {
                subject,
                reason: format!("{other:?}"),
            },
        }
    }
}

/// Why a peer certificate is refused. Each message names the certificate and what to
/// change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// No path to a trusted CA.
    #[error("the peer's certificate {subject} was issued by {issuer}, which is not one of this local endpoint's trusted CAs ({trusted}): import that CA and add it to the local endpoint's trust_ca_paths")]
    UnknownIssuer {
        /// Subject of the peer certificate.
        subject: String,
        /// Its issuer.
        issuer: String,
        /// The trusted CAs.
        trusted: String,
    },
    /// Past its validity.
    #[error("the peer's certificate {subject} expired on {not_after} (UTC): the peer needs a renewed certificate (or check this gateway's clock)")]
    Expired {
        /// Subject.
        subject: String,
        /// notAfter.
        not_after: String,
    },
    /// Before its validity.
    #[error("the peer's certificate {subject} is not valid before {not_before} (UTC): wait, or check both gateways' clocks")]
    NotYetValid {
        /// Subject.
        subject: String,
        /// notBefore.
        not_before: String,
    },
    /// An intermediate or CA of the chain is outside its validity.
    #[error("a CA certificate in the chain of the peer's certificate {subject} is expired or not yet valid: renew it on the peer or in trust_ca_paths")]
    ChainNotValidNow {
        /// Subject of the end-entity certificate.
        subject: String,
    },
    /// Listed in a CRL.
    #[error("the peer's certificate {subject} (serial {serial}) is revoked by {crl}: the peer needs a new certificate")]
    Revoked {
        /// Subject.
        subject: String,
        /// Serial number.
        serial: String,
        /// Which CRL.
        crl: String,
    },
    /// A signature in the chain does not verify.
    #[error("a signature in the chain of the peer's certificate {subject} does not verify: the certificate was altered or the wrong CA is trusted")]
    BadSignature {
        /// Subject.
        subject: String,
    },
    /// SHA-1, small RSA keys and other refused algorithms.
    #[error("the peer's certificate {subject} uses {what}, which strait refuses: issue it with SHA-256/384/512 and an RSA key of 2048 bits or more, or ECDSA")]
    WeakAlgorithm {
        /// Subject.
        subject: String,
        /// What was refused.
        what: String,
    },
    /// Its keyUsage does not allow signing (RFC 4945 §5.1.3.2).
    #[error("the peer's certificate {subject} has a keyUsage without digitalSignature, so it may not sign IKE AUTH payloads (it may be a CA certificate): the peer needs a certificate issued for signing")]
    KeyUsage {
        /// Subject.
        subject: String,
    },
    /// Not a certificate.
    #[error("the peer's certificate cannot be read: {0}")]
    Malformed(String),
    /// Anything else path validation refused.
    #[error("the peer's certificate {subject} is refused by path validation ({reason})")]
    Refused {
        /// Subject.
        subject: String,
        /// webpki's reason.
        reason: String,
    },
}

/// Why an AUTH signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Invalid,
    /// The scheme does not fit the certificate's key (e.g. ECDSA with an RSA key).
    #[error("{scheme} does not fit the certificate's {key} key")]
    SchemeMismatch {
        /// The scheme.
        scheme: &'static str,
        /// The key.
        key: String,
    },
}

/// A peer certificate that passed [`TrustStore::verify`].
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    public_key: Vec<u8>,
    key: KeyInfo,
    details: CertificateDetails,
    subject_der: Vec<u8>,
}

impl PeerCertificate {
    /// Its subject DN as text.
    #[must_use]
    pub fn subject_display(&self) -> String {
        self.details.subject_dn.clone()
    }

    /// Its subject Name as DER.
    #[must_use]
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// The subject and subjectAltNames, for alarms.
    #[must_use]
    pub fn describe_identities(&self) -> String {
        let mut sans: Vec<String> = Vec::new();
        sans.extend(self.details.san_ip.iter().map(|s| format!("IP:{s}")));
        sans.extend(self.details.san_dns.iter().map(|s| format!("DNS:{s}")));
        sans.extend(self.details.san_email.iter().map(|s| format!("email:{s}")));
        if sans.is_empty() {
            format!("subject {} and no subjectAltName", self.details.subject_dn)
        } else {
            format!(
                "subject {}; subjectAltName {}",
                self.details.subject_dn,
                sans.join(", ")
            )
        }
    }

    /// Whether the certificate presents `id` (RFC 4945 §3.1).
    #[must_use]
    pub fn presents(&self, id: &CertIdentity) -> bool {
        presents(&self.details, &self.subject_der, id)
    }

    /// The identity NSX would derive from it.
    #[must_use]
    pub fn default_identity(&self) -> CertIdentity {
        default_identity(&self.details, &self.subject_der)
    }

    /// Its key's algorithm and size.
    #[must_use]
    pub fn key_algorithm(&self) -> KeyInfo {
        self.key
    }

    fn check(
        &self,
        ok: bool,
        what: &'static str,
        message: &[u8],
        sig: &[u8],
        alg: &'static dyn VerificationAlgorithm,
    ) -> Result<(), SignatureError> {
        if !ok {
            return Err(SignatureError::SchemeMismatch {
                scheme: what,
                key: self.key.to_string(),
            });
        }
        UnparsedPublicKey::new(alg, &self.public_key)
            .verify(message, sig)
            .map_err(|_| SignatureError::Invalid)
    }

    /// Verify an RFC 7427 signature (ECDSA signatures DER-encoded).
    ///
    /// # Errors
    /// The scheme does not fit the key, or the signature is wrong.
    pub fn verify(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureError> {
        let rsa = self.key.algorithm() == KeyAlgorithm::Rsa;
        let curve = self.key.curve;
        let alg: &'static dyn VerificationAlgorithm = match (scheme, curve) {
            (SignatureScheme::RsaPkcs1Sha256, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (SignatureScheme::RsaPkcs1Sha384, _) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (SignatureScheme::RsaPkcs1Sha512, _) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (SignatureScheme::RsaPssSha256, _) => &signature::RSA_PSS_2048_8192_SHA256,
            (SignatureScheme::RsaPssSha384, _) => &signature::RSA_PSS_2048_8192_SHA384,
            (SignatureScheme::RsaPssSha512, _) => &signature::RSA_PSS_2048_8192_SHA512,
            (SignatureScheme::EcdsaSha256, Some(Curve::P256)) => &signature::ECDSA_P256_SHA256_ASN1,
            (SignatureScheme::EcdsaSha384, Some(Curve::P256)) => &signature::ECDSA_P256_SHA384_ASN1,
            (SignatureScheme::EcdsaSha512, Some(Curve::P256)) => &signature::ECDSA_P256_SHA512_ASN1,
            (SignatureScheme::EcdsaSha256, Some(Curve::P384)) => &signature::ECDSA_P384_SHA256_ASN1,
            (SignatureScheme::EcdsaSha384, Some(Curve::P384)) => &signature::ECDSA_P384_SHA384_ASN1,
            (SignatureScheme::EcdsaSha512, Some(Curve::P384)) => &signature::ECDSA_P384_SHA512_ASN1,
            (SignatureScheme::EcdsaSha256, Some(Curve::P521)) => &signature::ECDSA_P521_SHA256_ASN1,
            (SignatureScheme::EcdsaSha384, Some(Curve::P521)) => &signature::ECDSA_P521_SHA384_ASN1,
            (SignatureScheme::EcdsaSha512, Some(Curve::P521)) => &signature::ECDSA_P521_SHA512_ASN1,
            (SignatureScheme::Ed25519, _) => &signature::ED25519,
            (_, None) => {
                return Err(SignatureError::SchemeMismatch {
                    scheme: scheme.name(),
                    key: self.key.to_string(),
                })
            }
        };
        let fits = if scheme.is_rsa() {
            rsa
        } else if scheme.is_ecdsa() {
            curve.is_some()
        } else {
            self.key.algorithm() == KeyAlgorithm::Ed25519
        };
        self.check(fits, scheme.name(), message, sig, alg)
    }

    /// Verify an RFC 4754 signature (AUTH methods 9/10/11: P-256/SHA-256,
    /// P-384/SHA-384, P-521/SHA-512, fixed-length r||s); `hash_bits` says which.
    ///
    /// # Errors
    /// The method does not fit the key's curve, or the signature is wrong.
    pub fn verify_ecdsa_fixed(
        &self,
        hash_bits: u16,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureError> {
        let (want, alg): (Curve, &'static dyn VerificationAlgorithm) = match hash_bits {
            256 => (Curve::P256, &signature::ECDSA_P256_SHA256_FIXED),
            384 => (Curve::P384, &signature::ECDSA_P384_SHA384_FIXED),
            _ => (Curve::P521, &signature::ECDSA_P521_SHA512_FIXED),
        };
        self.check(
            self.key.curve == Some(want),
            "RFC 4754 ECDSA",
            message,
            sig,
            alg,
        )
    }

    /// Verify an RFC 7296 AUTH method 1 signature (RSA PKCS#1 v1.5 over SHA-1, as older
    /// peers make it; SHA-1 is accepted here for the AUTH digest only, like strongSwan).
    ///
    /// # Errors
    /// The key is not RSA, or the signature is wrong.
    pub fn verify_rsa_sha1(&self, message: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        let rsa = self.key.algorithm() == KeyAlgorithm::Rsa;
        self.check(
            rsa,
            "RSA with SHA-1",
            message,
            sig,
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        )
    }
}

/// Epoch milliseconds as an RFC 3339 date.
fn utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms after 1970"))
}

/// An NSX DN string as a certificate identity (DER in the order written).
///
/// # Errors
/// [`PkiError::InvalidDn`] when it does not parse.
pub fn dn_identity(s: &str) -> Result<CertIdentity, PkiError> {
    let der = crate::dn::encode_dn(s)?;
    let display = crate::dn::dn_display(&der)?;
    Ok(CertIdentity::Dn { der, display })
}
