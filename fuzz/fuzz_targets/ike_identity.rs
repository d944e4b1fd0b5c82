//! IKE identities as typed in local_id / peer_id. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_model::identity::IkeIdentity;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(id) = IkeIdentity::parse(s) {
        let _ = id.type_name();
        let _ = id.to_string();
    }
});
