//! [`PolicyView`] over a store transaction: what cross-object validation reads.

use strait_model::validate::{PolicyView, SearchHit};
use strait_model::{Kind, ObjectPath, PolicyObject};
use strait_store::{StoredObject, Tx};

/// The policy tree as seen inside one transaction.
pub(crate) struct TxView<'a, 'c> {
    pub(crate) tx: &'a Tx<'c>,
}

/// Rebuild the typed object from a stored row.
pub(crate) fn typed(o: &StoredObject) -> Option<(ObjectPath, PolicyObject)> {
    let path = ObjectPath::parse(&o.path).ok()?;
    let obj = PolicyObject::from_body(path.kind(), o.body.clone()).ok()?;
    Some((path, obj))
}

impl PolicyView for TxView<'_, '_> {
    fn object(&self, path: &str) -> Option<PolicyObject> {
        let o = self.tx.object(path).ok()??;
        typed(&o).map(|(_, obj)| obj)
    }

    fn objects(&self, kind: Kind) -> Vec<(ObjectPath, PolicyObject)> {
        self.tx
            .object_bodies(kind.as_str(), None)
            .unwrap_or_default()
            .iter()
            .filter_map(typed)
            .collect()
    }

    fn children(&self, parent: &ObjectPath, kind: Kind) -> Vec<(ObjectPath, PolicyObject)> {
        self.tx
            .object_bodies(kind.as_str(), Some(parent.as_str()))
            .unwrap_or_default()
            .iter()
            .filter_map(typed)
            .collect()
    }

    fn referrers(&self, path: &str) -> Vec<String> {
        self.tx.referrers(path).unwrap_or_default()
    }

    fn search(&self, scope: &str, lo: &[u8], hi: &[u8], limit: usize) -> Vec<SearchHit> {
        self.tx
            .search(scope, lo, hi, limit)
            .unwrap_or_default()
            .into_iter()
            .map(|r| SearchHit {
                path: r.path,
                lo: r.lo,
                hi: r.hi,
            })
            .collect()
    }

    fn has_secret(&self, path: &str, name: &str) -> bool {
        self.tx.has_secret(path, name).unwrap_or(false)
    }
}

/// Store `obj`'s search keys beside it (see `strait_model::search_keys`).
pub(crate) fn store_search_keys(
    tx: &Tx<'_>,
    path: &ObjectPath,
    obj: &PolicyObject,
) -> Result<(), strait_store::StoreError> {
    let keys = strait_model::search_keys::keys(path, obj);
    let rows: Vec<(&str, &[u8], &[u8])> = keys
        .iter()
        .map(|k| (k.scope.as_str(), k.lo.as_slice(), k.hi.as_slice()))
        .collect();
    tx.set_search_keys(path.as_str(), &rows)
}

/// Derive every object's search keys again from the objects (at startup: the keys are a
/// function of the objects, so this repairs keys that an older strait did not write).
pub(crate) fn rebuild_search_keys(tx: &Tx<'_>) -> Result<(), strait_store::StoreError> {
    tx.clear_search_keys()?;
    for kind in strait_model::search_keys::KINDS {
        for o in tx.object_bodies(kind.as_str(), None)? {
            if let Some((path, obj)) = typed(&o) {
                store_search_keys(tx, &path, &obj)?;
            }
        }
    }
    Ok(())
}
