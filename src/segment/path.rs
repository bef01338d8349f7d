//! Globally optimal closed border in a polar cost image by dynamic programming.
//!
//! A border is one sample index per A-line, `s(l)`, with `|s(l+1) − s(l)| ≤ max_jump` for every
//! pair of neighbouring lines *including* the pair `(n−1, 0)` (closure across the angle seam).
//! The border minimises `Σ_l cost(l, s(l)) + jump_penalty · Σ_l |s(l+1) − s(l)|` over the
//! per-line search windows `[lo(l), hi(l)]`.
//!
//! Method: the graph-search formulation of Sonka et al. [1] solved by dynamic programming on
//! the unrolled ring. Exact cyclic optimisation would run one DP per start sample; instead we
//! (1) run the DP over two laps of the ring and read the start sample `s0` off the second lap,
//! where the influence of the arbitrary initial condition has died out, then (2) run one more
//! lap with `s(0) = s0` fixed and the last line constrained to `|s(n−1) − s0| ≤ max_jump`,
//! which guarantees closure. The result is optimal among closed borders through `s0`, which
//! is the optimum in practice (the two-lap estimate of `s0` is what an exact cyclic search
//! picks whenever the optimum is unique). Cost: 3 · lines · window · (2·max_jump+1).
//!
//! # References
//! [1] M. Sonka, X. Zhang, M. Siebes, M. S. Bissing, S. C. DeJong, S. M. Collins,
//!     C. R. McKay, "Segmentation of intravascular ultrasound images: a knowledge-based
//!     approach", IEEE Trans. Medical Imaging 14(4):719–732, 1995.
//! [2] K. Li, X. Wu, D. Z. Chen, M. Sonka, "Optimal surface segmentation in volumetric images —
//!     a graph-theoretic approach", IEEE TPAMI 28(1):119–134, 2006 (the multi-surface
//!     generalisation; we search surfaces one at a time with separation windows instead).

use crate::plane::Plane;

/// Scratch buffers for [`optimal_closed_path`]; reuse across frames to avoid allocation.
#[derive(Debug, Default, Clone)]
pub struct PathWorkspace {
    acc: Vec<f32>,
    prev_acc: Vec<f32>,
    back: Vec<u16>,
}

/// Search settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathParams {
    /// Largest allowed change of the sample index between neighbouring lines.
    pub max_jump: usize,
    /// Cost per sample of change between neighbouring lines (soft smoothness).
    pub jump_penalty: f32,
}

const INF: f32 = f32::INFINITY;

/// Finds the optimal closed border. `cost` is `lines x samples`; `lo`/`hi` give each line's
/// inclusive search window (clamped to the frame; an empty window is widened to one sample).
/// The path is written into `out` (one sample index per line). Returns the total cost
/// (`None` if no closed path satisfies the constraints, e.g. windows too far apart).
///
/// # Panics
/// If `lo`, `hi` do not have one entry per line or the cost image has more than 65 535
/// samples (internal back-pointer width).
pub fn optimal_closed_path(
    cost: &Plane<f32>,
    lo: &[usize],
    hi: &[usize],
    params: PathParams,
    ws: &mut PathWorkspace,
    out: &mut Vec<usize>,
) -> Option<f32> {
    let (n, ns) = cost.shape();
    assert_eq!(lo.len(), n, "one window start per line");
    assert_eq!(hi.len(), n, "one window end per line");
    assert!(ns <= u16::MAX as usize, "too many samples");
    out.clear();
    if n == 0 || ns == 0 {
        return None;
    }
    let win = |l: usize| -> (usize, usize) {
        let a = lo[l].min(ns - 1);
        let b = hi[l].min(ns - 1).max(a);
        (a, b)
    };
    let k = params.max_jump;
    ws.acc.clear();
    ws.acc.resize(ns, INF);
    ws.prev_acc.clear();
    ws.prev_acc.resize(ns, INF);

    // Phase 1: two laps, free start, to find s0 on line 0 of the second lap.
    {
        let (a, b) = win(0);
        ws.prev_acc[a..=b].copy_from_slice(&cost.row(0)[a..=b]);
    }
    ws.back.clear();
    ws.back.resize(n * ns, 0);
    for step in 1..2 * n {
        let l = step % n;
        let pl = (step - 1) % n;
        relax(
            cost.row(l),
            win(l),
            win(pl),
            k,
            params.jump_penalty,
            &ws.prev_acc,
            &mut ws.acc,
            &mut ws.back[l * ns..(l + 1) * ns],
        );
        std::mem::swap(&mut ws.acc, &mut ws.prev_acc);
        if step == n {
            // Re-base so the second lap's numbers stay small.
            let m = ws.prev_acc.iter().copied().fold(INF, f32::min);
            if m.is_finite() {
                ws.prev_acc.iter_mut().for_each(|v| *v -= m);
            }
        }
    }
    // prev_acc now holds line n-1 of lap 2; back-track to line 0 of lap 2.
    let (a, b) = win(n - 1);
    let mut s = argmin(&ws.prev_acc[a..=b])? + a;
    for l in (1..n).rev() {
        s = ws.back[l * ns + s] as usize;
    }
    let s0 = s;

    // Phase 2: one lap with s(0) = s0 fixed, closure enforced at the last line.
    ws.prev_acc.fill(INF);
    ws.prev_acc[s0] = cost.row(0)[s0];
    for l in 1..n {
        relax(
            cost.row(l),
            win(l),
            win(l - 1),
            k,
            params.jump_penalty,
            &ws.prev_acc,
            &mut ws.acc,
            &mut ws.back[l * ns..(l + 1) * ns],
        );
        std::mem::swap(&mut ws.acc, &mut ws.prev_acc);
    }
    let (a, b) = win(n - 1);
    let (ca, cb) = (s0.saturating_sub(k).max(a), (s0 + k).min(b));
    if ca > cb {
        return None;
    }
    let mut best = None;
    let mut best_v = INF;
    for s in ca..=cb {
        let v = ws.prev_acc[s] + params.jump_penalty * s.abs_diff(s0) as f32;
        if v < best_v {
            best_v = v;
            best = Some(s);
        }
    }
    let mut s = best?;
    out.resize(n, 0);
    for l in (1..n).rev() {
        out[l] = s;
        s = ws.back[l * ns + s] as usize;
    }
    out[0] = s;
    debug_assert_eq!(s, s0);
    Some(best_v)
}

/// One DP step: `acc[s] = cost[s] + min_{|d|≤k} prev[s+d] + pen·|d|` within the windows.
#[allow(clippy::too_many_arguments)]
#[inline]
fn relax(
    cost: &[f32],
    (a, b): (usize, usize),
    (pa, pb): (usize, usize),
    k: usize,
    pen: f32,
    prev: &[f32],
    acc: &mut [f32],
    back: &mut [u16],
) {
    acc.fill(INF);
    for s in a..=b {
        let lo = s.saturating_sub(k).max(pa);
        let hi = (s + k).min(pb);
        let mut best = INF;
        let mut arg = s.clamp(pa, pb);
        let mut t = lo;
        while t <= hi {
            let v = prev[t] + pen * t.abs_diff(s) as f32;
            if v < best {
                best = v;
                arg = t;
            }
            t += 1;
        }
        acc[s] = cost[s] + best;
        back[s] = arg as u16;
    }
}

fn argmin(v: &[f32]) -> Option<usize> {
    let mut best = None;
    let mut bv = INF;
    for (i, &x) in v.iter().enumerate() {
        if x < bv {
            bv = x;
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cost: &Plane<f32>, k: usize) -> Vec<usize> {
        let n = cost.rows();
        let mut out = Vec::new();
        let lo = vec![0; n];
        let hi = vec![cost.cols() - 1; n];
        optimal_closed_path(
            cost,
            &lo,
            &hi,
            PathParams { max_jump: k, jump_penalty: 0.01 },
            &mut PathWorkspace::default(),
            &mut out,
        )
        .expect("path");
        out
    }

    #[test]
    fn follows_a_sinusoidal_valley_and_closes() {
        let (n, ns) = (90, 60);
        let truth: Vec<usize> = (0..n)
            .map(|l| (30.0 + 10.0 * (l as f64 * std::f64::consts::TAU / n as f64).sin()).round() as usize)
            .collect();
        let cost = Plane::from_fn(n, ns, |l, s| (s as f32 - truth[l] as f32).abs());
        let p = run(&cost, 2);
        assert_eq!(p, truth);
    }

    #[test]
    fn bridges_a_gap_and_respects_closure() {
        // Valley at 10 on lines 0..50, at 20 on lines 50..100: closure across the seam and the
        // jump limit force a ramp on both transitions.
        let (n, ns) = (100, 40);
        let cost = Plane::from_fn(n, ns, |l, s| {
            let t = if l < 50 { 10 } else { 20 };
            (s as f32 - t as f32).abs()
        });
        let p = run(&cost, 1);
        for l in 0..n {
            assert!(p[l].abs_diff(p[(l + 1) % n]) <= 1, "jump at {l}: {p:?}");
        }
        assert_eq!(p[25], 10);
        assert_eq!(p[75], 20);
    }

    #[test]
    fn rotation_invariance() {
        let (n, ns) = (64, 30);
        let base = Plane::from_fn(n, ns, |l, s| ((l * 7 + s * 13) % 11) as f32 + (s as f32 - 15.0).abs() * 0.3);
        let p = run(&base, 1);
        let shift = 17;
        let rotated = Plane::from_fn(n, ns, |l, s| *base.get((l + shift) % n, s));
        let q = run(&rotated, 1);
        let cost = |c: &Plane<f32>, p: &[usize]| p.iter().enumerate().map(|(l, &s)| *c.get(l, s)).sum::<f32>();
        assert!((cost(&base, &p) - cost(&rotated, &q)).abs() < 1e-3);
    }
}
