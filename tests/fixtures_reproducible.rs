//! The committed phantom fixtures (`fixtures/phantom/`) are exactly what
//! `truelumen simulate --out fixtures/phantom --count 30 --seed 1` writes: a few frames are
//! regenerated in memory and compared with the files.
//!
//! Tolerances: pixels must be equal except for at most 0.05 % of them differing by one grey
//! level, and truth numbers must agree to 1e-9 (relative): the simulator is deterministic, but
//! `sin`/`cos`/`exp` may differ in the last bit between platforms' maths libraries, which can flip
//! a rounding. On the machine that wrote the fixtures the match is exact.

use std::path::{Path, PathBuf};
use truelumen::sim::{DatasetSpec, Simulator, Truth};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/phantom")
}

/// The spec of the committed fixtures (see fixtures/README.md).
fn fixture_spec(count: usize) -> DatasetSpec {
    DatasetSpec { count, seed: 1, side_px: 512, fov_mm: 10.0, polar: None, cto: false }
}

fn frame_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name().to_string_lossy().into_owned();
            n.starts_with("frame_") && n.ends_with(".png")
        })
        .count()
}

fn assert_pixels_match(path: &Path, got: &image::GrayImage) {
    let want = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_luma8();
    assert_eq!(want.dimensions(), got.dimensions(), "{}", path.display());
    let diffs: Vec<i16> =
        want.as_raw().iter().zip(got.as_raw()).map(|(&a, &b)| a as i16 - b as i16).filter(|&d| d != 0).collect();
    let allowed = want.as_raw().len() / 2000;
    assert!(
        diffs.len() <= allowed && diffs.iter().all(|d| d.abs() <= 1),
        "{}: {} pixels differ (max |diff| {}); regenerate the fixtures (fixtures/README.md) if the simulator changed on purpose",
        path.display(),
        diffs.len(),
        diffs.iter().map(|d| d.abs()).max().unwrap_or(0)
    );
}

/// Compares two JSON trees, numbers to a relative 1e-9; returns the path of the first mismatch.
fn json_mismatch(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            ((x - y).abs() > 1e-9 * x.abs().max(y.abs()).max(1e-3)).then(|| format!("{at}: {x} vs {y}"))
        }
        (V::Array(x), V::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (x, y))| json_mismatch(x, y, &format!("{at}[{i}]")))
        }
        (V::Object(x), V::Object(y)) if x.len() == y.len() => x.iter().find_map(|(k, v)| match y.get(k) {
            Some(w) => json_mismatch(v, w, &format!("{at}.{k}")),
            None => Some(format!("{at}.{k}: missing")),
        }),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

#[test]
fn committed_fixtures_regenerate_identically() {
    let dir = fixtures();
    if !dir.join("calibration.json").is_file() {
        eprintln!("SKIPPED committed_fixtures_regenerate_identically: {} is missing", dir.display());
        return;
    }
    let n = frame_count(&dir);
    assert!(n >= 3, "expected the committed frames in {}", dir.display());
    let spec = fixture_spec(n);

    // One calibration for all frames; no polar sidecar (the polar geometries differ).
    let calib: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("calibration.json")).unwrap()).unwrap();
    assert_eq!(calib, serde_json::json!({ "mm_per_px": spec.mm_per_px() }));
    assert!(!dir.join("polar/calibration.json").exists());

    let mut sim = Simulator::new();
    for i in [0, n / 2, n - 1] {
        let name = DatasetSpec::frame_name(i);
        let p = sim.simulate(&spec.frame_spec(i).unwrap()).unwrap();
        assert_pixels_match(&dir.join(format!("{name}.png")), &p.cart.to_gray_image());
        assert_pixels_match(&dir.join("polar").join(format!("{name}.png")), &p.polar.to_gray_image());

        let path = dir.join("truth").join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        let committed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let regenerated = serde_json::to_value(&p.truth).unwrap();
        if let Some(m) = json_mismatch(&regenerated, &committed, "truth") {
            panic!("{}: {m}", path.display());
        }
        // The committed file is a valid `Truth` of the same seed and image size.
        let t: Truth = serde_json::from_str(&text).unwrap();
        assert_eq!((t.spec.seed, t.image_size_px), (1 + i as u64, [512, 512]));
    }
}
