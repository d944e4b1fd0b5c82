//! strait's embedded store: one SQLite database in the data directory.
//!
//! - `objects`: the policy tree, one row per object keyed by its policy path, with the
//!   canonical JSON body (defaults filled in, no secrets), the sparse `spec` the user gave
//!   (what PATCH merges into, so defaults stay defaults), its `_revision` and NSX metadata;
//! - `refs`: which object refers to which (so deletes can name their referrers);
//! - `secrets`: write-only values (PSKs, private keys), AES-256-GCM encrypted with a key
//!   kept in `DIR/secret.key` (mode 0600);
//! - `users`: usernames, roles and argon2 password hashes;
//! - `audit_log`: every change, newest first on read;
//! - `meta`: schema version and the global configuration revision.
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction with `synchronous=FULL`, so a
//! committed change survives `kill -9` and power loss, and writers are serialized.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Wire and API input reach this crate: no panics by construction (issue 12).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod audit;
mod objects;
mod search;
mod secrets;
mod users;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

pub use audit::{AuditEntry, AuditPage, AUDIT_LOG_MAX_ENTRIES};
pub use objects::{NameRow, StoredObject};
pub use search::SearchRow;
pub use secrets::SecretCipher;
pub use users::StoredUser;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "strait.db";

/// Read connections kept open between reads (more are opened while reads overlap).
const MAX_IDLE_READERS: usize = 4;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed (disk full, corrupt file, ...).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory or key file could not be used.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The secret key file is not a 32-byte key.
    #[error("the secret key file {0} is damaged (expected 32 bytes); restore it from backup: without it stored PSKs and private keys cannot be read")]
    BadKeyFile(PathBuf),
    /// The key file cannot decrypt this database's secrets: it belongs to another data
    /// directory, or was regenerated.
    #[error("the secret key file {key} does not belong to the database {db}: it cannot decrypt the stored PSKs and private keys (was the data directory restored or copied without its own secret.key, or the key regenerated?). straitd changed nothing. Restore the secret.key saved together with this strait.db (from the original machine or the same backup) and start again. If that key is lost, the stored secrets cannot be recovered: move both files aside, start with an empty data directory and enter the configuration and PSKs again")]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The database.
        db: PathBuf,
    },
    /// The key file is missing although the database holds secrets encrypted with it.
    #[error("the secret key file {key} is missing, but the database {db} holds PSKs or private keys encrypted with it. straitd did not create a new key (that would make them unreadable for good). Restore the secret.key saved together with this strait.db and start again; if it is lost, move strait.db aside, start with an empty data directory and enter the configuration and PSKs again")]
    KeyMissing {
        /// The key file.
        key: PathBuf,
        /// The database.
        db: PathBuf,
    },
    /// A stored secret did not decrypt (wrong key file or tampering).
    #[error("a stored secret of {0} cannot be decrypted with this data directory's secret.key")]
    SecretUndecryptable(String),
    /// Stored JSON did not parse.
    #[error("stored data for {0} is damaged: {1}")]
    Corrupt(String, String),
    /// The database was written by a newer strait.
    #[error("the database schema version {0} is newer than this strait understands ({1}); upgrade strait")]
    SchemaTooNew(i64, i64),
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    path               TEXT PRIMARY KEY,
    kind               TEXT NOT NULL,
    parent_path        TEXT NOT NULL,
    id                 TEXT NOT NULL,
    body               TEXT NOT NULL,
    spec               TEXT NOT NULL,
    revision           INTEGER NOT NULL,
    create_time        INTEGER NOT NULL,
    create_user        TEXT NOT NULL,
    last_modified_time INTEGER NOT NULL,
    last_modified_user TEXT NOT NULL,
    system_owned       INTEGER NOT NULL DEFAULT 0,
    unique_id          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_by_kind ON objects(kind, parent_path);
CREATE TABLE IF NOT EXISTS refs (
    from_path TEXT NOT NULL REFERENCES objects(path) ON DELETE CASCADE,
    to_path   TEXT NOT NULL,
    PRIMARY KEY (from_path, to_path)
);
CREATE INDEX IF NOT EXISTS refs_by_target ON refs(to_path);
CREATE TABLE IF NOT EXISTS changes (
    path     TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_revision ON changes(revision);
CREATE TABLE IF NOT EXISTS search_keys (
    path  TEXT NOT NULL REFERENCES objects(path) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    lo    BLOB NOT NULL,
    hi    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS search_keys_by_range ON search_keys(scope, lo);
CREATE INDEX IF NOT EXISTS search_keys_by_path ON search_keys(path);
CREATE TABLE IF NOT EXISTS secrets (
    path       TEXT NOT NULL REFERENCES objects(path) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    PRIMARY KEY (path, name)
);
CREATE TABLE IF NOT EXISTS users (
    username           TEXT PRIMARY KEY,
    role               TEXT NOT NULL,
    password_hash      TEXT NOT NULL,
    create_time        INTEGER NOT NULL,
    last_modified_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    time     INTEGER NOT NULL,
    user     TEXT NOT NULL,
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,
    revision INTEGER,
    result   TEXT NOT NULL
);
";

/// The store: one SQLite connection guarded by a mutex (configuration traffic is light;
/// serializing it makes every cross-object check race-free).
pub struct Store {
    /// The one connection that writes (SQLite has one writer at a time).
    conn: Mutex<Connection>,
    /// Idle read-only connections: with WAL, readers see the last commit and neither wait
    /// for the writer nor hold it up, so a GET or the runtime's configuration read does not
    /// queue behind writes.
    readers: Mutex<Vec<Connection>>,
    db: PathBuf,
    cipher: SecretCipher,
    dir: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            what: "cannot create data directory",
            path: dir.to_owned(),
            source,
        })?;
        let db = dir.join(DB_FILE);
        let conn = Connection::open(&db)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version.and_then(|v| v.parse::<i64>().ok()) {
            None => {
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::SchemaTooNew(v, SCHEMA_VERSION))
            }
            Some(_) => {}
        }
        objects::start_change_log(&conn)?;
        let key_path = dir.join(secrets::KEY_FILE);
        if !key_path.exists() && secrets::holds_sealed_data(&conn)? {
            return Err(StoreError::KeyMissing { key: key_path, db });
        }
        let cipher = SecretCipher::load_or_create(&key_path)?;
        secrets::verify_key(&conn, &cipher, &key_path, &db)?;
        restrict_permissions(&db);
        Ok(Store {
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            db,
            cipher,
            dir: dir.to_owned(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (the transaction
        // rolls back on drop), so a poisoned mutex is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` in a write transaction; commit if it returns `Ok`, roll back otherwise.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&Tx {
            tx: &tx,
            cipher: &self.cipher,
        })?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Run `f` in a read transaction (a consistent snapshot).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = match self.take_reader() {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let value = {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(StoreError::from)?;
            let value = f(&Tx {
                tx: &tx,
                cipher: &self.cipher,
            });
            drop(tx);
            value
        };
        self.give_back_reader(conn);
        value
    }

    fn take_reader(&self) -> Option<Connection> {
        self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn give_back_reader(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open(&self.db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // A read that tried to write would be a bug: refuse it rather than take the lock.
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }
}

fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [
            path.to_owned(),
            path.with_extension("db-wal"),
            path.with_extension("db-shm"),
        ] {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

/// A transaction over the store.
pub struct Tx<'c> {
    tx: &'c rusqlite::Transaction<'c>,
    cipher: &'c SecretCipher,
}

impl Tx<'_> {
    /// Read a `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Write a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
            [key, value],
        )?;
        Ok(())
    }

    /// The global configuration revision: bumped by every policy change so the runtime
    /// can tell when to reconcile.
    pub fn config_revision(&self) -> Result<u64> {
        Ok(self
            .meta("config_revision")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Increment the global configuration revision and return the new value.
    pub fn bump_config_revision(&self) -> Result<u64> {
        let next = self.config_revision()? + 1;
        self.set_meta("config_revision", &next.to_string())?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_keeps_data_and_revision() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .write(|tx| -> Result<()> {
                    tx.bump_config_revision()?;
                    tx.bump_config_revision()?;
                    Ok(())
                })
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let rev = store.read(|tx| tx.config_revision()).unwrap();
        assert_eq!(rev, 2);
    }

    #[test]
    fn failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r: Result<()> = store.write(|tx| {
            tx.bump_config_revision()?;
            Err(StoreError::Corrupt("x".into(), "forced".into()))
        });
        assert!(r.is_err());
        assert_eq!(store.read(|tx| tx.config_revision()).unwrap(), 0);
    }
}
