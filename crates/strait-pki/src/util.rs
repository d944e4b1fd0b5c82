//! Small formatting helpers shared by the modules.

use std::fmt::Write as _;

/// Hex-encodes `bytes` as `aa:bb:cc` (lowercase) or `AA:BB:CC` (uppercase).
pub(crate) fn hex_colon(bytes: &[u8], upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len().saturating_mul(3));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        // Writing into a String cannot fail.
        let _ = if upper {
            write!(out, "{b:02X}")
        } else {
            write!(out, "{b:02x}")
        };
    }
    out
}

/// Hex-encodes `bytes` without separators, lowercase.
pub(crate) fn hex_plain(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Strips the leading zero bytes of a big-endian unsigned integer, keeping at
/// least one byte when the input is not empty.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first_nonzero = bytes.iter().position(|b| *b != 0);
    match first_nonzero {
        Some(i) => bytes.get(i..).unwrap_or(bytes),
        None => bytes.get(bytes.len().saturating_sub(1)..).unwrap_or(bytes),
    }
}

/// Formats a serial number (raw DER INTEGER content) as lowercase,
/// colon-separated hex without redundant leading zero bytes.
pub(crate) fn format_serial(raw: &[u8]) -> String {
    hex_colon(strip_leading_zeros(raw), false)
}

/// Number of significant bits of a big-endian unsigned integer.
pub(crate) fn bit_length(bytes: &[u8]) -> u32 {
    let stripped = strip_leading_zeros(bytes);
    match stripped.first() {
        None | Some(0) => 0,
        Some(first) => {
            let len = u32::try_from(stripped.len()).unwrap_or(u32::MAX);
            len.saturating_sub(1)
                .saturating_mul(8)
                .saturating_add(8 - first.leading_zeros())
        }
    }
}

/// Seconds since the epoch to milliseconds, saturating.
pub(crate) fn secs_to_ms(secs: i64) -> i64 {
    secs.saturating_mul(1000)
}

/// Shortens `s` to at most `max` characters for inclusion in a message.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_formats() {
        assert_eq!(hex_colon(&[0x0a, 0x1b, 0xff], false), "0a:1b:ff");
        assert_eq!(hex_colon(&[0x0a, 0x1b, 0xff], true), "0A:1B:FF");
        assert_eq!(hex_colon(&[], true), "");
        assert_eq!(hex_plain(&[0xde, 0xad]), "dead");
    }

    #[test]
    fn serials() {
        assert_eq!(format_serial(&[0x00, 0x80, 0x01]), "80:01");
        assert_eq!(format_serial(&[0x00]), "00");
        assert_eq!(format_serial(&[0x00, 0x00]), "00");
        assert_eq!(format_serial(&[]), "");
        assert_eq!(format_serial(&[0x7f]), "7f");
    }

    #[test]
    fn bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0x00]), 9);
    }

    #[test]
    fn shortening() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc...");
    }

    #[test]
    fn ms() {
        assert_eq!(secs_to_ms(2), 2000);
        assert_eq!(secs_to_ms(i64::MAX), i64::MAX);
    }
}
