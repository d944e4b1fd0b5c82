//! Fields every policy object carries (NSX `PolicyConfigResource`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problems::Problems;
use crate::reader::ObjectReader;

/// NSX `Tag`: free-form `scope` and `tag` strings for grouping and search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tag {
    /// Tag scope, up to 128 characters.
    #[serde(default)]
    pub scope: String,
    /// Tag value, up to 256 characters.
    #[serde(default)]
    pub tag: String,
}

/// Limits from the NSX schema.
pub mod limits {
    /// `display_name` maximum length.
    pub const DISPLAY_NAME_MAX_CHARS: usize = 255;
    /// `description` maximum length (seed page: "The maximum length is 1024 characters").
    pub const DESCRIPTION_MAX_CHARS: usize = 1024;
    /// Tags per object.
    pub const TAGS_MAX: usize = 30;
    /// `Tag.scope` maximum length.
    pub const TAG_SCOPE_MAX_CHARS: usize = 128;
    /// `Tag.tag` maximum length.
    pub const TAG_MAX_CHARS: usize = 256;
    /// Paths in references.
    pub const PATH_MAX_CHARS: usize = 2048;
    /// Entries in a list of paths (trust CAs, CRLs).
    pub const PATH_LIST_MAX: usize = 32;
}

/// Name, description and tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Common {
    /// Display name; defaults to the object's id.
    #[schema(required = false)]
    pub display_name: String,
    /// Free-form description, up to 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Up to 30 tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

impl Common {
    /// Defaults for an object with this id.
    pub fn with_id(id: &str) -> Self {
        Common {
            display_name: id.to_owned(),
            description: None,
            tags: Vec::new(),
        }
    }

    /// Read `display_name`, `description` and `tags`.
    pub fn read<'a>(r: &mut ObjectReader<'a>, p: &mut Problems, id: &str) -> Common {
        let display_name = r
            .string(p, "display_name", limits::DISPLAY_NAME_MAX_CHARS)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| id.to_owned());
        let description = r.string(p, "description", limits::DESCRIPTION_MAX_CHARS);
        let mut tags = Vec::new();
        if let Some(items) = r.array(p, "tags", limits::TAGS_MAX) {
            for (field, v) in items {
                let Some(mut t) = ObjectReader::new(v, &field, "Tag", p) else {
                    continue;
                };
                let scope = t
                    .string(p, "scope", limits::TAG_SCOPE_MAX_CHARS)
                    .unwrap_or_default();
                let tag = t
                    .string(p, "tag", limits::TAG_MAX_CHARS)
                    .unwrap_or_default();
                t.finish(p);
                tags.push(Tag { scope, tag });
            }
        }
        Common {
            display_name,
            description,
            tags,
        }
    }
}

/// OpenAPI schemas for address fields, precise enough that a generated value the schema
/// allows is one the server accepts (IPv4 or IPv6 literals; CIDR networks).
pub mod address_schemas {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    fn format(f: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom(f.to_owned())))
    }

    /// An IPv4 or IPv6 address.
    pub fn ip() -> Schema {
        Schema::OneOf(
            OneOfBuilder::new()
                .item(format("ipv4"))
                .item(format("ipv6"))
                .description(Some("An IPv4 or IPv6 address"))
                .build(),
        )
    }

    /// A list of IPv4 or IPv6 addresses.
    pub fn ip_list() -> Schema {
        Schema::Array(ArrayBuilder::new().items(RefOr::T(ip())).build())
    }

    /// A list of networks in CIDR notation.
    pub fn cidr_list() -> Schema {
        Schema::Array(ArrayBuilder::new().items(RefOr::T(cidr())).build())
    }

    /// A list of exactly one IPv4 or IPv6 address (NSX's shape for a VTI's address).
    pub fn one_ip_list() -> Schema {
        Schema::Array(
            ArrayBuilder::new()
                .items(RefOr::T(ip()))
                .min_items(Some(1))
                .max_items(Some(1))
                .build(),
        )
    }

    /// A network in CIDR notation (`10.2.0.0/16`, `2001:db8::/32`).
    pub fn cidr() -> Schema {
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(
                    r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$",
                ))
                .description(Some("A network in CIDR notation, e.g. 10.2.0.0/16 (IPv6 networks are accepted too)"))
                .build(),
        )
    }
}
