//! Which tunnel an ESP packet that matches no SA (too short, or an unknown SPI) came from,
//! by its source address, so the drop is counted on that session (NSX's
//! `sa_mismatch_errors_in`, `packets_received_other_error`).
//!
//! Such packets are what a hostile network sends most cheaply, so attributing one must not
//! cost a scan of every tunnel: readers (the workers) do one lock-free hash lookup in a map
//! published with [`ArcSwap`], like the inbound SPI table; writers (SA installation, tunnel
//! removal) copy the map, which happens per IKE event, not per packet. Each tunnel is in the
//! map at most once, under the peer address of its most recently installed SA.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// Peer address → tunnel (generic so it can be tested and benchmarked without TUN devices).
pub struct PeerIndex<T> {
    map: ArcSwap<HashMap<IpAddr, Arc<T>>>,
}

impl<T> Default for PeerIndex<T> {
    fn default() -> Self {
        PeerIndex {
            map: ArcSwap::default(),
        }
    }
}

impl<T> PeerIndex<T> {
    /// The tunnel whose peer is `ip` (lock-free).
    pub fn get(&self, ip: &IpAddr) -> Option<Arc<T>> {
        self.map.load().get(ip).cloned()
    }

    /// Record that `tunnel`'s peer is `ip` (an SA to it was installed), replacing any other
    /// address recorded for that tunnel. Writers must be serialized by the caller.
    pub fn set(&self, ip: IpAddr, tunnel: &Arc<T>) {
        let current = self.map.load();
        if current.get(&ip).is_some_and(|t| Arc::ptr_eq(t, tunnel)) {
            // A rekey with the same peer: nothing changes, nothing is copied.
            return;
        }
        let mut map = HashMap::clone(&current);
        map.retain(|_, t| !Arc::ptr_eq(t, tunnel));
        map.insert(ip, tunnel.clone());
        self.map.store(Arc::new(map));
    }

    /// Forget `tunnel` (it was removed). Writers must be serialized by the caller.
    pub fn remove(&self, tunnel: &Arc<T>) {
        let current = self.map.load();
        if !current.values().any(|t| Arc::ptr_eq(t, tunnel)) {
            return;
        }
        let mut map = HashMap::clone(&current);
        map.retain(|_, t| !Arc::ptr_eq(t, tunnel));
        self.map.store(Arc::new(map));
    }

    /// Addresses recorded.
    pub fn len(&self) -> usize {
        self.map.load().len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.map.load().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The index holds exactly the expected (address, tunnel) pairs.
    fn assert_exact(index: &PeerIndex<char>, want: &[(&str, &Arc<char>)]) {
        assert_eq!(index.len(), want.len());
        for (addr, t) in want {
            let got = index.get(&ip(addr)).expect("recorded");
            assert!(Arc::ptr_eq(&got, t), "{addr} maps to {got}, not {t}");
        }
    }

    #[test]
    fn install_rekey_move_and_remove_keep_the_index_exact() {
        let index = PeerIndex::default();
        let a = Arc::new('a');
        let b = Arc::new('b');
        assert!(index.get(&ip("203.0.113.1")).is_none());

        index.set(ip("203.0.113.1"), &a);
        index.set(ip("203.0.113.2"), &b);
        assert_exact(&index, &[("203.0.113.1", &a), ("203.0.113.2", &b)]);

        // A rekey to the same peer publishes nothing new.
        let before = index.map.load_full();
        index.set(ip("203.0.113.1"), &a);
        assert!(Arc::ptr_eq(&before, &index.map.load_full()));
        assert_exact(&index, &[("203.0.113.1", &a), ("203.0.113.2", &b)]);

        // The peer of `a` moved: its old address no longer points at it.
        index.set(ip("203.0.113.9"), &a);
        assert_exact(&index, &[("203.0.113.9", &a), ("203.0.113.2", &b)]);
        assert!(index.get(&ip("203.0.113.1")).is_none());

        // Another tunnel takes over an address: the first tunnel is not left behind under it.
        index.set(ip("203.0.113.9"), &b);
        assert_exact(&index, &[("203.0.113.9", &b)]);

        index.remove(&a);
        assert_exact(&index, &[("203.0.113.9", &b)]);
        index.remove(&b);
        assert!(index.is_empty());
        assert!(index.get(&ip("203.0.113.9")).is_none());
    }

    #[test]
    fn many_tunnels_each_under_its_own_peer() {
        let index = PeerIndex::default();
        let tunnels: Vec<Arc<u32>> = (0..1000).map(Arc::new).collect();
        for (i, t) in tunnels.iter().enumerate() {
            index.set(IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]), t);
        }
        assert_eq!(index.len(), 1000);
        for (i, t) in tunnels.iter().enumerate() {
            let got = index
                .get(&IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]))
                .unwrap();
            assert!(Arc::ptr_eq(&got, t));
        }
        for t in tunnels.iter().step_by(2) {
            index.remove(t);
        }
        assert_eq!(index.len(), 500);
        assert!(index.get(&IpAddr::from([10, 0, 0, 0])).is_none());
        assert_eq!(*index.get(&IpAddr::from([10, 0, 0, 1])).unwrap(), 1);
    }
}
