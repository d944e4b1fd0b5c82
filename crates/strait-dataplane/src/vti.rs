//! The virtual tunnel interface (VTI) of one route-based session: a TUN device whose routes
//! decide what crosses the tunnel.
//!
//! [`Vti::create`] opens the TUN with `IFF_MULTI_QUEUE` (one fd per worker queue) and, when
//! asked, `IFF_VNET_HDR` + `TUNSETOFFLOAD` (TSO4/6, USO4/6 where the kernel has them, CSUM), so
//! reads return GSO super-packets behind a virtio-net header and writes may be coalesced (tun-rs
//! `recv_multiple` / `send_multiple`). Everything else goes through rtnetlink: MTU, an 8192
//! packet transmit queue (dependencies.md §9: a long TUN queue removes loss), the `noqueue`
//! root qdisc (see [`ROOT_QDISC`]: without it the device costs ~100 MB of kernel memory), no
//! IPv6 link-local address (so the kernel sends no router solicitations into the tunnel), the
//! session's addresses, link up, and the kernel routes over the interface ([`add_route`]).
//!
//! The device is not persistent: it disappears when its last queue fd closes, so a crashed
//! daemon leaves nothing behind. [`Vti::close`] deletes it explicitly (workers still holding a
//! queue then see read errors and should stop).
//!
//! Network namespaces: the TUN and every netlink socket belong to the namespace of the thread
//! that calls these functions, so a daemon (or a test) working in another namespace must call
//! them from a thread that joined it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::stream::{StreamExt, TryStreamExt};
use ipnet::IpNet;
use libc::{
    EACCES, EADDRNOTAVAIL, EAFNOSUPPORT, EBUSY, EEXIST, EINVAL, ENETDOWN, ENODEV, ENOENT, ENXIO,
    EPERM, ESRCH,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoKind, LinkAttribute, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST,
};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use tun_rs::{AsyncDevice, DeviceBuilder};

/// The routing protocol number (`rtm_protocol`, `ip route ... proto 83`) of every kernel route
/// strait installs over a VTI, so they are recognizable (`ip route show proto 83`) and
/// [`routes_of`] lists only them. 83 is ASCII `S`; it is not registered in iproute2's
/// `rt_protos` nor used by the usual routing daemons (zebra/FRR 11 and 186-198, BIRD 12,
/// Babel 42, keepalived 18, Open/R 99). A line `83 strait` in `/etc/iproute2/rt_protos.d/`
/// makes `ip route` print the name.
pub const RTPROT_STRAIT: u8 = 83;

/// Transmit queue length given to every VTI (dependencies.md §9: the default 500 drops bursts;
/// 10000 removed all loss there). For a TUN device this is the length of each attached
/// queue's own packet ring (the kernel's `tfile->tx_ring`), which is where packets wait for the
/// worker: a TUN device never stops its transmit queue, so a qdisc in front of it never holds
/// packets. The ring is one allocation of 8 bytes a slot, rounded up to a power of two: 8192
/// slots fill 64 KiB exactly, where 10000 took 128 KiB, per queue (so per worker) and VTI.
pub const TX_QUEUE_LEN: u32 = 8192;

/// The root qdisc every VTI gets before it goes up: `noqueue`, one object shared by all of the
/// device's transmit queues, no packet ring (the TUN queues have their own, [`TX_QUEUE_LEN`]
/// long), no lock on the transmit path.
///
/// Left to itself the kernel would give the device, when it first goes up, the multi-queue
/// default: `mq` with one child qdisc per *possible* queue. `IFF_MULTI_QUEUE` TUN devices have
/// 256 possible queues whatever the number of fds (`MAX_TAP_QUEUES`), and each child beyond the
/// attached queues is a `pfifo_fast` with three rings of `txqueuelen` pointers; at 10000 that
/// was 3 x 80000 bytes, rounded up to 128 KiB each (kmalloc_large), i.e. about 97 MiB of
/// unreclaimable kernel memory per VTI (issue 11; 48 MiB at 8192), and a `txqueuelen` change
/// would resize all 768 rings. With `noqueue` a VTI costs about 0.4 MiB of kernel memory with
/// two workers: the device's 256 transmit and receive queue structures (~224 KiB, fixed by
/// the kernel for multi-queue TUN) and a 64 KiB ring per worker.
pub const ROOT_QDISC: &str = "noqueue";

/// Most queues one TUN device can have (the kernel's `MAX_TAP_QUEUES`).
pub const MAX_QUEUES: usize = 256;

/// Smallest MTU of a VTI (the IPv4 minimum, RFC 791).
pub const MIN_MTU: u16 = 68;

/// Smallest MTU of a VTI that carries IPv6 (RFC 8200): below it the kernel removes IPv6 from
/// the interface.
pub const MIN_MTU_IPV6: u16 = 1280;

/// The main routing table.
const RT_TABLE_MAIN: u8 = RouteHeader::RT_TABLE_MAIN;

/// What a VTI is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtiConfig {
    /// Interface name, 1 to 15 bytes ([`vti_name`] derives one from the session path).
    pub name: String,
    /// The session's tunnel interface addresses with their prefixes, e.g. 169.254.10.1/30 and
    /// an IPv6 one.
    pub addresses: Vec<IpNet>,
    /// Interface MTU (the session's, with the ESP overhead already taken off).
    pub mtu: u16,
    /// Number of TUN queues (fds) opened here, one per worker: 1 to [`MAX_QUEUES`].
    pub queues: usize,
    /// Make an `IFF_MULTI_QUEUE` device, so more queues can be opened later
    /// ([`tun_rs::AsyncDevice::try_clone`]); implied by more than one queue. A multi-queue
    /// device costs ~224 KB more kernel memory: the kernel sizes its queue structures for 256
    /// queues.
    pub multi_queue: bool,
    /// `IFF_VNET_HDR` + `TUNSETOFFLOAD` TSO/USO/CSUM: reads are GSO super-packets behind a
    /// virtio-net header, writes may be coalesced. Use tun-rs `recv_multiple`/`send_multiple`.
    pub offload: bool,
}

/// A kernel route strait installed over a VTI (see [`add_route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VtiRoute {
    /// Destination network.
    pub net: IpNet,
    /// Route metric (`ip route ... metric`): the next hop's admin distance.
    pub metric: u32,
}

/// The TUN-backed virtual tunnel interface of one session. It owns the queue fds; the kernel
/// removes the (non-persistent) device when the last one closes, and [`Vti::close`] removes it
/// at once.
pub struct Vti {
    name: String,
    ifindex: u32,
    mtu: AtomicU16,
    offload: bool,
    udp_gso: bool,
    queues: Vec<Arc<AsyncDevice>>,
    addresses: Mutex<Vec<IpNet>>,
    /// The connection its changes go over (None: one per change).
    netlink: Option<Netlink>,
}

impl std::fmt::Debug for Vti {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vti")
            .field("name", &self.name)
            .field("ifindex", &self.ifindex)
            .field("mtu", &self.mtu())
            .field("queues", &self.queues.len())
            .field("offload", &self.offload)
            .field("udp_gso", &self.udp_gso)
            .field("addresses", &self.addresses())
            .finish()
    }
}

/// Why a VTI operation failed. Every message says what failed and what to do about it.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum VtiError {
    /// The configuration or argument cannot be applied as given.
    #[error("invalid VTI configuration for {name:?}: {reason}")]
    InvalidConfig {
        /// The interface.
        name: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// The kernel has no TUN support loaded.
    #[error(
        "cannot create TUN device {name}: /dev/net/tun is missing: load the tun module \
         (modprobe tun) or build the kernel with CONFIG_TUN"
    )]
    TunMissing {
        /// The interface.
        name: String,
        /// What opening the device returned.
        #[source]
        source: io::Error,
    },
    /// No privilege for TUN devices or netlink changes.
    #[error("cannot {action}: permission denied: straitd needs root or CAP_NET_ADMIN")]
    PermissionDenied {
        /// What was being done.
        action: String,
        /// What the kernel returned.
        #[source]
        source: io::Error,
    },
    /// Another kind of interface already has the name.
    #[error(
        "cannot create TUN device {name}: an interface of that name exists and is {kind}, not a \
         TUN device, so strait will not delete it: rename or delete it (ip link del {name})"
    )]
    NameTaken {
        /// The interface.
        name: String,
        /// Its link kind (`veth`, `dummy`, `a physical device`, ...).
        kind: String,
    },
    /// Creating the TUN device or one of its queues failed.
    #[error("cannot create TUN device {name}: {source}{hint}", hint = tun_hint(source))]
    Tun {
        /// The interface.
        name: String,
        /// What tun-rs / the kernel returned.
        #[source]
        source: io::Error,
    },
    /// The interface disappeared (deleted by someone else).
    #[error(
        "cannot {action}: interface {interface} no longer exists (deleted outside strait?): \
         recreate the session's VTI"
    )]
    NoSuchInterface {
        /// What was being done.
        action: String,
        /// Its name or index.
        interface: String,
    },
    /// A netlink request failed.
    #[error("cannot {action}: {source}{hint}", hint = netlink_hint(source, action))]
    Netlink {
        /// What was being done.
        action: String,
        /// The kernel's errno as an I/O error.
        #[source]
        source: io::Error,
    },
    /// No netlink socket could be opened, or the connection broke.
    #[error("cannot {action}: netlink socket: {source}")]
    NetlinkSocket {
        /// What was being done.
        action: String,
        /// The socket error.
        #[source]
        source: io::Error,
    },
}

impl VtiError {
    /// The errno behind the error, if the kernel returned one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            VtiError::TunMissing { source, .. }
            | VtiError::PermissionDenied { source, .. }
            | VtiError::Tun { source, .. }
            | VtiError::Netlink { source, .. }
            | VtiError::NetlinkSocket { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

fn tun_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(EBUSY) => {
            ": a TUN device of that name is in use by another process: stop it or delete the \
             device"
        }
        Some(EINVAL) => {
            ": the kernel refused the name or flags (an existing device with other flags?): \
             delete the device or choose another name"
        }
        _ => "",
    }
}

fn netlink_hint(e: &io::Error, action: &str) -> &'static str {
    match e.raw_os_error() {
        Some(EACCES) if action.contains("IPv6") => {
            ": IPv6 is disabled on this interface: enable it (sysctl \
             net.ipv6.conf.all.disable_ipv6=0 and net.ipv6.conf.default.disable_ipv6=0) or \
             remove the IPv6 address"
        }
        Some(ENETDOWN) => ": the interface is down: bring it up (it is normally up)",
        Some(EAFNOSUPPORT) => ": the kernel has no IPv6: boot without ipv6.disable=1",
        Some(EINVAL) if action.contains("MTU") => {
            ": the kernel refused the MTU: use a value between 68 and 65535 (1280 or more with \
             IPv6)"
        }
        Some(EEXIST) => ": it already exists with other settings: remove it first",
        _ => "",
    }
}

/// Map a netlink error (rtnetlink) to a [`VtiError`].
fn nl_error(action: impl Into<String>, e: rtnetlink::Error) -> VtiError {
    let action = action.into();
    match e {
        rtnetlink::Error::NetlinkError(msg) => errno_error(action, msg.raw_code().abs()),
        rtnetlink::Error::RequestFailed => VtiError::NetlinkSocket {
            action,
            source: io::Error::other("the netlink connection closed"),
        },
        other => VtiError::NetlinkSocket {
            action,
            source: io::Error::other(other.to_string()),
        },
    }
}

fn errno_error(action: String, errno: i32) -> VtiError {
    let source = io::Error::from_raw_os_error(errno);
    match errno {
        EPERM => VtiError::PermissionDenied { action, source },
        _ => VtiError::Netlink { action, source },
    }
}

/// A netlink connection kept open for many requests. The data plane makes every VTI and
/// route change of its lifetime over one socket (issue 16: thousands of VTIs, each of which
/// used to open three connections), instead of one connection per step as the free functions
/// of this module do. Cheap to clone (a channel to the connection's task).
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Open a connection in the calling thread's network namespace, with
    /// `NETLINK_GET_STRICT_CHK` (see [`with_netlink`]). Its I/O runs as a task on the current
    /// tokio runtime (call inside one) and ends when the last clone is dropped.
    pub fn open() -> Result<Netlink, VtiError> {
        let (connection, handle, _) =
            rtnetlink::new_connection_with_strict_check().map_err(|source| {
                VtiError::NetlinkSocket {
                    action: "open the data plane's netlink connection".to_owned(),
                    source,
                }
            })?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// [`add_route`] over this connection.
    pub async fn add_route(&self, ifindex: u32, net: IpNet, metric: u32) -> Result<(), VtiError> {
        add_route_on(Some(self), ifindex, net, metric).await
    }

    /// [`delete_route`] over this connection.
    pub async fn delete_route(&self, ifindex: u32, net: IpNet) -> Result<(), VtiError> {
        delete_route_on(Some(self), ifindex, net).await
    }

    /// [`routes_of`] over this connection.
    pub async fn routes_of(&self, ifindex: u32) -> Result<Vec<VtiRoute>, VtiError> {
        routes_of_on(Some(self), ifindex).await
    }

    /// Every route strait installed (protocol [`RTPROT_STRAIT`], main table), by output
    /// interface: one dump per address family for all VTIs, where asking per VTI would make
    /// the kernel walk its whole routing table once per VTI.
    pub async fn strait_routes(&self) -> Result<HashMap<u32, Vec<VtiRoute>>, VtiError> {
        let mut by_interface: HashMap<u32, Vec<VtiRoute>> = HashMap::new();
        for (ifindex, route) in dump_routes(&self.handle, None).await? {
            by_interface.entry(ifindex).or_default().push(route);
        }
        for routes in by_interface.values_mut() {
            routes.sort();
        }
        Ok(by_interface)
    }
}

/// Run `body` with a netlink handle: `shared`'s when given, else a connection opened in the
/// calling thread's namespace for this call alone, polled alongside (no task is spawned,
/// nothing outlives the call). Sockets have `NETLINK_GET_STRICT_CHK`, so the kernel filters
/// route dumps (by table, protocol and output interface) instead of sending the whole routing
/// table.
async fn with_netlink<T, F, Fut>(
    shared: Option<&Netlink>,
    action: &str,
    body: F,
) -> Result<T, VtiError>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T, VtiError>>,
{
    if let Some(nl) = shared {
        return body(nl.handle.clone()).await;
    }
    let (connection, handle, _) =
        rtnetlink::new_connection_with_strict_check().map_err(|source| {
            VtiError::NetlinkSocket {
                action: action.to_owned(),
                source,
            }
        })?;
    tokio::select! {
        biased;
        result = body(handle) => result,
        () = connection => Err(VtiError::NetlinkSocket {
            action: action.to_owned(),
            source: io::Error::other("the netlink connection ended"),
        }),
    }
}

/// Send one request and wait for its acknowledgement.
async fn request_ack(
    handle: &mut Handle,
    message: RouteNetlinkMessage,
    flags: u16,
) -> Result<(), rtnetlink::Error> {
    let mut req = NetlinkMessage::from(message);
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    let mut response = handle.request(req)?;
    while let Some(msg) = response.next().await {
        if let NetlinkPayload::Error(e) = msg.payload {
            if e.code.is_some() {
                return Err(rtnetlink::Error::NetlinkError(e));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// names and validation
// ---------------------------------------------------------------------------------------------

/// Stable interface name for a session path: `"st"` followed by 10 base32 characters (RFC 4648
/// alphabet, lowercase: `a-z`, `2-7`) of a 64-bit hash of the path's bytes, 12 bytes in all
/// (IFNAMSIZ - 1 is 15).
///
/// The hash is FNV-1a 64 finished with MurmurHash3's `fmix64` so that paths differing only in
/// their last characters differ in every output bit; the name carries its top 50 bits. It is
/// fixed here (not `std`'s hasher, which may change between Rust releases), so a session keeps
/// its interface name across restarts and upgrades. With 50 bits, two of 10 000 sessions
/// collide with probability below 5e-8. Pass the canonical path the policy layer stores (the
/// name depends on every byte). Example: `/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1`.
pub fn vti_name(session_path: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in session_path.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // fmix64
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    let mut name = String::with_capacity(12);
    name.push_str("st");
    for i in 0..10 {
        // `as` keeps the low bits, of which `base32_digit` uses 5.
        let bits = (h >> (59 - 5 * i)) as u8;
        name.push(base32_digit(bits));
    }
    name
}

/// The RFC 4648 §6 base32 digit (lowercase) of the low 5 bits of `bits`.
fn base32_digit(bits: u8) -> char {
    match bits & 0x1f {
        v @ 0..=25 => char::from(b'a' + v),
        v => char::from(b'2' + (v - 26)),
    }
}

/// Check an interface name the way the kernel does (`dev_valid_name`).
/// Turn IPv6 on for a VTI with an IPv6 address, off for one without. With IPv6 on, the kernel
/// gives every interface that comes up a multicast route (ff00::/8), all in one node of the
/// IPv6 FIB, and walks every IPv6 route on each link up and MTU change: kernel work that
/// grows with the number of VTIs, for each VTI made (at 10,000 VTIs, 47 % of the CPU of
/// making them went to `fib6_add_rt2node`, `rt6_mtu_change_route` and `fib6_ifup`). An IPv4
/// tunnel needs none of it. Best effort: a kernel without IPv6 has no such setting, and the
/// tunnel works either way. `name` is a validated interface name (no `/`), and the write goes
/// to the network namespace of the calling thread, the VTI's.
fn set_ipv6(name: &str, on: bool) {
    let conf = |dev: &str| format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6");
    // On means as the namespace's default has it: an administrator's "IPv6 off" stands.
    let value = if on {
        std::fs::read_to_string(conf("default")).unwrap_or_else(|_| "0".into())
    } else {
        "1".into()
    };
    if let Err(e) = std::fs::write(conf(name), value.trim()) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::debug!(vti = name, error = %e, on, "cannot switch IPv6 on the VTI");
        }
    }
}

fn validate_name(name: &str) -> Result<(), VtiError> {
    let bad = |reason: &str| {
        Err(VtiError::InvalidConfig {
            name: name.to_owned(),
            reason: format!("interface name {reason}"),
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > 15 {
        return bad("is longer than 15 bytes (IFNAMSIZ)");
    }
    if name == "." || name == ".." {
        return bad("cannot be . or ..");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c == '%' || c.is_whitespace() || c.is_control())
    {
        return bad("contains '/', ':', '%', a space or a control character");
    }
    Ok(())
}

fn validate_mtu(name: &str, mtu: u16, addresses: &[IpNet]) -> Result<(), VtiError> {
    if mtu < MIN_MTU {
        return Err(VtiError::InvalidConfig {
            name: name.to_owned(),
            reason: format!("MTU {mtu} is below {MIN_MTU}"),
        });
    }
    if mtu < MIN_MTU_IPV6 && addresses.iter().any(|a| matches!(a, IpNet::V6(_))) {
        return Err(VtiError::InvalidConfig {
            name: name.to_owned(),
            reason: format!(
                "MTU {mtu} is below {MIN_MTU_IPV6}, which IPv6 needs: raise the MTU or remove \
                 the IPv6 address"
            ),
        });
    }
    Ok(())
}

fn dedup(addresses: &[IpNet]) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::with_capacity(addresses.len());
    for a in addresses {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Vti
// ---------------------------------------------------------------------------------------------

impl Vti {
    /// Create the VTI: delete a stale interface of that name (left by a daemon that could not
    /// clean up; only a TUN device is deleted), create the TUN with its queues, then over
    /// netlink set the MTU and [`TX_QUEUE_LEN`], the [`ROOT_QDISC`], turn off IPv6 link-local
    /// address generation, add the addresses and set the link up.
    ///
    /// Needs a tokio runtime with I/O enabled, and root or CAP_NET_ADMIN. On failure nothing is
    /// left behind (the queues close, so the kernel removes the device).
    pub async fn create(cfg: &VtiConfig) -> Result<Vti, VtiError> {
        Self::create_with(cfg, None).await
    }

    /// [`Vti::create`] over `netlink`, which the VTI keeps for its later changes.
    pub async fn create_on(cfg: &VtiConfig, netlink: &Netlink) -> Result<Vti, VtiError> {
        Self::create_with(cfg, Some(netlink)).await
    }

    async fn create_with(cfg: &VtiConfig, netlink: Option<&Netlink>) -> Result<Vti, VtiError> {
        let name = cfg.name.as_str();
        validate_name(name)?;
        let addresses = dedup(&cfg.addresses);
        validate_mtu(name, cfg.mtu, &addresses)?;
        if cfg.queues == 0 || cfg.queues > MAX_QUEUES {
            return Err(VtiError::InvalidConfig {
                name: name.to_owned(),
                reason: format!("{} queues: use 1 to {MAX_QUEUES}", cfg.queues),
            });
        }

        remove_stale(netlink, name).await?;

        let first = DeviceBuilder::new()
            .name(name)
            // Only when asked: the kernel sizes a multi-queue TUN device's queue structures
            // for 256 queues (~224 KB of kernel memory, zeroed while the device is made),
            // which a gateway with thousands of one-queue VTIs (see `maker`) would pay for
            // each of them.
            .multi_queue(cfg.multi_queue || cfg.queues > 1)
            .offload(cfg.offload)
            // Leave the link down: it comes up over netlink once configured.
            .inherit_enable_state()
            .build_async()
            .map_err(|source| tun_error(name, source))?;
        let udp_gso = first.udp_gso();
        let mut queues = Vec::with_capacity(cfg.queues);
        for _ in 1..cfg.queues {
            let q = first
                .try_clone()
                .map_err(|source| tun_error(name, source))?;
            queues.push(Arc::new(q));
        }
        queues.insert(0, Arc::new(first));

        let ifindex = with_netlink(netlink, &format!("look up {name}"), |handle| async move {
            link_by_name(&handle, name)
                .await?
                .ok_or_else(|| VtiError::NoSuchInterface {
                    action: "look up the new TUN device".to_owned(),
                    interface: name.to_owned(),
                })
        })
        .await?
        .header
        .index;

        let vti = Vti {
            name: name.to_owned(),
            ifindex,
            mtu: AtomicU16::new(cfg.mtu),
            offload: cfg.offload,
            udp_gso,
            queues,
            addresses: Mutex::new(Vec::new()),
            netlink: netlink.cloned(),
        };

        // Before the MTU is set and the link goes up (see `set_ipv6`).
        set_ipv6(name, addresses.iter().any(|a| matches!(a, IpNet::V6(_))));
        let action = format!("configure {name}");
        let addrs = &addresses;
        with_netlink(netlink, &action, |mut handle| async move {
            handle
                .link()
                .set(
                    LinkUnspec::new_with_index(ifindex)
                        .mtu(u32::from(cfg.mtu))
                        .txqueuelen(TX_QUEUE_LEN)
                        .build(),
                )
                .execute()
                .await
                .map_err(|e| {
                    nl_error(
                        format!("set the MTU {} and queue length of {name}", cfg.mtu),
                        e,
                    )
                })?;
            // Before the link first goes up, or the kernel attaches its ~100 MB default (see
            // ROOT_QDISC). Not fatal: the tunnel works either way, it only costs memory.
            if let Err(e) = set_root_qdisc(&mut handle, ifindex).await {
                tracing::warn!(
                    vti = name,
                    error = %e,
                    "cannot give the VTI the {ROOT_QDISC} qdisc: the kernel's default for a \
                     multi-queue TUN device costs about 100 MB of kernel memory per VTI"
                );
            }
            // No link-local address: no router solicitations into the tunnel. Best effort (the
            // kernel may have IPv6 off, and then there is nothing to avoid).
            let no_ll = LinkUnspec::new_with_index(ifindex)
                .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                    vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
                )]))
                .build();
            if let Err(e) = handle.link().set(no_ll).execute().await {
                tracing::debug!(vti = name, error = %e, "cannot turn off IPv6 address generation");
            }
            for a in addrs {
                add_address(&handle, name, ifindex, *a).await?;
            }
            handle
                .link()
                .set(LinkUnspec::new_with_index(ifindex).up().build())
                .execute()
                .await
                .map_err(|e| nl_error(format!("set {name} up"), e))
        })
        .await?;
        *lock(&vti.addresses) = addresses;
        tracing::info!(
            vti = name,
            ifindex,
            mtu = cfg.mtu,
            queues = cfg.queues,
            offload = cfg.offload,
            udp_gso,
            "VTI created"
        );
        Ok(vti)
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The MTU last set by [`Vti::create`] or [`Vti::set_mtu`].
    pub fn mtu(&self) -> u16 {
        self.mtu.load(Ordering::Relaxed)
    }

    /// The queues, one per worker. Each is a separate fd on the same device; the kernel spreads
    /// flows across them.
    pub fn queues(&self) -> &[Arc<AsyncDevice>] {
        &self.queues
    }

    /// Whether the queues use the virtio-net header and offloads (see [`VtiConfig::offload`]).
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// Whether the kernel also accepted UDP segmentation offload (USO, Linux 6.2+); only
    /// meaningful with [`Vti::offload`].
    pub fn udp_gso(&self) -> bool {
        self.udp_gso
    }

    /// The addresses last set by [`Vti::create`] or [`Vti::set_addresses`].
    pub fn addresses(&self) -> Vec<IpNet> {
        lock(&self.addresses).clone()
    }

    /// Change the MTU.
    pub async fn set_mtu(&self, mtu: u16) -> Result<(), VtiError> {
        validate_mtu(&self.name, mtu, &self.addresses())?;
        let (name, ifindex) = (self.name.as_str(), self.ifindex);
        let action = &format!("set the MTU {mtu} of {name}");
        with_netlink(self.netlink.as_ref(), action, |handle| async move {
            handle
                .link()
                .set(
                    LinkUnspec::new_with_index(ifindex)
                        .mtu(u32::from(mtu))
                        .build(),
                )
                .execute()
                .await
                .map_err(|e| self.gone_or(nl_error(action.clone(), e)))
        })
        .await?;
        self.mtu.store(mtu, Ordering::Relaxed);
        Ok(())
    }

    /// Replace the interface's addresses with `addrs`: addresses not listed are removed (the
    /// ones the kernel manages itself, IPv6 link-local, are kept), missing ones added.
    pub async fn set_addresses(&self, addrs: &[IpNet]) -> Result<(), VtiError> {
        let wanted = dedup(addrs);
        validate_mtu(&self.name, self.mtu(), &wanted)?;
        let has_v6 = |v: &[IpNet]| v.iter().any(|a| matches!(a, IpNet::V6(_)));
        let v6_before = has_v6(&self.addresses());
        if has_v6(&wanted) && !v6_before {
            set_ipv6(&self.name, true);
        }
        let (name, ifindex) = (self.name.as_str(), self.ifindex);
        let action = format!("set the addresses of {name}");
        let wanted_ref = &wanted;
        with_netlink(self.netlink.as_ref(), &action, |handle| async move {
            let current: Vec<AddressMessage> = handle
                .address()
                .get()
                .set_link_index_filter(ifindex)
                .execute()
                .try_collect()
                .await
                .map_err(|e| nl_error(format!("list the addresses of {name}"), e))?;
            let mut present = Vec::new();
            // Remove first: deleting a primary IPv4 address also drops its secondaries.
            for msg in current {
                let Some(net) = address_of(&msg) else {
                    continue;
                };
                if wanted_ref.contains(&net) {
                    present.push(net);
                    continue;
                }
                if let IpNet::V6(v6) = net {
                    if v6.addr().segments()[0] & 0xffc0 == 0xfe80 {
                        continue; // kernel-managed link-local
                    }
                }
                match handle.address().del(msg).execute().await {
                    Ok(()) => {}
                    // Already gone (e.g. with its primary).
                    Err(rtnetlink::Error::NetlinkError(e))
                        if e.raw_code().abs() == EADDRNOTAVAIL =>
                    {
                        continue
                    }
                    Err(e) => {
                        return Err(
                            self.gone_or(nl_error(format!("remove address {net} from {name}"), e))
                        )
                    }
                }
            }
            for a in wanted_ref {
                if !present.contains(a) {
                    add_address(&handle, name, ifindex, *a)
                        .await
                        .map_err(|e| self.gone_or(e))?;
                }
            }
            Ok(())
        })
        .await?;
        if v6_before && !has_v6(&wanted) {
            set_ipv6(&self.name, false);
        }
        *lock(&self.addresses) = wanted;
        Ok(())
    }

    /// Delete the interface now (its routes go with it) and close this handle's queues. Workers
    /// still holding a queue see their reads fail and should stop. An interface already gone is
    /// not an error.
    pub async fn close(self) -> Result<(), VtiError> {
        let (name, ifindex) = (self.name.clone(), self.ifindex);
        let name = name.as_str();
        let action = &format!("delete {name}");
        let netlink = self.netlink.clone();
        let result = with_netlink(netlink.as_ref(), action, |handle| async move {
            // Only if the index still names our interface (it cannot have been reused while
            // we held the queues open, but be exact).
            match link_by_index(&handle, ifindex).await? {
                Some(link) if link_name(&link) == Some(name) => {}
                _ => return Ok(()),
            }
            match handle.link().del(ifindex).execute().await {
                Ok(()) => Ok(()),
                Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => Ok(()),
                Err(e) => Err(nl_error(action.as_str(), e)),
            }
        })
        .await;
        drop(self);
        if result.is_ok() {
            tracing::info!(vti = name, "VTI deleted");
        }
        result
    }

    /// Turn an ENODEV into [`VtiError::NoSuchInterface`].
    fn gone_or(&self, e: VtiError) -> VtiError {
        if e.errno() == Some(ENODEV) {
            VtiError::NoSuchInterface {
                action: match &e {
                    VtiError::Netlink { action, .. } => action.clone(),
                    _ => "change the interface".to_owned(),
                },
                interface: self.name.clone(),
            }
        } else {
            e
        }
    }
}

fn tun_error(name: &str, source: io::Error) -> VtiError {
    let name = name.to_owned();
    match source.raw_os_error() {
        Some(ENOENT | ENODEV | ENXIO) => VtiError::TunMissing { name, source },
        Some(EPERM | EACCES) => VtiError::PermissionDenied {
            action: format!("create TUN device {name}"),
            source,
        },
        _ => VtiError::Tun { name, source },
    }
}

/// Make [`ROOT_QDISC`] the interface's root qdisc (`tc qdisc replace dev IF root noqueue`).
async fn set_root_qdisc(handle: &mut Handle, ifindex: u32) -> Result<(), rtnetlink::Error> {
    let mut msg = TcMessage::with_index(i32::try_from(ifindex).unwrap_or(i32::MAX));
    msg.header.parent = TcHandle::ROOT;
    msg.attributes
        .push(TcAttribute::Kind(ROOT_QDISC.to_owned()));
    request_ack(
        handle,
        RouteNetlinkMessage::NewQueueDiscipline(msg),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
    .await
}

async fn add_address(
    handle: &Handle,
    name: &str,
    ifindex: u32,
    net: IpNet,
) -> Result<(), VtiError> {
    let family = if net.addr().is_ipv6() { "IPv6" } else { "IPv4" };
    let result = handle
        .address()
        .add(ifindex, net.addr(), net.prefix_len())
        .execute()
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == EEXIST => Ok(()),
        Err(e) => Err(nl_error(format!("add {family} address {net} to {name}"), e)),
    }
}

/// The address (local address for IPv4) and prefix of an address message.
fn address_of(msg: &AddressMessage) -> Option<IpNet> {
    let mut address = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => return IpNet::new(*a, msg.header.prefix_len).ok(),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    IpNet::new(address?, msg.header.prefix_len).ok()
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

fn link_kind(link: &LinkMessage) -> Option<&InfoKind> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k),
            _ => None,
        }),
        _ => None,
    })
}

async fn link_by_name(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, VtiError> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => Ok(None),
        Err(e) => Err(nl_error(format!("look up interface {name}"), e)),
    }
}

async fn link_by_index(handle: &Handle, ifindex: u32) -> Result<Option<LinkMessage>, VtiError> {
    let mut links = handle.link().get().match_index(ifindex).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => Ok(None),
        Err(e) => Err(nl_error(format!("look up interface {ifindex}"), e)),
    }
}

/// Delete a leftover TUN device called `name`; refuse to touch any other kind of interface.
async fn remove_stale(netlink: Option<&Netlink>, name: &str) -> Result<(), VtiError> {
    with_netlink(
        netlink,
        &format!("check for a stale {name}"),
        |handle| async move {
            let Some(link) = link_by_name(&handle, name).await? else {
                return Ok(());
            };
            match link_kind(&link) {
                Some(InfoKind::Tun) => {}
                Some(kind) => {
                    return Err(VtiError::NameTaken {
                        name: name.to_owned(),
                        kind: kind.to_string(),
                    })
                }
                None => {
                    return Err(VtiError::NameTaken {
                        name: name.to_owned(),
                        kind: "a physical device".to_owned(),
                    })
                }
            }
            let ifindex = link.header.index;
            tracing::warn!(
                vti = name,
                ifindex,
                "deleting a stale TUN device of the same name"
            );
            match handle.link().del(ifindex).execute().await {
                Ok(()) => Ok(()),
                Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => Ok(()),
                Err(e) => Err(nl_error(format!("delete the stale TUN device {name}"), e)),
            }
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// routes
// ---------------------------------------------------------------------------------------------

/// A route message for `net` via `ifindex` in the main table, protocol [`RTPROT_STRAIT`].
fn route_message(ifindex: u32, net: IpNet, metric: Option<u32>) -> RouteMessage {
    let mut msg = match net {
        IpNet::V4(n) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(n.network(), n.prefix_len())
            // What `ip route add NET dev DEV` does for IPv4: no gateway, link scope.
            .scope(RouteScope::Link)
            .output_interface(ifindex)
            .protocol(RouteProtocol::Other(RTPROT_STRAIT))
            .build(),
        IpNet::V6(n) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(n.network(), n.prefix_len())
            .output_interface(ifindex)
            .protocol(RouteProtocol::Other(RTPROT_STRAIT))
            .build(),
    };
    if let Some(m) = metric {
        msg.attributes.push(RouteAttribute::Priority(m));
    }
    msg
}

/// Parse a dumped route into its output interface and a [`VtiRoute`] if it is one of ours
/// (protocol [`RTPROT_STRAIT`], main table).
fn strait_route(msg: &RouteMessage) -> Option<(u32, VtiRoute)> {
    let h = &msg.header;
    if h.protocol != RouteProtocol::Other(RTPROT_STRAIT) {
        return None;
    }
    let mut table = u32::from(h.table);
    let mut oif = None;
    let mut dst = None;
    let mut metric = 0;
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = Some(IpAddr::V4(*a)),
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => dst = Some(IpAddr::V6(*a)),
            RouteAttribute::Priority(p) => metric = *p,
            _ => {}
        }
    }
    if table != u32::from(RT_TABLE_MAIN) {
        return None;
    }
    let dst = match (dst, h.address_family) {
        (Some(a), _) => a,
        (None, AddressFamily::Inet) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (None, AddressFamily::Inet6) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    let net = IpNet::new(dst, h.destination_prefix_length).ok()?;
    Some((oif?, VtiRoute { net, metric }))
}

/// strait's routes over `ifindex`, sorted.
async fn list_routes(handle: &Handle, ifindex: u32) -> Result<Vec<VtiRoute>, VtiError> {
    let mut out: Vec<VtiRoute> = dump_routes(handle, Some(ifindex))
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    out.sort();
    Ok(out)
}

/// strait's routes, IPv4 then IPv6, with their output interface: over `ifindex` alone, or
/// over every interface.
async fn dump_routes(
    handle: &Handle,
    ifindex: Option<u32>,
) -> Result<Vec<(u32, VtiRoute)>, VtiError> {
    let mut out = Vec::new();
    // Dump filters (strict checking): main table, our protocol, this interface. Older kernels
    // ignore them; `strait_route` and the check below filter again.
    let mut v4 =
        RouteMessageBuilder::<Ipv4Addr>::new().protocol(RouteProtocol::Other(RTPROT_STRAIT));
    let mut v6 =
        RouteMessageBuilder::<Ipv6Addr>::new().protocol(RouteProtocol::Other(RTPROT_STRAIT));
    if let Some(i) = ifindex {
        v4 = v4.output_interface(i);
        v6 = v6.output_interface(i);
    }
    let what = ifindex.map_or_else(
        || "strait's routes".to_owned(),
        |i| format!("the routes of interface {i}"),
    );
    for req in [v4.build(), v6.build()] {
        let family = req.header.address_family;
        let mut routes = handle.route().get(req).execute();
        loop {
            match routes.try_next().await {
                Ok(Some(msg)) => out.extend(
                    strait_route(&msg).filter(|(oif, _)| ifindex.is_none_or(|i| i == *oif)),
                ),
                Ok(None) => break,
                // IPv6 compiled out or disabled: no IPv6 routes.
                Err(rtnetlink::Error::NetlinkError(e))
                    if family == AddressFamily::Inet6 && e.raw_code().abs() == EAFNOSUPPORT =>
                {
                    break
                }
                // No such interface (the strict dump filter checks it): no routes over it.
                Err(rtnetlink::Error::NetlinkError(e))
                    if ifindex.is_some() && e.raw_code().abs() == ENODEV =>
                {
                    return Ok(Vec::new())
                }
                Err(e) => return Err(nl_error(format!("list {what}"), e)),
            }
        }
    }
    Ok(out)
}

/// Install (or replace) the kernel route `net dev <ifindex> metric <metric> proto 83` in the
/// main table. Afterwards strait has exactly one route to `net` over this interface: an existing
/// one with another metric is removed, an identical one is kept. Routes of other interfaces or
/// protocols to the same network are never touched, so a backup route over another VTI can
/// coexist. `net` is normalized to its network address (10.1.2.3/16 means 10.1.0.0/16). IPv6
/// treats metric 0 as 1024.
pub async fn add_route(ifindex: u32, net: IpNet, metric: u32) -> Result<(), VtiError> {
    add_route_on(None, ifindex, net, metric).await
}

async fn add_route_on(
    netlink: Option<&Netlink>,
    ifindex: u32,
    net: IpNet,
    metric: u32,
) -> Result<(), VtiError> {
    let net = net.trunc();
    let action = &format!("add route {net} metric {metric} via interface {ifindex}");
    with_netlink(netlink, action, |mut handle| async move {
        let ours: Vec<VtiRoute> = list_routes(&handle, ifindex)
            .await?
            .into_iter()
            .filter(|r| r.net == net)
            .collect();
        let effective = if net.addr().is_ipv6() && metric == 0 {
            1024
        } else {
            metric
        };
        if !ours.iter().any(|r| r.metric == effective) {
            // NLM_F_CREATE without NLM_F_EXCL / NLM_F_REPLACE: a route of another interface
            // with the same metric neither blocks this one nor gets replaced by it; an exact
            // duplicate answers EEXIST.
            let msg = route_message(ifindex, net, Some(metric));
            match request_ack(
                &mut handle,
                RouteNetlinkMessage::NewRoute(msg),
                NLM_F_CREATE,
            )
            .await
            {
                Ok(()) => {}
                Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == EEXIST => {}
                Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => {
                    return Err(VtiError::NoSuchInterface {
                        action: action.to_owned(),
                        interface: ifindex.to_string(),
                    })
                }
                Err(e) => return Err(nl_error(action.as_str(), e)),
            }
        }
        for old in ours.iter().filter(|r| r.metric != effective) {
            delete_one(&handle, ifindex, *old).await?;
        }
        Ok(())
    })
    .await
}

/// Remove every strait route to `net` (normalized like [`add_route`]) over the interface,
/// whatever its metric. None there is not an error.
pub async fn delete_route(ifindex: u32, net: IpNet) -> Result<(), VtiError> {
    delete_route_on(None, ifindex, net).await
}

async fn delete_route_on(
    netlink: Option<&Netlink>,
    ifindex: u32,
    net: IpNet,
) -> Result<(), VtiError> {
    let net = net.trunc();
    let action = format!("delete route {net} via interface {ifindex}");
    with_netlink(netlink, &action, |handle| async move {
        for r in list_routes(&handle, ifindex).await? {
            if r.net == net {
                delete_one(&handle, ifindex, r).await?;
            }
        }
        Ok(())
    })
    .await
}

async fn delete_one(handle: &Handle, ifindex: u32, r: VtiRoute) -> Result<(), VtiError> {
    let msg = route_message(ifindex, r.net, Some(r.metric));
    match handle.route().del(msg).execute().await {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ESRCH => Ok(()),
        Err(e) => Err(nl_error(
            format!(
                "delete route {} metric {} via interface {ifindex}",
                r.net, r.metric
            ),
            e,
        )),
    }
}

/// A network directly connected to this host: an address of one of its interfaces, with
/// the interface's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNetwork {
    /// The interface.
    pub interface: String,
    /// The interface's address and prefix (e.g. `10.1.0.1/24`).
    pub address: IpNet,
}

/// Every address of every interface that is up (routing announces "connected" networks
/// from these).
pub async fn host_networks() -> Result<Vec<HostNetwork>, VtiError> {
    with_netlink(None, "list the host's addresses", |handle| async move {
        let mut names = std::collections::HashMap::new();
        let mut links = handle.link().get().execute();
        while let Some(link) = links
            .try_next()
            .await
            .map_err(|e| nl_error("list the host's interfaces".to_owned(), e))?
        {
            let up = link
                .header
                .flags
                .contains(netlink_packet_route::link::LinkFlags::Up);
            if let (true, Some(name)) = (up, link_name(&link)) {
                names.insert(link.header.index, name.to_owned());
            }
        }
        let mut out = Vec::new();
        let mut addrs = handle.address().get().execute();
        while let Some(msg) = addrs
            .try_next()
            .await
            .map_err(|e| nl_error("list the host's addresses".to_owned(), e))?
        {
            if let (Some(name), Some(address)) = (names.get(&msg.header.index), address_of(&msg)) {
                out.push(HostNetwork {
                    interface: name.clone(),
                    address,
                });
            }
        }
        Ok(out)
    })
    .await
}

/// The routes strait installed over the interface (protocol [`RTPROT_STRAIT`], main table),
/// IPv4 then IPv6, sorted.
pub async fn routes_of(ifindex: u32) -> Result<Vec<VtiRoute>, VtiError> {
    routes_of_on(None, ifindex).await
}

async fn routes_of_on(netlink: Option<&Netlink>, ifindex: u32) -> Result<Vec<VtiRoute>, VtiError> {
    with_netlink(
        netlink,
        &format!("list the routes of interface {ifindex}"),
        |handle| async move { list_routes(&handle, ifindex).await },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vti_names_are_stable_short_and_distinct() {
        let p = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1";
        let n = vti_name(p);
        assert_eq!(n, vti_name(p));
        assert_eq!(n.len(), 12);
        assert!(n.starts_with("st"));
        assert!(n[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        validate_name(&n).unwrap();
        // Pinned: the scheme must not change between releases (interfaces survive restarts).
        assert_eq!(vti_name(""), vti_name(""));
        assert_eq!(vti_name(p), PINNED_S1);
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            assert!(seen.insert(vti_name(&format!(
                "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s{i}"
            ))));
        }
    }
    const PINNED_S1: &str = "stqtzpk4nzlk";

    #[test]
    fn base32_digits_are_the_rfc4648_alphabet_in_lowercase() {
        let digits: String = (0..32u8).map(base32_digit).collect();
        assert_eq!(digits, "abcdefghijklmnopqrstuvwxyz234567");
        // Only the low 5 bits count.
        assert_eq!(base32_digit(0xe0 | 31), '7');
    }

    /// The futures can run on a multi-threaded runtime (tokio::spawn) and the VTI can be shared.
    #[allow(dead_code)]
    fn futures_are_send(vti: &Vti, cfg: &VtiConfig) {
        fn send<T: Send>(_: &T) {}
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Vti>();
        send_sync::<VtiError>();
        send(&Vti::create(cfg));
        send(&vti.set_mtu(1400));
        send(&vti.set_addresses(&[]));
        send(&add_route(1, "10.0.0.0/8".parse().unwrap(), 1));
        send(&delete_route(1, "10.0.0.0/8".parse().unwrap()));
        send(&routes_of(1));
    }

    #[test]
    fn names_are_validated_like_the_kernel() {
        for bad in [
            "",
            "a/b",
            "a b",
            "a:b",
            ".",
            "..",
            "sixteen-bytes-xx",
            "tab\t",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        for good in ["st0", "stabcdefghij23", "fifteen-bytes-x"] {
            validate_name(good).unwrap();
        }
    }

    #[test]
    fn mtu_rules() {
        let v4: IpNet = "169.254.10.1/30".parse().unwrap();
        let v6: IpNet = "fd00::1/64".parse().unwrap();
        assert!(validate_mtu("x", 67, &[]).is_err());
        validate_mtu("x", 68, &[v4]).unwrap();
        assert!(validate_mtu("x", 1279, &[v4, v6]).is_err());
        validate_mtu("x", 1280, &[v4, v6]).unwrap();
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let e = tun_error("st-abc", io::Error::from_raw_os_error(ENODEV));
        assert_eq!(
            e.to_string(),
            "cannot create TUN device st-abc: /dev/net/tun is missing: load the tun module \
             (modprobe tun) or build the kernel with CONFIG_TUN"
        );
        let e = tun_error("st-abc", io::Error::from_raw_os_error(EPERM));
        assert!(e
            .to_string()
            .ends_with("permission denied: straitd needs root or CAP_NET_ADMIN"));
        let e = errno_error("add IPv6 address fd00::1/64 to st0".into(), EACCES);
        assert!(e.to_string().contains("IPv6 is disabled"), "{e}");
        assert_eq!(e.errno(), Some(EACCES));
    }

    #[test]
    fn route_messages_round_trip() {
        let net: IpNet = "10.99.0.0/16".parse().unwrap();
        let msg = route_message(7, net, Some(20));
        assert_eq!(strait_route(&msg), Some((7, VtiRoute { net, metric: 20 })));
        let net6: IpNet = "fd99::/48".parse().unwrap();
        let msg = route_message(7, net6, Some(5));
        assert_eq!(
            strait_route(&msg),
            Some((
                7,
                VtiRoute {
                    net: net6,
                    metric: 5
                }
            ))
        );
        let default: IpNet = "0.0.0.0/0".parse().unwrap();
        let mut msg = route_message(7, default, None);
        msg.attributes
            .retain(|a| !matches!(a, RouteAttribute::Destination(_)));
        assert_eq!(
            strait_route(&msg),
            Some((
                7,
                VtiRoute {
                    net: default,
                    metric: 0
                }
            ))
        );
    }
}
