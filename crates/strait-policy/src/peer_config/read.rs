//! Reading a session's objects for its peer configuration, in one transaction.

use strait_model::problems::codes;
use strait_model::{Kind, ObjectPath, PolicyObject};
use strait_store::{StoredObject, Tx};

use super::*;
use crate::view::typed;
use crate::{Actor, Policy, PolicyError};

fn missing(what: &str, path: &str) -> PolicyError {
    PolicyError::invalid(
        "",
        codes::BAD_REFERENCE,
        format!(
            "the session's {what} {path} is missing or unreadable; fix the session's references"
        ),
    )
}

/// The stored objects a session's peer configuration is made from.
struct Loaded {
    stored: StoredObject,
    session: RouteBasedSession,
    gateway_unique_id: String,
    le: LocalEndpoint,
    ike: IkeProfile,
    tunnel: TunnelProfile,
    dpd: DpdProfile,
    /// Every imported certificate (certificate sessions only), by path.
    certificates: Vec<(String, Certificate)>,
}

fn load(tx: &Tx<'_>, path: &ObjectPath) -> Result<Loaded, PolicyError> {
    let not_found = || PolicyError::NotFound {
        noun: Kind::Session.noun(),
        path: path.to_string(),
    };
    let stored = tx.object(path.as_str())?.ok_or_else(not_found)?;
    let Some((_, PolicyObject::Session(session))) = typed(&stored) else {
        return Err(not_found());
    };
    let gateway_path = path.gateway().ok_or_else(not_found)?;
    let gateway = tx
        .object(gateway_path.as_str())?
        .ok_or_else(|| missing("gateway", gateway_path.as_str()))?;
    let get = |p: &str, what: &str| -> Result<PolicyObject, PolicyError> {
        tx.object(p)?
            .as_ref()
            .and_then(typed)
            .map(|(_, o)| o)
            .ok_or_else(|| missing(what, p))
    };
    let s = &session;
    let PolicyObject::LocalEndpoint(le) = get(&s.local_endpoint_path, "local endpoint")? else {
        return Err(missing("local endpoint", &s.local_endpoint_path));
    };
    let PolicyObject::IkeProfile(ike) = get(&s.ike_profile_path, "IKE profile")? else {
        return Err(missing("IKE profile", &s.ike_profile_path));
    };
    let PolicyObject::TunnelProfile(tunnel) = get(&s.tunnel_profile_path, "tunnel profile")? else {
        return Err(missing("tunnel profile", &s.tunnel_profile_path));
    };
    let PolicyObject::DpdProfile(dpd) = get(&s.dpd_profile_path, "DPD profile")? else {
        return Err(missing("DPD profile", &s.dpd_profile_path));
    };
    let certificate_auth = s.authentication_mode == AuthenticationMode::Certificate
        || s.compliance_suite != ComplianceSuite::None;
    // Certificate bodies only: private keys are secrets, which are never read here.
    let certificates = if certificate_auth {
        tx.objects(Kind::Certificate.as_str(), None)?
            .iter()
            .filter_map(typed)
            .filter_map(|(p, o)| match o {
                PolicyObject::Certificate(c) => Some((p.to_string(), c)),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Loaded {
        gateway_unique_id: gateway.unique_id,
        stored,
        session,
        le,
        ike,
        tunnel,
        dpd,
        certificates,
    })
}

/// The session's pre-shared key as `actor` may see it; read only for those who may.
fn psk_view<'a>(
    tx: &Tx<'_>,
    path: &str,
    s: &RouteBasedSession,
    actor: &Actor,
    secret: &'a Option<Zeroizing<String>>,
) -> Result<PskView<'a>, PolicyError> {
    Ok(match (secret, s.authentication_mode) {
        (Some(k), _) => PskView::Shown(k.as_str()),
        (None, AuthenticationMode::Psk) if !actor.is_admin() && tx.has_secret(path, "psk")? => {
            PskView::Hidden
        }
        _ => PskView::Absent,
    })
}

/// The local endpoint's certificates among `all`: its site certificate, the imported CA
/// that issued it, and its trusted CAs (in `trust_ca_paths` order).
fn certificate_refs<'a>(
    le: &LocalEndpoint,
    all: &'a [CertRef<'a>],
) -> (Option<CertRef<'a>>, Option<CertRef<'a>>, Vec<CertRef<'a>>) {
    let find = |p: &str| all.iter().find(|c| c.path == p).copied();
    let site = le.certificate_path.as_deref().and_then(find);
    let trusted: Vec<CertRef<'a>> = le.trust_ca_paths.iter().filter_map(|p| find(p)).collect();
    // Prefer a CA the endpoint already names, then any other imported CA.
    let issuer = site.and_then(|site| issuer_of(&site, &trusted).or_else(|| issuer_of(&site, all)));
    (site, issuer, trusted)
}

impl Policy {
    /// The peer configuration of a stored session, rendered in `format`, generated at
    /// `generated_ms` (epoch ms). The PSK is included only for admins. Read in one
    /// transaction.
    pub fn peer_config(
        &self,
        session: &str,
        actor: &Actor,
        format: PeerConfigFormat,
        generated_ms: i64,
    ) -> Result<Zeroizing<String>, PolicyError> {
        let path = ObjectPath::parse(session)?;
        if path.kind() != Kind::Session {
            return Err(PolicyError::NotFound {
                noun: Kind::Session.noun(),
                path: path.to_string(),
            });
        }
        self.store
            .read(|tx| -> Result<Zeroizing<String>, PolicyError> {
                let l = load(tx, &path)?;
                let s = &l.session;
                let secret = if s.authentication_mode == AuthenticationMode::Psk && actor.is_admin()
                {
                    tx.secret(path.as_str(), "psk")?
                } else {
                    None
                };
                let psk = psk_view(tx, path.as_str(), s, actor, &secret)?;
                let all: Vec<CertRef<'_>> = l
                    .certificates
                    .iter()
                    .map(|(p, cert)| CertRef { path: p, cert })
                    .collect();
                let (site, site_issuer, trusted_cas) = certificate_refs(&l.le, &all);
                let gateway_path = path.gateway().map(|g| g.to_string()).unwrap_or_default();
                let input = PeerConfigInput {
                    session_path: path.as_str(),
                    session_unique_id: &l.stored.unique_id,
                    session: s,
                    gateway_path: &gateway_path,
                    gateway_unique_id: &l.gateway_unique_id,
                    local_endpoint: &l.le,
                    ike: &l.ike,
                    tunnel: &l.tunnel,
                    dpd: &l.dpd,
                    psk,
                    certs: CertificateInput {
                        site,
                        site_issuer,
                        trusted_cas: &trusted_cas,
                    },
                    generated_ms,
                };
                Ok(render(&input, format))
            })
    }
}
