//! The `runtime-lab` library behind the binary: the CLI's flags and output,
//! and `runtime-lab serve`. The tables and machinery it shares with the
//! figure sweep live in the `lab` crate, the sweep in the `sweep` crate.

pub mod cli;
pub mod serve;
