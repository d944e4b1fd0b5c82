//! What each noun and verb does, in terms of REST calls.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Map, Value};
use strait_client::{encode_segment, Client};

use crate::args::*;
use crate::output::{at, field, last_segment, time_ms, Column, Output};
use crate::secrets;

const API: &str = "/policy/api/v1";

pub(crate) fn url(policy_path: &str) -> String {
    format!("{API}{policy_path}")
}

/// NSX enum spelling from CLI spelling: `respond-only` -> `RESPOND_ONLY`, `14` -> `GROUP14`.
fn nsx(s: &str) -> String {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return format!("GROUP{s}");
    }
    s.to_ascii_uppercase().replace('-', "_")
}

fn tags(list: &[String]) -> Value {
    Value::Array(
        list.iter()
            .map(|t| match t.split_once('=') {
                Some((scope, tag)) => json!({"scope": scope, "tag": tag}),
                None => json!({"scope": "", "tag": t}),
            })
            .collect(),
    )
}

fn put_opt(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), v);
    }
}

pub(crate) fn common(m: &mut Map<String, Value>, c: &CommonFlags) {
    put_opt(m, "display_name", c.display_name.clone().map(Value::from));
    put_opt(m, "description", c.description.clone().map(Value::from));
    if !c.tags.is_empty() {
        m.insert("tags".into(), tags(&c.tags));
    }
}

fn enum_list(list: &[String]) -> Option<Value> {
    (!list.is_empty()).then(|| Value::Array(list.iter().map(|s| Value::from(nsx(s))).collect()))
}

/// `id` or a full policy path, as a path under `collection` (e.g. `/infra/ipsec-vpn-ike-profiles`).
fn reference(collection: &str, s: &str) -> String {
    if s.starts_with('/') {
        s.to_owned()
    } else {
        format!("{collection}/{s}")
    }
}

fn read_json_file(path: &Path) -> Result<Map<String, Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    match serde_json::from_str::<Value>(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?
    {
        Value::Object(m) => Ok(m),
        _ => bail!("{} must hold a JSON object", path.display()),
    }
}

/// Where a noun's objects live, resolved from `--gateway` / `--service`.
pub(crate) struct Ctx {
    /// Parent policy path (`/infra` for top-level objects).
    parent: String,
}

/// Builds a request body from flags.
pub(crate) trait ToBody: Args {
    fn body(&self, ctx: &Ctx, creating: bool) -> Result<Map<String, Value>>;
}

impl ToBody for GatewayFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        put_opt(
            &mut m,
            "ha_mode",
            self.ha_mode.as_deref().map(|s| nsx(s).into()),
        );
        Ok(m)
    }
}

impl ToBody for ServiceFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        put_opt(
            &mut m,
            "enabled",
            self.admin_status
                .as_deref()
                .map(|s| (s == "enabled").into()),
        );
        put_opt(
            &mut m,
            "ike_log_level",
            self.ike_log_level.as_deref().map(|s| nsx(s).into()),
        );
        put_opt(&mut m, "ha_sync", self.ha_sync.map(Value::from));
        Ok(m)
    }
}

impl ToBody for EndpointFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        put_opt(
            &mut m,
            "local_address",
            self.local_address.clone().map(Value::from),
        );
        put_opt(&mut m, "local_id", self.local_id.clone().map(Value::from));
        put_opt(
            &mut m,
            "certificate_path",
            self.certificate
                .as_deref()
                .map(|c| reference("/infra/certificates", c).into()),
        );
        if !self.trust_ca.is_empty() {
            m.insert(
                "trust_ca_paths".into(),
                self.trust_ca
                    .iter()
                    .map(|c| Value::from(reference("/infra/certificates", c)))
                    .collect(),
            );
        }
        if !self.trust_crl.is_empty() {
            m.insert(
                "trust_crl_paths".into(),
                self.trust_crl
                    .iter()
                    .map(|c| Value::from(reference("/infra/crls", c)))
                    .collect(),
            );
        }
        if self.no_certificate {
            m.insert("certificate_path".into(), Value::Null);
        }
        if self.no_trust_ca {
            m.insert("trust_ca_paths".into(), json!([]));
        }
        if self.no_trust_crl {
            m.insert("trust_crl_paths".into(), json!([]));
        }
        Ok(m)
    }
}

impl ToBody for SessionFlags {
    fn body(&self, ctx: &Ctx, creating: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        if creating {
            m.insert("resource_type".into(), "RouteBasedIPSecVpnSession".into());
        }
        put_opt(
            &mut m,
            "display_name",
            self.display_name.clone().map(Value::from),
        );
        put_opt(
            &mut m,
            "description",
            self.description.clone().map(Value::from),
        );
        put_opt(
            &mut m,
            "local_endpoint_path",
            self.local_endpoint
                .as_deref()
                .map(|le| reference(&format!("{}/local-endpoints", ctx.parent), le).into()),
        );
        put_opt(
            &mut m,
            "peer_address",
            self.remote_ip.clone().map(Value::from),
        );
        put_opt(&mut m, "peer_id", self.remote_id.clone().map(Value::from));
        put_opt(
            &mut m,
            "enabled",
            self.admin_status
                .as_deref()
                .map(|s| (s == "enabled").into()),
        );
        put_opt(
            &mut m,
            "compliance_suite",
            self.compliance_suite.as_deref().map(|s| nsx(s).into()),
        );
        put_opt(
            &mut m,
            "authentication_mode",
            self.auth_mode.as_deref().map(|s| nsx(s).into()),
        );
        put_opt(
            &mut m,
            "connection_initiation_mode",
            self.initiation_mode.as_deref().map(|s| nsx(s).into()),
        );
        put_opt(
            &mut m,
            "ike_profile_path",
            self.ike_profile
                .as_deref()
                .map(|p| reference("/infra/ipsec-vpn-ike-profiles", p).into()),
        );
        put_opt(
            &mut m,
            "tunnel_profile_path",
            self.ipsec_profile
                .as_deref()
                .map(|p| reference("/infra/ipsec-vpn-tunnel-profiles", p).into()),
        );
        put_opt(
            &mut m,
            "dpd_profile_path",
            self.dpd_profile
                .as_deref()
                .map(|p| reference("/infra/ipsec-vpn-dpd-profiles", p).into()),
        );
        if !self.tags.is_empty() {
            m.insert("tags".into(), tags(&self.tags));
        }
        if !self.tunnel_interface.is_empty() {
            let mut subnets = Vec::new();
            for cidr in &self.tunnel_interface {
                let (ip, prefix) = cidr.split_once('/').ok_or_else(|| {
                    anyhow!("--tunnel-interface {cidr:?} needs CIDR notation: the VTI address and prefix, e.g. 169.254.10.1/30")
                })?;
                let prefix: u32 = prefix.parse().map_err(|_| {
                    anyhow!(
                        "--tunnel-interface {cidr:?}: the prefix length must be a number, e.g. /30"
                    )
                })?;
                subnets.push(json!({"ip_addresses": [ip], "prefix_length": prefix}));
            }
            m.insert(
                "tunnel_interfaces".into(),
                json!([{ "ip_subnets": subnets }]),
            );
        }
        if self.mss_direction.is_some() || self.mss_value.is_some() {
            let mut mss = Map::new();
            put_opt(
                &mut mss,
                "direction",
                self.mss_direction.as_deref().map(|s| nsx(s).into()),
            );
            put_opt(
                &mut mss,
                "max_segment_size",
                self.mss_value.map(Value::from),
            );
            m.insert("tcp_mss_clamping".into(), Value::Object(mss));
        }
        let psk_mode = self.auth_mode.as_deref().is_none_or(|a| a == "psk")
            && self
                .compliance_suite
                .as_deref()
                .is_none_or(|s| nsx(s) == "NONE");
        let wants_psk = if creating {
            psk_mode
        } else {
            self.psk_file.is_some() || self.psk_prompt
        };
        if wants_psk {
            let psk = if creating || self.psk_file.is_some() {
                secrets::file_env_or_prompt(
                    self.psk_file.as_deref(),
                    "STRAIT_PSK",
                    "pre-shared key",
                )?
            } else {
                secrets::prompt_confirmed("pre-shared key")?
            };
            m.insert("psk".into(), Value::from(psk.as_str()));
        }
        Ok(m)
    }
}

impl ToBody for IkeProfileFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        put_opt(
            &mut m,
            "ike_version",
            self.ike_version.as_deref().map(|s| nsx(s).into()),
        );
        put_opt(&mut m, "encryption_algorithms", enum_list(&self.encryption));
        put_opt(&mut m, "digest_algorithms", enum_list(&self.digest));
        put_opt(&mut m, "dh_groups", enum_list(&self.dh_group));
        put_opt(&mut m, "sa_life_time", self.sa_lifetime.map(Value::from));
        Ok(m)
    }
}

impl ToBody for TunnelProfileFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        put_opt(&mut m, "encryption_algorithms", enum_list(&self.encryption));
        put_opt(&mut m, "digest_algorithms", enum_list(&self.digest));
        put_opt(
            &mut m,
            "enable_perfect_forward_secrecy",
            self.pfs.map(Value::from),
        );
        put_opt(&mut m, "dh_groups", enum_list(&self.dh_group));
        put_opt(
            &mut m,
            "df_policy",
            self.df_policy.as_deref().map(|s| nsx(s).into()),
        );
        put_opt(&mut m, "sa_life_time", self.sa_lifetime.map(Value::from));
        Ok(m)
    }
}

impl ToBody for DpdProfileFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        put_opt(&mut m, "enabled", self.enabled.map(Value::from));
        put_opt(
            &mut m,
            "dpd_probe_mode",
            self.mode.as_deref().map(|s| nsx(s).into()),
        );
        put_opt(&mut m, "dpd_probe_interval", self.interval.map(Value::from));
        put_opt(&mut m, "retry_count", self.retry_count.map(Value::from));
        Ok(m)
    }
}

impl ToBody for CrlFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        if let Some(f) = &self.crl_file {
            let text = crate::certs::read_input(f, "CRL")?;
            m.insert("pem_encoded".into(), Value::from(text.as_str()));
        }
        Ok(m)
    }
}

impl ToBody for RouteFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        common(&mut m, &self.common);
        put_opt(&mut m, "network", self.network.clone().map(Value::from));
        if !self.next_hop.is_empty() {
            let mut hops = Vec::new();
            for h in &self.next_hop {
                let hop = match h.split_once(',') {
                    Some((ip, d)) => {
                        let d: u32 = d.parse().map_err(|_| {
                            anyhow!(
                                "--next-hop {h:?}: the distance after ',' must be a number 1-255"
                            )
                        })?;
                        json!({"ip_address": ip, "admin_distance": d})
                    }
                    None => json!({"ip_address": h}),
                };
                hops.push(hop);
            }
            m.insert("next_hops".into(), Value::Array(hops));
        }
        Ok(m)
    }
}

// ---- locating objects -------------------------------------------------------------------

fn gateways(client: &Client) -> Result<Vec<Value>> {
    let mut all = client.list_all(&url("/infra/tier-0s"))?;
    all.extend(client.list_all(&url("/infra/tier-1s"))?);
    Ok(all)
}

fn paths(items: &[Value]) -> String {
    items
        .iter()
        .map(|i| field(i, "path"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The gateway path for `--gateway` (id or path), or the only gateway.
pub(crate) fn resolve_gateway(client: &Client, g: Option<&str>) -> Result<String> {
    match g {
        Some(p) if p.starts_with('/') => Ok(p.trim_end_matches('/').to_owned()),
        Some(id) => {
            let found: Vec<String> = ["/infra/tier-0s", "/infra/tier-1s"]
                .iter()
                .map(|c| format!("{c}/{id}"))
                .filter(|p| client.get_opt(&url(p)).ok().flatten().is_some())
                .collect();
            match found.as_slice() {
                [one] => Ok(one.clone()),
                [] => bail!("gateway {id:?} does not exist; see `strait gateway list`"),
                _ => bail!("both /infra/tier-0s/{id} and /infra/tier-1s/{id} exist; pass --gateway with the full path"),
            }
        }
        None => {
            let all = gateways(client)?;
            match all.as_slice() {
                [one] => Ok(field(one, "path")),
                [] => bail!("no gateway exists yet; create one with `strait gateway create ID`"),
                _ => bail!(
                    "there are several gateways ({}); choose one with --gateway",
                    paths(&all)
                ),
            }
        }
    }
}

/// The VPN service path for the scope, or the only service.
fn resolve_service(client: &Client, scope: &Scope) -> Result<String> {
    if let Some(s) = scope.service.as_deref().filter(|s| s.starts_with('/')) {
        return Ok(s.trim_end_matches('/').to_owned());
    }
    let candidates: Vec<String> = match &scope.gateway {
        Some(g) => vec![resolve_gateway(client, Some(g))?],
        None => gateways(client)?.iter().map(|g| field(g, "path")).collect(),
    };
    let mut services = Vec::new();
    for gw in &candidates {
        services.extend(client.list_all(&url(&format!("{gw}/ipsec-vpn-services")))?);
    }
    if let Some(id) = &scope.service {
        services.retain(|s| field(s, "id") == *id);
        return match services.as_slice() {
            [one] => Ok(field(one, "path")),
            [] => bail!("VPN service {id:?} does not exist; see `strait service list`"),
            _ => bail!(
                "several services are called {id:?} ({}); add --gateway",
                paths(&services)
            ),
        };
    }
    match services.as_slice() {
        [one] => Ok(field(one, "path")),
        [] => bail!("no IPsec VPN service exists yet; create one with `strait service create ID`"),
        _ => bail!(
            "there are several VPN services ({}); choose one with --service",
            paths(&services)
        ),
    }
}

struct Spec {
    noun: &'static str,
    /// Collection segment under the parent.
    segment: &'static str,
    parent: ParentKind,
    columns: &'static [Column],
}

#[derive(Clone, Copy)]
enum ParentKind {
    Infra,
    Gateway,
    Service,
}

fn parent_path(client: &Client, spec: &Spec, scope: &Scope) -> Result<String> {
    match spec.parent {
        ParentKind::Infra => Ok("/infra".into()),
        ParentKind::Gateway => resolve_gateway(client, scope.gateway.as_deref()),
        ParentKind::Service => resolve_service(client, scope),
    }
}

fn generic<F: ToBody>(client: &Client, out: &Output, spec: &Spec, verb: VerbKind<F>) -> Result<()> {
    match verb {
        VerbKind::List { scope } => {
            let items = match (spec.parent, &scope.gateway, &scope.service) {
                // Without a scope, list across every gateway/service.
                (ParentKind::Gateway, None, _) => {
                    let mut v = Vec::new();
                    for g in gateways(client)? {
                        v.extend(client.list_all(&url(&format!(
                            "{}/{}",
                            field(&g, "path"),
                            spec.segment
                        )))?);
                    }
                    v
                }
                (ParentKind::Service, None, None) => in_every_service(client, spec.segment)?,
                _ => {
                    let parent = parent_path(client, spec, &scope)?;
                    client.list_all(&url(&format!("{parent}/{}", spec.segment)))?
                }
            };
            out.list(&items, spec.columns);
        }
        VerbKind::Show { id, scope } => {
            let parent = parent_path(client, spec, &scope)?;
            let v = client.get(&url(&format!(
                "{parent}/{}/{}",
                spec.segment,
                encode_segment(&id)
            )))?;
            out.object(&v);
        }
        VerbKind::Create {
            id,
            scope,
            file,
            flags,
        } => {
            let parent = parent_path(client, spec, &scope)?;
            create(
                client,
                out,
                spec.noun,
                &format!("{parent}/{}/{id}", spec.segment),
                &parent,
                file.as_deref(),
                &flags,
            )?;
        }
        VerbKind::Update {
            id,
            scope,
            file,
            flags,
        } => {
            let parent = parent_path(client, spec, &scope)?;
            update(
                client,
                out,
                spec.noun,
                &format!("{parent}/{}/{id}", spec.segment),
                &parent,
                file.as_deref(),
                &flags,
            )?;
        }
        VerbKind::Delete { id, scope } => {
            let parent = parent_path(client, spec, &scope)?;
            let path = format!("{parent}/{}/{id}", spec.segment);
            client.delete(&url(&path))?;
            out.done(&format!("deleted {} {path}", spec.noun), None);
        }
    }
    Ok(())
}

pub(crate) fn create<F: ToBody>(
    client: &Client,
    out: &Output,
    noun: &str,
    path: &str,
    parent: &str,
    file: Option<&Path>,
    flags: &F,
) -> Result<()> {
    if client.get_opt(&url(path))?.is_some() {
        bail!("{noun} {path} already exists; use `update` to change it");
    }
    let mut body = match file {
        Some(f) => read_json_file(f)?,
        None => Map::new(),
    };
    body.extend(flags.body(
        &Ctx {
            parent: parent.to_owned(),
        },
        true,
    )?);
    client.patch(&url(path), &Value::Object(body))?;
    let created = client.get(&url(path))?;
    out.done(&format!("created {noun} {path}"), Some(&created));
    Ok(())
}

pub(crate) fn update<F: ToBody>(
    client: &Client,
    out: &Output,
    noun: &str,
    path: &str,
    parent: &str,
    file: Option<&Path>,
    flags: &F,
) -> Result<()> {
    if client.get_opt(&url(path))?.is_none() {
        bail!("{noun} {path} does not exist; use `create`");
    }
    let mut body = match file {
        Some(f) => read_json_file(f)?,
        None => Map::new(),
    };
    body.extend(flags.body(
        &Ctx {
            parent: parent.to_owned(),
        },
        false,
    )?);
    if body.is_empty() {
        bail!("nothing to change: give the fields to update as flags or with -f FILE");
    }
    client.patch(&url(path), &Value::Object(body))?;
    let updated = client.get(&url(path))?;
    out.done(&format!("updated {noun} {path}"), Some(&updated));
    Ok(())
}

// ---- nouns --------------------------------------------------------------------------------

fn system(v: &Value) -> String {
    if at(v, "/_system_owned").as_bool() == Some(true) {
        "yes".into()
    } else {
        String::new()
    }
}

const GATEWAY_COLUMNS: &[Column] = &[
    Column {
        header: "ID",
        cell: |v| field(v, "id"),
    },
    Column {
        header: "TYPE",
        cell: |v| field(v, "resource_type"),
    },
    Column {
        header: "NAME",
        cell: |v| field(v, "display_name"),
    },
    Column {
        header: "HA MODE",
        cell: |v| field(v, "ha_mode"),
    },
];

const SPECS: &[(&str, Spec)] = &[
    (
        "service",
        Spec {
            noun: "IPsec VPN service",
            segment: "ipsec-vpn-services",
            parent: ParentKind::Gateway,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "GATEWAY",
                    cell: |v| last_segment(v, "parent_path"),
                },
                Column {
                    header: "NAME",
                    cell: |v| field(v, "display_name"),
                },
                Column {
                    header: "ENABLED",
                    cell: |v| field(v, "enabled"),
                },
                Column {
                    header: "IKE LOG LEVEL",
                    cell: |v| field(v, "ike_log_level"),
                },
            ],
        },
    ),
    (
        "endpoint",
        Spec {
            noun: "local endpoint",
            segment: "local-endpoints",
            parent: ParentKind::Service,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "SERVICE",
                    cell: |v| last_segment(v, "parent_path"),
                },
                Column {
                    header: "LOCAL ADDRESS",
                    cell: |v| field(v, "local_address"),
                },
                Column {
                    header: "LOCAL ID",
                    cell: |v| field(v, "local_id"),
                },
                Column {
                    header: "CERTIFICATE",
                    cell: |v| last_segment(v, "certificate_path"),
                },
            ],
        },
    ),
    (
        "session",
        Spec {
            noun: "IPsec session",
            segment: "sessions",
            parent: ParentKind::Service,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "NAME",
                    cell: |v| field(v, "display_name"),
                },
                Column {
                    header: "REMOTE IP",
                    cell: |v| field(v, "peer_address"),
                },
                Column {
                    header: "REMOTE ID",
                    cell: |v| field(v, "peer_id"),
                },
                Column {
                    header: "TUNNEL INTERFACE",
                    cell: |v| {
                        at(v, "/tunnel_interfaces/0/ip_subnets")
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .map(|s| {
                                        format!(
                                            "{}/{}",
                                            at(s, "/ip_addresses/0").as_str().unwrap_or_default(),
                                            at(s, "/prefix_length")
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default()
                    },
                },
                Column {
                    header: "AUTH",
                    cell: |v| field(v, "authentication_mode"),
                },
                Column {
                    header: "ENABLED",
                    cell: |v| field(v, "enabled"),
                },
                Column {
                    header: "INITIATION",
                    cell: |v| field(v, "connection_initiation_mode"),
                },
            ],
        },
    ),
    (
        "ike-profile",
        Spec {
            noun: "IKE profile",
            segment: "ipsec-vpn-ike-profiles",
            parent: ParentKind::Infra,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "VERSION",
                    cell: |v| field(v, "ike_version"),
                },
                Column {
                    header: "ENCRYPTION",
                    cell: |v| field(v, "encryption_algorithms"),
                },
                Column {
                    header: "DIGEST",
                    cell: |v| field(v, "digest_algorithms"),
                },
                Column {
                    header: "DH GROUPS",
                    cell: |v| field(v, "dh_groups"),
                },
                Column {
                    header: "LIFETIME",
                    cell: |v| field(v, "sa_life_time"),
                },
                Column {
                    header: "SYSTEM",
                    cell: system,
                },
            ],
        },
    ),
    (
        "tunnel-profile",
        Spec {
            noun: "IPsec tunnel profile",
            segment: "ipsec-vpn-tunnel-profiles",
            parent: ParentKind::Infra,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "ENCRYPTION",
                    cell: |v| field(v, "encryption_algorithms"),
                },
                Column {
                    header: "DIGEST",
                    cell: |v| field(v, "digest_algorithms"),
                },
                Column {
                    header: "PFS",
                    cell: |v| field(v, "enable_perfect_forward_secrecy"),
                },
                Column {
                    header: "DH GROUPS",
                    cell: |v| field(v, "dh_groups"),
                },
                Column {
                    header: "LIFETIME",
                    cell: |v| field(v, "sa_life_time"),
                },
                Column {
                    header: "SYSTEM",
                    cell: system,
                },
            ],
        },
    ),
    (
        "dpd-profile",
        Spec {
            noun: "DPD profile",
            segment: "ipsec-vpn-dpd-profiles",
            parent: ParentKind::Infra,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "ENABLED",
                    cell: |v| field(v, "enabled"),
                },
                Column {
                    header: "MODE",
                    cell: |v| field(v, "dpd_probe_mode"),
                },
                Column {
                    header: "INTERVAL",
                    cell: |v| field(v, "dpd_probe_interval"),
                },
                Column {
                    header: "RETRIES",
                    cell: |v| field(v, "retry_count"),
                },
                Column {
                    header: "SYSTEM",
                    cell: system,
                },
            ],
        },
    ),
    (
        "crl",
        Spec {
            noun: "CRL",
            segment: "crls",
            parent: ParentKind::Infra,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "ISSUER",
                    cell: |v| field(at(v, "/details"), "issuer"),
                },
                Column {
                    header: "REVOKED",
                    cell: |v| field(at(v, "/details"), "revoked_count"),
                },
                Column {
                    header: "NEXT UPDATE",
                    cell: |v| {
                        at(v, "/details/next_update")
                            .as_i64()
                            .map(time_ms)
                            .unwrap_or_default()
                    },
                },
            ],
        },
    ),
    (
        "route",
        Spec {
            noun: "static route",
            segment: "static-routes",
            parent: ParentKind::Gateway,
            columns: &[
                Column {
                    header: "ID",
                    cell: |v| field(v, "id"),
                },
                Column {
                    header: "GATEWAY",
                    cell: |v| last_segment(v, "parent_path"),
                },
                Column {
                    header: "NETWORK",
                    cell: |v| field(v, "network"),
                },
                Column {
                    header: "NEXT HOPS",
                    cell: |v| {
                        at(v, "/next_hops")
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .map(|h| field(h, "ip_address"))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default()
                    },
                },
            ],
        },
    ),
];

/// The table layout of a noun (every noun `run` hands to `generic` has one; see the test).
fn spec(name: &str) -> Result<&'static Spec> {
    SPECS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, spec)| spec)
        .ok_or_else(|| anyhow!("internal error: the CLI has no table layout for {name:?}"))
}

fn gateway(client: &Client, out: &Output, verb: VerbKind<GatewayFlags>) -> Result<()> {
    match verb {
        VerbKind::List { .. } => out.list(&gateways(client)?, GATEWAY_COLUMNS),
        VerbKind::Show { id, .. } => {
            out.object(&client.get(&url(&resolve_gateway(client, Some(&id))?))?)
        }
        VerbKind::Create {
            id, file, flags, ..
        } => {
            let coll = if flags.tier == "1" {
                "/infra/tier-1s"
            } else {
                "/infra/tier-0s"
            };
            let noun = if flags.tier == "1" {
                "tier-1 gateway"
            } else {
                "tier-0 gateway"
            };
            create(
                client,
                out,
                noun,
                &format!("{coll}/{id}"),
                "/infra",
                file.as_deref(),
                &flags,
            )?;
        }
        VerbKind::Update {
            id, file, flags, ..
        } => {
            let path = resolve_gateway(client, Some(&id))?;
            update(
                client,
                out,
                "gateway",
                &path,
                "/infra",
                file.as_deref(),
                &flags,
            )?;
        }
        VerbKind::Delete { id, .. } => {
            let path = resolve_gateway(client, Some(&id))?;
            client.delete(&url(&path))?;
            out.done(&format!("deleted gateway {path}"), None);
        }
    }
    Ok(())
}

fn user(client: &Client, out: &Output, me: &str, verb: VerbKind<UserFlags>) -> Result<()> {
    const COLUMNS: &[Column] = &[
        Column {
            header: "USERNAME",
            cell: |v| field(v, "username"),
        },
        Column {
            header: "ROLE",
            cell: |v| field(v, "role"),
        },
        Column {
            header: "CREATED",
            cell: |v| {
                at(v, "/_create_time")
                    .as_i64()
                    .map(time_ms)
                    .unwrap_or_default()
            },
        },
    ];
    let user_url = |name: &str| format!("/api/v1/users/{}", encode_segment(name));
    let new_password =
        |f: &UserFlags, required: bool| -> Result<Option<zeroize::Zeroizing<String>>> {
            if f.password_file.is_some() || f.password || required {
                Ok(Some(secrets::file_env_or_prompt(
                    f.password_file.as_deref(),
                    "STRAIT_NEW_PASSWORD",
                    "new password",
                )?))
            } else {
                Ok(None)
            }
        };
    match verb {
        VerbKind::List { .. } => {
            let v = client.get("/api/v1/users")?;
            out.list(
                at(&v, "/results")
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
                COLUMNS,
            );
        }
        VerbKind::Show { id, .. } => out.object(&client.get(&user_url(&id))?),
        VerbKind::Create { id, flags, .. } => {
            if client.get_opt(&user_url(&id))?.is_some() {
                bail!("user {id} already exists; use `strait user update`");
            }
            let role = flags
                .role
                .clone()
                .ok_or_else(|| anyhow!("give the new user's role with --role admin|auditor"))?;
            let pw = new_password(&flags, true)?.unwrap_or_default();
            let v = client.put(
                &user_url(&id),
                &json!({"role": role, "password": pw.as_str()}),
            )?;
            out.done(&format!("created user {id} ({role})"), Some(&v));
        }
        VerbKind::Update { id, flags, .. } => {
            let mut body = Map::new();
            put_opt(&mut body, "role", flags.role.clone().map(Value::from));
            if let Some(pw) = new_password(&flags, false)? {
                body.insert("password".into(), Value::from(pw.as_str()));
                if id == me {
                    // Changing one's own password needs the current one: the one used to log in.
                    let old = match std::env::var("STRAIT_PASSWORD") {
                        Ok(p) if !p.is_empty() => zeroize::Zeroizing::new(p),
                        _ => secrets::prompt("Current password: ")?,
                    };
                    body.insert("old_password".into(), Value::from(old.as_str()));
                }
            }
            if body.is_empty() {
                bail!("nothing to change: give --role and/or --password");
            }
            let v = client.put(&user_url(&id), &Value::Object(body))?;
            out.done(&format!("updated user {id}"), Some(&v));
        }
        VerbKind::Delete { id, .. } => {
            client.delete(&user_url(&id))?;
            out.done(&format!("deleted user {id}"), None);
        }
    }
    Ok(())
}

fn audit(client: &Client, out: &Output, verb: AuditVerb) -> Result<()> {
    let AuditVerb::List { page_size, cursor } = verb;
    let mut q = format!("/api/v1/audit-log?page_size={page_size}");
    if let Some(c) = cursor {
        q.push_str(&format!("&cursor={}", encode_segment(&c)));
    }
    let v = client.get(&q)?;
    const COLUMNS: &[Column] = &[
        Column {
            header: "TIME (UTC)",
            cell: |v| at(v, "/time").as_i64().map(time_ms).unwrap_or_default(),
        },
        Column {
            header: "USER",
            cell: |v| field(v, "user"),
        },
        Column {
            header: "METHOD",
            cell: |v| field(v, "method"),
        },
        Column {
            header: "PATH",
            cell: |v| field(v, "path"),
        },
        Column {
            header: "REVISION",
            cell: |v| field(v, "revision"),
        },
        Column {
            header: "RESULT",
            cell: |v| field(v, "result"),
        },
    ];
    out.list(
        at(&v, "/results")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        COLUMNS,
    );
    if let (false, Some(c)) = (out.json, at(&v, "/cursor").as_str()) {
        println!("more: strait audit list --cursor {c}");
    }
    Ok(())
}

fn session(client: &Client, out: &Output, verb: SessionVerb) -> Result<()> {
    match verb {
        SessionVerb::Add {
            route_based,
            service,
            gateway,
            flags,
        } => {
            let svc = resolve_service(client, &Scope { gateway, service })?;
            let mut flags = flags;
            if flags.display_name.is_none() {
                flags.display_name = Some(route_based.clone());
            }
            create(
                client,
                out,
                "IPsec session",
                &format!("{svc}/sessions/{route_based}"),
                &svc,
                None,
                &flags,
            )
        }
        SessionVerb::Status { id, scope } => session_status(client, out, id, &scope),
        SessionVerb::Stats { id, scope, reset } => session_stats(client, out, &id, &scope, reset),
        SessionVerb::PeerConfig { id, scope, format } => {
            session_peer_config(client, &id, &scope, &format)
        }
        SessionVerb::Common(VerbKind::Show { id, scope }) => {
            let path = session_path(client, &id, &scope)?;
            let v = client.get(&url(&path))?;
            let status = client.get(&url(&format!("{path}/detailed-status")))?;
            if out.json {
                // The session as the API returns it, plus its status under `status`.
                let mut both = v.clone();
                if let Some(m) = both.as_object_mut() {
                    m.insert("status".into(), at(&status, "/results/0").clone());
                }
                out.object(&both);
            } else {
                out.object(&v);
                println!();
                print_status_details(at(&status, "/results/0"));
            }
            Ok(())
        }
        SessionVerb::Common(v) => generic(client, out, spec("session")?, v),
    }
}

/// The policy path of session `id`: under the given (or only) service, or found across every
/// service when none is given and there are several.
fn session_path(client: &Client, id: &str, scope: &Scope) -> Result<String> {
    if id.starts_with("/infra/") {
        return Ok(id.to_owned());
    }
    if scope.gateway.is_some() || scope.service.is_some() {
        let svc = resolve_service(client, scope)?;
        return Ok(format!("{svc}/sessions/{}", encode_segment(id)));
    }
    let found: Vec<String> = all_sessions(client)?
        .iter()
        .map(|s| field(s, "path"))
        .filter(|p| p.rsplit('/').next() == Some(id))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no session {id:?}; `strait session list` shows the sessions"),
        many => bail!(
            "several sessions are called {id:?} ({}); pick one with --gateway and --service, or give its path",
            many.join(", ")
        ),
    }
}

/// Every session of every service of every gateway.
fn all_sessions(client: &Client) -> Result<Vec<Value>> {
    in_every_service(client, "sessions")
}

/// The `segment` collection (`sessions`, `local-endpoints`) of every service of every gateway.
pub(crate) fn in_every_service(client: &Client, segment: &str) -> Result<Vec<Value>> {
    let mut v = Vec::new();
    for g in gateways(client)? {
        for s in client.list_all(&url(&format!("{}/ipsec-vpn-services", field(&g, "path"))))? {
            v.extend(client.list_all(&url(&format!("{}/{segment}", field(&s, "path"))))?);
        }
    }
    Ok(v)
}

/// `1d 2h`, `3h 4m`, `5m 6s`, `7s`.
fn duration_text(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Bytes as `1.2 MB`.
fn bytes_text(n: u64) -> String {
    let mut v = n as f64;
    let mut unit = "B";
    for larger in ["kB", "MB", "GB", "TB"] {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = larger;
    }
    if unit == "B" {
        format!("{n} B")
    } else {
        format!("{v:.1} {unit}")
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One row of `strait session status`: the session with its detailed status.
fn status_row(session: &Value, status: &Value) -> Value {
    let st = at(status, "/results/0");
    let uptime = match (
        at(st, "/runtime_status").as_str(),
        at(st, "/established_time").as_i64(),
    ) {
        (Some("UP" | "DEGRADED"), Some(t)) => {
            duration_text(u64::try_from((now_ms() - t).max(0) / 1000).unwrap_or(0))
        }
        _ => "-".into(),
    };
    let reason = match at(st, "/ike_status/fail_reason").as_str() {
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => "-".into(),
    };
    let c = at(st, "/aggregate_traffic_counters");
    serde_json::json!({
        "name": field(session, "display_name"),
        "path": field(session, "path"),
        "peer": field(session, "peer_address"),
        "state": at(st, "/runtime_status").as_str().unwrap_or("DOWN"),
        "ike_state": at(st, "/ike_status/ike_session_state"),
        "uptime": uptime,
        "reason": reason,
        "alarm": at(st, "/alarm/message"),
        "interface": at(st, "/interface_name"),
        "bytes_in": at(c, "/bytes_in").as_u64().unwrap_or(0),
        "bytes_out": at(c, "/bytes_out").as_u64().unwrap_or(0),
    })
}

fn session_status(client: &Client, out: &Output, id: Option<String>, scope: &Scope) -> Result<()> {
    let sessions = match &id {
        Some(id) => vec![client.get(&url(&session_path(client, id, scope)?))?],
        None if scope.gateway.is_some() || scope.service.is_some() => {
            let svc = resolve_service(client, scope)?;
            client.list_all(&url(&format!("{svc}/sessions")))?
        }
        None => all_sessions(client)?,
    };
    // Many sessions: their services' session-status pages (up to 1,000 sessions a request),
    // not a request per session.
    let mut statuses: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    if id.is_none() {
        let services: std::collections::BTreeSet<String> =
            sessions.iter().map(|s| field(s, "parent_path")).collect();
        for svc in services {
            for row in client.list_all(&url(&format!("{svc}/session-status")))? {
                let status = serde_json::json!({"results": [row.get("status").cloned().unwrap_or(Value::Null)]});
                statuses.insert(field(&row, "path"), status);
            }
        }
    }
    let mut rows = Vec::new();
    for s in &sessions {
        let path = field(s, "path");
        let status = match statuses.remove(&path) {
            Some(st) => st,
            // One session, or one created since its service's page was read.
            None => client.get(&url(&format!("{path}/detailed-status")))?,
        };
        rows.push(status_row(s, &status));
    }
    const COLUMNS: &[Column] = &[
        Column {
            header: "NAME",
            cell: |v| field(v, "name"),
        },
        Column {
            header: "PEER",
            cell: |v| field(v, "peer"),
        },
        Column {
            header: "STATE",
            cell: |v| field(v, "state"),
        },
        Column {
            header: "UPTIME",
            cell: |v| field(v, "uptime"),
        },
        Column {
            header: "REASON",
            cell: |v| field(v, "reason"),
        },
        Column {
            header: "BYTES IN",
            cell: |v| bytes_text(at(v, "/bytes_in").as_u64().unwrap_or(0)),
        },
        Column {
            header: "BYTES OUT",
            cell: |v| bytes_text(at(v, "/bytes_out").as_u64().unwrap_or(0)),
        },
    ];
    out.list(&rows, COLUMNS);
    if !out.json {
        // Say what to change for every session that is down for a fixable reason.
        for r in &rows {
            if let Some(alarm) = at(r, "/alarm").as_str() {
                println!("{}: {alarm}", field(r, "name"));
            }
        }
    }
    Ok(())
}

/// The status part of `strait session show`: state, reason, what to change, and the SAs.
fn print_status_details(st: &Value) {
    let line = |k: &str, v: String| println!("{k:<22}  {v}");
    println!("status");
    line("runtime_status", field(st, "runtime_status"));
    line(
        "ike_session_state",
        field(at(st, "/ike_status"), "ike_session_state"),
    );
    let reason = field(at(st, "/ike_status"), "fail_reason");
    if !reason.is_empty() {
        line("fail_reason", reason);
    }
    if let Some(m) = at(st, "/alarm/message").as_str() {
        line("alarm", m.to_owned());
    }
    if let Some(i) = at(st, "/interface_name").as_str() {
        line("interface_name", i.to_owned());
    }
    if let Some(t) = at(st, "/established_time").as_i64() {
        line(
            "uptime",
            duration_text(u64::try_from((now_ms() - t).max(0) / 1000).unwrap_or(0)),
        );
    }
    let c = at(st, "/aggregate_traffic_counters");
    line(
        "traffic",
        format!(
            "in {} packets / {} bytes, out {} packets / {} bytes, dropped in {} out {}",
            field(c, "packets_in"),
            field(c, "bytes_in"),
            field(c, "packets_out"),
            field(c, "bytes_out"),
            field(c, "dropped_packets_in"),
            field(c, "dropped_packets_out"),
        ),
    );
    let rekey = |v: &Value| match at(v, "/rekey_in_seconds").as_u64() {
        Some(s) => format!(", rekey in {}", duration_text(s)),
        None => String::new(),
    };
    let ike = at(st, "/sas/ike");
    if ike.is_object() {
        line(
            "ike_sa",
            format!(
                "{} {}_{} {} {} -> {} (peer id {}), {}, up {}{}",
                field(ike, "role"),
                field(ike, "spi_i"),
                field(ike, "spi_r"),
                field(ike, "algorithms"),
                field(ike, "local"),
                field(ike, "remote"),
                field(ike, "remote_id"),
                if at(ike, "/udp_encapsulation").as_bool() == Some(true) {
                    "ESP in UDP 4500"
                } else {
                    "plain ESP"
                },
                duration_text(at(ike, "/age_seconds").as_u64().unwrap_or(0)),
                rekey(ike),
            ),
        );
    }
    for c in at(st, "/sas/child").as_array().into_iter().flatten() {
        line(
            "child_sa",
            format!(
                "in {} out {} {}, up {}{}",
                field(c, "spi_in"),
                field(c, "spi_out"),
                field(c, "algorithms"),
                duration_text(at(c, "/age_seconds").as_u64().unwrap_or(0)),
                rekey(c),
            ),
        );
    }
}

fn session_stats(
    client: &Client,
    out: &Output,
    id: &str,
    scope: &Scope,
    reset: bool,
) -> Result<()> {
    let path = session_path(client, id, scope)?;
    if reset {
        client.post(&url(&format!("{path}/statistics?action=reset")), None)?;
        out.done(&format!("statistics of {path} reset"), None);
        return Ok(());
    }
    let v = client.get(&url(&format!("{path}/statistics")))?;
    if out.json {
        out.object(&v);
        return Ok(());
    }
    let r = at(&v, "/results/0");
    println!("session  {}", field(r, "display_name"));
    println!(
        "ike      {}",
        field(at(r, "/ike_status"), "ike_session_state")
    );
    for p in at(r, "/policy_statistics").as_array().into_iter().flatten() {
        for t in at(p, "/tunnel_statistics").as_array().into_iter().flatten() {
            println!("tunnel   {}", field(p, "tunnel_interface_path"));
            out.object(t);
        }
    }
    Ok(())
}

/// Run one command.
pub fn run(client: &Client, out: &Output, me: &str, noun: Noun) -> Result<()> {
    match noun {
        Noun::Gateway(v) => gateway(client, out, v.verb),
        Noun::Service(v) => generic(client, out, spec("service")?, v.verb),
        Noun::Endpoint(v) => generic(client, out, spec("endpoint")?, v.verb),
        Noun::Session(s) => session(client, out, s.verb),
        Noun::IkeProfile(v) => generic(client, out, spec("ike-profile")?, v.verb),
        Noun::TunnelProfile(v) => generic(client, out, spec("tunnel-profile")?, v.verb),
        Noun::DpdProfile(v) => generic(client, out, spec("dpd-profile")?, v.verb),
        Noun::Certificate(c) => crate::certs::certificate(client, out, c.verb),
        Noun::Crl(Verb {
            verb: VerbKind::List { .. },
        }) => crate::certs::crl_list(client, out),
        Noun::Crl(v) => generic(client, out, spec("crl")?, v.verb),
        Noun::Route(v) => generic(client, out, spec("route")?, v.verb),
        Noun::User(v) => user(client, out, me, v.verb),
        Noun::Audit(a) => audit(client, out, a.verb),
        Noun::Bgp(b) => crate::bgp::bgp(client, out, b),
    }
}

/// `strait session peer-config ID [--format nsx|strongswan]`: the text as the API returns it,
/// on stdout (also with `--json`: it is a file, not an object).
fn session_peer_config(client: &Client, id: &str, scope: &Scope, format: &str) -> Result<()> {
    let path = session_path(client, id, scope)?;
    let text = zeroize::Zeroizing::new(
        client.get_text(&url(&format!("{path}/peer-config?format={format}")))?,
    );
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write the peer configuration to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generic_noun_has_a_table_layout() {
        for noun in [
            "service",
            "endpoint",
            "session",
            "ike-profile",
            "tunnel-profile",
            "dpd-profile",
            "crl",
            "route",
        ] {
            assert!(spec(noun).is_ok(), "{noun} has no table layout");
        }
        assert!(spec("no-such-noun").is_err());
    }

    #[test]
    fn bytes_text_picks_the_largest_unit_below_1000() {
        assert_eq!(bytes_text(999), "999 B");
        assert_eq!(bytes_text(1_500), "1.5 kB");
        assert_eq!(bytes_text(2_000_000), "2.0 MB");
        assert_eq!(bytes_text(5_000_000_000_000_000), "5000.0 TB");
    }
}
