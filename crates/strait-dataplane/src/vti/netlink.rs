//! One netlink connection for many VTI and route changes, and the per-call connection the
//! module's free functions use.

use std::collections::HashMap;
use std::future::Future;
use std::io;

use futures_util::stream::StreamExt;
use ipnet::IpNet;
use libc::ENODEV;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST};
use rtnetlink::Handle;

use super::error::nl_error;

use super::routes::{add_route_on, delete_route_on, dump_routes, routes_of_on};
use super::{VtiError, VtiRoute};

/// A netlink connection kept open for many requests. The data plane makes every VTI and
/// route change of its lifetime over one socket (issue 16: thousands of VTIs, each of which
/// used to open three connections), instead of one connection per step as the free functions
/// of this module do. Cheap to clone (a channel to the connection's task).
#[derive(Clone, Debug)]
pub struct Netlink {
    pub(super) handle: Handle,
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

    /// [`add_route`](super::add_route) over this connection.
    pub async fn add_route(&self, ifindex: u32, net: IpNet, metric: u32) -> Result<(), VtiError> {
        add_route_on(Some(self), ifindex, net, metric).await
    }

    /// [`delete_route`](super::delete_route) over this connection.
    pub async fn delete_route(&self, ifindex: u32, net: IpNet) -> Result<(), VtiError> {
        delete_route_on(Some(self), ifindex, net).await
    }

    /// [`routes_of`](super::routes_of) over this connection.
    pub async fn routes_of(&self, ifindex: u32) -> Result<Vec<VtiRoute>, VtiError> {
        routes_of_on(Some(self), ifindex).await
    }

    /// Delete every interface in `group` (IFLA_GROUP) in one request: the kernel unregisters
    /// them as one batch, with one RCU grace period for all, where deleting them one at a
    /// time waits for one per interface (500 TUN devices: 9.0 s one by one, 0.3 s as a
    /// group, on this project's 2-vCPU machines). Returns whether the group had any. Group 0
    /// (every interface's default) is refused.
    pub async fn delete_group(&self, group: u32) -> Result<bool, VtiError> {
        if group == 0 {
            return Err(VtiError::InvalidConfig {
                name: "group 0".to_owned(),
                reason: "the default interface group holds every interface: refusing to \
                         delete it"
                    .to_owned(),
            });
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::Group(group));
        match self.handle.link().del_with_message(msg).execute().await {
            Ok(()) => Ok(true),
            // No interface in the group.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENODEV => Ok(false),
            Err(e) => Err(nl_error(
                format!("delete the interfaces of group {group}"),
                e,
            )),
        }
    }

    /// Every route strait installed (protocol [`RTPROT_STRAIT`](super::RTPROT_STRAIT), main table), by output
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
pub(super) async fn with_netlink<T, F, Fut>(
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
pub(super) async fn request_ack(
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
