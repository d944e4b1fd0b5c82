//! The audit log: one row per change attempt (user, time, method, path, revision,
//! result), kept to a bounded number of entries.

use rusqlite::params;
use serde::Serialize;

use crate::{Result, Tx};

/// Entries kept; older ones are dropped as new ones arrive.
pub const AUDIT_LOG_MAX_ENTRIES: i64 = 100_000;

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Sequence number (increasing).
    #[serde(skip)]
    pub seq: i64,
    /// Epoch ms.
    pub time: i64,
    /// Who.
    pub user: String,
    /// HTTP method (or operation name).
    pub method: String,
    /// Path acted on.
    pub path: String,
    /// Resulting `_revision`, when an object was written.
    pub revision: Option<i64>,
    /// `success`, or `failure: <status> <reason>`.
    pub result: String,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Sequence number to continue below, if more remain.
    pub next_before: Option<i64>,
}

impl Tx<'_> {
    /// Append an entry and trim the log.
    pub fn append_audit(&self, e: &AuditEntry) -> Result<()> {
        self.tx.execute(
            "INSERT INTO audit_log(time, user, method, path, revision, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.time, e.user, e.method, e.path, e.revision, e.result],
        )?;
        let seq = self.tx.last_insert_rowid();
        if seq % 1000 == 0 {
            self.tx.execute(
                "DELETE FROM audit_log WHERE seq <= ?1",
                [seq - AUDIT_LOG_MAX_ENTRIES],
            )?;
        }
        Ok(())
    }

    /// Entries with `seq < before` (all when None), newest first, at most `limit`.
    pub fn audit_page(&self, before: Option<i64>, limit: u32) -> Result<AuditPage> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT seq, time, user, method, path, revision, result FROM audit_log
             WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![before.unwrap_or(i64::MAX), i64::from(limit) + 1],
            |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    time: r.get(1)?,
                    user: r.get(2)?,
                    method: r.get(3)?,
                    path: r.get(4)?,
                    revision: r.get(5)?,
                    result: r.get(6)?,
                })
            },
        )?;
        let mut entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let next_before = if entries.len() > limit as usize {
            entries.truncate(limit as usize);
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn pages_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| -> Result<()> {
                for i in 0..5 {
                    tx.append_audit(&AuditEntry {
                        seq: 0,
                        time: i,
                        user: "admin".into(),
                        method: "PATCH".into(),
                        path: format!("/p{i}"),
                        revision: Some(i),
                        result: "success".into(),
                    })?;
                }
                Ok(())
            })
            .unwrap();
        let page = store.read(|tx| tx.audit_page(None, 2)).unwrap();
        assert_eq!(
            page.entries
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["/p4", "/p3"]
        );
        let page2 = store
            .read(|tx| tx.audit_page(page.next_before, 10))
            .unwrap();
        assert_eq!(page2.entries.len(), 3);
        assert_eq!(page2.next_before, None);
    }
}
