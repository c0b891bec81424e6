//! `runtime-lab sweep` writes a complete report folder: one CSV row per
//! (figure, series, N, repeat), JSON, real PNG and SVG plots and REPORT.md,
//! with the ideal bound computed by DESIGN.md's formula; an unwritable
//! `--out` is refused with exit status 2 before anything runs.
//!
//! The sweeps are shrunk with the hidden `--io-ms` and `--max-n` flags so
//! that each takes a few seconds; they run real child processes against a
//! real embedded feature store.

mod common;

use common::runtime_lab;
use pipeline::RunReport;
use std::path::{Path, PathBuf};

/// Upstream delay of the test sweeps.
const IO_MS: u64 = 20;
/// Largest N of the test sweeps: figures 1 to 6 run N = 1, 2, 4.
const MAX_N: u32 = 4;
/// Largest N of the scaling figures' test sweep: N = 1 and 10 in flight.
const MAX_IN_FLIGHT: u32 = 10;
/// Repeats per point.
const REPEAT: u32 = 2;

/// A fresh, empty folder under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("runtime-lab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn sweep(out: &Path, figures: &str, max_n: u32) {
    let output = runtime_lab()
        .args([
            "sweep",
            "--figures",
            figures,
            "--repeat",
            &REPEAT.to_string(),
            "--io-ms",
            &IO_MS.to_string(),
            "--max-n",
            &max_n.to_string(),
            "--out",
        ])
        .arg(out)
        .output()
        .expect("runtime-lab starts");
    assert!(
        output.status.success(),
        "sweep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn json(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("results.json")).expect("results.json exists");
    serde_json::from_str(&text).expect("results.json parses")
}

/// Width and height from a PNG's signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "a PNG is longer than its header");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn tiny_sweep_writes_every_file_with_one_csv_row_per_point_and_repeat() {
    let out = scratch("sweep-files");
    sweep(&out, "1", MAX_N);
    for name in [
        "results.csv",
        "results.json",
        "fig1.png",
        "fig1.svg",
        "REPORT.md",
    ] {
        assert!(out.join(name).is_file(), "{name} is written");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no partial files: {leftovers:?}");

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    // Figure 1 is serial and threads at N = 1, 2, 4.
    let mut keys: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|row| {
            (
                row[column("figure")].to_owned(),
                row[column("series")].to_owned(),
                row[column("n")].to_owned(),
                row[column("repeat")].to_owned(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 2 * 3 * REPEAT as usize, "{csv}");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2 * 3 * REPEAT as usize, "keys are unique");
    for row in &rows {
        assert_eq!(row[column("figure")], "1");
        assert_eq!(row[column("status")], "ok", "{row:?}");
        assert_eq!(row[column("io_ms")], IO_MS.to_string());
        assert_eq!(row[column("ok")], row[column("n")], "every batch ran");
    }

    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    for needle in [
        "runtime-lab sweep --figures 1",
        "](fig1.png)",
        "| kernel |",
        "| rustc |",
        "| CPU |",
        "efficiency",
        "At N = 4 on",
    ] {
        assert!(report.contains(needle), "REPORT.md lacks {needle:?}");
    }
}

#[test]
fn plots_are_real_images_and_the_ideal_bound_follows_the_design_formula() {
    let out = scratch("sweep-plots");
    // Figure 8 shares figure 7's runs and draws on log axes.
    sweep(&out, "1,7,8", MAX_IN_FLIGHT);
    for id in [1, 7, 8] {
        let png = std::fs::read(out.join(format!("fig{id}.png"))).unwrap();
        let (width, height) = png_size(&png);
        assert!(width > 0 && height > 0, "fig{id}.png is {width}x{height}");
        let svg = std::fs::read_to_string(out.join(format!("fig{id}.svg"))).unwrap();
        let start = svg.trim_start();
        assert!(
            start.starts_with("<svg") || start.starts_with("<?xml"),
            "fig{id}.svg starts with {:?}",
            &start[..start.len().min(40)]
        );
        assert!(svg.contains("<text"), "fig{id}.svg has text");
    }

    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(
        report.contains("| series | N | in flight (peak) |"),
        "figures 7 and 8 say what each run held: {report}"
    );
    assert!(
        report.contains("| CPU floor (ms) |")
            && report.contains("The requests' own CPU sets a second floor"),
        "figure 7 compares each curve with its requests' own CPU: {report}"
    );

    let results = json(&out);
    let mut reports = 0;
    for row in results["rows"].as_array().unwrap() {
        if row["report"].is_null() {
            continue;
        }
        let report: RunReport = serde_json::from_value(row["report"].clone()).unwrap();
        // Each run is charged with the sweep's embedded store's CPU during it.
        assert!(
            report.upstream_cpu_ms.is_some_and(|ms| ms >= 0.0),
            "no store CPU in {row}"
        );
        let expected = RunReport::ideal_ms(
            report.io_ms,
            report.batches,
            report.cores,
            report.cpu_per_batch_ms,
        );
        assert!(
            (report.ideal_ms - expected).abs() < 1e-9,
            "row ideal {} vs formula {expected}",
            report.ideal_ms
        );
        reports += 1;
    }
    assert!(reports > 0, "some runs were measured");

    for figure in results["figures"].as_array().unwrap() {
        if figure["figure"]["measure"] != "wall-time" {
            continue;
        }
        let cores = figure["cores"].as_u64().unwrap() as usize;
        let cpu_per_batch_ms = figure["cpu_per_batch_ms"].as_f64().unwrap();
        let io_ms = figure["io_ms"].as_u64().unwrap();
        let bound = figure["bound"].as_array().unwrap();
        assert!(!bound.is_empty());
        for point in bound {
            let n = point["n"].as_u64().unwrap() as u32;
            let expected = RunReport::ideal_ms(io_ms, n, cores, cpu_per_batch_ms);
            assert!(
                (point["value"].as_f64().unwrap() - expected).abs() < 1e-9,
                "figure {} bound at N = {n}",
                figure["figure"]["id"]
            );
        }
    }

    // Figure 8's threads curve reuses figure 7's runs: same run numbers.
    let run_of = |figure: u64, n: u64, repeat: u64| {
        results["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| {
                row["figure"] == figure
                    && row["series"] == "threads"
                    && row["n"] == n
                    && row["repeat"] == repeat
            })
            .map(|row| row["run"].clone())
            .unwrap()
    };
    let in_flight = u64::from(MAX_IN_FLIGHT);
    assert_eq!(run_of(7, in_flight, 1), run_of(8, in_flight, 1));
    assert!(run_of(7, in_flight, 1).is_u64());
}

#[test]
fn phase_figures_are_drawn_from_the_runs_phases() {
    let out = scratch("sweep-phases");
    let output = runtime_lab()
        .args([
            "sweep",
            "--figures",
            "10,11",
            "--executors",
            "threads,tokio-ct",
            "--repeat",
            "1",
            "--io-ms",
            &IO_MS.to_string(),
            "--max-n",
            &MAX_IN_FLIGHT.to_string(),
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("runtime-lab starts");
    assert!(
        output.status.success(),
        "sweep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for id in [10, 11] {
        let png = std::fs::read(out.join(format!("fig{id}.png"))).unwrap();
        let (width, height) = png_size(&png);
        assert!(width > 0 && height > 0, "fig{id}.png is {width}x{height}");
        let svg = std::fs::read_to_string(out.join(format!("fig{id}.svg"))).unwrap();
        // The legend names the six phases in their order.
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|element| {
                let (_, rest) = element.split_once('>')?;
                rest.split_once("</text>").map(|(text, _)| text.trim())
            })
            .collect();
        let at = |phase: &str| {
            texts
                .iter()
                .position(|text| *text == phase)
                .unwrap_or_else(|| panic!("fig{id}.svg names {phase}: {texts:?}"))
        };
        assert!(at("connect") < at("wait") && at("queue") < at("preprocess"));
    }
    let results = json(&out);
    let timed = results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|row| row["report"]["phases_ms"].is_object());
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    for needle in [
        "## Figure 10. Where the time goes",
        "## Figure 11. Where the time goes",
        "| series | N | connect p50 / p99 (ms) |",
        "| tokio-ct | 10 |",
        "| threads | 8 |",
    ] {
        assert!(
            report.contains(needle),
            "REPORT.md lacks {needle:?}:\n{report}"
        );
    }
    // Every Rust executor times its phases, so the figures are drawn from
    // measurements and the report compares their sum with the latency.
    assert!(timed, "no run reported phases_ms");
    assert!(report.contains("the phase medians add up to"), "{report}");
    assert!(!report.contains("Phases were not measured"), "{report}");
}

#[test]
fn unwritable_out_exits_2_with_a_message_and_writes_nothing() {
    let dir = scratch("sweep-unwritable");
    std::fs::create_dir_all(&dir).unwrap();
    // A path under a regular file cannot be created, even by root.
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    for out in [file.join("report"), file.clone()] {
        let output = runtime_lab()
            .args(["sweep", "--quick", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}: {stderr}", out.display());
        assert!(
            stderr.contains("cannot write to --out") && stderr.contains(&*out.to_string_lossy()),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "nothing ran");
    }
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1, "only the file that was there");
}

/// An HTTP service that answers batch 0 and refuses every other batch with
/// status 500, on its own thread, for at most `connections` connections.
fn half_broken_service(connections: usize) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|read| read > 2) {
                    header.clear();
                }
                let (status, body) = if request_line.starts_with("GET /batch/0 ") {
                    ("200 OK", "{\"id\":0,\"values\":[1.0,2.0]}")
                } else {
                    ("500 Internal Server Error", "{\"error\":\"broken\"}")
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{addr}/batch/{{id}}")
}

#[test]
fn a_failing_run_stops_its_curve_with_its_error_and_the_sweep_still_reports() {
    let out = scratch("sweep-failing");
    let output = runtime_lab()
        .args([
            "sweep",
            "--figures",
            "1",
            "--executors",
            "serial",
            "--repeat",
            "1",
            "--max-n",
            &MAX_N.to_string(),
            "--upstream",
            &half_broken_service(100),
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = json(&out);
    let status_at = |n: u64| {
        let row = results["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["n"] == n)
            .unwrap();
        (
            row["status"].as_str().unwrap().to_owned(),
            row["reason"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert_eq!(status_at(1).0, "ok");
    let (failed, error) = status_at(2);
    assert_eq!(failed, "failed");
    assert!(error.contains("500"), "the error is recorded: {error}");
    let (skipped, reason) = status_at(4);
    assert_eq!(skipped, "skipped");
    assert!(reason.contains("N = 2"), "{reason}");
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(report.contains("`serial` stops at N = 2"), "{report}");
    // The failed point is a row of the table, with no numbers, not a point drawn.
    assert!(report.contains("| serial | 2 | failed |"), "{report}");
    let figure = &results["figures"][0];
    let series = &figure["series"][0];
    assert_eq!(series["stop"]["failed"], true, "{series}");
    assert!(
        series["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|point| point["n"] != 2),
        "{series}"
    );
    assert!(out.join("fig1.png").is_file());
}
