//! The public-key work of one certificate-authenticated IKE SA, per side, single thread:
//! `cargo bench -p strait-pki --bench ike_auth`. One IKE_AUTH costs each gateway one
//! signature (its own AUTH), one path validation of the peer's certificate and one
//! signature verification (the peer's AUTH). Certificates are made with rcgen (ECDSA P-256
//! CA, leaves of each key type).

use std::time::{SystemTime, UNIX_EPOCH};

use divan::{black_box, Bencher};
use ike_testdata::pki::{KeyKind, Leaf, TestCa};
use strait_pki::{SignatureScheme, SigningCredential, TrustStore};

fn main() {
    divan::main();
}

const KEYS: [&str; 4] = ["rsa-2048", "rsa-3072", "ecdsa-p256", "ecdsa-p384"];

struct Fixture {
    cred: SigningCredential,
    trust: TrustStore,
    leaf_der: Vec<u8>,
    scheme: SignatureScheme,
}

fn fixture(key: &str) -> Fixture {
    let kind = match key {
        "rsa-2048" => KeyKind::Rsa2048,
        "rsa-3072" => KeyKind::Rsa3072,
        "ecdsa-p256" => KeyKind::EcdsaP256,
        _ => KeyKind::EcdsaP384,
    };
    let mut ca = TestCa::root("bench CA", KeyKind::EcdsaP256);
    let leaf = ca.issue(&Leaf {
        subject: &[("CN", "bench")],
        sans: &["198.51.100.1"],
        key: kind,
        ..Leaf::default()
    });
    let cred =
        SigningCredential::from_pem(&leaf.cert_pem, &leaf.key_pem, None).expect("credential");
    let scheme = cred.schemes(&[2, 3, 4])[0];
    Fixture {
        cred,
        trust: TrustStore::new(&[("ca", &ca.cert.cert_pem)], &[]).expect("trust"),
        leaf_der: leaf.cert_der,
        scheme,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Our AUTH signature (RFC 7427) over ~600 octets (an IKE_SA_INIT message, a nonce, a MAC).
#[divan::bench(args = KEYS)]
fn sign_auth(bencher: Bencher, key: &str) {
    let f = fixture(key);
    let octets = vec![7u8; 600];
    bencher.bench_local(|| f.cred.sign(f.scheme, black_box(&octets)).expect("sign"));
}

/// Path validation of the peer's certificate to its CA.
#[divan::bench(args = KEYS)]
fn verify_chain(bencher: Bencher, key: &str) {
    let f = fixture(key);
    let t = now();
    bencher.bench_local(|| {
        f.trust
            .verify(black_box(&f.leaf_der), &[], t)
            .expect("verify")
    });
}

/// Verification of the peer's AUTH signature.
#[divan::bench(args = KEYS)]
fn verify_auth(bencher: Bencher, key: &str) {
    let f = fixture(key);
    let octets = vec![7u8; 600];
    let sig = f.cred.sign(f.scheme, &octets).expect("sign");
    let peer = f.trust.verify(&f.leaf_der, &[], now()).expect("verify");
    bencher.bench_local(|| {
        peer.verify(f.scheme, black_box(&octets), &sig)
            .expect("auth")
    });
}
