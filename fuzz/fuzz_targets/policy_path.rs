//! Policy paths from URLs: any string. Must never panic; a parsed object path rebuilds itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_model::path::{parse_any, ParsedPath};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(ParsedPath::Object(o)) = parse_any(s) {
        assert_eq!(o.as_str(), s);
        assert!(o.as_str().ends_with(o.id()));
        let _ = o.parent();
        let _ = o.gateway();
    }
});
