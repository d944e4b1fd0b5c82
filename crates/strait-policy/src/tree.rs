//! Reads and writes of the policy tree.

use serde_json::{Map, Value};
use strait_model::merge::merge_patch;
use strait_model::path::{parse_any, CollectionPath, ParsedPath};
use strait_model::problems::codes;
use strait_model::reader::IGNORED_METADATA_FIELDS;
use strait_model::validate::{delete_blockers, validate_write};
use strait_model::{parse_body, Kind, ObjectPath, ParseCtx, PolicyObject, SecretChange};
use strait_store::{AuditEntry, StoredObject, Tx};
use zeroize::Zeroizing;

use crate::list::{page, ListQuery, ListResult};
use crate::view::TxView;
use crate::{now_ms, Actor, Policy, PolicyError};

/// Secret field names per kind; never stored in `body`/`spec`, never returned by GET.
fn secret_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Session => &["psk"],
        Kind::Certificate => &["private_key", "passphrase"],
        Kind::BgpNeighbor => &["password"],
        _ => &[],
    }
}

/// Read-only fields computed by strait that clients may echo back.
const COMPUTED_FIELDS: &[&str] = &[
    "details",
    "has_private_key",
    "used_by",
    "leaf_certificate_type",
    "has_password",
];

/// Options of a single-object GET.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetOptions {
    /// `?action=show_sensitive_data`: include secrets that may be shown (the PSK).
    pub sensitive: bool,
}

/// The NSX JSON of a stored object: resource type and id first, body, then metadata.
pub(crate) fn render(o: &StoredObject, kind: Kind) -> Value {
    let mut m = Map::new();
    m.insert("resource_type".into(), Value::from(kind.resource_type()));
    m.insert("id".into(), Value::from(o.id.clone()));
    if let Value::Object(body) = &o.body {
        for (k, v) in body {
            m.insert(k.clone(), v.clone());
        }
    }
    m.insert("path".into(), Value::from(o.path.clone()));
    m.insert("relative_path".into(), Value::from(o.id.clone()));
    m.insert("parent_path".into(), Value::from(o.parent_path.clone()));
    m.insert("unique_id".into(), Value::from(o.unique_id.clone()));
    m.insert("realization_id".into(), Value::from(o.unique_id.clone()));
    m.insert("marked_for_delete".into(), Value::from(false));
    m.insert("overridden".into(), Value::from(false));
    m.insert("_system_owned".into(), Value::from(o.system_owned));
    m.insert(
        "_protection".into(),
        Value::from(if o.system_owned {
            "PROTECTED"
        } else {
            "NOT_PROTECTED"
        }),
    );
    m.insert("_create_time".into(), Value::from(o.create_time));
    m.insert("_create_user".into(), Value::from(o.create_user.clone()));
    m.insert(
        "_last_modified_time".into(),
        Value::from(o.last_modified_time),
    );
    m.insert(
        "_last_modified_user".into(),
        Value::from(o.last_modified_user.clone()),
    );
    m.insert("_revision".into(), Value::from(o.revision));
    Value::Object(m)
}

/// Whether objects of `kind` show `used_by` (the objects that refer to them).
fn has_used_by(kind: Kind) -> bool {
    matches!(kind, Kind::Certificate | Kind::Crl | Kind::PrefixList)
}

/// A stored object in a list: sorted by its fields as [`render`] shows them, rendered only
/// when it is on the page.
struct StoredRow {
    o: StoredObject,
    kind: Kind,
}

impl crate::list::Listed for StoredRow {
    fn field(&self, name: &str) -> Option<Value> {
        rendered_field(&self.o, self.kind, name)
    }

    fn path(&self) -> String {
        self.o.path.clone()
    }

    fn render(self) -> Value {
        render(&self.o, self.kind)
    }

    fn field_names(&self) -> Vec<String> {
        render(&self.o, self.kind).field_names()
    }
}

/// The common listing (sorted by a field of the stored bodies, e.g. the default
/// `display_name`, without `included_fields`) from the sort values alone: SQLite reads the
/// field of every object, and only the page's objects are decoded and rendered, so a page
/// of 1,000 out of 10,000 sessions costs what the page costs (issue 16). None: another
/// listing (metadata sort fields, `included_fields`, or a field no object has, whose error
/// names the fields that exist), which [`crate::list::page`] serves from whole objects.
fn list_by_body_field(
    tx: &Tx<'_>,
    coll: &CollectionPath,
    q: &ListQuery,
) -> Result<Option<ListResult>, PolicyError> {
    let p = crate::list::params(q)?;
    if p.fields.is_some() || !crate::list::sorts_by_body_field(&p.sort_by) {
        return Ok(None);
    }
    // A field name is letters, digits and '_' (checked by `params`): a plain JSON path.
    let json_path = format!("$.{}", p.sort_by);
    let values = tx.field_values(coll.kind.as_str(), coll.parent_path(), &json_path)?;
    if !values.is_empty() && values.iter().all(|(_, v)| v.is_none()) {
        return Ok(None);
    }
    let (on_page, total, cursor) =
        crate::list::window(values, &p, |(_, v)| v.clone(), |(path, _)| path.clone());
    let paths: Vec<String> = on_page.into_iter().map(|(path, _)| path).collect();
    let objects = tx.object_bodies_at(&paths)?;
    let rendered = objects.iter().map(|o| render(o, coll.kind));
    Ok(Some(crate::list::finish(p, rendered, total, cursor)))
}

/// One field of `render(o, kind)`, without rendering the object.
fn rendered_field(o: &StoredObject, kind: Kind, name: &str) -> Option<Value> {
    let metadata = match name {
        "path" => Value::from(o.path.clone()),
        "relative_path" => Value::from(o.id.clone()),
        "parent_path" => Value::from(o.parent_path.clone()),
        "unique_id" | "realization_id" => Value::from(o.unique_id.clone()),
        "marked_for_delete" | "overridden" => Value::from(false),
        "_system_owned" => Value::from(o.system_owned),
        "_protection" => Value::from(if o.system_owned {
            "PROTECTED"
        } else {
            "NOT_PROTECTED"
        }),
        "_create_time" => Value::from(o.create_time),
        "_create_user" => Value::from(o.create_user.clone()),
        "_last_modified_time" => Value::from(o.last_modified_time),
        "_last_modified_user" => Value::from(o.last_modified_user.clone()),
        "_revision" => Value::from(o.revision),
        // The body may carry these two; render writes them before the body.
        _ => {
            if let Some(v) = o.body.get(name) {
                return Some(v.clone());
            }
            return match name {
                "resource_type" => Some(Value::from(kind.resource_type())),
                "id" => Some(Value::from(o.id.clone())),
                _ => None,
            };
        }
    };
    Some(metadata)
}

/// `used_by` of a certificate or CRL: what refers to it (local endpoints), as NSX
/// `ResourceReference`s (`target_id` = the referrer's path, `target_type` its resource type,
/// `target_display_name`). Read-only; a delete is refused while it is non-empty.
fn add_used_by(tx: &Tx<'_>, v: &mut Value, path: &str, kind: Kind) -> Result<(), PolicyError> {
    if !has_used_by(kind) {
        return Ok(());
    }
    let mut refs = Vec::new();
    for from in tx.referrers(path)? {
        let Ok(from_path) = ObjectPath::parse(&from) else {
            continue;
        };
        let name = tx
            .object(&from)?
            .and_then(|o| {
                o.body
                    .get("display_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| from_path.id().to_owned());
        let mut r = Map::new();
        r.insert("target_id".into(), Value::from(from.clone()));
        r.insert(
            "target_type".into(),
            Value::from(from_path.kind().resource_type()),
        );
        r.insert("target_display_name".into(), Value::from(name));
        r.insert("is_valid".into(), Value::from(true));
        refs.push(Value::Object(r));
    }
    if let Value::Object(m) = v {
        m.insert("used_by".into(), Value::Array(refs));
    }
    Ok(())
}

fn not_found(path: &ObjectPath) -> PolicyError {
    PolicyError::NotFound {
        noun: path.kind().noun(),
        path: path.to_string(),
    }
}

/// Insert or refresh the system-owned profiles.
pub(crate) fn seed_system_objects(tx: &Tx<'_>) -> Result<(), PolicyError> {
    let now = now_ms();
    for (path, obj) in strait_model::system::system_objects() {
        let body = obj.to_body();
        match tx.object(path.as_str())? {
            Some(existing) if existing.body == body && existing.system_owned => {}
            existing => {
                let (revision, create_time, unique_id) = match &existing {
                    Some(e) => (e.revision + 1, e.create_time, e.unique_id.clone()),
                    None => (0, now, uuid::Uuid::new_v4().to_string()),
                };
                tx.put_object(
                    &StoredObject {
                        path: path.to_string(),
                        kind: path.kind().as_str().into(),
                        parent_path: path.parent_path().into(),
                        id: path.id().into(),
                        spec: body.clone(),
                        body,
                        revision,
                        create_time,
                        create_user: "system".into(),
                        last_modified_time: now,
                        last_modified_user: "system".into(),
                        system_owned: true,
                        unique_id,
                    },
                    &[],
                )?;
            }
        }
    }
    Ok(())
}

/// What a write does.
pub(crate) enum WriteOp<'b> {
    Patch(&'b Value),
    Put(&'b Value),
}

impl Policy {
    /// GET one object.
    pub fn get(&self, path: &str, actor: &Actor, opts: GetOptions) -> Result<Value, PolicyError> {
        let path = ObjectPath::parse(path)?;
        if opts.sensitive && !actor.is_admin() {
            return Err(PolicyError::Forbidden(format!(
                "user {} (role {}) may not see sensitive data such as PSKs; ask an admin",
                actor.user, actor.role
            )));
        }
        self.store.read(|tx| {
            let o = tx.object(path.as_str())?.ok_or_else(|| not_found(&path))?;
            let mut v = render(&o, path.kind());
            add_used_by(tx, &mut v, path.as_str(), path.kind())?;
            if opts.sensitive {
                if let (Some(psk), Value::Object(m)) = (tx.secret(path.as_str(), "psk")?, &mut v) {
                    m.insert("psk".into(), Value::from(psk.as_str()));
                }
            }
            Ok(v)
        })
    }

    /// GET a collection.
    pub fn list(&self, collection: &str, q: &ListQuery) -> Result<ListResult, PolicyError> {
        let coll = match parse_any(collection)? {
            ParsedPath::Collection(c) => c,
            ParsedPath::Object(o) => {
                return Err(PolicyError::invalid(
                    "",
                    codes::FIELD,
                    format!("{o} is an object, not a collection"),
                ))
            }
        };
        self.store.read(|tx| -> Result<ListResult, PolicyError> {
            if let Some(parent) = &coll.parent {
                if tx.object(parent.as_str())?.is_none() {
                    return Err(not_found(parent));
                }
            }
            if has_used_by(coll.kind) {
                // Few objects, each with its referrers: rendered whole.
                let mut items = Vec::new();
                for o in tx.object_bodies(coll.kind.as_str(), Some(coll.parent_path()))? {
                    let mut v = render(&o, coll.kind);
                    add_used_by(tx, &mut v, &o.path, coll.kind)?;
                    items.push(v);
                }
                return page(items, q);
            }
            if let Some(result) = list_by_body_field(tx, &coll, q)? {
                return Ok(result);
            }
            let rows: Vec<StoredRow> = tx
                .object_bodies(coll.kind.as_str(), Some(coll.parent_path()))?
                .into_iter()
                .map(|o| StoredRow { o, kind: coll.kind })
                .collect();
            page(rows, q)
        })
    }

    /// A stored secret (for the runtime: e.g. a session's PSK). Never expose through GET.
    pub fn secret(&self, path: &str, name: &str) -> Result<Option<Zeroizing<String>>, PolicyError> {
        Ok(self.store.read(|tx| tx.secret(path, name))?)
    }

    /// PATCH: create, or merge into the existing object (RFC 7396). Returns the new revision.
    pub fn patch(&self, path: &str, body: &Value, actor: &Actor) -> Result<i64, PolicyError> {
        let path = ObjectPath::parse(path)?;
        self.write(&path, WriteOp::Patch(body), actor, "PATCH")
            .map(|(rev, _)| rev)
    }

    /// PUT: create or replace. Returns the stored object.
    pub fn put(&self, path: &str, body: &Value, actor: &Actor) -> Result<Value, PolicyError> {
        let path = ObjectPath::parse(path)?;
        self.write(&path, WriteOp::Put(body), actor, "PUT")
            .map(|(_, v)| v)
    }

    /// DELETE (idempotent: a missing object is not an error). Returns whether it existed.
    pub fn delete(&self, path: &str, actor: &Actor) -> Result<bool, PolicyError> {
        let path = ObjectPath::parse(path)?;
        require_admin(actor)?;
        let (existed, rev) = self.store.write(|tx| delete_tx(tx, &path, actor))?;
        if let Some(rev) = rev {
            self.announce(rev);
        }
        Ok(existed)
    }

    /// Record a failed change attempt in the audit log.
    pub fn audit_failure(&self, actor: &str, method: &str, path: &str, result: &str) {
        let r = self.store.write(|tx| -> Result<(), PolicyError> {
            audit(
                tx,
                &Actor {
                    user: actor.into(),
                    role: crate::Role::Auditor,
                },
                method,
                path,
                None,
                result,
            )
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not write audit log entry");
        }
    }

    /// Audit log page, newest first.
    pub fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<strait_store::AuditPage, PolicyError> {
        Ok(self.store.read(|tx| tx.audit_page(before, limit))?)
    }

    fn write(
        &self,
        path: &ObjectPath,
        op: WriteOp<'_>,
        actor: &Actor,
        method: &str,
    ) -> Result<(i64, Value), PolicyError> {
        require_admin(actor)?;
        let (rev, value, config_rev) = self
            .store
            .write(|tx| write_tx(tx, path, op, actor, method))?;
        self.announce(config_rev);
        Ok((rev, value))
    }

    /// The collection a path names, for the API's routing of list requests.
    pub fn collection(path: &str) -> Result<CollectionPath, PolicyError> {
        match parse_any(path)? {
            ParsedPath::Collection(c) => Ok(c),
            ParsedPath::Object(o) => Err(PolicyError::invalid(
                "",
                codes::FIELD,
                format!("{o} is an object"),
            )),
        }
    }
}

/// Overwrite the write-only secret fields of a request body in memory (PSKs, private keys),
/// so they do not linger after the request. Call it on bodies once they are handled.
pub fn scrub_secrets(body: &mut Value) {
    use zeroize::Zeroize;
    match body {
        Value::Object(m) => {
            for (name, value) in m.iter_mut() {
                match value {
                    Value::String(s) if SECRET_FIELD_NAMES.contains(&name.as_str()) => s.zeroize(),
                    // Hierarchical bodies nest objects (and their secrets) in children.
                    Value::Object(_) | Value::Array(_) => scrub_secrets(value),
                    _ => {}
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_secrets),
        _ => {}
    }
}

/// Field names that hold secrets in any request body.
const SECRET_FIELD_NAMES: [&str; 5] = [
    "psk",
    "private_key",
    "passphrase",
    "password",
    "old_password",
];

fn c_resource_type(c: &StoredObject) -> &'static str {
    Kind::from_store_name(&c.kind).map_or("RouteBasedIPSecVpnSession", Kind::resource_type)
}

fn strip(body: &Value, secret_names: &[&str]) -> Value {
    match body {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    let k = k.as_str();
                    (k == "resource_type" || !IGNORED_METADATA_FIELDS.contains(&k))
                        && !COMPUTED_FIELDS.contains(&k)
                        && !secret_names.contains(&k)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn require_admin(actor: &Actor) -> Result<(), PolicyError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(PolicyError::Forbidden(format!(
            "user {} has role {}, which is read-only; ask an admin to make this change",
            actor.user, actor.role
        )))
    }
}

fn system_owned(path: &ObjectPath) -> PolicyError {
    PolicyError::invalid(
        "",
        codes::CONFLICT,
        format!(
            "{} {path} is system-owned and cannot be changed or deleted; create your own {} and \
             reference it instead",
            path.kind().noun(),
            path.kind().noun()
        ),
    )
}

pub(crate) fn audit(
    tx: &Tx<'_>,
    actor: &Actor,
    method: &str,
    path: &str,
    revision: Option<i64>,
    result: &str,
) -> Result<(), PolicyError> {
    tx.append_audit(&AuditEntry {
        seq: 0,
        time: now_ms(),
        user: actor.user.clone(),
        method: method.into(),
        path: path.into(),
        revision,
        result: result.into(),
    })?;
    Ok(())
}

/// DELETE inside a write transaction (see [`Policy::delete`]): whether the object existed,
/// and the new configuration revision if something changed.
pub(crate) fn delete_tx(
    tx: &Tx<'_>,
    path: &ObjectPath,
    actor: &Actor,
) -> Result<(bool, Option<u64>), PolicyError> {
    let Some(current) = tx.object(path.as_str())? else {
        audit(
            tx,
            actor,
            "DELETE",
            path.as_str(),
            None,
            "success (already absent)",
        )?;
        return Ok((false, None));
    };
    if current.system_owned {
        return Err(system_owned(path));
    }
    // Unconfigured containers (a tier-0's `default` locale service and its
    // `bgp`) go with their parent.
    let containers = crate::containers::cascade(tx, path)?;
    for c in &containers {
        tx.delete_object(c)?;
    }
    let referrers = tx.referrers(path.as_str())?;
    delete_blockers(path, &TxView { tx }, referrers)
        .map_err(|p| PolicyError::from_problems(&format!("cannot delete {path}"), p))?;
    tx.delete_object(path.as_str())?;
    let rev = tx.bump_config_revision()?;
    audit(
        tx,
        actor,
        "DELETE",
        path.as_str(),
        Some(current.revision),
        "success",
    )?;
    Ok((true, Some(rev)))
}

/// PATCH or PUT inside a write transaction (see [`Policy::patch`], [`Policy::put`]): the
/// new revision, the stored object as GET shows it, and the new configuration revision.
pub(crate) fn write_tx(
    tx: &Tx<'_>,
    path: &ObjectPath,
    op: WriteOp<'_>,
    actor: &Actor,
    method: &str,
) -> Result<(i64, Value, u64), PolicyError> {
    let body = match op {
        WriteOp::Patch(b) | WriteOp::Put(b) => b,
    };
    if !body.is_object() {
        return Err(PolicyError::invalid(
            "",
            codes::FIELD,
            format!(
                "the request body must be a JSON object describing the {}",
                path.kind().noun()
            ),
        ));
    }
    let given_revision = match body.get("_revision") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_number()
                .and_then(strait_model::reader::whole_number)
                .ok_or_else(|| {
                    PolicyError::invalid(
                        "_revision",
                        codes::FIELD,
                        "_revision must be an integer (the value GET returned)",
                    )
                })?,
        ),
    };
    let secret_names = secret_fields(path.kind());
    if let Some(parent) = path.parent() {
        if tx.object(parent.as_str())?.is_none() {
            return Err(PolicyError::ParentMissing {
                noun: parent.kind().noun(),
                path: parent.to_string(),
            });
        }
    }
    let current = tx.object(path.as_str())?;
    if let Some(c) = &current {
        if c.system_owned {
            return Err(system_owned(path));
        }
        match (given_revision, &op) {
            (Some(g), _) if g != c.revision => {
                return Err(PolicyError::RevisionMismatch { path: path.to_string(), given: g, current: c.revision })
            }
            (None, WriteOp::Put(_)) => {
                return Err(PolicyError::invalid(
                    "_revision",
                    codes::FIELD,
                    format!(
                        "{path} already exists, so PUT must carry its current _revision ({}) to replace it; \
                         GET it first, or use PATCH to merge changes",
                        c.revision
                    ),
                ))
            }
            _ => {}
        }
    }
    // The new spec: the user's fields, without metadata, computed fields and secrets.
    let mut spec = match (&op, &current) {
        (WriteOp::Patch(_), Some(c)) => c.spec.clone(),
        _ => Value::Object(Map::new()),
    };
    let mut patch = strip(body, secret_names);
    if path.kind() == Kind::Session {
        // Sessions are polymorphic; the stored type is the base the patch applies to.
        if let (Some(c), Value::Object(s)) = (&current, &mut spec) {
            s.entry("resource_type")
                .or_insert_with(|| Value::from(c_resource_type(c)));
        }
    }
    if let (WriteOp::Put(_), Value::Object(p)) = (&op, &mut patch) {
        // PUT replaces: nulls mean "default", i.e. absent.
        p.retain(|_, v| !v.is_null());
    }
    merge_patch(&mut spec, &patch);
    // Secrets go to the parser as given (a PATCH null clears; PUT null keeps).
    let mut input = spec.clone();
    if let (Value::Object(inp), Value::Object(b)) = (&mut input, body) {
        for name in secret_names {
            if let Some(v) = b.get(*name) {
                inp.insert((*name).to_owned(), v.clone());
            }
        }
        if let Some(id) = b.get("id") {
            inp.insert("id".into(), id.clone());
        }
    }
    for name in secret_names {
        let replaced = matches!(body.get(*name), Some(v) if !v.is_null());
        if !replaced
            && tx.has_secret(path.as_str(), name)?
            && tx.secret(path.as_str(), name).is_err()
        {
            // Keeping a secret nobody can read would store a change that can never
            // be applied, while the write answers 200.
            return Err(PolicyError::invalid(
                name,
                codes::FIELD,
                format!(
                    "the stored {name} of {path} cannot be decrypted with this data directory's secret.key \
                     (restored from another machine, or the key replaced?); send {name} again in this request \
                     to replace it, or restore the matching secret.key"
                ),
            ));
        }
    }
    let existing = |name: &str| tx.secret(path.as_str(), name).ok().flatten();
    let ctx = ParseCtx {
        path,
        null_clears_secrets: matches!(op, WriteOp::Patch(_)),
        existing_secrets: &existing,
    };
    let what = format!("{} {}", path.kind().noun(), path);
    let parsed = parse_body(&input, &ctx);
    scrub_secrets(&mut input);
    let parsed = parsed.map_err(|p| PolicyError::from_problems(&what, p))?;
    validate_write(path, &parsed.object, &TxView { tx })
        .map_err(|p| PolicyError::from_problems(&what, p))?;
    let now = now_ms();
    let stored = StoredObject {
        path: path.to_string(),
        kind: path.kind().as_str().into(),
        parent_path: path.parent_path().into(),
        id: path.id().into(),
        body: parsed.object.to_body(),
        spec,
        revision: current.as_ref().map_or(0, |c| c.revision + 1),
        create_time: current.as_ref().map_or(now, |c| c.create_time),
        create_user: current
            .as_ref()
            .map_or_else(|| actor.user.clone(), |c| c.create_user.clone()),
        last_modified_time: now,
        last_modified_user: actor.user.clone(),
        system_owned: false,
        unique_id: current
            .as_ref()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), |c| c.unique_id.clone()),
    };
    tx.put_object(&stored, &parsed.object.references())?;
    crate::view::store_search_keys(tx, path, &parsed.object)?;
    if current.is_none() {
        crate::containers::create_missing(tx, path, &actor.user)?;
    }
    for (name, change) in &parsed.secrets {
        match change {
            SecretChange::Set(v) => tx.set_secret(path.as_str(), name, v)?,
            SecretChange::Clear => tx.delete_secret(path.as_str(), name)?,
        }
    }
    if let PolicyObject::Session(s) = &parsed.object {
        if s.authentication_mode == strait_model::enums::AuthenticationMode::Certificate {
            // No secret is kept that nothing uses.
            tx.delete_secret(path.as_str(), "psk")?;
        }
    }
    let config_rev = tx.bump_config_revision()?;
    audit(
        tx,
        actor,
        method,
        path.as_str(),
        Some(stored.revision),
        "success",
    )?;
    Ok((stored.revision, render(&stored, path.kind()), config_rev))
}

/// Re-derive the stored bodies of gateways from their specs (what users wrote), so objects
/// stored by an older strait show the fields a newer one added, with their defaults.
/// Returns whether any changed. Gateways hold no secrets, so their specs parse alone.
pub(crate) fn upgrade_gateway_bodies(tx: &Tx<'_>) -> Result<bool, PolicyError> {
    let mut changed = false;
    for kind in [Kind::Tier0, Kind::Tier1] {
        for mut o in tx.objects(kind.as_str(), None)? {
            let Ok(path) = ObjectPath::parse(&o.path) else {
                continue;
            };
            let none = |_: &str| None;
            let ctx = ParseCtx {
                path: &path,
                null_clears_secrets: false,
                existing_secrets: &none,
            };
            let Ok(parsed) = parse_body(&o.spec, &ctx) else {
                // Stored by a version that accepted it; keep it as it is.
                continue;
            };
            let body = parsed.object.to_body();
            if body != o.body {
                o.body = body;
                tx.put_object(&o, &parsed.object.references())?;
                changed = true;
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_read_alone_is_the_field_render_shows() {
        for (system_owned, body) in [
            (
                false,
                serde_json::json!({"display_name": "s1", "peer_address": "203.0.113.2"}),
            ),
            (
                true,
                serde_json::json!({"display_name": "p", "id": "from-body", "resource_type": "X"}),
            ),
        ] {
            let o = StoredObject {
                path: "/infra/ipsec-vpn-ike-profiles/p".into(),
                kind: Kind::IkeProfile.as_str().into(),
                parent_path: "/infra".into(),
                id: "p".into(),
                body,
                spec: serde_json::json!({}),
                revision: 3,
                create_time: 10,
                create_user: "admin".into(),
                last_modified_time: 20,
                last_modified_user: "audit".into(),
                system_owned,
                unique_id: "u-1".into(),
            };
            let rendered = render(&o, Kind::IkeProfile);
            let fields = rendered.as_object().unwrap();
            for (k, v) in fields {
                assert_eq!(
                    rendered_field(&o, Kind::IkeProfile, k).as_ref(),
                    Some(v),
                    "{k}"
                );
            }
            assert_eq!(rendered_field(&o, Kind::IkeProfile, "nonesuch"), None);
        }
    }
}
