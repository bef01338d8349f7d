//! Sub-sample localisation of the EEM (media–adventitia border) after the path search.
//!
//! # Why
//! The border search ([`super::segment_borders`]) works on the *log-compressed* image: its
//! vessel cost (dark media window against bright adventitia window) is extreme where the
//! log-compressed intensity rises fastest. The echo of a step in backscatter is the step
//! blurred by the point-spread function, and the step lies where the *mean backscattered
//! power* is half-way between the two sides (for a symmetric point-spread function the blurred
//! power profile is point-symmetric about the step; Wagner et al. \[1\]: mean power is the
//! scatterer strength convolved with the squared point-spread function). Log compression
//! stretches the dark side of that profile: with adventitia ~30 dB above the media, the
//! half-way point *in log units* lies where the power is only ~3 % of the adventitia's, about
//! 1.8 point-spread σ inside the true border. On the tuning phantoms (seeds 1000–1029) that
//! put the EEM 0.037 mm inside the truth on average (mean diameter −0.076 mm, area −5 %), on
//! every frame, and made the balloon rule of the pullback report round one size down whenever
//! the true diameter lay less than ~0.07 mm above a catalogue size.
//!
//! # Method
//! 1. *Decompression* (Prager et al. \[2\]): the display maps `20·log10(envelope)` linearly to
//!    grey levels with an unknown dynamic range. Fully developed speckle has a log-compressed
//!    standard deviation of 5.57 dB whatever the gain (Burckhardt \[3\]), so the median
//!    short-window SD of the frame's unfiltered polar image, in grey levels, gives the frame's
//!    dB per grey level. (Structure inside the windows raises the SD, interpolation of a
//!    scan-converted frame lowers it; the border found is insensitive to it: a factor 2 error
//!    moves the half-power point by about ±0.6 σ.)
//! 2. *Aligned mean profile*: around every A-line the unfiltered profiles of the lines within
//!    ±[`RefineParams::window_deg`] are aligned on the path-search border and averaged in log
//!    units (speckle averages out; for fully developed speckle the mean of the log is the log of
//!    the mean power plus a constant, which cancels in step 3). Shadowed lines are left out.
//! 3. *Half-power crossing*: the mean profile is converted to power (`10^(dB/10)`); the darkest
//!    point on the media side (within [`RefineParams::inner_mm`] inside the border) is the media
//!    level, the median over [`RefineParams::outer_mm`] beyond the border the adventitia level
//!    (a maximum would follow the speckle left in the mean and put the border ~0.01 mm too far
//!    out; a second pass starts that window at the first pass's crossing so the rise itself does
//!    not lower the level); the border is where the power first rises through the mean of the
//!    two levels going outward, linearly interpolated in power between samples. Lines without a
//!    clear rise (below [`MIN_RISE_DB`], or every line in the window shadowed) keep the
//!    path-search border (half a sample before the first outside sample).
//!
//! *Cartesian input* ([`refine_vessel_border_cartesian`]): the polar frame the pipeline
//! resamples from a Cartesian image interpolates log-compressed pixels, a blur in log units that
//! moves the half-power point outward by a fraction of a pixel (+0.02 mm in diameter at 0.03 mm
//! pixels). There the mean profile is built from the image's own pixels, binned by their signed
//! distance to the path-search border in half-pixel bins, in 36 sectors of ±`window_deg`
//! (an edge-spread function sampled finer than the pixel pitch because the curved border crosses
//! the pixel grid at every phase, like the slanted-edge method of ISO 12233).
//!
//! The path search is unchanged: this is a per-line shift within the profile window after it,
//! so the border's shape stays the search's. The result is adaptive per frame (its own
//! decompression, levels and rise) and per sector (its own mean profile); no constant is added.
//!
//! # Performance (issue #6)
//! The Cartesian refinement used to compute `hypot` and `atan2` (and two `rem_euclid`) for every
//! pixel of the vessel's bounding box and add each pixel to every sector of its window: 27.4 M
//! instructions per 512x512 frame (callgrind, `tools/perf_driver.rs 512 4`), as much as the
//! whole border search. Now (6.6 M): rows are scanned only over the columns of the annulus
//! `[r_min, r_max]` (squared radii, no `hypot`); a table over a cheap monotone pseudo-angle
//! (`diamond`, one division) gives the radial band of the lines a pixel can belong to, so most
//! annulus pixels are rejected before any angle is computed; the angle itself is a polynomial
//! `atan2` (within 1e-6°, `fastmath::atan2_deg`); pixels are summed per sector once and the sector
//! windows combined afterwards. The pixels binned are the same (up to a line or sector
//! assignment within 1e-6° of a boundary), and the accuracy figures did not change. A table of
//! pixel offsets built once per geometry was not used: the catheter centre (hence every
//! pixel's angle) is sub-pixel and changes every frame.
//!
//! # Measured (2026-11-27, `cargo run --release --example eem_bias -- START COUNT [polar]`)
//! Mean signed radial EEM error (measured − true depth along the pipeline's A-lines), before →
//! after: random phantoms seeds 1000–1029 (Cartesian) −0.037 → −0.002 mm (frame SD 0.019 →
//! 0.013 mm); seeds 3000–3059 as polar input −0.026 → +0.001 mm; patent frames of tuning
//! pullbacks (`PB=1`, 256 px over 8 mm) −0.030 → +0.010 mm. What is left on the pullbacks is
//! the decompression estimate (the scan-converted frames' speckle SD is ~1.4x too small: with
//! the true dynamic range the error is +0.006 mm) and the simulator's own scan conversion.
//!
//! # References
//! \[1\] R. F. Wagner, S. W. Smith, J. M. Sandrik, H. Lopez, "Statistics of speckle in
//!     ultrasound B-scans", IEEE Trans. Sonics and Ultrasonics 30(3):156–163, 1983.
//! \[2\] R. W. Prager, A. H. Gee, G. M. Treece, L. H. Berman, "Decompression and speckle
//!     detection for ultrasound images using the homodyned k-distribution", Pattern
//!     Recognition Letters 24(4–5):705–713, 2003. (They fit the compression from speckle
//!     statistics per image; we use only the SD of fully developed speckle.)
//! \[3\] C. B. Burckhardt, "Speckle in ultrasound B-mode scans", IEEE Trans. Sonics and
//!     Ultrasonics 25(1):1–6, 1978.

use super::beside::{SPECKLE_SD_DB, window_sd};
use crate::error::{Error, check_range};
use crate::geometry::PolarGeometry;
use crate::plane::PolarImage;

/// Settings for [`refine_border`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineParams {
    /// Whether to refine at all (`false`: the path-search border as it is).
    pub enabled: bool,
    /// Half-width of the angular window whose aligned profiles are averaged, degrees.
    pub window_deg: f64,
    /// How far inside the path-search border the media level is looked for, mm.
    pub inner_mm: f64,
    /// How far outside the path-search border the adventitia level is looked for, mm.
    pub outer_mm: f64,
    /// The display's log-compression, dB per grey level, when known (e.g. dynamic range / 255
    /// for an 8-bit display mapping the whole range); `None`: estimated per frame from speckle.
    pub db_per_grey: Option<f64>,
}

impl Default for RefineParams {
    fn default() -> Self {
        Self { enabled: true, window_deg: 10.0, inner_mm: 0.12, outer_mm: 0.15, db_per_grey: None }
    }
}

impl RefineParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        check_range("vessel_refine.window_deg", self.window_deg, 0.0, 180.0)?;
        check_range("vessel_refine.inner_mm", self.inner_mm, 0.01, 2.0)?;
        check_range("vessel_refine.outer_mm", self.outer_mm, 0.01, 2.0)?;
        if let Some(q) = self.db_per_grey {
            check_range("vessel_refine.db_per_grey", q, 1e-3, 10.0)?;
        }
        Ok(())
    }
}

/// Smallest media → adventitia rise of the mean profile that is refined, dB.
pub const MIN_RISE_DB: f64 = 6.0;

/// Reusable buffers for [`refine_border`].
#[derive(Debug, Default, Clone)]
pub struct RefineWorkspace {
    /// Aligned profile per line (`n_lines x width`), grey levels.
    profiles: Vec<f32>,
    /// Sum over the current window of the aligned profiles.
    sum: Vec<f64>,
    /// Mean profile, dB (arbitrary origin).
    mean: Vec<f64>,
    /// Pixel counts per sector and bin (Cartesian input).
    count: Vec<u32>,
    /// Display angle of every [`ANGLE_BINS`] boundary of the pseudo-angle (Cartesian input).
    bin_deg: Vec<f64>,
    /// Squared radial band of every pseudo-angle bin, mm² (Cartesian input).
    band2: Vec<(f64, f64)>,
    /// Sums and counts per bin of the pixels of each sector alone (Cartesian input).
    raw_sum: Vec<f64>,
    raw_count: Vec<u32>,
    /// Border offset per sector, mm (Cartesian input).
    sector_offset: Vec<Option<f64>>,
    /// Adventitia-window values for the median.
    level: Vec<f64>,
    /// Whether each line's profile is usable.
    valid: Vec<bool>,
    scratch: Vec<f32>,
    /// dB per grey level estimated on the last frame (0 when it could not be).
    pub db_per_grey: f64,
    /// Lines whose border was moved on the last frame.
    pub refined_lines: usize,
}

/// Which border [`refine_border`] refines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Border {
    /// The EEM: the rise from the thin dark media band ([`DarkLevel::Darkest`] inside the
    /// path-search border) to the adventitia, at least [`MIN_RISE_DB`].
    Eem,
    /// A catheter-centred **lumen** border: the same half-power crossing with the lumen's dark
    /// level (the median of the inner half of the window, [`DarkLevel::InnerMedian`]: a lumen is
    /// a wide dark region, not a thin band), a rise of [`super::beside::LUMEN_MIN_RISE_DB`]
    /// (occlusive plaque is only 6–12 dB below the wall), and only lines whose inner window
    /// stays outside the catheter and ring-down (`start`) contribute.
    ///
    /// Measured (`tools/tune.rs`, tuning seeds 1000–1299, well-placed lumens): median
    /// found/true lumen area 0.955 → 0.993 (non-CTO, patent), 0.947 → 0.988 (CTO, patent),
    /// 0.966 → 0.979 (CTO, occluded); lumen Jaccard 0.886 → 0.889 (non-CTO); held-out
    /// `tests/accuracy.rs` polar set 0.920 → 0.925, held-out CTO intraplaque
    /// (`tests/true_lumen.rs`) 0.875 → 0.881.
    Lumen,
}

/// Refines the path-search `border` `path` (per line, the first sample outside the region) to
/// a sub-sample border depth per line, written to `out_samples` as fractional sample positions
/// (depth = `out_samples[l] * mm_per_sample`). `polar` is the *unfiltered* log-compressed
/// polar frame, `start..end` the analysed depth range (for the speckle estimate), `shadowed`
/// the lines without echo information. See the module doc. When the lumen and the EEM share
/// `ws`, refine the lumen first: the workspace's per-frame figures are the last call's.
#[allow(clippy::too_many_arguments)]
pub fn refine_border(
    border: Border,
    polar: &PolarImage,
    geom: &PolarGeometry,
    path: &[usize],
    start: usize,
    end: usize,
    shadowed: &[bool],
    params: &RefineParams,
    ws: &mut RefineWorkspace,
    out_samples: &mut Vec<f64>,
) {
    let (min_rise_db, dark, inner_from) = match border {
        Border::Eem => (MIN_RISE_DB, DarkLevel::Darkest, 0),
        Border::Lumen => (super::beside::LUMEN_MIN_RISE_DB, DarkLevel::InnerMedian, start),
    };
    let (n, ns) = polar.shape();
    // 1. Decompression from the speckle SD.
    let Some(db_per_grey) = begin(polar, geom, path, start, end, shadowed, params, ws, out_samples) else {
        return;
    };
    let h = geom.mm_per_sample;
    let k_in = ((params.inner_mm / h).round() as usize).max(2);
    let k_out = ((params.outer_mm / h).round() as usize).max(2);
    // Profiles reach `k_in` further out than the adventitia window, for the second pass.
    let width = 2 * k_in + k_out + 1;
    // 2. Aligned profiles: profile[l][j] = polar[l][path[l] - k_in + j].
    ws.profiles.clear();
    ws.profiles.resize(n * width, 0.0);
    ws.valid.clear();
    ws.valid.resize(n, false);
    for l in 0..n {
        let s = path[l];
        if shadowed.get(l).copied().unwrap_or(false) || s < k_in + inner_from || s - k_in + width > ns {
            continue;
        }
        ws.profiles[l * width..(l + 1) * width].copy_from_slice(&polar.row(l)[s - k_in..s - k_in + width]);
        ws.valid[l] = true;
    }
    let half = ((params.window_deg / geom.deg_per_line()).round() as usize).min((n - 1) / 2);
    // Running window sum over lines l-half..=l+half (wrapping).
    ws.sum.clear();
    ws.sum.resize(width, 0.0);
    let mut count = 0usize;
    let add = |sum: &mut [f64], prof: &[f32], sign: f64| {
        for (a, &v) in sum.iter_mut().zip(prof) {
            *a += sign * v as f64;
        }
    };
    for d in 0..=2 * half {
        let m = (n + d - half) % n;
        if ws.valid[m] {
            add(&mut ws.sum, &ws.profiles[m * width..(m + 1) * width], 1.0);
            count += 1;
        }
    }
    for l in 0..n {
        if l > 0 {
            // Slide: drop line l-1-half, add line l+half.
            let drop = (l + n - 1 - half) % n;
            let take = (l + half) % n;
            if ws.valid[drop] {
                add(&mut ws.sum, &ws.profiles[drop * width..(drop + 1) * width], -1.0);
                count -= 1;
            }
            if ws.valid[take] {
                add(&mut ws.sum, &ws.profiles[take * width..(take + 1) * width], 1.0);
                count += 1;
            }
        }
        if count == 0 {
            continue;
        }
        // 3. Levels and half-power crossing of the mean profile.
        let inv = db_per_grey / count as f64;
        ws.mean.clear();
        ws.mean.extend(ws.sum.iter().map(|v| v * inv));
        let pos = profile_crossing(&ws.mean, k_in, k_out, min_rise_db, (dark, BrightLevel::Median), &mut ws.level);
        let Some(pos) = pos else {
            continue;
        };
        out_samples[l] = path[l] as f64 - k_in as f64 + pos;
        ws.refined_lines += 1;
    }
}

/// Start of both refinements: `out_samples` set to the path-search border (half a sample
/// before the first outside sample), the workspace's per-frame figures reset, and the frame's
/// dB per grey level (given, or from the speckle SD of the unfiltered polar frame). `None`
/// when refinement is off, the path does not fit the polar frame, or no scale can be
/// estimated: the path-search border stays.
#[allow(clippy::too_many_arguments)]
fn begin(
    polar: &PolarImage,
    geom: &PolarGeometry,
    path: &[usize],
    start: usize,
    end: usize,
    shadowed: &[bool],
    params: &RefineParams,
    ws: &mut RefineWorkspace,
    out_samples: &mut Vec<f64>,
) -> Option<f64> {
    out_samples.clear();
    out_samples.extend(path.iter().map(|&s| (s as f64 - 0.5).max(0.0)));
    ws.db_per_grey = 0.0;
    ws.refined_lines = 0;
    let n = geom.n_lines;
    if !params.enabled || path.len() != n || n == 0 || polar.rows() != n {
        return None;
    }
    let w_sd = ((0.3 / geom.mm_per_sample).round() as usize).max(8);
    let db_per_grey = match params.db_per_grey {
        Some(q) => q,
        None => SPECKLE_SD_DB / window_sd(polar, start, end, w_sd, shadowed, &mut ws.scratch) as f64,
    };
    if !(db_per_grey > 0.0 && db_per_grey.is_finite()) {
        return None;
    }
    ws.db_per_grey = db_per_grey;
    Some(db_per_grey)
}

/// Dark level of the mean profile in the half-power crossing ([`Border`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DarkLevel {
    /// The darkest point at or inside the border (a thin dark band: the media).
    Darkest,
    /// The median of the inner half of the window inside the border (a wide dark region: a
    /// lumen, whose darkest point in a mean of few profiles would follow the speckle down).
    InnerMedian,
}

/// Bright level of the mean profile in the half-power crossing, over the `k_out` values beyond
/// the border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrightLevel {
    /// Their median (robust to the speckle left in the mean; a maximum would follow the noise).
    Median,
    /// The highest 3-value running mean (a lumen lined by a thin bright layer — the intima —
    /// seen across the lateral beam, whose blur spreads the lining inward and spreads it thin:
    /// the median then sits below the lining and the crossing falls inside the border).
    Peak,
}

/// Half-power crossing of a mean profile `mean` (dB, one value per sample or bin) whose
/// path-search border lies at index `k_in`: the dark level ([`DarkLevel`]) inside `k_in`, and
/// the bright level ([`BrightLevel`]) over `k_out` values beyond the border. The first pass
/// starts that window at the path-search border, the second at the first pass's crossing, so
/// that the rise itself does not lower the level. `None` without a rise of `min_rise_db`.
pub(super) fn profile_crossing(
    mean: &[f64],
    k_in: usize,
    k_out: usize,
    min_rise_db: f64,
    (dark, bright): (DarkLevel, BrightLevel),
    level: &mut Vec<f64>,
) -> Option<f64> {
    let width = mean.len();
    if k_in + 1 >= width {
        return None;
    }
    let (mut j_lo, mut lo_db) = (0usize, f64::INFINITY);
    match dark {
        DarkLevel::Darkest => {
            for (j, &v) in mean[..=k_in].iter().enumerate() {
                if v < lo_db {
                    lo_db = v;
                    j_lo = j;
                }
            }
        }
        DarkLevel::InnerMedian => {
            j_lo = k_in / 2;
            level.clear();
            level.extend(mean[..=j_lo].iter().copied().filter(|v| v.is_finite()));
            if level.is_empty() {
                return None;
            }
            let mid = level.len() / 2;
            lo_db = *level.select_nth_unstable_by(mid, f64::total_cmp).1;
        }
    }
    let mut pos = None;
    let mut from = k_in;
    for _pass in 0..2 {
        let to = (from + k_out).min(width - 1);
        level.clear();
        level.extend(mean[from..=to].iter().copied().filter(|v| v.is_finite()));
        if level.is_empty() {
            break;
        }
        // The peak when asked for and defined (a window of 3 finite values), else the median.
        let peak = match bright {
            BrightLevel::Median => f64::NEG_INFINITY,
            BrightLevel::Peak => mean[from..=to]
                .windows(3)
                .map(|w| (w[0] + w[1] + w[2]) / 3.0)
                .filter(|v| v.is_finite())
                .fold(f64::NEG_INFINITY, f64::max),
        };
        let hi_db = if peak.is_finite() {
            peak
        } else {
            let mid = level.len() / 2;
            *level.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        if !(hi_db - lo_db >= min_rise_db) {
            break;
        }
        let Some(c) = half_power_crossing(mean, j_lo, lo_db, hi_db) else {
            break;
        };
        pos = Some(c);
        from = (c.ceil() as usize).clamp(k_in, width - 1);
    }
    pos
}

/// Where the mean profile `mean_db` (dB) first rises, going outward from `j_lo`, through the
/// power half-way between `lo_db` and `hi_db`; linear interpolation of the power between
/// samples. `None` if it never does.
fn half_power_crossing(mean_db: &[f64], j_lo: usize, lo_db: f64, hi_db: f64) -> Option<f64> {
    // Powers relative to the bright level (no overflow for any gain).
    let power = |j: usize| 10f64.powf((mean_db[j] - hi_db) / 10.0);
    let target = 0.5 * (10f64.powf((lo_db - hi_db) / 10.0) + 1.0);
    let mut prev = power(j_lo);
    for j in j_lo + 1..mean_db.len() {
        let p = power(j);
        if p >= target {
            let frac = if p > prev { ((target - prev) / (p - prev)).clamp(0.0, 1.0) } else { 1.0 };
            return Some((j - 1) as f64 + frac);
        }
        prev = p;
    }
    None
}

use super::fastmath::atan2_deg;

/// Bins of the pseudo-angle [`diamond`] over a revolution (Cartesian refinement).
const ANGLE_BINS: usize = 1024;

/// Pseudo-angle of `(x, y)` in `[0, 4)`: increases with the display angle like it (one unit per
/// quadrant) but costs one division. NaN at the origin.
#[inline]
fn diamond(y: f64, x: f64) -> f64 {
    if y >= 0.0 {
        if x >= 0.0 { y / (x + y) } else { 1.0 - x / (y - x) }
    } else if x < 0.0 {
        2.0 - y / (-x - y)
    } else {
        3.0 + x / (x - y)
    }
}

/// The [`ANGLE_BINS`] bin of [`diamond`] (0 at the origin).
#[inline]
fn diamond_bin(y: f64, x: f64) -> usize {
    ((diamond(y, x) * (ANGLE_BINS as f64 / 4.0)) as usize).min(ANGLE_BINS - 1)
}

/// Display angle (degrees, `[0, 360]`) of the point with pseudo-angle `p` ∈ `[0, 4]`.
fn diamond_deg(p: f64) -> f64 {
    let q = p.floor().min(3.0);
    let f = p - q;
    let (x, y) = match q as u8 {
        0 => (1.0 - f, f),
        1 => (-f, 1.0 - f),
        2 => (-(1.0 - f), -f),
        _ => (f, -(1.0 - f)),
    };
    let a = y.atan2(x).to_degrees();
    if a < 0.0 || (a == 0.0 && p > 2.0) { a + 360.0 } else { a }
}

/// Sectors of [`refine_vessel_border_cartesian`] per revolution (centres 360/n apart; each
/// gathers pixels within ±[`RefineParams::window_deg`] of its centre).
const CART_SECTORS: usize = 36;
/// Bins of the edge-spread profile per pixel.
const BINS_PER_PX: f64 = 2.0;

/// [`refine_border`] for a frame that arrived as a *Cartesian* image: the mean profile
/// across the border is built from the image's own pixels binned by their signed distance to
/// the path-search border (half-pixel bins), instead of from the polar frame resampled from it.
/// The resampling interpolates the log-compressed pixels, which blurs the edge in log units;
/// unlike a blur of the power it moves the half-power point outward (by up to ~0.01 mm at
/// 0.03 mm pixels on the tuning phantoms). Pixels whose distances to the border vary
/// continuously around the vessel sample the edge finely without interpolation (the
/// "slanted-edge" edge-spread function of ISO 12233, here along a curved edge).
///
/// `cart` is the frame with its catheter centre and pixel size `cg`; `geom`, `path`,
/// `shadowed` and the output are as in [`refine_border`] (the polar frame resampled
/// from `cart`). Sector offsets are interpolated linearly in angle between sector centres.
#[allow(clippy::too_many_arguments)]
pub fn refine_vessel_border_cartesian(
    cart: &crate::plane::CartImage,
    cg: &crate::geometry::CartGeometry,
    polar: &PolarImage,
    geom: &PolarGeometry,
    path: &[usize],
    start: usize,
    end: usize,
    shadowed: &[bool],
    params: &RefineParams,
    ws: &mut RefineWorkspace,
    out_samples: &mut Vec<f64>,
) {
    let n = geom.n_lines;
    let Some(db_per_grey) = begin(polar, geom, path, start, end, shadowed, params, ws, out_samples) else {
        return;
    };
    let h = geom.mm_per_sample;
    let px = cg.mm_per_px;
    let bin_mm = px / BINS_PER_PX;
    let k_in = ((params.inner_mm / bin_mm).round() as usize).max(2);
    let k_out = ((params.outer_mm / bin_mm).round() as usize).max(2);
    let width = 2 * k_in + k_out + 1;
    let inner_ext = k_in as f64 * bin_mm;
    // Sums and counts per sector and bin.
    ws.sum.clear();
    ws.sum.resize(CART_SECTORS * width, 0.0);
    ws.count.clear();
    ws.count.resize(CART_SECTORS * width, 0);
    let border_mm = |l: usize| (path[l] as f64 - 0.5).max(0.0) * h;
    let r_max = path.iter().map(|&s| s as f64 * h).fold(0.0, f64::max) + width as f64 * bin_mm;
    let r_min = path.iter().map(|&s| s as f64 * h).fold(f64::INFINITY, f64::min) - inner_ext - bin_mm;
    let (rows, cols) = cart.shape();
    let row0 = ((cg.center_row - r_max / px).floor().max(0.0)) as usize;
    let row1 = ((cg.center_row + r_max / px).ceil().max(0.0) as usize).min(rows.saturating_sub(1));
    let col0 = ((cg.center_col - r_max / px).floor().max(0.0)) as usize;
    let col1 = ((cg.center_col + r_max / px).ceil().max(0.0) as usize).min(cols.saturating_sub(1));
    let sector_deg = 360.0 / CART_SECTORS as f64;
    let half_sectors = (params.window_deg / sector_deg).round().max(0.0) as isize;
    // Pixels are binned by their own sector first (`raw`), and the sectors' windows summed
    // afterwards: the same sums as adding every pixel to each sector of its window.
    ws.raw_sum.clear();
    ws.raw_sum.resize(CART_SECTORS * width, 0.0);
    ws.raw_count.clear();
    ws.raw_count.resize(CART_SECTORS * width, 0);
    // Fractional line index of a display angle in [0, 360): `line0 + ang * dir`, wrapped once.
    let line0 = geom.line_of_angle_deg(0.0);
    let dir = geom.rotation.sign() / geom.deg_per_line();
    let nf = n as f64;
    let (r_min2, r_max2) = (r_min.max(0.0).powi(2), r_max * r_max);
    let hole = r_min > 0.0;
    // Radial band `[border - inner_ext, border - inner_ext + width · bin_mm]` of the lines a
    // pixel can belong to, per bin of the pseudo-angle `diamond` (squared radii, widened by
    // 1e-9 mm): most annulus pixels lie outside their band and are rejected without an angle.
    if ws.bin_deg.len() != ANGLE_BINS + 1 {
        ws.bin_deg.clear();
        ws.bin_deg.extend((0..=ANGLE_BINS).map(|b| diamond_deg(4.0 * b as f64 / ANGLE_BINS as f64)));
    }
    ws.band2.clear();
    let band_mm = width as f64 * bin_mm;
    for b in 0..ANGLE_BINS {
        let (fa, fb) = (line0 + (ws.bin_deg[b] - 1e-6) * dir, line0 + (ws.bin_deg[b + 1] + 1e-6) * dir);
        let (l0, l1) = ((fa.min(fb) + 0.5).floor() as i64, (fa.max(fb) + 0.5).floor() as i64);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for l in l0..=l1 {
            let l = l.rem_euclid(n as i64) as usize;
            if !shadowed.get(l).copied().unwrap_or(false) {
                let a = border_mm(l) - inner_ext;
                lo = lo.min(a - 1e-9);
                hi = hi.max(a + band_mm + 1e-9);
            }
        }
        ws.band2.push(if lo <= hi { (lo.max(0.0).powi(2), hi * hi) } else { (f64::INFINITY, f64::NEG_INFINITY) });
    }
    for row in row0..=row1 {
        let y = -(row as f64 - cg.center_row) * px;
        let y2 = y * y;
        if y2 > r_max2 {
            continue;
        }
        // Columns whose pixels can lie in the annulus [r_min, r_max]: at most two runs, each
        // widened by a pixel (the exact test is per pixel).
        let xo = (r_max2 - y2).sqrt() / px;
        let xi = if hole && r_min2 > y2 { (r_min2 - y2).sqrt() / px } else { -2.0 };
        let clamp = |c: f64| c.clamp(col0 as f64, col1 as f64) as usize;
        let (a0, a1) = (clamp((cg.center_col - xo).floor() - 1.0), clamp((cg.center_col - xi).ceil() + 1.0));
        let (b0, b1) = (clamp((cg.center_col + xi).floor() - 1.0), clamp((cg.center_col + xo).ceil() + 1.0));
        let runs = if a1 + 1 >= b0 { [(a0, b1), (1, 0)] } else { [(a0, a1), (b0, b1)] };
        let src = cart.row(row);
        for (c0, c1) in runs {
            for col in c0..=c1 {
                let x = (col as f64 - cg.center_col) * px;
                let r2 = x * x + y2;
                if r2 < r_min2 || r2 > r_max2 {
                    continue;
                }
                let (b_lo2, b_hi2) = ws.band2[diamond_bin(y, x)];
                if r2 < b_lo2 || r2 > b_hi2 {
                    continue;
                }
                let r = r2.sqrt();
                let ang = atan2_deg(y, x);
                let mut fl = line0 + ang * dir;
                if fl < 0.0 {
                    fl += nf;
                } else if fl >= nf {
                    fl -= nf;
                }
                // `fl` ≥ 0: rounding half away from zero.
                let l = ((fl + 0.5) as usize) % n;
                if shadowed.get(l).copied().unwrap_or(false) {
                    continue;
                }
                let d = r - border_mm(l) + inner_ext;
                if d < 0.0 {
                    continue;
                }
                let bin = (d / bin_mm) as usize;
                if bin >= width {
                    continue;
                }
                let c = ((ang / sector_deg + 0.5) as usize) % CART_SECTORS;
                ws.raw_sum[c * width + bin] += src[col] as f64;
                ws.raw_count[c * width + bin] += 1;
            }
        }
    }
    for k in 0..CART_SECTORS as isize {
        for j in k - half_sectors..=k + half_sectors {
            let j = j.rem_euclid(CART_SECTORS as isize) as usize;
            let (dst, src) = (k as usize * width, j * width);
            for b in 0..width {
                ws.sum[dst + b] += ws.raw_sum[src + b];
                ws.count[dst + b] += ws.raw_count[src + b];
            }
        }
    }
    // Offset (mm, relative to the path-search border) per sector.
    ws.sector_offset.clear();
    for k in 0..CART_SECTORS {
        ws.mean.clear();
        let mut last = f64::NAN;
        let mut empty = 0usize;
        for b in 0..width {
            let c = ws.count[k * width + b];
            if c > 0 {
                last = ws.sum[k * width + b] / c as f64 * db_per_grey;
            } else {
                empty += 1;
            }
            ws.mean.push(last);
        }
        // Leading empty bins take the first value.
        if let Some(first) = ws.mean.iter().copied().find(|v| v.is_finite()) {
            ws.mean.iter_mut().take_while(|v| !v.is_finite()).for_each(|v| *v = first);
        }
        let ok = empty * 4 <= width && ws.mean.iter().all(|v| v.is_finite());
        let off = if ok {
            profile_crossing(
                &ws.mean,
                k_in,
                k_out,
                MIN_RISE_DB,
                (DarkLevel::Darkest, BrightLevel::Median),
                &mut ws.level,
            )
        } else {
            None
        };
        // Bin `b` covers distances [b, b + 1) * bin_mm - inner_ext; its centre is at b + 0.5.
        ws.sector_offset.push(off.map(|c| (c + 0.5) * bin_mm - inner_ext));
    }
    for l in 0..n {
        let ang = geom.angle_deg_of_line(l as f64);
        let f = ang / sector_deg;
        let k0 = f.floor() as usize % CART_SECTORS;
        let k1 = (k0 + 1) % CART_SECTORS;
        let t = f - f.floor();
        let off = match (ws.sector_offset[k0], ws.sector_offset[k1]) {
            (Some(a), Some(b)) => Some(a + t * (b - a)),
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b),
            (None, None) => None,
        };
        if let Some(o) = off {
            out_samples[l] = ((border_mm(l) + o) / h).max(0.0);
            ws.refined_lines += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A polar frame whose every line has a dark lumen up to sample `step` (25 dB below the
    /// wall), the power blurred by a Gaussian point-spread function of `sigma` samples and
    /// log-compressed over 60 dB to 0–255.
    fn blurred_step(n: usize, ns: usize, step: f64, sigma: f64) -> PolarImage {
        let lo = 10f64.powf(-25.0 / 10.0);
        let mut data = Vec::with_capacity(n * ns);
        for _ in 0..n {
            for s in 0..ns {
                // Mean power = step response of the Gaussian (error function), by quadrature.
                let mut p = 0.0;
                let mut wsum = 0.0;
                for k in -60..=60 {
                    let u = s as f64 + k as f64 * 0.1;
                    let w = (-(k as f64 * 0.1).powi(2) / (2.0 * sigma * sigma)).exp();
                    p += w * if u < step { lo } else { 1.0 };
                    wsum += w;
                }
                let db = 10.0 * (p / wsum).log10();
                data.push(((db + 60.0) * 255.0 / 60.0) as f32);
            }
        }
        crate::plane::Plane::from_vec(n, ns, data).unwrap()
    }

    #[test]
    fn lumen_border_moves_from_the_log_midpoint_to_the_half_power_point() {
        let (n, ns, step) = (64, 200, 80.0);
        let geom = PolarGeometry::new(n, ns, 0.01).unwrap();
        let polar = blurred_step(n, ns, step, 4.0);
        // The path search's answer on such an edge: where the log-compressed profile is half-way
        // between its two levels, well inside the true border.
        let row = polar.row(0);
        let mid = 0.5 * (row[20] + row[180]);
        let s_mid = (0..ns).find(|&s| row[s] >= mid).unwrap();
        assert!(step - (s_mid as f64 - 0.5) > 3.0, "log midpoint {s_mid} should lie inside the step");
        let path = vec![s_mid; n];
        let params = RefineParams { db_per_grey: Some(60.0 / 255.0), ..RefineParams::default() };
        let mut ws = RefineWorkspace::default();
        let mut out = Vec::new();
        refine_border(Border::Lumen, &polar, &geom, &path, 10, 190, &[], &params, &mut ws, &mut out);
        assert_eq!(ws.refined_lines, n);
        for &o in &out {
            assert!((o - step).abs() < 0.5, "refined border {o:.2} samples, true {step}");
        }
        // A line inside the ring-down (`start`) window is left as the path search had it.
        let mut ws2 = RefineWorkspace::default();
        refine_border(Border::Lumen, &polar, &geom, &path, s_mid, 190, &[], &params, &mut ws2, &mut out);
        assert_eq!(ws2.refined_lines, 0);
    }

    /// A dark lumen (−20 dB) lined by a bright layer (+6 dB over the plaque beyond it, 8
    /// samples thick) from sample 50, the whole profile blurred (Gaussian, σ 3 samples) in
    /// power: the median bright level sits below the lining and puts the half-power crossing
    /// ~2.4 samples inside the border; the peak level brings it to within one sample.
    #[test]
    fn peak_bright_level_undoes_the_inward_pull_of_a_blurred_bright_lining() {
        let (edge, sigma) = (50.0, 3.0);
        let power = |u: f64| {
            if u < edge {
                0.01
            } else if u < edge + 8.0 {
                4.0
            } else {
                1.0
            }
        };
        let mean: Vec<f64> = (0..120)
            .map(|s| {
                let (mut p, mut w) = (0.0, 0.0);
                for k in -300..=300 {
                    let d = k as f64 * 0.1;
                    let g = (-d * d / (2.0 * sigma * sigma)).exp();
                    p += g * power(s as f64 + d);
                    w += g;
                }
                10.0 * (p / w).log10()
            })
            .collect();
        // Path-search border 8 samples inside; 20 samples inside, 20 beyond.
        let (k_in, k_out) = (20usize, 20usize);
        let from = 42 - k_in;
        let window = &mean[from..from + 2 * k_in + k_out + 1];
        let at = |bright| {
            let mut level = Vec::new();
            profile_crossing(window, k_in, k_out, 3.0, (DarkLevel::InnerMedian, bright), &mut level).unwrap()
                + from as f64
        };
        let (median, peak) = (at(BrightLevel::Median), at(BrightLevel::Peak));
        assert!(edge - median > 2.0, "median level crossing {median:.2} should lie inside the edge {edge}");
        assert!((peak - edge).abs() < 1.0, "peak level crossing {peak:.2}, edge {edge}");
    }

    #[test]
    fn diamond_bins_follow_the_angle() {
        let edges: Vec<f64> = (0..=ANGLE_BINS).map(|b| diamond_deg(4.0 * b as f64 / ANGLE_BINS as f64)).collect();
        assert_eq!(edges[0], 0.0);
        assert!((edges[ANGLE_BINS] - 360.0).abs() < 1e-9);
        assert!(edges.windows(2).all(|w| w[1] > w[0]));
        for i in 0..4000 {
            let a = (i as f64 * 0.09 + 0.013).to_radians();
            let (x, y) = (3.0 * a.cos(), 3.0 * a.sin());
            let b = diamond_bin(y, x);
            let deg = atan2_deg(y, x);
            assert!(edges[b] - 1e-9 <= deg && deg <= edges[b + 1] + 1e-9, "{deg} not in bin {b}");
        }
    }
}
