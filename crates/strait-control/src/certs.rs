//! From the stored policy to a session's certificate authentication: the local endpoint's
//! site certificate with its private key, its trusted CAs and CRLs, and the key rules of
//! the session's compliance suite (seed page: "If you select Certificate, the site
//! certificate that was used to configure the local endpoint is used for authentication").
//!
//! Every refusal is the alarm of a "Configuration failed" session and says what to change.

use std::sync::Arc;

use ike_proto::{CertificateAuth, Identity, KeyRequirement};
use strait_model::enums::ComplianceSuite;
use strait_model::identity::IkeIdentity;
use strait_model::objects::{LocalEndpoint, RouteBasedSession};
use strait_model::PolicyObject;
use strait_pki::{CertIdentity, SigningCredential, TrustStore};
use strait_policy::TreeSnapshot;

/// The key rules of a compliance suite (see [`KeyRequirement`]).
pub fn key_requirement(suite: ComplianceSuite) -> KeyRequirement {
    match suite {
        ComplianceSuite::Cnsa => KeyRequirement::Cnsa,
        ComplianceSuite::SuiteBGcm128 => KeyRequirement::SuiteB128,
        ComplianceSuite::SuiteBGcm256 => KeyRequirement::SuiteB256,
        ComplianceSuite::Prime => KeyRequirement::Prime,
        // FOUNDATION and FIPS need IKEv1 / IKE_FLEX and never get this far.
        ComplianceSuite::Foundation | ComplianceSuite::Fips | ComplianceSuite::None => {
            KeyRequirement::Any
        }
    }
}

/// A certificate identity as the IKE identity it travels as (RFC 7296 §3.5).
pub fn identity_of(id: &CertIdentity) -> Identity {
    match id {
        CertIdentity::Ip(ip) => Identity::ip(*ip),
        CertIdentity::Dns(name) => Identity::fqdn(name),
        CertIdentity::Email(addr) => Identity::email(addr),
        CertIdentity::Dn { der, .. } => Identity::dn_der(der.clone()),
    }
}

/// An NSX ID string as an IKE identity, DNs included (ID_DER_ASN1_DN).
pub fn identity_with_dn(s: &str) -> Result<Identity, String> {
    match IkeIdentity::parse(s).map_err(|e| e.to_string())? {
        IkeIdentity::Ip(ip) => Ok(Identity::ip(ip)),
        IkeIdentity::Fqdn(f) => Ok(Identity::fqdn(&f)),
        IkeIdentity::Rfc822(e) => Ok(Identity::email(&e)),
        // Encoded from the string as written (the parsed form is normalized for
        // comparison, lowercase), so alarms show the operator's own spelling.
        IkeIdentity::Dn(_) => strait_pki::dn_identity(s)
            .map(|id| identity_of(&id))
            .map_err(|e| format!("the ID {s:?} is not a DN strait can encode: {e}")),
    }
}

/// The session's certificate authentication and the local ID it implies (NSX: derived
/// from the site certificate: SAN IP, else SAN DNS, else SAN email, else the subject DN).
pub fn certificate_auth(
    tree: &TreeSnapshot,
    endpoint_path: &str,
    le: &LocalEndpoint,
    s: &RouteBasedSession,
) -> Result<(Arc<CertificateAuth>, Identity), String> {
    let Some(cert_path) = le.certificate_path.as_deref() else {
        return Err(format!(
            "the session uses certificate authentication but its local endpoint {endpoint_path} has no site certificate: import the gateway's certificate with its private key and set it as the local endpoint's certificate_path"
        ));
    };
    let Some(PolicyObject::Certificate(cert)) = tree.get(cert_path) else {
        return Err(format!(
            "the local endpoint's site certificate {cert_path} does not exist: import it, or set certificate_path to an imported certificate"
        ));
    };
    let Some(key) = tree.private_keys.get(cert_path) else {
        return Err(format!(
            "the local endpoint's site certificate {cert_path} has no usable private key: import the certificate again with its private key"
        ));
    };
    let credential = SigningCredential::from_pem(
        &cert.pem_encoded,
        &key.key_pem,
        key.passphrase.as_deref().map(|p| p.as_str()),
    )
    .map_err(|e| format!("the site certificate {cert_path} cannot sign: {e}"))?;
    if le.trust_ca_paths.is_empty() {
        return Err(format!(
            "the local endpoint {endpoint_path} trusts no CA (trust_ca_paths is empty), so no peer certificate can be accepted: add the CA that issued the peer's certificate"
        ));
    }
    let mut cas = Vec::new();
    for path in &le.trust_ca_paths {
        let Some(PolicyObject::Certificate(ca)) = tree.get(path) else {
            return Err(format!(
                "the trusted CA {path} of local endpoint {endpoint_path} does not exist: import it or remove it from trust_ca_paths"
            ));
        };
        cas.push((path.as_str(), ca.pem_encoded.as_str()));
    }
    let mut crls = Vec::new();
    for path in &le.trust_crl_paths {
        let Some(PolicyObject::Crl(crl)) = tree.get(path) else {
            return Err(format!(
                "the CRL {path} of local endpoint {endpoint_path} does not exist: import it or remove it from trust_crl_paths"
            ));
        };
        crls.push((path.as_str(), crl.pem_encoded.as_str()));
    }
    let trust = TrustStore::new(&cas, &crls).map_err(|e| {
        format!("the trusted CAs or CRLs of local endpoint {endpoint_path} cannot be used: {e}")
    })?;
    let requirement = key_requirement(s.compliance_suite);
    requirement.check(&credential.key_algorithm()).map_err(|why| {
        format!(
            "the site certificate {cert_path} ({}) cannot be used with compliance suite {}: {why}; import a certificate with such a key",
            credential.subject_display(),
            s.compliance_suite
        )
    })?;
    // The model fills local_id with the local address when it is not given; that default
    // does not apply to certificates.
    let given = le
        .local_id
        .as_deref()
        .filter(|id| *id != le.local_address.to_string());
    let local_id = match given {
        // NSX derives the local ID from the site certificate; one the operator set must be
        // in the certificate (RFC 4945 §3.1), or the peer would refuse it.
        None => identity_of(&credential.default_identity()),
        Some(given) => {
            let id = identity_with_dn(given)?;
            let in_cert =
                ike_proto::cert_auth::cert_identity(&id).is_some_and(|c| credential.presents(&c));
            if !in_cert {
                return Err(format!(
                    "the local endpoint's local_id {given} is not in its site certificate {} ({}): remove local_id to use the certificate's identity, or set it to the certificate's subject DN or one of its subjectAltNames",
                    cert_path,
                    credential.subject_display()
                ));
            }
            id
        }
    };
    let fingerprint = fingerprint(&[
        cert.pem_encoded.as_bytes(),
        key.key_pem.as_bytes(),
        key.passphrase.as_deref().map_or(&b""[..], |p| p.as_bytes()),
        cas.iter()
            .map(|(_, p)| *p)
            .collect::<Vec<_>>()
            .concat()
            .as_bytes(),
        crls.iter()
            .map(|(_, p)| *p)
            .collect::<Vec<_>>()
            .concat()
            .as_bytes(),
        s.compliance_suite.to_string().as_bytes(),
    ]);
    Ok((
        Arc::new(CertificateAuth {
            credential,
            trust,
            requirement,
            fingerprint,
        }),
        local_id,
    ))
}

/// SHA-256 over the inputs, each length-prefixed (the key is hashed, never kept).
fn fingerprint(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}
