//! Tables for lists, `field: value` lines for single objects, or JSON with `--json`.

use serde_json::Value;

/// Output settings.
pub struct Output {
    /// Print JSON.
    pub json: bool,
}

/// A column: header and how to get the cell from an object.
pub struct Column {
    pub header: &'static str,
    pub cell: fn(&Value) -> String,
}

impl Output {
    /// Print a list.
    pub fn list(&self, items: &[Value], columns: &[Column]) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(items).unwrap_or_default()
            );
            return;
        }
        if items.is_empty() {
            println!("(none)");
            return;
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| columns.iter().map(|c| (c.cell)(i)).collect())
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(n, c)| {
                rows.iter()
                    .map(|r| r.get(n).map_or(0, |cell| cell.chars().count()))
                    .max()
                    .unwrap_or(0)
                    .max(c.header.len())
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let s: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            println!("{}", s.join("  ").trim_end());
        };
        line(columns.iter().map(|c| c.header).collect());
        for r in &rows {
            line(r.iter().map(String::as_str).collect());
        }
    }

    /// Print one object.
    pub fn object(&self, v: &Value) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
            return;
        }
        let Some(map) = v.as_object() else {
            println!("{v}");
            return;
        };
        let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, val) in map {
            println!("{k:<width$}  {}", scalar(val));
        }
    }

    /// Print a confirmation (suppressed with --json, which prints the object instead).
    pub fn done(&self, message: &str, object: Option<&Value>) {
        match (self.json, object) {
            (true, Some(v)) => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
            (true, None) => {}
            (false, _) => println!("{message}"),
        }
    }
}

/// A value as one line of text.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            a.iter().map(scalar).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

/// The value at a JSON pointer (RFC 6901) such as `/results/0/ike_status`, or null when
/// any step is missing: what `v["results"][0]["ike_status"]` gives, without `Index`.
pub fn at<'v>(v: &'v Value, pointer: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    v.pointer(pointer).unwrap_or(&NULL)
}

/// Field `name` as text.
pub fn field(v: &Value, name: &str) -> String {
    v.get(name).map(scalar).unwrap_or_default()
}

/// The last segment of a path field.
pub fn last_segment(v: &Value, name: &str) -> String {
    v.get(name)
        .and_then(Value::as_str)
        .and_then(|s| s.rsplit('/').next())
        .unwrap_or_default()
        .to_owned()
}

/// Epoch milliseconds as UTC `YYYY-MM-DD HH:MM:SS`.
pub fn time_ms(ms: i64) -> String {
    const UTC: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(UTC).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_milliseconds() {
        assert_eq!(time_ms(0), "1970-01-01 00:00:00");
        assert_eq!(time_ms(1_795_811_990_303), "2026-11-27 20:39:50");
        assert_eq!(time_ms(951_782_400_000), "2000-02-29 00:00:00");
    }
}
