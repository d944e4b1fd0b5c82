//! [`PolicyView`] over a store transaction: what cross-object validation reads.

use strait_model::validate::PolicyView;
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
            .objects(kind.as_str(), None)
            .unwrap_or_default()
            .iter()
            .filter_map(typed)
            .collect()
    }

    fn has_secret(&self, path: &str, name: &str) -> bool {
        self.tx.has_secret(path, name).unwrap_or(false)
    }
}
