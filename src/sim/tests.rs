//! Tests of the phantom simulator. Frames are small (128–256 lines) to keep them fast.

use super::shape::FastStar;
use super::*;

/// A small version of a random spec (same scene, smaller images).
fn small(seed: u64) -> PhantomSpec {
    let mut s = PhantomSpec::random(seed);
    s.n_lines = 256;
    s.n_samples = 256;
    s.catheter_offset_px = [s.catheter_offset_px[0] * 0.5, s.catheter_offset_px[1] * 0.5];
    s.image_side_px = 256;
    s
}

/// A clean scene with a wire in the lumen at display angle `angle_deg`.
fn wire_spec(angle_deg: f64, line0: f64, rotation: crate::geometry::Rotation) -> PhantomSpec {
    let (s, c) = angle_deg.to_radians().sin_cos();
    PhantomSpec {
        n_lines: 256,
        n_samples: 320,
        depth_mm: 4.0,
        line0_angle_deg: line0,
        rotation,
        image_side_px: 320,
        fov_mm: 9.0,
        catheter_offset_px: [13.0, -21.0],
        vessel: StarShape::circle([0.0, 0.0], 1.7),
        lumen: StarShape::circle([0.0, 0.0], 1.3),
        guidewire: Some(WireSpec {
            center_mm: [0.85 * c, 0.85 * s],
            radius_mm: WIRE_DIAMETER_MM / 2.0,
            echo_db: 35.0,
            shadow_factor: 0.02,
            reverberations: 1,
        }),
        gain_db: 0.0,
        dynamic_range_db: 50.0,
        ..PhantomSpec::default()
    }
}

#[test]
fn deterministic_and_thread_count_independent() {
    let spec = small(11);
    let a = simulate(&spec).unwrap();
    let b = simulate(&spec).unwrap();
    assert_eq!(a.polar, b.polar);
    assert_eq!(a.cart, b.cart);
    assert_eq!(a.truth, b.truth);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let c = pool.install(|| simulate(&spec).unwrap());
    assert_eq!(a.polar, c.polar);
    assert_eq!(a.cart, c.cart);
    // Another seed gives another frame; pixel values are integers in 0..=255.
    let d = simulate(&small(12)).unwrap();
    assert_ne!(a.cart, d.cart);
    assert!(a.cart.as_slice().iter().chain(a.polar.as_slice()).all(|&v| v == v.round() && (0.0..=255.0).contains(&v)));
}

#[test]
fn random_specs_are_consistent() {
    let (mut wires, mut wires_in, mut calc, mut occl) = (0, 0, 0, 0);
    let n = 200;
    for seed in 0..n {
        let s = PhantomSpec::random(seed);
        s.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let d = 2.0 * s.vessel.mean_radius_mm;
        assert!((1.5..=4.0).contains(&d), "seed {seed}: EEM {d}");
        let g = PolarGeometry::new(s.n_lines, s.n_samples, s.depth_mm / s.n_samples as f64).unwrap();
        let cart = CartGeometry { center_col: 0.0, center_row: 0.0, mm_per_px: s.mm_per_px() };
        let t = truth_of(&s, g, &cart);
        assert!(t.lumen.len() >= 360 && t.lumen.signed_area_mm2() > 0.0 && t.vessel.signed_area_mm2() > 0.0);
        assert!(t.lumen.points_mm.iter().all(|&p| t.vessel.contains(p)), "seed {seed}: lumen leaves the vessel");
        assert!(t.lumen_area_mm2 < t.vessel_area_mm2);
        // Catheter enclosed with clearance.
        let clear = -t.lumen.signed_distance_mm([0.0, 0.0]) - s.catheter_radius_mm;
        assert!(clear >= CATHETER_CLEARANCE_MM - 1e-3, "seed {seed}: clearance {clear}");
        assert!(t.catheter_in_lumen);
        if let Some(w) = &t.guidewire {
            wires += 1;
            assert_eq!(w.in_true_lumen, t.lumen.contains(w.center_mm));
            assert_eq!(w.in_true_lumen, w.distance_to_lumen_mm < 0.0);
            assert!(w.center_mm[0].hypot(w.center_mm[1]) >= s.catheter_radius_mm + w.radius_mm);
            assert!(t.vessel.signed_distance_mm(w.center_mm) < 0.0, "seed {seed}: wire outside the vessel");
            assert!(w.relative_angle_deg > -180.0 && w.relative_angle_deg <= 180.0);
            let expect = crate::geometry::relative_angle_deg(t.lumen_centroid_angle_deg, w.angle_deg);
            assert!((w.relative_angle_deg - expect).abs() < 1e-9);
            if w.in_true_lumen {
                wires_in += 1;
            }
        }
        for c in &t.calcium {
            assert!(c.arc_deg > 0.0 && c.arc_deg < 360.0 && c.depth_mm > s.catheter_radius_mm);
            let span = crate::geometry::wrap_deg(c.end_deg - c.start_deg);
            assert!((span - c.arc_deg).abs() < 1e-6);
        }
        calc += usize::from(!t.calcium.is_empty());
        occl += usize::from(t.occluded);
    }
    let f = |k: usize| k as f64 / n as f64;
    assert!((0.55..0.85).contains(&f(wires)), "wire fraction {}", f(wires));
    assert!((0.3..0.7).contains(&(wires_in as f64 / wires as f64)), "in-lumen fraction");
    assert!((0.1..0.4).contains(&f(calc)), "calcium fraction {}", f(calc));
    assert!((0.1..0.3).contains(&f(occl)), "occluded fraction {}", f(occl));
}

/// Mean polar intensity over samples whose position satisfies `pred`.
fn band_mean(p: &Phantom, pred: impl Fn([f64; 2]) -> bool) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for l in 0..p.polar_geom.n_lines {
        for k in 0..p.polar_geom.n_samples {
            if pred(p.polar_geom.xy_mm(l as f64, k as f64)) {
                s += *p.polar.get(l, k) as f64;
                n += 1;
            }
        }
    }
    assert!(n > 50, "band has only {n} samples");
    s / n as f64
}

#[test]
fn polar_frame_shows_the_structures_where_the_truth_puts_them() {
    let spec = PhantomSpec { n_lines: 256, n_samples: 320, image_side_px: 128, ..PhantomSpec::default() };
    let p = simulate(&spec).unwrap();
    let eem = FastStar::new(&spec.vessel);
    let lum = FastStar::new(&spec.lumen);
    let m = spec.media_thickness_mm;
    let media = band_mean(&p, |q| (-m + 0.03..-0.03).contains(&eem.radial_excess(q)));
    let adv = band_mean(&p, |q| (0.03..0.5 * spec.adventitia_thickness_mm).contains(&eem.radial_excess(q)));
    let plaque = band_mean(&p, |q| lum.radial_excess(q) > 0.03 && eem.radial_excess(q) < -m - 0.03);
    let blood = band_mean(&p, |q| {
        lum.radial_excess(q) < -0.03 && q[0].hypot(q[1]) > spec.catheter_radius_mm + spec.ringdown_depth_mm + 0.05
    });
    let catheter = band_mean(&p, |q| q[0].hypot(q[1]) < spec.catheter_radius_mm - 0.03);
    let ring = band_mean(&p, |q| (spec.catheter_radius_mm..spec.catheter_radius_mm + 0.04).contains(&q[0].hypot(q[1])));
    assert!(media + 25.0 < adv, "media {media} vs adventitia {adv}");
    assert!(media + 10.0 < plaque, "media {media} vs plaque {plaque}");
    assert!(blood + 25.0 < plaque, "blood {blood} vs plaque {plaque}");
    assert!(plaque < adv, "plaque {plaque} vs adventitia {adv}");
    assert!(catheter < 5.0 && ring > plaque, "catheter {catheter}, ring-down {ring}");
}

#[test]
fn wire_shadows_its_a_lines() {
    let spec = wire_spec(120.0, 0.0, crate::geometry::Rotation::Ccw);
    let p = simulate(&spec).unwrap();
    let w = p.truth.guidewire.clone().unwrap();
    assert!(w.in_true_lumen && (w.angle_deg - 120.0).abs() < 1e-9);
    let g = p.polar_geom;
    let behind = |l: usize| {
        let from = ((0.85 + w.radius_mm + 0.6) / g.mm_per_sample) as usize;
        let row = &p.polar.row(l)[from..];
        row.iter().sum::<f32>() as f64 / row.len() as f64
    };
    let l_wire = g.line_of_angle_deg(w.angle_deg).round() as usize % g.n_lines;
    let l_far = g.line_of_angle_deg(w.angle_deg + 60.0).round() as usize % g.n_lines;
    let (shadow, normal) = (behind(l_wire), behind(l_far));
    assert!(shadow + 40.0 < normal, "shadow {shadow} vs normal {normal}");
    // Near-surface echo: brightest sample of the wire line lies at the wire's near surface.
    let row = p.polar.row(l_wire);
    let from = ((spec.catheter_radius_mm + spec.ringdown_depth_mm + 0.05) / g.mm_per_sample) as usize;
    let kmax = (from..g.n_samples).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
    let z = g.depth_mm_of_sample(kmax as f64);
    assert!((z - (0.85 - w.radius_mm)).abs() < 0.08, "wire echo at {z} mm");
}

#[test]
fn cartesian_wire_echo_lands_at_the_truth_position() {
    use crate::geometry::Rotation;
    for (rot, line0, angle) in [
        (Rotation::Ccw, 0.0, 30.0),
        (Rotation::Cw, 37.0, 30.0),
        (Rotation::Cw, 250.0, 200.0),
        (Rotation::Ccw, 123.0, 300.0),
    ] {
        let p = simulate(&wire_spec(angle, line0, rot)).unwrap();
        let w = p.truth.guidewire.clone().unwrap();
        let u = [angle.to_radians().cos(), angle.to_radians().sin()];
        let at = |d: f64| [u[0] * d, u[1] * d];
        let cg = CartGeometry {
            center_col: p.truth.catheter_center_px[0],
            center_row: p.truth.catheter_center_px[1],
            mm_per_px: p.truth.mm_per_px,
        };
        // Max over a 0.1 mm window around a point, and mean over a disc.
        let window = |q: [f64; 2], r_mm: f64| {
            let (c, r) = cg.px_of_mm(q);
            let rp = (r_mm / cg.mm_per_px).ceil() as i64;
            let (mut mx, mut s, mut n) = (0.0f32, 0.0f64, 0usize);
            for dr in -rp..=rp {
                for dc in -rp..=rp {
                    let (rr, cc) = (r.round() as i64 + dr, c.round() as i64 + dc);
                    let v = *p.cart.get(rr as usize, cc as usize);
                    mx = mx.max(v);
                    s += v as f64;
                    n += 1;
                }
            }
            (mx, s / n as f64)
        };
        let (front, _) = window(at(0.85 - w.radius_mm + 0.02), 0.05);
        let (_, shadow) = window(at(2.2), 0.25);
        let off = [(angle + 45.0f64).to_radians().cos() * 2.2, (angle + 45.0f64).to_radians().sin() * 2.2];
        let (_, normal) = window(off, 0.25);
        assert!(front >= 200.0, "{rot:?} line0 {line0}: wire echo {front}");
        assert!(shadow + 40.0 < normal, "{rot:?} line0 {line0}: shadow {shadow} vs normal {normal}");
        // The mirrored position (what a wrong rotation sign would show) is not the wire.
        let mirror = 2.0 * line0 - angle;
        let mu = [mirror.to_radians().cos(), mirror.to_radians().sin()];
        if crate::geometry::relative_angle_deg(mirror, angle).abs() > 20.0 {
            let (_, m) = window([mu[0] * 2.2, mu[1] * 2.2], 0.25);
            assert!(m > shadow + 40.0, "{rot:?}: mirrored {m} vs shadow {shadow}");
        }
    }
}

#[test]
fn write_and_read_back() {
    let spec = PhantomSpec { guidewire: wire_spec(45.0, 0.0, crate::geometry::Rotation::Ccw).guidewire, ..small(3) };
    let p = simulate(&spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_phantom(dir.path(), "f1", &p).unwrap();
    let img = image::open(dir.path().join("f1.png")).unwrap().to_luma8();
    assert_eq!(CartImage::from_gray_image(&img), p.cart);
    let pol = image::open(dir.path().join("polar/f1.png")).unwrap().to_luma8();
    assert_eq!(PolarImage::from_gray_image(&pol), p.polar);
    let json = std::fs::read_to_string(dir.path().join("truth/f1.json")).unwrap();
    let t: Truth = serde_json::from_str(&json).unwrap();
    // serde_json's default float parser may differ in the last bit: compare with a tolerance.
    assert_eq!(t.lumen.len(), p.truth.lumen.len());
    assert!((t.lumen_area_mm2 - p.truth.lumen_area_mm2).abs() < 1e-12);
    assert!((t.mm_per_px - p.truth.mm_per_px).abs() < 1e-15);
    assert_eq!(t.polar_geometry.n_lines, p.truth.polar_geometry.n_lines);
    assert_eq!(t.spec.seed, p.truth.spec.seed);
    assert_eq!(t.guidewire.map(|w| w.in_true_lumen), Some(true));
    // A file where a folder should be is an Io error naming the path.
    let blocker = dir.path().join("blocked");
    std::fs::write(&blocker, b"x").unwrap();
    assert!(matches!(write_phantom(&blocker, "f", &p), Err(Error::Io { .. })));
}

#[test]
fn invalid_specs_are_rejected() {
    let mut s = PhantomSpec::default();
    s.lumen.mean_radius_mm = 1.2; // crosses the media
    assert!(matches!(simulate(&s), Err(Error::InvalidParam { name: "lumen", .. })));
    let s = PhantomSpec { n_lines: 4, ..PhantomSpec::default() };
    assert!(simulate(&s).is_err());
    let s = PhantomSpec { dynamic_range_db: f64::NAN, ..PhantomSpec::default() };
    assert!(simulate(&s).is_err());
    let mut s = wire_spec(0.0, 0.0, crate::geometry::Rotation::Ccw);
    if let Some(w) = s.guidewire.as_mut() {
        w.center_mm = [0.5, 0.0];
    }
    assert!(matches!(simulate(&s), Err(Error::InvalidParam { name: "guidewire.center_mm", .. })));
}
