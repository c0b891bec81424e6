//! The `runtime-lab` library behind the binary: the executor table, the CLI's
//! workload flags, the embedded feature store and the figure sweep, shared by
//! the binary, the integration tests and the criterion benches.

pub mod cli;
pub mod executors;
pub mod limits;
pub mod serve;
pub mod sweep;
pub mod upstream;
