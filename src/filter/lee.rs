//! Lee's local-statistics filter (additive-noise form) with running box sums.
//!
//! Per frame: (1) local mean and variance for every pixel from running column sums along the
//! angle (one row added, one removed per line, wrapped) and prefix sums along depth (edges
//! replicated), all in `f64`; the mean goes to `dst`, the variance to the workspace;
//! (2) the noise variance, given or the lower median of the local variances on every line at
//! every few depth samples; (3) `dst = m + k (src - m)` in place.

use super::{SpeckleWorkspace, grow, lower_median, stats_stride};
use crate::plane::PolarImage;

/// Adds `sign * row` (and its squares) to the running column sums.
#[inline]
fn accumulate(s1: &mut [f64], s2: &mut [f64], row: &[f32], sign: f64) {
    for ((a, b), &v) in s1.iter_mut().zip(s2.iter_mut()).zip(row) {
        let v = v as f64;
        *a += sign * v;
        *b += sign * v * v;
    }
}

pub(super) fn lee_into(
    src: &PolarImage,
    dst: &mut PolarImage,
    rl: usize,
    rs: usize,
    noise_var: Option<f32>,
    ws: &mut SpeckleWorkspace,
) {
    let (rows, cols) = src.shape();
    let SpeckleWorkspace { frame, stats, sums, .. } = ws;
    let var = grow(frame, rows * cols);
    let padded = cols + 2 * rs;
    let sums = grow(sums, 2 * cols + 2 * (padded + 1));
    let (s1, rest) = sums.split_at_mut(cols);
    let (s2, rest) = rest.split_at_mut(cols);
    let (p1, p2) = rest.split_at_mut(padded + 1);
    let line = |r: isize| src.row(r.rem_euclid(rows as isize) as usize);
    let (rl_i, count) = (rl as isize, ((2 * rl + 1) * (2 * rs + 1)) as f64);
    let inv = 1.0 / count;

    s1.fill(0.0);
    s2.fill(0.0);
    for d in -rl_i..=rl_i {
        accumulate(s1, s2, line(d), 1.0);
    }
    let dst_data = dst.as_mut_slice();
    for i in 0..rows {
        if i > 0 {
            accumulate(s1, s2, line(i as isize + rl_i), 1.0);
            accumulate(s1, s2, line(i as isize - 1 - rl_i), -1.0);
        }
        // Prefix sums over the depth-replicated row: p[k] = sum of padded[..k],
        // padded[k] = s[clamp(k - rs, 0, cols - 1)].
        p1[0] = 0.0;
        p2[0] = 0.0;
        for k in 0..padded {
            let c = k.saturating_sub(rs).min(cols - 1);
            p1[k + 1] = p1[k] + s1[c];
            p2[k + 1] = p2[k] + s2[c];
        }
        let w = 2 * rs + 1;
        let mean_row = &mut dst_data[i * cols..(i + 1) * cols];
        let var_row = &mut var[i * cols..(i + 1) * cols];
        let (p1a, p1b, p2a, p2b) = (&p1[..cols], &p1[w..w + cols], &p2[..cols], &p2[w..w + cols]);
        for j in 0..cols {
            let m = (p1b[j] - p1a[j]) * inv;
            let v = (p2b[j] - p2a[j]) * inv - m * m;
            mean_row[j] = m as f32;
            var_row[j] = if v > 0.0 { v as f32 } else { 0.0 };
        }
    }

    let noise = match noise_var {
        Some(v) => v,
        None => {
            let stride = stats_stride(rows, cols);
            let per_line = (cols - stride / 2).div_ceil(stride);
            let buf = grow(stats, rows * per_line);
            let mut k = 0;
            for r in 0..rows {
                for j in (stride / 2..cols).step_by(stride) {
                    buf[k] = var[r * cols + j];
                    k += 1;
                }
            }
            lower_median(&mut buf[..k])
        }
    };

    for ((o, &z), &v) in dst_data.iter_mut().zip(src.as_slice()).zip(var.iter()) {
        let k = if v > noise { (v - noise) / v } else { 0.0 };
        let m = *o;
        *o = m + k * (z - m);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{SpeckleFilter, speckle};
    use crate::plane::PolarImage;
    use proptest::prelude::*;

    /// Obvious loops: every window summed from scratch with `rem_euclid` wrapping.
    fn lee_naive(src: &PolarImage, rl: usize, rs: usize, noise_var: Option<f32>) -> PolarImage {
        let (n, m) = src.shape();
        let (rl, rs) = (rl as isize, rs as isize);
        let stats = |i: usize, j: usize| {
            let (mut s1, mut s2, mut cnt) = (0.0f64, 0.0f64, 0.0f64);
            for dl in -rl..=rl {
                for dc in -rs..=rs {
                    let l = (i as isize + dl).rem_euclid(n as isize) as usize;
                    let c = (j as isize + dc).clamp(0, m as isize - 1) as usize;
                    let v = *src.get(l, c) as f64;
                    s1 += v;
                    s2 += v * v;
                    cnt += 1.0;
                }
            }
            let mean = s1 / cnt;
            (mean, (s2 / cnt - mean * mean).max(0.0))
        };
        let noise = noise_var.unwrap_or_else(|| {
            let stride = super::stats_stride(n, m);
            let mut v: Vec<f32> = (0..n)
                .flat_map(|i| (stride / 2..m).step_by(stride).map(move |j| (i, j)))
                .map(|(i, j)| stats(i, j).1 as f32)
                .collect();
            v.sort_by(f32::total_cmp);
            v[(v.len() - 1) / 2]
        }) as f64;
        PolarImage::from_fn(n, m, |i, j| {
            let (mean, var) = stats(i, j);
            let k = if var > noise { (var - noise) / var } else { 0.0 };
            (mean + k * (*src.get(i, j) as f64 - mean)) as f32
        })
    }

    #[test]
    fn matches_naive_on_odd_frame() {
        let src = speckle_frame(37, 53, 7);
        for (rl, rs, nv) in [(1, 1, None), (3, 2, None), (2, 5, Some(50.0)), (0, 3, None), (20, 30, None)] {
            let fast =
                speckle(&src, &SpeckleFilter::Lee { radius_lines: rl, radius_samples: rs, noise_var: nv }).unwrap();
            let slow = lee_naive(&src, rl, rs, nv);
            let d = max_abs_diff(&fast, &slow);
            assert!(d <= 1e-3, "{rl} {rs} {nv:?}: {d}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_naive_random(rows in 1usize..30, cols in 1usize..30, rl in 0usize..6, rs in 0usize..6,
                                seed in any::<u64>(), nv in proptest::option::of(0.0f32..400.0)) {
            prop_assume!(rl + rs > 0);
            let src = speckle_frame(rows, cols, seed);
            let fast = speckle(&src, &SpeckleFilter::Lee { radius_lines: rl, radius_samples: rs, noise_var: nv }).unwrap();
            let slow = lee_naive(&src, rl, rs, nv);
            prop_assert!(max_abs_diff(&fast, &slow) <= 1e-3);
        }
    }

    #[test]
    fn zero_noise_is_identity() {
        let src = speckle_frame(20, 30, 1);
        let out =
            speckle(&src, &SpeckleFilter::Lee { radius_lines: 2, radius_samples: 2, noise_var: Some(0.0) }).unwrap();
        assert!(max_abs_diff(&src, &out) <= 1e-3);
    }
}
