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

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::stream::TryStreamExt;
use ipnet::IpNet;
use libc::{EADDRNOTAVAIL, ENODEV};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute};
use rtnetlink::LinkUnspec;
use tun_rs::{AsyncDevice, DeviceBuilder};

mod error;
mod link;
mod names;
mod netlink;
mod routes;

pub use error::VtiError;
pub use names::vti_name;
pub use netlink::Netlink;
pub use routes::{
    add_route, delete_route, host_networks, routes_of, HostNetwork, VtiRoute, RTPROT_STRAIT,
};

use error::{nl_error, tun_error};
use link::{
    add_address, address_of, link_by_index, link_by_name, link_name, remove_stale, set_root_qdisc,
};
pub(crate) use names::stable_hash;
use names::{dedup, validate_mtu, validate_name};
use netlink::with_netlink;

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
    /// The interface group (`ip link set ... group N`, IFLA_GROUP) the VTI joins, so that all
    /// of a data plane's VTIs can be deleted in one request ([`Netlink::delete_group`]); 0
    /// leaves it in the default group.
    pub group: u32,
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
            let mut settings = LinkUnspec::new_with_index(ifindex)
                .mtu(u32::from(cfg.mtu))
                .txqueuelen(TX_QUEUE_LEN);
            if cfg.group != 0 {
                settings = settings.append_extra_attribute(LinkAttribute::Group(cfg.group));
            }
            handle
                .link()
                .set(settings.build())
                .execute()
                .await
                .map_err(|e| {
                    nl_error(
                        format!(
                            "set the MTU {}, queue length and group {} of {name}",
                            cfg.mtu, cfg.group
                        ),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
