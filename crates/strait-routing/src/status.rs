//! `show protocols all`, `show route all` and `show bfd sessions` replies → typed status
//! (sans-IO, never panics).
//!
//! Times are Unix seconds because strait's configuration sets BIRD's `timeformat` to `"%s"`.

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::reply::{ParseError, Reply};

/// NSX's `connection_state` of a BGP neighbor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// The neighbor's configuration is not realized (e.g. BIRD refused it).
    Invalid,
    /// BGP Idle (also a disabled neighbor, or BIRD stopping the session).
    Idle,
    /// BGP Connect.
    Connect,
    /// BGP Active.
    Active,
    /// BGP OpenSent.
    OpenSent,
    /// BGP OpenConfirm.
    OpenConfirm,
    /// BGP Established.
    Established,
    /// BIRD does not know the neighbor or said something we do not know.
    Unknown,
}

impl ConnectionState {
    /// From BIRD's `BGP state:` text.
    pub fn from_bird(bgp_state: &str) -> ConnectionState {
        match bgp_state {
            "Idle" | "Down" | "Close" => ConnectionState::Idle,
            "Connect" => ConnectionState::Connect,
            "Active" => ConnectionState::Active,
            "OpenSent" => ConnectionState::OpenSent,
            "OpenConfirm" => ConnectionState::OpenConfirm,
            "Established" => ConnectionState::Established,
            _ => ConnectionState::Unknown,
        }
    }
    /// NSX's spelling (`ESTABLISHED`, `OPEN_SENT`, ...).
    pub fn as_nsx(self) -> &'static str {
        match self {
            ConnectionState::Invalid => "INVALID",
            ConnectionState::Idle => "IDLE",
            ConnectionState::Connect => "CONNECT",
            ConnectionState::Active => "ACTIVE",
            ConnectionState::OpenSent => "OPEN_SENT",
            ConnectionState::OpenConfirm => "OPEN_CONFIRM",
            ConnectionState::Established => "ESTABLISHED",
            ConnectionState::Unknown => "UNKNOWN",
        }
    }
}

/// One protocol of `show protocols all`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolStatus {
    /// BIRD protocol name.
    pub name: String,
    /// Protocol type (`BGP`, `Kernel`, `Static`, ...).
    pub proto: String,
    /// BIRD's protocol state (`up`, `start`, `down`, `flush`, ...).
    pub state: String,
    /// When it entered that state (Unix seconds).
    pub since: Option<u64>,
    /// The summary's info column (for BGP: the BGP state and the last error).
    pub info: String,
    /// `description`.
    pub description: Option<String>,
    /// BGP details (BGP protocols only).
    pub bgp: Option<BgpStatus>,
    /// Channels.
    pub channels: Vec<ChannelStatus>,
}

/// BGP details of a protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BgpStatus {
    /// `Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`, `Established`, `Down`.
    pub bgp_state: String,
    /// The peer's address.
    pub neighbor_address: Option<IpAddr>,
    /// The peer's AS.
    pub neighbor_as: Option<u32>,
    /// Our AS.
    pub local_as: Option<u32>,
    /// The peer's router ID (once OPEN was received).
    pub neighbor_id: Option<Ipv4Addr>,
    /// Our source address of the session.
    pub source_address: Option<IpAddr>,
    /// `external AS4`, `internal`, ...
    pub session: Option<String>,
    /// Negotiated hold time, seconds.
    pub hold_time_s: Option<u32>,
    /// Negotiated keepalive time, seconds.
    pub keepalive_s: Option<u32>,
    /// BIRD's `Last error:` (e.g. `Received: Bad peer AS`, `Error: Hold timer expired`).
    pub last_error: Option<String>,
}

/// A channel (address family) of a protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelStatus {
    /// `ipv4`, `ipv6`.
    pub name: String,
    /// `UP`, `DOWN`, `START`, `FLUSHING`.
    pub state: String,
    /// Routes accepted from the protocol.
    pub imported: u64,
    /// Routes the import filter rejected (kept only with `import keep filtered`).
    pub filtered: u64,
    /// Routes sent to the protocol.
    pub exported: u64,
    /// Accepted routes that are the best ones.
    pub preferred: u64,
    /// `import limit`, when configured.
    pub import_limit: Option<u64>,
    /// The import limit is reached (further routes are blocked).
    pub import_limit_hit: bool,
    /// `receive limit`, when configured.
    pub receive_limit: Option<u64>,
    /// The receive limit is reached.
    pub receive_limit_hit: bool,
}

fn content(line: usize, why: impl Into<String>) -> ParseError {
    ParseError::Content {
        line,
        why: why.into(),
    }
}

fn num<T: FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

/// Parses `show protocols all` (or `show protocols`).
pub fn parse_protocols(reply: &Reply) -> Result<Vec<ProtocolStatus>, ParseError> {
    if reply.is_error() {
        return Err(content(
            reply.lines.len(),
            format!("BIRD error {}: {}", reply.code(), reply.final_text()),
        ));
    }
    let mut out: Vec<ProtocolStatus> = Vec::new();
    let mut in_channel = false;
    for (i, l) in reply.lines.iter().enumerate() {
        let n = i + 1;
        match l.code {
            2002 | 0 => {}
            1002 => {
                if l.text.trim().is_empty() {
                    continue;
                }
                out.push(summary(n, &l.text)?);
                in_channel = false;
            }
            1006 => {
                let Some(p) = out.last_mut() else {
                    return Err(content(n, "protocol details before any protocol"));
                };
                detail(p, &l.text, &mut in_channel);
            }
            c if c >= 8000 => return Err(content(n, format!("BIRD error {c}: {}", l.text))),
            _ => {}
        }
    }
    Ok(out)
}

/// `name proto table state since info...`
fn summary(n: usize, text: &str) -> Result<ProtocolStatus, ParseError> {
    let mut rest = text;
    let mut field = || {
        let t = rest.trim_start();
        let end = t.find(char::is_whitespace).unwrap_or(t.len());
        let (f, r) = t.split_at(end);
        rest = r;
        f
    };
    let name = field().to_string();
    let proto = field().to_string();
    let _table = field();
    let state = field().to_string();
    let since_text = field();
    if name.is_empty() || proto.is_empty() || state.is_empty() {
        return Err(content(n, "protocol line with fewer than four columns"));
    }
    let info = rest.trim().to_string();
    let mut p = ProtocolStatus {
        name,
        proto,
        state,
        since: num(since_text),
        info,
        ..Default::default()
    };
    if p.proto == "BGP" {
        // The info column starts with the BGP state; `show protocols` (not `all`) has no
        // `BGP state:` line, so take it from here first.
        let bgp_state = p.info.split_whitespace().next().unwrap_or("").to_string();
        p.bgp = Some(BgpStatus {
            bgp_state,
            ..Default::default()
        });
    }
    Ok(p)
}

fn detail(p: &mut ProtocolStatus, text: &str, in_channel: &mut bool) {
    let t = text.trim();
    if let Some(ch) = t.strip_prefix("Channel ") {
        p.channels.push(ChannelStatus {
            name: ch.trim().to_string(),
            ..Default::default()
        });
        *in_channel = true;
        return;
    }
    let Some((key, value)) = t.split_once(':') else {
        return;
    };
    let value = value.trim();
    if *in_channel {
        if let Some(c) = p.channels.last_mut() {
            channel_detail(c, key, value);
        }
        return;
    }
    match key {
        "Description" => p.description = Some(value.to_string()),
        _ => {
            let Some(b) = p.bgp.as_mut() else { return };
            match key {
                "BGP state" => b.bgp_state = value.to_string(),
                "Neighbor address" => {
                    b.neighbor_address = num(value.split('%').next().unwrap_or(value))
                }
                "Neighbor AS" => b.neighbor_as = num(value),
                "Local AS" => b.local_as = num(value),
                "Neighbor ID" => b.neighbor_id = num(value),
                "Source address" => b.source_address = num(value),
                "Session" => b.session = Some(value.to_string()),
                "Hold timer" => b.hold_time_s = value.rsplit_once('/').and_then(|(_, h)| num(h)),
                "Keepalive timer" => {
                    b.keepalive_s = value.rsplit_once('/').and_then(|(_, k)| num(k))
                }
                "Last error" => b.last_error = Some(value.to_string()),
                _ => {}
            }
        }
    }
}

fn channel_detail(c: &mut ChannelStatus, key: &str, value: &str) {
    let limit = |v: &str| -> (Option<u64>, bool) {
        let mut it = v.split_whitespace();
        (it.next().and_then(num), it.any(|w| w == "[HIT]"))
    };
    match key {
        "State" => c.state = value.to_string(),
        "Import limit" => (c.import_limit, c.import_limit_hit) = limit(value),
        "Receive limit" => (c.receive_limit, c.receive_limit_hit) = limit(value),
        "Routes" => {
            // "2 imported, 1 filtered, 2 exported, 2 preferred"
            for part in value.split(',') {
                let mut it = part.split_whitespace();
                let (Some(count), Some(what)) = (it.next().and_then(num::<u64>), it.next()) else {
                    continue;
                };
                match what {
                    "imported" => c.imported = count,
                    "filtered" => c.filtered = count,
                    "exported" => c.exported = count,
                    "preferred" => c.preferred = count,
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// A route of `show route all`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    /// BIRD table (`master4`, `master6`).
    pub table: String,
    /// Destination.
    pub prefix: Option<IpNet>,
    /// `unicast`, `blackhole`, `unreachable`, `prohibited`.
    pub kind: String,
    /// The BIRD protocol that brought it.
    pub protocol: String,
    /// Since when (Unix seconds).
    pub since: Option<u64>,
    /// BIRD's best route for the prefix (`*`).
    pub primary: bool,
    /// BIRD preference.
    pub preference: Option<u32>,
    /// Next hops (more than one for ECMP).
    pub next_hops: Vec<NextHop>,
    /// `BGP.origin`.
    pub origin: Option<String>,
    /// `BGP.as_path` as BIRD prints it (sets in braces).
    pub as_path: String,
    /// `BGP.next_hop`.
    pub bgp_next_hop: Option<String>,
    /// `BGP.local_pref`.
    pub local_pref: Option<u32>,
    /// `BGP.med`.
    pub med: Option<u32>,
    /// `BGP.community` as BIRD prints it.
    pub communities: Option<String>,
}

/// A next hop of a route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextHop {
    /// Gateway (none for a device route).
    pub via: Option<IpAddr>,
    /// Interface.
    pub interface: Option<String>,
    /// ECMP weight.
    pub weight: Option<u32>,
}

/// Parses `show route all` (or `show route`).
pub fn parse_routes(reply: &Reply) -> Result<Vec<Route>, ParseError> {
    if reply.is_error() {
        return Err(content(
            reply.lines.len(),
            format!("BIRD error {}: {}", reply.code(), reply.final_text()),
        ));
    }
    let mut out: Vec<Route> = Vec::new();
    let mut table = String::new();
    let mut last_prefix: Option<IpNet> = None;
    for (i, l) in reply.lines.iter().enumerate() {
        let n = i + 1;
        let t = l.text.as_str();
        if l.code == 0 || t.trim().is_empty() {
            continue;
        }
        if l.code >= 8000 {
            return Err(content(n, format!("BIRD error {}: {}", l.code, t)));
        }
        if let Some(name) = t.strip_prefix("Table ") {
            table = name.trim_end_matches(':').trim().to_string();
            continue;
        }
        if t.starts_with('\t') || (t.starts_with(' ') && !t.contains('[')) {
            let Some(r) = out.last_mut() else {
                return Err(content(n, "route details before any route"));
            };
            route_detail(r, t.trim());
            continue;
        }
        // "<prefix>   <kind> [<proto> <since>] * (<pref>) [<AS path summary>]", the prefix
        // column blank for further routes of the same prefix.
        let (head, bracket) = t
            .split_once('[')
            .ok_or_else(|| content(n, "route line without '['"))?;
        let mut words = head.split_whitespace();
        let (prefix, kind) = match (words.next(), words.next()) {
            (Some(p), Some(k)) => {
                let net =
                    IpNet::from_str(p).map_err(|_| content(n, format!("bad prefix {p:?}")))?;
                last_prefix = Some(net);
                (Some(net), k)
            }
            (Some(k), None) => (last_prefix, k),
            _ => return Err(content(n, "route line without a kind")),
        };
        let (inside, after) = bracket
            .split_once(']')
            .ok_or_else(|| content(n, "route line without ']'"))?;
        let mut iw = inside.split_whitespace();
        let protocol = iw.next().unwrap_or("").to_string();
        let since = iw.next().and_then(num);
        let preference = after
            .split_once('(')
            .and_then(|(_, p)| p.split_once(')'))
            .and_then(|(p, _)| num(p.split('/').next().unwrap_or(p)));
        let primary = after.split_once('(').is_some_and(|(s, _)| s.contains('*'));
        out.push(Route {
            table: table.clone(),
            prefix,
            kind: kind.to_string(),
            protocol,
            since,
            primary,
            preference,
            ..Default::default()
        });
    }
    Ok(out)
}

fn route_detail(r: &mut Route, t: &str) {
    if let Some(rest) = t.strip_prefix("via ") {
        // "via 10.1.0.2 on vti0 [weight 1]" (also "mpls ..." suffixes we ignore)
        let mut w = rest.split_whitespace();
        let via = w.next().and_then(num);
        let mut hop = NextHop {
            via,
            ..Default::default()
        };
        while let Some(word) = w.next() {
            match word {
                "on" => hop.interface = w.next().map(str::to_string),
                "weight" => hop.weight = w.next().and_then(num),
                _ => {}
            }
        }
        r.next_hops.push(hop);
        return;
    }
    if let Some(dev) = t.strip_prefix("dev ") {
        let iface = dev.split_whitespace().next().map(str::to_string);
        r.next_hops.push(NextHop {
            via: None,
            interface: iface,
            weight: None,
        });
        return;
    }
    let Some((key, value)) = t.split_once(':') else {
        return;
    };
    let value = value.trim();
    match key {
        "BGP.origin" => r.origin = Some(value.to_string()),
        "BGP.as_path" => r.as_path = value.to_string(),
        "BGP.next_hop" => r.bgp_next_hop = Some(value.to_string()),
        "BGP.local_pref" => r.local_pref = num(value),
        "BGP.med" => r.med = num(value),
        "BGP.community" => r.communities = Some(value.to_string()),
        _ => {}
    }
}

/// One BFD session of `show bfd sessions` (RFC 5880 state as BIRD names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BfdSession {
    /// The BFD protocol instance (`strait_bfd`).
    pub protocol: String,
    /// The neighbor's address.
    pub address: IpAddr,
    /// The interface, when BIRD names one (not for multihop sessions).
    pub interface: Option<String>,
    /// `Up`, `Down`, `Init` or `AdminDown` (RFC 5880 §4.1).
    pub state: String,
    /// Since when in that state (Unix seconds).
    pub since: Option<u64>,
    /// Negotiated transmit interval, milliseconds.
    pub interval_ms: Option<u64>,
    /// Detection time, milliseconds.
    pub timeout_ms: Option<u64>,
}

/// BIRD prints intervals as seconds with three decimals (`0.100`).
fn seconds_to_ms(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = num(whole)?;
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        num::<u64>(frac)? * 10u64.pow(3 - frac.len() as u32)
    };
    whole.checked_mul(1000)?.checked_add(frac)
}

/// Parses `show bfd sessions`: for each BFD protocol a `<name>:` line, a header, then one
/// line per session (`<address> <interface> <state> <since> <interval> <timeout>`).
pub fn parse_bfd_sessions(reply: &Reply) -> Result<Vec<BfdSession>, ParseError> {
    if reply.is_error() {
        return Err(content(
            reply.lines.len(),
            format!("BIRD error {}: {}", reply.code(), reply.final_text()),
        ));
    }
    let mut out = Vec::new();
    let mut protocol: Option<String> = None;
    for (i, l) in reply.lines.iter().enumerate() {
        let n = i + 1;
        let t = l.text.trim();
        if l.code == 0 || t.is_empty() || t.starts_with("IP address") {
            continue;
        }
        if l.code >= 8000 {
            return Err(content(n, format!("BIRD error {}: {}", l.code, t)));
        }
        if let Some(name) = t.strip_suffix(':') {
            if !name.contains(char::is_whitespace) {
                protocol = Some(name.to_string());
                continue;
            }
        }
        let Some(proto) = &protocol else {
            return Err(content(n, "BFD session before any protocol name"));
        };
        let w: Vec<&str> = t.split_whitespace().collect();
        let [address, interface, state, since, interval, timeout] = w.as_slice() else {
            return Err(content(
                n,
                format!("BFD session line with {} fields, not 6", w.len()),
            ));
        };
        let address: IpAddr =
            num(address).ok_or_else(|| content(n, format!("bad address {address:?}")))?;
        out.push(BfdSession {
            protocol: proto.clone(),
            address,
            interface: (*interface != "---").then(|| interface.to_string()),
            state: state.to_string(),
            since: num(since),
            interval_ms: seconds_to_ms(interval),
            timeout_ms: seconds_to_ms(timeout),
        });
    }
    Ok(out)
}
