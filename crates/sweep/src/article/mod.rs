//! `runtime-lab sweep --server --figures 5,6,7`: the Python-vs-Go article's
//! own table, measured here.
//!
//! The article measures three scenarios on a 4-core VM with k6, FastAPI on
//! uvicorn against Gin: a JSON `/ping`, a CPU-bound `/fib/35` and an
//! I/O-bound handler that awaits an external API and a cache. Figures 5
//! (ping, `GET /ping`), 6 (cpu, `GET /fib?n=`[`plan::FIB_N`]) and 7 (io,
//! `GET /io?id=N`) put every server of [`plan::series`] on each route:
//! FastAPI on uvicorn (1 and `cores` workers), Flask on gunicorn, Gin, Go's
//! net/http, and the Rust models `tokio-mt`, `tokio-ct` (1 and `cores`
//! event-loop processes), `threads` and `processes`.
//!
//! A point is one server in one scenario (`measure`'s `point`): a fresh
//! `runtime-lab serve` child, its memory at rest, its max sustainable rate
//! found by the server sweep's own search ([`crate::serving::plan::Search`])
//! on the scenario's route, and p50 and p99 at 50% and 90% of it, with the
//! peak memory of its whole process tree under that load. The rows are the
//! server sweep's (`results.csv`, step `rest` for the memory at rest);
//! [`report`] turns them into a table per scenario, the article's numbers
//! beside them and the ratios the article draws, and [`chart`] into one
//! grouped bar chart per scenario. These figures run only when named with
//! `--figures`: they add about seven to nine minutes to a quick server sweep.

pub mod chart;
pub mod measure;
pub mod plan;
pub mod report;
