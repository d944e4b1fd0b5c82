//! MODP Diffie-Hellman (RFC 7296 §3.4 groups 2, 5, 14, 15, 16) on aws-lc's constant-time
//! modular exponentiation, through the raw `aws-lc-sys` bindings (aws-lc-rs has no safe
//! MODP API).
//!
//! This is the only module of the crate with `unsafe` code. Every BIGNUM, BN_CTX and
//! BN_MONT_CTX is owned by an RAII wrapper whose `Drop` frees it (BIGNUMs with
//! `BN_clear_free`, which wipes the limbs first), so no early return can leak or leave a
//! secret behind. All pointers handed to C are either owned by such a wrapper or borrowed
//! from a live Rust slice for the duration of the call.
//!
//! Groups: generator 2 and the primes of RFC 2409 §6.2 (group 2, 1024 bits) and RFC 3526
//! §2-§5 (groups 5, 14, 15, 16), embedded as hex. Private exponents are short, as RFC 3526
//! §8 allows: 256 bits for groups 2, 5, 14 and 15, 320 bits for group 16 (twice the
//! strength estimate of each group). Peer values must be exactly the prime length and
//! satisfy 1 < y < p-1 (RFC 7296 §3.4, NIST SP 800-56A §5.6.2.3.1); for these safe primes
//! that also rules out every small subgroup (RFC 6989 §2.2).

#![allow(unsafe_code)]

use std::cmp::Ordering;
use std::ptr::{self, NonNull};

use aws_lc_sys as ffi;
use zeroize::Zeroizing;

use crate::{CryptoError, DhGroup};

/// Decodes a hex constant, skipping spaces. Only ever evaluated in `const` items, so a bad
/// digit or length is a compile error, never a run-time panic.
#[allow(clippy::panic, clippy::indexing_slicing)]
const fn decode_hex<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut nibbles = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b' ' | b'\n' => continue,
            _ => panic!("invalid hex digit in a MODP prime"),
        };
        if nibbles >= 2 * N {
            panic!("MODP prime constant longer than its type");
        }
        out[nibbles / 2] |= if nibbles % 2 == 0 { v << 4 } else { v };
        nibbles += 1;
    }
    if nibbles != 2 * N {
        panic!("MODP prime constant shorter than its type");
    }
    out
}

// RFC 2409 §6.2, Second Oakley Group: 2^1024 - 2^960 - 1 + 2^64 * { [2^894 pi] + 129093 }.
const MODP_1024: [u8; 128] = decode_hex(concat!(
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 ",
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 ",
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED ",
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381 FFFFFFFF FFFFFFFF ",
));

// RFC 3526 §2, 1536-bit MODP Group (group 5): 2^1536 - 2^1472 - 1 + 2^64 * { [2^1406 pi] + 741804 }.
const MODP_1536: [u8; 192] = decode_hex(concat!(
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 ",
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 ",
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED ",
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 ",
    "98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB ",
    "9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF ",
));

// RFC 3526 §3, 2048-bit MODP Group (group 14): 2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 }.
const MODP_2048: [u8; 256] = decode_hex(concat!(
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 ",
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 ",
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED ",
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 ",
    "98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB ",
    "9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B ",
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 ",
    "3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AACAA68 FFFFFFFF FFFFFFFF ",
));

// RFC 3526 §4, 3072-bit MODP Group (group 15): 2^3072 - 2^3008 - 1 + 2^64 * { [2^2942 pi] + 1690314 }.
const MODP_3072: [u8; 384] = decode_hex(concat!(
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 ",
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 ",
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED ",
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 ",
    "98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB ",
    "9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B ",
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 ",
    "3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33 ",
    "A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7 ",
    "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864 ",
    "D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2 ",
    "08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF ",
));

// RFC 3526 §5, 4096-bit MODP Group (group 16): 2^4096 - 2^4032 - 1 + 2^64 * { [2^3966 pi] + 240904 }.
const MODP_4096: [u8; 512] = decode_hex(concat!(
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 ",
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 ",
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED ",
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 ",
    "98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB ",
    "9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B ",
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 ",
    "3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33 ",
    "A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7 ",
    "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864 ",
    "D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2 ",
    "08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7 ",
    "88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8 ",
    "DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 287C5947 4E6BC05D 99B2964F A090C3A2 ",
    "233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9 ",
    "93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199 FFFFFFFF FFFFFFFF ",
));

/// The generator of every MODP group here (RFC 2409 §6.2, RFC 3526).
const GENERATOR: [u8; 1] = [2];

/// The prime of a MODP group, big-endian; None for the other groups.
pub(crate) fn prime(group: DhGroup) -> Option<&'static [u8]> {
    match group {
        DhGroup::Modp1024 => Some(&MODP_1024),
        DhGroup::Modp1536 => Some(&MODP_1536),
        DhGroup::Modp2048 => Some(&MODP_2048),
        DhGroup::Modp3072 => Some(&MODP_3072),
        DhGroup::Modp4096 => Some(&MODP_4096),
        _ => None,
    }
}

/// Private exponent length in bytes (RFC 3526 §8: at least twice the group's strength).
pub(crate) fn exponent_len(group: DhGroup) -> usize {
    match group {
        DhGroup::Modp4096 => 40,
        _ => 32,
    }
}

fn lib(operation: &'static str) -> CryptoError {
    CryptoError::Library { operation }
}

/// An owned BIGNUM, wiped and freed on drop.
struct Bn(NonNull<ffi::BIGNUM>);

impl Bn {
    fn new() -> Result<Bn, CryptoError> {
        // SAFETY: BN_new has no preconditions; it returns a fresh BIGNUM or NULL, and
        // NonNull::new turns NULL into an error, so `Bn` only ever owns a valid BIGNUM.
        let p = unsafe { ffi::BN_new() };
        NonNull::new(p).map(Bn).ok_or(lib("BN_new"))
    }

    /// The unsigned big-endian integer in `bytes`.
    fn from_be_bytes(bytes: &[u8]) -> Result<Bn, CryptoError> {
        // SAFETY: BN_bin2bn reads exactly `bytes.len()` bytes from `bytes.as_ptr()`, which a
        // live slice guarantees are readable; with `ret` NULL it allocates a new BIGNUM that
        // we own (or returns NULL, turned into an error). The BIGNUM's width follows the
        // input length, not the value, so leading zero bytes of a secret are not revealed.
        let p = unsafe { ffi::BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) };
        NonNull::new(p).map(Bn).ok_or(lib("BN_bin2bn"))
    }

    /// Big-endian, left-padded with zeros to exactly `len` bytes.
    fn to_be_bytes_padded(&self, len: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut out = Zeroizing::new(vec![0u8; len]);
        // SAFETY: `out` has exactly `len` writable bytes and BN_bn2bin_padded writes at most
        // `len` bytes (it fails instead if the value does not fit); `self.0` is a valid
        // BIGNUM owned by `self`, only read here.
        let ok = unsafe { ffi::BN_bn2bin_padded(out.as_mut_ptr(), len, self.0.as_ptr()) };
        if ok == 1 {
            Ok(out)
        } else {
            Err(lib("BN_bn2bin_padded"))
        }
    }

    fn is_zero(&self) -> bool {
        // SAFETY: `self.0` is a valid BIGNUM owned by `self`; BN_is_zero only reads it.
        unsafe { ffi::BN_is_zero(self.0.as_ptr()) == 1 }
    }

    fn is_one(&self) -> bool {
        // SAFETY: `self.0` is a valid BIGNUM owned by `self`; BN_is_one only reads it.
        unsafe { ffi::BN_is_one(self.0.as_ptr()) == 1 }
    }

    /// Compares two non-negative values (not constant time: public values only).
    fn cmp(&self, other: &Bn) -> Ordering {
        // SAFETY: both pointers are valid BIGNUMs owned by live `Bn`s; BN_cmp only reads.
        let c = unsafe { ffi::BN_cmp(self.0.as_ptr(), other.0.as_ptr()) };
        c.cmp(&0)
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from BN_new/BN_bin2bn, is owned only by this `Bn` and was
        // never freed; after this call it is not used again. BN_clear_free zeroes the
        // limbs before freeing, which matters for private exponents.
        unsafe { ffi::BN_clear_free(self.0.as_ptr()) }
    }
}

/// An owned BN_CTX (scratch space for aws-lc), freed on drop.
struct BnCtx(NonNull<ffi::BN_CTX>);

impl BnCtx {
    fn new() -> Result<BnCtx, CryptoError> {
        // SAFETY: BN_CTX_new has no preconditions; NULL is turned into an error.
        let p = unsafe { ffi::BN_CTX_new() };
        NonNull::new(p).map(BnCtx).ok_or(lib("BN_CTX_new"))
    }
}

impl Drop for BnCtx {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BN_CTX_new, is owned only by this value and is not
        // used after this call.
        unsafe { ffi::BN_CTX_free(self.0.as_ptr()) }
    }
}

/// An owned Montgomery context for one modulus, freed on drop.
struct MontCtx(NonNull<ffi::BN_MONT_CTX>);

impl MontCtx {
    fn new_consttime(modulus: &Bn, ctx: &mut BnCtx) -> Result<MontCtx, CryptoError> {
        // SAFETY: `modulus` and `ctx` are valid objects owned by live wrappers; the
        // function copies the modulus (it keeps no pointer to it) and uses `ctx` only
        // during the call. NULL is turned into an error.
        let p = unsafe { ffi::BN_MONT_CTX_new_consttime(modulus.0.as_ptr(), ctx.0.as_ptr()) };
        NonNull::new(p)
            .map(MontCtx)
            .ok_or(lib("BN_MONT_CTX_new_consttime"))
    }
}

impl Drop for MontCtx {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BN_MONT_CTX_new_consttime, is owned only by this
        // value and is not used after this call.
        unsafe { ffi::BN_MONT_CTX_free(self.0.as_ptr()) }
    }
}

/// base^exponent mod modulus, in time independent of the exponent's value.
/// `base` must be below `modulus` (checked by aws-lc), `modulus` odd.
fn mod_exp_consttime(base: &Bn, exponent: &Bn, modulus: &Bn) -> Result<Bn, CryptoError> {
    aws_lc_rs::init();
    let mut ctx = BnCtx::new()?;
    let mont = MontCtx::new_consttime(modulus, &mut ctx)?;
    let result = Bn::new()?;
    // SAFETY: every pointer is a valid object owned by a live wrapper in this frame;
    // `result` is distinct from the inputs (aws-lc allows aliasing anyway); `mont` was built
    // for `modulus`; aws-lc checks that `base` < `modulus` and that `modulus` is odd and
    // returns 0 otherwise, which becomes an error.
    let ok = unsafe {
        ffi::BN_mod_exp_mont_consttime(
            result.0.as_ptr(),
            base.0.as_ptr(),
            exponent.0.as_ptr(),
            modulus.0.as_ptr(),
            ctx.0.as_ptr(),
            mont.0.as_ptr(),
        )
    };
    if ok == 1 {
        Ok(result)
    } else {
        Err(lib("BN_mod_exp_mont_consttime"))
    }
}

fn group_prime(group: DhGroup) -> Result<&'static [u8], CryptoError> {
    prime(group).ok_or(lib("MODP prime lookup"))
}

/// The public value g^x mod p, left-padded to the prime length (RFC 7296 §3.4).
/// `exponent` is the big-endian private exponent; 0 and 1 are rejected as
/// [`CryptoError::BadRandom`].
pub(crate) fn public_value(group: DhGroup, exponent: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let p_bytes = group_prime(group)?;
    let p = Bn::from_be_bytes(p_bytes)?;
    let x = Bn::from_be_bytes(exponent)?;
    if x.is_zero() || x.is_one() {
        return Err(CryptoError::BadRandom { group });
    }
    let g = Bn::from_be_bytes(&GENERATOR)?;
    let y = mod_exp_consttime(&g, &x, &p)?;
    let out = y.to_be_bytes_padded(p_bytes.len())?;
    Ok(out.to_vec())
}

/// Check a peer's public value without any modular arithmetic (RFC 6989 §2.1): the prime's
/// length and 1 < y < p-1, compared as equal-length big-endian byte strings.
pub(crate) fn validate_peer(group: DhGroup, peer: &[u8]) -> Result<(), CryptoError> {
    let p_bytes = group_prime(group)?;
    if peer.len() != p_bytes.len() {
        return Err(CryptoError::PeerPublicLength {
            group,
            expected: p_bytes.len(),
            actual: peer.len(),
        });
    }
    let mut p_minus_1 = p_bytes.to_vec();
    if let Some(last) = p_minus_1.last_mut() {
        *last &= 0xFE; // p is odd
    }
    let (head, last) = peer.split_at(peer.len().saturating_sub(1));
    let at_most_one = head.iter().all(|b| *b == 0) && last.iter().all(|b| *b <= 1);
    if at_most_one || peer >= p_minus_1.as_slice() {
        return Err(CryptoError::PeerPublicOutOfRange { group });
    }
    Ok(())
}

/// The shared secret g^(xy) mod p = peer^x mod p, left-padded to the prime length
/// (RFC 7296 §2.14), after checking the peer's value: prime length, 1 < y < p-1.
pub(crate) fn shared_secret(
    group: DhGroup,
    exponent: &[u8],
    peer: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let p_bytes = group_prime(group)?;
    if peer.len() != p_bytes.len() {
        return Err(CryptoError::PeerPublicLength {
            group,
            expected: p_bytes.len(),
            actual: peer.len(),
        });
    }
    let p = Bn::from_be_bytes(p_bytes)?;
    // p is odd, so p-1 is p with its lowest bit cleared.
    let mut p_minus_1_bytes = p_bytes.to_vec();
    if let Some(last) = p_minus_1_bytes.last_mut() {
        *last &= 0xFE;
    }
    let p_minus_1 = Bn::from_be_bytes(&p_minus_1_bytes)?;
    let y = Bn::from_be_bytes(peer)?;
    if y.is_zero() || y.is_one() || y.cmp(&p_minus_1) != Ordering::Less {
        return Err(CryptoError::PeerPublicOutOfRange { group });
    }
    let x = Bn::from_be_bytes(exponent)?;
    let s = mod_exp_consttime(&y, &x, &p)?;
    // Unreachable for a valid y and 2 <= x < q with a safe prime; checked anyway.
    if s.is_one() || s.is_zero() {
        return Err(CryptoError::PeerPublicLowOrder { group });
    }
    s.to_be_bytes_padded(p_bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded RFC 3526 primes equal aws-lc's own copies
    /// (`BN_get_rfc3526_prime_*`), an independent source.
    #[test]
    fn rfc3526_primes_match_aws_lc() {
        type Getter = unsafe extern "C" fn(*mut ffi::BIGNUM) -> *mut ffi::BIGNUM;
        let cases: [(DhGroup, Getter); 4] = [
            (DhGroup::Modp1536, ffi::BN_get_rfc3526_prime_1536),
            (DhGroup::Modp2048, ffi::BN_get_rfc3526_prime_2048),
            (DhGroup::Modp3072, ffi::BN_get_rfc3526_prime_3072),
            (DhGroup::Modp4096, ffi::BN_get_rfc3526_prime_4096),
        ];
        for (group, getter) in cases {
            // SAFETY: with a NULL argument the getter allocates and returns a new BIGNUM
            // (or NULL), which `Bn` then owns and frees.
            let p = NonNull::new(unsafe { getter(ptr::null_mut()) })
                .map(Bn)
                .unwrap();
            let theirs = p.to_be_bytes_padded(group.public_len()).unwrap();
            assert_eq!(&theirs[..], prime(group).unwrap(), "{group}");
        }
    }

    /// The group 2 prime has the RFC 2409 §6.2 shape and shares its leading 64+
    /// bits of pi with the RFC 3526 primes.
    #[test]
    fn rfc2409_prime_shape() {
        assert_eq!(MODP_1024.len(), 128);
        assert_eq!(MODP_1024[..8], [0xFF; 8]);
        assert_eq!(MODP_1024[120..], [0xFF; 8]);
        assert_eq!(MODP_1024[..24], MODP_2048[..24]);
    }

    #[test]
    fn padded_output_and_range_checks() {
        let p = Bn::from_be_bytes(&MODP_1024).unwrap();
        assert!(Bn::from_be_bytes(&[]).unwrap().is_zero());
        assert!(Bn::from_be_bytes(&[0, 0, 1]).unwrap().is_one());
        assert_eq!(Bn::from_be_bytes(&[1]).unwrap().cmp(&p), Ordering::Less);
        assert_eq!(p.cmp(&p), Ordering::Equal);
        assert_eq!(
            &Bn::from_be_bytes(&[7])
                .unwrap()
                .to_be_bytes_padded(4)
                .unwrap()[..],
            &[0, 0, 0, 7]
        );
        // A value that does not fit the requested length is an error, not a truncation.
        assert!(p.to_be_bytes_padded(127).is_err());
        // base >= modulus is refused by aws-lc, not silently reduced.
        assert!(mod_exp_consttime(&p, &Bn::from_be_bytes(&[3]).unwrap(), &p).is_err());
    }
}
