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
//! The fixtures are held to the product targets of issue #2 exactly ([`TARGETS`]): lumen and
//! vessel Jaccard ≥ 0.90 (mean), Hausdorff ≤ 0.25 mm (mean), wire detected in ≥ 95 % of frames
//! with ≤ 3 % false reports, median relative-angle error ≤ 5°, inside/outside ≥ 95 %,
//! mean-diameter error ≤ 0.1 mm. The held-out sets use the same bars (since 2026-11-28; the
//! regression floors they had before are documented on [`HELD_OUT_BARS`]).
//! Frame counts are small (30 / 40 / 16 frames, 25 / 25 / 8 with a wire), so rates move in steps
//! of 2.5–12.5 %. A figure that cannot be computed (NaN, e.g. no wire found at all) fails.
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

/// Accuracy bars: minimums for rates and Jaccard, maximums for distances and errors.
#[derive(Debug, Clone, Copy)]
struct Bars {
    /// Mean lumen Jaccard, at least.
    lumen_jaccard_min: f64,
    /// Mean vessel (EEM) Jaccard, at least.
    vessel_jaccard_min: f64,
    /// Mean lumen Hausdorff distance, mm, at most.
    lumen_hausdorff_max_mm: f64,
    /// Mean vessel Hausdorff distance, mm, at most.
    vessel_hausdorff_max_mm: f64,
    /// Fraction of frames with a wire where it is found within 0.5 mm, at least.
    wire_detection_min: f64,
    /// Fraction of frames with a false wire report, at most.
    wire_false_max: f64,
    /// Median error of the wire angle relative to the lumen centroid, degrees, at most.
    rel_angle_median_max_deg: f64,
    /// Fraction of found wires with the right inside/outside call, at least.
    inside_accuracy_min: f64,
    /// Mean |error| of the lumen mean diameter, mm, at most.
    lumen_diameter_err_max_mm: f64,
    /// Mean |error| of the vessel mean diameter, mm, at most.
    vessel_diameter_err_max_mm: f64,
}

/// The product targets of issue #2, asserted as they are on the committed fixtures (all met on
/// 2026-11-27: lumen J 0.905, vessel J 0.937, Hausdorff 0.193 / 0.175 mm, diameter errors
/// 0.073 / 0.093 mm, wire 96 % found, 0 % false, angle 2.1°, inside/outside 100 %).
const TARGETS: Bars = Bars {
    lumen_jaccard_min: 0.90,
    vessel_jaccard_min: 0.90,
    lumen_hausdorff_max_mm: 0.25,
    vessel_hausdorff_max_mm: 0.25,
    wire_detection_min: 0.95,
    wire_false_max: 0.03,
    rel_angle_median_max_deg: 5.0,
    inside_accuracy_min: 0.95,
    lumen_diameter_err_max_mm: 0.10,
    vessel_diameter_err_max_mm: 0.10,
};

/// Bars for the held-out sets (never tuned on): the targets.
///
/// Until 2026-11-28 lumen Jaccard had a regression floor of 0.88 (target 0.90; achieved 0.920
/// held-out, 0.898 polar). The border search's layer check and the half-power lumen border
/// (`truelumen::segment`, `segment::refine::Border::Lumen`) raised it to 0.929 held-out,
/// 0.925 polar, so the target holds. The vessel diameter error had a floor of 0.13 mm (0.123
/// achieved) until the EEM sub-sample step (2026-11-27): now 0.021 held-out, 0.020 polar.
const HELD_OUT_BARS: Bars = TARGETS;

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

/// The bars the summary misses, one line each (empty = all met). NaN figures fail (hence the
/// negated comparisons).
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn failures(s: &Summary, bars: &Bars) -> Vec<String> {
    let mut f = Vec::new();
    let mut min = |name: &str, got: f64, bar: f64| {
        if !(got >= bar) {
            f.push(format!("{name} = {got:.4} < {bar}"));
        }
    };
    min("lumen Jaccard", s.lumen_jaccard_mean, bars.lumen_jaccard_min);
    min("vessel Jaccard", s.vessel_jaccard_mean, bars.vessel_jaccard_min);
    min("wire detection rate", s.wire_detection_rate, bars.wire_detection_min);
    min("inside/outside accuracy", s.inside_accuracy, bars.inside_accuracy_min);
    let mut max = |name: &str, got: f64, bar: f64| {
        if !(got <= bar) {
            f.push(format!("{name} = {got:.4} > {bar}"));
        }
    };
    max("lumen Hausdorff (mm)", s.lumen_hausdorff_mean_mm, bars.lumen_hausdorff_max_mm);
    max("vessel Hausdorff (mm)", s.vessel_hausdorff_mean_mm, bars.vessel_hausdorff_max_mm);
    max("wire false reports", s.wire_false_rate, bars.wire_false_max);
    max("rel. angle err median (deg)", s.relative_angle_err_median_deg, bars.rel_angle_median_max_deg);
    max("lumen mean-diameter |err| (mm)", s.lumen_mean_diameter_abs_err_mm, bars.lumen_diameter_err_max_mm);
    max("vessel mean-diameter |err| (mm)", s.vessel_mean_diameter_abs_err_mm, bars.vessel_diameter_err_max_mm);
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
    type Keep<'a> = &'a dyn Fn(&Scored) -> bool;
    let groups: [(&str, Keep); 7] = [
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
fn report_and_assert(set: &str, frames: &[Scored], with_breakdown: bool, bars: &Bars) {
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
    let missed = failures(&s, bars);
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
    report_and_assert("fixtures/phantom (seeds 1-30, Cartesian 512 px)", &scores, true, &TARGETS);
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
        .map(|(r, p)| {
            scored(score_against_truth(r, &p.truth).unwrap_or_else(|e| panic!("{}: {e}", r.source)), &p.truth)
        })
        .collect();
    report_and_assert("held-out seeds 5000-5039 (Cartesian, 256-1024 px, FOV 8-12 mm)", &scores, true, &HELD_OUT_BARS);
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
        assert!(
            (r.mm_per_px - g.mm_per_px).abs() < 1e-12,
            "{}: mm_per_px {} vs {}",
            r.source,
            r.mm_per_px,
            g.mm_per_px
        );
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
    println!(
        "\npolar: median |lumen centroid - truth| without any shift = {med:.4} mm over {} frames",
        centroid_err.len()
    );
    assert!(med < 0.1, "polar results are not in the truth's catheter-centred frame: median centroid error {med} mm");
    let scores: Vec<Scored> = results
        .iter()
        .zip(&phantoms)
        .map(|(r, p)| scored(score_frame(r, &Reference::from(&p.truth)), &p.truth))
        .collect();
    report_and_assert("held-out seeds 6000-6015 (polar input)", &scores, true, &HELD_OUT_BARS);
}
