//! The report of a load run (the JSON object of `runtime-lab load --json`)
//! and the recorder that fills it.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One load run's measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Open or closed loop.
    pub mode: ModeName,
    /// The URL as given, `{id}` included.
    pub url: String,
    /// The scheduled rate in open loop; `None` (JSON `null`) in closed loop.
    pub offered_rps: Option<f64>,
    /// Successful answers (`ok`) per second of the measured window; failed
    /// requests are counted in `errors`, never here. Which requests belong
    /// to the window: in open loop those whose intended start falls in it
    /// (answered before the drain ends); in closed loop those that complete
    /// in it, whatever their start (wrk's rule), so that the rate does not
    /// depend on the window's length.
    pub achieved_rps: f64,
    /// Successful answers that *arrived* inside the measured window,
    /// whatever their (intended) start, per second of it: the server's rate
    /// of answers. In closed loop it is `achieved_rps`. In open loop it is
    /// about the offered rate while the server keeps up, and its capacity
    /// once it does not, whatever the window's and the drain's length
    /// (`achieved_rps` there counts the window's requests answered before
    /// the drain ends, and so can reach the offered rate above capacity).
    #[serde(default)]
    pub answered_rps: f64,
    /// Requests of the measured window answered 2xx or 3xx.
    pub ok: u64,
    /// Failed requests in the measured window, by kind; kinds that did not
    /// occur are absent.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Requests of the measured window without an answer when it ended,
    /// neither ok nor errors: sent and still outstanding, and in open loop
    /// also those that fell due while every connection was busy and were
    /// never sent. So in open loop `(ok + errors) + unfinished` is about
    /// `offered_rps * duration_s`. In closed loop, the requests still
    /// outstanding at the window's end (at most one per connection).
    pub unfinished: u64,
    /// Latency of the ok requests of the measured window.
    pub latency_ms: LatencyMs,
    /// The measured window, in seconds.
    pub duration_s: f64,
    /// The warm-up before it, in seconds.
    pub warmup_s: f64,
    /// Keep-alive connections asked for.
    pub connections: usize,
    /// TCP connections opened, reconnects included (the probe's excluded):
    /// about `connections` for a keep-alive server, about one per request
    /// for a server that closes after each answer.
    pub connects: u64,
    /// User CPU time of the load process over the whole run.
    pub cpu_user_ms: f64,
    /// System CPU time of the load process over the whole run.
    pub cpu_sys_ms: f64,
    /// Runtime threads of the load generator.
    pub threads: usize,
}

impl LoadReport {
    /// All failed requests of the measured window.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// `"open"` or `"closed"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    /// Constant rate, timed from the intended start.
    Open,
    /// Next request when the last answer arrives, timed from the send.
    Closed,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection: refused, or not accepted in time.
    #[serde(rename = "connect")]
    Connect,
    /// No whole answer within the request timeout.
    #[serde(rename = "timeout")]
    Timeout,
    /// Answered 4xx.
    #[serde(rename = "status_4xx")]
    Status4xx,
    /// Answered 5xx.
    #[serde(rename = "status_5xx")]
    Status5xx,
    /// The server closed or reset the connection before a whole answer.
    #[serde(rename = "reset")]
    Reset,
    /// An answer that is not valid HTTP/1.1.
    #[serde(rename = "protocol")]
    Protocol,
    /// Any other socket error.
    #[serde(rename = "io")]
    Io,
}

impl ErrorKind {
    /// The kind's JSON name.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status4xx => "status_4xx",
            ErrorKind::Status5xx => "status_5xx",
            ErrorKind::Reset => "reset",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Io => "io",
        }
    }
}

/// Latency percentiles in milliseconds, from an HDR histogram of
/// microseconds (three significant digits); all zero when no request was ok.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

/// The longest latency the histogram holds apart; longer ones count as this.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// How one request ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    /// Answered 2xx or 3xx after this long.
    Ok(Duration),
    /// Failed.
    Failed(ErrorKind),
    /// Still outstanding when the run ended.
    Unfinished,
}

/// The measured window's counts and latencies, shared by the connections.
pub(crate) struct Recorder {
    latency_us: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<ErrorKind, u64>,
    unfinished: u64,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            ok: 0,
            errors: BTreeMap::new(),
            unfinished: 0,
        }
    }

    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ok(latency) => {
                self.ok += 1;
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latency_us.saturating_record(micros.max(1));
            }
            Outcome::Failed(kind) => *self.errors.entry(kind).or_default() += 1,
            Outcome::Unfinished => self.unfinished += 1,
        }
    }

    /// Counts `count` more requests as unfinished.
    pub fn add_unfinished(&mut self, count: u64) {
        self.unfinished += count;
    }

    pub fn ok(&self) -> u64 {
        self.ok
    }

    pub fn errors(&self) -> &BTreeMap<ErrorKind, u64> {
        &self.errors
    }

    pub fn unfinished(&self) -> u64 {
        self.unfinished
    }

    pub fn latency_ms(&self) -> LatencyMs {
        if self.ok == 0 {
            return LatencyMs::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        let histogram = &self.latency_us;
        LatencyMs {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_ok_requests_only() {
        let mut recorder = Recorder::new();
        for millis in 1..=100 {
            recorder.record(Outcome::Ok(Duration::from_millis(millis)));
        }
        recorder.record(Outcome::Failed(ErrorKind::Timeout));
        recorder.record(Outcome::Failed(ErrorKind::Timeout));
        recorder.record(Outcome::Unfinished);
        let latency = recorder.latency_ms();
        assert!((latency.p50 - 50.0).abs() < 0.1, "{latency:?}");
        assert!((latency.p99 - 99.0).abs() < 0.1, "{latency:?}");
        assert!((latency.max - 100.0).abs() < 0.1, "{latency:?}");
        assert_eq!(recorder.ok(), 100);
        assert_eq!(recorder.errors()[&ErrorKind::Timeout], 2);
        assert_eq!(recorder.unfinished(), 1);
    }

    #[test]
    fn no_ok_request_gives_zero_latency() {
        let mut recorder = Recorder::new();
        recorder.record(Outcome::Failed(ErrorKind::Connect));
        assert_eq!(recorder.latency_ms(), LatencyMs::default());
    }

    #[test]
    fn error_kinds_are_json_keys() {
        let errors = BTreeMap::from([(ErrorKind::Status5xx, 3), (ErrorKind::Connect, 1)]);
        let json = serde_json::to_string(&errors).unwrap();
        assert_eq!(json, r#"{"connect":1,"status_5xx":3}"#);
        let back: BTreeMap<ErrorKind, u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, errors);
        for kind in [
            ErrorKind::Connect,
            ErrorKind::Timeout,
            ErrorKind::Status4xx,
            ErrorKind::Status5xx,
            ErrorKind::Reset,
            ErrorKind::Protocol,
            ErrorKind::Io,
        ] {
            let key = serde_json::to_string(&kind).unwrap();
            assert_eq!(key, format!("\"{}\"", kind.name()));
        }
    }
}
