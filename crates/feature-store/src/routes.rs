//! Request routing and the deterministic feature values.

use crate::faults::{Fault, Faults, MAX_STALL_MS};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Method, Request, Response, StatusCode, header};
use serde::Serialize;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Most feature values one batch may ask for (`n`); about 2 MB of JSON.
pub const MAX_VALUES: u32 = 100_000;
/// Longest delay one request may ask for (`delay_ms`, or `/delay/{seconds}`).
pub const MAX_DELAY_MS: u64 = 60_000;
/// Values per batch when `n` is not given.
const DEFAULT_VALUES: u32 = 1024;
/// The `service` field of `GET /health`'s JSON body: how a client tells a
/// feature store from any other server that answers `/health`.
pub const HEALTH_SERVICE: &str = "runtime-lab feature store";

/// The feature values of batch `id`: `n` numbers in `[-1, 1)`, a pure
/// function of `id` and the index, identical on every run and machine.
pub fn values(id: u64, n: u32) -> Vec<f64> {
    (0..u64::from(n))
        .map(|index| {
            let bits = splitmix64(id.wrapping_mul(0x1000_0000_01b3) ^ index);
            // 53 random bits -> [0, 1) -> [-1, 1).
            (bits >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Serialize)]
struct FeatureBatch {
    id: u64,
    values: Vec<f64>,
}

/// Every reply body: whole, or cut short by a [`Fault::Reset`].
type ReplyBody = BoxBody<Bytes, std::io::Error>;
type Reply = Response<ReplyBody>;

/// The encoded bodies of feature batches, shared by every request of one
/// store process and bounded in bytes.
///
/// A batch's body is a pure function of its id and value count, and encoding
/// 1024 floats as JSON costs more CPU than the rest of a request together:
/// runs of a sweep ask for the same batches again and again, so each body is
/// encoded once and then served from here as a shared [`Bytes`] (a reference
/// count, no copy). A miss encodes outside any lock; two concurrent misses
/// for one batch both encode it, which is cheaper than making one wait.
pub(crate) struct BatchBodies {
    cache: quick_cache::sync::Cache<(u64, u32), Bytes, BodyWeighter>,
}

impl BatchBodies {
    /// A cache that holds at most `capacity_bytes` of bodies (0: none).
    pub(crate) fn new(capacity_bytes: u64) -> Self {
        // The estimated item count sizes the cache's tables: the default
        // batch's body is about 20 KB.
        let estimated_items = (capacity_bytes / 20_000).clamp(16, 1 << 20) as usize;
        BatchBodies {
            cache: quick_cache::sync::Cache::with_weighter(
                estimated_items,
                capacity_bytes.max(1),
                BodyWeighter,
            ),
        }
    }

    /// The body of batch `id` with `n_values` values, byte for byte what
    /// `serde_json` writes for `{"id": id, "values": values(id, n_values)}`.
    pub(crate) fn get(&self, id: u64, n_values: u32) -> Bytes {
        if let Some(body) = self.cache.get(&(id, n_values)) {
            return body;
        }
        let body = Bytes::from(encode_json(&FeatureBatch {
            id,
            values: values(id, n_values),
        }));
        // A body larger than a shard of the cache is not kept; it is still served.
        self.cache.insert((id, n_values), body.clone());
        body
    }

    /// Bytes of bodies held now.
    #[cfg(test)]
    fn held_bytes(&self) -> u64 {
        self.cache.weight()
    }
}

/// Weighs a cached body by its length (plus its key), so the bound is in bytes.
#[derive(Clone)]
struct BodyWeighter;

impl quick_cache::Weighter<(u64, u32), Bytes> for BodyWeighter {
    fn weight(&self, _key: &(u64, u32), body: &Bytes) -> u64 {
        // Never zero: a zero-weight entry would never be evicted.
        body.len() as u64 + 16
    }
}

/// What every request of one store process shares.
pub(crate) struct Shared {
    /// Injected faults.
    pub(crate) faults: Faults,
    /// Encoded batch bodies.
    pub(crate) bodies: BatchBodies,
}

pub(crate) async fn handle(
    request: Request<Incoming>,
    shared: &Shared,
) -> Result<Reply, Infallible> {
    if request.method() != Method::GET {
        return Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is supported",
        ));
    }
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    // The routes are fixed prefixes: no per-request allocation to find them.
    let route = path.trim_matches('/');
    let reply = if let Some(id) = route
        .strip_prefix("features/")
        .filter(|id| !id.contains('/'))
    {
        features(id, query, shared).await
    } else if let Some(seconds) = route.strip_prefix("delay/").filter(|s| !s.contains('/')) {
        delay(seconds, &request).await
    } else if route == "health" {
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "status": "ok", "service": HEALTH_SERVICE }),
        ))
    } else {
        Err((StatusCode::NOT_FOUND, format!("no route for {path}")))
    };
    Ok(reply.unwrap_or_else(|(status, message)| error(status, &message)))
}

type Routed = Result<Reply, (StatusCode, String)>;

async fn features(id: &str, query: &str, shared: &Shared) -> Routed {
    let faults = &shared.faults;
    let id: u64 = id.parse().map_err(|_| {
        bad_request(format!(
            "batch id must be a non-negative integer, got {id:?}"
        ))
    })?;
    let mut delay_ms = 0;
    let mut n_values = DEFAULT_VALUES;
    let mut attempt = 0;
    let mut forced_fault = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "delay_ms" => delay_ms = parse_param(key, value)?,
            "n" => n_values = parse_param(key, value)?,
            "attempt" => attempt = parse_param(key, value)?,
            "fault" => forced_fault = Some(value.parse::<Fault>().map_err(bad_request)?),
            // Unknown parameters (a cache-buster, say) are ignored, as most services do.
            _ => {}
        }
    }
    if delay_ms > MAX_DELAY_MS {
        return Err(bad_request(format!(
            "delay_ms must be at most {MAX_DELAY_MS}"
        )));
    }
    if n_values == 0 || n_values > MAX_VALUES {
        return Err(bad_request(format!("n must be between 1 and {MAX_VALUES}")));
    }
    let fault = forced_fault.unwrap_or_else(|| faults.pick(id, attempt));
    if fault == Fault::Stall {
        sleep_ms(MAX_STALL_MS).await;
        return Err((
            StatusCode::GATEWAY_TIMEOUT,
            "stalled request given up".into(),
        ));
    }
    // The reply is built before the wait, not after it: the delay is then the
    // time to the answer, and ten thousand replies that fall due together are
    // not all built at that moment, on the cores the client needs.
    let reply = json_bytes(StatusCode::OK, shared.bodies.get(id, n_values));
    let reply = match fault {
        Fault::Fail => error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure"),
        Fault::Reset => cut_short(reply).await,
        Fault::Malformed => truncate_json(reply).await,
        Fault::None | Fault::Slow | Fault::Stall => reply,
    };
    let extra_ms = if fault == Fault::Slow {
        faults.slow_ms
    } else {
        0
    };
    sleep_ms(delay_ms + extra_ms).await;
    Ok(reply)
}

fn parse_param<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, (StatusCode, String)> {
    value.parse().map_err(|_| {
        bad_request(format!(
            "{key} must be a non-negative integer, got {value:?}"
        ))
    })
}

/// The whole body of a reply built by [`json`].
async fn body_bytes(reply: Reply) -> (hyper::http::response::Parts, Bytes) {
    let (parts, body) = reply.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    (parts, bytes)
}

/// Keeps the status and the full `Content-Length`, sends half the body, then
/// fails the body stream: hyper aborts the connection mid-response.
async fn cut_short(reply: Reply) -> Reply {
    let (mut parts, bytes) = body_bytes(reply).await;
    parts.headers.insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from(bytes.len()),
    );
    let half = bytes.slice(..bytes.len() / 2);
    let body = CutShort {
        head: Some(half),
        pause: None,
    };
    Response::from_parts(parts, body.boxed())
}

/// A `200` whose body is valid HTTP but truncated JSON.
async fn truncate_json(reply: Reply) -> Reply {
    let (mut parts, bytes) = body_bytes(reply).await;
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, whole(half))
}

/// A body that yields its head, pauses, then fails, so the connection is reset.
struct CutShort {
    head: Option<Bytes>,
    /// Started once the head is out: hyper flushes what it has while the
    /// body is pending, so the headers and half the body reach the wire
    /// before the error aborts the connection.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for CutShort {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        let pause = self
            .pause
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(5))));
        match pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            )))),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Answers like httpbin's `/delay/{seconds}`: after the delay, a JSON echo of the request.
async fn delay(seconds: &str, request: &Request<Incoming>) -> Routed {
    let seconds: f64 = seconds
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            bad_request(format!(
                "delay must be a non-negative number of seconds, got {seconds:?}"
            ))
        })?;
    let delay_ms = (seconds * 1000.0).round();
    if delay_ms > MAX_DELAY_MS as f64 {
        return Err(bad_request(format!(
            "delay must be at most {} s",
            MAX_DELAY_MS / 1000
        )));
    }
    sleep_ms(delay_ms as u64).await;
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                serde_json::Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "args": {},
            "data": "",
            "files": {},
            "form": {},
            "headers": headers,
            "origin": "127.0.0.1",
            "url": format!("http://{host}{}", request.uri()),
        }),
    ))
}

/// Waits `delay_ms` on the runtime's timer; no timer at all for zero.
async fn sleep_ms(delay_ms: u64) {
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
}

fn bad_request(message: String) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, message)
}

fn error(status: StatusCode, message: &str) -> Reply {
    json(
        status,
        &serde_json::json!({ "error": message, "status": status.as_u16() }),
    )
}

fn json(status: StatusCode, body: &impl Serialize) -> Reply {
    json_bytes(status, Bytes::from(encode_json(body)))
}

fn encode_json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).expect("serialising plain JSON values cannot fail")
}

fn json_bytes(status: StatusCode, bytes: Bytes) -> Reply {
    let mut reply = Response::new(whole(bytes));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    reply
}

fn whole(bytes: Bytes) -> ReplyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_deterministic_and_bounded() {
        assert_eq!(values(42, 100), values(42, 100));
        assert_ne!(values(42, 100), values(43, 100));
        // A longer batch extends a shorter one.
        assert_eq!(values(5, 10)[..], values(5, 20)[..10]);
        assert!(values(9, 1000).iter().all(|v| (-1.0..1.0).contains(v)));
    }

    #[test]
    fn cached_bodies_are_what_serde_json_writes() {
        let bodies = BatchBodies::new(1 << 20);
        for (id, n_values) in [(0, 1), (7, 1024), (u64::MAX, 3), (7, 5)] {
            let expected = serde_json::to_vec(&serde_json::json!({
                "id": id,
                "values": values(id, n_values),
            }))
            .unwrap();
            assert_eq!(bodies.get(id, n_values)[..], expected[..]);
            // The second answer comes from the cache, and is the same.
            assert_eq!(bodies.get(id, n_values)[..], expected[..]);
        }
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let capacity = 256 * 1024;
        let bodies = BatchBodies::new(capacity);
        for id in 0..100 {
            assert!(!bodies.get(id, 1024).is_empty());
        }
        assert!(bodies.held_bytes() <= capacity, "{}", bodies.held_bytes());
        assert!(bodies.held_bytes() > 0);
    }
}
