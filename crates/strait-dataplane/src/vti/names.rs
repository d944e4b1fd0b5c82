//! A VTI's name, derived from its session's path, and the checks of what a VTI is given.

use ipnet::IpNet;

use super::{VtiError, MIN_MTU, MIN_MTU_IPV6};

/// Stable interface name for a session path: `"st"` followed by 10 base32 characters (RFC 4648
/// alphabet, lowercase: `a-z`, `2-7`) of a 64-bit hash of the path's bytes, 12 bytes in all
/// (IFNAMSIZ - 1 is 15).
///
/// The hash is FNV-1a 64 finished with MurmurHash3's `fmix64` so that paths differing only in
/// their last characters differ in every output bit; the name carries its top 50 bits. It is
/// fixed here (not `std`'s hasher, which may change between Rust releases), so a session keeps
/// its interface name across restarts and upgrades. With 50 bits, two of 10 000 sessions
/// collide with probability below 5e-8. Pass the canonical path the policy layer stores (the
/// name depends on every byte). Example: `/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1`.
pub fn vti_name(session_path: &str) -> String {
    let h = stable_hash(session_path.as_bytes());
    let mut name = String::with_capacity(12);
    name.push_str("st");
    for i in 0..10 {
        // `as` keeps the low bits, of which `base32_digit` uses 5.
        let bits = (h >> (59 - 5 * i)) as u8;
        name.push(base32_digit(bits));
    }
    name
}

/// FNV-1a 64 of `bytes` finished with MurmurHash3's `fmix64`: fixed here (not `std`'s hasher,
/// which may change between Rust releases), so names and groups derived from it survive
/// restarts and upgrades.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The RFC 4648 §6 base32 digit (lowercase) of the low 5 bits of `bits`.
fn base32_digit(bits: u8) -> char {
    match bits & 0x1f {
        v @ 0..=25 => char::from(b'a' + v),
        v => char::from(b'2' + (v - 26)),
    }
}

/// Check an interface name the way the kernel does (`dev_valid_name`).
pub(super) fn validate_name(name: &str) -> Result<(), VtiError> {
    let bad = |reason: &str| {
        Err(VtiError::InvalidConfig {
            name: name.to_owned(),
            reason: format!("interface name {reason}"),
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > 15 {
        return bad("is longer than 15 bytes (IFNAMSIZ)");
    }
    if name == "." || name == ".." {
        return bad("cannot be . or ..");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c == '%' || c.is_whitespace() || c.is_control())
    {
        return bad("contains '/', ':', '%', a space or a control character");
    }
    Ok(())
}

/// Check an MTU against the minimum of IPv4 and, with an IPv6 address, of IPv6.
pub(super) fn validate_mtu(name: &str, mtu: u16, addresses: &[IpNet]) -> Result<(), VtiError> {
    if mtu < MIN_MTU {
        return Err(VtiError::InvalidConfig {
            name: name.to_owned(),
            reason: format!("MTU {mtu} is below {MIN_MTU}"),
        });
    }
    if mtu < MIN_MTU_IPV6 && addresses.iter().any(|a| matches!(a, IpNet::V6(_))) {
        return Err(VtiError::InvalidConfig {
            name: name.to_owned(),
            reason: format!(
                "MTU {mtu} is below {MIN_MTU_IPV6}, which IPv6 needs: raise the MTU or remove \
                 the IPv6 address"
            ),
        });
    }
    Ok(())
}

/// The addresses without repeats, in their first order.
pub(super) fn dedup(addresses: &[IpNet]) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::with_capacity(addresses.len());
    for a in addresses {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vti_names_are_stable_short_and_distinct() {
        let p = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1";
        let n = vti_name(p);
        assert_eq!(n, vti_name(p));
        assert_eq!(n.len(), 12);
        assert!(n.starts_with("st"));
        assert!(n[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        validate_name(&n).unwrap();
        // Pinned: the scheme must not change between releases (interfaces survive restarts).
        assert_eq!(vti_name(""), vti_name(""));
        assert_eq!(vti_name(p), PINNED_S1);
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            assert!(seen.insert(vti_name(&format!(
                "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s{i}"
            ))));
        }
    }
    const PINNED_S1: &str = "stqtzpk4nzlk";

    #[test]
    fn base32_digits_are_the_rfc4648_alphabet_in_lowercase() {
        let digits: String = (0..32u8).map(base32_digit).collect();
        assert_eq!(digits, "abcdefghijklmnopqrstuvwxyz234567");
        // Only the low 5 bits count.
        assert_eq!(base32_digit(0xe0 | 31), '7');
    }

    #[test]
    fn names_are_validated_like_the_kernel() {
        for bad in [
            "",
            "a/b",
            "a b",
            "a:b",
            ".",
            "..",
            "sixteen-bytes-xx",
            "tab\t",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        for good in ["st0", "stabcdefghij23", "fifteen-bytes-x"] {
            validate_name(good).unwrap();
        }
    }

    #[test]
    fn mtu_rules() {
        let v4: IpNet = "169.254.10.1/30".parse().unwrap();
        let v6: IpNet = "fd00::1/64".parse().unwrap();
        assert!(validate_mtu("x", 67, &[]).is_err());
        validate_mtu("x", 68, &[v4]).unwrap();
        assert!(validate_mtu("x", 1279, &[v4, v6]).is_err());
        validate_mtu("x", 1280, &[v4, v6]).unwrap();
    }
}
