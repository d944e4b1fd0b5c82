//! The packet loops. One worker thread per core runs a single-threaded tokio runtime; each
//! worker owns, for every tunnel, one TUN queue and, for every local address, one port-4500
//! socket, so a packet is read, transformed and written by one thread with no hand-off
//! (dependencies.md §9).
//!
//! Outbound (VTI → peer): a TUN read returns a GSO super-packet split into MTU-sized inner
//! packets (tun-rs `recv_multiple`), each placed in a slot of one slab with room for the ESP
//! header before it and the trailer after it; each is clamped (MSS), encrypted in place, and
//! runs of equal-sized ESP packets leave in one UDP GSO `sendmsg`. With full-sized packets the
//! slots are already back to back and nothing is copied.
//!
//! Inbound (peer → VTI): one `recvmmsg` returns GRO-coalesced datagrams; each ESP packet is
//! decrypted in place, clamped, copied once into a TUN write buffer, and the batch is written
//! with TCP/UDP GRO coalescing (tun-rs `send_multiple`).

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use esp_proto::{spi_of, EspError};
use quinn_udp::{RecvMeta, Transmit, UdpSockRef};
use tokio::io::Interest;
use tun_rs::{GROTable, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

use crate::counters::{CounterBatch, Field};
use crate::sa::{Encapsulation, Inbound, Outbound};
use crate::socket::set_df;
use crate::tunnel::{DfPolicy, Tunnel};
use crate::{mss, Port, RawPort, Shared};

/// Inner packets per TUN read (a 64 KiB GSO packet of 1400-byte segments is ~47).
const TUN_BATCH: usize = IDEAL_BATCH_SIZE;
/// Most ESP header bytes before the inner packet: SPI, sequence number, 16-byte CBC IV.
const MAX_HEADROOM: usize = 8 + 16;
/// Most ESP trailer bytes: 15 padding, pad length, next header, 32-byte ICV.
const MAX_TRAILER: usize = 15 + 2 + 32;
/// The non-ESP marker before an IKE message on port 4500 (RFC 3948 §2.2).
const NON_ESP_MARKER_LEN: usize = 4;
/// Datagram buffers per `recvmmsg`; each holds a GRO batch of up to 64 KiB.
const RX_SLOTS: usize = 4;
/// Size of one receive buffer: the kernel never coalesces more than 64 KiB.
const RX_SLOT_BYTES: usize = 1 << 16;
/// Headroom in TUN write buffers for the virtio-net header tun-rs writes.
const TUN_WRITE_OFFSET: usize = VIRTIO_NET_HDR_LEN;
/// Largest UDP GSO send: the kernel limits a datagram train to 64 KiB.
const GSO_MAX_BYTES: usize = 65_000;
/// TUN write buffers kept for reuse per worker (at most a receive batch: 4 x 64 datagrams).
const WRITE_POOL_MAX: usize = 256;
/// Capacity of a TUN write buffer: tun-rs coalesces a flow's segments into its first buffer
/// only if that one can hold a whole 64 KiB super-packet (it never reallocates). Untouched
/// capacity costs no memory until a buffer has been a coalescing target.
const WRITE_BUF_CAPACITY: usize = 2 * TUN_WRITE_OFFSET + 65_535;
/// Raw ESP packets read per wake-up before yielding.
const RAW_BATCH: usize = 64;

/// Whether a TUN error means the device is gone (closed VTI): the loop ends.
fn device_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBADFD) | Some(libc::EBADF) | Some(libc::ENODEV)
    )
}

/// The counter for an outbound ESP failure.
fn outbound_field(e: &EspError) -> Field {
    match e {
        EspError::SequenceExhausted => Field::SeqOverflow,
        _ => Field::EncryptionFailures,
    }
}

/// Read from tunnel's TUN queue `worker`, encrypt, send. Runs on worker `worker`.
pub(crate) async fn vti_to_peer(shared: Arc<Shared>, tunnel: Arc<Tunnel>, worker: usize) {
    let Some(queue) = tunnel.read_queue(worker).cloned() else {
        return;
    };
    let mtu = usize::from(tunnel.spec_mtu());
    let slot_max = MAX_HEADROOM + mtu + MAX_TRAILER;
    // The buffers below (~160 KiB) only once something is routed into the VTI: an idle
    // tunnel, e.g. one whose peer never answers, costs no memory per worker (issue 11).
    match queue.readable().await {
        Ok(()) => {}
        Err(e) if device_gone(&e) => return,
        Err(e) => tracing::debug!(vti = %tunnel.ifname, error = %e, "VTI readiness failed"),
    }
    if tunnel.is_closed() {
        return;
    }
    let mut original = vec![0u8; VIRTIO_NET_HDR_LEN + 65_535];
    let mut slab = vec![0u8; TUN_BATCH * slot_max];
    let mut sizes = [0usize; TUN_BATCH];
    // One entry per packet of the current read, in slot order.
    let mut encrypted: Vec<Encrypted> = Vec::with_capacity(TUN_BATCH);
    let mut counts = CounterBatch::default();
    loop {
        counts.flush(&tunnel.counters);
        if tunnel.is_closed() {
            return;
        }
        // Sized for the current SA; the SA is loaded again after the read, which may have
        // waited through a rekey.
        let out = tunnel.outbound.load_full();
        let (mut headroom, mut slot) = match &out {
            Some(o) => (
                o.sa.header_len(),
                o.sa.header_len() + mtu + o.sa.trailer_len(mtu),
            ),
            None => (MAX_HEADROOM, slot_max),
        };
        let received = {
            let mut bufs: Vec<&mut [u8]> = slab.chunks_mut(slot).take(TUN_BATCH).collect();
            // The slab holds TUN_BATCH slots of the largest layout, so there are as many
            // buffers as sizes (recv_multiple returns an error when the two differ).
            debug_assert_eq!(bufs.len(), sizes.len(), "TUN read buffers and sizes differ");
            queue
                .recv_multiple(&mut original, &mut bufs, &mut sizes, headroom)
                .await
        };
        // The sizes of the packets read (all of them if the count is somehow larger).
        let received = match received {
            Ok(n) => sizes.get(..n).unwrap_or(&sizes),
            Err(e) if device_gone(&e) => return,
            Err(e) => {
                tracing::debug!(vti = %tunnel.ifname, error = %e, "VTI read failed");
                counts.drop_out(Field::SentOtherError, 1);
                continue;
            }
        };
        let Some(out) = tunnel.outbound.load_full() else {
            // Routed into the VTI while the tunnel has no SA.
            counts.drop_out(Field::NoMatchingPolicy, received.len() as u64);
            continue;
        };
        // A rekey to another transform happened during the read: lay the packets out for it.
        let layout = (
            out.sa.header_len(),
            out.sa.header_len() + mtu + out.sa.trailer_len(mtu),
        );
        if layout != (headroom, slot) {
            relayout(&mut slab, received, (headroom, slot), layout);
            (headroom, slot) = layout;
        }
        let settings = **tunnel.settings.load();
        encrypted.clear();
        for (buf, &len) in slab.chunks_mut(slot).zip(received) {
            // Dropped unless encryption succeeds below.
            encrypted.push(Encrypted::default());
            let Some(inner) = buf.get_mut(headroom..headroom + len) else {
                counts.drop_out(Field::SentOtherError, 1);
                continue;
            };
            let (next_header, inner_df) = match inner.first().map(|b| b >> 4) {
                Some(4) => (4u8, inner.get(6).is_some_and(|b| b & 0x40 != 0)),
                Some(6) => (41u8, true),
                _ => {
                    counts.drop_out(Field::SentOtherError, 1);
                    continue;
                }
            };
            mss::apply(settings.mss_for(inner), true, inner);
            match out.sa.encapsulate(buf, headroom, len, next_header) {
                Ok(r) => {
                    let packet = Encrypted {
                        start: r.start,
                        len: r.len(),
                        inner_len: len,
                        df: settings.df == DfPolicy::Copy && inner_df,
                    };
                    if let Some(last) = encrypted.last_mut() {
                        *last = packet;
                    }
                }
                Err(e) => counts.drop_out(outbound_field(&e), 1),
            }
        }
        if out.needs_rekey_request() {
            tracing::info!(session = %tunnel.session, "ESP sequence numbers running out: rekeying");
            let _ = shared.rekey.try_send(tunnel.session.clone());
        }
        let batch = OutBatch {
            slot,
            packets: &encrypted,
        };
        match out.encapsulation {
            Encapsulation::Udp => {
                send_udp(&shared, &out, worker, &mut slab, &batch, &mut counts).await;
            }
            Encapsulation::Esp => {
                send_raw(&shared, &out, worker, &slab, &batch, &mut counts).await;
            }
        }
    }
}

/// Move `sizes.len()` inner packets from slots of `from.1` bytes with `from.0` bytes of
/// headroom to slots of `to.1` bytes with `to.0` headroom, in the same slab (which has room
/// for the largest layout). Larger slots are filled from the last packet back, smaller ones
/// from the first, so no packet is overwritten before it moves.
fn relayout(slab: &mut [u8], sizes: &[usize], from: (usize, usize), to: (usize, usize)) {
    let mut do_move = |(i, &len): (usize, &usize)| {
        let src = i * from.1 + from.0;
        let dst = i * to.1 + to.0;
        if src != dst {
            move_within(slab, src, len, dst);
        }
    };
    if to.1 >= from.1 {
        sizes.iter().enumerate().rev().for_each(&mut do_move);
    } else {
        sizes.iter().enumerate().for_each(&mut do_move);
    }
}

/// Copy `len` bytes at `src` to `dst` in `slab`, if both ranges lie inside it. Callers
/// compute both from slot layouts that fit the slab; a range outside it would be a bug
/// here, not bad input, so it is asserted in debug builds and the copy skipped otherwise.
fn move_within(slab: &mut [u8], src: usize, len: usize, dst: usize) {
    let fits = |at: usize| at.checked_add(len).is_some_and(|end| end <= slab.len());
    let inside = fits(src) && fits(dst);
    debug_assert!(
        inside,
        "moving {len} bytes from {src} to {dst} in a {}-byte slab",
        slab.len()
    );
    if inside {
        slab.copy_within(src..src + len, dst);
    }
}

/// One packet of a TUN read after encryption.
#[derive(Debug, Clone, Copy, Default)]
struct Encrypted {
    /// Where the ESP packet starts in its slot (0 unless the SA changed during the read).
    start: usize,
    /// ESP length; 0 when the packet was dropped.
    len: usize,
    /// Length of the inner packet, for the byte counters.
    inner_len: usize,
    /// The outer DF bit.
    df: bool,
}

/// The packets of one TUN read after encryption.
struct OutBatch<'a> {
    slot: usize,
    /// One per slot, in order.
    packets: &'a [Encrypted],
}

impl OutBatch<'_> {
    /// Where packet `p`, in slot `i`, starts in the slab.
    fn at(&self, i: usize, p: &Encrypted) -> usize {
        i * self.slot + p.start
    }

    /// How many packets were encrypted (and are to be sent).
    fn to_send(&self) -> usize {
        self.packets.iter().filter(|p| p.len > 0).count()
    }

    fn sent(sent: &[Encrypted], counts: &mut CounterBatch) {
        for p in sent {
            counts.add(Field::PacketsOut, 1);
            counts.add(Field::BytesOut, p.inner_len as u64);
        }
    }

    fn failed(failed: &[Encrypted], counts: &mut CounterBatch) {
        counts.drop_out(Field::SentOtherError, failed.len() as u64);
    }
}

/// Send runs of equal-sized ESP packets with UDP GSO (the last of a run may be shorter).
async fn send_udp(
    shared: &Shared,
    out: &Outbound,
    worker: usize,
    slab: &mut [u8],
    b: &OutBatch<'_>,
    counts: &mut CounterBatch,
) {
    let port = shared.ports.load().get(&out.local.ip()).cloned();
    let Some(ws) = port.as_ref().and_then(|p| p.per_worker.get(worker)) else {
        counts.drop_out(Field::SentOtherError, b.to_send() as u64);
        return;
    };
    let max_segments = ws.state.max_gso_segments().max(1);
    // `rest` is what is left of the batch; its first packet sits in slot `slot`.
    let mut rest = b.packets;
    let mut slot = 0;
    while let Some((first, after)) = rest.split_first() {
        let seg = first.len;
        if seg == 0 {
            rest = after;
            slot += 1;
            continue;
        }
        let limit = max_segments.min(GSO_MAX_BYTES / seg).max(1);
        let start = b.at(slot, first);
        let mut end = start + seg;
        let mut run_len = 1;
        for p in after.iter().take(limit - 1) {
            if p.len == 0 || p.len > seg || p.df != first.df {
                break;
            }
            // Move this packet right behind the previous one (a no-op for full-sized
            // packets, whose slots are exactly one ESP packet long).
            let src = b.at(slot + run_len, p);
            if src != end {
                move_within(slab, src, p.len, end);
            }
            end += p.len;
            run_len += 1;
            if p.len < seg {
                break;
            }
        }
        // `run_len` counts `first` and packets of `after`: it is at most `rest.len()`.
        let (run, later) = rest.split_at_checked(run_len).unwrap_or((rest, &[]));
        if let Err(e) = set_df(&*ws.socket, out.remote.is_ipv4(), first.df, &ws.df) {
            tracing::debug!(error = %e, "cannot set the outer DF bit");
        }
        let res = match slab.get(start..end) {
            Some(contents) => {
                let transmit = Transmit {
                    destination: out.remote,
                    ecn: None,
                    contents,
                    segment_size: (run.len() > 1).then_some(seg),
                    src_ip: None,
                };
                let sock = &ws.socket;
                sock.async_io(Interest::WRITABLE, || {
                    ws.state.try_send(UdpSockRef::from(&**sock), &transmit)
                })
                .await
            }
            None => {
                // Every packet was encrypted inside its own slot of the slab.
                debug_assert!(
                    false,
                    "ESP run {start}..{end} outside a {}-byte slab",
                    slab.len()
                );
                Err(io::Error::other("ESP run outside the slab"))
            }
        };
        match res {
            Ok(()) => OutBatch::sent(run, counts),
            Err(e) => {
                tracing::debug!(remote = %out.remote, error = %e, "ESP send failed");
                OutBatch::failed(run, counts);
            }
        }
        rest = later;
        slot += run.len();
    }
}

/// Send plain ESP (IP protocol 50) through this worker's raw socket, which takes the IP
/// header from us: DF is set per packet.
async fn send_raw(
    shared: &Shared,
    out: &Outbound,
    worker: usize,
    slab: &[u8],
    b: &OutBatch<'_>,
    counts: &mut CounterBatch,
) {
    let raw = shared.raw.load().get(&out.local.ip()).cloned();
    let Some(sender) = raw.as_ref().and_then(|r| r.senders.get(worker)) else {
        counts.drop_out(Field::SentOtherError, b.to_send() as u64);
        return;
    };
    for (i, p) in b.packets.iter().enumerate() {
        if p.len == 0 {
            continue;
        }
        let at = b.at(i, p);
        let Some(esp) = slab.get(at..at + p.len) else {
            // Every packet was encrypted inside its own slot of the slab.
            debug_assert!(
                false,
                "ESP packet {at}+{} outside a {}-byte slab",
                p.len,
                slab.len()
            );
            continue;
        };
        let header = crate::raw::outer_header(out.local.ip(), out.remote.ip(), esp.len(), p.df);
        let dest: socket2::SockAddr = SocketAddr::new(out.remote.ip(), 0).into();
        let res = sender
            .async_io(Interest::WRITABLE, |s| {
                s.send_to_vectored(
                    &[io::IoSlice::new(header.as_ref()), io::IoSlice::new(esp)],
                    &dest,
                )
            })
            .await;
        match res {
            Ok(_) => OutBatch::sent(std::slice::from_ref(p), counts),
            Err(e) => {
                tracing::debug!(remote = %out.remote, error = %e, "ESP send failed");
                OutBatch::failed(std::slice::from_ref(p), counts);
            }
        }
    }
}

/// Inbound packets waiting to be written to one tunnel's VTI.
struct PendingWrites {
    tunnel: Arc<Tunnel>,
    bufs: Vec<Vec<u8>>,
    bytes: u64,
    counts: CounterBatch,
}

/// GRO tables kept per worker thread (more exist only while writes of several ports wait
/// at once).
const GRO_POOL_MAX: usize = 2;

/// What every inbound path of one worker thread shares: the TUN write buffers and the GRO
/// tables. A GRO table is ~1.7 MB (tun-rs preallocates its flow tables), so one per port and
/// worker cost ~4 MB per local endpoint address, 1.2 GB for a gateway with 250 of them
/// (issue 16); the worker runs one task at a time, so one set per thread is enough.
#[derive(Default)]
struct Scratch {
    gro: Vec<GROTable>,
    pool: Vec<Vec<u8>>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// A TUN write buffer from this thread's pool (or a new one).
fn take_buffer() -> Vec<u8> {
    SCRATCH
        .with(|s| s.borrow_mut().pool.pop())
        .unwrap_or_else(|| Vec::with_capacity(WRITE_BUF_CAPACITY))
}

/// Return a TUN write buffer to this thread's pool (bounded).
fn give_buffer(b: Vec<u8>) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.pool.len() < WRITE_POOL_MAX {
            s.pool.push(b);
        }
    });
}

/// A GRO table from this thread's pool (or a new one); never held across another task's
/// use, since it is taken out while in use.
fn take_gro() -> GROTable {
    SCRATCH
        .with(|s| s.borrow_mut().gro.pop())
        .unwrap_or_default()
}

fn give_gro(g: GROTable) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.gro.len() < GRO_POOL_MAX {
            s.gro.push(g);
        }
    });
}

/// Inbound state of one receive loop: the TUN write batches of its current read (buffers
/// and GRO tables come from the worker thread's [`Scratch`]).
pub(crate) struct InboundPath {
    worker: usize,
    pending: Vec<PendingWrites>,
}

impl InboundPath {
    pub(crate) fn new(worker: usize) -> InboundPath {
        InboundPath {
            worker,
            pending: Vec::new(),
        }
    }

    /// Run `f` on the pending writes of `tunnel`, started if there are none yet.
    fn with_batch(&mut self, tunnel: &Arc<Tunnel>, f: impl FnOnce(&mut PendingWrites)) {
        match self
            .pending
            .iter_mut()
            .find(|p| Arc::ptr_eq(&p.tunnel, tunnel))
        {
            Some(batch) => f(batch),
            None => {
                let mut batch = PendingWrites {
                    tunnel: tunnel.clone(),
                    bufs: Vec::new(),
                    bytes: 0,
                    counts: CounterBatch::default(),
                };
                f(&mut batch);
                self.pending.push(batch);
            }
        }
    }

    /// Count a packet that matched no SA: gateway-wide, and against the session whose peer
    /// sent it, if any. One atomic add and one hash lookup, whatever the number of tunnels.
    fn drop_unmatched(&mut self, shared: &Shared, from: IpAddr, why: esp_proto::Counter) {
        let total = match why {
            esp_proto::Counter::SaMismatchIn => &shared.unmatched.unknown_spi,
            _ => &shared.unmatched.malformed,
        };
        total.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = shared.peers.get(&from) {
            self.with_batch(&t, |b| b.counts.drop_in(why));
        }
    }

    /// Handle one ESP packet (RFC 4303 §3.4): find the SA, check replay, verify, decrypt,
    /// clamp, queue for the VTI.
    pub(crate) fn esp(&mut self, shared: &Shared, from: IpAddr, packet: &mut [u8]) {
        let Some(spi) = spi_of(packet) else {
            // Too short to be ESP.
            self.drop_unmatched(shared, from, esp_proto::Counter::PacketsReceivedOtherError);
            return;
        };
        let inbound: Option<Arc<Inbound>> = shared.inbound.load().get(&spi).cloned();
        let Some(inbound) = inbound else {
            self.drop_unmatched(shared, from, esp_proto::Counter::SaMismatchIn);
            return;
        };
        let result = inbound
            .sa
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .decapsulate(packet);
        let tunnel = inbound.tunnel.clone();
        let (next_header, range) = match result {
            Ok(r) => r,
            Err(e) => {
                self.with_batch(&tunnel, |b| b.counts.drop_in(e.counter()));
                return;
            }
        };
        if !inbound.used.swap(true, Ordering::Relaxed)
            && tunnel.with_sas(|sas| sas.peer_used(inbound.spi_in))
        {
            tracing::debug!(session = %tunnel.session, spi_in = format_args!("{:08x}", inbound.spi_in), "peer uses the new SA: sending on it too");
        }
        // RFC 4303 §2.6: next header 59 is a dummy packet (traffic flow confidentiality).
        if next_header == 59 {
            return;
        }
        let Some(inner) = packet.get_mut(range) else {
            return;
        };
        let version_ok = matches!(
            (next_header, inner.first().map(|b| b >> 4)),
            (4, Some(4)) | (41, Some(6))
        );
        if !version_ok {
            self.with_batch(&tunnel, |b| {
                b.counts.drop_in(esp_proto::Counter::DecryptionFailures)
            });
            return;
        }
        let settings = **tunnel.settings.load();
        mss::apply(settings.mss_for(inner), false, inner);
        let mut buf = take_buffer();
        buf.clear();
        buf.resize(TUN_WRITE_OFFSET, 0);
        buf.extend_from_slice(inner);
        let len = inner.len() as u64;
        self.with_batch(&tunnel, |batch| {
            batch.bufs.push(buf);
            batch.bytes += len;
        });
    }

    /// Write every queued packet to its VTI (GRO-coalesced).
    pub(crate) async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let worker = self.worker;
        let mut gro = take_gro();
        for mut p in self.pending.drain(..) {
            let n = p.bufs.len() as u64;
            if n > 0 {
                match p.tunnel.write_queue(worker) {
                    Some(q) => match q
                        .send_multiple(&mut gro, &mut p.bufs, TUN_WRITE_OFFSET)
                        .await
                    {
                        Ok(_) => {
                            p.counts.add(Field::PacketsIn, n);
                            p.counts.add(Field::BytesIn, p.bytes);
                        }
                        Err(e) => {
                            if !device_gone(&e) {
                                tracing::debug!(vti = %p.tunnel.ifname, error = %e, "VTI write failed");
                            }
                            p.counts.add(Field::DroppedIn, n);
                            p.counts.add(Field::ReceivedOtherError, n);
                        }
                    },
                    None => {
                        p.counts.add(Field::DroppedIn, n);
                        p.counts.add(Field::ReceivedOtherError, n);
                    }
                }
            }
            p.counts.flush(&p.tunnel.counters);
            for b in p.bufs.drain(..) {
                give_buffer(b);
            }
        }
        give_gro(gro);
    }
}

/// Read port 4500 on worker `worker`: ESP to the VTIs, IKE to the control plane, keepalives
/// dropped (RFC 3948 §2.2, §2.3).
pub(crate) async fn peer_to_vti(shared: Arc<Shared>, port: Arc<Port>, worker: usize) {
    let Some(ws) = port.per_worker.get(worker) else {
        return;
    };
    let mut bufs: Vec<Vec<u8>> = (0..RX_SLOTS).map(|_| vec![0u8; RX_SLOT_BYTES]).collect();
    let mut meta = [RecvMeta::default(); RX_SLOTS];
    let mut path = InboundPath::new(worker);
    let local = SocketAddr::new(port.ip, crate::socket::NAT_T_PORT);
    loop {
        let received = {
            let mut iovs: Vec<IoSliceMut<'_>> =
                bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            let sock = &ws.socket;
            sock.async_io(Interest::READABLE, || {
                ws.state
                    .recv(UdpSockRef::from(&**sock), &mut iovs, &mut meta)
            })
            .await
        };
        let n = match received {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(%local, error = %e, "receive failed");
                tokio::task::yield_now().await;
                continue;
            }
        };
        for (m, buf) in meta.iter().zip(bufs.iter_mut()).take(n) {
            let Some(data) = buf.get_mut(..m.len) else {
                continue;
            };
            let stride = m.stride.max(1);
            for datagram in data.chunks_mut(stride) {
                match datagram {
                    // NAT keepalive (RFC 3948 §2.3).
                    [0xff] => {}
                    // Non-ESP marker: IKE (RFC 3948 §2.2).
                    [0, 0, 0, 0, ..] => {
                        // A full queue for this sender drops it (the peer retransmits);
                        // the inbox counts the drops.
                        shared.ike.push(local, m.addr, datagram, NON_ESP_MARKER_LEN);
                    }
                    _ => path.esp(&shared, m.addr.ip(), datagram),
                }
            }
        }
        path.flush().await;
    }
}

/// Read plain ESP (IP protocol 50) for one local address; runs on worker 0.
pub(crate) async fn raw_to_vti(shared: Arc<Shared>, raw: Arc<RawPort>) {
    let mut buf = vec![0u8; RX_SLOT_BYTES];
    let mut path = InboundPath::new(0);
    loop {
        let mut guard = match raw.receiver.readable().await {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!(error = %e, "raw ESP socket failed");
                return;
            }
        };
        for _ in 0..RAW_BATCH {
            let res = guard.try_io(|s| {
                use std::io::Read;
                let mut sock: &socket2::Socket = s.get_ref();
                sock.read(&mut buf)
            });
            let n = match res {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "raw ESP receive failed");
                    break;
                }
                Err(_would_block) => break,
            };
            let Some(packet) = buf.get_mut(..n) else {
                continue;
            };
            if let Some((from, esp)) = crate::raw::strip_outer(raw.ip.is_ipv4(), packet) {
                path.esp(&shared, from.unwrap_or(raw.ip), esp);
            }
        }
        path.flush().await;
    }
}

/// Send a NAT keepalive (RFC 3948 §2.3) to every UDP-encapsulated peer.
pub(crate) fn send_keepalives(shared: &Shared) {
    let tunnels = shared.tunnels.load();
    let ports = shared.ports.load();
    let mut sent: HashMap<SocketAddr, ()> = HashMap::new();
    for t in tunnels.values() {
        let out = t.outbound.load();
        let Some(o) = out.as_ref() else { continue };
        if o.encapsulation != Encapsulation::Udp || sent.contains_key(&o.remote) {
            continue;
        }
        if let Some(ws) = ports.get(&o.local.ip()).and_then(|p| p.per_worker.first()) {
            let _ = ws.socket.try_send_to(&[0xff], o.remote);
            sent.insert(o.remote, ());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relayout;

    fn slab_with(sizes: &[usize], headroom: usize, slot: usize) -> Vec<u8> {
        let mut slab = vec![0u8; sizes.len() * 64];
        for (i, len) in sizes.iter().enumerate() {
            for b in 0..*len {
                slab[i * slot + headroom + b] = (i * 16 + b) as u8 + 1;
            }
        }
        slab
    }

    fn packets(slab: &[u8], sizes: &[usize], headroom: usize, slot: usize) -> Vec<Vec<u8>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, len)| slab[i * slot + headroom..i * slot + headroom + len].to_vec())
            .collect()
    }

    #[test]
    fn relayout_to_larger_and_smaller_slots_keeps_every_packet() {
        let sizes = [10, 7, 10, 3];
        let (h1, s1) = (2, 14);
        let slab = slab_with(&sizes, h1, s1);
        let want = packets(&slab, &sizes, h1, s1);
        // Larger header and slot (GCM -> CBC).
        let mut bigger = slab.clone();
        relayout(&mut bigger, &sizes, (h1, s1), (6, 20));
        assert_eq!(packets(&bigger, &sizes, 6, 20), want);
        // And back to smaller ones.
        relayout(&mut bigger, &sizes, (6, 20), (1, 12));
        assert_eq!(packets(&bigger, &sizes, 1, 12), want);
    }
}
