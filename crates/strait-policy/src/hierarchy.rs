//! NSX's hierarchical Policy API: `PATCH /policy/api/v1/infra` with a tree of `Child*`
//! wrappers, applied as one transaction (all or nothing). VMware's Terraform provider
//! writes tier-0 gateways this way and deletes them with `marked_for_delete`.
//!
//! A body is an `Infra` whose `children` are wrappers: `{"resource_type": "ChildTier0",
//! "Tier0": {..., "children": [...]}, "marked_for_delete": false}`, where the wrapped
//! key is the object's type (`IPSecVpnSession` for sessions of either kind), or
//! `{"resource_type": "ChildResourceReference", "target_type": "Tier0", "id": "t0",
//! "children": [...]}` to reach into an existing object without changing it. Every
//! object is written exactly as `PATCH {path}` would write it (same validation, secrets,
//! audit), parents before children; deletions go children first, after the writes.

use serde_json::{Map, Value};
use strait_model::path::{Kind, ObjectPath};
use strait_model::problems::codes;

use crate::tree::require_admin;
use crate::tree::{delete_tx, write_tx, WriteOp};
use crate::{Actor, Policy, PolicyError};

/// Objects one request may touch.
pub const HIERARCHY_OBJECTS_MAX: usize = 2_000;
/// How deep wrappers may nest (Infra → Tier0 → LocaleServices → BgpRoutingConfig →
/// BgpNeighborConfig is 4).
const DEPTH_MAX: usize = 8;

/// What a hierarchical request asks of one object.
#[derive(Debug)]
enum Step {
    /// PATCH the object with this body.
    Write(ObjectPath, Value),
    /// Delete the object (`marked_for_delete`).
    Delete(ObjectPath),
    /// The object must exist (a `ChildResourceReference`).
    Exists(ObjectPath),
}

/// How a hierarchical request is applied.
#[derive(Debug, Clone, Copy, Default)]
pub struct HierarchyOptions {
    /// Check `_revision` where objects carry it (NSX's `enforce_revision_check`, default
    /// false: revisions in the body are ignored).
    pub enforce_revision_check: bool,
}

/// What a hierarchical body would do, in order, without doing it: `PATCH <path>`,
/// `DELETE <path>` (run after the writes, last first) or `EXISTS <path>`; or the body's
/// shape error. Public for fuzzing and for dry runs.
pub fn plan_summary(body: &Value, opts: HierarchyOptions) -> Result<Vec<String>, PolicyError> {
    Ok(plan(body, opts)?
        .into_iter()
        .map(|step| match step {
            Step::Write(p, _) => format!("PATCH {p}"),
            Step::Delete(p) => format!("DELETE {p}"),
            Step::Exists(p) => format!("EXISTS {p}"),
        })
        .collect())
}

impl Policy {
    /// Apply a hierarchical `Infra` body (see the module documentation) in one transaction.
    /// Returns how many objects were written or deleted.
    pub fn patch_infra(
        &self,
        body: &Value,
        actor: &Actor,
        opts: HierarchyOptions,
    ) -> Result<usize, PolicyError> {
        require_admin(actor)?;
        let mut steps = plan(body, opts)?;
        let result = self.apply(&steps, actor);
        for step in &mut steps {
            if let Step::Write(_, object) = step {
                crate::tree::scrub_secrets(object);
            }
        }
        result
    }

    fn apply(&self, steps: &[Step], actor: &Actor) -> Result<usize, PolicyError> {
        let (changed, config_rev) =
            self.store
                .write(|tx| -> Result<(usize, Option<u64>), PolicyError> {
                    let mut changed = 0;
                    let mut config_rev = None;
                    for step in steps {
                        match step {
                            Step::Exists(path) => {
                                if tx.object(path.as_str())?.is_none() {
                                    return Err(PolicyError::NotFound {
                                        noun: path.kind().noun(),
                                        path: path.to_string(),
                                    });
                                }
                            }
                            Step::Write(path, object) => {
                                let (_, _, rev) =
                                    write_tx(tx, path, WriteOp::Patch(object), actor, "PATCH")?;
                                config_rev = Some(rev);
                                changed += 1;
                            }
                            Step::Delete(_) => {}
                        }
                    }
                    // Children before their parents.
                    for step in steps.iter().rev() {
                        if let Step::Delete(path) = step {
                            let (existed, rev) = delete_tx(tx, path, actor)?;
                            if existed {
                                config_rev = rev.or(config_rev);
                                changed += 1;
                            }
                        }
                    }
                    Ok((changed, config_rev))
                })?;
        if let Some(rev) = config_rev {
            self.announce(rev);
        }
        Ok(changed)
    }
}

fn invalid(field: &str, message: String) -> PolicyError {
    PolicyError::invalid(field, codes::FIELD, message)
}

/// The steps of a hierarchical body, parents first, checked for shape before anything is
/// written.
fn plan(body: &Value, opts: HierarchyOptions) -> Result<Vec<Step>, PolicyError> {
    let Value::Object(root) = body else {
        return Err(invalid(
            "",
            "the body of PATCH /infra must be a JSON object: {\"resource_type\": \"Infra\", \"children\": [...]}".into(),
        ));
    };
    match root.get("resource_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "Infra" => {}
        Some(other) => {
            return Err(invalid(
                "resource_type",
                format!("the body of PATCH /infra is an Infra object, not {other}: set resource_type to \"Infra\""),
            ))
        }
    }
    let mut steps = Vec::new();
    children(None, root, "children", 0, opts, &mut steps)?;
    Ok(steps)
}

fn children(
    parent: Option<&ObjectPath>,
    object: &Map<String, Value>,
    at: &str,
    depth: usize,
    opts: HierarchyOptions,
    steps: &mut Vec<Step>,
) -> Result<(), PolicyError> {
    let list = match object.get("children") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(invalid(
                at,
                format!("{at} must be a list of Child* objects"),
            ))
        }
    };
    if depth >= DEPTH_MAX {
        return Err(invalid(
            at,
            format!("children nest deeper than {DEPTH_MAX} levels"),
        ));
    }
    for (i, child) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        child_step(parent, child, &at, depth, opts, steps)?;
        if steps.len() > HIERARCHY_OBJECTS_MAX {
            return Err(invalid(
                "children",
                format!("a hierarchical request may touch at most {HIERARCHY_OBJECTS_MAX} objects; split it into several requests"),
            ));
        }
    }
    Ok(())
}

/// The kind a wrapped object's type names (`Tier0`, `IPSecVpnSession`, ...).
fn kind_named(type_name: &str) -> Option<Kind> {
    if type_name == "IPSecVpnSession" {
        return Some(Kind::Session);
    }
    Kind::ALL
        .into_iter()
        .find(|k| k.resource_type() == type_name)
}

fn known_wrappers() -> String {
    let mut names: Vec<String> = Kind::ALL
        .into_iter()
        .map(|k| match k {
            Kind::Session => "ChildIPSecVpnSession".to_owned(),
            k => format!("Child{}", k.resource_type()),
        })
        .collect();
    names.push("ChildResourceReference".into());
    names.join(", ")
}

fn child_step(
    parent: Option<&ObjectPath>,
    child: &Value,
    at: &str,
    depth: usize,
    opts: HierarchyOptions,
    steps: &mut Vec<Step>,
) -> Result<(), PolicyError> {
    let Value::Object(wrapper) = child else {
        return Err(invalid(at, format!("{at} must be a Child* object")));
    };
    let wrapper_type = wrapper
        .get("resource_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let under = parent.map_or("/infra".to_owned(), |p| p.to_string());
    let place = |kind: Kind, id: &str| {
        ObjectPath::child(parent, kind, id).map_err(|e| {
            invalid(
                at,
                format!(
                    "{at}: {} {id:?} cannot be created under {under}: {e}",
                    kind.a_noun()
                ),
            )
        })
    };
    if wrapper_type == "ChildResourceReference" {
        let target = wrapper
            .get("target_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = kind_named(target).ok_or_else(|| {
            invalid(
                &format!("{at}.target_type"),
                format!("{at}: target_type {target:?} is not a type strait has (Tier0, Tier1, LocaleServices, IPSecVpnService, ...)"),
            )
        })?;
        let id = wrapper
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = place(kind, id)?;
        steps.push(Step::Exists(path.clone()));
        return children(
            Some(&path),
            wrapper,
            &format!("{at}.children"),
            depth + 1,
            opts,
            steps,
        );
    }
    let Some(type_name) = wrapper_type.strip_prefix("Child") else {
        return Err(invalid(
            &format!("{at}.resource_type"),
            format!(
                "{at}: resource_type {wrapper_type:?} is not a Child* wrapper; strait knows {}",
                known_wrappers()
            ),
        ));
    };
    let kind = kind_named(type_name).ok_or_else(|| {
        invalid(
            &format!("{at}.resource_type"),
            format!(
                "{at}: {wrapper_type} is not a wrapper strait knows; it knows {}",
                known_wrappers()
            ),
        )
    })?;
    let Some(Value::Object(inner)) = wrapper.get(type_name) else {
        return Err(invalid(
            at,
            format!("{at}: a {wrapper_type} carries the object in a field named {type_name}"),
        ));
    };
    let id = match inner.get("id") {
        Some(Value::String(id)) => id.clone(),
        None | Some(Value::Null) if kind.is_singleton() => kind.collection_segment().to_owned(),
        _ => {
            return Err(invalid(
                &format!("{at}.{type_name}.id"),
                format!("{at}: the {type_name} needs its id"),
            ))
        }
    };
    let path = place(kind, &id)?;
    let delete = [
        wrapper.get("marked_for_delete"),
        inner.get("marked_for_delete"),
    ]
    .into_iter()
    .any(|v| v == Some(&Value::Bool(true)));
    if delete {
        steps.push(Step::Delete(path.clone()));
    } else {
        let mut object = inner.clone();
        object.remove("children");
        object.remove("marked_for_delete");
        if !opts.enforce_revision_check {
            object.remove("_revision");
        }
        steps.push(Step::Write(path.clone(), Value::Object(object)));
    }
    children(
        Some(&path),
        inner,
        &format!("{at}.{type_name}.children"),
        depth + 1,
        opts,
        steps,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(body: Value) -> Vec<String> {
        plan(&body, HierarchyOptions::default())
            .unwrap()
            .into_iter()
            .map(|s| match s {
                Step::Write(p, _) => format!("W {p}"),
                Step::Delete(p) => format!("D {p}"),
                Step::Exists(p) => format!("E {p}"),
            })
            .collect()
    }

    #[test]
    fn nested_wrappers_become_paths_parents_first() {
        let body = json!({"resource_type": "Infra", "children": [
            {"resource_type": "ChildTier0", "Tier0": {"id": "t0", "resource_type": "Tier0", "children": [
                {"resource_type": "ChildLocaleServices", "LocaleServices": {"id": "default", "children": [
                    {"resource_type": "ChildBgpRoutingConfig", "BgpRoutingConfig": {"children": [
                        {"resource_type": "ChildBgpNeighborConfig", "BgpNeighborConfig": {"id": "n1"}, "marked_for_delete": true}
                    ]}}
                ]}},
                {"resource_type": "ChildIPSecVpnService", "IPSecVpnService": {"id": "vpn", "children": [
                    {"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": {"id": "s", "resource_type": "RouteBasedIPSecVpnSession"}}
                ]}}
            ]}},
            {"resource_type": "ChildResourceReference", "target_type": "Tier1", "id": "t1", "children": []}
        ]});
        assert_eq!(
            paths(body),
            [
                "W /infra/tier-0s/t0",
                "W /infra/tier-0s/t0/locale-services/default",
                "W /infra/tier-0s/t0/locale-services/default/bgp",
                "D /infra/tier-0s/t0/locale-services/default/bgp/neighbors/n1",
                "W /infra/tier-0s/t0/ipsec-vpn-services/vpn",
                "W /infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s",
                "E /infra/tier-1s/t1",
            ]
        );
    }

    #[test]
    fn shape_errors_name_the_child() {
        for (body, want) in [
            (
                json!({"children": [{"resource_type": "ChildFoo", "Foo": {}}]}),
                "children[0]: ChildFoo is not a wrapper",
            ),
            (
                json!({"children": [{"resource_type": "ChildTier0", "Tier1": {}}]}),
                "field named Tier0",
            ),
            (
                json!({"children": [{"resource_type": "ChildTier0", "Tier0": {}}]}),
                "needs its id",
            ),
            (
                json!({"children": [{"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": {"id": "s"}}]}),
                "cannot be created under /infra",
            ),
            (json!({"resource_type": "Tier0"}), "Infra"),
            (json!({"children": {}}), "list of Child*"),
        ] {
            let e = plan(&body, HierarchyOptions::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn revisions_are_ignored_unless_enforced() {
        let body = json!({"children": [{"resource_type": "ChildTier0", "Tier0": {"id": "t0", "_revision": 3}}]});
        let loose = plan(&body, HierarchyOptions::default()).unwrap();
        assert!(matches!(&loose[0], Step::Write(_, v) if v.get("_revision").is_none()));
        let strict = plan(
            &body,
            HierarchyOptions {
                enforce_revision_check: true,
            },
        )
        .unwrap();
        assert!(matches!(&strict[0], Step::Write(_, v) if v["_revision"] == 3));
    }

    #[test]
    fn size_is_bounded() {
        let many: Vec<Value> = (0..=HIERARCHY_OBJECTS_MAX)
            .map(|i| json!({"resource_type": "ChildIPSecVpnDpdProfile", "IPSecVpnDpdProfile": {"id": format!("d{i}")}}))
            .collect();
        let e = plan(&json!({"children": many}), HierarchyOptions::default()).unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
    }
}
