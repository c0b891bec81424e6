//! `runtime-lab findings`: the page built from a small fixture set of
//! hand-written results.json files in both formats, its verdicts and links,
//! and the committed page, which must be what the committed sets produce.

use std::path::{Path, PathBuf};
use sweep::findings::{self, BEGIN, END, Options, PAGE, Stale, plan, read};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/findings")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The judged claim `id` over `sets`.
fn judged<'a>(sets: &'a [read::Set], id: &str) -> plan::Assessed<'a> {
    plan::claims()
        .iter()
        .find(|claim| claim.id == id)
        .unwrap_or_else(|| panic!("no claim {id}"))
        .verdict(sets)
}

/// The page's row of claim `id`: the table line that links to its section.
fn row<'p>(page: &'p str, id: &str) -> &'p str {
    page.lines()
        .find(|line| line.starts_with("| ") && line.contains(&format!("](#{id})")))
        .unwrap_or_else(|| panic!("no row for {id} in:\n{page}"))
}

#[test]
fn fixture_sets_are_read_in_both_formats_and_dated_by_folder() {
    let sets = read::sets(&fixtures()).expect("the fixture sets");
    let folders: Vec<&str> = sets.iter().map(|set| set.folder.as_str()).collect();
    // The criterion folder has no results.json: it is not a set.
    assert_eq!(
        folders,
        [
            "2026-01-01-quick-2c",
            "2026-01-02-quick-2c",
            "2026-01-02-server-quick-4c",
            "2026-01-03-server-full-4c"
        ]
    );
    let newest = read::newest(&sets, read::Kind::CLIENT_QUICK, 1).expect("a client quick set");
    assert_eq!(newest.folder, "2026-01-02-quick-2c");
    assert_eq!(newest.machine.to_string(), "2 cores, Fixture CPU");
    assert!(read::newest(&sets, read::Kind::CLIENT_FULL, 7).is_none());
    assert!(read::newest(&sets, read::Kind::SERVER_QUICK, 5).is_some());
}

#[test]
fn verdicts_follow_the_stated_rule() {
    let sets = read::sets(&fixtures()).expect("the fixture sets");

    // The newer set's serial line is linear (the older one's is not), and
    // both readings are within the band.
    let serial = judged(&sets, "serial-linear");
    assert_eq!(serial.verdict, plan::Verdict::Reproduced);
    let rust = serial
        .rust
        .as_ref()
        .and_then(plan::Outcome::measured)
        .unwrap();
    assert_eq!(rust.set.folder, "2026-01-02-quick-2c");
    assert!((rust.value - 1.0).abs() < 1e-9, "{}", rust.value);

    // The Rust event loop is serial, CPython's is not in the fixture: the
    // real system decides, so the claim differs.
    let event_loop = judged(&sets, "event-loop-serial");
    let rust = event_loop
        .rust
        .as_ref()
        .and_then(plan::Outcome::measured)
        .unwrap();
    let python = event_loop.real[0].measured().unwrap();
    assert!((rust.value - 1.0).abs() < 1e-9, "{}", rust.value);
    assert!((python.value - 0.5).abs() < 1e-9, "{}", python.value);
    assert_eq!(event_loop.verdict, plan::Verdict::Differs);

    // 480 / 200 = 2.4x in the server full set (the quick one has no
    // `threads` at all), against the talk's 2.5x: reproduced.
    let scaling = judged(&sets, "max-rps-vs-workers");
    let rust = scaling
        .rust
        .as_ref()
        .and_then(plan::Outcome::measured)
        .unwrap();
    assert_eq!(rust.set.folder, "2026-01-03-server-full-4c");
    assert!((rust.value - 2.4).abs() < 1e-9, "{}", rust.value);
    assert_eq!(scaling.expected, Some(2.5));
    assert_eq!(scaling.verdict, plan::Verdict::Reproduced);

    // Gin's best 12,000 over FastAPI's best 10,000 is 1.2x, not 3.75x.
    let ping = judged(&sets, "gin-vs-fastapi-ping");
    assert!((ping.real[0].measured().unwrap().value - 1.2).abs() < 1e-9);
    assert_eq!(ping.verdict, plan::Verdict::Differs);

    // No client figure 12 and no client full set: not measured, with why.
    let micro = judged(&sets, "free-threading-8-threads");
    assert_eq!(micro.verdict, plan::Verdict::NotMeasured);
    let flat = judged(&sets, "async-flat-10000");
    assert_eq!(flat.verdict, plan::Verdict::NotMeasured);
    assert!(
        matches!(&flat.rust, Some(plan::Outcome::NotMeasured(why)) if why.contains("no committed client full set has figure 7")),
        "{:?}",
        flat.rust
    );

    // Server figure 1 is there, but without the series this claim reads.
    let flask = judged(&sets, "fastapi-vs-flask");
    assert_eq!(flask.verdict, plan::Verdict::NotMeasured);
}

#[test]
fn a_parallel_speed_up_is_capped_by_the_cores() {
    let claim = plan::claims()
        .iter()
        .find(|claim| claim.id == "free-threading-8-threads")
        .unwrap();
    assert!(claim.capped_by_cores);
    assert_eq!(claim.expected(2), 2.0);
    assert_eq!(claim.expected(16), claim.seed_value);
}

#[test]
fn the_page_names_its_command_links_its_figures_and_says_not_measured() {
    let output = findings::generate(&fixtures(), Some("reports/")).expect("a page");
    let page = &output.page;
    assert!(
        page.lines()
            .take(3)
            .any(|line| line.contains("Generated by `runtime-lab findings`")),
        "{page}"
    );
    // Every claim has a row, whatever the sets hold.
    for claim in plan::claims() {
        row(page, claim.id);
    }
    let serial = row(page, "serial-linear");
    assert!(serial.contains("**reproduced**"), "{serial}");
    assert!(
        serial.contains("[client quick fig. 1](2026-01-02-quick-2c/fig1.png)"),
        "{serial}"
    );
    assert!(
        serial.contains("([report](2026-01-02-quick-2c/REPORT.md))"),
        "{serial}"
    );
    assert!(serial.contains("2 cores, Fixture CPU"), "{serial}");
    assert!(
        !page.contains("2026-01-01-quick-2c"),
        "the older set is not read"
    );
    let ping = row(page, "gin-vs-fastapi-ping");
    assert!(
        ping.contains("**differs**") && ping.contains("4 cores, Fixture CPU"),
        "{ping}"
    );
    assert!(ping.contains("1.20x (`go-gin` / `py-uvicorn`)"), "{ping}");
    let micro = row(page, "free-threading-8-threads");
    assert!(micro.contains("**not measured**"), "{micro}");
    assert!(
        micro.contains("client quick fig. 12 (not in a committed set yet)"),
        "{micro}"
    );

    // README's block: headline rows only, its links lead into reports/.
    let block = output.readme_block.expect("a README block");
    assert!(
        block.contains("(reports/FINDINGS.md#serial-linear)"),
        "{block}"
    );
    assert!(
        block.contains("(reports/2026-01-02-quick-2c/fig1.png)"),
        "{block}"
    );
    assert!(!block.contains("#asyncio-vs-threads"), "not a headline row");
    // The picture is the event-loop claim's figure.
    assert!(
        block.contains("<img src=\"reports/2026-01-02-quick-2c/fig3.png\""),
        "{block}"
    );

    // Regenerating changes nothing.
    let again = findings::generate(&fixtures(), Some("reports/")).expect("a page");
    assert_eq!(again.page, *page);
}

#[test]
fn check_fails_on_a_stale_page_and_passes_on_a_fresh_one() {
    let root = std::env::temp_dir().join(format!("runtime-lab-findings-{}", std::process::id()));
    let reports = root.join("reports");
    let _ = std::fs::remove_dir_all(&root);
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let entry = entry.unwrap();
        let target = reports.join(entry.file_name());
        std::fs::create_dir_all(&target).unwrap();
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), target.join(file.file_name())).unwrap();
        }
    }
    let readme = root.join("README.md");
    std::fs::write(
        &readme,
        format!("# lab\n\nintro\n\n{BEGIN}\n{END}\n\nrest\n"),
    )
    .unwrap();
    let options = |check| Options {
        reports: reports.clone(),
        readme: Some(readme.clone()),
        check,
    };

    let stale = findings::run(&options(true)).expect_err("nothing generated yet");
    assert!(stale.downcast_ref::<Stale>().is_some(), "{stale:#}");
    findings::run(&options(false)).expect("writes the page and the block");
    findings::run(&options(true)).expect("fresh");
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(text.starts_with("# lab\n\nintro\n\n") && text.ends_with(&format!("{END}\n\nrest\n")));

    // A hand edit of the page, or of README's block, is caught.
    let page = reports.join(PAGE);
    let original = std::fs::read_to_string(&page).unwrap();
    std::fs::write(&page, original.replace("reproduced", "confirmed")).unwrap();
    let error = findings::run(&options(true)).expect_err("a stale page");
    let stale = error.downcast_ref::<Stale>().expect("a Stale error");
    assert_eq!(stale.files, std::slice::from_ref(&page));
    std::fs::write(&page, original).unwrap();
    std::fs::write(&readme, text.replace("reproduced", "confirmed")).unwrap();
    let error = findings::run(&options(true)).expect_err("a stale README");
    assert_eq!(
        error.downcast_ref::<Stale>().unwrap().files,
        std::slice::from_ref(&readme)
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// The relative links of a markdown text: the targets of `](...)` and `src="..."`.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (opening, closing) in [("](", ')'), ("src=\"", '"')] {
        let mut rest = text;
        while let Some(at) = rest.find(opening) {
            rest = &rest[at + opening.len()..];
            if let Some(end) = rest.find(closing) {
                found.push(rest[..end].to_owned());
            }
        }
    }
    found
        .into_iter()
        .filter(|link| !link.starts_with('#') && !link.contains("://"))
        .map(|link| link.split('#').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_committed_page_is_what_the_committed_sets_produce() {
    let root = workspace();
    let options = Options {
        reports: root.join("reports"),
        readme: Some(root.join("README.md")),
        check: true,
    };
    if let Err(error) = findings::run(&options) {
        panic!("{error:#}");
    }
    // Every link of the page and of README's block leads to a committed file.
    let page = std::fs::read_to_string(root.join("reports").join(PAGE)).unwrap();
    for link in links(&page) {
        assert!(
            root.join("reports").join(&link).is_file(),
            "FINDINGS.md links to a missing {link}"
        );
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = &readme[readme.find(BEGIN).unwrap()..readme.find(END).unwrap()];
    for link in links(block) {
        assert!(
            root.join(&link).is_file(),
            "README's findings block links to a missing {link}"
        );
    }
}
