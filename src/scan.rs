//! Scan conversion between Cartesian and polar frames, both ways, with bilinear
//! interpolation and sampling maps built once per geometry.
//!
//! * [`PolarSampler`] resamples a Cartesian frame around a (per-frame) catheter centre into a
//!   polar frame. The map is separable: per-line `cos`/`sin` and per-sample radius in pixels are
//!   precomputed, so a frame costs one multiply-add pair plus a bilinear tap per polar pixel, and
//!   the centre can change from frame to frame without rebuilding anything.
//! * [`CartesianSampler`] renders a polar frame into a Cartesian image. Its map stores, per output
//!   pixel, the top-left source index and the two bilinear weights.
//!
//! Border rules: the angle axis wraps (line `n-1` borders line 0); depth beyond the last sample
//! and Cartesian positions outside the source image take the `fill` value. Bilinear weights are
//! convex, so output never overshoots the input range (no ringing at the catheter ring).
//!
//! Angles follow the crate conventions ([`crate::geometry`]): line angles come from
//! [`PolarGeometry::angle_deg_of_line`], displayed counter-clockwise from +x, +y up.
//!
//! # Performance (issue #6)
//!
//! Session 3: branch-free Cartesian → polar loop (clamped coordinates, unchecked truncation),
//! compiled a second time with AVX2: 0.68 ms for 512x512 → 512 lines x 256 samples; polar →
//! Cartesian 0.43–0.50 ms for 512x512 (targets ≤ 0.5 ms each, single-threaded).
//!
//! Session 4 (`cargo run --release --example kernel_driver -- all 60`, minimum of 60 runs, one
//! thread, load average 6 on 2 cores, the old build timed in the same minute). perf showed the
//! old loops ran scalar (the compiler does not vectorise data-dependent loads):
//! * Cartesian → polar **0.69 → 0.21 ms**: explicit AVX2, 8 samples of a line per vector;
//!   the bilinear taps `(x0, x0+1)` of the top and bottom rows are adjacent, so each pair is
//!   one 8-byte element of a 4-lane gather (two 4-lane gathers per row pair instead of four
//!   8-lane gathers: 0.30 ms with the latter);
//! * polar → Cartesian **0.42 → 0.32 ms**: the map became a structure of arrays (flat
//!   `u32` tap index, two `f32` weights: 12 instead of 16 bytes per pixel) read 8 pixels at a
//!   time, taps again fetched as pairs. With 8-lane gathers it stayed at 0.42 ms (gather-bound).
//!
//! Both SIMD loops use the portable loops' operations in the same order (no fused
//! multiply-add), so the output is bit-identical (`tests::avx2_matches_portable`,
//! `tests::p2c_avx2_matches_portable`); CPUs without AVX2 run the portable loops. Not tried:
//! 16-bit fixed-point weights (8 bytes per map entry; changes the rounding).

use crate::error::{Error, check_positive};
use crate::geometry::PolarGeometry;
use crate::plane::{CartImage, PolarImage};

/// Precomputed Cartesian → polar resampling for one polar geometry and pixel size.
#[derive(Debug, Clone)]
pub struct PolarSampler {
    geom: PolarGeometry,
    /// Per line: (cos, -sin) of the display angle, so that `col = cx + r*cos`, `row = cy + r*(-sin)`.
    dirs: Vec<(f32, f32)>,
    /// Per sample: radius in Cartesian pixels.
    radius_px: Vec<f32>,
}

impl PolarSampler {
    /// Builds the map for `geom` and a Cartesian pixel size of `mm_per_px`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an invalid geometry or pixel size.
    pub fn new(geom: PolarGeometry, mm_per_px: f64) -> Result<Self, Error> {
        geom.validate()?;
        check_positive("mm_per_px", mm_per_px)?;
        let dirs = (0..geom.n_lines)
            .map(|l| {
                let a = geom.angle_deg_of_line(l as f64).to_radians();
                (a.cos() as f32, (-a.sin()) as f32)
            })
            .collect();
        let radius_px = (0..geom.n_samples).map(|s| (geom.depth_mm_of_sample(s as f64) / mm_per_px) as f32).collect();
        Ok(Self { geom, dirs, radius_px })
    }

    /// The polar geometry produced.
    pub fn geometry(&self) -> &PolarGeometry {
        &self.geom
    }

    /// Resamples `src` around `(center_col, center_row)` into `dst`, resizing `dst` to
    /// `n_lines x n_samples` (no allocation once `dst` has that size). Points outside `src`
    /// take `fill`.
    pub fn convert_into(&self, src: &CartImage, center_col: f64, center_row: f64, fill: f32, dst: &mut PolarImage) {
        dst.resize(self.geom.n_lines, self.geom.n_samples);
        let (h, w) = src.shape();
        if w < 2 || h < 2 {
            self.convert_degenerate(src, center_col, center_row, fill, dst);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { self.convert_avx2(src, center_col, center_row, fill, dst) };
            return;
        }
        self.convert_body(src, center_col, center_row, fill, dst);
    }

    /// [`Self::convert_body`] with explicit AVX2 intrinsics: 8 samples of a line per vector,
    /// the two pairs of bilinear taps fetched with 8-byte gathers. The operations are those of the portable
    /// loop in the same order (no fused multiply-add), so the output is bit-identical
    /// (`tests::avx2_matches_portable`). Images of more than 2^30 pixels take the portable loop.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn convert_avx2(&self, src: &CartImage, center_col: f64, center_row: f64, fill: f32, dst: &mut PolarImage) {
        use std::arch::x86_64::*;
        let (h, w) = src.shape();
        if h.checked_mul(w).is_none_or(|n| n > 1 << 30) {
            self.convert_body(src, center_col, center_row, fill, dst);
            return;
        }
        let data = src.as_slice();
        let ns = self.radius_px.len();
        let n_vec = ns / 8;
        let (cx, cy) = (center_col as f32, center_row as f32);
        let (wmax, hmax) = (_mm256_set1_ps(w as f32 - 1.0), _mm256_set1_ps(h as f32 - 1.0));
        let (xlast, ylast) = (_mm256_set1_ps((w - 2) as f32), _mm256_set1_ps((h - 2) as f32));
        let (vcx, vcy, zero, vfill) =
            (_mm256_set1_ps(cx), _mm256_set1_ps(cy), _mm256_setzero_ps(), _mm256_set1_ps(fill));
        let vw = _mm256_set1_epi32(w as i32);
        for (l, &(c, s)) in self.dirs.iter().enumerate() {
            let out = dst.row_mut(l);
            let (vc, vs) = (_mm256_set1_ps(c), _mm256_set1_ps(s));
            for v in 0..n_vec {
                // SAFETY: `v * 8 + 8 <= ns` for the radius load and the store (`out` has `ns`
                // samples); the gather indices are `y0 * w + x0 (+ 1, + w, + w + 1)` with
                // `x0 <= w - 2`, `y0 <= h - 2` (clamped and truncated below), all below
                // `h * w <= 2^30`.
                unsafe {
                    let r = _mm256_loadu_ps(self.radius_px.as_ptr().add(v * 8));
                    let x = _mm256_add_ps(vcx, _mm256_mul_ps(r, vc));
                    let y = _mm256_add_ps(vcy, _mm256_mul_ps(r, vs));
                    let inside = _mm256_and_ps(
                        _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(x, zero), _mm256_cmp_ps::<_CMP_GE_OQ>(y, zero)),
                        _mm256_and_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(x, wmax), _mm256_cmp_ps::<_CMP_LE_OQ>(y, hmax)),
                    );
                    // max(x, 0) is 0 for NaN, as `if x > 0 { x } else { 0 }`.
                    let xc = _mm256_min_ps(_mm256_max_ps(x, zero), xlast);
                    let yc = _mm256_min_ps(_mm256_max_ps(y, zero), ylast);
                    let (x0, y0) = (_mm256_cvttps_epi32(xc), _mm256_cvttps_epi32(yc));
                    let fx = _mm256_sub_ps(x, _mm256_cvtepi32_ps(x0));
                    let fy = _mm256_sub_ps(y, _mm256_cvtepi32_ps(y0));
                    let i = _mm256_add_epi32(_mm256_mullo_epi32(y0, vw), x0);
                    let ib = _mm256_add_epi32(i, vw);
                    let (t0, t1) = gather_pairs(data.as_ptr(), i);
                    let (b0, b1) = gather_pairs(data.as_ptr(), ib);
                    let t = _mm256_add_ps(t0, _mm256_mul_ps(fx, _mm256_sub_ps(t1, t0)));
                    let b = _mm256_add_ps(b0, _mm256_mul_ps(fx, _mm256_sub_ps(b1, b0)));
                    let val = _mm256_add_ps(t, _mm256_mul_ps(fy, _mm256_sub_ps(b, t)));
                    _mm256_storeu_ps(out.as_mut_ptr().add(v * 8), _mm256_blendv_ps(vfill, val, inside));
                }
            }
            self.convert_samples(data, w, h, cx, cy, fill, c, s, n_vec * 8, out);
        }
    }

    /// The resampling loop for images of at least 2x2 pixels. Every sample is computed
    /// branch-free from coordinates clamped into the image (inside the image the clamp changes
    /// nothing, so the value is the bilinear tap), then `fill` is selected outside; the taps of
    /// one line are gathered from rows `y0` and `y0 + 1` of the source.
    #[inline(always)]
    fn convert_body(&self, src: &CartImage, center_col: f64, center_row: f64, fill: f32, dst: &mut PolarImage) {
        let (h, w) = src.shape();
        let data = src.as_slice();
        let (cx, cy) = (center_col as f32, center_row as f32);
        for (l, &(c, s)) in self.dirs.iter().enumerate() {
            self.convert_samples(data, w, h, cx, cy, fill, c, s, 0, dst.row_mut(l));
        }
    }

    /// Samples `from..` of one line (direction `(c, s)`) for [`Self::convert_body`].
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn convert_samples(
        &self,
        data: &[f32],
        w: usize,
        h: usize,
        cx: f32,
        cy: f32,
        fill: f32,
        c: f32,
        s: f32,
        from: usize,
        out: &mut [f32],
    ) {
        let (wmax, hmax) = (w as f32 - 1.0, h as f32 - 1.0);
        let (xlast, ylast) = ((w - 2) as f32, (h - 2) as f32);
        for (o, &r) in out[from..].iter_mut().zip(&self.radius_px[from..]) {
            let x = cx + r * c;
            let y = cy + r * s;
            let inside = x >= 0.0 && y >= 0.0 && x <= wmax && y <= hmax;
            // Clamped into [0, last] first (NaN gives 0), so truncation is the old
            // `(x as usize).min(last)` for every point inside, without the saturating cast.
            let xc = if x > 0.0 { x } else { 0.0 };
            let yc = if y > 0.0 { y } else { 0.0 };
            let xc = if xc < xlast { xc } else { xlast };
            let yc = if yc < ylast { yc } else { ylast };
            // SAFETY: `xc`, `yc` are finite and within [0, 2^14) (image sides are at most
            // 16384 pixels in practice; a `usize` holds them either way), so the conversion
            // is defined.
            let (x0, y0): (usize, usize) = unsafe { (xc.to_int_unchecked(), yc.to_int_unchecked()) };
            let fx = x - x0 as f32;
            let fy = y - y0 as f32;
            let top = &data[y0 * w + x0..][..2];
            let bot = &data[(y0 + 1) * w + x0..][..2];
            let t = top[0] + fx * (top[1] - top[0]);
            let b = bot[0] + fx * (bot[1] - bot[0]);
            let v = t + fy * (b - t);
            *o = if inside { v } else { fill };
        }
    }

    /// Images narrower or shorter than 2 pixels: nearest pixel inside, `fill` outside.
    fn convert_degenerate(&self, src: &CartImage, center_col: f64, center_row: f64, fill: f32, dst: &mut PolarImage) {
        let (h, w) = src.shape();
        let data = src.as_slice();
        let (cx, cy) = (center_col as f32, center_row as f32);
        let (wmax, hmax) = (w as f32 - 1.0, h as f32 - 1.0);
        for (l, &(c, s)) in self.dirs.iter().enumerate() {
            let out = dst.row_mut(l);
            for (o, &r) in out.iter_mut().zip(&self.radius_px) {
                let x = cx + r * c;
                let y = cy + r * s;
                *o = if x >= 0.0 && y >= 0.0 && x <= wmax && y <= hmax {
                    let x0 = (x as usize).min(w.saturating_sub(2));
                    let y0 = (y as usize).min(h.saturating_sub(2));
                    data[y0 * w + x0]
                } else {
                    fill
                };
            }
        }
    }
}

/// `(p[i], p[i + 1])` for the 8 indices `i`: two 4-lane gathers of 8-byte pairs (half the
/// gather work of four 8-lane gathers), split into even and odd halves.
///
/// # Safety
/// AVX2 must be available, and `p[i]`, `p[i + 1]` readable for every lane `i`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn gather_pairs(
    p: *const f32,
    i: std::arch::x86_64::__m256i,
) -> (std::arch::x86_64::__m256, std::arch::x86_64::__m256) {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees `p[i]` and `p[i + 1]` are readable for every lane.
    unsafe {
        let lo = _mm256_castpd_ps(_mm256_i32gather_pd::<4>(p.cast(), _mm256_castsi256_si128(i)));
        let hi = _mm256_castpd_ps(_mm256_i32gather_pd::<4>(p.cast(), _mm256_extracti128_si256::<1>(i)));
        // Lanes come out as pixels 0 1 4 5 | 2 3 6 7; a 64-bit permute restores the order.
        let even = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
        let odd = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
        let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
        (fix(even), fix(odd))
    }
}

/// Tap index of an output pixel beyond the imaging depth.
const OUTSIDE: u32 = u32::MAX;

/// Precomputed polar → Cartesian rendering for one polar geometry and output image.
#[derive(Debug, Clone)]
pub struct CartesianSampler {
    geom: PolarGeometry,
    rows: usize,
    cols: usize,
    /// Per output pixel (structure of arrays, so 8 pixels load as three vectors): flat index
    /// `line * n_samples + sample` of the top-left source sample, or [`OUTSIDE`]...
    tap_index: Vec<u32>,
    /// ... the weight of the next line (wrapping) ...
    w_line: Vec<f32>,
    /// ... and the weight of the next sample.
    w_sample: Vec<f32>,
}

impl CartesianSampler {
    /// Builds the map for a `rows x cols` output with the catheter at `(center_col, center_row)`
    /// and pixel size `mm_per_px`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an invalid geometry, pixel size, centre, or an empty output.
    pub fn new(
        geom: PolarGeometry,
        rows: usize,
        cols: usize,
        center_col: f64,
        center_row: f64,
        mm_per_px: f64,
    ) -> Result<Self, Error> {
        geom.validate()?;
        check_positive("mm_per_px", mm_per_px)?;
        if rows == 0 || cols == 0 || rows > 1 << 14 || cols > 1 << 14 {
            return Err(Error::param("output size", format!("must be 1..=16384 per side, got {rows}x{cols}")));
        }
        if !center_col.is_finite() || !center_row.is_finite() {
            return Err(Error::param("center", "must be finite"));
        }
        let n = geom.n_lines as f64;
        let max_sample = (geom.n_samples - 1) as f64;
        if geom.n_lines.checked_mul(geom.n_samples).is_none_or(|n| n >= OUTSIDE as usize) {
            return Err(Error::param("polar geometry", "n_lines x n_samples must be below 2^32 - 1"));
        }
        let mut tap_index = Vec::with_capacity(rows * cols);
        let mut w_line = Vec::with_capacity(rows * cols);
        let mut w_sample = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                let x = (c as f64 - center_col) * mm_per_px;
                let y = -(r as f64 - center_row) * mm_per_px;
                let s = x.hypot(y) / geom.mm_per_sample;
                if s > max_sample {
                    tap_index.push(OUTSIDE);
                    w_line.push(0.0);
                    w_sample.push(0.0);
                    continue;
                }
                let angle = y.atan2(x).to_degrees();
                let l = geom.line_of_angle_deg(angle);
                let l0 = (l.floor() as usize).min(geom.n_lines - 1);
                let s0 = (s.floor() as usize).min(geom.n_samples - 2);
                tap_index.push((l0 * geom.n_samples + s0) as u32);
                w_line.push(((l - l0 as f64).clamp(0.0, 1.0)) as f32);
                w_sample.push(((s - s0 as f64).clamp(0.0, 1.0)) as f32);
                debug_assert!(l < n);
            }
        }
        Ok(Self { geom, rows, cols, tap_index, w_line, w_sample })
    }

    /// Output shape `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Renders `src` into `dst` (resized to the output shape; no allocation once sized).
    /// Pixels beyond the imaging depth take `fill`.
    ///
    /// # Errors
    /// [`Error::FrameShape`] if `src` is not `n_lines x n_samples`.
    pub fn convert_into(&self, src: &PolarImage, fill: f32, dst: &mut CartImage) -> Result<(), Error> {
        let (nl, ns) = (self.geom.n_lines, self.geom.n_samples);
        if src.shape() != (nl, ns) {
            return Err(Error::FrameShape { got_rows: src.rows(), got_cols: src.cols(), want_rows: nl, want_cols: ns });
        }
        dst.resize(self.rows, self.cols);
        let out = dst.as_mut_slice();
        let mut from = 0;
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            from = unsafe { self.render_avx2(src.as_slice(), fill, out) };
        }
        self.render_from(src.as_slice(), fill, from, out);
        Ok(())
    }

    /// Output pixels `from..` (portable loop).
    fn render_from(&self, data: &[f32], fill: f32, from: usize, out: &mut [f32]) {
        let (nl, ns) = (self.geom.n_lines, self.geom.n_samples);
        let total = nl * ns;
        let taps = self.tap_index[from..].iter().zip(&self.w_line[from..]).zip(&self.w_sample[from..]);
        for (o, ((&i, &wl), &ws)) in out[from..].iter_mut().zip(taps) {
            if i == OUTSIDE {
                *o = fill;
                continue;
            }
            let i0 = i as usize;
            // The next line wraps to line 0.
            let i1 = if i0 + ns >= total { i0 + ns - total } else { i0 + ns };
            let a = data[i0] + ws * (data[i0 + 1] - data[i0]);
            let b = data[i1] + ws * (data[i1 + 1] - data[i1]);
            *o = a + wl * (b - a);
        }
    }

    /// The render loop with AVX2 gathers, 8 output pixels per vector, the operations of
    /// [`Self::render_from`] in the same order (bit-identical, `tests::p2c_avx2_matches_portable`).
    /// Returns the number of pixels done (a multiple of 8; the rest is left to the portable
    /// loop). Does nothing for polar frames of 2^31 samples or more.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn render_avx2(&self, data: &[f32], fill: f32, out: &mut [f32]) -> usize {
        use std::arch::x86_64::*;
        let (nl, ns) = (self.geom.n_lines, self.geom.n_samples);
        let total = nl * ns;
        if total >= (1 << 31) - 1 || ns < 2 || data.len() != total {
            return 0;
        }
        let n = out.len().min(self.tap_index.len()) / 8 * 8;
        let (vns, vtotal, vtotal_m1) =
            (_mm256_set1_epi32(ns as i32), _mm256_set1_epi32(total as i32), _mm256_set1_epi32(total as i32 - 1));
        let (outside, vfill) = (_mm256_set1_epi32(-1), _mm256_set1_ps(fill));
        let p = data.as_ptr();
        for k in (0..n).step_by(8) {
            // SAFETY: `k + 8 <= n` for every table load and the store. A tap index is OUTSIDE
            // (-1 as i32; replaced by 0 before the gathers) or `line * ns + sample` with
            // `sample <= ns - 2`, so `i0 + 1 < total`, and `i1` (the next line, wrapped) also
            // has `i1 + 1 < total`: every gather reads inside `data` (`data.len() == total`).
            unsafe {
                let idx = _mm256_loadu_si256(self.tap_index.as_ptr().add(k).cast());
                let wl = _mm256_loadu_ps(self.w_line.as_ptr().add(k));
                let ws = _mm256_loadu_ps(self.w_sample.as_ptr().add(k));
                let out_mask = _mm256_cmpeq_epi32(idx, outside);
                let i0 = _mm256_andnot_si256(out_mask, idx);
                let i1 = _mm256_add_epi32(i0, vns);
                let wrap = _mm256_cmpgt_epi32(i1, vtotal_m1);
                let i1 = _mm256_sub_epi32(i1, _mm256_and_si256(wrap, vtotal));
                let (a0, a1) = gather_pairs(p, i0);
                let (b0, b1) = gather_pairs(p, i1);
                let a = _mm256_add_ps(a0, _mm256_mul_ps(ws, _mm256_sub_ps(a1, a0)));
                let b = _mm256_add_ps(b0, _mm256_mul_ps(ws, _mm256_sub_ps(b1, b0)));
                let v = _mm256_add_ps(a, _mm256_mul_ps(wl, _mm256_sub_ps(b, a)));
                _mm256_storeu_ps(out.as_mut_ptr().add(k), _mm256_blendv_ps(v, vfill, _mm256_castsi256_ps(out_mask)));
            }
        }
        n
    }
}

/// Convenience form of [`PolarSampler`]: allocates the polar frame.
///
/// # Errors
/// As [`PolarSampler::new`].
#[must_use = "returns a new frame"]
pub fn polar_from_cartesian(
    src: &CartImage,
    geom: PolarGeometry,
    mm_per_px: f64,
    center_col: f64,
    center_row: f64,
) -> Result<PolarImage, Error> {
    let sampler = PolarSampler::new(geom, mm_per_px)?;
    let mut dst = PolarImage::default();
    sampler.convert_into(src, center_col, center_row, 0.0, &mut dst);
    Ok(dst)
}

/// Convenience form of [`CartesianSampler`]: a `side x side` image centred on the catheter
/// whose pixel size makes the imaging depth reach the image border.
///
/// # Errors
/// As [`CartesianSampler::new`] and [`CartesianSampler::convert_into`].
#[must_use = "returns a new frame"]
pub fn cartesian_from_polar(src: &PolarImage, geom: PolarGeometry, side: usize) -> Result<CartImage, Error> {
    let half = side as f64 / 2.0;
    let mm_per_px = geom.depth_mm() / half.max(1.0);
    let c = (side as f64 - 1.0) / 2.0;
    let sampler = CartesianSampler::new(geom, side, side, c, c, mm_per_px)?;
    let mut dst = CartImage::default();
    sampler.convert_into(src, 0.0, &mut dst)?;
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rotation;

    fn smooth_cart(side: usize) -> CartImage {
        let c = (side as f64 - 1.0) / 2.0;
        CartImage::from_fn(side, side, |r, col| {
            let x = (col as f64 - c) / side as f64;
            let y = (r as f64 - c) / side as f64;
            (100.0 + 60.0 * (6.0 * x).sin() * (4.0 * y).cos()) as f32
        })
    }

    #[test]
    fn round_trip_cart_polar_cart_is_close() {
        let side = 201;
        let src = smooth_cart(side);
        let c = 100.0;
        let mm_per_px = 0.02;
        let geom = PolarGeometry::new(720, 200, 0.02).unwrap();
        let polar = polar_from_cartesian(&src, geom, mm_per_px, c, c).unwrap();
        let sampler = CartesianSampler::new(geom, side, side, c, c, mm_per_px).unwrap();
        let mut back = CartImage::default();
        sampler.convert_into(&polar, -1.0, &mut back).unwrap();
        let mut max_err = 0.0f32;
        for r in 0..side {
            for col in 0..side {
                let rr = ((r as f64 - c).powi(2) + (col as f64 - c).powi(2)).sqrt();
                if rr < 95.0 {
                    max_err = max_err.max((back.get(r, col) - src.get(r, col)).abs());
                }
            }
        }
        assert!(max_err < 1.5, "max round-trip error {max_err}");
    }

    #[test]
    fn line_angles_follow_convention() {
        // A bright spot straight up (+y, 90°) must land on the line whose angle is 90°.
        let side = 101;
        let mut src = CartImage::zeros(side, side);
        for r in 10..20 {
            for c in 48..53 {
                *src.get_mut(r, c) = 200.0;
            }
        }
        for rot in [Rotation::Ccw, Rotation::Cw] {
            let geom = PolarGeometry::new(360, 50, 1.0).unwrap().with_line0_angle_deg(30.0).with_rotation(rot);
            let polar = polar_from_cartesian(&src, geom, 1.0, 50.0, 50.0).unwrap();
            let best = (0..360)
                .max_by(|&a, &b| polar.row(a).iter().sum::<f32>().total_cmp(&polar.row(b).iter().sum::<f32>()))
                .unwrap();
            let angle = geom.angle_deg_of_line(best as f64);
            assert!((angle - 90.0).abs() <= 2.0, "{rot:?}: line {best} at {angle}°");
        }
    }

    #[test]
    fn polar_to_cart_wraps_at_seam() {
        // Constant polar frame: no seam anywhere inside the imaging disc.
        let geom = PolarGeometry::new(64, 32, 0.1).unwrap();
        let polar = PolarImage::from_fn(64, 32, |_, _| 50.0);
        let cart = cartesian_from_polar(&polar, geom, 64).unwrap();
        for r in 0..64 {
            for c in 0..64 {
                let v = *cart.get(r, c);
                assert!(v == 50.0 || v == 0.0, "{v} at {r},{c}");
            }
        }
        assert_eq!(*cart.get(32, 40), 50.0);
    }

    /// The AVX2 gather loop and the portable loop give the same bits, including samples
    /// outside the image, on the border and past the last full vector of a line.
    #[test]
    fn avx2_matches_portable() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            for (side, lines, samples, centre) in [
                (64, 90, 37, (31.5, 31.5)),
                (50, 64, 64, (3.0, 40.0)),
                (33, 17, 100, (-5.0, 16.0)),
                (2, 8, 9, (0.5, 0.5)),
            ] {
                let src = smooth_cart(side);
                let geom = PolarGeometry::new(lines, samples, 0.1).unwrap();
                let s = PolarSampler::new(geom, 0.1).unwrap();
                let (mut a, mut b) = (PolarImage::zeros(lines, samples), PolarImage::zeros(lines, samples));
                // SAFETY: AVX2 checked above.
                unsafe { s.convert_avx2(&src, centre.0, centre.1, -7.0, &mut a) };
                s.convert_body(&src, centre.0, centre.1, -7.0, &mut b);
                assert!(a.as_slice().iter().zip(b.as_slice()).all(|(x, y)| x.to_bits() == y.to_bits()), "{side}");
            }
        }
    }

    /// Polar → Cartesian: the AVX2 gather loop equals the portable loop bit for bit (pixels
    /// outside the imaging disc, the seam, an output whose size is not a multiple of 8).
    #[test]
    fn p2c_avx2_matches_portable() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            for (lines, samples, side, c) in [(64, 32, 61, 30.0), (90, 40, 100, 37.5), (8, 8, 13, 6.0)] {
                let geom = PolarGeometry::new(lines, samples, 0.1).unwrap();
                let src = PolarImage::from_fn(lines, samples, |l, s| (l * 31 + s * 7) as f32 * 0.37);
                let sampler = CartesianSampler::new(geom, side, side, c, c, 0.12).unwrap();
                let mut a = CartImage::zeros(side, side);
                let mut b = CartImage::zeros(side, side);
                // SAFETY: AVX2 checked above.
                let done = unsafe { sampler.render_avx2(src.as_slice(), -3.0, a.as_mut_slice()) };
                sampler.render_from(src.as_slice(), -3.0, done, a.as_mut_slice());
                sampler.render_from(src.as_slice(), -3.0, 0, b.as_mut_slice());
                assert!(done > 0);
                assert!(a.as_slice().iter().zip(b.as_slice()).all(|(x, y)| x.to_bits() == y.to_bits()), "{lines}");
            }
        }
    }

    #[test]
    fn wrong_shape_is_an_error() {
        let geom = PolarGeometry::new(64, 32, 0.1).unwrap();
        let s = CartesianSampler::new(geom, 10, 10, 5.0, 5.0, 0.1).unwrap();
        let mut dst = CartImage::default();
        assert!(matches!(s.convert_into(&PolarImage::zeros(63, 32), 0.0, &mut dst), Err(Error::FrameShape { .. })));
    }
}
