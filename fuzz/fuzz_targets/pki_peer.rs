//! What a peer sends in IKE_AUTH, as strait-pki sees it: a certificate (DER) checked against
//! a trust store, an RFC 7427 AlgorithmIdentifier and signature, an ID_DER_ASN1_DN. All of it
//! is untrusted wire data: never panic, and a DN that displays must re-encode to the same
//! display.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use strait_pki::{SignatureScheme, TrustStore};

/// A CA (the strongSwan capture's) to validate against.
fn trust() -> &'static TrustStore {
    static T: OnceLock<TrustStore> = OnceLock::new();
    T.get_or_init(|| {
        let ca = include_str!("../../testdata/strongswan-captures/d/config/pki/ca.crt");
        TrustStore::new(&[("ca", ca)], &[]).expect("the capture's CA loads")
    })
}

fuzz_target!(|data: &[u8]| {
    // First byte splits the input: certificate | AUTH data (length-prefixed AlgId + sig).
    let Some((&split, rest)) = data.split_first() else { return };
    let (cert, auth) = rest.split_at(usize::from(split) * rest.len() / 256);
    let _ = strait_pki::dn_display(cert);
    if let Ok(display) = strait_pki::dn_display(cert) {
        if let Ok(strait_pki::CertIdentity::Dn { display: again, .. }) = strait_pki::dn_identity(&display) {
            assert!(strait_pki::dn_equal(&display, &again), "{display:?} vs {again:?}");
        }
    }
    let scheme = auth
        .split_first()
        .and_then(|(len, body)| body.get(..usize::from(*len)))
        .and_then(SignatureScheme::from_algorithm_identifier);
    if let Ok(peer) = trust().verify(cert, &[auth], 1_795_900_000) {
        let _ = peer.describe_identities();
        if let Some(s) = scheme {
            let _ = peer.verify(s, b"octets", auth);
        }
        let _ = peer.verify_ecdsa_fixed(256, b"octets", auth);
        let _ = peer.verify_rsa_sha1(b"octets", auth);
    }
});
