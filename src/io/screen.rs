//! Screen captures: RGB frames exported from a viewer, with the circular imaging field somewhere
//! in the picture and burned-in text, dates, frame counters, scale ticks and coloured markers
//! inside and outside it.
//!
//! [`ScreenCaptureSource`] wraps any other [`FrameSource`] (image folder, multi-page TIFF,
//! DICOM secondary capture) and yields grey frames cropped to the imaging field:
//!
//! 1. **Field** ([`detect_field`], once per pullback): up to [`FIELD_FRAMES`] frames spread over
//!    the pullback are read. A pixel is *live* when its grey level varies between them (temporal
//!    standard deviation > [`LIVE_SD`]; speckle changes from frame to frame, burned-in overlays
//!    do not); with a single frame, live = not dark and not an overlay. The field centre starts
//!    at the median live position; the radius is the largest radius at which at least half of
//!    720 rays are live (text outside the field covers few rays); the centre is then corrected
//!    twice from the per-ray edge radii (`r(θ) ≈ R + d·u(θ)` for a centre off by `d`).
//! 2. **Overlays**: coloured pixels (max − min channel > [`CHROMA_MAX`]) and pixels that are
//!    white in every detection frame (burned-in text, ticks) are masked and filled from their
//!    unmasked neighbours (mean of the 3x3 neighbourhood, repeated inwards). Grey non-saturated
//!    text inside the field is not recognised and stays in the image.
//! 3. **Crop**: the output is the square around the field, pixels outside the circle set to 0.
//!    The pipeline then finds the catheter centre in it as usual.
//!
//! Calibration: `--mm-per-px` (of the capture, unchanged by the crop) or `--field-of-view-mm`
//! (diameter of the imaging circle): `mm_per_px = fov / (2 R)`.

use super::source::{FrameBuf, FrameSource, LUMA_WEIGHTS, PullbackTiming, SourceCalibration, ValueSource};
use crate::error::Error;
use crate::pipeline::Calibration;
use std::path::Path;

/// Frames used to find the field.
pub const FIELD_FRAMES: usize = 8;
/// Temporal grey-level standard deviation above which a pixel is live.
pub const LIVE_SD: f32 = 2.0;
/// Largest channel spread of a grey pixel; more is a coloured overlay.
pub const CHROMA_MAX: f32 = 40.0;
/// Grey level from which a pixel constant over the detection frames is a burned-in overlay.
pub const WHITE_MIN: f32 = 245.0;

/// The circular imaging field in the capture, pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImagingField {
    /// Centre column.
    pub center_col: f64,
    /// Centre row.
    pub center_row: f64,
    /// Radius.
    pub radius_px: f64,
}

fn is_colored(p: &[f32]) -> bool {
    let (mx, mn) = p.iter().fold((f32::MIN, f32::MAX), |(a, b), &v| (a.max(v), b.min(v)));
    mx - mn > CHROMA_MAX
}

fn luma(p: &[f32]) -> f32 {
    if p.len() == 3 { LUMA_WEIGHTS[0] * p[0] + LUMA_WEIGHTS[1] * p[1] + LUMA_WEIGHTS[2] * p[2] } else { p[0] }
}

/// Finds the imaging field from a few frames of one capture (see the module doc); also returns
/// the mask of burned-in white pixels (constant and ≥ [`WHITE_MIN`] in every frame).
///
/// # Errors
/// [`Error::Input`] naming `path` when no field is found.
pub fn detect_field(path: &Path, frames: &[FrameBuf]) -> Result<(ImagingField, Vec<bool>), Error> {
    let first = frames.first().ok_or_else(|| Error::Input { path: path.into(), reason: "no frames".into() })?;
    let (rows, cols) = first.shape();
    let ch = first.channels();
    let n = rows * cols;
    let (mut sum, mut sum2) = (vec![0f64; n], vec![0f64; n]);
    let mut colored = vec![false; n];
    let mut white = vec![true; n];
    for f in frames {
        for (p, px) in f.as_slice().chunks_exact(ch).enumerate() {
            let g = luma(px);
            sum[p] += f64::from(g);
            sum2[p] += f64::from(g) * f64::from(g);
            colored[p] |= ch == 3 && is_colored(px);
            white[p] &= g >= WHITE_MIN && !is_colored(px);
        }
    }
    let k = frames.len() as f64;
    let live: Vec<bool> = (0..n)
        .map(|p| {
            if colored[p] || white[p] {
                return false;
            }
            if frames.len() >= 2 {
                let var = (sum2[p] / k - (sum[p] / k).powi(2)).max(0.0);
                var.sqrt() > f64::from(LIVE_SD)
            } else {
                sum[p] > 10.0
            }
        })
        .collect();
    let no_field = || Error::Input {
        path: path.into(),
        reason: "screen capture: no circular imaging field found (no pixels vary between frames)".into(),
    };
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) =
        (0..n).filter(|&p| live[p]).map(|p| ((p % cols) as f64, (p / cols) as f64)).unzip();
    if xs.len() < 100 {
        return Err(no_field());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut cx, mut cy) = (median(&mut xs), median(&mut ys));
    let is_live = |x: f64, y: f64| -> bool {
        let (c, r) = (x.round(), y.round());
        c >= 0.0 && r >= 0.0 && (c as usize) < cols && (r as usize) < rows && live[r as usize * cols + c as usize]
    };
    const RAYS: usize = 720;
    let r_max = (rows.max(cols)) as f64;
    let dirs: Vec<(f64, f64)> =
        (0..RAYS).map(|a| a as f64 * std::f64::consts::TAU / RAYS as f64).map(|t| (t.cos(), t.sin())).collect();
    let mut radius = 0.0;
    for _ in 0..3 {
        // Radius: the largest radius where at least half of the rays are live.
        radius = 0.0;
        let mut r = 1.0;
        while r < r_max {
            let live_rays = dirs.iter().filter(|(dx, dy)| is_live(cx + r * dx, cy + r * dy)).count();
            if live_rays * 2 >= RAYS {
                radius = r;
            }
            r += 1.0;
        }
        if radius < 8.0 {
            return Err(no_field());
        }
        // Per-ray edge: last live radius within [0.7 R, 1.3 R]; centre correction from its first harmonic.
        let (mut sx, mut sy, mut m) = (0.0, 0.0, 0usize);
        for (dx, dy) in &dirs {
            let mut edge = None;
            let mut r = 0.7 * radius;
            while r <= 1.3 * radius {
                if is_live(cx + r * dx, cy + r * dy) {
                    edge = Some(r);
                }
                r += 0.5;
            }
            if let Some(e) = edge {
                sx += e * dx;
                sy += e * dy;
                m += 1;
            }
        }
        if m * 2 < RAYS {
            return Err(no_field());
        }
        cx += 2.0 * sx / m as f64;
        cy += 2.0 * sy / m as f64;
    }
    // The live region ends half a pixel outside the last live pixel centre.
    Ok((ImagingField { center_col: cx, center_row: cy, radius_px: radius + 0.5 }, white))
}

/// A [`FrameSource`] that crops screen captures to their imaging field and masks overlays.
pub struct ScreenCaptureSource {
    inner: Box<dyn FrameSource>,
    field: ImagingField,
    white: Vec<bool>,
    origin: (isize, isize),
    side: usize,
    fov_mm: Option<f64>,
    buf: FrameBuf,
    mask: Vec<bool>,
}

impl std::fmt::Debug for ScreenCaptureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenCaptureSource").field("path", &self.inner.path()).field("field", &self.field).finish()
    }
}

impl ScreenCaptureSource {
    /// Wraps `inner`, finding the field from up to [`FIELD_FRAMES`] of its frames.
    /// `fov_mm`: diameter of the imaging circle, mm, if known (gives the calibration).
    ///
    /// # Errors
    /// Reading errors of `inner`; [`Error::Input`] if no field is found;
    /// [`Error::Calibration`] for a NaN, zero or negative `fov_mm`.
    pub fn new(mut inner: Box<dyn FrameSource>, fov_mm: Option<f64>) -> Result<Self, Error> {
        if let Some(f) = fov_mm {
            if !(f.is_finite() && f > 0.0) {
                return Err(Error::Calibration {
                    path: inner.path().to_path_buf(),
                    reason: format!("--field-of-view-mm is {f}; it must be a finite number > 0"),
                });
            }
        }
        let n = inner.len();
        let k = n.min(FIELD_FRAMES).max(1);
        let mut frames = Vec::with_capacity(k);
        for j in 0..k {
            let mut b = FrameBuf::default();
            inner.read_frame(j * n / k, &mut b)?;
            frames.push(b);
        }
        let (field, white) = detect_field(inner.path(), &frames)?;
        let r = field.radius_px.ceil() as isize;
        let origin = (field.center_row.round() as isize - r, field.center_col.round() as isize - r);
        let side = (2 * r + 1) as usize;
        Ok(Self { inner, field, white, origin, side, fov_mm, buf: FrameBuf::default(), mask: Vec::new() })
    }

    /// The detected field.
    pub fn field(&self) -> ImagingField {
        self.field
    }

    /// Top-left corner `(row, col)` of the crop in the capture (may be negative).
    pub fn crop_origin(&self) -> (isize, isize) {
        self.origin
    }
}

impl FrameSource for ScreenCaptureSource {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn format(&self) -> String {
        format!("screen-capture/{}", self.inner.format())
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn shape(&self) -> (usize, usize) {
        (self.side, self.side)
    }
    fn frame_label(&self, i: usize) -> String {
        self.inner.frame_label(i)
    }
    fn frame_stem(&self, i: usize) -> String {
        self.inner.frame_stem(i)
    }
    fn calibration(&self) -> Option<SourceCalibration> {
        let fov = self.fov_mm?;
        Some(SourceCalibration {
            calib: Calibration::Cartesian { mm_per_px: fov / (2.0 * self.field.radius_px) },
            source: ValueSource::ImageField(format!(
                "--field-of-view-mm {fov} over a detected field diameter of {:.1} px",
                2.0 * self.field.radius_px
            )),
        })
    }
    fn imaging_field(&self) -> Option<(ImagingField, (isize, isize))> {
        Some((self.field, self.origin))
    }
    fn timing(&self) -> PullbackTiming {
        self.inner.timing()
    }
    fn read_frame(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error> {
        self.inner.read_frame(i, &mut self.buf)?;
        let (rows, cols) = self.buf.shape();
        let ch = self.buf.channels();
        let side = self.side;
        let src = self.buf.as_slice();
        let dst = out.reset(side, side, 1);
        self.mask.clear();
        self.mask.resize(side * side, false);
        let (cr, cc) = (self.field.center_row - self.origin.0 as f64, self.field.center_col - self.origin.1 as f64);
        let r2 = self.field.radius_px * self.field.radius_px;
        for y in 0..side {
            for x in 0..side {
                let (sr, sc) = (self.origin.0 + y as isize, self.origin.1 + x as isize);
                let d = &mut dst[y * side + x];
                let inside = (y as f64 - cr).powi(2) + (x as f64 - cc).powi(2) <= r2;
                if !inside || sr < 0 || sc < 0 || sr as usize >= rows || sc as usize >= cols {
                    *d = 0.0;
                    continue;
                }
                let p = sr as usize * cols + sc as usize;
                let px = &src[p * ch..(p + 1) * ch];
                if (ch == 3 && is_colored(px)) || self.white.get(p).copied().unwrap_or(false) {
                    self.mask[y * side + x] = true;
                    *d = 0.0;
                } else {
                    *d = luma(px);
                }
            }
        }
        fill_masked(dst, &mut self.mask, side);
        Ok(())
    }
}

/// Fills masked pixels with the mean of their unmasked 3x3 neighbours, layer by layer inwards.
fn fill_masked(img: &mut [f32], mask: &mut [bool], side: usize) {
    let mut todo: Vec<usize> = (0..img.len()).filter(|&p| mask[p]).collect();
    let mut updates = Vec::new();
    while !todo.is_empty() {
        updates.clear();
        for &p in &todo {
            let (y, x) = ((p / side) as isize, (p % side) as isize);
            let (mut s, mut m) = (0.0, 0);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (yy, xx) = (y + dy, x + dx);
                    if yy >= 0 && xx >= 0 && (yy as usize) < side && (xx as usize) < side {
                        let q = yy as usize * side + xx as usize;
                        if !mask[q] {
                            s += img[q];
                            m += 1;
                        }
                    }
                }
            }
            if m > 0 {
                updates.push((p, s / m as f32));
            }
        }
        if updates.is_empty() {
            break;
        }
        for &(p, v) in &updates {
            img[p] = v;
            mask[p] = false;
        }
        todo.retain(|&p| mask[p]);
    }
}
