//! IKE identities (RFC 7296 §3.5) as operators write them in `local_id` / `peer_id`.
//!
//! The contract maps strings to ID types: an IPv4 or IPv6 literal is ID_IPV4_ADDR /
//! ID_IPV6_ADDR; a string containing `=` is ID_DER_ASN1_DN; a string with `@` and no `=` is
//! ID_RFC822_ADDR; anything else is ID_FQDN.

use std::fmt;
use std::net::IpAddr;

/// A classified, syntax-checked IKE identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IkeIdentity {
    /// ID_IPV4_ADDR or ID_IPV6_ADDR.
    Ip(IpAddr),
    /// ID_FQDN, e.g. `vpn.example.com`.
    Fqdn(String),
    /// ID_RFC822_ADDR, e.g. `vpn@example.com`.
    Rfc822(String),
    /// ID_DER_ASN1_DN, kept in canonical form (`C=US, O=Org, CN=Site`).
    Dn(String),
}

impl IkeIdentity {
    /// The RFC 7296 ID type name, for messages and status.
    pub fn type_name(&self) -> &'static str {
        match self {
            IkeIdentity::Ip(IpAddr::V4(_)) => "ID_IPV4_ADDR",
            IkeIdentity::Ip(IpAddr::V6(_)) => "ID_IPV6_ADDR",
            IkeIdentity::Fqdn(_) => "ID_FQDN",
            IkeIdentity::Rfc822(_) => "ID_RFC822_ADDR",
            IkeIdentity::Dn(_) => "ID_DER_ASN1_DN",
        }
    }

    /// Classify and check an identity string.
    pub fn parse(s: &str) -> Result<IkeIdentity, String> {
        if s.is_empty() {
            return Err(
                "the ID is empty; use an IP address, an FQDN such as vpn.example.com, \
                        an email address, or (with certificates) a DN"
                    .into(),
            );
        }
        if s.trim() != s {
            return Err(format!("{s:?} has leading or trailing spaces; remove them"));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(IkeIdentity::Ip(ip));
        }
        if s.contains('=') {
            return parse_dn(s).map(IkeIdentity::Dn);
        }
        if let Some((local, domain)) = s.rsplit_once('@') {
            if local.is_empty() || local.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "{s:?} is not a valid email-style ID: the part before @ must be non-empty \
                     and without spaces"
                ));
            }
            check_fqdn(domain).map_err(|e| format!("{s:?} is not a valid email-style ID: {e}"))?;
            return Ok(IkeIdentity::Rfc822(s.to_owned()));
        }
        check_fqdn(s)?;
        Ok(IkeIdentity::Fqdn(s.to_owned()))
    }
}

impl fmt::Display for IkeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IkeIdentity::Ip(ip) => write!(f, "{ip}"),
            IkeIdentity::Fqdn(s) | IkeIdentity::Rfc822(s) | IkeIdentity::Dn(s) => f.write_str(s),
        }
    }
}

fn parse_dn(s: &str) -> Result<String, String> {
    // The seed page shows OpenSSL's one-line form `CN=Site123/emailAddress=x@y`; IKE peers
    // (and strongSwan) expect the email attribute as its own RDN.
    if let Some(pos) = s.find("/emailAddress=").or_else(|| s.find("/E=")) {
        let (head, tail) = s.split_at(pos);
        return Err(format!(
            "{s:?} writes the email attribute OpenSSL-style after a '/'; write it as a separate \
             attribute: \"{head}, {}\"",
            tail.strip_prefix('/').unwrap_or(tail)
        ));
    }
    strait_pki::normalize_dn(s).map_err(|e| {
        format!(
            "{:?} looks like a distinguished name (it contains '=') but {e}",
            crate::reader::truncate(s, 128)
        )
    })
}

/// Check FQDN syntax: 1–253 characters, dot-separated labels of 1–63 letters, digits, `-`
/// or `_`; a single trailing dot is allowed.
pub fn check_fqdn(s: &str) -> Result<(), String> {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() {
        return Err("the name is empty; use an FQDN such as vpn.example.com".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "{:?} is longer than 253 characters",
            crate::reader::truncate(s, 64)
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("{s:?} has an empty label (two dots in a row)"));
        }
        if label.len() > 63 {
            return Err(format!("{s:?} has a label longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{:?} contains {c:?}; an FQDN uses letters, digits, '-' and '.' (for a DN with \
                 certificates write attributes like \"C=US, O=Org, CN=site\")",
                crate::reader::truncate(s, 64)
            ));
        }
    }
    if name
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "{s:?} looks like an IPv4 address but is not a valid one; write four numbers 0-255"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_per_the_contract() {
        assert_eq!(
            IkeIdentity::parse("203.0.113.5").unwrap().type_name(),
            "ID_IPV4_ADDR"
        );
        assert_eq!(
            IkeIdentity::parse("2001:db8::1").unwrap().type_name(),
            "ID_IPV6_ADDR"
        );
        assert_eq!(
            IkeIdentity::parse("vpn.example.com").unwrap().type_name(),
            "ID_FQDN"
        );
        assert_eq!(IkeIdentity::parse("site-b").unwrap().type_name(), "ID_FQDN");
        assert_eq!(
            IkeIdentity::parse("vpn@example.com").unwrap().type_name(),
            "ID_RFC822_ADDR"
        );
        assert_eq!(
            IkeIdentity::parse("C=US, O=Org, CN=Site")
                .unwrap()
                .type_name(),
            "ID_DER_ASN1_DN"
        );
    }

    #[test]
    fn the_seed_pages_dn_with_email_is_accepted() {
        let id = IkeIdentity::parse(
            "C=US, ST=California, O=MyCompany, OU=MyOrg, CN=Site123, emailAddress=admin@example.com",
        )
        .unwrap();
        assert_eq!(id.type_name(), "ID_DER_ASN1_DN");
    }

    #[test]
    fn the_openssl_slash_form_is_explained() {
        let e = IkeIdentity::parse("C=US, CN=Site123/emailAddress=a@example.com").unwrap_err();
        assert!(
            e.contains("\"C=US, CN=Site123, emailAddress=a@example.com\""),
            "{e}"
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        assert!(IkeIdentity::parse("").is_err());
        assert!(IkeIdentity::parse(" 1.2.3.4").is_err());
        assert!(IkeIdentity::parse("1.2.3.256").is_err());
        assert!(IkeIdentity::parse("a..b").is_err());
        assert!(IkeIdentity::parse("has space.com").is_err());
        assert!(IkeIdentity::parse("@example.com").is_err());
        assert!(IkeIdentity::parse("x@").is_err());
    }
}
