//! Worker processes fed over pipes: the multiprocessing analog.
//!
//! The parent starts W worker processes and talks to each over its stdin and
//! stdout, one JSON message a line: first the workload, then batch ids; each
//! worker fetches and preprocesses its batches (a thread per batch) and
//! answers one line per batch with the digest or the error. Nothing but those
//! messages crosses a process boundary, which is the whole point: each worker
//! has its own memory, its own allocator and its own emulated GIL, so
//! `--gil` serializes CPU work only within a worker, as Python's
//! `ProcessPoolExecutor` escapes the GIL, and a worker that crashes takes
//! only its own in-flight batches with it (they fail with
//! [`pipeline::BatchError::WorkerLost`]). The price is paid in process start-up,
//! serialization (`ipc_bytes` in the report) and memory per worker.
//! The requests allowed in flight are split evenly between the workers, and
//! the parent hands a worker its next batch when one of its own is done.
//!
//! The worker program is any program that calls [`work`] on its stdin and
//! stdout; `runtime-lab` does so in a hidden subcommand, and [`WorkerCommand`]
//! says how to start it.
//!
//! # Example
//!
//! ```no_run
//! use exec_processes::WorkerCommand;
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let workload = Workload::new(upstream).batches(16).io_ms(200).workers(4).gil(true);
//! let worker = WorkerCommand::new("target/release/runtime-lab").arg("process-worker");
//! let report = exec_processes::run(&workload, &worker)?;
//! println!("{:.0} ms, {} bytes over pipes", report.wall_ms, report.ipc_bytes.unwrap_or(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use pipeline::serve::{BlockingService, Control};
use pipeline::{
    BatchError, BatchOutcome, BlockingFetcher, Processed, RunClock, RunReport, Workload,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "processes";

/// Errors that stop a processes run, or a worker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// A worker process could not be started.
    #[error("cannot start worker process {program:?}")]
    Spawn {
        /// The worker program.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The parent could not start a thread to read a worker's answers.
    #[error("cannot start the reader thread of worker {index}")]
    Thread {
        /// The worker's index.
        index: usize,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The server could not listen or start its handler thread.
    #[error("cannot serve")]
    Listen(#[source] io::Error),
    /// A worker could not read or write its pipes.
    #[error("worker pipe failed")]
    Pipe(#[source] io::Error),
    /// A worker got a message it does not understand.
    #[error("worker got an unexpected message: {0}")]
    Protocol(String),
}

/// How to start a worker process: a program and its arguments.
///
/// The program must call [`work`] on its stdin and stdout. For the
/// `runtime-lab` binary that is `WorkerCommand::new(path).arg("process-worker")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    program: PathBuf,
    args: Vec<OsString>,
}

impl WorkerCommand {
    /// Runs `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        WorkerCommand {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The program to run.
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }
}

/// Runs `workload` on `min(workers, in-flight limit)` worker processes started with `worker`.
///
/// Every worker is waited for before the report is built, so their CPU time
/// is in `cpu_user_ms` and `cpu_sys_ms`. A worker that dies fails its
/// unfinished batches; the run goes on with the others and never hangs on it.
pub fn run(workload: &Workload, worker: &WorkerCommand) -> Result<RunReport, Error> {
    workload.validate()?;
    let clock = RunClock::start();
    let limit = workload.in_flight_limit();
    let n_workers = workload.workers.min(limit);
    let mut workers = Vec::with_capacity(n_workers);
    for index in 0..n_workers {
        match Worker::start(worker, share(limit, n_workers, index)) {
            Ok(started) => workers.push(started),
            Err(error) => {
                for mut started in workers {
                    started.stop();
                }
                return Err(error);
            }
        }
    }

    let (events, inbox) = mpsc::channel();
    let (outcomes, ipc_bytes) = std::thread::scope(|scope| -> Result<_, Error> {
        for index in 0..workers.len() {
            let stdout = workers[index].stdout.take().expect("stdout is taken once");
            let events = events.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{index}-reader"))
                .spawn_scoped(scope, move || read_replies(index, stdout, &events));
            if let Err(source) = spawned {
                // The readers already started end when their workers exit,
                // which they do once their stdin closes; the scope joins them.
                for worker in &mut workers {
                    worker.stop();
                }
                return Err(Error::Thread { index, source });
            }
        }
        drop(events);
        let mut parent = Parent {
            workload,
            workers: &mut workers,
            pending: workload.batch_ids().collect(),
            outcomes: Vec::with_capacity(workload.batches as usize),
            ipc_bytes: 0,
        };
        let start = serde_json::to_string(&ToWorker::Start {
            workload: workload.clone(),
        })
        .expect("a workload serializes");
        for index in 0..parent.workers.len() {
            parent.send(index, &start);
        }
        parent.dispatch();
        parent.collect(&inbox);
        let Parent {
            outcomes,
            ipc_bytes,
            ..
        } = parent;
        // Closing their stdin tells the workers to exit; waiting reaps them,
        // which adds their CPU time to this process's children usage, and
        // lets the reader threads (joined by the scope) see the end of stdout.
        for worker in &mut workers {
            worker.stop();
        }
        Ok((outcomes, ipc_bytes))
    })?;

    let mut report = clock.finish(workload, NAME, outcomes);
    report.ipc_bytes = Some(ipc_bytes);
    Ok(report)
}

/// Serves `GET /predict?id=N` on `listener` as one process of a prefork
/// server, one request at a time, until `control` is stopped.
///
/// This is a gunicorn sync worker: the process takes a request, blocks in its
/// fetches, preprocesses and answers, and only then takes the next. W such
/// processes listen on one port with `SO_REUSEPORT` (`runtime-lab serve -e
/// processes` starts them), so W requests run at once, each process with its
/// own memory and its own emulated GIL. A thread per connection reads the
/// requests; only one handler thread runs them.
pub fn serve(listener: TcpListener, workload: &Workload, control: &Control) -> Result<(), Error> {
    workload.validate()?;
    BlockingService::new(workload)
        .serve(listener, 1, control)
        .map_err(Error::Listen)
}

/// Works as a worker of [`run`]: reads the workload and then batch ids from `input`,
/// one JSON message a line, and answers one line per batch on `output`.
///
/// Each batch runs on its own thread, so a worker overlaps the requests the
/// parent allows it. Returns when `input` ends, after the last batch is answered.
pub fn work(input: impl BufRead, output: impl Write + Send) -> Result<(), Error> {
    let mut lines = input.lines();
    let workload = match lines.next().transpose().map_err(Error::Pipe)? {
        Some(line) => match serde_json::from_str(&line) {
            Ok(ToWorker::Start { workload }) => workload,
            _ => {
                return Err(Error::Protocol(format!(
                    "expected the workload, got {line:?}"
                )));
            }
        },
        // The parent went away before saying anything: nothing to do.
        None => return Ok(()),
    };
    let fetcher = BlockingFetcher::new(&workload);
    let output = Mutex::new(output);
    let (workload, fetcher, output) = (&workload, &fetcher, &output);
    std::thread::scope(|scope| {
        for line in lines {
            let line = line.map_err(Error::Pipe)?;
            let id = match serde_json::from_str(&line) {
                Ok(ToWorker::Batch { id }) => id,
                _ => return Err(Error::Protocol(format!("expected a batch, got {line:?}"))),
            };
            // The worker's span of the batch starts here, before its thread does.
            let received = Instant::now();
            let job = move || answer(workload, fetcher, output, id, received);
            let spawned = std::thread::Builder::new()
                .name(format!("batch-{id}"))
                .stack_size(256 * 1024)
                .spawn_scoped(scope, job);
            if spawned.is_err() {
                // Out of threads: do this batch here rather than lose it.
                job();
            }
        }
        Ok(())
    })
}

/// A message from the parent to a worker.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum ToWorker {
    /// The first message: what to run.
    Start {
        /// The workload, calibrated rounds included, so workers do identical work.
        workload: Workload,
    },
    /// Fetch and preprocess one batch.
    Batch {
        /// The batch id.
        id: u64,
    },
}

/// A worker's answer for one batch.
#[derive(Serialize, Deserialize)]
struct FromWorker {
    id: u64,
    result: Result<Processed, BatchError>,
    /// Retries the worker made for this batch; the parent adds them to its count.
    retries: u32,
    /// The worker's time on the batch, from reading its id to answering:
    /// the parent counts the rest of its latency, the two pipe trips, as `queue`.
    #[serde(default)]
    span: Duration,
}

/// Fetches, preprocesses and answers one batch (in a worker).
fn answer(
    workload: &Workload,
    fetcher: &BlockingFetcher,
    output: &Mutex<impl Write>,
    id: u64,
    received: Instant,
) {
    let (fetched, retries) = fetcher.fetch_counting_retries(id);
    let result = fetched.and_then(|fetched| pipeline::process_fetched(workload, id, &fetched));
    // The worker's books close here: its phases cover its whole span.
    let answered = Instant::now();
    let reply = FromWorker {
        id,
        result: result.map(|processed| processed.accounted(received, answered)),
        retries,
        span: answered.saturating_duration_since(received),
    };
    let mut line = serde_json::to_vec(&reply).expect("a reply serializes");
    line.push(b'\n');
    let mut output = output
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // If the parent is gone there is no one to tell; stdin ends soon after.
    let _ = output.write_all(&line).and_then(|()| output.flush());
}

/// What a reader thread tells the parent's loop.
enum Event {
    /// A worker answered a batch; `bytes` is the length of its line.
    Reply {
        worker: usize,
        bytes: usize,
        reply: FromWorker,
    },
    /// A worker's stdout ended or made no sense: it is gone.
    Lost { worker: usize, reason: String },
}

/// One worker process, as the parent sees it.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    /// Batches sent and not answered yet, with when they were sent.
    outstanding: HashMap<u64, Instant>,
    /// Requests this worker may have in flight.
    slots: usize,
}

impl Worker {
    fn start(command: &WorkerCommand, slots: usize) -> Result<Self, Error> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // A worker's panic or error message goes straight to the user.
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| Error::Spawn {
                program: command.program.clone(),
                source,
            })?;
        Ok(Worker {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            child,
            outstanding: HashMap::new(),
            slots,
        })
    }

    fn is_alive(&self) -> bool {
        self.stdin.is_some()
    }

    /// Closes stdin (a live worker exits when it sees the end) and reaps the process.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.stdin = None;
        self.child.wait().ok()
    }
}

/// The parent's side of the protocol: hands out batches and collects answers.
struct Parent<'a> {
    workload: &'a Workload,
    workers: &'a mut Vec<Worker>,
    pending: VecDeque<u64>,
    outcomes: Vec<BatchOutcome>,
    ipc_bytes: u64,
}

impl Parent<'_> {
    /// Writes one message line to a worker; a worker whose pipe is broken is
    /// dead or dying, and its reader will report it.
    fn send(&mut self, index: usize, message: &str) -> bool {
        let Some(stdin) = self.workers[index].stdin.as_mut() else {
            return false;
        };
        let mut line = String::with_capacity(message.len() + 1);
        line.push_str(message);
        line.push('\n');
        match stdin.write_all(line.as_bytes()) {
            Ok(()) => {
                self.ipc_bytes += line.len() as u64;
                true
            }
            Err(_) => {
                self.workers[index].stdin = None;
                false
            }
        }
    }

    /// Fills every live worker's free slots with pending batches.
    fn dispatch(&mut self) {
        for index in 0..self.workers.len() {
            while self.workers[index].is_alive()
                && self.workers[index].outstanding.len() < self.workers[index].slots
            {
                let Some(id) = self.pending.pop_front() else {
                    return;
                };
                let message =
                    serde_json::to_string(&ToWorker::Batch { id }).expect("an id serializes");
                if self.send(index, &message) {
                    self.workers[index].outstanding.insert(id, Instant::now());
                } else {
                    // Never reached the worker: another one can take it.
                    self.pending.push_front(id);
                }
            }
        }
    }

    /// Handles answers and lost workers until every batch has an outcome.
    fn collect(&mut self, inbox: &mpsc::Receiver<Event>) {
        while self.outcomes.len() < self.workload.batches as usize {
            if !self.workers.iter().any(Worker::is_alive) {
                // Nobody is left to send the pending batches to.
                self.fail_pending("no worker process is left");
            }
            let in_flight = self.workers.iter().any(|w| !w.outstanding.is_empty());
            if !in_flight {
                if self.pending.is_empty() {
                    break;
                }
                // Batches pending, none in flight, yet no live worker took
                // them: every worker's pipe just broke.
                self.fail_pending("every worker process's pipe is broken");
                continue;
            }
            // Every worker with a batch outstanding has a reader thread that
            // sends either its answer or `Lost` when its stdout ends, so this
            // cannot wait forever on a dead worker.
            let Ok(event) = inbox.recv() else {
                self.fail_all_outstanding("the worker pipes closed");
                break;
            };
            match event {
                Event::Reply {
                    worker,
                    bytes,
                    reply,
                } => {
                    self.ipc_bytes += bytes as u64;
                    // The worker's retries happened in its process: count them here.
                    pipeline::count_retries(u64::from(reply.retries));
                    if let Some(issued) = self.workers[worker].outstanding.remove(&reply.id) {
                        let finished = Instant::now();
                        let pipes = finished
                            .saturating_duration_since(issued)
                            .saturating_sub(reply.span);
                        self.outcomes.push(BatchOutcome {
                            id: reply.id,
                            issued,
                            finished,
                            result: reply.result.map(|p| p.queued_for(pipes)),
                        });
                    }
                    self.dispatch();
                }
                Event::Lost { worker, reason } => {
                    self.lose(worker, &reason);
                    self.dispatch();
                }
            }
        }
    }

    /// A worker is gone: reap it and fail the batches it still had.
    fn lose(&mut self, index: usize, reason: &str) {
        let worker = &mut self.workers[index];
        let pid = worker.child.id();
        // It may still be running (a garbled message rather than a crash).
        let _ = worker.child.kill();
        let status = worker
            .stop()
            .map_or_else(|| "status unknown".to_owned(), |status| status.to_string());
        let message = format!("worker process {pid} died ({status}): {reason}");
        let now = Instant::now();
        for (id, issued) in worker.outstanding.drain() {
            let error = BatchError::WorkerLost(message.clone());
            self.outcomes.push(BatchOutcome {
                id,
                issued,
                finished: now,
                result: Err(error),
            });
        }
    }

    fn fail_pending(&mut self, reason: &str) {
        let now = Instant::now();
        for id in self.pending.drain(..) {
            let error = BatchError::WorkerLost(reason.to_owned());
            self.outcomes.push(BatchOutcome::new(id, now, Err(error)));
        }
    }

    fn fail_all_outstanding(&mut self, reason: &str) {
        for index in 0..self.workers.len() {
            if !self.workers[index].outstanding.is_empty() {
                self.lose(index, reason);
            }
        }
        self.fail_pending(reason);
    }
}

/// A reader thread: turns one worker's stdout lines into events, and its end into `Lost`.
fn read_replies(worker: usize, stdout: ChildStdout, events: &mpsc::Sender<Event>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let reason = loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break "its output ended".to_owned(),
            Ok(bytes) => match serde_json::from_str::<FromWorker>(&line) {
                Ok(reply) => {
                    let event = Event::Reply {
                        worker,
                        bytes,
                        reply,
                    };
                    if events.send(event).is_err() {
                        return;
                    }
                }
                Err(error) => break format!("it sent an unreadable answer ({error})"),
            },
            Err(error) => break format!("reading its output failed ({error})"),
        }
    };
    let _ = events.send(Event::Lost { worker, reason });
}

/// Worker `index`'s share of `limit` requests in flight; the shares add up to `limit`.
fn share(limit: usize, n_workers: usize, index: usize) -> usize {
    (limit / n_workers + usize::from(index < limit % n_workers)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_limit() {
        for (limit, n_workers) in [(8, 2), (7, 3), (2, 2), (1000, 16)] {
            let total: usize = (0..n_workers).map(|i| share(limit, n_workers, i)).sum();
            assert_eq!(total, limit);
        }
    }

    #[test]
    fn work_answers_nothing_without_a_workload_and_rejects_garbage() {
        let mut output = Vec::new();
        work(&b""[..], &mut output).expect("an empty input is a clean exit");
        assert!(output.is_empty());
        let error = work(&b"{\"type\":\"batch\",\"id\":1}\n"[..], &mut output)
            .expect_err("a batch before the workload");
        assert!(matches!(error, Error::Protocol(_)), "{error}");
    }

    #[test]
    fn workers_that_exit_at_once_fail_every_batch_without_hanging() {
        // `false` starts, reads nothing and exits 1: every batch sent to it
        // is lost, and the run still ends with a report.
        let upstream = pipeline::Upstream::parse("http://127.0.0.1:9").unwrap();
        let workload = Workload::new(upstream).batches(4).workers(2);
        let report = run(&workload, &WorkerCommand::new("false")).unwrap();
        assert_eq!((report.ok, report.failed), (0, 4), "{report:?}");
        assert!(
            report
                .errors
                .iter()
                .all(|error| error.starts_with("worker lost")),
            "{:?}",
            report.errors
        );
    }

    #[test]
    fn the_upstream_kind_decided_by_the_probe_reaches_the_workers() {
        // A worker parses nothing itself: the plain URL must stay a plain
        // URL, not become a feature store's base, on the other side of the pipe.
        let upstream = pipeline::Upstream::parse("http://127.0.0.1:9/delay/1")
            .unwrap()
            .with_kind(pipeline::UpstreamKind::Url);
        let start = ToWorker::Start {
            workload: Workload::new(upstream.clone()),
        };
        let line = serde_json::to_string(&start).unwrap();
        let ToWorker::Start { workload } = serde_json::from_str(&line).unwrap() else {
            panic!("a start message comes back as one: {line}");
        };
        assert_eq!(workload.upstream, upstream);
        assert_eq!(workload.request_path(3, 0), "/delay/1");
    }

    #[test]
    fn messages_round_trip() {
        let reply = FromWorker {
            id: 3,
            result: Err(BatchError::Status(503)),
            retries: 2,
            span: Duration::from_millis(7),
        };
        let line = serde_json::to_string(&reply).unwrap();
        let back: FromWorker = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (back.id, back.result, back.retries, back.span),
            (3, Err(BatchError::Status(503)), 2, Duration::from_millis(7))
        );
    }
}
