//! The IKE side of strait-pki with real certificates (rcgen): signing credentials, every
//! signature scheme both ways, trust decisions and their messages, identities.

use std::time::{SystemTime, UNIX_EPOCH};

use ike_testdata::pki::{KeyKind, Leaf, TestCa};
use strait_pki::{
    dn_display, dn_equal, dn_identity, CertIdentity, SignatureScheme, SigningCredential,
    TrustError, TrustStore,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const ALL_HASHES: &[u16] = &[2, 3, 4, 5];

#[test]
fn every_key_signs_and_its_certificate_verifies() {
    let mut ca = TestCa::root("test CA", KeyKind::EcdsaP384);
    let trust = TrustStore::new(&[("ca", &ca.cert.cert_pem)], &[]).unwrap();
    for (key, schemes) in [
        (
            KeyKind::Rsa2048,
            vec![
                SignatureScheme::RsaPkcs1Sha256,
                SignatureScheme::RsaPkcs1Sha384,
                SignatureScheme::RsaPkcs1Sha512,
                SignatureScheme::RsaPssSha256,
                SignatureScheme::RsaPssSha384,
                SignatureScheme::RsaPssSha512,
            ],
        ),
        (KeyKind::Rsa3072, vec![SignatureScheme::RsaPkcs1Sha384]),
        (KeyKind::EcdsaP256, vec![SignatureScheme::EcdsaSha256]),
        (KeyKind::EcdsaP384, vec![SignatureScheme::EcdsaSha384]),
    ] {
        let leaf = ca.issue(&Leaf {
            subject: &[("CN", "gw")],
            sans: &["198.51.100.1"],
            key,
            ..Leaf::default()
        });
        let cred = SigningCredential::from_pem(&leaf.cert_pem, &leaf.key_pem, None).unwrap();
        let peer = trust.verify(&leaf.cert_der, &[], now()).unwrap();
        assert_eq!(peer.key_algorithm(), cred.key_algorithm());
        for scheme in &schemes {
            let sig = cred.sign(*scheme, b"signed octets").unwrap();
            peer.verify(*scheme, b"signed octets", &sig).unwrap();
            assert!(
                peer.verify(*scheme, b"other octets", &sig).is_err(),
                "{key:?} {scheme:?}"
            );
        }
        // The preferred scheme is among what the peer accepts.
        let first = cred.schemes(ALL_HASHES)[0];
        assert!(
            schemes.contains(&first) || key == KeyKind::Rsa2048,
            "{key:?} {first:?}"
        );
        assert!(
            cred.schemes(&[]).is_empty(),
            "nothing without the peer's hashes"
        );
        if matches!(key, KeyKind::EcdsaP256 | KeyKind::EcdsaP384) {
            let bits = if key == KeyKind::EcdsaP256 { 256 } else { 384 };
            let sig = cred.sign_ecdsa_fixed(b"m").unwrap();
            assert_eq!(sig.len(), bits / 4, "r||s");
            peer.verify_ecdsa_fixed(bits as u16, b"m", &sig).unwrap();
            // RSA schemes do not fit an EC key.
            assert!(cred.sign(SignatureScheme::RsaPkcs1Sha256, b"m").is_err());
        } else {
            assert!(cred.sign_ecdsa_fixed(b"m").is_err());
            let sig = cred.sign(SignatureScheme::RsaPkcs1Sha256, b"m").unwrap();
            assert!(peer
                .verify(SignatureScheme::EcdsaSha256, b"m", &sig)
                .is_err());
        }
        assert!(
            !format!("{cred:?}").contains("PRIVATE"),
            "Debug shows no key"
        );
    }
}

#[test]
fn refusals_say_what_and_what_to_change() {
    let mut ca = TestCa::root("good CA", KeyKind::EcdsaP256);
    let mut other = TestCa::root("stranger CA", KeyKind::EcdsaP256);
    let good = ca.issue(&Leaf {
        subject: &[("CN", "peer")],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let expired = ca.issue(&Leaf {
        subject: &[("CN", "old")],
        key: KeyKind::EcdsaP256,
        not_before_days: -30,
        not_after_days: -1,
        ..Leaf::default()
    });
    let stranger = other.issue(&Leaf {
        subject: &[("CN", "x")],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let crl = ca.crl(&[good.serial]);
    let plain = TrustStore::new(&[("/infra/certificates/ca", &ca.cert.cert_pem)], &[]).unwrap();
    let revoking = TrustStore::new(
        &[("/infra/certificates/ca", &ca.cert.cert_pem)],
        &[("/infra/crls/ca-crl", &crl)],
    )
    .unwrap();
    assert!(plain.verify(&good.cert_der, &[], now()).is_ok());
    match revoking.verify(&good.cert_der, &[], now()) {
        Err(e @ TrustError::Revoked { .. }) => {
            assert!(e.to_string().contains("/infra/crls/ca-crl"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match plain.verify(&expired.cert_der, &[], now()) {
        Err(e @ TrustError::Expired { .. }) => {
            assert!(e.to_string().contains("expired on 20"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match plain.verify(&stranger.cert_der, &[], now()) {
        Err(e @ TrustError::UnknownIssuer { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("stranger CA") && m.contains("good CA") && m.contains("trust_ca_paths"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        plain.verify(&[0x30, 0x03, 1, 2, 3], &[], now()),
        Err(TrustError::Malformed(_))
    ));
    // A certificate whose keyUsage lacks digitalSignature may not sign AUTH payloads:
    // strongSwan's capture CA (keyCertSign + cRLSign only) sent as a peer certificate.
    let d = ike_testdata::dir().join("d/config/pki");
    let swan_ca = std::fs::read_to_string(d.join("ca.crt")).unwrap();
    let swan_trust = TrustStore::new(&[("ca", &swan_ca)], &[]).unwrap();
    let swan_ca_der = pem::parse(&swan_ca).unwrap().into_contents();
    match swan_trust.verify(&swan_ca_der, &[], 1_795_900_000) {
        Err(e @ TrustError::KeyUsage { .. }) => {
            assert!(e.to_string().contains("digitalSignature"), "{e}")
        }
        other => panic!("a CA without digitalSignature must not sign: {other:?}"),
    }
    // A CRL that names a trusted CA but is signed by another key cannot be loaded.
    let impostor = TestCa::root("good CA", KeyKind::EcdsaP256);
    let forged = impostor.crl(&[1]);
    let e = TrustStore::new(
        &[("ca", &ca.cert.cert_pem)],
        &[("/infra/crls/bad", &forged)],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("/infra/crls/bad") && e.contains("did not sign"),
        "{e}"
    );
    // A CRL of an issuer that is not a trust anchor (an intermediate's) is accepted here.
    let foreign = other.crl(&[1]);
    assert!(TrustStore::new(&[("ca", &ca.cert.cert_pem)], &[("other", &foreign)]).is_ok());
}

#[test]
fn identities_follow_nsx_and_match_the_seed_pages_dn() {
    let mut ca = TestCa::root("CA", KeyKind::EcdsaP256);
    let seed = [
        ("C", "US"),
        ("ST", "California"),
        ("O", "MyCompany"),
        ("OU", "MyOrg"),
        ("CN", "Site123"),
        ("emailAddress", "site123@example.com"),
    ];
    let dn_only = ca.issue(&Leaf {
        subject: &seed,
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let sans = ca.issue(&Leaf {
        subject: &[("CN", "gw")],
        sans: &["gw.example.com", "198.51.100.1", "ops@example.com"],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let c1 = SigningCredential::from_pem(&dn_only.cert_pem, &dn_only.key_pem, None).unwrap();
    let c2 = SigningCredential::from_pem(&sans.cert_pem, &sans.key_pem, None).unwrap();
    // NSX: SAN IP > SAN DNS > SAN email > subject DN.
    assert_eq!(
        c2.default_identity(),
        CertIdentity::Ip("198.51.100.1".parse().unwrap())
    );
    match c1.default_identity() {
        CertIdentity::Dn { der, display } => {
            assert_eq!(der, c1.subject_der());
            assert!(dn_equal(&display, "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=site123@example.com"));
        }
        other => panic!("{other:?}"),
    }
    for written in [
        "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=site123@example.com",
        "C=US,ST=California,O=MyCompany,OU=MyOrg,CN=Site123,E=site123@example.com",
        "c=us, st=california, o=mycompany, ou=myorg, cn=site123, email=SITE123@example.com",
    ] {
        let id = dn_identity(written).unwrap();
        assert!(c1.presents(&id), "{written}");
        assert!(!c2.presents(&id), "{written}");
    }
    // The DER we encode from a string displays as written.
    let id = dn_identity("C=US, O=My Company, CN=Site 123").unwrap();
    if let CertIdentity::Dn { der, display } = id {
        assert_eq!(dn_display(&der).unwrap(), display);
        assert_eq!(display, "C=US, O=My Company, CN=Site 123");
    }
    assert!(c2.presents(&CertIdentity::Dns("GW.example.com".into())));
    assert!(c2.presents(&CertIdentity::Email("ops@example.com".into())));
    assert!(!c2.presents(&CertIdentity::Ip("198.51.100.2".parse().unwrap())));
    assert!(dn_identity("not a dn").is_err());
    assert!(dn_display(&[1, 2, 3]).is_err());
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let mut ca = TestCa::root("CA", KeyKind::EcdsaP256);
    let a = ca.issue(&Leaf {
        subject: &[("CN", "a")],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let b = ca.issue(&Leaf {
        subject: &[("CN", "b")],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let e = SigningCredential::from_pem(&a.cert_pem, &b.key_pem, None).unwrap_err();
    assert!(e.to_string().contains("CN=a"), "{e}");
    // A chain with its intermediate: the intermediate is sent, a self-signed root is not.
    let mut inter = ca.intermediate("issuing", KeyKind::EcdsaP256);
    let leaf = inter.issue(&Leaf {
        subject: &[("CN", "c")],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let chain = format!(
        "{}{}{}",
        leaf.cert_pem, inter.cert.cert_pem, ca.cert.cert_pem
    );
    let cred = SigningCredential::from_pem(&chain, &leaf.key_pem, None).unwrap();
    assert_eq!(cred.chain_der().len(), 2);
}
