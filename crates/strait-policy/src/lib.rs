//! strait's management engine. It applies NSX Policy API operations (get, list, PATCH,
//! PUT, DELETE) to the store: parses and validates bodies with `strait-model`, checks
//! cross-object rules inside the write transaction, keeps `_revision`, NSX metadata and
//! encrypted secrets, writes the audit log, and announces every committed change on a
//! watch channel (the runtime reconciles from it). It also owns users and their passwords.
//!
//! HTTP-agnostic: the API layer maps [`PolicyError`] onto NSX error bodies.
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

pub mod accounts;
mod containers;
mod error;
pub mod hierarchy;
pub mod list;
#[cfg(test)]
mod list_store_tests;
pub mod peer_config;
pub mod search;
mod snapshot;
pub mod throttle;
mod tree;
mod view;

use std::sync::Arc;

pub use error::PolicyError;
pub use list::{ListQuery, ListResult};
pub use snapshot::{Delta, ObjectSnapshot, PrivateKeySecret, SessionRow, TreeSnapshot};
pub use strait_model::enums::Role;
pub use tree::{scrub_secrets, GetOptions};

use strait_store::Store;

/// Who is acting, for metadata, audit and permission checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Username.
    pub user: String,
    /// Role.
    pub role: Role,
}

impl Actor {
    /// The internal actor used for system-owned objects.
    pub fn system() -> Actor {
        Actor {
            user: "system".into(),
            role: Role::Admin,
        }
    }

    /// Whether the actor may change things.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The management engine. Cheap to clone (shared state behind `Arc`).
#[derive(Clone)]
pub struct Policy {
    store: Arc<Store>,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    accounts: Arc<accounts::Accounts>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch (metadata timestamps; not used by protocol code).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Policy {
    /// Open the engine on a store: creates or refreshes the system-owned profiles.
    pub fn open(store: Arc<Store>) -> Result<Policy, PolicyError> {
        let revision = store.write(|tx| -> Result<u64, PolicyError> {
            tree::seed_system_objects(tx)?;
            view::rebuild_search_keys(tx)?;
            // Tier-0s stored before locale services existed get theirs now.
            let upgraded = tree::upgrade_gateway_bodies(tx)?;
            if containers::create_all_missing(tx)? || upgraded {
                return Ok(tx.bump_config_revision()?);
            }
            Ok(tx.config_revision()?)
        })?;
        let (tx, _) = tokio::sync::watch::channel(revision);
        Ok(Policy {
            accounts: Arc::new(accounts::Accounts::new(store.clone())),
            store,
            changes: Arc::new(tx),
        })
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Users and authentication.
    pub fn accounts(&self) -> &accounts::Accounts {
        &self.accounts
    }

    /// A receiver that sees the configuration revision after every committed change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn announce(&self, revision: u64) {
        self.changes.send_replace(revision);
    }
}
