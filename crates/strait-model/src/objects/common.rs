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
