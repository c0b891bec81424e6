//! `runtime-lab`: run one fetch-and-preprocess workload on any executor and report it.

use anyhow::Context;
use clap::Parser;
use runtime_lab::cli::{self, Cli, Command, RunArgs, ServeArgs};
use runtime_lab::{executors, limits, upstream};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::List => {
            list();
            Ok(())
        }
        Command::ServeFeatures(args) => serve_features(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            // A run the machine cannot hold as asked is a usage error, like a bad flag.
            if error
                .chain()
                .any(|cause| cause.is::<limits::TooManyOpenFiles>())
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let executor = executors::find(&args.executor).context("unknown executor")?;
    let upstream = upstream::Upstream::start(args.upstream.as_deref())?;
    let workload = args.workload(upstream.url())?;
    limits::ensure_room_for((executor.in_flight)(&workload))?;
    let before = upstream.cpu_ms();
    let mut report =
        (executor.run)(&workload).with_context(|| format!("executor {} failed", executor.name))?;
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
    Ok(())
}

fn list() {
    let width = executors::ALL
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    for executor in executors::ALL {
        match (executor.available)() {
            Ok(()) => println!("{:<width$}  {}", executor.name, executor.summary),
            Err(reason) => println!(
                "{:<width$}  {} [unavailable: {reason}]",
                executor.name, executor.summary
            ),
        }
    }
}

fn serve_features(args: &ServeArgs) -> anyhow::Result<()> {
    if args.exit_with_parent {
        upstream::exit_with_parent()?;
    }
    // The store holds one socket per request in flight, as many as the runs it serves.
    limits::raise_open_file_limit();
    let config = feature_store::Config {
        addr: args.addr,
        ..feature_store::Config::default()
    };
    feature_store::serve(config, |addr| {
        // The one readiness line that a parent process waits for.
        println!("{}{addr}", upstream::READY_PREFIX);
        let _ = std::io::stdout().flush();
    })
    .context("feature store failed")
}
