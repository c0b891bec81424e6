//! `sweep --server --figures 5,6,7` measures the Python-vs-Go article's
//! scenarios on their own routes and writes their table (a tiny sweep: one
//! server, one repeat, short probes): every point records its memory at
//! rest, a search on the scenario's route and the latency at 50% and 90%.

mod common;

use common::runtime_lab;

#[test]
fn a_tiny_article_sweep_probes_each_scenario_s_route_and_writes_its_table() {
    let out =
        std::env::temp_dir().join(format!("runtime-lab-article-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = runtime_lab()
        .args(["sweep", "--server", "--quick", "--figures", "5,6"])
        .args([
            "--executors",
            "tokio-mt",
            "--repeat",
            "1",
            "--probe-ms",
            "200",
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
        "fig5.png",
        "fig5.svg",
        "fig6.png",
    ] {
        assert!(out.join(file).is_file(), "{file} is written");
    }
    assert!(
        !out.join("fig1.png").exists(),
        "figures 1-3 run only when named"
    );
    let report = std::fs::read_to_string(out.join("REPORT.md")).expect("REPORT.md");
    for needle in [
        "## The Python-vs-Go article's table, measured",
        "| Gin / FastAPI, the article | 3.75x | 13.33x |",
        "| tokio-mt -w ",
        "`GET /fib?n=27`",
        "`go-gin`: not selected with --executors",
    ] {
        assert!(
            report.contains(needle),
            "REPORT.md lacks {needle:?}:\n{report}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("json"))
            .expect("valid JSON");
    let rows = json["rows"].as_array().expect("rows");
    for figure in [5, 6] {
        let steps: Vec<&str> = rows
            .iter()
            .filter(|row| row["figure"] == figure && row["error"].is_null())
            .filter_map(|row| row["step"].as_str())
            .collect();
        assert_eq!(steps.first(), Some(&"rest"), "figure {figure}: {steps:?}");
        assert!(steps.contains(&"closed"), "figure {figure}: {steps:?}");
        let rest = rows
            .iter()
            .find(|row| row["figure"] == figure && row["step"] == "rest")
            .expect("a rest row");
        assert!(rest["server_rss_kb"].as_u64().unwrap_or(0) > 0, "{rest}");
    }
    // The scenarios' own results, one server each.
    let scenarios = json["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 2);
    assert_eq!(scenarios[1]["scenario"]["route"], "/fib?n=27");
    let _ = std::fs::remove_dir_all(&out);
}
