//! What both fetch paths put on the wire and take off it, written once: the
//! request's headers and the decoding of a compressed response body.
//!
//! The blocking path (ureq) and the async path (hyper) must send
//! byte-identical requests, or an upstream that looks at the request (httpbin
//! echoes every header back in its body) gives each path different bytes and
//! so a different checksum. Both clients write header names in lower case and
//! in the order they are given, and neither adds one of its own when these
//! are set, so the one list below is the whole request head on both paths:
//!
//! ```text
//! GET /delay/1?b=7 HTTP/1.1
//! host: 127.0.0.1:8080
//! user-agent: runtime-lab/0.1.0
//! accept: */*
//! connection: close            (fresh connections only)
//! ```
//!
//! No `accept-encoding` is sent, so a server that honours it answers
//! uncompressed; one that compresses anyway (httpbin's `/gzip`) is decoded
//! here, on both paths alike, before the bytes reach the kernel.

use crate::{BatchError, Connections, MAX_BODY_BYTES, Workload};
use std::io::Read;

/// The `user-agent` of every request: `runtime-lab/<version>`.
pub const USER_AGENT: &str = concat!("runtime-lab/", env!("CARGO_PKG_VERSION"));

/// The `accept` of every request: any media type, as curl and ureq send.
pub const ACCEPT: &str = "*/*";

/// The headers of every request of `workload`, lower-case, in the order
/// they are sent: `host`, `user-agent`, `accept`, and `connection: close`
/// when each request has a connection of its own.
pub fn request_headers(workload: &Workload) -> impl Iterator<Item = (&'static str, &str)> {
    let close = (workload.connections == Connections::Fresh).then_some(("connection", "close"));
    [
        ("host", workload.upstream.authority.as_str()),
        ("user-agent", USER_AGENT),
        ("accept", ACCEPT),
    ]
    .into_iter()
    .chain(close)
}

/// Undoes the response's `content-encoding` (gzip or deflate, or a list of
/// them), within [`MAX_BODY_BYTES`]. `None` when the body is not encoded and
/// is used as it is.
pub(crate) fn decode_content(
    encoding: Option<&[u8]>,
    body: &[u8],
) -> Result<Option<Vec<u8>>, BatchError> {
    let Some(encoding) = encoding else {
        return Ok(None);
    };
    let encoding = std::str::from_utf8(encoding)
        .map_err(|_| BatchError::Decode("content-encoding is not text".into()))?;
    let mut decoded: Option<Vec<u8>> = None;
    // Codings are listed in the order they were applied: undo them backwards.
    for coding in encoding.rsplit(',').map(str::trim) {
        let input = decoded.as_deref().unwrap_or(body);
        let output = match coding.to_ascii_lowercase().as_str() {
            "" | "identity" => continue,
            "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(input))?,
            // HTTP's "deflate" is the zlib format, though some servers send
            // raw deflate data: accept both.
            "deflate" => match read_capped(flate2::read::ZlibDecoder::new(input)) {
                Err(BatchError::Decode(_)) => {
                    read_capped(flate2::read::DeflateDecoder::new(input))?
                }
                zlib => zlib?,
            },
            other => {
                return Err(BatchError::Decode(format!(
                    "unsupported content-encoding {other:?}"
                )));
            }
        };
        decoded = Some(output);
    }
    Ok(decoded)
}

/// Reads a decoder to its end, failing past [`MAX_BODY_BYTES`] (a small
/// compressed body can expand without bound).
fn read_capped(decoder: impl Read) -> Result<Vec<u8>, BatchError> {
    let mut output = Vec::new();
    decoder
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut output)
        .map_err(|err| BatchError::Decode(format!("cannot decompress the body: {err}")))?;
    if output.len() > MAX_BODY_BYTES {
        return Err(BatchError::BodyTooLarge(MAX_BODY_BYTES));
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Upstream;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn headers_are_the_same_list_with_close_only_for_fresh_connections() {
        let upstream = Upstream::parse("http://127.0.0.1:8080/x").unwrap();
        let fresh = Workload::new(upstream.clone());
        let names: Vec<_> = request_headers(&fresh).collect();
        assert_eq!(
            names,
            [
                ("host", "127.0.0.1:8080"),
                ("user-agent", USER_AGENT),
                ("accept", "*/*"),
                ("connection", "close"),
            ]
        );
        let pooled = Workload::new(upstream).connections(Connections::Pooled);
        assert_eq!(request_headers(&pooled).count(), 3);
        assert!(USER_AGENT.starts_with("runtime-lab/"));
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded_and_plain_ones_left_alone() {
        let data = br#"{"gzipped": true}"#;
        assert_eq!(decode_content(None, data).unwrap(), None);
        assert_eq!(decode_content(Some(b"identity"), data).unwrap(), None);
        let decoded = decode_content(Some(b"gzip"), &gzip(data)).unwrap();
        assert_eq!(decoded.as_deref(), Some(&data[..]));
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(data).unwrap();
        let decoded = decode_content(Some(b"Deflate"), &zlib.finish().unwrap()).unwrap();
        assert_eq!(decoded.as_deref(), Some(&data[..]));
        let twice = gzip(&gzip(data));
        let decoded = decode_content(Some(b"gzip, gzip"), &twice).unwrap();
        assert_eq!(decoded.as_deref(), Some(&data[..]));
    }

    #[test]
    fn unknown_codings_and_corrupt_bodies_fail_the_batch() {
        assert!(matches!(
            decode_content(Some(b"br"), b"x"),
            Err(BatchError::Decode(message)) if message.contains("br")
        ));
        assert!(matches!(
            decode_content(Some(b"gzip"), b"not gzip at all"),
            Err(BatchError::Decode(_))
        ));
    }

    #[test]
    fn a_body_that_expands_past_the_cap_is_too_large() {
        let bomb = gzip(&vec![0; MAX_BODY_BYTES + 1]);
        assert_eq!(
            decode_content(Some(b"gzip"), &bomb),
            Err(BatchError::BodyTooLarge(MAX_BODY_BYTES))
        );
    }
}
