//! End-to-end tests of `truelumen simulate` and `truelumen evaluate` on small phantoms
//! (3 frames of 256x256 pixels): simulate → analyze → evaluate, and the exit codes of bad input.

use std::path::Path;

mod common;
use common::{Run, run};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
}

#[test]
fn simulate_analyze_evaluate() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("phantom");
    let r = run(&[&"simulate", &"--out", &data, &"--count", &"3", &"--seed", &"5000", &"--side", &"256"]);
    ok(&r);
    assert!(r.stderr.contains("no polar/calibration.json"), "{}", r.stderr);
    for name in ["frame_000", "frame_001", "frame_002"] {
        let img = image::open(data.join(format!("{name}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (256, 256));
        assert!(data.join("polar").join(format!("{name}.png")).is_file());
        assert!(data.join("truth").join(format!("{name}.json")).is_file());
    }
    assert!(!data.join("frame_003.png").exists() && !data.join("polar/calibration.json").exists());
    let calib = std::fs::read_to_string(data.join("calibration.json")).unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&calib).unwrap()["mm_per_px"], 10.0 / 256.0);

    // analyze needs no other argument than the folder.
    let out = t.path().join("out");
    ok(&run(&[&"analyze", &data, &"--out", &out, &"--no-overlays"]));
    let results = out.join("results.json");

    let r = run(&[&"evaluate", &results, &data.join("truth")]);
    ok(&r);
    assert!(r.stdout.starts_with("frames                          3\n"), "{}", r.stdout);
    assert!(r.stdout.contains("lumen  Jaccard (mean)"), "{}", r.stdout);
    assert!(r.stdout.contains("wire found/expected") && r.stdout.contains("\nframe_002.png "), "{}", r.stdout);

    let r = run(&[&"evaluate", &results, &data.join("truth"), &"--json"]);
    ok(&r);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["summary"]["frames"], 3);
    assert_eq!(doc["frames"][1]["source"], "frame_001.png");
    let j = doc["frames"][0]["score"]["vessel_jaccard"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&j), "{j}");

    // A frame without truth: exit 3 naming the missing file.
    std::fs::remove_file(data.join("truth/frame_001.json")).unwrap();
    let r = run(&[&"evaluate", &results, &data.join("truth")]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: ") && r.stderr.contains("frame_001.json"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    // A missing results.json: exit 3 naming it.
    let r = run(&[&"evaluate", &t.path().join("nope.json"), &data.join("truth")]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("nope.json"), "{}", r.stderr);
}

#[test]
fn simulate_polar_writes_one_polar_calibration() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("phantom");
    let r = run(&[&"simulate", &"--out", &data, &"--count", &"2", &"--seed", &"5010", &"--side", &"128", &"--polar"]);
    ok(&r);
    let text = std::fs::read_to_string(data.join("polar/calibration.json")).unwrap();
    let sidecar: truelumen::io::Sidecar = serde_json::from_str(&text).unwrap();
    let p = sidecar.polar.unwrap();
    assert_eq!((p.depth_mm, p.line0_deg, p.rotation), (5.0, 0.0, truelumen::Rotation::Ccw));
    let img = image::open(data.join("polar/frame_001.png")).unwrap();
    assert_eq!((img.width(), img.height()), (512, 512));
    ok(&run(&[&"analyze", &data.join("polar"), &"--out", &t.path().join("out"), &"--no-overlays", &"-q"]));
}

#[test]
fn simulate_refuses_bad_parameters_and_foreign_frames() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("phantom");
    let r = run(&[&"simulate", &"--out", &data, &"--count", &"0"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("count"), "{}", r.stderr);
    let r = run(&[&"simulate", &"--out", &data, &"--fov-mm", &"-1"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("fov_mm"), "{}", r.stderr);

    std::fs::create_dir_all(&data).unwrap();
    image::GrayImage::new(8, 8).save(data.join("other.png")).unwrap();
    let r = run(&[&"simulate", &"--out", &data, &"--count", &"1", &"--side", &"64"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("other.png"), "{}", r.stderr);
    assert!(!Path::new(&data.join("frame_000.png")).exists());
}
