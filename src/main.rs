//! `runtime-lab`: run one fetch-and-preprocess workload on any executor and report it.

use anyhow::Context;
use clap::Parser;
use lab::{baselines, executors, limits, upstream};
use runtime_lab::cli::{self, Cli, Command, LoadArgs, RunArgs, ServeFeaturesArgs};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;
use upstream::UsageError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::List => match list(&mut std::io::stdout().lock()) {
            // A reader that stops early (`runtime-lab list | head`) is not an error.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            printed => printed.context("cannot print the list"),
        },
        Command::ServeFeatures(args) => serve_features(&args),
        Command::Serve(args) => runtime_lab::serve::run(&args),
        Command::ProcessWorker => exec_processes::work(std::io::stdin().lock(), std::io::stdout())
            .context("processes worker failed"),
        Command::Sweep(args) => sweep::run(&args.into()),
        Command::Load(args) => load(&args),
        Command::Findings(args) => sweep::findings::run(&args.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            // A run that completed no batch printed its report but did no
            // work: a distinct code, so that scripts and the sweep tell it
            // from bad input (2) and from a run that could not happen (1).
            if error
                .chain()
                .any(|cause| cause.is::<cli::NoBatchCompleted>())
            {
                return ExitCode::from(lab::EXIT_NO_BATCH_COMPLETED);
            }
            // Bad input, or a run the machine cannot hold as asked, exits 2
            // like clap's usage errors.
            if error.chain().any(|cause| {
                cause.is::<UsageError>()
                    || cause.is::<sweep::OutDirError>()
                    || cause.is::<limits::TooManyOpenFiles>()
            }) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Ends the process if the run outlives `deadline`, so that nothing can hang;
/// the embedded feature store follows through its parent-death signal.
fn watchdog(deadline: Duration) {
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            std::thread::sleep(deadline);
            eprintln!(
                "error: the run exceeded its deadline of {} s and was stopped",
                deadline.as_secs()
            );
            std::process::exit(1);
        });
    if let Err(error) = spawned {
        eprintln!("warning: no watchdog for this run: {error}");
    }
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    // `find` names the executor and, when it cannot run here, the reason;
    // a baseline that is not installed says how to install it.
    let executor = executors::Runnable::find(&args.executor, &args.workload)?;
    let request_timeout_ms = args.workload.timeout_ms.unwrap_or_else(|| {
        pipeline::Workload::default_timeout_ms(
            args.workload.io_ms,
            args.workload.batches,
            args.workload.cpu_ms,
        )
    });
    let timeouts = upstream::ProbeTimeouts {
        connect: Duration::from_millis(request_timeout_ms.min(5_000)),
        request: Duration::from_millis(request_timeout_ms),
    };
    let upstream = upstream::Upstream::prepare(
        args.upstream.as_deref(),
        args.upstream_kind.map(Into::into),
        &args.faults,
        timeouts,
    )?;
    let workload = executor.workload(&args.workload, upstream.target()?)?;
    watchdog(workload.deadline());
    limits::ensure_room_for(executor.in_flight(&workload))?;
    let before = upstream.cpu_ms();
    let mut report = executor
        .run(&workload)
        .with_context(|| format!("executor {} failed", executor.name()))?;
    report.upstream_cpu_ms = upstream
        .cpu_ms()
        .zip(before)
        .map(|(after, before)| after - before);
    report.upstream_pid = upstream.pid();
    drop(upstream);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).context("cannot encode the report")?
        );
    } else {
        cli::print_report(&report);
    }
    if report.ok == 0 {
        return Err(cli::NoBatchCompleted {
            batches: report.batches,
            first_error: report.errors.first().cloned(),
        }
        .into());
    }
    Ok(())
}

fn load(args: &LoadArgs) -> anyhow::Result<()> {
    let config = args.config();
    // Every connection holds a socket: ten thousand need the soft limit raised.
    let limit = limits::raise_open_file_limit();
    let needed = limits::open_files_needed(config.connections);
    if limit > 0 && limit < needed {
        return Err(UsageError(format!(
            "--connections {} needs about {needed} open files, but this process may open \
             at most {limit} (RLIMIT_NOFILE); lower --connections or raise the hard limit (ulimit -Hn)",
            config.connections
        ))
        .into());
    }
    watchdog(config.deadline() + Duration::from_secs(5));
    let report = load::run(&config).map_err(|error| {
        if error.is_usage() {
            // The message with its causes, e.g. why a host does not resolve.
            UsageError(format!("{:#}", anyhow::Error::new(error))).into()
        } else {
            anyhow::Error::new(error).context("the load run failed")
        }
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).context("cannot encode the report")?
        );
    } else {
        cli::print_load_report(&report);
    }
    Ok(())
}

fn list(out: &mut impl Write) -> std::io::Result<()> {
    let configurations: Vec<baselines::Configured> = baselines::names()
        .filter_map(|name| baselines::resolve(name)?.ok())
        .collect();
    let width = executors::ALL
        .iter()
        .map(|e| e.name)
        .chain(baselines::names())
        .chain(baselines::INTERPRETERS.iter().map(|i| i.name))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let rows = executors::ALL
        .iter()
        .map(|e| (e.name, e.summary.to_owned(), (e.available)()))
        .chain(configurations.iter().enumerate().map(|(index, c)| {
            let first = index == 0 || configurations[index - 1].baseline.name != c.baseline.name;
            let summary = match c.interpreter {
                // The summary once, with the interpreters it runs on, on
                // its first line; then one short line per other interpreter.
                Some(_) if first => format!(
                    "{} (runs on {})",
                    c.baseline.summary,
                    c.baseline.interpreter_names()
                ),
                Some(interpreter) => format!("{} on {}", c.baseline.name, interpreter.name),
                None => c.baseline.summary.to_owned(),
            };
            (c.name, summary, c.installed())
        }));
    for (name, summary, status) in rows {
        match status {
            Ok(()) => writeln!(out, "{name:<width$}  {summary}")?,
            Err(reason) => writeln!(out, "{name:<width$}  {summary} [unavailable: {reason}]")?,
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Python baselines run on an interpreter, as NAME@INTERP (a bare name: {}):",
        baselines::SYSTEM_INTERPRETER
    )?;
    for interpreter in baselines::INTERPRETERS {
        match interpreter.installed() {
            Ok(()) => writeln!(out, "{:<width$}  {}", interpreter.name, interpreter.summary)?,
            Err(reason) => writeln!(
                out,
                "{:<width$}  {} [not installed: {reason}]",
                interpreter.name, interpreter.summary
            )?,
        }
    }
    Ok(())
}

fn serve_features(args: &ServeFeaturesArgs) -> anyhow::Result<()> {
    if args.exit_with_parent {
        upstream::exit_with_parent()?;
    }
    let faults = args.faults.faults();
    faults.validate().map_err(UsageError)?;
    // The store holds one socket per request in flight, as many as the runs it serves.
    limits::raise_open_file_limit();
    let config = feature_store::Config {
        addr: args.addr,
        faults,
        ..feature_store::Config::default()
    };
    feature_store::serve(config, |addr| {
        // The one readiness line that a parent process waits for.
        println!("{}{addr}", upstream::READY_PREFIX);
        let _ = std::io::stdout().flush();
    })
    .context("feature store failed")
}
