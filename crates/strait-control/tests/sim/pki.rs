//! Certificates for the simulation's certificate sessions.

use serde_json::{json, Value};

use super::{World, SVC};

/// Site certificates (subjectAltName IP = the gateway's address, so its derived ID is its
/// address, as a PSK session's) and one CA, for certificate sessions in the simulation; made
/// once (RSA key generation is slow) and shared by every seed.
pub struct SimPki {
    pub ca_pem: String,
    /// (certificate, key) per gateway index.
    pub sites: Vec<(String, String)>,
}

pub fn sim_pki() -> &'static SimPki {
    static PKI: std::sync::OnceLock<SimPki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        use ike_testdata::pki::{KeyKind, Leaf, TestCa};
        let mut ca = TestCa::root("sim CA", KeyKind::EcdsaP256);
        let sites = (0..4)
            .map(|k| {
                let addr = format!("198.51.100.{}", k + 1);
                // RSA-3072: IKE_AUTH exceeds one datagram, so fragments cross the lossy,
                // reordering links too.
                let site = ca.issue(&Leaf {
                    subject: &[("CN", "sim gateway")],
                    sans: &[&addr],
                    key: KeyKind::Rsa3072,
                    ..Leaf::default()
                });
                (site.cert_pem, site.key_pem)
            })
            .collect();
        SimPki {
            ca_pem: ca.cert.cert_pem.clone(),
            sites,
        }
    })
}

impl World {
    /// Give every gateway its site certificate, the CA, and a local endpoint that uses
    /// them (sessions then set `authentication_mode: CERTIFICATE`).
    pub fn use_certificates(&mut self) {
        let pki = sim_pki();
        for (k, g) in self.gws.iter().enumerate() {
            let (cert, key) = &pki.sites[k];
            g.patch(
                "/infra/certificates/site",
                json!({"pem_encoded": cert, "private_key": key}),
            );
            g.patch("/infra/certificates/ca", json!({"pem_encoded": pki.ca_pem}));
            g.patch(
                &format!("{SVC}/local-endpoints/le"),
                json!({"local_address": g.addr.to_string(),
                       "certificate_path": "/infra/certificates/site",
                       "trust_ca_paths": ["/infra/certificates/ca"]}),
            );
        }
    }
}

/// The session fields of a certificate session (no PSK).
pub fn certificate_session() -> Value {
    json!({"authentication_mode": "CERTIFICATE", "psk": null})
}
