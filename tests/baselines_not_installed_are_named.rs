//! A baseline that is not installed is never silently dropped: `list` marks
//! it unavailable with the install command, `run` (a client) or `serve` (a
//! server) refuses it with exit status 2 and a message that says how to
//! install it, and a sweep skips it and names it in its report. A server
//! baseline given to `run`, or a client one given to `serve`, is refused
//! with exit status 2 and the command that takes it. Flags that mean
//! nothing to a real runtime (`--gil`) are refused with exit status 2 too.
//!
//! `RUNTIME_LAB_BASELINES` points the binary at an empty install folder, so
//! these hold whether or not the baselines are installed on this machine.

mod common;

use common::runtime_lab;
use lab::baselines::{Configured, Role};
use std::process::Command;

fn without_baselines(args: &[&str]) -> Command {
    let empty =
        std::env::temp_dir().join(format!("runtime-lab-no-baselines-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut command = runtime_lab();
    command
        .env(lab::baselines::PREFIX_VARIABLE, &empty)
        .args(args);
    command
}

/// Every baseline on every interpreter it runs on, clients then servers.
fn every_configuration() -> Vec<Configured> {
    let mut all = lab::baselines::configurations_of(Role::Client);
    all.extend(lab::baselines::configurations_of(Role::Server));
    all
}

/// The command that starts `baseline` the way its role takes: `run` a
/// client, `serve` a server.
fn start_args(baseline: &Configured) -> Vec<&'static str> {
    match baseline.baseline.role {
        Role::Client => vec!["run", "-e", baseline.name, "-n", "1", "--io-ms", "0"],
        Role::Server => vec!["serve", "-e", baseline.name, "--addr", "127.0.0.1:0"],
    }
}

#[test]
fn run_and_serve_refuse_a_missing_baseline_with_exit_2_and_the_install_command() {
    for baseline in &every_configuration() {
        let output = without_baselines(&start_args(baseline))
            .output()
            .expect("runtime-lab starts");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}: {stderr}", baseline.name);
        for needle in [baseline.name, "not installed", "scripts/baselines/install"] {
            assert!(stderr.contains(needle), "{}: {stderr}", baseline.name);
        }
        assert!(output.stdout.is_empty(), "nothing on stdout");
    }
}

#[test]
fn list_marks_missing_baselines_unavailable_and_keeps_the_executors() {
    let output = without_baselines(&["list"])
        .output()
        .expect("runtime-lab starts");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for baseline in every_configuration() {
        let line = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(baseline.name))
            .unwrap_or_else(|| panic!("{} is not listed: {stdout}", baseline.name));
        assert!(line.contains("[unavailable: not installed"), "{line}");
    }
    assert!(stdout.lines().any(|line| line.starts_with("threads ")));
}

#[test]
fn run_refuses_a_server_baseline_and_serve_a_client_one_with_a_hint() {
    for baseline in every_configuration() {
        let (command, hint) = match baseline.baseline.role {
            Role::Server => ("run", format!("serve -e {}", baseline.name)),
            Role::Client => ("serve", format!("run -e {}", baseline.name)),
        };
        // Installed or not, the role is checked first.
        let output = runtime_lab()
            .args([command, "-e", baseline.name])
            .output()
            .expect("runtime-lab starts");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command} {}: {stderr}",
            baseline.name
        );
        assert!(
            stderr.contains(&hint),
            "{command} {}: {stderr}",
            baseline.name
        );
        assert!(output.stdout.is_empty(), "nothing on stdout");
    }
}

#[test]
fn gil_flag_is_refused_for_a_baseline() {
    let output = runtime_lab()
        .args(["run", "-e", "py-threads", "--gil", "-n", "1"])
        .output()
        .expect("runtime-lab starts");
    assert_eq!(output.status.code(), Some(2));
    // Installed or not, the message is about this baseline.
    assert!(String::from_utf8_lossy(&output.stderr).contains("py-threads"));
}

#[test]
fn sweep_skips_missing_baselines_and_names_them_in_its_report() {
    let out = std::env::temp_dir().join(format!(
        "runtime-lab-sweep-no-baselines-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    let output = without_baselines(&[
        "sweep",
        "--baselines",
        "--figures",
        "1",
        "--io-ms",
        "20",
        "--max-n",
        "1",
        "--repeat",
        "1",
        "--out",
    ])
    .arg(&out)
    .output()
    .expect("runtime-lab starts");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    for name in ["py-serial", "py-threads", "go-serial"] {
        assert!(
            report.contains(&format!("`{name}`: not installed")),
            "REPORT.md does not name {name}: {report}"
        );
    }
    // The Rust executors of figure 1 still ran.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|line| line.starts_with("1,threads,") && line.contains(",ok,"))
    );
    assert!(!csv.contains("py-serial"), "a skipped baseline has no rows");
    let _ = std::fs::remove_dir_all(&out);
}
