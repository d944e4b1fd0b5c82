//! What a raw ESP (IP protocol 50) socket delivers on IPv4: an IP header, then ESP. Stripping
//! it must never panic, and what it returns lies within the packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_dataplane::fuzzing::strip_outer_ipv4;

fuzz_target!(|data: &[u8]| {
    let mut packet = data.to_vec();
    if let Some(esp_len) = strip_outer_ipv4(&mut packet) {
        assert!(esp_len + 20 <= data.len());
        // The header length field says at least 20 bytes and ESP follows it.
        assert_eq!(data[0] >> 4, 4);
        assert_eq!(data[9], 50);
    }
});
