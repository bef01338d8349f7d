//! `truelumen analyze` on every input kind: the calibration that reaches the results (and its
//! source), studies of several pullbacks (index.csv, --skip-done, --shard, --manifest), and bad
//! input (issue 4 item 9): each case exits with its class's code, names the file (and frame),
//! and leaves no results.json.

mod common;
#[path = "../tools/dicom_writer.rs"]
mod dicom_writer;

use common::{Run, run};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/inputs")
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

fn assert_fails(r: &Run, code: i32, needles: &[&str], out: &Path) {
    assert_eq!(r.code, code, "stderr: {}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "`{n}` not in: {}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(!out.join("results.json").exists(), "no results.json after a failure");
}

#[test]
fn every_input_kind_reaches_the_results_with_its_calibration() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    let mm = 10.0 / 256.0;
    // (args, expected mm_per_px of the results, expected calibration source kind)
    let cases: Vec<(Vec<PathBuf>, Vec<&str>, f64, &str)> = vec![
        (vec![f.join("dicom/ybr422_jpeg.dcm")], vec![], mm, "dicom_tag"),
        (vec![f.join("dicom/mono_implicit.dcm")], vec![], mm, "dicom_tag"),
        (vec![f.join("dicom/mono_explicit.dcm")], vec!["--mm-per-px", "0.03"], 0.03, "command_line"),
        (vec![f.join("pullback.tif")], vec!["--mm-per-px", "0.0390625"], mm, "command_line"),
        (vec![f.join("raw/polar_u8.raw")], vec![], 5.0 / 256.0, "sidecar"),
        (vec![f.join("raw/rf_i16.raw")], vec![], 5.0 / 1024.0, "sidecar"),
        (vec![f.join("screen")], vec!["--field-of-view-mm", "10"], mm, "image_field"),
    ];
    for (k, (inputs, extra, want_mm, kind)) in cases.into_iter().enumerate() {
        let out = t.path().join(format!("o{k}"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"analyze", &"--out", &out, &"--no-overlays"];
        args.extend(inputs.iter().map(|p| p as &dyn AsRef<std::ffi::OsStr>));
        args.extend(extra.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
        let r = run(&args);
        assert_eq!(r.code, 0, "{inputs:?}: {}", r.stderr);
        let doc = results(&out);
        assert_eq!(doc["input"]["calibration_source"]["kind"], kind, "{inputs:?}");
        for fr in doc["frames"].as_array().unwrap() {
            let got = fr["mm_per_px"].as_f64().unwrap();
            // Screen captures: the detected field diameter is within 1 % of the drawn one.
            // Others: exact up to the 6 decimals of results.json.
            let tol = if kind == "image_field" { 0.01 } else { 5e-5 };
            assert!((got / want_mm - 1.0).abs() < tol, "{inputs:?}: {got} vs {want_mm}");
        }
    }
}

#[test]
fn timing_from_the_file_and_overrides() {
    let t = tempfile::tempdir().unwrap();
    let dcm = fixtures().join("dicom/mono_explicit.dcm");
    let out = t.path().join("a");
    let r = run(&[&"analyze", &dcm, &"--out", &out, &"--no-overlays", &"--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "--quiet prints nothing: {}", r.stderr);
    let tm = &results(&out)["input"]["timing"];
    assert_eq!(tm["pullback_mm_per_s"], 0.5);
    assert_eq!(tm["pullback_source"]["detail"], "IVUSPullbackRate");
    assert_eq!(tm["frame_times_s"].as_array().unwrap().len(), 4);
    let out = t.path().join("b");
    let r = run(&[
        &"analyze",
        &dcm,
        &"--out",
        &out,
        &"--no-overlays",
        &"--pullback-mm-per-s",
        &"1",
        &"--frame-rate-hz",
        &"10",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tm = &results(&out)["input"]["timing"];
    assert_eq!(tm["pullback_mm_per_s"], 1.0);
    assert_eq!(tm["pullback_source"]["kind"], "command_line");
    assert_eq!(tm["frame_times_s"][3], 0.3);
}

fn index_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|x| x.unwrap().iter().map(str::to_owned).collect()).collect()
}

#[test]
fn studies_index_skip_done_shard_and_manifest() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    let (a, b) = (f.join("dicom/mono_rle.dcm"), f.join("raw/polar_u8.raw"));
    let out = t.path().join("study");
    let r = run(&[&"analyze", &a, &b, &"--out", &out, &"--no-overlays"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = index_rows(&out.join("index.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0][0].as_str(), rows[0][3].as_str(), rows[0][5].as_str()), ("mono_rle", "done", "4"));
    assert_eq!((rows[1][0].as_str(), rows[1][3].as_str(), rows[1][5].as_str()), ("polar_u8", "done", "3"));
    assert_eq!(results(&out.join("mono_rle"))["frames"].as_array().unwrap().len(), 4);
    let before = std::fs::metadata(out.join("polar_u8/results.json")).unwrap().modified().unwrap();

    let r = run(&[&"analyze", &a, &b, &"--out", &out, &"--no-overlays", &"--skip-done"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(index_rows(&out.join("index.csv")).iter().all(|r| r[3] == "skipped"));
    assert_eq!(std::fs::metadata(out.join("polar_u8/results.json")).unwrap().modified().unwrap(), before);

    let sharded = t.path().join("sharded");
    for k in 0..2 {
        let shard = format!("{k}/2");
        let r = run(&[&"analyze", &a, &b, &"--out", &sharded, &"--no-overlays", &"--shard", &shard]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let rows = index_rows(&sharded.join(format!("index-shard-{k}-of-2.csv")));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], ["mono_rle", "polar_u8"][k]);
    }
    assert!(sharded.join("mono_rle/results.json").exists() && sharded.join("polar_u8/results.json").exists());

    // Manifest: relative paths, per-pullback calibration and speed.
    let m = t.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::copy(f.join("pullback.tif"), m.join("p.tif")).unwrap();
    std::fs::copy(f.join("dicom/mono_explicit.dcm"), m.join("d.dcm")).unwrap();
    std::fs::write(m.join("study.csv"), "path,name,mm_per_px,pullback_mm_per_s\np.tif,tif,0.04,0.5\nd.dcm,,,\n")
        .unwrap();
    let out = t.path().join("mout");
    let r = run(&[&"analyze", &"--manifest", &m.join("study.csv"), &"--out", &out, &"--no-overlays"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tif = results(&out.join("tif"));
    assert_eq!(tif["frames"][0]["mm_per_px"], 0.04);
    assert_eq!(tif["input"]["calibration_source"]["kind"], "manifest");
    assert_eq!(tif["input"]["timing"]["pullback_source"]["kind"], "manifest");
    assert_eq!(results(&out.join("d"))["input"]["calibration_source"]["kind"], "dicom_tag");
    assert_eq!(index_rows(&out.join("index.csv")).len(), 2);
}

#[test]
fn several_pullbacks_keep_going_and_report_the_failure() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    let bad = t.path().join("bad.dcm");
    let bytes = std::fs::read(f.join("dicom/mono_explicit.dcm")).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let out = t.path().join("o");
    let r = run(&[&"analyze", &bad, &f.join("dicom/mono_rle.dcm"), &"--out", &out, &"--no-overlays"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let rows = index_rows(&out.join("index.csv"));
    assert_eq!((rows[0][3].as_str(), rows[1][3].as_str()), ("failed", "done"));
    assert!(rows[0][12].contains("truncated"), "{:?}", rows[0]);
    assert!(!out.join("bad/results.json").exists());
}

#[test]
fn bad_input_each_class_has_its_exit_code() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    let out = t.path().join("out");
    let good = std::fs::read(f.join("dicom/mono_explicit.dcm")).unwrap();

    // Truncated DICOM (native): exit 3, names the file and the first incomplete frame.
    let p = t.path().join("truncated.dcm");
    std::fs::write(&p, &good[..good.len() * 6 / 10]).unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out]);
    assert_fails(&r, 3, &["truncated.dcm", "truncated", "frame 2 of 4"], &out);

    // Truncated encapsulated DICOM (RLE).
    let rle = std::fs::read(f.join("dicom/mono_rle.dcm")).unwrap();
    let p = t.path().join("truncated_rle.dcm");
    std::fs::write(&p, &rle[..rle.len() - 5000]).unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out]);
    assert_fails(&r, 3, &["truncated_rle.dcm", "truncated"], &out);

    // Corrupt JPEG data in the last frame (its start-of-image marker destroyed): exit 3 naming the frame.
    let mut jpg = std::fs::read(f.join("dicom/mono_jpeg.dcm")).unwrap();
    let soi = jpg.windows(3).rposition(|w| w == [0xFF, 0xD8, 0xFF]).unwrap();
    jpg[soi..soi + 3].copy_from_slice(&[0x12, 0x34, 0x56]);
    let p = t.path().join("corrupt_jpeg.dcm");
    std::fs::write(&p, &jpg).unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out, &"--no-overlays"]);
    assert_fails(&r, 3, &["corrupt_jpeg.dcm", "frame 3"], &out);

    // Missing pixel data: exit 3.
    let p = t.path().join("nopixels.dcm");
    let mut s = dicom_writer::Spec::mono(64, 64, 2, dicom_writer::EXPLICIT_LE);
    s.regions_mm_per_px = Some(0.02);
    s.no_pixel_data = true;
    dicom_writer::write_native(&p, &s, |_| vec![]).unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out]);
    assert_fails(&r, 3, &["nopixels.dcm", "PixelData"], &out);

    // Not DICOM at all.
    let p = t.path().join("text.dcm");
    std::fs::write(&p, "hello").unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out, &"--mm-per-px", &"0.02"]);
    assert_fails(&r, 3, &["text.dcm"], &out);

    // Unsupported transfer syntax: exit 6 naming it.
    let p = t.path().join("j2k.dcm");
    let mut s = dicom_writer::Spec::mono(64, 64, 2, dicom_writer::JPEG_2000);
    s.no_pixel_data = true;
    dicom_writer::write_native(&p, &s, |_| vec![]).unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out]);
    assert_fails(&r, 6, &["j2k.dcm", "1.2.840.10008.1.2.4.90", "JPEG 2000"], &out);

    // Unsupported photometric interpretation: exit 6.
    let p = t.path().join("palette.dcm");
    let mut s = dicom_writer::Spec::mono(64, 64, 1, dicom_writer::EXPLICIT_LE);
    s.photometric = "PALETTE COLOR";
    dicom_writer::write_native(&p, &s, |_| vec![0; 64 * 64]).unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out, &"--mm-per-px", &"0.02"]);
    assert_fails(&r, 6, &["palette.dcm", "PALETTE COLOR"], &out);

    // Zero calibration in the file: exit 4 naming the tag; the command line can override it.
    let p = t.path().join("zero.dcm");
    let mut s = dicom_writer::Spec::mono(64, 64, 1, dicom_writer::EXPLICIT_LE);
    s.regions_mm_per_px = Some(0.0);
    dicom_writer::write_native(&p, &s, |_| vec![100; 64 * 64]).unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out]);
    assert_fails(&r, 4, &["zero.dcm", "PhysicalDeltaX", "--mm-per-px"], &out);
    // NaN / zero on the command line: exit 4.
    let r = run(&[&"analyze", &p, &"--out", &out, &"--mm-per-px", &"NaN"]);
    assert_fails(&r, 4, &["mm_per_px"], &out);
    let r = run(&[&"analyze", &f.join("screen"), &"--out", &out, &"--field-of-view-mm", &"0"]);
    assert_fails(&r, 4, &["field-of-view-mm"], &out);
    // No calibration anywhere: exit 4 asking for --mm-per-px.
    let r = run(&[&"analyze", &f.join("pullback.tif"), &"--out", &out]);
    assert_fails(&r, 4, &["--mm-per-px"], &out);

    // Raw file whose size does not match the sidecar: exit 7 naming both.
    let p = t.path().join("short.raw");
    std::fs::write(&p, vec![0u8; 256 * 256 * 2 + 100]).unwrap();
    std::fs::write(
        t.path().join("short.json"),
        r#"{"kind": "polar", "dtype": "u8", "lines": 256, "samples": 256, "frames": 3, "depth_mm": 5}"#,
    )
    .unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out]);
    assert_fails(&r, 7, &["short.raw", "short.json", "frame 2 is incomplete"], &out);
    // Sidecar with a zero depth: exit 4.
    std::fs::write(&p, vec![0u8; 256 * 256]).unwrap();
    std::fs::write(
        t.path().join("short.json"),
        r#"{"kind": "polar", "dtype": "u8", "lines": 256, "samples": 256, "frames": 1, "depth_mm": 0}"#,
    )
    .unwrap();
    let r = run(&[&"analyze", &p, &"--out", &out]);
    assert_fails(&r, 4, &["short.json", "depth"], &out);

    // Multi-page TIFF with pages of different sizes: exit 7 naming the page.
    let p = t.path().join("mixed.tif");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        let mut enc = tiff::encoder::TiffEncoder::new(&mut w).unwrap();
        enc.write_image::<tiff::encoder::colortype::Gray8>(64, 64, &[7u8; 64 * 64]).unwrap();
        enc.write_image::<tiff::encoder::colortype::Gray8>(32, 48, &[7u8; 32 * 48]).unwrap();
    }
    let fresh = t.path().join("fresh");
    let r = run(&[&"analyze", &p, &"--out", &fresh, &"--mm-per-px", &"0.02"]);
    assert_fails(&r, 7, &["mixed.tif", "page 1"], &fresh);
    assert!(!fresh.exists(), "nothing is written when the input is rejected up front");
}

/// `truelumen frame INPUT --index N` reads frame N of any input kind and gives the same result
/// as `analyze` gives for that frame; an index past the end is an input error naming the file.
#[test]
fn frame_reads_one_frame_of_any_input_like_analyze() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (f.join("dicom/mono_rle.dcm"), vec![]),
        (f.join("pullback.tif"), vec!["--mm-per-px", "0.0390625"]),
        (f.join("raw/polar_u8.raw"), vec![]),
    ];
    for (k, (input, extra)) in cases.into_iter().enumerate() {
        let out = t.path().join(format!("o{k}"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"analyze", &"--out", &out, &"--no-overlays", &input];
        args.extend(extra.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
        let r = run(&args);
        assert_eq!(r.code, 0, "{input:?}: {}", r.stderr);
        let doc = results(&out);
        let frames = doc["frames"].as_array().unwrap();
        assert!(frames.len() >= 2, "{input:?}");
        let idx = frames.len() - 1;
        let idx_s = idx.to_string();
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"frame", &input, &"--index", &idx_s];
        args.extend(extra.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
        let r = run(&args);
        assert_eq!(r.code, 0, "{input:?}: {}", r.stderr);
        let one: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(one["index"], frames[idx]["index"], "{input:?}");
        assert_eq!(one["source"], frames[idx]["source"], "{input:?}");
        assert_eq!(one["lumen"], frames[idx]["lumen"], "{input:?}: lumen differs from analyze");
        assert_eq!(one["vessel"], frames[idx]["vessel"], "{input:?}: vessel differs from analyze");

        let past = frames.len().to_string();
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"frame", &input, &"--index", &past];
        args.extend(extra.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
        let r = run(&args);
        assert_eq!(r.code, 3, "{input:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("past the end") && r.stderr.contains(input.file_name().unwrap().to_str().unwrap()),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}
