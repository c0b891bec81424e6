//! The `runtime-lab` library behind the binary: the executor table, the
//! Python and Go baselines, the CLI's workload flags, the embedded feature
//! store and the figure sweep, shared by the binary, the integration tests
//! and the criterion benches.

pub mod baselines;
pub mod cli;
pub mod executors;
pub mod limits;
pub mod serve;
pub mod sweep;
pub mod upstream;
