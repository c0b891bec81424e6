//! `sweep --server` runs servers under load and writes its figures, data and
//! a REPORT.md whose sentences come from the rows (a small sweep: one
//! serving model, one worker count, short probes).

mod common;

use common::runtime_lab;

#[test]
fn a_small_server_sweep_writes_figures_rows_and_findings() {
    let out = std::env::temp_dir().join(format!("runtime-lab-server-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = runtime_lab()
        .args(["sweep", "--server", "--quick", "--figures", "1,3"])
        .args([
            "--executors",
            "tokio-mt,threads",
            "--max-n",
            "2",
            "--probe-ms",
            "300",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runtime-lab starts");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in [
        "REPORT.md",
        "results.csv",
        "results.json",
        "fig1.png",
        "fig1.svg",
        "fig3.png",
    ] {
        assert!(out.join(file).is_file(), "{file} is written");
    }
    let report = std::fs::read_to_string(out.join("REPORT.md")).expect("REPORT.md");
    assert!(report.contains("tokio-mt's best is"), "{report}");
    assert!(report.contains("max sustainable"), "{report}");
    assert!(report.contains("`processes`: not selected"), "{report}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("json"))
            .expect("valid JSON");
    let rows = json["rows"].as_array().expect("rows");
    // Every probe of figure 1 served requests, and no probe failed.
    assert!(rows.iter().all(|row| row["error"].is_null()), "{rows:?}");
    let sustained = rows
        .iter()
        .filter(|row| row["figure"] == 1 && row["sustained"] == true)
        .count();
    assert!(sustained >= 2, "a sustained rate for each point: {rows:?}");
    // The search finds one blocking worker's known capacity: what one
    // request at a time allows, 1000 / the latency of a request alone
    // (measured beside it, at one connection), within a generous margin.
    let one_worker = |step: &str| -> Vec<f64> {
        rows.iter()
            .filter(|row| {
                row["figure"] == 1
                    && row["executor"] == "threads"
                    && row["gil"] == false
                    && row["workers"] == 1
                    && (row["step"] == step || (step == "chosen" && row["chosen"] == true))
            })
            .map(|row| {
                if step == "chosen" {
                    row["offered_rps"].as_f64().expect("an open-loop rate")
                } else {
                    row["achieved_rps"].as_f64().expect("a rate")
                }
            })
            .collect()
    };
    let (alone, chosen) = (one_worker("alone"), one_worker("chosen"));
    assert!(!alone.is_empty() && alone.len() == chosen.len(), "{rows:?}");
    for (alone, chosen) in alone.iter().zip(&chosen) {
        assert!(
            (0.75 * alone..=1.25 * alone).contains(chosen),
            "threads -w 1: max sustainable {chosen} req/s, one request alone {alone} req/s"
        );
    }
    // The memory figure held its connections: the server's peak RSS is measured.
    assert!(
        rows.iter()
            .filter(|row| row["figure"] == 3)
            .all(|row| row["server_peak_rss_kb"].as_u64().unwrap_or(0) > 0)
    );
    let _ = std::fs::remove_dir_all(&out);
}
