//! Pullback analysis: from per-frame results to the pullback summary and report.
//!
//! A pullback is analysed in one streaming pass. [`PullbackAnalyzer::observe`] is called once
//! per frame, in order, with the frame's [`FrameResult`] and its image; it keeps only a compact
//! [`FrameRecord`] (measurements, no contours: about 100 bytes), one `u8` column of the
//! longitudinal view ([`lmode`]) and a small block signature for gating — so a 10,000-frame
//! pullback needs a few MB here. [`PullbackAnalyzer::finish`] then:
//!
//! 1. places frames along the pullback from their times and the pullback speed ([`Timing`]);
//! 2. optionally keeps one frame per heart beat ([`gating`], `gate`);
//! 3. smooths the area/diameter series with a running median and flags Hampel outliers
//!    ([`series`]; the smoothing keeps every change that lasts half a window);
//! 4. finds the lesion (CTO) segment, the minimum lumen area (MLA) site, the proximal and distal
//!    reference sites and the reference vessel diameter (RVD) (definitions after Mintz et al.,
//!    ACC clinical expert consensus on IVUS, JACC 37(5):1478–1492, 2001);
//! 5. applies the balloon-sizing rule ([`balloon`]) and the J-BTK score ([`jbtk`]);
//! 6. re-reads the key frames (MLA, references, lesion entry) through a callback, analyses them
//!    again (the pipeline is deterministic, so the result equals the streamed one; a frame whose
//!    lumen side the sequence pass [`sides`] changed is analysed with that side) and renders
//!    their overlays as thumbnails.
//!
//! The result is a [`report::PullbackReport`] that writes `summary.json` and `report.html`.
//!
//! # Definitions
//! * Direction: by default the first frame is the most **distal** one (motorised pullbacks pull
//!   the catheter back toward proximal); [`FrameOrder::ProximalFirst`] reverses that.
//! * Occluded frames: no lumen found, or a "lumen" that is not echolucent: its contrast to the
//!   band outside it (`quality.lumen_contrast`, in speckle standard deviations) below
//!   `occlusion_max_lumen_contrast` (default 5). Flowing blood at 40 MHz is 15–30 dB below plaque
//!   (lumen contrast ≥ 15 SD in the phantoms); thrombus or fibrous tissue filling an occluded
//!   lumen is not (contrast ≤ 4 SD). In such frames the catheter fills the remaining channel and
//!   the lumen border the segmentation reports is unreliable, which is why occlusion is judged by
//!   echolucency and not by the measured area alone. A frame whose catheter was called
//!   `subintimal` also counts as occluded: the catheter left the true lumen because it is
//!   occluded there, and `quality.lumen_contrast` describes the catheter-centred border search,
//!   not the lumen beside the catheter (whose band contrast is high even when it is filled with
//!   plaque: it is the darkest region the beside search could find, lined by a bright intima).
//!   Its lumen is therefore never the MLA.
//! * Lesion frames: occluded, or smoothed plaque burden ≥ `lesion_min_plaque_burden` (default
//!   0.70), or smoothed lumen area < `lesion_max_lumen_area_mm2` (default 1.0 mm², about an IVUS
//!   catheter's own cross-section). The lesion is the longest
//!   contiguous run of lesion frames; its length is `position(last) − position(first) +` one frame
//!   spacing (every frame stands for one slab of pullback).
//! * Lesion entry: the proximal end of the lesion (where antegrade wiring enters the CTO).
//! * References: the frame with the largest smoothed lumen area within `reference_search_mm`
//!   (default 10 mm) outside the lesion, on each side (around the MLA site when there is no lesion).
//! * RVD: mean of the proximal and distal reference lumen mean diameters (the one available when
//!   only one exists) — the angiographic sense of "reference vessel diameter" used by J-BTK.

pub mod balloon;
pub mod gating;
mod html;
pub mod jbtk;
pub mod lmode;
pub mod report;
pub mod series;
pub mod sides;

use crate::error::{Error, check_positive, check_range};
use crate::pipeline::{Calibration, Pipeline, PipelineConfig};
use crate::plane::CartImage;
use crate::report::FrameResult;
use balloon::BalloonRule;
use serde::{Deserialize, Serialize};

/// Typical frame rate of AnteOwl-class 40 MHz rotational IVUS, frames/s (domain notes).
pub const DEFAULT_FPS: f64 = 30.0;
/// Typical automated pullback speed, mm/s (domain notes).
pub const DEFAULT_PULLBACK_MM_PER_S: f64 = 0.5;

/// Frame timing of a pullback: where each frame lies along the vessel.
///
/// Frame `i` is at time `frame_times_s[i]` when given, else `i / fps`, and at position
/// `time · pullback_mm_per_s` mm from the first frame. `origin` says where the values came from
/// (printed in the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Frame rate, frames/s.
    pub fps: f64,
    /// Pullback speed, mm/s.
    pub pullback_mm_per_s: f64,
    /// Per-frame acquisition times, s, relative to the first frame (e.g. DICOM FrameTimeVector).
    #[serde(default)]
    pub frame_times_s: Option<Vec<f64>>,
    /// Where the values came from, e.g. `command line`, a sidecar path, or `default`.
    pub origin: String,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            fps: DEFAULT_FPS,
            pullback_mm_per_s: DEFAULT_PULLBACK_MM_PER_S,
            frame_times_s: None,
            origin: format!(
                "default (typical AnteOwl-class pullback: {DEFAULT_FPS} frames/s, {DEFAULT_PULLBACK_MM_PER_S} mm/s)"
            ),
        }
    }
}

impl Timing {
    /// Checks the values.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a non-positive or non-finite speed or frame rate, or frame
    /// times that are not finite and non-decreasing.
    pub fn validate(&self) -> Result<(), Error> {
        check_positive("fps", self.fps)?;
        check_positive("pullback_mm_per_s", self.pullback_mm_per_s)?;
        check_range("fps", self.fps, 0.0, 10_000.0)?;
        check_range("pullback_mm_per_s", self.pullback_mm_per_s, 0.0, 100.0)?;
        if let Some(t) = &self.frame_times_s
            && (t.iter().any(|v| !v.is_finite()) || t.windows(2).any(|w| w[1] < w[0]))
        {
            return Err(Error::param("frame_times_s", "must be finite and non-decreasing"));
        }
        Ok(())
    }

    /// Time of frame `i`, s.
    pub fn time_s(&self, i: usize) -> f64 {
        match &self.frame_times_s {
            Some(t) if i < t.len() => t[i] - t[0],
            _ => i as f64 / self.fps,
        }
    }

    /// Position of frame `i`, mm from the first frame.
    pub fn position_mm(&self, i: usize) -> f64 {
        self.time_s(i) * self.pullback_mm_per_s
    }

    /// Nominal distance between frames, mm.
    pub fn frame_spacing_mm(&self) -> f64 {
        self.pullback_mm_per_s / self.fps
    }
}

/// Order of the frames along the vessel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameOrder {
    /// First frame distal (motorised pullback toward proximal) — the default.
    #[default]
    DistalFirst,
    /// First frame proximal.
    ProximalFirst,
}

/// Settings of the pullback summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullbackConfig {
    /// Frame order along the vessel.
    pub order: FrameOrder,
    /// Keep one frame per heart beat (image-based gating).
    pub gate: bool,
    /// Running-median smoothing of the series (see [`series`]).
    pub smooth: bool,
    /// Smoothing / outlier window, mm of pullback.
    pub smooth_window_mm: f64,
    /// Hampel threshold, scaled MADs.
    pub outlier_mads: f64,
    /// Lesion frames: plaque burden at or above this.
    pub lesion_min_plaque_burden: f64,
    /// Lesion frames: lumen area below this, mm².
    pub lesion_max_lumen_area_mm2: f64,
    /// Occluded frames: lumen contrast (`quality.lumen_contrast`, speckle SDs) below this — the
    /// "lumen" is not echolucent (thrombus / fibrous tissue instead of blood).
    pub occlusion_max_lumen_contrast: f64,
    /// Reference search distance outside the lesion, mm.
    pub reference_search_mm: f64,
    /// Length of the lesion's proximal end searched for entry calcium, mm.
    pub entry_window_mm: f64,
    /// Calcium arc from which the entry counts as calcified, degrees.
    pub entry_calcium_min_arc_deg: f64,
    /// L-mode cut angle (display convention), degrees.
    pub lmode_angle_deg: f64,
    /// Balloon-sizing rule.
    pub balloon: BalloonRule,
    /// J-BTK: blunt proximal stump (from angiography; `None` = not given).
    pub blunt_stump: Option<bool>,
    /// J-BTK: no outflow of the target vessel (from angiography; `None` = not given).
    pub no_outflow: Option<bool>,
}

impl Default for PullbackConfig {
    fn default() -> Self {
        Self {
            order: FrameOrder::DistalFirst,
            gate: false,
            smooth: true,
            smooth_window_mm: 1.0,
            outlier_mads: 3.5,
            lesion_min_plaque_burden: 0.70,
            lesion_max_lumen_area_mm2: 1.0,
            occlusion_max_lumen_contrast: 5.0,
            reference_search_mm: 10.0,
            entry_window_mm: 3.0,
            entry_calcium_min_arc_deg: 90.0,
            lmode_angle_deg: 90.0,
            balloon: BalloonRule::default(),
            blunt_stump: None,
            no_outflow: None,
        }
    }
}

impl PullbackConfig {
    /// Checks every value (and normalises the balloon catalogue).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the setting.
    pub fn validated(mut self) -> Result<Self, Error> {
        check_range("smooth_window_mm", self.smooth_window_mm, 0.0, 100.0)?;
        check_range("outlier_mads", self.outlier_mads, 1.0, 100.0)?;
        check_range("lesion_min_plaque_burden", self.lesion_min_plaque_burden, 0.0, 1.0)?;
        check_range("lesion_max_lumen_area_mm2", self.lesion_max_lumen_area_mm2, 0.0, 100.0)?;
        check_range("occlusion_max_lumen_contrast", self.occlusion_max_lumen_contrast, -100.0, 100.0)?;
        check_range("reference_search_mm", self.reference_search_mm, 0.0, 1000.0)?;
        check_range("entry_window_mm", self.entry_window_mm, 0.0, 1000.0)?;
        check_range("entry_calcium_min_arc_deg", self.entry_calcium_min_arc_deg, 0.0, 360.0)?;
        check_range("lmode_angle_deg", self.lmode_angle_deg, -3600.0, 3600.0)?;
        self.balloon = self.balloon.validated()?;
        Ok(self)
    }
}

/// The compact per-frame record kept for the summary (NaN = not available).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRecord {
    /// Frame index in the sequence.
    pub index: usize,
    /// Source name (file or `file#frame`).
    pub source: String,
    /// Whether a lumen was found.
    pub lumen_found: bool,
    /// Lumen area, mm².
    pub lumen_area_mm2: f64,
    /// Lumen mean diameter, mm.
    pub lumen_mean_diameter_mm: f64,
    /// Lumen minimum diameter, mm.
    pub lumen_min_diameter_mm: f64,
    /// Vessel (EEM) area, mm².
    pub vessel_area_mm2: f64,
    /// Vessel (EEM) mean diameter, mm.
    pub vessel_mean_diameter_mm: f64,
    /// Plaque burden, 0–1.
    pub plaque_burden: f64,
    /// Lumen contrast, speckle SDs (`quality.lumen_contrast`).
    pub lumen_contrast: f64,
    /// Whether a second guidewire was seen.
    pub guidewire: bool,
    /// Whether the catheter was called subintimal (true lumen beside it).
    pub subintimal: bool,
    /// The lumen side the sequence pass took from the neighbouring frames ([`sides`]), if it
    /// changed this frame; key frames are analysed again with it.
    pub side_from_neighbours: Option<sides::LumenSide>,
    /// Largest calcium arc of the frame, degrees (see [`calcium_arc_deg`]).
    pub calcium_arc_deg: f64,
    /// Dissimilarity to the previous frame (gating signal), grey levels.
    pub dissimilarity: f64,
}

/// Name of the calcium measure used, for the report.
pub const CALCIUM_SOURCE: &str = "largest calcified arc of the frame (calcium.max_arc_deg: bright echo with a \
     shadow wider than a wire's, see truelumen::calcium)";

/// **The one place where per-frame calcium enters the pullback summary**: the frame's largest
/// calcified arc ([`crate::report::FrameResult::calcium`], `max_arc_deg`), degrees.
pub fn calcium_arc_deg(result: &FrameResult) -> f64 {
    result.calcium.max_arc_deg
}

impl FrameRecord {
    /// The record of one result.
    pub fn of(result: &FrameResult) -> Self {
        let l = result.lumen.as_ref();
        let v = result.vessel.as_ref();
        Self {
            index: result.index,
            source: result.source.clone(),
            lumen_found: l.is_some(),
            lumen_area_mm2: l.map_or(f64::NAN, |r| r.area_mm2),
            lumen_mean_diameter_mm: l.map_or(f64::NAN, |r| r.mean_diameter_mm),
            lumen_min_diameter_mm: l.map_or(f64::NAN, |r| r.min_diameter_mm),
            vessel_area_mm2: v.map_or(f64::NAN, |r| r.area_mm2),
            vessel_mean_diameter_mm: v.map_or(f64::NAN, |r| r.mean_diameter_mm),
            plaque_burden: result.plaque_burden.unwrap_or(f64::NAN),
            lumen_contrast: if l.is_some() { result.quality.lumen_contrast } else { f64::NAN },
            guidewire: result.guidewire.is_some(),
            subintimal: result.catheter_position == crate::report::CatheterPosition::Subintimal,
            side_from_neighbours: if result.quality.has(crate::report::QualityFlag::LumenSideFromNeighbours) {
                sides::LumenSide::of(result.catheter_position)
            } else {
                None
            },
            calcium_arc_deg: calcium_arc_deg(result),
            dissimilarity: 0.0,
        }
    }
}

/// Streams a pullback's frames into the summary (see the module doc).
#[derive(Debug)]
pub struct PullbackAnalyzer {
    config: PullbackConfig,
    pipeline_config: PipelineConfig,
    calib: Calibration,
    records: Vec<FrameRecord>,
    lmode: lmode::LModeBuilder,
    last_signature: Option<gating::BlockSignature>,
}

impl PullbackAnalyzer {
    /// An analyzer for frames with calibration `calib`, analysed with `pipeline_config` (used
    /// again for the key frames).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an invalid configuration.
    pub fn new(config: PullbackConfig, pipeline_config: PipelineConfig, calib: Calibration) -> Result<Self, Error> {
        let config = config.validated()?;
        let half_depth_mm = match calib {
            Calibration::Polar(g) => g.depth_mm(),
            Calibration::Cartesian { .. } => 0.0, // set from the first frame
        };
        Ok(Self {
            lmode: lmode::LModeBuilder::new(config.lmode_angle_deg, half_depth_mm),
            config,
            pipeline_config,
            calib,
            records: Vec::new(),
            last_signature: None,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &PullbackConfig {
        &self.config
    }

    /// The balloon size the rule gives for one frame's own measurements (the per-frame
    /// `balloon_suggestion_mm` column).
    pub fn balloon_for(&self, result: &FrameResult) -> Option<f64> {
        self.config.balloon.size_for_frame(
            result.lumen.as_ref().map(|l| l.mean_diameter_mm),
            result.vessel.as_ref().map(|v| v.mean_diameter_mm),
        )
    }

    /// Records one frame. Frames must come in sequence order.
    pub fn observe(&mut self, result: &FrameResult, image: &CartImage) {
        if self.lmode.is_empty() && self.lmode.half_depth_mm() == 0.0 {
            // Cartesian: the largest depth that stays inside the frame around its centre.
            let (rows, cols) = image.shape();
            let [c, r] = result.center_px;
            let px = c.min(r).min(cols as f64 - 1.0 - c).min(rows as f64 - 1.0 - r).max(1.0);
            self.lmode = lmode::LModeBuilder::new(self.config.lmode_angle_deg, px * result.mm_per_px);
        }
        let mut rec = FrameRecord::of(result);
        let sig = gating::BlockSignature::of(image);
        rec.dissimilarity = self.last_signature.as_ref().map_or(0.0, |p| sig.dissimilarity(p));
        self.last_signature = Some(sig);
        self.lmode.push(result, image, &self.calib);
        self.records.push(rec);
    }

    /// Number of frames observed.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no frame was observed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Computes the summary and renders the key frames, which `reread` returns by index (the
    /// image as it was given to [`observe`](Self::observe)).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for invalid timing or when gating is asked for but impossible;
    /// errors of `reread` or of the key-frame analysis.
    pub fn finish(
        self,
        timing: &Timing,
        generator: &str,
        mut reread: impl FnMut(usize) -> Result<CartImage, Error>,
    ) -> Result<report::PullbackReport, Error> {
        timing.validate()?;
        let summary = report::summarize(&self.config, timing, &self.records, generator)?;
        let mut pipeline = Pipeline::new(self.pipeline_config.clone())?;
        let mut thumbnails = Vec::new();
        for kf in &summary.key_frames {
            let image = reread(kf.index)?;
            let record = self.records.get(kf.index);
            let source = record.map_or_else(String::new, |r| r.source.clone());
            let result = match record.and_then(|r| r.side_from_neighbours) {
                Some(side) => pipeline.process_with_side(&image, self.calib, kf.index, &source, side)?,
                None => pipeline.process(&image, self.calib, kf.index, &source)?,
            };
            thumbnails.push(report::thumbnail(&image, &result, &self.calib)?);
        }
        let positions_mm = (0..self.records.len()).map(|i| timing.position_mm(i)).collect();
        Ok(report::PullbackReport { summary, thumbnails, lmode: self.lmode, records: self.records, positions_mm })
    }
}
