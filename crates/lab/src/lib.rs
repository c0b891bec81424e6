//! The lab's shared tables and machinery: the executor table, the Python and
//! Go baselines, the embedded feature store child, the open-file limit and the
//! flag groups they read, used by the `runtime-lab` binary and its sweep.
//!
//! The binary (`src/`) parses the command line and dispatches; the figure
//! sweep (`crates/sweep`) plans and runs hundreds of child runs. Both need the
//! same answers to the same questions: which executors and baselines exist and
//! whether they can run here ([`executors`], [`baselines`]), what an upstream
//! URL is or how to start a feature store of our own ([`upstream`]), and how
//! many sockets a run may open ([`limits`]). Keeping them here, below both,
//! lets the sweep be a crate of its own without depending on the binary.
//!
//! # Example
//!
//! ```no_run
//! // Which executors this build has, and whether each can run here.
//! for executor in lab::executors::ALL {
//!     match (executor.available)() {
//!         Ok(()) => println!("{}", executor.name),
//!         Err(reason) => println!("{} (unavailable: {reason})", executor.name),
//!     }
//! }
//! ```

pub mod args;
pub mod baselines;
pub mod executors;
pub mod limits;
pub mod upstream;

/// `runtime-lab run`'s exit status when every batch failed; the sweep reads
/// it from its child runs.
pub const EXIT_NO_BATCH_COMPLETED: u8 = 3;
