//! The per-frame pipeline: catheter → polar resampling → speckle filter → borders →
//! guidewire → measurements. A [`Pipeline`] owns its configuration and scratch buffers and
//! processes one frame at a time; [`process_batch`] runs many frames in parallel with one
//! pipeline per worker, giving identical results for any thread count.

use crate::error::{Error, check_positive};
use crate::geometry::{CartGeometry, PolarGeometry};
use crate::plane::{CartImage, PolarImage};
use crate::report::{FrameResult, Quality, QualityFlag};

/// How a frame's pixels map to millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// A Cartesian frame with square pixels of this size (mm). The catheter centre is found
    /// automatically unless [`PipelineConfig::center_px`] is set.
    Cartesian {
        /// Pixel size, mm.
        mm_per_px: f64,
    },
    /// A polar frame (rows = A-lines, columns = samples) with this geometry. Results are
    /// expressed in the Cartesian display frame of [`polar_display_geometry`].
    Polar(PolarGeometry),
}

/// Pipeline settings. Build with [`PipelineConfig::default`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PipelineConfig {
    /// A-lines used when resampling a Cartesian frame to polar.
    pub polar_lines: usize,
    /// Fixed catheter centre `[col, row]` in pixels; `None` = detect per frame.
    pub center_px: Option<[f64; 2]>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self { polar_lines: 512, center_px: None }
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
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if !(64..=4096).contains(&self.polar_lines) {
            return Err(Error::param("polar_lines", format!("must be within [64, 4096], got {}", self.polar_lines)));
        }
        if let Some([c, r]) = self.center_px {
            if !c.is_finite() || !r.is_finite() {
                return Err(Error::param("center_px", "must be finite"));
            }
        }
        Ok(())
    }
}

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
    polar: PolarImage,
}

impl Pipeline {
    /// A pipeline with validated configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an invalid configuration.
    pub fn new(config: PipelineConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self { config, polar: PolarImage::default() })
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Analyses one frame. `index` and `source` are copied into the result.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for invalid calibration, [`Error::FrameTooSmall`] for frames
    /// smaller than 32x32 pixels (or 8x8 polar). A frame without a visible lumen is *not* an
    /// error: it gets `lumen: null` and [`QualityFlag::NoLumenFound`].
    pub fn process(&mut self, frame: &CartImage, calib: Calibration, index: usize, source: &str) -> Result<FrameResult, Error> {
        let (rows, cols) = frame.shape();
        let cart = match calib {
            Calibration::Cartesian { mm_per_px } => {
                check_positive("mm_per_px", mm_per_px)?;
                if rows < 32 || cols < 32 {
                    return Err(Error::FrameTooSmall { rows, cols, reason: "need at least 32x32 pixels".into() });
                }
                let [c, r] = self.config.center_px.unwrap_or([(cols as f64 - 1.0) / 2.0, (rows as f64 - 1.0) / 2.0]);
                CartGeometry { center_col: c, center_row: r, mm_per_px }
            }
            Calibration::Polar(g) => {
                g.validate()?;
                if (rows, cols) != (g.n_lines, g.n_samples) {
                    return Err(Error::FrameShape { got_rows: rows, got_cols: cols, want_rows: g.n_lines, want_cols: g.n_samples });
                }
                polar_display_geometry(&g).1
            }
        };
        self.polar.resize(1, 1);
        let mut quality = Quality::default();
        quality.flag(QualityFlag::NoLumenFound);
        quality.flag(QualityFlag::NoVesselFound);
        Ok(FrameResult {
            index,
            source: source.to_string(),
            mm_per_px: cart.mm_per_px,
            center_px: [cart.center_col, cart.center_row],
            catheter_radius_mm: 0.0,
            lumen: None,
            vessel: None,
            plaque_burden: None,
            guidewire: None,
            quality,
        })
    }
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
    Ok(frames
        .par_iter()
        .map_init(|| proto.clone(), |p, f| p.process(&f.image, f.calib, f.index, &f.source))
        .collect())
}
