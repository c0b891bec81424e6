//! The open-file check before a run: every request in flight holds a socket.
//!
//! Ten thousand concurrent requests need ten thousand descriptors, and a
//! process that runs out of them fails its connects one by one in the middle
//! of the run (`EMFILE`), which looks like a slow or broken executor. So
//! before a run the CLI counts the descriptors it will need and compares them
//! with `RLIMIT_NOFILE`. Like Go's runtime, it first raises the soft limit to
//! the hard limit, which any process may do; if the run still does not fit,
//! it stops with a message that says how many requests would.

use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, rlim_t, setrlimit};

/// Descriptors a run needs besides one socket per request in flight: the
/// runtime's own (epoll, eventfds, pipes), the standard streams, the pipe to
/// the embedded feature store, and slack for what the runtimes open lazily.
pub const RESERVED_FDS: u64 = 128;

/// The run would need more open files than this process may have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{in_flight} requests in flight need about {needed} open files, but this process \
     may open at most {limit} (RLIMIT_NOFILE, hard limit {hard}); cap the requests with \
     --max-in-flight {suggested} or lower, or raise the hard limit (ulimit -Hn)"
)]
pub struct TooManyOpenFiles {
    /// Requests the run would keep open at once.
    pub in_flight: u64,
    /// Descriptors that needs, reserve included.
    pub needed: u64,
    /// The soft limit in force, after trying to raise it.
    pub limit: u64,
    /// The hard limit.
    pub hard: u64,
    /// The largest `--max-in-flight` that fits.
    pub suggested: u64,
}

/// Descriptors a run with `in_flight` concurrent requests needs.
pub fn open_files_needed(in_flight: usize) -> u64 {
    in_flight as u64 + RESERVED_FDS
}

/// Makes room for `in_flight` concurrent requests: raises the soft open-file
/// limit to the hard limit if the soft one is too low, then checks that the
/// requests fit.
pub fn ensure_room_for(in_flight: usize) -> Result<(), TooManyOpenFiles> {
    // A limit that cannot be read cannot be checked; the run then finds out itself.
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    let soft = if soft < open_files_needed(in_flight) {
        raise_open_file_limit()
    } else {
        soft
    };
    check(in_flight, soft, hard)
}

/// Raises the soft open-file limit to the hard limit, as far as the kernel
/// allows, and returns the soft limit now in force.
pub fn raise_open_file_limit() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    // An unlimited hard limit cannot be the soft one for open files: Linux
    // caps it at fs.nr_open.
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    let ceiling = nr_open.map_or(hard, |nr_open| hard.min(nr_open));
    if soft >= ceiling {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, ceiling, hard) {
        Ok(()) => ceiling,
        Err(_) => soft,
    }
}

/// Checks `in_flight` requests against a soft limit `limit` (and `hard`).
fn check(in_flight: usize, limit: rlim_t, hard: rlim_t) -> Result<(), TooManyOpenFiles> {
    let needed = open_files_needed(in_flight);
    if limit == RLIM_INFINITY || needed <= limit {
        return Ok(());
    }
    Err(TooManyOpenFiles {
        in_flight: in_flight as u64,
        needed,
        limit,
        hard,
        suggested: limit.saturating_sub(RESERVED_FDS).max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_that_fit_pass() {
        assert_eq!(check(10_000, 20_000, 20_000), Ok(()));
        assert_eq!(check(19_872, 20_000, 20_000), Ok(()));
        assert_eq!(check(1_000_000, RLIM_INFINITY, RLIM_INFINITY), Ok(()));
    }

    #[test]
    fn too_many_requests_suggest_a_cap_that_fits() {
        let error = check(30_000, 20_000, 20_000).unwrap_err();
        assert_eq!(error.needed, 30_000 + RESERVED_FDS);
        assert_eq!(error.suggested, 20_000 - RESERVED_FDS);
        assert_eq!(check(error.suggested as usize, 20_000, 20_000), Ok(()));
        let message = error.to_string();
        assert!(
            message.contains(&format!("--max-in-flight {}", error.suggested)),
            "{message}"
        );
        assert!(message.contains("20000"), "{message}");
    }

    #[test]
    fn raising_never_lowers_the_limit() {
        let (before, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert!(raise_open_file_limit() >= before);
    }
}
