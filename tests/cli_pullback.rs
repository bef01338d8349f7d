//! `truelumen score` and the pullback report of `truelumen analyze` from the command line.

mod common;
use common::run;

#[test]
fn score_table_and_json() {
    let r = run(&[
        &"score",
        &"--blunt-stump",
        &"--no-calcified-entry",
        &"--rvd-mm",
        &"2.0",
        &"--length-mm",
        &"200",
        &"--outflow",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("score: A (1 points)"), "{}", r.stdout);
    assert!(r.stdout.contains("97.3 %") && r.stdout.contains("100 %"), "{}", r.stdout);
    let r = run(&[&"score", &"--rvd-mm", &"1.99", &"--length-mm", &"200.5", &"--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((v["points_min"].as_u64(), v["points_max"].as_u64()), (Some(2), Some(6)));
    assert_eq!(v["grade"], serde_json::Value::Null);
    assert_eq!((v["grade_min"].as_str(), v["grade_max"].as_str()), (Some("B"), Some("D")));
    assert_eq!(v["published_success"].as_array().unwrap().len(), 3);
    // Bad values and contradictions.
    assert_eq!(run(&[&"score", &"--rvd-mm", &"-1"]).code, 4);
    assert_eq!(run(&[&"score", &"--outflow", &"--no-outflow"]).code, 2);
}

#[test]
fn analyze_writes_the_pullback_report() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = run(&[&"analyze", &demo, &"--out", &out, &"--no-overlays", &"--quiet", &"--no-outflow"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in ["results.json", "measurements.csv", "summary.json", "report.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("measurements.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(header, truelumen::output::CSV_COLUMNS.join(","), "stable CSV header");
    assert!(header.contains("balloon_suggestion_mm"));
    assert_eq!(csv.lines().count(), 65);
    let s: truelumen::pullback::report::Summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(s.timing.origin.contains("calibration.json"), "{}", s.timing.origin);
    assert_eq!(s.jbtk.items[4].present, Some(true));
    assert!(s.lesion.is_some());
    // The sequence passes run: the demo's subintimal stretch (frames 23–34) is called
    // subintimal, some of it from the neighbouring frames (`pullback::sides`), and the results
    // do not depend on the thread count, which sets the chunk size (32 frames up to 8 threads,
    // 36 at 9: the frame held back by the side pass falls elsewhere).
    let results = std::fs::read_to_string(out.join("results.json")).unwrap();
    let doc: truelumen::report::Results = serde_json::from_str(&results).unwrap();
    let sub = |i: &usize| doc.frames[*i].catheter_position == truelumen::report::CatheterPosition::Subintimal;
    let n_sub = (23..35).filter(sub).count();
    assert!(n_sub >= 11, "{n_sub} of 12 stretch frames called subintimal");
    assert!(doc.frames.iter().any(|f| f.quality.has(truelumen::report::QualityFlag::LumenSideFromNeighbours)));
    for threads in ["1", "9"] {
        let out_t = dir.path().join(format!("out{threads}"));
        let r = run(&[
            &"analyze",
            &demo,
            &"--out",
            &out_t,
            &"--no-overlays",
            &"--quiet",
            &"--no-outflow",
            &"--threads",
            &threads,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(std::fs::read_to_string(out_t.join("results.json")).unwrap(), results, "--threads {threads}");
    }
    // Invalid pullback options are parameter errors.
    let r = run(&[&"analyze", &demo, &"--out", &out, &"--fps", &"0"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let r = run(&[&"analyze", &demo, &"--out", &out, &"--balloon-catalogue", &"0,2"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
}
