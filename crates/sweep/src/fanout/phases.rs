//! The two keys of a run report that say what a run held and where its
//! requests' time went: `in_flight_peak` and `phases_ms` (DESIGN.md, "The
//! run report").
//!
//! They are read from the child's JSON beside [`pipeline::RunReport`], each
//! optional, so that results of runs that predate them, and the Python and Go
//! baselines, which do not measure them, still parse: a figure then says that
//! they were not measured instead of failing.

use pipeline::{LatencySummary, RunReport};
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

/// `phases_ms`: every phase that the run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhasesMs {
    /// Request issued to connection ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<LatencySummary>,
    /// Request written to first response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<LatencySummary>,
    /// First to last byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive: Option<LatencySummary>,
    /// Parsing the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode: Option<LatencySummary>,
    /// Waiting for the runtime to start the preprocess.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<LatencySummary>,
    /// The kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<LatencySummary>,
}

impl PhasesMs {
    /// The summary of `phase`, when it was measured.
    pub fn get(&self, phase: Phase) -> Option<LatencySummary> {
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
    pub fn set(&mut self, phase: Phase, summary: Option<LatencySummary>) {
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
    /// Takes the two keys from a run report; a report without them (an
    /// older run, a Python or Go baseline) has none.
    pub fn from_report(report: &RunReport) -> Self {
        let phases_ms = report.phases_ms.as_ref().map(|summary| {
            let mut phases = PhasesMs::default();
            for (phase, percentiles) in Phase::ALL.into_iter().zip(summary.as_array()) {
                phases.set(phase, Some(percentiles));
            }
            phases
        });
        RunDetail {
            in_flight_peak: report.in_flight_peak,
            phases_ms,
        }
    }
}
