//! Accuracy of frame results against ground truth: per-frame scores and a summary table.
//!
//! Used by the test suite on phantom frames and by `truelumen evaluate` for any data set that
//! comes with reference contours. Measures follow [`crate::metrics`]; wire figures are
//! detection rate, false detections, angle error of the signed relative angle, and
//! inside/outside agreement.
//!
//! Phantom truth ([`Truth`]) is scored with [`score_against_truth`], which first moves the result
//! into the truth's millimetre frame ([`shift_to_truth_center`]); [`evaluate_truth_dir`] does
//! that for a whole `results.json` against a folder of `truth/<stem>.json` files.

use crate::contour::Contour;
use crate::error::Error;
use crate::geometry::wrap_rel_deg;
use crate::metrics::{area_difference, hausdorff_mm, jaccard};
use crate::report::{FrameResult, Results};
use crate::sim::Truth;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Ground truth for one frame, in the result's millimetre frame (catheter-centred).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// True-lumen border.
    pub lumen: Contour,
    /// Vessel (EEM) border.
    pub vessel: Contour,
    /// The second guidewire, if the frame has one.
    pub guidewire: Option<ReferenceWire>,
    /// Where the catheter lies relative to the true lumen, when the truth says (CTO scenes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catheter_position: Option<crate::report::CatheterPosition>,
}

/// Ground truth for the second guidewire.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReferenceWire {
    /// Wire centre, mm.
    pub center_mm: [f64; 2],
    /// Signed angle from the lumen-centroid direction to the wire direction, degrees.
    pub relative_angle_deg: f64,
    /// Whether the wire lies inside the true lumen.
    pub in_true_lumen: bool,
}

/// Scores of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameScore {
    /// Lumen Jaccard (0 when no lumen was reported).
    pub lumen_jaccard: f64,
    /// Lumen Hausdorff distance, mm (`None` when no lumen was reported).
    pub lumen_hausdorff_mm: Option<f64>,
    /// Lumen area difference as a fraction of the true area.
    pub lumen_area_diff: Option<f64>,
    /// Vessel Jaccard (0 when no vessel was reported).
    pub vessel_jaccard: f64,
    /// Vessel Hausdorff distance, mm.
    pub vessel_hausdorff_mm: Option<f64>,
    /// Vessel area difference as a fraction of the true area.
    pub vessel_area_diff: Option<f64>,
    /// Error of the lumen mean diameter, mm (signed, result − truth).
    pub lumen_mean_diameter_err_mm: Option<f64>,
    /// Error of the vessel mean diameter, mm (signed).
    pub vessel_mean_diameter_err_mm: Option<f64>,
    /// Whether the truth has a wire.
    pub wire_present: bool,
    /// Whether a wire was reported.
    pub wire_reported: bool,
    /// Whether the reported wire is near the true one (within 0.5 mm).
    pub wire_matched: bool,
    /// Relative-angle error (wrapped), degrees, for matched wires.
    pub relative_angle_err_deg: Option<f64>,
    /// Whether inside/outside agrees, for matched wires with a lumen.
    pub inside_correct: Option<bool>,
    /// Reported catheter position equals the true one (`None`: the truth has none).
    pub catheter_position_correct: Option<bool>,
}

/// Scores one frame.
pub fn score_frame(result: &FrameResult, truth: &Reference) -> FrameScore {
    let mut s = FrameScore::default();
    if let Some(l) = &result.lumen {
        s.lumen_jaccard = jaccard(&l.contour_mm, &truth.lumen);
        s.lumen_hausdorff_mm = Some(hausdorff_mm(&l.contour_mm, &truth.lumen));
        s.lumen_area_diff = Some(area_difference(&l.contour_mm, &truth.lumen));
        s.lumen_mean_diameter_err_mm = truth.lumen.diameters().map(|d| l.mean_diameter_mm - d.mean_mm);
    }
    if let Some(v) = &result.vessel {
        s.vessel_jaccard = jaccard(&v.contour_mm, &truth.vessel);
        s.vessel_hausdorff_mm = Some(hausdorff_mm(&v.contour_mm, &truth.vessel));
        s.vessel_area_diff = Some(area_difference(&v.contour_mm, &truth.vessel));
        s.vessel_mean_diameter_err_mm = truth.vessel.diameters().map(|d| v.mean_diameter_mm - d.mean_mm);
    }
    s.catheter_position_correct = truth.catheter_position.map(|p| p == result.catheter_position);
    s.wire_present = truth.guidewire.is_some();
    s.wire_reported = result.guidewire.is_some();
    if let (Some(w), Some(t)) = (&result.guidewire, &truth.guidewire) {
        let d = (w.center_mm[0] - t.center_mm[0]).hypot(w.center_mm[1] - t.center_mm[1]);
        s.wire_matched = d <= 0.5;
        if s.wire_matched {
            s.relative_angle_err_deg = w.relative_angle_deg.map(|r| wrap_rel_deg(r - t.relative_angle_deg).abs());
            s.inside_correct = w.in_true_lumen.map(|i| i == t.in_true_lumen);
        }
    }
    s
}

/// Aggregate figures over many frames.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Frames scored.
    pub frames: usize,
    /// Mean lumen Jaccard (missing lumens count as 0).
    pub lumen_jaccard_mean: f64,
    /// Mean lumen Hausdorff distance over frames with a lumen, mm.
    pub lumen_hausdorff_mean_mm: f64,
    /// Mean lumen area difference (fraction).
    pub lumen_area_diff_mean: f64,
    /// Mean vessel Jaccard.
    pub vessel_jaccard_mean: f64,
    /// Mean vessel Hausdorff distance, mm.
    pub vessel_hausdorff_mean_mm: f64,
    /// Mean vessel area difference (fraction).
    pub vessel_area_diff_mean: f64,
    /// Mean absolute lumen mean-diameter error, mm.
    pub lumen_mean_diameter_abs_err_mm: f64,
    /// Mean absolute vessel mean-diameter error, mm.
    pub vessel_mean_diameter_abs_err_mm: f64,
    /// Frames with a true wire.
    pub wire_frames: usize,
    /// Fraction of wire frames where the wire was found at the right place.
    pub wire_detection_rate: f64,
    /// Fraction of frames with a wrong wire report (none there, or far from the true one).
    pub wire_false_rate: f64,
    /// Median relative-angle error, degrees.
    pub relative_angle_err_median_deg: f64,
    /// Fraction of matched wires with correct inside/outside.
    pub inside_accuracy: f64,
    /// Frames whose truth gives the catheter position (CTO scenes).
    #[serde(default)]
    pub catheter_position_frames: usize,
    /// Fraction of those where the reported position is right (NaN when there are none).
    #[serde(default)]
    pub catheter_position_accuracy: f64,
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// Summarises frame scores.
pub fn summarize(scores: &[FrameScore]) -> Summary {
    let col = |f: &dyn Fn(&FrameScore) -> Option<f64>| scores.iter().filter_map(f).collect::<Vec<f64>>();
    let wire_frames = scores.iter().filter(|s| s.wire_present).count();
    let detected = scores.iter().filter(|s| s.wire_present && s.wire_matched).count();
    let false_reports = scores.iter().filter(|s| s.wire_reported && !s.wire_matched).count();
    let inside = col(&|s| s.inside_correct.map(|b| if b { 1.0 } else { 0.0 }));
    let mut angle = col(&|s| s.relative_angle_err_deg);
    Summary {
        frames: scores.len(),
        lumen_jaccard_mean: mean(&col(&|s| Some(s.lumen_jaccard))),
        lumen_hausdorff_mean_mm: mean(&col(&|s| s.lumen_hausdorff_mm)),
        lumen_area_diff_mean: mean(&col(&|s| s.lumen_area_diff)),
        vessel_jaccard_mean: mean(&col(&|s| Some(s.vessel_jaccard))),
        vessel_hausdorff_mean_mm: mean(&col(&|s| s.vessel_hausdorff_mm)),
        vessel_area_diff_mean: mean(&col(&|s| s.vessel_area_diff)),
        lumen_mean_diameter_abs_err_mm: mean(&col(&|s| s.lumen_mean_diameter_err_mm.map(f64::abs))),
        vessel_mean_diameter_abs_err_mm: mean(&col(&|s| s.vessel_mean_diameter_err_mm.map(f64::abs))),
        wire_frames,
        wire_detection_rate: if wire_frames > 0 { detected as f64 / wire_frames as f64 } else { f64::NAN },
        wire_false_rate: if scores.is_empty() { f64::NAN } else { false_reports as f64 / scores.len() as f64 },
        relative_angle_err_median_deg: median(&mut angle),
        inside_accuracy: mean(&inside),
        catheter_position_frames: scores.iter().filter(|s| s.catheter_position_correct.is_some()).count(),
        catheter_position_accuracy: mean(&col(&|s| s.catheter_position_correct.map(|b| if b { 1.0 } else { 0.0 }))),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "frames                          {}", self.frames)?;
        writeln!(f, "lumen  Jaccard (mean)           {:.4}", self.lumen_jaccard_mean)?;
        writeln!(f, "lumen  Hausdorff (mean, mm)     {:.4}", self.lumen_hausdorff_mean_mm)?;
        writeln!(f, "lumen  area difference (mean)   {:.2} %", 100.0 * self.lumen_area_diff_mean)?;
        writeln!(f, "lumen  mean-diameter |err| (mm) {:.4}", self.lumen_mean_diameter_abs_err_mm)?;
        writeln!(f, "vessel Jaccard (mean)           {:.4}", self.vessel_jaccard_mean)?;
        writeln!(f, "vessel Hausdorff (mean, mm)     {:.4}", self.vessel_hausdorff_mean_mm)?;
        writeln!(f, "vessel area difference (mean)   {:.2} %", 100.0 * self.vessel_area_diff_mean)?;
        writeln!(f, "vessel mean-diameter |err| (mm) {:.4}", self.vessel_mean_diameter_abs_err_mm)?;
        writeln!(f, "wire   frames with a wire       {}", self.wire_frames)?;
        writeln!(f, "wire   detection rate           {:.1} %", 100.0 * self.wire_detection_rate)?;
        writeln!(f, "wire   false reports            {:.1} %", 100.0 * self.wire_false_rate)?;
        writeln!(f, "wire   rel. angle err (median)  {:.2} deg", self.relative_angle_err_median_deg)?;
        write!(f, "wire   inside/outside correct   {:.1} %", 100.0 * self.inside_accuracy)?;
        if self.catheter_position_frames > 0 {
            write!(
                f,
                "\ncatheter position correct       {:.1} % ({} frames)",
                100.0 * self.catheter_position_accuracy,
                self.catheter_position_frames
            )?;
        }
        Ok(())
    }
}

impl From<&Truth> for Reference {
    /// The truth's contours and wire, in its own catheter-centred frame (centre
    /// [`Truth::catheter_center_px`]).
    fn from(t: &Truth) -> Self {
        Reference {
            lumen: t.lumen.clone(),
            vessel: t.vessel.clone(),
            guidewire: t.guidewire.as_ref().map(|w| ReferenceWire {
                center_mm: w.center_mm,
                relative_angle_deg: w.relative_angle_deg,
                in_true_lumen: w.in_true_lumen,
            }),
            catheter_position: t.catheter_position,
        }
    }
}

/// Largest relative difference between a result's and the truth's `mm_per_px` accepted by
/// [`shift_to_truth_center`] (`results.json` rounds values to 6 decimals).
pub const MM_PER_PX_TOLERANCE: f64 = 1e-3;

/// Moves a result of a Cartesian frame into the truth's millimetre frame.
///
/// Result coordinates are relative to the catheter centre the pipeline *detected*
/// (`result.center_px`); truth coordinates are relative to the true centre
/// (`truth.catheter_center_px`). A result point `p` becomes
/// `p + ((c_res − c_true)[col] · mm_per_px, −(c_res − c_true)[row] · mm_per_px)` (rows grow
/// downwards, +y is up). Contours, centroids and the wire centre are moved; angles, diameters and
/// areas are left as reported (angles stay as seen from the detected centre).
///
/// # Errors
/// [`Error::Input`] (path = the result's `source`) when the result's pixel size differs from the
/// truth's by more than [`MM_PER_PX_TOLERANCE`] (relative), e.g. results of polar frames or of
/// another calibration: the shift would be meaningless.
pub fn shift_to_truth_center(result: &FrameResult, truth: &Truth) -> Result<FrameResult, Error> {
    let (r, t) = (result.mm_per_px, truth.mm_per_px);
    if !((r - t).abs() <= MM_PER_PX_TOLERANCE * t) {
        return Err(Error::Input {
            path: PathBuf::from(&result.source),
            reason: format!(
                "result pixel size {r} mm differs from the truth's {t} mm \
                 (results of polar frames or another calibration cannot be compared in pixels)"
            ),
        });
    }
    let d = [
        (result.center_px[0] - truth.catheter_center_px[0]) * r,
        -(result.center_px[1] - truth.catheter_center_px[1]) * r,
    ];
    Ok(translated(result, d))
}

/// `result` with every position (contours, centroids, wire centre) moved by `d_mm`.
pub fn translated(result: &FrameResult, d_mm: [f64; 2]) -> FrameResult {
    let mv = |p: [f64; 2]| [p[0] + d_mm[0], p[1] + d_mm[1]];
    let mut out = result.clone();
    for region in [&mut out.lumen, &mut out.vessel].into_iter().flatten() {
        region.contour_mm.points_mm.iter_mut().for_each(|p| *p = mv(*p));
        region.centroid_mm = mv(region.centroid_mm);
    }
    if let Some(w) = &mut out.guidewire {
        w.center_mm = mv(w.center_mm);
    }
    if let Some(w) = &mut out.ivus_wire {
        w.center_mm = mv(w.center_mm);
    }
    out
}

/// Scores of one frame for the two wires and calcium (issue #3): against phantom truth with
/// the catheter's own wire ([`Truth::ivus_wire`]), the second wire and calcium arcs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WireCalciumScore {
    /// The truth has a second wire.
    pub second_present: bool,
    /// The true second wire lies in the acoustic shadow of the own wire or of calcium (seen
    /// from the catheter, angularly overlapping and farther away): no image shows it. Such
    /// frames are left out of the detection rate and counted separately.
    pub second_hidden: bool,
    /// A second wire was reported within [`WIRE_MATCH_MM`] of the true one.
    pub second_matched: bool,
    /// A second wire was reported that is not the true one (none there, or far from it).
    pub second_false: bool,
    /// The truth has an own wire.
    pub own_present: bool,
    /// The own wire was reported as the second wire (reported second wire within
    /// [`WIRE_MATCH_MM`] of the own wire).
    pub own_as_second: bool,
    /// The own wire was reported as `ivus_wire` within [`WIRE_MATCH_MM`].
    pub own_matched: bool,
    /// Relative-angle error of a matched second wire, degrees.
    pub relative_angle_err_deg: Option<f64>,
    /// Inside/outside agreement of a matched second wire with a lumen.
    pub inside_correct: Option<bool>,
    /// The truth has calcium.
    pub calcium_present: bool,
    /// Calcium was reported.
    pub calcium_reported: bool,
    /// Arc error over the true arcs, degrees (mean over arcs; see [`calcium_arc_error_deg`]).
    pub calcium_arc_err_deg: Option<f64>,
}

/// Distance within which a reported wire matches a true one, mm.
pub const WIRE_MATCH_MM: f64 = 0.5;

/// Error of the reported arcs against one true arc (display degrees): the reported arcs that
/// overlap it are joined (earliest start to latest end, counter-clockwise about the true arc's
/// middle) and the error is the mean of the absolute start and end differences; a true arc that
/// no reported arc overlaps scores its own extent (missed entirely).
pub fn calcium_arc_error_deg(truth: &crate::sim::CalciumTruth, reported: &[crate::report::CalciumArc]) -> f64 {
    let mid = truth.start_deg + truth.arc_deg / 2.0;
    let half = truth.arc_deg / 2.0;
    // Reported arcs as [s, e] relative to the true middle, counter-clockwise positive.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for a in reported {
        let s = wrap_rel_deg(a.start_deg - mid);
        let e = s + a.arc_deg;
        if s < half && e > -half {
            lo = lo.min(s);
            hi = hi.max(e);
        }
    }
    if lo > hi {
        return truth.arc_deg;
    }
    0.5 * ((lo + half).abs() + (hi - half).abs())
}

/// Scores the wires and calcium of a Cartesian frame result against phantom truth (after
/// [`shift_to_truth_center`]).
///
/// # Errors
/// As [`shift_to_truth_center`].
pub fn score_wires_calcium(result: &FrameResult, truth: &Truth) -> Result<WireCalciumScore, Error> {
    let r = shift_to_truth_center(result, truth)?;
    let dist = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
    let mut s = WireCalciumScore {
        second_present: truth.guidewire.is_some(),
        own_present: truth.ivus_wire.is_some(),
        calcium_present: !truth.calcium.is_empty(),
        calcium_reported: !r.calcium.arcs.is_empty(),
        ..WireCalciumScore::default()
    };
    if let Some(t) = &truth.guidewire {
        let rho = t.center_mm[0].hypot(t.center_mm[1]);
        let half = (t.radius_mm / rho).clamp(0.0, 1.0).asin().to_degrees();
        let behind_own = truth.ivus_wire.as_ref().is_some_and(|o| {
            let d = o.center_mm[0].hypot(o.center_mm[1]);
            let o_half = (o.radius_mm / d).clamp(0.0, 1.0).asin().to_degrees();
            d < rho && wrap_rel_deg(t.angle_deg - o.angle_deg).abs() < o_half + half
        });
        let behind_calcium = truth.calcium.iter().any(|c| {
            let rel = (t.angle_deg - c.start_deg).rem_euclid(360.0);
            c.depth_mm < rho && rel > half && rel < c.arc_deg - half
        });
        s.second_hidden = behind_own || behind_calcium;
    }
    if let Some(w) = &r.guidewire {
        match &truth.guidewire {
            Some(t) if dist(w.center_mm, t.center_mm) <= WIRE_MATCH_MM => {
                s.second_matched = true;
                s.relative_angle_err_deg = w.relative_angle_deg.map(|a| wrap_rel_deg(a - t.relative_angle_deg).abs());
                s.inside_correct = w.in_true_lumen.map(|i| i == t.in_true_lumen);
            }
            _ => s.second_false = true,
        }
        if let Some(o) = &truth.ivus_wire {
            s.own_as_second = !s.second_matched && dist(w.center_mm, o.center_mm) <= WIRE_MATCH_MM;
        }
    }
    if let (Some(w), Some(o)) = (&r.ivus_wire, &truth.ivus_wire) {
        s.own_matched = dist(w.center_mm, o.center_mm) <= WIRE_MATCH_MM;
    }
    if s.calcium_present {
        let errs: Vec<f64> = truth.calcium.iter().map(|c| calcium_arc_error_deg(c, &r.calcium.arcs)).collect();
        s.calcium_arc_err_deg = Some(mean(&errs));
    }
    Ok(s)
}

/// Aggregate two-wire and calcium figures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WireCalciumSummary {
    /// Frames scored.
    pub frames: usize,
    /// Frames with a visible second wire (not hidden in another shadow).
    pub second_frames: usize,
    /// Frames whose second wire is hidden in the own wire's or calcium's shadow.
    pub second_hidden_frames: usize,
    /// Fraction of the visible ones where it was found.
    pub second_detection_rate: f64,
    /// Fraction of all frames with a wrong second-wire report.
    pub second_false_rate: f64,
    /// Frames with an own wire.
    pub own_frames: usize,
    /// Fraction of own-wire frames where the own wire was *not* reported as the second wire.
    pub own_not_second_rate: f64,
    /// Fraction of own-wire frames where it was reported as `ivus_wire`.
    pub own_detection_rate: f64,
    /// Median relative-angle error of matched second wires, degrees.
    pub relative_angle_err_median_deg: f64,
    /// Fraction of matched second wires with correct inside/outside.
    pub inside_accuracy: f64,
    /// Frames with calcium.
    pub calcium_frames: usize,
    /// Median arc error on frames with calcium, degrees.
    pub calcium_arc_err_median_deg: f64,
    /// Fraction of frames without calcium where none was reported.
    pub calcium_clean_rate: f64,
}

/// Summarises [`WireCalciumScore`]s.
pub fn summarize_wires_calcium(scores: &[WireCalciumScore]) -> WireCalciumSummary {
    let count = |f: &dyn Fn(&WireCalciumScore) -> bool| scores.iter().filter(|s| f(s)).count();
    let frac = |num: usize, den: usize| if den > 0 { num as f64 / den as f64 } else { f64::NAN };
    let second_frames = count(&|s| s.second_present && !s.second_hidden);
    let own_frames = count(&|s| s.own_present);
    let calcium_frames = count(&|s| s.calcium_present);
    let mut angle: Vec<f64> = scores.iter().filter_map(|s| s.relative_angle_err_deg).collect();
    let inside: Vec<f64> = scores.iter().filter_map(|s| s.inside_correct.map(|b| f64::from(u8::from(b)))).collect();
    let mut arc: Vec<f64> = scores.iter().filter_map(|s| s.calcium_arc_err_deg).collect();
    WireCalciumSummary {
        frames: scores.len(),
        second_frames,
        second_hidden_frames: count(&|s| s.second_present && s.second_hidden),
        second_detection_rate: frac(
            count(&|s| s.second_present && !s.second_hidden && s.second_matched),
            second_frames,
        ),
        second_false_rate: frac(count(&|s| s.second_false), scores.len()),
        own_frames,
        own_not_second_rate: frac(count(&|s| s.own_present && !s.own_as_second), own_frames),
        own_detection_rate: frac(count(&|s| s.own_present && s.own_matched), own_frames),
        relative_angle_err_median_deg: median(&mut angle),
        inside_accuracy: mean(&inside),
        calcium_frames,
        calcium_arc_err_median_deg: median(&mut arc),
        calcium_clean_rate: frac(count(&|s| !s.calcium_present && !s.calcium_reported), scores.len() - calcium_frames),
    }
}

impl std::fmt::Display for WireCalciumSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "frames                               {}", self.frames)?;
        writeln!(f, "second wire frames (visible)         {}", self.second_frames)?;
        writeln!(f, "second wire hidden in a shadow       {}", self.second_hidden_frames)?;
        writeln!(f, "second wire detected                 {:.1} %", 100.0 * self.second_detection_rate)?;
        writeln!(f, "second wire false reports            {:.1} %", 100.0 * self.second_false_rate)?;
        writeln!(f, "own wire frames                      {}", self.own_frames)?;
        writeln!(f, "own wire not reported as second      {:.1} %", 100.0 * self.own_not_second_rate)?;
        writeln!(f, "own wire reported as ivus_wire       {:.1} %", 100.0 * self.own_detection_rate)?;
        writeln!(f, "relative-angle error (median)        {:.2} deg", self.relative_angle_err_median_deg)?;
        writeln!(f, "inside/outside correct               {:.1} %", 100.0 * self.inside_accuracy)?;
        writeln!(f, "calcium frames                       {}", self.calcium_frames)?;
        writeln!(f, "calcium arc error (median)           {:.1} deg", self.calcium_arc_err_median_deg)?;
        write!(f, "no calcium reported where none       {:.1} %", 100.0 * self.calcium_clean_rate)
    }
}

/// Scores a Cartesian frame result against phantom truth: [`shift_to_truth_center`], then
/// [`score_frame`].
///
/// # Errors
/// As [`shift_to_truth_center`].
pub fn score_against_truth(result: &FrameResult, truth: &Truth) -> Result<FrameScore, Error> {
    Ok(score_frame(&shift_to_truth_center(result, truth)?, &Reference::from(truth)))
}

/// The score of one frame of a `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameEvaluation {
    /// The frame's `source` in `results.json`.
    pub source: String,
    /// Its scores.
    pub score: FrameScore,
}

/// Reads a truth file ([`Truth`] JSON).
///
/// # Errors
/// [`Error::Io`] if it cannot be read, [`Error::Format`] if it is not a truth document.
pub fn load_truth(path: &Path) -> Result<Truth, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Format { path: path.to_path_buf(), reason: e.to_string() })
}

/// Reads a `results.json` document.
///
/// # Errors
/// [`Error::Io`] if it cannot be read, [`Error::Format`] if it is not a results document.
pub fn load_results(path: &Path) -> Result<Results, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Format { path: path.to_path_buf(), reason: e.to_string() })
}

/// Scores every frame of `results` against `truth_dir/<stem>.json`, where `<stem>` is the file
/// stem of the frame's `source` (`frame_007.png` → `frame_007.json`), with
/// [`score_against_truth`]. Frames keep their order.
///
/// # Errors
/// [`Error::Input`] naming the truth file when a frame has none, or the frame when it cannot be
/// compared ([`shift_to_truth_center`]); [`Error::Io`] / [`Error::Format`] for unreadable truth.
pub fn evaluate_truth_dir(results: &Results, truth_dir: &Path) -> Result<Vec<FrameEvaluation>, Error> {
    results
        .frames
        .iter()
        .map(|r| {
            let stem = Path::new(&r.source).file_stem().unwrap_or_default();
            let path = truth_dir.join(stem).with_extension("json");
            if !path.is_file() {
                return Err(Error::Input { path, reason: format!("no truth file for frame `{}`", r.source) });
            }
            let truth = load_truth(&path)?;
            Ok(FrameEvaluation { source: r.source.clone(), score: score_against_truth(r, &truth)? })
        })
        .collect()
}

/// A fixed-width table of per-frame scores: source, lumen and vessel Jaccard and Hausdorff
/// (mm, `-` when not found), and the wire as `found/expected` (`yes`/`no`; found = reported
/// within 0.5 mm of a true wire; `(false report)` = a wire reported where there is none).
pub fn frame_table(frames: &[FrameEvaluation]) -> String {
    use std::fmt::Write;
    let width = frames.iter().map(|f| f.source.len()).max().unwrap_or(0).max(6);
    let hd = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    let yn = |b: bool| if b { "yes" } else { "no" };
    let mut s = format!(
        "{:<width$}  {:>8}  {:>8}  {:>12}  {:>13}  {}\n",
        "source", "lumen_J", "vessel_J", "lumen_HD_mm", "vessel_HD_mm", "wire found/expected"
    );
    for f in frames {
        let c = &f.score;
        let wire = if c.wire_reported && !c.wire_matched {
            format!("no/{} (false report)", yn(c.wire_present))
        } else {
            format!("{}/{}", yn(c.wire_matched), yn(c.wire_present))
        };
        let _ = writeln!(
            s,
            "{:<width$}  {:>8.4}  {:>8.4}  {:>12}  {:>13}  {wire}",
            f.source,
            c.lumen_jaccard,
            c.vessel_jaccard,
            hd(c.lumen_hausdorff_mm),
            hd(c.vessel_hausdorff_mm)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{GuidewireResult, Quality, RegionResult};
    use crate::sim::{PhantomSpec, simulate};

    fn region(c: &Contour) -> RegionResult {
        let d = c.diameters().unwrap();
        RegionResult {
            contour_mm: c.clone(),
            area_mm2: c.area_mm2(),
            centroid_mm: c.centroid_mm().unwrap(),
            centroid_angle_deg: 0.0,
            min_diameter_mm: d.min_mm,
            max_diameter_mm: d.max_mm,
            mean_diameter_mm: d.mean_mm,
            area_equivalent_diameter_mm: c.area_equivalent_diameter_mm(),
            eccentricity: 0.0,
            encloses_catheter: true,
        }
    }

    /// A perfect result seen from a detected centre `off_px` (col, row) away from the true one
    /// scores perfectly only after the shift.
    #[test]
    fn shift_to_truth_center_undoes_a_wrong_catheter_centre() {
        let spec = PhantomSpec { n_lines: 128, n_samples: 128, image_side_px: 96, ..PhantomSpec::default() };
        let mut truth = simulate(&spec).unwrap().truth;
        truth.guidewire = Some(crate::sim::GuidewireTruth {
            center_mm: [0.5, 0.2],
            radius_mm: 0.18,
            angle_deg: 21.8,
            in_true_lumen: true,
            relative_angle_deg: 10.0,
            distance_to_lumen_mm: -0.2,
        });
        let m = truth.mm_per_px;
        let off_px = [6.0, -4.0];
        // The detected centre lies at true + off; a point at p (true frame) is seen at p - d.
        let d = [off_px[0] * m, -off_px[1] * m];
        let seen = translated(
            &FrameResult {
                index: 0,
                source: "f.png".into(),
                mm_per_px: m,
                center_px: [truth.catheter_center_px[0] + off_px[0], truth.catheter_center_px[1] + off_px[1]],
                catheter_radius_mm: 0.45,
                lumen: Some(region(&truth.lumen)),
                vessel: Some(region(&truth.vessel)),
                plaque_burden: None,
                guidewire: Some(GuidewireResult {
                    center_mm: [0.5, 0.2],
                    angle_deg: 21.8,
                    relative_angle_deg: Some(10.0),
                    in_true_lumen: Some(true),
                    distance_to_lumen_mm: Some(-0.2),
                    shadow_width_deg: 10.0,
                    confidence: 1.0,
                }),
                quality: Quality::default(),
                catheter_position: crate::report::CatheterPosition::Intraluminal,
                ivus_wire: None,
                calcium: Default::default(),
                guidance: None,
                wire_candidates: Vec::new(),
            },
            [-d[0], -d[1]],
        );
        let raw = score_frame(&seen, &Reference::from(&truth));
        assert!(raw.lumen_jaccard < 0.95, "{raw:?}");
        let s = score_against_truth(&seen, &truth).unwrap();
        assert!(s.lumen_jaccard > 0.999 && s.vessel_jaccard > 0.999, "{s:?}");
        assert!(s.lumen_hausdorff_mm.unwrap() < 1e-9 && s.wire_matched, "{s:?}");
        // Another pixel size (e.g. results of polar frames) is refused.
        let polar = FrameResult { mm_per_px: 2.0 * m, ..seen };
        assert!(matches!(score_against_truth(&polar, &truth), Err(Error::Input { .. })));
    }
}
