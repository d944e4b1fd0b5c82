//! TCP MSS clamping on arbitrary packets and on SYNs with fuzzed options / extension headers.
//! Must never panic; a changed packet keeps its length, changes only MSS values and the TCP
//! checksum, and its checksum verifies exactly when it did before.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_dataplane::mss::{apply, clamp, MssDirection, MssPolicy};

fn sum16(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The TCP segment of a template-built packet: (pseudo-header sum, start, end).
fn segment(p: &[u8], v6: bool, tcp_at: usize) -> (u64, usize, usize) {
    let len = p.len() - tcp_at;
    let pseudo = if v6 {
        sum16(&p[8..40], 0) + 6 + len as u64
    } else {
        sum16(&p[12..20], 0) + 6 + len as u64
    };
    (pseudo, tcp_at, p.len())
}

/// A SYN (flags from the input) with fuzzed TCP options, over IPv4 or IPv6 with fuzzed
/// extension-header bytes, with a correct checksum. Returns (packet, v6, TCP offset).
fn template(data: &[u8]) -> Option<(Vec<u8>, bool, usize)> {
    let (&ctl, rest) = data.split_first()?;
    let (&flags, rest) = rest.split_first()?;
    let v6 = ctl & 1 == 1;
    let ext_len = if v6 { usize::from((ctl >> 1) & 3) * 8 } else { 0 };
    let ext = rest.get(..ext_len)?;
    let opts = &rest[ext_len..];
    let opts = &opts[..opts.len().min(40)];
    let pad = (4 - opts.len() % 4) % 4;
    let tcp_len = 20 + opts.len() + pad;
    let mut p = Vec::new();
    if v6 {
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        p.extend_from_slice(&((ext_len + tcp_len) as u16).to_be_bytes());
        p.push(if ext_len == 0 { 6 } else { 60 });
        p.push(64);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        if ext_len > 0 {
            // Destination options of the requested size, then TCP; fuzzed body.
            p.push(6);
            p.push((ext_len / 8 - 1) as u8);
            p.extend_from_slice(&ext[2..]);
        }
    } else {
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    }
    let tcp_at = p.len();
    p.extend_from_slice(&[0x9c, 0x40, 0x01, 0xbb, 1, 2, 3, 4, 0, 0, 0, 0]);
    p.push(((tcp_len / 4) as u8) << 4);
    p.push(flags | 0x02);
    p.extend_from_slice(&[0xfa, 0xf0, 0, 0, 0, 0]);
    p.extend_from_slice(opts);
    p.resize(p.len() + pad, 0);
    let (pseudo, s, e) = segment(&p, v6, tcp_at);
    let c = !fold(sum16(&p[s..e], pseudo));
    p[tcp_at + 16..tcp_at + 18].copy_from_slice(&c.to_be_bytes());
    Some((p, v6, tcp_at))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Some((max_bytes, rest)) = rest.split_first_chunk::<2>() else { return };
    let max = u16::from_be_bytes(*max_bytes);
    if mode & 0x80 == 0 {
        // Raw bytes through both entry points.
        let mut a = rest.to_vec();
        let changed = clamp(&mut a, max);
        assert_eq!(a.len(), rest.len());
        if !changed {
            assert_eq!(a, rest);
        }
        let direction = match mode & 3 {
            0 => MssDirection::None,
            1 => MssDirection::InboundConnection,
            2 => MssDirection::OutboundConnection,
            _ => MssDirection::Both,
        };
        let mut b = rest.to_vec();
        let applied = apply(MssPolicy { direction, max_segment_size: max }, mode & 4 != 0, &mut b);
        if applied {
            assert!(changed && a == b, "apply changed what clamp would not");
        } else {
            assert_eq!(b, rest);
        }
        return;
    }
    // A well-formed SYN around fuzzed options: the checksum must still verify after clamping.
    let Some((mut p, v6, tcp_at)) = template(rest) else { return };
    let before = p.clone();
    if clamp(&mut p, max) {
        assert_eq!(p.len(), before.len());
        let (pseudo, s, e) = segment(&p, v6, tcp_at);
        assert_eq!(fold(sum16(&p[s..e], pseudo)), 0xffff, "checksum broken by clamping");
        for (i, (x, y)) in before.iter().zip(&p).enumerate() {
            if x != y {
                let in_checksum = (tcp_at + 16..tcp_at + 18).contains(&i);
                let in_options = i >= tcp_at + 20;
                assert!(in_checksum || in_options, "byte {i} changed outside options/checksum");
            }
        }
    } else {
        assert_eq!(p, before);
    }
});
