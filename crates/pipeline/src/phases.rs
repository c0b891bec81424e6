//! Where one batch's time goes: six phases, measured the same way on every executor.
//!
//! A batch's latency runs from the moment its fetch is issued to the moment
//! its preprocessing ends. It is cut into six phases that follow each other
//! without gaps, so that they add up to the latency:
//!
//! | phase | from | to |
//! |---|---|---|
//! | `connect` | batch issued by the executor | connection ready for the attempt that succeeded |
//! | `wait` | connection ready | response head (first byte on the blocking path) |
//! | `receive` | response head | last body byte, content-decoded (streamed: fed to the decoder) |
//! | `queue` | (see below) | |
//! | `decode` | preprocess starts | JSON decoded into values (streamed: the decoder's `finish`) |
//! | `preprocess` | values decoded | kernel rounds done |
//!
//! A feature-store body in plain JSON is decoded as it arrives
//! ([`crate::BatchDecoder`]): each chunk is fed to the decoder when it is
//! read, so that no request holds its whole body. That decoding is
//! interleaved with the reading and stays in `receive`; `decode` is then
//! the decoder's final step (`finish`, which checks the batch is whole),
//! measured inside the fetch and moved out of `receive`. Other bodies (a
//! template or URL upstream's raw bytes, a gzip or deflate body) are
//! buffered whole and decoded by the kernel, as the table says.
//!
//! Conventions, so that nothing is lost and nothing is counted twice:
//! - the batch starts when the executor issues it ([`crate::BatchOutcome`]'s
//!   `issued`); anything before the fetch's first step (a new thread
//!   starting, its first stack pages) is in `connect`;
//! - failed attempts and the backoff before a retry are in `connect`: the
//!   connection that counts is the one of the attempt that succeeded;
//! - a kept-alive connection is ready when it is taken from the pool;
//! - writing the request is in `wait` (it is one small write);
//! - `queue` is the time the batch was ready to move on and waited for its
//!   executor: from body received to preprocess started (a channel to CPU
//!   workers, `spawn_blocking`'s pool, the next poll of the task), the wait
//!   for the emulated GIL before decoding (a Python thread waits the same
//!   way before it can run its callback; the GIL hand-offs *during* the
//!   kernel stay in `preprocess`, interleaved with the work as in CPython),
//!   any hand-back after preprocessing until the executor holds the result
//!   (`spawn_blocking` returning to the event loop, a worker process's
//!   pipes, a thread preempted on its way out), and, on the async path, every
//!   wait between a wake-up of the fetching task and its next poll. That
//!   last part is the runtime's scheduling delay, measured by a waker that
//!   stamps the time it is woken ([`Scheduled`]): on one event loop busy with
//!   CPU work a reply that arrived is read only when the loop gets to it, and
//!   that delay is subtracted from the phase it fell in and counted here.
//!   A wake-up comes from the runtime's reactor, so a reply that reached the
//!   socket while the reactor was not being polled (one event loop running
//!   CPU work between its polls of the reactor) is noticed late, and that
//!   lateness stays in `wait`: only kernel receive timestamps could move it;
//! - on the blocking path the kernel schedules threads, and a thread ready
//!   to run but waiting for a core is not visible to the program: that wait
//!   stays inside the phase in which it happened.

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// One batch's latency cut into phases (see the module docs for where each begins and ends).
///
/// It is serializable so that a worker process can send it across a pipe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    /// Fetch issued to connection ready, failed attempts and backoff included.
    pub connect: Duration,
    /// Connection ready to response head: the request write and the upstream's delay.
    pub wait: Duration,
    /// Response head to the last body byte, content-decoded.
    pub receive: Duration,
    /// JSON body to feature values.
    pub decode: Duration,
    /// Ready but waiting for the executor (or the GIL): its scheduling delay.
    pub queue: Duration,
    /// The kernel rounds.
    pub preprocess: Duration,
}

impl Phases {
    /// The six phases in the order of the report: `connect, wait, receive, decode, queue, preprocess`.
    pub fn as_array(&self) -> [Duration; 6] {
        [
            self.connect,
            self.wait,
            self.receive,
            self.decode,
            self.queue,
            self.preprocess,
        ]
    }

    /// The sum of the phases: the batch's latency, as far as the phases account for it.
    pub fn total(&self) -> Duration {
        self.as_array().into_iter().sum()
    }
}

/// When the fetch of one batch reached each of its points, on the fetching
/// process's clock, and how much of each interval was scheduling delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchTimes {
    /// The fetch was called.
    pub started: Instant,
    /// The connection of the attempt that succeeded was ready.
    pub connected: Instant,
    /// The response head (blocking path: its first byte) had arrived.
    pub responded: Instant,
    /// The last body byte had arrived and the body was content-decoded.
    pub received: Instant,
    /// Scheduling delay measured inside `started..connected`,
    /// `connected..responded` and `responded..received` (async path only).
    pub scheduling: [Duration; 3],
    /// The part of `responded..received` spent finishing a streamed decode
    /// (zero for a buffered body): it is the `decode` phase.
    pub decoded: Duration,
}

impl FetchTimes {
    /// Times of a fetch whose points all lie at `now`: for bodies that did
    /// not come from a fetcher.
    pub fn at(now: Instant) -> Self {
        FetchTimes {
            started: now,
            connected: now,
            responded: now,
            received: now,
            scheduling: [Duration::ZERO; 3],
            decoded: Duration::ZERO,
        }
    }

    /// The fetch phases (`connect`, `wait`, `receive`, a streamed body's
    /// `decode`, and the scheduling delay as `queue`), the others zero.
    pub fn phases(&self) -> Phases {
        // A delay is moved out of the interval it was measured in, never
        // more than the interval holds, so that the phases still add up.
        let mut queue = Duration::ZERO;
        let mut span = |from: Instant, to: Instant, delay: Duration| {
            let whole = to.saturating_duration_since(from);
            let delay = delay.min(whole);
            queue += delay;
            whole - delay
        };
        let [connecting, waiting, receiving] = self.scheduling;
        let connect = span(self.started, self.connected, connecting);
        let wait = span(self.connected, self.responded, waiting);
        let receive = span(self.responded, self.received, receiving);
        let decode = self.decoded.min(receive);
        Phases {
            connect,
            wait,
            receive: receive - decode,
            decode,
            queue,
            ..Phases::default()
        }
    }
}

/// A fetched batch, as the fetchers' timed calls hand it to the kernel.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A feature-store batch, decoded chunk by chunk as its body arrived.
    Values(Vec<f64>),
    /// The body, content-decoded and whole: a template or URL upstream's
    /// raw features, or a gzip or deflate body; the kernel decodes it.
    Body(bytes::Bytes),
}

/// A fetched response body (or its decoded values, see [`Payload`]) and
/// when its fetch reached each point.
#[derive(Debug, Clone)]
pub struct Fetched<B> {
    /// The body, content-decoded, or the values decoded from it.
    pub body: B,
    /// The fetch's timestamps.
    pub times: FetchTimes,
}

/// Runs a future and measures its scheduling delay: the time between each
/// wake-up of the future and the next poll of it.
///
/// It polls the inner future with its own waker, which stamps the time it is
/// woken and then wakes the task's real waker; the next poll subtracts the
/// stamp from the time it begins. The inner future reads the running total
/// with [`WakeClock::delayed`] when it stamps a phase boundary.
pub(crate) struct Scheduled<F> {
    inner: Pin<Box<F>>,
    clock: Arc<WakeClock>,
    waker: Waker,
}

impl<F: Future> Scheduled<F> {
    /// Wraps `make(clock)`, where `clock` measures the future's own delay.
    pub(crate) fn new(make: impl FnOnce(Arc<WakeClock>) -> F) -> Self {
        let clock = Arc::new(WakeClock::default());
        Scheduled {
            inner: Box::pin(make(Arc::clone(&clock))),
            waker: Waker::from(Arc::clone(&clock)),
            clock,
        }
    }
}

impl<F: Future> Future for Scheduled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.clock.polled(cx.waker());
        this.inner
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
    }
}

/// The waker of [`Scheduled`] and its running total of scheduling delay.
#[derive(Default)]
pub(crate) struct WakeClock {
    state: Mutex<WakeState>,
}

#[derive(Default)]
struct WakeState {
    /// The task's real waker, as of the last poll.
    task: Option<Waker>,
    /// The first wake-up since the last poll.
    woken_at: Option<Instant>,
    /// Scheduling delay so far.
    delayed: Duration,
}

impl WakeClock {
    /// The scheduling delay measured so far.
    pub(crate) fn delayed(&self) -> Duration {
        self.lock().delayed
    }

    fn polled(&self, task: &Waker) {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(woken_at) = state.woken_at.take() {
            state.delayed += now.saturating_duration_since(woken_at);
        }
        if !state
            .task
            .as_ref()
            .is_some_and(|known| known.will_wake(task))
        {
            state.task = Some(task.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WakeState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Wake for WakeClock {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let task = {
            let mut state = self.lock();
            state.woken_at.get_or_insert_with(Instant::now);
            state.task.clone()
        };
        // Woken outside the lock: a runtime may poll the task at once, on this thread.
        if let Some(task) = task {
            task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_phases_move_scheduling_delay_into_queue() {
        let started = Instant::now();
        let ms = Duration::from_millis;
        let times = FetchTimes {
            started,
            connected: started + ms(2),
            responded: started + ms(102),
            received: started + ms(110),
            scheduling: [ms(1), ms(30), ms(0)],
            decoded: ms(3),
        };
        let phases = times.phases();
        assert_eq!(phases.connect, ms(1));
        assert_eq!(phases.wait, ms(70));
        assert_eq!(phases.receive, ms(5));
        assert_eq!(phases.decode, ms(3));
        assert_eq!(phases.queue, ms(31));
        assert_eq!(phases.total(), ms(110));
    }

    #[test]
    fn a_wake_then_a_late_poll_is_scheduling_delay() {
        struct Noop;
        impl Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let task = Waker::from(Arc::new(Noop));
        let clock = Arc::new(WakeClock::default());
        clock.polled(&task);
        assert_eq!(clock.delayed(), Duration::ZERO);
        Waker::from(Arc::clone(&clock)).wake_by_ref();
        std::thread::sleep(Duration::from_millis(5));
        clock.polled(&task);
        assert!(clock.delayed() >= Duration::from_millis(5));
        // A poll without a wake-up before it adds nothing.
        let before = clock.delayed();
        clock.polled(&task);
        assert_eq!(clock.delayed(), before);
    }
}
