//! Test certificate authorities, site certificates and CRLs made with rcgen: real X.509
//! (RSA-2048/3072, ECDSA P-256/P-384), for certificate-authentication tests against strait
//! and strongSwan. Test-only.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// The key of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, 2048 bits.
    Rsa2048,
    /// RSA, 3072 bits.
    Rsa3072,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
}

impl KeyKind {
    fn generate(self) -> KeyPair {
        match self {
            KeyKind::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            }
            KeyKind::Rsa3072 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)
            }
            KeyKind::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        }
        .expect("key generation")
    }
}

/// A certificate with its key, as PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its DER.
    pub cert_der: Vec<u8>,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
    /// Serial number (for CRLs).
    pub serial: u64,
}

/// A CA that can issue site certificates, intermediates and CRLs.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate.
    pub cert: Issued,
    next_serial: u64,
}

/// What a site certificate says.
#[derive(Debug, Clone)]
pub struct Leaf<'a> {
    /// Subject attributes in order, e.g. `[("C", "US"), ("O", "Example"), ("CN", "site-a")]`;
    /// `emailAddress` is supported.
    pub subject: &'a [(&'a str, &'a str)],
    /// subjectAltNames: IP literals, `@`-less DNS names, or e-mail addresses (with `@`).
    pub sans: &'a [&'a str],
    /// Key type.
    pub key: KeyKind,
    /// Valid from `now + not_before_days` to `now + not_after_days`.
    pub not_before_days: i64,
    /// See `not_before_days`.
    pub not_after_days: i64,
}

impl Default for Leaf<'_> {
    fn default() -> Self {
        Leaf {
            subject: &[],
            sans: &[],
            key: KeyKind::Rsa2048,
            not_before_days: -1,
            not_after_days: 365,
        }
    }
}

fn dn(attrs: &[(&str, &str)]) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    for (k, v) in attrs {
        let t = match *k {
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "CN" => DnType::CommonName,
            // PKCS#9 emailAddress (1.2.840.113549.1.9.1), the seed page's DN attribute.
            "emailAddress" | "E" => DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            other => panic!("unsupported DN attribute {other}"),
        };
        d.push(t, *v);
    }
    d
}

impl TestCa {
    /// A self-signed root CA.
    pub fn root(name: &str, key: KeyKind) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[("C", "US"), ("O", "strait test PKI"), ("CN", name)]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.key_identifier_method = KeyIdMethod::Sha256;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(2);
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(SerialNumber::from(1u64));
        let kp = key.generate();
        let cert = params.self_signed(&kp).expect("self-signed CA");
        TestCa {
            cert: Issued {
                cert_pem: cert.pem(),
                cert_der: cert.der().to_vec(),
                key_pem: kp.serialize_pem(),
                serial: 1,
            },
            params,
            key: kp,
            next_serial: 2,
        }
    }

    fn issuer(&self) -> rcgen::Issuer<'_, &KeyPair> {
        rcgen::Issuer::from_params(&self.params, &self.key)
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&mut self, name: &str, key: KeyKind) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[("C", "US"), ("O", "strait test PKI"), ("CN", name)]);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.key_identifier_method = KeyIdMethod::Sha256;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(2);
        params.not_after = now + Duration::days(1825);
        let serial = self.next_serial;
        self.next_serial += 1;
        params.serial_number = Some(SerialNumber::from(serial));
        params.use_authority_key_identifier_extension = true;
        let kp = key.generate();
        let cert = params.signed_by(&kp, &self.issuer()).expect("intermediate");
        TestCa {
            cert: Issued {
                cert_pem: cert.pem(),
                cert_der: cert.der().to_vec(),
                key_pem: kp.serialize_pem(),
                serial,
            },
            params,
            key: kp,
            next_serial: 1,
        }
    }

    /// A site certificate signed by this CA.
    pub fn issue(&mut self, leaf: &Leaf<'_>) -> Issued {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(leaf.subject);
        params.subject_alt_names = leaf
            .sans
            .iter()
            .map(|s| {
                if let Ok(ip) = s.parse() {
                    SanType::IpAddress(ip)
                } else if s.contains('@') {
                    SanType::Rfc822Name((*s).try_into().expect("email SAN"))
                } else {
                    SanType::DnsName((*s).try_into().expect("DNS SAN"))
                }
            })
            .collect();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now + Duration::days(leaf.not_before_days);
        params.not_after = now + Duration::days(leaf.not_after_days);
        let serial = self.next_serial;
        self.next_serial += 1;
        params.serial_number = Some(SerialNumber::from(serial));
        let kp = leaf.key.generate();
        let cert = params
            .signed_by(&kp, &self.issuer())
            .expect("site certificate");
        Issued {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: kp.serialize_pem(),
            serial,
        }
    }

    /// A CRL of this CA revoking `serials` (valid from yesterday for 30 days).
    pub fn crl(&self, serials: &[u64]) -> String {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::days(1),
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: now - Duration::hours(1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.issuer())
            .expect("CRL")
            .pem()
            .expect("CRL PEM")
    }
}
