//! Certificate authentication between two strait endpoints on virtual time: real X.509
//! certificates (rcgen), real signatures and chain checks (strait-pki), IKE_AUTH
//! fragmented on the wire (RFC 7383), and every refusal named in the status alarm.
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Pair, A, B};
use ike_proto::{CertificateAuth, FailReason, Identity, IkeState, KeyRequirement};
use ike_testdata::pki::{Issued, KeyKind, Leaf, TestCa};
use strait_pki::{SigningCredential, TrustStore};

const DN_B: &str =
    "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=site123@example.com";

/// A session's certificate authentication from PEMs.
fn auth(
    site: &Issued,
    intermediates: &[&Issued],
    cas: &[&TestCa],
    crls: &[String],
    requirement: KeyRequirement,
) -> Arc<CertificateAuth> {
    let mut chain = site.cert_pem.clone();
    for i in intermediates {
        chain.push_str(&i.cert_pem);
    }
    let credential =
        SigningCredential::from_pem(&chain, &site.key_pem, None).expect("site credential");
    let ca_pems: Vec<(&str, &str)> = cas
        .iter()
        .map(|c| ("ca", c.cert.cert_pem.as_str()))
        .collect();
    let crl_pems: Vec<(&str, &str)> = crls.iter().map(|c| ("crl", c.as_str())).collect();
    let trust = TrustStore::new(&ca_pems, &crl_pems).expect("trust store");
    Arc::new(CertificateAuth {
        credential,
        trust,
        requirement,
        fingerprint: chain.into_bytes(),
    })
}

fn dn(s: &str) -> Identity {
    match strait_pki::dn_identity(s).expect("DN") {
        strait_pki::CertIdentity::Dn { der, .. } => Identity::dn_der(der),
        other => panic!("not a DN: {other:?}"),
    }
}

/// A (initiator, SAN IP A) and B (responder, the seed page's DN with an e-mail address).
struct Setup {
    ca: TestCa,
    a: Issued,
    b: Issued,
}

fn setup(key: KeyKind) -> Setup {
    let mut ca = TestCa::root("strait test root", KeyKind::EcdsaP256);
    let a = ca.issue(&Leaf {
        subject: &[("C", "US"), ("O", "strait"), ("CN", "site-a")],
        sans: &[A],
        key,
        ..Leaf::default()
    });
    let b = ca.issue(&Leaf {
        subject: &[
            ("C", "US"),
            ("ST", "California"),
            ("O", "MyCompany"),
            ("OU", "MyOrg"),
            ("CN", "Site123"),
            ("emailAddress", "site123@example.com"),
        ],
        key,
        ..Leaf::default()
    });
    Setup { ca, a, b }
}

/// Configure A (initiator) and B (responder) with certificate sessions and run.
fn run(
    pair: &mut Pair,
    a: Arc<CertificateAuth>,
    b: Arc<CertificateAuth>,
    b_expects: Identity,
    a_days: i64,
) {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let a_unix = unix.saturating_add_signed(a_days * 86_400);
    pair.a.ep.set_wall_clock(pair.now, a_unix);
    pair.b.ep.set_wall_clock(pair.now, unix);
    let mut sa = common::session(A, B, true);
    sa.certificate = Some(a);
    sa.local_id = Identity::ip(common::ip(A));
    sa.remote_id = dn(DN_B);
    let mut sb = common::session(B, A, false);
    sb.certificate = Some(b);
    sb.local_id = dn(DN_B);
    sb.remote_id = b_expects;
    pair.configure(sa, sb);
    pair.deliver();
    pair.run_for(Duration::from_secs(3));
}

/// Whether some IKE datagram from `from_a` carried an Encrypted Fragment (SKF, 53) as its
/// first payload (the header's Next Payload, after the non-ESP marker on 4500).
fn fragmented(pair: &Pair, from_a: bool) -> bool {
    pair.wire.iter().any(|(a, t)| {
        *a == from_a
            && t.data.len() > 20
            && t.data.starts_with(&[0, 0, 0, 0])
            && t.data[4 + 16] == 53
    })
}

#[test]
fn every_key_type_authenticates_with_fragmented_ike_auth() {
    for (i, key) in [
        KeyKind::Rsa2048,
        KeyKind::Rsa3072,
        KeyKind::EcdsaP256,
        KeyKind::EcdsaP384,
    ]
    .into_iter()
    .enumerate()
    {
        let s = setup(key);
        let mut pair = Pair::new(100 + i as u64);
        let a = auth(&s.a, &[], &[&s.ca], &[], KeyRequirement::Any);
        let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Any);
        run(&mut pair, a, b, Identity::ip(common::ip(A)), 0);
        let (sa, sb) = (pair.status_a(), pair.status_b());
        assert_eq!(sa.ike_state, IkeState::Up, "{key:?}: {sa:?}");
        assert_eq!(sb.ike_state, IkeState::Up, "{key:?}: {sb:?}");
        pair.assert_one_matching_child();
        // Nothing larger than a 1,280-byte IP packet leaves (RFC 7383 §2.5.1); RSA-3072
        // certificates and signatures need fragments both ways.
        let largest = pair
            .wire
            .iter()
            .map(|(_, t)| t.data.len())
            .max()
            .unwrap_or(0);
        assert!(largest <= 1232, "{key:?}: a {largest}-byte IKE datagram");
        if key == KeyKind::Rsa3072 {
            assert!(
                fragmented(&pair, true),
                "{key:?}: A's IKE_AUTH was not fragmented"
            );
            assert!(
                fragmented(&pair, false),
                "{key:?}: B's IKE_AUTH was not fragmented"
            );
        }
        // Rekeys keep working with certificates (no new authentication, §2.8).
        pair.a.ep.rekey_ike(pair.now, &pair.a_id(), &mut pair.a.rng);
        pair.deliver();
        pair.run_for(Duration::from_secs(2));
        assert_eq!(pair.status_a().ike_state, IkeState::Up);
        pair.assert_one_matching_child();
    }
}

#[test]
fn an_intermediate_ca_is_sent_and_accepted() {
    let mut root = TestCa::root("strait test root", KeyKind::Rsa3072);
    let mut inter = root.intermediate("strait issuing CA", KeyKind::EcdsaP256);
    let a_cert = inter.issue(&Leaf {
        subject: &[("CN", "site-a")],
        sans: &[A],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let b_cert = root.issue(&Leaf {
        subject: &[
            ("C", "US"),
            ("ST", "California"),
            ("O", "MyCompany"),
            ("OU", "MyOrg"),
            ("CN", "Site123"),
            ("emailAddress", "site123@example.com"),
        ],
        key: KeyKind::Rsa2048,
        ..Leaf::default()
    });
    let mut pair = Pair::new(7);
    let a = auth(&a_cert, &[&inter.cert], &[&root], &[], KeyRequirement::Any);
    // B trusts only the root: A's chain must bring the intermediate.
    let b = auth(&b_cert, &[], &[&root], &[], KeyRequirement::Any);
    run(&mut pair, a, b, Identity::ip(common::ip(A)), 0);
    assert_eq!(
        pair.status_b().ike_state,
        IkeState::Up,
        "{:?}",
        pair.status_b()
    );
    assert_eq!(
        pair.status_a().ike_state,
        IkeState::Up,
        "{:?}",
        pair.status_a()
    );
}

/// B refuses A; B's alarm must contain every `want` fragment.
#[track_caller]
fn refused_by_b(
    a: Arc<CertificateAuth>,
    b: Arc<CertificateAuth>,
    b_expects: Identity,
    want: &[&str],
) {
    refused_by_b_with_clock(a, b, b_expects, want, 0);
}

/// The same, with A's calendar clock `a_days` days off (a peer whose clock is wrong still
/// sends its certificate).
#[track_caller]
fn refused_by_b_with_clock(
    a: Arc<CertificateAuth>,
    b: Arc<CertificateAuth>,
    b_expects: Identity,
    want: &[&str],
    a_days: i64,
) {
    // Inline, and with the certificate checks as crypto jobs finished up to 50 ms late
    // (as straitd runs them): the same refusal.
    for offload in [false, true] {
        let mut pair = if offload {
            let cfg = ike_proto::EndpointConfig {
                offload_crypto: true,
                ..ike_proto::EndpointConfig::default()
            };
            let mut pair = Pair::with_config(11, cfg.clone(), cfg);
            pair.delay_jobs(11, Duration::from_millis(50));
            pair
        } else {
            Pair::new(11)
        };
        run(&mut pair, a.clone(), b.clone(), b_expects.clone(), a_days);
        check_refused_by_b(&pair, want);
    }
}

#[track_caller]
fn check_refused_by_b(pair: &Pair, want: &[&str]) {
    let sb = pair.status_b();
    assert_eq!(sb.ike_state, IkeState::Down, "{sb:?}");
    assert_eq!(
        sb.fail_reason,
        Some(FailReason::AuthenticationFailed),
        "{sb:?}"
    );
    let alarm = sb.alarm.unwrap_or_default();
    for w in want {
        assert!(alarm.contains(w), "B's alarm {alarm:?} lacks {w:?}");
    }
    let sa = pair.status_a();
    assert_eq!(sa.ike_state, IkeState::Down, "{sa:?}");
    assert_eq!(
        sa.fail_reason,
        Some(FailReason::AuthenticationFailed),
        "{sa:?}"
    );
    assert!(pair.a.children.is_empty() && pair.b.children.is_empty());
}

#[test]
fn an_untrusted_ca_is_refused_naming_the_issuer() {
    let s = setup(KeyKind::EcdsaP256);
    let mut other = TestCa::root("some other CA", KeyKind::EcdsaP256);
    let a_cert = other.issue(&Leaf {
        subject: &[("CN", "site-a")],
        sans: &[A],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let a = auth(&a_cert, &[], &[&s.ca], &[], KeyRequirement::Any);
    let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Any);
    refused_by_b(
        a,
        b,
        Identity::ip(common::ip(A)),
        &["some other CA", "trust"],
    );
}

#[test]
fn an_expired_certificate_is_refused_with_its_dates() {
    let mut s = setup(KeyKind::EcdsaP256);
    let a_cert = s.ca.issue(&Leaf {
        subject: &[("CN", "site-a")],
        sans: &[A],
        key: KeyKind::EcdsaP256,
        not_before_days: -30,
        not_after_days: -2,
    });
    let a = auth(&a_cert, &[], &[&s.ca], &[], KeyRequirement::Any);
    let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Any);
    // A's clock is 10 days behind, so A still uses its certificate; B refuses it.
    refused_by_b_with_clock(
        a.clone(),
        b.clone(),
        Identity::ip(common::ip(A)),
        &["expired"],
        -10,
    );
    // With a correct clock, A refuses to use its own expired certificate and says so.
    let mut pair = Pair::new(12);
    run(&mut pair, a, b, Identity::ip(common::ip(A)), 0);
    let sa = pair.status_a();
    assert_eq!(
        sa.fail_reason,
        Some(FailReason::ConfigurationFailed),
        "{sa:?}"
    );
    let alarm = sa.alarm.unwrap_or_default();
    assert!(
        alarm.contains("site certificate") && alarm.contains("not now"),
        "{alarm}"
    );
}

#[test]
fn a_revoked_certificate_is_refused_naming_the_crl() {
    let s = setup(KeyKind::EcdsaP256);
    let crl = s.ca.crl(&[s.a.serial]);
    let a = auth(&s.a, &[], &[&s.ca], &[], KeyRequirement::Any);
    let b = auth(&s.b, &[], &[&s.ca], &[crl], KeyRequirement::Any);
    refused_by_b(a, b, Identity::ip(common::ip(A)), &["revoked", "crl"]);
}

#[test]
fn a_remote_id_mismatch_names_both_ids() {
    let s = setup(KeyKind::EcdsaP256);
    let a = auth(&s.a, &[], &[&s.ca], &[], KeyRequirement::Any);
    let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Any);
    refused_by_b(
        a,
        b,
        Identity::fqdn("site-a.example"),
        &["198.51.100.1", "site-a.example"],
    );
}

#[test]
fn an_id_missing_from_the_certificate_is_refused() {
    // A claims ID 198.51.100.1, but its certificate names only CN=site-a (no SAN).
    let mut s = setup(KeyKind::EcdsaP256);
    let a_cert = s.ca.issue(&Leaf {
        subject: &[("CN", "site-a")],
        key: KeyKind::EcdsaP256,
        ..Leaf::default()
    });
    let a = auth(&a_cert, &[], &[&s.ca], &[], KeyRequirement::Any);
    let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Any);
    refused_by_b(
        a,
        b,
        Identity::ip(common::ip(A)),
        &["does not contain", "CN=site-a"],
    );
}

#[test]
fn a_compliance_suite_refuses_a_weaker_peer_key() {
    let s = setup(KeyKind::EcdsaP256);
    let a = auth(&s.a, &[], &[&s.ca], &[], KeyRequirement::Any);
    // CNSA wants ECDSA P-384 or RSA >= 3072; A has P-256.
    let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Cnsa);
    refused_by_b(
        a,
        b,
        Identity::ip(common::ip(A)),
        &["P-384", "compliance suite"],
    );
}

#[test]
fn the_seed_pages_dn_matches_in_any_spelling() {
    let s = setup(KeyKind::EcdsaP384);
    let a = auth(&s.a, &[], &[&s.ca], &[], KeyRequirement::Any);
    let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Any);
    let mut pair = Pair::new(21);
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    pair.a.ep.set_wall_clock(pair.now, unix);
    pair.b.ep.set_wall_clock(pair.now, unix);
    let mut sa = common::session(A, B, true);
    sa.certificate = Some(a);
    sa.local_id = Identity::ip(common::ip(A));
    // E= instead of emailAddress=, no spaces: the same DN.
    sa.remote_id = dn("C=US,ST=California,O=MyCompany,OU=MyOrg,CN=Site123,E=site123@example.com");
    let mut sb = common::session(B, A, false);
    sb.certificate = Some(b);
    sb.local_id = dn(DN_B);
    sb.remote_id = Identity::ip(common::ip(A));
    pair.configure(sa, sb);
    pair.deliver();
    pair.run_for(Duration::from_secs(3));
    assert_eq!(
        pair.status_a().ike_state,
        IkeState::Up,
        "{:?}",
        pair.status_a()
    );
}

/// A certificate pair with key-exchange offloading on (as in straitd).
fn offloaded_pair(seed: u64) -> Pair {
    use ike_proto::EndpointConfig;
    let offload = EndpointConfig {
        offload_crypto: true,
        ..EndpointConfig::default()
    };
    let s = setup(KeyKind::Rsa2048);
    let mut pair = Pair::with_config(seed, offload.clone(), offload);
    let a = auth(&s.a, &[], &[&s.ca], &[], KeyRequirement::Any);
    let b = auth(&s.b, &[], &[&s.ca], &[], KeyRequirement::Any);
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    pair.a.ep.set_wall_clock(pair.now, unix);
    pair.b.ep.set_wall_clock(pair.now, unix);
    let mut sa = common::session(A, B, true);
    sa.certificate = Some(a);
    sa.remote_id = dn(DN_B);
    let mut sb = common::session(B, A, false);
    sb.certificate = Some(b);
    sb.local_id = dn(DN_B);
    pair.configure(sa, sb);
    pair
}

/// Run the pair, every crypto job at once except the first of `kind` on `on_b`'s side
/// (B if true), which is returned, held back.
fn hold_job(pair: &mut Pair, on_b: bool, kind: &str) -> ike_proto::CryptoJob {
    let mut kinds = Vec::new();
    for _ in 0..50 {
        pair.deliver();
        let now = pair.now;
        for side_b in [false, true] {
            let end = if side_b { &mut pair.b } else { &mut pair.a };
            while let Some(job) = end.ep.poll_crypto() {
                kinds.push((side_b, job.kind()));
                if side_b == on_b && job.kind() == kind {
                    return job;
                }
                let done = job.run();
                end.ep.handle_crypto(now, done, &mut end.rng);
            }
        }
    }
    panic!(
        "no {kind} job on {}: jobs were {kinds:?}",
        if on_b { "B" } else { "A" }
    );
}

/// With offloading, the responder's check of the initiator's certificate and its own
/// signature are jobs: while either is computed, a retransmitted IKE_AUTH request makes
/// no second job and no answer; the answer goes out when the jobs are done, and both sides
/// come up.
#[test]
fn the_responders_certificate_check_and_signature_are_jobs_and_retransmissions_wait() {
    for kind in ["verify-peer", "sign-auth"] {
        let mut pair = offloaded_pair(31);
        let held = hold_job(&mut pair, true, kind);
        let sent_before = pair.wire.len();
        // A retransmits its IKE_AUTH request (its fragments): B neither answers nor starts
        // another job.
        pair.run_for(Duration::from_secs(3));
        assert!(pair.b.ep.poll_crypto().is_none(), "{kind}: no second job");
        let b_answers = pair.wire[sent_before..]
            .iter()
            .filter(|(from_a, _)| !from_a)
            .count();
        assert_eq!(b_answers, 0, "{kind}: no answer before the job is done");
        assert!(pair.wire.len() > sent_before, "{kind}: A did retransmit");
        assert_ne!(pair.status_b().ike_state, IkeState::Up, "{kind}");
        // The job's result arrives: B goes on (a signature job follows a verification),
        // and A checks B's answer.
        let now = pair.now;
        pair.b.ep.handle_crypto(now, held.run(), &mut pair.b.rng);
        let mut later = Vec::new();
        for _ in 0..10 {
            pair.deliver();
            for side_b in [false, true] {
                let end = if side_b { &mut pair.b } else { &mut pair.a };
                while let Some(job) = end.ep.poll_crypto() {
                    later.push((side_b, job.kind()));
                    end.ep.handle_crypto(now, job.run(), &mut end.rng);
                }
            }
        }
        let expected: &[(bool, &str)] = match kind {
            "verify-peer" => &[(true, "sign-auth"), (false, "verify-peer")],
            _ => &[(false, "verify-peer")],
        };
        assert_eq!(later, expected, "{kind}: the jobs after the held one");
        pair.deliver();
        assert_eq!(
            pair.status_b().ike_state,
            IkeState::Up,
            "{kind}: {:?}",
            pair.status_b()
        );
        assert_eq!(
            pair.status_a().ike_state,
            IkeState::Up,
            "{kind}: {:?}",
            pair.status_a()
        );
        pair.assert_one_matching_child();
    }
}

/// The initiator checks the responder's certificate as a job too: until it is done the
/// initiator is not up (though the responder is), and then it is.
#[test]
fn the_initiators_certificate_check_is_a_job() {
    let mut pair = offloaded_pair(32);
    let held = hold_job(&mut pair, false, "verify-peer");
    pair.run_for(Duration::from_secs(1));
    assert_eq!(
        pair.status_b().ike_state,
        IkeState::Up,
        "{:?}",
        pair.status_b()
    );
    assert_ne!(
        pair.status_a().ike_state,
        IkeState::Up,
        "{:?}",
        pair.status_a()
    );
    let now = pair.now;
    pair.a.ep.handle_crypto(now, held.run(), &mut pair.a.rng);
    pair.deliver();
    assert_eq!(
        pair.status_a().ike_state,
        IkeState::Up,
        "{:?}",
        pair.status_a()
    );
    pair.assert_one_matching_child();
}
