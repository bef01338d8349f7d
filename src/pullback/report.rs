//! The pullback summary (`summary.json`, schema [`SUMMARY_SCHEMA_VERSION`]) and the
//! self-contained `report.html`.
//!
//! `summary.json` is a [`Summary`]: every field is always present (missing values are `null`),
//! names carry units, floats are rounded like `results.json`. Fields may be added in later
//! versions (with a version bump); existing ones are never renamed. [`REQUIRED_KEYS`] lists the
//! top-level keys a reader may rely on.
//!
//! `report.html` needs no network: images are PNGs embedded as base64 `data:` URIs, plots are
//! inline SVG drawn with plotters (text is SVG `<text>`, so no font files are needed).

use super::balloon::{BalloonRule, ReferenceChoice, SUGGESTION_NOTE, SizingBasis};
use super::gating::{self, GatingResult};
use super::jbtk::{self, Grade, JbtkItems, JbtkScore};
use super::lmode::LModeBuilder;
use super::series::{half_window_frames, hampel_outliers, running_median};
use super::{CALCIUM_SOURCE, FrameOrder, FrameRecord, PullbackConfig, Timing};
use crate::error::Error;
use crate::pipeline::{Calibration, polar_display_geometry};
use crate::plane::CartImage;
use crate::report::FrameResult;
use crate::scan::CartesianSampler;
use base64::Engine;
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// Version of the `summary.json` schema.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;
/// Name of the summary file in an output folder.
pub const SUMMARY_JSON: &str = "summary.json";
/// Name of the HTML report in an output folder.
pub const REPORT_HTML: &str = "report.html";
/// Top-level keys of `summary.json` (all always present).
pub const REQUIRED_KEYS: &[&str] = &[
    "schema",
    "schema_version",
    "generator",
    "n_frames",
    "timing",
    "frame_order",
    "smoothing",
    "outlier_frames",
    "gating",
    "frames_used",
    "lesion",
    "mla",
    "proximal_reference",
    "distal_reference",
    "rvd_mm",
    "rvd_definition",
    "balloon",
    "jbtk",
    "key_frames",
    "warnings",
];

/// Timing as used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingInfo {
    /// Frame rate, frames/s.
    pub fps: f64,
    /// Pullback speed, mm/s.
    pub pullback_mm_per_s: f64,
    /// Nominal frame spacing, mm.
    pub frame_spacing_mm: f64,
    /// Whether per-frame times were given.
    pub frame_times_given: bool,
    /// Position of the last frame, mm.
    pub length_mm: f64,
    /// Where the values came from.
    pub origin: String,
}

/// Smoothing as used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmoothingInfo {
    /// Whether the series were smoothed.
    pub enabled: bool,
    /// Window, frames (odd).
    pub window_frames: usize,
    /// Window, mm.
    pub window_mm: f64,
    /// Method in words.
    pub method: String,
}

/// Gating as used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatingInfo {
    /// Detected heart rate, beats/min.
    pub heart_rate_bpm: f64,
    /// Detected cardiac frequency, Hz.
    pub cardiac_frequency_hz: f64,
    /// Selected frames.
    pub frames: Vec<usize>,
    /// Spectral concentration of the beat (0–1).
    pub peak_power_fraction: f64,
    /// Method in words.
    pub method: String,
}

/// Measurements at one site (smoothed values when smoothing is on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Frame index.
    pub index: usize,
    /// Frame source.
    pub source: String,
    /// Position along the pullback, mm.
    pub position_mm: f64,
    /// Lumen area, mm².
    pub lumen_area_mm2: Option<f64>,
    /// Lumen mean diameter, mm.
    pub lumen_mean_diameter_mm: Option<f64>,
    /// Vessel (EEM) area, mm².
    pub vessel_area_mm2: Option<f64>,
    /// Vessel (EEM) mean diameter, mm.
    pub vessel_mean_diameter_mm: Option<f64>,
    /// Plaque burden.
    pub plaque_burden: Option<f64>,
}

/// The lesion (CTO) segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesion {
    /// First frame (in sequence order).
    pub first_frame: usize,
    /// Last frame (in sequence order).
    pub last_frame: usize,
    /// Frames in the lesion (used frames only).
    pub n_frames: usize,
    /// Position of the first frame, mm.
    pub start_mm: f64,
    /// Position of the last frame, mm.
    pub end_mm: f64,
    /// Length, mm.
    pub length_mm: f64,
    /// Frame of the proximal end (entry).
    pub entry_frame: usize,
    /// Largest calcium arc within the entry window, degrees.
    pub entry_calcium_arc_deg: Option<f64>,
    /// Whether the entry counts as calcified.
    pub entry_calcified: Option<bool>,
    /// Where the calcium figure comes from.
    pub calcium_source: String,
    /// Occluded frames in the lesion (no echolucent lumen).
    pub occluded_frames: usize,
    /// Frames with a second guidewire inside the lesion.
    pub frames_with_guidewire: usize,
    /// Frames inside the lesion in which the catheter was called `subintimal` (the true lumen
    /// beside it, not around it; per frame, no smoothing). Added 2026-11-29; absent in older
    /// documents (read as 0).
    #[serde(default)]
    pub subintimal_frames: usize,
    /// Other, shorter runs of lesion frames.
    pub other_runs: usize,
    /// The criterion in words.
    pub criterion: String,
}

/// One balloon size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalloonOption {
    /// Basis of the diameter.
    pub basis: SizingBasis,
    /// Diameter used, mm.
    pub diameter_mm: Option<f64>,
    /// Size, mm (`null` below the smallest size or without measurement).
    pub size_mm: Option<f64>,
}

/// The balloon suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalloonSuggestion {
    /// The rule.
    pub rule: BalloonRule,
    /// The rule in words.
    pub rule_text: String,
    /// Reference site(s) used: `proximal`, `distal` or both.
    pub reference_used: Vec<String>,
    /// The suggestion by the rule.
    pub suggested: BalloonOption,
    /// The other bases (lumen, mid-wall / vessel) with the same reference and rounding.
    pub alternatives: Vec<BalloonOption>,
    /// "suggestion for a clinician…".
    pub note: String,
}

/// One J-BTK item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JbtkItem {
    /// Item name.
    pub item: String,
    /// Points when present.
    pub points: u32,
    /// Present, absent or `null` (not given).
    pub present: Option<bool>,
    /// `analysis`, `user` or `not given`.
    pub source: String,
    /// The measurement behind it.
    pub detail: String,
}

/// The J-BTK score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JbtkReport {
    /// The five items.
    pub items: Vec<JbtkItem>,
    /// Points and grade range.
    pub score: JbtkScore,
    /// The grade when determined.
    pub grade: Option<Grade>,
    /// E.g. `B (3 points)` or `A–C (1–5 points; 2 items not given)`.
    pub text: String,
    /// Published guidewire success per grade in the range: `(grade, Tan 2021 %, Hayakawa 2023 %)`.
    pub published_success_pct: Vec<(Grade, f64, f64)>,
}

/// A key frame shown as a thumbnail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFrame {
    /// `mla`, `proximal_reference`, `distal_reference`, `lesion_entry`.
    pub role: String,
    /// Frame index.
    pub index: usize,
    /// Position, mm.
    pub position_mm: f64,
}

/// The `summary.json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Always `truelumen.pullback_summary`.
    pub schema: String,
    /// [`SUMMARY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Producer.
    pub generator: String,
    /// Frames analysed.
    pub n_frames: usize,
    /// Timing.
    pub timing: TimingInfo,
    /// Frame order along the vessel.
    pub frame_order: FrameOrder,
    /// Smoothing.
    pub smoothing: SmoothingInfo,
    /// Frames flagged as longitudinal outliers (lumen or vessel area).
    pub outlier_frames: Vec<usize>,
    /// Gating (`null` when off).
    pub gating: Option<GatingInfo>,
    /// Frames the summary is computed on.
    pub frames_used: usize,
    /// The lesion (`null` when none).
    pub lesion: Option<Lesion>,
    /// Minimum lumen area site.
    pub mla: Option<Site>,
    /// Proximal reference site.
    pub proximal_reference: Option<Site>,
    /// Distal reference site.
    pub distal_reference: Option<Site>,
    /// Reference vessel diameter, mm.
    pub rvd_mm: Option<f64>,
    /// RVD definition in words.
    pub rvd_definition: String,
    /// Balloon suggestion.
    pub balloon: BalloonSuggestion,
    /// J-BTK score.
    pub jbtk: JbtkReport,
    /// Key frames.
    pub key_frames: Vec<KeyFrame>,
    /// Things the reader must know.
    pub warnings: Vec<String>,
}

/// Series on the frames used (smoothed when enabled).
struct Series {
    frames: Vec<usize>,
    pos: Vec<f64>,
    la: Vec<f64>,
    ld: Vec<f64>,
    va: Vec<f64>,
    vd: Vec<f64>,
    pb: Vec<f64>,
    occluded: Vec<f64>,
}

fn fin(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Computes the summary from the records (see the module doc of [`super`] for the definitions).
///
/// # Errors
/// [`Error::InvalidParam`] when gating is asked for but not possible.
pub fn summarize(
    config: &PullbackConfig,
    timing: &Timing,
    records: &[FrameRecord],
    generator: &str,
) -> Result<Summary, Error> {
    let n = records.len();
    let mut warnings = Vec::new();
    let positions: Vec<f64> = (0..n).map(|i| timing.position_mm(i)).collect();
    if timing.frame_times_s.as_ref().is_some_and(|t| t.len() != n) {
        warnings.push("frame times given for a different number of frames: missing times follow the frame rate".into());
    }
    let gating = if config.gate {
        let d: Vec<f64> = records.iter().map(|r| r.dissimilarity).collect();
        let fps_eff = if let Some(t) = timing.frame_times_s.as_ref().filter(|t| t.len() >= 2) {
            (t.len() - 1) as f64 / (t[t.len() - 1] - t[0]).max(1e-9)
        } else {
            timing.fps
        };
        Some(gating::gate(&d, fps_eff)?)
    } else {
        None
    };
    let used: Vec<usize> = gating.as_ref().map_or_else(|| (0..n).collect(), |g: &GatingResult| g.frames.clone());
    let spacing = if used.len() >= 2 {
        (positions[used[used.len() - 1]] - positions[used[0]]) / (used.len() - 1) as f64
    } else {
        timing.frame_spacing_mm()
    };
    let half = half_window_frames(config.smooth_window_mm, spacing);
    // Occluded frames (no lumen) count as lumen area 0 and plaque burden 1.
    let raw = |f: &dyn Fn(&FrameRecord) -> f64| -> Vec<f64> { used.iter().map(|&i| f(&records[i])).collect() };
    let la_raw = raw(&|r| if r.lumen_found { r.lumen_area_mm2 } else { 0.0 });
    let ld_raw = raw(&|r| if r.lumen_found { r.lumen_mean_diameter_mm } else { 0.0 });
    let va_raw = raw(&|r| r.vessel_area_mm2);
    let vd_raw = raw(&|r| r.vessel_mean_diameter_mm);
    let pb_raw = raw(&|r| if r.lumen_found { r.plaque_burden } else { 1.0 });
    let max_contrast = config.occlusion_max_lumen_contrast;
    let occ_raw = raw(&|r| if !r.lumen_found || r.subintimal || r.lumen_contrast < max_contrast { 1.0 } else { 0.0 });
    let mut outliers: Vec<usize> = hampel_outliers(&la_raw, half, config.outlier_mads, 0.15)
        .into_iter()
        .chain(hampel_outliers(&va_raw, half, config.outlier_mads, 0.3))
        .map(|k| used[k])
        .collect();
    outliers.sort_unstable();
    outliers.dedup();
    let sm = |x: Vec<f64>| if config.smooth { running_median(&x, half) } else { x };
    let s = Series {
        pos: used.iter().map(|&i| positions[i]).collect(),
        la: sm(la_raw),
        ld: sm(ld_raw),
        va: sm(va_raw),
        vd: sm(vd_raw),
        pb: sm(pb_raw),
        occluded: sm(occ_raw),
        frames: used.clone(),
    };
    let m = s.frames.len();
    // Lesion runs.
    let is_lesion = |k: usize| {
        let pb = s.pb[k];
        let la = s.la[k];
        s.occluded[k] >= 0.5
            || (pb.is_finite() && pb >= config.lesion_min_plaque_burden)
            || (la.is_finite() && la < config.lesion_max_lumen_area_mm2)
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut k = 0;
    while k < m {
        if is_lesion(k) {
            let start = k;
            while k + 1 < m && is_lesion(k + 1) {
                k += 1;
            }
            runs.push((start, k));
        }
        k += 1;
    }
    let run_len = |&(a, b): &(usize, usize)| s.pos[b] - s.pos[a] + spacing;
    let best_run = runs.iter().copied().max_by(|x, y| run_len(x).total_cmp(&run_len(y)).then(y.0.cmp(&x.0)));
    let proximal_is_up = config.order == FrameOrder::DistalFirst;
    let site = |k: usize| -> Site {
        let r = &records[s.frames[k]];
        Site {
            index: s.frames[k],
            source: r.source.clone(),
            position_mm: s.pos[k],
            lumen_area_mm2: fin(s.la[k]),
            lumen_mean_diameter_mm: fin(s.ld[k]),
            vessel_area_mm2: fin(s.va[k]),
            vessel_mean_diameter_mm: fin(s.vd[k]),
            plaque_burden: fin(s.pb[k]),
        }
    };
    // MLA among frames with an echolucent (not occluded) lumen.
    let mla_k = (0..m)
        .filter(|&k| records[s.frames[k]].lumen_found && s.la[k].is_finite() && s.occluded[k] < 0.5)
        .min_by(|&a, &b| s.la[a].total_cmp(&s.la[b]).then(a.cmp(&b)));
    // References: largest lumen within the search distance outside [lo, hi] (or around the MLA).
    let (seg_lo, seg_hi) = match (best_run, mla_k) {
        (Some((a, b)), _) => (Some(a), Some(b)),
        (None, Some(k)) => (Some(k), Some(k)),
        _ => (None, None),
    };
    let largest = |range: Vec<usize>| {
        range
            .into_iter()
            .filter(|&k| s.la[k].is_finite() && !is_lesion(k))
            .max_by(|&a, &b| s.la[a].total_cmp(&s.la[b]).then(b.cmp(&a)))
    };
    let (below, above) = match (seg_lo, seg_hi) {
        (Some(a), Some(b)) => {
            let below: Vec<usize> =
                (0..a).filter(|&k| s.pos[a] - s.pos[k] <= config.reference_search_mm + 1e-9).collect();
            let above: Vec<usize> =
                (b + 1..m).filter(|&k| s.pos[k] - s.pos[b] <= config.reference_search_mm + 1e-9).collect();
            (largest(below), largest(above))
        }
        _ => (None, None),
    };
    let (prox_k, dist_k) = if proximal_is_up { (above, below) } else { (below, above) };
    let proximal_reference = prox_k.map(site);
    let distal_reference = dist_k.map(site);
    if proximal_reference.is_none() {
        warnings.push(format!("no proximal reference frame within {} mm of the lesion", config.reference_search_mm));
    }
    if distal_reference.is_none() {
        warnings.push(format!("no distal reference frame within {} mm of the lesion", config.reference_search_mm));
    }
    let ref_lumen: Vec<f64> = [&proximal_reference, &distal_reference]
        .iter()
        .filter_map(|r| r.as_ref().and_then(|r| r.lumen_mean_diameter_mm))
        .collect();
    let rvd_mm = (!ref_lumen.is_empty()).then(|| ref_lumen.iter().sum::<f64>() / ref_lumen.len() as f64);

    // Lesion.
    let lesion = best_run.map(|(a, b)| {
        let entry_k = if proximal_is_up { b } else { a };
        let in_window: Vec<usize> =
            (a..=b).filter(|&k| (s.pos[k] - s.pos[entry_k]).abs() <= config.entry_window_mm + 1e-9).collect();
        let arcs: Vec<f64> = in_window.iter().map(|&k| records[s.frames[k]].calcium_arc_deg).filter(|v| v.is_finite()).collect();
        let arc = arcs.iter().copied().fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))));
        Lesion {
            first_frame: s.frames[a],
            last_frame: s.frames[b],
            n_frames: b - a + 1,
            start_mm: s.pos[a],
            end_mm: s.pos[b],
            length_mm: run_len(&(a, b)),
            entry_frame: s.frames[entry_k],
            entry_calcium_arc_deg: arc,
            entry_calcified: arc.map(|v| v >= config.entry_calcium_min_arc_deg),
            calcium_source: CALCIUM_SOURCE.to_string(),
            occluded_frames: (a..=b).filter(|&k| s.occluded[k] >= 0.5).count(),
            frames_with_guidewire: (a..=b).filter(|&k| records[s.frames[k]].guidewire).count(),
            subintimal_frames: (a..=b).filter(|&k| records[s.frames[k]].subintimal).count(),
            other_runs: runs.len() - 1,
            criterion: format!(
                "contiguous frames that are occluded (no lumen found, catheter subintimal, or lumen contrast < {} speckle SDs: not echolucent), \
                 or have plaque burden >= {} or lumen area < {} mm2 (all smoothed); \
                 length = last - first position + one frame spacing ({:.3} mm)",
                config.occlusion_max_lumen_contrast, config.lesion_min_plaque_burden, config.lesion_max_lumen_area_mm2, spacing
            ),
        }
    });
    if lesion.is_none() {
        warnings.push("no lesion (occluded or high-plaque-burden segment) found".into());
    }

    // Balloon.
    let rule = &config.balloon;
    let refs: Vec<(&str, &Site)> = match rule.reference {
        ReferenceChoice::Distal => distal_reference
            .as_ref()
            .map(|r| ("distal", r))
            .or(proximal_reference.as_ref().map(|r| ("proximal", r)))
            .into_iter()
            .collect(),
        ReferenceChoice::Proximal => proximal_reference
            .as_ref()
            .map(|r| ("proximal", r))
            .or(distal_reference.as_ref().map(|r| ("distal", r)))
            .into_iter()
            .collect(),
        ReferenceChoice::Mean => [("proximal", &proximal_reference), ("distal", &distal_reference)]
            .into_iter()
            .filter_map(|(n, r)| r.as_ref().map(|r| (n, r)))
            .collect(),
    };
    let option = |basis: SizingBasis| {
        let ds: Vec<f64> = refs
            .iter()
            .filter_map(|(_, r)| basis.diameter_mm(r.lumen_mean_diameter_mm, r.vessel_mean_diameter_mm))
            .collect();
        let d = (!ds.is_empty() && ds.len() == refs.len()).then(|| ds.iter().sum::<f64>() / ds.len() as f64);
        BalloonOption { basis, diameter_mm: d, size_mm: rule.size_for(d) }
    };
    let balloon = BalloonSuggestion {
        rule: rule.clone(),
        rule_text: rule.describe(),
        reference_used: refs.iter().map(|(n, _)| (*n).to_string()).collect(),
        suggested: option(rule.basis),
        alternatives: SizingBasis::ALL.into_iter().filter(|b| *b != rule.basis).map(option).collect(),
        note: SUGGESTION_NOTE.to_string(),
    };

    // J-BTK.
    let rvd_item = rvd_mm.map(jbtk::rvd_item);
    let len_item = lesion.as_ref().map(|l| jbtk::length_item(l.length_mm));
    let calc_item = lesion.as_ref().and_then(|l| l.entry_calcified);
    let items = JbtkItems {
        blunt_stump: config.blunt_stump,
        entry_calcification: calc_item,
        rvd_below_2mm: rvd_item,
        length_over_200mm: len_item,
        no_outflow: config.no_outflow,
    };
    let user = |v: Option<bool>, yes: &str, no: &str| {
        (
            if v.is_some() { "user" } else { "not given" }.to_string(),
            match v {
                Some(true) => format!("given by the user ({yes})"),
                Some(false) => format!("given by the user ({no})"),
                None => format!("from angiography; pass {yes} or {no}"),
            },
        )
    };
    let details = [
        user(config.blunt_stump, "--blunt-stump", "--tapered-stump"),
        (
            if calc_item.is_some() { "analysis" } else { "not given" }.to_string(),
            lesion.as_ref().and_then(|l| l.entry_calcium_arc_deg).map_or("no lesion / calcium measure".into(), |a| {
                format!(
                    "largest calcium arc {a:.0}° within {} mm of the entry (calcified from {}°)",
                    config.entry_window_mm, config.entry_calcium_min_arc_deg
                )
            }),
        ),
        (
            if rvd_item.is_some() { "analysis" } else { "not given" }.to_string(),
            rvd_mm.map_or("no reference site".into(), |d| format!("RVD {d:.2} mm")),
        ),
        (
            if len_item.is_some() { "analysis" } else { "not given" }.to_string(),
            lesion.as_ref().map_or("no lesion found".into(), |l| format!("CTO length {:.1} mm", l.length_mm)),
        ),
        user(config.no_outflow, "--no-outflow", "--outflow"),
    ];
    let score = jbtk::score(&items);
    let jbtk = JbtkReport {
        items: jbtk::item_table(&items)
            .into_iter()
            .zip(details)
            .map(|((item, points, present), (source, detail))| JbtkItem {
                item: item.into(),
                points,
                present,
                source,
                detail,
            })
            .collect(),
        score,
        grade: score.grade(),
        text: score.describe(),
        published_success_pct: [Grade::A, Grade::B, Grade::C, Grade::D]
            .into_iter()
            .filter(|g| *g >= score.grade_min && *g <= score.grade_max)
            .map(|g| {
                let (t, h) = g.published_success_pct();
                (g, t, h)
            })
            .collect(),
    };

    let mut key_frames = Vec::new();
    let mut add_key = |role: &str, k: Option<usize>| {
        if let Some(k) = k {
            key_frames.push(KeyFrame { role: role.into(), index: s.frames[k], position_mm: s.pos[k] });
        }
    };
    add_key("mla", mla_k);
    add_key("proximal_reference", prox_k);
    add_key("distal_reference", dist_k);
    let entry_k = lesion.as_ref().and_then(|l| s.frames.iter().position(|&f| f == l.entry_frame));
    add_key("lesion_entry", entry_k);

    let smoothing = SmoothingInfo {
        enabled: config.smooth,
        window_frames: 2 * half + 1,
        window_mm: config.smooth_window_mm,
        method: "running median over the window (keeps edges and any change lasting half a window); \
                 Hampel outliers at the same window"
            .into(),
    };
    Ok(Summary {
        schema: "truelumen.pullback_summary".into(),
        schema_version: SUMMARY_SCHEMA_VERSION,
        generator: generator.into(),
        n_frames: n,
        timing: TimingInfo {
            fps: timing.fps,
            pullback_mm_per_s: timing.pullback_mm_per_s,
            frame_spacing_mm: timing.frame_spacing_mm(),
            frame_times_given: timing.frame_times_s.is_some(),
            length_mm: positions.last().copied().unwrap_or(0.0),
            origin: timing.origin.clone(),
        },
        frame_order: config.order,
        smoothing,
        outlier_frames: outliers,
        gating: gating.map(|g| GatingInfo {
            heart_rate_bpm: g.heart_rate_bpm,
            cardiac_frequency_hz: g.cardiac_frequency_hz,
            frames: g.frames,
            peak_power_fraction: g.peak_power_fraction,
            method: "frame-to-frame block-mean dissimilarity, FFT harmonic sum in 0.75-3 Hz, stillest frame before each systolic peak".into(),
        }),
        frames_used: m,
        lesion,
        mla: mla_k.map(site),
        proximal_reference,
        distal_reference,
        rvd_mm,
        rvd_definition: "mean of the proximal and distal reference lumen mean diameters (the one available if only one)".into(),
        balloon,
        jbtk,
        key_frames,
        warnings,
    })
}

/// A key frame's overlay, at most 240 px wide, as PNG bytes.
///
/// # Errors
/// As [`CartesianSampler::new`] for polar input.
pub fn thumbnail(image: &CartImage, result: &FrameResult, calib: &Calibration) -> Result<Vec<u8>, Error> {
    let rendered;
    let cart = match calib {
        Calibration::Cartesian { .. } => image,
        Calibration::Polar(g) => {
            let (side, d) = polar_display_geometry(g);
            let s = CartesianSampler::new(*g, side, side, d.center_col, d.center_row, d.mm_per_px)?;
            let mut dst = CartImage::default();
            s.convert_into(image, 0.0, &mut dst)?;
            rendered = dst;
            &rendered
        }
    };
    let over = crate::overlay::render_overlay(cart, result);
    let w = over.width().min(240);
    let h = (over.height() as u64 * w as u64 / over.width().max(1) as u64).max(1) as u32;
    let small = if w == over.width() {
        over
    } else {
        image::imageops::resize(&over, w, h, image::imageops::FilterType::Triangle)
    };
    png_bytes(&small)
}

fn png_bytes(img: &RgbImage) -> Result<Vec<u8>, Error> {
    use image::ImageEncoder;
    let mut buf = Vec::new();
    image::codecs::png::PngEncoder::new(&mut buf)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Format { path: "<png>".into(), reason: e.to_string() })?;
    Ok(buf)
}

/// Everything needed to write `summary.json` and `report.html`.
#[derive(Debug)]
pub struct PullbackReport {
    /// The summary.
    pub summary: Summary,
    /// PNG thumbnails of `summary.key_frames`, same order.
    pub thumbnails: Vec<Vec<u8>>,
    /// The longitudinal view.
    pub lmode: LModeBuilder,
    /// Per-frame records.
    pub records: Vec<FrameRecord>,
    /// Position of every frame, mm.
    pub positions_mm: Vec<f64>,
}

impl PullbackReport {
    /// Writes `summary.json` and `report.html` into `dir` (atomically).
    ///
    /// # Errors
    /// [`Error::Write`] naming the file.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        use std::io::Write;
        let json = crate::output::to_json_string(&self.summary, true)?;
        crate::output::write_atomic(&dir.join(SUMMARY_JSON), |f| {
            f.write_all(json.as_bytes())
                .and_then(|_| f.write_all(b"\n"))
                .map_err(|e| Error::Format { path: "<output>".into(), reason: e.to_string() })
        })?;
        let html = self.html()?;
        crate::output::write_atomic(&dir.join(REPORT_HTML), |f| {
            f.write_all(html.as_bytes()).map_err(|e| Error::Format { path: "<output>".into(), reason: e.to_string() })
        })
    }

    /// The report as one HTML document.
    ///
    /// # Errors
    /// [`Error::Format`] if an image cannot be encoded.
    pub fn html(&self) -> Result<String, Error> {
        super::html::render(self)
    }
}

/// `data:image/png;base64,…` of PNG bytes.
pub fn data_uri_png(png: &[u8]) -> String {
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// The L-mode PNG with the key sites marked.
pub(crate) fn lmode_png(r: &PullbackReport) -> Result<Vec<u8>, Error> {
    let marks: Vec<(usize, Rgb<u8>)> = r.summary.key_frames.iter().map(|k| (k.index, role_color(&k.role))).collect();
    let img = r.lmode.render(1200, &marks);
    // Display size: at least 960 columns (short pullbacks: columns repeated), depth ×2.
    let width = img.width().max(960);
    let img = image::imageops::resize(&img, width, img.height() * 2, image::imageops::FilterType::Nearest);
    png_bytes(&img)
}

/// Marker colour of a key-frame role.
pub(crate) fn role_color(role: &str) -> Rgb<u8> {
    match role {
        "mla" => Rgb([230, 30, 30]),
        "proximal_reference" => Rgb([40, 170, 40]),
        "distal_reference" => Rgb([40, 90, 230]),
        _ => Rgb([200, 0, 200]),
    }
}

/// Writes `f64` with `d` decimals, or `—`.
pub(crate) fn fmt_opt(v: Option<f64>, d: usize) -> String {
    v.filter(|x| x.is_finite()).map_or("—".to_string(), |x| format!("{x:.d$}"))
}

/// Appends one table row.
pub(crate) fn row(out: &mut String, k: &str, v: &str) {
    let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
}
