//! Certificate chain parsing and checks.

use crate::algorithms::{analyze_spki, signature_algorithm_name, verify_signed, Verification};
use crate::dn::{dn_equal, first_common_name, format_name};
use crate::error::PkiError;
use crate::pem_input::parse_blocks;
use crate::util::{format_serial, hex_colon, secs_to_ms};
use std::net::{Ipv4Addr, Ipv6Addr};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Version;
use zeroize::Zeroizing;

/// Most certificates accepted in one PEM (leaf plus chain).
pub const MAX_CERTIFICATES: usize = 10;

/// One certificate as shown to operators (fields serialize with these
/// snake_case names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateDetails {
    /// Subject DN, e.g. `C=US, O=Org, CN=Site123` (certificate order, RFC 4514
    /// escaping, `emailAddress=` for the PKCS#9 e-mail attribute).
    pub subject_dn: String,
    /// First commonName of the subject.
    pub subject_cn: Option<String>,
    /// Issuer DN, same format as `subject_dn`.
    pub issuer_dn: String,
    /// Lowercase, colon-separated hex, e.g. `0a:1b:2c`.
    pub serial_number: String,
    /// Start of validity, epoch milliseconds.
    pub not_before: i64,
    /// End of validity, epoch milliseconds.
    pub not_after: i64,
    /// E.g. `SHA256withRSA`, `SHA384withECDSA`, `RSASSA-PSS(SHA256)`, `ED25519`.
    pub signature_algorithm: String,
    /// `RSA`, `EC` or `ED25519`.
    pub public_key_algo: String,
    /// RSA modulus bits, EC curve bits (256/384/521), 256 for Ed25519.
    pub public_key_length: u32,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// subjectAltName dNSName entries.
    pub san_dns: Vec<String>,
    /// subjectAltName iPAddress entries (textual form).
    pub san_ip: Vec<String>,
    /// subjectAltName rfc822Name entries.
    pub san_email: Vec<String>,
    /// SHA-256 of the DER, uppercase colon-separated hex.
    pub sha256_fingerprint: String,
}

impl CertificateDetails {
    /// Whether `now_ms` (epoch milliseconds) lies inside the validity period
    /// (both ends inclusive).
    #[must_use]
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        self.not_before <= now_ms && now_ms <= self.not_after
    }

    /// Whether the certificate has expired at `now_ms` (epoch milliseconds).
    #[must_use]
    pub fn is_expired_at(&self, now_ms: i64) -> bool {
        now_ms > self.not_after
    }
}

/// A parsed certificate PEM: leaf first, in PEM order. `ders[i]` is the DER
/// of `certificates[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateChain {
    /// Details of each certificate.
    pub certificates: Vec<CertificateDetails>,
    /// DER encoding of each certificate.
    pub ders: Vec<Vec<u8>>,
}

impl CertificateChain {
    /// The first certificate (the leaf), if any.
    #[must_use]
    pub fn leaf(&self) -> Option<&CertificateDetails> {
        self.certificates.first()
    }
}

/// Parses and checks a certificate PEM (one certificate, or a leaf followed
/// by its issuers).
///
/// Checks: every PEM block is a `CERTIFICATE`; 1 to [`MAX_CERTIFICATES`]
/// certificates; each is X.509 v3 DER without trailing bytes; each signature
/// uses SHA-256/384/512 with RSA (PKCS#1 v1.5 or PSS) or ECDSA, or Ed25519;
/// each key is RSA 2048-16384, EC P-256/P-384/P-521 or Ed25519; no
/// certificate is repeated; with several certificates, certificate `i + 1`
/// issued certificate `i` (issuer name matches and the signature verifies).
///
/// # Errors
/// A [`PkiError`] whose message names the offending block or certificate and
/// tells the operator what to change.
pub fn parse_certificate_chain(pem: &str) -> Result<CertificateChain, PkiError> {
    let blocks = parse_blocks(pem, "certificate PEM")?;
    let mut ders = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        let index = i + 1;
        let tag = block.tag().to_owned();
        if tag == "CERTIFICATE" || tag == "X509 CERTIFICATE" {
            ders.push(block.into_contents());
        } else if tag.contains("PRIVATE KEY") {
            // Do not keep key material around longer than needed.
            drop(Zeroizing::new(block.into_contents()));
            return Err(PkiError::PrivateKeyInCertificate { index, tag });
        } else {
            return Err(PkiError::UnexpectedPemBlock { index, tag });
        }
    }
    if ders.is_empty() {
        return Err(PkiError::NoCertificate);
    }
    if ders.len() > MAX_CERTIFICATES {
        return Err(PkiError::TooManyCertificates {
            count: ders.len(),
            max: MAX_CERTIFICATES,
        });
    }

    let mut parsed = Vec::with_capacity(ders.len());
    for (i, der) in ders.iter().enumerate() {
        parsed.push(parse_one(i + 1, der)?);
    }

    for (i, (_, details)) in parsed.iter().enumerate() {
        let first = parsed
            .iter()
            .take(i)
            .position(|(_, d)| d.sha256_fingerprint == details.sha256_fingerprint);
        if let Some(first) = first {
            return Err(PkiError::DuplicateCertificate {
                index: i + 1,
                first: first + 1,
                subject: details.subject_dn.clone(),
            });
        }
    }

    check_chain_order(&parsed)?;

    let certificates = parsed.into_iter().map(|(_, d)| d).collect();
    Ok(CertificateChain { certificates, ders })
}

/// Parses one DER certificate and applies the same per-certificate checks as
/// [`parse_certificate_chain`] (v3, no trailing bytes, SHA-2 signature,
/// accepted key).
///
/// # Errors
/// [`PkiError::InvalidCertificate`], [`PkiError::WeakSignatureAlgorithm`] or
/// [`PkiError::UnsupportedPublicKey`].
pub fn parse_certificate_der(der: &[u8]) -> Result<CertificateDetails, PkiError> {
    parse_one(1, der).map(|(_, d)| d)
}

/// Label used in messages: `certificate 2 (CN=Issuing CA)`.
pub(crate) fn cert_label(index: usize, details: &CertificateDetails) -> String {
    match (&details.subject_cn, details.subject_dn.is_empty()) {
        (Some(cn), _) => format!("certificate {index} (CN={cn})"),
        (None, false) => format!("certificate {index} ({})", details.subject_dn),
        (None, true) => format!("certificate {index} (empty subject)"),
    }
}

pub(crate) fn parse_one(
    index: usize,
    der: &[u8],
) -> Result<(X509Certificate<'_>, CertificateDetails), PkiError> {
    let invalid = |reason: String| PkiError::InvalidCertificate { index, reason };
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
        invalid(match e {
            x509_parser::nom::Err::Incomplete(_) => "the DER data is truncated".to_owned(),
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                format!("DER decoding failed: {e}")
            }
        })
    })?;
    if !rest.is_empty() {
        return Err(invalid(format!(
            "{} unexpected bytes follow the certificate",
            rest.len()
        )));
    }
    let version = cert.version();
    if version != X509Version::V3 {
        return Err(invalid(format!(
            "it is an X.509 v{} certificate, only v3 certificates are accepted",
            version.0.saturating_add(1)
        )));
    }
    if cert.tbs_certificate.signature != cert.signature_algorithm {
        return Err(invalid(
            "its inner and outer signature algorithms differ".to_owned(),
        ));
    }

    let subject_dn = format_name(cert.subject());
    let subject_cn = first_common_name(cert.subject());
    let issuer_dn = format_name(cert.issuer());

    let is_ca = cert
        .basic_constraints()
        .map_err(|_| invalid("it has a malformed or repeated basicConstraints extension".into()))?
        .is_some_and(|bc| bc.value.ca);

    let mut san_dns = Vec::new();
    let mut san_ip = Vec::new();
    let mut san_email = Vec::new();
    let san = cert
        .subject_alternative_name()
        .map_err(|_| invalid("it has a malformed or repeated subjectAltName extension".into()))?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) => san_dns.push((*s).to_owned()),
                GeneralName::RFC822Name(s) => san_email.push((*s).to_owned()),
                GeneralName::IPAddress(bytes) => san_ip.push(format_ip(bytes)),
                _ => {}
            }
        }
    }

    let validity = cert.validity();
    let fingerprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);

    let mut details = CertificateDetails {
        subject_dn,
        subject_cn,
        issuer_dn,
        serial_number: format_serial(cert.raw_serial()),
        not_before: secs_to_ms(validity.not_before.timestamp()),
        not_after: secs_to_ms(validity.not_after.timestamp()),
        signature_algorithm: String::new(),
        public_key_algo: String::new(),
        public_key_length: 0,
        is_ca,
        san_dns,
        san_ip,
        san_email,
        sha256_fingerprint: hex_colon(fingerprint.as_ref(), true),
    };

    let label = cert_label(index, &details);
    details.signature_algorithm =
        signature_algorithm_name(&cert.signature_algorithm).map_err(|algorithm| {
            PkiError::WeakSignatureAlgorithm {
                what: label.clone(),
                algorithm,
            }
        })?;
    let key = analyze_spki(cert.public_key()).map_err(|reason| PkiError::UnsupportedPublicKey {
        what: label,
        reason,
    })?;
    details.public_key_algo = key.algorithm.as_str().to_owned();
    details.public_key_length = key.bits;

    Ok((cert, details))
}

fn format_ip(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(v6).to_string()
    } else {
        hex_colon(bytes, false)
    }
}

/// Whether `issuer` issued `child`: issuer DN matches and signature verifies.
pub(crate) fn issued_by(
    child: &(X509Certificate<'_>, CertificateDetails),
    issuer: &(X509Certificate<'_>, CertificateDetails),
) -> Verification {
    let (child_cert, child_details) = child;
    let (issuer_cert, issuer_details) = issuer;
    let names_match = child_cert.issuer().as_raw() == issuer_cert.subject().as_raw()
        || dn_equal(&child_details.issuer_dn, &issuer_details.subject_dn);
    if !names_match {
        return Verification::Invalid;
    }
    verify_signed(
        issuer_cert.public_key(),
        &child_cert.signature_algorithm,
        &child_cert.signature_value,
        child_cert.tbs_certificate.as_ref(),
    )
}

fn check_chain_order(parsed: &[(X509Certificate<'_>, CertificateDetails)]) -> Result<(), PkiError> {
    for (i, pair) in parsed.windows(2).enumerate() {
        let [child, next] = pair else { continue };
        let index = i + 1;
        match issued_by(child, next) {
            Verification::Valid => continue,
            Verification::Unsupported(reason) => {
                return Err(PkiError::UnverifiableSignature {
                    what: cert_label(index, &child.1),
                    issuer: cert_label(index + 1, &next.1),
                    reason,
                })
            }
            Verification::Invalid => {}
        }
        if issued_by(next, child) == Verification::Valid {
            return Err(PkiError::ChainReversed {
                index,
                subject: child.1.subject_dn.clone(),
                next: index + 1,
                next_subject: next.1.subject_dn.clone(),
            });
        }
        let elsewhere = parsed
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i && *j != i + 1)
            .find(|(_, candidate)| issued_by(child, candidate) == Verification::Valid);
        return Err(match elsewhere {
            Some((j, _)) => PkiError::ChainOutOfOrder {
                index,
                subject: child.1.subject_dn.clone(),
                issuer_index: j + 1,
                next: index + 1,
            },
            None => PkiError::ChainIncomplete {
                index,
                subject: child.1.subject_dn.clone(),
                issuer: child.1.issuer_dn.clone(),
                next: index + 1,
                next_subject: next.1.subject_dn.clone(),
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_formatting() {
        assert_eq!(format_ip(&[10, 0, 0, 1]), "10.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(format_ip(&v6), "::1");
        assert_eq!(format_ip(&[1, 2, 3]), "01:02:03");
    }

    #[test]
    fn validity_helpers() {
        let d = CertificateDetails {
            subject_dn: String::new(),
            subject_cn: None,
            issuer_dn: String::new(),
            serial_number: "01".into(),
            not_before: 1_000,
            not_after: 2_000,
            signature_algorithm: "ED25519".into(),
            public_key_algo: "ED25519".into(),
            public_key_length: 256,
            is_ca: false,
            san_dns: vec![],
            san_ip: vec![],
            san_email: vec![],
            sha256_fingerprint: String::new(),
        };
        assert!(!d.is_valid_at(999));
        assert!(d.is_valid_at(1_000));
        assert!(d.is_valid_at(2_000));
        assert!(!d.is_valid_at(2_001));
        assert!(d.is_expired_at(2_001));
        assert_eq!(cert_label(3, &d), "certificate 3 (empty subject)");
    }

    #[test]
    fn garbage_certificates() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_certificate_chain(pem),
            Err(PkiError::InvalidCertificate { index: 1, .. })
        ));
        assert!(parse_certificate_der(&[]).is_err());
        assert!(parse_certificate_der(&[0x30, 0x82, 0xff, 0xff]).is_err());
        assert_eq!(parse_certificate_chain(""), Err(PkiError::NoCertificate));
        assert!(matches!(
            parse_certificate_chain(
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
            ),
            Err(PkiError::UnexpectedPemBlock { index: 1, .. })
        ));
        let err = parse_certificate_chain(
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("private_key"), "{err}");
    }
}
