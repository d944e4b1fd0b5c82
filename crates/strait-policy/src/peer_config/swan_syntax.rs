//! swanctl.conf syntax: strongSwan's algorithm keywords, section names, quoting, secrets and
//! distinguished names as strongSwan 5.9 parses them.

use super::*;

/// strongSwan's keyword for an IKE cipher.
pub fn swan_ike_cipher(e: IkeEncryption) -> &'static str {
    match e {
        IkeEncryption::Aes128 => "aes128",
        IkeEncryption::Aes256 => "aes256",
        IkeEncryption::AesGcm128 => "aes128gcm16",
        IkeEncryption::AesGcm192 => "aes192gcm16",
        IkeEncryption::AesGcm256 => "aes256gcm16",
    }
}

/// strongSwan's keyword for a digest used as integrity algorithm (HMAC, truncated to half).
pub fn swan_integrity(d: DigestAlgorithm) -> &'static str {
    match d {
        DigestAlgorithm::Sha1 => "sha1",
        DigestAlgorithm::Sha2_256 => "sha256",
        DigestAlgorithm::Sha2_384 => "sha384",
        DigestAlgorithm::Sha2_512 => "sha512",
    }
}

/// strongSwan's keyword for a digest used as PRF.
pub fn swan_prf(d: DigestAlgorithm) -> &'static str {
    match d {
        DigestAlgorithm::Sha1 => "prfsha1",
        DigestAlgorithm::Sha2_256 => "prfsha256",
        DigestAlgorithm::Sha2_384 => "prfsha384",
        DigestAlgorithm::Sha2_512 => "prfsha512",
    }
}

/// strongSwan's keyword for a DH group.
pub fn swan_group(g: DhGroup) -> &'static str {
    match g {
        DhGroup::Group2 => "modp1024",
        DhGroup::Group5 => "modp1536",
        DhGroup::Group14 => "modp2048",
        DhGroup::Group15 => "modp3072",
        DhGroup::Group16 => "modp4096",
        DhGroup::Group19 => "ecp256",
        DhGroup::Group20 => "ecp384",
        DhGroup::Group21 => "ecp521",
        DhGroup::Group31 => "curve25519",
    }
}

/// strongSwan's keyword for an ESP transform.
pub fn swan_esp_cipher(e: TunnelEncryption) -> &'static str {
    match e {
        TunnelEncryption::Aes128 => "aes128",
        TunnelEncryption::Aes256 => "aes256",
        TunnelEncryption::AesGcm128 => "aes128gcm16",
        TunnelEncryption::AesGcm192 => "aes192gcm16",
        TunnelEncryption::AesGcm256 => "aes256gcm16",
        TunnelEncryption::NoEncryptionAuthAesGmac128 => "aes128gmac",
        TunnelEncryption::NoEncryptionAuthAesGmac192 => "aes192gmac",
        TunnelEncryption::NoEncryptionAuthAesGmac256 => "aes256gmac",
        TunnelEncryption::NoEncryption => "null",
    }
}

/// The peer's IKE proposals, the same split strait makes ([`IkeProfile::proposals`]: CBC
/// ciphers with the profile's digests as integrity and PRF; GCM ciphers, RFC 5282, with
/// PRF-HMAC-SHA2-256).
pub fn swan_ike_proposals(p: &IkeProfile) -> Vec<String> {
    let groups: Vec<&str> = p.dh_groups.iter().map(|g| swan_group(*g)).collect();
    p.proposals()
        .iter()
        .map(|spec| {
            let mut parts: Vec<&str> = spec.ciphers.iter().map(|e| swan_ike_cipher(*e)).collect();
            parts.extend(spec.integrity.iter().map(|d| swan_integrity(*d)));
            parts.extend(spec.prfs.iter().map(|d| swan_prf(*d)));
            parts.extend(&groups);
            parts.join("-")
        })
        .collect()
}

/// The peer's ESP proposals, the same split strait makes ([`TunnelProfile::proposals`]), with
/// the DH groups (PFS on rekeys) when PFS is on.
pub fn swan_esp_proposals(p: &TunnelProfile) -> Vec<String> {
    let pfs: Vec<&str> = p.pfs_groups().iter().map(|g| swan_group(*g)).collect();
    p.proposals()
        .iter()
        .map(|spec| {
            let mut parts: Vec<&str> = spec.ciphers.iter().map(|e| swan_esp_cipher(*e)).collect();
            parts.extend(spec.integrity.iter().map(|d| swan_integrity(*d)));
            parts.extend(&pfs);
            parts.join("-")
        })
        .collect()
}

/// A connection (section) name swanctl accepts: letters, digits, `-` and `_` (a `.` would
/// split swanctl's setting keys).
pub(super) fn swan_name(session_id: &str) -> String {
    let id: String = session_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("strait-{id}")
}

/// Characters never written inside a quoted swanctl.conf string: the quote and escape
/// characters, `$` (references), `#` and braces (comments and sections, should a parser
/// ever look inside quotes).
fn unquotable(c: char) -> bool {
    !(' '..='~').contains(&c) || matches!(c, '"' | '\\' | '$' | '#' | '{' | '}')
}

/// Whether `s` can be written between double quotes in swanctl.conf as is.
pub(super) fn quotable(s: &str) -> bool {
    !s.chars().any(unquotable)
}

/// A string value for swanctl.conf: quoted when that is safe, else `None`.
fn swan_quote(s: &str) -> Option<String> {
    quotable(s).then(|| format!("\"{s}\""))
}

/// An IKE ID for swanctl.conf: a DN in strongSwan's syntax ([`swan_dn`]), quoted; anything
/// strongSwan 5.9 would read differently is flagged with a `# CHECK:` comment (IDs strait
/// accepts rarely are), and characters a quoted string cannot hold are replaced by `?`.
pub(super) fn swan_id(s: &str) -> String {
    let (text, mut problems) = if s.parse::<IpAddr>().is_err() && s.contains('=') {
        let dn = swan_dn(s);
        (dn.text, dn.problems)
    } else {
        (s.to_owned(), Vec::new())
    };
    let quoted = swan_quote(&text).unwrap_or_else(|| {
        problems.push("characters that swanctl.conf cannot quote were replaced by ?".into());
        let safe: String = text
            .chars()
            .map(|c| if unquotable(c) { '?' } else { c })
            .collect();
        format!("\"{safe}\"")
    });
    if problems.is_empty() {
        quoted
    } else {
        format!("{quoted}  # CHECK: {}", problems.join("; "))
    }
}

/// A distinguished name in strongSwan's syntax, and what strongSwan 5.9 would read
/// differently from the DN strait uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwanDn {
    /// `C=US, O=Org, CN=Site123, emailAddress=vpn@example.com`: the RDNs in the order given
    /// (strongSwan compares DNs RDN by RDN, in order), strongSwan's attribute names, values
    /// unescaped.
    pub text: String,
    /// What to check by hand, e.g. a value with a comma (strongSwan 5.9 splits RDNs at every
    /// `,` and `/`).
    pub problems: Vec<String>,
}

/// strongSwan's name for a DN attribute type, from any spelling strait accepts (case
/// insensitive); `None` when strongSwan 5.9 has no name for it.
fn swan_attribute(name: &str) -> Option<&'static str> {
    const NAMES: &[(&str, &[&str])] = &[
        ("C", &["c", "countryname"]),
        ("ST", &["st", "s", "sp", "stateorprovincename"]),
        ("L", &["l", "localityname"]),
        ("O", &["o", "organizationname"]),
        ("OU", &["ou", "organizationalunitname"]),
        ("CN", &["cn", "commonname"]),
        ("emailAddress", &["emailaddress", "email", "e"]),
        ("serialNumber", &["serialnumber"]),
        ("DC", &["dc", "domaincomponent"]),
        ("UID", &["uid", "userid"]),
        ("T", &["title", "t"]),
        ("G", &["gn", "g", "givenname"]),
        // strait's SN is the surname (2.5.4.4), strongSwan's S; strongSwan's SN is the
        // serial number.
        ("S", &["sn", "surname"]),
        ("I", &["initials", "i"]),
        ("dnQualifier", &["dnqualifier", "dnq"]),
        ("pseudonym", &["pseudonym"]),
        ("N", &["name"]),
        ("D", &["description"]),
        ("unstructuredName", &["unstructuredname"]),
        ("unstructuredAddress", &["unstructuredaddress"]),
    ];
    let lower = name.trim().to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(_, aliases)| aliases.contains(&lower.as_str()))
        .map(|(n, _)| *n)
}

/// Splits `s` at every `sep` that is not escaped with a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// An RFC 4514 attribute value without its escapes (`\,` and `\2C` are both `,`).
fn unescape_value(v: &str) -> String {
    let mut bytes = Vec::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let hi = chars.next_if(char::is_ascii_hexdigit);
        match (hi, hi.and_then(|_| chars.next_if(char::is_ascii_hexdigit))) {
            (Some(h), Some(l)) => {
                let pair = [h, l].iter().collect::<String>();
                bytes.push(u8::from_str_radix(&pair, 16).unwrap_or(b'?'));
            }
            (Some(h), None) => bytes.push(h as u8),
            _ => {
                if let Some(n) = chars.next() {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(n.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A DN as strait writes it (RFC 4514 escapes, certificate order, e.g. `C=US, O=Org,
/// CN=Site123, emailAddress=vpn@example.com`) in strongSwan's syntax. strongSwan 5.9 splits
/// RDNs at every `,` and `/` and has no escapes, no multi-valued RDNs and no `#hex` values:
/// such parts are kept and reported in [`SwanDn::problems`].
pub fn swan_dn(dn: &str) -> SwanDn {
    let mut rdns = Vec::new();
    let mut problems = Vec::new();
    for rdn in split_unescaped(dn, ',') {
        let avas = split_unescaped(rdn, '+');
        if avas.len() > 1 {
            problems.push(format!(
                "{:?} is a multi-valued RDN, which strongSwan reads as one value",
                rdn.trim()
            ));
        }
        for ava in avas {
            let Some((ty, value)) = ava.split_once('=') else {
                problems.push(format!("{:?} is not TYPE=value", ava.trim()));
                rdns.push(ava.trim().to_owned());
                continue;
            };
            let name = swan_attribute(ty).unwrap_or_else(|| {
                problems.push(format!(
                    "strongSwan 5.9 may not know the attribute type {:?}",
                    ty.trim()
                ));
                ty.trim()
            });
            let value = value.trim();
            if value.starts_with('#') {
                problems.push(format!(
                    "{name}={value} is a DER (#hex) value, which strongSwan reads as text"
                ));
            }
            let value = unescape_value(value);
            if value.contains([',', '/']) {
                problems.push(format!(
                    "the value {value:?} holds ',' or '/', where strongSwan 5.9 starts a new RDN"
                ));
            }
            rdns.push(format!("{name}={value}"));
        }
    }
    SwanDn {
        text: rdns.join(", "),
        problems,
    }
}

/// A file name from an object id: letters, digits, `-`, `_` and `.` (not leading), the rest
/// `_`.
pub(super) fn file_stem(id: &str) -> String {
    let stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        "strait".to_owned()
    } else {
        stem.to_owned()
    }
}

/// The PSK as a swanctl secret: quoted when that is safe and it does not look like swanctl's
/// `0x`/`0s` encodings, else hex (`0x...`) of its UTF-8 bytes, which is exactly what strait
/// uses as the key.
pub fn swan_secret(psk: &str) -> Zeroizing<String> {
    let lower = psk.get(..2).map(str::to_ascii_lowercase);
    let encoded_prefix = matches!(lower.as_deref(), Some("0x" | "0s"));
    if quotable(psk) && !encoded_prefix {
        return Zeroizing::new(format!("\"{psk}\""));
    }
    let mut hex = Zeroizing::new(String::with_capacity(2 + psk.len() * 2));
    hex.push_str("0x");
    for b in psk.as_bytes() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}
