//! Certificate authentication in IKE_AUTH (RFC 7296 §2.15, §3.6-3.8; RFC 7427 digital
//! signatures; RFC 4754 ECDSA): the CERT and CERTREQ payloads we send, the checks of the
//! peer's certificate, and AUTH signatures both ways.
//!
//! Trust decisions (path to a trusted CA, validity, CRLs) are `strait_pki`'s; this module
//! decides what goes on the wire and turns every refusal into a status alarm that names
//! the cause and the fix.

use std::fmt;
use std::sync::Arc;

use ike_wire::{AuthMethod, CertEncoding, IdType, Payload};
use strait_pki::{CertIdentity, PeerCertificate, SignatureScheme, SigningCredential, TrustStore};

use crate::config::Identity;

/// CERT payloads accepted from a peer (an end-entity certificate and its intermediates).
const PEER_CERTS_MAX: usize = 8;

/// A session's certificate authentication: our site certificate and key, the CAs and CRLs
/// we trust for the peer, and the key rules of its compliance suite.
pub struct CertificateAuth {
    /// The local endpoint's site certificate with its private key.
    pub credential: SigningCredential,
    /// The local endpoint's trusted CAs and CRLs.
    pub trust: TrustStore,
    /// What keys the compliance suite allows (both ours and the peer's).
    pub requirement: KeyRequirement,
    /// Identifies the inputs (certificate, key, CAs, CRLs) so that a change restarts the
    /// session and an unchanged re-apply does not.
    pub fingerprint: Vec<u8>,
}

impl fmt::Debug for CertificateAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuth")
            .field("subject", &self.credential.subject_display())
            .field("requirement", &self.requirement)
            .finish_non_exhaustive()
    }
}

/// Shared between the session's configuration copies.
pub type SharedCertificateAuth = Arc<CertificateAuth>;

/// The configured or received IKE identity as a certificate identity, for matching
/// against a certificate (RFC 4945 §3.1: the ID must be in the certificate).
pub fn cert_identity(id: &Identity) -> Option<CertIdentity> {
    let text = || String::from_utf8(id.data.clone()).ok();
    match id.id_type {
        IdType::ID_IPV4_ADDR | IdType::ID_IPV6_ADDR => id.ip_addr().map(CertIdentity::Ip),
        IdType::ID_FQDN => text().map(CertIdentity::Dns),
        IdType::ID_RFC822_ADDR => text().map(CertIdentity::Email),
        IdType::ID_DER_ASN1_DN => Some(CertIdentity::Dn {
            der: id.data.clone(),
            display: strait_pki::dn_display(&id.data).ok()?,
        }),
        _ => None,
    }
}

/// Our certificate (and its intermediates) as CERT payloads, leaf first (§3.6).
pub(crate) fn cert_payloads(auth: &CertificateAuth) -> Vec<Payload> {
    auth.credential
        .chain_der()
        .iter()
        .map(|der| Payload::Cert {
            encoding: CertEncoding::X509_SIGNATURE,
            data: der.clone(),
        })
        .collect()
}

/// A CERTREQ naming our trusted CAs by the SHA-1 of their public keys (§3.7). strongSwan
/// sends its certificate only when asked (`send_cert = ifasked`).
pub(crate) fn certreq_payload(auth: &CertificateAuth) -> Payload {
    Payload::CertReq {
        encoding: CertEncoding::X509_SIGNATURE,
        data: auth.trust.ca_key_hashes().concat(),
    }
}

/// The peer's certificates from its CERT payloads (X.509, at most [`PEER_CERTS_MAX`]),
/// end entity first (§3.6).
pub(crate) fn peer_cert_ders(inner: &[Payload]) -> Vec<Vec<u8>> {
    inner
        .iter()
        .filter_map(|p| match p {
            Payload::Cert { encoding, data } if *encoding == CertEncoding::X509_SIGNATURE => {
                Some(data.clone())
            }
            _ => None,
        })
        .take(PEER_CERTS_MAX)
        .collect()
}

/// Check the peer's certificate chain (`certs`, end entity first) at `now_unix`, and that
/// the identity it claimed is in it. Errors are alarms.
pub(crate) fn peer_certificate(
    auth: &CertificateAuth,
    certs: &[Vec<u8>],
    claimed: &Identity,
    now_unix: u64,
) -> Result<PeerCertificate, String> {
    let Some((end_entity, intermediates)) = certs.split_first() else {
        return Err("the peer sent no certificate (no CERT payload): configure the peer to send its certificate (strongSwan: certs = <file> in its local section, send_cert = always)".into());
    };
    let intermediates: Vec<&[u8]> = intermediates.iter().map(Vec::as_slice).collect();
    let peer = auth
        .trust
        .verify(end_entity, &intermediates, now_unix)
        .map_err(|e| e.to_string())?;
    auth.requirement
        .check(&peer.key_algorithm())
        .map_err(|why| {
            format!(
                "the peer's certificate {} is refused: {why}",
                peer.subject_display()
            )
        })?;
    let presented = cert_identity(claimed).is_some_and(|id| peer.presents(&id));
    if !presented {
        return Err(format!(
            "the peer identified itself as {} ({}), which its certificate does not contain (it has {}): set the peer's local ID to its certificate's subject DN or one of its subjectAltNames",
            claimed.display(),
            claimed.id_type,
            peer.describe_identities()
        ));
    }
    Ok(peer)
}

/// Everything needed to check a peer's certificate authentication, as plain data: path
/// validation and the signature check are public-key work (51-210 µs per IKE_AUTH,
/// more with long chains), done off the event loop as a [`crate::CryptoJob`].
pub(crate) struct PeerVerification {
    pub(crate) auth: SharedCertificateAuth,
    /// The peer's CERT payloads, end entity first.
    pub(crate) certs: Vec<Vec<u8>>,
    /// The ID the peer claimed (IDi or IDr).
    pub(crate) claimed: Identity,
    /// Calendar time for validity and CRL checks.
    pub(crate) now_unix: u64,
    pub(crate) method: AuthMethod,
    /// The AUTH payload's data.
    pub(crate) data: Vec<u8>,
    /// What the peer signed (§2.15).
    pub(crate) octets: Vec<u8>,
}

impl PeerVerification {
    /// The chain, the peer's key against the compliance suite, its ID in the certificate,
    /// then its AUTH signature. Errors are alarms.
    pub(crate) fn run(&self) -> Result<(), String> {
        let peer = peer_certificate(&self.auth, &self.certs, &self.claimed, self.now_unix)?;
        verify_auth(&peer, self.method, &self.data, &self.octets)
    }
}

/// Sign the AUTH octets (§2.15) with our key: RFC 7427 (method 14) with the strongest
/// scheme the peer accepts when it announced SIGNATURE_HASH_ALGORITHMS, else the RFC 4754
/// ECDSA methods 9/10/11. Errors are alarms.
pub(crate) fn sign_auth(
    auth: &CertificateAuth,
    peer_hashes: &[u16],
    octets: &[u8],
) -> Result<(AuthMethod, Vec<u8>), String> {
    let cred = &auth.credential;
    if !peer_hashes.is_empty() {
        let Some(scheme) = cred.schemes(peer_hashes).into_iter().next() else {
            return Err(format!(
                "the peer accepts signatures with hash algorithms {peer_hashes:?} (RFC 7427), none of which this gateway's {} key can make: allow SHA-256, SHA-384 or SHA-512 on the peer",
                cred.key_algorithm()
            ));
        };
        let signature = cred
            .sign(scheme, octets)
            .map_err(|e| format!("signing our AUTH payload failed: {e}"))?;
        let alg = scheme.algorithm_identifier();
        let len = u8::try_from(alg.len())
            .map_err(|_| "an AlgorithmIdentifier over 255 bytes".to_owned())?;
        let mut data = Vec::with_capacity(1 + alg.len() + signature.len());
        data.push(len);
        data.extend_from_slice(alg);
        data.extend_from_slice(&signature);
        return Ok((AuthMethod::DIGITAL_SIGNATURE, data));
    }
    let method = match cred.key_algorithm().curve_bits() {
        Some(256) => AuthMethod::ECDSA_SHA256_P256,
        Some(384) => AuthMethod::ECDSA_SHA384_P384,
        Some(521) => AuthMethod::ECDSA_SHA512_P521,
        _ => {
            return Err(format!(
                "the peer did not announce RFC 7427 signature hash algorithms, and this gateway's {} key can only sign with them: enable RFC 7427 signatures on the peer (strongSwan does by default) or use an ECDSA site certificate",
                cred.key_algorithm()
            ))
        }
    };
    let signature = cred
        .sign_ecdsa_fixed(octets)
        .map_err(|e| format!("signing our AUTH payload failed: {e}"))?;
    Ok((method, signature))
}

/// Verify the peer's AUTH payload over `octets` with its certificate's key. Errors are
/// alarms.
pub(crate) fn verify_auth(
    peer: &PeerCertificate,
    method: AuthMethod,
    data: &[u8],
    octets: &[u8],
) -> Result<(), String> {
    let refused = |e: &dyn fmt::Display| {
        format!(
            "the peer's AUTH signature does not verify with the key of its certificate {}: {e}; the peer signs with a different key than the certificate it sent",
            peer.subject_display()
        )
    };
    match method {
        AuthMethod::DIGITAL_SIGNATURE => {
            // RFC 7427 §3: length of the AlgorithmIdentifier, the AlgorithmIdentifier, the
            // signature.
            let (len, rest) = data
                .split_first()
                .ok_or_else(|| "the peer's AUTH payload is empty".to_owned())?;
            let (alg, signature) = rest
                .split_at_checked(usize::from(*len))
                .ok_or_else(|| "the peer's AUTH payload is truncated".to_owned())?;
            let scheme = SignatureScheme::from_algorithm_identifier(alg).ok_or_else(|| {
                "the peer signs with an algorithm strait does not accept (SHA-1, or unknown): use RSA or ECDSA with SHA-256, SHA-384 or SHA-512".to_owned()
            })?;
            peer.verify(scheme, octets, signature).map_err(|e| refused(&e))
        }
        AuthMethod::ECDSA_SHA256_P256 => peer
            .verify_ecdsa_fixed(256, octets, data)
            .map_err(|e| refused(&e)),
        AuthMethod::ECDSA_SHA384_P384 => peer
            .verify_ecdsa_fixed(384, octets, data)
            .map_err(|e| refused(&e)),
        AuthMethod::ECDSA_SHA512_P521 => peer
            .verify_ecdsa_fixed(512, octets, data)
            .map_err(|e| refused(&e)),
        AuthMethod::RSA_DIGITAL_SIGNATURE => {
            peer.verify_rsa_sha1(octets, data).map_err(|e| refused(&e))
        }
        other => Err(format!(
            "the peer authenticates with {other}, but this session uses certificates: set the peer to public-key (certificate) authentication"
        )),
    }
}

/// The keys a compliance suite allows, for our site certificate and the peer's.
///
/// CNSA (CNSSP 15): ECDSA P-384 or RSA of at least 3,072 bits. Suite B (RFC 6380 §5,
/// RFC 6379): ECDSA P-256 or P-384 at the 128-bit level, P-384 at the 192-bit level.
/// PRIME (the Dutch NCSC's profile): ECDSA P-256 or P-384.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyRequirement {
    /// No compliance suite: any key strait-pki accepts.
    #[default]
    Any,
    /// `CNSA`.
    Cnsa,
    /// `SUITE_B_GCM_128`.
    SuiteB128,
    /// `SUITE_B_GCM_256`.
    SuiteB256,
    /// `PRIME`.
    Prime,
}

impl KeyRequirement {
    /// What the suite allows, in words.
    pub fn allowed(self) -> &'static str {
        match self {
            KeyRequirement::Any => "any RSA (2048 bits or more) or ECDSA key",
            KeyRequirement::Cnsa => "ECDSA P-384 or RSA of 3072 bits or more",
            KeyRequirement::SuiteB128 | KeyRequirement::Prime => "ECDSA P-256 or P-384",
            KeyRequirement::SuiteB256 => "ECDSA P-384",
        }
    }

    /// Whether `key` is allowed; the error says what the suite needs.
    pub fn check(self, key: &strait_pki::KeyInfo) -> Result<(), String> {
        let (curve, rsa) = (key.curve_bits(), key.rsa_bits());
        let ok = match self {
            KeyRequirement::Any => true,
            KeyRequirement::Cnsa => curve == Some(384) || rsa.is_some_and(|b| b >= 3072),
            KeyRequirement::SuiteB128 | KeyRequirement::Prime => matches!(curve, Some(256 | 384)),
            KeyRequirement::SuiteB256 => curve == Some(384),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "its key is {key}, and the session's compliance suite allows {}",
                self.allowed()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use ike_wire::{Message, Payload};

    /// Known answer: the CERTREQ strongSwan sent in its IKE_SA_INIT response (capture d,
    /// frame 2) names the capture's CA exactly as our trust store hashes it (RFC 7296 §3.7:
    /// SHA-1 of the SubjectPublicKeyInfo), so strongSwan's CERTREQ and ours match.
    #[test]
    fn certreq_hashes_match_strongswan() {
        let cap = ike_testdata::load("d");
        let raw = cap.frame(2).and_then(|d| d.ike_message()).expect("frame 2");
        let msg = Message::parse(raw).expect("IKE_SA_INIT response");
        let theirs = msg
            .payloads
            .iter()
            .find_map(|p| match p {
                Payload::CertReq { data, .. } => Some(data.clone()),
                _ => None,
            })
            .expect("CERTREQ");
        let ca = std::fs::read_to_string(ike_testdata::dir().join("d/config/pki/ca.crt"))
            .expect("ca.crt");
        let trust = strait_pki::TrustStore::new(&[("ca", &ca)], &[]).expect("trust");
        assert_eq!(trust.ca_key_hashes().concat(), theirs);
    }
}
