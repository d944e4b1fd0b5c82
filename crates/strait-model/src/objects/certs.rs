//! Imported certificates (NSX `TlsCertificate`) and CRLs (NSX `TlsCrl`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::common::Common;
use super::{ParseCtx, SecretChange};
use crate::problems::{codes, Problems};
use crate::reader::{json_type, ObjectReader};

/// Largest PEM text accepted (a chain of several certificates fits easily).
pub const PEM_MAX_CHARS: usize = 1 << 20;

/// One certificate of an imported chain, as NSX's `X509Certificate` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct X509Certificate {
    /// Subject distinguished name.
    pub subject: String,
    /// Subject common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_cn: Option<String>,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number (hex).
    pub serial_number: String,
    /// Start of validity, epoch milliseconds.
    pub not_before: i64,
    /// End of validity (expiry), epoch milliseconds.
    pub not_after: i64,
    /// Signature algorithm, e.g. SHA256withRSA.
    pub signature_algorithm: String,
    /// RSA, EC or ED25519.
    pub public_key_algo: String,
    /// Key size in bits.
    pub public_key_length: u32,
    /// Whether this is a CA certificate.
    pub is_ca: bool,
    /// Subject alternative names of type DNS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub san_dns: Vec<String>,
    /// Subject alternative names of type IP address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub san_ip: Vec<String>,
    /// Subject alternative names of type email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub san_email: Vec<String>,
    /// SHA-256 fingerprint.
    pub sha256_fingerprint: String,
}

impl From<&strait_pki::CertificateDetails> for X509Certificate {
    fn from(d: &strait_pki::CertificateDetails) -> Self {
        X509Certificate {
            subject: d.subject_dn.clone(),
            subject_cn: d.subject_cn.clone(),
            issuer: d.issuer_dn.clone(),
            serial_number: d.serial_number.clone(),
            not_before: d.not_before,
            not_after: d.not_after,
            signature_algorithm: d.signature_algorithm.clone(),
            public_key_algo: d.public_key_algo.clone(),
            public_key_length: d.public_key_length,
            is_ca: d.is_ca,
            san_dns: d.san_dns.clone(),
            san_ip: d.san_ip.clone(),
            san_email: d.san_email.clone(),
            sha256_fingerprint: d.sha256_fingerprint.clone(),
        }
    }
}

/// An imported certificate (chain), optionally with its private key (never returned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Certificate {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// The certificate, followed by its chain, as PEM.
    #[schema(min_length = 1)]
    pub pem_encoded: String,
    /// Key algorithm of the leaf certificate: RSA, EC or ED25519.
    #[schema(required = false)]
    pub key_algo: String,
    /// Optional purpose marker (e.g. `signing-ca`), stored as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Whether a private key was imported with it (a site certificate) (read-only).
    #[schema(required = false, read_only)]
    pub has_private_key: bool,
    /// Parsed certificates, leaf first (read-only).
    #[schema(required = false, read_only)]
    pub details: Vec<X509Certificate>,
    /// The local endpoints that use it (read-only; a delete is refused while any does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false, read_only)]
    pub used_by: Vec<crate::status::ResourceReference>,
}

impl Certificate {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
        secrets: &mut Vec<(&'static str, SecretChange)>,
    ) -> Option<Certificate> {
        let common = Common::read(r, p, ctx.path.id());
        r.ignore(&[
            "details",
            "has_private_key",
            "used_by",
            "leaf_certificate_type",
        ]);
        let pem = r.required_string(
            p,
            "pem_encoded",
            PEM_MAX_CHARS,
            "paste the certificate and its chain as -----BEGIN CERTIFICATE----- blocks",
        );
        let key_algo_given = r.string(p, "key_algo", 32);
        let purpose = r.string(p, "purpose", 64);
        let key = secret_string(r, p, "private_key", PEM_MAX_CHARS);
        let passphrase = secret_string(r, p, "passphrase", 1024);
        let chain = match pem.as_deref().map(strait_pki::parse_certificate_chain) {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                p.push("pem_encoded", codes::CERTIFICATE, e.to_string());
                return None;
            }
            None => return None,
        };
        // A new key is checked against the new chain; without one, the stored key (if any)
        // must still belong to the (possibly replaced) certificate.
        let (key_pem, pass) = match (&key, ctx.existing_secret("private_key")) {
            (Some(k), _) => (Some(k.clone()), passphrase.clone()),
            (None, Some(stored)) => (
                Some(stored),
                ctx.existing_secret("passphrase").or(passphrase.clone()),
            ),
            (None, None) => (None, passphrase.clone()),
        };
        let mut key_algo = chain
            .certificates
            .first()
            .map(|c| c.public_key_algo.clone())
            .unwrap_or_default();
        if let Some(k) = &key_pem {
            match strait_pki::check_private_key(&chain, k, pass.as_deref().map(|s| s.as_str())) {
                Ok(alg) => key_algo = alg.as_str().to_owned(),
                Err(e) => {
                    let field = if key.is_some() {
                        "private_key"
                    } else {
                        "pem_encoded"
                    };
                    p.push(field, codes::CERTIFICATE, e.to_string());
                    return None;
                }
            }
        }
        if let Some(given) = key_algo_given {
            if !given.eq_ignore_ascii_case(&key_algo) {
                p.push(
                    "key_algo",
                    codes::CERTIFICATE,
                    format!("key_algo says {given:?} but the certificate's key is {key_algo}; remove key_algo or set it to {key_algo}"),
                );
            }
        }
        if let Some(k) = key {
            secrets.push(("private_key", SecretChange::Set(k)));
            match passphrase {
                Some(pp) => secrets.push(("passphrase", SecretChange::Set(pp))),
                None => secrets.push(("passphrase", SecretChange::Clear)),
            }
        }
        Some(Certificate {
            common,
            pem_encoded: pem?,
            key_algo,
            purpose,
            has_private_key: key_pem.is_some(),
            details: chain
                .certificates
                .iter()
                .map(X509Certificate::from)
                .collect(),
            used_by: Vec::new(),
        })
    }

    /// The leaf (first) certificate.
    pub fn leaf(&self) -> Option<&X509Certificate> {
        self.details.first()
    }
}

fn secret_string<'a>(
    r: &mut ObjectReader<'a>,
    p: &mut Problems,
    name: &'a str,
    max: usize,
) -> Option<Zeroizing<String>> {
    match r.raw(name)? {
        serde_json::Value::String(s) if s.len() > max => {
            p.field(name, format!("is longer than {max} characters"));
            None
        }
        serde_json::Value::String(s) if s.is_empty() => None,
        serde_json::Value::String(s) => Some(Zeroizing::new(s.clone())),
        other => {
            p.field(
                name,
                format!("expected a string, found {}", json_type(other)),
            );
            None
        }
    }
}

/// NSX `TlsCrl` details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CrlDetails {
    /// Issuer distinguished name.
    pub issuer: String,
    /// When the CRL was issued, epoch milliseconds.
    pub this_update: i64,
    /// When the next CRL is due, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update: Option<i64>,
    /// Number of revoked certificates.
    pub revoked_count: u64,
    /// Signature algorithm.
    pub signature_algorithm: String,
    /// CRL number, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_number: Option<String>,
}

/// An imported certificate revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Crl {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// The CRL as PEM (`-----BEGIN X509 CRL-----`).
    #[schema(min_length = 1)]
    pub pem_encoded: String,
    /// Always `X509`.
    #[schema(required = false, pattern = "^X509$")]
    pub crl_type: String,
    /// Parsed CRL (read-only).
    #[schema(required = false, read_only)]
    pub details: CrlDetails,
    /// The local endpoints that use it (read-only; a delete is refused while any does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false, read_only)]
    pub used_by: Vec<crate::status::ResourceReference>,
}

impl Crl {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> Option<Crl> {
        let common = Common::read(r, p, ctx.path.id());
        r.ignore(&["details", "used_by"]);
        if let Some(t) = r.string(p, "crl_type", 32) {
            if t != "X509" {
                p.push(
                    "crl_type",
                    codes::UNSUPPORTED,
                    format!("crl_type {t:?} is not supported; use X509"),
                );
            }
        }
        let pem = r.required_string(
            p,
            "pem_encoded",
            PEM_MAX_CHARS,
            "paste the CRL as a -----BEGIN X509 CRL----- block",
        )?;
        match strait_pki::parse_crl(&pem) {
            Ok(d) => Some(Crl {
                common,
                pem_encoded: pem,
                crl_type: "X509".into(),
                details: CrlDetails {
                    issuer: d.issuer_dn,
                    this_update: d.this_update,
                    next_update: d.next_update,
                    revoked_count: d.revoked_count,
                    signature_algorithm: d.signature_algorithm,
                    crl_number: d.crl_number,
                },
                used_by: Vec::new(),
            }),
            Err(e) => {
                p.push("pem_encoded", codes::CERTIFICATE, e.to_string());
                None
            }
        }
    }
}
