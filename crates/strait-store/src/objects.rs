//! Policy objects: rows of `objects`, their outgoing references in `refs`, and the change
//! log (`changes`: the configuration revision at which each path last changed, deletions
//! included) that lets the runtime read only what changed since the configuration it holds.

use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;

use crate::{Result, StoreError, Tx};

/// One stored policy object with its NSX metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// Policy path (primary key).
    pub path: String,
    /// Kind name (see `strait_model::Kind::as_str`).
    pub kind: String,
    /// Parent path (`/infra` for top-level objects).
    pub parent_path: String,
    /// Object id (last path segment).
    pub id: String,
    /// Canonical JSON body: typed fields with defaults, no metadata, no secrets.
    pub body: Value,
    /// The fields the user set (merged across PATCHes), without metadata or secrets.
    pub spec: Value,
    /// `_revision`: 0 on create, +1 on every update.
    pub revision: i64,
    /// `_create_time`, epoch ms.
    pub create_time: i64,
    /// `_create_user`.
    pub create_user: String,
    /// `_last_modified_time`, epoch ms.
    pub last_modified_time: i64,
    /// `_last_modified_user`.
    pub last_modified_user: String,
    /// `_system_owned`.
    pub system_owned: bool,
    /// `unique_id` (a UUID, stable across updates).
    pub unique_id: String,
}

const COLUMNS: &str = "path, kind, parent_path, id, body, revision, create_time, create_user, \
                       last_modified_time, last_modified_user, system_owned, unique_id, spec";

fn from_row(row: &Row<'_>) -> rusqlite::Result<(StoredObject, String, String)> {
    let body: String = row.get(4)?;
    let spec: String = row.get(12)?;
    Ok((
        StoredObject {
            path: row.get(0)?,
            kind: row.get(1)?,
            parent_path: row.get(2)?,
            id: row.get(3)?,
            body: Value::Null,
            spec: Value::Null,
            revision: row.get(5)?,
            create_time: row.get(6)?,
            create_user: row.get(7)?,
            last_modified_time: row.get(8)?,
            last_modified_user: row.get(9)?,
            system_owned: row.get::<_, i64>(10)? != 0,
            unique_id: row.get(11)?,
        },
        body,
        spec,
    ))
}

fn finish((mut o, body, spec): (StoredObject, String, String)) -> Result<StoredObject> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(o.path.clone(), e.to_string());
    o.body = serde_json::from_str(&body).map_err(corrupt)?;
    o.spec = serde_json::from_str(&spec).map_err(corrupt)?;
    Ok(o)
}

/// As [`finish`], leaving `spec` null: half the JSON decoding, for reads of many objects.
fn finish_body((mut o, body, _spec): (StoredObject, String, String)) -> Result<StoredObject> {
    o.body = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(o.path.clone(), e.to_string()))?;
    Ok(o)
}

/// One row of [`Tx::names_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRow {
    /// The object's path.
    pub path: String,
    /// Its body's `display_name`, when it is text.
    pub display_name: Option<String>,
    /// The asked-for body field, when it is text.
    pub field: Option<String>,
}

/// The change log after a revision (see [`Tx::changed_since`]).
const CHANGED_SINCE: &str =
    "SELECT path FROM changes INDEXED BY changes_by_revision WHERE revision > ?1";

/// Meta key: the configuration revision from which the change log is complete.
const CHANGE_LOG_FROM: &str = "change_log_from";

/// At startup (no reader holds an older configuration yet): forget deleted paths, so the log
/// stays as long as the tree, and declare it complete from the current revision on (which
/// also covers a store written before the log existed).
pub(crate) fn start_change_log(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute(
        "DELETE FROM changes WHERE path NOT IN (SELECT path FROM objects)",
        [],
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value)
         SELECT ?1, COALESCE((SELECT value FROM meta WHERE key = 'config_revision'), '0')",
        [CHANGE_LOG_FROM],
    )?;
    Ok(())
}

impl Tx<'_> {
    /// The object at `path`.
    pub fn object(&self, path: &str) -> Result<Option<StoredObject>> {
        let row = self
            .tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM objects WHERE path = ?1"),
                [path],
                from_row,
            )
            .optional()?;
        row.map(finish).transpose()
    }

    /// Objects of `kind`, optionally only those under `parent_path`, ordered by path.
    pub fn objects(&self, kind: &str, parent_path: Option<&str>) -> Result<Vec<StoredObject>> {
        self.objects_with(kind, parent_path, finish)
    }

    /// As [`Tx::objects`], with `spec` left null (`Value::Null`): for reads that render or
    /// type many objects, which need only their bodies (lists, the runtime's configuration).
    /// Never write one of these back ([`Tx::put_object`] refuses a null spec).
    pub fn object_bodies(
        &self,
        kind: &str,
        parent_path: Option<&str>,
    ) -> Result<Vec<StoredObject>> {
        self.objects_with(kind, parent_path, finish_body)
    }

    fn objects_with(
        &self,
        kind: &str,
        parent_path: Option<&str>,
        finish: fn((StoredObject, String, String)) -> Result<StoredObject>,
    ) -> Result<Vec<StoredObject>> {
        let mut out = Vec::new();
        match parent_path {
            Some(parent) => {
                let mut stmt = self.tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM objects WHERE kind = ?1 AND parent_path = ?2 ORDER BY path"
                ))?;
                for row in stmt.query_map([kind, parent], from_row)? {
                    out.push(finish(row?)?);
                }
            }
            None => {
                let mut stmt = self.tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM objects WHERE kind = ?1 ORDER BY path"
                ))?;
                for row in stmt.query_map([kind], from_row)? {
                    out.push(finish(row?)?);
                }
            }
        }
        Ok(out)
    }

    /// Insert or replace an object and its outgoing references.
    pub fn put_object(&self, o: &StoredObject, references: &[String]) -> Result<()> {
        if o.spec.is_null() {
            // Read with `object_bodies`, which leaves the spec out: writing it back would
            // lose what the user set.
            return Err(StoreError::Corrupt(
                o.path.clone(),
                "refusing to store an object without its spec".into(),
            ));
        }
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(o.path.clone(), e.to_string());
        let body = serde_json::to_string(&o.body).map_err(corrupt)?;
        let spec = serde_json::to_string(&o.spec).map_err(corrupt)?;
        self.tx.execute(
            &format!(
                "INSERT INTO objects({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT(path) DO UPDATE SET kind = excluded.kind, body = excluded.body, spec = excluded.spec,
                   revision = excluded.revision, last_modified_time = excluded.last_modified_time,
                   last_modified_user = excluded.last_modified_user, system_owned = excluded.system_owned"
            ),
            params![
                o.path,
                o.kind,
                o.parent_path,
                o.id,
                body,
                o.revision,
                o.create_time,
                o.create_user,
                o.last_modified_time,
                o.last_modified_user,
                i64::from(o.system_owned),
                o.unique_id,
                spec
            ],
        )?;
        self.log_change(&o.path)?;
        self.tx
            .execute("DELETE FROM refs WHERE from_path = ?1", [&o.path])?;
        for r in references {
            self.tx.execute(
                "INSERT OR IGNORE INTO refs(from_path, to_path) VALUES (?1, ?2)",
                [&o.path, r],
            )?;
        }
        Ok(())
    }

    /// Delete an object (its references and secrets go with it). Returns whether it existed.
    pub fn delete_object(&self, path: &str) -> Result<bool> {
        let existed = self
            .tx
            .execute("DELETE FROM objects WHERE path = ?1", [path])?
            > 0;
        if existed {
            self.log_change(path)?;
        }
        Ok(existed)
    }

    /// Record that `path` changes in the revision this transaction's
    /// [`Tx::bump_config_revision`] will make. A write that changes objects without bumping
    /// the revision is seen again by readers of the next revision: reading a change twice is
    /// harmless, missing one is not.
    fn log_change(&self, path: &str) -> Result<()> {
        let next = self.config_revision()?.saturating_add(1);
        self.tx.execute(
            "INSERT INTO changes(path, revision) VALUES (?1, ?2)
             ON CONFLICT(path) DO UPDATE SET revision = excluded.revision",
            params![path, i64::try_from(next).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }

    /// The paths that changed (written or deleted) after configuration revision `since`, or
    /// `None` when the log does not reach back that far (the caller reads everything).
    pub fn changed_since(&self, since: u64) -> Result<Option<Vec<String>>> {
        let complete_from: u64 = self
            .meta(CHANGE_LOG_FROM)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX);
        if since < complete_from {
            return Ok(None);
        }
        // By the revision index, sorted here: with `ORDER BY path` SQLite walked the whole
        // log in path order to skip the sort, O(objects) for every change the runtimes
        // read (56 % of straitd's CPU under PATCHes with 10,000 sessions; issue 16).
        let mut stmt = self.tx.prepare_cached(CHANGED_SINCE)?;
        let rows = stmt.query_map([i64::try_from(since).unwrap_or(i64::MAX)], |r| {
            r.get::<_, String>(0)
        })?;
        let mut paths = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        paths.sort_unstable();
        Ok(Some(paths))
    }

    /// Paths of objects that refer to `path`.
    pub fn referrers(&self, path: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT from_path FROM refs WHERE to_path = ?1 ORDER BY from_path")?;
        let rows = stmt.query_map([path], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One text field of the bodies of the objects of `kind` under `parent_path` after
    /// `after` (a path; None: from the first), by path, at most `limit`: (path, display
    /// name, the field at `json_path`). Read without decoding the bodies.
    pub fn names_page(
        &self,
        kind: &str,
        parent_path: &str,
        after: Option<&str>,
        limit: usize,
        json_path: &str,
    ) -> Result<Vec<NameRow>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT path, json_extract(body, '$.display_name'), json_extract(body, ?4) FROM objects
             WHERE kind = ?1 AND parent_path = ?2 AND path > ?3 ORDER BY path LIMIT ?5",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            rusqlite::params![kind, parent_path, after.unwrap_or(""), json_path, limit],
            |r| {
                Ok(NameRow {
                    path: r.get(0)?,
                    display_name: r.get::<_, Option<String>>(1).ok().flatten(),
                    field: r.get::<_, Option<String>>(2).ok().flatten(),
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The value at `json_path` (e.g. `$.display_name`) in the body of every object of
    /// `kind` under `parent_path`, by path: None where the body has no such field. Read
    /// without decoding the bodies in Rust, so a collection of 10,000 can be sorted and
    /// only its page decoded (issue 16).
    pub fn field_values(
        &self,
        kind: &str,
        parent_path: &str,
        json_path: &str,
    ) -> Result<Vec<(String, Option<Value>)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT path, json_type(body, ?3), json_extract(body, ?3) FROM objects
             WHERE kind = ?1 AND parent_path = ?2 ORDER BY path",
        )?;
        let rows = stmt.query_map(rusqlite::params![kind, parent_path, json_path], |r| {
            let path: String = r.get(0)?;
            let kind: Option<String> = r.get(1)?;
            let value = match kind.as_deref() {
                None => None,
                Some("null") => Some(Value::Null),
                Some("true") => Some(Value::Bool(true)),
                Some("false") => Some(Value::Bool(false)),
                Some("integer") => Some(Value::from(r.get::<_, i64>(2)?)),
                Some("real") => Some(Value::from(r.get::<_, f64>(2)?)),
                Some("text") => Some(Value::String(r.get(2)?)),
                // Arrays and objects come back as JSON text.
                Some(_) => {
                    Some(serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or(Value::Null))
                }
            };
            Ok((path, value))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The objects at `paths` (bodies only, as [`Tx::object_bodies`]), in that order;
    /// paths with no object are left out.
    pub fn object_bodies_at(&self, paths: &[String]) -> Result<Vec<StoredObject>> {
        let mut stmt = self
            .tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM objects WHERE path = ?1"))?;
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            if let Some(row) = stmt.query_row([path], from_row).optional()? {
                out.push(finish_body(row)?);
            }
        }
        Ok(out)
    }

    /// Number of stored objects of `kind` under `parent_path`.
    pub fn count_children(&self, kind: &str, parent_path: &str) -> Result<u64> {
        Ok(self.tx.query_row(
            "SELECT COUNT(*) FROM objects WHERE kind = ?1 AND parent_path = ?2",
            [kind, parent_path],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Number of stored objects of `kind`.
    pub fn count_objects(&self, kind: &str) -> Result<u64> {
        Ok(self.tx.query_row(
            "SELECT COUNT(*) FROM objects WHERE kind = ?1",
            [kind],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    use super::*;

    fn obj(path: &str, kind: &str) -> StoredObject {
        StoredObject {
            path: path.into(),
            kind: kind.into(),
            parent_path: "/infra".into(),
            id: path.rsplit('/').next().unwrap().into(),
            body: serde_json::json!({"display_name": "x"}),
            spec: serde_json::json!({}),
            revision: 0,
            create_time: 1,
            create_user: "admin".into(),
            last_modified_time: 1,
            last_modified_user: "admin".into(),
            system_owned: false,
            unique_id: "u".into(),
        }
    }

    #[test]
    fn the_change_log_names_what_changed_since_a_revision() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let changed = |since| store.read(|tx| tx.changed_since(since)).unwrap();
        assert_eq!(changed(0), Some(vec![]));
        store
            .write(|tx| -> Result<()> {
                tx.put_object(&obj("/infra/a", "K"), &[])?;
                tx.put_object(&obj("/infra/b", "K"), &[])?;
                tx.bump_config_revision()?;
                Ok(())
            })
            .unwrap();
        store
            .write(|tx| -> Result<()> {
                tx.delete_object("/infra/a")?;
                tx.bump_config_revision()?;
                Ok(())
            })
            .unwrap();
        assert_eq!(changed(0), Some(vec!["/infra/a".into(), "/infra/b".into()]));
        assert_eq!(changed(1), Some(vec!["/infra/a".into()]), "the deletion");
        assert_eq!(changed(2), Some(vec![]));
        drop(store);
        // Reopened: deleted paths are forgotten and the log starts at the current revision,
        // so a reader holding something older reads everything.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read(|tx| tx.changed_since(1)).unwrap(), None);
        assert_eq!(store.read(|tx| tx.changed_since(2)).unwrap(), Some(vec![]));
    }

    #[test]
    fn the_change_log_is_searched_by_revision_not_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let plan: Vec<String> = store
            .read(|tx| -> Result<Vec<String>> {
                let mut stmt = tx
                    .tx
                    .prepare(&format!("EXPLAIN QUERY PLAN {CHANGED_SINCE}"))?;
                let rows = stmt.query_map([0], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .unwrap();
        assert!(
            plan.len() == 1
                && plan[0].starts_with("SEARCH changes USING")
                && plan[0].contains("INDEX changes_by_revision (revision>?)"),
            "{plan:?}"
        );
    }

    #[test]
    fn put_get_refs_delete_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| -> Result<()> {
                tx.put_object(&obj("/infra/a/x", "k"), &[])?;
                tx.put_object(&obj("/infra/b/y", "k"), &["/infra/a/x".to_owned()])?;
                tx.set_secret("/infra/b/y", "psk", "pw")?;
                Ok(())
            })
            .unwrap();
        store
            .read(|tx| -> Result<()> {
                assert_eq!(tx.referrers("/infra/a/x")?, vec!["/infra/b/y".to_owned()]);
                assert_eq!(tx.objects("k", None)?.len(), 2);
                assert_eq!(tx.object("/infra/b/y")?.unwrap().body["display_name"], "x");
                assert_eq!(&*tx.secret("/infra/b/y", "psk")?.unwrap(), "pw");
                Ok(())
            })
            .unwrap();
        store
            .write(|tx| -> Result<()> {
                assert!(tx.delete_object("/infra/b/y")?);
                assert!(!tx.delete_object("/infra/b/y")?);
                assert!(tx.referrers("/infra/a/x")?.is_empty());
                assert!(tx.secret("/infra/b/y", "psk")?.is_none());
                Ok(())
            })
            .unwrap();
    }
}
