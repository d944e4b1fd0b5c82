//! Reading a JSON request body field by field, recording every problem instead of
//! stopping at the first ("parse, don't validate": the result is a typed object).
//!
//! JSON `null` is treated as absent: after an RFC 7396 merge patch, `null` means "reset
//! to the default", and on PUT an explicit `null` equals leaving the field out.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::enums::NsxEnum;
use crate::problems::Problems;

/// Fields NSX marks read-only or that belong to features strait ignores; they are accepted
/// in bodies (clients echo back what GET returned) and never stored.
pub const IGNORED_METADATA_FIELDS: &[&str] = &[
    "id",
    "path",
    "parent_path",
    "relative_path",
    "resource_type",
    "_revision",
    "_create_time",
    "_create_user",
    "_last_modified_time",
    "_last_modified_user",
    "_protection",
    "_system_owned",
    "_links",
    "_schema",
    "_self",
    "marked_for_delete",
    "overridden",
    "unique_id",
    "realization_id",
    "remote_path",
    "origin_site_id",
    "owner_id",
    "children",
];

/// Describe a JSON value's type for error messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A cursor over one JSON object of a request body.
pub struct ObjectReader<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    type_name: &'static str,
    read: BTreeSet<&'a str>,
}

impl<'a> ObjectReader<'a> {
    /// Start reading `value`, which must be a JSON object; `prefix` is its JSON path ("" at
    /// the top, `"tcp_mss_clamping"` inside).
    pub fn new(
        value: &'a Value,
        prefix: &str,
        type_name: &'static str,
        p: &mut Problems,
    ) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self::from_map(map, prefix, type_name)),
            other => {
                p.field(
                    prefix,
                    format!(
                        "expected a JSON object ({type_name}), found {}",
                        json_type(other)
                    ),
                );
                None
            }
        }
    }

    /// Start reading a map.
    pub fn from_map(map: &'a Map<String, Value>, prefix: &str, type_name: &'static str) -> Self {
        Self {
            map,
            prefix: prefix.to_owned(),
            type_name,
            read: BTreeSet::new(),
        }
    }

    /// The JSON path of a field of this object.
    pub fn path_of(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{}", self.prefix, name)
        }
    }

    /// The raw value of a field, `None` when absent or `null`.
    pub fn raw(&mut self, name: &'a str) -> Option<&'a Value> {
        self.read.insert(name);
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Whether the body names the field at all (even as `null`).
    pub fn is_present(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Mark fields as accepted-and-ignored.
    pub fn ignore(&mut self, names: &'a [&'a str]) {
        self.read.extend(names.iter().copied());
    }

    /// A string field of at most `max_chars` characters.
    pub fn string(&mut self, p: &mut Problems, name: &'a str, max_chars: usize) -> Option<String> {
        let v = self.raw(name)?;
        let field = self.path_of(name);
        string_value(p, &field, v, max_chars)
    }

    /// A string field that must be present and non-empty.
    pub fn required_string(
        &mut self,
        p: &mut Problems,
        name: &'a str,
        max_chars: usize,
        hint: &str,
    ) -> Option<String> {
        match self.string(p, name, max_chars) {
            Some(s) if s.trim().is_empty() => {
                p.field(self.path_of(name), format!("must not be empty; {hint}"));
                None
            }
            Some(s) => Some(s),
            None => {
                if self.map.get(name).is_none_or(Value::is_null) {
                    p.field(self.path_of(name), format!("is required; {hint}"));
                }
                None
            }
        }
    }

    /// A boolean field.
    pub fn bool(&mut self, p: &mut Problems, name: &'a str) -> Option<bool> {
        let v = self.raw(name)?;
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                p.field(
                    self.path_of(name),
                    format!("expected true or false, found {}", json_type(other)),
                );
                None
            }
        }
    }

    /// An integer field within `min..=max`.
    pub fn int(&mut self, p: &mut Problems, name: &'a str, min: i64, max: i64) -> Option<i64> {
        let v = self.raw(name)?;
        let field = self.path_of(name);
        int_value(p, &field, v, min, max)
    }

    /// An enumeration field.
    pub fn enumeration<E: NsxEnum>(&mut self, p: &mut Problems, name: &'a str) -> Option<E> {
        let v = self.raw(name)?;
        let field = self.path_of(name);
        enum_value(p, &field, v)
    }

    /// An array of enumeration values; duplicates and more than `max_items` are problems.
    pub fn enum_list<E: NsxEnum + PartialEq>(
        &mut self,
        p: &mut Problems,
        name: &'a str,
        max_items: usize,
    ) -> Option<Vec<E>> {
        let items = self.array(p, name, max_items)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (field, v) in items {
            match enum_value::<E>(p, &field, v) {
                Some(e) if out.contains(&e) => {
                    p.field(
                        field,
                        format!("{} is listed twice; list each value once", e.as_str()),
                    );
                    ok = false;
                }
                Some(e) => out.push(e),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// An array of strings.
    pub fn string_list(
        &mut self,
        p: &mut Problems,
        name: &'a str,
        max_items: usize,
        max_chars: usize,
    ) -> Option<Vec<String>> {
        let items = self.array(p, name, max_items)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (field, v) in items {
            match string_value(p, &field, v, max_chars) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// An array field: each element with its JSON path.
    pub fn array(
        &mut self,
        p: &mut Problems,
        name: &'a str,
        max_items: usize,
    ) -> Option<Vec<(String, &'a Value)>> {
        let v = self.raw(name)?;
        let field = self.path_of(name);
        match v {
            Value::Array(items) if items.len() > max_items => {
                p.field(
                    field,
                    format!("has {} items; at most {max_items} are allowed", items.len()),
                );
                None
            }
            Value::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{field}[{i}]"), v))
                    .collect(),
            ),
            other => {
                p.field(
                    field,
                    format!("expected an array, found {}", json_type(other)),
                );
                None
            }
        }
    }

    /// A nested object field.
    pub fn object(
        &mut self,
        p: &mut Problems,
        name: &'a str,
        type_name: &'static str,
    ) -> Option<ObjectReader<'a>> {
        let v = self.raw(name)?;
        let field = self.path_of(name);
        ObjectReader::new(v, &field, type_name, p)
    }

    /// An IP address literal (IPv4 or IPv6).
    pub fn ip(&mut self, p: &mut Problems, name: &'a str, hint: &str) -> Option<IpAddr> {
        let v = self.raw(name)?;
        let field = self.path_of(name);
        ip_value(p, &field, v, hint)
    }

    /// Report every field that was never read as unknown.
    pub fn finish(self, p: &mut Problems) {
        let unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.read.contains(k.as_str()))
            .collect();
        if unknown.is_empty() {
            return;
        }
        let mut known: Vec<&str> = self
            .read
            .iter()
            .copied()
            .filter(|k| !IGNORED_METADATA_FIELDS.contains(k))
            .collect();
        known.sort_unstable();
        for k in unknown {
            // Only MAX_PROBLEMS are reported; building "did you mean" for the other keys of a
            // body with 100 000 unknown ones would only burn CPU.
            if p.len() >= crate::problems::MAX_PROBLEMS {
                break;
            }
            let mut msg = format!("{} has no field {:?}", self.type_name, truncate(k, 64));
            if let Some(close) = closest(k, &known) {
                msg.push_str(&format!("; did you mean {close:?}?"));
            }
            msg.push_str(&format!(" Known fields: {}", known.join(", ")));
            p.field(self.path_of(&truncate(k, 64)), msg);
        }
    }
}

/// A string value of at most `max_chars` characters.
pub fn string_value(p: &mut Problems, field: &str, v: &Value, max_chars: usize) -> Option<String> {
    match v {
        Value::String(s) => {
            let n = s.chars().count();
            if n > max_chars {
                p.field(
                    field,
                    format!("is {n} characters long; the maximum is {max_chars}"),
                );
                None
            } else {
                Some(s.clone())
            }
        }
        other => {
            p.field(
                field,
                format!("expected a string, found {}", json_type(other)),
            );
            None
        }
    }
}

/// A JSON number as a whole number: `3` and `3.0` alike (JSON Schema's `integer` admits
/// both, and some clients write every number as a float).
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            // 2^63 as f64 is the first value out of i64's range.
            .filter(|f| {
                f.fract() == 0.0 && *f >= -9.223_372_036_854_776e18 && *f < 9.223_372_036_854_776e18
            })
            .map(|f| f as i64)
    })
}

/// An integer value within `min..=max`.
pub fn int_value(p: &mut Problems, field: &str, v: &Value, min: i64, max: i64) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n,
        other => {
            p.field(
                field,
                format!("expected an integer, found {}", json_type(other)),
            );
            return None;
        }
    };
    match whole_number(n) {
        Some(i) if (min..=max).contains(&i) => Some(i),
        Some(i) => {
            p.field(
                field,
                format!("{i} is out of range; use a value from {min} to {max}"),
            );
            None
        }
        None => {
            p.field(
                field,
                format!("{n} is not a whole number in range; use a value from {min} to {max}"),
            );
            None
        }
    }
}

/// An enumeration value.
pub fn enum_value<E: NsxEnum>(p: &mut Problems, field: &str, v: &Value) -> Option<E> {
    match v {
        Value::String(s) => match E::parse(s) {
            Some(e) => Some(e),
            None => {
                let upper = s.to_ascii_uppercase();
                let hint = E::parse(&upper)
                    .map(|e| format!(" (values are case-sensitive: did you mean {}?)", e.as_str()))
                    .unwrap_or_default();
                p.field(
                    field,
                    format!(
                        "{:?} is not a valid {}{hint}; use one of: {}",
                        truncate(s, 64),
                        E::TYPE_NAME,
                        E::expected()
                    ),
                );
                None
            }
        },
        other => {
            p.field(
                field,
                format!(
                    "expected a string ({}), found {}; use one of: {}",
                    E::TYPE_NAME,
                    json_type(other),
                    E::expected()
                ),
            );
            None
        }
    }
}

/// An IP address literal.
pub fn ip_value(p: &mut Problems, field: &str, v: &Value, hint: &str) -> Option<IpAddr> {
    let s = match v {
        Value::String(s) => s,
        other => {
            p.field(
                field,
                format!("expected an IP address string, found {}", json_type(other)),
            );
            return None;
        }
    };
    match s.trim().parse::<IpAddr>() {
        Ok(ip) if s.trim() != s => {
            p.field(field, format!("{s:?} has surrounding spaces; write {ip}"));
            None
        }
        Ok(ip) => Some(ip),
        Err(_) => {
            let extra = if s.contains('/') {
                " without a prefix length"
            } else {
                ""
            };
            p.field(
                field,
                format!(
                    "{:?} is not an IPv4 or IPv6 address; {hint}{extra}",
                    truncate(s, 64)
                ),
            );
            None
        }
    }
}

/// Cut a string for inclusion in a message.
pub fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

/// The known name closest to `name` (edit distance at most 3), for "did you mean".
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    if name.len() > 64 {
        return None;
    }
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance (Wagner-Fischer, one row at a time).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // Row i holds the distances from a's first i chars to each prefix of b.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    // The last cell of the latest row: the distance from all of a (so far) to all of b.
    let mut distance = b.len();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        let mut left = i + 1;
        cur.push(left);
        // prev[j] (diagonal) and prev[j + 1] (above) for each char b[j].
        for (cb, (diagonal, above)) in b.iter().zip(prev.iter().zip(prev.iter().skip(1))) {
            let cost = usize::from(ca != *cb);
            left = (diagonal + cost).min(above + 1).min(left + 1);
            cur.push(left);
        }
        distance = left;
        prev = cur;
    }
    distance
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::DhGroup;
    use serde_json::json;

    #[test]
    fn collects_every_problem() {
        let body = json!({"a": 5, "b": "x", "c": ["GROUP14", "GROUP14", "GROUP99"], "zz": 1});
        let mut p = Problems::new();
        let mut r = ObjectReader::new(&body, "", "Thing", &mut p).unwrap();
        assert_eq!(r.string(&mut p, "a", 10), None);
        assert_eq!(r.int(&mut p, "b", 0, 10), None);
        assert_eq!(r.enum_list::<DhGroup>(&mut p, "c", 8), None);
        r.finish(&mut p);
        let fields: Vec<_> = p.as_slice().iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["a", "b", "c[1]", "c[2]", "zz"]);
    }

    #[test]
    fn suggests_close_field_names() {
        let body = json!({"peer_adress": "1.1.1.1"});
        let mut p = Problems::new();
        let mut r = ObjectReader::new(&body, "", "Session", &mut p).unwrap();
        let _ = r.ip(&mut p, "peer_address", "x");
        r.finish(&mut p);
        assert!(p.as_slice()[0]
            .message
            .contains("did you mean \"peer_address\""));
    }

    #[test]
    fn case_mistake_in_enum_gets_a_hint() {
        let mut p = Problems::new();
        assert_eq!(enum_value::<DhGroup>(&mut p, "f", &json!("group14")), None);
        assert!(p.as_slice()[0].message.contains("did you mean GROUP14"));
    }

    #[test]
    fn null_is_absent() {
        let body = json!({"a": null});
        let mut p = Problems::new();
        let mut r = ObjectReader::new(&body, "", "T", &mut p).unwrap();
        assert_eq!(r.string(&mut p, "a", 5), None);
        assert!(p.is_empty());
    }

    #[test]
    fn integer_range_and_type() {
        let mut p = Problems::new();
        assert_eq!(int_value(&mut p, "x", &json!(1.5), 1, 3), None);
        assert_eq!(int_value(&mut p, "x", &json!(1e300), 1, 3), None);
        assert_eq!(int_value(&mut p, "x", &json!(4), 1, 3), None);
        assert_eq!(int_value(&mut p, "x", &json!(3), 1, 3), Some(3));
        assert_eq!(p.len(), 3);
    }
}
