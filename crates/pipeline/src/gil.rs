//! An emulated global interpreter lock.
//!
//! CPython lets one thread run bytecode at a time. A thread that holds the
//! lock is asked to drop it after the *switch interval* (5 ms by default) when
//! another thread is waiting, and the waiting thread gets it next. This module
//! reproduces exactly that with a fair `parking_lot` mutex: CPU work holds the
//! lock, and every [`SWITCH_INTERVAL`] it hands the lock to a waiter, if any,
//! with [`parking_lot::MutexGuard::bump`]. Waiting on I/O never holds it.
//!
//! The lock is a `static`, so it is process-wide: worker *processes* each have
//! their own, which is why multiprocessing escapes the GIL.

use parking_lot::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// CPython's default `sys.getswitchinterval()`.
pub const SWITCH_INTERVAL: Duration = Duration::from_millis(5);

static GIL: Mutex<()> = Mutex::new(());

/// A held GIL, or nothing when the workload runs without one.
pub(crate) struct GilHold {
    guard: Option<MutexGuard<'static, ()>>,
    held_since: Instant,
}

impl GilHold {
    /// Takes the GIL if `enabled`; otherwise holds nothing.
    pub(crate) fn acquire(enabled: bool) -> Self {
        GilHold {
            guard: enabled.then(|| GIL.lock()),
            held_since: Instant::now(),
        }
    }

    /// Called between units of CPU work: after a switch interval, hands the
    /// lock to a waiting thread (fairly) and takes it back after it.
    pub(crate) fn checkpoint(&mut self) {
        if let Some(guard) = self.guard.as_mut()
            && self.held_since.elapsed() >= SWITCH_INTERVAL
        {
            MutexGuard::bump(guard);
            self.held_since = Instant::now();
        }
    }
}
