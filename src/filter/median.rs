//! True 2-D median with a selection network run on 8 pixels at once.
//!
//! The network is Batcher's odd-even merge sort for the next power of two, cut to the window
//! size `K` (comparators that touch a padding wire are dropped: with `+inf` padding they never
//! move anything) and pruned backwards to the comparators that can reach rank `(K-1)/2`. For a
//! block of 8 neighbouring output pixels the window values are gathered into `K` lanes arrays and
//! every comparator becomes a branch-free lane-wise min/max that the compiler vectorises.
//!
//! # Performance (issue #6)
//!
//! The 5x5 median of a 512x512 polar frame took 12.7 ms (single thread, loaded machine), 47x
//! cv2.medianBlur. Profiling showed the network *interpreted*: each comparator read its pair
//! from a table and moved the lanes through memory, about 20 instructions per comparator per
//! 8 pixels (282 per pixel). Now the 3x3 and 5x5 networks are spelled out comparator by
//! comparator (constant indices, checked against the generator by a test), the whole filter is
//! compiled a second time with AVX2 and picked at run time: 74 M → 41 M instructions per frame
//! (157 per pixel), same output bits. Still several times slower than OpenCV, for structural
//! reasons: OpenCV filters `u8` (32 lanes per AVX2 vector, our frames are `f32`, 8 lanes) and
//! the 113-comparator 5x5 network does not fit the 16 vector registers (spills). The next step
//! would be an algorithmic one: sort each window column once and share it between the
//! neighbouring windows (Batcher merge of presorted columns, pruned to the median rank), or a
//! Huang/Perreault histogram median on quantised values (not exact on `f32` input). Tried: 32
//! pixels per block instead of 8, 3x slower (the block no longer fits the registers).

use super::SpeckleWorkspace;
use crate::plane::PolarImage;
use network::median_network;

/// Output pixels per block (one 8-lane vector with AVX2; 32 lanes was tried and was 3x slower:
/// the block no longer fits the registers and every comparator copies 256 bytes).
const LANES: usize = 8;
/// Window buffer size (power of two so `& (WIN - 1)` removes bounds checks); holds 7x7 = 49.
const WIN: usize = 64;

pub(super) mod network {
    /// Comparators `(lo, hi)` of a network that puts the median of `k` values at index
    /// `(k - 1) / 2`. `k` must be in `1..=64`.
    pub fn median_network(k: usize) -> Vec<(u8, u8)> {
        assert!((1..=64).contains(&k), "network size {k}");
        let n = k.next_power_of_two();
        let mut cmp = Vec::new();
        let mut p = 1;
        while p < n {
            let mut step = p;
            while step > 0 {
                let mut j = step % p;
                while j + step < n {
                    for i in 0..step.min(n - j - step) {
                        if (i + j) / (2 * p) == (i + j + step) / (2 * p) {
                            let (a, b) = (i + j, i + j + step);
                            if b < k {
                                cmp.push((a as u8, b as u8));
                            }
                        }
                    }
                    j += 2 * step;
                }
                step /= 2;
            }
            p *= 2;
        }
        // Backward pruning: keep only comparators whose outputs can reach the median wire.
        let mut needed = [false; 64];
        needed[(k - 1) / 2] = true;
        let mut kept: Vec<(u8, u8)> = Vec::with_capacity(cmp.len());
        for &(a, b) in cmp.iter().rev() {
            if needed[a as usize] || needed[b as usize] {
                needed[a as usize] = true;
                needed[b as usize] = true;
                kept.push((a, b));
            }
        }
        kept.reverse();
        kept
    }
}

/// Applies the comparators lane-wise.
#[inline(always)]
fn run_network(w: &mut [[f32; LANES]; WIN], net: &[(u8, u8)]) {
    for &(a, b) in net {
        let (a, b) = (a as usize & (WIN - 1), b as usize & (WIN - 1));
        let (x, y) = (w[a], w[b]);
        let mut lo = [0.0f32; LANES];
        let mut hi = [0.0f32; LANES];
        for l in 0..LANES {
            let lt = y[l] < x[l];
            lo[l] = if lt { y[l] } else { x[l] };
            hi[l] = if lt { x[l] } else { y[l] };
        }
        w[a] = lo;
        w[b] = hi;
    }
}

/// Lane-wise compare-exchange of `w[a]` and `w[b]` (min to `a`, max to `b`; on equal values
/// `w[a]` keeps its own, as [`run_network`] does).
#[inline(always)]
fn cmp_swap<const K: usize>(w: &mut [[f32; LANES]; K], a: usize, b: usize) {
    let (x, y) = (w[a], w[b]);
    for l in 0..LANES {
        // `y < x ? y : x` and `x > y ? x : y`: the operand orders of `minps` / `maxps`, the
        // same values as `run_network`'s select (for non-NaN input).
        w[a][l] = if y[l] < x[l] { y[l] } else { x[l] };
        w[b][l] = if x[l] > y[l] { x[l] } else { y[l] };
    }
}

/// A fixed network spelled out comparator by comparator, so that every index is a constant,
/// the window stays in vector registers and nothing is read from a comparator table (the
/// interpreted [`run_network`] spent about 20 instructions per comparator on that; issue #6).
/// `$list` keeps the same pairs for the test that checks them against [`median_network`].
macro_rules! fixed_network {
    ($name:ident, $list:ident, [$(($a:literal, $b:literal)),* $(,)?]) => {
        #[cfg(test)]
        const $list: &[(u8, u8)] = &[$(($a, $b)),*];
        #[inline(always)]
        fn $name<const K: usize>(w: &mut [[f32; LANES]; K]) {
            $(cmp_swap(w, $a, $b);)*
        }
    };
}

fixed_network!(
    network_9,
    NETWORK_9,
    [
        (0, 1),
        (2, 3),
        (4, 5),
        (6, 7),
        (0, 2),
        (1, 3),
        (4, 6),
        (5, 7),
        (1, 2),
        (5, 6),
        (0, 4),
        (1, 5),
        (2, 6),
        (3, 7),
        (2, 4),
        (3, 5),
        (1, 2),
        (3, 4),
        (5, 6),
        (0, 8),
        (4, 8),
        (2, 4),
        (3, 5),
        (3, 4)
    ]
);
fixed_network!(
    network_25,
    NETWORK_25,
    [
        (0, 1),
        (2, 3),
        (4, 5),
        (6, 7),
        (8, 9),
        (10, 11),
        (12, 13),
        (14, 15),
        (16, 17),
        (18, 19),
        (20, 21),
        (22, 23),
        (0, 2),
        (1, 3),
        (4, 6),
        (5, 7),
        (8, 10),
        (9, 11),
        (12, 14),
        (13, 15),
        (16, 18),
        (17, 19),
        (20, 22),
        (21, 23),
        (1, 2),
        (5, 6),
        (9, 10),
        (13, 14),
        (17, 18),
        (21, 22),
        (0, 4),
        (1, 5),
        (2, 6),
        (3, 7),
        (8, 12),
        (9, 13),
        (10, 14),
        (11, 15),
        (16, 20),
        (17, 21),
        (18, 22),
        (19, 23),
        (2, 4),
        (3, 5),
        (10, 12),
        (11, 13),
        (18, 20),
        (19, 21),
        (1, 2),
        (3, 4),
        (5, 6),
        (9, 10),
        (11, 12),
        (13, 14),
        (17, 18),
        (19, 20),
        (21, 22),
        (0, 8),
        (1, 9),
        (2, 10),
        (3, 11),
        (4, 12),
        (5, 13),
        (6, 14),
        (7, 15),
        (16, 24),
        (4, 8),
        (5, 9),
        (6, 10),
        (7, 11),
        (20, 24),
        (2, 4),
        (3, 5),
        (6, 8),
        (7, 9),
        (10, 12),
        (11, 13),
        (18, 20),
        (19, 21),
        (22, 24),
        (1, 2),
        (3, 4),
        (5, 6),
        (7, 8),
        (9, 10),
        (11, 12),
        (13, 14),
        (17, 18),
        (19, 20),
        (21, 22),
        (23, 24),
        (0, 16),
        (1, 17),
        (2, 18),
        (3, 19),
        (4, 20),
        (5, 21),
        (6, 22),
        (7, 23),
        (8, 24),
        (8, 16),
        (9, 17),
        (10, 18),
        (11, 19),
        (12, 20),
        (13, 21),
        (6, 10),
        (7, 11),
        (12, 16),
        (13, 17),
        (10, 12),
        (11, 13),
        (11, 12)
    ]
);

/// [`median_body`] for a window fixed at compile time (`2 RL + 1` lines x `2 RS + 1` samples,
/// `K` values): same gather, same network, same result, with constant indices throughout.
#[inline(always)]
fn median_fixed<const RL: usize, const RS: usize, const K: usize>(src: &PolarImage, dst: &mut PolarImage) {
    let (rows, cols) = src.shape();
    let (wl, wc) = (2 * RL + 1, 2 * RS + 1);
    let mut w = [[0.0f32; LANES]; K];
    for i in 0..rows {
        let out = dst.row_mut(i);
        let mut j0 = 0;
        while j0 < cols {
            let interior = j0 >= RS && j0 + LANES + RS <= cols;
            for d in 0..wl {
                let l = (i as isize + d as isize - RL as isize).rem_euclid(rows as isize) as usize;
                let row = src.row(l);
                for dc in 0..wc {
                    let idx = d * wc + dc;
                    if interior {
                        w[idx].copy_from_slice(&row[j0 + dc - RS..][..LANES]);
                    } else {
                        for lane in 0..LANES {
                            let jj = (j0 + lane).min(cols - 1);
                            let c = (jj + dc).saturating_sub(RS).min(cols - 1);
                            w[idx][lane] = row[c];
                        }
                    }
                }
            }
            // Called directly (not through a closure) so that it is inlined into the AVX2 build.
            if K == 9 {
                network_9(&mut w);
            } else {
                network_25(&mut w);
            }
            let n_out = LANES.min(cols - j0);
            out[j0..j0 + n_out].copy_from_slice(&w[(K - 1) / 2][..n_out]);
            j0 += LANES;
        }
    }
}

pub(super) fn median_into(src: &PolarImage, dst: &mut PolarImage, rl: usize, rs: usize, ws: &mut SpeckleWorkspace) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { median_avx2(src, dst, rl, rs, ws) };
        return;
    }
    median_body(src, dst, rl, rs, ws);
}

/// [`median_body`] compiled with AVX2 enabled (min/max only, so identical results).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn median_avx2(src: &PolarImage, dst: &mut PolarImage, rl: usize, rs: usize, ws: &mut SpeckleWorkspace) {
    median_body(src, dst, rl, rs, ws);
}

#[inline(always)]
fn median_body(src: &PolarImage, dst: &mut PolarImage, rl: usize, rs: usize, ws: &mut SpeckleWorkspace) {
    match (rl, rs) {
        (1, 1) => return median_fixed::<1, 1, 9>(src, dst),
        (2, 2) => return median_fixed::<2, 2, 25>(src, dst),
        _ => {}
    }
    let (rows, cols) = src.shape();
    let wl = 2 * rl + 1;
    let wc = 2 * rs + 1;
    let k = wl * wc;
    debug_assert!(k <= WIN);
    if ws.network_len != k || ws.network.is_empty() {
        ws.network = median_network(k);
        ws.network_len = k;
    }
    let net = &ws.network[..];
    let mid = (k - 1) / 2;
    let mut w = [[0.0f32; LANES]; WIN];
    let mut lines = [0usize; 2 * super::MEDIAN_MAX_RADIUS + 1];
    for i in 0..rows {
        for (d, l) in lines[..wl].iter_mut().enumerate() {
            *l = (i as isize + d as isize - rl as isize).rem_euclid(rows as isize) as usize;
        }
        let out = dst.row_mut(i);
        let mut j0 = 0;
        while j0 < cols {
            let interior = j0 >= rs && j0 + LANES + rs <= cols;
            let mut idx = 0;
            for &l in &lines[..wl] {
                let row = src.row(l);
                for dc in 0..wc {
                    if interior {
                        let start = j0 + dc - rs;
                        w[idx & (WIN - 1)].copy_from_slice(&row[start..start + LANES]);
                    } else {
                        for lane in 0..LANES {
                            let jj = (j0 + lane).min(cols - 1);
                            let c = (jj + dc).saturating_sub(rs).min(cols - 1);
                            w[idx & (WIN - 1)][lane] = row[c];
                        }
                    }
                    idx += 1;
                }
            }
            run_network(&mut w, net);
            let n_out = LANES.min(cols - j0);
            out[j0..j0 + n_out].copy_from_slice(&w[mid][..n_out]);
            j0 += LANES;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{SpeckleFilter, speckle};
    use super::*;
    use proptest::prelude::*;

    fn median_naive(src: &PolarImage, rl: usize, rs: usize) -> PolarImage {
        let (n, m) = src.shape();
        PolarImage::from_fn(n, m, |i, j| {
            let mut v = vec![];
            for dl in -(rl as isize)..=rl as isize {
                for dc in -(rs as isize)..=rs as isize {
                    let l = (i as isize + dl).rem_euclid(n as isize) as usize;
                    let c = (j as isize + dc).clamp(0, m as isize - 1) as usize;
                    v.push(*src.get(l, c));
                }
            }
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        })
    }

    #[test]
    fn network_selects_median_for_every_size() {
        let mut s = 12345u64;
        for k in 1..=64 {
            let net = median_network(k);
            for _ in 0..200 {
                let mut v: Vec<f32> = (0..k)
                    .map(|_| {
                        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        ((s >> 40) % 17) as f32 // many ties
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_by(f32::total_cmp);
                for &(a, b) in &net {
                    let (a, b) = (a as usize, b as usize);
                    if v[b] < v[a] {
                        v.swap(a, b);
                    }
                }
                assert_eq!(v[(k - 1) / 2], sorted[(k - 1) / 2], "k={k}");
            }
        }
        // Size of the pruned networks (documented in the module docs).
        assert!(median_network(9).len() <= 30, "{}", median_network(9).len());
        assert!(median_network(25).len() <= 140, "{}", median_network(25).len());
    }

    #[test]
    fn spelled_out_networks_are_the_generated_ones() {
        assert_eq!(NETWORK_9, &median_network(9)[..]);
        assert_eq!(NETWORK_25, &median_network(25)[..]);
    }

    #[test]
    fn fixed_windows_match_the_general_path() {
        // The general (interpreted-network) path on the same windows must give the same bits.
        for (rows, cols, seed) in [(37, 53, 3), (5, 9, 4), (64, 256, 5), (2, 3, 6)] {
            let src = speckle_frame(rows, cols, seed);
            for (rl, rs) in [(1, 1), (2, 2)] {
                let fast = speckle(&src, &SpeckleFilter::Median { radius_lines: rl, radius_samples: rs }).unwrap();
                let k = (2 * rl + 1) * (2 * rs + 1);
                let net = median_network(k);
                let mut general = PolarImage::from_fn(rows, cols, |_, _| 0.0);
                let mut w = [[0.0f32; LANES]; WIN];
                for i in 0..rows {
                    for j in 0..cols {
                        let mut idx = 0;
                        for d in 0..2 * rl + 1 {
                            let l = (i as isize + d as isize - rl as isize).rem_euclid(rows as isize) as usize;
                            for dc in 0..2 * rs + 1 {
                                let c = (j + dc).saturating_sub(rs).min(cols - 1);
                                w[idx] = [*src.get(l, c); LANES];
                                idx += 1;
                            }
                        }
                        run_network(&mut w, &net);
                        *general.get_mut(i, j) = w[(k - 1) / 2][0];
                    }
                }
                assert_eq!(fast, general, "{rows}x{cols} window {rl},{rs}");
            }
        }
    }

    #[test]
    fn matches_naive_on_odd_frame() {
        let src = speckle_frame(37, 53, 5);
        for rl in 0..=3 {
            for rs in 0..=3 {
                if rl + rs == 0 {
                    continue;
                }
                let fast = speckle(&src, &SpeckleFilter::Median { radius_lines: rl, radius_samples: rs }).unwrap();
                assert_eq!(fast, median_naive(&src, rl, rs), "{rl} {rs}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_naive_random(rows in 1usize..25, cols in 1usize..30, rl in 0usize..4, rs in 0usize..4, seed in any::<u64>()) {
            prop_assume!(rl + rs > 0);
            let src = speckle_frame(rows, cols, seed);
            let fast = speckle(&src, &SpeckleFilter::Median { radius_lines: rl, radius_samples: rs }).unwrap();
            prop_assert_eq!(fast, median_naive(&src, rl, rs));
        }
    }
}
