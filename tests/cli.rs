//! End-to-end tests of the `truelumen` binary on small generated frames: outputs on success,
//! exit codes and messages on bad input, and no `results.json` left behind on failure.

use std::path::{Path, PathBuf};
use truelumen::report::{FrameResult, Results};

mod common;
use common::{Run, run};

/// A speckle-ish grey frame with a dark disc, so it is not constant.
fn grey(w: u32, h: u32, seed: u32) -> image::GrayImage {
    image::GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0);
        let base = if dx.hypot(dy) < w as f32 / 5.0 { 20 } else { 120 };
        image::Luma([base + ((x * 7 + y * 13 + seed * 31) % 40) as u8])
    })
}

fn write_frames(dir: &Path, names: &[&str], w: u32, h: u32) {
    for (i, n) in names.iter().enumerate() {
        grey(w, h, i as u32).save(dir.join(n)).unwrap();
    }
}

fn calib(dir: &Path, json: &str) {
    std::fs::write(dir.join("calibration.json"), json).unwrap();
}

/// Asserts a failure: exit code, message naming `needle`, and no results.json in `out`.
fn assert_fails(r: &Run, code: i32, needle: &str, out: &Path) {
    assert_eq!(r.code, code, "stderr: {}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "expected {needle:?} in: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(!out.join("results.json").exists());
}

fn no_temp_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
}

#[test]
fn analyze_folder_writes_three_outputs() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("frames");
    std::fs::create_dir(&input).unwrap();
    write_frames(&input, &["f10.png", "f2.png", "f1.png"], 64, 48);
    // A 16-bit RGB TIFF of the same size is read too (converted to luma, scaled to 0–255).
    let rgb16 = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(64, 48, |x, _| image::Rgb([x as u16 * 1000; 3]));
    rgb16.save(input.join("f3.tif")).unwrap();
    std::fs::write(input.join("notes.txt"), "ignored").unwrap();
    calib(&input, r#"{"mm_per_px": 0.02}"#);
    let out = t.path().join("out");

    let r = run(&[&"analyze", &input, &"--out", &out, &"--threads", &"2"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("4 frames"), "{}", r.stderr);

    let results: Results = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results.schema_version, 1);
    let sources: Vec<&str> = results.frames.iter().map(|f| f.source.as_str()).collect();
    assert_eq!(sources, ["f1.png", "f2.png", "f3.tif", "f10.png"]);
    assert!(results.frames.iter().enumerate().all(|(i, f)| f.index == i && f.mm_per_px == 0.02));

    let csv = std::fs::read_to_string(out.join("measurements.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with("index,source,lumen_area_mm2,"));
    assert!(lines[1].starts_with("0,f1.png,"));

    for stem in ["f1", "f2", "f3", "f10"] {
        let img = image::open(out.join("overlays").join(format!("{stem}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }
    assert!(no_temp_files(&out));

    // --quiet prints nothing; --no-overlays writes no overlay folder.
    let out2 = t.path().join("out2");
    let r = run(&[
        &"analyze",
        &input.join("f2.png"),
        &"--out",
        &out2,
        &"--no-overlays",
        &"--quiet",
        &"--mm-per-px",
        &"0.03",
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(r.stderr, "");
    assert!(!out2.join("overlays").exists());
    let results: Results = serde_json::from_str(&std::fs::read_to_string(out2.join("results.json")).unwrap()).unwrap();
    assert_eq!(results.frames.len(), 1);
    assert_eq!(results.frames[0].mm_per_px, 0.03, "command line wins over calibration.json");
}

#[test]
fn frame_prints_one_result() {
    let t = tempfile::tempdir().unwrap();
    write_frames(t.path(), &["a.png"], 40, 40);
    let overlay = t.path().join("ov.png");
    let r = run(&[
        &"frame",
        &t.path().join("a.png"),
        &"--mm-per-px",
        &"0.025",
        &"--center-px",
        &"20,19.5",
        &"--overlay",
        &overlay,
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let f: FrameResult = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((f.index, f.source.as_str(), f.mm_per_px, f.center_px), (0, "a.png", 0.025, [20.0, 19.5]));
    assert!(overlay.exists());
}

#[test]
fn polar_input_uses_display_frame() {
    let t = tempfile::tempdir().unwrap();
    // 64 A-lines x 32 samples.
    write_frames(t.path(), &["p1.png", "p2.png"], 32, 64);
    calib(t.path(), r#"{"polar": {"depth_mm": 4.0, "line0_deg": 90, "rotation": "cw"}}"#);
    let out = t.path().join("out");
    let r = run(&[&"analyze", &t.path(), &"--out", &out]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let results: Results = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    // Display frame: side 2 * 32 = 64, centre 31.5, 4 mm / 32 px.
    assert_eq!(results.frames[0].center_px, [31.5, 31.5]);
    assert_eq!(results.frames[0].mm_per_px, 0.125);
    let img = image::open(out.join("overlays/p1.png")).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
    // Command-line polar options.
    let r = run(&[&"frame", &t.path().join("p1.png"), &"--polar", &"--depth-mm", &"8"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let f: FrameResult = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(f.mm_per_px, 0.25);
}

#[test]
fn input_problems_exit_3() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let cal = ["--mm-per-px", "0.02"];

    let missing = t.path().join("missing.png");
    let r = run(&[&"analyze", &missing, &"--out", &out, &cal[0], &cal[1]]);
    assert_fails(&r, 3, "missing.png", &out);

    let text = t.path().join("text.png");
    std::fs::write(&text, "this is not an image").unwrap();
    let r = run(&[&"analyze", &text, &"--out", &out, &cal[0], &cal[1]]);
    assert_fails(&r, 3, "text.png", &out);

    let good = t.path().join("good.png");
    grey(64, 64, 1).save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = t.path().join("truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let r = run(&[&"analyze", &good, &truncated, &"--out", &out, &cal[0], &cal[1]]);
    assert_fails(&r, 3, "truncated.png", &out);
    let r = run(&[&"frame", &truncated, &cal[0], &cal[1]]);
    assert_fails(&r, 3, "truncated.png", &out);

    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let r = run(&[&"analyze", &empty, &"--out", &out, &cal[0], &cal[1]]);
    assert_fails(&r, 3, "empty", &out);

    let mixed = t.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    grey(64, 64, 1).save(mixed.join("f1.png")).unwrap();
    grey(48, 32, 1).save(mixed.join("f2.png")).unwrap();
    let r = run(&[&"analyze", &mixed, &"--out", &out, &cal[0], &cal[1]]);
    assert_fails(&r, 7, "f2.png", &out); // inconsistent input: its own exit code
    assert!(r.stderr.contains("48x32") && r.stderr.contains("64x64"), "{}", r.stderr);

    let bad_sidecar = t.path().join("badcal");
    std::fs::create_dir(&bad_sidecar).unwrap();
    grey(64, 64, 1).save(bad_sidecar.join("f1.png")).unwrap();
    calib(&bad_sidecar, "{mm_per_px: 0.02");
    let out_sc = t.path().join("out_sc");
    let r = run(&[&"analyze", &bad_sidecar, &"--out", &out_sc]);
    assert_fails(&r, 3, "calibration.json", &out_sc);
    assert!(!out_sc.exists(), "no output folder is created when the input is rejected up front");
}

#[test]
fn invalid_parameters_exit_4() {
    let t = tempfile::tempdir().unwrap();
    let frame = t.path().join("f.png");
    grey(64, 64, 1).save(&frame).unwrap();
    let out = t.path().join("out");
    for bad in ["0", "NaN", "-1", "inf"] {
        let r = run(&[&"analyze", &frame, &"--out", &out, &"--mm-per-px", &bad]);
        assert_fails(&r, 4, "mm_per_px", &out);
    }
    // No calibration anywhere: the message names the input and the option.
    let r = run(&[&"analyze", &frame, &"--out", &out]);
    assert_fails(&r, 4, "--mm-per-px", &out);
    assert!(r.stderr.contains("f.png"), "{}", r.stderr);
    let r = run(&[&"analyze", &frame, &"--out", &out, &"--polar", &"--depth-mm", &"-3"]);
    assert_fails(&r, 4, "depth_mm", &out);
    let r = run(&[&"analyze", &frame, &"--out", &out, &"--mm-per-px", &"0.02", &"--threads", &"0"]);
    assert_fails(&r, 4, "threads", &out);
    let r = run(&[&"analyze", &frame, &"--out", &out, &"--mm-per-px", &"0.02", &"--center-px", &"nan,3"]);
    assert_fails(&r, 4, "center_px", &out);
}

#[test]
fn unwritable_output_exits_5() {
    let t = tempfile::tempdir().unwrap();
    let frame = t.path().join("f.png");
    grey(64, 64, 1).save(&frame).unwrap();
    let file = t.path().join("regular");
    std::fs::write(&file, "x").unwrap();
    let out: PathBuf = file.join("out");
    let r = run(&[&"analyze", &frame, &"--out", &out, &"--mm-per-px", &"0.02"]);
    assert_fails(&r, 5, "regular", &out);
    let r = run(&[&"frame", &frame, &"--mm-per-px", &"0.02", &"--overlay", &file.join("x.png")]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).code, 2);
    assert_eq!(run(&[&"analyze", &"x.png"]).code, 2, "missing --out");
    assert_eq!(run(&[&"analyze", &"x.png", &"--out", &"o", &"--mm-per-px", &"abc"]).code, 2);
    assert_eq!(run(&[&"analyze", &"x.png", &"--out", &"o", &"--polar", &"--mm-per-px", &"1"]).code, 2);
    assert_eq!(run(&[&"analyze", &"x.png", &"--out", &"o", &"--depth-mm", &"4"]).code, 2, "needs --polar");
}
