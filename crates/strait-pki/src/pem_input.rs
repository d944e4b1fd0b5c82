//! Bounded PEM decoding shared by the certificate, key and CRL parsers.

use crate::error::PkiError;

/// Largest PEM input accepted by any function of this crate (1 MiB).
pub const MAX_PEM_BYTES: usize = 1024 * 1024;

/// Decodes every PEM block of `input`.
///
/// Text outside the blocks (e.g. `openssl x509 -text` output) is ignored.
/// A `-----BEGIN` line without a matching `-----END` line is an error rather
/// than being silently dropped.
pub(crate) fn parse_blocks(input: &str, what: &'static str) -> Result<Vec<pem::Pem>, PkiError> {
    if input.len() > MAX_PEM_BYTES {
        return Err(PkiError::InputTooLarge {
            what,
            size: input.len(),
            max: MAX_PEM_BYTES,
        });
    }
    let blocks = pem::parse_many(input).map_err(|e| PkiError::MalformedPem {
        what,
        detail: describe(&e),
    })?;
    let begins = input.matches("-----BEGIN ").count();
    if begins != blocks.len() {
        return Err(PkiError::MalformedPem {
            what,
            detail: "a -----BEGIN line has no matching -----END line, the text looks truncated"
                .to_owned(),
        });
    }
    Ok(blocks)
}

fn describe(e: &pem::PemError) -> String {
    match e {
        pem::PemError::MismatchedTags(begin, end) => {
            format!("a block starts with BEGIN {begin} but ends with END {end}")
        }
        pem::PemError::MalformedFraming => "the BEGIN/END lines are malformed".to_owned(),
        pem::PemError::MissingBeginTag => "a BEGIN line has no label".to_owned(),
        pem::PemError::MissingEndTag => "an END line has no label".to_owned(),
        pem::PemError::MissingData => "a block has no data".to_owned(),
        pem::PemError::InvalidData(err) => {
            format!("the base64 text is invalid or truncated: {err}")
        }
        pem::PemError::InvalidHeader(_) => {
            "a block has an invalid header line (or an empty line inside the base64 text)"
                .to_owned()
        }
        pem::PemError::NotUtf8(_) => "the text is not UTF-8".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_text_only() {
        assert_eq!(parse_blocks("", "x").map(|v| v.len()), Ok(0));
        assert_eq!(parse_blocks("hello world", "x").map(|v| v.len()), Ok(0));
    }

    #[test]
    fn too_large() {
        let big = "a".repeat(MAX_PEM_BYTES + 1);
        assert!(matches!(
            parse_blocks(&big, "x"),
            Err(PkiError::InputTooLarge { .. })
        ));
    }

    #[test]
    fn missing_end_is_reported() {
        let text = "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n-----BEGIN FOO-----\nAAAA\n";
        let err = parse_blocks(text, "x").unwrap_err();
        assert!(err.to_string().contains("no matching -----END"), "{err}");
    }

    #[test]
    fn mismatched_tags() {
        let text = "-----BEGIN FOO-----\nAAAA\n-----END BAR-----\n";
        let err = parse_blocks(text, "x").unwrap_err();
        assert!(err.to_string().contains("BEGIN FOO"), "{err}");
    }

    #[test]
    fn bad_base64() {
        let text = "-----BEGIN FOO-----\nAA*A\n-----END FOO-----\n";
        let err = parse_blocks(text, "x").unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
    }
}
