//! The two keys of a run report that say what a run held and where its
//! requests' time went: `in_flight_peak` and `phases_ms` (DESIGN.md, "The
//! run report").
//!
//! They are read from the child's JSON beside [`pipeline::RunReport`], each
//! optional, so that results of runs that predate them, and the Python and Go
//! baselines, which do not measure them, still parse: a figure then says that
//! they were not measured instead of failing.

use serde::{Deserialize, Serialize};

/// One phase of a request, in the order a request passes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Request issued to connection ready.
    Connect,
    /// Request written to first response byte: holds the store's delay.
    Wait,
    /// First to last byte of the response.
    Receive,
    /// Parsing the body into feature values.
    Decode,
    /// Body complete to preprocess started: the runtime's scheduling delay.
    Queue,
    /// The preprocess kernel.
    Preprocess,
}

impl Phase {
    /// Every phase, in a request's order: the stacking and colour order of the plots.
    pub const ALL: [Phase; 6] = [
        Phase::Connect,
        Phase::Wait,
        Phase::Receive,
        Phase::Decode,
        Phase::Queue,
        Phase::Preprocess,
    ];

    /// The key in `phases_ms`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Wait => "wait",
            Phase::Receive => "receive",
            Phase::Decode => "decode",
            Phase::Queue => "queue",
            Phase::Preprocess => "preprocess",
        }
    }
}

/// One phase's percentiles over a run's requests, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// `phases_ms`: every phase that the run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhasesMs {
    /// Request issued to connection ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<PhaseSummary>,
    /// Request written to first response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<PhaseSummary>,
    /// First to last byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive: Option<PhaseSummary>,
    /// Parsing the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode: Option<PhaseSummary>,
    /// Waiting for the runtime to start the preprocess.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<PhaseSummary>,
    /// The kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<PhaseSummary>,
}

impl PhasesMs {
    /// The summary of `phase`, when it was measured.
    pub fn get(&self, phase: Phase) -> Option<PhaseSummary> {
        match phase {
            Phase::Connect => self.connect,
            Phase::Wait => self.wait,
            Phase::Receive => self.receive,
            Phase::Decode => self.decode,
            Phase::Queue => self.queue,
            Phase::Preprocess => self.preprocess,
        }
    }

    /// Sets the summary of `phase`.
    pub fn set(&mut self, phase: Phase, summary: Option<PhaseSummary>) {
        let slot = match phase {
            Phase::Connect => &mut self.connect,
            Phase::Wait => &mut self.wait,
            Phase::Receive => &mut self.receive,
            Phase::Decode => &mut self.decode,
            Phase::Queue => &mut self.queue,
            Phase::Preprocess => &mut self.preprocess,
        };
        *slot = summary;
    }

    /// Whether no phase was measured.
    pub fn is_empty(&self) -> bool {
        Phase::ALL.iter().all(|&phase| self.get(phase).is_none())
    }

    /// The sum of the measured phases' medians.
    pub fn p50_sum(&self) -> f64 {
        Phase::ALL
            .iter()
            .filter_map(|&phase| self.get(phase))
            .map(|summary| summary.p50)
            .sum()
    }
}

/// What a run held and where its time went, when its report says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    /// Requests between issue and completion at the same moment, measured.
    #[serde(default)]
    pub in_flight_peak: Option<u64>,
    /// Per-phase percentiles over the run's requests.
    #[serde(default)]
    pub phases_ms: Option<PhasesMs>,
}

impl RunDetail {
    /// Reads the two keys from a run report's JSON; a report without them,
    /// or with them in another shape, has none.
    pub fn from_report(report: &serde_json::Value) -> Self {
        let in_flight_peak = report.get("in_flight_peak").and_then(|v| v.as_u64());
        let phases_ms = report
            .get("phases_ms")
            .and_then(|v| serde_json::from_value::<PhasesMs>(v.clone()).ok())
            .filter(|phases| !phases.is_empty());
        RunDetail {
            in_flight_peak,
            phases_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_with_and_without_the_keys_parse() {
        let old = serde_json::json!({"executor": "threads", "wall_ms": 1.0});
        assert_eq!(RunDetail::from_report(&old), RunDetail::default());
        let new = serde_json::json!({
            "in_flight_peak": 7517,
            "phases_ms": {
                "connect": {"p50": 0.4, "p99": 3.1, "max": 9.0},
                "queue": {"p50": 2.0, "p99": 5.0, "max": 6.0}
            }
        });
        let detail = RunDetail::from_report(&new);
        assert_eq!(detail.in_flight_peak, Some(7517));
        let phases = detail.phases_ms.unwrap();
        assert_eq!(phases.get(Phase::Connect).unwrap().p99, 3.1);
        assert!(phases.get(Phase::Wait).is_none());
        assert!((phases.p50_sum() - 2.4).abs() < 1e-9);
        let odd = serde_json::json!({"in_flight_peak": "many", "phases_ms": 3});
        assert_eq!(RunDetail::from_report(&odd), RunDetail::default());
    }
}
