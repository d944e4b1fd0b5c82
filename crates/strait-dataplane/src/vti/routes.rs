//! The kernel routes strait installs over VTIs (protocol [`RTPROT_STRAIT`], main table), and
//! the host's connected networks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::stream::TryStreamExt;
use ipnet::IpNet;
use libc::{EAFNOSUPPORT, EEXIST, ENODEV, ESRCH};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::NLM_F_CREATE;
use rtnetlink::{Handle, RouteMessageBuilder};

use super::error::nl_error;
use super::link::{address_of, link_name};
use super::netlink::{request_ack, with_netlink};
use super::{Netlink, VtiError};

/// The routing protocol number (`rtm_protocol`, `ip route ... proto 83`) of every kernel route
/// strait installs over a VTI, so they are recognizable (`ip route show proto 83`) and
/// [`routes_of`] lists only them. 83 is ASCII `S`; it is not registered in iproute2's
/// `rt_protos` nor used by the usual routing daemons (zebra/FRR 11 and 186-198, BIRD 12,
/// Babel 42, keepalived 18, Open/R 99). A line `83 strait` in `/etc/iproute2/rt_protos.d/`
/// makes `ip route` print the name.
pub const RTPROT_STRAIT: u8 = 83;

/// The main routing table.
const RT_TABLE_MAIN: u8 = RouteHeader::RT_TABLE_MAIN;

/// A kernel route strait installed over a VTI (see [`add_route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VtiRoute {
    /// Destination network.
    pub net: IpNet,
    /// Route metric (`ip route ... metric`): the next hop's admin distance.
    pub metric: u32,
}

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
pub(super) async fn dump_routes(
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

pub(super) async fn add_route_on(
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

pub(super) async fn delete_route_on(
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

pub(super) async fn routes_of_on(
    netlink: Option<&Netlink>,
    ifindex: u32,
) -> Result<Vec<VtiRoute>, VtiError> {
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
