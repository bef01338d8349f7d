//! Property tests for scan conversion ([`truelumen::scan`]).
//!
//! Tolerances and why:
//! * Cartesian → polar → Cartesian on a smooth image `A sin(kx x + ky y + φ)`: bilinear
//!   interpolation errs by at most `h² |f''| / 8` per axis and step, so the bound is
//!   `A k² (2 + ds² + ht²) / 8` (stage 1 on the 1-px Cartesian grid, stage 2 on the polar grid
//!   with depth step `ds` and arc step `ht` px at the largest radius) plus the arc-curvature term
//!   `A k dθ ht / 8`, times a 1.5 margin, plus 1e-3 for `f32` rounding. Checked inside the imaging
//!   disc minus one pixel.
//! * Rotating a polar frame by `k` lines and shifting line 0 by `k·360/N` renders the same
//!   image up to `f32` rounding of the interpolation weights: ≤ 1e-3 on 0–255 data.
//! * [`PolarSampler`] vs direct `f64` trigonometry and bilinear interpolation: ≤ 1e-3 on 0–100
//!   data; points within 1e-3 px of the source border are skipped, because there the `f32` map
//!   and the `f64` reference may disagree on inside (interpolate) vs outside (fill).

use proptest::prelude::*;
use truelumen::scan::{CartesianSampler, PolarSampler};
use truelumen::{CartImage, PolarGeometry, PolarImage, Rotation};

fn xorshift(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn rotation() -> impl Strategy<Value = Rotation> {
    prop_oneof![Just(Rotation::Ccw), Just(Rotation::Cw)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn cartesian_polar_cartesian_round_trip(
        side in 41usize..121,
        amp in 10.0f64..80.0,
        k in 0.01f64..0.15,
        dir in 0.0f64..std::f64::consts::TAU,
        phase in 0.0f64..std::f64::consts::TAU,
        ds in 0.5f64..1.0,
        line0 in -180.0f64..180.0,
        rot in rotation(),
    ) {
        let (kx, ky) = (k * dir.cos(), k * dir.sin());
        let src = CartImage::from_fn(side, side, |r, c| (100.0 + amp * (kx * c as f64 + ky * r as f64 + phase).sin()) as f32);
        let center = (side as f64 - 1.0) / 2.0;
        let r_max = side as f64 / 2.0 - 2.0;
        let mm_per_px = 0.02;
        let n_samples = (r_max / ds).floor() as usize + 1;
        let n_lines = ((std::f64::consts::TAU * r_max).ceil() as usize).max(8);
        let geom = PolarGeometry::new(n_lines, n_samples, ds * mm_per_px).unwrap().with_line0_angle_deg(line0).with_rotation(rot);
        let mut polar = PolarImage::default();
        PolarSampler::new(geom, mm_per_px).unwrap().convert_into(&src, center, center, -1000.0, &mut polar);
        let mut back = CartImage::default();
        CartesianSampler::new(geom, side, side, center, center, mm_per_px).unwrap().convert_into(&polar, -1000.0, &mut back).unwrap();

        let dtheta = std::f64::consts::TAU / n_lines as f64;
        let ht = r_max * dtheta;
        let bound = 1.5 * (amp * k * k * (2.0 + ds * ds + ht * ht) / 8.0 + amp * k * dtheta * ht / 8.0) + 1e-3;
        let mut worst = 0.0f64;
        for r in 0..side {
            for c in 0..side {
                let rad = (r as f64 - center).hypot(c as f64 - center);
                if rad <= r_max - 1.0 {
                    worst = worst.max((*back.get(r, c) as f64 - *src.get(r, c) as f64).abs());
                }
            }
        }
        prop_assert!(worst <= bound, "max error {} > bound {}", worst, bound);
    }

    #[test]
    fn rotating_lines_equals_shifting_line0(
        n_lines in 8usize..64,
        n_samples in 8usize..40,
        k_frac in 0.0f64..1.0,
        line0 in -180.0f64..180.0,
        rot in rotation(),
        side in 16usize..64,
        seed in any::<u64>(),
    ) {
        let k = ((k_frac * n_lines as f64) as usize).min(n_lines - 1);
        let mut rnd = xorshift(seed);
        let src = PolarImage::from_fn(n_lines, n_samples, |_, _| (255.0 * rnd()) as f32);
        let rotated = PolarImage::from_fn(n_lines, n_samples, |l, s| *src.get((l + k) % n_lines, s));
        let geom = PolarGeometry::new(n_lines, n_samples, 0.05).unwrap().with_line0_angle_deg(line0).with_rotation(rot);
        let shifted = geom.with_line0_angle_deg(line0 + rot.sign() * k as f64 * 360.0 / n_lines as f64);
        let center = (side as f64 - 1.0) / 2.0;
        let mm_per_px = geom.depth_mm() / (side as f64 / 2.0);
        let render = |g: PolarGeometry, p: &PolarImage| {
            let mut out = CartImage::default();
            CartesianSampler::new(g, side, side, center, center, mm_per_px).unwrap().convert_into(p, -1.0, &mut out).unwrap();
            out
        };
        let a = render(geom, &src);
        let b = render(shifted, &rotated);
        let worst = a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        prop_assert!(worst <= 1e-3, "max difference {}", worst);
    }

    #[test]
    fn polar_sampler_matches_direct_trig(
        h in 2usize..40,
        w in 2usize..40,
        n_lines in 8usize..40,
        n_samples in 8usize..40,
        mm_per_sample in 0.01f64..0.1,
        mm_per_px in 0.02f64..0.2,
        cx_frac in 0.0f64..1.0,
        cy_frac in 0.0f64..1.0,
        line0 in -360.0f64..360.0,
        rot in rotation(),
        seed in any::<u64>(),
    ) {
        let mut rnd = xorshift(seed);
        let src = CartImage::from_fn(h, w, |_, _| (100.0 * rnd()) as f32);
        let (cx, cy) = (cx_frac * (w - 1) as f64, cy_frac * (h - 1) as f64);
        let geom = PolarGeometry::new(n_lines, n_samples, mm_per_sample).unwrap().with_line0_angle_deg(line0).with_rotation(rot);
        let fill = -7.0f32;
        let mut fast = PolarImage::default();
        PolarSampler::new(geom, mm_per_px).unwrap().convert_into(&src, cx, cy, fill, &mut fast);
        prop_assert_eq!(fast.shape(), (n_lines, n_samples));

        let (wmax, hmax) = ((w - 1) as f64, (h - 1) as f64);
        for l in 0..n_lines {
            let a = geom.angle_deg_of_line(l as f64).to_radians();
            for s in 0..n_samples {
                let r = s as f64 * mm_per_sample / mm_per_px;
                let (x, y) = (cx + r * a.cos(), cy - r * a.sin());
                let margin = x.abs().min(y.abs()).min((x - wmax).abs()).min((y - hmax).abs());
                if margin < 1e-3 {
                    continue;
                }
                let want = if x >= 0.0 && y >= 0.0 && x <= wmax && y <= hmax {
                    let x0 = (x.floor() as usize).min(w - 2);
                    let y0 = (y.floor() as usize).min(h - 2);
                    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
                    let v = |r: usize, c: usize| *src.get(r, c) as f64;
                    (1.0 - fy) * ((1.0 - fx) * v(y0, x0) + fx * v(y0, x0 + 1)) + fy * ((1.0 - fx) * v(y0 + 1, x0) + fx * v(y0 + 1, x0 + 1))
                } else {
                    fill as f64
                };
                let got = *fast.get(l, s) as f64;
                prop_assert!((got - want).abs() <= 1e-3, "line {} sample {}: {} vs {}", l, s, got, want);
            }
        }
    }
}
