//! Property tests of the whole single-frame pipeline on polar phantom frames
//! ([`truelumen::sim`], random specs, 256 A-lines x 192 samples over 5 mm, so the suite stays
//! fast). Scan-conversion round trips are in `tests/scan_props.rs`.
//!
//! Properties and tolerances:
//! * **Rotation**: rolling the A-lines of a polar frame by `k` lines (same `line0`) rotates the
//!   image by `k·360/N` degrees. Lumen / vessel centroid angles and the wire angle must rotate by
//!   that much within [`ANGLE_TOL_DEG`] and areas / diameters stay within [`REL_TOL`]. The
//!   tolerance is not zero because the border search and the speckle filter have a seam at
//!   line 0 (the closed-path search starts there), so a rolled frame is not analysed bit for
//!   bit the same way.
//! * **Relabelling line 0**: the same pixels with `line0_deg` moved by `k·360/N` give the same
//!   analysis in the polar domain, so every angle moves by exactly that and every area and
//!   area unchanged, up to the rounding of border coordinates and reported values to 1e-4 mm:
//!   ≤ 0.01° and ≤ 5e-3 mm² (moving every vertex of a 20 mm border by up to 0.7e-4 mm changes
//!   its area by up to ~1.5e-3 mm²); diameters, sampled every 1°, within [`DIAMETER_SAMPLING_TOL`].
//! * **Mirroring**: reversing the line order and the rotation direction (with `line0` moved to
//!   the old last line) describes the same display image; results agree within the rotation
//!   tolerances.
//! * **Calibration scale**: the measurements of a contour scaled by `s` (as a calibration ×`s`
//!   scales every border point) are exactly `s`× (lengths) and `s²`× (areas), angles unchanged,
//!   to 1e-12 relative. The pipeline itself is not scale-invariant by design (its priors —
//!   catheter size, ring-down, wire size, largest vessel — are in millimetres).
//! * **Contours**: at least 3 points, closed polygons without self-intersection, lumen inside
//!   the vessel (every lumen vertex inside or within 1 µm of the vessel border), every number
//!   finite (the fuzz harness's `check_result`).

#[path = "regressions/harness.rs"]
mod harness;

use proptest::prelude::*;
use truelumen::report::{FrameResult, RegionResult};
use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{Calibration, Contour, Pipeline, PipelineConfig, PolarGeometry, PolarImage, Rotation};

/// Largest angle error after rolling / mirroring, degrees (largest seen over the fixed cases:
/// 5.6° for a vessel centroid 0.2–0.5 mm off the catheter, i.e. a ~0.03 mm shift).
const ANGLE_TOL_DEG: f64 = 8.0;
/// Largest relative area / diameter change after rolling / mirroring (largest seen: 5.9 %).
const REL_TOL: f64 = 0.08;
/// Relative diameter change when the same border is rotated by a fraction of a degree: diameters
/// are chords sampled every 1° ([`truelumen::contour::DIAMETER_DIRECTIONS`]), so they are not
/// exactly rotation-invariant.
const DIAMETER_SAMPLING_TOL: f64 = 0.02;

fn phantom(seed: u64) -> (PolarImage, PolarGeometry) {
    let mut s = PhantomSpec::random(seed);
    s.n_lines = 256;
    s.n_samples = 192;
    s.depth_mm = 5.0;
    s.image_side_px = 64;
    s.catheter_offset_px = [0.0, 0.0];
    let ph = simulate(&s).expect("valid phantom");
    (ph.polar, ph.polar_geom)
}

fn analyse(img: &PolarImage, g: PolarGeometry) -> FrameResult {
    let r = Pipeline::new(PipelineConfig::default()).unwrap().process(img, Calibration::Polar(g), 0, "p").unwrap();
    harness::check_result(&r);
    r
}

fn roll(img: &PolarImage, k: usize) -> PolarImage {
    let (n, m) = img.shape();
    PolarImage::from_fn(n, m, |l, s| *img.get((l + n - k) % n, s))
}

fn reverse(img: &PolarImage) -> PolarImage {
    let (n, m) = img.shape();
    PolarImage::from_fn(n, m, |l, s| *img.get(n - 1 - l, s))
}

/// Signed difference of two angles, in (-180, 180].
fn dang(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    if d > 180.0 { d - 360.0 } else { d }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-9)
}

/// Worst differences between two results, with `b`'s angles expected at `a`'s + `shift_deg`.
#[derive(Debug, Default)]
struct Diff {
    /// Centroid and wire angles, degrees; a centroid only counts when it is > 0.2 mm off the
    /// catheter (closer, its angle is ill-defined).
    angle_deg: f64,
    /// Areas, relative.
    area_rel: f64,
    /// Areas, mm².
    area_abs: f64,
    /// Min / max / mean diameters, relative.
    diameter_rel: f64,
}

fn compare(a: &FrameResult, b: &FrameResult, shift_deg: f64) -> Result<Diff, String> {
    let mut w = Diff::default();
    for (name, ra, rb) in [("lumen", &a.lumen, &b.lumen), ("vessel", &a.vessel, &b.vessel)] {
        match (ra, rb) {
            (Some(x), Some(y)) => {
                if x.centroid_mm[0].hypot(x.centroid_mm[1]) > 0.2 {
                    w.angle_deg = w.angle_deg.max(dang(y.centroid_angle_deg, x.centroid_angle_deg + shift_deg).abs());
                }
                w.area_rel = w.area_rel.max(rel(x.area_mm2, y.area_mm2));
                w.area_abs = w.area_abs.max((x.area_mm2 - y.area_mm2).abs());
                for (u, v) in [
                    (x.min_diameter_mm, y.min_diameter_mm),
                    (x.max_diameter_mm, y.max_diameter_mm),
                    (x.mean_diameter_mm, y.mean_diameter_mm),
                ] {
                    w.diameter_rel = w.diameter_rel.max(rel(u, v));
                }
            }
            (None, None) => {}
            _ => return Err(format!("{name} found in one frame only")),
        }
    }
    if let (Some(x), Some(y)) = (&a.guidewire, &b.guidewire) {
        w.angle_deg = w.angle_deg.max(dang(y.angle_deg, x.angle_deg + shift_deg).abs());
    }
    Ok(w)
}

fn segments_cross(p1: [f64; 2], p2: [f64; 2], q1: [f64; 2], q2: [f64; 2]) -> bool {
    let o = |a: [f64; 2], b: [f64; 2], c: [f64; 2]| (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    let (d1, d2) = (o(q1, q2, p1), o(q1, q2, p2));
    let (d3, d4) = (o(p1, p2, q1), o(p1, p2, q2));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

/// Number of properly crossing pairs of non-adjacent edges.
fn self_intersections(c: &Contour) -> usize {
    let p = &c.points_mm;
    let n = p.len();
    let mut count = 0;
    for i in 0..n {
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue; // adjacent through the closing edge
            }
            if segments_cross(p[i], p[(i + 1) % n], p[j], p[(j + 1) % n]) {
                count += 1;
            }
        }
    }
    count
}

fn check_contours(r: &FrameResult) -> Result<(), String> {
    for (name, reg) in [("lumen", &r.lumen), ("vessel", &r.vessel)] {
        if let Some(reg) = reg {
            let n = self_intersections(&reg.contour_mm);
            if n > 0 {
                return Err(format!("{name} contour crosses itself {n} times"));
            }
        }
    }
    if let (Some(l), Some(v)) = (&r.lumen, &r.vessel) {
        for &p in &l.contour_mm.points_mm {
            if !v.contour_mm.contains(p) && v.contour_mm.distance_to_border_mm(p) > 1e-3 {
                return Err(format!("lumen point {p:?} outside the vessel"));
            }
        }
        if l.area_mm2 > v.area_mm2 + 1e-9 {
            return Err(format!("lumen area {} > vessel area {}", l.area_mm2, v.area_mm2));
        }
    }
    Ok(())
}

fn scaled(c: &Contour, s: f64) -> Contour {
    Contour::new(c.points_mm.iter().map(|p| [p[0] * s, p[1] * s]).collect())
}

fn check_scaling(reg: &RegionResult, s: f64) -> Result<(), String> {
    let c = &reg.contour_mm;
    let cs = scaled(c, s);
    let eps = 1e-12;
    let (d, ds) = (c.diameters().unwrap(), cs.diameters().unwrap());
    for (what, a, b) in [
        ("area", c.area_mm2() * s * s, cs.area_mm2()),
        ("perimeter", c.perimeter_mm() * s, cs.perimeter_mm()),
        ("min diameter", d.min_mm * s, ds.min_mm),
        ("max diameter", d.max_mm * s, ds.max_mm),
        ("mean diameter", d.mean_mm * s, ds.mean_mm),
        ("equivalent diameter", c.area_equivalent_diameter_mm() * s, cs.area_equivalent_diameter_mm()),
    ] {
        if rel(a, b) > eps {
            return Err(format!("{what}: {a} vs {b} at scale {s}"));
        }
    }
    let (g, gs) = (c.centroid_mm().unwrap(), cs.centroid_mm().unwrap());
    let tol = eps * ds.max_mm; // absolute: centroid coordinates may be near zero
    if (g[0] * s - gs[0]).abs() > tol || (g[1] * s - gs[1]).abs() > tol {
        return Err(format!("centroid {g:?} x {s} vs {gs:?}"));
    }
    Ok(())
}

proptest! {
    // Fixed generator seed: the same 10 cases on every run (no flaky tolerance edges).
    #![proptest_config(ProptestConfig {
        cases: 10,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..ProptestConfig::default()
    })]

    #[test]
    fn rolling_lines_rotates_angles(seed in 100u64..1000, k in 1usize..256, cw in any::<bool>()) {
        let (img, mut g) = phantom(seed);
        g.rotation = if cw { Rotation::Cw } else { Rotation::Ccw };
        let base = analyse(&img, g);
        prop_assert!(check_contours(&base).is_ok(), "{:?}", check_contours(&base));
        let rolled = analyse(&roll(&img, k), g);
        let shift = k as f64 * g.deg_per_line() * if cw { -1.0 } else { 1.0 };
        let d = compare(&base, &rolled, shift).map_err(TestCaseError::fail)?;
        println!("roll seed {seed} k {k} cw {cw}: {d:?}");
        prop_assert!(d.angle_deg <= ANGLE_TOL_DEG && d.area_rel.max(d.diameter_rel) <= REL_TOL, "seed {seed} k {k}: {d:?}");

        // Relabelling line 0 instead: exact.
        let g2 = g.with_line0_angle_deg(g.line0_angle_deg + k as f64 * g.deg_per_line());
        let relabelled = analyse(&img, g2);
        let d = compare(&base, &relabelled, k as f64 * g.deg_per_line()).map_err(TestCaseError::fail)?;
        println!("relabel seed {seed} k {k}: {d:?}");
        prop_assert!(d.angle_deg <= 0.01 && d.area_abs <= 5e-3 && d.diameter_rel <= DIAMETER_SAMPLING_TOL, "line0 relabel seed {seed}: {d:?}");
    }

    #[test]
    fn mirroring_is_the_other_rotation_direction(seed in 100u64..1000) {
        let (img, g) = phantom(seed);
        let base = analyse(&img, g.with_rotation(Rotation::Ccw));
        let last = g.line0_angle_deg + (g.n_lines - 1) as f64 * g.deg_per_line();
        let mirrored = analyse(&reverse(&img), g.with_rotation(Rotation::Cw).with_line0_angle_deg(last.rem_euclid(360.0)));
        let d = compare(&base, &mirrored, 0.0).map_err(TestCaseError::fail)?;
        println!("mirror seed {seed}: {d:?}");
        prop_assert!(d.angle_deg <= ANGLE_TOL_DEG && d.area_rel.max(d.diameter_rel) <= REL_TOL, "seed {seed}: {d:?}");
        prop_assert!(check_contours(&mirrored).is_ok(), "{:?}", check_contours(&mirrored));
    }

    #[test]
    fn calibration_scale_scales_measurements_exactly(seed in 100u64..1000, s in 0.1f64..10.0) {
        let (img, g) = phantom(seed);
        let r = analyse(&img, g);
        for reg in [&r.lumen, &r.vessel].into_iter().flatten() {
            check_scaling(reg, s).map_err(TestCaseError::fail)?;
        }
    }
}
