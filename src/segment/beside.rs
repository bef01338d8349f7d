//! True lumen wherever it lies: beside the catheter (subintimal position) or around it.
//!
//! # Representation and search
//! A lumen beside a subintimal catheter is not one radius per catheter A-line, but it is
//! star-shaped about a point inside it. We therefore use a **re-centred star-shaped search**:
//!
//! 1. *Seeds* from polar evidence: the speckle-filtered, percentile-normalised catheter-centred
//!    polar frame (the one [`super::segment_borders`] uses) is sampled on a coarse Cartesian
//!    grid (0.05 mm) between the catheter and the wall found by the EEM search; a box mean of
//!    half-width 0.3 mm is taken (0.15 mm in the first version), and its darkest local minima (at
//!    most three, ≥ 0.5 mm apart, away from the catheter) are the candidate lumen seeds.
//! 2. *Re-centred polar image* about a seed: rays every 360/96° sampled at the frame's sample
//!    pitch, bilinear from the catheter-centred polar frame (so no Cartesian image is needed and
//!    polar input works the same). A ray ends where it meets the catheter (sheath radius +
//!    0.03 mm) or the media (EEM minus the assumed media thickness): the lumen may not contain
//!    the catheter nor cross the wall. Samples in acoustic shadows are masked (item 5).
//! 3. A *two-region (Chan & Vese \[3\]) cost with fixed means*: a border at sample `s` costs
//!    the sum over the interior samples of `((v − c_in)² − (v − c_out)²) / (c_out − c_in)²`,
//!    weighted by the polar area element; the *globally optimal closed path* through that cost
//!    (dynamic programming, Sonka et al. \[1\], the same search as the catheter-centred borders)
//!    gives the border about the seed. The border length enters as the Chan–Vese length term
//!    `μ·|C|` (a per-sample jump penalty of the path search, [`LENGTH_WEIGHT_MM`] scaled by the
//!    cost's per-sample noise `2σ / (c_out − c_in)`), so speckle does not make it ragged.
//!    `c_in` and `c_out` start at the **two-class means of the vessel interior** (isodata
//!    threshold, Ridler & Calvard \[5\], of the box means on the seed grid; the frame's
//!    own contrast, not a constant), then alternate with the region as in Chan–Vese: they become
//!    the means of the region and of the *rest of the vessel interior*; the seed moves to the
//!    region's centroid and the search repeats (at most three times, until it moves < 0.03 mm),
//!    so the result does not depend on where in the lumen the seed fell. Of the seeds' regions
//!    the one that removes most of the two-region energy at the frame's two-class means,
//!    `A_in · (c_mid − mean_in)`, is kept. (Session 3 took `c_in` from the seed's box mean and
//!    `c_out` from a 0.3 mm band outside the region: from the darkest part of a large lumen that
//!    band lies inside the lumen, so only the darkest part was outlined — tuning CTO seeds
//!    1000–1099, subintimal lumen Jaccard 0.663; with the two-class means, the rest-of-vessel
//!    update, the length term and the energy choice 0.714. The local interior-vs-window cost
//!    of the catheter-centred search was tried first: from a seed in a dark speckle blob it
//!    outlined the blob, 0.03–0.2 mm², instead of the lumen.)
//!
//! 4. *Half-power border* ([`refine_beside_border`]): the region search works on log-compressed
//!    intensities, whose half-way point lies on the dark side of the true step; the chosen
//!    region's border is moved, ray by ray, to the half-power point of the unfiltered frame's
//!    aligned mean ray profile, as the EEM is ([`super::refine`]). Tuning CTO frames 1000–1299:
//!    subintimal lumen Jaccard 0.617 → 0.650 (median found/true area of the well-placed lumens
//!    0.865 → 0.930 occluded, 0.773 → 0.822 patent); held-out 0.632 → 0.664. The bright
//!    level is the *peak* of the mean profile beyond the border ([`BrightLevel::Peak`]), not
//!    its median as for the EEM: the lumen is lined by a thin bright layer (the intima), which
//!    the lateral beam spreads inward along the lumen's sides as seen from the catheter, so the
//!    median bright level fell below the lining and the crossing inside the border — by 0.03–
//!    0.05 mm (median per ray) on the lateral and near sides while unbiased on the far side
//!    (tuning CTO frames 1000–1299, `tools/tune.rs`). With the peak: 0.02–0.025 mm, subintimal
//!    lumen Jaccard 0.693 → 0.699 (59 frames better, 28 worse), held-out 0.798 → 0.806.
//!    The refined radii are then averaged over ±[`BORDER_SMOOTH_DEG`] (±3 of the 96 rays):
//!    their error is mostly independent from ray to ray (interquartile range ~0.09 mm, from the
//!    speckle left in a mean of ~7 profiles) while a lumen border is smooth at that scale.
//!    Tuning subintimal Jaccard 0.699 → 0.703 / 0.706 / 0.708 / 0.709 / 0.709 for ±1 / 2 / 3 /
//!    4 / 6 rays (a running median of ±2: 0.704); held-out 0.806 → 0.813 with ±3.
//!
//! 5. *Shadows* ([`shadowed_border_rays`]): shadowed samples cost nothing, so where a wire or
//!    calcium shadow crosses the lumen the search has no evidence and its border hugs the near
//!    edge of the shadow (or the bright echo of the wire casting it). Rays whose border lies in
//!    a shadow or within [`SHADOW_PROBE_MM`] in front of one are replaced by the straight bridge
//!    between the rays beside them, as the catheter-centred borders are. Tuning CTO frames
//!    1000–1299: subintimal lumen Jaccard 0.685 → 0.693, wire inside/outside 90.4 → 91.7 %
//!    (a probe of one wire diameter, 0.35 mm, gave 0.690); held-out 0.791 → 0.798.
//!    A calcium shadow, though, often starts deep in the wall *behind* the lumen, and a wide
//!    shadow run can join the shadows of things at different depths: the search masks a
//!    calcium line only from just in front of its own leading echo
//!    ([`crate::guidewire::ShadowWorkspace::bridge_from_mm`]), so the lumen in front of it is
//!    seen (tuning frames whose lumen lay in front of calcium, e.g. seeds 1043 and 1154:
//!    Jaccard 0.24 / 0.10 → 0.64 / 0.65; subintimal mean 0.708 → 0.714, held-out 0.813 →
//!    0.811 — one frame, 7010, whose over-sized lumen grew further). A wire's lines are masked
//!    the same way, from just in front of its leading echo (session 15): with the lines masked
//!    whole, a wire in or at the edge of the lumen cut the lumen at its sector and the search
//!    kept the part on one side (tuning seeds 1111, 1312, 1752: Jaccard 0.58 / 0.64 / 0.57 →
//!    0.85 / 0.84 / 0.83). Tuning CTO frames 1000–1899: subintimal Jaccard 0.817 → 0.825,
//!    positions 823 → 824 of 900, wire inside/outside 92.2 → 94.5 %; non-CTO 1000–1299
//!    unchanged; held-out 0.844 → 0.846, seeds 7060–7299 0.812 → 0.820; `tests/wires_calcium.rs`
//!    unchanged; the margin in front of a wire's echo, 0.05 / 0.1 / 0.2 mm, gave (with the
//!    wall re-search below) 0.834 / 0.836 / 0.834 and inside/outside 94.1 / 95.0 / 94.3 %.
//!    (Tried in session 9 for the region search alone, with refinement and bridging on whole
//!    lines, it had cost 2.7 points of inside/outside there.) The hypotheses below are judged
//!    with whole shadowed lines left out, as their constants were set (judging on the search's
//!    pixels lost 2 of 600 tuning position calls; judging the wire lines from in front of the
//!    echo changed nothing).
//!
//! *The wall.* The rays stop at the EEM found on its own minus the media, so a wrong EEM
//! truncates the lumen. Seen from a subintimal catheter the EEM radius climbs from ~0.3 mm to
//! several mm within a few tens of degrees, which the catheter-centred path search (slope limit
//! and jump penalty set for concentric vessels) cannot follow: it cut across the vessel, and
//! through the lumen, in 8 of the 33 tuning frames (seeds 1000–1099) with subintimal lumen
//! Jaccard < 0.8. When the anatomical precondition below holds, the EEM is therefore searched
//! again about the vessel's own centre ([`recentred_eem`]), where it is nearly circular, and
//! replaces the catheter-centred one (vessel Jaccard on the tuning CTO frames 0.925 → 0.938).
//! The media's thickness is measured on each frame ([`super::media`]; the assumed
//! [`super::SegmentParams::media_mm`] where no band shows) and the rays stop a further
//! [`LUMEN_LINING_MM`] inside it, the intima and plaque that line a true lumen: with the assumed
//! 0.12 mm a dark lumen ran on into a thicker dark media (phantom media 0.10–0.30 mm). Tuning
//! CTO frames 1000–1899 (`tools/tune.rs`, `BESIDE=1 CTO=1`): subintimal lumen Jaccard 0.810 →
//! 0.817, catheter position 820 → 823 of 900 (lining 0 / 0.03 / 0.06 / 0.09 / 0.12 mm with the
//! measured media: 0.815 / 0.817 / 0.819 / 0.814 / 0.810; a fixed 0.18 mm: 0.815); non-CTO
//! frames unchanged. The measured thickness (median error against the phantom's −0.05 mm —
//! the path-search EEM lies inside the half-power EEM, and the offset is measured from it —
//! spread 0.01–0.02 mm, correlation 0.79 subintimal, 0.93 otherwise; 152 of the first 200
//! tuning frames show a band) is reported in [`TrueLumenEvidence::media_mm`].
//!
//! *A lumen stopped by the wall.* A true lumen lies inside its intima and plaque, the media
//! and the EEM beyond them, so a lumen whose border runs along the wall on
//! [`WALL_CONTACT_FRACTION`] or more of its rays ([`wall_contact_fraction`]) was more likely
//! stopped by a wrong EEM than by its own edge: seen from the catheter, the lumen's far border
//! (dark lumen → brighter plaque) is the same dark → bright step as media → adventitia, and the
//! EEM search took it (tuning CTO frames with such contact: vessel Jaccard 0.83–0.87 against
//! 0.97 without, subintimal lumen Jaccard 0.65–0.68 against 0.86–0.90). The EEM is then
//! searched once more about the vessel's own centre with the lumen kept out ([`KeepOut`]): on
//! every ray the EEM lies at least the media and lining plus [`EEM_KEEP_OUT_MARGIN_MM`] beyond
//! the lumen — the minimum-separation constraint between two surfaces of the multi-surface
//! graph search (Li et al. \[2\]), here as the lower bound of each ray of the single-surface
//! search. If the new EEM encloses [`EEM_RESEARCH_MIN_AREA_RATIO`] times the old one's area or
//! more, it replaces it and the lumen is searched again inside it; otherwise nothing changes.
//! Tuning CTO frames 1000–1899: subintimal lumen Jaccard 0.825 → 0.836, vessel Jaccard 0.955 →
//! 0.960, wire inside/outside 94.5 → 95.0 %, catheter position unchanged (824 of 900).
//!
//! Rejected: near/far borders per catheter A-line (multi-surface graph search, Li et al. \[2\])
//! needs the angular sector that sees the lumen decided first and degenerates at the sector
//! ends, where the near and far borders meet at a grazing angle; a region-growing Cartesian
//! segmentation needs a stopping rule that gain and dynamic range change. The re-centred
//! search reuses the tested cost and path search unchanged.
//!
//! # Deciding between the hypotheses
//! Both hypotheses are judged on the **same pixel set**, the vessel interior found on its own
//! (inside the EEM of the vessel-only search minus the media, outside the catheter, unshadowed):
//! each proposes a split of that set into "lumen" (its region) and "rest", and is scored by the
//! between-class statistic of the two-region (Chan–Vese \[3\]) model, [`partition_evidence`]:
//! `(mean_rest − mean_lumen) / σ · sqrt(A_lumen · A_rest / (A_lumen + A_rest) / 0.01 mm²)` — the
//! z of the two-sample mean difference with the areas counted in nominal speckle cells, i.e. the
//! square root of the reduction of the two-region energy. The beside hypothesis wins when
//! `z_beside > 1.2 · max(z_enclosing, 0) + 10` ([`PARTITION_Z_FACTOR`], [`PARTITION_Z_MARGIN`]):
//! it chose its centre among several seeds (a look-elsewhere effect the enclosing lumen does not
//! have), and wrongly moving a lumen away from a catheter that is in it is the costlier error.
//! The least gap between the sheath and the EEM found on its own shifts the balance:
//! `+ 100 z/mm · (0.38 mm − gap)` on the beside side ([`EEM_GAP_Z_PER_MM`],
//! [`EEM_GAP_NEUTRAL_MM`]). A subintimal catheter lies against the media, an intraplaque one has
//! the plaque and intima between it and the media; on tuning frames the wrong "round the
//! catheter" calls of subintimal frames had gaps of 0.23–0.36 mm (median 0.29), the frames
//! without a subintimal catheter but with a beside candidate near the threshold 0.30–0.50 mm
//! (median 0.39). Session 12; the gap was until then only the gate below.
//!
//! The enclosing hypothesis is taken at its best: the lumen of the joint lumen/vessel search,
//! or the catheter-centred lumen searched again (same cost and path search) with its border kept
//! `min_wall_mm` inside the vessel found on its own, whichever splits the vessel interior better.
//! (When the wall is thin the joint search sometimes puts its "lumen" on the EEM; without the
//! second search a dark part of a patent lumen then won as a "beside" lumen in 12 of 200 tuning
//! frames without a CTO, with it in 3.) Finally, a subintimal catheter lies between intima and
//! media, so the beside hypothesis is only considered when the EEM found on its own passes
//! within [`super::SegmentParams::subintimal_max_eem_gap_mm`] of the sheath.
//!
//! Why the same pixel set: the first version compared each region with a 0.3 mm band just
//! outside it ([`region_evidence`]). Around a subintimal catheter the catheter-centred search
//! often outlines the *whole vessel* (plaque + lumen are darker than the adventitia), and that
//! region beat the true lumen against its own band (bright adventitia). As a split of the vessel
//! interior it explains nothing (its "rest" is empty), so it now scores ~0. On the tuning CTO
//! phantoms (seeds 1000–1099) every subintimal frame had `z_beside > z_enclosing` in this
//! statistic; the factor and margin reject the small dark blobs found inside patent lumens
//! (7 of 52 non-subintimal frames had `z_beside > z_enclosing`, all with `z_beside < 1.5 z + 15`).
//! Session 5 re-derived the constants after the border search's layer check (which changed the
//! enclosing hypothesis in many CTO frames), on tuning frames 1000–1299 of both kinds: from
//! `1.5 z + 15` to `1.2 z + 10` the beside lumen is taken in 112 instead of 107 of 132
//! subintimal CTO frames, with the same wrong calls elsewhere (none of 167 non-subintimal CTO
//! frames, 3 of 299 non-CTO frames); `1.0 z + 10` would take 115 but add 6 wrong calls.
//!
//! # Patent or occluded
//! Whether the lumen holds blood or plaque is decided from the contrast of the unfiltered,
//! log-compressed frame, in units of its own speckle SD ([`patent_lumen`]). Fully developed
//! log-compressed speckle has an SD of 5.57 dB (Burckhardt \[4\]), so a contrast `c` SD is a
//! backscatter step of about `5.57 c` dB whatever the gain and dynamic range. Blood at 40 MHz
//! is 15–30 dB below plaque, occlusive plaque/thrombus 6–12 dB (domain notes); the lumen is
//! called patent above the midpoint, [`PATENT_STEP_DB`].
//!
//! *Reference level.* For a lumen round the catheter the step is the whole wall's mean (lumen
//! border to EEM less the media, area-weighted) over the interior's level ([`wall_step`]):
//! a 0.3 mm band next to the border, as first used (and still for a lumen beside the
//! catheter, whose step decides nothing), holds the bright intima lining an occluded lumen
//! and reads its plaque 1.5 dB too bright (median), and the interior's mean is raised by
//! ring-down residue and the blur of the wall, which a quantile ignores. Tuning frames
//! (`tools/tune.rs`, `BESIDE=1`), with the interior's median as its level: CTO scenes
//! 1000–1899 catheter position 794 → 809 of 900 (occluded lumens called patent 63 → 51,
//! patent called occluded 17 → 14), non-CTO scenes 1000–1299 unchanged (265 of 300). The
//! threshold stays at the midpoint; on the CTO tuning frames 15.5 dB would score best, on the
//! non-CTO ones 12.5 dB.
//!
//! *Interior level.* The interior's level is its upper quartile less the upper quartile's
//! offset above the median in fully developed speckle, [`SPECKLE_UPPER_QUARTILE_SD`] (3.01 dB,
//! [`WallStep::interior_level`]), instead of its median. Dim blood at low gain lies partly
//! below the display's floor: its median then sits on the floor (tuning CTO frames at gain
//! −10…−5 dB: median − lower quartile 0.00 speckle SD) while its upper quartile is still above
//! it, so the level read from the quartile lies lower than the clipped median and the step is
//! nearer the truth. Where nothing is clipped, the upper quartile lies 0.70 (blood) to 0.72
//! (occlusive plaque) of the frame's speckle-SD estimate above the median (the estimate, a
//! median of 0.3 mm window SDs, reads low), so the level is ~0.16 SD (~0.9 dB) above the
//! median: in effect the threshold moves ~0.9 dB towards occluded, where the CTO tuning frames
//! score best. Tuning frames: CTO scenes 1000–1899 catheter position 824 → 838 of 900 (occluded
//! lumens called patent 40 → 24, patent called occluded 17 → 19), non-CTO scenes 1000–1299
//! 266 → 265 of 300; no border changes. A plain 0.9 dB move of the threshold would give 442
//! of the 489 catheter-enclosing CTO calls (446 here) and the same 265 non-CTO. Held-out set
//! of `tests/true_lumen.rs`: position 86.7 → 91.7 % (the three occluded lumens called patent
//! are now right, no patent lumen lost); seeds 7060–7299 unchanged at 92.5 %.
//!
//! *Thin lumens.* When the lumen is a thin gap round the catheter (small vessel, catheter
//! nearly wedged), the whole-interior mean is raised by the sheath's ring-down residue and by
//! the blur of the bright wall, and a patent lumen reads as occluded (tuning CTO frames:
//! 25–27 dB of blood measured as 5–12 dB). The interior is therefore also split into six
//! depth fractions between the catheter and the border, each averaged over all lines
//! ([`darkest_interior_mean`]), and the step to the darkest fraction counts too, less
//! [`DARK_DEPTH_ALLOWANCE_DB`] because the darkest of several depths reads deeper than the
//! lumen's mean ([`patent_margin_db`] takes the larger of the two). On tuning frames
//! 1000–1299 (`tools/tune.rs`, `BESIDE=1`) catheter position correct 255 → 259 of 300 CTO
//! scenes and 258 → 264 of 300 non-CTO scenes; the held-out CTO set of `tests/true_lumen.rs`
//! is unchanged (no call changed). On the tuning frames the darkest-depth step alone, best
//! threshold, gave 151 of 167 CTO calls but lost patent lumens of the non-CTO scenes whose
//! step is near the threshold (whole interior alone: 143).
//!
//! *Hidden interior.* When the border lies at the catheter on most lines (a catheter wedged
//! in a lumen no wider than itself, or a thin lumen lost in the ring-down), fewer than
//! [`MIN_STEP_SAMPLES`] interior samples remain and no step can be measured. The lumen is then
//! called occluded (unless the samples from the ring-down's end show blood below the displayed
//! range, below) and the frame flagged `position_uncertain`: no blood is seen between the
//! catheter and the wall, and in a CTO a catheter that fills the lumen is most often inside
//! the occlusion. Before, a 0.3 mm band inside the border was used, which there holds the
//! suppressed ring-down and was worse than a coin (tuning frames, 43 such frames of CTO scenes
//! 1000–1899 and non-CTO scenes 1000–1299: 16 right); now catheter position correct 813 → 820
//! of 900 CTO and 265 → 266 of 300 non-CTO frames (on the test's seeds 7060–7299, printed
//! only: 2 of 240 calls fewer right).
//!
//! *Below the displayed range.* At low gain or a narrow dynamic range blood falls below the
//! display's floor: its pixels are clipped (or at the noise floor), the interior's log-SD
//! collapses far below the speckle SD, and its mean — hence the contrast — is raised, so the
//! step is under-estimated (tuning frames 1000–1299, catheter-enclosing lumens segmented with
//! Jaccard ≥ 0.85: 22 of 267 patent lumens measured below the threshold, most at low gain).
//! Occlusive plaque is speckle above the floor (interior log-SD / speckle SD: 10th percentile
//! 0.84). A catheter-enclosing lumen whose unfiltered interior has a log-SD below
//! [`BELOW_RANGE_SD_RATIO`] of the frame's speckle SD ([`interior_sd_ratio`]) is therefore
//! called patent too: on the 464 tuning frames (CTO and non-CTO scenes) with a catheter-
//! enclosing lumen, patent/occluded errors 72 → 62 (missed patent 49 → 32, false patent
//! 23 → 30).
//!
//! # References
//! \[1\] M. Sonka et al., "Segmentation of intravascular ultrasound images: a knowledge-based
//!     approach", IEEE Trans. Medical Imaging 14(4):719–732, 1995.
//! \[2\] K. Li, X. Wu, D. Z. Chen, M. Sonka, "Optimal surface segmentation in volumetric
//!     images — a graph-theoretic approach", IEEE TPAMI 28(1):119–134, 2006.
//! \[3\] T. F. Chan, L. A. Vese, "Active contours without edges", IEEE TIP 10(2):266–277, 2001.
//! \[4\] C. B. Burckhardt, "Speckle in ultrasound B-mode scans", IEEE Trans. Sonics Ultrason.
//!     25(1):1–6, 1978.
//! \[5\] T. W. Ridler, S. Calvard, "Picture thresholding using an iterative selection method",
//!     IEEE Trans. Systems, Man, and Cybernetics 8(8):630–632, 1978.

use super::SegmentParams;
use super::fastmath::atan2_deg;
use super::path::{PathParams, PathWorkspace, optimal_closed_path};
use super::refine::{BrightLevel, DarkLevel, RefineParams, profile_crossing};
use crate::geometry::PolarGeometry;
use crate::plane::Plane;

/// Least tissue between a true lumen beside the catheter and the media's inner edge, mm: the
/// intima and plaque that line the true lumen (module docs, "The wall").
pub const LUMEN_LINING_MM: f64 = 0.06;

/// Evidence margin (z units of [`partition_evidence`]) by which the beside-the-catheter
/// hypothesis must beat the catheter-enclosing one: it chose its centre among several seeds (a
/// look-elsewhere effect), the enclosing lumen has no such freedom.
pub const PARTITION_Z_MARGIN: f64 = 10.0;
/// Factor on the enclosing evidence in the same comparison: `z_beside > FACTOR ·
/// max(z_enclosing, 0) + MARGIN` (a misplaced beside region costs more than a missed one: it
/// moves the lumen away from a catheter that is in it).
pub const PARTITION_Z_FACTOR: f64 = 1.2;
/// Weight of the sheath-to-EEM gap in [`beside_margin_z`], z units per mm: a catheter in the
/// subintimal space lies against the media, so the nearer the EEM comes to the sheath the
/// likelier the lumen lies beside the catheter (10 z for 0.1 mm). Tuning CTO frames 1000–1899
/// (`tools/tune.rs`, `BESIDE=1 CTO=1`): subintimal lumen Jaccard 0.791 → 0.799, catheter
/// position 788 → 795 of 900 (no intraluminal or intraplaque call changed); 60 z/mm with the
/// neutral gap at 0.40 mm gave 0.798 / 794, 200 z/mm 0.803 / 799 but moved a patent lumen
/// beside the catheter. Non-CTO tuning frames 1000–1299 unchanged.
pub const EEM_GAP_Z_PER_MM: f64 = 100.0;
/// Sheath-to-EEM gap at which [`EEM_GAP_Z_PER_MM`] adds nothing, mm: the media (0.1–0.3 mm)
/// plus a thin dissection plane.
pub const EEM_GAP_NEUTRAL_MM: f64 = 0.38;
/// Rays of the re-centred polar image.
pub const BESIDE_LINES: usize = 96;
/// Margin added to the sheath radius to exclude the catheter, mm.
pub const CATHETER_MARGIN_MM: f64 = 0.03;
/// Band outside a region compared with its interior, mm.
pub const EVIDENCE_BAND_MM: f64 = 0.3;
/// Log-compressed speckle standard deviation of fully developed speckle, dB.
pub const SPECKLE_SD_DB: f64 = 5.57;
/// Backscatter step (lumen content below the wall) above which a lumen is called patent, dB.
pub const PATENT_STEP_DB: f64 = 13.5;

/// Pitch of the Cartesian grid of the seed search and of the region statistics, mm.
const SEED_GRID_MM: f64 = 0.05;
/// Half-width of the box whose mean ranks the seeds, mm.
const SEED_RADIUS_MM: f64 = 0.3;
/// Least distance between two seeds, mm.
const SEED_SEPARATION_MM: f64 = 0.5;
/// Most seeds searched per frame.
const MAX_SEEDS: usize = 3;
const MAX_ITERATIONS: usize = 3;
const MIN_RADIUS_MM: f64 = 0.08;
const MAX_RADIUS_MM: f64 = 3.0;
/// Weight `μ` of the border length in the Chan–Vese energy of the beside search, per unit of
/// per-sample cost noise, mm: lengthening the border by `L` must gain `μ · L` mm² of region
/// at full contrast.
pub const LENGTH_WEIGHT_MM: f64 = 0.03;
/// Iterations of the two-class (isodata) threshold.
const ISODATA_ITERATIONS: usize = 12;

/// What lies at a point of the catheter-centred frame.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    /// Catheter, wall beyond the media, or beyond the imaging depth.
    Blocked,
    /// On a shadowed A-line (no information).
    Shadow,
    /// Normalised intensity.
    Value(f32),
}

/// Read access to the catheter-centred polar frame in catheter-centred mm.
#[derive(Debug, Clone, Copy)]
pub struct PolarView<'a> {
    /// Polar frame (lines x samples), any intensity scale.
    pub image: &'a Plane<f32>,
    /// Its geometry.
    pub geom: &'a PolarGeometry,
    /// Catheter exclusion radius, mm.
    pub exclusion_mm: f64,
    /// Per catheter line: largest admissible radius (inner border of the wall), mm. Empty =
    /// the imaging depth.
    pub wall_mm: &'a [f64],
    /// Per catheter line: radius from which the line is in an acoustic shadow (or in the echo
    /// of what casts it), mm; infinite = not shadowed, empty = no shadows.
    pub shadow_from_mm: &'a [f64],
}

impl PolarView<'_> {
    fn at(&self, p: [f64; 2]) -> At {
        let r2 = p[0] * p[0] + p[1] * p[1];
        if r2 < self.exclusion_mm * self.exclusion_mm {
            return At::Blocked;
        }
        let r = r2.sqrt();
        let (n, ns) = self.image.shape();
        // Fractional line index: [`PolarGeometry::line_of_angle_deg`] with the fast `atan2`
        // and a cheap wrap (the angle is already in [0, 360)).
        let g = self.geom;
        let nf = n as f64;
        let mut fl = (atan2_deg(p[1], p[0]) - g.line0_angle_deg) * (g.rotation.sign() * nf / 360.0);
        if fl < 0.0 {
            fl += nf;
        }
        if !(0.0..nf).contains(&fl) {
            fl = fl.rem_euclid(nf);
        }
        // `fl` and `fs` are non-negative: truncation is the floor.
        let l0i = fl as usize;
        let tl = fl - l0i as f64;
        let l0 = if l0i >= n { l0i - n } else { l0i };
        let l1 = if l0 + 1 == n { 0 } else { l0 + 1 };
        let nearest = if tl < 0.5 { l0 } else { l1 };
        let wall = self.wall_mm.get(nearest).copied().unwrap_or(f64::INFINITY);
        let fs = r / g.mm_per_sample;
        if r >= wall || fs >= (ns - 1) as f64 {
            return At::Blocked;
        }
        if r >= self.shadow_from_mm.get(nearest).copied().unwrap_or(f64::INFINITY) {
            return At::Shadow;
        }
        let s0 = fs as usize;
        let (tl, ts) = (tl as f32, (fs - s0 as f64) as f32);
        let v = |l: usize| {
            let row = self.image.row(l);
            row[s0] + ts * (row[s0 + 1] - row[s0])
        };
        let (a, b) = (v(l0), v(l1));
        At::Value(a + tl * (b - a))
    }
}

/// Smallest lumen → wall rise of a mean ray profile that [`refine_beside_border`] refines, dB.
/// Lower than the EEM's [`super::refine::MIN_RISE_DB`]: occlusive plaque is only 6–12 dB
/// below the wall around it.
pub const LUMEN_MIN_RISE_DB: f64 = 3.0;

/// Moves the border of the lumen beside the catheter, `ws.best`, to the **half-power point**
/// of the lumen → wall rise along each ray from its centre, as [`super::refine`] does for the
/// EEM (same reason: the region search works on log-compressed intensities, whose half-way
/// point lies on the dark side of the true step, Wagner et al. 1983; on the tuning CTO frames
/// 1000–1299 the beside lumens came out at a median 86 % of the true area, patent ones 77 %).
/// `view` must show the *unfiltered* log-compressed polar frame; `db_per_grey` is its
/// decompression (the EEM refinement's, [`SPECKLE_SD_DB`] over the speckle SD). For every ray
/// the profiles of the rays within `±params.window_deg` are aligned on the region's border and
/// averaged (samples on the catheter, beyond the wall or in shadow left out); the crossing of
/// the mean profile ([`LUMEN_MIN_RISE_DB`] rise at least) becomes the ray's radius, provided
/// that point is still admissible (not in the catheter nor beyond the wall); the radii are then
/// averaged over ±[`BORDER_SMOOTH_DEG`] of neighbouring rays. Returns the number
/// of rays moved.
pub fn refine_beside_border(
    view: &PolarView<'_>,
    db_per_grey: f64,
    params: &RefineParams,
    ws: &mut BesideWorkspace,
) -> usize {
    let n = ws.best.radii_mm.len();
    if !params.enabled || n < 3 || !(db_per_grey > 0.0 && db_per_grey.is_finite()) {
        return 0;
    }
    let h = view.geom.mm_per_sample;
    let k_in = ((params.inner_mm / h).round() as usize).max(2);
    let k_out = ((params.outer_mm / h).round() as usize).max(2);
    let width = 2 * k_in + k_out + 1;
    let c = ws.best.center_mm;
    let ray = |i: usize| (i as f64 * std::f64::consts::TAU / n as f64).sin_cos();
    ws.ray_profiles.clear();
    ws.ray_profiles.resize(n * width, f64::NAN);
    for i in 0..n {
        let (sn, cs) = ray(i);
        let r0 = ws.best.radii_mm[i] - k_in as f64 * h;
        for j in 0..width {
            let t = r0 + j as f64 * h;
            if t > 0.0 {
                if let At::Value(v) = view.at([c[0] + t * cs, c[1] + t * sn]) {
                    ws.ray_profiles[i * width + j] = v as f64;
                }
            }
        }
    }
    let half = ((params.window_deg * n as f64 / 360.0).round() as usize).min((n - 1) / 2);
    ws.ray_radii.clear();
    ws.ray_radii.extend_from_slice(&ws.best.radii_mm);
    let mut moved = 0;
    for i in 0..n {
        ws.ray_mean.clear();
        for j in 0..width {
            let (mut sum, mut cnt) = (0.0, 0usize);
            for d in 0..=2 * half {
                let v = ws.ray_profiles[((i + n + d - half) % n) * width + j];
                if v.is_finite() {
                    sum += v;
                    cnt += 1;
                }
            }
            // At least half the window must see this depth (otherwise speckle dominates).
            ws.ray_mean.push(if cnt > half { sum / cnt as f64 * db_per_grey } else { f64::NAN });
        }
        if !ws.ray_mean[k_in].is_finite() {
            continue;
        }
        let Some(pos) = profile_crossing(
            &ws.ray_mean,
            k_in,
            k_out,
            LUMEN_MIN_RISE_DB,
            (DarkLevel::InnerMedian, BrightLevel::Peak),
            &mut ws.ray_level,
        ) else {
            continue;
        };
        let r = ws.best.radii_mm[i] + (pos - k_in as f64) * h;
        let (sn, cs) = ray(i);
        if r > 0.0 && !matches!(view.at([c[0] + r * cs, c[1] + r * sn]), At::Blocked) {
            ws.ray_radii[i] = r;
            moved += 1;
        }
    }
    std::mem::swap(&mut ws.best.radii_mm, &mut ws.ray_radii);
    // Circular running mean over ±BORDER_SMOOTH_DEG of rays (module docs, step 4).
    let h = (BORDER_SMOOTH_DEG * n as f64 / 360.0).round() as usize;
    super::smooth_circular(&mut ws.best.radii_mm, h, &mut ws.ray_radii);
    moved
}

/// Half-width of the running mean over the refined beside-lumen border radii, degrees of the
/// lumen's own rays (module docs, step 4).
pub const BORDER_SMOOTH_DEG: f64 = 11.25;

/// Depth beyond a beside-lumen border ray within which a shadow makes the border
/// undetermined, mm (the blurred near-surface echo of a wire lies in front of its shadow).
pub const SHADOW_PROBE_MM: f64 = 0.1;

/// Marks in `out` (one per ray of `lumen`) the rays whose border lies in a shadow or within
/// [`SHADOW_PROBE_MM`] in front of one. There the region search had no evidence (shadowed
/// samples cost nothing), so the border it returns is the one its length term prefers —
/// hugging the near edge of the shadow, or the bright echo of the wire casting it — rather
/// than the lumen's; the caller replaces those rays by the straight bridge between their
/// neighbours, as for the catheter-centred borders.
pub fn shadowed_border_rays(view: &PolarView<'_>, lumen: &BesideLumen, out: &mut Vec<bool>) {
    let n = lumen.radii_mm.len();
    out.clear();
    out.resize(n, false);
    let h = view.geom.mm_per_sample;
    let steps = ((SHADOW_PROBE_MM / h).ceil() as usize).max(1);
    let c = lumen.center_mm;
    for (i, o) in out.iter_mut().enumerate() {
        let (sn, cs) = (i as f64 * std::f64::consts::TAU / n as f64).sin_cos();
        let r = lumen.radii_mm[i];
        *o = (0..=steps).any(|k| {
            let t = r + k as f64 * h;
            matches!(view.at([c[0] + t * cs, c[1] + t * sn]), At::Shadow)
        });
    }
}

/// Interior/band statistics of a star-shaped region (see [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegionEvidence {
    /// (band mean − interior mean) / speckle SD.
    pub contrast_sd: f64,
    /// Interior area that contributed (catheter, wall and shadow excluded), mm².
    pub area_mm2: f64,
    /// `contrast_sd · sqrt(area_mm2 / 0.01 mm²)` (0.01 mm²: nominal speckle cell).
    pub z: f64,
    /// Interior mean intensity.
    pub mean_in: f64,
    /// Band mean intensity.
    pub mean_out: f64,
}

/// Evidence of the region star-shaped about `center_mm` with radius `radii_mm[i]` along the
/// ray at `360 i / radii_mm.len()` degrees (display, counter-clockwise from +x).
pub fn region_evidence(view: &PolarView<'_>, center_mm: [f64; 2], radii_mm: &[f64], speckle_sd: f64) -> RegionEvidence {
    let n = radii_mm.len();
    if n == 0 || !(speckle_sd > 0.0) {
        return RegionEvidence::default();
    }
    let dt = view.geom.mm_per_sample;
    let (mut wi, mut si, mut wo, mut so) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (i, &r) in radii_mm.iter().enumerate() {
        let (sn, cs) = (i as f64 * std::f64::consts::TAU / n as f64).sin_cos();
        let t_end = r + EVIDENCE_BAND_MM;
        let mut t = 0.5 * dt;
        while t < t_end {
            if let At::Value(v) = view.at([center_mm[0] + t * cs, center_mm[1] + t * sn]) {
                if t < r {
                    wi += t;
                    si += t * v as f64;
                } else {
                    wo += t;
                    so += t * v as f64;
                }
            }
            t += dt;
        }
    }
    if wi <= 0.0 || wo <= 0.0 {
        return RegionEvidence::default();
    }
    let contrast_sd = (so / wo - si / wi) / speckle_sd;
    let area_mm2 = wi * dt * std::f64::consts::TAU / n as f64;
    RegionEvidence {
        contrast_sd,
        area_mm2,
        z: contrast_sd * (area_mm2 / 0.01).sqrt(),
        mean_in: si / wi,
        mean_out: so / wo,
    }
}

/// A lumen found beside the catheter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BesideLumen {
    /// Centre the radii are measured from, catheter-centred mm.
    pub center_mm: [f64; 2],
    /// Border radius along [`BESIDE_LINES`] evenly spaced display angles from 0°, mm.
    pub radii_mm: Vec<f64>,
    /// Its evidence.
    pub evidence: RegionEvidence,
}

impl BesideLumen {
    /// Border polygon, catheter-centred mm, counter-clockwise.
    pub fn points_mm(&self) -> impl Iterator<Item = [f64; 2]> + '_ {
        let n = self.radii_mm.len();
        self.radii_mm.iter().enumerate().map(move |(i, &r)| {
            let (sn, cs) = (i as f64 * std::f64::consts::TAU / n as f64).sin_cos();
            [self.center_mm[0] + r * cs, self.center_mm[1] + r * sn]
        })
    }
}

/// Reusable buffers for [`find_lumen_beside`].
#[derive(Debug, Default, Clone)]
pub struct BesideWorkspace {
    grid: Vec<f32>,
    scratch: Vec<f32>,
    integ: Vec<f64>,
    integ_n: Vec<u32>,
    seeds: Vec<[f64; 2]>,
    seed_means: Vec<f64>,
    wall_mean: f32,
    /// Box means of the grid (NaN where the box is not covered enough).
    boxed: Vec<f32>,
    /// Two-class means (dark, bright) of the vessel interior ([`two_class_means`]).
    class_means: Option<(f32, f32)>,
    /// Grid geometry of the last [`find_seeds`]: side and origin, mm.
    grid_m: usize,
    grid_x0: f64,
    pol: Plane<f32>,
    cost: Plane<f32>,
    lo: Vec<usize>,
    hi: Vec<usize>,
    path: PathWorkspace,
    out: Vec<usize>,
    /// Best lumen of the last call (valid when [`find_lumen_beside`] returned `true`).
    pub best: BesideLumen,
    cand: BesideLumen,
    /// Ray profiles of [`refine_beside_border`] (`rays x width`, grey levels, NaN = no echo).
    ray_profiles: Vec<f64>,
    /// Mean profile of the current ray window, dB, and its level scratch.
    ray_mean: Vec<f64>,
    ray_level: Vec<f64>,
    ray_radii: Vec<f64>,
}

/// Searches the best lumen that does not contain the catheter (module docs). `speckle_sd` is
/// the speckle SD of `view.image`. Returns `true` and fills `ws.best` when one was found.
pub fn find_lumen_beside(
    view: &PolarView<'_>,
    speckle_sd: f64,
    params: &SegmentParams,
    ws: &mut BesideWorkspace,
) -> bool {
    find_seeds(view, ws);
    let mut found = false;
    let mut best_z = f64::NEG_INFINITY;
    for k in 0..ws.seeds.len() {
        let mut c = ws.seeds[k];
        let mut means = ws.class_means.unwrap_or((ws.seed_means[k] as f32, ws.wall_mean));
        let mut ok = false;
        for _ in 0..MAX_ITERATIONS {
            if !(means.1 > means.0) || !border_about(view, c, means, speckle_sd, params, ws) {
                break;
            }
            ok = true;
            // Chan–Vese alternation: the means become those of the region and of the rest of
            // the vessel interior (not of a band just outside: from a region that covers only
            // part of the lumen, such a band lies in the lumen and keeps the region small).
            let Some(m) = grid_split(ws, ws.cand.center_mm, &ws.cand.radii_mm) else { break };
            means = (m.0 as f32, m.1 as f32);
            let Some(cen) = centroid(&ws.cand) else { break };
            let moved = (cen[0] - c[0]).hypot(cen[1] - c[1]);
            if moved < 0.03 || !matches!(view.at(cen), At::Value(_) | At::Shadow) {
                break;
            }
            c = cen;
        }
        if !ok {
            continue;
        }
        ws.cand.evidence = region_evidence(view, ws.cand.center_mm, &ws.cand.radii_mm, speckle_sd);
        // The candidates compete by the two-region energy they remove with the frame's
        // two-class means (fixed for all of them): `A_in · (c_mid − mean_in)`, the region term
        // of the Chan–Vese energy the search minimised. A small, very dark artefact removes
        // little of it; the lumen, moderately dark over a large area, removes most.
        let c_mid = ws.class_means.map_or(0.5 * (ws.seed_means[k] + ws.wall_mean as f64), |m| 0.5 * (m.0 + m.1) as f64);
        let split_z = grid_split(ws, ws.cand.center_mm, &ws.cand.radii_mm)
            .map_or(f64::NEG_INFINITY, |m| m.2 * SEED_GRID_MM * SEED_GRID_MM * (c_mid - m.0));
        if split_z > best_z && ws.cand.evidence.contrast_sd > 0.0 {
            best_z = split_z;
            std::mem::swap(&mut ws.best, &mut ws.cand);
            found = true;
        }
    }
    found
}

/// A region the EEM must keep clear of in [`recentred_eem`]: the EEM lies at least `margin_mm`
/// beyond the star-shaped region (`center_mm`, `radii_mm` along evenly spaced angles from 0°)
/// on every ray.
#[derive(Debug, Clone, Copy)]
pub struct KeepOut<'a> {
    /// Centre of the region, mm.
    pub center_mm: [f64; 2],
    /// Radii of the region, mm.
    pub radii_mm: &'a [f64],
    /// Least distance from the region's border to the EEM, mm.
    pub margin_mm: f64,
}

/// Share of a lumen's rays beside the catheter along which it runs into the wall (within
/// [`WALL_CONTACT_PROBE_SAMPLES`], [`wall_contact_fraction`]) from which the EEM is searched
/// again with the lumen kept out (module docs, "The wall"). Tuning CTO frames 1000–1899
/// (`tools/tune.rs`, `BESIDE=1 CTO=1`), with [`EEM_RESEARCH_MIN_AREA_RATIO`]: 0.15 / 0.2 / 0.3
/// gave subintimal lumen Jaccard 0.836 / 0.836 / 0.835.
pub const WALL_CONTACT_FRACTION: f64 = 0.2;
/// How far beyond a ray's border [`wall_contact_fraction`] looks for the wall, samples.
pub const WALL_CONTACT_PROBE_SAMPLES: f64 = 1.5;
/// Least distance from a kept-out lumen to the media's inner edge in the second EEM search,
/// mm, beyond the media and lining the lumen search keeps inside the EEM (0.2 mm: subintimal
/// lumen Jaccard 0.834 → 0.832 without the area condition).
pub const EEM_KEEP_OUT_MARGIN_MM: f64 = 0.1;
/// Least area ratio (new / old) at which the EEM of the second search replaces the first: a
/// lumen that lies close to a right EEM moves it little, and the first pair is kept (1.0 /
/// 1.1 / 1.2: subintimal lumen Jaccard 0.834 / 0.836 / 0.834, catheter position 822 / 824 /
/// 824 of 900).
pub const EEM_RESEARCH_MIN_AREA_RATIO: f64 = 1.1;

/// Share of the rays of the star-shaped region (`center_mm`, `radii_mm`) whose border lies
/// within `probe_mm` of the wall of `view` (the EEM found on its own less the media): the
/// region was stopped by the wall there rather than by its own edge.
pub fn wall_contact_fraction(view: &PolarView<'_>, center_mm: [f64; 2], radii_mm: &[f64], probe_mm: f64) -> f64 {
    let n = radii_mm.len();
    if n == 0 {
        return 0.0;
    }
    let hits = radii_mm
        .iter()
        .enumerate()
        .filter(|&(i, &r)| {
            let (sn, cs) = (i as f64 * std::f64::consts::TAU / n as f64).sin_cos();
            let t = r + probe_mm;
            let p = [center_mm[0] + t * cs, center_mm[1] + t * sn];
            p[0].hypot(p[1]) >= view.exclusion_mm && matches!(view.at(p), At::Blocked)
        })
        .count();
    hits as f64 / n as f64
}

/// Area centroid of a star-shaped region.
fn centroid(b: &BesideLumen) -> Option<[f64; 2]> {
    let n = b.radii_mm.len();
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    let pts = |i: usize| {
        let (sn, cs) = ((i % n) as f64 * std::f64::consts::TAU / n as f64).sin_cos();
        let r = b.radii_mm[i % n];
        [r * cs, r * sn]
    };
    for i in 0..n {
        let (p, q) = (pts(i), pts(i + 1));
        let cr = p[0] * q[1] - q[0] * p[1];
        a += cr;
        cx += (p[0] + q[0]) * cr;
        cy += (p[1] + q[1]) * cr;
    }
    if !(a.abs() > 1e-12) {
        return None;
    }
    Some([b.center_mm[0] + cx / (3.0 * a), b.center_mm[1] + cy / (3.0 * a)])
}

/// Darkest box means on a coarse grid (candidate seeds) into `ws.seeds`.
fn find_seeds(view: &PolarView<'_>, ws: &mut BesideWorkspace) {
    ws.seeds.clear();
    ws.seed_means.clear();
    let reach = view
        .wall_mm
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .min(view.geom.depth_mm())
        .min(MAX_RADIUS_MM + 1.0);
    if !(reach > view.exclusion_mm + 2.0 * SEED_RADIUS_MM) {
        return;
    }
    let m = (2.0 * reach / SEED_GRID_MM).ceil() as usize + 1;
    let x0 = -reach;
    ws.grid.clear();
    ws.grid.resize(m * m, f32::NAN);
    for iy in 0..m {
        for ix in 0..m {
            let p = [x0 + ix as f64 * SEED_GRID_MM, x0 + iy as f64 * SEED_GRID_MM];
            if let At::Value(v) = view.at(p) {
                ws.grid[iy * m + ix] = v;
            }
        }
    }
    // Integral images of values and counts.
    let w = m + 1;
    ws.integ.clear();
    ws.integ.resize(w * w, 0.0);
    ws.integ_n.clear();
    ws.integ_n.resize(w * w, 0);
    for iy in 0..m {
        for ix in 0..m {
            let v = ws.grid[iy * m + ix];
            let (val, cnt) = if v.is_nan() { (0.0, 0) } else { (v as f64, 1) };
            let i = (iy + 1) * w + ix + 1;
            ws.integ[i] = val + ws.integ[i - 1] + ws.integ[i - w] - ws.integ[i - w - 1];
            ws.integ_n[i] = cnt + ws.integ_n[i - 1] + ws.integ_n[i - w] - ws.integ_n[i - w - 1];
        }
    }
    let b = (SEED_RADIUS_MM / SEED_GRID_MM).round() as usize;
    let full = ((2 * b + 1) * (2 * b + 1)) as u32;
    let box_mean = |ix: usize, iy: usize| -> f64 {
        let (x1, y1, x2, y2) = (ix - b, iy - b, ix + b + 1, iy + b + 1);
        let n = ws.integ_n[y2 * w + x2] + ws.integ_n[y1 * w + x1] - ws.integ_n[y1 * w + x2] - ws.integ_n[y2 * w + x1];
        if 10 * n < 8 * full {
            return f64::INFINITY;
        }
        let s = ws.integ[y2 * w + x2] + ws.integ[y1 * w + x1] - ws.integ[y1 * w + x2] - ws.integ[y2 * w + x1];
        s / n as f64
    };
    // Greedy: darkest box, then the darkest at least SEED_SEPARATION_MM from those taken.
    let min_r = view.exclusion_mm + SEED_RADIUS_MM;
    for _ in 0..MAX_SEEDS {
        let mut best = (f64::INFINITY, [0.0, 0.0]);
        for iy in b..m.saturating_sub(b) {
            for ix in b..m.saturating_sub(b) {
                if ws.grid[iy * m + ix].is_nan() {
                    continue;
                }
                let p = [x0 + ix as f64 * SEED_GRID_MM, x0 + iy as f64 * SEED_GRID_MM];
                if p[0].hypot(p[1]) < min_r
                    || ws.seeds.iter().any(|q| (q[0] - p[0]).hypot(q[1] - p[1]) < SEED_SEPARATION_MM)
                {
                    continue;
                }
                let v = box_mean(ix, iy);
                if v < best.0 {
                    best = (v, p);
                }
            }
        }
        if !best.0.is_finite() {
            break;
        }
        ws.seeds.push(best.1);
        ws.seed_means.push(best.0);
    }
    // Two-class means of the vessel interior, from the box means (speckle averaged out).
    ws.grid_m = m;
    ws.grid_x0 = x0;
    ws.boxed.clear();
    ws.boxed.resize(m * m, f32::NAN);
    for iy in b..m.saturating_sub(b) {
        for ix in b..m.saturating_sub(b) {
            if !ws.grid[iy * m + ix].is_nan() {
                let v = box_mean(ix, iy);
                if v.is_finite() {
                    ws.boxed[iy * m + ix] = v as f32;
                }
            }
        }
    }
    ws.class_means = two_class_means(&ws.grid, &ws.boxed);
    // Initial outside level: the median of the wall between catheter and media.
    ws.scratch.clear();
    ws.scratch.extend(ws.grid.iter().copied().filter(|v| !v.is_nan()));
    ws.wall_mean = if ws.scratch.is_empty() {
        0.0
    } else {
        let mid = ws.scratch.len() / 2;
        *ws.scratch.select_nth_unstable_by(mid, f32::total_cmp).1
    };
}

/// Two-class means (dark, bright) of the vessel interior: the isodata threshold (Ridler &
/// Calvard \[5\], i.e. two-means clustering) of the box means `boxed`, then the means of the
/// grid values `grid` on either side of it. `None` when either class is empty.
fn two_class_means(grid: &[f32], boxed: &[f32]) -> Option<(f32, f32)> {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in boxed.iter().filter(|v| !v.is_nan()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !(hi > lo) {
        return None;
    }
    let mut tau = 0.5 * (lo + hi);
    for _ in 0..ISODATA_ITERATIONS {
        let (mut n0, mut s0, mut n1, mut s1) = (0usize, 0.0f64, 0usize, 0.0f64);
        for &v in boxed.iter().filter(|v| !v.is_nan()) {
            if v < tau {
                n0 += 1;
                s0 += v as f64;
            } else {
                n1 += 1;
                s1 += v as f64;
            }
        }
        if n0 == 0 || n1 == 0 {
            return None;
        }
        let next = (0.5 * (s0 / n0 as f64 + s1 / n1 as f64)) as f32;
        if next == tau {
            break;
        }
        tau = next;
    }
    let (mut n0, mut s0, mut n1, mut s1) = (0usize, 0.0f64, 0usize, 0.0f64);
    for (&g, &v) in grid.iter().zip(boxed) {
        if v.is_nan() {
            continue;
        }
        if v < tau {
            n0 += 1;
            s0 += g as f64;
        } else {
            n1 += 1;
            s1 += g as f64;
        }
    }
    (n0 > 0 && n1 > 0).then(|| ((s0 / n0 as f64) as f32, (s1 / n1 as f64) as f32))
}

/// Means of the vessel-interior grid values inside and outside the star-shaped region
/// (`center_mm`, `radii_mm`) and their counts; `None` when either side is empty.
fn grid_split(ws: &BesideWorkspace, center_mm: [f64; 2], radii_mm: &[f64]) -> Option<(f64, f64, f64, f64)> {
    let m = ws.grid_m;
    let (mut ni, mut si, mut no, mut so) = (0usize, 0.0f64, 0usize, 0.0f64);
    let r_max = radii_mm.iter().copied().fold(0.0f64, f64::max);
    for iy in 0..m {
        let y = ws.grid_x0 + iy as f64 * SEED_GRID_MM;
        for ix in 0..m {
            let v = ws.grid[iy * m + ix];
            if v.is_nan() {
                continue;
            }
            let p = [ws.grid_x0 + ix as f64 * SEED_GRID_MM, y];
            let (dx, dy) = (p[0] - center_mm[0], p[1] - center_mm[1]);
            let inside = dx.abs() <= r_max && dy.abs() <= r_max && {
                let (r, d) = star_radius_at(center_mm, radii_mm, p);
                d < r
            };
            if inside {
                ni += 1;
                si += v as f64;
            } else {
                no += 1;
                so += v as f64;
            }
        }
    }
    (ni > 0 && no > 0).then(|| (si / ni as f64, so / no as f64, ni as f64, no as f64))
}

/// Optimal closed border about `c` into `ws.cand`; `false` if none.
fn border_about(
    view: &PolarView<'_>,
    c: [f64; 2],
    means: (f32, f32),
    speckle_sd: f64,
    params: &SegmentParams,
    ws: &mut BesideWorkspace,
) -> bool {
    let dt = view.geom.mm_per_sample;
    let n = BESIDE_LINES;
    let ns = ((MAX_RADIUS_MM / dt).ceil() as usize).clamp(16, 4000);
    ws.pol.resize(n, ns);
    ws.hi.clear();
    ws.lo.clear();
    let s_min = ((MIN_RADIUS_MM / dt).round() as usize).max(2);
    // 1. Resample about c; NaN = shadow; a ray stops at the first blocked sample.
    for l in 0..n {
        let (sn, cs) = (l as f64 * std::f64::consts::TAU / n as f64).sin_cos();
        let row = ws.pol.row_mut(l);
        let mut hi = ns - 1;
        for (k, o) in row.iter_mut().enumerate() {
            if hi < k {
                *o = f32::NAN;
                continue;
            }
            let t = k as f64 * dt;
            match view.at([c[0] + t * cs, c[1] + t * sn]) {
                At::Blocked => {
                    hi = k.saturating_sub(1);
                    *o = f32::NAN;
                }
                At::Shadow => *o = f32::NAN,
                At::Value(v) => *o = v,
            }
        }
        ws.hi.push(hi);
        ws.lo.push(s_min.min(hi));
    }
    if ws.hi.iter().all(|&h| h < s_min) {
        return false;
    }
    // 2. Region cost (Chan–Vese with fixed means): the cost of a border at `s` is the sum over
    //    the interior samples `k < s` of `((v − c_in)² − (v − c_out)²) / (c_out − c_in)²`,
    //    weighted by the area element `t / 0.5 mm` (rays fan out); shadowed samples count 0.
    let (c_in, c_out) = means;
    let span = c_out - c_in;
    ws.cost.resize(n, ns);
    for l in 0..n {
        let hi = ws.hi[l];
        let (src, row) = (ws.pol.row(l), ws.cost.row_mut(l));
        row.fill(0.0);
        let mut acc = 0.0f32;
        for s in 0..=hi {
            row[s] = acc;
            let v = src[s];
            if !v.is_nan() {
                let u = (2.0 * v - c_in - c_out) / span;
                acc += u.clamp(-3.0, 3.0) * (s as f32 * dt as f32 / 0.5);
            }
        }
    }
    // 4. Optimal closed path with the slope limit at a 0.7 mm radius.
    let arc = 0.7 * std::f64::consts::TAU / n as f64;
    let k = ((params.max_slope * arc / dt).ceil() as usize).clamp(1, 40);
    // Length term of the Chan–Vese energy, `μ · |C|`: a radius change of one sample between
    // neighbouring rays lengthens the border by about one sample pitch; in the units of the
    // cost above (area element `t·dθ·dt`, weight `t / 0.5 mm`) that is `μ / (0.5 mm · dθ)`.
    // `μ` scales with the per-sample noise of the cost, `2σ / (c_out − c_in)`, so a weak
    // contrast (noisier cost) gives a smoother border (see [`LENGTH_WEIGHT_MM`]).
    let noise = (2.0 * speckle_sd / span as f64).clamp(0.5, 6.0);
    let mu = LENGTH_WEIGHT_MM * noise;
    let dtheta = std::f64::consts::TAU / n as f64;
    let penalty = (mu / (0.5 * dtheta)) as f32;
    let pp = PathParams { max_jump: k, jump_penalty: penalty.max(params.jump_penalty) };
    if optimal_closed_path(&ws.cost, &ws.lo, &ws.hi, pp, &mut ws.path, &mut ws.out).is_none() {
        return false;
    }
    ws.cand.center_mm = c;
    ws.cand.radii_mm.clear();
    ws.cand.radii_mm.extend(ws.out.iter().map(|&s| (s as f64 - 0.5).max(0.5) * dt));
    true
}

/// Robust speckle SD of `image` (median over the annulus `[start, end)` of the SD in windows of
/// `w` samples along unshadowed lines).
pub fn window_sd(image: &Plane<f32>, start: usize, end: usize, w: usize, shadowed: &[bool], out: &mut Vec<f32>) -> f32 {
    out.clear();
    let w = w.max(2);
    for l in 0..image.rows() {
        if shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        let row = image.row(l);
        let mut s = start;
        while s + w <= end.min(row.len()) {
            let win = &row[s..s + w];
            let m = win.iter().sum::<f32>() / w as f32;
            let v = win.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / w as f32;
            out.push(v.sqrt());
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

/// Levels of a catheter-enclosing lumen and of the wall around it, for the patent/occluded
/// step (module docs, "Patent or occluded").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WallStep {
    /// Area-weighted mean of the wall: samples `lumen[l] .. vessel[l] − media` of the
    /// unshadowed lines, each weighted by its radius.
    pub wall_mean: f64,
    /// Upper quartile of the interior samples `s0 .. lumen[l]` of the same lines; `None` when
    /// they are fewer than [`MIN_STEP_SAMPLES`]: no lumen shows between the catheter and the
    /// border (module docs, "Patent or occluded", *Hidden interior*).
    pub interior_upper_quartile: Option<f64>,
}

impl WallStep {
    /// Level of the interior for the step: its upper quartile less
    /// [`SPECKLE_UPPER_QUARTILE_SD`] speckle SDs `speckle_sd` (module docs, "Patent or
    /// occluded", *Interior level*). `None` when the interior is hidden.
    pub fn interior_level(&self, speckle_sd: f64) -> Option<f64> {
        self.interior_upper_quartile.map(|q| q - SPECKLE_UPPER_QUARTILE_SD * speckle_sd)
    }
}

/// Upper quartile above the median of fully developed, log-compressed speckle, in speckle
/// SDs: the intensity is exponential, its quartiles `ln 4` and its median `ln 2`, so the
/// upper quartile lies `10 log10 2` = 3.01 dB above the median, and [`SPECKLE_SD_DB`] is
/// 5.57 dB (Burckhardt \[4\]).
pub const SPECKLE_UPPER_QUARTILE_SD: f64 = 0.5404;

/// Fewest samples [`wall_step`] measures a level from.
pub const MIN_STEP_SAMPLES: usize = 100;

/// [`WallStep`] of the unfiltered frame `polar` for the lumen border `lumen` and the EEM
/// `vessel` (samples per line), `media` samples inside the EEM left out. `scratch` is reused
/// for the quartile. `None` when the wall has fewer than [`MIN_STEP_SAMPLES`] samples.
pub fn wall_step(
    polar: &Plane<f32>,
    lumen: &[usize],
    vessel: &[usize],
    s0: usize,
    media: usize,
    shadowed: &[bool],
    scratch: &mut Vec<f32>,
) -> Option<WallStep> {
    scratch.clear();
    let (mut n_wall, mut w_sum, mut wv_sum) = (0usize, 0.0f64, 0.0f64);
    for (l, (&e, &v)) in lumen.iter().zip(vessel).enumerate().take(polar.rows()) {
        if shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        let row = polar.row(l);
        let e = e.min(row.len());
        let wall_end = v.saturating_sub(media).min(row.len());
        scratch.extend_from_slice(&row[s0.min(e)..e]);
        for (k, &x) in row.iter().enumerate().take(wall_end).skip(e) {
            let t = k as f64 + 0.5;
            n_wall += 1;
            w_sum += t;
            wv_sum += t * x as f64;
        }
    }
    if n_wall < MIN_STEP_SAMPLES {
        return None;
    }
    let interior_upper_quartile = (scratch.len() >= MIN_STEP_SAMPLES).then(|| {
        let q = scratch.len() * 3 / 4;
        *scratch.select_nth_unstable_by(q, f32::total_cmp).1 as f64
    });
    Some(WallStep { wall_mean: wv_sum / w_sum, interior_upper_quartile })
}

/// Number of depth fractions [`darkest_interior_mean`] splits a lumen's interior into.
pub const DARK_DEPTH_FRACTIONS: usize = 6;

/// Darkest interior level of a catheter-enclosing lumen: the interior of each unshadowed line
/// (samples `s0 .. lumen[l]`) is split into [`DARK_DEPTH_FRACTIONS`] equal fractions of its
/// depth, each fraction averaged over all lines, and the lowest mean returned (fractions with
/// fewer samples than a quarter of the lines, or 20, are skipped). `None` without samples.
pub fn darkest_interior_mean(polar: &Plane<f32>, lumen: &[usize], s0: usize, shadowed: &[bool]) -> Option<f64> {
    const BINS: usize = DARK_DEPTH_FRACTIONS;
    let mut sum = [0.0f64; BINS];
    let mut cnt = [0usize; BINS];
    let mut lines = 0usize;
    for (l, &e) in lumen.iter().enumerate().take(polar.rows()) {
        if shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        let row = polar.row(l);
        let e = e.min(row.len());
        if e <= s0 {
            continue;
        }
        lines += 1;
        let w = (e - s0) as f64;
        for k in s0..e {
            let b = ((((k - s0) as f64 + 0.5) / w * BINS as f64) as usize).min(BINS - 1);
            sum[b] += row[k] as f64;
            cnt[b] += 1;
        }
    }
    let min_n = (lines / 4).max(20);
    (0..BINS).filter(|&b| cnt[b] >= min_n).map(|b| sum[b] / cnt[b] as f64).min_by(f64::total_cmp)
}

/// Interior log-SD / speckle SD below which a lumen is taken to lie below the displayed range
/// (module docs, "Patent or occluded").
pub const BELOW_RANGE_SD_RATIO: f64 = 0.6;

/// Standard deviation of the unfiltered frame `polar` inside a catheter-enclosing lumen
/// (samples `start + 2 .. lumen[l]` of the unshadowed lines), divided by the frame's speckle
/// SD `speckle_sd`. `None` when fewer than 100 samples are available.
pub fn interior_sd_ratio(
    polar: &Plane<f32>,
    lumen: &[usize],
    start: usize,
    shadowed: &[bool],
    speckle_sd: f64,
) -> Option<f64> {
    if !(speckle_sd > 0.0) {
        return None;
    }
    let (mut n, mut sum, mut sum2) = (0usize, 0.0f64, 0.0f64);
    for (l, &e) in lumen.iter().enumerate().take(polar.rows()) {
        if shadowed.get(l).copied().unwrap_or(false) {
            continue;
        }
        let row = polar.row(l);
        let e = e.min(row.len());
        for &v in &row[(start + 2).min(e)..e] {
            n += 1;
            sum += v as f64;
            sum2 += v as f64 * v as f64;
        }
    }
    if n < 100 {
        return None;
    }
    let m = sum / n as f64;
    Some((sum2 / n as f64 - m * m).max(0.0).sqrt() / speckle_sd)
}

/// A patent/occluded call whose step lies within this many dB of [`PATENT_STEP_DB`] is
/// flagged `position_uncertain` (unless the call came from blood below the displayed range).
/// Tuning frames 1000–1299 (`tools/tune.rs`), intraluminal/intraplaque calls: CTO scenes 12 of
/// 22 wrong calls flagged and 28 of 145 right ones, non-CTO scenes 11 of 33 and 23 of 264
/// (chosen with the whole-interior step alone, when ±1.5 dB flagged 5 wrong / 16 right of the
/// CTO calls and ±3.5 dB 15 / 36). Re-measured with the wall-referenced step ([`wall_step`],
/// session 13): CTO scenes 1000–1899 33 of 65 wrong calls flagged and 73 of 423 right ones,
/// non-CTO 1000–1299 10 of 32 and 24 of 265 (±2 dB: 32 / 59 and 6 / 13; ±3 dB: 39 / 95 and
/// 13 / 33). With the interior level from its upper quartile ([`WallStep::interior_level`],
/// session 16): CTO 23 of 43 wrong calls flagged and 76 of 446 right ones, non-CTO 16 of 33
/// and 17 of 265.
pub const PATENT_UNCERTAIN_DB: f64 = 2.5;

/// Allowance subtracted from the step measured at the darkest depth of a catheter-enclosing
/// lumen ([`darkest_interior_mean`]) before it is compared with [`PATENT_STEP_DB`], dB: the
/// darkest of several depths reads deeper than the lumen's mean level (module docs, "Patent
/// or occluded").
pub const DARK_DEPTH_ALLOWANCE_DB: f64 = 4.0;

/// How far a lumen's backscatter step lies above [`PATENT_STEP_DB`], dB (positive = patent):
/// the larger of the whole-interior step `SPECKLE_SD_DB · contrast_sd` and the darkest-depth
/// step `SPECKLE_SD_DB · dark_contrast_sd −` [`DARK_DEPTH_ALLOWANCE_DB`] (both in speckle SDs
/// of the unfiltered frame; a NaN `dark_contrast_sd` — lumen beside the catheter — is ignored).
pub fn patent_margin_db(contrast_sd: f64, dark_contrast_sd: f64) -> f64 {
    let whole = SPECKLE_SD_DB * contrast_sd;
    let darkest = SPECKLE_SD_DB * dark_contrast_sd - DARK_DEPTH_ALLOWANCE_DB;
    whole.max(darkest) - PATENT_STEP_DB
}

/// Whether a lumen holds blood: its [`patent_margin_db`] is positive.
pub fn patent_lumen(contrast_sd: f64, dark_contrast_sd: f64) -> bool {
    patent_margin_db(contrast_sd, dark_contrast_sd) > 0.0
}

/// Radius of the star-shaped region (`center_mm`, `radii_mm` along evenly spaced display
/// angles from 0°) in the direction of `p`, linearly interpolated between rays, and the
/// distance of `p` from the centre.
fn star_radius_at(center_mm: [f64; 2], radii_mm: &[f64], p: [f64; 2]) -> (f64, f64) {
    let n = radii_mm.len();
    let (dx, dy) = (p[0] - center_mm[0], p[1] - center_mm[1]);
    let a = atan2_deg(dy, dx) * (n as f64 / 360.0);
    // `a` is in [0, n): truncation is the floor.
    let i0 = (a as usize).min(n - 1);
    let f = a - i0 as f64;
    let r = radii_mm[i0] + f * (radii_mm[if i0 + 1 == n { 0 } else { i0 + 1 }] - radii_mm[i0]);
    (r, (dx * dx + dy * dy).sqrt())
}

/// Two-region split of the whole admissible wall interior of `view` (inside the vessel minus
/// the media, outside the catheter, unshadowed) by the star-shaped region (`center_mm`,
/// `radii_mm`): the between-class statistic `(mean_rest − mean_in) / speckle_sd ·
/// sqrt(A_in · A_rest / (A_in + A_rest) / 0.01 mm²)` in [`RegionEvidence::z`]. Unlike
/// [`region_evidence`] (interior against a band of fixed width), every hypothesis is judged on
/// the *same* pixel set, so the one that explains the vessel interior best as "dark lumen +
/// brighter rest" wins, and a "lumen" that fills the whole vessel scores nothing. Sampled on a
/// 0.05 mm Cartesian grid.
pub fn partition_evidence(
    view: &PolarView<'_>,
    center_mm: [f64; 2],
    radii_mm: &[f64],
    speckle_sd: f64,
) -> RegionEvidence {
    partition_evidence_within(view, None, center_mm, radii_mm, speckle_sd)
}

/// [`partition_evidence`] on the admissible pixels that also lie inside the star-shaped region
/// `within` (`(center_mm, radii_mm)`), or on all of them when `None`.
pub fn partition_evidence_within(
    view: &PolarView<'_>,
    within: Option<([f64; 2], &[f64])>,
    center_mm: [f64; 2],
    radii_mm: &[f64],
    speckle_sd: f64,
) -> RegionEvidence {
    if radii_mm.is_empty() || !speckle_sd.is_finite() || speckle_sd <= 0.0 || within.is_some_and(|w| w.1.is_empty()) {
        return RegionEvidence::default();
    }
    let reach = view.wall_mm.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max).min(view.geom.depth_mm());
    let m = (2.0 * reach / SEED_GRID_MM).ceil() as usize + 1;
    let (mut ni, mut si, mut no, mut so) = (0usize, 0.0f64, 0usize, 0.0f64);
    for iy in 0..m {
        for ix in 0..m {
            let p = [-reach + ix as f64 * SEED_GRID_MM, -reach + iy as f64 * SEED_GRID_MM];
            if let At::Value(v) = view.at(p) {
                if let Some((c, rr)) = within {
                    let (r, d) = star_radius_at(c, rr, p);
                    if d >= r {
                        continue;
                    }
                }
                let (r, d) = star_radius_at(center_mm, radii_mm, p);
                if d < r {
                    ni += 1;
                    si += v as f64;
                } else {
                    no += 1;
                    so += v as f64;
                }
            }
        }
    }
    if ni == 0 || no == 0 {
        return RegionEvidence::default();
    }
    let cell = SEED_GRID_MM * SEED_GRID_MM;
    let (a_in, a_out) = (ni as f64 * cell, no as f64 * cell);
    let contrast_sd = (so / no as f64 - si / ni as f64) / speckle_sd;
    RegionEvidence {
        contrast_sd,
        area_mm2: a_in,
        z: contrast_sd * (a_in * a_out / (a_in + a_out) / 0.01).sqrt(),
        mean_in: si / ni as f64,
        mean_out: so / no as f64,
    }
}

/// How far the lumen beside the catheter clears the level it must beat, z units of
/// [`partition_evidence`]: `z_beside − (`[`PARTITION_Z_FACTOR`]` · max(z_enclosing, 0) +`
/// [`PARTITION_Z_MARGIN`]`) + `[`EEM_GAP_Z_PER_MM`]` · (`[`EEM_GAP_NEUTRAL_MM`]` − eem_gap_mm)`,
/// where `eem_gap_mm` is the least gap between the sheath and the EEM found on its own (a
/// non-finite gap adds nothing); positive = the beside lumen wins (module docs, "Deciding
/// between the hypotheses").
pub fn beside_margin_z(enclosing: &RegionEvidence, beside: &RegionEvidence, eem_gap_mm: f64) -> f64 {
    let gap_term = if eem_gap_mm.is_finite() { EEM_GAP_Z_PER_MM * (EEM_GAP_NEUTRAL_MM - eem_gap_mm) } else { 0.0 };
    beside.z - (PARTITION_Z_FACTOR * enclosing.z.max(0.0) + PARTITION_Z_MARGIN) + gap_term
}

/// Whether the lumen beside the catheter wins over the catheter-enclosing one: its
/// [`beside_margin_z`] is positive.
pub fn beside_wins(enclosing: &RegionEvidence, beside: &RegionEvidence, eem_gap_mm: f64) -> bool {
    beside_margin_z(enclosing, beside, eem_gap_mm) > 0.0
}

/// The two hypotheses about where the true lumen lies relative to the catheter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LumenSide {
    /// Round the catheter (catheter position `intraluminal` or `intraplaque`).
    AroundCatheter,
    /// Beside the catheter, not enclosing it (catheter position `subintimal`).
    Beside,
}

impl LumenSide {
    /// The side a catheter position implies (`None` for `unknown`).
    pub fn of(position: crate::report::CatheterPosition) -> Option<Self> {
        use crate::report::CatheterPosition as P;
        match position {
            P::Intraluminal | P::Intraplaque => Some(Self::AroundCatheter),
            P::Subintimal => Some(Self::Beside),
            P::Unknown => None,
        }
    }
}

/// A frame in which a lumen beside the catheter was found and its [`beside_margin_z`] lies
/// within ± this many z units of 0 is flagged `lumen_side_uncertain`: the other hypothesis
/// (lumen round the catheter, or beside it) explained the vessel interior nearly as well.
/// Tuning frames (`tools/tune.rs`, `BESIDE=1`: CTO scenes 1000–1899, non-CTO 1000–1299), with
/// the sheath-to-EEM gap in the margin (session 12): of all 1200 decisions, ±15 flags 11 of the
/// 28 wrong ones (9 of the wrong ones had no lumen beside the catheter to weigh) and 30 of the
/// 1172 right ones (±10: 9 and 17; ±20: 11 and 41; ±30: 14 and 70). Before the gap term
/// (session 11): 14 of 35 and 39 of 1165.
pub const SIDE_UNCERTAIN_Z: f64 = 15.0;

/// The evidence behind the true-lumen decision of one frame (for diagnostics; see
/// `Pipeline::last_true_lumen`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrueLumenEvidence {
    /// Catheter-enclosing lumen against a band outside it ([`region_evidence`]).
    pub enclosing: RegionEvidence,
    /// Best lumen beside the catheter against a band outside it (`None`: none found or search off).
    pub beside: Option<RegionEvidence>,
    /// Catheter-enclosing lumen as a split of the vessel interior ([`partition_evidence`]).
    pub partition_enclosing: RegionEvidence,
    /// Beside lumen as a split of the vessel interior.
    pub partition_beside: Option<RegionEvidence>,
    /// Centre of the beside lumen, catheter-centred mm.
    pub beside_center_mm: Option<[f64; 2]>,
    /// Whether the beside lumen was reported.
    pub use_beside: bool,
    /// Contrast of the reported lumen on the unfiltered frame, its speckle SDs (patent/occluded):
    /// [`wall_step`] for a lumen round the catheter, [`region_evidence`] beside it.
    pub raw_contrast_sd: f64,
    /// The same wall level against the darkest depth of a catheter-enclosing lumen's interior
    /// ([`darkest_interior_mean`]), its speckle SDs; NaN for a lumen beside the catheter.
    pub dark_contrast_sd: f64,
    /// How far the patent/occluded call of a catheter-enclosing lumen lay from its threshold:
    /// [`patent_margin_db`] of the two contrasts, dB (positive = patent side). NaN when
    /// the call did not rest on that step (lumen beside the catheter, or blood below the
    /// displayed range).
    pub patent_margin_db: f64,
    /// Smallest distance from the sheath to the EEM found on its own, over unshadowed lines, mm.
    pub eem_gap_mm: f64,
    /// Beside lumen as a split of the part of the vessel interior inside the enclosing lumen.
    pub split_within_enclosing: RegionEvidence,
    /// Median distance from the enclosing lumen border out to the EEM found on its own, mm.
    pub lumen_to_eem_mm: f64,
    /// EEM contrast ([`super::eem_contrast`]) of the vessel found on its own, speckle SDs.
    pub eem_alone_sd: f64,
    /// EEM contrast of the vessel found jointly with the enclosing lumen, speckle SDs.
    pub eem_joint_sd: f64,
    /// EEM contrast of the catheter-centred vessel found on its own and of the re-centred one
    /// ([`recentred_eem`]; NaN when not searched), speckle SDs.
    pub eem_recentred_sd: [f64; 2],
    /// Whether the re-centred EEM replaced the vessel found on its own.
    pub eem_recentred: bool,
    /// Whether the EEM was searched again with the lumen beside the catheter kept out, and
    /// replaced (module docs, "The wall").
    pub eem_kept_out: bool,
    /// Whether a catheter-enclosing lumen's interior was too small to measure (its border at
    /// the catheter; called occluded, module docs, "Patent or occluded", *Hidden interior*).
    pub interior_hidden: bool,
    /// Media thickness measured on the frame ([`super::media`]; `None`: no band showed and
    /// the assumed [`super::SegmentParams::media_mm`] was used), mm.
    pub media_mm: Option<f64>,
}

/// Rays of the re-centred EEM search ([`recentred_eem`]).
pub const EEM_RAYS: usize = 180;
/// Radius at which the slope limit of the re-centred EEM search is set, mm (as the
/// catheter-centred vessel search).
const EEM_SLOPE_RADIUS_MM: f64 = 1.5;
/// Re-centring passes of [`recentred_eem`].
const EEM_PASSES: usize = 2;
/// Rays of the coarse probes of [`larger_eem_start`].
const EEM_PROBE_RAYS: usize = 60;
/// Sample step of those probes, in polar samples.
const EEM_PROBE_STEP: f64 = 3.0;
/// Directions (evenly spaced from 0°) of the probe starts of [`larger_eem_start`].
const EEM_PROBE_DIRECTIONS: usize = 8;
/// Distances of the probe starts from the catheter centre, mm: a subintimal catheter sits
/// 0.2–1.5 mm from the centre of a 1.5–4 mm BTK vessel.
const EEM_PROBE_DISTANCES_MM: [f64; 2] = [0.7, 1.4];
/// How much larger (mean radius) a probe's EEM must be than the one about the first centroid.
const EEM_PROBE_GROWTH: f64 = 1.15;

/// Reusable buffers for [`recentred_eem`].
#[derive(Debug, Default, Clone)]
pub struct EemWorkspace {
    pol: Plane<f32>,
    cost: Plane<f32>,
    pre: Vec<f32>,
    bad: Vec<u32>,
    lo: Vec<usize>,
    hi: Vec<usize>,
    path: PathWorkspace,
    out: Vec<usize>,
    radii: Vec<f64>,
    /// The frame on the Cartesian grid of [`larger_eem_start`]'s probes (NaN = shadow,
    /// infinite = blocked).
    probe_grid: Vec<f32>,
    /// Centre of the last re-centred search, catheter-centred mm.
    pub center_mm: [f64; 2],
}

/// Area centroid of the closed polygon through `pts`.
fn polygon_centroid(pts: impl Iterator<Item = [f64; 2]> + Clone) -> Option<[f64; 2]> {
    let mut it = pts.clone().chain(pts.take(1)).peekable();
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    while let Some(p) = it.next() {
        let Some(&q) = it.peek() else { break };
        let cr = p[0] * q[1] - q[0] * p[1];
        a += cr;
        cx += (p[0] + q[0]) * cr;
        cy += (p[1] + q[1]) * cr;
    }
    (a.abs() > 1e-12).then(|| [cx / (3.0 * a), cy / (3.0 * a)])
}

/// EEM searched again about the vessel's own centre, for a catheter that sits in the wall.
///
/// Seen from a catheter close to the EEM (subintimal position) the EEM is far from a circle:
/// its radius climbs from ~0.3 mm to several mm within a few tens of degrees. The
/// catheter-centred path search (slope limit and jump penalty set for concentric vessels)
/// cannot follow that climb and cuts across the vessel — through a lumen beside the catheter,
/// which the beside search then cannot extend beyond. Here the same EEM cost as the
/// catheter-centred search (dark media window, bright adventitia window, plaque brighter than
/// media; `segment::vessel_cost`) is evaluated along [`EEM_RAYS`] rays from the centroid of
/// the vessel `eem` (catheter-line samples), where the EEM is nearly circular, and the globally
/// optimal closed path (Sonka et al. \[1\]) with the segment parameters' slope limit and jump
/// penalty is searched; the path must enclose the catheter (`min_wall_mm` beyond the exclusion
/// disc on rays that cross it). Then once more from the new vessel's centroid (the first
/// centroid is pulled toward the catheter by the wrong EEM). When the catheter-centred EEM cut
/// the vessel so short that the search about its centroid finds the same small contour again,
/// coarse probes from points around the catheter (`larger_eem_start`) supply the start
/// instead: one whose EEM is clearly larger *and* carries stronger evidence than any contour
/// of the first one's size. Ray samples on shadowed catheter lines are masked (their cost is
/// neutral, so the path bridges them). The result is written into `out` as one sample per
/// catheter line (first exit of the catheter ray from the star-shaped region). Re-centring the polar transform on the object is the idea of the
/// radial search of active-contour initialisation in IVUS (e.g. Klingensmith et al., "Evaluation
/// of three-dimensional segmentation algorithms for the identification of luminal and
/// medial–adventitial borders in intravascular ultrasound images", IEEE TMI 19(10):996–1011,
/// 2000); we differ in keeping the catheter-centred cost along the new rays.
///
/// `view` must have no wall limit (`wall_mm` empty) and be the speckle-filtered normalised frame.
/// Returns `false` (and leaves `out` alone) when no path was found.
pub fn recentred_eem(
    view: &PolarView<'_>,
    eem: &[usize],
    params: &SegmentParams,
    keep_out: Option<&KeepOut<'_>>,
    ws: &mut EemWorkspace,
    out: &mut Vec<usize>,
) -> bool {
    let geom = view.geom;
    let dt = geom.mm_per_sample;
    let nl = geom.n_lines;
    if eem.len() != nl || nl == 0 {
        return false;
    }
    let pts = eem.iter().enumerate().map(|(l, &s)| {
        let a = geom.angle_deg_of_line(l as f64).to_radians();
        let r = s as f64 * dt;
        [r * a.cos(), r * a.sin()]
    });
    let Some(c0) = polygon_centroid(pts) else { return false };
    let start = if keep_out.is_some() { c0 } else { larger_eem_start(view, c0, params, ws).unwrap_or(c0) };
    let mut c = start;
    let mut found = false;
    for _ in 0..EEM_PASSES {
        if eem_about(view, |p| view.at(p), c, params, EemRays { n: EEM_RAYS, dt, keep_out }, ws).is_none() {
            break;
        }
        found = true;
        let n = ws.radii.len();
        let pts = ws.radii.iter().enumerate().map(|(i, &r)| {
            let (sn, cs) = (i as f64 * std::f64::consts::TAU / n as f64).sin_cos();
            [c[0] + r * cs, c[1] + r * sn]
        });
        let Some(c2) = polygon_centroid(pts) else { break };
        if (c2[0] - c[0]).hypot(c2[1] - c[1]) < 0.1 {
            break;
        }
        c = c2;
    }
    if !found {
        return false;
    }
    let reach = eem_reach_mm(view, params);
    // Back to catheter lines: first exit of each catheter ray from the star-shaped region.
    out.clear();
    let (c, radii) = (ws.center_mm, &ws.radii);
    let max_s = geom.n_samples.saturating_sub(1);
    for l in 0..nl {
        let a = geom.angle_deg_of_line(l as f64).to_radians();
        let (sn, cs) = a.sin_cos();
        let inside = |t: f64| {
            let (r, d) = star_radius_at(c, radii, [t * cs, t * sn]);
            d < r
        };
        let step = 0.05;
        let (mut t0, mut t1) = (0.0, step);
        while t1 < 2.0 * reach && inside(t1) {
            t0 = t1;
            t1 += step;
        }
        for _ in 0..10 {
            let m = 0.5 * (t0 + t1);
            if inside(m) { t0 = m } else { t1 = m }
        }
        out.push(((0.5 * (t0 + t1) / dt).round() as usize).min(max_s));
    }
    true
}

/// How far from the catheter the re-centred EEM searches sample the frame, mm.
fn eem_reach_mm(view: &PolarView<'_>, params: &SegmentParams) -> f64 {
    params.max_vessel_radius_mm.min(view.geom.depth_mm())
}

/// Rays of one [`eem_about`] search: how many, their sample pitch (mm), and a region the EEM
/// must keep clear of, if any.
#[derive(Clone, Copy)]
struct EemRays<'a> {
    n: usize,
    dt: f64,
    keep_out: Option<&'a KeepOut<'a>>,
}

/// One globally optimal closed EEM path along `rays.n` rays from `c` (catheter-centred mm),
/// sampled every `rays.dt` mm, beyond `rays.keep_out` if given ([`recentred_eem`]): fills `ws.radii` (one radius per ray, mm) and
/// `ws.center_mm`, and returns the path's mean cost per ray (lower = stronger EEM evidence), or
/// `None` when no closed path satisfies the constraints.
fn eem_about(
    view: &PolarView<'_>,
    at: impl Fn([f64; 2]) -> At,
    c: [f64; 2],
    params: &SegmentParams,
    rays: EemRays<'_>,
    ws: &mut EemWorkspace,
) -> Option<f64> {
    let EemRays { n: n_rays, dt, keep_out } = rays;
    let samples = |mm: f64| ((mm / dt).round() as usize).max(2);
    let (wm, wa) = (samples(params.media_mm), samples(params.adventitia_mm));
    let back = 2 * wm + wm / 2;
    let reach = eem_reach_mm(view, params);
    let n = n_rays;
    let ns = ((2.0 * reach / dt).ceil() as usize).max(16);
    ws.pol.resize(n, ns);
    ws.cost.resize(n, ns);
    ws.lo.clear();
    ws.hi.clear();
    let rc = view.exclusion_mm;
    for l in 0..n {
        let (sn, cs) = (l as f64 * std::f64::consts::TAU / n as f64).sin_cos();
        // Exit from the catheter disc along the ray (it lies inside the vessel).
        let b = c[0] * cs + c[1] * sn;
        let disc = b * b - (c[0] * c[0] + c[1] * c[1] - rc * rc);
        let t_exit = if disc > 0.0 { (-b + disc.sqrt()).max(0.0) } else { 0.0 };
        let row = ws.pol.row_mut(l);
        let mut end = ns;
        for (k, o) in row.iter_mut().enumerate() {
            let t = k as f64 * dt;
            let p = [c[0] + t * cs, c[1] + t * sn];
            *o = match at(p) {
                At::Value(v) => v,
                At::Shadow => f32::NAN,
                At::Blocked if t < t_exit + dt => f32::NAN,
                At::Blocked => {
                    end = k;
                    f32::NAN
                }
            };
            if end < ns || p[0] * p[0] + p[1] * p[1] > reach * reach {
                end = end.min(k);
                break;
            }
        }
        row[end..].fill(f32::NAN);
        // Prefix sums of values and of masked samples.
        ws.pre.clear();
        ws.bad.clear();
        ws.pre.push(0.0);
        ws.bad.push(0);
        for &v in row.iter() {
            let (x, m) = if v.is_nan() { (0.0, 1) } else { (v, 0) };
            ws.pre.push(ws.pre.last().copied().unwrap_or(0.0) + x);
            ws.bad.push(ws.bad.last().copied().unwrap_or(0) + m);
        }
        let crow = ws.cost.row_mut(l);
        crow.fill(0.0);
        let mut lo = (((t_exit + params.min_wall_mm) / dt).ceil() as usize).max(back);
        if let Some(k) = keep_out {
            // Beyond the last sample inside the region and its margin.
            let last_in = (0..end).rev().find(|&j| {
                let t = j as f64 * dt;
                let (r, d) = star_radius_at(k.center_mm, k.radii_mm, [c[0] + t * cs, c[1] + t * sn]);
                d < r + k.margin_mm
            });
            if let Some(j) = last_in {
                lo = lo.max(j + 1);
            }
        }
        let hi = end.saturating_sub(wa + 1);
        for s in lo..=hi.max(lo).min(ns - 1) {
            if s + wa > ns || ws.bad[s + wa] != ws.bad[s - back] {
                continue;
            }
            let mean = |a: usize, b: usize| (ws.pre[b] - ws.pre[a]) / (b - a) as f32;
            let media = mean(s - wm, s);
            let adv = mean(s, s + wa);
            let plaque = mean(s - back, s - wm);
            crow[s] = -(adv - media) - 0.5 * (plaque - media).max(0.0);
        }
        ws.lo.push(lo.min(ns - 1));
        ws.hi.push(hi.max(lo).min(ns - 1));
    }
    let arc = EEM_SLOPE_RADIUS_MM * std::f64::consts::TAU / n as f64;
    let k = ((params.max_slope * arc / dt).ceil() as usize).clamp(1, 12);
    let pp = PathParams { max_jump: k, jump_penalty: params.jump_penalty };
    let total = optimal_closed_path(&ws.cost, &ws.lo, &ws.hi, pp, &mut ws.path, &mut ws.out)?;
    ws.radii.clear();
    ws.radii.extend(ws.out.iter().map(|&s| s as f64 * dt));
    ws.center_mm = c;
    Some(total as f64 / n as f64)
}

/// A start for [`recentred_eem`] that leads to a clearly larger EEM than the one about `c0`.
///
/// When the catheter-centred EEM cut across the vessel close to a catheter in the wall, its
/// centroid `c0` lies next to the catheter and the search about it finds the same small
/// contour again. A coarse search ([`EEM_PROBE_RAYS`] rays, samples [`EEM_PROBE_STEP`] times
/// coarser) is run about `c0` and about [`EEM_PROBE_DIRECTIONS`] points at each of
/// [`EEM_PROBE_DISTANCES_MM`] from the catheter, reading the frame from one Cartesian grid at
/// the probes' resolution. A probe wins when its mean radius exceeds [`EEM_PROBE_GROWTH`] times
/// that of the contour about `c0` *and* its mean path cost is lower than that of every probe
/// whose contour is not clearly larger (the one about `c0` included): a larger EEM must carry
/// stronger evidence along its whole border than any contour of the first one's size, not
/// merely than the first one (in an ordinary frame that start can be a poor one; tuning frame
/// 1166 lost its vessel to a larger contour that beat only the first). The lowest-cost
/// winner's start is returned; `None` keeps `c0`. Starting a globally optimal border search
/// from several centres and keeping the lowest-energy result is our addition to the
/// re-centred search; the energy is the EEM path cost itself (Sonka et al. \[1\]).
fn larger_eem_start(
    view: &PolarView<'_>,
    c0: [f64; 2],
    params: &SegmentParams,
    ws: &mut EemWorkspace,
) -> Option<[f64; 2]> {
    let dt = view.geom.mm_per_sample * EEM_PROBE_STEP;
    // The probes read the frame from a Cartesian grid at their own resolution, sampled once
    // (nearest cell): far fewer polar reads than 17 probes' rays would make.
    let reach = eem_reach_mm(view, params);
    let m = (2.0 * reach / dt).ceil() as usize + 1;
    let mut grid = std::mem::take(&mut ws.probe_grid);
    grid.clear();
    for iy in 0..m {
        let y = -reach + iy as f64 * dt;
        for ix in 0..m {
            grid.push(match view.at([-reach + ix as f64 * dt, y]) {
                At::Value(v) => v,
                At::Shadow => f32::NAN,
                At::Blocked => f32::INFINITY,
            });
        }
    }
    let excl2 = view.exclusion_mm * view.exclusion_mm;
    let at = |p: [f64; 2]| {
        // The catheter disc exactly, as the rays' exit points are computed: the nearest cell
        // of a point just outside it may lie inside.
        let r2 = p[0] * p[0] + p[1] * p[1];
        if r2 < excl2 {
            return At::Blocked;
        }
        let (fx, fy) = ((p[0] + reach) / dt + 0.5, (p[1] + reach) / dt + 0.5);
        if !(fx >= 0.0 && fy >= 0.0) {
            return At::Blocked;
        }
        // Non-negative: truncation is the floor.
        let (ix, iy) = (fx as usize, fy as usize);
        if ix >= m || iy >= m {
            return At::Blocked;
        }
        match grid[iy * m + ix] {
            v if v.is_nan() => At::Shadow,
            // A blocked cell next to the disc (the point itself is outside): no information.
            v if v.is_infinite() && r2 < (view.exclusion_mm + 2.0 * dt).powi(2) => At::Shadow,
            v if v.is_infinite() => At::Blocked,
            v => At::Value(v),
        }
    };
    let mean_radius = |r: &[f64]| r.iter().sum::<f64>() / r.len().max(1) as f64;
    // (mean path cost, mean radius, start) of every probe; the first is the one about `c0`.
    let mut probes = [(f64::INFINITY, 0.0, c0); 1 + EEM_PROBE_DIRECTIONS * EEM_PROBE_DISTANCES_MM.len()];
    for (i, p) in probes.iter_mut().enumerate() {
        if i > 0 {
            let (d, k) = (EEM_PROBE_DISTANCES_MM[(i - 1) / EEM_PROBE_DIRECTIONS], (i - 1) % EEM_PROBE_DIRECTIONS);
            let (sn, cs) = (k as f64 * std::f64::consts::TAU / EEM_PROBE_DIRECTIONS as f64).sin_cos();
            p.2 = [d * cs, d * sn];
        }
        if let Some(cost) = eem_about(view, at, p.2, params, EemRays { n: EEM_PROBE_RAYS, dt, keep_out: None }, ws) {
            (p.0, p.1) = (cost, mean_radius(&ws.radii));
        }
    }
    ws.probe_grid = grid;
    let base_radius = probes[0].1;
    if !probes[0].0.is_finite() {
        return None;
    }
    let larger = |p: &(f64, f64, [f64; 2])| p.1 > EEM_PROBE_GROWTH * base_radius;
    // Strongest evidence among the contours of the first one's size (itself included)...
    let small_cost = probes.iter().filter(|p| !larger(p)).map(|p| p.0).fold(f64::INFINITY, f64::min);
    // ...must be beaten by a clearly larger one.
    let best = probes.iter().filter(|p| larger(p) && p.0 < small_cost).min_by(|a, b| a.0.total_cmp(&b.0));
    best.map(|b| b.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wall level is the radius-weighted mean from the lumen border to the media; the
    /// interior's upper quartile is untouched by a bright ring-down residue on fewer than a
    /// quarter of its samples; shadowed lines and the media count for neither.
    #[test]
    fn wall_step_takes_the_wall_mean_and_the_interior_upper_quartile() {
        // Interior 10..30 (samples 10..13 bright residue), wall 30..50 (linear ramp 100..138),
        // media 50..54 (dark), EEM at 54; line 5 shadowed with nonsense.
        let polar = Plane::from_fn(32, 80, |l, k| match (l, k) {
            (5, _) => 1000.0,
            (_, 10..=12) => 90.0,
            (_, 13..=29) => 20.0,
            (_, 30..=49) => 100.0 + 2.0 * (k - 30) as f32,
            (_, 50..=53) => 0.0,
            _ => 200.0,
        });
        let (lumen, vessel) = (vec![30usize; 32], vec![54usize; 32]);
        let mut shadowed = vec![false; 32];
        shadowed[5] = true;
        let mut scratch = Vec::new();
        let st = wall_step(&polar, &lumen, &vessel, 10, 4, &shadowed, &mut scratch).unwrap();
        assert_eq!(st.interior_upper_quartile, Some(20.0));
        // The level read from it lies the speckle offset below.
        assert!((st.interior_level(2.0).unwrap() - (20.0 - 2.0 * SPECKLE_UPPER_QUARTILE_SD)).abs() < 1e-12);
        let (num, den) = (30..50).fold((0.0, 0.0), |(n, d), k| {
            let t = k as f64 + 0.5;
            (n + t * (100.0 + 2.0 * (k - 30) as f64), d + t)
        });
        assert!((st.wall_mean - num / den).abs() < 1e-9, "{}", st.wall_mean);
        // The weighting moves the mean above the ramp's plain average.
        assert!(st.wall_mean > 119.0);
        // Too few samples: no step.
        assert!(wall_step(&polar, &lumen, &vessel, 10, 4, &[true; 32], &mut scratch).is_none());
        // A border at the catheter: the wall is measured, the interior is hidden.
        let st = wall_step(&polar, &vec![11usize; 32], &vessel, 10, 4, &shadowed, &mut scratch).unwrap();
        assert_eq!(st.interior_upper_quartile, None);
        assert_eq!(st.interior_level(2.0), None);
        // (the "wall" now holds the dark interior too)
        assert!(st.wall_mean > 20.0 && st.wall_mean < 100.0, "{}", st.wall_mean);
    }

    /// A thin lumen whose interior is blurred at both ends: the darkest depth fraction is
    /// found, where the whole-interior mean is raised.
    #[test]
    fn darkest_interior_mean_finds_the_dark_middle_of_a_blurred_gap() {
        // Samples 10..22 are the interior: bright at its ends (sheath and wall blur), 20 in
        // the middle; line 3 is shadowed (and holds nonsense that must not count).
        let polar = Plane::from_fn(40, 60, |l, k| match (l, k) {
            (3, _) => -500.0,
            (_, 10..=11) | (_, 20..=21) => 150.0,
            (_, 12..=19) => 20.0,
            _ => 200.0,
        });
        let lumen = vec![22usize; 40];
        let mut shadowed = vec![false; 40];
        shadowed[3] = true;
        let dark = darkest_interior_mean(&polar, &lumen, 10, &shadowed).unwrap();
        assert!((dark - 20.0).abs() < 1e-9, "{dark}");
        // No interior at all.
        assert_eq!(darkest_interior_mean(&polar, &vec![10usize; 40], 10, &shadowed), None);
    }

    /// Log-compressed speckle (exponential intensity, 1 grey level per dB) with its darkest
    /// 60 % clipped at a display floor: the median sits on the floor, 1.2 dB above the true
    /// median, while the level read from the upper quartile stays within 0.3 dB of it; without
    /// the floor both agree.
    #[test]
    fn interior_level_reads_through_a_display_floor() {
        let (lines, depth, lumen_end) = (40usize, 200usize, 100usize);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut speckle = Vec::with_capacity(lines * lumen_end);
        for _ in 0..lines * lumen_end {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            speckle.push((10.0 * (-u.ln()).log10()) as f32);
        }
        let true_median = 10.0 * 2f64.ln().log10();
        let floor = 10.0 * (-(0.4f64).ln()).log10();
        let (lumen, vessel) = (vec![lumen_end; lines], vec![180usize; lines]);
        let mut scratch = Vec::new();
        for clip in [false, true] {
            let polar = Plane::from_fn(lines, depth, |l, k| {
                if k < lumen_end {
                    let v = speckle[l * lumen_end + k];
                    if clip { v.max(floor as f32) } else { v }
                } else {
                    20.0
                }
            });
            let st = wall_step(&polar, &lumen, &vessel, 0, 10, &[], &mut scratch).unwrap();
            let level = st.interior_level(SPECKLE_SD_DB).unwrap();
            assert!((level - true_median).abs() < 0.3, "clip {clip}: level {level:.2} dB vs {true_median:.2}");
            scratch.clear();
            scratch.extend((0..lines * lumen_end).map(|i| polar.row(i / lumen_end)[i % lumen_end]));
            let mid = scratch.len() / 2;
            let median = *scratch.select_nth_unstable_by(mid, f32::total_cmp).1 as f64;
            if clip {
                assert!(median - true_median > 1.0, "clipped median {median:.2} dB");
            } else {
                assert!((median - true_median).abs() < 0.3, "median {median:.2} dB");
            }
        }
    }

    /// The upper-quartile offset follows from the exponential intensity of fully developed
    /// speckle: quartiles `ln 4`, median `ln 2`.
    #[test]
    fn speckle_upper_quartile_offset_is_the_exponential_quartile_over_the_median() {
        let db = 10.0 * (4f64.ln() / 2f64.ln()).log10();
        assert!((SPECKLE_UPPER_QUARTILE_SD - db / SPECKLE_SD_DB).abs() < 1e-4);
    }

    #[test]
    fn patent_margin_takes_the_larger_step_and_ignores_a_missing_darkest_step() {
        let sd = |db: f64| db / SPECKLE_SD_DB;
        // Whole interior 10 dB, darkest depth 20 dB: 20 − allowance counts.
        let m = patent_margin_db(sd(10.0), sd(20.0));
        assert!((m - (20.0 - DARK_DEPTH_ALLOWANCE_DB - PATENT_STEP_DB)).abs() < 1e-9, "{m}");
        assert!(patent_lumen(sd(10.0), sd(20.0)));
        // Beside lumens have no darkest-depth step.
        assert!((patent_margin_db(sd(10.0), f64::NAN) - (10.0 - PATENT_STEP_DB)).abs() < 1e-9);
        assert!(!patent_lumen(sd(10.0), f64::NAN));
        assert!(patent_lumen(sd(PATENT_STEP_DB + 0.5), f64::NAN));
    }

    /// A polar frame of a vessel whose EEM is a circle about `(0.8, 0)` mm of radius 1.5 mm
    /// (plaque 100, a dark media band 0.15 mm inside the EEM, bright adventitia outside).
    fn eccentric_vessel() -> (Plane<f32>, PolarGeometry) {
        let geom = PolarGeometry::new(256, 300, 0.01).unwrap();
        let image = Plane::from_fn(256, 300, |l, k| {
            let a = geom.angle_deg_of_line(l as f64).to_radians();
            let t = k as f64 * 0.01;
            let d = (t * a.cos() - 0.8).hypot(t * a.sin());
            if d < 1.35 {
                100.0
            } else if d < 1.5 {
                20.0
            } else if d < 2.0 {
                200.0
            } else {
                100.0
            }
        });
        (image, geom)
    }

    /// Radius at which the catheter ray of display angle `a` leaves the circle of radius `r`
    /// about `(0.8, 0)`.
    fn circle_exit_mm(a_deg: f64, r: f64) -> f64 {
        let cs = a_deg.to_radians().cos();
        let b = 0.8 * cs;
        b + (b * b - (0.64 - r * r)).sqrt()
    }

    /// The second EEM search keeps clear of the region it is given: unchanged when the true EEM
    /// already lies beyond it, pushed beyond it (and its margin) when it does not.
    #[test]
    fn recentred_eem_keeps_clear_of_a_kept_out_region() {
        let (image, geom) = eccentric_vessel();
        // (A catheter of 0.3 mm radius: the EEM's windows reach 0.4 mm inside it, which a
        // larger catheter on the near side would cover, leaving the path to bridge there.)
        let view = PolarView { image: &image, geom: &geom, exclusion_mm: 0.3, wall_mm: &[], shadow_from_mm: &[] };
        let params = SegmentParams::default();
        let start: Vec<usize> =
            (0..256).map(|l| (circle_exit_mm(geom.angle_deg_of_line(l as f64), 1.5) / 0.01) as usize).collect();
        let (mut ws, mut out) = (EemWorkspace::default(), Vec::new());
        let err = |out: &[usize], r: f64| {
            (0..256)
                .map(|l| (out[l] as f64 * 0.01 - circle_exit_mm(geom.angle_deg_of_line(l as f64), r)).abs())
                .fold(0.0, f64::max)
        };
        assert!(recentred_eem(&view, &start, &params, None, &mut ws, &mut out));
        assert!(err(&out, 1.5) < 0.05, "free search off the EEM by {:.3} mm", err(&out, 1.5));
        // A region well inside the EEM changes nothing.
        let small = vec![0.8; 96];
        let keep = KeepOut { center_mm: [0.8, 0.0], radii_mm: &small, margin_mm: 0.2 };
        assert!(recentred_eem(&view, &start, &params, Some(&keep), &mut ws, &mut out));
        assert!(err(&out, 1.5) < 0.05, "kept-out search off the EEM by {:.3} mm", err(&out, 1.5));
        // A region reaching past the EEM pushes it out beyond the region and its margin.
        let large = vec![1.6; 96];
        let keep = KeepOut { center_mm: [0.8, 0.0], radii_mm: &large, margin_mm: 0.1 };
        assert!(recentred_eem(&view, &start, &params, Some(&keep), &mut ws, &mut out));
        let least = (0..256)
            .map(|l| out[l] as f64 * 0.01 - circle_exit_mm(geom.angle_deg_of_line(l as f64), 1.7))
            .fold(f64::INFINITY, f64::min);
        assert!(least > -0.03, "EEM {least:.3} mm inside the kept-out region and margin");
    }

    /// The share of a region's rays whose border meets the wall.
    #[test]
    fn wall_contact_fraction_counts_the_rays_at_the_wall() {
        let (image, geom) = eccentric_vessel();
        let wall = vec![1.0; 256];
        let view = PolarView { image: &image, geom: &geom, exclusion_mm: 0.5, wall_mm: &wall, shadow_from_mm: &[] };
        // A disc of radius 0.3 about (0.69, 0): reaches the wall (1.0 mm from the catheter)
        // only around its far point.
        let radii = vec![0.3; 96];
        let f = wall_contact_fraction(&view, [0.69, 0.0], &radii, 0.015);
        assert!(f > 0.0 && f < 0.25, "{f}");
        // Well inside the wall: no contact; its near side at the catheter does not count.
        assert_eq!(wall_contact_fraction(&view, [0.7, 0.0], &vec![0.15; 96], 0.015), 0.0);
        let near = wall_contact_fraction(&view, [0.62, 0.0], &vec![0.1; 96], 0.015);
        assert_eq!(near, 0.0);
        // Larger than the wall allows: most rays in contact.
        assert!(wall_contact_fraction(&view, [0.0, 0.0], &vec![0.99; 96], 0.015) > 0.9);
    }
}
