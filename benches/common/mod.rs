//! The criterion harness settings both bench files share.

use criterion::{Criterion, PlottingBackend};
use std::time::Duration;

/// A criterion harness with the given sampling, set on the harness rather
/// than on the groups so that command-line flags (`--sample-size`,
/// `--measurement-time`) still override it.
pub fn harness(sample_size: usize, measurement: Duration, warm_up: Duration) -> Criterion {
    // plotters finds no system font (it renders with an embedded one):
    // register it before criterion draws its charts.
    sweep::draw::register_font();
    Criterion::default()
        // The same charts whether or not gnuplot happens to be installed.
        .plotting_backend(PlottingBackend::Plotters)
        .sample_size(sample_size)
        .measurement_time(measurement)
        .warm_up_time(warm_up)
        // These shared machines are noisy: smaller changes are reported as noise.
        .noise_threshold(0.05)
}
