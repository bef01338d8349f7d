//! Accuracy of the whole pipeline against exact phantom ground truth, asserted as bars.
//!
//! # What is measured
//! Every frame goes through [`process_batch`] with [`PipelineConfig::default`] and is scored
//! with `truelumen::eval` against the simulator's [`Truth`]; the figures are the [`Summary`] of
//! those scores (`truelumen evaluate` prints the same table):
//! lumen and vessel (EEM) Jaccard (mean over frames; a missing contour counts as 0), Hausdorff
//! distance (mean over frames with a contour, mm), mean |error| of the mean diameter (mm), second
//! guidewire detection rate (found within 0.5 mm of the true centre, over frames with a wire),
//! false wire reports (a wire reported where there is none or > 0.5 mm from the true one, over
//! all frames), median error of the signed wire angle relative to the lumen centroid (degrees,
//! over found wires) and inside/outside-the-true-lumen agreement (over found wires).
//!
//! Cartesian results are relative to the catheter centre the pipeline *detected*; they are moved
//! into the truth's frame (the true catheter centre) with [`score_against_truth`] before scoring,
//! so a centre error costs only what it costs the angles, not the contour positions twice.
//! Results of polar input need no shift: the catheter is polar sample 0, and results are
//! expressed catheter-centred in mm in the display frame of [`polar_display_geometry`], exactly
//! like the truth (checked by the numbers in `polar_input_meets_accuracy_bars`).
//!
//! # On which data
//! 1. `fixtures_meet_accuracy_bars`: the 30 committed frames `fixtures/phantom/` (seeds 1–30,
//!    512x512 px over 10 mm, read from the PNGs with `truelumen::io::read_image`, calibration
//!    from `calibration.json`, truth from `truth/*.json`).
//! 2. `held_out_phantoms_meet_accuracy_bars`: 40 frames simulated in the test from
//!    `PhantomSpec::random(seed)` for seeds 5000..5040, *unmodified*: image sides 256–1024 px,
//!    fields of view 8–12 mm, 256 or 512 A-lines, all as drawn. Cartesian input.
//! 3. `polar_input_meets_accuracy_bars`: 16 frames from seeds 6000..6016, fed as the polar frames
//!    the simulator rendered (`Calibration::Polar(phantom.polar_geom)`).
//!
//! Seeds 1–30 are the committed test set and seeds ≥ 5000 are held out (fixtures/README.md):
//! none of them is ever used to choose or tune parameters (tuning uses seeds 1000–4999). Do not
//! tune on what these tests print.
//!
//! Each test prints the summary table and, for the simulated sets, a breakdown by subgroup
//! (patent / occluded lumen, 256 / 512 A-lines of the acquisition, with / without calcium); run
//! `cargo test --release --test accuracy -- --nocapture` to see them. Each also writes a one-line
//! summary to stderr.
//!
//! # Thresholds
//! One constant per metric, shared by the three sets (held-out and polar use the *same* bars as
//! the fixtures). The product targets (issue #2) are: lumen and vessel Jaccard ≥ 0.90 (mean),
//! Hausdorff ≤ 0.25 mm (mean), wire detected in ≥ 95 % of frames with ≤ 3 % false reports,
//! median relative-angle error ≤ 5°, inside/outside ≥ 95 %, mean-diameter error ≤ 0.1 mm. Where
//! the pipeline meets a target on all three sets the constant *is* the target. Where it does not
//! yet, the constant is a regression floor just beyond the worst of the three achieved figures
//! (noted on the constant with the date and the achieved values), so that the tests catch a
//! regression while tuning continues; raise it towards the target as the pipeline improves.
//! Frame counts are small (30 / 40 / 16 frames, 25 / 25 / 8 with a wire), so rates move in steps
//! of 2.5–12.5 %; a rate floor sits just below the achieved rate, so one more miss fails.
//! A figure that cannot be computed (NaN, e.g. no wire found at all) fails its bar.
//!
//! Runtime: ~15 s in release on 2 shared cores (simulation ~0.1 s per frame; frames are
//! simulated and analysed in parallel with rayon).

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use truelumen::eval::{FrameScore, Reference, Summary, load_truth, score_against_truth, score_frame, summarize};
use truelumen::pipeline::{BatchFrame, polar_display_geometry, process_batch};
use truelumen::report::FrameResult;
use truelumen::sim::{PhantomSpec, Truth, simulate};
use truelumen::{Calibration, PipelineConfig};

// TARGET 0.90 (issue #2); floor set at 0.86 on 2026-11-27 because achieved 0.879 (fixtures),
// 0.906 (held-out), 0.899 (polar).
/// Mean lumen Jaccard, at least.
const LUMEN_JACCARD_MIN: f64 = 0.86;
// TARGET 0.90 (issue #2), met: 0.926 / 0.943 / 0.939 on 2026-11-27.
/// Mean vessel (EEM) Jaccard, at least.
const VESSEL_JACCARD_MIN: f64 = 0.90;
// TARGET 0.25 mm (issue #2), met but barely: 0.248 (fixtures) / 0.169 / 0.131 on 2026-11-27.
/// Mean lumen Hausdorff distance, mm, at most.
const LUMEN_HAUSDORFF_MAX_MM: f64 = 0.25;
// TARGET 0.25 mm (issue #2), met: 0.198 / 0.143 / 0.155 on 2026-11-27.
/// Mean vessel Hausdorff distance, mm, at most.
const VESSEL_HAUSDORFF_MAX_MM: f64 = 0.25;
// TARGET 0.95 (issue #2), met: 96.0 % (24/25) / 96.0 % (24/25) / 100 % (8/8) on 2026-11-27.
/// Fraction of frames with a wire where it is found within 0.5 mm, at least.
const WIRE_DETECTION_MIN: f64 = 0.95;
// TARGET 0.03 (issue #2); floor set at 0.08 on 2026-11-27 because achieved 3.3 % (1/30,
// fixtures), 7.5 % (3/40, held-out), 0 % (0/16, polar).
/// Fraction of frames with a false wire report, at most.
const WIRE_FALSE_MAX: f64 = 0.08;
// TARGET 5° (issue #2), met: 2.95° / 3.57° / 1.17° on 2026-11-27.
/// Median error of the wire angle relative to the lumen centroid, degrees, at most.
const REL_ANGLE_MEDIAN_MAX_DEG: f64 = 5.0;
// TARGET 0.95 (issue #2); floor set at 0.90 on 2026-11-27 because achieved 95.8 % (fixtures),
// 91.7 % (22/24, held-out), 100 % (polar).
/// Fraction of found wires with the right inside/outside-the-true-lumen call, at least.
const INSIDE_ACCURACY_MIN: f64 = 0.90;
// TARGET 0.1 mm (issue #2); floor set at 0.14 mm on 2026-11-27 because achieved lumen 0.132 /
// vessel 0.118 mm (fixtures), 0.087 / 0.079 (held-out), 0.092 / 0.078 (polar).
/// Mean |error| of the lumen and of the vessel mean diameter, mm, at most (each).
const MEAN_DIAMETER_ERR_MAX_MM: f64 = 0.14;

/// Held-out seeds (never used for tuning).
const HELD_OUT_SEEDS: std::ops::Range<u64> = 5000..5040;
/// Held-out seeds of the polar-input set (never used for tuning).
const POLAR_SEEDS: std::ops::Range<u64> = 6000..6016;

/// One scored frame and the subgroups it belongs to.
struct Scored {
    score: FrameScore,
    occluded: bool,
    n_lines: usize,
    calcium: bool,
}

/// The bars the summary misses, one line each (empty = all met). NaN figures fail.
fn failures(s: &Summary) -> Vec<String> {
    let mut f = Vec::new();
    let mut min = |name: &str, got: f64, bar: f64| {
        if !(got >= bar) {
            f.push(format!("{name} = {got:.4} < {bar}"));
        }
    };
    min("lumen Jaccard", s.lumen_jaccard_mean, LUMEN_JACCARD_MIN);
    min("vessel Jaccard", s.vessel_jaccard_mean, VESSEL_JACCARD_MIN);
    min("wire detection rate", s.wire_detection_rate, WIRE_DETECTION_MIN);
    min("inside/outside accuracy", s.inside_accuracy, INSIDE_ACCURACY_MIN);
    let mut max = |name: &str, got: f64, bar: f64| {
        if !(got <= bar) {
            f.push(format!("{name} = {got:.4} > {bar}"));
        }
    };
    max("lumen Hausdorff (mm)", s.lumen_hausdorff_mean_mm, LUMEN_HAUSDORFF_MAX_MM);
    max("vessel Hausdorff (mm)", s.vessel_hausdorff_mean_mm, VESSEL_HAUSDORFF_MAX_MM);
    max("wire false reports", s.wire_false_rate, WIRE_FALSE_MAX);
    max("rel. angle err median (deg)", s.relative_angle_err_median_deg, REL_ANGLE_MEDIAN_MAX_DEG);
    max("lumen mean-diameter |err| (mm)", s.lumen_mean_diameter_abs_err_mm, MEAN_DIAMETER_ERR_MAX_MM);
    max("vessel mean-diameter |err| (mm)", s.vessel_mean_diameter_abs_err_mm, MEAN_DIAMETER_ERR_MAX_MM);
    f
}

/// One row of the subgroup table.
fn group_row(name: &str, scores: &[FrameScore]) -> String {
    if scores.is_empty() {
        return format!("{name:<12} {:>3}", 0);
    }
    let s = summarize(scores);
    let pct = |v: f64| if v.is_nan() { "    -".to_string() } else { format!("{:5.1}", 100.0 * v) };
    let num = |v: f64, w: usize, p: usize| if v.is_nan() { format!("{:>w$}", "-") } else { format!("{v:w$.p$}") };
    format!(
        "{name:<12} {:>3}  {}  {}  {}  {}  {}  {}  {:>4}  {}  {}  {}  {}",
        s.frames,
        num(s.lumen_jaccard_mean, 6, 4),
        num(s.vessel_jaccard_mean, 6, 4),
        num(s.lumen_hausdorff_mean_mm, 6, 3),
        num(s.vessel_hausdorff_mean_mm, 6, 3),
        num(s.lumen_mean_diameter_abs_err_mm, 6, 3),
        num(s.vessel_mean_diameter_abs_err_mm, 6, 3),
        s.wire_frames,
        pct(s.wire_detection_rate),
        pct(s.wire_false_rate),
        num(s.relative_angle_err_median_deg, 6, 2),
        pct(s.inside_accuracy),
    )
}

/// Breakdown by subgroup: patent / occluded, 256 / 512 A-lines, without / with calcium.
fn breakdown(frames: &[Scored]) -> String {
    let pick = |f: &dyn Fn(&Scored) -> bool| frames.iter().filter(|s| f(s)).map(|s| s.score).collect::<Vec<_>>();
    let mut t = format!(
        "{:<12} {:>3}  {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {:>4}  {:>5}  {:>5}  {:>6}  {:>5}\n",
        "subgroup", "n", "lum_J", "ves_J", "lumHD", "vesHD", "lumDe", "vesDe", "wire", "det%", "fal%", "angle", "in%"
    );
    let groups: [(&str, &dyn Fn(&Scored) -> bool); 7] = [
        ("all", &|_| true),
        ("patent", &|s| !s.occluded),
        ("occluded", &|s| s.occluded),
        ("256 lines", &|s| s.n_lines == 256),
        ("512 lines", &|s| s.n_lines == 512),
        ("no calcium", &|s| !s.calcium),
        ("calcium", &|s| s.calcium),
    ];
    for (name, f) in groups {
        t.push_str(&group_row(name, &pick(f)));
        t.push('\n');
    }
    t
}

/// Prints the figures, writes the one-line summary to stderr and asserts the bars.
fn report_and_assert(set: &str, frames: &[Scored], with_breakdown: bool) {
    let scores: Vec<FrameScore> = frames.iter().map(|s| s.score).collect();
    let s = summarize(&scores);
    println!("\n=== accuracy: {set} ===\n{s}");
    if with_breakdown {
        println!("\n{}", breakdown(frames));
    }
    eprintln!(
        "accuracy {set}: {} frames, lumen J {:.3} HD {:.3} mm, vessel J {:.3} HD {:.3} mm, \
         diam err {:.3}/{:.3} mm, wire det {:.0}% false {:.0}% angle {:.1}° inside {:.0}%",
        s.frames,
        s.lumen_jaccard_mean,
        s.lumen_hausdorff_mean_mm,
        s.vessel_jaccard_mean,
        s.vessel_hausdorff_mean_mm,
        s.lumen_mean_diameter_abs_err_mm,
        s.vessel_mean_diameter_abs_err_mm,
        100.0 * s.wire_detection_rate,
        100.0 * s.wire_false_rate,
        s.relative_angle_err_median_deg,
        100.0 * s.inside_accuracy
    );
    let missed = failures(&s);
    assert!(missed.is_empty(), "{set}: accuracy bars missed:\n  {}\n\n{s}", missed.join("\n  "));
}

fn scored(score: FrameScore, t: &Truth) -> Scored {
    Scored { score, occluded: t.occluded, n_lines: t.polar_geometry.n_lines, calcium: !t.calcium.is_empty() }
}

/// Runs the batch and returns each frame's result, failing on any per-frame error.
fn run(frames: &[BatchFrame]) -> Vec<FrameResult> {
    process_batch(&PipelineConfig::default(), frames)
        .expect("default config is valid")
        .into_iter()
        .zip(frames)
        .map(|(r, f)| r.unwrap_or_else(|e| panic!("{}: {e}", f.source)))
        .collect()
}

/// Simulates `PhantomSpec::random(seed)` (unmodified) for every seed, in parallel.
fn simulate_seeds(seeds: std::ops::Range<u64>) -> Vec<truelumen::sim::Phantom> {
    seeds
        .collect::<Vec<_>>()
        .par_iter()
        .map(|&seed| simulate(&PhantomSpec::random(seed)).unwrap_or_else(|e| panic!("seed {seed}: {e}")))
        .collect()
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/phantom")
}

#[test]
fn fixtures_meet_accuracy_bars() {
    let dir = fixtures_dir();
    let mm_per_px = truelumen::io::Sidecar::load_from_dir(&dir)
        .unwrap()
        .and_then(|s| s.mm_per_px)
        .expect("fixtures/phantom/calibration.json gives mm_per_px");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("frame_") && n.ends_with(".png"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 30, "fixtures/phantom should hold 30 frames");
    let loaded: Vec<(BatchFrame, Truth)> = names
        .par_iter()
        .enumerate()
        .map(|(index, name)| {
            let image = truelumen::io::read_image(&dir.join(name)).unwrap();
            let stem = Path::new(name).file_stem().unwrap();
            let truth = load_truth(&dir.join("truth").join(stem).with_extension("json")).unwrap();
            (BatchFrame { image, calib: Calibration::Cartesian { mm_per_px }, index, source: name.clone() }, truth)
        })
        .collect();
    let (frames, truths): (Vec<BatchFrame>, Vec<Truth>) = loaded.into_iter().unzip();
    let results = run(&frames);
    let scores: Vec<Scored> = results
        .iter()
        .zip(&truths)
        .map(|(r, t)| scored(score_against_truth(r, t).unwrap_or_else(|e| panic!("{}: {e}", r.source)), t))
        .collect();
    report_and_assert("fixtures/phantom (seeds 1-30, Cartesian 512 px)", &scores, true);
}

#[test]
fn held_out_phantoms_meet_accuracy_bars() {
    let phantoms = simulate_seeds(HELD_OUT_SEEDS);
    let sides: Vec<usize> = phantoms.iter().map(|p| p.truth.image_size_px[0]).collect();
    assert!(sides.contains(&256) && sides.iter().any(|&s| s > 512), "sizes should vary: {sides:?}");
    let frames: Vec<BatchFrame> = phantoms
        .iter()
        .enumerate()
        .map(|(index, p)| BatchFrame {
            image: p.cart.clone(),
            calib: Calibration::Cartesian { mm_per_px: p.mm_per_px },
            index,
            source: format!("seed {}", p.truth.spec.seed),
        })
        .collect();
    let results = run(&frames);
    let scores: Vec<Scored> = results
        .iter()
        .zip(&phantoms)
        .map(|(r, p)| scored(score_against_truth(r, &p.truth).unwrap_or_else(|e| panic!("{}: {e}", r.source)), &p.truth))
        .collect();
    report_and_assert("held-out seeds 5000-5039 (Cartesian, 256-1024 px, FOV 8-12 mm)", &scores, true);
}

#[test]
fn polar_input_meets_accuracy_bars() {
    let phantoms = simulate_seeds(POLAR_SEEDS);
    let frames: Vec<BatchFrame> = phantoms
        .iter()
        .enumerate()
        .map(|(index, p)| BatchFrame {
            image: p.polar.clone(),
            calib: Calibration::Polar(p.polar_geom),
            index,
            source: format!("seed {}", p.truth.spec.seed),
        })
        .collect();
    let results = run(&frames);
    // Polar results are reported in the display frame of `polar_display_geometry`: catheter at
    // its centre, so the contours are catheter-centred mm like the truth and need no shift.
    let mut centroid_err = Vec::new();
    for (r, p) in results.iter().zip(&phantoms) {
        let (_, g) = polar_display_geometry(&p.polar_geom);
        assert!((r.mm_per_px - g.mm_per_px).abs() < 1e-12, "{}: mm_per_px {} vs {}", r.source, r.mm_per_px, g.mm_per_px);
        assert!(
            (r.center_px[0] - g.center_col).abs() < 1e-3 && (r.center_px[1] - g.center_row).abs() < 1e-3,
            "{}: centre {:?}",
            r.source,
            r.center_px
        );
        if let Some(l) = &r.lumen {
            let t = p.truth.lumen_centroid_mm;
            centroid_err.push((l.centroid_mm[0] - t[0]).hypot(l.centroid_mm[1] - t[1]));
        }
    }
    // By the numbers: the unshifted lumen centroids coincide with the truth's (a frame or
    // orientation mismatch would put them ~1 mm apart).
    centroid_err.sort_by(f64::total_cmp);
    let med = centroid_err.get(centroid_err.len() / 2).copied().unwrap_or(f64::NAN);
    println!("\npolar: median |lumen centroid - truth| without any shift = {med:.4} mm over {} frames", centroid_err.len());
    assert!(med < 0.1, "polar results are not in the truth's catheter-centred frame: median centroid error {med} mm");
    let scores: Vec<Scored> =
        results.iter().zip(&phantoms).map(|(r, p)| scored(score_frame(r, &Reference::from(&p.truth)), &p.truth)).collect();
    report_and_assert("held-out seeds 6000-6015 (polar input)", &scores, true);
}
