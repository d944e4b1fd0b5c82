//! Randomness comes in from the caller (the daemon passes the OS generator, tests a seeded
//! one), so the protocol is deterministic under test.

/// A source of random bytes.
pub trait Random {
    /// Fill `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> Random for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf)
    }
}

pub(crate) fn bytes<const N: usize>(rng: &mut dyn Random) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill(&mut b);
    b
}

pub(crate) fn vec(rng: &mut dyn Random, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

/// A non-zero random u32 (SPIs: 0 is reserved, 1-255 are reserved for IANA in ESP, RFC 4303 §2.1).
pub(crate) fn spi(rng: &mut dyn Random) -> u32 {
    loop {
        let v = u32::from_be_bytes(bytes(rng));
        if v > 255 {
            return v;
        }
    }
}

/// A non-zero IKE SPI.
pub(crate) fn ike_spi(rng: &mut dyn Random) -> [u8; 8] {
    loop {
        let v: [u8; 8] = bytes(rng);
        if v != [0; 8] {
            return v;
        }
    }
}

/// A fraction in [0, 1).
pub(crate) fn fraction(rng: &mut dyn Random) -> f64 {
    (u32::from_be_bytes(bytes(rng)) as f64) / (u32::MAX as f64 + 1.0)
}

/// A deterministic generator for tests and simulations (xoshiro256**; NOT cryptographic).
#[derive(Debug, Clone)]
pub struct TestRandom {
    s: [u64; 4],
}

impl TestRandom {
    /// Seeded generator.
    pub fn new(seed: u64) -> TestRandom {
        let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            // splitmix64 to spread the seed
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        TestRandom {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }
}

impl Random for TestRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            for (dst, src) in chunk.iter_mut().zip(v) {
                *dst = src;
            }
        }
    }
}
