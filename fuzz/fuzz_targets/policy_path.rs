//! Policy paths from URLs: any string. Must never panic; a parsed object path rebuilds itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_model::path::{parse_any, ObjectPath, ParsedPath};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(ParsedPath::Object(o)) = parse_any(s) {
        assert_eq!(o.as_str(), s);
        assert!(o.as_str().ends_with(o.id()));
        let _ = o.gateway();
        // Rebuilding from parent, kind and id gives the same path (singletons like `bgp`
        // included).
        let rebuilt = ObjectPath::child(o.parent().as_ref(), o.kind(), o.id()).expect("a parsed path rebuilds");
        assert_eq!(rebuilt, o);
    }
});
