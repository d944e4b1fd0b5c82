//! Distinguished names: formatting certificate names for operators and
//! parsing/normalizing DN strings for IKE identity matching.
//!
//! Display format (also accepted by the parser): RDNs in certificate order,
//! separated by `", "`, multi-valued RDNs joined by `" + "`, values escaped per
//! RFC 4514, e.g. `C=US, O=Org, CN=Site123, emailAddress=vpn@example.com`.
//!
//! Comparison rules ([`dn_equal`]): attribute type names are case-insensitive
//! and aliases are folded (`E`/`email`/`emailAddress`, `S`/`ST`, dotted OIDs,
//! ...); values are trimmed, internal whitespace runs collapsed to one space
//! and compared case-insensitively; RDN order is significant, the order of
//! attributes inside one multi-valued RDN is not.

use crate::error::PkiError;
use crate::util::{hex_plain, shorten};
use x509_parser::asn1_rs::{Any, FromDer, Tag, ToDer};
use x509_parser::x509::X509Name;

/// Longest DN string accepted by [`normalize_dn`] / [`dn_equal`], in bytes.
pub const MAX_DN_LEN: usize = 64 * 1024;

/// Known attribute types: dotted OID, display name, accepted aliases
/// (lowercase, compared case-insensitively).
const ATTRIBUTES: &[(&str, &str, &[&str])] = &[
    ("2.5.4.6", "C", &["c", "countryname"]),
    ("2.5.4.8", "ST", &["st", "s", "sp", "stateorprovincename"]),
    ("2.5.4.7", "L", &["l", "localityname"]),
    ("2.5.4.10", "O", &["o", "organizationname"]),
    ("2.5.4.11", "OU", &["ou", "organizationalunitname"]),
    ("2.5.4.3", "CN", &["cn", "commonname"]),
    (
        "1.2.840.113549.1.9.1",
        "emailAddress",
        &["emailaddress", "email", "e"],
    ),
    ("2.5.4.5", "serialNumber", &["serialnumber"]),
    ("2.5.4.9", "street", &["street", "streetaddress"]),
    (
        "0.9.2342.19200300.100.1.25",
        "DC",
        &["dc", "domaincomponent"],
    ),
    ("0.9.2342.19200300.100.1.1", "UID", &["uid", "userid"]),
    ("2.5.4.12", "title", &["title", "t"]),
    ("2.5.4.42", "GN", &["gn", "g", "givenname"]),
    ("2.5.4.4", "SN", &["sn", "surname"]),
    ("2.5.4.43", "initials", &["initials", "i"]),
    ("2.5.4.44", "generationQualifier", &["generationqualifier"]),
    ("2.5.4.46", "dnQualifier", &["dnqualifier", "dnq"]),
    ("2.5.4.65", "pseudonym", &["pseudonym"]),
    ("2.5.4.17", "postalCode", &["postalcode"]),
    ("2.5.4.15", "businessCategory", &["businesscategory"]),
    (
        "2.5.4.97",
        "organizationIdentifier",
        &["organizationidentifier"],
    ),
    ("2.5.4.13", "description", &["description"]),
    ("2.5.4.41", "name", &["name"]),
    (
        "1.2.840.113549.1.9.2",
        "unstructuredName",
        &["unstructuredname"],
    ),
    (
        "1.2.840.113549.1.9.8",
        "unstructuredAddress",
        &["unstructuredaddress"],
    ),
];

/// Display name for a dotted attribute OID (the OID itself when unknown).
fn display_name_for_oid(dotted: &str) -> String {
    ATTRIBUTES
        .iter()
        .find(|(oid, _, _)| *oid == dotted)
        .map_or_else(|| dotted.to_owned(), |(_, name, _)| (*name).to_owned())
}

/// Formats a certificate name for operators, e.g. `C=US, O=Org, CN=Site123`.
pub(crate) fn format_name(name: &X509Name<'_>) -> String {
    let mut rdns = Vec::new();
    for rdn in name.iter_rdn() {
        let avas: Vec<String> = rdn
            .iter()
            .map(|ava| {
                let ty = display_name_for_oid(&ava.attr_type().to_id_string());
                let value = match attr_value_string(ava.attr_value()) {
                    Some(s) => escape_value(&s),
                    None => format!("#{}", hex_plain(&any_der(ava.attr_value()))),
                };
                format!("{ty}={value}")
            })
            .collect();
        rdns.push(avas.join(" + "));
    }
    rdns.join(", ")
}

/// First commonName value of `name`, if any and if it is a string.
pub(crate) fn first_common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|ava| attr_value_string(ava.attr_value()))
}

/// The complete DER encoding of an attribute value (for `#hex` display).
fn any_der(any: &Any<'_>) -> Vec<u8> {
    any.to_der_vec().unwrap_or_else(|_| any.data.to_vec())
}

/// Decodes the string types that can appear in an X.500 name.
fn attr_value_string(any: &Any<'_>) -> Option<String> {
    decode_string(any.tag(), any.data)
}

/// Decodes the content octets of a string-typed ASN.1 value.
fn decode_string(tag: Tag, data: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_owned),
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => Some(data.iter().map(|b| char::from(*b)).collect()),
        Tag::BmpString => {
            let chunks = data.chunks_exact(2);
            if !chunks.remainder().is_empty() {
                return None;
            }
            let units: Option<Vec<u16>> = chunks
                .map(|c| <[u8; 2]>::try_from(c).ok().map(u16::from_be_bytes))
                .collect();
            String::from_utf16(&units?).ok()
        }
        Tag::UniversalString => {
            let chunks = data.chunks_exact(4);
            if !chunks.remainder().is_empty() {
                return None;
            }
            chunks
                .map(|c| {
                    <[u8; 4]>::try_from(c)
                        .ok()
                        .and_then(|b| char::from_u32(u32::from_be_bytes(b)))
                })
                .collect()
        }
        _ => None,
    }
}

/// Escapes an attribute value per RFC 4514 section 2.4.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// One parsed attribute value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Text(String),
    Hex(Vec<u8>),
}

/// One attribute type and value, already normalized.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Ava {
    ty: String,
    value: Value,
}

impl Ava {
    fn render(&self) -> String {
        match &self.value {
            Value::Text(s) => format!("{}={}", self.ty, escape_value(s)),
            Value::Hex(b) => format!("{}=#{}", self.ty, hex_plain(b)),
        }
    }
}

/// Returns the canonical form of a DN string: canonical attribute type names,
/// values trimmed, whitespace-collapsed and lowercased, attributes inside a
/// multi-valued RDN sorted, RDNs joined by `", "`.
///
/// Two DNs are equal for IKE identity matching exactly when their canonical
/// forms are equal (see [`dn_equal`]). The canonical form is itself a valid DN
/// string and normalizing it again returns it unchanged.
///
/// # Errors
/// [`PkiError::InvalidDn`] when the string is empty, too long, or not a
/// parseable RFC 4514 DN (missing `=`, unknown attribute type, unterminated
/// quote, dangling backslash, escaped bytes that are not UTF-8, ...).
pub fn normalize_dn(s: &str) -> Result<String, PkiError> {
    let rdns = parse_dn(s).map_err(|reason| PkiError::InvalidDn {
        input: shorten(s, 200),
        reason,
    })?;
    Ok(rdns
        .iter()
        .map(|rdn| rdn.iter().map(Ava::render).collect::<Vec<_>>().join(" + "))
        .collect::<Vec<_>>()
        .join(", "))
}

/// Compares two DN strings the way IKE ID matching needs (see the module
/// documentation). Returns `false` when either string is not a valid DN.
///
/// ```
/// use strait_pki::dn_equal;
/// assert!(dn_equal("C=US, O=Org, CN=Site", "c=us,o=ORG,  cn = site"));
/// assert!(dn_equal("CN=vpn, E=a@example.com", "CN=vpn, emailAddress=a@example.com"));
/// assert!(!dn_equal("C=US, CN=Site", "CN=Site, C=US")); // RDN order matters
/// ```
pub fn dn_equal(a: &str, b: &str) -> bool {
    match (normalize_dn(a), normalize_dn(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Parses and normalizes a DN string into RDNs of sorted AVAs.
fn parse_dn(s: &str) -> Result<Vec<Vec<Ava>>, String> {
    parse_dn_with(s, true)
}

/// Parses a DN string; `normalize` folds values for comparison, otherwise they are kept
/// as written (trimmed) for encoding.
fn parse_dn_with(s: &str, normalize: bool) -> Result<Vec<Vec<Ava>>, String> {
    if s.len() > MAX_DN_LEN {
        return Err(format!("it is longer than {MAX_DN_LEN} bytes"));
    }
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser {
        chars,
        pos: 0,
        normalize,
    };
    p.skip_ws();
    if p.at_end() {
        return Err("it is empty".to_owned());
    }
    let mut rdns = Vec::new();
    loop {
        let mut rdn = Vec::new();
        let sep = loop {
            rdn.push(p.parse_ava()?);
            match p.next() {
                None => break None,
                Some('+') => continue,
                Some(c) => break Some(c),
            }
        };
        if normalize {
            rdn.sort();
        }
        rdns.push(rdn);
        match sep {
            None => break,
            Some(sep) => {
                p.skip_ws();
                if p.at_end() {
                    return Err(format!("it ends with the separator '{sep}'"));
                }
            }
        }
    }
    Ok(rdns)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    normalize: bool,
}

fn is_separator(c: char) -> bool {
    matches!(c, ',' | ';' | '+')
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Parses `type = value`, leaving the position on the separator that
    /// follows (or at the end).
    fn parse_ava(&mut self) -> Result<Ava, String> {
        self.skip_ws();
        let start = self.pos;
        let mut raw_type = String::new();
        loop {
            match self.peek() {
                Some('=') => {
                    self.pos += 1;
                    break;
                }
                Some(c) if is_separator(c) => {
                    return Err(missing_equals(&raw_type, start));
                }
                None => return Err(missing_equals(&raw_type, start)),
                Some(c) => {
                    raw_type.push(c);
                    self.pos += 1;
                }
            }
        }
        let ty = canonical_type(raw_type.trim())?;
        self.skip_ws();
        let value = self.parse_value(&ty)?;
        Ok(Ava { ty, value })
    }

    fn parse_value(&mut self, ty: &str) -> Result<Value, String> {
        if self.peek() == Some('"') {
            self.pos += 1;
            let mut buf = ValueBuf::default();
            loop {
                match self.next() {
                    None => return Err(format!("the quoted value of {ty} has no closing quote")),
                    Some('"') => break,
                    Some('\\') => self.parse_escape(&mut buf, ty)?,
                    Some(c) => buf.push_char(c),
                }
            }
            self.skip_ws();
            match self.peek() {
                None => {}
                Some(c) if is_separator(c) => {}
                Some(c) => {
                    return Err(format!(
                        "unexpected '{c}' after the closing quote of the {ty} value"
                    ))
                }
            }
            let text = buf.finish(ty)?;
            return Ok(Value::Text(if self.normalize {
                normalize_text(&text)
            } else {
                text
            }));
        }

        let starts_with_hash = self.peek() == Some('#');
        let mut buf = ValueBuf::default();
        let mut escaped_any = false;
        loop {
            match self.peek() {
                None => break,
                Some(c) if is_separator(c) => break,
                Some('\\') => {
                    self.pos += 1;
                    escaped_any = true;
                    self.parse_escape(&mut buf, ty)?;
                }
                Some(c) => {
                    self.pos += 1;
                    buf.push_char(c);
                }
            }
        }
        let text = buf.finish(ty)?;
        if starts_with_hash && !escaped_any {
            if let Some(bytes) = decode_hex(text.trim().trim_start_matches('#')) {
                return Ok(hex_value(bytes));
            }
        }
        Ok(Value::Text(if self.normalize {
            normalize_text(&text)
        } else {
            text.trim().to_owned()
        }))
    }

    /// Handles the character(s) after a backslash.
    fn parse_escape(&mut self, buf: &mut ValueBuf, ty: &str) -> Result<(), String> {
        let Some(c) = self.next() else {
            return Err(format!("the {ty} value ends with a lone backslash"));
        };
        if let (Some(hi), Some(lo)) = (c.to_digit(16), self.peek().and_then(|d| d.to_digit(16))) {
            self.pos += 1;
            // hi and lo are < 16, so the value fits in a byte.
            buf.push_byte(u8::try_from(hi * 16 + lo).unwrap_or(0));
        } else {
            buf.push_char(c);
        }
        Ok(())
    }
}

fn missing_equals(raw_type: &str, start: usize) -> String {
    let raw = raw_type.trim();
    if raw.is_empty() {
        format!("an attribute at character {} is empty", start + 1)
    } else {
        format!(
            "\"{}\" has no '=' (a comma, semicolon or plus sign inside a value must be \
             escaped as \\, \\; \\+ or the value quoted)",
            shorten(raw, 60)
        )
    }
}

/// Accumulates value bytes (hex escapes may encode UTF-8 byte by byte).
#[derive(Default)]
struct ValueBuf {
    bytes: Vec<u8>,
}

impl ValueBuf {
    fn push_char(&mut self, c: char) {
        let mut tmp = [0u8; 4];
        self.bytes
            .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
    }

    fn push_byte(&mut self, b: u8) {
        self.bytes.push(b);
    }

    fn finish(self, ty: &str) -> Result<String, String> {
        String::from_utf8(self.bytes)
            .map_err(|_| format!("the escaped bytes of the {ty} value are not valid UTF-8"))
    }
}

/// Lowercases, trims and collapses internal whitespace runs to one space.
fn normalize_text(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(16)).collect();
    let pairs = digits.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| u8::try_from(pair.first()? * 16 + pair.get(1)?).ok())
        .collect()
}

/// A `#hex` value: when it is the DER encoding of a string type, compare it
/// as that string; otherwise keep the bytes.
fn hex_value(bytes: Vec<u8>) -> Value {
    if let Ok((rest, any)) = Any::from_der(&bytes) {
        if rest.is_empty() {
            if let Some(s) = decode_string(any.tag(), any.data) {
                return Value::Text(normalize_text(&s));
            }
        }
    }
    Value::Hex(bytes)
}

/// Maps an attribute type name or OID to its canonical name.
fn canonical_type(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("an attribute type before '=' is empty".to_owned());
    }
    let lower = raw.to_ascii_lowercase();
    let candidate = lower.strip_prefix("oid.").unwrap_or(&lower);
    if candidate.starts_with(|c: char| c.is_ascii_digit()) {
        let dotted = canonical_oid(candidate)
            .ok_or_else(|| format!("\"{}\" is not a valid OID", shorten(raw, 60)))?;
        return Ok(display_name_for_oid(&dotted));
    }
    ATTRIBUTES
        .iter()
        .find(|(_, _, aliases)| aliases.contains(&candidate))
        .map(|(_, name, _)| (*name).to_owned())
        .ok_or_else(|| {
            format!(
                "the attribute type \"{}\" is unknown (use C, ST, L, O, OU, CN, emailAddress, \
                 serialNumber, DC, UID, ... or a dotted OID)",
                shorten(raw, 60)
            )
        })
}

/// Validates a dotted OID and strips leading zeros from its arcs.
fn canonical_oid(s: &str) -> Option<String> {
    let arcs: Option<Vec<u64>> = s.split('.').map(|arc| arc.parse::<u64>().ok()).collect();
    let arcs = arcs?;
    if arcs.len() < 2
        || s.split('.')
            .any(|arc| !arc.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// Encodes a DN string (as operators write it, e.g. the seed page's `C=US, ST=California,
/// O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=...`) as the DER of an X.500 Name, in
/// the order written: PrintableString where the value allows it (RFC 5280 §4.1.2.4), else
/// UTF8String; IA5String for emailAddress (PKCS#9).
///
/// # Errors
/// [`PkiError::InvalidDn`] when the string does not parse (see [`normalize_dn`]).
pub(crate) fn encode_dn(s: &str) -> Result<Vec<u8>, PkiError> {
    let invalid = |reason: String| PkiError::InvalidDn {
        input: shorten(s, 200),
        reason,
    };
    let rdns = parse_dn_with(s, false).map_err(invalid)?;
    let mut name = Vec::new();
    for rdn in &rdns {
        let mut set = Vec::new();
        for ava in rdn {
            let oid = ATTRIBUTES
                .iter()
                .find(|(_, name, _)| *name == ava.ty)
                .map_or(ava.ty.as_str(), |(oid, _, _)| *oid);
            let oid = oid_der(oid).ok_or_else(|| invalid(format!("{} is not an OID", ava.ty)))?;
            let value = match &ava.value {
                Value::Hex(bytes) => bytes.clone(),
                Value::Text(t) if ava.ty == "emailAddress" || ava.ty == "DC" => {
                    tlv(0x16, t.as_bytes())
                }
                Value::Text(t) if t.chars().all(printable) => tlv(0x13, t.as_bytes()),
                Value::Text(t) => tlv(0x0c, t.as_bytes()),
            };
            set.extend(tlv(0x30, &[oid, value].concat()));
        }
        name.extend(tlv(0x31, &set));
    }
    Ok(tlv(0x30, &name))
}

/// The display form of a DER X.500 Name (as [`format_name`] shows certificate names).
///
/// # Errors
/// [`PkiError::InvalidDn`] when the bytes are not one DER Name.
pub fn dn_display(der: &[u8]) -> Result<String, PkiError> {
    match X509Name::from_der(der) {
        Ok(([], name)) => Ok(format_name(&name)),
        _ => Err(PkiError::InvalidDn {
            input: hex_plain(der.get(..der.len().min(32)).unwrap_or_default()),
            reason: "it is not a DER-encoded X.500 Name".to_owned(),
        }),
    }
}

/// PrintableString's alphabet (X.680 §41.4).
fn printable(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// A DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// DER OBJECT IDENTIFIER of a dotted OID.
fn oid_der(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().ok())
        .collect::<Option<_>>()?;
    let (first, second) = (*arcs.first()?, *arcs.get(1)?);
    // X.660: the first arc is 0, 1 or 2, and under 0 and 1 the second is below 40
    // (otherwise the first two arcs do not fit their combined encoding).
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    // Attribute type OIDs have small arcs; a huge one is a typo (and some decoders
    // cannot show it back, fuzz finding pki_peer #2).
    if arcs.iter().any(|a| *a > u64::from(u32::MAX)) {
        return None;
    }
    let mut body = Vec::new();
    for arc in
        std::iter::once(first.checked_mul(40)?.checked_add(second)?).chain(arcs.into_iter().skip(2))
    {
        let mut groups = vec![u8::try_from(arc & 0x7f).ok()?];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | u8::try_from(rest & 0x7f).ok()?);
            rest >>= 7;
        }
        body.extend(groups.into_iter().rev());
    }
    Some(tlv(0x06, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding (pki_peer): a display with the OID 4.16.4.10 re-encoded to a
    /// different OID. Such OIDs are not encodable and are refused.
    #[test]
    fn unencodable_oids_are_refused() {
        assert!(encode_dn("C=US, 4.16.4.10=x").is_err());
        assert!(encode_dn("C=US, 1.40.1=x").is_err());
        assert!(encode_dn("C=US, 1.2.4.18446260254233421663=x").is_err());
        let ok = encode_dn("C=US, 2.5.4.3=x, 1.3.6.1.4.1.311.60.2.1.3=DE").unwrap();
        assert!(dn_equal(
            &dn_display(&ok).unwrap(),
            "C=US, CN=x, 1.3.6.1.4.1.311.60.2.1.3=DE"
        ));
    }

    fn norm(s: &str) -> String {
        normalize_dn(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn basic_normalization() {
        assert_eq!(norm("C=US, O=Org, CN=Site"), "C=us, O=org, CN=site");
        assert_eq!(
            norm("  c = US ,o=  My   Org ,cn=Site "),
            "C=us, O=my org, CN=site"
        );
        assert_eq!(norm("C=US;O=Org"), "C=us, O=org");
        assert!(dn_equal("C=US, O=Org, CN=Site", "c=us,o=ORG,  cn = site"));
    }

    #[test]
    fn aliases() {
        assert!(dn_equal("E=a@b.c, CN=x", "emailAddress=A@B.C, CN=x"));
        assert!(dn_equal("email=a@b.c", "EMAILADDRESS=a@b.c"));
        assert!(dn_equal("S=CA", "ST=CA"));
        assert!(dn_equal("2.5.4.3=site", "CN=site"));
        assert!(dn_equal("OID.2.5.4.3=site", "commonName=site"));
        assert!(dn_equal("G=John, SN=Doe", "givenName=John, surname=Doe"));
    }

    #[test]
    fn order_matters() {
        assert!(!dn_equal("C=US, CN=x", "CN=x, C=US"));
        assert!(dn_equal("CN=x + OU=y", "OU=y + CN=x"));
        assert!(!dn_equal("CN=x + OU=y", "CN=x, OU=y"));
    }

    #[test]
    fn values_differ() {
        assert!(!dn_equal("CN=site1", "CN=site2"));
        assert!(!dn_equal("CN=site 1", "CN=site1"));
        assert!(!dn_equal("CN=x", "O=x"));
    }

    #[test]
    fn escaping_and_quoting() {
        assert_eq!(norm("CN=a\\,b"), "CN=a\\,b");
        assert!(dn_equal("CN=\"a,b\"", "CN=a\\,b"));
        assert!(dn_equal("CN=\"a \\\"q\\\" b\"", "CN=a \\\"q\\\" b"));
        assert!(dn_equal("CN=caf\\C3\\A9", "CN=café"));
        assert!(dn_equal("CN=\\#1", "CN=\\#1"));
        assert!(dn_equal("CN=a=b", "CN=a\\=b"));
        assert_eq!(norm("CN=x\\+y"), "CN=x\\+y");
        assert_eq!(norm("CN=\\ lead"), "CN=lead");
    }

    #[test]
    fn hex_values() {
        // #0C03616263 is the DER UTF8String "abc".
        assert!(dn_equal("CN=#0C03616263", "CN=abc"));
        assert_eq!(norm("1.2.3.4=#0401ff"), "1.2.3.4=#0401ff");
        // Not valid hex: taken literally.
        assert_eq!(norm("CN=#1 router"), "CN=\\#1 router");
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "   ",
            "CN",
            "CN=x,",
            "CN=x, foo",
            "=x",
            "CN=\"open",
            "CN=\"a\" b",
            "CN=x\\",
            "Bogus=x",
            "1..2=x",
            "CN=\\ff\\fe",
            "CN=a, ,O=b",
        ] {
            assert!(normalize_dn(bad).is_err(), "{bad:?} should fail");
            assert!(!dn_equal(bad, bad));
        }
        let e = normalize_dn("CN=a,b").unwrap_err().to_string();
        assert!(e.contains("escaped"), "{e}");
        assert!(normalize_dn(&"C".repeat(MAX_DN_LEN + 1)).is_err());
    }

    #[test]
    fn idempotent() {
        for s in [
            "C=US, O=Org, CN=Site",
            "CN=\"a,b\" + OU=#0C03616263",
            "CN=\\#x, O=\\ a\\  ",
            "1.2.3=#04020102",
            "CN=a\\00b",
        ] {
            let once = norm(s);
            assert_eq!(norm(&once), once, "{s}");
        }
    }

    #[test]
    fn display_names_are_aliases() {
        for (oid, name, aliases) in ATTRIBUTES {
            assert!(
                aliases.contains(&name.to_ascii_lowercase().as_str()),
                "{name}"
            );
            assert_eq!(canonical_type(name).as_deref(), Ok(*name));
            assert_eq!(canonical_type(oid).as_deref(), Ok(*name));
        }
    }

    #[test]
    fn escape_output() {
        assert_eq!(escape_value("#a"), "\\#a");
        assert_eq!(escape_value(" a "), "\\ a\\ ");
        assert_eq!(
            escape_value("a,b+c\"d\\e<f>g;"),
            "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;"
        );
        assert_eq!(escape_value("a\0b"), "a\\00b");
    }

    #[test]
    fn string_decoding() {
        assert_eq!(
            decode_string(Tag::BmpString, &[0, b'h', 0, b'i']),
            Some("hi".to_owned())
        );
        assert_eq!(decode_string(Tag::BmpString, &[0]), None);
        assert_eq!(
            decode_string(Tag::UniversalString, &[0, 0, 0, b'x']),
            Some("x".to_owned())
        );
        assert_eq!(
            decode_string(Tag::TeletexString, &[0xe9]),
            Some("é".to_owned())
        );
        assert_eq!(decode_string(Tag::OctetString, b"x"), None);
    }
}
