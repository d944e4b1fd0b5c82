//! Integration tests: certificates, keys and CRLs generated with rcgen at
//! test time, plus a few OpenSSL-made fixtures for what rcgen cannot make.

mod fixtures;

use proptest::prelude::*;
use rcgen::string::Ia5String;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SanType, SerialNumber, SignatureAlgorithm,
};
use std::net::IpAddr;
use strait_pki::{
    check_private_key, dn_equal, normalize_dn, parse_certificate_chain, parse_certificate_der,
    parse_crl, verify_crl_signature, CertificateChain, KeyAlgorithm, PkiError, MAX_PEM_BYTES,
};

// ---------------------------------------------------------------- helpers

/// A generated certificate with its key.
struct Generated {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
    der: Vec<u8>,
}

impl Generated {
    fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

fn key(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("key generation")
}

fn dn(entries: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in entries {
        dn.push(ty.clone(), DnValue::Utf8String((*value).to_owned()));
    }
    dn
}

fn ca_params(cn: &str) -> CertificateParams {
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
    params
}

fn leaf_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(vec![format!("{cn}.example.com")]).expect("params");
    params.distinguished_name = dn(&[
        (DnType::CountryName, "US"),
        (DnType::OrganizationName, "Org"),
        (DnType::CommonName, cn),
    ]);
    params
}

fn self_signed(params: CertificateParams, alg: &'static SignatureAlgorithm) -> Generated {
    let key = key(alg);
    let cert = params.self_signed(&key).expect("self-signed");
    Generated {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        params,
        key,
    }
}

fn signed_by(
    params: CertificateParams,
    alg: &'static SignatureAlgorithm,
    issuer: &Generated,
) -> Generated {
    let key = key(alg);
    let issuer = Issuer::from_params(&issuer.params, &issuer.key);
    let cert = params.signed_by(&key, &issuer).expect("signed");
    Generated {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        params,
        key,
    }
}

fn chain_of(certs: &[&Generated]) -> String {
    certs.iter().map(|c| c.pem.as_str()).collect()
}

fn parse_ok(pem: &str) -> CertificateChain {
    parse_certificate_chain(pem).unwrap_or_else(|e| panic!("chain should parse: {e}"))
}

/// Re-wraps the inner key of a PKCS#8 document as PKCS#1 / SEC1 PEM.
fn inner_key_pem(pkcs8_der: &[u8], tag: &str) -> String {
    let info = pkcs8::PrivateKeyInfo::try_from(pkcs8_der).expect("pkcs8");
    pem::encode(&pem::Pem::new(tag, info.private_key.to_vec()))
}

fn encrypt_pkcs8(pkcs8_der: &[u8], passphrase: &str) -> String {
    let info = pkcs8::PrivateKeyInfo::try_from(pkcs8_der).expect("pkcs8");
    let salt = [7u8; 16];
    let iv = [9u8; 16];
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv)
        .expect("pbes2 params");
    let doc = info
        .encrypt_with_params(params, passphrase)
        .expect("encrypt");
    pem::encode(&pem::Pem::new(
        "ENCRYPTED PRIVATE KEY",
        doc.as_bytes().to_vec(),
    ))
}

// ------------------------------------------------------ single certificates

#[test]
fn rsa_2048_leaf_details() {
    let mut params = leaf_params("Site123");
    params.serial_number = Some(SerialNumber::from_slice(&[0x0a, 0x1b, 0x2c]));
    params.not_before = date_time_ymd(2024, 1, 2);
    params.not_after = date_time_ymd(2034, 1, 2);
    let g = self_signed(params, &rcgen::PKCS_RSA_SHA256);
    let chain = parse_ok(&g.pem);
    assert_eq!(chain.certificates.len(), 1);
    assert_eq!(chain.ders, vec![g.der.clone()]);
    let d = chain.leaf().expect("leaf");
    assert_eq!(d.subject_dn, "C=US, O=Org, CN=Site123");
    assert_eq!(d.issuer_dn, "C=US, O=Org, CN=Site123");
    assert_eq!(d.subject_cn.as_deref(), Some("Site123"));
    assert_eq!(d.serial_number, "0a:1b:2c");
    assert_eq!(d.not_before, 1_704_153_600_000);
    assert_eq!(d.not_after, 2_019_772_800_000);
    assert!(d.is_valid_at(1_704_153_600_000));
    assert!(!d.is_valid_at(1_704_153_599_999));
    assert_eq!(d.signature_algorithm, "SHA256withRSA");
    assert_eq!(d.public_key_algo, "RSA");
    assert_eq!(d.public_key_length, 2048);
    assert!(!d.is_ca);
    assert_eq!(d.san_dns, vec!["Site123.example.com".to_owned()]);
    // Uppercase, colon separated, 32 bytes.
    assert_eq!(d.sha256_fingerprint.len(), 32 * 3 - 1);
    assert!(d
        .sha256_fingerprint
        .chars()
        .all(|c| c == ':' || c.is_ascii_digit() || ('A'..='F').contains(&c)));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &g.der);
    let expected: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(d.sha256_fingerprint, expected.join(":"));

    assert_eq!(parse_certificate_der(&g.der).as_ref(), Ok(d));
    assert_eq!(
        check_private_key(&chain, &g.key_pem(), None),
        Ok(KeyAlgorithm::Rsa)
    );
}

#[test]
fn details_serialize_with_snake_case_names() {
    let g = self_signed(leaf_params("json"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let chain = parse_ok(&g.pem);
    let value = serde_json::to_value(chain.leaf().expect("leaf")).expect("json");
    for field in [
        "subject_dn",
        "subject_cn",
        "issuer_dn",
        "serial_number",
        "not_before",
        "not_after",
        "signature_algorithm",
        "public_key_algo",
        "public_key_length",
        "is_ca",
        "san_dns",
        "san_ip",
        "san_email",
        "sha256_fingerprint",
    ] {
        assert!(value.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn ecdsa_and_ed25519_leaves() {
    let cases: [(&'static SignatureAlgorithm, &str, u32, &str, KeyAlgorithm); 4] = [
        (
            &rcgen::PKCS_ECDSA_P256_SHA256,
            "SHA256withECDSA",
            256,
            "EC",
            KeyAlgorithm::Ec,
        ),
        (
            &rcgen::PKCS_ECDSA_P384_SHA384,
            "SHA384withECDSA",
            384,
            "EC",
            KeyAlgorithm::Ec,
        ),
        (
            &rcgen::PKCS_ECDSA_P521_SHA512,
            "SHA512withECDSA",
            521,
            "EC",
            KeyAlgorithm::Ec,
        ),
        (
            &rcgen::PKCS_ED25519,
            "ED25519",
            256,
            "ED25519",
            KeyAlgorithm::Ed25519,
        ),
    ];
    for (alg, sig, bits, algo, key_alg) in cases {
        let g = self_signed(leaf_params("ec-site"), alg);
        let chain = parse_ok(&g.pem);
        let d = chain.leaf().expect("leaf");
        assert_eq!(d.signature_algorithm, sig);
        assert_eq!(d.public_key_length, bits, "{sig}");
        assert_eq!(d.public_key_algo, algo);
        assert_eq!(check_private_key(&chain, &g.key_pem(), None), Ok(key_alg));
        assert_eq!(key_alg.as_str(), algo);
    }
}

#[test]
fn san_entries_and_email_in_dn() {
    let mut params = leaf_params("Site123");
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CountryName,
        DnValue::PrintableString("US".try_into().expect("ps")),
    );
    params.distinguished_name.push(
        DnType::OrganizationName,
        DnValue::Utf8String("Org, Inc.".into()),
    );
    params
        .distinguished_name
        .push(DnType::CommonName, DnValue::Utf8String("Site123".into()));
    params.distinguished_name.push(
        DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]),
        DnValue::Ia5String(Ia5String::try_from("admin@example.com").expect("ia5")),
    );
    params.subject_alt_names = vec![
        SanType::DnsName(Ia5String::try_from("vpn.example.com").expect("ia5")),
        SanType::DnsName(Ia5String::try_from("*.vpn.example.com").expect("ia5")),
        SanType::IpAddress(IpAddr::from([192, 0, 2, 10])),
        SanType::IpAddress("2001:db8::1".parse().expect("ip")),
        SanType::Rfc822Name(Ia5String::try_from("vpn@example.com").expect("ia5")),
        SanType::URI(Ia5String::try_from("https://example.com/").expect("ia5")),
    ];
    let g = self_signed(params, &rcgen::PKCS_ECDSA_P256_SHA256);
    let chain = parse_ok(&g.pem);
    let d = chain.leaf().expect("leaf");
    assert_eq!(
        d.subject_dn,
        "C=US, O=Org\\, Inc., CN=Site123, emailAddress=admin@example.com"
    );
    assert_eq!(d.san_dns, vec!["vpn.example.com", "*.vpn.example.com"]);
    assert_eq!(d.san_ip, vec!["192.0.2.10", "2001:db8::1"]);
    assert_eq!(d.san_email, vec!["vpn@example.com"]);
    // The displayed DN is what operators copy into IKE IDs.
    assert!(dn_equal(
        &d.subject_dn,
        "C=us,O=\"org, inc.\",CN=site123,E=ADMIN@example.com"
    ));
    assert!(!dn_equal(
        &d.subject_dn,
        "O=Org\\, Inc., C=US, CN=Site123, E=admin@example.com"
    ));
}

#[test]
fn openssl_p384_cert_with_email_dn_and_sec1_key() {
    let chain = parse_ok(fixtures::SEC1_CERT);
    let d = chain.leaf().expect("leaf");
    assert_eq!(
        d.subject_dn,
        "C=US, ST=CA, O=Org, OU=VPN, CN=sec1-site, emailAddress=vpn@example.com"
    );
    assert_eq!(d.signature_algorithm, "SHA384withECDSA");
    assert_eq!(d.public_key_length, 384);
    assert!(dn_equal(
        &d.subject_dn,
        "C=US, S=CA, O=Org, OU=VPN, CN=sec1-site, E=vpn@example.com"
    ));
    // EC PARAMETERS + EC PRIVATE KEY, as written by `openssl ecparam -genkey`.
    assert_eq!(
        check_private_key(&chain, fixtures::SEC1_KEY, None),
        Ok(KeyAlgorithm::Ec)
    );
}

#[test]
fn rsassa_pss_certificate_and_pkcs1_key() {
    let chain = parse_ok(fixtures::PSS_CERT);
    let d = chain.leaf().expect("leaf");
    assert_eq!(d.signature_algorithm, "RSASSA-PSS(SHA256)");
    assert_eq!(d.public_key_algo, "RSA");
    assert_eq!(
        check_private_key(&chain, fixtures::PSS_KEY_PKCS1, None),
        Ok(KeyAlgorithm::Rsa)
    );
}

// ------------------------------------------------------------ weak / bad

#[test]
fn sha1_and_md5_certificates_are_rejected() {
    let err = parse_certificate_chain(fixtures::SHA1_CERT).expect_err("sha1");
    assert!(
        matches!(err, PkiError::WeakSignatureAlgorithm { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("certificate 1 (CN=legacy-sha1)"), "{msg}");
    assert!(msg.contains("SHA1withRSA"), "{msg}");
    assert!(
        msg.contains("NSX/strait require SHA256/384/512withRSA or ECDSA"),
        "{msg}"
    );

    let msg = parse_certificate_chain(fixtures::MD5_CERT)
        .expect_err("md5")
        .to_string();
    assert!(
        msg.contains("MD5withRSA") && msg.contains("CN=legacy-md5"),
        "{msg}"
    );

    // A SHA-1 certificate in second position is named as certificate 2.
    let leaf = self_signed(leaf_params("leaf"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let msg = parse_certificate_chain(&format!("{}{}", leaf.pem, fixtures::SHA1_CERT))
        .expect_err("sha1 second")
        .to_string();
    assert!(msg.contains("certificate 2 (CN=legacy-sha1)"), "{msg}");
}

#[test]
fn weak_keys_and_v1_certificates_are_rejected() {
    let err = parse_certificate_chain(fixtures::RSA1024_CERT).expect_err("rsa1024");
    assert!(
        matches!(err, PkiError::UnsupportedPublicKey { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("1024-bit RSA key"), "{err}");

    let err = parse_certificate_chain(fixtures::V1_CERT).expect_err("v1");
    assert!(
        matches!(err, PkiError::InvalidCertificate { index: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("v1"), "{err}");
}

#[test]
fn garbage_and_truncated_input() {
    assert_eq!(parse_certificate_chain(""), Err(PkiError::NoCertificate));
    assert_eq!(
        parse_certificate_chain("this is not a certificate"),
        Err(PkiError::NoCertificate)
    );
    let msg = PkiError::NoCertificate.to_string();
    assert!(msg.contains("-----BEGIN CERTIFICATE-----"), "{msg}");

    let g = self_signed(leaf_params("t"), &rcgen::PKCS_ECDSA_P256_SHA256);
    // Lose the END line.
    let cut = g.pem.find("-----END").expect("end");
    let err = parse_certificate_chain(g.pem.get(..cut).expect("slice")).expect_err("no end");
    assert!(matches!(err, PkiError::MalformedPem { .. }), "{err:?}");
    // Drop base64 lines in the middle: decodes, but the DER is truncated.
    let lines: Vec<&str> = g.pem.lines().collect();
    let mut short = vec![lines[0], lines[1], lines[2]];
    short.push(lines[lines.len() - 1]);
    let err = parse_certificate_chain(&short.join("\n")).expect_err("truncated");
    assert!(
        matches!(
            err,
            PkiError::InvalidCertificate { .. } | PkiError::MalformedPem { .. }
        ),
        "{err:?}"
    );
    // Invalid base64 character.
    let broken = g.pem.replacen('M', "*", 1);
    assert!(matches!(
        parse_certificate_chain(&broken),
        Err(PkiError::MalformedPem { .. })
    ));
    // Trailing bytes after the DER.
    let mut der = g.der.clone();
    der.extend_from_slice(&[0, 0]);
    let pem = pem::encode(&pem::Pem::new("CERTIFICATE", der));
    let err = parse_certificate_chain(&pem).expect_err("trailing");
    assert!(err.to_string().contains("unexpected bytes"), "{err}");
    // Oversized input.
    let big = " ".repeat(MAX_PEM_BYTES + 1);
    assert!(matches!(
        parse_certificate_chain(&big),
        Err(PkiError::InputTooLarge { .. })
    ));
}

#[test]
fn wrong_block_types() {
    let g = self_signed(leaf_params("t"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let with_key = format!("{}{}", g.pem, g.key_pem());
    let err = parse_certificate_chain(&with_key).expect_err("key in cert field");
    assert!(
        matches!(err, PkiError::PrivateKeyInCertificate { index: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("private_key"), "{err}");

    let csr = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    let err = parse_certificate_chain(&format!("{}{csr}", g.pem)).expect_err("csr");
    assert!(err.to_string().contains("CERTIFICATE REQUEST"), "{err}");
}

#[test]
fn too_many_and_duplicate_certificates() {
    let root = self_signed(ca_params("Root"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let many = root.pem.repeat(11);
    assert_eq!(
        parse_certificate_chain(&many),
        Err(PkiError::TooManyCertificates { count: 11, max: 10 })
    );
    let err = parse_certificate_chain(&root.pem.repeat(2)).expect_err("dup");
    assert!(
        matches!(
            err,
            PkiError::DuplicateCertificate {
                index: 2,
                first: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

// ------------------------------------------------------------------ chains

#[test]
fn chain_in_correct_order() {
    let root = self_signed(ca_params("Root CA"), &rcgen::PKCS_RSA_SHA256);
    let inter = signed_by(
        ca_params("Issuing CA"),
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &root,
    );
    let leaf = signed_by(leaf_params("site1"), &rcgen::PKCS_ECDSA_P256_SHA256, &inter);
    let chain = parse_ok(&chain_of(&[&leaf, &inter, &root]));
    assert_eq!(chain.certificates.len(), 3);
    assert_eq!(chain.ders.len(), 3);
    assert!(!chain.certificates[0].is_ca);
    assert!(chain.certificates[1].is_ca);
    assert!(chain.certificates[2].is_ca);
    assert_eq!(
        chain.certificates[0].issuer_dn,
        chain.certificates[1].subject_dn
    );
    // Leaf + intermediate only (root omitted) is fine too.
    parse_ok(&chain_of(&[&leaf, &inter]));
    assert_eq!(
        check_private_key(&chain, &leaf.key_pem(), None),
        Ok(KeyAlgorithm::Ec)
    );
    // The CA key is not the leaf's key.
    assert!(matches!(
        check_private_key(&chain, &inter.key_pem(), None),
        Err(PkiError::KeyMismatch { .. })
    ));
}

#[test]
fn chains_with_p521_ed25519_and_rsa_issuers() {
    for alg in [
        &rcgen::PKCS_ECDSA_P521_SHA512,
        &rcgen::PKCS_ECDSA_P521_SHA384,
        &rcgen::PKCS_ED25519,
        &rcgen::PKCS_RSA_SHA384,
        &rcgen::PKCS_RSA_SHA512,
    ] {
        let root = self_signed(ca_params("Root"), alg);
        let leaf = signed_by(leaf_params("s"), &rcgen::PKCS_ECDSA_P256_SHA256, &root);
        parse_ok(&chain_of(&[&leaf, &root]));
    }
}

#[test]
fn chain_in_wrong_order() {
    let root = self_signed(ca_params("Root CA"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let inter = signed_by(
        ca_params("Issuing CA"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &root,
    );
    let leaf = signed_by(leaf_params("site1"), &rcgen::PKCS_ECDSA_P256_SHA256, &inter);

    // CA first, then leaf.
    let err = parse_certificate_chain(&chain_of(&[&inter, &leaf])).expect_err("reversed");
    assert!(
        matches!(
            err,
            PkiError::ChainReversed {
                index: 1,
                next: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("leaf first"), "{err}");
    let err = parse_certificate_chain(&chain_of(&[&root, &inter, &leaf])).expect_err("reversed 3");
    assert!(matches!(err, PkiError::ChainReversed { .. }), "{err:?}");
    // Leaf, then an unrelated CA: incomplete.
    let other = self_signed(ca_params("Other CA"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let err = parse_certificate_chain(&chain_of(&[&leaf, &other])).expect_err("unrelated");
    assert!(matches!(err, PkiError::ChainIncomplete { .. }), "{err:?}");
    assert!(
        err.to_string().contains("incomplete or out of order"),
        "{err}"
    );

    // leaf, root, intermediate: the leaf's issuer is certificate 3.
    let err = parse_certificate_chain(&chain_of(&[&leaf, &root, &inter])).expect_err("misplaced");
    assert_eq!(
        err,
        PkiError::ChainOutOfOrder {
            index: 1,
            subject: "C=US, O=Org, CN=site1".to_owned(),
            issuer_index: 3,
            next: 2,
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("out of order") && msg.contains("leaf first"),
        "{msg}"
    );
}

#[test]
fn chain_incomplete() {
    let root = self_signed(ca_params("Root CA"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let inter = signed_by(
        ca_params("Issuing CA"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &root,
    );
    let leaf = signed_by(leaf_params("site1"), &rcgen::PKCS_ECDSA_P256_SHA256, &inter);
    let err = parse_certificate_chain(&chain_of(&[&leaf, &root])).expect_err("gap");
    match &err {
        PkiError::ChainIncomplete {
            index,
            issuer,
            next,
            ..
        } => {
            assert_eq!((*index, *next), (1, 2));
            assert_eq!(issuer, "C=US, O=Strait Test, CN=Issuing CA");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("incomplete"), "{err}");

    // Same issuer name, different key: the signature does not verify.
    let impostor = self_signed(ca_params("Issuing CA"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let err = parse_certificate_chain(&chain_of(&[&leaf, &impostor])).expect_err("impostor");
    assert!(matches!(err, PkiError::ChainIncomplete { .. }), "{err:?}");
}

// -------------------------------------------------------------------- keys

#[test]
fn key_formats() {
    // RSA: PKCS#8 (rcgen), PKCS#1 (inner key of the PKCS#8).
    let rsa = self_signed(leaf_params("rsa"), &rcgen::PKCS_RSA_SHA256);
    let rsa_chain = parse_ok(&rsa.pem);
    let pkcs1 = inner_key_pem(rsa.key.serialized_der(), "RSA PRIVATE KEY");
    assert_eq!(
        check_private_key(&rsa_chain, &pkcs1, None),
        Ok(KeyAlgorithm::Rsa)
    );

    // EC: SEC1 without curve parameters (inner key of the PKCS#8).
    let ec = self_signed(leaf_params("ec"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let ec_chain = parse_ok(&ec.pem);
    let sec1 = inner_key_pem(ec.key.serialized_der(), "EC PRIVATE KEY");
    assert_eq!(
        check_private_key(&ec_chain, &sec1, None),
        Ok(KeyAlgorithm::Ec)
    );

    // Encrypted PKCS#8 generated here.
    let encrypted = encrypt_pkcs8(ec.key.serialized_der(), "s3cret");
    assert_eq!(
        check_private_key(&ec_chain, &encrypted, Some("s3cret")),
        Ok(KeyAlgorithm::Ec)
    );
    assert_eq!(
        check_private_key(&ec_chain, &encrypted, Some("wrong")),
        Err(PkiError::WrongPassphrase)
    );
    assert_eq!(
        check_private_key(&ec_chain, &encrypted, None),
        Err(PkiError::PassphraseRequired)
    );
    assert_eq!(
        check_private_key(&ec_chain, &encrypted, Some("")),
        Err(PkiError::PassphraseRequired)
    );
    // A passphrase given for an unencrypted key is ignored.
    assert_eq!(
        check_private_key(&ec_chain, &ec.key_pem(), Some("unused")),
        Ok(KeyAlgorithm::Ec)
    );
}

#[test]
fn openssl_encrypted_pkcs8_key() {
    let chain = parse_ok(fixtures::ENCRYPTED_KEY_CERT);
    assert_eq!(
        check_private_key(
            &chain,
            fixtures::ENCRYPTED_KEY,
            Some(fixtures::ENCRYPTED_KEY_PASSPHRASE)
        ),
        Ok(KeyAlgorithm::Rsa)
    );
    let err = check_private_key(&chain, fixtures::ENCRYPTED_KEY, Some("nope")).expect_err("pw");
    assert_eq!(err, PkiError::WrongPassphrase);
    assert!(err.to_string().contains("passphrase"), "{err}");
    let err = check_private_key(&chain, fixtures::ENCRYPTED_KEY, None).expect_err("no pw");
    assert_eq!(err, PkiError::PassphraseRequired);
    assert!(err.to_string().contains("supply its passphrase"), "{err}");

    let err = check_private_key(
        &chain,
        fixtures::LEGACY_ENCRYPTED_KEY,
        Some(fixtures::ENCRYPTED_KEY_PASSPHRASE),
    )
    .expect_err("legacy");
    assert!(
        matches!(err, PkiError::UnsupportedKeyEncryption { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");
}

#[test]
fn key_mismatch() {
    let a = self_signed(leaf_params("site-a"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let b = self_signed(leaf_params("site-b"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let chain = parse_ok(&a.pem);
    let err = check_private_key(&chain, &b.key_pem(), None).expect_err("mismatch");
    assert_eq!(
        err,
        PkiError::KeyMismatch {
            subject: "C=US, O=Org, CN=site-a".to_owned()
        }
    );
    assert!(
        err.to_string().contains(
            "does not belong to the certificate whose subject is \"C=US, O=Org, CN=site-a\""
        ),
        "{err}"
    );

    // Another key type altogether.
    let rsa = self_signed(leaf_params("rsa"), &rcgen::PKCS_RSA_SHA256);
    assert!(matches!(
        check_private_key(&chain, &rsa.key_pem(), None),
        Err(PkiError::KeyMismatch { .. })
    ));
    let rsa_b = self_signed(leaf_params("rsa-b"), &rcgen::PKCS_RSA_SHA256);
    assert!(matches!(
        check_private_key(&parse_ok(&rsa.pem), &rsa_b.key_pem(), None),
        Err(PkiError::KeyMismatch { .. })
    ));
    // Same curve family, different curve.
    let p384 = self_signed(leaf_params("p384"), &rcgen::PKCS_ECDSA_P384_SHA384);
    assert!(matches!(
        check_private_key(&chain, &p384.key_pem(), None),
        Err(PkiError::KeyMismatch { .. })
    ));
    let sec1_p384 = inner_key_pem(p384.key.serialized_der(), "EC PRIVATE KEY");
    assert!(matches!(
        check_private_key(&chain, &sec1_p384, None),
        Err(PkiError::KeyMismatch { .. })
    ));
    let ed = self_signed(leaf_params("ed"), &rcgen::PKCS_ED25519);
    let ed2 = self_signed(leaf_params("ed2"), &rcgen::PKCS_ED25519);
    assert!(matches!(
        check_private_key(&parse_ok(&ed.pem), &ed2.key_pem(), None),
        Err(PkiError::KeyMismatch { .. })
    ));
}

#[test]
fn key_block_errors() {
    let g = self_signed(leaf_params("k"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let chain = parse_ok(&g.pem);
    assert_eq!(
        check_private_key(&chain, "", None),
        Err(PkiError::NoPrivateKey)
    );
    assert_eq!(
        check_private_key(&chain, &g.key_pem().repeat(2), None),
        Err(PkiError::MultiplePrivateKeys { count: 2 })
    );
    assert!(matches!(
        check_private_key(&chain, &g.pem, None),
        Err(PkiError::UnexpectedKeyBlock { index: 1, .. })
    ));
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        check_private_key(&chain, garbage, None),
        Err(PkiError::InvalidPrivateKey { .. })
    ));
    let garbage = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert!(matches!(
        check_private_key(&chain, garbage, None),
        Err(PkiError::InvalidPrivateKey { .. })
    ));
    let garbage = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
    assert!(matches!(
        check_private_key(&chain, garbage, None),
        Err(PkiError::InvalidPrivateKey { .. })
    ));
    let garbage =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert!(matches!(
        check_private_key(&chain, garbage, Some("x")),
        Err(PkiError::InvalidPrivateKey { .. })
    ));
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    let err = check_private_key(&chain, openssh, None).expect_err("openssh");
    assert!(err.to_string().contains("OPENSSH PRIVATE KEY"), "{err}");
    // Truncated key PEM.
    let key_pem = g.key_pem();
    let cut = key_pem.find("-----END").expect("end");
    assert!(matches!(
        check_private_key(&chain, key_pem.get(..cut).expect("slice"), None),
        Err(PkiError::MalformedPem { .. })
    ));
}

// -------------------------------------------------------------------- CRLs

fn make_crl(issuer: &Generated, revoked: u64) -> String {
    let params = CertificateRevocationListParams {
        this_update: date_time_ymd(2025, 1, 1),
        next_update: date_time_ymd(2025, 2, 1),
        crl_number: SerialNumber::from_slice(&[0x04, 0xd2]),
        issuing_distribution_point: None,
        revoked_certs: (1..=revoked)
            .map(|i| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&i.to_be_bytes()),
                revocation_time: date_time_ymd(2024, 12, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let issuer = Issuer::from_params(&issuer.params, &issuer.key);
    params
        .signed_by(&issuer)
        .expect("crl")
        .pem()
        .expect("crl pem")
}

#[test]
fn crl_with_revoked_entries() {
    let ca = self_signed(ca_params("CRL CA"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let crl_pem = make_crl(&ca, 3);
    let crl = parse_crl(&crl_pem).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(crl.issuer_dn, "C=US, O=Strait Test, CN=CRL CA");
    assert_eq!(crl.this_update, 1_735_689_600_000);
    assert_eq!(crl.next_update, Some(1_738_368_000_000));
    assert!(!crl.is_stale_at(1_738_368_000_000));
    assert!(crl.is_stale_at(1_738_368_000_001));
    assert_eq!(crl.revoked_count, 3);
    assert_eq!(crl.revoked_serials, vec!["01", "02", "03"]);
    assert_eq!(crl.signature_algorithm, "SHA256withECDSA");
    assert_eq!(crl.crl_number.as_deref(), Some("1234"));
    serde_json::to_value(&crl).expect("json");

    assert_eq!(verify_crl_signature(&crl_pem, &ca.der), Ok(()));

    let other = self_signed(ca_params("Other CA"), &rcgen::PKCS_ECDSA_P256_SHA256);
    assert!(matches!(
        verify_crl_signature(&crl_pem, &other.der),
        Err(PkiError::CrlIssuerMismatch { .. })
    ));
    let impostor = self_signed(ca_params("CRL CA"), &rcgen::PKCS_RSA_SHA256);
    let err = verify_crl_signature(&crl_pem, &impostor.der).expect_err("impostor");
    assert!(
        matches!(err, PkiError::CrlSignatureInvalid { .. }),
        "{err:?}"
    );
    assert!(verify_crl_signature(&crl_pem, &[1, 2, 3]).is_err());
}

#[test]
fn crl_serial_list_is_capped() {
    let ca = self_signed(ca_params("Big CRL CA"), &rcgen::PKCS_ED25519);
    let crl_pem = make_crl(&ca, 1005);
    let crl = parse_crl(&crl_pem).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(crl.revoked_count, 1005);
    assert_eq!(crl.revoked_serials.len(), 1000);
    assert_eq!(crl.signature_algorithm, "ED25519");
    assert_eq!(verify_crl_signature(&crl_pem, &ca.der), Ok(()));
}

#[test]
fn sha1_crl_is_rejected() {
    let err = parse_crl(fixtures::SHA1_CRL).expect_err("sha1 crl");
    assert!(
        matches!(err, PkiError::WeakSignatureAlgorithm { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("SHA1withRSA"), "{err}");
}

#[test]
fn crl_block_errors() {
    let ca = self_signed(ca_params("CA"), &rcgen::PKCS_ECDSA_P256_SHA256);
    let crl_pem = make_crl(&ca, 1);
    assert_eq!(
        parse_crl(&crl_pem.repeat(2)),
        Err(PkiError::MultipleCrls { count: 2 })
    );
    assert!(matches!(
        parse_crl(&format!("{}{crl_pem}", ca.pem)),
        Err(PkiError::UnexpectedCrlBlock { index: 1, .. })
    ));
    let cut = crl_pem.find("-----END").expect("end");
    assert!(matches!(
        parse_crl(crl_pem.get(..cut).expect("slice")),
        Err(PkiError::MalformedPem { .. })
    ));
}

// --------------------------------------------------------------------- DNs

#[test]
fn dn_comparisons() {
    assert!(dn_equal("C=US, O=Org, CN=Site", "c=us,o=org,cn=site"));
    assert!(dn_equal("CN=My   Site ", "CN= my site"));
    assert!(!dn_equal("C=US, O=Org, CN=Site", "CN=Site, O=Org, C=US"));
    assert!(dn_equal(
        "E=a@example.com, CN=x",
        "emailAddress=a@example.com, CN=x"
    ));
    assert!(dn_equal("CN=a\\,b", "CN=\"a,b\""));
    assert!(!dn_equal("CN=a", "CN=a, O=b"));
    assert_eq!(
        normalize_dn("cn=Site , e=A@B.example").as_deref(),
        Ok("CN=site, emailAddress=a@b.example")
    );
    let err = normalize_dn("CN=x, nonsense").expect_err("invalid");
    assert!(matches!(err, PkiError::InvalidDn { .. }));
    assert!(err.to_string().contains("C=US, O=Org, CN=site1"), "{err}");
}

// --------------------------------------------------------------- proptests

fn tags() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "CERTIFICATE",
        "X509 CRL",
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "EC PARAMETERS",
        "FOO",
    ])
}

fn fixed_chain() -> (CertificateChain, Vec<u8>) {
    let g = self_signed(leaf_params("prop"), &rcgen::PKCS_ECDSA_P256_SHA256);
    (parse_ok(&g.pem), g.der)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,400}") {
        let (chain, der) = fixed_chain_cached();
        let _ = parse_certificate_chain(&s);
        let _ = parse_crl(&s);
        let _ = normalize_dn(&s);
        let _ = dn_equal(&s, &s);
        let _ = check_private_key(chain, &s, None);
        let _ = check_private_key(chain, &s, Some(&s));
        let _ = verify_crl_signature(&s, der);
    }

    #[test]
    fn arbitrary_bytes_in_pem_blocks_never_panic(
        tag in tags(),
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let (chain, der) = fixed_chain_cached();
        let pem = pem::encode(&pem::Pem::new(tag, bytes.clone()));
        let _ = parse_certificate_chain(&pem);
        let _ = parse_crl(&pem);
        let _ = check_private_key(chain, &pem, Some("pw"));
        let _ = verify_crl_signature(&pem, der);
        let _ = verify_crl_signature(&pem, &bytes);
        let _ = parse_certificate_der(&bytes);
        let bogus = CertificateChain { certificates: vec![], ders: vec![bytes] };
        let _ = check_private_key(&bogus, &pem, None);
    }

    #[test]
    fn mutated_certificates_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (_, der) = fixed_chain_cached();
        let mut der = der.clone();
        for (index, value) in flips {
            let i = index.index(der.len());
            der[i] = value;
        }
        let _ = parse_certificate_der(&der);
        let pem = pem::encode(&pem::Pem::new("CERTIFICATE", der));
        let _ = parse_certificate_chain(&pem);
    }

    #[test]
    fn normalized_dns_are_stable(s in "[ -~]{0,80}") {
        if let Ok(once) = normalize_dn(&s) {
            let twice = normalize_dn(&once);
            prop_assert_eq!(twice.as_deref(), Ok(once.as_str()));
            prop_assert!(dn_equal(&s, &once));
            prop_assert!(dn_equal(&s, &s));
        } else {
            prop_assert!(!dn_equal(&s, &s));
        }
    }

    #[test]
    fn structured_dns_round_trip(
        values in prop::collection::vec("[ -~]{0,20}", 1..5),
    ) {
        // Build "CN=<escaped>, O=<escaped>..." and check it parses and that
        // changing the case/spacing keeps it equal.
        let types = ["CN", "O", "OU", "L", "C"];
        let parts: Vec<String> = values
            .iter()
            .zip(types.iter().cycle())
            .map(|(v, t)| format!("{t}={}", escape(v)))
            .collect();
        let dn = parts.join(", ");
        let norm = normalize_dn(&dn);
        prop_assert!(norm.is_ok(), "{} -> {:?}", dn, norm);
        let upper = parts
            .iter()
            .map(|p| format!("  {} ", p.to_uppercase()))
            .collect::<Vec<_>>()
            .join(";");
        prop_assert!(dn_equal(&dn, &upper), "{} vs {}", dn, upper);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the certificate's DN values, the displayed subject DN parses
    /// back and matches itself (operators paste it into IKE IDs).
    #[test]
    fn displayed_subject_dns_parse_back(
        cn in "[^\\p{Cc}]{1,24}",
        org in "[ -~]{1,16}",
    ) {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[
            (DnType::OrganizationName, org.as_str()),
            (DnType::CommonName, cn.as_str()),
        ]);
        let g = self_signed(params, &rcgen::PKCS_ED25519);
        let chain = parse_ok(&g.pem);
        let d = chain.leaf().expect("leaf");
        prop_assert_eq!(d.subject_cn.as_deref(), Some(cn.as_str()));
        let normalized = normalize_dn(&d.subject_dn);
        prop_assert!(normalized.is_ok(), "{} -> {:?}", d.subject_dn, normalized);
        prop_assert!(dn_equal(&d.subject_dn, &d.issuer_dn));
    }
}

/// RFC 4514 escaping for the property test (every special character).
fn escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '#' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn fixed_chain_cached() -> &'static (CertificateChain, Vec<u8>) {
    static CHAIN: std::sync::OnceLock<(CertificateChain, Vec<u8>)> = std::sync::OnceLock::new();
    CHAIN.get_or_init(fixed_chain)
}
