//! Peer configurations of certificate sessions.

use super::tests::{assert_balanced, Fixture, TIME};
use super::*;
use strait_model::objects::Common;

/// The seed page's DN, with its e-mail attribute (the page shows the address obfuscated).
const SEED_DN: &str =
    "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=site123@example.com";

fn cert(subject: &str, issuer: &str, is_ca: bool) -> Certificate {
    Certificate {
        common: Common::with_id("c"),
        pem_encoded: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n".into(),
        key_algo: "EC".into(),
        purpose: None,
        has_private_key: !is_ca,
        details: vec![X509Certificate {
            subject: subject.into(),
            subject_cn: None,
            issuer: issuer.into(),
            serial_number: "01".into(),
            not_before: 0,
            not_after: TIME,
            signature_algorithm: "SHA256withECDSA".into(),
            public_key_algo: "EC".into(),
            public_key_length: 256,
            is_ca,
            san_dns: vec![],
            san_ip: vec![],
            san_email: vec![],
            sha256_fingerprint: "00".into(),
        }],
        used_by: vec![],
    }
}

struct CertFixture {
    f: Fixture,
    site: Certificate,
    ca: Certificate,
    peer_ca: Certificate,
}

impl CertFixture {
    /// strait's site certificate `site` (SAN DNS site-a.example.com) issued by the imported
    /// CA `ca`; the endpoint trusts `peer-ca`; the peer's ID is the seed page's DN.
    fn new() -> CertFixture {
        let mut f = Fixture::new();
        f.s.authentication_mode = AuthenticationMode::Certificate;
        f.s.peer_id = SEED_DN.into();
        let mut site = cert(
            "C=US, O=Org, CN=site-a",
            "C=US, O=Strait Test, CN=Test CA",
            false,
        );
        site.details[0].san_dns = vec!["site-a.example.com".into()];
        CertFixture {
            f,
            site,
            ca: cert(
                "C=US, O=Strait Test, CN=Test CA",
                "C=US, O=Strait Test, CN=Test CA",
                true,
            ),
            peer_ca: cert(
                "C=US, O=Peer CA, CN=Peer Root",
                "C=US, O=Peer CA, CN=Peer Root",
                true,
            ),
        }
    }

    fn render(&self, format: PeerConfigFormat) -> Zeroizing<String> {
        let all = [
            CertRef {
                path: "/infra/certificates/site",
                cert: &self.site,
            },
            CertRef {
                path: "/infra/certificates/ca",
                cert: &self.ca,
            },
            CertRef {
                path: "/infra/certificates/peer-ca",
                cert: &self.peer_ca,
            },
        ];
        let trusted = [all[2]];
        let mut input = self.f.input(PskView::Absent);
        input.certs = CertificateInput {
            site: Some(all[0]),
            site_issuer: issuer_of(&all[0], &all),
            trusted_cas: &trusted,
        };
        render(&input, format)
    }
}

#[test]
fn nsx_format_of_a_certificate_session() {
    let cf = CertFixture::new();
    let text = cf.render(PeerConfigFormat::Nsx);
    for needle in [
        "Connection initiation mode   : INITIATOR\n\
         Authentication method        : CERTIFICATE\n\
         Local certificate            : site (C=US, O=Org, CN=site-a)\n\
         Local certificate issuer     : ca (C=US, O=Strait Test, CN=Test CA) # the peer must trust this CA\n\
         Trusted CA certificates      : [peer-ca (C=US, O=Peer CA, CN=Peer Root)] # the peer's certificate must be issued by one of these\n\
         Authentication algorithm     : [SHA2_256]\n",
        &format!("Peer id         : {SEED_DN}\n"),
        "Local address   : 198.51.100.1 # Local gateway public IP.\n\
         Local id        : site-a.example.com # from certificate site: its subjectAltName DNS name\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{}", *text);
    }
    assert!(!text.contains("Pre shared key"), "{}", *text);
    assert!(!text.contains("BEGIN"), "no PEM in the peer config");
}

#[test]
fn strongswan_format_of_a_certificate_session() {
    let cf = CertFixture::new();
    let text = cf.render(PeerConfigFormat::StrongSwan);
    for needle in [
        "#   /etc/swanctl/x509/to-site-b-peer.pem\n",
        "#         C=US, O=Peer CA, CN=Peer Root (peer-ca)\n",
        "#   /etc/swanctl/private/to-site-b-peer-key.pem\n",
        "#   /etc/swanctl/x509ca/ca.pem\n\
         #       the CA that issued strait's certificate: C=US, O=Strait Test, CN=Test CA\n\
         #       (strait certificate show ca --pem, or pem_encoded of GET /policy/api/v1/infra/certificates/ca)\n",
        "        send_cert = always\n        send_certreq = yes\n",
        "        local {\n            auth = pubkey\n",
        "            certs = to-site-b-peer.pem\n",
        &format!("            id = \"{SEED_DN}\"\n        }}\n"),
        "        remote {\n            auth = pubkey\n",
        "            # strait's ID (from its site certificate site: its subjectAltName DNS name)\n\
         \x20           id = \"site-a.example.com\"\n",
        "            cacerts = ca.pem\n        }\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{}", *text);
    }
    assert!(!text.contains("\nsecrets {"), "no PSK secrets:\n{}", *text);
    assert!(!text.contains("auth = psk"));
    assert!(!text.contains("CHECK"), "{}", *text);
    assert_balanced(&text);
}

#[test]
fn local_id_of_certificate_sessions() {
    let mut cf = CertFixture::new();
    let id = |cf: &CertFixture| -> String {
        let site = CertRef {
            path: "/infra/certificates/site",
            cert: &cf.site,
        };
        let mut input = cf.f.input(PskView::Absent);
        input.certs.site = Some(site);
        input.local_id()
    };
    // The model's default local_id (the address) does not count: derived from the
    // certificate, SAN IP > SAN DNS > SAN email > subject DN.
    assert_eq!(id(&cf), "site-a.example.com");
    cf.site.details[0].san_email = vec!["vpn@example.com".into()];
    cf.site.details[0].san_ip = vec!["198.51.100.1".into()];
    assert_eq!(id(&cf), "198.51.100.1");
    cf.site.details[0].san_ip.clear();
    cf.site.details[0].san_dns.clear();
    assert_eq!(id(&cf), "vpn@example.com");
    cf.site.details[0].san_email.clear();
    assert_eq!(id(&cf), "C=US, O=Org, CN=site-a");
    // An explicit local_id wins.
    cf.f.le.local_id = Some("CN=site-a, O=Org, C=US".into());
    assert_eq!(id(&cf), "CN=site-a, O=Org, C=US");
    // A compliance suite forces certificate authentication.
    cf.f.le.local_id = Some("198.51.100.1".into());
    cf.f.s.authentication_mode = AuthenticationMode::Psk;
    assert_eq!(id(&cf), "198.51.100.1");
    cf.f.s.compliance_suite = ComplianceSuite::Cnsa;
    assert_eq!(id(&cf), "C=US, O=Org, CN=site-a");
}

#[test]
fn dn_identities_in_swanctl_syntax() {
    let mut cf = CertFixture::new();
    cf.site.details[0].san_dns.clear();
    cf.f.s.compliance_suite = ComplianceSuite::SuiteBGcm256;
    let text = cf.render(PeerConfigFormat::StrongSwan);
    assert!(
        text.contains("            id = \"C=US, O=Org, CN=site-a\"\n"),
        "{}",
        *text
    );
    assert!(text.contains("under compliance suite SUITE_B_GCM_256: ECDSA P-384\n"));
    assert_balanced(&text);
    let nsx_text = cf.render(PeerConfigFormat::Nsx);
    assert!(nsx_text.contains(
        "Local id        : C=US, O=Org, CN=site-a # from certificate site: its subject DN\n"
    ));

    // Aliases become strongSwan's names; escapes are undone; what strongSwan 5.9 reads
    // differently is reported.
    let dn = swan_dn("c=US, S=CA, E=a@b.example, SN=Smith, GN=Ann, title=Ops");
    assert_eq!(
        dn.text,
        "C=US, ST=CA, emailAddress=a@b.example, S=Smith, G=Ann, T=Ops"
    );
    assert!(dn.problems.is_empty());
    let dn = swan_dn(r"C=US, O=Acme\, Inc., CN=gw");
    assert_eq!(dn.text, "C=US, O=Acme, Inc., CN=gw");
    assert_eq!(dn.problems.len(), 1, "{:?}", dn.problems);
    let dn = swan_dn(r"O=A\2Fb + OU=x, CN=gw, postalCode=123");
    assert_eq!(dn.text, "O=A/b, OU=x, CN=gw, postalCode=123");
    assert_eq!(dn.problems.len(), 3, "{:?}", dn.problems);
    // Flagged IDs stay well formed.
    cf.f.s.peer_id = r"C=US, O=Acme\, Inc., CN=peer".into();
    let text = cf.render(PeerConfigFormat::StrongSwan);
    assert!(text.contains("id = \"C=US, O=Acme, Inc., CN=peer\"  # CHECK: "));
    assert_balanced(&text);
}

#[test]
fn certificate_session_without_imported_issuer_or_certificates() {
    let cf = CertFixture::new();
    // The issuing CA is not imported: named from the site certificate's issuer.
    let site = CertRef {
        path: "/infra/certificates/site",
        cert: &cf.site,
    };
    let mut input = cf.f.input(PskView::Absent);
    input.certs.site = Some(site);
    let text = strongswan(&input);
    assert!(
        text.contains("#   /etc/swanctl/x509ca/site-issuer.pem\n"),
        "{}",
        *text
    );
    assert!(text.contains("            cacerts = site-issuer.pem\n"));
    assert!(text.contains("(strait trusts no CA yet: set the local endpoint's trust_ca_paths)"));
    let text = nsx(&input);
    assert!(text.contains(
        "Local certificate issuer     : C=US, O=Strait Test, CN=Test CA # the peer must trust this CA (not imported into strait)\n"
    ));
    assert!(text.contains(
        "Trusted CA certificates      : <none> # set the local endpoint's trust_ca_paths\n"
    ));
    // No site certificate at all: the address, and what to set.
    input.certs.site = None;
    let text = nsx(&input);
    assert!(text.contains(
        "Local certificate            : <not set> # set the local endpoint's certificate_path\n"
    ));
    assert!(text.contains("Local id        : 198.51.100.1\n"));
    assert_balanced(&strongswan(&input));
}
