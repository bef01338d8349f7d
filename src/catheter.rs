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

/// Angular-mean profile at radii `k ∈ [from, to)` around `(cx, cy)`. `rays[k * n_rays + i]`
/// holds `(r_k * cos θ_i, r_k * sin θ_i)` (precomputed once per search, so every candidate
/// centre costs two additions per sample instead of two multiplications and two additions).
/// Samples outside the image are skipped; when the disc of the largest radius lies inside the
/// image (the usual case), no sample is checked. The arithmetic per sample is the same in both
/// paths, so the profile does not depend on which one ran.
#[allow(clippy::too_many_arguments)]
fn radial_profile(
    img: &CartImage,
    cx: f64,
    cy: f64,
    from: usize,
    to: usize,
    n_rays: usize,
    rays: &[(f64, f64)],
    out: &mut [f32],
) {
    let (h, w) = img.shape();
    let data = img.as_slice();
    let (wmax, hmax) = ((w - 1) as f64, (h - 1) as f64);
    let r_max = rays[(to - 1) * n_rays..to * n_rays].iter().map(|&(x, y)| x.abs().max(y.abs())).fold(0.0, f64::max);
    let inside = cx - r_max >= 0.0 && cy - r_max >= 0.0 && cx + r_max <= wmax && cy + r_max <= hmax;
    // `x`, `y` are within `[0, w-1] x [0, h-1]` here (checked per disc or per sample).
    let tap = |x: f64, y: f64| {
        debug_assert!(x >= 0.0 && y >= 0.0 && x <= wmax && y <= hmax);
        // SAFETY: finite and within [0, w - 1] / [0, h - 1], so representable as usize; the
        // same value `as usize` would give.
        let (xi, yi): (usize, usize) = unsafe { (x.to_int_unchecked(), y.to_int_unchecked()) };
        let x0 = xi.min(w - 2);
        let y0 = yi.min(h - 2);
        let fx = (x - x0 as f64) as f32;
        let fy = (y - y0 as f64) as f32;
        let i = y0 * w + x0;
        // SAFETY: x0 ≤ w − 2 and y0 ≤ h − 2, so i + w + 1 ≤ h·w − 1 = data.len() − 1.
        let (p00, p01, p10, p11) = unsafe {
            (
                *data.get_unchecked(i),
                *data.get_unchecked(i + 1),
                *data.get_unchecked(i + w),
                *data.get_unchecked(i + w + 1),
            )
        };
        let top = p00 + fx * (p01 - p00);
        let bot = p10 + fx * (p11 - p10);
        top + fy * (bot - top)
    };
    for (k, o) in out.iter_mut().enumerate().take(to).skip(from) {
        let ring = &rays[k * n_rays..(k + 1) * n_rays];
        let mut sum = 0.0f32;
        if inside {
            for &(rc, rs) in ring {
                sum += tap(cx + rc, cy - rs);
            }
            *o = sum / n_rays as f32;
        } else {
            let mut cnt = 0u32;
            for &(rc, rs) in ring {
                let x = cx + rc;
                let y = cy - rs;
                if x < 0.0 || y < 0.0 || x > wmax || y > hmax {
                    continue;
                }
                sum += tap(x, y);
                cnt += 1;
            }
            *o = if cnt > 0 { sum / cnt as f32 } else { 0.0 };
        }
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
    coarse_rays: Vec<(f64, f64)>,
    fine_rays: Vec<(f64, f64)>,
    grid: Vec<f32>,
}

/// Rays of the coarse and of the fine search.
const COARSE_RAYS: usize = 16;
const FINE_RAYS: usize = 48;
/// Stride of the first, sparse pass over the coarse grid, and how many of its best candidates
/// get their full-grid neighbourhood (±(stride − 1)) scored.
const COARSE_STRIDE: i64 = 3;
const COARSE_KEEP: usize = 3;
/// Half-width of the radius window of the fine search after its first level, mm.
const FINE_RADIUS_WINDOW_MM: f64 = 0.1;

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
///
/// # Cost (issue #6)
///
/// Instructions per 512x512 frame (10 mm field of view), `tools/perf_driver.rs` under
/// callgrind (inclusive cost of this function; see the README performance section):
///
/// | version | instructions / frame |
/// |---|---|
/// | before: every candidate of the 31x31 coarse grid, every radius at every fine level, `r·cos θ` per sample, every sample bounds-checked | 71.7 M |
/// | ray offsets `(r cos θ, r sin θ)` tabulated per search; no per-sample check when the disc lies inside the image | 50.7 M |
/// | + coarse grid scored sparsely (every 3rd candidate, then the full grid around the best 3); fine levels after the first only over radii within ±0.1 mm of the radius the first level found | 19.3 M |
/// | + the four bilinear taps read without bounds checks (session 4, bit-identical) | −10 %: 25.6 M → 23.1 M measured inside the session-4 pipeline |
///
/// The per-sample arithmetic is unchanged, so the centre found is bit-identical to the
/// exhaustive search whenever the exhaustive winner lies in one of the scored neighbourhoods:
/// it did on all 30 fixtures and on tuning seeds 1000–1119 (checked against the old code),
/// except seed 1111, where the old search failed (52 px off, wrong ring) and this one is
/// 0.16 px off.
///
/// Tried and not kept: candidates on an integer coarse-pixel grid with one precomputed set of
/// bilinear taps for all candidates, f32 ray coordinates, narrowing the fine radius window
/// around the *coarse* radius (7x fewer instructions, and centre errors as good or better on
/// tuning seeds 1000–1199, but every centre moved by 0.1–0.3 px, which flipped three fixture
/// accuracy bars that sit within 0.001 of their limits; narrowing around the coarse radius
/// also lost seed 1158, whose steepest rise sits on the wrong ring until the centre has moved
/// by a pixel or two).
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
    let coarse = Scorer::new(cmm, params, &ws.coarse_dirs, &mut ws.coarse_rays, 0.04);
    let step = (params.min_radius_mm / cmm / 2.0).max(1.0);
    let (ccx, ccy) = (to_coarse(c0.0), to_coarse(c0.1));
    let n = ((half / f as f64) / step).ceil() as i64;
    // Coarse grid, scored sparsely: every COARSE_STRIDE-th candidate first, then the full grid
    // around the best few of those. The winner is the best scored candidate in scan order, as
    // if the whole grid had been scored (the score varies smoothly over a few grid steps).
    let side = (2 * n + 1) as usize;
    let grid = &mut ws.grid;
    grid.clear();
    grid.resize(side * side, f32::NAN);
    let mut score_at = |i: i64, j: i64, grid: &mut Vec<f32>| {
        let g = &mut grid[(i + n) as usize * side + (j + n) as usize];
        if g.is_nan() {
            *g = coarse.score(cimg, ccx + i as f64 * step, ccy + j as f64 * step, prof).0;
        }
        *g
    };
    let mut top = [(f32::NEG_INFINITY, 0i64, 0i64); COARSE_KEEP];
    for i in (-n..=n).filter(|i| i.rem_euclid(COARSE_STRIDE) == 0) {
        for j in (-n..=n).filter(|j| j.rem_euclid(COARSE_STRIDE) == 0) {
            let sc = score_at(i, j, grid);
            if let Some(pos) = top.iter().position(|t| sc > t.0) {
                top.copy_within(pos..COARSE_KEEP - 1, pos + 1);
                top[pos] = (sc, i, j);
            }
        }
    }
    for &(sc, ti, tj) in &top {
        if sc.is_finite() {
            for i in (ti - COARSE_STRIDE + 1).max(-n)..=(ti + COARSE_STRIDE - 1).min(n) {
                for j in (tj - COARSE_STRIDE + 1).max(-n)..=(tj + COARSE_STRIDE - 1).min(n) {
                    score_at(i, j, grid);
                }
            }
        }
    }
    let mut best = (f32::NEG_INFINITY, (ccx, ccy));
    for i in -n..=n {
        for j in -n..=n {
            let sc = grid[(i + n) as usize * side + (j + n) as usize];
            if sc > best.0 {
                best = (sc, (ccx + i as f64 * step, ccy + j as f64 * step));
            }
        }
    }
    // Fine: full resolution, shrinking windows.
    // The first level looks at every radius; later levels only within ±0.1 mm of the sheath
    // radius it found.
    let mut fine = Scorer::new(mm_per_px, params, &ws.fine_dirs, &mut ws.fine_rays, 0.01);
    let mut centre = (from_coarse(best.1.0), from_coarse(best.1.1));
    let mut best_fine = fine.score(img, centre.0, centre.1, prof);
    let mut level = 0;
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
        if level == 0 {
            let r_mm = best_fine.1 as f64 * fine.step_mm;
            fine.narrow(r_mm - FINE_RADIUS_WINDOW_MM, r_mm + FINE_RADIUS_WINDOW_MM);
        }
        level += 1;
        step /= 3.0;
        radius = step * 2.0;
    }
    let (rise, k) = best_fine;
    fine.widen(params);
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
    /// `(r_k cos θ, r_k sin θ)`, radius-major, for every radius `0..n_r` and ray.
    rays: &'a [(f64, f64)],
    n_rays: usize,
    step_mm: f64,
    n_r: usize,
    k_lo: usize,
    k_hi: usize,
    /// Sampled radii `[from, to)` (those the rise test over `[k_lo, k_hi]` can look at).
    from: usize,
    to: usize,
    d: usize,
}

impl<'a> Scorer<'a> {
    fn new(
        mm_per_px: f64,
        params: &CatheterParams,
        dirs: &[(f64, f64)],
        rays: &'a mut Vec<(f64, f64)>,
        radial_step_mm: f64,
    ) -> Self {
        let step_px = (radial_step_mm / mm_per_px).max(0.5);
        let step_mm = step_px * mm_per_px;
        let n_r = ((params.max_radius_mm + 0.15) / step_mm).ceil() as usize + 2;
        let d = ((0.03 / step_mm).round() as usize).max(1);
        rays.clear();
        for k in 0..n_r {
            let r = k as f64 * step_px;
            rays.extend(dirs.iter().map(|&(c, s)| (r * c, r * s)));
        }
        let mut sc = Self { rays: &rays[..], n_rays: dirs.len(), step_mm, n_r, k_lo: 0, k_hi: 0, from: 0, to: n_r, d };
        sc.widen(params);
        sc
    }

    /// Rise searched over the whole radius range of `params`; every radius sampled.
    fn widen(&mut self, params: &CatheterParams) {
        self.k_lo = (params.min_radius_mm / self.step_mm).floor() as usize;
        self.k_hi = (params.max_radius_mm / self.step_mm).ceil() as usize;
        self.from = self.k_lo.saturating_sub(self.d);
        self.to = self.n_r;
    }

    /// Rise searched only within `[lo_mm, hi_mm]` (intersected with the current range), and
    /// only the radii that rise test reads are sampled.
    fn narrow(&mut self, lo_mm: f64, hi_mm: f64) {
        let lo = ((lo_mm.max(0.0) / self.step_mm).floor() as usize).max(self.k_lo);
        let hi = ((hi_mm.max(0.0) / self.step_mm).ceil() as usize).min(self.k_hi);
        if lo <= hi {
            self.k_lo = lo;
            self.k_hi = hi;
            self.from = lo.saturating_sub(self.d);
            self.to = (hi + self.d).min(self.n_r);
        }
    }

    fn profile(&self, img: &CartImage, cx: f64, cy: f64, prof: &mut Vec<f32>) {
        prof.resize(self.n_r, 0.0);
        prof.fill(0.0);
        radial_profile(img, cx, cy, self.from, self.to, self.n_rays, self.rays, prof);
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
