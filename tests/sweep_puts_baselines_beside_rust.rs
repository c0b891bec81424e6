//! `sweep` with baselines puts the Python and Go rows beside the Rust ones,
//! in the same figures, with the same checksums, and figure 9 states as
//! ratios how far the emulated GIL (`threads --gil`) is from CPython's
//! threads. Figure 9 without baselines is a usage error.

mod common;

use common::{installed_baselines, runtime_lab};

#[test]
fn gil_figure_without_baselines_exits_2() {
    let output = runtime_lab()
        .args(["sweep", "--figures", "9", "--out"])
        .arg(std::env::temp_dir().join("runtime-lab-never-written"))
        .output()
        .expect("runtime-lab starts");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--baselines"));
}

#[test]
fn gil_figure_states_the_gap_between_the_emulation_and_cpython() {
    let installed = installed_baselines();
    if !["py-threads", "py-asyncio"]
        .iter()
        .all(|name| installed.iter().any(|b| b.name == *name))
    {
        return;
    }
    let out = std::env::temp_dir().join(format!("runtime-lab-sweep-gil-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // Naming a baseline in --executors adds the baselines' series.
    let output = runtime_lab()
        .args([
            "sweep",
            "--executors",
            "threads,tokio-ct,py-threads,py-asyncio",
            "--figures",
            "9",
            "--io-ms",
            "20",
            "--max-n",
            "2",
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
    assert!(out.join("fig9.png").is_file());
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    for needle in [
        "## Rust, Go and Python side by side",
        "py-threads takes",
        "the wall time of `threads --gil`",
        "| N | py-threads / threads --gil |",
        "py-asyncio, CPU inline on its event loop, takes",
        "every ok run of the same N reported the same checksum",
    ] {
        assert!(
            report.contains(needle),
            "REPORT.md lacks {needle:?}:\n{report}"
        );
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    for series in [
        "threads",
        "threads --gil",
        "py-threads",
        "tokio-ct",
        "py-asyncio",
    ] {
        assert!(
            csv.lines()
                .any(|line| line.starts_with(&format!("9,{series},")) && line.contains(",ok,")),
            "no ok row for {series}:\n{csv}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
