//! Search keys of objects (`search_keys`): ranges of byte strings in a scope, kept beside
//! each object so that validation finds the objects a write can conflict with by value
//! (peer address, VTI subnet, gateway address) instead of reading every object. What the
//! keys mean is the policy layer's business (`strait_model::search_keys`); the store keeps
//! and searches them.

use crate::{Result, Tx};

/// One key found by [`Tx::search`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRow {
    /// The object's path.
    pub path: String,
    /// First value of the key's range.
    pub lo: Vec<u8>,
    /// Last value of the key's range.
    pub hi: Vec<u8>,
}

/// How many keys below a searched range are looked at for one that reaches into it. Keys
/// of one scope that do not overlap one another (as validation keeps VTI subnets) need one.
const BELOW_LOOKBACK: usize = 16;

impl Tx<'_> {
    /// Replace the search keys of the object at `path` (which must exist): (scope, lo, hi).
    pub fn set_search_keys(&self, path: &str, keys: &[(&str, &[u8], &[u8])]) -> Result<()> {
        self.tx
            .execute("DELETE FROM search_keys WHERE path = ?1", [path])?;
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO search_keys(path, scope, lo, hi) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (scope, lo, hi) in keys {
            insert.execute(rusqlite::params![path, scope, lo, hi])?;
        }
        Ok(())
    }

    /// Forget every search key (before rebuilding them all).
    pub fn clear_search_keys(&self) -> Result<()> {
        self.tx.execute("DELETE FROM search_keys", [])?;
        Ok(())
    }

    /// Keys of `scope` whose range overlaps `lo..=hi` and whose values have `lo`'s length
    /// (IPv4 and IPv6 keys never meet), at most `limit`, in key order. Keys
    /// starting inside the range are found through the index; of those starting before it,
    /// the closest few are checked, which is exact when the scope's keys do not overlap one
    /// another.
    pub fn search(
        &self,
        scope: &str,
        lo: &[u8],
        hi: &[u8],
        limit: usize,
    ) -> Result<Vec<SearchRow>> {
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let row = |r: &rusqlite::Row<'_>| {
            Ok(SearchRow {
                path: r.get(0)?,
                lo: r.get(1)?,
                hi: r.get(2)?,
            })
        };
        let mut below = self.tx.prepare_cached(
            "SELECT path, lo, hi FROM search_keys
             WHERE scope = ?1 AND lo < ?2 AND length(lo) = length(?2) ORDER BY lo DESC LIMIT ?3",
        )?;
        let lookback = i64::try_from(BELOW_LOOKBACK).unwrap_or(i64::MAX);
        let mut out: Vec<SearchRow> = below
            .query_map(rusqlite::params![scope, lo, lookback], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|k| k.hi.as_slice() >= lo && k.lo.len() == lo.len())
            .collect();
        out.reverse();
        let mut inside = self.tx.prepare_cached(
            "SELECT path, lo, hi FROM search_keys
             WHERE scope = ?1 AND lo >= ?2 AND lo <= ?3 AND length(lo) = length(?2) ORDER BY lo LIMIT ?4",
        )?;
        out.extend(
            inside
                .query_map(rusqlite::params![scope, lo, hi, limit_sql], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|k| k.lo.len() == lo.len()),
        );
        out.truncate(limit);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::objects::StoredObject;
    use crate::Store;

    fn obj(path: &str) -> StoredObject {
        StoredObject {
            path: path.into(),
            kind: "K".into(),
            parent_path: "/infra".into(),
            id: path.rsplit('/').next().unwrap().into(),
            body: serde_json::json!({}),
            spec: serde_json::json!({}),
            revision: 0,
            create_time: 0,
            create_user: "u".into(),
            last_modified_time: 0,
            last_modified_user: "u".into(),
            system_owned: false,
            unique_id: path.into(),
        }
    }

    #[test]
    fn ranges_are_found_by_overlap_and_go_with_their_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| -> crate::Result<()> {
                for (p, lo, hi) in [("/a", 10u8, 13u8), ("/b", 20, 23), ("/c", 30, 30)] {
                    tx.put_object(&obj(p), &[])?;
                    tx.set_search_keys(p, &[("s", &[lo], &[hi]), ("other", &[lo], &[hi])])?;
                }
                Ok(())
            })
            .unwrap();
        let paths = |lo: u8, hi: u8| -> Vec<String> {
            store
                .read(|tx| tx.search("s", &[lo], &[hi], 10))
                .unwrap()
                .into_iter()
                .map(|r| r.path)
                .collect()
        };
        assert_eq!(paths(12, 12), ["/a"], "a range starting below");
        assert_eq!(paths(0, 255), ["/a", "/b", "/c"]);
        assert_eq!(paths(14, 19), Vec::<String>::new());
        assert_eq!(paths(23, 30), ["/b", "/c"]);
        // Keys of other lengths (the other IP version) never match.
        assert!(store
            .read(|tx| tx.search("s", &[0, 0], &[255, 255], 10))
            .unwrap()
            .is_empty());
        store
            .write(|tx| -> crate::Result<()> {
                tx.delete_object("/b")?;
                tx.set_search_keys("/a", &[("s", &[40], &[41])])
            })
            .unwrap();
        assert_eq!(
            paths(0, 255),
            ["/c", "/a"],
            "deleted and replaced keys are gone"
        );
        assert_eq!(
            store
                .read(|tx| tx.search("other", &[0], &[255], 10))
                .unwrap()
                .len(),
            1
        );
    }
}
