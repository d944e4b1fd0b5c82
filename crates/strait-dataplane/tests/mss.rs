//! MSS clamping: IPv4 and IPv6 SYN / SYN-ACK with the MSS option in every usual position,
//! checksums recomputed from scratch, the direction matrix, malformed input, and property tests.

use proptest::prelude::*;
use strait_dataplane::mss::{apply, clamp, default_mss, MssDirection, MssPolicy};

// ---------------------------------------------------------------------------------------------
// packet building and an independent checksum oracle
// ---------------------------------------------------------------------------------------------

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;

const SRC4: [u8; 4] = [10, 1, 0, 5];
const DST4: [u8; 4] = [10, 2, 0, 7];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];

/// TCP option helpers.
fn mss_opt(v: u16) -> Vec<u8> {
    let b = v.to_be_bytes();
    vec![2, 4, b[0], b[1]]
}
fn nop() -> Vec<u8> {
    vec![1]
}
fn eol() -> Vec<u8> {
    vec![0]
}
fn sack_perm() -> Vec<u8> {
    vec![4, 2]
}
fn wscale(s: u8) -> Vec<u8> {
    vec![3, 3, s]
}
fn timestamps(val: u32, ecr: u32) -> Vec<u8> {
    let mut v = vec![8, 10];
    v.extend_from_slice(&val.to_be_bytes());
    v.extend_from_slice(&ecr.to_be_bytes());
    v
}
fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// A TCP header (checksum 0) with `options` padded to a multiple of 4 with EOL bytes.
fn tcp_header(flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut opts = options.to_vec();
    while opts.len() % 4 != 0 {
        opts.push(0);
    }
    assert!(opts.len() <= 40, "options too long for a TCP header");
    let doff = (20 + opts.len()) / 4;
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&443u16.to_be_bytes());
    t[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    t[8..12].copy_from_slice(&if flags & ACK != 0 { 0x0bad_cafe_u32 } else { 0 }.to_be_bytes());
    t[12] = (doff as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&opts);
    t.extend_from_slice(payload);
    t
}

fn ipv4_packet(tcp: &[u8], ip_options: &[u8]) -> Vec<u8> {
    assert!(ip_options.len() % 4 == 0);
    let ihl = 20 + ip_options.len();
    let total = ihl + tcp.len();
    let mut p = vec![0u8; 20];
    p[0] = 0x40 | (ihl / 4) as u8;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&SRC4);
    p[16..20].copy_from_slice(&DST4);
    p.extend_from_slice(ip_options);
    let c = fold(sum16(&p[..ihl], 0));
    p[10..12].copy_from_slice(&(!c).to_be_bytes());
    p.extend_from_slice(tcp);
    set_tcp_checksum(&mut p);
    p
}

/// An IPv6 packet; `ext` is a chain of (next-header-value-of-this-header, bytes) extension
/// headers, whose first byte (Next Header) is filled in here.
fn ipv6_packet(tcp: &[u8], ext: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let ext_len: usize = ext.iter().map(|(_, b)| b.len()).sum();
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((ext_len + tcp.len()) as u16).to_be_bytes());
    p[6] = ext.first().map_or(6, |(t, _)| *t);
    p[7] = 64;
    p[8..24].copy_from_slice(&SRC6);
    p[24..40].copy_from_slice(&DST6);
    for (i, (_, bytes)) in ext.iter().enumerate() {
        let mut b = bytes.clone();
        b[0] = ext.get(i + 1).map_or(6, |(t, _)| *t);
        p.extend_from_slice(&b);
    }
    p.extend_from_slice(tcp);
    set_tcp_checksum(&mut p);
    p
}

/// An 8-byte Hop-by-Hop / Destination Options header holding a PadN option.
fn opts_ext(kind: u8) -> (u8, Vec<u8>) {
    (kind, vec![0, 0, 1, 4, 0, 0, 0, 0])
}
/// A 16-byte options header (Hdr Ext Len 1).
fn opts_ext16(kind: u8) -> (u8, Vec<u8>) {
    (kind, vec![0, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
}
/// A Fragment header with the given offset (8-byte units) and M flag.
fn frag_ext(offset: u16, more: bool) -> (u8, Vec<u8>) {
    let o = (offset << 3) | u16::from(more);
    let b = o.to_be_bytes();
    (44, vec![0, 0, b[0], b[1], 0, 0, 0x12, 0x34])
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}
fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Independent parser: (pseudo-header sum, TCP segment range) of a TCP packet, or None.
fn tcp_segment(p: &[u8]) -> Option<(u32, std::ops::Range<usize>)> {
    match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p.first()? & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
            if ihl < 20 || total < ihl + 20 || total > p.len() || p[9] != 6 {
                return None;
            }
            if u16::from_be_bytes([p[6], p[7]]) & 0x3fff != 0 {
                return None; // any fragment: no full segment to check
            }
            let len = total - ihl;
            let mut acc = sum16(&p[12..20], 0);
            acc += 6 + len as u32;
            Some((acc, ihl..total))
        }
        6 => {
            if p.len() < 40 {
                return None;
            }
            let end = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
            if end > p.len() || end == 40 {
                return None;
            }
            let mut next = p[6];
            let mut off = 40;
            for _ in 0..16 {
                match next {
                    6 => {
                        if off + 20 > end {
                            return None;
                        }
                        let len = end - off;
                        let mut acc = sum16(&p[8..40], 0);
                        acc += (len >> 16) as u32 + (len & 0xffff) as u32 + 6;
                        return Some((acc, off..end));
                    }
                    0 | 43 | 60 => {
                        if off + 2 > end {
                            return None;
                        }
                        next = p[off];
                        off += (usize::from(p[off + 1]) + 1) * 8;
                    }
                    44 => {
                        if off + 8 > end {
                            return None;
                        }
                        if u16::from_be_bytes([p[off + 2], p[off + 3]]) & 0xfff9 != 0 {
                            return None; // a fragment (offset or M): no full segment
                        }
                        next = p[off];
                        off += 8;
                    }
                    _ => return None,
                }
            }
            None
        }
        _ => None,
    }
}

/// Recompute the TCP checksum from scratch (field zeroed).
fn scratch_checksum(p: &[u8]) -> u16 {
    let (pseudo, seg) = tcp_segment(p).expect("a TCP packet");
    let mut s = p[seg].to_vec();
    s[16] = 0;
    s[17] = 0;
    !fold(sum16(&s, pseudo))
}
/// Fill in the TCP checksum, when the oracle can find the segment (AH, ESP and such are left).
fn set_tcp_checksum(p: &mut [u8]) {
    if let Some((_, seg)) = tcp_segment(p) {
        let c = scratch_checksum(p);
        p[seg.start + 16..seg.start + 18].copy_from_slice(&c.to_be_bytes());
    }
}
fn stored_checksum(p: &[u8]) -> u16 {
    let (_, seg) = tcp_segment(p).expect("a TCP packet");
    u16::from_be_bytes([p[seg.start + 16], p[seg.start + 17]])
}
/// Full verification: the one's complement sum over pseudo-header and segment is all ones.
fn checksum_verifies(p: &[u8]) -> Option<bool> {
    let (pseudo, seg) = tcp_segment(p)?;
    Some(fold(sum16(&p[seg], pseudo)) == 0xffff)
}

/// The MSS option values of a packet's TCP header (test-side parser).
fn mss_values(p: &[u8]) -> Vec<u16> {
    let (_, seg) = tcp_segment(p).expect("a TCP packet");
    let t = &p[seg];
    let end = usize::from(t[12] >> 4) * 4;
    let mut i = 20;
    let mut out = vec![];
    while i < end {
        match t[i] {
            0 => break,
            1 => i += 1,
            k => {
                let l = usize::from(t[i + 1]);
                if k == 2 {
                    out.push(u16::from_be_bytes([t[i + 2], t[i + 3]]));
                }
                i += l.max(1);
            }
        }
    }
    out
}

/// Clamp and check: returns whether it changed, and asserts the checksum equals one recomputed
/// from scratch and that only the MSS value and checksum bytes moved.
#[track_caller]
fn clamp_checked(p: &mut Vec<u8>, max: u16) -> bool {
    let before = p.clone();
    let changed = clamp(p, max);
    assert_eq!(p.len(), before.len());
    if changed {
        assert_eq!(
            stored_checksum(p),
            scratch_checksum(p),
            "incremental checksum is wrong"
        );
        assert_eq!(checksum_verifies(p), Some(true));
        let diffs = before.iter().zip(p.iter()).filter(|(a, b)| a != b).count();
        assert!(
            diffs <= 4 * mss_values(p).len().max(1),
            "changed {diffs} bytes"
        );
    } else {
        assert_eq!(*p, before, "false but the packet changed");
    }
    changed
}

/// The canonical option layouts a SYN carries (Linux, Windows, BSD, middleboxes), all with
/// MSS `mss`: the MSS value lands on even and odd offsets.
fn layouts(mss: u16) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("mss only", mss_opt(mss)),
        (
            "linux: mss,sackok,ts,nop,ws",
            cat(&[
                mss_opt(mss),
                sack_perm(),
                timestamps(1, 0),
                nop(),
                wscale(7),
            ]),
        ),
        (
            "windows: mss,nop,ws,nop,nop,sackok",
            cat(&[mss_opt(mss), nop(), wscale(8), nop(), nop(), sack_perm()]),
        ),
        (
            "after nop (odd)",
            cat(&[nop(), mss_opt(mss), nop(), nop(), nop()]),
        ),
        ("after nop,nop", cat(&[nop(), nop(), mss_opt(mss)])),
        (
            "after nop,nop,ts",
            cat(&[nop(), nop(), timestamps(7, 9), mss_opt(mss)]),
        ),
        (
            "after ts (even)",
            cat(&[timestamps(0xdead_beef, 1), mss_opt(mss), nop(), nop()]),
        ),
        ("after sackok", cat(&[sack_perm(), mss_opt(mss)])),
        ("after ws (odd)", cat(&[wscale(14), mss_opt(mss), nop()])),
        (
            "after sackok,ts,ws (odd)",
            cat(&[sack_perm(), timestamps(5, 6), wscale(2), mss_opt(mss)]),
        ),
        (
            "last, before eol",
            cat(&[wscale(1), nop(), mss_opt(mss), eol()]),
        ),
    ]
}

fn both_families(tcp: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ipv4", ipv4_packet(tcp, &[])),
        ("ipv4 with ip options", ipv4_packet(tcp, &[1, 1, 1, 0])),
        ("ipv6", ipv6_packet(tcp, &[])),
        (
            "ipv6 hbh+dst+frag0",
            ipv6_packet(tcp, &[opts_ext(0), opts_ext16(60), frag_ext(0, false)]),
        ),
        (
            "ipv6 routing+dst",
            ipv6_packet(tcp, &[opts_ext(43), opts_ext(60)]),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// clamp
// ---------------------------------------------------------------------------------------------

#[test]
fn syn_and_syn_ack_are_clamped_in_every_layout_and_family() {
    for flags in [
        SYN,
        SYN | ACK,
        SYN | ACK | 0x40, /* ECE */
        SYN | 0xc0,       /* ECN setup */
    ] {
        for (layout, opts) in layouts(1460) {
            for (family, mut p) in both_families(&tcp_header(flags, &opts, &[])) {
                let what = format!("{family}, {layout}, flags {flags:#x}");
                assert!(clamp_checked(&mut p, 1360), "{what}: not clamped");
                assert_eq!(mss_values(&p), vec![1360], "{what}");
                // Idempotent: a second pass finds nothing to do.
                assert!(!clamp_checked(&mut p, 1360), "{what}: clamped twice");
            }
        }
    }
}

#[test]
fn clamping_works_with_tcp_payload_and_every_mss_value() {
    // SYN with data (TFO) and many old/new values, odd and even checksum carries.
    for old in [
        1361u16,
        1400,
        1460,
        8960,
        9000,
        0xffff,
        0x8000,
        0x00ff + 1361,
    ] {
        for max in [536u16, 1220, 1240, 1340, 1360] {
            let tcp = tcp_header(SYN, &cat(&[nop(), mss_opt(old)]), b"tfo cookie data!");
            for (family, mut p) in both_families(&tcp) {
                assert!(clamp_checked(&mut p, max), "{family} {old} -> {max}");
                assert_eq!(mss_values(&p), vec![max.min(old)]);
            }
        }
    }
}

#[test]
fn smaller_or_equal_mss_and_absent_option_are_untouched() {
    for (layout, opts) in layouts(1300) {
        for (family, mut p) in both_families(&tcp_header(SYN, &opts, &[])) {
            assert!(!clamp_checked(&mut p, 1360), "{family} {layout}");
            assert!(!clamp_checked(&mut p, 1300), "{family} {layout} (equal)");
        }
    }
    // No MSS option: nothing is inserted.
    let opts = cat(&[sack_perm(), timestamps(1, 2), nop(), wscale(7)]);
    for (family, mut p) in both_families(&tcp_header(SYN, &opts, &[])) {
        assert!(!clamp_checked(&mut p, 1000), "{family}");
    }
    for (family, mut p) in both_families(&tcp_header(SYN, &[], &[])) {
        assert!(!clamp_checked(&mut p, 1000), "{family} (no options)");
    }
    // A zero maximum means "no clamping".
    for (family, mut p) in both_families(&tcp_header(SYN, &mss_opt(1460), &[])) {
        assert!(!clamp_checked(&mut p, 0), "{family}");
    }
}

#[test]
fn every_mss_option_is_clamped() {
    let opts = cat(&[mss_opt(1460), nop(), mss_opt(9000)]);
    for (family, mut p) in both_families(&tcp_header(SYN, &opts, &[])) {
        assert!(clamp_checked(&mut p, 1200), "{family}");
        assert_eq!(mss_values(&p), vec![1200, 1200]);
    }
}

#[test]
fn non_syn_segments_are_untouched() {
    for flags in [ACK, ACK | PSH, FIN | ACK, RST, RST | ACK, 0] {
        for (family, mut p) in both_families(&tcp_header(flags, &mss_opt(1460), b"x")) {
            assert!(!clamp_checked(&mut p, 1000), "{family} flags {flags:#x}");
        }
    }
}

#[test]
fn a_wrong_checksum_stays_wrong_by_the_same_amount() {
    let mut p = ipv4_packet(&tcp_header(SYN, &mss_opt(1460), &[]), &[]);
    let at = 20 + 16;
    p[at] ^= 0x5a; // corrupt the checksum
    assert_eq!(checksum_verifies(&p), Some(false));
    let mut good = ipv4_packet(&tcp_header(SYN, &mss_opt(1460), &[]), &[]);
    assert!(clamp(&mut p, 1360));
    assert!(clamp(&mut good, 1360));
    assert_eq!(
        checksum_verifies(&p),
        Some(false),
        "clamping must not repair a bad checksum"
    );
    assert_eq!(p[at] ^ 0x5a, good[at]);
}

#[test]
fn trailing_link_layer_padding_is_ignored() {
    let mut p = ipv4_packet(&tcp_header(SYN, &mss_opt(1460), &[]), &[]);
    p.extend_from_slice(&[0xee; 6]);
    assert!(clamp(&mut p, 1360));
    assert_eq!(&p[p.len() - 6..], &[0xee; 6]);
    assert_eq!(checksum_verifies(&p), Some(true));
    let mut p6 = ipv6_packet(&tcp_header(SYN, &mss_opt(1460), &[]), &[]);
    p6.extend_from_slice(&[2, 4, 0xff, 0xff]); // looks like an MSS option, but outside the packet
    assert!(clamp(&mut p6, 1360));
    assert_eq!(&p6[p6.len() - 4..], &[2, 4, 0xff, 0xff]);
}

#[test]
fn fragments_first_yes_others_no() {
    let tcp = tcp_header(SYN, &mss_opt(1460), &[]);
    // IPv4 first fragment (MF, offset 0): the header is there, clamp it. The checksum oracle
    // cannot see the whole segment, so check the field against the unfragmented result.
    let mut whole = ipv4_packet(&tcp, &[]);
    let mut first = whole.clone();
    first[6] = 0x20; // MF
    assert!(clamp(&mut first, 1300));
    assert!(clamp(&mut whole, 1300));
    assert_eq!(first[20..], whole[20..]);
    // IPv4 non-first fragment whose payload looks like a SYN.
    let mut later = ipv4_packet(&tcp, &[]);
    later[6] = 0x00;
    later[7] = 0x10;
    assert!(!clamp(&mut later, 1300));
    // IPv6 first fragment (M set) and a later one.
    let mut first6 = ipv6_packet(&tcp, &[frag_ext(0, false)]);
    first6[40 + 3] |= 1; // M
    assert!(clamp(&mut first6, 1300));
    let mut later6 = ipv6_packet(&tcp, &[frag_ext(0, false)]);
    later6[40 + 2] = 0;
    later6[40 + 3] = 0x08; // offset 1 (8 bytes)
    let before = later6.clone();
    assert!(!clamp(&mut later6, 1300));
    assert_eq!(later6, before);
}

#[test]
fn malformed_options_leave_the_packet_untouched() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("length 0 before mss", cat(&[vec![8, 0], mss_opt(1460)])),
        (
            "length 1 before mss",
            cat(&[vec![3, 1], nop(), mss_opt(1460)]),
        ),
        ("length 0 after mss", cat(&[mss_opt(1460), vec![5, 0]])),
        (
            "length 1 after mss",
            cat(&[mss_opt(1460), nop(), vec![19, 1]]),
        ),
        (
            "past the end after mss",
            cat(&[mss_opt(1460), vec![8, 12, 0, 0]]),
        ),
        ("mss length 3", vec![2, 3, 0x05, 0xb4]),
        ("mss length 5", vec![2, 5, 0x05, 0xb4, 0]),
        (
            "mss length past the end",
            cat(&[nop(), nop(), nop(), vec![2, 4, 0x05]]),
        ),
        ("mss length 0", vec![2, 0, 0x05, 0xb4]),
        (
            "mss kind as the last byte",
            cat(&[mss_opt(1460), nop(), nop(), nop(), vec![2]]),
        ),
    ];
    for (what, raw_opts) in cases {
        // Build the header by hand so the padding cannot repair the option list.
        let mut opts = raw_opts.clone();
        while opts.len() % 4 != 0 {
            opts.insert(0, 1); // leading NOPs keep the broken option at the end
        }
        if what == "mss kind as the last byte" {
            opts = raw_opts.clone();
            assert_eq!(opts.len() % 4, 0);
        }
        for (family, mut p) in both_families(&tcp_header(SYN, &opts, &[])) {
            let before = p.clone();
            assert!(!clamp(&mut p, 536), "{family}: {what}");
            assert_eq!(p, before, "{family}: {what}");
        }
    }
}

#[test]
fn malformed_headers_leave_the_packet_untouched() {
    let tcp = tcp_header(SYN, &mss_opt(1460), &[]);
    let v4 = ipv4_packet(&tcp, &[]);
    let v6 = ipv6_packet(&tcp, &[]);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one byte", vec![0x45]),
        ("ipv4 header only", v4[..20].to_vec()),
        ("ipv6 header only", v6[..40].to_vec()),
    ];
    for cut in [21, 33, 39, 43] {
        cases.push(("ipv4 truncated", v4[..cut].to_vec()));
    }
    for cut in [41, 53, 59, 63] {
        cases.push(("ipv6 truncated", v6[..cut].to_vec()));
    }
    let mut m = v4.clone();
    m[0] = 0x44; // IHL 4
    cases.push(("ihl < 5", m));
    let mut m = v4.clone();
    m[0] = 0x4f; // IHL 15: 60 bytes > total
    cases.push(("ihl past the packet", m));
    let mut m = v4.clone();
    m[2..4].copy_from_slice(&100u16.to_be_bytes());
    cases.push(("total length past the buffer", m));
    let mut m = v4.clone();
    m[2..4].copy_from_slice(&30u16.to_be_bytes());
    cases.push(("total length cuts the tcp header", m));
    let mut m = v4.clone();
    m[9] = 17;
    cases.push(("udp", m));
    let mut m = v4.clone();
    m[0] = 0x55;
    cases.push(("version 5", m));
    let mut m = v4.clone();
    m[20 + 12] = 0x40; // data offset 4
    cases.push(("data offset < 5", m));
    let mut m = v4.clone();
    m[20 + 12] = 0xf0; // data offset 15: past the segment
    cases.push(("data offset past the segment", m));
    let mut m = v6.clone();
    m[4..6].copy_from_slice(&0u16.to_be_bytes());
    cases.push(("ipv6 payload length 0 (jumbo)", m));
    let mut m = v6.clone();
    m[4..6].copy_from_slice(&200u16.to_be_bytes());
    cases.push(("ipv6 payload length past the buffer", m));
    let mut m = v6.clone();
    m[6] = 17;
    cases.push(("ipv6 udp", m));
    cases.push((
        "ipv6 behind AH",
        ipv6_packet(&tcp, &[(51, vec![0, 1, 0, 0, 0, 0, 0, 1])]),
    ));
    cases.push(("ipv6 behind ESP", {
        let mut p = ipv6_packet(&tcp, &[]);
        p[6] = 50;
        p
    }));
    cases.push(("ipv6 no next header", {
        let mut p = ipv6_packet(&tcp, &[]);
        p[6] = 59;
        p
    }));
    cases.push(("ipv6 too many extension headers", {
        let chain: Vec<_> = (0..9).map(|_| opts_ext(60)).collect();
        ipv6_packet(&tcp, &chain)
    }));
    let mut m = ipv6_packet(&tcp, &[opts_ext(0)]);
    m[41] = 200; // Hdr Ext Len far past the packet
    cases.push(("ipv6 extension header past the packet", m));
    for (what, mut p) in cases {
        let before = p.clone();
        assert!(!clamp(&mut p, 536), "{what}");
        assert_eq!(p, before, "{what}");
        for direction in [MssDirection::Both, MssDirection::InboundConnection] {
            for outbound in [false, true] {
                let policy = MssPolicy {
                    direction,
                    max_segment_size: 536,
                };
                assert!(!apply(policy, outbound, &mut p), "{what}");
            }
        }
    }
    // The bound: 8 extension headers are walked.
    let chain: Vec<_> = (0..8).map(|_| opts_ext(60)).collect();
    let mut p = ipv6_packet(&tcp, &chain);
    assert!(clamp_checked(&mut p, 536));
}

// ---------------------------------------------------------------------------------------------
// apply: directions
// ---------------------------------------------------------------------------------------------

#[test]
fn direction_matrix() {
    use MssDirection::*;
    // (direction, outbound, syn-ack?) -> clamped
    let expect = |d: MssDirection, outbound: bool, syn_ack: bool| -> bool {
        match d {
            None => false,
            Both => true,
            // Local side opens: SYN out, SYN-ACK in.
            OutboundConnection => outbound != syn_ack,
            // Peer side opens: SYN in, SYN-ACK out.
            InboundConnection => outbound == syn_ack,
        }
    };
    let table = [
        (OutboundConnection, true, false, true),
        (OutboundConnection, false, true, true),
        (OutboundConnection, false, false, false),
        (OutboundConnection, true, true, false),
        (InboundConnection, false, false, true),
        (InboundConnection, true, true, true),
        (InboundConnection, true, false, false),
        (InboundConnection, false, true, false),
    ];
    for (d, outbound, syn_ack, want) in table {
        assert_eq!(expect(d, outbound, syn_ack), want, "the matrix itself");
    }
    for d in [None, InboundConnection, OutboundConnection, Both] {
        for outbound in [false, true] {
            for syn_ack in [false, true] {
                let flags = if syn_ack { SYN | ACK } else { SYN };
                for (family, p) in both_families(&tcp_header(flags, &layouts(1460)[1].1, &[])) {
                    let mut p = p;
                    let policy = MssPolicy {
                        direction: d,
                        max_segment_size: 1360,
                    };
                    let before = p.clone();
                    let got = apply(policy, outbound, &mut p);
                    let what = format!("{d:?} outbound={outbound} syn_ack={syn_ack} {family}");
                    assert_eq!(got, expect(d, outbound, syn_ack), "{what}");
                    if got {
                        assert_eq!(mss_values(&p), vec![1360], "{what}");
                        assert_eq!(stored_checksum(&p), scratch_checksum(&p), "{what}");
                    } else {
                        assert_eq!(p, before, "{what}");
                    }
                    // A smaller MSS is never raised, whatever the direction.
                    let mut small = before.clone();
                    let policy = MssPolicy {
                        direction: d,
                        max_segment_size: 9000,
                    };
                    assert!(!apply(policy, outbound, &mut small), "{what}");
                    assert_eq!(small, before);
                }
            }
        }
    }
    // Non-SYN traffic is never touched.
    for d in [None, InboundConnection, OutboundConnection, Both] {
        for outbound in [false, true] {
            let mut p = ipv4_packet(&tcp_header(ACK, &mss_opt(1460), b"data"), &[]);
            let policy = MssPolicy {
                direction: d,
                max_segment_size: 500,
            };
            assert!(!apply(policy, outbound, &mut p));
        }
    }
}

#[test]
fn default_mss_from_the_vti_mtu() {
    assert_eq!(default_mss(1400, false), 1360);
    assert_eq!(default_mss(1400, true), 1340);
    assert_eq!(default_mss(1438, false), 1398);
    assert_eq!(default_mss(9000, true), 8940);
    assert_eq!(default_mss(0, false), 0);
    assert_eq!(default_mss(59, true), 0);
}

// ---------------------------------------------------------------------------------------------
// properties
// ---------------------------------------------------------------------------------------------

/// Random TCP options: a mix of well-formed options, an MSS somewhere, and (sometimes) garbage.
fn arb_options() -> impl Strategy<Value = Vec<u8>> {
    let opt = prop_oneof![
        Just(nop()),
        Just(sack_perm()),
        any::<u8>().prop_map(wscale),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| timestamps(a, b)),
        any::<u16>().prop_map(mss_opt),
        any::<u16>().prop_map(mss_opt),
        // Arbitrary option bytes, possibly malformed.
        prop::collection::vec(any::<u8>(), 1..6),
    ];
    prop::collection::vec(opt, 0..6).prop_map(|v| {
        let mut o = v.concat();
        o.truncate(40);
        o
    })
}

fn arb_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        any::<u8>(),
        arb_options(),
        prop::collection::vec(any::<u8>(), 0..40),
        0usize..4,
    )
        .prop_map(|(v6, flags, opts, payload, ext)| {
            let tcp = tcp_header(flags, &opts, &payload);
            if v6 {
                let chain: Vec<_> = [opts_ext(0), opts_ext16(60), frag_ext(0, false)]
                    .into_iter()
                    .take(ext)
                    .collect();
                ipv6_packet(&tcp, &chain)
            } else {
                ipv4_packet(&tcp, &[])
            }
        })
}

/// The model: what clamp should do to a well-built packet.
fn model_changes(p: &[u8], max: u16) -> bool {
    let (_, seg) = tcp_segment(p).expect("built packets parse");
    let t = &p[seg];
    if t[13] & SYN == 0 || max == 0 {
        return false;
    }
    let end = usize::from(t[12] >> 4) * 4;
    let mut i = 20;
    let mut any_larger = false;
    while i < end {
        match t[i] {
            0 => break,
            1 => i += 1,
            k => {
                let Some(&l) = t.get(i + 1).filter(|_| i + 1 < end) else {
                    return false;
                };
                let l = usize::from(l);
                if l < 2 || i + l > end || (k == 2 && l != 4) {
                    return false;
                }
                if k == 2 && u16::from_be_bytes([t[i + 2], t[i + 3]]) > max {
                    any_larger = true;
                }
                i += l;
            }
        }
    }
    any_larger
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Arbitrary bytes: no panic, same length, and when something changed, the checksum's
    /// validity is what it was before.
    #[test]
    fn arbitrary_bytes_never_panic(mut p in prop::collection::vec(any::<u8>(), 0..200),
                                   max in any::<u16>(), outbound in any::<bool>()) {
        if let Some(b) = p.first_mut() {
            // Steer half of the inputs to look like IP.
            *b = if *b & 1 == 0 { 0x45 } else { 0x60 | (*b >> 4) };
        }
        let before = p.clone();
        let was_valid = checksum_verifies(&p);
        let changed = clamp(&mut p, max);
        prop_assert_eq!(p.len(), before.len());
        if changed {
            prop_assert_eq!(checksum_verifies(&p), was_valid);
        } else {
            prop_assert_eq!(&p, &before);
        }
        let mut q = before.clone();
        let policy = MssPolicy { direction: MssDirection::Both, max_segment_size: max };
        prop_assert_eq!(apply(policy, outbound, &mut q), changed);
        prop_assert_eq!(q, p);
    }

    /// Well-built packets with random options: clamp does what the model says, and a changed
    /// packet carries exactly the checksum computed from scratch.
    #[test]
    fn random_syns_match_the_model(p in arb_packet(), max in prop_oneof![Just(0u16), 1u16..3000, any::<u16>()]) {
        let mut q = p.clone();
        let changed = clamp(&mut q, max);
        prop_assert_eq!(changed, model_changes(&p, max));
        if changed {
            prop_assert_eq!(stored_checksum(&q), scratch_checksum(&q));
            prop_assert!(mss_values(&q).iter().all(|&v| v <= max));
            // Values that were already small enough are kept.
            for (a, b) in mss_values(&p).iter().zip(mss_values(&q).iter()) {
                prop_assert_eq!(*b, (*a).min(max));
            }
        } else {
            prop_assert_eq!(&q, &p);
        }
    }

    /// Mutated SYNs (random byte flips and truncation): no panic, and a changed packet's
    /// checksum verifies exactly when it did before.
    #[test]
    fn mutated_syns_never_panic(p in arb_packet(),
                                flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
                                cut in any::<usize>(), max in any::<u16>()) {
        let mut p = p;
        let n = p.len();
        for (at, x) in flips {
            p[at % n] ^= x;
        }
        if cut % 3 == 0 {
            p.truncate(cut % (n + 1));
        }
        let before = p.clone();
        let was_valid = checksum_verifies(&p);
        if clamp(&mut p, max) {
            prop_assert_eq!(checksum_verifies(&p), was_valid);
        } else {
            prop_assert_eq!(p, before);
        }
    }
}
