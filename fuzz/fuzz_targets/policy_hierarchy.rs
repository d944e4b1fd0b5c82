//! Hierarchical `PATCH /policy/api/v1/infra` bodies: any JSON. Must never panic; every step
//! names a valid policy path, and a body never yields more steps than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_model::path::ObjectPath;
use strait_policy::hierarchy::{plan_summary, HierarchyOptions, HIERARCHY_OBJECTS_MAX};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    for enforce_revision_check in [false, true] {
        let Ok(steps) = plan_summary(&body, HierarchyOptions { enforce_revision_check }) else { continue };
        assert!(steps.len() <= HIERARCHY_OBJECTS_MAX);
        for step in &steps {
            let (_, path) = step.split_once(' ').expect("verb and path");
            ObjectPath::parse(path).expect("a planned step names a valid path");
        }
    }
});
