//! The client's failure policy, the same in every executor: which errors are
//! retried, how long to back off, and the count of retries in a run.

use crate::{BatchError, Workload};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// First backoff; each retry doubles it, with jitter in `[0.5, 1.5)`.
const BASE_BACKOFF: Duration = Duration::from_millis(20);

/// Retries made by this process so far; [`crate::RunClock`] reports the
/// difference over a run. A process-wide counter keeps every executor's
/// entry point unchanged, and `runtime-lab` runs one workload per process.
static RETRIES: AtomicU64 = AtomicU64::new(0);

/// The retries counted so far in this process.
pub(crate) fn retries_so_far() -> u64 {
    RETRIES.load(Ordering::Relaxed)
}

/// Counts one retry; for executors that learn of retries made elsewhere
/// (the `processes` executor adds its workers' counts).
pub fn count_retries(n: u64) {
    RETRIES.fetch_add(n, Ordering::Relaxed);
}

/// Whether an attempt that failed this way is worth another: connect errors,
/// resets, timeouts and 5xx are; 4xx, oversized and malformed answers are not.
pub fn is_retryable(error: &BatchError) -> bool {
    match error {
        BatchError::Connect(_) | BatchError::Http(_) | BatchError::Timeout(_) => true,
        BatchError::Status(status) => *status >= 500,
        _ => false,
    }
}

/// The pause before retry number `attempt` (1-based) of batch `id`:
/// exponential, with jitter that is deterministic in the batch and attempt,
/// so that every executor waits the same.
pub fn backoff(id: u64, attempt: u32) -> Duration {
    let jitter = (crate::kernel::mix(id ^ (u64::from(attempt) << 40)) >> 11) as f64
        / (1u64 << 53) as f64
        + 0.5;
    BASE_BACKOFF.mul_f64(f64::from(1u32 << attempt.min(10).saturating_sub(1)) * jitter)
}

/// Runs `attempt_once(attempt)` until it succeeds, fails for good, or the
/// workload's retries are spent, sleeping the thread between attempts (the
/// async fetcher has the same loop over its runtime's timer).
/// Returns the last attempt's result and the number of retries made.
pub(crate) fn with_retries<T>(
    workload: &Workload,
    id: u64,
    mut attempt_once: impl FnMut(u32) -> Result<T, BatchError>,
) -> (Result<T, BatchError>, u32) {
    let mut attempt = 0;
    loop {
        match attempt_once(attempt) {
            Err(error) if attempt < workload.retries && is_retryable(&error) => {
                attempt += 1;
                count_retries(1);
                std::thread::sleep(backoff(id, attempt));
            }
            result => return (result, attempt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retried() {
        assert!(is_retryable(&BatchError::Status(503)));
        assert!(is_retryable(&BatchError::Timeout(100)));
        assert!(is_retryable(&BatchError::Connect("refused".into())));
        assert!(!is_retryable(&BatchError::Status(404)));
        assert!(!is_retryable(&BatchError::Decode("truncated".into())));
        assert!(!is_retryable(&BatchError::BodyTooLarge(1)));
    }

    #[test]
    fn backoff_grows_and_is_deterministic() {
        assert_eq!(backoff(3, 1), backoff(3, 1));
        assert!(backoff(3, 1) >= BASE_BACKOFF / 2 && backoff(3, 1) < BASE_BACKOFF * 3 / 2);
        assert!(backoff(3, 3) >= BASE_BACKOFF * 2);
    }
}
