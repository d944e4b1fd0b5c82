//! The queue of IKE datagrams from the sockets (UDP 500 and 4500) to the control plane, fair
//! per sender.
//!
//! Why not one FIFO: a flood forging one peer's address (issue 12, attack 4) arrives faster
//! than the single IKE event loop answers it. In a FIFO, a legitimate peer's IKE_SA_INIT then
//! waits behind thousands of forged ones or finds the queue full and is dropped, and its
//! retransmissions (1 s, 2 s, ...) set how long the session takes to come up. Here every
//! sender has its own short queue, and the control plane takes one datagram from each
//! sender in turn (round robin): a flood fills only its own queue and loses its own
//! datagrams, and everyone else waits behind at most one of its datagrams.
//!
//! A sender is a source address, the local address it sent to (IKE tells sessions apart by
//! the pair, and one peer may have sessions to hundreds of our addresses), *and* whether the
//! datagram opens an exchange
//! (`IKE_SA_INIT` requests carry a zero responder SPI, RFC 7296 §3.1) or belongs to an IKE
//! SA. A forged-`IKE_SA_INIT` flood from a peer's address therefore does not crowd out that
//! peer's own messages for its established SA (DPD, rekeys), which stay in another queue.
//!
//! Everything is bounded: datagrams per sender, datagrams and bytes in all.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

/// An IKE datagram: (local address, peer address, bytes as received, with the non-ESP
/// marker on port 4500).
pub type IkeDatagram = (SocketAddr, SocketAddr, Vec<u8>);

/// The inbox's bounds.
#[derive(Debug, Clone, Copy)]
pub struct InboxLimits {
    /// Datagrams waiting from one sender; more from it are dropped (the peer retransmits).
    pub per_sender: usize,
    /// Datagrams waiting in all.
    pub datagrams: usize,
    /// Bytes waiting in all (a fragmented certificate exchange is a few dozen KiB; a flood
    /// of 64 KiB datagrams must not grow memory past this).
    pub bytes: usize,
}

impl Default for InboxLimits {
    fn default() -> InboxLimits {
        InboxLimits {
            per_sender: 64,
            datagrams: 8192,
            bytes: 8 << 20,
        }
    }
}

/// Who sent a datagram, for fairness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Sender {
    ip: IpAddr,
    /// Our address it was sent to: IKE tells sessions apart by the pair of addresses, and a
    /// peer may have hundreds of sessions to as many of our addresses (issue 16).
    to: IpAddr,
    opens_exchange: bool,
}

#[derive(Debug, Default)]
struct Queues {
    by_sender: HashMap<Sender, VecDeque<IkeDatagram>>,
    /// Senders with something waiting, in the order they are served.
    turn: VecDeque<Sender>,
    datagrams: usize,
    bytes: usize,
}

/// IKE datagrams waiting for the control plane; see the module documentation.
#[derive(Debug)]
pub struct IkeInbox {
    limits: InboxLimits,
    queues: Mutex<Queues>,
    ready: Notify,
    dropped: AtomicU64,
}

impl IkeInbox {
    /// An empty inbox.
    pub fn new(limits: InboxLimits) -> IkeInbox {
        IkeInbox {
            limits,
            queues: Mutex::new(Queues::default()),
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queue a copy of `data` from `remote`; `ike_offset` is where the IKE header starts (4
    /// after a non-ESP marker). Returns false, and counts it, if it was dropped because a
    /// bound was reached.
    pub fn push(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        ike_offset: usize,
    ) -> bool {
        let sender = Sender {
            ip: remote.ip(),
            to: local.ip(),
            opens_exchange: opens_exchange(data.get(ike_offset..).unwrap_or_default()),
        };
        let accepted = {
            let mut q = lock(&self.queues);
            let waiting = q.by_sender.get(&sender).map_or(0, VecDeque::len);
            if waiting >= self.limits.per_sender
                || q.datagrams >= self.limits.datagrams
                || q.bytes.saturating_add(data.len()) > self.limits.bytes
            {
                false
            } else {
                q.datagrams += 1;
                q.bytes += data.len();
                if waiting == 0 {
                    q.turn.push_back(sender);
                }
                q.by_sender
                    .entry(sender)
                    .or_default()
                    .push_back((local, remote, data.to_vec()));
                true
            }
        };
        if accepted {
            self.ready.notify_one();
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        accepted
    }

    /// The next datagram, if one is waiting: the oldest of the sender whose turn it is.
    pub fn try_recv(&self) -> Option<IkeDatagram> {
        let mut q = lock(&self.queues);
        let sender = q.turn.pop_front()?;
        let Some(queue) = q.by_sender.get_mut(&sender) else {
            debug_assert!(false, "a sender in turn has no queue");
            return None;
        };
        let datagram = queue.pop_front();
        let more = !queue.is_empty();
        if more {
            q.turn.push_back(sender);
        } else {
            q.by_sender.remove(&sender);
        }
        if let Some(d) = &datagram {
            q.datagrams -= 1;
            q.bytes -= d.2.len();
        }
        debug_assert!(datagram.is_some(), "a sender in turn had an empty queue");
        datagram
    }

    /// Wait for the next datagram (cancel-safe: nothing is taken until it is returned).
    pub async fn recv(&self) -> IkeDatagram {
        loop {
            if let Some(d) = self.try_recv() {
                return d;
            }
            // `notify_one` stores a permit when nobody waits, so a push between
            // `try_recv` and here is not missed.
            self.ready.notified().await;
        }
    }

    /// Datagrams dropped so far because a bound was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Datagrams dropped since the previous call (for a periodic report).
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    /// Datagrams waiting now.
    pub fn len(&self) -> usize {
        lock(&self.queues).datagrams
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether an IKE message is a request that opens an exchange without an IKE SA: a zero
/// responder SPI (RFC 7296 §3.1; only `IKE_SA_INIT` requests carry one). Too short to tell
/// counts as opening (it will be dropped as undecodable anyway).
fn opens_exchange(ike: &[u8]) -> bool {
    ike.get(8..16).is_none_or(|spi| spi.iter().all(|b| *b == 0))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock left only counters and queues behind: keep using them.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([198, 51, 100, last], port))
    }

    fn ike(responder_spi: u8, tag: u8) -> Vec<u8> {
        let mut m = vec![0u8; 28];
        m[15] = responder_spi;
        m[27] = tag;
        m
    }

    #[test]
    fn a_flood_from_one_sender_delays_another_by_at_most_one_datagram() {
        let inbox = IkeInbox::new(InboxLimits::default());
        let local = addr(1, 500);
        for i in 0..1000u32 {
            inbox.push(local, addr(2, 500), &ike(0, (i % 200) as u8), 0);
        }
        assert_eq!(
            inbox.len(),
            64,
            "the flooding sender keeps at most 64 waiting"
        );
        assert_eq!(inbox.dropped(), 1000 - 64);
        assert!(inbox.push(local, addr(3, 500), &ike(0, 7), 0));
        let first = inbox.try_recv().unwrap();
        assert_eq!(first.1, addr(2, 500));
        let second = inbox.try_recv().unwrap();
        assert_eq!(
            second.1,
            addr(3, 500),
            "the other sender is served right after one of the flood's"
        );
        assert_eq!(inbox.len(), 63);
    }

    #[test]
    fn established_sa_messages_from_a_flooded_address_keep_their_own_queue() {
        let inbox = IkeInbox::new(InboxLimits::default());
        let local = addr(1, 4500);
        for _ in 0..500 {
            inbox.push(
                local,
                addr(2, 4500),
                &[&[0u8; 4][..], &ike(0, 1)].concat(),
                4,
            );
        }
        assert!(
            inbox.push(
                local,
                addr(2, 4500),
                &[&[0u8; 4][..], &ike(9, 2)].concat(),
                4
            ),
            "a message with a responder SPI is not dropped with the flood of IKE_SA_INITs"
        );
        inbox.try_recv().unwrap();
        let second = inbox.try_recv().unwrap();
        assert_eq!(second.2.last(), Some(&2));
    }

    #[test]
    fn bounds_on_datagrams_and_bytes_hold_and_draining_returns_to_empty() {
        let inbox = IkeInbox::new(InboxLimits {
            per_sender: 4,
            datagrams: 10,
            bytes: 1000,
        });
        let local = addr(1, 500);
        let mut accepted = 0;
        for last in 0..50u8 {
            for _ in 0..3 {
                if inbox.push(local, addr(last, 500), &[0u8; 60], 0) {
                    accepted += 1;
                }
            }
        }
        assert_eq!(accepted, 10);
        assert!(!inbox.push(local, addr(200, 500), &[0u8; 60], 0));
        while inbox.try_recv().is_some() {}
        assert!(inbox.is_empty());
        assert!(inbox.push(local, addr(1, 500), &[0u8; 900], 0));
        assert!(
            !inbox.push(local, addr(2, 500), &[0u8; 200], 0),
            "byte bound"
        );
        assert_eq!(inbox.dropped(), 150 - 10 + 2);
    }

    #[test]
    fn every_sender_is_served_in_turn() {
        let inbox = IkeInbox::new(InboxLimits::default());
        let local = addr(1, 500);
        for round in 0..3u8 {
            for last in 10..13u8 {
                inbox.push(local, addr(last, 500), &ike(0, round), 0);
            }
        }
        let order: Vec<(u8, u8)> = std::iter::from_fn(|| inbox.try_recv())
            .map(|(_, r, d)| {
                let IpAddr::V4(ip) = r.ip() else {
                    unreachable!()
                };
                (ip.octets()[3], d[27])
            })
            .collect();
        assert_eq!(
            order,
            vec![
                (10, 0),
                (11, 0),
                (12, 0),
                (10, 1),
                (11, 1),
                (12, 1),
                (10, 2),
                (11, 2),
                (12, 2)
            ]
        );
    }

    #[tokio::test]
    async fn recv_wakes_for_a_push_from_another_thread() {
        let inbox = std::sync::Arc::new(IkeInbox::new(InboxLimits::default()));
        let pusher = inbox.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            pusher.push(addr(1, 500), addr(2, 500), &ike(0, 5), 0);
        });
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), inbox.recv())
            .await
            .expect("recv woke");
        assert_eq!(got.2[27], 5);
        t.join().unwrap();
    }
}
