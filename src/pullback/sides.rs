//! Lumen side over a pullback: a sequence pass over the catheter-position calls.
//!
//! Each frame decides on its own whether the true lumen lies round the catheter or beside it
//! ([`crate::segment::beside`], "Deciding between the hypotheses"). Where both hypotheses were
//! found and explain the vessel interior nearly equally well, the frame is flagged
//! [`QualityFlag::LumenSideUncertain`] and the call is little better than a coin. Along a
//! pullback, though, the catheter moves continuously: it rides on its wire through the plaque
//! or through the subintimal space for millimetres at a time, so a short run of frames whose
//! side differs from the frames on both sides of it is far more likely a wrong call than a
//! real excursion.
//!
//! This pass re-analyses each frame of such a run with the lumen beside the catheter
//! ([`crate::Pipeline::process_with_side`]) when
//! * every frame of the run is flagged `lumen_side_uncertain` (both lumens were found; a
//!   confident call is never overridden) and has its lumen round the catheter,
//! * the run is at most [`MAX_RUN_MM`] of pullback long ([`max_run_frames`]: 2 frames at the
//!   phantoms' 0.5 mm per frame; [`MAX_RUN_FRAMES`] when the frame spacing is not known), and
//! * the frames bounding it (just before and just after it) found a lumen, and both have it
//!   beside the catheter;
//!
//! and keeps a frame's new result only when its lumen agrees better with the bounding frames'
//! lumens (mean [`jaccard`] of the catheter-centred contours) than the old one did, and by at
//! least [`MIN_NEIGHBOUR_JACCARD`]. A kept frame gets [`QualityFlag::LumenSideFromNeighbours`]
//! (and keeps `lumen_side_uncertain`). The overlap test guards against neighbours that are not
//! the same anatomy (frames far apart, a jump in the pullback, unrelated images in one folder):
//! a lumen beside the catheter in the wrong place does not overlap the neighbours'.
//!
//! The pass never moves a frame the other way, from beside the catheter to round it: lumens
//! round the catheter all contain the catheter, so they overlap their neighbours' whether they
//! are right or not, and the overlap test cannot confirm them. On phantom pullbacks with a
//! subintimal stretch (`tests/pullback.rs`, development cases 6–25: 720 frames, 7 wrong
//! frame by frame) the uncertain lumens beside the catheter between two neighbours called
//! round it were all right calls at the ends of the stretch next to a wrong neighbour; taking
//! the neighbours' side made 3 of them wrong and none right. Lumens beside the catheter taken
//! from neighbours: the demo pullback's frames 25 and 30, both right. Runs of one frame only
//! (the first form) left the same 720 development frames unchanged; runs of up to 2 frames
//! (or 3) moved 4 wrong frames there (two runs of two) to the right side and nothing else.
//! Held out (cases 100–111 and 200–211, 864 frames): one frame moved, to the right side.
//!
//! The limit is a length of pullback, not a number of frames: a 30 frames/s pullback at
//! 0.5 mm/s has 60 frames in 1 mm, where the phantoms have 2, and an ambiguous stretch of
//! anatomy spans the same millimetres at any frame rate. The same development pullbacks
//! sampled 2 and 4 times more densely (0.25 and 0.125 mm per frame, one speckle pattern as in
//! consecutive frames of a real pullback) gave the same frames right with runs of up to 1 mm
//! (4 and 8 frames) as with runs of up to 2 frames: 1420 → 1428 of 1440 and 2831 → 2854 of
//! 2880 (held-out cases 100–111 at 0.125 mm: 1704 → 1719 of 1728 with either limit). So the
//! phantoms do not tell the two apart; their wrong runs are at most two frames long at every
//! spacing. The length is kept because it does not make the rule depend on the frame rate.
//!
//! Decisions use single-frame results only (never results this pass changed), so the outcome
//! depends only on the frame order, not on how frames were chunked or on the thread count, and
//! each frame needs only the next `max_run` frames to be final: [`SidePass`] streams with
//! that look-ahead.
//!
//! This is a simple form of the temporal consistency used in IVUS sequence segmentation (e.g.
//! the 3-D graph search over consecutive frames of Sun et al., "Graph-based IVUS segmentation
//! with efficient computer-aided refinement", IEEE Trans. Med. Imaging 32(8):1536–1549, 2013):
//! instead of a joint optimisation, a frame's own uncertain decision defers to its neighbours.
//!
//! The guidance of the second wire depends on the lumen: run the wire sequence pass
//! ([`crate::guidewire::WireSequence`]) *after* this pass (`truelumen analyze` does).

use crate::error::Error;
use crate::metrics::jaccard;
use crate::report::{FrameResult, QualityFlag};
pub use crate::segment::beside::LumenSide;

/// Least mean Jaccard between a re-analysed frame's lumen and its bounding frames' lumens for
/// the new result to be kept: what two equal discs offset by about a quarter of their diameter
/// give, so a lumen in a different place never qualifies. Consecutive frames of the demo
/// pullback's subintimal stretch (0.5 mm apart) give 0.48–0.92 (lowest where the second wire
/// lies inside the small lumen); its frame 25, taken beside the catheter by the pass, 0.54.
pub const MIN_NEIGHBOUR_JACCARD: f64 = 0.5;

/// Longest run of consecutive uncertain frames the pass moves as one when the frame spacing
/// is not known (module docs): [`MAX_RUN_MM`] at the phantom pullbacks' 0.5 mm per frame.
pub const MAX_RUN_FRAMES: usize = 2;

/// Longest run of consecutive uncertain frames the pass moves as one, mm of pullback: the
/// 2 frames found best at 0.5 mm per frame (module docs). [`max_run_frames`] turns it into
/// frames.
pub const MAX_RUN_MM: f64 = 1.0;

/// Most frames a run may have whatever the spacing: the pass holds that many frames back
/// (`truelumen analyze`: 32 MB of 512x512 images), 0.53 mm at 30 frames/s and 0.5 mm/s.
pub const MAX_RUN_FRAMES_CAP: usize = 32;

/// The longest run, in frames, for frames `frame_spacing_mm` apart: [`MAX_RUN_MM`] of
/// pullback, at least one frame and at most [`MAX_RUN_FRAMES_CAP`]; [`MAX_RUN_FRAMES`] when
/// the spacing is not a positive finite number.
pub fn max_run_frames(frame_spacing_mm: f64) -> usize {
    if !(frame_spacing_mm.is_finite() && frame_spacing_mm > 0.0) {
        return MAX_RUN_FRAMES;
    }
    ((MAX_RUN_MM / frame_spacing_mm + 1e-6).floor() as usize).clamp(1, MAX_RUN_FRAMES_CAP)
}

/// The side of `r`'s lumen, `None` without a lumen.
fn side_of(r: &FrameResult) -> Option<LumenSide> {
    r.lumen.as_ref().and_then(|_| LumenSide::of(r.catheter_position))
}

/// Whether `r` may be moved: flagged `lumen_side_uncertain`, lumen round the catheter.
fn movable(r: &FrameResult) -> bool {
    r.quality.has(QualityFlag::LumenSideUncertain) && side_of(r) == Some(LumenSide::AroundCatheter)
}

/// The frames bounding the run of movable frames that contains `raw[k]`, as indices into
/// `raw`: `Some((before, after))` when `raw[k]` is movable, the run is at most `max_run`
/// frames long and both bounding frames exist in `raw` with their lumen beside the catheter
/// (module docs).
pub fn bounding_frames(raw: &[&FrameResult], k: usize, max_run: usize) -> Option<(usize, usize)> {
    if !raw.get(k).is_some_and(|r| movable(r)) {
        return None;
    }
    let mut i = k;
    while i > 0 && movable(raw[i - 1]) {
        i -= 1;
    }
    let mut j = k;
    while j + 1 < raw.len() && movable(raw[j + 1]) {
        j += 1;
    }
    let (before, after) = (i.checked_sub(1)?, j + 1);
    let beside = |r: &FrameResult| side_of(r) == Some(LumenSide::Beside);
    (j + 1 - i <= max_run && raw.get(after).is_some_and(|r| beside(r)) && beside(raw[before]))
        .then_some((before, after))
}

/// Mean Jaccard between `r`'s lumen and the lumens of `neighbours` (0 without a lumen).
pub fn neighbour_agreement(r: &FrameResult, neighbours: [&FrameResult; 2]) -> f64 {
    let Some(l) = &r.lumen else { return 0.0 };
    let j = |n: &FrameResult| n.lumen.as_ref().map_or(0.0, |m| jaccard(&l.contour_mm, &m.contour_mm));
    0.5 * (j(neighbours[0]) + j(neighbours[1]))
}

/// Whether `new` (frame `old` analysed again with `side`) replaces `old`: it has its lumen on
/// `side`, and that lumen agrees with the neighbours' better than `old`'s and by at least
/// [`MIN_NEIGHBOUR_JACCARD`].
pub fn keep_reanalysed(
    prev: &FrameResult,
    old: &FrameResult,
    new: &FrameResult,
    next: &FrameResult,
    side: LumenSide,
) -> bool {
    if new.lumen.is_none() || LumenSide::of(new.catheter_position) != Some(side) {
        return false;
    }
    let agree_new = neighbour_agreement(new, [prev, next]);
    agree_new >= MIN_NEIGHBOUR_JACCARD && agree_new > neighbour_agreement(old, [prev, next])
}

/// The streaming form of the pass: frames are fed in order, in chunks of any size, each with
/// a payload `T` (whatever [`SidePass::push`]'s `reanalyse` needs: the image, an index...) and
/// its single-frame result. The last `max_run` frames (the longest run moved as one) are held
/// back until the frames after them arrive.
#[derive(Debug)]
pub struct SidePass<T> {
    /// Longest run moved as one, frames.
    max_run: usize,
    /// Single-frame results of the last frames returned (up to `max_run`).
    context: std::collections::VecDeque<FrameResult>,
    /// The frames held back, with their single-frame results.
    held: Vec<(T, FrameResult)>,
    changed: usize,
}

impl<T> Default for SidePass<T> {
    /// A pass with runs of up to [`MAX_RUN_FRAMES`].
    fn default() -> Self {
        Self::new(MAX_RUN_FRAMES)
    }
}

impl<T> SidePass<T> {
    /// A pass that has seen no frame and moves runs of up to `max_run` frames (at least 1;
    /// [`max_run_frames`] gives it for a frame spacing).
    pub fn new(max_run: usize) -> Self {
        Self { max_run: max_run.max(1), context: Default::default(), held: Vec::new(), changed: 0 }
    }

    /// Frames whose side this pass changed so far.
    pub fn changed(&self) -> usize {
        self.changed
    }

    /// Feeds the next `frames` (in order, after every frame fed before) and returns, in order,
    /// every frame whose result is now final: all frames fed so far but the last `max_run`
    /// ([`SidePass::new`]), or all of them when `last` is set (the end of the sequence).
    /// `reanalyse(payload, side)` analyses a frame again with the true lumen on `side`
    /// ([`crate::Pipeline::process_with_side`]).
    ///
    /// # Errors
    /// Whatever `reanalyse` returns.
    pub fn push(
        &mut self,
        frames: Vec<(T, FrameResult)>,
        last: bool,
        mut reanalyse: impl FnMut(&T, LumenSide) -> Result<FrameResult, Error>,
    ) -> Result<Vec<(T, FrameResult)>, Error> {
        let k_max = self.max_run;
        let mut window: Vec<(T, FrameResult)> = std::mem::take(&mut self.held);
        window.extend(frames);
        let n_final = if last { window.len() } else { window.len().saturating_sub(k_max) };
        // Runs to move, decided on single-frame results (the context before the window, then
        // the window), with copies of their bounding frames (never moved themselves).
        let c = self.context.len();
        let plans: Vec<(usize, FrameResult, FrameResult)> = {
            let raw: Vec<&FrameResult> = self.context.iter().chain(window.iter().map(|(_, r)| r)).collect();
            (0..n_final)
                .filter_map(|k| bounding_frames(&raw, c + k, k_max).map(|(b, a)| (k, raw[b].clone(), raw[a].clone())))
                .collect()
        };
        // Single-frame results of the frames changed, for the context.
        let mut replaced: Vec<(usize, FrameResult)> = Vec::new();
        for (k, before, after) in plans {
            let side = LumenSide::Beside;
            let mut new = reanalyse(&window[k].0, side)?;
            if keep_reanalysed(&before, &window[k].1, &new, &after, side) {
                new.quality.flag(QualityFlag::LumenSideFromNeighbours);
                replaced.push((k, std::mem::replace(&mut window[k].1, new)));
            }
        }
        self.changed += replaced.len();
        for k in n_final.saturating_sub(k_max)..n_final {
            let single = replaced.iter().find(|(j, _)| *j == k).map_or(&window[k].1, |(_, r)| r);
            self.context.push_back(single.clone());
        }
        while self.context.len() > k_max {
            self.context.pop_front();
        }
        self.held = window.split_off(n_final);
        Ok(window)
    }
}

/// Runs the pass over the results of one whole run, in frame order, with runs of up to
/// `max_run` frames ([`max_run_frames`]); `reanalyse(i, side)` analyses frame `i` (position in
/// `results`) again with the true lumen on `side`. Returns the number of frames changed.
///
/// # Errors
/// Whatever `reanalyse` returns.
///
/// # Example
/// The sequence passes of `truelumen analyze` over a run held in memory:
/// ```no_run
/// use truelumen::pullback::sides::resolve_lumen_sides;
/// use truelumen::{CartImage, Calibration, Pipeline, PipelineConfig};
///
/// # fn read_run() -> Vec<CartImage> { Vec::new() }
/// let images: Vec<CartImage> = read_run();
/// let calib = Calibration::Cartesian { mm_per_px: 0.02 };
/// let config = PipelineConfig::default();
/// let mut p = Pipeline::new(config.clone())?;
/// let mut results = Vec::new();
/// for (i, image) in images.iter().enumerate() {
///     results.push(p.process(image, calib, i, "frame")?);
/// }
/// // Frames 0.5 mm apart: runs of up to 2 frames.
/// let max_run = truelumen::pullback::sides::max_run_frames(0.5);
/// resolve_lumen_sides(&mut results, max_run, |&i, side| {
///     p.process_with_side(&images[i], calib, i, "frame", side)
/// })?;
/// truelumen::guidewire::resolve_wire_sequence(&mut results, config.ivus_wire);
/// # Ok::<(), truelumen::Error>(())
/// ```
pub fn resolve_lumen_sides(
    results: &mut [FrameResult],
    max_run: usize,
    reanalyse: impl FnMut(&usize, LumenSide) -> Result<FrameResult, Error>,
) -> Result<usize, Error> {
    let mut pass = SidePass::new(max_run);
    let frames = results.iter().cloned().enumerate().collect();
    for (i, r) in pass.push(frames, true, reanalyse)? {
        results[i] = r;
    }
    Ok(pass.changed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::Contour;
    use crate::report::{CatheterPosition, Quality, RegionResult};

    /// A lumen disc of radius 0.6 mm about `center_mm`.
    fn disc(center_mm: [f64; 2]) -> RegionResult {
        let contour_mm = Contour::from_radii(center_mm, &[0.6; 64]);
        RegionResult {
            area_mm2: contour_mm.area_mm2(),
            contour_mm,
            centroid_mm: center_mm,
            centroid_angle_deg: 0.0,
            min_diameter_mm: 1.2,
            max_diameter_mm: 1.2,
            mean_diameter_mm: 1.2,
            area_equivalent_diameter_mm: 1.2,
            eccentricity: 0.0,
            encloses_catheter: center_mm == [0.0, 0.0],
        }
    }

    /// Frame `index`: lumen round the catheter (`beside` false) or 0.9 mm to its right, flagged
    /// `lumen_side_uncertain` when `uncertain`.
    fn frame(index: usize, beside: bool, uncertain: bool) -> FrameResult {
        let mut quality = Quality::default();
        if uncertain {
            quality.flag(QualityFlag::LumenSideUncertain);
        }
        FrameResult {
            index,
            source: format!("f{index}"),
            mm_per_px: 0.02,
            center_px: [100.0, 100.0],
            catheter_radius_mm: 0.3,
            lumen: Some(disc(if beside { [0.9, 0.0] } else { [0.0, 0.0] })),
            vessel: None,
            plaque_burden: None,
            guidewire: None,
            quality,
            catheter_position: if beside { CatheterPosition::Subintimal } else { CatheterPosition::Intraplaque },
            ivus_wire: None,
            calcium: Default::default(),
            guidance: None,
            wire_candidates: Vec::new(),
        }
    }

    /// `reanalyse` of a frame of [`frame`]: its lumen on `side`, at the usual places.
    fn again(r: &FrameResult, side: LumenSide) -> FrameResult {
        let mut new = frame(r.index, side == LumenSide::Beside, true);
        new.quality = r.quality.clone();
        new
    }

    fn sides(results: &[FrameResult]) -> Vec<LumenSide> {
        results.iter().map(|r| LumenSide::of(r.catheter_position).unwrap()).collect()
    }

    /// (beside, uncertain) per frame.
    const PATTERN: [(bool, bool); 20] = [
        (false, false),
        (false, false),
        (true, true), // isolated and uncertain, but beside the catheter: kept
        (false, false),
        (true, false), // isolated but confident: kept
        (false, false),
        (true, true), // two uncertain calls beside the catheter: kept
        (true, true),
        (false, false),
        (true, false),
        (false, true), // isolated and uncertain, in a run beside the catheter: moved
        (true, false),
        (false, true), // two uncertain calls in a run beside the catheter: moved
        (false, true),
        (true, false),
        (false, true), // three: kept
        (false, true),
        (false, true),
        (true, false),
        (false, true), // the last frame has one neighbour: kept
    ];

    fn pattern() -> Vec<FrameResult> {
        PATTERN.iter().enumerate().map(|(i, &(b, u))| frame(i, b, u)).collect()
    }

    /// Up to [`MAX_RUN_FRAMES`] uncertain lumens round the catheter between two frames with
    /// the lumen beside it are taken beside it; a lumen beside the catheter, a confident call,
    /// a longer run and the last frame are left alone.
    #[test]
    fn an_isolated_uncertain_call_takes_its_neighbours_side() {
        use LumenSide::{AroundCatheter as A, Beside as B};
        let before = pattern();
        let mut results = before.clone();
        let mut calls = Vec::new();
        let changed = resolve_lumen_sides(&mut results, MAX_RUN_FRAMES, |&i, side| {
            calls.push((i, side));
            Ok(again(&before[i], side))
        })
        .unwrap();
        assert_eq!(calls, [(10, B), (12, B), (13, B)]);
        assert_eq!(changed, 3);
        assert_eq!(sides(&results), [A, A, B, A, B, A, B, B, A, B, B, B, B, B, B, A, A, A, B, A]);
        for (i, r) in results.iter().enumerate() {
            let flipped = [10, 12, 13].contains(&i);
            assert_eq!(r.quality.has(QualityFlag::LumenSideFromNeighbours), flipped, "frame {i}");
            assert!(flipped || r == &before[i], "frame {i} changed");
        }
    }

    /// With runs of up to 3 frames, the run of three (frames 15–17) is moved as well.
    #[test]
    fn a_longer_limit_moves_the_longer_run() {
        let before = pattern();
        let mut results = before.clone();
        let changed = resolve_lumen_sides(&mut results, 3, |&i, side| Ok(again(&before[i], side))).unwrap();
        assert_eq!(changed, 6);
        for (i, r) in results.iter().enumerate() {
            let moved = [10, 12, 13, 15, 16, 17].contains(&i);
            assert_eq!(r.quality.has(QualityFlag::LumenSideFromNeighbours), moved, "frame {i}");
            assert_eq!(
                LumenSide::of(r.catheter_position) == Some(LumenSide::Beside),
                moved || PATTERN[i].0,
                "frame {i}"
            );
        }
    }

    /// The run limit is [`MAX_RUN_MM`] of pullback in frames, within its bounds.
    #[test]
    fn run_limit_follows_the_frame_spacing() {
        assert_eq!(max_run_frames(0.5), 2);
        assert_eq!(max_run_frames(1.0 / 3.0), 3);
        assert_eq!(max_run_frames(0.25), 4);
        assert_eq!(max_run_frames(0.6), 1);
        assert_eq!(max_run_frames(2.0), 1);
        assert_eq!(max_run_frames(0.1), 10);
        assert_eq!(max_run_frames(0.5 / 30.0), MAX_RUN_FRAMES_CAP);
        assert_eq!(max_run_frames(1e-6), MAX_RUN_FRAMES_CAP);
        for bad in [0.0, -0.5, f64::NAN, f64::INFINITY] {
            assert_eq!(max_run_frames(bad), MAX_RUN_FRAMES, "{bad}");
        }
    }

    /// A re-analysed lumen that does not overlap the neighbours' lumens is not kept.
    #[test]
    fn a_lumen_elsewhere_is_not_taken() {
        let before = pattern();
        let mut results = before.clone();
        let changed = resolve_lumen_sides(&mut results, MAX_RUN_FRAMES, |&i, side| {
            let mut r = again(&before[i], side);
            // Beside the catheter, but on the side opposite the neighbours' lumen.
            if side == LumenSide::Beside {
                r.lumen = Some(disc([-0.9, 0.0]));
            }
            Ok(r)
        })
        .unwrap();
        assert_eq!(changed, 0);
        assert_eq!(results, before);
        assert!(neighbour_agreement(&before[2], [&before[1], &before[3]]) < 0.1);
        assert!(neighbour_agreement(&before[1], [&before[0], &before[3]]) > 0.99);
    }

    /// The streaming pass gives the same results for any chunking of the sequence.
    #[test]
    fn results_do_not_depend_on_the_chunking() {
        let before = pattern();
        for max_run in [1, 2, 3, 5, 32] {
            let mut whole = before.clone();
            resolve_lumen_sides(&mut whole, max_run, |&i, side| Ok(again(&before[i], side))).unwrap();
            for chunk in [1, 2, 3, 5, 20] {
                let mut pass = SidePass::new(max_run);
                let mut out = Vec::new();
                let frames: Vec<(usize, FrameResult)> = before.iter().cloned().enumerate().collect();
                let n_chunks = frames.len().div_ceil(chunk);
                for (k, c) in frames.chunks(chunk).enumerate() {
                    let done =
                        pass.push(c.to_vec(), k + 1 == n_chunks, |&i, side| Ok(again(&before[i], side))).unwrap();
                    out.extend(done.into_iter().map(|(_, r)| r));
                }
                // An empty last push flushes nothing more.
                assert!(pass.push(Vec::new(), true, |_, _| unreachable!()).unwrap().is_empty());
                assert_eq!(out, whole, "max_run {max_run}, chunk {chunk}");
            }
        }
    }
}
