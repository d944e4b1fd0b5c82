//! Certificate revocation lists.

use crate::algorithms::{signature_algorithm_name, verify_signed, Verification};
use crate::cert::parse_one;
use crate::dn::{dn_equal, format_name};
use crate::error::PkiError;
use crate::pem_input::parse_blocks;
use crate::util::{format_serial, secs_to_ms};
use x509_parser::revocation_list::CertificateRevocationList;

/// Most revoked serial numbers listed in [`CrlDetails::revoked_serials`].
pub const MAX_LISTED_SERIALS: usize = 1000;

/// One CRL as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CrlDetails {
    /// Issuer DN, same format as [`crate::CertificateDetails::subject_dn`].
    pub issuer_dn: String,
    /// thisUpdate, epoch milliseconds.
    pub this_update: i64,
    /// nextUpdate, epoch milliseconds.
    pub next_update: Option<i64>,
    /// Number of revoked certificates.
    pub revoked_count: u64,
    /// Serial numbers (lowercase colon hex) of at most the first
    /// [`MAX_LISTED_SERIALS`] revoked certificates.
    pub revoked_serials: Vec<String>,
    /// E.g. `SHA256withRSA`.
    pub signature_algorithm: String,
    /// cRLNumber extension, decimal.
    pub crl_number: Option<String>,
}

impl CrlDetails {
    /// Whether the CRL is past its nextUpdate at `now_ms` (epoch milliseconds).
    /// A CRL without nextUpdate never becomes stale.
    #[must_use]
    pub fn is_stale_at(&self, now_ms: i64) -> bool {
        self.next_update.is_some_and(|next| now_ms > next)
    }
}

/// Parses one `X509 CRL` PEM block and checks that it is signed with SHA-2
/// RSA/ECDSA (or RSASSA-PSS / Ed25519).
///
/// # Errors
/// [`PkiError::NoCrl`], [`PkiError::MultipleCrls`],
/// [`PkiError::UnexpectedCrlBlock`], [`PkiError::InvalidCrl`],
/// [`PkiError::WeakSignatureAlgorithm`] or PEM/size errors.
pub fn parse_crl(pem: &str) -> Result<CrlDetails, PkiError> {
    let der = crl_der(pem)?;
    let crl = parse_crl_der_inner(&der)?;
    details(&crl)
}

/// Checks that the CRL in `crl_pem` was issued and signed by the CA
/// certificate `issuer_der` (e.g. one of [`crate::CertificateChain::ders`]):
/// the CRL issuer DN must equal the certificate's subject DN and the CRL
/// signature must verify with the certificate's public key.
///
/// # Errors
/// The errors of [`parse_crl`] and [`crate::parse_certificate_der`], plus
/// [`PkiError::CrlIssuerMismatch`], [`PkiError::CrlSignatureInvalid`] and
/// [`PkiError::UnverifiableSignature`].
pub fn verify_crl_signature(crl_pem: &str, issuer_der: &[u8]) -> Result<(), PkiError> {
    let der = crl_der(crl_pem)?;
    let crl = parse_crl_der_inner(&der)?;
    let crl_details = details(&crl)?;
    let (issuer, issuer_details) = parse_one(1, issuer_der)?;
    let names_match = crl.issuer().as_raw() == issuer.subject().as_raw()
        || dn_equal(&crl_details.issuer_dn, &issuer_details.subject_dn);
    if !names_match {
        return Err(PkiError::CrlIssuerMismatch {
            crl_issuer: crl_details.issuer_dn,
            ca_subject: issuer_details.subject_dn,
        });
    }
    match verify_signed(
        issuer.public_key(),
        &crl.signature_algorithm,
        &crl.signature_value,
        crl.tbs_cert_list.as_ref(),
    ) {
        Verification::Valid => Ok(()),
        Verification::Invalid => Err(PkiError::CrlSignatureInvalid {
            ca_subject: issuer_details.subject_dn,
        }),
        Verification::Unsupported(reason) => Err(PkiError::UnverifiableSignature {
            what: "the CRL".to_owned(),
            issuer: format!("the CA certificate \"{}\"", issuer_details.subject_dn),
            reason,
        }),
    }
}

fn crl_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    let blocks = parse_blocks(pem, "CRL PEM")?;
    let mut ders = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        if block.tag() == "X509 CRL" {
            ders.push(block.into_contents());
        } else {
            return Err(PkiError::UnexpectedCrlBlock {
                index: i + 1,
                tag: block.tag().to_owned(),
            });
        }
    }
    match ders.len() {
        0 => Err(PkiError::NoCrl),
        1 => ders.pop().ok_or(PkiError::NoCrl),
        count => Err(PkiError::MultipleCrls { count }),
    }
}

fn parse_crl_der_inner(der: &[u8]) -> Result<CertificateRevocationList<'_>, PkiError> {
    let invalid = |reason: String| PkiError::InvalidCrl { reason };
    let (rest, crl) = x509_parser::parse_x509_crl(der).map_err(|e| {
        invalid(match e {
            x509_parser::nom::Err::Incomplete(_) => "the DER data is truncated".to_owned(),
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                format!("DER decoding failed: {e}")
            }
        })
    })?;
    if !rest.is_empty() {
        return Err(invalid(format!(
            "{} unexpected bytes follow the CRL",
            rest.len()
        )));
    }
    if crl.tbs_cert_list.signature != crl.signature_algorithm {
        return Err(invalid(
            "its inner and outer signature algorithms differ".to_owned(),
        ));
    }
    Ok(crl)
}

fn details(crl: &CertificateRevocationList<'_>) -> Result<CrlDetails, PkiError> {
    let issuer_dn = format_name(crl.issuer());
    let signature_algorithm =
        signature_algorithm_name(&crl.signature_algorithm).map_err(|algorithm| {
            PkiError::WeakSignatureAlgorithm {
                what: format!("the CRL issued by \"{issuer_dn}\""),
                algorithm,
            }
        })?;
    let mut revoked_count: u64 = 0;
    let mut revoked_serials = Vec::new();
    for revoked in crl.iter_revoked_certificates() {
        revoked_count = revoked_count.saturating_add(1);
        if revoked_serials.len() < MAX_LISTED_SERIALS {
            revoked_serials.push(format_serial(revoked.raw_serial()));
        }
    }
    Ok(CrlDetails {
        issuer_dn,
        this_update: secs_to_ms(crl.last_update().timestamp()),
        next_update: crl.next_update().map(|t| secs_to_ms(t.timestamp())),
        revoked_count,
        revoked_serials,
        signature_algorithm,
        crl_number: crl.crl_number().map(ToString::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_errors() {
        assert_eq!(parse_crl(""), Err(PkiError::NoCrl));
        assert_eq!(parse_crl("just text"), Err(PkiError::NoCrl));
        assert!(matches!(
            parse_crl("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(PkiError::UnexpectedCrlBlock { index: 1, .. })
        ));
        let two = "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".repeat(2);
        assert_eq!(parse_crl(&two), Err(PkiError::MultipleCrls { count: 2 }));
        assert!(matches!(
            parse_crl("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"),
            Err(PkiError::InvalidCrl { .. })
        ));
    }

    #[test]
    fn staleness() {
        let d = CrlDetails {
            issuer_dn: "CN=x".into(),
            this_update: 0,
            next_update: Some(10),
            revoked_count: 0,
            revoked_serials: vec![],
            signature_algorithm: "SHA256withRSA".into(),
            crl_number: None,
        };
        assert!(!d.is_stale_at(10));
        assert!(d.is_stale_at(11));
        let never = CrlDetails {
            next_update: None,
            ..d
        };
        assert!(!never.is_stale_at(i64::MAX));
    }
}
