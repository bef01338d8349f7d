//! Lumen and vessel (EEM) borders in the polar domain.
//!
//! Both borders are closed paths across all A-lines found by [`path::optimal_closed_path`].
//! Costs are built from the (speckle-filtered) polar frame after normalising intensities by
//! per-frame percentiles, so gain and dynamic range do not matter:
//!
//! * **Lumen** (blood / plaque border, or the border of the plaque-filled original lumen): for a
//!   border at sample `s`, the interior `[start, s)` must be homogeneous and darker than a
//!   window just outside. The cost is `−(mean_out − mean_in − σ/√n_in − w_h·max(0, sd_in − σ))`
//!   minus a weighted local edge, where `σ` is the frame's speckle standard deviation (median of
//!   short-window SDs), so a short interior proves little and an interior that varies more than
//!   speckle is penalised. This is the two-region (piecewise-constant) model of Chan & Vese
//!   reduced to one A-line with a local outside region (T. F. Chan, L. A. Vese, "Active contours
//!   without edges", IEEE TIP 10(2):266–277, 2001). It replaced a global-threshold region term
//!   (Otsu), which failed whenever plaque and perivascular tissue overlapped in intensity.
//! * **Vessel** (EEM = media–adventitia border): the dark media band followed by bright
//!   adventitia, i.e. a dark-to-bright step preceded by a bright-to-dark step, searched at least
//!   `min_wall_mm` outside the lumen border on every line (lumen inside vessel by construction).
//!
//! * **Layer check.** The joint optimum is approximated by two search orders (lumen first,
//!   vessel first; the lower total energy wins). When the wall is occluded or thin, the
//!   lumen-first order can put its "lumen" on the EEM itself (the dark media band reads as the
//!   edge of a dark interior) and its "vessel" one layer out, in the adventitia. That pair is
//!   recognised when its lumen lies on the vessel-first EEM (median distance ≤ the media
//!   window) and that EEM's media → adventitia contrast exceeds 1.5x the contrast of the
//!   lumen-first vessel + 3 speckle SDs ([`eem_contrast`]); the vessel-first pair is kept.
//!   Tuning phantoms 1000–1299 (`tools/tune.rs`): vessel Jaccard 0.940 → 0.959 (non-CTO scenes)
//!   and 0.907 → 0.931 (CTO scenes), vessel area error 10.9 % → 2.3 % (non-CTO); lumen Jaccard
//!   0.877 → 0.886 (non-CTO), intraplaque CTO lumens 0.861 → 0.886. It is wrong when a very
//!   bright lumen border (blood against a thin bright intima) out-contrasts the real EEM: 3 of
//!   300 non-CTO tuning frames got worse (seed 1038: vessel Jaccard 0.92 → 0.47).
//!
//! A-lines in acoustic shadow (guidewire, calcium) carry no information: their costs are set
//! to zero so the optimal path bridges them with the smoothest admissible curve; the bridged
//! angle is reported in the quality flags. One thing is known there, though: what casts the
//! shadow lies inside the vessel, so on those lines the EEM may not lie in front of a wire's
//! far surface or of calcium's leading echo (`vessel_floor`,
//! [`crate::guidewire::ShadowWorkspace::vessel_floor_mm`]). Without that bound a wide shadow
//! over a subintimal catheter's far side was bridged from the lines beside it, which pass
//! close to the catheter, and the EEM closed round the catheter in front of the lumen it
//! should enclose: tuning CTO frames 1000–1299 (`tools/tune.rs`), vessel Jaccard 0.938 →
//! 0.946, subintimal lumen Jaccard 0.714 → 0.735, catheter position 259 → 262 of 300 (seeds
//! 1112, 1143, 1247, 1262: vessel Jaccard 0.23–0.45 → 0.78–0.88); non-CTO frames vessel
//! 0.962 → 0.964, positions unchanged. (A bound 0.2 mm further out cost seed 1037 its EEM.)
//!
//! *Clearance beyond a wire.* Beyond a wire the bound lies further out by the assumed media
//! ([`SegmentParams::media_mm`]) and the intima that lines a true lumen
//! ([`beside::LUMEN_LINING_MM`]), the same inset that keeps a lumen inside the EEM: a wire lies
//! in the lumen or in the plaque or subintimal space, never in or beyond the media (the
//! pipeline adds it on a wire's lines, `Pipeline::process`). Only a wire: calcium may lie in the
//! media itself (medial calcification). Without it a wire's bright, wide echo arc could pass
//! for the adventitia and the EEM closed just behind the wire, in front of the lumen round it
//! (tuning seeds 1139, 1864, 1882: vessel Jaccard 0.52 / 0.81 / 0.73 → 0.96 / 0.92 / 0.90).
//! It costs small vessels whose wire lies near the media a little (seeds 1052, 1147, 1160,
//! 1350, 1561: 0.03–0.06 each; 1414 lost part of its lumen beside the catheter, 0.77 → 0.52).
//! Session 17, tuning CTO frames 1000–1899: vessel Jaccard 0.9602 → 0.9610, lumen 0.8746 →
//! 0.8754, subintimal 0.836 → 0.838, wire inside/outside 95.0 → 95.2 %, positions unchanged
//! (838 of 900); non-CTO 1000–1299: vessel 0.9637 → 0.9639, lumen 0.9056 → 0.9057, the rest
//! unchanged. Held-out (`tests/true_lumen.rs`) unchanged on seeds 7000–7059, subintimal 0.834
//! → 0.843 on 7060–7299; `tests/wires_calcium.rs` unchanged. A clearance of 0.12 / 0.16 / 0.2 /
//! 0.3 mm gave vessel Jaccard 0.9607 / 0.9612 / 0.9609 / 0.9592 (CTO) and 0.9641 / 0.9640 /
//! 0.9638 / 0.9619 (non-CTO): about flat up to 0.2 mm, worse beyond, where a wire in the
//! plaque next to a thin media would put the bound beyond the EEM.
//!
//! The lumen cost also ignores the lines beside a wire's shadow that its strong, laterally
//! blurred echo still outshines ([`ShadowMasks::lumen_lines`],
//! [`crate::guidewire::LUMEN_BRIDGE_BEAM_FACTOR`]), so the lumen is bridged past the wire
//! rather than stopped at its blur.
//!
//! The catheter-enclosing case is a single radius per angle. A true lumen beside a subintimal
//! catheter is found by [`beside`] (re-centred star-shaped search with the same cost and path
//! search); the two hypotheses are compared by the same region evidence.
//!
//! # Performance (issue #6)
//!
//! Instructions per 512x512 pipeline frame (callgrind, `tools/perf_driver.rs 512 4`, see the
//! README "Speed" section): building the two cost images took 13.3 M (five window means with
//! a division each, a square root and a clamped window per sample, on 360 lines x ~300
//! samples). The per-depth factors (`1 / n_in`, `σ / √n_in`) are the same on every line, and
//! away from the ring-down and the last samples every window has its full length, so there the
//! costs are branch-free loops over shifted prefix-sum slices with constant reciprocals, which
//! the compiler vectorises (the general formula still serves the few depths at the ends):
//! 13.3 M → 4.1 M, accuracy figures unchanged. The vessel-first order's first search (the
//! vessel on its own) is kept in [`SegmentWorkspace::vessel_alone`]: the true-lumen stage
//! used to repeat it as its "wall" search (−3.5 M).

pub mod beside;
mod fastmath;
pub mod media;
pub mod path;
pub mod refine;

use crate::geometry::PolarGeometry;
use crate::plane::{Plane, PolarImage};
use path::{PathParams, PathWorkspace, optimal_closed_path};

/// Settings for [`segment_borders`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentParams {
    /// Largest border slope `dr / (r dθ)` allowed between neighbouring lines (at 1.5 mm radius).
    pub max_slope: f64,
    /// Soft smoothness cost per sample of change between lines.
    pub jump_penalty: f32,
    /// Weight of the local lumen edge term relative to the interior-vs-outside step.
    pub lumen_edge_weight: f32,
    /// Window just outside the lumen border compared with the interior, mm.
    pub lumen_outside_mm: f64,
    /// Penalty on the spread of intensities inside the lumen (interior must be homogeneous).
    pub lumen_homogeneity_weight: f32,
    /// Half-window of the lumen edge detector, mm.
    pub lumen_edge_mm: f64,
    /// Media thickness assumed by the vessel edge detector, mm.
    pub media_mm: f64,
    /// Adventitia window of the vessel edge detector, mm.
    pub adventitia_mm: f64,
    /// Minimum distance from lumen border to EEM, mm.
    pub min_wall_mm: f64,
    /// Maximum distance from lumen border to EEM, mm.
    pub max_wall_mm: f64,
    /// Largest vessel radius considered, mm.
    pub max_vessel_radius_mm: f64,
    /// A lumen beside the catheter (subintimal position, [`beside`]) is only considered when the
    /// EEM found on its own comes this close to the sheath somewhere, mm: a catheter in the
    /// subintimal space lies between intima and media, so only the media (typically 0.1–0.3 mm)
    /// and a thin dissection plane separate it from the EEM. *Typical* 0.5 mm.
    pub subintimal_max_eem_gap_mm: f64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            max_slope: 1.5,
            jump_penalty: 0.2,
            lumen_edge_weight: 0.5,
            lumen_outside_mm: 0.08,
            lumen_homogeneity_weight: 1.0,
            lumen_edge_mm: 0.06,
            media_mm: 0.12,
            adventitia_mm: 0.15,
            min_wall_mm: 0.1,
            max_wall_mm: 2.5,
            max_vessel_radius_mm: 4.0,
            subintimal_max_eem_gap_mm: 0.5,
        }
    }
}

/// Per-frame intensity statistics used to normalise costs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameStats {
    /// 5th percentile of the analysed annulus.
    pub p5: f32,
    /// 95th percentile of the analysed annulus.
    pub p95: f32,
}

/// Borders found, as one sample index per line (sample of the first pixel *outside*).
#[derive(Debug, Clone, Default)]
pub struct PolarBorders {
    /// Lumen border per line (empty when not found).
    pub lumen: Vec<usize>,
    /// Vessel border per line (empty when not found).
    pub vessel: Vec<usize>,
    /// (Band outside the lumen − lumen interior) mean intensity, in speckle standard deviations.
    pub lumen_contrast: f32,
    /// (Adventitia − media) mean intensity at the EEM, in speckle standard deviations.
    pub vessel_contrast: f32,
}

/// Reusable buffers for [`segment_borders`].
#[derive(Debug, Default, Clone)]
pub struct SegmentWorkspace {
    /// Normalised intensities of the last call (for inspection).
    pub norm: Plane<f32>,
    prefix: Plane<f32>,
    prefix2: Plane<f32>,
    /// Lumen cost image of the last call (for inspection).
    pub cost: Plane<f32>,
    /// Vessel cost image of the last call (for inspection).
    pub cost_v: Plane<f32>,
    lo: Vec<usize>,
    hi: Vec<usize>,
    hist: Vec<u32>,
    scratch: Vec<f32>,
    l_try: Vec<usize>,
    v_try: Vec<usize>,
    inv_n: Vec<f32>,
    sd_pen: Vec<f32>,
    path: PathWorkspace,
    /// Result of the last call.
    pub borders: PolarBorders,
    /// Statistics of the last call.
    pub stats: FrameStats,
    /// Speckle standard deviation of [`SegmentWorkspace::norm`] in the last call (0 if none).
    pub speckle_sd: f32,
    /// The vessel border found on its own (no lumen inside it) in the last call: the first
    /// search of the vessel-first order, over `[start + min_wall, end − adventitia]` (empty
    /// when it was not run or found nothing). The true-lumen stage uses it as the wall a lumen
    /// beside the catheter may not cross.
    pub vessel_alone: Vec<usize>,
}

const HIST_BINS: usize = 256;

/// Layer check of [`segment_borders`]: the vessel-first pair replaces a lumen-first pair whose
/// lumen lies on the vessel-first EEM when that EEM's media → adventitia contrast (speckle SDs,
/// [`eem_contrast`]) exceeds `FACTOR ·` the contrast of the lumen-first vessel `+ MARGIN`.
const LAYER_CONTRAST_FACTOR: f32 = 1.5;
/// See [`LAYER_CONTRAST_FACTOR`].
const LAYER_CONTRAST_MARGIN: f32 = 3.0;

/// Smallest 5–95 % intensity spread (input grey levels) in which borders are searched at all.
pub const MIN_SPREAD: f32 = 2.0;

/// Max jump in samples per line for a slope limit at a reference radius of 1.5 mm.
fn max_jump(geom: &PolarGeometry, max_slope: f64) -> usize {
    let arc_mm = 1.5 * std::f64::consts::TAU / geom.n_lines as f64;
    ((max_slope * arc_mm / geom.mm_per_sample).ceil() as usize).clamp(1, 12)
}

/// Mean of `prefix`-summed row over `[a, b)` (clamped; `b > a` required for a value).
#[inline]
fn win_mean(pre: &[f32], a: usize, b: usize) -> f32 {
    let b = b.min(pre.len() - 1);
    if b <= a {
        return 0.0;
    }
    (pre[b] - pre[a]) / (b - a) as f32
}

/// What [`segment_borders`] knows about acoustic shadows, per A-line (empty slices = none).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShadowMasks<'a> {
    /// Lines whose costs are ignored (bridged) for both borders.
    pub lines: &'a [bool],
    /// Lines whose lumen cost is ignored as well (a wire's echo spreads laterally further than
    /// its shadow; [`crate::guidewire::ShadowWorkspace::lumen_bridge`]).
    pub lumen_lines: &'a [bool],
    /// Smallest sample the EEM may lie at (see module docs, shadows).
    pub vessel_floor: &'a [usize],
}

/// Finds lumen and vessel borders. `start` is the first sample beyond the ring-down; `shadows`
/// says which lines carry no evidence and where the EEM must lie beyond a shadow's cause.
pub fn segment_borders(
    polar: &PolarImage,
    geom: &PolarGeometry,
    start: usize,
    shadows: &ShadowMasks<'_>,
    params: &SegmentParams,
    ws: &mut SegmentWorkspace,
) {
    let ShadowMasks { lines: shadowed, lumen_lines: lumen_shadowed, vessel_floor } = *shadows;
    let (n, ns) = polar.shape();
    ws.speckle_sd = 0.0;
    ws.borders.lumen.clear();
    ws.borders.vessel.clear();
    ws.vessel_alone.clear();
    let mmps = geom.mm_per_sample;
    let end = ((params.max_vessel_radius_mm / mmps) as usize).min(ns - 1);
    if start + 10 >= end {
        return;
    }
    // 1. Normalisation by percentiles of the annulus [start, end) over unshadowed lines.
    let (p5, p95) = percentiles(polar, start, end, shadowed, &mut ws.hist);
    if !(p95 - p5 >= MIN_SPREAD) {
        // A flat frame (blank, saturated, or a constant test pattern): nothing to segment.
        ws.stats = FrameStats { p5, p95 };
        ws.borders.lumen_contrast = 0.0;
        ws.borders.vessel_contrast = 0.0;
        return;
    }
    let spread = p95 - p5;
    ws.norm.resize(n, ns);
    for (o, &v) in ws.norm.as_mut_slice().iter_mut().zip(polar.as_slice()) {
        *o = (v - p5) / spread;
    }
    ws.stats = FrameStats { p5, p95 };
    // 2. Prefix sums along each line: prefix(l, s) = Σ_{u<s} J(l, u).
    ws.prefix.resize(n, ns + 1);
    ws.prefix2.resize(n, ns + 1);
    for l in 0..n {
        let (mut acc, mut acc2) = (0.0f32, 0.0f32);
        let src = ws.norm.row(l);
        let (dst, dst2) = (ws.prefix.row_mut(l), ws.prefix2.row_mut(l));
        dst[0] = 0.0;
        dst2[0] = 0.0;
        for s in 0..ns {
            acc += src[s];
            acc2 += src[s] * src[s];
            dst[s + 1] = acc;
            dst2[s + 1] = acc2;
        }
    }
    let k = max_jump(geom, params.max_slope);
    let pp = PathParams { max_jump: k, jump_penalty: params.jump_penalty };
    let samples = |mm: f64| ((mm / mmps).round() as usize).max(1);
    // 3. Cost images. Lumen: homogeneous dark interior against a brighter window outside.
    let we = samples(params.lumen_edge_mm).max(2);
    let wo = samples(params.lumen_outside_mm).max(2);
    let wm = samples(params.media_mm).max(2);
    let wa = samples(params.adventitia_mm).max(2);
    let gap = samples(params.min_wall_mm);
    let max_wall = samples(params.max_wall_mm);
    let vessel_end = end.saturating_sub(wa);
    let lumen_end = vessel_end.saturating_sub(gap);
    if lumen_end <= start + 2 {
        return;
    }
    let speckle_sd = speckle_sd(&ws.prefix, &ws.prefix2, start, end, samples(0.1).max(4), shadowed, &mut ws.scratch);
    ws.speckle_sd = speckle_sd;
    ws.cost.resize(n, ns);
    ws.cost_v.resize(n, ns);
    // Per-depth factors shared by all lines (interior length 1/n_in and its speckle term), and
    // the depth range `[s_lo, s_hi]` where every window of the lumen cost lies inside the line
    // and has its full length (there the cost is a branch-free loop the compiler vectorises;
    // the few depths outside it take the general formula).
    let lumen_lo = start;
    ws.inv_n.clear();
    ws.sd_pen.clear();
    for s in lumen_lo..=lumen_end {
        let a = start.min(s.saturating_sub(1));
        let n_in = (s - a).max(1) as f32;
        ws.inv_n.push(1.0 / n_in);
        ws.sd_pen.push(speckle_sd / n_in.sqrt());
    }
    let s_lo = (start + we).max(start + 1);
    let s_hi = lumen_end.min(ns.saturating_sub(wo.max(we)));
    let (inv_wo, inv_we) = (1.0 / wo as f32, 1.0 / we as f32);
    // Vessel cost: full windows for s in [v_lo, v_hi].
    let wp = wm + wm / 2;
    let v_lo = (2 * wm + wm / 2).max(start.min(vessel_end));
    let v_hi = vessel_end.min(ns.saturating_sub(wa));
    let (inv_wm, inv_wa, inv_wp) = (1.0 / wm as f32, 1.0 / wa as f32, 1.0 / wp as f32);
    for l in 0..n {
        let pre = ws.prefix.row(l);
        let pre2 = ws.prefix2.row(l);
        let row = ws.cost.row_mut(l);
        row.fill(0.0);
        let row_v = ws.cost_v.row_mut(l);
        row_v.fill(0.0);
        if shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        let lumen_shadow = lumen_shadowed.get(l).copied().unwrap_or(false);
        let lumen_at = |s: usize| {
            let a = start.min(s.saturating_sub(1));
            let inside = win_mean(pre, a, s);
            let inside_sd = (win_mean(pre2, a, s) - inside * inside).max(0.0).sqrt();
            // Interior: homogeneous beyond what speckle explains, and its mean taken at the
            // upper end of its uncertainty (a short interior proves little).
            let n_in = (s - a).max(1) as f32;
            let excess_sd = (inside_sd - speckle_sd).max(0.0);
            let step = win_mean(pre, s, s + wo)
                - inside
                - speckle_sd / n_in.sqrt()
                - params.lumen_homogeneity_weight * excess_sd;
            let edge = win_mean(pre, s, s + we) - win_mean(pre, s.saturating_sub(we).max(a), s);
            -step - params.lumen_edge_weight * edge
        };
        if lumen_shadow {
            // No lumen evidence on this line (see `lumen_shadowed`).
        } else if s_lo <= s_hi {
            for s in (start..s_lo).chain(s_hi + 1..=lumen_end) {
                row[s] = lumen_at(s);
            }
            // The same formula with the window lengths known (a = start for s > start).
            let m = s_hi - s_lo + 1;
            let (pa, p2a) = (pre[start], pre2[start]);
            let (wh, wl) = (params.lumen_homogeneity_weight, params.lumen_edge_weight);
            let inv_n = &ws.inv_n[s_lo - lumen_lo..][..m];
            let sd_pen = &ws.sd_pen[s_lo - lumen_lo..][..m];
            let p = &pre[s_lo..][..m];
            let p2 = &pre2[s_lo..][..m];
            let po = &pre[s_lo + wo..][..m];
            let pe = &pre[s_lo + we..][..m];
            let pm = &pre[s_lo - we..][..m];
            let out = &mut row[s_lo..][..m];
            for i in 0..m {
                let inside = (p[i] - pa) * inv_n[i];
                let inside_sd = ((p2[i] - p2a) * inv_n[i] - inside * inside).max(0.0).sqrt();
                let excess_sd = (inside_sd - speckle_sd).max(0.0);
                let step = (po[i] - p[i]) * inv_wo - inside - sd_pen[i] - wh * excess_sd;
                let edge = (pe[i] - p[i]) * inv_we - (p[i] - pm[i]) * inv_we;
                out[i] = -step - wl * edge;
            }
        } else {
            for s in start..=lumen_end {
                row[s] = lumen_at(s);
            }
        }
        // Vessel: dark media then bright adventitia, after a brighter plaque. (Filled from
        // `start` so that a vessel-only search (`beside`) can use it; the joint search below
        // keeps its own windows.)
        let v_from = start.min(vessel_end);
        if v_lo <= v_hi {
            for s in (v_from..v_lo).chain(v_hi + 1..=vessel_end) {
                row_v[s] = vessel_cost(pre, s, wm, wa);
            }
            let m = v_hi - v_lo + 1;
            let p = &pre[v_lo..][..m];
            let pm = &pre[v_lo - wm..][..m];
            let pp = &pre[v_lo - wm - wp..][..m];
            let pa = &pre[v_lo + wa..][..m];
            let out = &mut row_v[v_lo..][..m];
            for i in 0..m {
                let media = (p[i] - pm[i]) * inv_wm;
                let adv = (pa[i] - p[i]) * inv_wa;
                let plaque = (pm[i] - pp[i]) * inv_wp;
                out[i] = -(adv - media) - 0.5 * (plaque - media).max(0.0);
            }
        } else {
            for s in v_from..=vessel_end {
                row_v[s] = vessel_cost(pre, s, wm, wa);
            }
        }
    }
    // 4. Two orders of search; keep the one with the lower total energy (a coordinate-descent
    //    approximation of the joint two-surface optimum).
    let mut lumen = std::mem::take(&mut ws.borders.lumen);
    let mut vessel = std::mem::take(&mut ws.borders.vessel);
    let mut best_total = f32::INFINITY;
    let mut l_try = std::mem::take(&mut ws.l_try);
    let mut v_try = std::mem::take(&mut ws.v_try);
    lumen.clear();
    vessel.clear();
    let (mut best_lumen_first, mut vessel_first_found) = (false, false);
    for lumen_first in [true, false] {
        let total = if lumen_first {
            ws.lo.clear();
            ws.lo.resize(n, start);
            ws.hi.clear();
            ws.hi.resize(n, lumen_end);
            let Some(cl) = optimal_closed_path(&ws.cost, &ws.lo, &ws.hi, pp, &mut ws.path, &mut l_try) else {
                continue;
            };
            // The vessel is searched outside the lumen just found. (Clipping the vessel cost's
            // media window at that lumen border was tried on 2026-11-27: it pulled the EEM out to
            // the adventitia's outer edge whenever the lumen had landed on the EEM, and lowered
            // vessel Jaccard on the tuning phantoms from 0.937 to 0.925.)
            for l in 0..n {
                let floor = vessel_floor.get(l).copied().unwrap_or(0);
                ws.lo[l] = (l_try[l] + gap).max(floor).min(vessel_end);
                ws.hi[l] = (l_try[l] + max_wall).min(vessel_end).max(ws.lo[l]);
            }
            let Some(cv) = optimal_closed_path(&ws.cost_v, &ws.lo, &ws.hi, pp, &mut ws.path, &mut v_try) else {
                continue;
            };
            cl + cv
        } else {
            ws.lo.clear();
            ws.lo.resize(n, (start + gap).min(vessel_end));
            for (l, lo) in ws.lo.iter_mut().enumerate() {
                *lo = (*lo).max(vessel_floor.get(l).copied().unwrap_or(0)).min(vessel_end);
            }
            ws.hi.clear();
            ws.hi.resize(n, vessel_end);
            let Some(cv) = optimal_closed_path(&ws.cost_v, &ws.lo, &ws.hi, pp, &mut ws.path, &mut v_try) else {
                continue;
            };
            ws.vessel_alone.clone_from(&v_try);
            for l in 0..n {
                ws.lo[l] = v_try[l].saturating_sub(max_wall).max(start);
                ws.hi[l] = v_try[l].saturating_sub(gap).max(ws.lo[l]);
            }
            let Some(cl) = optimal_closed_path(&ws.cost, &ws.lo, &ws.hi, pp, &mut ws.path, &mut l_try) else {
                continue;
            };
            cl + cv
        };
        if total < best_total {
            best_total = total;
            lumen.clone_from(&l_try);
            vessel.clone_from(&v_try);
            best_lumen_first = lumen_first;
        }
        vessel_first_found = !lumen_first;
    }
    // 4b. Layer check: the lumen-first order can put its "lumen" on the EEM itself (the dark
    //     media band reads as a dark interior's edge when the wall is occluded or thin) and its
    //     "vessel" one layer out, in the adventitia. Then the vessel-first order's EEM lies on
    //     that lumen border and has far more media → adventitia contrast than the vessel border
    //     outside it; the vessel-first pair is kept instead.
    if best_lumen_first && vessel_first_found && lumen.len() == n && l_try.len() == n {
        ws.scratch.clear();
        for l in 0..n {
            if !shadowed.get(l).copied().unwrap_or(false) {
                ws.scratch.push((lumen[l] as f32 - v_try[l] as f32).abs());
            }
        }
        if !ws.scratch.is_empty() {
            let mid = ws.scratch.len() / 2;
            let on_eem = *ws.scratch.select_nth_unstable_by(mid, f32::total_cmp).1 <= wm as f32;
            let c_outer = eem_contrast(&ws.norm, &vessel, shadowed, wm, wa, speckle_sd);
            let c_alone = eem_contrast(&ws.norm, &v_try, shadowed, wm, wa, speckle_sd);
            if on_eem && c_alone > LAYER_CONTRAST_FACTOR * c_outer.max(0.0) + LAYER_CONTRAST_MARGIN {
                lumen.clone_from(&l_try);
                vessel.clone_from(&v_try);
            }
        }
    }
    ws.l_try = l_try;
    ws.v_try = v_try;
    // 5. Contrast figures, region against region in units of the speckle spread: the whole
    //    interior against a band just outside the lumen; media against adventitia at the EEM.
    //    Unlike the border costs (which the search maximised, so even pure noise scores), wide
    //    regions average speckle out, so these say whether a border is really there.
    let band = samples(0.3);
    let (mut in_sum, mut in_n, mut out_sum, mut out_n) = (0.0f64, 0usize, 0.0f64, 0usize);
    let (mut med_sum, mut med_n, mut adv_sum, mut adv_n) = (0.0f64, 0usize, 0.0f64, 0usize);
    for l in 0..n {
        if shadowed.get(l).copied().unwrap_or(false) || lumen.is_empty() {
            continue;
        }
        let pre = ws.prefix.row(l);
        let sl = lumen[l];
        in_sum += (pre[sl] - pre[start.min(sl)]) as f64;
        in_n += sl.saturating_sub(start);
        let o1 = (sl + band).min(ns);
        out_sum += (pre[o1] - pre[sl]) as f64;
        out_n += o1 - sl;
        if !vessel.is_empty() {
            let v = vessel[l];
            let m0 = v.saturating_sub(wm).max(sl);
            med_sum += (pre[v] - pre[m0]) as f64;
            med_n += v - m0;
            let a1 = (v + 2 * wa).min(ns);
            adv_sum += (pre[a1] - pre[v]) as f64;
            adv_n += a1 - v;
        }
    }
    let contrast = |hi: f64, hn: usize, lo: f64, ln: usize| -> f32 {
        if hn == 0 || ln == 0 || !(speckle_sd > 0.0) {
            return 0.0;
        }
        ((hi / hn as f64 - lo / ln as f64) / speckle_sd as f64) as f32
    };
    let lc = contrast(out_sum, out_n, in_sum, in_n);
    let vc = contrast(adv_sum, adv_n, med_sum, med_n);
    ws.borders = PolarBorders { lumen, vessel, lumen_contrast: lc, vessel_contrast: vc };
}

/// Circular running mean of `values` over `±half` neighbours (wrapping at the ends), in place;
/// `tmp` is scratch. Used on closed borders given one value per direction: the refined EEM and
/// catheter-enclosing lumen (one sample per A-line) and the beside lumen (one radius per ray).
pub fn smooth_circular(values: &mut [f64], half: usize, tmp: &mut Vec<f64>) {
    let n = values.len();
    let half = half.min(n.saturating_sub(1) / 2);
    if half == 0 {
        return;
    }
    tmp.clear();
    tmp.extend_from_slice(values);
    let w = (2 * half + 1) as f64;
    let mut sum: f64 = (0..=2 * half).map(|d| tmp[(n + d - half) % n]).sum();
    for i in 0..n {
        values[i] = sum / w;
        // Slide: drop i − half, add i + half + 1.
        sum += tmp[(i + half + 1) % n] - tmp[(i + n - half) % n];
    }
}

/// 5th and 95th percentiles of the annulus `[start, end)` over unshadowed lines.
pub fn percentiles(polar: &PolarImage, start: usize, end: usize, shadowed: &[bool], hist: &mut Vec<u32>) -> (f32, f32) {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for l in 0..polar.rows() {
        if shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        for &v in &polar.row(l)[start..end] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !(hi > lo) {
        return (lo.min(0.0), lo.min(0.0) + 1.0);
    }
    hist.clear();
    hist.resize(HIST_BINS, 0);
    let scale = (HIST_BINS - 1) as f32 / (hi - lo);
    let mut total = 0u64;
    for l in 0..polar.rows() {
        if shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        for &v in &polar.row(l)[start..end] {
            hist[((v - lo) * scale) as usize] += 1;
            total += 1;
        }
    }
    let q = |f: f64| -> f32 {
        let target = (f * total as f64) as u64;
        let mut acc = 0u64;
        for (i, &c) in hist.iter().enumerate() {
            acc += c as u64;
            if acc > target {
                return lo + (i as f32 + 0.5) / scale;
            }
        }
        hi
    };
    (q(0.05), q(0.95))
}

/// Typical speckle spread: median over the annulus of the standard deviation in windows of
/// `w` samples along the lines (normalised units).
fn speckle_sd(
    prefix: &Plane<f32>,
    prefix2: &Plane<f32>,
    start: usize,
    end: usize,
    w: usize,
    skip: &[bool],
    out: &mut Vec<f32>,
) -> f32 {
    out.clear();
    for l in 0..prefix.rows() {
        if skip.get(l).copied().unwrap_or(false) {
            continue;
        }
        let (p, p2) = (prefix.row(l), prefix2.row(l));
        let mut s = start;
        while s + w <= end {
            let m = win_mean(p, s, s + w);
            out.push((win_mean(p2, s, s + w) - m * m).max(0.0).sqrt());
            s += w;
        }
    }
    if out.is_empty() {
        return 0.0;
    }
    let mid = out.len() / 2;
    let (_, m, _) = out.select_nth_unstable_by(mid, f32::total_cmp);
    *m
}

/// Vessel (EEM) cost of a border at `s`: a dark media window `[s − wm, s)` followed by a bright
/// adventitia window `[s, s + wa)`, with a bonus when brighter plaque precedes the media.
#[inline]
fn vessel_cost(pre: &[f32], s: usize, wm: usize, wa: usize) -> f32 {
    let media = win_mean(pre, s.saturating_sub(wm), s);
    let adv = win_mean(pre, s, s + wa);
    let p0 = s.saturating_sub(2 * wm + wm / 2);
    let p1 = s.saturating_sub(wm);
    let plaque = if p1 > p0 { win_mean(pre, p0, p1) } else { media };
    -(adv - media) - 0.5 * (plaque - media).max(0.0)
}

/// EEM evidence of a closed path `vessel` (one sample per line) on the normalised frame `norm`:
/// mean of the adventitia window `[v, v + 2 wa)` minus the mean of the media window
/// `[v − wm, v)` over unshadowed lines, in units of `speckle_sd` (as
/// [`PolarBorders::vessel_contrast`], without a lumen to clip the media window).
pub fn eem_contrast(
    norm: &Plane<f32>,
    vessel: &[usize],
    shadowed: &[bool],
    wm: usize,
    wa: usize,
    speckle_sd: f32,
) -> f32 {
    let (mut med, mut nm, mut adv, mut na) = (0.0f64, 0usize, 0.0f64, 0usize);
    for (l, &v) in vessel.iter().enumerate() {
        if l >= norm.rows() || shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        let row = norm.row(l);
        let v = v.min(row.len());
        for &x in &row[v.saturating_sub(wm)..v] {
            med += x as f64;
            nm += 1;
        }
        for &x in &row[v..(v + 2 * wa).min(row.len())] {
            adv += x as f64;
            na += 1;
        }
    }
    if nm == 0 || na == 0 || !speckle_sd.is_finite() || speckle_sd <= 0.0 {
        return 0.0;
    }
    ((adv / na as f64 - med / nm as f64) / speckle_sd as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circular_smoothing_is_a_wrapping_running_mean() {
        let v: Vec<f64> = (0..17).map(|i| ((i * 7919) % 13) as f64).collect();
        for half in [0usize, 1, 3, 8, 20] {
            let mut got = v.clone();
            smooth_circular(&mut got, half, &mut Vec::new());
            let h = half.min(8);
            for (i, g) in got.iter().enumerate() {
                let want = if h == 0 {
                    v[i]
                } else {
                    (0..=2 * h).map(|d| v[(i + 17 + d - h) % 17]).sum::<f64>() / (2 * h + 1) as f64
                };
                assert!((g - want).abs() < 1e-9, "half {half} i {i}: {g} vs {want}");
            }
        }
        // A constant border stays put; an empty one is left alone.
        let mut c = vec![1.25; 96];
        smooth_circular(&mut c, 3, &mut Vec::new());
        assert!(c.iter().all(|&x| (x - 1.25).abs() < 1e-12));
        smooth_circular(&mut [], 3, &mut Vec::new());
    }
}
