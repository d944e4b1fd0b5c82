//! Small builders for the OpenAPI document (parameters, responses, references) and the
//! pass that lets optional properties be `null`.

use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Ref, Schema, Type};
use utoipa::openapi::{ContentBuilder, RefOr, Required, ResponseBuilder};

pub(crate) fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

pub(crate) fn path_params(params: &[String]) -> Vec<utoipa::openapi::path::Parameter> {
    params
        .iter()
        .map(|p| {
            ParameterBuilder::new()
                .name(p)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build()
        })
        .collect()
}

/// An IPv4 address, or a network in CIDR notation (IPv6 ones are accepted too).
const IPV4_ADDRESS_OR_NETWORK: &str = "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(/(3[0-2]|[12]?[0-9]))?$";

/// Field names separated by commas (empty: all fields), as the server checks them.
const INCLUDED_FIELDS: &str = "^( *[A-Za-z0-9_]{1,128} *(, *[A-Za-z0-9_]{1,128} *)*)?$";

pub(crate) fn query_param(
    name: &str,
    t: Type,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    let mut schema = ObjectBuilder::new().schema_type(t);
    // The limits the server enforces are in the document too.
    match name {
        "page_size" => schema = schema.minimum(Some(1)).maximum(Some(1000)),
        "route_source" => schema = schema.enum_values(Some(["BGP", "STATIC", "CONNECTED"])),
        "format" => schema = schema.enum_values(Some(["nsx", "strongswan"])),
        "query" => schema = schema.min_length(Some(1)),
        "network_prefix" => schema = schema.pattern(Some(IPV4_ADDRESS_OR_NETWORK)),
        // A field name (empty: the default, display_name); which fields the objects have is
        // the data's (a name no object has is refused, naming those they have).
        "sort_by" => schema = schema.pattern(Some("^[A-Za-z0-9_]{0,128}$")),
        "included_fields" => schema = schema.pattern(Some(INCLUDED_FIELDS)),
        _ => {}
    }
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// A query parameter taking one of `values` (`required` or not).
pub(crate) fn query_enum(
    name: &str,
    values: &[&str],
    required: bool,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(values.to_vec())),
        ))
        .build()
}

pub(crate) fn json_response(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

pub(crate) fn error_responses(op: OperationBuilder) -> OperationBuilder {
    let err = || json_response("NSX ApiError", schema_ref("ApiError"));
    op.response("400", err())
        .response("401", err())
        .response("403", err())
        .response("404", err())
        .response("405", err())
        .response("408", err())
        .response("412", err())
        .response("500", err())
}

/// A JSON merge patch (RFC 7396) sends `null` to reset a field to its default, and PUT
/// treats `null` as absent: every optional property of a schema (nested ones too) accepts
/// `null` as well as its type.
pub(crate) fn allow_null_for_optional(schema: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let Value::Object(m) = schema else { return };
    let required: Vec<String> = m
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        for (name, prop) in props.iter_mut() {
            allow_null_for_optional(prop);
            if required.contains(name) {
                continue;
            }
            let Value::Object(p) = prop else { continue };
            match p.get_mut("type") {
                Some(Value::String(t)) if t != "null" => {
                    let t = t.clone();
                    p.insert("type".into(), json!([t, "null"]));
                }
                Some(Value::Array(types)) if !types.contains(&json!("null")) => {
                    types.push(json!("null"))
                }
                Some(_) => {}
                None => {
                    // A $ref, allOf or oneOf: wrap it.
                    let description = p.remove("description");
                    let inner = std::mem::take(p);
                    p.insert(
                        "oneOf".into(),
                        json!([Value::Object(inner), {"type": "null"}]),
                    );
                    if let Some(d) = description {
                        p.insert("description".into(), d);
                    }
                }
            }
            if let Some(Value::Array(values)) = p.get_mut("enum") {
                if !values.contains(&Value::Null) {
                    values.push(Value::Null);
                }
            }
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(Value::Array(items)) = m.get_mut(key) {
            items.iter_mut().for_each(allow_null_for_optional);
        }
    }
    if let Some(items) = m.get_mut("items") {
        allow_null_for_optional(items);
    }
}

/// The paging parameters of every listing (collections, search).
pub(crate) fn list_params() -> Vec<utoipa::openapi::path::Parameter> {
    vec![
        query_param(
            "cursor",
            Type::String,
            "Opaque cursor from the previous page",
        ),
        query_param(
            "page_size",
            Type::Integer,
            "Results per page, 1-1000 (default 1000)",
        ),
        query_param(
            "sort_by",
            Type::String,
            "Field to sort by (default display_name)",
        ),
        query_param(
            "sort_ascending",
            Type::Boolean,
            "Sort direction (default true)",
        ),
        query_param(
            "included_fields",
            Type::String,
            "Comma-separated fields to return (the object's identity and metadata always come too)",
        ),
    ]
}
