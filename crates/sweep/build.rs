//! Bakes the compiler's version into the sweep (and so into the binary), so
//! that REPORT.md can name the rustc that built it on a machine where `rustc`
//! is not on PATH.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    if let Some(version) = version {
        println!("cargo:rustc-env=RUNTIME_LAB_RUSTC_VERSION={version}");
    }
    println!("cargo:rerun-if-env-changed=RUSTC");
}
