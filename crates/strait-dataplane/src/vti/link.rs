//! Netlink steps on one interface: look it up, its addresses and qdisc, a stale device's
//! removal.

use futures_util::stream::TryStreamExt;
use ipnet::IpNet;
use libc::{EEXIST, ENODEV};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use rtnetlink::Handle;

use super::error::nl_error;
use super::netlink::{request_ack, with_netlink};
use super::{Netlink, VtiError, ROOT_QDISC};

/// Make [`ROOT_QDISC`] the interface's root qdisc (`tc qdisc replace dev IF root noqueue`).
pub(super) async fn set_root_qdisc(
    handle: &mut Handle,
    ifindex: u32,
) -> Result<(), rtnetlink::Error> {
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

pub(super) async fn add_address(
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
pub(super) fn address_of(msg: &AddressMessage) -> Option<IpNet> {
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

pub(super) fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

pub(super) fn link_kind(link: &LinkMessage) -> Option<&InfoKind> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k),
            _ => None,
        }),
        _ => None,
    })
}

pub(super) async fn link_by_name(
    handle: &Handle,
    name: &str,
) -> Result<Option<LinkMessage>, VtiError> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => Ok(None),
        Err(e) => Err(nl_error(format!("look up interface {name}"), e)),
    }
}

pub(super) async fn link_by_index(
    handle: &Handle,
    ifindex: u32,
) -> Result<Option<LinkMessage>, VtiError> {
    let mut links = handle.link().get().match_index(ifindex).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => Ok(None),
        Err(e) => Err(nl_error(format!("look up interface {ifindex}"), e)),
    }
}

/// Delete a leftover TUN device called `name`; refuse to touch any other kind of interface.
pub(super) async fn remove_stale(netlink: Option<&Netlink>, name: &str) -> Result<(), VtiError> {
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
