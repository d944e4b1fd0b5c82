//! The routing containers every gateway has (NSX: a tier-0 or tier-1 comes with its locale
//! service `default`, and a tier-0's locale service with its BGP configuration `bgp`),
//! created with their parent and deleted with it while nobody has configured them.

use serde_json::{Map, Value};
use strait_model::objects::routing::DEFAULT_LOCALE_SERVICES;
use strait_model::objects::{BgpRoutingConfig, Common, LocaleServices};
use strait_model::{Kind, ObjectPath, PolicyObject};
use strait_store::{StoredObject, Tx};

use crate::{now_ms, PolicyError};

/// The containers `parent` comes with, as (path, object).
fn containers_of(parent: &ObjectPath) -> Vec<(ObjectPath, PolicyObject)> {
    let child = |kind: Kind, id: &str| ObjectPath::child(Some(parent), kind, id).ok();
    match parent.kind() {
        Kind::Tier0 | Kind::Tier1 => child(Kind::LocaleServices, DEFAULT_LOCALE_SERVICES)
            .map(|ls| {
                let obj = PolicyObject::LocaleServices(LocaleServices {
                    common: Common::with_id(DEFAULT_LOCALE_SERVICES),
                    route_redistribution_config: None,
                    route_redistribution_types: Vec::new(),
                    edge_cluster_path: None,
                    preferred_edge_paths: Vec::new(),
                });
                let mut out = vec![(ls.clone(), obj)];
                out.extend(containers_of(&ls));
                out
            })
            .unwrap_or_default(),
        // `child` refuses BGP under a tier-1 (no such path), so a tier-1's has none.
        Kind::LocaleServices => child(Kind::BgpConfig, "bgp")
            .map(|bgp| vec![(bgp, PolicyObject::BgpConfig(BgpRoutingConfig::defaults()))])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Create the containers `parent` comes with that do not exist yet (in the transaction
/// that creates `parent`, or at start-up for objects made before they existed).
pub(crate) fn create_missing(
    tx: &Tx<'_>,
    parent: &ObjectPath,
    user: &str,
) -> Result<bool, PolicyError> {
    let mut created = false;
    for (path, obj) in containers_of(parent) {
        if tx.object(path.as_str())?.is_some() {
            continue;
        }
        let now = now_ms();
        tx.put_object(
            &StoredObject {
                path: path.to_string(),
                kind: path.kind().as_str().into(),
                parent_path: path.parent_path().into(),
                id: path.id().into(),
                body: obj.to_body(),
                // Nothing configured: PATCHes merge into an empty spec, and the container
                // goes with its parent until something is (see `cascade`).
                spec: Value::Object(Map::new()),
                revision: 0,
                create_time: now,
                create_user: user.into(),
                last_modified_time: now,
                last_modified_user: user.into(),
                system_owned: false,
                unique_id: uuid::Uuid::new_v4().to_string(),
            },
            &[],
        )?;
        created = true;
    }
    Ok(created)
}

/// Give every gateway (and locale service) its containers; returns whether any was made.
pub(crate) fn create_all_missing(tx: &Tx<'_>) -> Result<bool, PolicyError> {
    let mut created = false;
    for kind in [Kind::Tier0, Kind::Tier1, Kind::LocaleServices] {
        for o in tx.objects(kind.as_str(), None)? {
            if let Ok(path) = ObjectPath::parse(&o.path) {
                created |= create_missing(tx, &path, "system")?;
            }
        }
    }
    Ok(created)
}

/// The kinds that are containers (created with their parent).
fn is_container(kind: Kind) -> bool {
    matches!(kind, Kind::LocaleServices | Kind::BgpConfig)
}

/// Whether container `stored` can go with its parent: nothing configured in it (empty
/// spec) and nothing under it but such containers. If so, it and what is under it are
/// appended to `out`, children first.
fn collect_pristine(
    tx: &Tx<'_>,
    stored: &StoredObject,
    out: &mut Vec<String>,
) -> Result<bool, PolicyError> {
    let Ok(path) = ObjectPath::parse(&stored.path) else {
        return Ok(false);
    };
    if !is_container(path.kind()) || !stored.spec.as_object().is_some_and(Map::is_empty) {
        return Ok(false);
    }
    let mut below = Vec::new();
    for kind in Kind::ALL
        .into_iter()
        .filter(|k| k.parent_kinds().contains(&path.kind()))
    {
        for child in tx.objects(kind.as_str(), Some(path.as_str()))? {
            if !collect_pristine(tx, &child, &mut below)? {
                return Ok(false);
            }
        }
    }
    out.extend(below);
    out.push(stored.path.clone());
    Ok(true)
}

/// The containers under `path` to delete with it, children first: those still
/// unconfigured with nothing configured under them. Configured ones stay, and the usual
/// "still contains" rule then refuses the delete, naming them.
pub(crate) fn cascade(tx: &Tx<'_>, path: &ObjectPath) -> Result<Vec<String>, PolicyError> {
    let mut out = Vec::new();
    for kind in Kind::ALL
        .into_iter()
        .filter(|k| is_container(*k) && k.parent_kinds().contains(&path.kind()))
    {
        for child in tx.objects(kind.as_str(), Some(path.as_str()))? {
            let mut mine = Vec::new();
            if collect_pristine(tx, &child, &mut mine)? {
                out.extend(mine);
            }
        }
    }
    Ok(out)
}
