//! Certificate chains, private keys, CRLs and DNs from untrusted PEM text. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(chain) = strait_pki::parse_certificate_chain(s) {
        let _ = strait_pki::check_private_key(&chain, s, Some("passphrase"));
    }
    let _ = strait_pki::parse_crl(s);
    if let Ok(n) = strait_pki::normalize_dn(s) {
        assert_eq!(strait_pki::normalize_dn(&n).ok().as_deref(), Some(n.as_str()));
    }
    let _ = strait_pki::dn_equal(s, s);
});
