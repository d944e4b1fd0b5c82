//! What the runtime reads: the whole configuration at one revision, typed, with the
//! secrets it needs ([`TreeSnapshot`]), built in full or from the previous one and the
//! store's change log.

use std::sync::Arc;

use imbl::{HashMap, OrdMap};

use strait_model::{Kind, ObjectPath, PolicyObject};
use strait_store::{StoredObject, Tx};
use zeroize::Zeroizing;

use crate::view::typed;
use crate::{Policy, PolicyError};

/// A typed object with its metadata, for the runtime.
#[derive(Debug, Clone)]
pub struct ObjectSnapshot {
    /// Where.
    pub path: ObjectPath,
    /// What.
    pub object: PolicyObject,
    /// `_revision`.
    pub revision: i64,
}

/// The whole configuration at one revision (for the runtime).
///
/// Objects are ordered by kind (in [`Kind::ALL`]'s order) and then path, and found by path
/// or kind without a scan: a gateway with thousands of sessions derives every session's
/// plan from one of these on each change. Every map is persistent (imbl): a snapshot built
/// from the previous one ([`Policy::snapshot_since`]) shares everything that did not
/// change, so one edit among 10,000 sessions costs O(log n), not a copy of 10,000 paths
/// and PSKs (issue 16).
pub struct TreeSnapshot {
    /// Configuration revision.
    pub revision: u64,
    objects: OrdMap<SortKey, Arc<ObjectSnapshot>>,
    by_path: HashMap<String, Arc<ObjectSnapshot>>,
    /// Session PSKs by session path.
    pub psks: HashMap<String, Zeroizing<String>>,
    /// Site certificates' private keys (PEM) and passphrases, by certificate path.
    pub private_keys: HashMap<String, PrivateKeySecret>,
    /// BGP neighbors' TCP MD5 passwords, by neighbor path.
    pub bgp_passwords: HashMap<String, Zeroizing<String>>,
    /// How this snapshot differs from the one it was built from, when it was built from one.
    delta: Option<Delta>,
}

/// Where an object sorts in a snapshot: its kind's rank in [`Kind::ALL`], then its path.
type SortKey = (usize, String);

fn sort_key(o: &ObjectSnapshot) -> SortKey {
    (kind_rank(o.path.kind()), o.path.to_string())
}

/// What changed between two snapshots (see [`TreeSnapshot::delta`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The revision of the snapshot this one was built from.
    pub since: u64,
    /// The paths written or deleted since then, sorted.
    pub paths: Vec<String>,
}

/// A certificate's private key as imported (decrypted from the store only into memory
/// that is zeroized on drop).
#[derive(Clone)]
pub struct PrivateKeySecret {
    /// The key as PEM.
    pub key_pem: Zeroizing<String>,
    /// Its passphrase, if the PEM is encrypted.
    pub passphrase: Option<Zeroizing<String>>,
}

fn kind_rank(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(Kind::ALL.len())
}

impl TreeSnapshot {
    fn new(revision: u64, objects: Vec<Arc<ObjectSnapshot>>, secrets: Secrets) -> TreeSnapshot {
        TreeSnapshot {
            revision,
            by_path: objects
                .iter()
                .map(|o| (o.path.to_string(), o.clone()))
                .collect(),
            objects: objects.into_iter().map(|o| (sort_key(&o), o)).collect(),
            psks: secrets.psks,
            private_keys: secrets.private_keys,
            bgp_passwords: secrets.bgp_passwords,
            delta: None,
        }
    }

    /// When this snapshot was built from an earlier one ([`Policy::snapshot_since`]): that
    /// one's revision and the paths that changed since. `None` for a full read: anything may
    /// have changed.
    pub fn delta(&self) -> Option<&Delta> {
        self.delta.as_ref()
    }

    /// The object at `path`.
    pub fn get(&self, path: &str) -> Option<&PolicyObject> {
        self.by_path.get(path).map(|o| &o.object)
    }

    /// Every object, by kind and then path.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectSnapshot> {
        self.objects.values().map(|o| &**o)
    }

    /// The objects of `kind`, by path.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &ObjectSnapshot> {
        let rank = kind_rank(kind);
        self.objects
            .range((rank, String::new())..(rank + 1, String::new()))
            .map(|(_, o)| &**o)
    }

    /// Drop the object at `path`, if any (its secrets are the caller's: [`Secrets::forget`]).
    fn remove(&mut self, path: &str) {
        if let Some(old) = self.by_path.remove(path) {
            self.objects.remove(&sort_key(&old));
        }
    }

    fn insert(&mut self, o: Arc<ObjectSnapshot>) {
        self.remove(o.path.as_str());
        self.by_path.insert(o.path.to_string(), o.clone());
        self.objects.insert(sort_key(&o), o);
    }
}

/// The secrets a snapshot carries, by object path.
#[derive(Default)]
struct Secrets {
    psks: HashMap<String, Zeroizing<String>>,
    private_keys: HashMap<String, PrivateKeySecret>,
    bgp_passwords: HashMap<String, Zeroizing<String>>,
}

impl Secrets {
    fn forget(&mut self, path: &str) {
        self.psks.remove(path);
        self.private_keys.remove(path);
        self.bgp_passwords.remove(path);
    }

    /// Read the secrets the runtime needs of the object at `path`. One undecryptable secret
    /// must not stop every other object from being applied: it is logged, and its object
    /// runs without it (the runtime reports that on the object).
    fn load(&mut self, tx: &Tx<'_>, path: &ObjectPath) -> Result<(), PolicyError> {
        match path.kind() {
            Kind::Session => match tx.secret(path.as_str(), "psk") {
                Ok(Some(psk)) => {
                    self.psks.insert(path.to_string(), psk);
                }
                Ok(None) => {}
                Err(e @ strait_store::StoreError::SecretUndecryptable(_)) => {
                    tracing::error!(
                        session = %path,
                        error = %e,
                        "the session's PSK cannot be decrypted; set psk again or restore the data directory's secret.key"
                    );
                }
                Err(e) => return Err(e.into()),
            },
            Kind::BgpNeighbor => match tx.secret(path.as_str(), "password") {
                Ok(Some(pw)) => {
                    self.bgp_passwords.insert(path.to_string(), pw);
                }
                Ok(None) => {}
                Err(e @ strait_store::StoreError::SecretUndecryptable(_)) => {
                    tracing::error!(
                        neighbor = %path,
                        error = %e,
                        "the BGP neighbor's password cannot be decrypted; set password again or restore the data directory's secret.key"
                    );
                }
                Err(e) => return Err(e.into()),
            },
            Kind::Certificate => match (
                tx.secret(path.as_str(), "private_key"),
                tx.secret(path.as_str(), "passphrase"),
            ) {
                (Ok(Some(key_pem)), Ok(passphrase)) => {
                    self.private_keys.insert(
                        path.to_string(),
                        PrivateKeySecret {
                            key_pem,
                            passphrase,
                        },
                    );
                }
                (Ok(None), _) => {}
                (Err(e @ strait_store::StoreError::SecretUndecryptable(_)), _)
                | (_, Err(e @ strait_store::StoreError::SecretUndecryptable(_))) => {
                    tracing::error!(
                        certificate = %path,
                        error = %e,
                        "the certificate's private key cannot be decrypted; import the key again or restore the data directory's secret.key"
                    );
                }
                (Err(e), _) | (_, Err(e)) => return Err(e.into()),
            },
            _ => {}
        }
        Ok(())
    }
}

/// A stored object as the runtime sees it, with its secrets loaded into `secrets`.
fn load_snapshot(
    tx: &Tx<'_>,
    o: &StoredObject,
    secrets: &mut Secrets,
) -> Result<Option<Arc<ObjectSnapshot>>, PolicyError> {
    let Some((path, object)) = typed(o) else {
        return Ok(None);
    };
    secrets.load(tx, &path)?;
    Ok(Some(Arc::new(ObjectSnapshot {
        path,
        object,
        revision: o.revision,
    })))
}

/// A session on a page of [`Policy::session_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Its path.
    pub path: ObjectPath,
    /// Its display name (the id when it has none).
    pub display_name: String,
    /// Its tunnel interface's id ("default" when it has none).
    pub tunnel_id: String,
}

impl Policy {
    /// One page of the sessions of `service`, by path, after the session `after`: each
    /// session's path, display name (the id when there is none) and tunnel interface id
    /// ("default" when there is none), and the number of sessions in the service.
    pub fn session_page(
        &self,
        service: &ObjectPath,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<SessionRow>, u64), PolicyError> {
        let (rows, total) = self.store.read(|tx| -> Result<_, PolicyError> {
            let kind = Kind::Session.as_str();
            let rows = tx.names_page(
                kind,
                service.as_str(),
                after,
                limit,
                "$.tunnel_interfaces[0].id",
            )?;
            Ok((rows, tx.count_children(kind, service.as_str())?))
        })?;
        let rows = rows
            .into_iter()
            .filter_map(|row| {
                let path = ObjectPath::parse(&row.path).ok()?;
                let name = row.display_name.unwrap_or_else(|| path.id().to_owned());
                Some(SessionRow {
                    path,
                    display_name: name,
                    tunnel_id: row.field.unwrap_or_else(|| "default".to_owned()),
                })
            })
            .collect();
        Ok((rows, total))
    }

    /// Every object of `kind`, typed (for the runtime and status).
    pub fn snapshot(&self, kind: Kind) -> Result<Vec<ObjectSnapshot>, PolicyError> {
        self.store
            .read(|tx| -> Result<Vec<ObjectSnapshot>, PolicyError> {
                Ok(tx
                    .object_bodies(kind.as_str(), None)?
                    .iter()
                    .filter_map(|o| {
                        typed(o).map(|(path, object)| ObjectSnapshot {
                            path,
                            object,
                            revision: o.revision,
                        })
                    })
                    .collect())
            })
    }

    /// Every object, typed, and every session's PSK, read in one transaction so that the
    /// runtime sees a consistent configuration.
    pub fn snapshot_all(&self) -> Result<TreeSnapshot, PolicyError> {
        self.store.read(|tx| -> Result<TreeSnapshot, PolicyError> {
            let mut objects = Vec::new();
            let mut secrets = Secrets::default();
            for kind in Kind::ALL {
                for o in tx.object_bodies(kind.as_str(), None)? {
                    objects.extend(load_snapshot(tx, &o, &mut secrets)?);
                }
            }
            Ok(TreeSnapshot::new(tx.config_revision()?, objects, secrets))
        })
    }

    /// The configuration now, built from `previous` by reading only the objects that
    /// changed since its revision (the store's change log), so that one edit among
    /// thousands of sessions costs the runtime O(what changed) in the store. Reads
    /// everything when the log does not reach back to `previous` (e.g. after a restart).
    pub fn snapshot_since(&self, previous: &TreeSnapshot) -> Result<TreeSnapshot, PolicyError> {
        let changed = self.store.read(|tx| -> Result<_, PolicyError> {
            let revision = tx.config_revision()?;
            let Some(paths) = tx.changed_since(previous.revision)? else {
                return Ok(None);
            };
            let mut fresh = Vec::new();
            let mut secrets = Secrets::default();
            for p in &paths {
                if let Some(o) = tx.object(p)? {
                    fresh.extend(load_snapshot(tx, &o, &mut secrets)?);
                }
            }
            Ok(Some((revision, paths, fresh, secrets)))
        })?;
        let Some((revision, paths, fresh, new_secrets)) = changed else {
            return self.snapshot_all();
        };
        // O(1) clones of persistent maps, then O(log n) per changed path.
        let mut secrets = Secrets {
            psks: previous.psks.clone(),
            private_keys: previous.private_keys.clone(),
            bgp_passwords: previous.bgp_passwords.clone(),
        };
        for p in &paths {
            secrets.forget(p);
        }
        secrets.psks.extend(new_secrets.psks);
        secrets.private_keys.extend(new_secrets.private_keys);
        secrets.bgp_passwords.extend(new_secrets.bgp_passwords);
        let mut next = TreeSnapshot {
            revision,
            objects: previous.objects.clone(),
            by_path: previous.by_path.clone(),
            psks: secrets.psks,
            private_keys: secrets.private_keys,
            bgp_passwords: secrets.bgp_passwords,
            delta: None,
        };
        for p in &paths {
            next.remove(p);
        }
        for o in fresh {
            next.insert(o);
        }
        next.delta = Some(Delta {
            since: previous.revision,
            paths,
        });
        Ok(next)
    }
}
