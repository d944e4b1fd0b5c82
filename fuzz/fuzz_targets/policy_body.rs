//! Request bodies: any bytes, as JSON, parsed as a body of any policy kind (first byte picks
//! the kind, and whether a stored secret exists). Must never panic; every rejection is a
//! list of problems.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_model::{parse_body, Kind, ObjectPath, ParseCtx};

const PATHS: [&str; 15] = [
    "/infra/tier-0s/t0",
    "/infra/tier-1s/t1",
    "/infra/tier-0s/t0/ipsec-vpn-services/vpn",
    "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
    "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1",
    "/infra/ipsec-vpn-ike-profiles/p",
    "/infra/ipsec-vpn-tunnel-profiles/p",
    "/infra/ipsec-vpn-dpd-profiles/p",
    "/infra/certificates/c",
    "/infra/crls/c",
    "/infra/tier-0s/t0/static-routes/r",
    "/infra/tier-0s/t0/prefix-lists/pl",
    "/infra/tier-0s/t0/locale-services/default",
    "/infra/tier-0s/t0/locale-services/default/bgp",
    "/infra/tier-0s/t0/locale-services/default/bgp/neighbors/n",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else { return };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(json) else { return };
    let path = ObjectPath::parse(PATHS[usize::from(selector) % PATHS.len()]).expect("fixed paths parse");
    let has_secret = selector & 0x80 != 0;
    let existing = |name: &str| {
        (has_secret && matches!(name, "psk" | "password")).then(|| zeroize::Zeroizing::new("stored".to_owned()))
    };
    let ctx = ParseCtx { path: &path, null_clears_secrets: selector & 0x40 != 0, existing_secrets: &existing };
    match parse_body(&body, &ctx) {
        Ok(parsed) => {
            // A parsed object always survives the store's round trip.
            let kind: Kind = parsed.object.kind();
            let back = strait_model::PolicyObject::from_body(kind, parsed.object.to_body()).expect("round trip");
            assert_eq!(back, parsed.object);
        }
        Err(problems) => assert!(!problems.is_empty()),
    }
});
