//! BGP over strait's VTIs, realized by BIRD 2 (Debian's `bird2`, 2.0.12).
//!
//! # Who does what
//!
//! **BIRD** speaks BGP: sessions, timers, TCP-MD5, BFD, graceful restart, best-path
//! selection, ECMP, and installing the chosen routes into the kernel's main table (as
//! `proto bird`, with the admin distance as the metric). **strait** owns the configuration
//! and the process: this crate turns strait's model ([`RoutingConfig`]) into BIRD's
//! configuration ([`render`]), runs one BIRD per host under supervision ([`Bird`]), and reads
//! neighbor state and learned routes back over BIRD's control socket ([`Bird::status`]).
//! strait never implements BGP itself.
//!
//! The crate has a sans-IO half — [`model`] (types, [`RoutingConfig::validate`]), [`render`],
//! [`reply`] (the control protocol's framing) and [`status`] (`show protocols all` /
//! `show route all` parsers), pure functions that never panic (the `bird_reply` fuzz target
//! drives the parsers) — and a tokio half: [`client`] (the control socket, every read bounded
//! in size and time) and [`supervisor`] ([`Bird`]).
//!
//! # Files and socket
//!
//! All in a state directory the caller chooses (straitd: `/var/lib/strait/bird`, tests: a
//! temporary directory), see [`Paths::in_dir`]:
//!
//! - `bird.conf` — the rendered configuration, mode 0600 (it holds the TCP-MD5 passwords);
//! - `bird.conf.new` — the candidate while a change is checked;
//! - `bird.ctl` — BIRD's control socket (`birdc -s .../bird.ctl` works for an operator);
//! - `bird.pid` — BIRD's PID file.
//!
//! BIRD runs in the foreground (`bird -f -c bird.conf -s bird.ctl -P bird.pid`, optionally
//! inside a network namespace); its log goes to stderr, which the supervisor forwards to
//! `tracing` (target `strait_routing::bird`). If BIRD dies it is restarted with exponential
//! backoff; more than [`BirdOptions::max_restarts_per_minute`] exits in a minute and it is
//! left down ([`ProcessState::Failed`], shown in [`RoutingStatus::process`]) until the next
//! [`Bird::apply`].
//!
//! # How a configuration change flows
//!
//! straitd (on a policy change) builds a [`RoutingConfig`] and calls [`Bird::apply`]:
//! validate (typed [`ConfigError`]s naming the field) → render → write `bird.conf.new`
//! (0600, fsync) → `configure check "bird.conf.new"` over the socket (BIRD's own parse error
//! comes back verbatim as [`BirdError::Rejected`], and the running configuration is
//! untouched) → rename over `bird.conf` → `configure`. BIRD then restarts only the protocols
//! whose configuration changed: adding a neighbor leaves the other sessions Established.
//!
//! # Routing policy
//!
//! - Announced networks ([`Redistribution::networks`], already resolved by the caller) are
//!   `blackhole` routes of a `static` protocol: they exist only inside BIRD to be exported
//!   over BGP; the kernel protocols export nothing but BGP routes, so they never reach the
//!   kernel.
//! - To each neighbor strait sends the announced networks and, like an NSX Tier-0, the
//!   routes it learned over BGP (eBGP-learned to every peer; iBGP-learned only to eBGP peers,
//!   BGP's own rule), minus the more-specifics of `summary_only` aggregates, through the
//!   family's export prefix list if one is set.
//! - An aggregate is announced when at least one announced network lies within it (routes
//!   learned from neighbors do not make it appear; BIRD 2.0.12 has no aggregator protocol).
//! - Prefix lists become BIRD functions (first match decides, no match denies).
//! - Admin distances become the kernel metric of BGP routes (default eBGP 20, iBGP 200),
//!   as strait's static routes use their admin distance as the metric.
//! - `max_routes` is `import limit N action block`: the session stays up, further routes
//!   are dropped, and the status says the limit is hit.
//!
//! # Passwords
//!
//! TCP-MD5 passwords arrive as `Zeroizing<String>`, are written only into `bird.conf` /
//! `bird.conf.new` (mode 0600), the rendered text is zeroized after writing, and nothing in
//! this crate logs configuration text; `Debug` of a [`Neighbor`] shows `<redacted>`. BIRD's
//! own log and error messages name files and positions, never the password.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Control-socket input reaches this crate: no panics by construction (as esp-proto).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

use std::path::PathBuf;

pub mod client;
pub mod model;
pub mod render;
pub mod reply;
pub mod status;
pub mod supervisor;
pub mod tcp;

pub use client::{Client, ClientError};
pub use model::{
    Action, Afi, Aggregate, Bfd, ConfigError, Family, GrMode, GracefulRestart, Neighbor,
    PrefixEntry, PrefixList, Redistribution, RoutingConfig,
};
pub use render::{protocol_name, render};
pub use reply::{parse_replies, parse_reply, Limits, Line, ParseError, Reply};
pub use status::{
    parse_bfd_sessions, parse_protocols, parse_routes, BfdSession, BgpStatus, ChannelStatus,
    ConnectionState, NextHop, ProtocolStatus, Route,
};
pub use supervisor::{
    Bird, BirdError, BirdOptions, NeighborStatus, ProcessState, ProcessStatus, RoutingStatus,
};

/// Where BIRD's files live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The state directory.
    pub dir: PathBuf,
    /// The configuration file (`<dir>/bird.conf`).
    pub config: PathBuf,
    /// The control socket (`<dir>/bird.ctl`).
    pub socket: PathBuf,
    /// The PID file (`<dir>/bird.pid`).
    pub pid: PathBuf,
}

impl Paths {
    /// The standard names inside `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Paths {
        let dir = dir.into();
        Paths {
            config: dir.join("bird.conf"),
            socket: dir.join("bird.ctl"),
            pid: dir.join("bird.pid"),
            dir,
        }
    }
    /// Where a candidate configuration is written before BIRD checks it.
    pub fn candidate(&self) -> PathBuf {
        self.dir.join("bird.conf.new")
    }
}
