//! Collection listing: NSX `sort_by` / `sort_ascending`, `page_size` and opaque `cursor`
//! paging, and `included_fields`.
//!
//! The cursor is keyset-based (the last returned sort value and path), so objects created
//! or deleted between pages neither repeat nor vanish from the rest of the listing.

use std::cmp::Ordering;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::PolicyError;
use strait_model::problems::codes;

/// Largest page (NSX's maximum).
pub const PAGE_SIZE_MAX: u32 = 1000;

/// Query parameters of a collection GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    /// Results per page (default and maximum 1000).
    pub page_size: Option<u32>,
    /// Field to sort by (default `display_name`).
    pub sort_by: Option<String>,
    /// Ascending (default) or descending.
    pub sort_ascending: Option<bool>,
    /// Comma-separated fields to return.
    pub included_fields: Option<String>,
}

/// One page of a collection (NSX `ListResult`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListResult {
    /// The objects.
    pub results: Vec<Value>,
    /// Number of objects in the whole collection.
    pub result_count: u64,
    /// Cursor for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The sort field used.
    pub sort_by: String,
    /// The sort direction used.
    pub sort_ascending: bool,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    s: String,
    a: bool,
    v: Value,
    p: String,
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// Where an item sorts: its sort field's value, prepared once per item so that sorting
/// thousands of objects compares without allocating (issue 16), then its path.
struct SortKey {
    rank: u8,
    /// Booleans and numbers.
    number: f64,
    /// Strings: lower-cased (compared first) and as given; arrays and objects: their JSON.
    folded: String,
    text: String,
    path: String,
}

impl SortKey {
    fn new(value: Option<&Value>, path: &str) -> SortKey {
        let value = value.unwrap_or(&Value::Null);
        let (number, folded, text) = match value {
            Value::Bool(b) => (f64::from(u8::from(*b)), String::new(), String::new()),
            Value::Number(n) => (n.as_f64().unwrap_or(0.0), String::new(), String::new()),
            Value::String(s) => (0.0, s.to_lowercase(), s.clone()),
            Value::Array(_) | Value::Object(_) => (0.0, String::new(), value.to_string()),
            Value::Null => (0.0, String::new(), String::new()),
        };
        SortKey {
            rank: type_rank(value),
            number,
            folded,
            text,
            path: path.to_owned(),
        }
    }
}

/// Total order on JSON values: null < bool < number < string < array < object; strings
/// case-insensitively first; then by path.
fn cmp_keys(a: &SortKey, b: &SortKey) -> Ordering {
    a.rank
        .cmp(&b.rank)
        .then_with(|| a.number.partial_cmp(&b.number).unwrap_or(Ordering::Equal))
        .then_with(|| a.folded.cmp(&b.folded))
        .then_with(|| a.text.cmp(&b.text))
        .then_with(|| a.path.cmp(&b.path))
}

fn bad(field: &str, msg: String) -> PolicyError {
    PolicyError::invalid(field, codes::FIELD, msg)
}

/// Sort, page and project `items` (each a full object JSON with `path`).
/// What can be listed: an object's fields, read one at a time, and its full JSON, made only
/// for the objects on the page (a collection of 10,000 is sorted without rendering 10,000;
/// issue 16).
pub(crate) trait Listed {
    /// The value of field `name` as the rendered object would have it.
    fn field(&self, name: &str) -> Option<Value>;
    /// The object's policy path.
    fn path(&self) -> String;
    /// The rendered object.
    fn render(self) -> Value;
    /// The names of its fields (for error messages).
    fn field_names(&self) -> Vec<String>;
}

impl Listed for Value {
    fn field(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }

    fn path(&self) -> String {
        self.get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    fn render(self) -> Value {
        self
    }

    fn field_names(&self) -> Vec<String> {
        self.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn known_fields<T: Listed>(items: &[T]) -> String {
    let mut fields: Vec<String> = items.iter().flat_map(Listed::field_names).collect();
    fields.sort();
    fields.dedup();
    fields.join(", ")
}

/// A collection query's sort, paging and projection, checked.
pub(crate) struct Params {
    /// The sort field (default `display_name`).
    pub sort_by: String,
    ascending: bool,
    page_size: usize,
    /// `included_fields`, when given.
    pub fields: Option<Vec<String>>,
    /// Where the page starts: after this sort value and path.
    after: Option<(Value, String)>,
}

/// Check a query's parameters (everything that does not depend on the objects).
pub(crate) fn params(q: &ListQuery) -> Result<Params, PolicyError> {
    let sort_by = q
        .sort_by
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "display_name".into());
    let ascending = q.sort_ascending.unwrap_or(true);
    if !is_field_name(&sort_by) {
        return Err(bad(
            "sort_by",
            format!(
                "sort_by {sort_by:?} is not a field name; use e.g. display_name or _create_time"
            ),
        ));
    }
    let page_size = match q.page_size {
        None => PAGE_SIZE_MAX,
        Some(0) => {
            return Err(bad(
                "page_size",
                format!("page_size 0 asks for nothing; use 1 to {PAGE_SIZE_MAX}, or leave it out for {PAGE_SIZE_MAX}"),
            ))
        }
        Some(n) if n > PAGE_SIZE_MAX => {
            return Err(bad(
                "page_size",
                format!("page_size {n} is too large; use 1 to {PAGE_SIZE_MAX}"),
            ))
        }
        Some(n) => n,
    } as usize;
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let cur = decode_cursor(c)?;
            if cur.s != sort_by || cur.a != ascending {
                return Err(bad(
                    "cursor",
                    "this cursor belongs to a listing with a different sort_by or sort_ascending; \
                     repeat the same sort parameters or start again without a cursor"
                        .into(),
                ));
            }
            Some((cur.v, cur.p))
        }
    };
    let fields: Option<Vec<String>> = q
        .included_fields
        .as_deref()
        .filter(|f| !f.trim_matches(' ').is_empty())
        .map(|f| {
            f.split(',')
                .map(|s| s.trim_matches(' ').to_owned())
                .collect()
        });
    for f in fields.iter().flatten() {
        if !is_field_name(f) {
            return Err(bad(
                "included_fields",
                format!(
                    "included_fields names {:?}, which is not a field name; list field names separated by commas, e.g. id,display_name",
                    strait_model::reader::truncate(f, 64)
                ),
            ));
        }
    }
    Ok(Params {
        sort_by,
        ascending,
        page_size,
        fields,
        after,
    })
}

fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a listing sorted by `field` may be sorted from the stored bodies' values alone
/// ([`window`] over `Tx::field_values`): the field is not one of the metadata fields
/// rendering adds (or, for `id` and `resource_type`, fills in when the body lacks them).
pub(crate) fn sorts_by_body_field(field: &str) -> bool {
    !IDENTITY_FIELDS.contains(&field)
}

/// Sort, page and project `items`.
pub(crate) fn page<T: Listed>(items: Vec<T>, q: &ListQuery) -> Result<ListResult, PolicyError> {
    let p = params(q)?;
    if !items.is_empty() && !items.iter().any(|i| i.field(&p.sort_by).is_some()) {
        return Err(bad(
            "sort_by",
            format!(
                "no object in this collection has a field {:?}; sort by one of: {}",
                p.sort_by,
                known_fields(&items)
            ),
        ));
    }
    for f in p.fields.iter().flatten() {
        if !items.is_empty() && !items.iter().any(|i| i.field(f).is_some()) {
            return Err(bad(
                "included_fields",
                format!(
                    "no object in this collection has a field {:?}; choose from: {}",
                    crate::list::clip(f),
                    known_fields(&items)
                ),
            ));
        }
    }
    let sort_by = p.sort_by.clone();
    let (on_page, total, cursor) = window(items, &p, |i| i.field(&sort_by), Listed::path);
    Ok(finish(
        p,
        on_page.into_iter().map(Listed::render),
        total,
        cursor,
    ))
}

/// Sort `items` by `value` then `path` and keep the page `p` asks for: (the page, the
/// number of items, the cursor of the next page when more follow).
pub(crate) fn window<T>(
    items: Vec<T>,
    p: &Params,
    value: impl Fn(&T) -> Option<Value>,
    path: impl Fn(&T) -> String,
) -> (Vec<T>, u64, Option<String>) {
    let order = |a: &SortKey, b: &SortKey| {
        let o = cmp_keys(a, b);
        if p.ascending {
            o
        } else {
            o.reverse()
        }
    };
    let mut keyed: Vec<(SortKey, T)> = items
        .into_iter()
        .map(|v| (SortKey::new(value(&v).as_ref(), &path(&v)), v))
        .collect();
    keyed.sort_by(|a, b| order(&a.0, &b.0));
    let total = keyed.len() as u64;
    let start = match &p.after {
        None => 0,
        Some((v, path)) => {
            let after = SortKey::new(Some(v), path);
            keyed.partition_point(|(k, _)| order(k, &after) != Ordering::Greater)
        }
    };
    let end = start.saturating_add(p.page_size).min(keyed.len());
    // The cursor points after the page's last item, when more follow.
    let more = end < keyed.len();
    let on_page: Vec<T> = keyed.drain(start..end).map(|(_, v)| v).collect();
    let cursor = on_page.last().filter(|_| more).map(|last| {
        encode_cursor(&Cursor {
            s: p.sort_by.clone(),
            a: p.ascending,
            v: value(last).unwrap_or(Value::Null),
            p: path(last),
        })
    });
    (on_page, total, cursor)
}

/// The page's rendered objects, projected to `included_fields`, as a [`ListResult`].
pub(crate) fn finish(
    p: Params,
    rendered: impl Iterator<Item = Value>,
    total: u64,
    cursor: Option<String>,
) -> ListResult {
    let results = rendered
        .map(|v| match (&p.fields, v) {
            // The object's identity and metadata stay: a result is always an object a
            // client can name (the document's required fields).
            (Some(fields), Value::Object(m)) => Value::Object(
                m.into_iter()
                    .filter(|(k, _)| {
                        fields.iter().any(|f| f == k) || IDENTITY_FIELDS.contains(&k.as_str())
                    })
                    .collect(),
            ),
            (_, v) => v,
        })
        .collect();
    ListResult {
        results,
        result_count: total,
        cursor,
        sort_by: p.sort_by,
        sort_ascending: p.ascending,
    }
}

/// Fields every listed object keeps whatever `included_fields` says.
const IDENTITY_FIELDS: [&str; 16] = [
    "resource_type",
    "id",
    "path",
    "relative_path",
    "parent_path",
    "unique_id",
    "realization_id",
    "marked_for_delete",
    "overridden",
    "_system_owned",
    "_protection",
    "_create_time",
    "_create_user",
    "_last_modified_time",
    "_last_modified_user",
    "_revision",
];

/// A user-given name shortened for a message.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

fn encode_cursor(c: &Cursor) -> String {
    let json = serde_json::to_vec(c).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(s: &str) -> Result<Cursor, PolicyError> {
    let err = || {
        bad("cursor", "the cursor is not one this server issued; pass the cursor value of the previous page unchanged, or omit it".into())
    };
    if s.len() > 4096 {
        return Err(err());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| err())?;
    serde_json::from_slice(&bytes).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"display_name": format!("n{:02}", (i * 7) % n), "path": format!("/infra/x/{i}")})).collect()
    }

    #[test]
    fn pages_cover_everything_once() {
        let all = items(25);
        let mut seen = Vec::new();
        let mut q = ListQuery {
            page_size: Some(7),
            ..Default::default()
        };
        loop {
            let r = page(all.clone(), &q).unwrap();
            assert_eq!(r.result_count, 25);
            seen.extend(
                r.results
                    .iter()
                    .map(|v| v["display_name"].as_str().unwrap().to_owned()),
            );
            match r.cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted);
        sorted.dedup();
        assert_eq!(sorted.len(), 25);
    }

    #[test]
    fn values_of_every_type_sort_in_one_order_in_pages_both_ways() {
        let values = [
            json!(null),
            json!(true),
            json!(3),
            json!(20.5),
            json!("a"),
            json!("B"),
            json!("b"),
            json!([1]),
            json!({"x": 1}),
        ];
        let all: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut o = json!({"path": format!("/infra/x/{}", 9 - i), "display_name": "n"});
                if !v.is_null() {
                    o["rank"] = v.clone();
                }
                o
            })
            .collect();
        for ascending in [true, false] {
            let mut q = ListQuery {
                page_size: Some(2),
                sort_by: Some("rank".into()),
                sort_ascending: Some(ascending),
                ..Default::default()
            };
            let mut seen = Vec::new();
            loop {
                let r = page(all.clone(), &q).unwrap();
                seen.extend(
                    r.results
                        .iter()
                        .map(|v| v.get("rank").cloned().unwrap_or(Value::Null)),
                );
                match r.cursor {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
            let mut want = values.to_vec();
            if !ascending {
                want.reverse();
            }
            assert_eq!(seen, want, "ascending {ascending}");
        }
    }

    #[test]
    fn descending_and_projection() {
        let q = ListQuery {
            sort_ascending: Some(false),
            included_fields: Some("display_name".into()),
            ..Default::default()
        };
        let r = page(items(3), &q).unwrap();
        // The asked-for field, and the object's identity (its path) always.
        assert_eq!(
            r.results[0],
            json!({"display_name": "n02", "path": "/infra/x/2"})
        );
        // A field no object has is an error naming those that exist.
        let q = ListQuery {
            included_fields: Some("nonesuch".into()),
            ..Default::default()
        };
        let e = page(items(3), &q).unwrap_err().to_string();
        assert!(e.contains("nonesuch") && e.contains("display_name"), "{e}");
        // page_size 0 asks for nothing.
        let q = ListQuery {
            page_size: Some(0),
            ..Default::default()
        };
        assert!(page(items(3), &q).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(page(
            items(2),
            &ListQuery {
                cursor: Some("%%%".into()),
                ..Default::default()
            }
        )
        .is_err());
        assert!(page(
            items(2),
            &ListQuery {
                page_size: Some(5000),
                ..Default::default()
            }
        )
        .is_err());
        assert!(page(
            items(2),
            &ListQuery {
                sort_by: Some("nope".into()),
                ..Default::default()
            }
        )
        .is_err());
        let c = page(
            items(3),
            &ListQuery {
                page_size: Some(1),
                ..Default::default()
            },
        )
        .unwrap()
        .cursor;
        assert!(page(
            items(3),
            &ListQuery {
                cursor: c,
                sort_ascending: Some(false),
                ..Default::default()
            }
        )
        .is_err());
    }
}
