//! `strait bgp ...`: a tier-0's BGP configuration (on its `default` locale service), its
//! neighbors, and what BIRD reports (neighbor state, learned and advertised routes, the
//! routing table). Neighbor passwords come from a file, `STRAIT_BGP_PASSWORD` or a prompt,
//! never from the command line, and are never printed.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use strait_client::Client;

use crate::args::CommonFlags;
use crate::commands::{common, resolve_gateway, url};
use crate::output::{at, field, Column, Output};
use crate::secrets;

/// `strait bgp`.
#[derive(Debug, Args)]
pub struct BgpCmd {
    /// Gateway id or path (default: the only gateway).
    #[arg(long, global = true, value_name = "G")]
    pub gateway: Option<String>,
    #[command(subcommand)]
    pub verb: BgpVerb,
}

/// What to do with BGP.
// Parsed once per process; boxing the neighbor flags would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum BgpVerb {
    /// Show the gateway's BGP configuration and route redistribution.
    Show,
    /// Change the BGP configuration (fields not given are kept).
    Set(BgpFlags),
    /// BGP neighbors.
    Neighbor {
        #[command(subcommand)]
        verb: NeighborVerb,
    },
    /// Neighbors' state: ESTABLISHED or not, for how long, routes in and out, last error.
    Status,
    /// Routes learned from a neighbor (or, with --advertised, announced to it).
    Routes {
        /// Neighbor id.
        neighbor: String,
        /// Routes announced to the neighbor instead.
        #[arg(long)]
        advertised: bool,
    },
    /// The gateway's routing table: VTI subnets, static routes and BGP routes.
    Table {
        /// Only routes of this source: bgp, static or connected.
        #[arg(long, value_parser = ["bgp", "static", "connected"])]
        source: Option<String>,
    },
}

/// BGP configuration fields.
#[derive(Debug, Args)]
pub struct BgpFlags {
    /// This gateway's AS number (ASPLAIN 65001 or ASDOT 1.10); BGP runs once it is set.
    #[arg(long, value_name = "AS")]
    pub local_as: Option<String>,
    /// Run BGP: true or false.
    #[arg(long)]
    pub enabled: Option<bool>,
    /// Equal-cost multipath: true or false.
    #[arg(long)]
    pub ecmp: Option<bool>,
    /// Graceful restart: helper-only, gr-and-helper or disable.
    #[arg(long, value_parser = ["helper-only", "gr-and-helper", "disable"])]
    pub graceful_restart: Option<String>,
    /// What to announce (repeatable): connected, static, ipsec-local-ip.
    #[arg(long, value_parser = ["connected", "static", "ipsec-local-ip"])]
    pub redistribute: Vec<String>,
    /// Announce nothing (clears the redistribution rules).
    #[arg(long, conflicts_with = "redistribute")]
    pub no_redistribute: bool,
}

/// Neighbor verbs.
#[derive(Debug, Subcommand)]
pub enum NeighborVerb {
    /// List the neighbors.
    List,
    /// Show one.
    Show {
        /// Id.
        id: String,
    },
    /// Create one.
    Create {
        /// Id.
        id: String,
        #[command(flatten)]
        flags: NeighborFlags,
    },
    /// Change the given fields of one.
    Update {
        /// Id.
        id: String,
        #[command(flatten)]
        flags: NeighborFlags,
    },
    /// Delete one.
    Delete {
        /// Id.
        id: String,
    },
}

/// Neighbor fields.
#[derive(Debug, Args)]
pub struct NeighborFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// The neighbor's address (e.g. the peer's VTI address).
    #[arg(long)]
    pub address: Option<String>,
    /// The neighbor's AS.
    #[arg(long, value_name = "AS")]
    pub remote_as: Option<String>,
    /// Our address for the session (e.g. our VTI address).
    #[arg(long)]
    pub source: Option<String>,
    /// Hold time, seconds.
    #[arg(long)]
    pub hold: Option<u32>,
    /// Keepalive, seconds.
    #[arg(long)]
    pub keepalive: Option<u32>,
    /// TCP MD5 password from this file (- for stdin); or set STRAIT_BGP_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Ask for a password (unless STRAIT_BGP_PASSWORD or --password-file gives it).
    #[arg(long)]
    pub password: bool,
    /// Remove the password.
    #[arg(long, conflicts_with_all = ["password_file", "password"])]
    pub no_password: bool,
    /// BFD with the neighbor: true or false.
    #[arg(long)]
    pub bfd: Option<bool>,
    /// BFD interval, milliseconds.
    #[arg(long)]
    pub bfd_interval: Option<u32>,
    /// BFD multiplier.
    #[arg(long)]
    pub bfd_multiple: Option<u32>,
    /// Most routes accepted from the neighbor (IPv4).
    #[arg(long)]
    pub max_routes: Option<u32>,
    /// Prefix list (id) filtering what is learned (IPv4).
    #[arg(long, value_name = "ID")]
    pub in_filter: Option<String>,
    /// Prefix list (id) filtering what is announced (IPv4).
    #[arg(long, value_name = "ID")]
    pub out_filter: Option<String>,
    /// Peer with this neighbor: true or false.
    #[arg(long)]
    pub enabled: Option<bool>,
}

fn neighbor_body(f: &NeighborFlags, gateway: &str) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    common(&mut m, &f.common);
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    };
    put("neighbor_address", f.address.clone().map(Value::from));
    put("remote_as_num", f.remote_as.clone().map(Value::from));
    put("source_addresses", f.source.clone().map(|s| json!([s])));
    put("hold_down_time", f.hold.map(Value::from));
    put("keep_alive_time", f.keepalive.map(Value::from));
    put("enabled", f.enabled.map(Value::from));
    if f.bfd.is_some() || f.bfd_interval.is_some() || f.bfd_multiple.is_some() {
        let mut b = Map::new();
        b.insert("enabled".into(), Value::from(f.bfd.unwrap_or(true)));
        if let Some(i) = f.bfd_interval {
            b.insert("interval".into(), Value::from(i));
        }
        if let Some(x) = f.bfd_multiple {
            b.insert("multiple".into(), Value::from(x));
        }
        m.insert("bfd".into(), Value::Object(b));
    }
    if f.max_routes.is_some() || f.in_filter.is_some() || f.out_filter.is_some() {
        let pl = |id: &String| json!([format!("{gateway}/prefix-lists/{id}")]);
        let mut rf = Map::new();
        rf.insert("address_family".into(), Value::from("IPV4"));
        if let Some(n) = f.max_routes {
            rf.insert("maximum_routes".into(), Value::from(n));
        }
        if let Some(id) = &f.in_filter {
            rf.insert("in_route_filters".into(), pl(id));
        }
        if let Some(id) = &f.out_filter {
            rf.insert("out_route_filters".into(), pl(id));
        }
        m.insert("route_filtering".into(), json!([rf]));
    }
    if f.no_password {
        m.insert("password".into(), Value::from(""));
    } else if f.password
        || f.password_file.is_some()
        || std::env::var_os("STRAIT_BGP_PASSWORD").is_some()
    {
        let pw = secrets::file_env_or_prompt(
            f.password_file.as_deref(),
            "STRAIT_BGP_PASSWORD",
            "BGP password",
        )?;
        m.insert("password".into(), Value::from(pw.as_str()));
    }
    Ok(m)
}

const NEIGHBOR_COLUMNS: &[Column] = &[
    Column {
        header: "ID",
        cell: |v| field(v, "id"),
    },
    Column {
        header: "ADDRESS",
        cell: |v| field(v, "neighbor_address"),
    },
    Column {
        header: "REMOTE AS",
        cell: |v| field(v, "remote_as_num"),
    },
    Column {
        header: "SOURCE",
        cell: |v| crate::output::scalar(at(v, "/source_addresses/0")),
    },
    Column {
        header: "BFD",
        cell: |v| crate::output::scalar(at(v, "/bfd/enabled")),
    },
    Column {
        header: "PASSWORD",
        cell: |v| {
            if at(v, "/has_password").as_bool() == Some(true) {
                "set".into()
            } else {
                "-".into()
            }
        },
    },
];

const STATUS_COLUMNS: &[Column] = &[
    Column {
        header: "NEIGHBOR",
        cell: |v| field(v, "neighbor_address"),
    },
    Column {
        header: "AS",
        cell: |v| field(v, "remote_as_number"),
    },
    Column {
        header: "STATE",
        cell: |v| field(v, "connection_state"),
    },
    Column {
        header: "UP (S)",
        cell: |v| crate::output::scalar(at(v, "/time_since_established")),
    },
    Column {
        header: "IN",
        cell: |v| crate::output::scalar(at(v, "/total_in_prefix_count")),
    },
    Column {
        header: "OUT",
        cell: |v| crate::output::scalar(at(v, "/total_out_prefix_count")),
    },
    Column {
        header: "BFD",
        cell: |v| {
            let bfd = field(v, "bfd_status");
            if bfd.is_empty() {
                "-".to_owned()
            } else {
                bfd
            }
        },
    },
    Column {
        header: "WHY",
        cell: |v| {
            let alarm = field(v, "alarm");
            if alarm.is_empty() {
                field(v, "last_error")
            } else {
                alarm
            }
        },
    },
];

const ROUTE_COLUMNS: &[Column] = &[
    Column {
        header: "NETWORK",
        cell: |v| field(v, "network"),
    },
    Column {
        header: "NEXT HOP",
        cell: |v| field(v, "next_hop"),
    },
    Column {
        header: "AS PATH",
        cell: |v| field(v, "as_path"),
    },
];

const TABLE_COLUMNS: &[Column] = &[
    Column {
        header: "NETWORK",
        cell: |v| field(v, "network"),
    },
    Column {
        header: "TYPE",
        cell: |v| field(v, "route_type"),
    },
    Column {
        header: "NEXT HOP",
        cell: |v| field(v, "next_hop"),
    },
    Column {
        header: "DISTANCE",
        cell: |v| crate::output::scalar(at(v, "/admin_distance")),
    },
    Column {
        header: "INTERFACE",
        cell: |v| field(v, "interface_name"),
    },
];

/// Run `strait bgp ...`.
pub fn bgp(client: &Client, out: &Output, cmd: BgpCmd) -> Result<()> {
    let gateway = resolve_gateway(client, cmd.gateway.as_deref())?;
    if !gateway.starts_with("/infra/tier-0s/") {
        bail!("{gateway} is a tier-1 gateway; BGP runs on tier-0 gateways");
    }
    let ls = format!("{gateway}/locale-services/default");
    let bgp = format!("{ls}/bgp");
    match cmd.verb {
        BgpVerb::Show => {
            let mut v = client.get(&url(&bgp))?;
            let locale = client.get(&url(&ls))?;
            if let Value::Object(m) = &mut v {
                m.insert(
                    "route_redistribution_config".into(),
                    at(&locale, "/route_redistribution_config").clone(),
                );
            }
            out.object(&v);
        }
        BgpVerb::Set(f) => {
            let mut m = Map::new();
            if let Some(a) = f.local_as {
                m.insert("local_as_num".into(), Value::from(a));
            }
            if let Some(e) = f.enabled {
                m.insert("enabled".into(), Value::from(e));
            }
            if let Some(e) = f.ecmp {
                m.insert("ecmp".into(), Value::from(e));
            }
            if let Some(g) = f.graceful_restart {
                m.insert(
                    "graceful_restart_config".into(),
                    json!({"mode": g.to_ascii_uppercase().replace('-', "_")}),
                );
            }
            let redistribution = if f.no_redistribute {
                Some(json!({"route_redistribution_config": {"redistribution_rules": []}}))
            } else if !f.redistribute.is_empty() {
                let types: Vec<String> = f
                    .redistribute
                    .iter()
                    .map(|t| format!("TIER0_{}", t.to_ascii_uppercase().replace('-', "_")))
                    .collect();
                Some(
                    json!({"route_redistribution_config": {"redistribution_rules": [{"name": "strait-cli", "route_redistribution_types": types}]}}),
                )
            } else {
                None
            };
            if m.is_empty() && redistribution.is_none() {
                bail!("nothing to change: give --local-as, --enabled, --ecmp, --graceful-restart or --redistribute");
            }
            if !m.is_empty() {
                client.patch(&url(&bgp), &Value::Object(m))?;
            }
            if let Some(r) = redistribution {
                client.patch(&url(&ls), &r)?;
            }
            out.done(&format!("updated {bgp}"), Some(&client.get(&url(&bgp))?));
        }
        BgpVerb::Neighbor { verb } => neighbor(client, out, &gateway, &bgp, verb)?,
        BgpVerb::Status => {
            let v = client.get(&url(&format!("{bgp}/neighbors/status")))?;
            let items = at(&v, "/results").as_array().cloned().unwrap_or_default();
            out.list(&items, STATUS_COLUMNS);
        }
        BgpVerb::Routes {
            neighbor,
            advertised,
        } => {
            let what = if advertised {
                "advertised-routes"
            } else {
                "routes"
            };
            let v = client.get(&url(&format!("{bgp}/neighbors/{neighbor}/{what}")))?;
            let routes = at(&v, "/results/0/edge_node_routes/0/routes")
                .as_array()
                .cloned()
                .unwrap_or_default();
            out.list(&routes, ROUTE_COLUMNS);
        }
        BgpVerb::Table { source } => {
            let q = source.map_or(String::new(), |s| {
                format!("?route_source={}", s.to_ascii_uppercase())
            });
            let v = client.get(&url(&format!("{gateway}/routing-table{q}")))?;
            let table = at(&v, "/results/0");
            if let Some(e) = table.get("error_message").and_then(Value::as_str) {
                bail!("the routing table cannot be read: {e}");
            }
            let entries = table["route_entries"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            out.list(&entries, TABLE_COLUMNS);
        }
    }
    Ok(())
}

fn neighbor(
    client: &Client,
    out: &Output,
    gateway: &str,
    bgp: &str,
    verb: NeighborVerb,
) -> Result<()> {
    let path = |id: &str| format!("{bgp}/neighbors/{id}");
    match verb {
        NeighborVerb::List => {
            let items = client.list_all(&url(&format!("{bgp}/neighbors")))?;
            out.list(&items, NEIGHBOR_COLUMNS);
        }
        NeighborVerb::Show { id } => out.object(&client.get(&url(&path(&id)))?),
        NeighborVerb::Create { id, flags } => {
            let p = path(&id);
            if client.get_opt(&url(&p))?.is_some() {
                bail!("BGP neighbor {p} already exists; use `update` to change it");
            }
            client.patch(&url(&p), &Value::Object(neighbor_body(&flags, gateway)?))?;
            out.done(
                &format!("created BGP neighbor {p}"),
                Some(&client.get(&url(&p))?),
            );
        }
        NeighborVerb::Update { id, flags } => {
            let p = path(&id);
            if client.get_opt(&url(&p))?.is_none() {
                bail!("BGP neighbor {p} does not exist; use `create`");
            }
            let body = neighbor_body(&flags, gateway)?;
            if body.is_empty() {
                bail!("nothing to change: give the fields to update as flags");
            }
            client.patch(&url(&p), &Value::Object(body))?;
            out.done(
                &format!("updated BGP neighbor {p}"),
                Some(&client.get(&url(&p))?),
            );
        }
        NeighborVerb::Delete { id } => {
            let p = path(&id);
            client.delete(&url(&p))?;
            out.done(&format!("deleted BGP neighbor {p}"), None);
        }
    }
    Ok(())
}
