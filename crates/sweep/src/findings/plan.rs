//! The seeds' claims, as data, and the rules that read them from a set.
//!
//! A claim names the seed that makes it, the seed's own number, and how the
//! lab measures the same quantity: a [`Reading`] of its Rust analog and one
//! per real Python or Go system, each a figure of a set kind, a measure of
//! that figure, series labels and a small [`Rule`]. The verdict compares
//! the measured number with the seed's ([`Claim::verdict`]). To follow a
//! renamed series or a new figure, edit the table in [`claims`]; nothing
//! else names a label.

use super::read::{Figure, Kind, Series, Set, newest};
use crate::table::thousands;

/// The four articles under `../shared/seeds/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// `async-io-is-not-enough.md`: fan-out with CPU work, 8-core laptop, 1 s delay.
    AsyncIoIsNotEnough,
    /// `async-programming-how-much-faster.txt`: asyncio vs threads vs Go, up to ~1,600 requests.
    HowMuchFaster,
    /// `python-vs-go-high-concurrency.txt`: FastAPI vs Gin on a 4-core VM.
    PythonVsGo,
    /// `free-threading-talk-slides.txt`: CPython 3.14t, threads and servers.
    FreeThreadingTalk,
}

impl Seed {
    /// The article's title, as the page cites it.
    pub fn title(self) -> &'static str {
        match self {
            Seed::AsyncIoIsNotEnough => "Async I/O Is Not Enough",
            Seed::HowMuchFaster => "Async Programming: faster, but how much faster?",
            Seed::PythonVsGo => "Python vs Golang High Concurrency",
            Seed::FreeThreadingTalk => "the free-threading talk",
        }
    }
}

/// How a number prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A ratio of two measurements: `3.75x`.
    Times,
    /// A dimensionless share or normalised growth: `0.98`.
    Plain,
    /// KiB.
    KiB,
}

impl Unit {
    /// `value` in this unit, to about three significant digits.
    pub fn format(self, value: f64) -> String {
        let number = if (1000.0..=f64::from(u32::MAX)).contains(&value) {
            thousands(value.round() as u32)
        } else if value.abs() >= 100.0 {
            format!("{value:.0}")
        } else if value.abs() >= 10.0 {
            format!("{value:.1}")
        } else {
            format!("{value:.2}")
        };
        match self {
            Unit::Times => format!("{number}x"),
            Unit::Plain => number,
            Unit::KiB => format!("{number} KiB"),
        }
    }
}

/// Where a rule reads a series: at one x, or at the largest one measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// The largest x that every series the rule reads has.
    Largest,
    /// Exactly this x; a series without a point there is not measured.
    X(f64),
}

/// How a reading turns series into one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// The series' median at `to` over its median at its smallest x; with
    /// `per_x`, divided by the growth of x itself (1 = linear).
    Growth {
        /// The series' label.
        series: &'static str,
        /// The x it grows to.
        to: At,
        /// Whether to divide by x's own growth.
        per_x: bool,
    },
    /// `numerator`'s median over `denominator`'s at the same x.
    Ratio {
        /// The label above the line.
        numerator: &'static str,
        /// The label below it.
        denominator: &'static str,
        /// Where both are read.
        at: At,
    },
    /// The largest median of `numerator` over the largest of `denominator`,
    /// each at its own best x (a server's max RPS over the worker counts).
    BestRatio {
        /// The label above the line.
        numerator: &'static str,
        /// The label below it.
        denominator: &'static str,
    },
    /// The series' median at `at`.
    Value {
        /// The series' label.
        series: &'static str,
        /// Where it is read.
        at: At,
    },
    /// How many batches' CPU work the wall time beyond the delay holds, per
    /// batch: `(wall - io) / (N x CPU per batch)` from a client figure's
    /// `wall_ms` and `cpu_per_batch_ms`. 1 is one batch at a time (serial
    /// CPU); 1 / cores is every core busy.
    CpuSerial {
        /// The series' label.
        series: &'static str,
        /// Where it is read.
        at: At,
    },
}

impl Rule {
    /// The series labels the rule reads, as `code`, joined by ` / `.
    pub fn labels(&self) -> String {
        match *self {
            Rule::Growth { series, .. }
            | Rule::Value { series, .. }
            | Rule::CpuSerial { series, .. } => format!("`{series}`"),
            Rule::Ratio {
                numerator,
                denominator,
                ..
            }
            | Rule::BestRatio {
                numerator,
                denominator,
            } => format!("`{numerator}` / `{denominator}`"),
        }
    }
}

/// Which figure of which kind of set a reading reads, and which measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    /// The kind of set; the newest set of it that holds the figure is read.
    pub kind: Kind,
    /// The figure's number in its family.
    pub figure: u8,
    /// The measure: a client point field (`wall_ms`) or a server panel (`max sustainable RPS`).
    pub measure: &'static str,
}

/// One measurement of a claim's quantity: where, and by which rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The figure and measure.
    pub source: Source,
    /// The rule over its series.
    pub rule: Rule,
}

/// A reading's number, with what it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured<'a> {
    /// The quantity.
    pub value: f64,
    /// The series it came from, as `code` labels (`` `py-threads` / `py-asyncio` ``).
    pub series: String,
    /// What was read, in a sentence fragment (`5.16 s / 1.99 s at N = 1,000`).
    pub detail: String,
    /// The set it came from.
    pub set: &'a Set,
    /// The figure it came from.
    pub figure: &'a Figure,
}

/// A reading's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<'a> {
    /// The committed sets hold what the reading needs.
    Measured(Measured<'a>),
    /// They do not; why (no set of the kind with the figure, no such series, no such point).
    NotMeasured(String),
}

impl<'a> Outcome<'a> {
    /// The measurement, if any.
    pub fn measured(&self) -> Option<&Measured<'a>> {
        match self {
            Outcome::Measured(measured) => Some(measured),
            Outcome::NotMeasured(_) => None,
        }
    }
}

impl Reading {
    /// Reads this from the newest set of its kind that holds its figure.
    pub fn read<'a>(&self, sets: &'a [Set]) -> Outcome<'a> {
        let Source {
            kind,
            figure: id,
            measure,
        } = self.source;
        let Some(set) = newest(sets, kind, id) else {
            return Outcome::NotMeasured(format!("no committed {kind} set has figure {id}"));
        };
        let figure = set
            .figure(id)
            .expect("newest returns a set with the figure");
        match self.apply(figure, measure) {
            Ok((value, series, detail)) => Outcome::Measured(Measured {
                value,
                series,
                detail,
                set,
                figure,
            }),
            Err(why) => Outcome::NotMeasured(format!("{} figure {id}: {why}", set.folder)),
        }
    }

    /// The rule on one figure: the value, the series named, and the detail.
    fn apply(&self, figure: &Figure, measure: &str) -> Result<(f64, String, String), String> {
        let series = |label: &str| {
            figure
                .series(measure, label)
                .filter(|series| !series.points.is_empty())
                .ok_or_else(|| format!("no series `{label}` with {measure}"))
        };
        let x_name = figure.x_name;
        let at = |x: f64| format!("{x_name} = {}", axis_value(x));
        match self.rule {
            Rule::Growth {
                series: label,
                to,
                per_x,
            } => {
                let curve = series(label)?;
                let first = curve.points[0];
                let last = point_at(curve, to, &[curve], x_name)?;
                if first.median <= 0.0 || first.x <= 0.0 || last.x <= first.x {
                    return Err(format!("`{label}` has no growth to read"));
                }
                let growth = last.median / first.median;
                let x_growth = last.x / first.x;
                let value = if per_x { growth / x_growth } else { growth };
                let detail = format!(
                    "{:.1}x from {} to {}{}",
                    growth,
                    at(first.x),
                    axis_value(last.x),
                    if per_x {
                        format!(", over {}x more {x_name}", axis_value(x_growth))
                    } else {
                        String::new()
                    }
                );
                Ok((value, format!("`{label}`"), detail))
            }
            Rule::Ratio {
                numerator,
                denominator,
                at: where_,
            } => {
                let (top, bottom) = (series(numerator)?, series(denominator)?);
                let x = common_x(where_, &[top, bottom], x_name)?;
                let (a, b) = (
                    top.at(x).expect("common x").median,
                    bottom.at(x).expect("common x").median,
                );
                if b <= 0.0 {
                    return Err(format!("`{denominator}` reads 0 at {}", at(x)));
                }
                Ok((
                    a / b,
                    format!("`{numerator}` / `{denominator}`"),
                    format!("{} / {} at {}", number(a), number(b), at(x)),
                ))
            }
            Rule::BestRatio {
                numerator,
                denominator,
            } => {
                let (top, bottom) = (series(numerator)?, series(denominator)?);
                let best = |curve: &Series| {
                    curve
                        .points
                        .iter()
                        .copied()
                        .max_by(|a, b| a.median.total_cmp(&b.median))
                        .expect("a series with points")
                };
                let (a, b) = (best(top), best(bottom));
                if b.median <= 0.0 {
                    return Err(format!("`{denominator}` reads 0"));
                }
                Ok((
                    a.median / b.median,
                    format!("`{numerator}` / `{denominator}`"),
                    format!(
                        "best {} at {} / best {} at {}",
                        number(a.median),
                        at(a.x),
                        number(b.median),
                        at(b.x)
                    ),
                ))
            }
            Rule::Value {
                series: label,
                at: where_,
            } => {
                let curve = series(label)?;
                let point = point_at(curve, where_, &[curve], x_name)?;
                Ok((
                    point.median,
                    format!("`{label}`"),
                    format!(
                        "median {} (range {}-{}) at {}",
                        number(point.median),
                        number(point.min),
                        number(point.max),
                        at(point.x)
                    ),
                ))
            }
            Rule::CpuSerial {
                series: label,
                at: where_,
            } => {
                let io_ms = figure
                    .io_ms
                    .ok_or_else(|| "not a client figure: no delay".to_owned())?;
                let wall = figure
                    .series("wall_ms", label)
                    .ok_or_else(|| format!("no series `{label}`"))?;
                let cpu = figure
                    .series("cpu_per_batch_ms", label)
                    .ok_or_else(|| format!("no series `{label}` with cpu_per_batch_ms"))?;
                let x = common_x(where_, &[wall, cpu], x_name)?;
                let wall_ms = wall.at(x).expect("common x").median;
                let cpu_ms = cpu.at(x).expect("common x").median;
                if cpu_ms <= 0.0 {
                    return Err(format!("`{label}` did no CPU work at {}", at(x)));
                }
                let batches = (wall_ms - io_ms) / cpu_ms;
                Ok((
                    batches / x,
                    format!("`{label}`"),
                    format!(
                        "({} ms wall - {} ms delay) / {} ms CPU per batch = {:.1} batches' CPU at {}",
                        number(wall_ms),
                        number(io_ms),
                        number(cpu_ms),
                        batches,
                        at(x)
                    ),
                ))
            }
        }
    }
}

/// The point of `curve` at `at`, where `all` decides "largest".
fn point_at<'s>(
    curve: &'s Series,
    at: At,
    all: &[&Series],
    x_name: &str,
) -> Result<&'s super::read::Point, String> {
    let x = common_x(at, all, x_name)?;
    curve.at(x).ok_or_else(|| {
        format!(
            "`{}` has no point at {x_name} = {}",
            curve.label,
            axis_value(x)
        )
    })
}

/// The x that every curve of `all` has: `at`'s own, or the largest shared.
fn common_x(at: At, all: &[&Series], x_name: &str) -> Result<f64, String> {
    match at {
        At::X(x) => match all.iter().find(|curve| curve.at(x).is_none()) {
            Some(missing) => Err(format!(
                "`{}` has no point at {x_name} = {}",
                missing.label,
                axis_value(x)
            )),
            None => Ok(x),
        },
        At::Largest => all[0]
            .points
            .iter()
            .rev()
            .map(|point| point.x)
            .find(|&x| all.iter().all(|curve| curve.at(x).is_some()))
            .ok_or_else(|| "the series share no x".to_owned()),
    }
}

/// An axis value: an integer with thousands separators, or a short decimal.
fn axis_value(x: f64) -> String {
    if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) {
        thousands(x as u32)
    } else {
        format!("{x:.2}")
    }
}

/// A measured number in a detail: about three significant digits.
fn number(value: f64) -> String {
    Unit::Plain.format(value)
}

/// One claim of a seed and how the lab checks it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    /// A short anchor for the page (`serial-linear`).
    pub id: &'static str,
    /// The seed that makes it.
    pub seed: Seed,
    /// The claim, in one line.
    pub claim: &'static str,
    /// The seed's own number, in words, with its source.
    pub seed_says: &'static str,
    /// The seed's number as the quantity the readings compute.
    pub seed_value: f64,
    /// What the readings compute, in a sentence.
    pub quantity: &'static str,
    /// How the quantity prints.
    pub unit: Unit,
    /// Reproduced when the measured value over the expected one lies in this band.
    pub band: (f64, f64),
    /// Whether the seed's number is a parallel speed-up, which no machine
    /// exceeds beyond its cores: the expected value is then the smaller of
    /// the seed's number and the set's cores.
    pub capped_by_cores: bool,
    /// The Rust analog's reading, if the lab has one.
    pub rust: Option<Reading>,
    /// The real Python and Go systems' readings.
    pub real: &'static [Reading],
    /// Whether README's headline table shows it.
    pub headline: bool,
}

/// A claim's one-word verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The measured number lies in the claim's band around the expected one.
    Reproduced,
    /// It lies outside.
    Differs,
    /// No committed set holds what its readings need.
    NotMeasured,
}

impl Verdict {
    /// The word the page prints.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::Differs => "differs",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// A claim with its readings done and judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessed<'a> {
    /// The claim.
    pub claim: &'a Claim,
    /// Its Rust analog's outcome, if it has one.
    pub rust: Option<Outcome<'a>>,
    /// Each real system's outcome, in the claim's order.
    pub real: Vec<Outcome<'a>>,
    /// The number the verdict compares with, after the core cap.
    pub expected: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Claim {
    /// Reads every reading of the claim from `sets` and judges it.
    ///
    /// The rule: the decisive measurements are the real systems' where the
    /// sets hold them (the seeds measured Python and Go), else the Rust
    /// analog's. The claim is reproduced when every decisive value over the
    /// expected value lies within [`Claim::band`]; it differs otherwise; it
    /// is not measured when there is no decisive value. The expected value
    /// is the seed's number, or the decisive set's cores where that is
    /// smaller and the number is a parallel speed-up.
    pub fn verdict<'a>(&'a self, sets: &'a [Set]) -> Assessed<'a> {
        let rust = self.rust.map(|reading| reading.read(sets));
        let real: Vec<Outcome<'a>> = self.real.iter().map(|reading| reading.read(sets)).collect();
        let mut decisive: Vec<&Measured<'a>> = real.iter().filter_map(Outcome::measured).collect();
        if decisive.is_empty() {
            decisive.extend(rust.as_ref().and_then(Outcome::measured));
        }
        let Some(first) = decisive.first() else {
            return Assessed {
                claim: self,
                rust,
                real,
                expected: None,
                verdict: Verdict::NotMeasured,
            };
        };
        let expected = self.expected(first.set.machine.cores);
        let (low, high) = self.band;
        let within = decisive.iter().all(|measured| {
            let share = measured.value / expected;
            (low..=high).contains(&share)
        });
        Assessed {
            claim: self,
            rust,
            real,
            expected: Some(expected),
            verdict: if within {
                Verdict::Reproduced
            } else {
                Verdict::Differs
            },
        }
    }

    /// The value a set of `cores` cores is expected to show.
    pub fn expected(&self, cores: u64) -> f64 {
        if self.capped_by_cores {
            self.seed_value.min(cores as f64)
        } else {
            self.seed_value
        }
    }
}

/// The band of "about the same": from 1/1.5x to 1.5x.
const ABOUT: (f64, f64) = (1.0 / 1.5, 1.5);
/// The band of "as fast as" and "reaches": within 25% either way.
const CLOSE: (f64, f64) = (0.8, 1.25);
/// The band of "one batch's CPU at a time": closer to 1 than to 0.5, the
/// value of both cores busy on 2 cores.
const SERIAL: (f64, f64) = (0.75, 1.0 / 0.75);

const fn reading(kind: Kind, figure: u8, measure: &'static str, rule: Rule) -> Reading {
    Reading {
        source: Source {
            kind,
            figure,
            measure,
        },
        rule,
    }
}

const fn wall(kind: Kind, figure: u8, rule: Rule) -> Reading {
    reading(kind, figure, "wall_ms", rule)
}

const fn rps(figure: u8, rule: Rule) -> Reading {
    reading(Kind::SERVER_QUICK, figure, MAX_RPS, rule)
}

const fn growth(series: &'static str) -> Rule {
    Rule::Growth {
        series,
        to: At::Largest,
        per_x: false,
    }
}

const fn ratio(numerator: &'static str, denominator: &'static str, at: At) -> Rule {
    Rule::Ratio {
        numerator,
        denominator,
        at,
    }
}

const fn best(numerator: &'static str, denominator: &'static str) -> Rule {
    Rule::BestRatio {
        numerator,
        denominator,
    }
}

const fn cpu_serial(series: &'static str) -> Rule {
    Rule::CpuSerial {
        series,
        at: At::Largest,
    }
}

/// The server figures' throughput panel.
const MAX_RPS: &str = "max sustainable RPS";
const CQ: Kind = Kind::CLIENT_QUICK;

/// Every claim the page checks, in the page's order.
pub fn claims() -> &'static [Claim] {
    &CLAIMS
}

static CLAIMS: [Claim; 21] = [
    Claim {
        id: "serial-linear",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "Serial fetching grows linearly with the number of requests",
        seed_says: "\"the total duration increases linearly\" (figure 1, 1 to 32 requests): 1.00",
        seed_value: 1.0,
        quantity: "wall time's growth from the smallest to the largest N, over N's own growth (1 = linear)",
        unit: Unit::Plain,
        band: (0.85, 1.0 / 0.85),
        capped_by_cores: false,
        rust: Some(wall(
            CQ,
            1,
            Rule::Growth {
                series: "serial",
                to: At::Largest,
                per_x: true,
            },
        )),
        real: &[
            wall(
                CQ,
                1,
                Rule::Growth {
                    series: "py-serial",
                    to: At::Largest,
                    per_x: true,
                },
            ),
            wall(
                CQ,
                1,
                Rule::Growth {
                    series: "go-serial",
                    to: At::Largest,
                    per_x: true,
                },
            ),
        ],
        headline: true,
    },
    Claim {
        id: "async-flat-32",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "Async I/O stays flat as requests grow to 32",
        seed_says: "\"the trend is nearly flat\" (figure 2, 1 to 32 requests): 1x",
        seed_value: 1.0,
        quantity: "wall time at the largest N over wall time at N = 1",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(wall(CQ, 2, growth("tokio-ct"))),
        real: &[
            wall(CQ, 2, growth("py-asyncio")),
            wall(CQ, 2, growth("go-goroutines")),
        ],
        headline: true,
    },
    Claim {
        id: "async-flat-10000",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "Async I/O stays flat to 10,000 requests in flight",
        seed_says: "\"you can scale almost infinitely\" (section 2): 1x",
        seed_value: 1.0,
        quantity: "wall time at N = 10,000 over wall time at N = 1 (io only)",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(wall(
            Kind::CLIENT_FULL,
            7,
            Rule::Growth {
                series: "tokio-mt",
                to: At::X(10_000.0),
                per_x: false,
            },
        )),
        real: &[
            wall(
                Kind::CLIENT_FULL,
                7,
                Rule::Growth {
                    series: "py-asyncio",
                    to: At::X(10_000.0),
                    per_x: false,
                },
            ),
            wall(
                Kind::CLIENT_FULL,
                7,
                Rule::Growth {
                    series: "go-goroutines",
                    to: At::X(10_000.0),
                    per_x: false,
                },
            ),
        ],
        headline: true,
    },
    Claim {
        id: "event-loop-serial",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "One event loop with CPU work runs that work serially",
        seed_says: "\"the async implementation with CPU work becomes nearly serial\" (figure 3): 1 batch at a time",
        seed_value: 1.0,
        quantity: "batches' CPU work held in the wall time beyond the delay, per batch, at the largest N (1 = one at a time, 0.5 = both of 2 cores busy)",
        unit: Unit::Plain,
        band: SERIAL,
        capped_by_cores: false,
        rust: Some(wall(CQ, 3, cpu_serial("tokio-ct"))),
        real: &[wall(CQ, 3, cpu_serial("py-asyncio"))],
        headline: true,
    },
    Claim {
        id: "processes-bound",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "Processes reach the machine's bound with CPU work",
        seed_says: "\"multiprocessing gets the job done\" (figure 4): efficiency 1",
        seed_value: 1.0,
        quantity: "efficiency (the ideal bound over the median wall time) at the largest N",
        unit: Unit::Plain,
        band: CLOSE,
        capped_by_cores: false,
        rust: Some(reading(
            CQ,
            4,
            "efficiency",
            Rule::Value {
                series: "processes",
                at: At::Largest,
            },
        )),
        real: &[reading(
            CQ,
            4,
            "efficiency",
            Rule::Value {
                series: "py-processes",
                at: At::Largest,
            },
        )],
        headline: true,
    },
    Claim {
        id: "processes-as-fast-as-go",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "Multiprocessing is as fast as Go with CPU work",
        seed_says: "\"as fast as its Go counterpart\" (figure 4): 1x",
        seed_value: 1.0,
        quantity: "wall time of processes over goroutines' (Rust: over tokio-mt's) at the largest N",
        unit: Unit::Times,
        band: CLOSE,
        capped_by_cores: false,
        rust: Some(wall(CQ, 5, ratio("processes", "tokio-mt", At::Largest))),
        real: &[wall(
            CQ,
            5,
            ratio("py-processes", "go-goroutines", At::Largest),
        )],
        headline: false,
    },
    Claim {
        id: "free-threads-match-processes",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "Free-threaded threads match multiprocessing with CPU work",
        seed_says: "\"similar performance as with multiprocessing\" on 3.13t (figure 5): 1x",
        seed_value: 1.0,
        quantity: "wall time of threads without a GIL over processes' at the largest N",
        unit: Unit::Times,
        band: CLOSE,
        capped_by_cores: false,
        rust: Some(wall(CQ, 5, ratio("threads", "processes", At::Largest))),
        real: &[wall(
            CQ,
            9,
            ratio("py-threads@3.13t", "py-processes", At::Largest),
        )],
        headline: false,
    },
    Claim {
        id: "gil-caps-threads",
        seed: Seed::AsyncIoIsNotEnough,
        claim: "The GIL runs threads' CPU work one at a time",
        seed_says: "\"the GIL limits parallel execution to just one thread at a time\" (section 3): 1 batch at a time",
        seed_value: 1.0,
        quantity: "batches' CPU work held in the wall time beyond the delay, per batch, at the largest N (1 = one at a time)",
        unit: Unit::Plain,
        band: SERIAL,
        capped_by_cores: false,
        rust: Some(wall(CQ, 9, cpu_serial("threads --gil"))),
        real: &[wall(CQ, 9, cpu_serial("py-threads"))],
        headline: true,
    },
    Claim {
        id: "asyncio-vs-threads",
        seed: Seed::HowMuchFaster,
        claim: "asyncio is about 3.5x faster than threads for I/O",
        seed_says: "\"Python asyncio is about 3.5 times faster than threading\": 3.5x",
        seed_value: 3.5,
        quantity: "wall time of threads over one event loop's at the largest N (io only)",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(wall(CQ, 7, ratio("threads", "tokio-ct", At::Largest))),
        real: &[wall(CQ, 7, ratio("py-threads", "py-asyncio", At::Largest))],
        headline: false,
    },
    Claim {
        id: "go-flat",
        seed: Seed::HowMuchFaster,
        claim: "Goroutines' wall time stays almost flat as requests grow",
        seed_says: "\"the line is almost flat\" (up to about 1,600 requests): 1x",
        seed_value: 1.0,
        quantity: "wall time at the largest N over wall time at N = 1 (io only)",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(wall(CQ, 7, growth("tokio-mt"))),
        real: &[wall(CQ, 7, growth("go-goroutines"))],
        headline: false,
    },
    Claim {
        id: "thread-memory",
        seed: Seed::PythonVsGo,
        claim: "An OS thread costs about 1-8 MB",
        seed_says: "\"OS Thread: ~1-8MB\" (section 3.1): 1,024 to 8,192 KiB",
        seed_value: 1024.0,
        quantity: "peak RSS above N = 1 per extra request in flight, at the largest N",
        unit: Unit::KiB,
        band: (1.0, 8.0),
        capped_by_cores: false,
        rust: Some(reading(
            CQ,
            8,
            "kib_per_request",
            Rule::Value {
                series: "threads",
                at: At::Largest,
            },
        )),
        real: &[reading(
            CQ,
            8,
            "kib_per_request",
            Rule::Value {
                series: "py-threads",
                at: At::Largest,
            },
        )],
        headline: false,
    },
    Claim {
        id: "goroutine-memory",
        seed: Seed::PythonVsGo,
        claim: "A goroutine (or task) costs about 2 KB",
        seed_says: "\"Goroutine: ~2KB\" (section 3.1): 2 KiB",
        seed_value: 2.0,
        quantity: "peak RSS above N = 1 per extra request in flight, at the largest N",
        unit: Unit::KiB,
        band: (0.5, 2.0),
        capped_by_cores: false,
        rust: Some(reading(
            CQ,
            8,
            "kib_per_request",
            Rule::Value {
                series: "tokio-mt",
                at: At::Largest,
            },
        )),
        real: &[reading(
            CQ,
            8,
            "kib_per_request",
            Rule::Value {
                series: "go-goroutines",
                at: At::Largest,
            },
        )],
        headline: true,
    },
    Claim {
        id: "fastapi-vs-flask",
        seed: Seed::PythonVsGo,
        claim: "FastAPI on uvicorn serves about 5x Flask on gunicorn",
        seed_says: "\"Flask + gunicorn: ~1,000 QPS; FastAPI + uvicorn: ~5,000 QPS\" (section 2.2): 5x",
        seed_value: 5.0,
        quantity: "best max sustainable RPS over the worker counts, event loops over blocking processes (80/20 /predict)",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(rps(1, best("tokio-ct", "processes"))),
        real: &[rps(1, best("py-uvicorn", "py-gunicorn"))],
        headline: false,
    },
    Claim {
        id: "gin-vs-fastapi-ping",
        seed: Seed::PythonVsGo,
        claim: "Gin serves 3-4x FastAPI's requests on a plain JSON ping",
        seed_says: "45,000 vs 12,000 QPS (section 4.2): 3.75x",
        seed_value: 3.75,
        quantity: "best max sustainable RPS of the Go server over FastAPI's (Rust: work stealing over one event loop), /ping",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(rps(5, best("tokio-mt", "tokio-ct"))),
        real: &[rps(5, best("go-gin", "py-uvicorn"))],
        headline: true,
    },
    Claim {
        id: "gin-vs-fastapi-cpu",
        seed: Seed::PythonVsGo,
        claim: "Gin is 10+ times faster than FastAPI on CPU work",
        seed_says: "200 vs 15 QPS on /fib/35 (section 4.3): 13x",
        seed_value: 200.0 / 15.0,
        quantity: "best max sustainable RPS of the Go server over FastAPI's (Rust: work stealing over one event loop), equal CPU work per request",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(rps(6, best("tokio-mt", "tokio-ct"))),
        real: &[rps(6, best("go-gin", "py-uvicorn"))],
        headline: true,
    },
    Claim {
        id: "gin-vs-fastapi-io",
        seed: Seed::PythonVsGo,
        claim: "On I/O the gap narrows to 1.5-2x",
        seed_says: "5,000 vs 3,000 QPS on an API call + a cache (section 4.4): 1.67x",
        seed_value: 5.0 / 3.0,
        quantity: "best max sustainable RPS of the Go server over FastAPI's (Rust: work stealing over one event loop), two concurrent fetches per request",
        unit: Unit::Times,
        band: ABOUT,
        capped_by_cores: false,
        rust: Some(rps(7, best("tokio-mt", "tokio-ct"))),
        real: &[rps(7, best("go-gin", "py-uvicorn"))],
        headline: true,
    },
    Claim {
        id: "free-threading-8-threads",
        seed: Seed::FreeThreadingTalk,
        claim: "Eight CPU-bound threads run about 3x faster free-threaded",
        seed_says: "2.352 s on 3.14 vs 769 ms on 3.14t, 8 threads: 3.06x",
        seed_value: 2.352 / 0.7689,
        quantity: "wall time with the GIL over without it, 8 threads of CPU work",
        unit: Unit::Times,
        band: CLOSE,
        capped_by_cores: true,
        rust: Some(wall(CQ, 12, ratio("threads --gil", "threads", At::X(8.0)))),
        real: &[wall(
            CQ,
            12,
            ratio("py-threads@3.13", "py-threads@3.13t", At::X(8.0)),
        )],
        headline: true,
    },
    Claim {
        id: "free-threading-overhead",
        seed: Seed::FreeThreadingTalk,
        claim: "The free-threaded build costs a single thread about 1-3%",
        seed_says: "2.370 s on 3.14t vs 2.341 s on 3.14, one thread: 1.012x",
        seed_value: 2.370 / 2.341,
        quantity: "wall time of the same serial CPU work on 3.13t over 3.13",
        unit: Unit::Times,
        band: (1.0 / 1.1, 1.1),
        capped_by_cores: false,
        rust: None,
        real: &[wall(
            CQ,
            12,
            ratio("py-serial@3.13t", "py-serial@3.13", At::Largest),
        )],
        headline: false,
    },
    Claim {
        id: "max-rps-vs-workers",
        seed: Seed::FreeThreadingTalk,
        claim: "Max RPS vs workers at 80/20: threads without a GIL scale past the GIL's ceiling (Rust emulation)",
        seed_says: "\"free-threading enables linear scaling: 2.5x improvement at 32 threads\": 2.5x",
        seed_value: 2.5,
        quantity: "max sustainable RPS of threads without the GIL over with it, at 32 threads (80/20 /predict)",
        unit: Unit::Times,
        band: ABOUT,
        // Not a pure speed-up: GIL threads serve less at 32 than at their
        // best, so the ratio may exceed the cores.
        capped_by_cores: false,
        // The full set: its probes are three times the quick set's.
        rust: Some(reading(
            Kind::SERVER_FULL,
            1,
            MAX_RPS,
            ratio("threads", "threads --gil", At::X(32.0)),
        )),
        real: &[],
        headline: false,
    },
    Claim {
        id: "free-threading-32-threads",
        seed: Seed::FreeThreadingTalk,
        claim: "A free-threaded server at 80/20 serves 2.5x the GIL's at 32 threads",
        seed_says: "\"2.5x improvement at 32 threads\": 2.5x",
        seed_value: 2.5,
        quantity: "max sustainable RPS on 3.13t over 3.13 (Rust: without over with --gil), at the largest W both ran: 32 threads, or 8 for the quick set's Python servers (80/20 /predict)",
        unit: Unit::Times,
        band: ABOUT,
        // Not a pure speed-up: GIL threads serve less at 32 than at their
        // best, so the ratio may exceed the cores.
        capped_by_cores: false,
        rust: Some(rps(4, ratio("threads", "threads --gil", At::X(32.0)))),
        real: &[rps(
            4,
            ratio("py-gthread@3.13t", "py-gthread@3.13", At::Largest),
        )],
        headline: true,
    },
    Claim {
        id: "free-threading-vs-processes",
        seed: Seed::FreeThreadingTalk,
        claim: "Free threading matches multi-process serving at 80/20",
        seed_says: "\"Can free-threading match multi-process performance?\", answered yes: 1x",
        seed_value: 1.0,
        quantity: "max sustainable RPS of free threads over processes at the largest W both ran: 32 threads or workers, or 8 for the quick set's Python servers (80/20 /predict)",
        unit: Unit::Times,
        band: CLOSE,
        capped_by_cores: false,
        rust: Some(rps(4, ratio("threads", "processes", At::X(32.0)))),
        real: &[rps(
            4,
            ratio("py-gthread@3.13t", "py-gunicorn", At::Largest),
        )],
        headline: false,
    },
];
