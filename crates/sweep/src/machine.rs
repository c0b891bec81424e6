//! Where and how a sweep ran: the machine, the date, the exact command.
//!
//! Every report of every figure family opens with these, so that a result
//! set always names the cores, the CPU and the command that wrote it.

use serde::Serialize;
use std::path::Path;

/// The machine a sweep ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs available to the process.
    pub cores: usize,
    /// `uname -r`.
    pub kernel: String,
    /// `rustc --version`, or the version that built this binary.
    pub rustc: String,
}

impl Machine {
    /// Reads the machine's description; unknown fields read "unknown".
    pub fn detect() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = nix::sys::utsname::uname()
            .map(|uts| uts.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cpu_model,
            cores: pipeline::available_cores(),
            kernel,
            rustc: rustc_version(),
        }
    }
}

impl Machine {
    /// The machine's rows of a report's settings table: CPU, cores (with
    /// `cores_note` after the count), kernel and rustc.
    pub fn settings(&self, cores_note: &str) -> [(&'static str, String); 4] {
        [
            ("CPU", self.cpu_model.clone()),
            ("cores", format!("{} ({cores_note})", self.cores)),
            ("kernel", self.kernel.clone()),
            ("rustc", self.rustc.clone()),
        ]
    }
}

fn rustc_version() -> String {
    let installed = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|version| !version.is_empty());
    match (installed, option_env!("RUNTIME_LAB_RUSTC_VERSION")) {
        (Some(version), _) => version,
        (None, Some(built)) => format!("{built} (that built this binary; no rustc on PATH)"),
        (None, None) => "unknown".to_owned(),
    }
}

/// The UTC date and time now, as (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS UTC`).
pub fn utc_now() -> (String, String) {
    let now = jiff::Timestamp::now();
    (
        now.strftime("%Y-%m-%d").to_string(),
        now.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// Shell-quotes a command line for REPORT.md.
pub fn command_line(program: &Path, args: &[String]) -> String {
    let name = program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    std::iter::once(name)
        .chain(args.iter().cloned())
        .map(|word| {
            if !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c))
            {
                word
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
