//! Certificates, keys and CRLs for tests, generated with rcgen (ECDSA P-256, fast), and
//! helpers that import them through the API.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use serde_json::{json, Value};

use super::{Http, P};

/// A generated certificate with its key.
pub struct Generated {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub pem: String,
}

impl Generated {
    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

fn dn(entries: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in entries {
        dn.push(ty.clone(), DnValue::Utf8String((*value).to_owned()));
    }
    dn
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key generation")
}

/// A self-signed CA (`C=US, O=Strait Test, CN=<cn>`), valid 2024-2040.
pub fn ca(cn: &str) -> Generated {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(&[
        (DnType::CountryName, "US"),
        (DnType::OrganizationName, "Strait Test"),
        (DnType::CommonName, cn),
    ]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2040, 1, 1);
    let key = new_key();
    let cert = params.self_signed(&key).expect("self-signed");
    Generated {
        pem: cert.pem(),
        params,
        key,
    }
}

/// A site certificate `C=US, O=Org, CN=<cn>` with SAN `<cn>.example.com`, signed by `issuer`,
/// valid until 2039-06-01.
pub fn leaf(cn: &str, issuer: &Generated) -> Generated {
    let mut params = CertificateParams::new(vec![format!("{cn}.example.com")]).expect("params");
    params.distinguished_name = dn(&[
        (DnType::CountryName, "US"),
        (DnType::OrganizationName, "Org"),
        (DnType::CommonName, cn),
    ]);
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2039, 6, 1);
    let key = new_key();
    let iss = Issuer::from_params(&issuer.params, &issuer.key);
    let cert = params.signed_by(&key, &iss).expect("signed");
    Generated {
        pem: cert.pem(),
        params,
        key,
    }
}

/// An empty CRL issued by `issuer`.
pub fn crl(issuer: &Generated) -> String {
    let params = CertificateRevocationListParams {
        this_update: date_time_ymd(2025, 1, 1),
        next_update: date_time_ymd(2035, 1, 1),
        crl_number: SerialNumber::from_slice(&[0x01]),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let iss = Issuer::from_params(&issuer.params, &issuer.key);
    params.signed_by(&iss).expect("crl").pem().expect("crl pem")
}

/// Self-signed RSA certificate signed with SHA1withRSA (made with OpenSSL; copied from
/// crates/strait-pki/tests/fixtures, since rcgen cannot sign with SHA-1).
pub const SHA1_CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIDUzCCAjugAwIBAgIUBP7Lg2kfwmzq72UuTS55CAnW8gMwDQYJKoZIhvcNAQEF
BQAwODELMAkGA1UEBhMCVVMxEzARBgNVBAoMCkxlZ2FjeSBPcmcxFDASBgNVBAMM
C2xlZ2FjeS1zaGExMCAXDTI2MTEyNzIwMjA0MloYDzIxMjYxMTAzMjAyMDQyWjA4
MQswCQYDVQQGEwJVUzETMBEGA1UECgwKTGVnYWN5IE9yZzEUMBIGA1UEAwwLbGVn
YWN5LXNoYTEwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQC0QBhG+xsT
Xbiz8wneZ4IAxjselEdFFGnjFqc71aUBmZyB8m2DuBo39TvGhZjH+PfNYKhdQz0e
h7X6QWMS+OXFo38QKhRyq4xhjfatYQ0r8HjdKhEg+KeypKDamzqtfGPBT7M7SWBv
paHWoqz7iE2tlGFN9kqmVNMidR6KprSaGofc4b421U0dgPhOMe2IzEBLTfURVlGa
FKgYcJ4k2DJ3BsHRSs67weWmgCBpRlV6n3fr4ty6BaZOTVnDyQ9lX0XDFVnOi9tP
YKLXzMW5f3lxOGyKrRiUC1BZrf2DmABcCdclan/AaR+rtyuEKX2JP3w6YgFUW4RZ
JoA0m4PO0Nc7AgMBAAGjUzBRMB0GA1UdDgQWBBRnORM8KY+ZuDqp3R4e9x/39ibQ
XjAfBgNVHSMEGDAWgBRnORM8KY+ZuDqp3R4e9x/39ibQXjAPBgNVHRMBAf8EBTAD
AQH/MA0GCSqGSIb3DQEBBQUAA4IBAQBDiXh8+YuoqhSevbDwFccxor4qKqtaHJ/k
MibDt4qLFfTRh8QjlAePjY3snAJzeRHwOKUWrkSB+0OcGzFJvp+p8EnhiyBkAZns
MnK/brUKVUBPuDFT2uBH5ou2jYf7TZ5EQBqlydbGcUyzM4yhF6wSr80TGt7e6/b8
y23V/PJIbbVefM2E8H67Nf8GzAui3zEUE+dRPSC6nUQ4FKaUFogxR9Onk4dVkGAa
30ded122l+S3kU5XTMXTlAu9aTT5xwnS5JBomDw3xD+p765Nq+az/ruMqPSaoozR
uUKsJIX+xlApFGdwAzxHcYZod0JTAbHJFiagBAUcjXlmmEhx94WS
-----END CERTIFICATE-----
";

/// URL of `/infra/certificates/{id}`.
pub fn cert_url(id: &str) -> String {
    format!("{P}/infra/certificates/{id}")
}

/// Policy path of `/infra/certificates/{id}`.
pub fn cert_path(id: &str) -> String {
    format!("/infra/certificates/{id}")
}

/// URL of `/infra/crls/{id}`.
pub fn crl_url(id: &str) -> String {
    format!("{P}/infra/crls/{id}")
}

/// Import a CA certificate (no key) as `id`.
pub fn import_ca(h: &Http, id: &str, ca: &Generated) {
    h.patch(&cert_url(id), &json!({"pem_encoded": ca.pem}))
        .expect(200);
}

/// Import a site certificate with its chain and private key as `id`.
pub fn import_site(h: &Http, id: &str, site: &Generated, ca: &Generated) {
    let body: Value =
        json!({"pem_encoded": format!("{}{}", site.pem, ca.pem), "private_key": site.key_pem()});
    h.patch(&cert_url(id), &body).expect(200);
}

/// A CA, a site certificate `site` signed by it, both imported (`ca`, `site`), and the seed's
/// local endpoint switched to them: ready for CERTIFICATE sessions.
pub fn certificate_endpoint(h: &Http) -> (Generated, Generated) {
    let ca = ca("Test CA");
    let site = leaf("site-a", &ca);
    import_ca(h, "ca", &ca);
    import_site(h, "site", &site, &ca);
    h.patch(
        super::seed::LE,
        &json!({"certificate_path": cert_path("site"), "trust_ca_paths": [cert_path("ca")]}),
    )
    .expect(200);
    (ca, site)
}
