//! EEM (vessel border) bias diagnostics on random phantoms:
//! `cargo run --release --example eem_bias -- START COUNT [polar]`
//!
//! Use tuning seeds only (1000–4999). For every frame it prints the error of the vessel mean
//! diameter and area against the truth, the mean signed radial error of the vessel path along
//! the pipeline's own A-lines (measured depth − true EEM depth on the same ray), and at the end
//! the mean normalised intensity profile (the pipeline's speckle-filtered, percentile-normalised
//! polar frame) around the true EEM, in samples, with the mean measured border offset, so one
//! can see where in the media → adventitia rise the border sits.
use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{Calibration, Pipeline, PipelineConfig};

const HALF: i64 = 16;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let start: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let polar = args.get(3).is_some_and(|s| s == "polar");
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let mut prof = vec![0.0f64; (2 * HALF + 1) as usize];
    let mut prof_n = 0usize;
    let (mut d_err_sum, mut a_rel_sum, mut r_err_sum, mut n_frames) = (0.0, 0.0, 0.0, 0usize);
    let mut params = truelumen::segment::refine::RefineParams {
        window_deg: env("WIN").unwrap_or(10.0),
        inner_mm: env("INNER").unwrap_or(0.12),
        outer_mm: env("OUTER").unwrap_or(0.15),
        enabled: true,
        db_per_grey: None,
    };
    let mut rws = truelumen::segment::refine::RefineWorkspace::default();
    let mut refined = Vec::new();
    let mut r2_sum = 0.0;
    let (mut r2_sq, mut r_sq) = (0.0, 0.0);
    let mut fp = vec![0.0f64; 61];
    let mut fpn = 0usize;
    let mut dbp = vec![0.0f64; 61];
    let mut off_hist = vec![0usize; (2 * HALF + 1) as usize];
    for seed in start..start + count {
        let spec = if std::env::var("PB").is_ok() {
            // A patent frame of a phantom pullback (tuning seeds, not those of the tests).
            let d = 2.0 + 1.5 * ((seed * 37) % 100) as f64 / 100.0;
            let pb = truelumen::sim::pullback::PullbackSpec {
                seed: 40_000 + seed * 7,
                n_frames: 28,
                lesion_length_mm: 0.0,
                distal_vessel_diameter_mm: d,
                proximal_vessel_diameter_mm: d + 0.3,
                reference_plaque_burden: 0.42 + 0.08 * ((seed * 13) % 100) as f64 / 100.0,
                ..Default::default()
            };
            pb.frame_spec((seed % 28) as usize).unwrap()
        } else {
            PhantomSpec::random(seed)
        };
        let ph = simulate(&spec).unwrap();
        let t = &ph.truth;
        let calib =
            if polar { Calibration::Polar(ph.polar_geom) } else { Calibration::Cartesian { mm_per_px: ph.mm_per_px } };
        let frame = if polar { &ph.polar } else { &ph.cart };
        let res = p.process(frame, calib, seed as usize, "x").unwrap();
        let Some(v) = &res.vessel else {
            println!("seed {seed}: no vessel");
            continue;
        };
        // Detected centre in the truth's mm frame.
        let c = if polar {
            [0.0, 0.0]
        } else {
            [
                (res.center_px[0] - t.catheter_center_px[0]) * ph.mm_per_px,
                -(res.center_px[1] - t.catheter_center_px[1]) * ph.mm_per_px,
            ]
        };
        let seg = p.last_segmentation();
        let geom = if polar {
            ph.polar_geom
        } else {
            let (n, ns) = p.last_polar().shape();
            truelumen::geometry::PolarGeometry::new(n, ns, ph.mm_per_px).unwrap()
        };
        let h = geom.mm_per_sample;
        let path = &seg.borders.vessel;
        let start = ((t.catheter_radius_mm + 0.3) / h) as usize;
        let end = ((4.0 / h) as usize).min(geom.n_samples - 1);
        if std::env::var("ORACLE").is_ok() {
            params.db_per_grey = Some(spec.dynamic_range_db / 255.0);
        }
        if polar {
            truelumen::segment::refine::refine_border(
                truelumen::segment::refine::Border::Eem,
                p.last_polar(),
                &geom,
                path,
                start,
                end,
                &p.last_shadows().bridge,
                &params,
                &mut rws,
                &mut refined,
            );
        } else {
            let cg = truelumen::CartGeometry {
                center_col: res.center_px[0],
                center_row: res.center_px[1],
                mm_per_px: ph.mm_per_px,
            };
            truelumen::segment::refine::refine_vessel_border_cartesian(
                &ph.cart,
                &cg,
                p.last_polar(),
                &geom,
                path,
                start,
                end,
                &p.last_shadows().bridge,
                &params,
                &mut rws,
                &mut refined,
            );
        }
        let (mut rs, mut rn, mut rs2) = (0.0, 0usize, 0.0);
        for (l, &s) in path.iter().enumerate() {
            let a = geom.angle_deg_of_line(l as f64).to_radians();
            let u = [a.cos(), a.sin()];
            // Bisection for the true EEM depth along this ray.
            let (mut lo, mut hi) = (0.0f64, 8.0f64);
            for _ in 0..50 {
                let m = 0.5 * (lo + hi);
                if spec.vessel.radial_excess_mm([c[0] + m * u[0], c[1] + m * u[1]]) < 0.0 {
                    lo = m;
                } else {
                    hi = m;
                }
            }
            let r_true = 0.5 * (lo + hi);
            let r_meas = (s as f64 - 0.5) * h;
            rs += r_meas - r_true;
            rs2 += refined[l] * h - r_true;
            rn += 1;
            let off = ((r_meas - r_true) / h).round() as i64;
            if off.abs() <= HALF {
                off_hist[(off + HALF) as usize] += 1;
            }
            // Profile around the true border (sample position of the boundary = r/h + 0.5).
            let norm = seg.norm.row(l);
            let b = r_true / h + 0.5; // boundary in "first outside sample" units
            for k in -HALF..=HALF {
                // Sample whose centre lies k + 0.5 samples from the boundary.
                let x = b + k as f64 - 0.5 + 0.5;
                let i = x.floor() as i64;
                let f = x - i as f64;
                if i >= 0 && (i as usize + 1) < norm.len() {
                    let val = norm[i as usize] as f64 * (1.0 - f) + norm[i as usize + 1] as f64 * f;
                    prof[(k + HALF) as usize] += val;
                }
            }
            prof_n += 1;
            // dB profile of the unfiltered frame around the true border, 0.01 mm bins.
            if !p.last_shadows().bridge[l] {
                let raw = p.last_polar().row(l);
                for (bi, acc) in fp.iter_mut().enumerate() {
                    let z = r_true + (bi as f64 - 20.0) * 0.01;
                    let x = z / h;
                    let i = x.floor() as usize;
                    if i + 1 < raw.len() {
                        let f = x - i as f64;
                        *acc += (raw[i] as f64 * (1.0 - f) + raw[i + 1] as f64 * f) * spec.dynamic_range_db / 255.0;
                    }
                }
                fpn += 1;
            }
        }
        let base = fp[30] / fpn.max(1) as f64;
        for (a, v) in dbp.iter_mut().zip(&fp) {
            *a += v / fpn.max(1) as f64 - base;
        }
        fp.iter_mut().for_each(|v| *v = 0.0);
        fpn = 0;
        if std::env::var("QSTAT").is_ok() {
            let q_true = spec.dynamic_range_db / 255.0;
            let polar_img = p.last_polar();
            let bridge = &p.last_shadows().bridge;
            let mut line = String::new();
            for wmm in [0.15, 0.3, 0.6] {
                let w = ((wmm / h).round() as usize).max(8);
                let mut sds = Vec::new();
                let mut vars = Vec::new();
                for (l, _) in bridge.iter().enumerate().take(polar_img.rows()).filter(|(_, b)| !**b) {
                    let row = polar_img.row(l);
                    let mut s0 = start;
                    while s0 + w <= end.min(row.len()) {
                        let win = &row[s0..s0 + w];
                        let m = win.iter().sum::<f32>() as f64 / w as f64;
                        let v = win.iter().map(|x| (*x as f64 - m).powi(2)).sum::<f64>() / (w - 1) as f64;
                        sds.push(v.sqrt());
                        vars.push(v);
                        s0 += w;
                    }
                }
                sds.sort_by(f64::total_cmp);
                vars.sort_by(f64::total_cmp);
                let med = sds[sds.len() / 2];
                let q25 = sds[sds.len() / 4];
                line += &format!(" w{wmm}: med {:.2} q25 {:.2}", 5.57 / med / q_true, 5.57 / q25 / q_true);
            }
            println!("QSTAT seed {seed} ratio est/true:{line}");
        }
        let r_err = rs / rn.max(1) as f64;
        let r_err2 = rs2 / rn.max(1) as f64;
        r2_sum += r_err2;
        r2_sq += r_err2 * r_err2;
        r_sq += r_err * r_err;
        let q_true = spec.dynamic_range_db / 255.0;
        let d_err = v.mean_diameter_mm - t.vessel_mean_diameter_mm;
        let a_rel = (v.area_mm2 - t.vessel_area_mm2) / t.vessel_area_mm2;
        d_err_sum += d_err;
        a_rel_sum += a_rel;
        r_err_sum += r_err;
        n_frames += 1;
        println!(
            "seed {seed}: vD {:.3} err {d_err:+.3} mm, area {a_rel:+.3}, radial {r_err:+.4} mm ({:+.2} samples), h {h:.4} mm, media {:.2} mm, cen err {:.3} mm, occl {} | refined {r_err2:+.4} mm, dB/grey est {:.3} true {q_true:.3}, lines {}",
            t.vessel_mean_diameter_mm,
            r_err / h,
            t.media_thickness_mm,
            c[0].hypot(c[1]),
            t.occluded as u8,
            rws.db_per_grey,
            rws.refined_lines
        );
    }
    let n = n_frames.max(1) as f64;
    println!(
        "{n_frames} frames: mean diameter error {:+.4} mm, area {:+.4}, radial {:+.4} mm (sd {:.4}), refined radial {:+.4} mm (sd {:.4})",
        d_err_sum / n,
        a_rel_sum / n,
        r_err_sum / n,
        (r_sq / n - (r_err_sum / n).powi(2)).max(0.0).sqrt(),
        r2_sum / n,
        (r2_sq / n - (r2_sum / n).powi(2)).max(0.0).sqrt()
    );
    println!("mean dB profile of the unfiltered frame about the true EEM (rel. to +0.10 mm):");
    for (bi, v) in dbp.iter().enumerate() {
        println!("{:+.2} mm {:+7.2} dB  power {:.3}", (bi as f64 - 20.0) * 0.01, v / n, 10f64.powf(v / n / 10.0));
    }
    println!("profile around the true EEM (k = sample centre k+0.5 samples... offset from the boundary), mean norm:");
    for k in -HALF..=HALF {
        let i = (k + HALF) as usize;
        println!("{k:+3} {:.3}  border-offset-count {}", prof[i] / prof_n.max(1) as f64, off_hist[i]);
    }
}
