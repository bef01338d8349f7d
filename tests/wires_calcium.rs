//! Two wires, calcium and guidance on phantom pullbacks (issue #3, items 2–4).
//!
//! Frames: 4 pullbacks of 16 frames ([`wire_sequence`], held-out seeds 7300–7315, 7400–7415,
//! 7500–7515, 7600–7615; never used for tuning, which used seeds 1000–1099): the anatomy and
//! acquisition of `PhantomSpec::random` (256–1024 px, 256/512 lines, gain, noise, occluded
//! lumens...), the catheter's own wire next to the sheath at one angle per pullback (±3°) in
//! ~90 % of frames, a second wire in ~70 % (half in the true lumen, half in the plaque) and a
//! calcium arc of 30–120° in ~45 %. Frames are analysed independently (`process_batch`), then
//! each pullback goes through the sequence passes in frame order, as `truelumen analyze` does:
//! the lumen side ([`resolve_lumen_sides`], session 19), then the own wire
//! ([`resolve_wire_sequence`]).
//!
//! Bars (issue #3): second wire detected ≥ 95 % (of the second wires not hidden in the own
//! wire's or calcium's shadow, which no image shows; they are counted and printed); own wire
//! never reported as the second wire in ≥ 97 % of own-wire frames; median relative-angle error
//! ≤ 5°; calcium arc error ≤ 20° median on frames with calcium
//! ([`truelumen::eval::calcium_arc_error_deg`]); no calcium reported in ≥ 90 % of frames
//! without. Inside/outside (bar ≥ 95 %) is asserted only against a regression floor
//! ([`INSIDE_FLOOR`]): it is not met yet (see the assertion).
//!
//! Achieved (2026-11-27, seeds above, with the sequence pass): second wire 97.4 % (38/39, 4
//! hidden), own wire kept apart 98.2 %, relative angle 2.78° median, inside/outside 84.2 %
//! (89.5 % on 2026-11-28),
//! calcium arc error 6.2° median (22 frames), no calcium reported in 97.6 % of frames without.
//! Session 13 (2026-11-29; lumen border bridged across shadows before its smoothing): relative
//! angle 2.72° → 1.94° median, everything else unchanged (inside/outside 94.7 %).
//! The run also prints the inside/outside calls by truth (inside / outside) and by the distance
//! from the wire centre to the true lumen border (diagnostic). Session 7: all 4 wrong calls
//! (with the sequence pass) are wires inside the lumen, 2 of them within 0.25 mm of its border.
//! The quality flag `wire_at_lumen_border` (the wire centre within half a beam width, 0.11 mm,
//! of the found border: `truelumen::guidance::WIRE_AT_BORDER_MM`) must be at least twice as
//! frequent on the wrong inside/outside calls as on the right ones; session 16 (2026-11-29):
//! 1 of the 2 wrong calls flagged, 4 of the 36 right ones.
//! Note: seeds 7300–7615 were looked at once during development and are not used here. Print the figures with
//! `cargo test --release --test wires_calcium -- --nocapture`.

mod common;

use rayon::prelude::*;
use truelumen::eval::{WireCalciumScore, score_wires_calcium, summarize_wires_calcium};
use truelumen::guidewire::{IvusWireParams, resolve_wire_sequence};
use truelumen::pipeline::{BatchFrame, process_batch};
use truelumen::pullback::sides::{MAX_RUN_FRAMES, resolve_lumen_sides};
use truelumen::report::{FrameResult, QualityFlag};
use truelumen::sim::{Phantom, PhantomSpec, simulate, wire_sequence, wire_sequence_cto};
use truelumen::{Calibration, PipelineConfig};

const PULLBACK_SEEDS: [u64; 4] = [8100, 8200, 8300, 8400];
const FRAMES_PER_PULLBACK: usize = 16;
/// Regression floor for inside/outside (the bar is 0.95). Achieved 0.947 on 2026-11-29
/// after the catheter-enclosing lumen search ignored 1.5 half beam widths either side of a
/// wire's shadow instead of one (`guidewire::LUMEN_BRIDGE_BEAM_FACTOR`; relative-angle error
/// 1.48° → 2.72° median, the lumen centroid moving with the wider bridge); 0.895 on 2026-11-28
/// after the lumen border across shadows became the straight bridge between the lines beside
/// them (`Pipeline`, `bridge_runs_linearly`); 0.842 on 2026-11-27, 0.816 before the true-lumen
/// search beside the catheter.
const INSIDE_FLOOR: f64 = 0.92;

fn analyse(phantoms: &[Phantom], config: &PipelineConfig) -> Vec<FrameResult> {
    let batch: Vec<BatchFrame> = phantoms
        .iter()
        .enumerate()
        .map(|(i, p)| BatchFrame {
            image: p.cart.clone(),
            calib: Calibration::Cartesian { mm_per_px: p.mm_per_px },
            index: i,
            source: results_source(p),
        })
        .collect();
    process_batch(config, &batch).unwrap().into_iter().map(|r| r.unwrap()).collect()
}

/// The source name of a phantom frame in the results.
fn results_source(p: &Phantom) -> String {
    format!("seed {}", p.truth.spec.seed)
}

/// Tuning harness on tuning seeds (1100–1415): prints the summary and, with
/// `WIRES_OVERLAYS=DIR`, writes overlays. `cargo test --release --test wires_calcium -- --ignored --nocapture`
#[test]
#[ignore]
fn tuning_pullbacks() {
    let dir = std::env::var_os("WIRES_OVERLAYS").map(std::path::PathBuf::from);
    run(&[1100, 1200, 1300, 1400], wire_sequence, dir.clone(), Bars::None);
    run(&[1500, 1600], wire_sequence_cto, dir, Bars::None);
}

/// Which bars a run asserts.
#[derive(PartialEq)]
enum Bars {
    None,
    /// All bars (inside/outside against its floor).
    All,
    /// Only the figures that do not depend on the true-lumen border (wire identity, calcium).
    WiresAndCalcium,
}

/// The same on CTO scenes (`PhantomSpec::random_cto`: catheter intraluminal, intraplaque or
/// subintimal with the true lumen beside it): one pullback of 16 frames, held-out seeds
/// 8500–8515. Asserts the wire-identity and calcium bars; the relative angle and inside/outside
/// depend on the true-lumen border beside a subintimal catheter (issue #3 item 1) and are only
/// printed. Achieved (2026-11-27): second wire 4/4 (4 more hidden in a shadow), own wire kept
/// apart 12/12, calcium arc error 19.4° median (6 frames), no calcium reported in 10/10 frames
/// without; relative angle 5.7° median and inside/outside 60 % on the main branch's
/// segmentation (which assumes a lumen around the catheter).
#[test]
fn wires_and_calcium_on_cto_scenes() {
    run(&[8500], wire_sequence_cto, None, Bars::WiresAndCalcium);
}

#[test]
fn wires_calcium_and_guidance_meet_the_bars() {
    run(&PULLBACK_SEEDS, wire_sequence, None, Bars::All);
}

fn run(seeds: &[u64], scenes: fn(u64, usize) -> Vec<PhantomSpec>, overlays: Option<std::path::PathBuf>, bars: Bars) {
    let config = PipelineConfig::default();
    let mut scores: Vec<WireCalciumScore> = Vec::new();
    let mut single: Vec<WireCalciumScore> = Vec::new();
    let mut hints = 0;
    let mut sides_changed = 0;
    // Inside/outside calls of matched second wires: (truth inside, distance to the true lumen
    // border in mm, call correct, flagged `wire_at_lumen_border`), for the breakdown below.
    let mut inside_calls: Vec<(bool, f64, bool, bool)> = Vec::new();
    for &seed in seeds {
        let phantoms: Vec<Phantom> =
            scenes(seed, FRAMES_PER_PULLBACK).par_iter().map(|s| simulate(s).unwrap()).collect();
        let mut results = analyse(&phantoms, &config);
        single.extend(results.iter().zip(&phantoms).map(|(r, p)| score_wires_calcium(r, &p.truth).unwrap()));
        let mut again = truelumen::Pipeline::new(config.clone()).unwrap();
        // Random anatomy in every frame: no frame spacing, runs in frames.
        let changed = resolve_lumen_sides(&mut results, MAX_RUN_FRAMES, |&i, side| {
            let p = &phantoms[i];
            let calib = Calibration::Cartesian { mm_per_px: p.mm_per_px };
            again.process_with_side(&p.cart, calib, i, &results_source(p), side)
        })
        .unwrap();
        sides_changed += changed;
        resolve_wire_sequence(&mut results, IvusWireParams::default());
        for (r, p) in results.iter().zip(&phantoms) {
            let s = score_wires_calcium(r, &p.truth).unwrap();
            if let Some(dir) = &overlays {
                std::fs::create_dir_all(dir).unwrap();
                let name = format!("{}.png", r.source.replace(' ', "_"));
                truelumen::overlay::render_overlay(&p.cart, r).save(dir.join(name)).unwrap();
            }
            let t = &p.truth;
            println!(
                "{:>10}  own {:>6} rep {:>6}  second {:>14} rep {:>14}  calcium {:?} rep {:?}  {}",
                r.source,
                t.ivus_wire.as_ref().map_or("-".into(), |w| format!("{:.0}", w.angle_deg)),
                r.ivus_wire.as_ref().map_or("-".into(), |w| format!("{:.0}", w.angle_deg)),
                t.guidewire.as_ref().map_or("-".into(), |w| format!(
                    "{:.0} {}",
                    w.angle_deg,
                    if w.in_true_lumen { "in" } else { "out" }
                )),
                r.guidewire.as_ref().map_or("-".into(), |w| format!(
                    "{:.0} {}",
                    w.angle_deg,
                    match w.in_true_lumen {
                        Some(true) => "in",
                        Some(false) => "out",
                        None => "?",
                    }
                )),
                t.calcium.iter().map(|c| (c.start_deg.round(), c.end_deg.round())).collect::<Vec<_>>(),
                r.calcium.arcs.iter().map(|a| (a.start_deg.round(), a.end_deg.round())).collect::<Vec<_>>(),
                if s.own_as_second || (s.second_present && !s.second_matched) || s.second_false {
                    "<-- wire"
                } else {
                    ""
                },
            );
            // Every frame with a second wire carries guidance with a hint.
            assert_eq!(r.guidewire.is_some(), r.guidance.is_some(), "{}", r.source);
            hints += usize::from(r.guidance.as_ref().is_some_and(|g| !g.hint.is_empty()));
            if let (Some(ok), Some(w)) = (s.inside_correct, &t.guidewire) {
                let at_border = r.quality.has(QualityFlag::WireAtLumenBorder);
                inside_calls.push((w.in_true_lumen, w.distance_to_lumen_mm.abs(), ok, at_border));
            }
            scores.push(s);
        }
    }
    let sum = summarize_wires_calcium(&scores);
    println!("\nsingle-frame (no sequence pass):\n{}\n", summarize_wires_calcium(&single));
    println!(
        "with the sequence passes:\n{sum}\nhints: {hints}; frames whose lumen side the side pass changed: {sides_changed}"
    );
    println!("inside/outside by truth and distance from the wire centre to the true lumen border:");
    for inside in [true, false] {
        for (lo, hi) in [(0.0, 0.25), (0.25, 0.5), (0.5, f64::INFINITY)] {
            let of: Vec<bool> =
                inside_calls.iter().filter(|c| c.0 == inside && c.1 >= lo && c.1 < hi).map(|c| c.2).collect();
            let ok = of.iter().filter(|&&b| b).count();
            let what = if inside { "inside" } else { "outside" };
            println!("  truth {what:7}, {lo:.2}–{hi:.2} mm: {ok} of {} correct", of.len());
        }
    }
    // `wire_at_lumen_border` should mark the inside/outside calls most likely wrong.
    let flagged = |right: bool| {
        let of: Vec<bool> = inside_calls.iter().filter(|c| c.2 == right).map(|c| c.3).collect();
        (of.iter().filter(|&&b| b).count(), of.len())
    };
    let ((fw, nw), (fr, nr)) = (flagged(false), flagged(true));
    println!("wire_at_lumen_border: {fw} of {nw} wrong inside/outside calls flagged, {fr} of {nr} right ones");
    if bars == Bars::None {
        return;
    }
    assert!(sum.second_detection_rate >= 0.95, "second wire detected {:.3}", sum.second_detection_rate);
    assert!(sum.own_not_second_rate >= 0.97, "own wire kept apart {:.3}", sum.own_not_second_rate);
    assert!(sum.calcium_arc_err_median_deg <= 20.0, "calcium arc {:.1}", sum.calcium_arc_err_median_deg);
    assert!(sum.calcium_clean_rate >= 0.90, "calcium clean {:.3}", sum.calcium_clean_rate);
    if bars == Bars::WiresAndCalcium {
        return;
    }
    assert!(sum.frames >= 60);
    // Regression floor, NOT the bar (0.95): the wire positions are right (median
    // relative-angle error ≤ 5°); the misses are in-lumen wires next to the wall whose lumen
    // border, across their own shadow, is drawn in front of them (src/segment/, src/pipeline.rs).
    assert!(sum.inside_accuracy >= INSIDE_FLOOR, "inside/outside {:.3}", sum.inside_accuracy);
    // `wire_at_lumen_border` at least twice as frequent on the wrong calls as on the right ones.
    assert!(
        fw as f64 * nr as f64 >= 2.0 * fr as f64 * nw as f64 && (nw == 0 || fw > 0),
        "wire_at_lumen_border on {fw} of {nw} wrong, {fr} of {nr} right calls"
    );
    assert!(sum.relative_angle_err_median_deg <= 5.0, "angle {:.2}", sum.relative_angle_err_median_deg);
    assert!(sum.calcium_arc_err_median_deg <= 20.0, "calcium arc {:.1}", sum.calcium_arc_err_median_deg);
    assert!(sum.calcium_clean_rate >= 0.90, "calcium clean {:.3}", sum.calcium_clean_rate);
}

/// Prints the shadow runs of tuning frames: `PROBE=1108,1211 cargo test --release --test wires_calcium probe -- --ignored --nocapture`
#[test]
#[ignore]
fn probe_runs() {
    let seeds: Vec<u64> =
        std::env::var("PROBE").unwrap_or_default().split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let mut p = truelumen::Pipeline::new(PipelineConfig::default()).unwrap();
    for seed in seeds {
        let base = seed / 100 * 100;
        let spec = wire_sequence(base, (seed - base + 1) as usize).pop().unwrap();
        let ph = simulate(&spec).unwrap();
        let r = p.process(&ph.cart, Calibration::Cartesian { mm_per_px: ph.mm_per_px }, 0, "x").unwrap();
        let (n, ns) = p.last_polar().shape();
        let g = truelumen::PolarGeometry::new(n, ns, ph.mm_per_px).unwrap();
        let t = &ph.truth;
        println!(
            "seed {seed} cath {:.2}/{:.2} second {:?} calcium {:?}",
            r.catheter_radius_mm,
            t.catheter_radius_mm,
            t.guidewire.as_ref().map(|w| (w.angle_deg.round(), w.center_mm[0].hypot(w.center_mm[1]))),
            t.calcium.iter().map(|c| (c.start_deg.round(), c.end_deg.round(), c.depth_mm)).collect::<Vec<_>>()
        );
        for run in p.last_shadow_runs() {
            println!(
                "   {:?} {:.0}..{:.0} echo {:.2} wc {:.2} sd {:.2} prom {:.2}",
                run.kind,
                g.angle_deg_of_line(run.first_line as f64),
                g.angle_deg_of_line((run.first_line + run.n_lines) as f64),
                run.echo_depth_mm,
                run.wire_center_mm,
                run.shadow_depth,
                run.echo_prominence
            );
        }
    }
}

/// `--ivus-wire-deg`: a user-given own-wire angle is used by `frame` and `analyze`; NaN and
/// out-of-range values exit with code 4 naming the option; the CSV carries the new columns.
#[test]
fn cli_ivus_wire_option() {
    // Tuning seed 1107: own wire at ~150°, a second wire in the lumen.
    let spec = wire_sequence(1100, 8).pop().unwrap();
    let ph = simulate(&spec).unwrap();
    let own = ph.truth.ivus_wire.clone().unwrap();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("frames");
    std::fs::create_dir_all(&dir).unwrap();
    let frame = dir.join("f.png");
    ph.cart.to_gray_image().save(&frame).unwrap();
    let mm = format!("{}", ph.mm_per_px);
    let deg = format!("{:.1}", own.angle_deg);
    let r = common::run(&[&"frame", &frame, &"--mm-per-px", &mm, &"--ivus-wire-deg", &deg]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let got = v["ivus_wire"]["angle_deg"].as_f64().expect("own wire reported");
    assert!(truelumen::geometry::relative_angle_deg(own.angle_deg, got).abs() < 10.0, "{got} vs {}", own.angle_deg);
    let w = ph.truth.guidewire.clone().unwrap();
    let got = v["guidewire"]["angle_deg"].as_f64().expect("second wire reported");
    assert!(truelumen::geometry::relative_angle_deg(w.angle_deg, got).abs() < 10.0, "{got} vs {}", w.angle_deg);
    assert!(v["guidance"]["hint"].as_str().is_some_and(|h| !h.is_empty()), "{}", r.stdout);
    let out = t.path().join("out");
    let r = common::run(&[&"analyze", &dir, &"--out", &out, &"--mm-per-px", &mm, &"--no-overlays", &"-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = std::fs::read_to_string(out.join("measurements.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for col in ["ivus_wire_angle_deg", "calcium_arcs", "calcium_max_arc_deg", "guidance_hint"] {
        assert!(header.split(',').any(|c| c == col), "{header}");
    }
    for bad in ["NaN", "400", "-inf"] {
        let opt = format!("--ivus-wire-deg={bad}");
        for cmd in ["frame", "analyze"] {
            let r = if cmd == "frame" {
                common::run(&[&"frame", &frame, &"--mm-per-px", &mm, &opt])
            } else {
                common::run(&[&"analyze", &dir, &"--out", &out, &"--mm-per-px", &mm, &opt])
            };
            assert_eq!(r.code, 4, "{cmd} {bad}: {}", r.stderr);
            assert!(r.stderr.contains("ivus_wire_deg") && !r.stderr.contains("panicked"), "{}", r.stderr);
        }
    }
}
