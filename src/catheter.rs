//! Catheter centre and radius on a Cartesian frame, and the ring-down zone in polar frames.
//!
//! Rotational IVUS images are rotationally symmetric about the catheter: the sheath and its
//! ring-down form concentric bright rings around a dark core. When a candidate centre is the
//! true one, the angular mean of the image as a function of radius shows a sharp rise at the
//! sheath; off-centre the rings smear and the rise flattens. We therefore maximise the
//! steepest rise of the angular-mean radial profile over candidate centres, coarse to fine,
//! within a window around the image centre. This is the "radial symmetry" idea of Loy &
//! Zelinsky ("Fast radial symmetry for detecting points of interest", IEEE TPAMI
//! 25(8):959–973, 2003) specialised to one known structure (concentric rings of unknown
//! radius); it needs no edge thresholds, so it adapts to gain and dynamic range.
//!
//! The ring-down end (where the bright catheter echoes give way to tissue or blood) is found
//! in the polar frame from the angular *median* profile, which ring-down dominates because it
//! is identical on all A-lines while tissue varies.

use crate::plane::{CartImage, PolarImage};

/// Settings for [`find_catheter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatheterParams {
    /// Smallest sheath radius considered, mm.
    pub min_radius_mm: f64,
    /// Largest sheath radius considered, mm.
    pub max_radius_mm: f64,
    /// Half-width of the centre search window as a fraction of the smaller image side.
    pub search_fraction: f64,
}

impl Default for CatheterParams {
    fn default() -> Self {
        Self { min_radius_mm: 0.2, max_radius_mm: 0.9, search_fraction: 0.15 }
    }
}

/// The catheter as found on a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Catheter {
    /// Centre column, px.
    pub center_col: f64,
    /// Centre row, px.
    pub center_row: f64,
    /// Sheath radius (steepest rise of the radial profile), mm.
    pub radius_mm: f64,
    /// Whether a clear ring was found; `false` means the image centre was assumed.
    pub found: bool,
}

/// Angular-mean profile sampled at `n_r` radii `r_k = k * step_px` around `(cx, cy)`.
fn radial_profile(
    img: &CartImage,
    cx: f64,
    cy: f64,
    step_px: f64,
    from: usize,
    n_r: usize,
    dirs: &[(f64, f64)],
    out: &mut [f32],
) {
    let (h, w) = img.shape();
    let data = img.as_slice();
    for (k, o) in out.iter_mut().enumerate().take(n_r).skip(from) {
        let r = k as f64 * step_px;
        let mut sum = 0.0f32;
        let mut cnt = 0u32;
        for &(c, s) in dirs {
            let x = cx + r * c;
            let y = cy - r * s;
            if x < 0.0 || y < 0.0 || x > (w - 1) as f64 || y > (h - 1) as f64 {
                continue;
            }
            let x0 = (x as usize).min(w - 2);
            let y0 = (y as usize).min(h - 2);
            let fx = (x - x0 as f64) as f32;
            let fy = (y - y0 as f64) as f32;
            let i = y0 * w + x0;
            let top = data[i] + fx * (data[i + 1] - data[i]);
            let bot = data[i + w] + fx * (data[i + w + 1] - data[i + w]);
            sum += top + fy * (bot - top);
            cnt += 1;
        }
        *o = if cnt > 0 { sum / cnt as f32 } else { 0.0 };
    }
}

/// Steepest rise of a profile between indices `[k_lo, k_hi]`, over a step of `d` samples.
/// Returns `(rise, index at the middle of the rise)`.
fn steepest_rise(p: &[f32], k_lo: usize, k_hi: usize, d: usize) -> (f32, usize) {
    let mut best = (f32::NEG_INFINITY, k_lo);
    for k in k_lo.max(d)..=k_hi.min(p.len().saturating_sub(d + 1)) {
        let after: f32 = p[k..k + d].iter().sum();
        let before: f32 = p[k - d..k].iter().sum();
        let rise = (after - before) / d as f32;
        if rise > best.0 {
            best = (rise, k);
        }
    }
    best
}

/// Scratch space for [`find_catheter_with`]: the downsampled copy, the radial profile and the
/// ray directions. Grows to the largest frame seen; results never depend on it.
#[derive(Debug, Default, Clone)]
pub struct CatheterWorkspace {
    coarse: CartImage,
    prof: Vec<f32>,
    coarse_dirs: Vec<(f64, f64)>,
    fine_dirs: Vec<(f64, f64)>,
}

/// Rays of the coarse and of the fine search.
const COARSE_RAYS: usize = 16;
const FINE_RAYS: usize = 48;

/// Finds the catheter on a Cartesian frame (convenience form of [`find_catheter_with`]).
pub fn find_catheter(img: &CartImage, mm_per_px: f64, params: &CatheterParams) -> Catheter {
    find_catheter_with(img, mm_per_px, params, &mut CatheterWorkspace::default())
}

/// Finds the catheter on a Cartesian frame. Falls back to the image centre (with
/// `found = false`) when no ring stands out. Allocates nothing once `ws` has seen a frame of
/// this size.
///
/// Search: a coarse grid on a copy box-downsampled to pixels of about 0.05 mm (so the window
/// costs little), then refinements at full resolution down to a quarter pixel.
pub fn find_catheter_with(
    img: &CartImage,
    mm_per_px: f64,
    params: &CatheterParams,
    ws: &mut CatheterWorkspace,
) -> Catheter {
    let (h, w) = img.shape();
    let c0 = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let fallback = Catheter { center_col: c0.0, center_row: c0.1, radius_mm: params.min_radius_mm, found: false };
    if h < 8 || w < 8 || !(mm_per_px > 0.0) {
        return fallback;
    }
    let half = params.search_fraction * (h.min(w) as f64);
    // Coarse: downsample so that a pixel is at most ~0.05 mm... but at least by 1.
    let f = ((0.05 / mm_per_px).floor() as usize).clamp(1, 8);
    fill_dirs(&mut ws.coarse_dirs, COARSE_RAYS);
    fill_dirs(&mut ws.fine_dirs, FINE_RAYS);
    let (cimg, cmm) = if f > 1 {
        downsample_into(img, f, &mut ws.coarse);
        (&ws.coarse, mm_per_px * f as f64)
    } else {
        (img, mm_per_px)
    };
    let prof = &mut ws.prof;
    let to_coarse = |v: f64| (v + 0.5) / f as f64 - 0.5;
    let from_coarse = |v: f64| (v + 0.5) * f as f64 - 0.5;
    let coarse = Scorer::new(cmm, params, &ws.coarse_dirs, 0.04);
    let step = (params.min_radius_mm / cmm / 2.0).max(1.0);
    let (ccx, ccy) = (to_coarse(c0.0), to_coarse(c0.1));
    let n = ((half / f as f64) / step).ceil() as i64;
    let mut best = (f32::NEG_INFINITY, (ccx, ccy));
    for i in -n..=n {
        for j in -n..=n {
            let (cx, cy) = (ccx + i as f64 * step, ccy + j as f64 * step);
            let sc = coarse.score(cimg, cx, cy, prof).0;
            if sc > best.0 {
                best = (sc, (cx, cy));
            }
        }
    }
    // Fine: full resolution, shrinking windows.
    let fine = Scorer::new(mm_per_px, params, &ws.fine_dirs, 0.01);
    let mut centre = (from_coarse(best.1.0), from_coarse(best.1.1));
    let mut best_fine = fine.score(img, centre.0, centre.1, prof);
    let mut step = (step * f as f64 / 2.0).max(0.5);
    let mut radius = step * 2.0;
    while step >= 0.24 {
        let n = (radius / step).ceil() as i64;
        let base = centre;
        for i in -n..=n {
            for j in -n..=n {
                let (cx, cy) = (base.0 + i as f64 * step, base.1 + j as f64 * step);
                if (cx - c0.0).abs() > half || (cy - c0.1).abs() > half {
                    continue;
                }
                let sc = fine.score(img, cx, cy, prof);
                if sc.0 > best_fine.0 {
                    best_fine = sc;
                    centre = (cx, cy);
                }
            }
        }
        step /= 3.0;
        radius = step * 2.0;
    }
    let (rise, k) = best_fine;
    fine.profile(img, centre.0, centre.1, prof);
    let max_p = prof.iter().copied().fold(0.0f32, f32::max);
    let found = rise.is_finite() && max_p > 0.0 && rise > 0.15 * max_p;
    if !found {
        return fallback;
    }
    Catheter { center_col: centre.0, center_row: centre.1, radius_mm: k as f64 * fine.step_mm, found: true }
}

/// Unit directions of `rays` evenly spaced rays (computed once per workspace).
fn fill_dirs(dirs: &mut Vec<(f64, f64)>, rays: usize) {
    if dirs.len() != rays {
        dirs.clear();
        dirs.extend((0..rays).map(|i| {
            let a = i as f64 * std::f64::consts::TAU / rays as f64;
            (a.cos(), a.sin())
        }));
    }
}

/// Ring-sharpness score of candidate centres at one resolution.
struct Scorer<'a> {
    dirs: &'a [(f64, f64)],
    step_px: f64,
    step_mm: f64,
    n_r: usize,
    k_lo: usize,
    k_hi: usize,
    d: usize,
}

impl<'a> Scorer<'a> {
    fn new(mm_per_px: f64, params: &CatheterParams, dirs: &'a [(f64, f64)], radial_step_mm: f64) -> Self {
        let step_px = (radial_step_mm / mm_per_px).max(0.5);
        let step_mm = step_px * mm_per_px;
        let n_r = ((params.max_radius_mm + 0.15) / step_mm).ceil() as usize + 2;
        let k_lo = (params.min_radius_mm / step_mm).floor() as usize;
        let k_hi = (params.max_radius_mm / step_mm).ceil() as usize;
        let d = ((0.03 / step_mm).round() as usize).max(1);
        Self { dirs, step_px, step_mm, n_r, k_lo, k_hi, d }
    }

    fn profile(&self, img: &CartImage, cx: f64, cy: f64, prof: &mut Vec<f32>) {
        prof.resize(self.n_r, 0.0);
        // Only radii that the rise test can look at are sampled.
        let from = self.k_lo.saturating_sub(self.d);
        prof[..from].fill(0.0);
        radial_profile(img, cx, cy, self.step_px, from, self.n_r, self.dirs, prof);
    }

    fn score(&self, img: &CartImage, cx: f64, cy: f64, prof: &mut Vec<f32>) -> (f32, usize) {
        self.profile(img, cx, cy, prof);
        steepest_rise(prof, self.k_lo, self.k_hi, self.d)
    }
}

/// Box-downsamples by an integer factor into `out` (partial blocks at the edges are dropped).
fn downsample_into(img: &CartImage, f: usize, out: &mut CartImage) {
    let (h, w) = img.shape();
    let (hh, ww) = (h / f, w / f);
    out.resize(hh.max(1), ww.max(1));
    out.fill(0.0);
    let norm = 1.0 / (f * f) as f32;
    for r in 0..hh {
        for c in 0..ww {
            let mut acc = 0.0f32;
            for dr in 0..f {
                acc += img.row(r * f + dr)[c * f..c * f + f].iter().sum::<f32>();
            }
            *out.get_mut(r, c) = acc * norm;
        }
    }
}

/// The angular-median profile of a polar frame: for every sample `0..=max_sample` (clamped to
/// the frame), the median over all A-lines. Structures that are the same on every line
/// (ring-down, the average tissue at a depth) dominate it; a wire or shadow on a few lines
/// does not.
pub fn angular_median_profile(polar: &PolarImage, max_sample: usize, scratch: &mut Vec<f32>, out: &mut Vec<f32>) {
    let (n, ns) = polar.shape();
    out.clear();
    if n == 0 || ns == 0 {
        return;
    }
    for s in 0..=max_sample.min(ns - 1) {
        scratch.clear();
        scratch.extend((0..n).map(|l| *polar.get(l, s)));
        let (_, m, _) = scratch.select_nth_unstable_by(n / 2, f32::total_cmp);
        out.push(*m);
    }
}

/// Sample index at which the ring-down ends in a polar frame whose sample 0 is at the
/// catheter centre: beyond the sheath (steepest rise of the angular-median profile after
/// `min_sample`), the first sample where the median profile falls to within 25 % of the way
/// from its post-ring level back up to the ring peak. `max_sample` bounds the search.
pub fn ringdown_end_sample(
    polar: &PolarImage,
    min_sample: usize,
    max_sample: usize,
    scratch: &mut Vec<f32>,
    profile: &mut Vec<f32>,
) -> usize {
    let (n, ns) = polar.shape();
    let max_sample = max_sample.min(ns.saturating_sub(1));
    if n == 0 || min_sample >= max_sample {
        return min_sample.min(ns.saturating_sub(1));
    }
    angular_median_profile(polar, max_sample, scratch, profile);
    // Peak of the ring at or after min_sample.
    let mut peak = min_sample;
    for s in min_sample..=max_sample {
        if profile[s] > profile[peak] {
            peak = s;
        }
    }
    let floor = profile[peak..=max_sample].iter().copied().fold(f32::INFINITY, f32::min);
    let level = floor + 0.25 * (profile[peak] - floor);
    let mut s = peak;
    while s < max_sample && profile[s] > level {
        s += 1;
    }
    s
}

/// Removes the line-coherent part of the ring-down from a polar frame: at each depth
/// `s ∈ [from, to)`, subtracts the excess of the angular-median profile over its darkest level
/// at or beyond `to` (never adding). `profile` is the angular-median profile as computed by
/// [`ringdown_end_sample`]. Ring-down is the same on every A-line while tissue and blood vary,
/// so this keeps what differs between lines (the lumen border, a wire echo) and removes the
/// bright rings. Subtracting a reference A-line is the classic ring-down correction of
/// mechanical IVUS (see e.g. the "ring-down subtraction" of rotational systems described by
/// G. S. Mintz et al., JACC 37(5), 2001, section on artefacts).
pub fn suppress_ringdown(polar: &mut PolarImage, profile: &[f32], from: usize, to: usize) {
    let ns = polar.cols();
    let to = to.min(ns.saturating_sub(1)).min(profile.len().saturating_sub(1));
    if from >= to {
        return;
    }
    // Level to bring the rings down to: the darkest median level just beyond them.
    let base = profile[to..].iter().copied().fold(f32::INFINITY, f32::min);
    for l in 0..polar.rows() {
        let row = polar.row_mut(l);
        for s in from..to {
            let excess = profile[s] - base;
            if excess > 0.0 {
                row[s] = (row[s] - excess).max(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_image(w: usize, h: usize, cx: f64, cy: f64, r_px: f64) -> CartImage {
        CartImage::from_fn(h, w, |row, col| {
            let d = ((col as f64 - cx).powi(2) + (row as f64 - cy).powi(2)).sqrt();
            let speckle = (((row * 31 + col * 17) % 23) as f32) * 2.0;
            if d < r_px {
                5.0
            } else if d < r_px + 6.0 {
                200.0
            } else {
                60.0 + speckle
            }
        })
    }

    #[test]
    fn finds_off_centre_catheter() {
        let img = ring_image(256, 240, 140.3, 101.7, 22.0);
        let c = find_catheter(&img, 0.02, &CatheterParams::default());
        assert!(c.found);
        assert!((c.center_col - 140.3).abs() < 0.7 && (c.center_row - 101.7).abs() < 0.7, "{c:?}");
        assert!((c.radius_mm - 0.44).abs() < 0.04, "{c:?}");
    }

    #[test]
    fn flat_image_falls_back_to_centre() {
        let img = CartImage::from_fn(100, 100, |_, _| 80.0);
        let c = find_catheter(&img, 0.02, &CatheterParams::default());
        assert!(!c.found);
        assert_eq!((c.center_col, c.center_row), (49.5, 49.5));
    }
}
