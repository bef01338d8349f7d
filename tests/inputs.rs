//! Every input format against what `tools/make_input_fixtures.rs` wrote into `fixtures/inputs/`:
//! pixels (vs `truth/*.png`), calibration (value and source) and timing (`expected.json`).
//!
//! Tolerances: lossless syntaxes must match exactly (16-bit: within rounding); YBR_FULL within 2
//! grey levels (YCbCr rounding, written 8-bit), YBR_FULL_422 within 4 (chroma averaged over
//! pixel pairs); JPEG baseline (quality 90) by mean absolute error. RF: the envelope recovered
//! by the analytic signal and log compression must reproduce the polar grey levels the RF was
//! modulated from within a mean absolute error of 2 grey levels (measured 1.07; sharp speckle
//! edges are smoothed because the envelope was interpolated between polar samples). Screen captures: field centre within 1.5 px and radius within
//! 1 % of the drawn circle; outside the masked overlays the cropped frame equals the drawn frame.

use serde_json::Value;
use std::path::{Path, PathBuf};
use truelumen::io::{self, FrameBuf, FrameSource, ValueSource};
use truelumen::pipeline::Calibration;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/inputs")
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap().as_object().unwrap().clone()
}

fn truth(name: &str) -> Vec<f32> {
    let img = image::open(dir().join("truth").join(name)).unwrap().to_luma8();
    img.as_raw().iter().map(|&v| f32::from(v)).collect()
}

/// Luma of the colour tint the colour fixtures use (`dicom_writer::tint`).
fn tinted_luma(g: f32) -> f32 {
    let t = [g, (0.85 * g).round(), (0.6 * g + 20.0).min(255.0).round()];
    0.2126 * t[0] + 0.7152 * t[1] + 0.0722 * t[2]
}

fn errors(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let max = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let mean = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    (max, mean)
}

#[test]
fn dicom_fixtures_match_what_was_written() {
    let exp = expected();
    let mut n_files = 0;
    for (name, e) in exp.iter().filter(|(k, _)| k.ends_with(".dcm")) {
        let path = dir().join("dicom").join(name);
        let mut src = io::DicomSource::open(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        let frames = e["frames"].as_u64().unwrap() as usize;
        assert_eq!(src.len(), frames, "{name}");
        assert_eq!(src.shape(), (256, 256), "{name}");
        // Calibration value and the tag it came from.
        let cal = src.calibration().unwrap_or_else(|| panic!("{name}: no calibration"));
        let Calibration::Cartesian { mm_per_px } = cal.calib else { panic!("{name}: not Cartesian") };
        assert!((mm_per_px - e["mm_per_px"].as_f64().unwrap()).abs() < 1e-9, "{name}: {mm_per_px}");
        assert_eq!(cal.source, ValueSource::DicomTag(e["calibration_tag"].as_str().unwrap().into()), "{name}");
        // Timing.
        let t = src.timing();
        assert_eq!(t.pullback_mm_per_s, e.get("pullback_mm_per_s").and_then(Value::as_f64), "{name}");
        match e.get("frame_times_s") {
            Some(v) => {
                let want: Vec<f64> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
                let got = t.frame_times_s.clone().unwrap_or_else(|| panic!("{name}: no frame times"));
                assert_eq!(got.len(), want.len(), "{name}");
                assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-9), "{name}: {got:?} vs {want:?}");
                let tag = e["timing_tag"].as_str().unwrap();
                assert_eq!(t.frame_times_source, Some(ValueSource::DicomTag(tag.into())), "{name}");
            }
            None => assert!(t.frame_times_s.is_none(), "{name}"),
        }
        // Pixels, every frame, in reverse order (random access).
        let color = e["color"].as_bool().unwrap();
        let mut buf = FrameBuf::default();
        let mut worst = (0.0f32, 0.0f32);
        for i in (0..frames).rev() {
            src.read_frame(i, &mut buf).unwrap();
            assert_eq!(buf.channels(), if color { 3 } else { 1 }, "{name}");
            let mut want = truth(&format!("frame_{i}.png"));
            if color {
                want.iter_mut().for_each(|v| *v = tinted_luma(*v));
            }
            let (max, mean) = errors(buf.to_gray().as_slice(), &want);
            worst = (worst.0.max(max), worst.1.max(mean));
        }
        println!("{name:28} {frames} frames: max error {:.3}, mean error {:.3} grey levels", worst.0, worst.1);
        if let Some(tol) = e.get("max_error").and_then(Value::as_f64) {
            assert!(f64::from(worst.0) <= tol + 1e-3, "{name}: max error {} > {tol}", worst.0);
        }
        if let Some(tol) = e.get("mean_error").and_then(Value::as_f64) {
            assert!(f64::from(worst.1) <= tol, "{name}: mean error {} > {tol}", worst.1);
        }
        assert!(src.read_frame(frames, &mut buf).is_err(), "{name}: past the end");
        n_files += 1;
    }
    assert_eq!(n_files, 11, "every DICOM fixture is checked");
}

#[test]
fn multipage_tiff_is_one_pullback_read_page_by_page() {
    let path = dir().join("pullback.tif");
    let plan = io::plan_pullbacks(std::slice::from_ref(&path)).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].kind, io::PullbackKind::Tiff);
    let mut src = io::open_source(&plan[0]).unwrap();
    assert_eq!((src.len(), src.shape()), (4, (256, 256)));
    assert!(src.calibration().is_none());
    let mut buf = FrameBuf::default();
    for i in [3, 0, 2, 1] {
        src.read_frame(i, &mut buf).unwrap();
        assert_eq!(errors(buf.as_slice(), &truth(&format!("frame_{i}.png"))).0, 0.0, "page {i}");
    }
}

#[test]
fn raw_polar_pixels_geometry_and_timing() {
    let mut src = io::RawSource::open(&dir().join("raw/polar_u8.raw")).unwrap();
    assert_eq!((src.len(), src.shape(), src.format().as_str()), (3, (256, 256), "raw-polar"));
    let Calibration::Polar(g) = src.calibration().unwrap().calib else { panic!("polar expected") };
    assert!((g.depth_mm() - 5.0).abs() < 1e-12 && g.line0_angle_deg == 90.0);
    let t = src.timing();
    assert_eq!(t.pullback_mm_per_s, Some(0.5));
    assert!((t.mean_frame_rate_hz().unwrap() - 30.0).abs() < 1e-9);
    let mut buf = FrameBuf::default();
    for i in (0..3).rev() {
        src.read_frame(i, &mut buf).unwrap();
        assert_eq!(errors(buf.as_slice(), &truth(&format!("polar_{i}.png"))).0, 0.0, "frame {i}");
    }
}

#[test]
fn rf_envelope_reproduces_the_polar_frames() {
    let mut src = io::RawSource::open(&dir().join("raw/rf_i16.raw")).unwrap();
    assert_eq!((src.len(), src.shape(), src.format().as_str()), (1, (256, 1024), "raw-rf"));
    let Calibration::Polar(g) = src.calibration().unwrap().calib else { panic!("polar expected") };
    // Depth from the sampling rate: 1024 samples * 1540 m/s / (2 fs) = 5 mm.
    assert!((g.depth_mm() - 5.0).abs() < 1e-9, "{}", g.depth_mm());
    let mut buf = FrameBuf::default();
    for i in 0..1 {
        src.read_frame(i, &mut buf).unwrap();
        // Every fourth RF sample sits on a polar sample.
        let got: Vec<f32> = buf.as_slice().chunks_exact(1024).flat_map(|l| l.iter().step_by(4).copied()).collect();
        let want = truth(&format!("polar_{i}.png"));
        // Skip the first and last 8 samples of each line (FFT wrap-around at the line ends).
        let keep = |k: &usize| (8..248).contains(&(k % 256));
        let (g2, w2): (Vec<f32>, Vec<f32>) = (0..got.len()).filter(keep).map(|k| (got[k], want[k])).unzip();
        let (max, mean) = errors(&g2, &w2);
        println!("RF frame {i}: envelope vs written grey levels: mean error {mean:.2}, max {max:.1}");
        assert!(mean < 2.0, "frame {i}: mean error {mean}");
    }
}

#[test]
fn screen_capture_field_calibration_and_overlay_masking() {
    let exp = expected();
    let e = &exp["screen"];
    let plan = io::plan_pullbacks(&[dir().join("screen")]).unwrap();
    let inner = io::open_source(&plan[0]).unwrap();
    assert_eq!(inner.len(), 4);
    let mut src = io::ScreenCaptureSource::new(inner, Some(10.0)).unwrap();
    let f = src.field();
    let c = e["field_center_px"].as_array().unwrap();
    let (cx, cy, r) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap(), e["field_radius_px"].as_f64().unwrap());
    println!(
        "field: centre ({:.2}, {:.2}) vs ({cx}, {cy}), radius {:.2} vs {r}",
        f.center_col, f.center_row, f.radius_px
    );
    assert!((f.center_col - cx).abs() < 1.5 && (f.center_row - cy).abs() < 1.5, "{f:?}");
    assert!((f.radius_px / r - 1.0).abs() < 0.01, "{f:?}");
    let Calibration::Cartesian { mm_per_px } = src.calibration().unwrap().calib else { panic!() };
    let want = e["mm_per_px"].as_f64().unwrap();
    println!("mm_per_px {mm_per_px:.6} vs {want:.6}");
    assert!((mm_per_px / want - 1.0).abs() < 0.01);

    // The cropped frame equals the drawn phantom away from overlays; overlays are gone.
    let (orow, ocol) = src.crop_origin();
    let (trow, tcol) = (cy - 127.5, cx - 127.5); // where truth pixel (0, 0) was drawn
    let mut buf = FrameBuf::default();
    src.read_frame(0, &mut buf).unwrap();
    let truth0 = truth("frame_0.png");
    let side = buf.cols();
    let (mut same, mut total, mut white) = (0usize, 0usize, 0usize);
    for y in 0..side {
        for x in 0..side {
            let (ty, tx) = (orow as f64 + y as f64 - trow, ocol as f64 + x as f64 - tcol);
            let (dy, dx) = (ty - 127.5, tx - 127.5);
            if dy.hypot(dx) > 110.0 {
                continue; // away from the border ticks
            }
            let v = buf.as_slice()[y * side + x];
            total += 1;
            same += usize::from((v - truth0[ty as usize * 256 + tx as usize]).abs() < 0.01);
            white += usize::from(v >= 250.0 && truth0[ty as usize * 256 + tx as usize] < 200.0);
        }
    }
    let frac = same as f64 / total as f64;
    println!("screen frame 0: {:.2} % of field pixels unchanged, {white} burned-in white pixels left", 100.0 * frac);
    assert!(frac > 0.97, "{frac}");
    // Burned-in white text inside the field ("ANT", ticks) must be gone.
    assert_eq!(white, 0);
}

#[test]
fn pullbacks_are_planned_per_file_and_images_stay_one_pullback() {
    let d = dir();
    let inputs = [
        d.join("dicom/mono_rle.dcm"),
        d.join("truth/frame_0.png"),
        d.join("raw/polar_u8.raw"),
        d.join("truth/frame_1.png"),
        d.join("dicom/mono_jpeg.dcm"),
    ];
    let plan = io::plan_pullbacks(&inputs).unwrap();
    let names: Vec<&str> = plan.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["mono_rle", "truth", "polar_u8", "mono_jpeg"]);
    assert_eq!(plan[1].kind, io::PullbackKind::Images(vec![inputs[1].clone(), inputs[3].clone()]));
}
