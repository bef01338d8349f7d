//! The per-frame pipeline: catheter → polar resampling → speckle filter → shadows and
//! guidewire → lumen and vessel borders → measurements. A [`Pipeline`] owns its configuration
//! and scratch buffers and processes one frame at a time; [`process_batch`] runs many frames in
//! parallel with one pipeline per worker, giving identical results for any thread count.

use crate::calcium::{CalciumParams, calcium_arcs};
use crate::catheter::{
    CatheterParams, CatheterWorkspace, angular_median_profile, find_catheter_with, ringdown_end_sample,
    suppress_ringdown,
};
use crate::contour::Contour;
use crate::error::{Error, check_positive, check_range};
use crate::filter::{SpeckleFilter, SpeckleWorkspace, SradParams, speckle_into};
use crate::geometry::{CartGeometry, PolarGeometry, angle_deg_of_point};
use crate::guidewire::{
    IvusWireParams, ShadowKind, ShadowWorkspace, WireCandidate, WireParams, detect_shadows, split_wires,
    wire_candidates_into,
};
use crate::plane::{CartImage, PolarImage};
use crate::report::{CatheterPosition, FrameResult, Quality, QualityFlag, RegionResult};
use crate::scan::PolarSampler;
use crate::segment::beside::{
    BELOW_RANGE_SD_RATIO, BESIDE_LINES, BesideWorkspace, CATHETER_MARGIN_MM, EEM_KEEP_OUT_MARGIN_MM,
    EEM_RESEARCH_MIN_AREA_RATIO, EemWorkspace, KeepOut, LUMEN_LINING_MM, LumenSide, PATENT_UNCERTAIN_DB, PolarView,
    RegionEvidence, SIDE_UNCERTAIN_Z, SPECKLE_SD_DB, TrueLumenEvidence, WALL_CONTACT_FRACTION,
    WALL_CONTACT_PROBE_SAMPLES, beside_margin_z, beside_wins, darkest_interior_mean, find_lumen_beside,
    interior_sd_ratio, partition_evidence, partition_evidence_within, patent_lumen, patent_margin_db, recentred_eem,
    refine_beside_border, region_evidence, shadowed_border_rays, wall_contact_fraction, wall_step, window_sd,
};
use crate::segment::media::{MEDIA_MAX_MM, MEDIA_MIN_MM, MediaWorkspace, media_inner_offset};
use crate::segment::path::{PathParams, PathWorkspace, optimal_closed_path};
use crate::segment::refine::{Border, RefineParams, RefineWorkspace, refine_border, refine_vessel_border_cartesian};
use crate::segment::{
    SegmentParams, SegmentWorkspace, ShadowMasks, eem_contrast, percentiles, segment_borders, smooth_circular,
};
use crate::timing::{SharedStageTimes, Stage, StageClock, StageTimes};

/// How a frame's pixels map to millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// A Cartesian frame with square pixels of this size (mm). The catheter centre is found
    /// automatically unless [`PipelineConfig::center_px`] is set.
    Cartesian {
        /// Pixel size, mm.
        mm_per_px: f64,
    },
    /// A polar frame (rows = A-lines, columns = samples) with this geometry. Sample 0 is the
    /// catheter centre. Results are expressed in the Cartesian display frame of
    /// [`polar_display_geometry`].
    Polar(PolarGeometry),
}

/// Pipeline settings. Build with [`PipelineConfig::default`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PipelineConfig {
    /// A-lines used when resampling a Cartesian frame to polar.
    pub polar_lines: usize,
    /// Deepest radius analysed, mm.
    pub max_depth_mm: f64,
    /// Fixed catheter centre `[col, row]` in pixels; `None` = detect per frame.
    pub center_px: Option<[f64; 2]>,
    /// Catheter search settings.
    pub catheter: CatheterParams,
    /// Guidewire / shadow detection settings.
    pub wire: WireParams,
    /// Border search settings.
    pub segment: SegmentParams,
    /// Speckle filter applied to the polar frame before the border search (default: SRAD,
    /// 15 iterations, serial within the frame).
    pub speckle: SpeckleFilter,
    /// How the IVUS catheter's own wire is told apart from the second wire.
    pub ivus_wire: IvusWireParams,
    /// Calcium arc detection settings.
    pub calcium: CalciumParams,
    /// Also search a true lumen *beside* the catheter (subintimal catheter position,
    /// [`crate::segment::beside`]) and report it when its evidence wins (default: on; the
    /// CLI's `--no-lumen-beside` turns it off). `catheter_position` is reported either way.
    pub lumen_beside_catheter: bool,
    /// Sub-sample localisation of the EEM after the border search
    /// ([`crate::segment::refine`]; on by default).
    pub vessel_refine: RefineParams,
    /// The same half-power localisation for a catheter-enclosing lumen
    /// ([`crate::segment::refine::Border::Lumen`], with `vessel_refine`'s windows;
    /// on by default; off when `vessel_refine.enabled` is off).
    pub lumen_refine: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            polar_lines: 360,
            max_depth_mm: 5.0,
            center_px: None,
            catheter: CatheterParams::default(),
            wire: WireParams::default(),
            segment: SegmentParams::default(),
            // Serial SRAD: frames are already processed in parallel by `process_batch`, and a
            // nested parallel filter would only add scheduling overhead (and allocations).
            speckle: SpeckleFilter::Srad(SradParams::default().with_parallel(false)),
            ivus_wire: IvusWireParams::default(),
            calcium: CalciumParams::default(),
            lumen_beside_catheter: true,
            vessel_refine: RefineParams::default(),
            lumen_refine: true,
        }
    }
}

impl PipelineConfig {
    /// Turns the search for a true lumen beside the catheter on or off.
    #[must_use]
    pub fn with_lumen_beside_catheter(mut self, on: bool) -> Self {
        self.lumen_beside_catheter = on;
        self
    }
}

impl PipelineConfig {
    /// Sets the number of A-lines used to resample Cartesian frames.
    #[must_use]
    pub fn with_polar_lines(mut self, n: usize) -> Self {
        self.polar_lines = n;
        self
    }
    /// Fixes the catheter centre instead of detecting it.
    #[must_use]
    pub fn with_center_px(mut self, center: Option<[f64; 2]>) -> Self {
        self.center_px = center;
        self
    }
    /// Sets the speckle filter.
    #[must_use]
    pub fn with_speckle(mut self, f: SpeckleFilter) -> Self {
        self.speckle = f;
        self
    }
    /// Sets the deepest radius analysed.
    #[must_use]
    pub fn with_max_depth_mm(mut self, mm: f64) -> Self {
        self.max_depth_mm = mm;
        self
    }
    /// Sets the display angle of the IVUS catheter's own wire (`None` = learn it per frame, and
    /// over a sequence with [`crate::guidewire::WireSequence`]).
    #[must_use]
    pub fn with_ivus_wire_deg(mut self, angle_deg: Option<f64>) -> Self {
        self.ivus_wire.angle_deg = angle_deg;
        self
    }
    /// Sets the sub-sample EEM localisation ([`crate::segment::refine`]).
    #[must_use]
    pub fn with_vessel_refine(mut self, p: RefineParams) -> Self {
        self.vessel_refine = p;
        self
    }
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        self.ivus_wire.validate()?;
        self.vessel_refine.validate()?;
        if !(64..=4096).contains(&self.polar_lines) {
            return Err(Error::param("polar_lines", format!("must be within [64, 4096], got {}", self.polar_lines)));
        }
        check_range("max_depth_mm", self.max_depth_mm, 1.0, 50.0)?;
        if let Some([c, r]) = self.center_px {
            if !c.is_finite() || !r.is_finite() {
                return Err(Error::param("center_px", "must be finite"));
            }
        }
        check_positive("wire_radius_mm", self.wire.wire_radius_mm)?;
        self.speckle.validate()?;
        check_range("catheter.max_radius_mm", self.catheter.max_radius_mm, 0.05, 3.0)?;
        check_range("catheter.min_radius_mm", self.catheter.min_radius_mm, 0.01, self.catheter.max_radius_mm)?;
        Ok(())
    }
}

/// Lumen or vessel region contrast (speckle standard deviations, see
/// [`crate::segment::PolarBorders`]) below which [`QualityFlag::LowContrast`] is set. On the
/// tuning phantoms 98 % of lumens score above 1.5 and every vessel above 1.9.
///
/// Low contrast only flags a frame: the contrast is a poor judge of tight lumens whose interior
/// lies in the ring-down (one such tuning frame scores −1.3 with Jaccard 0.74), so borders are
/// withheld (`null` plus [`QualityFlag::NoLumenFound`] / [`QualityFlag::NoVesselFound`]) only
/// when the frame has no intensity structure at all ([`crate::segment::MIN_SPREAD`]) or no
/// admissible closed border exists.
pub const LOW_CONTRAST_SD: f32 = 1.5;

/// Accepted pixel / sample sizes, mm: `[MIN_MM_PER_PX, MAX_MM_PER_PX]` (0.1 µm to 1 mm; IVUS
/// frames are 5–50 µm per pixel). Outside this range the pixel arithmetic (sample counts from
/// millimetre distances) overflows or degenerates, so such calibrations are parameter errors.
pub const MIN_MM_PER_PX: f64 = 1e-4;
/// See [`MIN_MM_PER_PX`].
pub const MAX_MM_PER_PX: f64 = 1.0;

/// Largest side of the Cartesian display frame of a polar input, pixels.
pub const MAX_POLAR_DISPLAY_SIDE: usize = 2048;

/// The Cartesian frame in which results of a *polar* input are expressed (`center_px`,
/// `mm_per_px`): a square of `side = min(2 * n_samples, MAX_POLAR_DISPLAY_SIDE)` pixels with the
/// catheter at its centre `((side - 1) / 2, (side - 1) / 2)` and the imaging depth reaching the
/// border (`mm_per_px = depth / (side / 2)`, i.e. `mm_per_sample` unless capped). This is exactly
/// the image [`crate::scan::cartesian_from_polar`] renders with that `side`, so overlays drawn on
/// it line up with the results. Returns `(side, geometry)`.
pub fn polar_display_geometry(g: &PolarGeometry) -> (usize, CartGeometry) {
    let side = (2 * g.n_samples).clamp(2, MAX_POLAR_DISPLAY_SIDE);
    let c = (side as f64 - 1.0) / 2.0;
    (side, CartGeometry { center_col: c, center_row: c, mm_per_px: g.depth_mm() / (side as f64 / 2.0) })
}

/// Reusable per-frame analysis. Scratch buffers grow to the largest frame seen and are reused.
#[derive(Debug, Clone)]
pub struct Pipeline {
    config: PipelineConfig,
    sampler: Option<PolarSampler>,
    catheter_ws: CatheterWorkspace,
    polar: PolarImage,
    filtered: PolarImage,
    speckle_ws: SpeckleWorkspace,
    shadows: ShadowWorkspace,
    seg: SegmentWorkspace,
    scratch: Vec<f32>,
    profile: Vec<f32>,
    hist: Vec<u32>,
    timing: StageTimes,
    wire_cands: Vec<WireCandidate>,
    /// Per ray of the lumen beside the catheter: border undetermined (in a shadow).
    ray_mask: Vec<bool>,
    hint: String,
    beside: BesideWorkspace,
    media_ws: MediaWorkspace,
    wall_path: Vec<usize>,
    /// Per line: smallest sample of the EEM (beyond a shadow's echo), for [`segment_borders`].
    vessel_floor: Vec<usize>,
    wall_lo: Vec<usize>,
    wall_hi: Vec<usize>,
    wall_ws: PathWorkspace,
    wall_mm: Vec<f64>,
    wall_joint_mm: Vec<f64>,
    smooth_tmp: Vec<f64>,
    radii_mm: Vec<f64>,
    last_true_lumen: TrueLumenEvidence,
    lumen_in_wall: Vec<usize>,
    radii_in_wall_mm: Vec<f64>,
    refine_ws: RefineWorkspace,
    vessel_samples: Vec<f64>,
    lumen_samples: Vec<f64>,
    /// Speckle SD of the unfiltered polar frame, grey levels (set by `true_lumen`; NaN when it
    /// was not reached). The half-power refinements take their decompression from it.
    raw_sd: f64,
    /// What [`Pipeline::last_true_lumen`] still has to compute on demand.
    lazy_evidence: LazyEvidence,
    /// [`Pipeline::last_true_lumen`] once completed (reset every frame).
    true_lumen_full: std::sync::OnceLock<TrueLumenEvidence>,
    eem_ws: EemWorkspace,
    wall_recentred: Vec<usize>,
    /// Radii of the lumen beside the catheter that a second EEM search keeps clear of.
    keep_out_radii: Vec<f64>,
}

/// Diagnostic parts of [`TrueLumenEvidence`] that no decision of the frame needed, computed
/// only when [`Pipeline::last_true_lumen`] asks (issue #6: the enclosing lumen's band and
/// partition evidence cost about as much as the rest of the true-lumen stage together).
#[derive(Debug, Clone, Copy, Default)]
struct LazyEvidence {
    /// Geometry, catheter exclusion radius (mm) and speckle SD of the frame; `None` when
    /// nothing is pending.
    frame: Option<(PolarGeometry, f64, f64)>,
    /// [`TrueLumenEvidence::enclosing`] pending.
    enclosing: bool,
    /// [`TrueLumenEvidence::partition_enclosing`] pending.
    partition_enclosing: bool,
}

impl Pipeline {
    /// A pipeline with validated configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an invalid configuration.
    pub fn new(config: PipelineConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            config,
            sampler: None,
            catheter_ws: CatheterWorkspace::default(),
            polar: PolarImage::default(),
            filtered: PolarImage::default(),
            speckle_ws: SpeckleWorkspace::new(),
            shadows: ShadowWorkspace::default(),
            seg: SegmentWorkspace::default(),
            scratch: Vec::new(),
            profile: Vec::new(),
            hist: Vec::new(),
            timing: StageTimes::default(),
            wire_cands: Vec::new(),
            ray_mask: Vec::new(),
            hint: String::new(),
            beside: BesideWorkspace::default(),
            media_ws: MediaWorkspace::default(),
            wall_path: Vec::new(),
            vessel_floor: Vec::new(),
            wall_lo: Vec::new(),
            wall_hi: Vec::new(),
            wall_ws: PathWorkspace::default(),
            wall_mm: Vec::new(),
            wall_joint_mm: Vec::new(),
            smooth_tmp: Vec::new(),
            radii_mm: Vec::new(),
            last_true_lumen: TrueLumenEvidence::default(),
            lumen_in_wall: Vec::new(),
            radii_in_wall_mm: Vec::new(),
            refine_ws: RefineWorkspace::default(),
            vessel_samples: Vec::new(),
            lumen_samples: Vec::new(),
            raw_sd: f64::NAN,
            lazy_evidence: LazyEvidence::default(),
            true_lumen_full: std::sync::OnceLock::new(),
            eem_ws: EemWorkspace::default(),
            wall_recentred: Vec::new(),
            keep_out_radii: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The polar frame analysed last (after resampling), for inspection and overlays.
    pub fn last_polar(&self) -> &PolarImage {
        &self.polar
    }

    /// Shadowed A-line runs found on the last frame (geometry of [`Pipeline::last_polar`]).
    pub fn last_shadow_runs(&self) -> &[crate::guidewire::ShadowRun] {
        &self.shadows.runs
    }

    /// Border-search workspace of the last frame (cost images, borders, statistics).
    pub fn last_segmentation(&self) -> &SegmentWorkspace {
        &self.seg
    }

    /// Shadow-detection workspace of the last frame (per-line echo and shadow figures).
    pub fn last_shadows(&self) -> &ShadowWorkspace {
        &self.shadows
    }

    /// Evidence of the true-lumen hypotheses on the last frame (all zero / `None` when the
    /// search beside the catheter is off or the frame had no borders). Figures that no decision
    /// of the frame needed (the enclosing lumen's band evidence, and its partition evidence when
    /// no lumen beside the catheter was searched) are computed on the first call after a frame.
    pub fn last_true_lumen(&self) -> &TrueLumenEvidence {
        self.true_lumen_full.get_or_init(|| {
            let mut e = self.last_true_lumen;
            let lazy = self.lazy_evidence;
            let Some((geom, exclusion_mm, sd)) = lazy.frame else {
                return e;
            };
            let joint_view = PolarView {
                image: &self.seg.norm,
                geom: &geom,
                exclusion_mm,
                wall_mm: &self.wall_joint_mm,
                shadow_from_mm: &self.shadows.bridge_whole_mm,
            };
            if lazy.enclosing {
                e.enclosing = region_evidence(&joint_view, [0.0, 0.0], &self.radii_mm, sd);
            }
            if lazy.partition_enclosing {
                let view = PolarView { wall_mm: &self.wall_mm, ..joint_view };
                e.partition_enclosing = partition_evidence(&view, [0.0, 0.0], &self.radii_mm, sd);
            }
            e
        })
    }

    /// Wall-clock time per stage accumulated over the frames processed since creation (or
    /// the last [`Pipeline::reset_stage_times`]). See [`crate::timing`].
    pub fn stage_times(&self) -> &StageTimes {
        &self.timing
    }

    /// Clears the per-stage timers.
    pub fn reset_stage_times(&mut self) {
        self.timing = StageTimes::default();
    }

    /// Analyses one frame. `index` and `source` are copied into the result.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for invalid calibration, [`Error::FrameTooSmall`] for frames
    /// smaller than 32x32 pixels, [`Error::FrameShape`] for a polar frame that does not match
    /// its geometry. A frame without a visible lumen is *not* an error: it gets `lumen: null`
    /// and [`QualityFlag::NoLumenFound`].
    pub fn process(
        &mut self,
        frame: &CartImage,
        calib: Calibration,
        index: usize,
        source: &str,
    ) -> Result<FrameResult, Error> {
        self.process_inner(frame, calib, index, source, None)
    }

    /// [`Pipeline::process`] with the true lumen taken on `side` of the catheter whenever a
    /// lumen was found there, whatever the evidence says (everything else is unchanged, the
    /// quality flags included). Used by the sequence pass [`crate::pullback::sides`] to analyse
    /// a frame again with the side its neighbours agree on. Where no lumen was found on `side`
    /// (no lumen beside the catheter), the result equals [`Pipeline::process`]'s.
    ///
    /// # Errors
    /// As [`Pipeline::process`].
    pub fn process_with_side(
        &mut self,
        frame: &CartImage,
        calib: Calibration,
        index: usize,
        source: &str,
        side: LumenSide,
    ) -> Result<FrameResult, Error> {
        self.process_inner(frame, calib, index, source, Some(side))
    }

    fn process_inner(
        &mut self,
        frame: &CartImage,
        calib: Calibration,
        index: usize,
        source: &str,
        side: Option<LumenSide>,
    ) -> Result<FrameResult, Error> {
        let mut clk = StageClock::start();
        let (rows, cols) = frame.shape();
        if frame.as_slice().iter().any(|v| !v.is_finite()) {
            return Err(Error::param("pixels", "frame contains NaN or infinite values"));
        }
        let mut quality = Quality::default();
        let (geom, cart, catheter_radius_mm) = match calib {
            Calibration::Cartesian { mm_per_px } => {
                check_range("mm_per_px", mm_per_px, MIN_MM_PER_PX, MAX_MM_PER_PX)?;
                if rows < 32 || cols < 32 {
                    return Err(Error::FrameTooSmall { rows, cols, reason: "need at least 32x32 pixels".into() });
                }
                // Centre: fixed by the caller, or found (with the sheath radius) on this frame.
                let (cx, cy, found_r_mm) = match self.config.center_px {
                    Some([c, r]) => (c, r, None),
                    None => {
                        let cat = find_catheter_with(frame, mm_per_px, &self.config.catheter, &mut self.catheter_ws);
                        if !cat.found {
                            quality.flag(QualityFlag::CatheterNotFound);
                        }
                        (cat.center_col, cat.center_row, Some(cat.radius_mm))
                    }
                };
                clk.lap(&mut self.timing, Stage::Catheter);
                let geom = self.cartesian_polar_geometry(rows, cols, mm_per_px)?;
                if self.sampler.as_ref().is_none_or(|s| s.geometry() != &geom) {
                    self.sampler = Some(PolarSampler::new(geom, mm_per_px)?);
                }
                if let Some(s) = &self.sampler {
                    s.convert_into(frame, cx, cy, 0.0, &mut self.polar);
                }
                let r_mm = match found_r_mm {
                    Some(r) => r,
                    None => self.sheath_radius_mm(&geom),
                };
                (geom, CartGeometry { center_col: cx, center_row: cy, mm_per_px }, r_mm)
            }
            Calibration::Polar(g) => {
                g.validate()?;
                check_range("mm_per_sample", g.mm_per_sample, MIN_MM_PER_PX, MAX_MM_PER_PX)?;
                if (rows, cols) != (g.n_lines, g.n_samples) {
                    return Err(Error::FrameShape {
                        got_rows: rows,
                        got_cols: cols,
                        want_rows: g.n_lines,
                        want_cols: g.n_samples,
                    });
                }
                self.polar.clone_from(frame);
                let (_, cart) = polar_display_geometry(&g);
                let r_mm = self.sheath_radius_mm(&g);
                (g, cart, r_mm)
            }
        };
        clk.lap(&mut self.timing, Stage::ScanConvert);
        let mmps = geom.mm_per_sample;
        let ns = geom.n_samples;
        // Ring-down end.
        let sheath = ((catheter_radius_mm / mmps).round() as usize).min(ns - 1);
        let rd_max = (sheath + (0.4 / mmps).round() as usize).min(ns - 1);
        let rd_end =
            ringdown_end_sample(&self.polar, sheath, rd_max, &mut self.scratch, &mut self.profile).max(sheath + 1);
        let rd_to = rd_end;
        suppress_ringdown(&mut self.polar, &self.profile, sheath.saturating_sub(1), rd_to);
        clk.lap(&mut self.timing, Stage::Ringdown);
        let start = rd_end;
        let end =
            ((self.config.segment.max_vessel_radius_mm.min(self.config.max_depth_mm) / mmps) as usize).min(ns - 1);
        // Shadows and wire.
        let no_mask: [bool; 0] = [];
        let (p5, p95) =
            if start + 2 < end { percentiles(&self.polar, start, end, &no_mask, &mut self.hist) } else { (0.0, 1.0) };
        detect_shadows(
            &self.polar,
            &geom,
            (sheath + 1).min(start),
            (p95 - p5).max(1e-3),
            catheter_radius_mm,
            &self.config.wire,
            &mut self.shadows,
        );
        wire_candidates_into(
            &self.shadows,
            &geom,
            catheter_radius_mm,
            self.config.wire.wire_radius_mm,
            &mut self.wire_cands,
        );
        let calcium = calcium_arcs(&self.shadows, &geom, &self.config.calcium);
        clk.lap(&mut self.timing, Stage::Shadows);
        // Borders.
        speckle_into(&self.polar, &mut self.filtered, &self.config.speckle, &mut self.speckle_ws)?;
        clk.lap(&mut self.timing, Stage::Speckle);
        // What casts a shadow lies inside the vessel: the EEM lies beyond it. Beyond a wire, by
        // the media and the intima that lines a true lumen too ("Clearance beyond a wire" in
        // the `segment` module docs).
        self.vessel_floor.clear();
        self.vessel_floor
            .extend(self.shadows.vessel_floor_mm.iter().map(|&d| (d / geom.mm_per_sample).ceil() as usize));
        let clearance_mm = self.config.segment.media_mm + LUMEN_LINING_MM;
        for run in self.shadows.runs.iter().filter(|r| r.kind == ShadowKind::Wire) {
            for j in 0..run.n_lines {
                let l = (run.first_line + j) % self.vessel_floor.len();
                let floor_mm = self.shadows.vessel_floor_mm[l] + clearance_mm;
                self.vessel_floor[l] = (floor_mm / geom.mm_per_sample).ceil() as usize;
            }
        }
        let masks = ShadowMasks {
            lines: &self.shadows.bridge,
            lumen_lines: &self.shadows.lumen_bridge,
            vessel_floor: &self.vessel_floor,
        };
        segment_borders(&self.filtered, &geom, start, &masks, &self.config.segment, &mut self.seg);
        let (beside_c, catheter_position) = self.true_lumen(&geom, start, end, catheter_radius_mm, side);
        let lumen_beside = beside_c.is_some();
        // A catheter-enclosing lumen at the half-power point of its rise, like the EEM below
        // (the lumen beside the catheter was refined by `true_lumen`).
        self.lumen_samples.clear();
        let refine = self.refine_params();
        if !lumen_beside && self.config.lumen_refine && refine.enabled {
            refine_border(
                Border::Lumen,
                &self.polar,
                &geom,
                &self.seg.borders.lumen,
                start,
                end,
                &self.shadows.lumen_bridge,
                &refine,
                &mut self.refine_ws,
                &mut self.lumen_samples,
            );
        }
        // The EEM at the half-power point of the media → adventitia rise, from the unfiltered
        // frame ([`crate::segment::refine`]).
        match calib {
            Calibration::Cartesian { .. } => refine_vessel_border_cartesian(
                frame,
                &cart,
                &self.polar,
                &geom,
                &self.seg.borders.vessel,
                start,
                end,
                &self.shadows.bridge,
                &refine,
                &mut self.refine_ws,
                &mut self.vessel_samples,
            ),
            Calibration::Polar(_) => refine_border(
                Border::Eem,
                &self.polar,
                &geom,
                &self.seg.borders.vessel,
                start,
                end,
                &self.shadows.bridge,
                &refine,
                &mut self.refine_ws,
                &mut self.vessel_samples,
            ),
        }
        // The refined EEM keeps the path search's wall: at least `min_wall_mm` outside the
        // catheter-enclosing lumen, or (lumen beside the catheter, which is kept inside the EEM
        // minus the media) at most half the assumed media inside the path-search EEM.
        let n_v = self.vessel_samples.len();
        if n_v == self.seg.borders.vessel.len() {
            let gap = self.config.segment.min_wall_mm / mmps;
            let half_media = 0.5 * self.config.segment.media_mm / mmps;
            let enclosing = !lumen_beside && self.seg.borders.lumen.len() == n_v;
            for l in 0..n_v {
                let floor = if enclosing {
                    self.seg.borders.lumen[l] as f64 - 0.5 + gap
                } else {
                    self.seg.borders.vessel[l] as f64 - 0.5 - half_media
                };
                self.vessel_samples[l] = self.vessel_samples[l].max(floor);
            }
        }
        clk.lap(&mut self.timing, Stage::Borders);
        // Half-width of the border smoothing, A-lines.
        let smooth_half = (A_LINE_SMOOTH_DEG * self.vessel_samples.len() as f64 / 360.0).round() as usize;
        smooth_circular(&mut self.vessel_samples, smooth_half, &mut self.smooth_tmp);
        let vessel_c = contour_from_samples(&self.vessel_samples, &geom);
        let lumen_c = match beside_c {
            Some(c) => Some(c),
            None if self.lumen_samples.len() == n_v && n_v > 0 => {
                // Kept `min_wall_mm` inside the refined EEM and outside the ring-down.
                // Across shadows the border is the straight (constant-slope) bridge between
                // the lines on either side (`bridge_runs_linearly`), drawn before the smoothing
                // too: what the path did on those lines (often hugging a wire's echo) must not
                // be averaged into the lines beside them (session 13, tuning frames: lumen
                // Jaccard 0.9035 -> 0.9052 non-CTO and 0.8620 -> 0.8631 CTO, wire relative
                // angle 2.71 -> 2.33 deg and 2.21 -> 1.99 deg; tuning wire pullbacks
                // inside/outside 92.6 -> 96.3 %).
                bridge_runs_linearly(&self.shadows.lumen_bridge, &mut self.lumen_samples);
                smooth_circular(&mut self.lumen_samples, smooth_half, &mut self.smooth_tmp);
                bridge_runs_linearly(&self.shadows.lumen_bridge, &mut self.lumen_samples);
                let gap = self.config.segment.min_wall_mm / mmps;
                for (l, v) in self.lumen_samples.iter_mut().enumerate() {
                    *v = v.min(self.vessel_samples[l] - gap).max(start as f64);
                }
                contour_from_samples(&self.lumen_samples, &geom)
            }
            None => contour_from_path(&self.seg.borders.lumen, &geom),
        };
        quality.lumen_contrast = round4(self.seg.borders.lumen_contrast as f64);
        quality.vessel_contrast = round4(self.seg.borders.vessel_contrast as f64);
        let dpl = geom.deg_per_line();
        for run in &self.shadows.runs {
            match run.kind {
                ShadowKind::Wire => quality.wire_shadow_bridged_deg += run.n_lines as f64 * dpl,
                ShadowKind::Other => quality.shadow_bridged_deg += run.n_lines as f64 * dpl,
            }
        }
        quality.wire_shadow_bridged_deg = round4(quality.wire_shadow_bridged_deg);
        quality.shadow_bridged_deg = round4(quality.shadow_bridged_deg);
        if quality.wire_shadow_bridged_deg > 0.0 {
            quality.flag(QualityFlag::WireShadowBridged);
        }
        if quality.shadow_bridged_deg > 0.0 {
            quality.flag(QualityFlag::ShadowBridged);
        }
        let (lc, vc) = (self.seg.borders.lumen_contrast, self.seg.borders.vessel_contrast);
        if lc < LOW_CONTRAST_SD || vc < LOW_CONTRAST_SD {
            quality.flag(QualityFlag::LowContrast);
        }
        let lumen = lumen_c.and_then(region_result);
        let vessel = vessel_c.and_then(region_result);
        if lumen.is_none() {
            quality.flag(QualityFlag::NoLumenFound);
        }
        let catheter_position = if lumen.is_some() { catheter_position } else { CatheterPosition::Unknown };
        // Intraluminal vs intraplaque decided by a step close to the patent/occluded threshold.
        if matches!(catheter_position, CatheterPosition::Intraluminal | CatheterPosition::Intraplaque)
            && (self.last_true_lumen.patent_margin_db.abs() < PATENT_UNCERTAIN_DB
                || self.last_true_lumen.interior_hidden)
        {
            quality.flag(QualityFlag::PositionUncertain);
        }
        // Lumen round the catheter against beside it, decided by a narrow margin.
        let tl = &self.last_true_lumen;
        if catheter_position != CatheterPosition::Unknown
            && tl
                .partition_beside
                .is_some_and(|b| beside_margin_z(&tl.partition_enclosing, &b, tl.eem_gap_mm).abs() < SIDE_UNCERTAIN_Z)
        {
            quality.flag(QualityFlag::LumenSideUncertain);
        }
        if vessel.is_none() {
            quality.flag(QualityFlag::NoVesselFound);
        } else if self.seg.borders.vessel.iter().any(|&s| s + 2 >= end) {
            quality.flag(QualityFlag::VesselBeyondDepth);
        }
        let plaque_burden = match (&lumen, &vessel) {
            (Some(l), Some(v)) if v.area_mm2 > 0.0 => Some(round4((v.area_mm2 - l.area_mm2) / v.area_mm2)),
            _ => None,
        };
        if !calcium.arcs.is_empty() && (lumen.is_some() || vessel.is_some()) {
            quality.flag(QualityFlag::CalciumShadowBridged);
        }
        let result = FrameResult {
            index,
            source: source.to_string(),
            mm_per_px: cart.mm_per_px,
            center_px: [round4(cart.center_col), round4(cart.center_row)],
            catheter_radius_mm: round4(catheter_radius_mm),
            lumen,
            vessel,
            plaque_burden,
            guidewire: None,
            quality,
            catheter_position,
            ivus_wire: None,
            calcium,
            guidance: None,
            wire_candidates: Vec::new(),
        }
        .with_wires(&self.wire_cands, &self.config.ivus_wire, &mut self.hint);
        clk.lap(&mut self.timing, Stage::Measurements);
        self.timing.frames += 1;
        Ok(result)
    }

    /// True lumen wherever it lies ([`crate::segment::beside`]): compares the catheter-enclosing
    /// lumen of the last [`segment_borders`] call with the best lumen beside the catheter by
    /// their region evidence. Returns the beside-the-catheter contour when it wins, and the
    /// catheter position class. Lumen contrast for the patent/occluded decision is measured on
    /// the unfiltered frame `self.polar`. `side` overrides the comparison when both were found
    /// ([`Pipeline::process_with_side`]).
    fn true_lumen(
        &mut self,
        geom: &PolarGeometry,
        start: usize,
        end: usize,
        catheter_radius_mm: f64,
        side: Option<LumenSide>,
    ) -> (Option<Contour>, CatheterPosition) {
        let mmps = geom.mm_per_sample;
        let enclosing = &self.seg.borders.lumen;
        let sd = self.seg.speckle_sd as f64;
        self.last_true_lumen = TrueLumenEvidence::default();
        self.raw_sd = f64::NAN;
        self.lazy_evidence = LazyEvidence::default();
        self.true_lumen_full = std::sync::OnceLock::new();
        if !(sd > 0.0) || enclosing.len() != geom.n_lines {
            return (None, CatheterPosition::Unknown);
        }
        // The wall the lumen may not cross: the EEM found on its own (no lumen inside it, so it
        // may pass close to a catheter that sits in the wall) less `inset_mm` below.
        let n = geom.n_lines;
        let wm = ((self.config.segment.media_mm / mmps).round() as usize).max(2);
        let arc_mm = 1.5 * std::f64::consts::TAU / n as f64;
        let k = ((self.config.segment.max_slope * arc_mm / mmps).ceil() as usize).clamp(1, 12);
        // The border search already found it: the first search of its vessel-first order
        // (issue #6: this stage used to repeat that search over `[start + media, end]`; the
        // window differs only where no EEM lies, by a sample at the ring-down and in the
        // adventitia window at the deepest samples, whose vessel cost is zero).
        self.wall_path.clear();
        self.wall_lo.clear();
        self.wall_lo.resize(n, start);
        self.wall_hi.clear();
        self.wall_hi.resize(n, start);
        if self.config.lumen_beside_catheter && self.seg.vessel_alone.len() == n {
            self.wall_path.extend_from_slice(&self.seg.vessel_alone);
        }
        // Speckle SD of the unfiltered frame (patent/occluded, the media band).
        let w = ((0.3 / mmps).round() as usize).max(8);
        let raw_sd = window_sd(&self.polar, start, end, w, &self.shadows.bridge, &mut self.scratch) as f64;
        self.raw_sd = raw_sd;
        // The media's inner edge measured on this frame (`segment::media`), and the lining a
        // true lumen keeps inside it; the assumed thickness where no band shows.
        let media_est = if self.wall_path.len() == n {
            media_inner_offset(
                &self.polar,
                &self.wall_path,
                &self.shadows.bridge,
                start,
                mmps,
                0.5 * raw_sd,
                &mut self.media_ws,
            )
        } else {
            None
        };
        let media_mm = media_est.map(|o| (o * mmps).clamp(MEDIA_MIN_MM, MEDIA_MAX_MM));
        let inset_mm = media_mm.unwrap_or(self.config.segment.media_mm) + LUMEN_LINING_MM;
        self.wall_mm.clear();
        self.wall_mm.extend(self.wall_path.iter().map(|&s| (s as f64 * mmps - inset_mm).max(0.0)));
        // A catheter in the wall: the EEM searched again about the vessel's own centre
        // (`beside::recentred_eem`); its contrast next to the catheter-centred one is recorded
        // for `last_true_lumen`.
        let gap_alone_mm = min_gap_mm(&self.wall_path, &self.shadows.bridge, mmps, catheter_radius_mm);
        let wall_ok = self.wall_path.len() == n;
        let (mut recentred_sd, mut recentred) = ([f64::NAN; 2], false);
        // The frame without a wall limit, for the EEM searches about the vessel's centre.
        let free = PolarView {
            image: &self.seg.norm,
            geom,
            exclusion_mm: catheter_radius_mm + CATHETER_MARGIN_MM,
            wall_mm: &[],
            shadow_from_mm: &self.shadows.bridge_whole_mm,
        };
        if wall_ok
            && gap_alone_mm <= self.config.segment.subintimal_max_eem_gap_mm
            && recentred_eem(
                &free,
                &self.wall_path,
                &self.config.segment,
                None,
                &mut self.eem_ws,
                &mut self.wall_recentred,
            )
        {
            let wa = ((self.config.segment.adventitia_mm / mmps).round() as usize).max(2);
            let c_old = eem_contrast(&self.seg.norm, &self.wall_path, &self.shadows.bridge, wm, wa, sd as f32);
            let c_new = eem_contrast(&self.seg.norm, &self.wall_recentred, &self.shadows.bridge, wm, wa, sd as f32);
            recentred_sd = [c_old as f64, c_new as f64];
            // Kept whenever found: the contrast along catheter rays is no judge here (at
            // the grazing angles of an eccentric EEM its windows straddle the border; on the
            // tuning frames it preferred the wrong, catheter-centred EEM in 4 of 8 cases).
            recentred = true;
            take_recentred_wall(
                &mut self.wall_path,
                &mut self.wall_recentred,
                &self.vessel_floor,
                geom,
                inset_mm,
                &mut self.wall_mm,
            );
        }
        // Enclosing hypothesis as radii along the evidence rays.
        self.radii_mm.clear();
        for i in 0..BESIDE_LINES {
            let l = geom.line_of_angle_deg(i as f64 * 360.0 / BESIDE_LINES as f64).round() as usize % geom.n_lines;
            self.radii_mm.push((enclosing[l] as f64 - 0.5).max(0.0) * mmps);
        }
        // Each hypothesis is a (lumen, vessel) pair: the enclosing lumen is judged inside the
        // vessel found with it, the beside lumen inside the vessel found on its own.
        self.wall_joint_mm.clear();
        self.wall_joint_mm.extend(self.seg.borders.vessel.iter().map(|&s| (s as f64 * mmps - inset_mm).max(0.0)));
        let joint_view = PolarView {
            image: &self.seg.norm,
            geom,
            exclusion_mm: catheter_radius_mm + CATHETER_MARGIN_MM,
            wall_mm: &self.wall_joint_mm,
            shadow_from_mm: &self.shadows.bridge_whole_mm,
        };
        // The band evidence of the enclosing lumen is diagnostic only (`last_true_lumen`).
        let e_enclosing = RegionEvidence::default();
        let view = PolarView { wall_mm: &self.wall_mm, ..joint_view };
        // The lumen search beside the catheter also sees what lies in front of a shadow's
        // echo (a wide shadow often starts beyond the lumen); the hypotheses are judged, as
        // their constants were set, with whole shadowed lines left out.
        let search_view = PolarView { shadow_from_mm: &self.shadows.bridge_from_mm, ..view };
        // Anatomical precondition of a subintimal catheter: the EEM found on its own passes
        // close to the catheter somewhere. Without it the beside search is not run at all
        // (it could not be used), which keeps ordinary frames at the cost of one path search.
        let eem_gap_mm = min_gap_mm(&self.wall_path, &self.shadows.bridge, mmps, catheter_radius_mm).min(gap_alone_mm);
        let mut beside = self.config.lumen_beside_catheter
            && eem_gap_mm <= self.config.segment.subintimal_max_eem_gap_mm
            && find_lumen_beside(&search_view, sd, &self.config.segment, &mut self.beside);
        // A lumen stopped by the wall along much of its border: the EEM may have latched onto
        // the lumen's own far border. Searched once more about the vessel's centre with the
        // lumen kept out (`beside::KeepOut`); a clearly larger EEM replaces the old one and the
        // lumen is searched again inside it (module docs of `segment::beside`, "The wall").
        let mut researched = false;
        if beside
            && recentred
            && wall_contact_fraction(
                &search_view,
                self.beside.best.center_mm,
                &self.beside.best.radii_mm,
                WALL_CONTACT_PROBE_SAMPLES * mmps,
            ) >= WALL_CONTACT_FRACTION
        {
            self.keep_out_radii.clone_from(&self.beside.best.radii_mm);
            let keep = KeepOut {
                center_mm: self.beside.best.center_mm,
                radii_mm: &self.keep_out_radii,
                margin_mm: inset_mm + EEM_KEEP_OUT_MARGIN_MM,
            };
            let area = |w: &[usize]| w.iter().map(|&s| (s * s) as f64).sum::<f64>();
            researched = recentred_eem(
                &free,
                &self.wall_path,
                &self.config.segment,
                Some(&keep),
                &mut self.eem_ws,
                &mut self.wall_recentred,
            ) && area(&self.wall_recentred) >= EEM_RESEARCH_MIN_AREA_RATIO * area(&self.wall_path);
        }
        if researched {
            take_recentred_wall(
                &mut self.wall_path,
                &mut self.wall_recentred,
                &self.vessel_floor,
                geom,
                inset_mm,
                &mut self.wall_mm,
            );
        }
        let view = PolarView { wall_mm: &self.wall_mm, ..joint_view };
        let search_view = PolarView { shadow_from_mm: &self.shadows.bridge_from_mm, ..view };
        if researched {
            beside = find_lumen_beside(&search_view, sd, &self.config.segment, &mut self.beside);
        }
        // Both hypotheses judged on the same pixel set: the vessel interior found on its own.
        // The enclosing hypothesis at its best inside the vessel found on its own: the lumen
        // search again, its border kept `min_wall_mm` inside that vessel (the joint search may
        // have put the "lumen" on the EEM itself when the wall is thin).
        // Needed only to judge a lumen beside the catheter (otherwise `last_true_lumen`
        // computes it on demand).
        let mut p_enclosing =
            if beside { partition_evidence(&view, [0.0, 0.0], &self.radii_mm, sd) } else { RegionEvidence::default() };
        self.lazy_evidence = LazyEvidence {
            frame: Some((*geom, catheter_radius_mm + CATHETER_MARGIN_MM, sd)),
            enclosing: true,
            partition_enclosing: !beside,
        };
        if beside && self.wall_path.len() == n && self.seg.cost.rows() == n {
            let gap = ((self.config.segment.min_wall_mm / mmps).round() as usize).max(1);
            let wa = ((self.config.segment.adventitia_mm / mmps).round() as usize).max(2);
            let seg_end = ((self.config.segment.max_vessel_radius_mm / mmps) as usize).min(geom.n_samples - 1);
            let lumen_end = seg_end.saturating_sub(wa).saturating_sub(gap);
            for l in 0..n {
                self.wall_lo[l] = start;
                self.wall_hi[l] = self.wall_path[l].saturating_sub(gap).min(lumen_end).max(start);
            }
            let pp_l = PathParams { max_jump: k, jump_penalty: self.config.segment.jump_penalty };
            if optimal_closed_path(
                &self.seg.cost,
                &self.wall_lo,
                &self.wall_hi,
                pp_l,
                &mut self.wall_ws,
                &mut self.lumen_in_wall,
            )
            .is_some()
            {
                self.radii_in_wall_mm.clear();
                for i in 0..BESIDE_LINES {
                    let l = geom.line_of_angle_deg(i as f64 * 360.0 / BESIDE_LINES as f64).round() as usize % n;
                    self.radii_in_wall_mm.push((self.lumen_in_wall[l] as f64 - 0.5).max(0.0) * mmps);
                }
                let p_in_wall = partition_evidence(&view, [0.0, 0.0], &self.radii_in_wall_mm, sd);
                if p_in_wall.z > p_enclosing.z {
                    p_enclosing = p_in_wall;
                }
            }
        }
        let p_beside = if beside {
            partition_evidence(&view, self.beside.best.center_mm, &self.beside.best.radii_mm, sd)
        } else {
            RegionEvidence::default()
        };
        let within = if beside {
            partition_evidence_within(
                &view,
                Some(([0.0, 0.0], &self.radii_mm)),
                self.beside.best.center_mm,
                &self.beside.best.radii_mm,
                sd,
            )
        } else {
            RegionEvidence::default()
        };
        // Median distance from the enclosing lumen border out to the EEM found on its own.
        self.scratch.clear();
        for l in 0..n {
            if self.wall_path.len() == n && !self.shadows.bridge.get(l).copied().unwrap_or(false) {
                self.scratch.push(((self.wall_path[l] as f64 - self.seg.borders.lumen[l] as f64) * mmps) as f32);
            }
        }
        let lumen_to_eem_mm = if self.scratch.is_empty() {
            f64::INFINITY
        } else {
            let mid = self.scratch.len() / 2;
            *self.scratch.select_nth_unstable_by(mid, f32::total_cmp).1 as f64
        };
        let wa = ((self.config.segment.adventitia_mm / mmps).round() as usize).max(2);
        let eem_alone_sd =
            eem_contrast(&self.seg.norm, &self.wall_path, &self.shadows.bridge, wm, wa, sd as f32) as f64;
        let eem_joint_sd =
            eem_contrast(&self.seg.norm, &self.seg.borders.vessel, &self.shadows.bridge, wm, wa, sd as f32) as f64;
        let use_beside = beside
            && match side {
                None => beside_wins(&p_enclosing, &p_beside, eem_gap_mm),
                Some(LumenSide::Beside) => true,
                Some(LumenSide::AroundCatheter) => false,
            };
        self.last_true_lumen = TrueLumenEvidence {
            enclosing: e_enclosing,
            beside: beside.then_some(self.beside.best.evidence),
            partition_enclosing: p_enclosing,
            partition_beside: beside.then_some(p_beside),
            beside_center_mm: beside.then_some(self.beside.best.center_mm),
            use_beside,
            raw_contrast_sd: 0.0,
            dark_contrast_sd: f64::NAN,
            patent_margin_db: f64::NAN,
            eem_gap_mm,
            split_within_enclosing: within,
            lumen_to_eem_mm,
            eem_alone_sd,
            eem_joint_sd,
            eem_recentred_sd: recentred_sd,
            eem_recentred: recentred,
            eem_kept_out: researched,
            interior_hidden: false,
            media_mm,
        };
        // Patent or occluded, from the unfiltered frame in its own speckle SDs.
        // Or the enclosing lumen lies below the displayed range (clipped blood).
        let below_range = !use_beside
            && interior_sd_ratio(&self.polar, &self.seg.borders.lumen, start, &self.shadows.bridge, raw_sd)
                .is_some_and(|r| r < BELOW_RANGE_SD_RATIO);
        if use_beside {
            let raw_view = PolarView { image: &self.polar, ..view };
            let band = region_evidence(&raw_view, self.beside.best.center_mm, &self.beside.best.radii_mm, raw_sd);
            self.last_true_lumen.raw_contrast_sd = band.contrast_sd;
        } else {
            // A lumen round the catheter: its median against the whole wall's mean, and its
            // darkest depth against the same mean (the band next to the border, as used for a
            // lumen beside the catheter, holds the bright intima; it serves only when the wall
            // or the interior is too small to measure).
            let s0 = (((catheter_radius_mm + CATHETER_MARGIN_MM) / mmps).ceil() as usize).max(start);
            let media = (self.config.segment.media_mm / mmps).round() as usize;
            let borders = &self.seg.borders;
            let step = wall_step(
                &self.polar,
                &borders.lumen,
                &borders.vessel,
                s0,
                media,
                &self.shadows.bridge,
                &mut self.scratch,
            );
            let (contrast_sd, wall_mean) = match step {
                Some(st) => match st.interior_level(raw_sd) {
                    Some(level) => ((st.wall_mean - level) / raw_sd, st.wall_mean),
                    None => {
                        // No lumen shows between the catheter and the border: occluded, uncertain.
                        self.last_true_lumen.interior_hidden = true;
                        (f64::NAN, f64::NAN)
                    }
                },
                None => {
                    let raw_view = PolarView { image: &self.polar, ..joint_view };
                    let band = region_evidence(&raw_view, [0.0, 0.0], &self.radii_mm, raw_sd);
                    (band.contrast_sd, band.mean_out)
                }
            };
            self.last_true_lumen.raw_contrast_sd = contrast_sd;
            if !self.last_true_lumen.interior_hidden
                && let Some(d) = darkest_interior_mean(&self.polar, &borders.lumen, s0, &self.shadows.bridge)
            {
                self.last_true_lumen.dark_contrast_sd = (wall_mean - d) / raw_sd;
            }
        }
        let (contrast, dark) = (self.last_true_lumen.raw_contrast_sd, self.last_true_lumen.dark_contrast_sd);
        let patent = patent_lumen(contrast, dark) || below_range;
        if !use_beside && !below_range && !self.last_true_lumen.interior_hidden {
            self.last_true_lumen.patent_margin_db = patent_margin_db(contrast, dark);
        }
        if use_beside {
            // The vessel is the one found without a lumen inside it.
            if self.wall_path.len() == n {
                self.seg.borders.vessel.clone_from(&self.wall_path);
            }
            // Its border at the half-power point of the unfiltered frame, like the EEM's.
            let refine = self.refine_params();
            let db_per_grey = refine.db_per_grey.unwrap_or(f64::NAN);
            let raw_view = PolarView { image: &self.polar, ..search_view };
            refine_beside_border(&raw_view, db_per_grey, &refine, &mut self.beside);
            // Across shadows, the straight bridge between the rays beside them.
            shadowed_border_rays(&search_view, &self.beside.best, &mut self.ray_mask);
            bridge_runs_linearly(&self.ray_mask, &mut self.beside.best.radii_mm);
            let pts = self.beside.best.points_mm().map(|p| [round4(p[0]), round4(p[1])]).collect();
            (Some(Contour::new(pts)), CatheterPosition::Subintimal)
        } else if patent {
            (None, CatheterPosition::Intraluminal)
        } else {
            (None, CatheterPosition::Intraplaque)
        }
    }

    /// The half-power refinement settings for this frame: the configured ones, with the
    /// decompression (dB per grey level) from the speckle SD `true_lumen` measured on the
    /// unfiltered frame unless it is configured (the refinements would otherwise measure the
    /// same SD again, [`crate::segment::refine`]).
    fn refine_params(&self) -> RefineParams {
        let p = self.config.vessel_refine;
        let measured = (self.raw_sd > 0.0 && self.raw_sd.is_finite()).then(|| SPECKLE_SD_DB / self.raw_sd);
        RefineParams { db_per_grey: p.db_per_grey.or(measured), ..p }
    }

    /// Polar geometry used to resample a Cartesian frame: one sample per pixel, out to
    /// `max_depth_mm` or half the smaller image side (the inscribed imaging disc), whichever is
    /// smaller, so that the frame's surroundings do not enter the intensity statistics.
    fn cartesian_polar_geometry(&self, rows: usize, cols: usize, mm_per_px: f64) -> Result<PolarGeometry, Error> {
        let half_side_px = rows.min(cols) as f64 / 2.0;
        let n_samples = ((self.config.max_depth_mm / mm_per_px).min(half_side_px).ceil() as usize).max(16);
        PolarGeometry::new(self.config.polar_lines, n_samples, mm_per_px)
    }

    /// Sheath radius from the steepest rise of the angular-median profile of `self.polar`.
    fn sheath_radius_mm(&mut self, g: &PolarGeometry) -> f64 {
        let p = &self.config.catheter;
        let lo = (p.min_radius_mm / g.mm_per_sample).floor() as usize;
        let hi = ((p.max_radius_mm / g.mm_per_sample).ceil() as usize).min(g.n_samples.saturating_sub(2));
        angular_median_profile(&self.polar, hi, &mut self.scratch, &mut self.profile);
        let d = ((0.03 / g.mm_per_sample).round() as usize).max(1);
        let mut best = (f32::NEG_INFINITY, lo);
        for k in lo.max(d)..=hi.saturating_sub(d) {
            if k + d > self.profile.len() {
                break;
            }
            let rise = self.profile[k..k + d].iter().sum::<f32>() - self.profile[k - d..k].iter().sum::<f32>();
            if rise > best.0 {
                best = (rise, k);
            }
        }
        best.1 as f64 * g.mm_per_sample
    }
}

impl FrameResult {
    /// Stores `cands` as the frame's wire candidates and assigns the own and second wire
    /// from them ([`split_wires`] with the user-given own-wire angle, if any).
    fn with_wires(mut self, cands: &[WireCandidate], p: &IvusWireParams, hint: &mut String) -> Self {
        self.wire_candidates = cands.to_vec();
        let (own, second) = split_wires(cands, p.angle_deg, p);
        crate::guidance::assign_wires(&mut self, own, second, hint);
        self
    }
}

/// Half-width of the running mean over the refined catheter-centred borders (EEM and a
/// catheter-enclosing lumen, one sample per A-line), degrees. Their per-line error is mostly
/// independent from line to line (speckle left in the 10° mean profiles of the half-power
/// refinement) while the borders are smooth at that scale. Tuning frames 1000–1299
/// (`tools/tune.rs`), lumen: Jaccard CTO 0.8146 → 0.8156 / 0.8163 / 0.8164 for ±4 / 8 / 16°
/// (intraplaque 0.892 → 0.896 at ±8°), non-CTO 0.896 → 0.900; EEM at ±8°: Jaccard CTO 0.935 →
/// 0.938 (Hausdorff 0.215 → 0.195 mm), non-CTO 0.959 → 0.962 (0.147 → 0.125 mm). Held-out:
/// intraplaque lumen 0.889 → 0.892 (`tests/true_lumen.rs`); `tests/accuracy.rs` fixtures /
/// seeds 5000–5039 / polar seeds 6000–6015: lumen 0.925 / 0.937 / 0.931 → 0.930 / 0.942 /
/// 0.934, vessel 0.969 / 0.968 / 0.967 → 0.972 / 0.971 / 0.971 (Hausdorff 0.147 / 0.117 / 0.142
/// → 0.120 / 0.097 / 0.119 mm), diameter errors unchanged.
pub const A_LINE_SMOOTH_DEG: f64 = 8.0;

/// Replaces `border` (per line, fractional samples) on every run of consecutive `bridged`
/// lines (wrapping) by the straight interpolation between the lines just outside the run.
/// The path search gives shadowed lines zero cost and an L1 smoothness penalty, under which
/// every monotone bridge costs the same, so the one it returns is arbitrary (it may hug the
/// echo of the wire that casts the shadow, putting an in-lumen wire outside the lumen); the
/// straight bridge is the one a reader would draw. Nothing changes when every or no line is
/// bridged.
fn bridge_runs_linearly(bridged: &[bool], border: &mut [f64]) {
    let n = border.len();
    if n < 3 || bridged.len() != n || bridged.iter().all(|&b| b) {
        return;
    }
    let Some(first_clear) = (0..n).find(|&l| !bridged[l]) else { return };
    let mut k = 0;
    while k < n {
        let l = (first_clear + k) % n;
        if !bridged[l] {
            k += 1;
            continue;
        }
        let mut len = 0;
        while k + len < n && bridged[(first_clear + k + len) % n] {
            len += 1;
        }
        let before = border[(l + n - 1) % n];
        let after = border[(first_clear + k + len) % n];
        for j in 0..len {
            let t = (j + 1) as f64 / (len + 1) as f64;
            border[(l + j) % n] = before + t * (after - before);
        }
        k += len;
    }
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Contour in mm from a per-line border depth in (fractional) samples.
fn contour_from_samples(samples: &[f64], geom: &PolarGeometry) -> Option<Contour> {
    if samples.len() < 3 {
        return None;
    }
    let pts: Vec<[f64; 2]> = samples
        .iter()
        .enumerate()
        .map(|(l, &s)| {
            let p = geom.xy_mm(l as f64, s.max(0.0));
            [round4(p[0]), round4(p[1])]
        })
        .collect();
    let mut c = Contour::new(pts);
    // Counter-clockwise orientation, whatever the rotation direction.
    if c.signed_area_mm2() < 0.0 {
        c.points_mm.reverse();
    }
    Some(c)
}

/// Contour in mm from a per-line border (boundary half a sample before the first outside sample).
fn contour_from_path(path: &[usize], geom: &PolarGeometry) -> Option<Contour> {
    if path.len() < 3 {
        return None;
    }
    let mut pts: Vec<[f64; 2]> = path
        .iter()
        .enumerate()
        .map(|(l, &s)| {
            let p = geom.xy_mm(l as f64, (s as f64 - 0.5).max(0.0));
            [round4(p[0]), round4(p[1])]
        })
        .collect();
    let c = Contour::new(std::mem::take(&mut pts));
    // Counter-clockwise orientation, whatever the rotation direction.
    if c.signed_area_mm2() < 0.0 {
        let mut p = c.points_mm;
        p.reverse();
        return Some(Contour::new(p));
    }
    Some(c)
}

fn region_result(c: Contour) -> Option<RegionResult> {
    let area = c.area_mm2();
    if !(area > 0.0) {
        return None;
    }
    let centroid = c.centroid_mm()?;
    let d = c.diameters()?;
    let eq_diameter = c.area_equivalent_diameter_mm();
    let encloses_catheter = c.contains([0.0, 0.0]);
    Some(RegionResult {
        contour_mm: c,
        area_mm2: round4(area),
        centroid_mm: [round4(centroid[0]), round4(centroid[1])],
        // Wrapped after rounding: 359.99996 rounds to 360, outside [0, 360).
        centroid_angle_deg: crate::geometry::wrap_deg(round4(angle_deg_of_point(centroid))),
        min_diameter_mm: round4(d.min_mm),
        max_diameter_mm: round4(d.max_mm),
        mean_diameter_mm: round4(d.mean_mm),
        area_equivalent_diameter_mm: round4(eq_diameter),
        eccentricity: round4(if d.max_mm > 0.0 { (d.max_mm - d.min_mm) / d.max_mm } else { 0.0 }),
        encloses_catheter,
    })
}

/// One frame of a batch: pixels, calibration, and where it came from.
#[derive(Debug, Clone)]
pub struct BatchFrame {
    /// Pixels (Cartesian, or polar when `calib` is [`Calibration::Polar`]).
    pub image: CartImage,
    /// Calibration of this frame.
    pub calib: Calibration,
    /// Index in the whole sequence.
    pub index: usize,
    /// Source name for the report.
    pub source: String,
}

/// Analyses frames in parallel on the current rayon pool (one [`Pipeline`] per worker).
/// Results are in input order and do not depend on the number of threads.
///
/// # Errors
/// The configuration error, if any; per-frame errors are returned in place.
pub fn process_batch(config: &PipelineConfig, frames: &[BatchFrame]) -> Result<Vec<Result<FrameResult, Error>>, Error> {
    use rayon::prelude::*;
    let proto = Pipeline::new(config.clone())?;
    Ok(frames.par_iter().map_init(|| proto.clone(), |p, f| p.process(&f.image, f.calib, f.index, &f.source)).collect())
}

/// [`process_batch`] that also adds every frame's per-stage wall-clock time into `times`
/// (see [`crate::timing`]). Results are identical to [`process_batch`].
///
/// # Errors
/// As [`process_batch`].
pub fn process_batch_timed(
    config: &PipelineConfig,
    frames: &[BatchFrame],
    times: &SharedStageTimes,
) -> Result<Vec<Result<FrameResult, Error>>, Error> {
    use rayon::prelude::*;
    let proto = Pipeline::new(config.clone())?;
    Ok(frames
        .par_iter()
        .map_init(
            || proto.clone(),
            |p, f| {
                p.reset_stage_times();
                let r = p.process(&f.image, f.calib, f.index, &f.source);
                times.add(p.stage_times());
                r
            },
        )
        .collect())
}

/// Makes the re-centred EEM `recentred` the wall `path` of the true-lumen search (swapping
/// the two): kept beyond what casts a shadow (`floor`, samples), as the catheter-centred
/// search is, and `inset_mm` inside it in `wall_mm`.
fn take_recentred_wall(
    path: &mut Vec<usize>,
    recentred: &mut Vec<usize>,
    floor: &[usize],
    geom: &PolarGeometry,
    inset_mm: f64,
    wall_mm: &mut Vec<f64>,
) {
    std::mem::swap(path, recentred);
    for (w, &f) in path.iter_mut().zip(floor) {
        *w = (*w).max(f.min(geom.n_samples - 1));
    }
    wall_mm.clear();
    wall_mm.extend(path.iter().map(|&s| (s as f64 * geom.mm_per_sample - inset_mm).max(0.0)));
}

/// Smallest distance (mm) from the catheter sheath (`catheter_radius_mm`) to a border given as
/// one sample per line (`path`), over the lines not in an acoustic shadow; infinite if none.
fn min_gap_mm(path: &[usize], shadowed: &[bool], mm_per_sample: f64, catheter_radius_mm: f64) -> f64 {
    path.iter()
        .zip(shadowed)
        .filter(|(_, sh)| !**sh)
        .map(|(&s, _)| s as f64 * mm_per_sample - catheter_radius_mm)
        .fold(f64::INFINITY, f64::min)
}
