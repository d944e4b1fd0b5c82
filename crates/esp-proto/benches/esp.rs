//! ESP encapsulation and decapsulation per packet, single thread, in place:
//! `cargo bench -p esp-proto`. Throughput is of the inner packet bytes.
//!
//! The global allocator counts allocations, so divan's output shows that the packet path
//! makes none (the decapsulation inputs are built outside the timed section).

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use esp_proto::{InboundSa, Integrity, OutboundSa, SaKeys, Transform};

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

const SIZES: [usize; 2] = [64, 1400];
const ALGS: [&str; 3] = ["aes-gcm-128", "aes-gcm-256", "aes-cbc-128-sha256"];

fn transform(name: &str) -> Transform {
    match name {
        "aes-gcm-128" => Transform::AesGcm16 { key_bits: 128 },
        "aes-gcm-256" => Transform::AesGcm16 { key_bits: 256 },
        _ => Transform::AesCbc {
            key_bits: 128,
            integ: Integrity::HmacSha256_128,
        },
    }
}

fn sa_pair(name: &str) -> (OutboundSa, InboundSa) {
    let t = transform(name);
    let enc = vec![0x42u8; t.enc_key_len()];
    let integ = vec![0x24u8; t.integ_key_len()];
    let keys = SaKeys {
        encryption: &enc,
        integrity: &integ,
    };
    (
        OutboundSa::new(0x1000_0001, t, keys, false, [7; 16]).unwrap(),
        InboundSa::new(0x1000_0001, t, keys, false, 1024).unwrap(),
    )
}

#[divan::bench(args = ALGS, consts = SIZES)]
fn encapsulate<const N: usize>(bencher: Bencher, alg: &str) {
    let (out, _) = sa_pair(alg);
    let start = out.header_len();
    let mut buf = vec![0x45u8; start + N + out.trailer_len(N)];
    bencher.counter(BytesCount::new(N)).bench_local(|| {
        // Re-encrypts the previous packet's bytes in place: the cost is the same.
        out.encapsulate(black_box(&mut buf), start, N, 4).unwrap()
    });
}

#[divan::bench(args = ALGS, consts = SIZES)]
fn decapsulate<const N: usize>(bencher: Bencher, alg: &str) {
    let (out, mut inb) = sa_pair(alg);
    let start = out.header_len();
    let len = start + N + out.trailer_len(N);
    bencher
        .counter(BytesCount::new(N))
        .with_inputs(|| {
            // A fresh sequence number per input, so the replay window accepts each.
            let mut buf = vec![0x45u8; len];
            out.encapsulate(&mut buf, start, N, 4).unwrap();
            buf
        })
        .bench_local_refs(|packet| inb.decapsulate(black_box(packet)).unwrap());
}
