"""strait's rules for schemathesis (issue 15), loaded with SCHEMATHESIS_HOOKS.

schemathesis' `positive_data_acceptance` fails when a request that the OpenAPI document
allows is refused. Most such refusals were the document being wrong, and were fixed there
(enums, limits, unknown fields, patterns). What remains are rules no JSON Schema can state,
because they depend on other objects, on the store's state or on the meaning of a value.
`schemathesis.toml` lets that check accept a 400; the check below then makes the 400 strict
again: a 400 to a schema-valid request passes only when *every* problem the NSX error body
names is one of the rules in SEMANTIC_RULES, each matched by its error code or by its
message, so a 400 for anything else (a limit or enum the document forgets, a field it
lists that the server refuses) still fails the run.
"""

import re

import schemathesis

# NSX error codes of strait (crates/strait-model/src/problems.rs `codes`).
BAD_REFERENCE = 110001  # a path that must name an existing object of the right kind
CONFLICT = 110002  # system-owned objects, objects in use, the store's current state
CERTIFICATE = 110004  # pem_encoded must hold a real certificate, key or CRL

SEMANTIC_CODES = {BAD_REFERENCE, CONFLICT, CERTIFICATE}

# Rules stated by message, for problems reported with the generic field code (255).
SEMANTIC_RULES = [
    # Opaque paging cursors: only a cursor this server issued, for the same sort order.
    re.compile(r"cursor"),
    # PUT replacing an existing object must carry its _revision (contract.md); whether the
    # object exists is the store's state.
    re.compile(r"must carry its current _revision"),
    re.compile(r"_revision .* is stale|was changed since"),
    # A field name the listed objects do not have (sort_by, included_fields): the data's.
    re.compile(r"no object in this collection has a field"),
    # The body's id must be the one in the URL.
    re.compile(r"differs from the id in the URL"),
    # Where a Child* wrapper may go follows the policy tree (a session under a service).
    re.compile(r"cannot be created under"),
    # A network with host bits set (10.1.1.1/24): "did you mean 10.1.1.0/24?".
    re.compile(r"has host bits set"),
    # Addresses that are syntactically fine but cannot be an endpoint.
    re.compile(r"is the unspecified address|is a multicast address|is a loopback address"
               r"|is the broadcast address|is a link-local address"),
    # Cross-field rules within one object (the document says them in prose).
    re.compile(r"must be (shorter|longer|smaller|larger|less|greater) than"),
    re.compile(r"must be at least ge|ge must be at least|is longer than an IPv4 prefix can be"),
    re.compile(r"must differ from|must not equal|must be the same address family"),
    re.compile(r"are of different address families|is IPv[46] but"),
    # Ranges that depend on another field (DPD interval by probe mode, prefix lengths by
    # address family) or on a number's size (AS numbers up to 4294967295, not 0).
    re.compile(r"is out of range for [A-Z_]+ probing"),
    re.compile(r"is not an AS number|AS 0 is reserved"),
    # An IKE ID's type follows from its text: "10.1" reads as a (broken) IPv4 address.
    re.compile(r"looks like an IPv[46] address but is not a valid one"),
    # IKE IDs: an IP address, an FQDN, an email address or a DN, told apart by their text.
    re.compile(r"an FQDN uses letters, digits"),
    # A VTI address must be a usable unicast address, its prefix fitting its family.
    re.compile(r"cannot be a tunnel interface address"),
    re.compile(r"is too long for an IPv[46]"),
    # psk "" keeps a stored key; with none stored there is nothing to keep.
    re.compile(r"the pre-shared key is empty"),
    re.compile(r"is not a valid distinguished name"),
    # Fields required by another field's value (a PSK with authentication_mode PSK).
    re.compile(r"is required with authentication_mode"),
    # The search query language (field:value terms, AND/OR/NOT, escapes): a grammar the
    # parameter's description gives.
    re.compile(r"strait supports field:value terms"),
    # The current state of a session (no established SA to rekey).
    re.compile(r"has no established IKE SA"),
]


# Rules of the hierarchical API only: what a Child* wrapper may carry depends on where in
# the tree it is, which one schema per wrapper cannot say (the paths of their own have a
# schema per gateway kind).
HIERARCHY_RULES = [
    re.compile(r"applies to tier-0 gateways only"),
]


def _problems(body):
    """(code, message) of every problem in an NSX error body."""
    related = body.get("related_errors") or []
    if related:
        return [(e.get("error_code"), str(e.get("error_message", ""))) for e in related]
    return [(body.get("error_code"), str(body.get("error_message", "")))]


def _is_semantic(code, message, hierarchical):
    rules = SEMANTIC_RULES + (HIERARCHY_RULES if hierarchical else [])
    return code in SEMANTIC_CODES or any(rule.search(message) for rule in rules)


@schemathesis.check
def strait_positive_400_is_semantic(ctx, response, case):
    """A schema-valid request may be refused with 400 only for a rule the document cannot state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    try:
        body = response.json()
    except Exception as exc:  # noqa: BLE001 - any undecodable body is itself the failure
        raise AssertionError(f"400 without an NSX error body: {exc}") from exc
    if not isinstance(body, dict):
        raise AssertionError(f"400 without an NSX error body: {body!r}")
    hierarchical = case.operation.path.rstrip("/").endswith("/policy/api/v1/infra")
    others = [(c, m) for c, m in _problems(body) if not _is_semantic(c, m, hierarchical)]
    if others:
        listed = "; ".join(f"[{c}] {m}" for c, m in others)
        raise AssertionError(
            "Schema-valid request refused for a rule the OpenAPI document could state: " + listed
        )
    return None
