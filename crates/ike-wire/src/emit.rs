//! The encoder's output buffer: lengths and counts go through checked conversions.
//!
//! Every count and length IKEv2 puts on the wire has a fixed width (RFC 7296 §3: 8-bit SPI
//! sizes, transform and selector counts; 16-bit payload, proposal and transform lengths;
//! a 32-bit message length). Payloads are plain public structs, so nothing stops a caller
//! from building one whose length does not fit. Such a value is written saturated (the
//! peer rejects the message as malformed rather than misreading it) and the first one is
//! kept, so that [`crate::Message::try_emit`] can return it as an [`EncodeError`].

/// A payload that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A count or length is larger than its field on the wire can hold.
    #[error("{field} is {value}, more than its {bits}-bit field on the wire can hold")]
    FieldOverflow {
        /// The field.
        field: &'static str,
        /// The value that does not fit.
        value: usize,
        /// Width of the field.
        bits: u32,
    },
}

/// Bytes being encoded and the first value that did not fit its field.
#[derive(Default)]
pub(crate) struct Emitter {
    pub(crate) out: Vec<u8>,
    overflow: Option<EncodeError>,
}

/// Where a 16-bit length field was reserved, and where the structure it measures starts.
#[must_use = "a reserved length field must be filled with `Emitter::fill_length`"]
pub(crate) struct LengthSlot {
    field: &'static str,
    start: usize,
    at: usize,
}

impl Emitter {
    /// The bytes, and the first value that did not fit its field.
    pub(crate) fn finish(self) -> (Vec<u8>, Option<EncodeError>) {
        (self.out, self.overflow)
    }

    pub(crate) fn push(&mut self, b: u8) {
        self.out.push(b);
    }

    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn overflowed(&mut self, field: &'static str, value: usize, bits: u32) {
        self.overflow
            .get_or_insert(EncodeError::FieldOverflow { field, value, bits });
    }

    /// `value` as an 8-bit field (saturated and recorded when it does not fit).
    pub(crate) fn fit_u8(&mut self, field: &'static str, value: usize) -> u8 {
        u8::try_from(value).unwrap_or_else(|_| {
            self.overflowed(field, value, u8::BITS);
            u8::MAX
        })
    }

    /// `value` as a 16-bit field (saturated and recorded when it does not fit).
    pub(crate) fn fit_u16(&mut self, field: &'static str, value: usize) -> u16 {
        u16::try_from(value).unwrap_or_else(|_| {
            self.overflowed(field, value, u16::BITS);
            u16::MAX
        })
    }

    /// `value` as a 32-bit field (saturated and recorded when it does not fit).
    pub(crate) fn fit_u32(&mut self, field: &'static str, value: usize) -> u32 {
        u32::try_from(value).unwrap_or_else(|_| {
            self.overflowed(field, value, u32::BITS);
            u32::MAX
        })
    }

    /// Starts a structure whose 16-bit length field follows `prefix`: appends `prefix`
    /// and two zero bytes, filled by `fill_length` once the structure is complete.
    pub(crate) fn reserve_length(&mut self, field: &'static str, prefix: &[u8]) -> LengthSlot {
        let start = self.out.len();
        self.out.extend_from_slice(prefix);
        let at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        LengthSlot { field, start, at }
    }

    /// Writes the length of everything appended since `slot` was reserved into it.
    pub(crate) fn fill_length(&mut self, slot: LengthSlot) {
        let len = self.out.len().saturating_sub(slot.start);
        let len = self.fit_u16(slot.field, len).to_be_bytes();
        match self.out.get_mut(slot.at..slot.at.saturating_add(2)) {
            Some(field) => field.copy_from_slice(&len),
            // Nothing truncates `out` while a slot is open; this only guards that.
            None => debug_assert!(
                false,
                "length field of the {} at {} lies beyond the {} bytes emitted",
                slot.field,
                slot.at,
                self.out.len()
            ),
        }
    }
}
