//! Speckle filters for polar frames ([`PolarImage`]: rows = A-lines by angle, columns = samples by
//! depth).
//!
//! Choose a filter with [`SpeckleFilter`] and run it with [`speckle_into`], which writes into a
//! caller-owned frame and keeps its scratch space in a reusable [`SpeckleWorkspace`]. Once the
//! workspace and `dst` have seen a frame of the same size and the same filter, a call allocates
//! nothing (serial mode; see [`SradParams::parallel`] for the rayon caveat).
//!
//! # Border rules (all filters)
//!
//! * **Angle axis wraps**: line `n-1` borders line 0, so a filter never leaves a seam at the
//!   line-0 direction. Filtering a frame rotated by `k` lines equals rotating the filtered frame.
//! * **Depth axis replicates** its edge samples (sample `-1` reads sample 0, sample `n_samples`
//!   reads sample `n_samples-1`); for SRAD this is a zero-flux (Neumann) boundary.
//!
//! # Input scale
//!
//! The filters work on the values given, typically log-compressed display data on a 0–255 scale.
//! SRAD and the Lee noise estimate are scale invariant (multiplying the input by a constant scales
//! the output by the same constant, up to rounding) but not shift invariant: SRAD's coefficient of
//! variation assumes non-negative intensities with 0 = no echo.
//!
//! # Cost and trade-offs
//!
//! Measured 2026-11-28 on the shared 2-core dev machine (load average 6, so the minimum of 60
//! runs is quoted) with `cargo run --release --example kernel_driver -- all 60`, one thread,
//! on a simulated 512 lines x 512 samples polar frame (integer-valued 0–255; other sizes in
//! `benches/filter.rs`, `cargo bench --bench filter -- --warm-up-time 1 --measurement-time 3`):
//!
//! | filter | time | cost model | edges |
//! |---|---|---|---|
//! | `Median` 5x5 | 1.6 ms on 8-bit frames (32 pixels per step), ~7 ms otherwise (8 per step) | 113 min-max pairs per pixel (pruned Batcher network; 24 for 3x3) | kept, thin lines and corners removed |
//! | `Lee` 5x5 / 11x11 | 1.2 ms | O(1) per pixel for any window (running box sums) | contrast kept, a noise halo one window wide remains |
//! | `Srad` default (15 iterations) | 3.9 ms serial | O(iterations), 4-neighbour stencil, one fused pass per iteration (AVX2 + FMA) | preserved (diffusion stops where the ICOV is high) |
//!
//! SRAD is the default: on a step edge under speckle it removes about half of the speckle
//! variance while the 10–90 % rise distance does not grow measurably; it stops smoothing
//! isolated pixel-sized outliers (they look like edges to the ICOV), so on uncorrelated noise its
//! variance reduction saturates near 55–65 % even with more iterations. Lee is the cheapest and
//! smooths plateaus most, at the price of halos at edges; the median removes impulsive speckle
//! and is exact but costs most per window pixel.
//!
//! Rejected alternatives: separable medians (not a true 2-D median; they leave diagonal streaks),
//! histogram medians (exact only on quantised input, where the byte-lane network is faster at
//! these window sizes), OBNLM (Coupé et al. 2009; far
//! slower than the per-frame budget at 30 frames/s).

mod lee;
mod median;
mod srad;

pub use srad::SradParams;

use crate::error::Error;
use crate::plane::PolarImage;
use serde::{Deserialize, Serialize};

/// Largest median radius (each axis); the window is at most 7x7 = 49 values.
pub const MEDIAN_MAX_RADIUS: usize = 3;
/// Largest Lee window radius (each axis).
pub const LEE_MAX_RADIUS: usize = 64;

/// A speckle filter and its parameters. [`Default`] is [`SpeckleFilter::Srad`] with
/// [`SradParams::default`]: the best edge preservation at a cost of a few ms per frame.
///
/// Serialized as an internally tagged object, e.g. `{"kind":"median","radius_lines":1,"radius_samples":1}`
/// or `{"kind":"srad","iterations":15,"dt":0.2,"parallel":true}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpeckleFilter {
    /// No filtering: `dst` becomes a copy of `src`.
    None,
    /// True 2-D median over a `(2 radius_lines + 1) x (2 radius_samples + 1)` window.
    ///
    /// Computed with a sorting network (Batcher's odd-even merge sort, cut to the window size and
    /// pruned to the comparators that reach the middle rank), run on 8 neighbouring pixels at once
    /// (32 when every value of the frame is an integer in 0–255: then on bytes, same result)
    /// as branch-free `min`/`max` that the compiler vectorises. Cost grows with the window size
    /// (24 comparators for 3x3, 113 for 5x5, 319 for 7x7), so radii are limited to
    /// [`MEDIAN_MAX_RADIUS`]. One radius may be 0 (a 1-D median along the other axis); not both.
    ///
    /// Borders: angle wraps, depth replicates. NaN inputs give unspecified outputs.
    ///
    /// # Examples
    /// ```
    /// use truelumen::{filter::{speckle_into, SpeckleWorkspace}, PolarImage, SpeckleFilter};
    /// // A constant frame with one bright speckle dot: a 3x3 median removes it.
    /// let mut src = PolarImage::from_fn(16, 20, |_, _| 50.0);
    /// *src.get_mut(0, 7) = 250.0; // on line 0: its window wraps to line 15
    /// let mut dst = PolarImage::default();
    /// let f = SpeckleFilter::Median { radius_lines: 1, radius_samples: 1 };
    /// speckle_into(&src, &mut dst, &f, &mut SpeckleWorkspace::new())?;
    /// assert!(dst.as_slice().iter().all(|&v| v == 50.0));
    /// # Ok::<(), truelumen::Error>(())
    /// ```
    ///
    /// # References
    /// \[1\] J. W. Tukey, *Exploratory Data Analysis*, Addison-Wesley, 1977 (running medians).
    ///
    /// \[2\] K. E. Batcher, "Sorting networks and their applications", AFIPS Spring Joint Computer
    ///     Conference 32:307–314, 1968. doi:10.1145/1468075.1468121
    Median {
        /// Window half-height in A-lines (angle), `0..=3`.
        radius_lines: usize,
        /// Window half-width in samples (depth), `0..=3`.
        radius_samples: usize,
    },
    /// Lee's local-statistics filter for additive noise \[1\]:
    /// `out = m + k (in - m)`, `k = max(0, v - σn²) / v`, with the local mean `m` and variance `v`
    /// over a `(2 radius_lines + 1) x (2 radius_samples + 1)` window.
    ///
    /// The additive model fits log-compressed data, where multiplicative speckle becomes roughly
    /// additive. `noise_var` is σn² on the input scale; `None` estimates it per frame as the
    /// median of the local variances (taken on all lines at every few depth samples, so the
    /// estimate does not change when the frame is rotated). Homogeneous speckle dominates a
    /// frame, so the median tracks the speckle variance and ignores the edges.
    ///
    /// Cost: O(1) per pixel for any window (running column sums along the angle, prefix sums
    /// along depth, in `f64` so the running sums do not drift). Trade-off: flat regions are
    /// box-blurred; edges keep their contrast (high local variance gives `k ≈ 1`), but a noise
    /// halo of the window size remains next to them.
    ///
    /// Borders: angle wraps, depth replicates.
    ///
    /// # Examples
    /// ```
    /// use truelumen::{filter::{speckle_into, SpeckleWorkspace}, PolarImage, SpeckleFilter};
    /// let noisy = PolarImage::from_fn(64, 96, |l, s| 100.0 + ((l * 7 + s * 13) % 11) as f32 - 5.0);
    /// let var = |p: &PolarImage| {
    ///     let m = p.mean();
    ///     p.as_slice().iter().map(|&v| (v - m).powi(2)).sum::<f32>() / p.as_slice().len() as f32
    /// };
    /// let mut out = PolarImage::default();
    /// let f = SpeckleFilter::Lee { radius_lines: 2, radius_samples: 2, noise_var: None };
    /// speckle_into(&noisy, &mut out, &f, &mut SpeckleWorkspace::new())?;
    /// assert!(var(&out) < 0.2 * var(&noisy));
    /// # Ok::<(), truelumen::Error>(())
    /// ```
    ///
    /// # References
    /// \[1\] J.-S. Lee, "Digital image enhancement and noise filtering by use of local statistics",
    ///     IEEE Trans. Pattern Analysis and Machine Intelligence 2(2):165–168, 1980.
    ///     doi:10.1109/TPAMI.1980.4766994
    Lee {
        /// Window half-height in A-lines (angle), `0..=64`.
        radius_lines: usize,
        /// Window half-width in samples (depth), `0..=64`.
        radius_samples: usize,
        /// Noise variance on the input scale (finite, ≥ 0); `None` = estimate per frame.
        noise_var: Option<f32>,
    },
    /// Speckle-reducing anisotropic diffusion; see [`SradParams`].
    Srad(SradParams),
}

impl Default for SpeckleFilter {
    fn default() -> Self {
        SpeckleFilter::Srad(SradParams::default())
    }
}

impl SpeckleFilter {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the offending parameter (NaN, negative, zero where a
    /// positive value is needed, or out of range).
    pub fn validate(&self) -> Result<(), Error> {
        match *self {
            SpeckleFilter::None => Ok(()),
            SpeckleFilter::Median { radius_lines, radius_samples } => {
                check_radius("radius_lines", radius_lines, MEDIAN_MAX_RADIUS)?;
                check_radius("radius_samples", radius_samples, MEDIAN_MAX_RADIUS)?;
                if radius_lines == 0 && radius_samples == 0 {
                    return Err(Error::param("radius_lines", "median radii cannot both be 0 (use `none`)"));
                }
                Ok(())
            }
            SpeckleFilter::Lee { radius_lines, radius_samples, noise_var } => {
                check_radius("radius_lines", radius_lines, LEE_MAX_RADIUS)?;
                check_radius("radius_samples", radius_samples, LEE_MAX_RADIUS)?;
                if radius_lines == 0 && radius_samples == 0 {
                    return Err(Error::param("radius_lines", "Lee radii cannot both be 0 (use `none`)"));
                }
                if let Some(v) = noise_var {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(Error::param("noise_var", format!("must be a finite number >= 0, got {v}")));
                    }
                }
                Ok(())
            }
            SpeckleFilter::Srad(p) => p.validate(),
        }
    }
}

fn check_radius(name: &'static str, r: usize, max: usize) -> Result<(), Error> {
    if r > max { Err(Error::param(name, format!("must be within [0, {max}], got {r}"))) } else { Ok(()) }
}

/// Scratch space for [`speckle_into`]. It only grows (to the largest frame and filter seen) and
/// never changes results: a fresh workspace and a reused one give bit-identical output.
#[derive(Debug, Clone, Default)]
pub struct SpeckleWorkspace {
    /// Frame-sized `f32` scratch (SRAD ping-pong buffer, Lee local variances).
    frame: Vec<f32>,
    /// Per-frame statistics samples (SRAD q0², Lee noise variance).
    stats: Vec<f32>,
    /// Row scratch (`f32`): SRAD coefficient rows per band.
    rows: Vec<f32>,
    /// Row scratch (`f64`): Lee running column sums and prefix sums.
    sums: Vec<f64>,
    /// Median sorting network (comparator pairs) and the window size it was built for.
    network: Vec<(u8, u8)>,
    network_len: usize,
    /// The frame as bytes (median of integer-valued 0–255 frames).
    bytes: Vec<u8>,
}

impl SpeckleWorkspace {
    /// An empty workspace; it sizes itself on first use.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

/// Grows `v` to at least `n` elements (never shrinks) and returns the first `n`.
pub(crate) fn grow<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}

/// Applies `filter` to `src` and writes the result into `dst` (resized to `src`'s shape).
///
/// Allocates nothing once `dst` and `ws` have been used with a frame of this size and the same
/// filter (serial mode). Border rules and input scale: see the [module docs](self).
///
/// # Errors
/// [`Error::InvalidParam`] if [`SpeckleFilter::validate`] fails; [`Error::FrameTooSmall`] for an
/// empty frame.
pub fn speckle_into(
    src: &PolarImage,
    dst: &mut PolarImage,
    filter: &SpeckleFilter,
    ws: &mut SpeckleWorkspace,
) -> Result<(), Error> {
    filter.validate()?;
    let (rows, cols) = src.shape();
    if rows == 0 || cols == 0 {
        return Err(Error::FrameTooSmall { rows, cols, reason: "a speckle filter needs at least 1x1 pixels".into() });
    }
    dst.resize(rows, cols);
    match *filter {
        SpeckleFilter::None => dst.as_mut_slice().copy_from_slice(src.as_slice()),
        SpeckleFilter::Median { radius_lines, radius_samples } => {
            median::median_into(src, dst, radius_lines, radius_samples, ws)
        }
        SpeckleFilter::Lee { radius_lines, radius_samples, noise_var } => {
            lee::lee_into(src, dst, radius_lines, radius_samples, noise_var, ws)
        }
        SpeckleFilter::Srad(p) => srad::srad_into(src, dst, &p, ws),
    }
    Ok(())
}

/// Convenience form of [`speckle_into`]: allocates the output and a workspace.
///
/// # Errors
/// As [`speckle_into`].
#[must_use = "returns a new frame"]
pub fn speckle(src: &PolarImage, filter: &SpeckleFilter) -> Result<PolarImage, Error> {
    let mut dst = PolarImage::default();
    speckle_into(src, &mut dst, filter, &mut SpeckleWorkspace::new())?;
    Ok(dst)
}

/// Lower median of `v` (reorders `v`); deterministic for any input order. 0 for an empty slice.
///
/// The element of rank `(len − 1) / 2` in [`f32::total_cmp`] order, found by a three-pass
/// radix select on the order-preserving integer keys of the values (11, 11 and 10 key bits;
/// each pass keeps only the bucket holding the rank). About 5x fewer instructions than
/// `select_nth_unstable_by` on the 16 k statistics samples of a frame (issue #6), same value.
pub(crate) fn lower_median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mut k = (v.len() - 1) / 2;
    // Order-preserving key: the integer order of `key(x)` is `f32::total_cmp` order.
    let key = |x: f32| {
        let b = x.to_bits();
        if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
    };
    let mut live = v.len();
    let mut prefix = 0u32;
    let mut hist = [0u32; 1 << 11];
    for (shift, bits) in [(21u32, 11u32), (10, 11), (0, 10)] {
        let mask = (1u32 << bits) - 1;
        // Keys still live share the bits above `shift + bits` (equal to `prefix` there).
        let hist = &mut hist[..1 << bits];
        hist.fill(0);
        for &x in &v[..live] {
            hist[((key(x) >> shift) & mask) as usize] += 1;
        }
        let mut bucket = 0;
        for (i, &c) in hist.iter().enumerate() {
            if k < c as usize {
                bucket = i as u32;
                break;
            }
            k -= c as usize;
        }
        prefix |= bucket << shift;
        let mut kept = 0;
        for i in 0..live {
            let x = v[i];
            if (key(x) >> shift) & mask == bucket {
                v[kept] = x;
                kept += 1;
            }
        }
        live = kept;
    }
    debug_assert!(live > 0 && key(v[0]) == prefix);
    v[0]
}

/// Depth stride for per-frame statistics: every line, every `stride`-th sample, about
/// [`STATS_TARGET`] values. Sampling all lines keeps the statistic rotation invariant.
pub(crate) fn stats_stride(rows: usize, cols: usize) -> usize {
    (rows * cols).div_ceil(STATS_TARGET).clamp(1, cols.max(1))
}

/// Target number of samples for per-frame statistics.
pub(crate) const STATS_TARGET: usize = 16_384;

#[cfg(test)]
pub(crate) mod test_util {
    use crate::plane::PolarImage;

    /// Deterministic speckle-like frame: a smooth background times a Rayleigh-ish factor,
    /// log-compressed to about 0–255.
    pub fn speckle_frame(rows: usize, cols: usize, seed: u64) -> PolarImage {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        PolarImage::from_fn(rows, cols, |l, c| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let rayleigh = (-2.0 * u.ln()).sqrt();
            let base = 60.0 + 40.0 * ((l as f64) * 0.2).sin() + (c as f64) * 0.1;
            (40.0 * (base * rayleigh).max(1.0).ln()).clamp(0.0, 255.0) as f32
        })
    }

    /// Rotates by `k` lines: row `l` of the result is row `(l + k) mod n` of `p`.
    pub fn rotate(p: &PolarImage, k: usize) -> PolarImage {
        let n = p.rows();
        PolarImage::from_fn(n, p.cols(), |l, c| *p.get((l + k) % n, c))
    }

    pub fn max_abs_diff(a: &PolarImage, b: &PolarImage) -> f32 {
        assert_eq!(a.shape(), b.shape());
        a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    pub fn variance(p: &PolarImage) -> f64 {
        let n = p.as_slice().len() as f64;
        let m = p.as_slice().iter().map(|&v| v as f64).sum::<f64>() / n;
        p.as_slice().iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    fn all_filters() -> Vec<SpeckleFilter> {
        vec![
            SpeckleFilter::None,
            SpeckleFilter::Median { radius_lines: 1, radius_samples: 2 },
            SpeckleFilter::Lee { radius_lines: 3, radius_samples: 2, noise_var: None },
            SpeckleFilter::Lee { radius_lines: 1, radius_samples: 4, noise_var: Some(30.0) },
            SpeckleFilter::default(),
        ]
    }

    use proptest::prelude::*;

    proptest! {
        /// The radix select returns the very value `select_nth_unstable_by` picks (same bits),
        /// with ties, both zeros, negatives, infinities and NaNs among the values.
        #[test]
        fn lower_median_matches_select_nth(
            vals in proptest::collection::vec(
                prop_oneof![
                    (0u32..8).prop_map(|x| x as f32 * 0.25),
                    proptest::num::f32::ANY,
                    Just(-0.0f32),
                ],
                0..300,
            )
        ) {
            let mut a = vals.clone();
            let mut b = vals;
            let fast = lower_median(&mut a);
            let slow = if b.is_empty() {
                0.0
            } else {
                let k = (b.len() - 1) / 2;
                *b.select_nth_unstable_by(k, f32::total_cmp).1
            };
            prop_assert_eq!(fast.to_bits(), slow.to_bits());
        }
    }

    #[test]
    fn validate_rejects_bad_params() {
        let bad = [
            SpeckleFilter::Median { radius_lines: 0, radius_samples: 0 },
            SpeckleFilter::Median { radius_lines: 4, radius_samples: 1 },
            SpeckleFilter::Lee { radius_lines: 1, radius_samples: 1, noise_var: Some(f32::NAN) },
            SpeckleFilter::Lee { radius_lines: 1, radius_samples: 1, noise_var: Some(-1.0) },
            SpeckleFilter::Lee { radius_lines: 65, radius_samples: 1, noise_var: None },
            SpeckleFilter::Srad(SradParams::default().with_dt(0.0)),
            SpeckleFilter::Srad(SradParams::default().with_dt(0.3)),
            SpeckleFilter::Srad(SradParams::default().with_dt(f32::NAN)),
            SpeckleFilter::Srad(SradParams::default().with_dt(-0.1)),
            SpeckleFilter::Srad(SradParams::default().with_iterations(0)),
        ];
        for f in bad {
            assert!(matches!(f.validate(), Err(Error::InvalidParam { .. })), "{f:?}");
            let src = PolarImage::zeros(8, 8);
            assert!(speckle_into(&src, &mut PolarImage::default(), &f, &mut SpeckleWorkspace::new()).is_err());
        }
        for f in all_filters() {
            f.validate().unwrap();
        }
    }

    #[test]
    fn serde_round_trip() {
        for f in all_filters() {
            let json = serde_json::to_string(&f).unwrap();
            let back: SpeckleFilter = serde_json::from_str(&json).unwrap();
            assert_eq!(back, f, "{json}");
        }
        let f: SpeckleFilter = serde_json::from_str(r#"{"kind":"srad","iterations":5}"#).unwrap();
        assert_eq!(f, SpeckleFilter::Srad(SradParams::default().with_iterations(5)));
    }

    #[test]
    fn constant_frame_stays_constant() {
        let src = PolarImage::from_fn(37, 53, |_, _| 87.25);
        for f in all_filters() {
            let out = speckle(&src, &f).unwrap();
            assert!(out.as_slice().iter().all(|&v| (v - 87.25).abs() <= 1e-4), "{f:?}");
        }
    }

    #[test]
    fn seam_rotation_equivariance_all_filters() {
        let src = speckle_frame(37, 53, 3);
        for f in all_filters() {
            let out = speckle(&src, &f).unwrap();
            for k in [1, 5, 36] {
                let rot_then = speckle(&rotate(&src, k), &f).unwrap();
                let then_rot = rotate(&out, k);
                let d = max_abs_diff(&rot_then, &then_rot);
                assert!(d <= 1e-4, "{f:?} k={k}: {d}");
            }
        }
    }

    #[test]
    fn workspace_reuse_is_bit_identical() {
        let mut ws = SpeckleWorkspace::new();
        let mut dst = PolarImage::default();
        let big = speckle_frame(64, 80, 1);
        let small = speckle_frame(37, 53, 2);
        for f in all_filters() {
            speckle_into(&big, &mut dst, &f, &mut ws).unwrap();
            speckle_into(&small, &mut dst, &f, &mut ws).unwrap();
            assert_eq!(dst, speckle(&small, &f).unwrap(), "{f:?}");
        }
    }

    #[test]
    fn speckle_variance_drops() {
        let src = PolarImage::from_fn(64, 96, |l, s| 100.0 + ((l * 7 + s * 13) % 11) as f32 - 5.0);
        for f in all_filters().into_iter().skip(1) {
            let out = speckle(&src, &f).unwrap();
            assert!(variance(&out) < 0.5 * variance(&src), "{f:?}: {} vs {}", variance(&out), variance(&src));
        }
    }

    #[test]
    fn empty_frame_is_an_error() {
        let r = speckle(&PolarImage::zeros(0, 5), &SpeckleFilter::default());
        assert!(matches!(r, Err(Error::FrameTooSmall { .. })));
    }
}
