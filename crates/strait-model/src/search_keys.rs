//! Search keys: the values cross-object validation looks objects up by, so that a write
//! costs O(what it touches) rather than a read of every stored object (issue 16).
//!
//! A key is a range `lo..=hi` of big-endian address bytes in a *scope*; a single address is
//! the range of one value. The store keeps every object's keys beside it, written in the
//! same transaction, and answers "which keys of this scope overlap this range" from an
//! index. The keys are a pure function of the object ([`keys`]), so the store can rebuild
//! them from the objects at any time.

use std::net::IpAddr;

use crate::objects::PolicyObject;
use crate::path::{Kind, ObjectPath};

/// The kinds whose objects have search keys ([`keys`] is empty for every other kind).
pub const KINDS: [Kind; 2] = [Kind::Session, Kind::LocalEndpoint];

/// One search key of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchKey {
    /// What the range means, and where it is unique (e.g. VTI subnets of one gateway).
    pub scope: String,
    /// First value of the range (big-endian bytes; 4 for IPv4, 16 for IPv6).
    pub lo: Vec<u8>,
    /// Last value of the range, same length as `lo`.
    pub hi: Vec<u8>,
}

/// Sessions by peer address (IKE tells sessions apart by local and peer address).
pub const PEER_ADDRESS: &str = "peer";

/// A session's VTI subnets on `gateway`, one scope per IP version. Validation keeps these
/// from overlapping within a scope, which is what lets [`SearchKey`] range lookups be exact.
pub fn vti_subnet_scope(gateway: &ObjectPath, ipv4: bool) -> String {
    format!("vti-net{} {gateway}", if ipv4 { 4 } else { 6 })
}

/// The addresses `gateway` owns: its sessions' VTI addresses and its local endpoints'.
pub fn gateway_address_scope(gateway: &ObjectPath) -> String {
    format!("addr {gateway}")
}

/// An address as a key value.
pub fn address_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// The first and last address of a network, as key values.
pub fn network_range(net: &ipnet::IpNet) -> (Vec<u8>, Vec<u8>) {
    (address_bytes(net.network()), address_bytes(net.broadcast()))
}

fn point(scope: String, a: IpAddr) -> SearchKey {
    let v = address_bytes(a);
    SearchKey {
        scope,
        lo: v.clone(),
        hi: v,
    }
}

/// Every search key of `obj`, stored at `path` (a kind outside [`KINDS`] has none).
pub fn keys(path: &ObjectPath, obj: &PolicyObject) -> Vec<SearchKey> {
    let mut out = Vec::new();
    match obj {
        PolicyObject::Session(s) => {
            out.push(point(PEER_ADDRESS.to_owned(), s.peer_address));
            if let Some(gw) = path.gateway() {
                for sub in s.vti_subnets() {
                    if let Some(net) = sub.network() {
                        let (lo, hi) = network_range(&net);
                        out.push(SearchKey {
                            scope: vti_subnet_scope(&gw, net.addr().is_ipv4()),
                            lo,
                            hi,
                        });
                    }
                    for a in &sub.ip_addresses {
                        out.push(point(gateway_address_scope(&gw), *a));
                    }
                }
            }
        }
        PolicyObject::LocalEndpoint(le) => {
            if let Some(gw) = path.gateway() {
                out.push(point(gateway_address_scope(&gw), le.local_address));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_range_spans_its_first_to_last_address() {
        let net: ipnet::IpNet = "169.254.10.0/30".parse().unwrap();
        assert_eq!(
            network_range(&net),
            (vec![169, 254, 10, 0], vec![169, 254, 10, 3])
        );
        let net6: ipnet::IpNet = "fd00::/127".parse().unwrap();
        let (lo, hi) = network_range(&net6);
        assert_eq!(lo.len(), 16);
        assert_eq!(hi[15], 1);
        assert!(lo < hi);
    }

    #[test]
    fn byte_order_is_address_order() {
        // The store compares keys as byte strings; that must be the addresses' order.
        let a = address_bytes("10.0.0.255".parse().unwrap());
        let b = address_bytes("10.0.1.0".parse().unwrap());
        assert!(a < b);
    }
}
