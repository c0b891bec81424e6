//! Deterministic fault injection: every executor meets the same faults.
//!
//! Whether a request fails, and how, is a pure function of the fault seed,
//! the batch id and the client's attempt number (`attempt=` in the query,
//! 0 for the first try). Two executors running the same workload against the
//! same seed therefore see the same faults on the same batches and the same
//! retries, and must report identical accounting.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer `500 Internal Server Error`.
    Fail,
    /// Send the headers and part of the body, then close the connection.
    Reset,
    /// Accept the request and never answer (until [`MAX_STALL_MS`]).
    Stall,
    /// Answer after the delay plus [`Faults::slow_ms`]: a slow tail.
    Slow,
    /// Answer `200` with a body that is not valid JSON (truncated).
    Malformed,
}

/// How long a stalled request is held before the store gives up on it, so
/// that a stall never holds a connection forever.
pub const MAX_STALL_MS: u64 = 120_000;

impl Fault {
    /// Every fault kind, in the order their rates are applied.
    pub const ALL: [Fault; 5] = [
        Fault::Fail,
        Fault::Reset,
        Fault::Stall,
        Fault::Slow,
        Fault::Malformed,
    ];

    /// The name used in `fault=` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Fail => "fail",
            Fault::Reset => "reset",
            Fault::Stall => "stall",
            Fault::Slow => "slow",
            Fault::Malformed => "malformed",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Fault::None]
            .into_iter()
            .chain(Fault::ALL)
            .find(|fault| fault.as_str() == name)
            .ok_or_else(|| {
                format!("unknown fault {name:?} (none, fail, reset, stall, slow, malformed)")
            })
    }
}

/// Fault rates of a feature store, each the probability in `[0, 1]` that a
/// request meets that fault. Their sum must be at most 1.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Seed of the deterministic choice.
    pub seed: u64,
    /// Probability of [`Fault::Fail`].
    pub fail_rate: f64,
    /// Probability of [`Fault::Reset`].
    pub reset_rate: f64,
    /// Probability of [`Fault::Stall`].
    pub stall_rate: f64,
    /// Probability of [`Fault::Slow`].
    pub slow_rate: f64,
    /// Extra delay of a slow answer, in milliseconds.
    pub slow_ms: u64,
    /// Probability of [`Fault::Malformed`].
    pub malformed_rate: f64,
}

impl Faults {
    /// Checks that every rate is in `[0, 1]` and that they sum to at most 1.
    pub fn validate(&self) -> Result<(), String> {
        let rates = self.rates();
        if let Some((fault, rate)) = rates.iter().find(|(_, rate)| !(0.0..=1.0).contains(rate)) {
            return Err(format!("{fault} rate must be between 0 and 1, got {rate}"));
        }
        let total: f64 = rates.iter().map(|(_, rate)| rate).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!("fault rates sum to {total}, more than 1"));
        }
        if self.slow_ms > crate::MAX_DELAY_MS {
            return Err(format!("slow-ms must be at most {}", crate::MAX_DELAY_MS));
        }
        Ok(())
    }

    fn rates(&self) -> [(Fault, f64); 5] {
        [
            (Fault::Fail, self.fail_rate),
            (Fault::Reset, self.reset_rate),
            (Fault::Stall, self.stall_rate),
            (Fault::Slow, self.slow_rate),
            (Fault::Malformed, self.malformed_rate),
        ]
    }

    /// The fault that attempt `attempt` of batch `id` meets.
    pub fn pick(&self, id: u64, attempt: u32) -> Fault {
        let draw = unit(crate::routes::splitmix64(
            self.seed ^ crate::routes::splitmix64(id) ^ (u64::from(attempt) << 48),
        ));
        let mut threshold = 0.0;
        for (fault, rate) in self.rates() {
            threshold += rate;
            if draw < threshold {
                return fault;
            }
        }
        Fault::None
    }
}

/// 53 bits of `bits` as a float in `[0, 1)`.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_met_and_choices_are_stable() {
        let faults = Faults {
            seed: 7,
            fail_rate: 0.1,
            reset_rate: 0.1,
            stall_rate: 0.1,
            slow_rate: 0.1,
            slow_ms: 10,
            malformed_rate: 0.1,
        };
        let picks: Vec<Fault> = (0..10_000).map(|id| faults.pick(id, 0)).collect();
        for fault in Fault::ALL {
            let share = picks.iter().filter(|&&p| p == fault).count() as f64 / 1e4;
            assert!((0.08..0.12).contains(&share), "{fault}: {share}");
        }
        let again: Vec<Fault> = (0..10_000).map(|id| faults.pick(id, 0)).collect();
        assert_eq!(picks, again);
        // A retry draws again, and another seed gives other faults.
        assert_ne!(
            picks,
            (0..10_000).map(|id| faults.pick(id, 1)).collect::<Vec<_>>()
        );
        let reseeded = Faults { seed: 8, ..faults };
        assert_ne!(
            picks,
            (0..10_000)
                .map(|id| reseeded.pick(id, 0))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn no_rates_no_faults_and_bad_rates_are_rejected() {
        assert!((0..1000).all(|id| Faults::default().pick(id, 0) == Fault::None));
        let too_much = Faults {
            fail_rate: 0.7,
            stall_rate: 0.7,
            ..Faults::default()
        };
        assert!(too_much.validate().is_err());
        let negative = Faults {
            slow_rate: -0.1,
            ..Faults::default()
        };
        assert!(negative.validate().is_err());
        assert_eq!("reset".parse::<Fault>(), Ok(Fault::Reset));
        assert!("boom".parse::<Fault>().is_err());
    }
}
