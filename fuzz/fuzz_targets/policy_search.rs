//! NSX search queries (`/policy/api/v1/search/query?query=`): any string. Must never panic
//! or take long; a query that parses also parses negated, with the opposite answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use strait_policy::search::query_matches;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let objects = [
        json!({"resource_type": "Tier0", "id": "edge-t0", "display_name": "Edge T0",
               "path": "/infra/tier-0s/edge-t0", "parent_path": "/infra", "marked_for_delete": false,
               "tags": [{"scope": "site", "tag": "paris"}], "_revision": 3}),
        json!({"resource_type": "RouteBasedIPSecVpnSession", "id": "s1", "display_name": "to (b)",
               "description": "a*b?c\\d", "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": ["169.254.1.1"], "prefix_length": 30}]}]}),
    ];
    for object in &objects {
        let Ok(hit) = query_matches(query, object) else { return };
        if let Ok(miss) = query_matches(&format!("NOT ({query})"), object) {
            assert_eq!(miss, !hit, "NOT ({query}) on {object}");
        }
    }
});
