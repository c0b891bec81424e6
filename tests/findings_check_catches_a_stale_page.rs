//! `runtime-lab findings --check` exits 1 when reports/FINDINGS.md is not
//! what the sets produce, and 0 once `runtime-lab findings` rewrote it; the
//! binary's side of what CI runs (the page's content is the sweep crate's
//! `findings_page` test).

use std::path::Path;
use std::process::Command;

fn findings(root: &Path, check: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runtime-lab"));
    command.arg("findings").current_dir(root);
    if check {
        command.arg("--check");
    }
    command.output().expect("runtime-lab runs")
}

#[test]
fn check_exits_1_on_a_stale_page_and_0_on_a_fresh_one() {
    let root =
        std::env::temp_dir().join(format!("runtime-lab-findings-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/sweep/tests/fixtures/findings");
    let set = "2026-01-02-quick-2c";
    std::fs::create_dir_all(root.join("reports").join(set)).unwrap();
    std::fs::copy(
        fixtures.join(set).join("results.json"),
        root.join("reports").join(set).join("results.json"),
    )
    .unwrap();
    std::fs::write(
        root.join("README.md"),
        format!(
            "# lab\n\n{}\n{}\n",
            sweep::findings::BEGIN,
            sweep::findings::END
        ),
    )
    .unwrap();
    std::fs::write(root.join("reports/FINDINGS.md"), "hand-written\n").unwrap();

    let stale = findings(&root, true);
    assert_eq!(stale.status.code(), Some(1), "{stale:?}");
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(
        stderr.contains("FINDINGS.md") && stderr.contains("README.md"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("reports/FINDINGS.md")).unwrap(),
        "hand-written\n",
        "--check writes nothing"
    );

    let written = findings(&root, false);
    assert!(written.status.success(), "{written:?}");
    let fresh = findings(&root, true);
    assert_eq!(fresh.status.code(), Some(0), "{fresh:?}");
    let page = std::fs::read_to_string(root.join("reports/FINDINGS.md")).unwrap();
    assert!(
        page.contains("[client quick fig. 1](2026-01-02-quick-2c/fig1.png)"),
        "{page}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
