//! Users: name, role and argon2 password hash (PHC string). Hashing happens in the caller;
//! the store never sees a password.

use rusqlite::{params, OptionalExtension};

use crate::{Result, Tx};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// Login name.
    pub username: String,
    /// `admin` or `auditor`.
    pub role: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// Epoch ms.
    pub create_time: i64,
    /// Epoch ms.
    pub last_modified_time: i64,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredUser> {
    Ok(StoredUser {
        username: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        create_time: r.get(3)?,
        last_modified_time: r.get(4)?,
    })
}

impl Tx<'_> {
    /// One user.
    pub fn user(&self, username: &str) -> Result<Option<StoredUser>> {
        Ok(self
            .tx
            .query_row(
                "SELECT username, role, password_hash, create_time, last_modified_time FROM users WHERE username = ?1",
                [username],
                row,
            )
            .optional()?)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<StoredUser>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT username, role, password_hash, create_time, last_modified_time FROM users ORDER BY username",
        )?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Insert or replace a user.
    pub fn put_user(&self, u: &StoredUser) -> Result<()> {
        self.tx.execute(
            "INSERT INTO users(username, role, password_hash, create_time, last_modified_time)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(username) DO UPDATE SET role = excluded.role,
               password_hash = excluded.password_hash, last_modified_time = excluded.last_modified_time",
            params![u.username, u.role, u.password_hash, u.create_time, u.last_modified_time],
        )?;
        Ok(())
    }

    /// Delete a user; returns whether it existed.
    pub fn delete_user(&self, username: &str) -> Result<bool> {
        Ok(self
            .tx
            .execute("DELETE FROM users WHERE username = ?1", [username])?
            > 0)
    }

    /// Number of users with `role`.
    pub fn count_users_with_role(&self, role: &str) -> Result<u64> {
        Ok(self
            .tx
            .query_row("SELECT COUNT(*) FROM users WHERE role = ?1", [role], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// Number of users.
    pub fn count_users(&self) -> Result<u64> {
        Ok(self
            .tx
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)
    }
}
