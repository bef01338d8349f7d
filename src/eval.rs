//! Accuracy of frame results against ground truth: per-frame scores and a summary table.
//!
//! Used by the test suite on phantom frames and by `truelumen evaluate` for any data set that
//! comes with reference contours. Measures follow [`crate::metrics`]; wire figures are
//! detection rate, false detections, angle error of the signed relative angle, and
//! inside/outside agreement.

use crate::contour::Contour;
use crate::geometry::wrap_rel_deg;
use crate::metrics::{area_difference, hausdorff_mm, jaccard};
use crate::report::FrameResult;
use serde::{Deserialize, Serialize};

/// Ground truth for one frame, in the result's millimetre frame (catheter-centred).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// True-lumen border.
    pub lumen: Contour,
    /// Vessel (EEM) border.
    pub vessel: Contour,
    /// The second guidewire, if the frame has one.
    pub guidewire: Option<ReferenceWire>,
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
        write!(f, "wire   inside/outside correct   {:.1} %", 100.0 * self.inside_accuracy)
    }
}
