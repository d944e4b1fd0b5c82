//! MODP Diffie-Hellman (groups 2, 5, 14, 15, 16): agreement both ways, differential
//! checks against num-bigint, peer value validation, padding.

use ike_crypto::{CryptoError, DhGroup, DhPrivate};
use num_bigint::BigUint;

const MODP: [DhGroup; 5] = [
    DhGroup::Modp1024,
    DhGroup::Modp1536,
    DhGroup::Modp2048,
    DhGroup::Modp3072,
    DhGroup::Modp4096,
];

/// Deterministic test bytes (xorshift64*), so failures reproduce.
struct TestRng(u64);

impl TestRng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }
}

fn prime(group: DhGroup) -> BigUint {
    BigUint::from_bytes_be(group.modp_prime().unwrap())
}

fn padded(v: &BigUint, len: usize) -> Vec<u8> {
    let b = v.to_bytes_be();
    assert!(b.len() <= len);
    [vec![0; len - b.len()], b].concat()
}

fn key(group: DhGroup, rng: &mut TestRng) -> (Vec<u8>, DhPrivate) {
    let x = rng.bytes(group.random_len());
    let k = group.generate(&x).unwrap();
    (x, k)
}

#[test]
fn primes_are_safe_primes_of_the_right_size() {
    let two = BigUint::from(2u32);
    for g in MODP {
        let p = prime(g);
        assert_eq!(p.bits() as usize, g.public_len() * 8, "{g}");
        // RFC 2409 §6.2 / RFC 3526: the top and bottom 64 bits are all ones.
        let bytes = g.modp_prime().unwrap();
        assert!(bytes[..8]
            .iter()
            .chain(&bytes[bytes.len() - 8..])
            .all(|b| *b == 0xFF));
        // Fermat tests of p and q = (p-1)/2 (a safe prime): 2^(p-1) = 1 mod p.
        let one = BigUint::from(1u32);
        let q = (&p - &one) >> 1;
        assert_eq!(two.modpow(&(&p - &one), &p), one, "{g}: p");
        assert_eq!(two.modpow(&(&q - &one), &q), one, "{g}: q");
        // 2 generates the subgroup of order q (2 is a quadratic residue mod these p).
        assert_eq!(two.modpow(&q, &p), one, "{g}: 2^q");
    }
}

#[test]
fn agreement_both_ways_and_against_num_bigint() {
    let mut rng = TestRng(0x1234_5678_9abc_def1);
    for g in MODP {
        let p = prime(g);
        for _ in 0..2 {
            let (xa, a) = key(g, &mut rng);
            let (xb, b) = key(g, &mut rng);
            let (pa, pb) = (a.public_value(), b.public_value());
            assert_eq!(pa.len(), g.public_len());
            // Public value = 2^x mod p, left-padded.
            let ya = BigUint::from(2u32).modpow(&BigUint::from_bytes_be(&xa), &p);
            assert_eq!(pa, padded(&ya, g.public_len()), "{g}: public value");
            let s_ab = a.agree(&pb).unwrap();
            let s_ba = b.agree(&pa).unwrap();
            assert_eq!(s_ab, s_ba, "{g}: both ways");
            assert_eq!(s_ab.len(), g.shared_len());
            let s = BigUint::from_bytes_be(&pb).modpow(&BigUint::from_bytes_be(&xa), &p);
            assert_eq!(&s_ab[..], &padded(&s, g.public_len())[..], "{g}: shared");
            assert_ne!(xa, xb);
            // Deterministic: the same random bytes give the same key.
            assert_eq!(g.generate(&xa).unwrap().public_value(), pa);
        }
    }
}

#[test]
fn short_exponents() {
    // RFC 3526 §8: 256-bit exponents for groups up to 3072 bits, 320 for 4096.
    let lens: Vec<usize> = MODP.iter().map(|g| g.random_len()).collect();
    assert_eq!(lens, [32, 32, 32, 32, 40]);
    for g in MODP {
        let err = g.generate(&[1; 33]).unwrap_err();
        assert_eq!(
            err,
            CryptoError::RandomLength {
                group: g,
                expected: g.random_len(),
                actual: 33
            }
        );
        // 0 and 1 are not private keys.
        let mut x = vec![0; g.random_len()];
        assert_eq!(
            g.generate(&x).unwrap_err(),
            CryptoError::BadRandom { group: g }
        );
        *x.last_mut().unwrap() = 1;
        assert_eq!(
            g.generate(&x).unwrap_err(),
            CryptoError::BadRandom { group: g }
        );
        *x.last_mut().unwrap() = 2;
        let k = g.generate(&x).unwrap();
        let mut four = vec![0; g.public_len()];
        *four.last_mut().unwrap() = 4;
        assert_eq!(k.public_value(), four, "{g}: 2^2");
    }
}

#[test]
fn peer_values_are_validated() {
    let mut rng = TestRng(99);
    for g in MODP {
        let (_, k) = key(g, &mut rng);
        let len = g.public_len();
        let p = g.modp_prime().unwrap().to_vec();
        let p_big = prime(g);
        let out_of_range = CryptoError::PeerPublicOutOfRange { group: g };
        let small = |v: u8| {
            let mut b = vec![0; len];
            *b.last_mut().unwrap() = v;
            b
        };
        let p_minus = |v: u32| padded(&(&p_big - BigUint::from(v)), len);
        for (name, peer) in [
            ("0", small(0)),
            ("1", small(1)),
            ("p-1", p_minus(1)),
            ("p", p.clone()),
            ("p+1", padded(&(&p_big + 1u32), len)),
            ("all ones", vec![0xFF; len]),
        ] {
            assert_eq!(k.agree(&peer).unwrap_err(), out_of_range, "{g}: {name}");
        }
        // The extremes of the valid range.
        assert!(k.agree(&small(2)).is_ok(), "{g}: 2");
        assert!(k.agree(&p_minus(2)).is_ok(), "{g}: p-2");
        // Wrong lengths, including a valid value with a leading zero byte or stripped.
        let valid = k.public_value();
        for peer in [
            [&[0u8][..], &valid].concat(),
            valid[1..].to_vec(),
            vec![],
            vec![2],
        ] {
            assert_eq!(
                k.agree(&peer).unwrap_err(),
                CryptoError::PeerPublicLength {
                    group: g,
                    expected: len,
                    actual: peer.len()
                },
                "{g}"
            );
        }
    }
    let k = DhGroup::Modp2048.generate(&[3; 32]).unwrap();
    assert_eq!(
        k.agree(&[0; 256]).unwrap_err().to_string(),
        "peer's DH public value is out of range for MODP_2048"
    );
    assert_eq!(
        k.agree(&[0; 255]).unwrap_err().to_string(),
        "peer's DH public value for MODP_2048 must be 256 bytes long, got 255"
    );
}

#[test]
fn shared_secret_and_public_value_keep_leading_zeros() {
    // Find keys whose public value and shared secret start with a zero byte (1 in 256 each)
    // and check the left padding of RFC 7296 §2.14 / §3.4.
    let g = DhGroup::Modp1024;
    let p = prime(g);
    let (_, peer) = key(g, &mut TestRng(7));
    let mut rng = TestRng(0xfeed);
    let (mut public_zero, mut shared_zero) = (false, false);
    for _ in 0..4000 {
        let (x, k) = key(g, &mut rng);
        let public = k.public_value();
        let shared = k.agree(&peer.public_value()).unwrap();
        assert_eq!((public.len(), shared.len()), (128, 128));
        if public[0] == 0 && !public_zero {
            public_zero = true;
            let y = BigUint::from(2u32).modpow(&BigUint::from_bytes_be(&x), &p);
            assert_eq!(public, padded(&y, 128));
        }
        if shared[0] == 0 && !shared_zero {
            shared_zero = true;
            assert_eq!(&shared[..], &peer.agree(&public).unwrap()[..]);
        }
        if public_zero && shared_zero {
            break;
        }
    }
    assert!(public_zero && shared_zero, "no leading-zero case found");
}

#[test]
fn debug_shows_no_secret() {
    let x = [0xA5u8; 32];
    let k = DhGroup::Modp2048.generate(&x).unwrap();
    let dbg = format!("{k:?}");
    assert_eq!(dbg, "DhPrivate { group: Modp2048, .. }");
    let ec = DhGroup::Ecp256.generate(&x).unwrap();
    assert_eq!(format!("{ec:?}"), "DhPrivate { group: Ecp256, .. }");
}
