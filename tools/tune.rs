//! Tuning harness: runs the pipeline on random phantoms and prints per-frame scores and the
//! summary. `cargo run --release --example tune -- START COUNT [OUTDIR]`
//!
//! Use tuning seeds only (1000–4999): seeds 1–30 are the committed test fixtures and seeds
//! ≥ 5000 are the held-out sets of `tests/accuracy.rs`.
//!
//! * `OUTDIR`: also writes `seed<N>.png` (Cartesian frame, truth in green, lumen red, vessel
//!   yellow, wire magenta) and `polar<N>.png` (the pipeline's polar frame with the same borders).
//! * `FIX512=1`: 512 px / 10 mm frames like the fixtures instead of the drawn size.
//! * `WIRE=1`: prints the true wire and every shadow run found.
//! * `CTO=1`: chronic-total-occlusion scenes (`PhantomSpec::random_cto`); prints the true and
//!   found catheter position, the evidence of the true-lumen hypotheses (with the true lumen
//!   echo and the whole-interior / darkest-depth contrasts of the patent call) and the position
//!   accuracy; for correctly placed subintimal lumens, the radial border error per ray by the
//!   ray's angle from the catheter→lumen direction (`RAYDUMP=1`: every ray).
//! * `LUMEN_REFINE=0`: no half-power refinement of a catheter-enclosing lumen.
//! * `DEMO=1`: frames of the demo pullback (`PullbackSpec::default()`), the start and count
//!   being frame indices (e.g. `DEMO=1 CTO=1 BESIDE=1 tune 23 12` for its subintimal stretch).
//! * `BESIDE=0` / `BESIDE=1`: search for the true lumen beside the catheter off / on (default:
//!   the pipeline default); `BESIDE=1` also prints the true-lumen evidence without `CTO`.
//! * `FILTER='{"kind":"lee",...}'`: speckle filter (JSON of `SpeckleFilter`).
//! * `EW`, `HW`, `WO`, `MS`, `JP`, `MED`, `ADV`: override `SegmentParams` fields
//!   (lumen edge weight, homogeneity weight, outside window mm, max slope, jump penalty, media
//!   and adventitia windows mm).
use truelumen::eval::{Reference, score_frame, shift_to_truth_center, summarize};
use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{Calibration, CartGeometry, Pipeline, PipelineConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let start: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let out = args.get(3).cloned();
    let mut cfg = PipelineConfig::default();
    if let Ok(f) = std::env::var("FILTER") {
        cfg = cfg.with_speckle(serde_json::from_str(&f).unwrap());
    }
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(v) = env("EW") {
        cfg.segment.lumen_edge_weight = v as f32;
    }
    if let Some(v) = env("HW") {
        cfg.segment.lumen_homogeneity_weight = v as f32;
    }
    if let Some(v) = env("WO") {
        cfg.segment.lumen_outside_mm = v;
    }
    if let Some(v) = env("MS") {
        cfg.segment.max_slope = v;
    }
    if let Some(v) = env("JP") {
        cfg.segment.jump_penalty = v as f32;
    }
    if let Some(v) = env("MED") {
        cfg.segment.media_mm = v;
    }
    if let Some(v) = env("ADV") {
        cfg.segment.adventitia_mm = v;
    }
    match std::env::var("BESIDE").ok().as_deref() {
        Some("0") => cfg = cfg.with_lumen_beside_catheter(false),
        Some(_) => cfg = cfg.with_lumen_beside_catheter(true),
        None => {}
    }
    if std::env::var("LUMEN_REFINE").ok().as_deref() == Some("0") {
        cfg.lumen_refine = false;
    }
    let mut p = Pipeline::new(cfg).unwrap();
    let mut scores = Vec::new();
    let mut positions = Vec::new();
    let mut ray_err: Vec<Vec<f64>> = vec![Vec::new(); 6];
    for seed in start..start + count {
        let cto = std::env::var("CTO").is_ok();
        let mut spec = if std::env::var("DEMO").is_ok() {
            truelumen::sim::pullback::PullbackSpec::default().frame_spec(seed as usize).unwrap()
        } else if cto {
            PhantomSpec::random_cto(seed)
        } else {
            PhantomSpec::random(seed)
        };
        if std::env::var("FIX512").is_ok() {
            let f = 512.0 / spec.image_side_px as f64;
            spec.catheter_offset_px = [spec.catheter_offset_px[0] * f, spec.catheter_offset_px[1] * f];
            spec.image_side_px = 512;
            spec.fov_mm = 10.0;
        }
        let ph = simulate(&spec).unwrap();
        let t = &ph.truth;
        let res = p.process(&ph.cart, Calibration::Cartesian { mm_per_px: ph.mm_per_px }, seed as usize, "x").unwrap();
        // Result contours are relative to the *detected* centre; move them into the truth's frame.
        let res_t = shift_to_truth_center(&res, t).unwrap();
        let d = [
            (res.center_px[0] - t.catheter_center_px[0]) * ph.mm_per_px,
            -(res.center_px[1] - t.catheter_center_px[1]) * ph.mm_per_px,
        ];
        let s = score_frame(&res_t, &Reference::from(t));
        println!(
            "seed {seed:5} occl {} L {:.3} V {:.3} HDl {:5.3} HDv {:5.3} | wire t{} r{} m{} ang {:?} in {:?} | cath err {:.2}px | vD {:.2} lD {:.2} pb {:.2} gain {:.1} dr {:.0} flags {:?}",
            t.occluded as u8,
            s.lumen_jaccard,
            s.vessel_jaccard,
            s.lumen_hausdorff_mm.unwrap_or(9.0),
            s.vessel_hausdorff_mm.unwrap_or(9.0),
            s.wire_present as u8,
            s.wire_reported as u8,
            s.wire_matched as u8,
            s.relative_angle_err_deg.map(|a| (a * 10.0).round() / 10.0),
            s.inside_correct,
            (d[0].hypot(d[1])) / ph.mm_per_px,
            t.vessel_mean_diameter_mm,
            t.lumen_mean_diameter_mm,
            t.plaque_burden,
            spec.gain_db,
            spec.dynamic_range_db,
            res.quality.flags
        );
        if let (Some(w), Some(tw)) = (&res.guidewire, &t.guidewire) {
            println!(
                "   wire dist truth {:.3} found {:?} radius {:.3}",
                tw.distance_to_lumen_mm, w.distance_to_lumen_mm, tw.radius_mm
            );
        }
        println!("   contrast lumen {:.2} vessel {:.2}", res.quality.lumen_contrast, res.quality.vessel_contrast);
        println!("   media truth {:.3} texture {:.3}", spec.media_thickness_mm, spec.plaque_texture);
        if cto || std::env::var("BESIDE").is_ok_and(|v| v != "0") {
            let want = t.catheter_position_class();
            println!(
                "   position truth {want:?} found {:?} {} encloses {:?} lumen-area truth {:.2} found {:?} lumen echo {:.1} dB",
                res.catheter_position,
                if want == res.catheter_position { "OK" } else { "WRONG" },
                res.lumen.as_ref().map(|l| l.encloses_catheter),
                t.lumen_area_mm2,
                res.lumen.as_ref().map(|l| l.area_mm2),
                spec.lumen_echo_db,
            );
            let e = p.last_true_lumen();
            println!(
                "   evidence band z enc {:.1} bes {:.1} | split z enc {:.1} bes {:.1} at {:?} | use beside {} | raw contrast {:.2} SD dark {:.2} | eem gap {:.2} mm | within enc z {:.1} c {:.2} a {:.2} overlap {:.2} | lumen to eem {:.2} mm | eem alone {:.2} joint {:.2}",
                e.enclosing.z,
                e.beside.map_or(f64::NAN, |b| b.z),
                e.partition_enclosing.z,
                e.partition_beside.map_or(f64::NAN, |b| b.z),
                e.beside_center_mm.map(|c| [(c[0] * 100.0).round() / 100.0, (c[1] * 100.0).round() / 100.0]),
                e.use_beside,
                e.raw_contrast_sd,
                e.dark_contrast_sd,
                e.eem_gap_mm,
                e.split_within_enclosing.z,
                e.split_within_enclosing.contrast_sd,
                e.split_within_enclosing.area_mm2,
                e.split_within_enclosing.area_mm2 / e.partition_beside.map_or(f64::NAN, |b| b.area_mm2),
                e.lumen_to_eem_mm,
                e.eem_alone_sd,
                e.eem_joint_sd,
            );
            if want == truelumen::report::CatheterPosition::Subintimal {
                // Failure causes: how much of the true lumen the vessel found leaves room for
                // (inside it by more than the media), whether the beside centre is in the true
                // lumen, and the found/true lumen area.
                let media = 0.12;
                let (mut n_in, mut n_cov, mut n_fin, mut n_both) = (0usize, 0usize, 0usize, 0usize);
                let step = 0.02;
                let reach = 6.0;
                let m = (2.0 * reach / step) as i64;
                for iy in 0..m {
                    for ix in 0..m {
                        let q = [-reach + ix as f64 * step, -reach + iy as f64 * step];
                        let tin = t.lumen.contains(q);
                        let fin = res_t.lumen.as_ref().is_some_and(|l| l.contour_mm.contains(q));
                        n_fin += fin as usize;
                        if tin {
                            n_in += 1;
                            n_both += fin as usize;
                            if res_t.vessel.as_ref().is_some_and(|v| v.contour_mm.signed_distance_mm(q) < -media) {
                                n_cov += 1;
                            }
                        }
                    }
                }
                let cen_in = p.last_true_lumen().beside_center_mm.map(|c| t.lumen.contains([c[0] + d[0], c[1] + d[1]]));
                println!(
                    "   SUB recentred EEM {} contrast {:.1} -> {:.1}\n   SUB seed {seed} J {:.3} vJ {:.3} cover {:.2} centre-in {:?} area found/true {:.2} recall {:.2} precision {:.2} occl {}",
                    p.last_true_lumen().eem_recentred,
                    p.last_true_lumen().eem_recentred_sd[0],
                    p.last_true_lumen().eem_recentred_sd[1],
                    s.lumen_jaccard,
                    s.vessel_jaccard,
                    n_cov as f64 / n_in.max(1) as f64,
                    cen_in,
                    n_fin as f64 / n_in.max(1) as f64,
                    n_both as f64 / n_in.max(1) as f64,
                    n_both as f64 / n_fin.max(1) as f64,
                    t.occluded as u8,
                );
            }
            // Radial error of the beside lumen per ray, by the angle between the ray and the
            // catheter→centre direction (0° far side, 90° lateral sides, 180° near side).
            if want == res.catheter_position
                && want == truelumen::report::CatheterPosition::Subintimal
                && s.lumen_jaccard > 0.6
                && let (Some(l), Some(c)) = (res_t.lumen.as_ref(), p.last_true_lumen().beside_center_mm)
            {
                let ct = [c[0] + d[0], c[1] + d[1]];
                let cn = ct[0].hypot(ct[1]).max(1e-9);
                for q in &l.contour_mm.points_mm {
                    let v = [q[0] - ct[0], q[1] - ct[1]];
                    let rf = v[0].hypot(v[1]);
                    if rf < 1e-6 {
                        continue;
                    }
                    let u = [v[0] / rf, v[1] / rf];
                    let mut rt = 0.0;
                    while rt < 6.0 && t.lumen.contains([ct[0] + rt * u[0], ct[1] + rt * u[1]]) {
                        rt += 0.005;
                    }
                    let phi = ((u[0] * ct[0] + u[1] * ct[1]) / cn).clamp(-1.0, 1.0).acos().to_degrees();
                    ray_err[((phi / 30.0) as usize).min(5)].push(rf - rt);
                    if std::env::var("RAYDUMP").is_ok() {
                        println!("RAY {seed} {:.1} {:.4} {:.4}", phi, rf, rt);
                    }
                }
            }
            positions.push((want, res.catheter_position, s.lumen_jaccard));
        }
        scores.push(s);
        if std::env::var("WIRE").is_ok() {
            if let Some(w) = &t.guidewire {
                println!(
                    "   truth wire angle {:.1} r {:.2} in_lumen {} dist {:.2} lumen-centroid-angle {:.1}",
                    w.angle_deg,
                    w.center_mm[0].hypot(w.center_mm[1]),
                    w.in_true_lumen,
                    w.distance_to_lumen_mm,
                    truelumen::geometry::angle_deg_of_point(t.lumen_centroid_mm)
                );
                if let Some(g) = &res_t.guidewire {
                    println!(
                        "   found wire angle {:.1} r {:.2} in_lumen {:?} dist {:?} lumen-centroid-angle {:?}",
                        truelumen::geometry::angle_deg_of_point(g.center_mm),
                        g.center_mm[0].hypot(g.center_mm[1]),
                        g.in_true_lumen,
                        g.distance_to_lumen_mm,
                        res_t.lumen.as_ref().map(|l| truelumen::geometry::angle_deg_of_point(l.centroid_mm))
                    );
                }
            }
            for r in p.last_shadow_runs() {
                println!(
                    "   run first {} n {} kind {:?} echo {:.2}mm depth {:.2} prom {:.2} centre {:.1}",
                    r.first_line, r.n_lines, r.kind, r.echo_depth_mm, r.shadow_depth, r.echo_prominence, r.center_line
                );
            }
        }
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            let mut img = image::RgbImage::from_fn(ph.cart.cols() as u32, ph.cart.rows() as u32, |x, y| {
                let v = ph.cart.get(y as usize, x as usize).clamp(0.0, 255.0) as u8;
                image::Rgb([v, v, v])
            });
            let tg = CartGeometry {
                center_col: t.catheter_center_px[0],
                center_row: t.catheter_center_px[1],
                mm_per_px: ph.mm_per_px,
            };
            let rg =
                CartGeometry { center_col: res.center_px[0], center_row: res.center_px[1], mm_per_px: ph.mm_per_px };
            let mut put = |g: &CartGeometry, pts: &[[f64; 2]], c: [u8; 3]| {
                for &q in pts {
                    let (x, y) = g.px_of_mm(q);
                    for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)] {
                        let (x, y) = (x + dx, y + dy);
                        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
                            img.put_pixel(x as u32, y as u32, image::Rgb(c));
                        }
                    }
                }
            };
            put(&tg, &t.lumen.points_mm, [0, 255, 0]);
            put(&tg, &t.vessel.points_mm, [0, 255, 0]);
            if let Some(l) = &res.lumen {
                put(&rg, &l.contour_mm.points_mm, [255, 0, 0]);
            }
            if let Some(v) = &res.vessel {
                put(&rg, &v.contour_mm.points_mm, [255, 255, 0]);
            }
            if let Some(w) = &res.guidewire {
                put(&rg, &[w.center_mm], [255, 0, 255]);
            }
            img.save(format!("{dir}/seed{seed}.png")).unwrap();
            // Polar view (pipeline geometry: line l at l*360/n deg CCW, 1 sample = 1 px).
            let pol = p.last_polar();
            let (n, ns) = pol.shape();
            let mut pimg = image::RgbImage::from_fn(ns as u32, n as u32, |x, y| {
                let v = pol.get(y as usize, x as usize).clamp(0.0, 255.0) as u8;
                image::Rgb([v, v, v])
            });
            let mmpp = ph.mm_per_px;
            let mut mark = |c: &truelumen::Contour, col: [u8; 3], shift: [f64; 2]| {
                for l in 0..n {
                    let a = (l as f64 * 360.0 / n as f64).to_radians();
                    let mut last = None;
                    for k in 0..ns {
                        let r = k as f64 * mmpp;
                        let q = [r * a.cos() + shift[0], r * a.sin() + shift[1]];
                        if c.contains(q) {
                            last = Some(k);
                        }
                    }
                    if let Some(k) = last {
                        pimg.put_pixel(k as u32, l as u32, image::Rgb(col));
                    }
                }
            };
            // truth is in the true-centre frame; pipeline polar is around the detected centre
            let sh = [d[0], d[1]];
            mark(&t.lumen, [0, 255, 0], [-sh[0], -sh[1]]);
            mark(&t.vessel, [0, 255, 0], [-sh[0], -sh[1]]);
            if let Some(l) = &res.lumen {
                mark(&l.contour_mm, [255, 0, 0], [0.0, 0.0]);
            }
            if let Some(v) = &res.vessel {
                mark(&v.contour_mm, [255, 255, 0], [0.0, 0.0]);
            }
            pimg.save(format!("{dir}/polar{seed}.png")).unwrap();
        }
    }
    println!("{}", summarize(&scores));
    let st = p.stage_times();
    println!(
        "pipeline time {:.2} ms per frame (borders {:.2} ms) over {} frames",
        1e3 * st.total_seconds() / st.frames.max(1) as f64,
        st.ms_per_frame(truelumen::timing::Stage::Borders),
        st.frames
    );
    for (i, e) in ray_err.iter_mut().enumerate() {
        if e.is_empty() {
            continue;
        }
        e.sort_by(f64::total_cmp);
        let q = |f: f64| e[((e.len() - 1) as f64 * f) as usize];
        println!(
            "beside ray error, angle {:3}-{:3} deg from far side: n {} median {:+.3} mm, quartiles {:+.3} {:+.3}",
            i * 30,
            i * 30 + 30,
            e.len(),
            q(0.5),
            q(0.25),
            q(0.75)
        );
    }
    if !positions.is_empty() {
        use truelumen::report::CatheterPosition as P;
        let ok = positions.iter().filter(|(a, b, _)| a == b).count();
        println!("catheter position correct {ok}/{}", positions.len());
        for class in [P::Intraluminal, P::Intraplaque, P::Subintimal] {
            let js: Vec<f64> = positions.iter().filter(|p| p.0 == class).map(|p| p.2).collect();
            let n_ok = positions.iter().filter(|p| p.0 == class && p.1 == class).count();
            let mean = js.iter().sum::<f64>() / js.len().max(1) as f64;
            println!("  {class:?}: n {} correct {n_ok} lumen JM mean {mean:.3}", js.len());
        }
    }
}
