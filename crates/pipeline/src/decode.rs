//! A streaming decoder for the feature store's batch body,
//! `{"id":N,"values":[...]}`, fed in chunks as they come off the socket.
//!
//! Buffering a whole 20 KB body before decoding it costs one body-sized
//! buffer per request in flight, which at ten thousand requests is most of a
//! run's memory. [`BatchDecoder`] keeps only the decoded values (8 bytes per
//! value, under half the JSON's size) and the few bytes of a number that a
//! chunk boundary cut in two. Its floats are parsed with `fast-float2`, which
//! rounds correctly like serde_json with `float_roundtrip`, so the values, and
//! so every checksum, are bit-identical to a `serde_json` decode.
//!
//! It reads JSON as the feature store writes it, and any whitespace around
//! the tokens, with the two fields in either order. It rejects what serde_json
//! would reject (a truncated body, malformed JSON, a number out of range, an
//! id that is not an unsigned integer), and also an unknown field and a key
//! with escapes, which the store never writes.

use crate::{BatchError, MAX_BODY_BYTES};

/// A feature batch decoded from the store's JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedBatch {
    /// The batch id the body names (always the one asked for).
    pub id: u64,
    /// The feature values, in order; never empty.
    pub values: Vec<f64>,
}

/// Decodes one feature batch from body chunks as they arrive.
///
/// Feed every chunk to [`BatchDecoder::feed`], then call
/// [`BatchDecoder::finish`]. The first error ends the decode: later feeds
/// return it again.
///
/// ```
/// use pipeline::BatchDecoder;
///
/// let mut decoder = BatchDecoder::new(7);
/// for chunk in [&b"{\"id\":7,\"val"[..], b"ues\":[0.5,-1", b".25e1]}"] {
///     decoder.feed(chunk)?;
/// }
/// let batch = decoder.finish()?;
/// assert_eq!(batch.values, [0.5, -12.5]);
/// # Ok::<(), pipeline::BatchError>(())
/// ```
#[derive(Debug)]
pub struct BatchDecoder {
    expected_id: u64,
    state: State,
    /// The start of a token (number or key) that the last chunk cut short.
    partial: Vec<u8>,
    id: Option<u64>,
    values: Vec<f64>,
    seen_values: bool,
    body_bytes: usize,
    failed: Option<BatchError>,
}

/// Where the decoder is in the body's grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After a member's `,`: a key.
    NextKey,
    /// Inside a key's string.
    InKey,
    /// After a key: `:`.
    Colon(Field),
    /// After `:`: the field's value.
    Value(Field),
    /// Inside the id's number.
    InId,
    /// After `[`: a value or `]`.
    FirstValue,
    /// After a value's `,`: a value.
    NextValue,
    /// Inside a value's number.
    InValue,
    /// After a value: `,` or `]`.
    AfterValue,
    /// After a member: `,` or `}`.
    AfterMember,
    /// After the closing `}`: only whitespace.
    Done,
}

/// The two fields of a batch body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Values,
}

impl BatchDecoder {
    /// A decoder for the body of batch `expected_id`.
    pub fn new(expected_id: u64) -> Self {
        Self::with_capacity(expected_id, 0)
    }

    /// A decoder that reserves room for `n_values` values up front (the
    /// workload's feature count), so the values are not copied as they grow.
    pub fn with_capacity(expected_id: u64, n_values: usize) -> Self {
        BatchDecoder {
            expected_id,
            state: State::Start,
            partial: Vec::new(),
            id: None,
            values: Vec::with_capacity(n_values),
            seen_values: false,
            body_bytes: 0,
            failed: None,
        }
    }

    /// Decodes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), BatchError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        self.body_bytes = self.body_bytes.saturating_add(chunk.len());
        let result = if self.body_bytes > MAX_BODY_BYTES {
            Err(BatchError::BodyTooLarge(MAX_BODY_BYTES))
        } else {
            self.feed_within_limit(chunk)
        };
        if let Err(error) = &result {
            self.failed = Some(error.clone());
            self.partial = Vec::new();
        }
        result
    }

    /// Ends the body: the batch, or why the body was not a whole batch.
    pub fn finish(mut self) -> Result<DecodedBatch, BatchError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.state != State::Done {
            return Err(malformed(format!(
                "body ends after {} bytes, before the batch does",
                self.body_bytes
            )));
        }
        self.values.shrink_to_fit();
        Ok(DecodedBatch {
            id: self.id.ok_or_else(|| malformed("missing field `id`"))?,
            values: self.values,
        })
    }

    fn feed_within_limit(&mut self, chunk: &[u8]) -> Result<(), BatchError> {
        let mut pos = 0;
        while pos < chunk.len() {
            let byte = chunk[pos];
            match self.state {
                State::InKey => {
                    let rest = &chunk[pos..];
                    let Some(end) = rest.iter().position(|&b| b == b'"' || b == b'\\') else {
                        self.partial.extend_from_slice(rest);
                        return Ok(());
                    };
                    if rest[end] == b'\\' {
                        return Err(malformed("escaped keys are not supported"));
                    }
                    self.partial.extend_from_slice(&rest[..end]);
                    let key = std::mem::take(&mut self.partial);
                    let field = self.field(&key)?;
                    self.partial = reuse(key);
                    self.state = State::Colon(field);
                    pos += end + 1;
                    continue;
                }
                State::InId | State::InValue => {
                    let rest = &chunk[pos..];
                    let end = token_end(rest);
                    self.partial.extend_from_slice(&rest[..end]);
                    if end == rest.len() {
                        return Ok(());
                    }
                    let token = std::mem::take(&mut self.partial);
                    self.number(&token)?;
                    self.partial = reuse(token);
                    pos += end;
                    continue;
                }
                _ => {}
            }
            if is_whitespace(byte) {
                pos += 1;
                continue;
            }
            self.state = match (self.state, byte) {
                (State::Start, b'{') => State::FirstKey,
                (State::FirstKey | State::NextKey, b'"') => State::InKey,
                (State::FirstKey, b'}') => self.close()?,
                (State::Colon(field), b':') => State::Value(field),
                (State::Value(Field::Values), b'[') => State::FirstValue,
                (State::Value(Field::Id), b'-' | b'0'..=b'9') => {
                    pos += self.start_number(&chunk[pos..], State::InId)?;
                    continue;
                }
                (State::FirstValue | State::NextValue, b'-' | b'0'..=b'9') => {
                    pos += self.values(&chunk[pos..])?;
                    continue;
                }
                (State::FirstValue | State::AfterValue, b']') => State::AfterMember,
                (State::AfterValue, b',') => State::NextValue,
                (State::AfterMember, b',') => State::NextKey,
                (State::AfterMember, b'}') => self.close()?,
                (state, byte) => {
                    return Err(malformed(format!(
                        "unexpected {} {}",
                        describe(byte),
                        expected(state)
                    )));
                }
            };
            pos += 1;
        }
        Ok(())
    }

    /// Decodes the number that starts `rest`, or keeps its start when the
    /// chunk ends inside it; returns the bytes consumed.
    fn start_number(&mut self, rest: &[u8], inside: State) -> Result<usize, BatchError> {
        let end = token_end(rest);
        self.state = inside;
        if end == rest.len() {
            self.partial.clear();
            self.partial.extend_from_slice(rest);
        } else {
            self.number(&rest[..end])?;
        }
        Ok(end)
    }

    /// Decodes the values that start `rest`: the hot path of the decoder.
    /// Values written as the store writes them, `0.5,-1.25,3`, are taken
    /// one after another here, each scanned once for its end and its
    /// grammar; whitespace, the closing `]`, a value the chunk cuts short or
    /// an invalid one go back to the byte-by-byte path of `feed`. Returns
    /// the bytes consumed.
    fn values(&mut self, rest: &[u8]) -> Result<usize, BatchError> {
        let mut pos = 0;
        loop {
            let Some(len) = whole_number_len(&rest[pos..]) else {
                return Ok(pos + self.start_number(&rest[pos..], State::InValue)?);
            };
            self.push_value(&rest[pos..pos + len])?;
            pos += len;
            let next_is_value = rest.get(pos) == Some(&b',')
                && matches!(rest.get(pos + 1), Some(b'-' | b'0'..=b'9'));
            if !next_is_value {
                self.state = State::AfterValue;
                return Ok(pos);
            }
            pos += 1;
        }
    }

    /// Takes one whole number token of the current field.
    fn number(&mut self, token: &[u8]) -> Result<(), BatchError> {
        if !is_json_number(token) {
            return Err(invalid_number(token));
        }
        if self.state == State::InId {
            let id = parse_id(token)?;
            if id != self.expected_id {
                return Err(malformed(format!(
                    "asked for batch {}, got batch {id}",
                    self.expected_id
                )));
            }
            self.id = Some(id);
            self.state = State::AfterMember;
        } else {
            self.push_value(token)?;
            self.state = State::AfterValue;
        }
        Ok(())
    }

    /// Parses one value whose token is a JSON number and keeps it.
    fn push_value(&mut self, token: &[u8]) -> Result<(), BatchError> {
        let value: f64 = fast_float2::parse(token).map_err(|_| invalid_number(token))?;
        // serde_json rejects a number too large for an f64, as does this.
        if !value.is_finite() {
            return Err(malformed("number out of range"));
        }
        self.values.push(value);
        Ok(())
    }

    /// The field a key names, once: an unknown or repeated key is an error.
    fn field(&mut self, key: &[u8]) -> Result<Field, BatchError> {
        let (field, seen) = match key {
            b"id" => (Field::Id, self.id.is_some()),
            b"values" => (Field::Values, self.seen_values),
            other => {
                return Err(malformed(format!(
                    "unknown field {:?}",
                    String::from_utf8_lossy(other)
                )));
            }
        };
        if seen {
            return Err(malformed(format!(
                "duplicate field `{}`",
                String::from_utf8_lossy(key)
            )));
        }
        if field == Field::Values {
            self.seen_values = true;
        }
        Ok(field)
    }

    /// The closing `}`: both fields must be there, and values non-empty.
    fn close(&self) -> Result<State, BatchError> {
        if self.id.is_none() {
            return Err(malformed("missing field `id`"));
        }
        if !self.seen_values {
            return Err(malformed("missing field `values`"));
        }
        if self.values.is_empty() {
            return Err(BatchError::Decode("batch has no values".into()));
        }
        Ok(State::Done)
    }
}

/// Decodes a whole body of batch `expected_id` at once.
pub fn decode_batch(expected_id: u64, body: &[u8]) -> Result<Vec<f64>, BatchError> {
    let mut decoder = BatchDecoder::new(expected_id);
    decoder.feed(body)?;
    Ok(decoder.finish()?.values)
}

/// An emptied buffer, kept for the next cut token so it is not allocated again.
fn reuse(mut buffer: Vec<u8>) -> Vec<u8> {
    buffer.clear();
    buffer
}

fn malformed(message: impl Into<String>) -> BatchError {
    BatchError::Decode(message.into())
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether a JSON number can hold `byte`.
fn is_number_byte(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// The length of the number-like token that starts `bytes`: it ends at the
/// first byte that no JSON number holds (or at the end of the chunk).
fn token_end(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is_number_byte(b))
        .unwrap_or(bytes.len())
}

/// The length of the JSON number that starts `bytes`, by JSON's grammar
/// (RFC 8259, section 6): `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`,
/// taking as much as the grammar allows; `None` where `bytes` does not start
/// with one. The float parser also takes forms JSON forbids (`+1`, `.5`,
/// `1.`, `01`), so the grammar is checked first.
#[inline]
fn json_number_len(bytes: &[u8]) -> Option<usize> {
    let digits_end = |mut at: usize| {
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        at
    };
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    at = match bytes.get(at)? {
        b'0' => at + 1,
        b'1'..=b'9' => digits_end(at + 1),
        _ => return None,
    };
    if bytes.get(at) == Some(&b'.') {
        let end = digits_end(at + 1);
        if end == at + 1 {
            return None;
        }
        at = end;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let end = digits_end(at);
        if end == at {
            return None;
        }
        at = end;
    }
    Some(at)
}

/// Whether `token` is one JSON number, all of it.
fn is_json_number(token: &[u8]) -> bool {
    json_number_len(token) == Some(token.len())
}

/// The length of the JSON number that starts `bytes` when `bytes` also holds
/// the byte after it, one that no number holds; `None` when the chunk ends
/// inside the number or the token is not a JSON number.
#[inline]
fn whole_number_len(bytes: &[u8]) -> Option<usize> {
    let len = json_number_len(bytes)?;
    let after = *bytes.get(len)?;
    (!is_number_byte(after)).then_some(len)
}

fn invalid_number(token: &[u8]) -> BatchError {
    malformed(format!(
        "invalid number {:?}",
        String::from_utf8_lossy(token)
    ))
}

/// The id: an unsigned integer that fits a `u64`, as serde_json requires.
fn parse_id(token: &[u8]) -> Result<u64, BatchError> {
    let invalid = || {
        malformed(format!(
            "batch id must be an unsigned integer, got {:?}",
            String::from_utf8_lossy(token)
        ))
    };
    if !token.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    std::str::from_utf8(token)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(invalid)
}

fn describe(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("{:?}", char::from(byte))
    } else {
        format!("byte 0x{byte:02x}")
    }
}

fn expected(state: State) -> &'static str {
    match state {
        State::Start => "where the batch's `{` should be",
        State::FirstKey => "where a key or `}` should be",
        State::NextKey => "where a key should be",
        State::Colon(_) => "where `:` should be",
        State::Value(Field::Id) => "where the id should be",
        State::Value(Field::Values) => "where the values' `[` should be",
        State::FirstValue => "where a value or `]` should be",
        State::NextValue => "where a value should be",
        State::AfterValue => "where `,` or `]` should be",
        State::AfterMember => "where `,` or `}` should be",
        State::Done => "after the batch",
        State::InKey | State::InId | State::InValue => "inside a token",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values serde_json decodes from `body` (the reference).
    fn serde_values(body: &[u8]) -> Vec<f64> {
        #[derive(serde::Deserialize)]
        struct Batch {
            values: Vec<f64>,
        }
        serde_json::from_slice::<Batch>(body).unwrap().values
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// Feeds `body` cut at `cuts` (sorted offsets).
    fn decode_in_pieces(id: u64, body: &[u8], cuts: &[usize]) -> Result<Vec<f64>, BatchError> {
        let mut decoder = BatchDecoder::new(id);
        let mut start = 0;
        for &cut in cuts.iter().chain([&body.len()]) {
            decoder.feed(&body[start..cut])?;
            start = cut;
        }
        Ok(decoder.finish()?.values)
    }

    /// A small deterministic generator, so failures reproduce.
    fn next(state: &mut u64) -> u64 {
        *state = crate::kernel::mix(*state);
        *state
    }

    /// Number texts whose decoding must round exactly: subnormals, 17
    /// significant digits, halfway cases, signed zeros, exponents, integers.
    const HARD_NUMBERS: &str = "0,-0,-0.0,0.0,1,-1,5e-324,-5e-324,2.2250738585072011e-308,\
        2.2250738585072014e-308,4.9406564584124654e-324,1.7976931348623157e308,\
        -1.7976931348623157e308,0.1,0.2,0.30000000000000004,9007199254740993,\
        9007199254740992,18446744073709551615,18446744073709551616,123456789012345678901234567890,\
        1e23,8.98846567431158e307,2.47032822920623272e-324,1E+2,1e-2,1.5E-10,\
        0.99999999999999989,0.9999999999999999,-0.9999999999999999,\
        7.2057594037927933e16,1.00000000000000011102230246251565404236316680908203125,\
        1.00000000000000011102230246251565404236316680908203124,\
        1.00000000000000011102230246251565404236316680908203126,1e-400,-1e-400";

    #[test]
    fn hard_numbers_are_bit_identical_to_serde_json() {
        let body = format!("{{\"id\":3,\"values\":[{HARD_NUMBERS}]}}");
        let expected = serde_values(body.as_bytes());
        let decoded = decode_batch(3, body.as_bytes()).unwrap();
        assert_eq!(bits(&decoded), bits(&expected));
        // Negative zero keeps its sign.
        assert_eq!(decoded[1].to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn random_doubles_round_trip_like_serde_json() {
        let mut seed = 1;
        let numbers: Vec<String> = (0..20_000)
            .map(|i| {
                let value = f64::from_bits(next(&mut seed));
                let value = if value.is_finite() { value } else { 1.5 };
                // Shortest, 17 digits, and exponent forms.
                match i % 3 {
                    0 => format!("{value}"),
                    1 => format!("{value:.16e}"),
                    _ => format!("{value:e}"),
                }
            })
            .collect();
        let body = format!("{{\"id\":1,\"values\":[{}]}}", numbers.join(","));
        let decoded = decode_batch(1, body.as_bytes()).unwrap();
        assert_eq!(bits(&decoded), bits(&serde_values(body.as_bytes())));
    }

    #[test]
    fn store_bodies_decode_like_serde_json_in_any_chunking() {
        let mut seed = 7;
        for id in [0, 1, 42, u64::MAX] {
            let values: Vec<f64> = (0..257)
                .map(|i| {
                    (next(&mut seed) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0 + i as f64
                })
                .collect();
            let body =
                serde_json::to_vec(&serde_json::json!({ "id": id, "values": values })).unwrap();
            let whole = decode_batch(id, &body).unwrap();
            assert_eq!(bits(&whole), bits(&values));
            // One byte at a time.
            let every_byte: Vec<usize> = (1..body.len()).collect();
            assert_eq!(
                bits(&decode_in_pieces(id, &body, &every_byte).unwrap()),
                bits(&values)
            );
            // Random splits.
            for _ in 0..50 {
                let mut cuts: Vec<usize> = (0..8)
                    .map(|_| (next(&mut seed) % body.len() as u64) as usize)
                    .collect();
                cuts.sort_unstable();
                assert_eq!(
                    bits(&decode_in_pieces(id, &body, &cuts).unwrap()),
                    bits(&values)
                );
            }
        }
    }

    #[test]
    fn whitespace_and_field_order_are_accepted() {
        let body = b" {\n \"values\" : [ 1.5 ,\t-2 ] ,\r\n \"id\" : 9 } \n";
        assert_eq!(decode_batch(9, body).unwrap(), [1.5, -2.0]);
    }

    #[test]
    fn the_same_checksum_as_serde_json() {
        let body = format!("{{\"id\":5,\"values\":[{HARD_NUMBERS}]}}");
        let reference = serde_values(body.as_bytes());
        let decoded = decode_batch(5, body.as_bytes()).unwrap();
        let digest = |values: &[f64]| {
            crate::batch_digest(5, values.len(), crate::kernel::kernel_round(values, 0))
        };
        assert_eq!(digest(&decoded), digest(&reference));
    }

    #[test]
    fn truncated_bodies_are_decode_errors_at_every_cut() {
        let body = br#"{"id":4,"values":[0.25,-1e-3,17]}"#;
        for cut in 0..body.len() {
            let mut decoder = BatchDecoder::new(4);
            let fed = decoder.feed(&body[..cut]);
            let result = fed.and_then(|()| decoder.finish());
            assert!(
                matches!(result, Err(BatchError::Decode(_))),
                "cut at {cut}: {result:?}"
            );
        }
    }

    #[test]
    fn malformed_json_is_a_decode_error() {
        for body in [
            &b""[..],
            b"[1]",
            b"{\"id\":4,\"values\":[1,]}",
            b"{\"id\":4,\"values\":[,1]}",
            b"{\"id\":4,\"values\":[01]}",
            b"{\"id\":4,\"values\":[+1]}",
            b"{\"id\":4,\"values\":[.5]}",
            b"{\"id\":4,\"values\":[1.]}",
            b"{\"id\":4,\"values\":[1e]}",
            b"{\"id\":4,\"values\":[1-2]}",
            b"{\"id\":4,\"values\":[NaN]}",
            b"{\"id\":4,\"values\":[1e400]}",
            b"{\"id\":4,\"values\":[\"1\"]}",
            b"{\"id\":4,\"values\":[1]} x",
            b"{\"id\":4,\"values\":[1]}}",
            b"{\"id\":4 \"values\":[1]}",
            b"{\"id\":4,\"values\":[1],}",
            b"{\"id\":-4,\"values\":[1]}",
            b"{\"id\":4.0,\"values\":[1]}",
            b"{\"id\":18446744073709551616,\"values\":[1]}",
            b"{\"values\":[1]}",
            b"{\"id\":4}",
            b"{\"id\":4,\"id\":4,\"values\":[1]}",
            b"{\"id\":4,\"values\":[1],\"extra\":2}",
            b"{\"i\\u0064\":4,\"values\":[1]}",
        ] {
            let result = decode_batch(4, body);
            assert!(
                matches!(result, Err(BatchError::Decode(_))),
                "{:?}: {result:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_wrong_id_or_no_values_is_a_decode_error() {
        let wrong = decode_batch(2, br#"{"id":1,"values":[1]}"#);
        assert!(matches!(&wrong, Err(BatchError::Decode(m)) if m.contains("asked for batch 2")));
        let empty = decode_batch(2, br#"{"id":2,"values":[]}"#);
        assert_eq!(empty, Err(BatchError::Decode("batch has no values".into())));
    }

    #[test]
    fn an_oversized_body_is_too_large_and_stays_failed() {
        let mut decoder = BatchDecoder::new(1);
        decoder.feed(b"{\"id\":1,\"values\":[").unwrap();
        let filler = vec![b' '; MAX_BODY_BYTES];
        assert_eq!(
            decoder.feed(&filler),
            Err(BatchError::BodyTooLarge(MAX_BODY_BYTES))
        );
        assert_eq!(
            decoder.feed(b"1]}"),
            Err(BatchError::BodyTooLarge(MAX_BODY_BYTES))
        );
        assert_eq!(
            decoder.finish(),
            Err(BatchError::BodyTooLarge(MAX_BODY_BYTES))
        );
    }
}
