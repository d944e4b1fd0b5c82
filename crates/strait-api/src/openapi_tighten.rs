//! The pass that makes the OpenAPI document state what the server enforces (issue 15), so a
//! client generated from it, or schemathesis, sends what the server accepts:
//!
//! - Request bodies are components of their own (`<resource_type>Write`), flattened from the
//!   type, its write-only secrets, `resource_type` and the metadata fields, with
//!   `additionalProperties: false`: the server refuses unknown fields (gateways excepted:
//!   they accept NSX's other gateway settings and ignore them). Metadata the server ignores
//!   (`path`, `_create_time`, ...) is `readOnly`.
//! - Objects nested in request bodies refuse unknown fields too.
//! - Lists of enum values refuse duplicates (`uniqueItems`).
//! - The hierarchical API's body (`HierarchyBody`) lists its `Child*` wrappers, each with
//!   the write schema of the object it carries.
//!
//! It works on the JSON document after `allow_null_for_optional`, so the component schemas
//! it copies already accept `null` where a merge patch may send it.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use strait_model::path::ID_PATTERN;
use strait_model::reader::IGNORED_METADATA_FIELDS;
use strait_model::Kind;

use crate::openapi::write_schema_name;

const REF_PREFIX: &str = "#/components/schemas/";

/// The request body of a tier-1's locale service.
const TIER1_LOCALE_SERVICES_WRITE: &str = "Tier1LocaleServicesWrite";

pub(crate) fn tighten(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let before = schemas.clone();
    let mut nested = BTreeSet::new();
    for kind in Kind::ALL {
        let name = write_schema_name(kind);
        let Some(composed) = before.get(&name) else {
            continue;
        };
        let mut composed = composed.clone();
        // The inline part (resource_type) was not in the null pass over components.
        if let Value::Object(m) = &mut composed {
            if let Some(Value::Array(items)) = m.get_mut("allOf") {
                items
                    .iter_mut()
                    .filter(|i| i.get("$ref").is_none())
                    .for_each(crate::openapi_build::allow_null_for_optional);
            }
        }
        if kind == Kind::Tier0 {
            // Gateways accept NSX's other gateway settings and ignore them: they stay open.
            // A tier-1's own setting is refused on a tier-0.
            if let Some(Value::Array(parts)) = composed.get_mut("allOf") {
                parts.push(json!({"properties": {"tier0_path": {
                    "type": "null",
                    "description": "Tier-1 only: refused on a tier-0."
                }}}));
            }
            schemas.insert(name, composed);
            continue;
        }
        let Some(mut flat) = flatten(&before, &composed, kind == Kind::Tier1) else {
            debug_assert!(false, "{name} could not be flattened");
            continue;
        };
        if kind == Kind::Session {
            // ON_DEMAND is NSX's value for policy-based sessions; a route-based one refuses it.
            if let Some(mode) = flat.pointer_mut("/properties/connection_initiation_mode") {
                *mode = json!({
                    "type": ["string", "null"],
                    "enum": ["INITIATOR", "RESPOND_ONLY", null],
                    "description": "INITIATOR (default) or RESPOND_ONLY. ON_DEMAND is for policy-based sessions only, and refused here."
                });
            }
        }
        if kind == Kind::Tier1 {
            // Open like a tier-0's; without the tier-0's own settings (a tier-1 has none).
            if let Value::Object(m) = &mut flat {
                m.remove("additionalProperties");
            }
        } else {
            collect_refs(&before, &flat, &mut nested);
        }
        schemas.insert(name, flat);
    }
    // A tier-0's advanced_config is checked field by field, though the gateway around it is open.
    nested.insert("Tier0AdvancedConfig".to_owned());
    for name in nested {
        if let Some(Value::Object(s)) = schemas.get_mut(&name) {
            let plain = s.contains_key("properties")
                && !s.contains_key("allOf")
                && !s.contains_key("oneOf");
            if plain && !s.contains_key("additionalProperties") {
                s.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
    for schema in schemas.values_mut() {
        unique_enum_lists(&before, schema);
    }
    // A tier-1's locale service: no route redistribution (tier-1s have no BGP).
    if let Some(Value::Object(mut ls)) = schemas
        .get(&write_schema_name(Kind::LocaleServices))
        .cloned()
    {
        if let Some(Value::Object(props)) = ls.get_mut("properties") {
            for name in ["route_redistribution_config", "route_redistribution_types"] {
                props.insert(
                    name.into(),
                    json!({"type": "null", "description": "Tier-0 only: refused on a tier-1's locale service."}),
                );
            }
        }
        schemas.insert(TIER1_LOCALE_SERVICES_WRITE.into(), Value::Object(ls));
        if let Some(Value::Object(paths)) = doc.get_mut("paths") {
            let ls_ref =
                json!({"$ref": format!("{REF_PREFIX}{}", write_schema_name(Kind::LocaleServices))});
            for (path, item) in paths.iter_mut() {
                if !path.starts_with("/policy/api/v1/infra/tier-1s/")
                    || !path.contains("/locale-services/")
                {
                    continue;
                }
                for method in ["patch", "put"] {
                    if let Some(schema) = item.pointer_mut(&format!(
                        "/{method}/requestBody/content/application~1json/schema"
                    )) {
                        if *schema == ls_ref {
                            *schema = json!({"$ref": format!("{REF_PREFIX}{TIER1_LOCALE_SERVICES_WRITE}")});
                        }
                    }
                }
            }
        }
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    schemas.insert("HierarchyChild".into(), hierarchy_child());
    schemas.insert(
        "HierarchyBody".into(),
        json!({
            "type": "object",
            "description": "NSX `Infra` with `children`: Child* wrappers, nested through the objects they carry.",
            "properties": {
                "resource_type": {"type": ["string", "null"], "enum": ["Infra", null]},
                "children": {
                    "type": ["array", "null"],
                    "items": {"$ref": format!("{REF_PREFIX}HierarchyChild")}
                }
            }
        }),
    );
}

/// One object schema holding every property of `schema`'s `allOf` parts (resolved through
/// references), refusing others; `None` when a part is not a plain object (`oneOf`), unless
/// `skip_alternatives` leaves such parts out.
fn flatten(
    components: &Map<String, Value>,
    schema: &Value,
    skip_alternatives: bool,
) -> Option<Value> {
    let mut props = Map::new();
    let mut required: Vec<Value> = Vec::new();
    merge_into(
        components,
        schema,
        &mut props,
        &mut required,
        skip_alternatives,
        0,
    )?;
    for (name, prop) in props.iter_mut() {
        if is_read_only(prop) {
            *prop = json!({"readOnly": true, "description": "Read-only; ignored in requests."});
        } else if name == "id" {
            *prop = body_id_schema();
        }
    }
    for name in IGNORED_METADATA_FIELDS {
        let entry = match *name {
            "resource_type" => continue,
            "_revision" => json!({
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": i64::MAX,
                "description": "The revision this change is based on: required by PUT on an existing object; a stale one is refused with 412."
            }),
            "id" => body_id_schema(),
            _ => json!({"readOnly": true, "description": "Read-only; ignored in requests."}),
        };
        props.entry(name.to_string()).or_insert(entry);
    }
    let mut out = Map::new();
    out.insert("type".into(), json!("object"));
    if let Some(d) = schema.get("description").or_else(|| {
        first_ref(schema)
            .and_then(|r| components.get(r))
            .and_then(|c| c.get("description"))
    }) {
        out.insert("description".into(), d.clone());
    }
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
    out.insert("properties".into(), Value::Object(props));
    out.insert("additionalProperties".into(), Value::Bool(false));
    Some(Value::Object(out))
}

/// A body's `id`: checked against the URL's, not ignored like the other metadata.
fn body_id_schema() -> Value {
    json!({"type": ["string", "null"], "description": "The object's id: if given, the one in the path."})
}

fn merge_into(
    components: &Map<String, Value>,
    schema: &Value,
    props: &mut Map<String, Value>,
    required: &mut Vec<Value>,
    skip_alternatives: bool,
    depth: usize,
) -> Option<()> {
    if depth > 8 {
        return None;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = components.get(r.strip_prefix(REF_PREFIX)?)?;
        return merge_into(
            components,
            target,
            props,
            required,
            skip_alternatives,
            depth + 1,
        );
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            merge_into(
                components,
                part,
                props,
                required,
                skip_alternatives,
                depth + 1,
            )?;
        }
        return Some(());
    }
    if schema.get("oneOf").is_some() || schema.get("anyOf").is_some() {
        return skip_alternatives.then_some(());
    }
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            props.insert(k.clone(), v.clone());
        }
    }
    if let Some(r) = schema.get("required").and_then(Value::as_array) {
        for name in r {
            if !required.contains(name) {
                required.push(name.clone());
            }
        }
    }
    Some(())
}

fn first_ref(schema: &Value) -> Option<&str> {
    schema
        .get("allOf")?
        .as_array()?
        .iter()
        .find_map(|p| p.get("$ref")?.as_str()?.strip_prefix(REF_PREFIX))
}

fn is_read_only(prop: &Value) -> bool {
    prop.get("readOnly") == Some(&Value::Bool(true))
        || prop
            .get("items")
            .is_some_and(|i| i.get("readOnly") == Some(&Value::Bool(true)))
}

/// Every component reachable by reference from `schema`.
fn collect_refs(components: &Map<String, Value>, schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(m) => {
            if let Some(name) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                if out.insert(name.to_owned()) {
                    if let Some(target) = components.get(name) {
                        collect_refs(components, target, out);
                    }
                }
            }
            m.values().for_each(|v| collect_refs(components, v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(components, v, out)),
        _ => {}
    }
}

/// Arrays of enum values: the server refuses a value listed twice.
fn unique_enum_lists(components: &Map<String, Value>, schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            let enum_items = m.get("items").is_some_and(|items| {
                items.get("enum").is_some()
                    || items
                        .get("$ref")
                        .and_then(Value::as_str)
                        .and_then(|r| r.strip_prefix(REF_PREFIX))
                        .and_then(|n| components.get(n))
                        .is_some_and(|t| t.get("enum").is_some())
            });
            if enum_items {
                m.insert("uniqueItems".into(), Value::Bool(true));
            }
            m.values_mut()
                .for_each(|v| unique_enum_lists(components, v));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| unique_enum_lists(components, v)),
        _ => {}
    }
}

/// The name of the field a `Child*` wrapper carries its object in.
fn wrapped_type_name(kind: Kind) -> &'static str {
    if kind == Kind::Session {
        "IPSecVpnSession"
    } else {
        kind.resource_type()
    }
}

/// One of the hierarchical API's `Child*` wrappers, or `ChildResourceReference`.
fn hierarchy_child() -> Value {
    let mut wrappers: Vec<Value> = Kind::ALL
        .into_iter()
        .map(|kind| {
            let name = wrapped_type_name(kind);
            let write = json!({"$ref": format!("{REF_PREFIX}{}", write_schema_name(kind))});
            let inner = if kind.is_singleton() {
                write
            } else {
                json!({"allOf": [write, {
                    "required": ["id"],
                    "properties": {"id": {"type": "string", "pattern": ID_PATTERN}}
                }]})
            };
            json!({
                "type": "object",
                "required": ["resource_type", name],
                "properties": {
                    "resource_type": {"type": "string", "enum": [format!("Child{name}")]},
                    name: inner,
                    "marked_for_delete": {"type": ["boolean", "null"], "description": "true deletes the object (and what is under it)."}
                }
            })
        })
        .collect();
    let targets: Vec<&str> = Kind::ALL.into_iter().map(wrapped_type_name).collect();
    wrappers.push(json!({
        "type": "object",
        "required": ["resource_type", "target_type", "id"],
        "properties": {
            "resource_type": {"type": "string", "enum": ["ChildResourceReference"]},
            "target_type": {"type": "string", "enum": targets},
            "id": {"type": "string", "pattern": ID_PATTERN},
            "children": {"type": ["array", "null"], "items": {"$ref": format!("{REF_PREFIX}HierarchyChild")}}
        }
    }));
    json!({
        "description": "A Child* wrapper (the object as PATCH on its path takes it, with its id), or a ChildResourceReference into an existing object. Which wrappers may appear under which follows the policy tree (a session under a service, a service under a gateway, ...).",
        "oneOf": wrappers
    })
}
