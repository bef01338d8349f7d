//! Acoustic shadows and guidewire detection in the polar frame.
//!
//! A guidewire is a metal cylinder: its near surface returns a very bright, narrow echo and
//! everything behind it is lost in an acoustic shadow over the A-lines its cross-section
//! covers. Calcium also casts a shadow, but behind a wider arc. The detector follows the
//! classic description of the guidewire artefact (a band of A-lines with a strong near-field
//! echo followed by a shadow, flanked by normal lines; G. S. Mintz et al., ACC expert consensus
//! on IVUS, JACC 37(5):1478–1492, 2001, section on artefacts), made adaptive to each frame:
//!
//! 1. For every line, the leading echo `p(l)`: the first sample reaching 70 % of the line's
//!    brightest, refined to the local maximum just after it.
//! 2. Its *shadow depth*: over a window behind `p(l)` (after a gap that skips the wire's own
//!    reverberations), the fraction of the usual signal (angular-median profile above the
//!    frame's floor) that is missing, taken at the least-dark fifth of the window and only at
//!    depths where tissue is normally visible. Gain and dynamic range cancel out, and a line
//!    with blood behind a blurred echo brightens again at the lumen wall and is not counted.
//!    Where tissue is visible beyond that window, the same measure over the next
//!    `FAR_WINDOW_MM` (0.8 mm) must show the shadow too (the smaller of the two counts): an acoustic
//!    shadow goes on into the far field, whereas a dark lumen seen through a bright near wall
//!    (a true lumen beside a subintimal catheter behind its bright intima) ends at the far
//!    wall. On the tuning CTO scenes (seeds 1000–1299) this removed 5 of 12 false wires, and
//!    with them the shadow masks that had cut those lumens (subintimal lumen Jaccard
//!    0.664 → 0.685); no change on the non-CTO tuning scenes. Where lines do *not* normally
//!    show tissue that far out (the angular median is below the visibility level, as when an
//!    eccentric vessel leaves the far field dim on most lines), a line whose own median over
//!    the far window is at a visible level is not in a shadow either: tissue shows behind it.
//!    (Session 13: dark lumens beside subintimal catheters had passed for calcium shadows and
//!    been masked out; tuning CTO scenes 1000–1899, subintimal lumen Jaccard 0.801 → 0.810,
//!    catheter position 809 → 813 of 900, vessel Jaccard 0.9535 → 0.9550, wires found
//!    90.3 → 90.9 %, false wires 2.4 → 2.3 %; non-CTO scenes and tuning wire pullbacks
//!    unchanged.)
//! 3. Runs of shadowed lines (wrapping across line 0, grown by hysteresis). A run whose core is
//!    as wide as a wire of radius `wire_radius_mm` at the echo depth, behind a prominent echo,
//!    is a wire; a wider run is other shadow (calcium) unless its width places a wire outside
//!    the sheath nearer than the echo found (near-surface echo lost in the ring-down: the IVUS
//!    catheter's own wire) *and* the frame shows that wire's echo: its near surface at that
//!    depth, or its first reverberation one wire diameter behind it with the wire's body — a
//!    shadow, not tissue — in front of that reverberation. (Without the last condition a
//!    calcium arc of 30–40° about 0.8 mm deep next to a 0.9 mm catheter passed for the own
//!    wire, its leading echo where the reverberation would be: tuning pullbacks 1100–1415,
//!    calcium arc error 27.1° → 14.3° median, false second wires 9.4 → 7.8 %, nothing else
//!    changed; session 12.)
//!    A run too narrow for a wire at its leading echo is looked at again from the brightest
//!    echo on its central lines when that lies more than a wire diameter deeper and the shadow
//!    test holds behind it on most of them: seen from a catheter in the wall, the first strong
//!    echo on a wire's lines is the bright wall next to the catheter, then comes the lumen and
//!    the wire in it. (Tuning CTO scenes 1000–1899: wires found 89.3 → 90.3 %, false wires
//!    2.3 → 2.4 %, subintimal lumen Jaccard 0.799 → 0.801 — scene 1080's undetected wire had
//!    made its shadow the "lumen beside the catheter", 0.11 → 0.80; without the shadow test
//!    behind the new echo, false wires rose to 3.9 %; session 12.)
//! 4. Wire runs become [`WireCandidate`]s; [`split_wires`] tells the catheter's own wire
//!    (next to the sheath, at a known or recurring angle, [`IvusWireParams`]) from the second
//!    guidewire, and [`WireSequence`] learns the own wire's angle over a pullback.
//!
//! The wire centre is placed `wire_radius_mm` behind the leading echo, at the shadow-weighted
//! circular mean angle of the run. Differences from the literature template: the width test
//! uses the physical wire size, and temporal consistency is used only for the own wire's angle.

use crate::catheter::angular_median_profile;
use crate::geometry::PolarGeometry;
use crate::plane::PolarImage;

/// A depth counts for the shadow test where the angular median exceeds the frame's darkest
/// median level by this fraction of the intensity spread.
const VISIBLE_FRACTION: f32 = 0.15;

/// Half-depth of the window in which a wire placed by its shadow width must show its
/// near-surface echo, mm.
const NEAR_ECHO_WINDOW_MM: f64 = 0.1;

/// Largest gap between the sheath and a wire whose near-surface echo may be lost in the
/// ring-down (a wire placed by its shadow width), mm.
const LOST_ECHO_MAX_GAP_MM: f64 = 0.2;

/// Fraction of a line's brightest echo that marks its leading echo.
const LEADING_ECHO_FRACTION: f32 = 0.7;
/// Half beam widths either side of a wire's shadow that the catheter-enclosing lumen search
/// ignores ([`ShadowWorkspace::lumen_bridge`]). Tuning frames 1000–1299 (`tools/tune.rs`,
/// non-CTO scenes): wire inside/outside 92.3 → 96.2 %, lumen Jaccard 0.900 → 0.904; CTO scenes
/// unchanged but for one position call (262 → 261 of 300).
pub const LUMEN_BRIDGE_BEAM_FACTOR: f64 = 1.5;
/// How far in front of a shadow's leading echo [`ShadowWorkspace::bridge_from_mm`] starts, mm:
/// the axial blur of the echo.
pub const SHADOW_ECHO_MARGIN_MM: f64 = 0.1;

/// Depth of the second window, beyond the shadow window, in which a shadow must persist
/// where tissue is visible there, mm.
const FAR_WINDOW_MM: f64 = 0.8;

/// Least visible depth in the far window for it to count, mm.
const FAR_MIN_VISIBLE_MM: f64 = 0.1;

/// Fraction of the usual signal above the frame's `floor` that is missing at a sample of value
/// `v` where the angular median is `median` (1 = nothing left, negative = brighter than usual).
fn missing_at(median: f32, v: f32, floor: f32) -> f32 {
    (median - v) / (median - floor)
}

/// Shadow depth of `row` over the window `a..b` behind its echo: how much of the usual signal
/// (`median`, per depth) the *least dark* fifth of the window is missing. A true shadow is dark
/// at every depth; a line that merely has blood behind a blurred wire echo brightens again at
/// the lumen wall and is not counted. Only depths where lines normally show tissue (median ≥
/// `visible`) can reveal a shadow (in a dim frame the far field is black on every line). A
/// shadow also goes on to the far field, whereas a dark lumen behind a bright near wall (a lumen
/// beside a subintimal catheter, seen through its bright intima) ends at the far wall: where at
/// least `far_min` samples of the next `far_len` are visible, the shadow must hold there too;
/// where fewer are, a line whose own median over those samples reaches `visible` is no shadow.
fn shadow_depth_behind(
    row: &[f32],
    median: &[f32],
    (visible, floor): (f32, f32),
    (a, b, far_len, far_min): (usize, usize, usize, usize),
    column: &mut Vec<f32>,
) -> f32 {
    let ns = row.len();
    let missing = |range: std::ops::Range<usize>, column: &mut Vec<f32>| {
        column.clear();
        column.extend(range.filter(|&s| median[s] >= visible).map(|s| missing_at(median[s], row[s], floor)));
    };
    missing(a..b, column);
    let near = least_dark_fifth(column);
    let far = b.min(ns)..(b + far_len).min(ns);
    missing(far.clone(), column);
    if column.len() >= far_min {
        return near.min(least_dark_fifth(column));
    }
    // Where lines do not normally show tissue this far out, a line that does (its own median
    // over the far window at a visible level) is not in a shadow.
    if far.len() >= far_min {
        column.clear();
        column.extend_from_slice(&row[far]);
        let mid = column.len() / 2;
        if *column.select_nth_unstable_by(mid, f32::total_cmp).1 >= visible {
            return near.min(0.0);
        }
    }
    near
}

/// The value below which a fifth of `v` lies (0 for an empty slice); reorders `v`.
fn least_dark_fifth(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let k = v.len() / 5;
    *v.select_nth_unstable_by(k, f32::total_cmp).1
}

/// Settings for [`detect_shadows`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WireParams {
    /// Radius of the guidewire, mm (0.014" wire: 0.178 mm).
    pub wire_radius_mm: f64,
    /// Minimum shadow depth for a shadowed line: the fraction of the usual (angular-median)
    /// signal above the frame's floor that is missing, taken at the least-dark fifth of the
    /// window behind the echo (1 = nothing left, 0 = as usual).
    pub min_shadow_depth: f64,
    /// Depth of the window behind the echo used to measure the shadow, mm.
    pub shadow_window_mm: f64,
    /// Gap between the leading echo and the shadow window (skips the wire's own
    /// reverberations), mm.
    pub shadow_gap_mm: f64,
    /// Lateral beam width, mm: lines this close to a wire shadow still see its blurred echo.
    pub beam_width_mm: f64,
    /// Accept a run as a wire when its width ≤ `width_factor` × the wire's geometric angular
    /// width at the echo depth + `width_slack_deg`.
    pub width_factor: f64,
    /// See `width_factor`, degrees.
    pub width_slack_deg: f64,
    /// Narrowest run considered at all, degrees.
    pub min_width_deg: f64,
    /// Minimum mean echo prominence (fraction of the intensity spread) for a wire: a metal
    /// wire is a strong reflector; a shadow behind a weak echo is not a wire's.
    pub min_echo_prominence: f64,
}

impl Default for WireParams {
    fn default() -> Self {
        Self {
            wire_radius_mm: 0.178,
            min_shadow_depth: 0.35,
            shadow_window_mm: 1.6,
            shadow_gap_mm: 0.4,
            beam_width_mm: 0.22,
            width_factor: 1.35,
            width_slack_deg: 3.0,
            min_width_deg: 3.0,
            min_echo_prominence: 0.25,
        }
    }
}

/// Kind of a shadowed run of A-lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowKind {
    /// Shadow of a guidewire.
    Wire,
    /// Wider shadow (calcium or other strong reflector).
    Other,
}

/// A run of consecutive shadowed A-lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShadowRun {
    /// First line of the run.
    pub first_line: usize,
    /// Number of lines (the run may wrap past the last line to line 0).
    pub n_lines: usize,
    /// Classification.
    pub kind: ShadowKind,
    /// Depth of the leading echo, mm.
    pub echo_depth_mm: f64,
    /// Distance of the wire centre from the catheter centre if this is a wire, mm.
    pub wire_center_mm: f64,
    /// Mean shadow depth over the run (fraction of the intensity spread).
    pub shadow_depth: f64,
    /// Echo prominence over the angular-median level at the same depth (fraction of spread).
    pub echo_prominence: f64,
    /// Shadow-weighted circular-mean line index (fractional).
    pub center_line: f64,
}

/// A detected guidewire in polar coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WireHit {
    /// Display angle of the wire centre, degrees in `[0, 360)`.
    pub angle_deg: f64,
    /// Distance of the wire centre from the catheter centre, mm.
    pub radius_mm: f64,
    /// Angular width of the shadow, degrees.
    pub shadow_width_deg: f64,
    /// Confidence 0–1.
    pub confidence: f64,
}

/// Scratch space for [`detect_shadows`].
#[derive(Debug, Default, Clone)]
pub struct ShadowWorkspace {
    median: Vec<f32>,
    column: Vec<f32>,
    /// Per line: sample of the leading echo.
    pub peak: Vec<usize>,
    /// Per line: shadow depth (fraction of the usual signal missing, see `min_shadow_depth`).
    pub depth: Vec<f32>,
    /// Per line: echo prominence (fraction of the intensity spread).
    pub prom: Vec<f32>,
    /// Per line: whether it is in a shadow (any kind).
    pub shadowed: Vec<bool>,
    /// Per line: whether border search should ignore it (shadows, plus the lines on either side
    /// of a wire that its blurred echo reaches).
    pub bridge: Vec<bool>,
    /// Per line: radius from which the line is unusable for the search of a lumen beside the
    /// catheter, mm: on the [`Self::bridge`] lines [`SHADOW_ECHO_MARGIN_MM`] in front of the
    /// leading echo (of a wire, the run's; of other shadows — calcium — the line's own in the
    /// run, the run's on the lines beside it), so what lies in front of the echo is seen
    /// normally. Infinite elsewhere.
    pub bridge_from_mm: Vec<f64>,
    /// [`Self::bridge`] in the form of [`Self::bridge_from_mm`]: 0 on the bridge lines (the
    /// whole line left out), infinite elsewhere.
    pub bridge_whole_mm: Vec<f64>,
    /// Per line: whether the catheter-enclosing lumen search should ignore it: [`Self::bridge`]
    /// with a wire's lines extended by [`LUMEN_BRIDGE_BEAM_FACTOR`] half beam widths on either
    /// side instead of one. A wire echoes 30–40 dB above plaque, so its laterally blurred echo
    /// outshines the tissue well beyond the beam's −6 dB width, and the lumen border beside an
    /// in-lumen wire stopped at that blur (the wire then lay on the bridged border and was called
    /// outside the lumen).
    pub lumen_bridge: Vec<bool>,
    /// Per line: depth the EEM lies beyond, mm: what casts a shadow lies inside the vessel
    /// (a wire in the lumen or the wall, calcium in the plaque or the media), so on the lines
    /// of a run the EEM lies beyond a wire's far surface (its centre plus radius) or beyond
    /// calcium's leading echo and its axial blur ([`SHADOW_ECHO_MARGIN_MM`]). 0 elsewhere.
    pub vessel_floor_mm: Vec<f64>,
    /// Runs found on the last call.
    pub runs: Vec<ShadowRun>,
    central: Vec<usize>,
    /// Per line: sample of the brightest 3-sample mean (the wire's echo on a wire's lines).
    brightest: Vec<usize>,
}

/// Detects shadowed A-line runs and classifies them. `start` is the first sample beyond the
/// ring-down; `spread` is the frame's intensity spread (e.g. p95 − p5) used to normalise.
/// Results are left in `ws.shadowed`, `ws.bridge` and `ws.runs`.
///
/// `catheter_radius_mm` bounds where a wire centre can physically be (outside the sheath).
pub fn detect_shadows(
    polar: &PolarImage,
    geom: &PolarGeometry,
    start: usize,
    spread: f32,
    catheter_radius_mm: f64,
    params: &WireParams,
    ws: &mut ShadowWorkspace,
) {
    let (n, ns) = polar.shape();
    ws.shadowed.clear();
    ws.shadowed.resize(n, false);
    ws.bridge.clear();
    ws.bridge.resize(n, false);
    ws.bridge_from_mm.clear();
    ws.bridge_from_mm.resize(n, f64::INFINITY);
    ws.bridge_whole_mm.clear();
    ws.bridge_whole_mm.resize(n, f64::INFINITY);
    ws.vessel_floor_mm.clear();
    ws.vessel_floor_mm.resize(n, 0.0);
    ws.lumen_bridge.clear();
    ws.lumen_bridge.resize(n, false);
    ws.runs.clear();
    if n < 8 || start + 8 >= ns || !(spread > 0.0) {
        return;
    }
    // Angular-median profile.
    angular_median_profile(polar, ns - 1, &mut ws.column, &mut ws.median);
    let mmps = geom.mm_per_sample;
    let floor = ws.median[start.min(ns - 1)..].iter().copied().fold(f32::INFINITY, f32::min);
    let visible = floor + VISIBLE_FRACTION * spread;
    let win = ((params.shadow_window_mm / mmps).round() as usize).max(3);
    let gap = ((params.shadow_gap_mm / mmps).round() as usize).max(1);
    let far_len = ((FAR_WINDOW_MM / mmps).round() as usize).max(3);
    let far_min = ((FAR_MIN_VISIBLE_MM / mmps).round() as usize).max(5);
    let search_end = (ns * 4 / 5).max(start + 1);
    ws.peak.clear();
    ws.brightest.clear();
    ws.depth.clear();
    ws.prom.clear();
    for l in 0..n {
        let row = polar.row(l);
        // Leading echo: the first sample whose 3-sample average reaches `LEADING_ECHO_FRACTION`
        // of the line's brightest, then the local maximum just after it. A wire's near surface
        // is the first strong echo on its lines (behind it there is only shadow and
        // reverberation), so this finds the surface rather than a brighter reverberation.
        let end = search_end.min(ns - 1);
        let (mut vmax, mut brightest) = (f32::NEG_INFINITY, start + 1);
        for s in start + 1..end {
            let v = (row[s - 1] + row[s] + row[s + 1]) / 3.0;
            if v > vmax {
                (vmax, brightest) = (v, s);
            }
        }
        ws.brightest.push(brightest);
        let thr = LEADING_ECHO_FRACTION * vmax;
        let mut first = start + 1;
        while first + 1 < end && (row[first - 1] + row[first] + row[first + 1]) / 3.0 < thr {
            first += 1;
        }
        let look = (first + (0.1 / mmps).round() as usize + 1).min(end);
        let mut best = (f32::NEG_INFINITY, first);
        for s in first..look.max(first + 1) {
            let v = (row[s - 1] + row[s] + row[(s + 1).min(ns - 1)]) / 3.0 - ws.median[s];
            if v > best.0 {
                best = (v, s);
            }
        }
        let p = best.1;
        let a = (p + gap).min(ns - 1);
        let b = (a + win).min(ns);
        // Shadow depth: how much darker than the angular median the *least dark* fifth of the
        // window is. A true shadow is dark at every depth; a line that merely has blood behind
        // a blurred wire echo brightens again at the lumen wall and is not counted.
        // Only depths where lines normally show tissue can reveal a shadow (in a dim frame the
        // far field is black on every line).
        let depth = shadow_depth_behind(row, &ws.median, (visible, floor), (a, b, far_len, far_min), &mut ws.column);
        ws.peak.push(p);
        ws.depth.push(depth);
        ws.prom.push(best.0 / spread);
    }
    let thr = params.min_shadow_depth as f32;
    for l in 0..n {
        ws.shadowed[l] = ws.depth[l] >= thr;
    }
    // Hysteresis: grow runs into neighbouring lines at least half as dark, so that speckle does
    // not split one shadow into fragments.
    let low = 0.5 * thr;
    for _ in 0..2 {
        for l in 0..n {
            if !ws.shadowed[l] && ws.depth[l] >= low && (ws.shadowed[(l + n - 1) % n] || ws.shadowed[(l + 1) % n]) {
                ws.shadowed[l] = true;
            }
        }
        for l in (0..n).rev() {
            if !ws.shadowed[l] && ws.depth[l] >= low && (ws.shadowed[(l + n - 1) % n] || ws.shadowed[(l + 1) % n]) {
                ws.shadowed[l] = true;
            }
        }
    }
    // Runs, wrapping: start scanning at a non-shadowed line.
    let Some(origin) = (0..n).find(|&l| !ws.shadowed[l]) else {
        return; // whole frame dark: no runs to classify
    };
    let deg_per_line = geom.deg_per_line();
    let mut i = 0;
    while i < n {
        let l = (origin + i) % n;
        if !ws.shadowed[l] {
            i += 1;
            continue;
        }
        let first = l;
        let mut len = 0;
        while i < n && ws.shadowed[(origin + i) % n] {
            len += 1;
            i += 1;
        }
        // Core of the run: from the first to the last line that passed the full threshold (the
        // hysteresis margins only bridge speckle gaps and blurred edges).
        let (mut core_first, mut core_last) = (usize::MAX, 0);
        for j in 0..len {
            if ws.depth[(first + j) % n] >= thr {
                core_first = core_first.min(j);
                core_last = j;
            }
        }
        if core_first == usize::MAX {
            continue;
        }
        let core_len = core_last - core_first + 1;
        let width_deg = core_len as f64 * deg_per_line;
        if width_deg < params.min_width_deg {
            continue;
        }
        // Statistics over the core: mean shadow depth, mean echo prominence, and the
        // depth-weighted circular mean line.
        let (mut sd, mut sp, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for j in core_first..=core_last {
            let ll = (first + j) % n;
            let d = ws.depth[ll].max(0.0) as f64;
            sd += d;
            sp += ws.prom[ll] as f64;
            let a = ll as f64 * std::f64::consts::TAU / n as f64;
            sx += d * a.cos();
            sy += d * a.sin();
        }
        // Echo depth: median of the leading-echo samples over the central half of the core.
        ws.central.clear();
        let (c0, c1) = (core_first + core_len / 4, core_first + (3 * core_len) / 4);
        ws.central.extend((c0..=c1.max(c0)).map(|j| ws.peak[(first + j) % n]));
        let mid = ws.central.len() / 2;
        let mut echo_sample = *ws.central.select_nth_unstable(mid).1;
        let mut deep_prominence = None;
        // Geometric angular width of a wire whose leading echo lies at `echo_mm`, seen from the
        // catheter.
        let wire_width_deg = |echo_mm: f64| {
            2.0 * (params.wire_radius_mm / (echo_mm + params.wire_radius_mm)).clamp(0.0, 1.0).asin().to_degrees()
        };
        // Too narrow for a wire at the leading echo: that echo may be bright tissue in front
        // of a wire (a catheter in the wall sees the wall first, then a lumen, then the wire
        // in it). The wire's own echo is the brightest on its lines, and its shadow starts
        // right behind it.
        if width_deg < 0.5 * wire_width_deg(echo_sample as f64 * mmps) {
            ws.central.clear();
            ws.central.extend((c0..=c1.max(c0)).map(|j| ws.brightest[(first + j) % n]));
            let k = ws.central.len();
            let deep = *ws.central.select_nth_unstable(k / 2).1;
            if deep as f64 * mmps > echo_sample as f64 * mmps + 2.0 * params.wire_radius_mm {
                // The shadow must start behind that echo, on most central lines.
                let (a, b) = ((deep + gap).min(ns - 1), (deep + gap + win).min(ns));
                let (mut dark, mut prom_sum) = (0, 0.0f64);
                for j in c0..=c1.max(c0) {
                    let row = polar.row((first + j) % n);
                    let s = ws.brightest[(first + j) % n];
                    prom_sum += (((row[s - 1] + row[s] + row[s + 1]) / 3.0 - ws.median[s]) / spread) as f64;
                    let d = shadow_depth_behind(
                        row,
                        &ws.median,
                        (visible, floor),
                        (a, b, far_len, far_min),
                        &mut ws.column,
                    );
                    dark += usize::from(d >= thr);
                }
                if 2 * dark > k {
                    echo_sample = deep;
                    deep_prominence = Some(prom_sum / k as f64);
                }
            }
        }
        let echo_depth_mm = echo_sample as f64 * mmps;
        let center_line = if sx != 0.0 || sy != 0.0 {
            sy.atan2(sx).rem_euclid(std::f64::consts::TAU) * n as f64 / std::f64::consts::TAU
        } else {
            ((first + core_first) as f64 + core_len as f64 / 2.0) % n as f64
        };
        let len = core_len;
        let r_c = echo_depth_mm + params.wire_radius_mm;
        let expected = wire_width_deg(echo_depth_mm);
        if width_deg < 0.5 * expected {
            continue; // narrower than any wire at this depth: speckle
        }
        // A run wider than a wire at the echo depth is either a wire whose near-surface echo
        // was lost (saturated inside the ring-down, right next to the sheath) or calcium. The
        // width itself tells where a wire would have to be: r = R / sin(width / 2). If that
        // position is physically possible (outside the sheath) and nearer than the echo found,
        // it is a wire there; otherwise the shadow is not a wire's.
        let r_from_width = params.wire_radius_mm / (width_deg.to_radians() / 2.0).sin().max(1e-6);
        let prominence = deep_prominence.unwrap_or(sp / len as f64);
        // A wire placed by its width must show an echo of its own: its near surface (a bright
        // echo within ±`NEAR_ECHO_WINDOW_MM` of `r_from_width − R` on the central lines), or,
        // when that surface is lost in the ring-down (saturated, then subtracted with the
        // rings), its first reverberation one wire diameter behind it, which the leading-echo
        // search then finds at `r_from_width + R`. Calcium or a wide shadow of another cause
        // usually has neither at those depths.
        let near_echo_ok = |ws: &mut ShadowWorkspace| {
            let s_mid = (r_from_width - params.wire_radius_mm) / mmps;
            let half = (NEAR_ECHO_WINDOW_MM / mmps).ceil();
            let lo = ((s_mid - half).floor().max(1.0) as usize).min(ns - 1);
            let hi = ((s_mid + half).ceil().max(0.0) as usize).min(ns - 1);
            ws.column.clear();
            for j in c0..=c1.max(c0) {
                let row = polar.row((first + j) % n);
                let m = (lo..=hi).map(|s| row[s] - ws.median[s]).fold(f32::NEG_INFINITY, f32::max);
                ws.column.push(m);
            }
            let mid = ws.column.len() / 2;
            let (_, v, _) = ws.column.select_nth_unstable_by(mid, f32::total_cmp);
            (*v / spread) as f64 >= params.min_echo_prominence
        };
        // Only next to the sheath can a wire's near-surface echo be lost (in the ring-down).
        let by_width = r_from_width >= catheter_radius_mm + 0.5 * params.wire_radius_mm
            && r_from_width <= catheter_radius_mm + params.wire_radius_mm + LOST_ECHO_MAX_GAP_MM
            && r_from_width < r_c;
        let reverb_behind = (echo_depth_mm - (r_from_width + params.wire_radius_mm)).abs() <= NEAR_ECHO_WINDOW_MM;
        // A wire whose near-surface echo is lost in the ring-down, found by its first
        // reverberation, fills the depths between the ring-down and that reverberation: on its
        // central lines the mean missing signal there reaches `min_shadow_depth` (or the
        // surface echo is seen after all, `near_echo_ok`). Calcium whose leading echo happens
        // to lie where the reverberation would (a 30–40° arc ~0.8 mm deep next to a 0.9 mm
        // catheter) has ordinary tissue or blood in front of it.
        let front_dark = |ws: &mut ShadowWorkspace| {
            let margin = (SHADOW_ECHO_MARGIN_MM / mmps).round() as usize;
            let hi = echo_sample.saturating_sub(margin);
            if hi < start + 3 {
                return true; // nothing to look at in front of the echo
            }
            ws.column.clear();
            for j in c0..=c1.max(c0) {
                let row = polar.row((first + j) % n);
                let (mut acc, mut cnt) = (0.0f32, 0u32);
                for s in start..hi {
                    if ws.median[s] >= visible {
                        acc += missing_at(ws.median[s], row[s], floor);
                        cnt += 1;
                    }
                }
                if cnt > 0 {
                    ws.column.push(acc / cnt as f32);
                }
            }
            if ws.column.is_empty() {
                return true;
            }
            let mid = ws.column.len() / 2;
            let (_, v, _) = ws.column.select_nth_unstable_by(mid, f32::total_cmp);
            *v as f64 >= params.min_shadow_depth
        };
        let (kind, wire_center_mm) = if by_width && reverb_behind && (front_dark(ws) || near_echo_ok(ws)) {
            (ShadowKind::Wire, r_from_width)
        } else if prominence >= params.min_echo_prominence
            && width_deg <= params.width_factor * expected + params.width_slack_deg
        {
            (ShadowKind::Wire, r_c)
        } else if by_width && near_echo_ok(ws) {
            (ShadowKind::Wire, r_from_width)
        } else {
            (ShadowKind::Other, r_c)
        };
        ws.runs.push(ShadowRun {
            first_line: (first + core_first) % n,
            n_lines: len,
            kind,
            echo_depth_mm,
            wire_center_mm,
            shadow_depth: sd / len as f64,
            echo_prominence: prominence,
            center_line,
        });
    }
    // Lines flagged shadowed but in runs too narrow to classify are not treated as shadow.
    ws.shadowed.fill(false);
    ws.bridge.clear();
    ws.bridge.resize(n, false);
    for run in &ws.runs {
        let floor_mm = match run.kind {
            ShadowKind::Wire => run.wire_center_mm + params.wire_radius_mm,
            ShadowKind::Other => run.echo_depth_mm + SHADOW_ECHO_MARGIN_MM,
        };
        for j in 0..run.n_lines {
            ws.shadowed[(run.first_line + j) % n] = true;
            ws.vessel_floor_mm[(run.first_line + j) % n] = floor_mm;
        }
        // The wire echo is blurred laterally by the beam: `half_beams` half beam widths on
        // either side, in lines.
        let ext_of = |half_beams: f64| {
            if run.kind == ShadowKind::Wire {
                let r = run.echo_depth_mm.max(0.1);
                ((half_beams * params.beam_width_mm / 2.0 / r).to_degrees() / deg_per_line).ceil() as usize
            } else {
                1
            }
        };
        let (ext, ext_lumen) = (ext_of(1.0), ext_of(LUMEN_BRIDGE_BEAM_FACTOR));
        let run_from_mm = (run.echo_depth_mm - SHADOW_ECHO_MARGIN_MM).max(0.0);
        for j in 0..run.n_lines + 2 * ext_lumen {
            ws.lumen_bridge[(run.first_line + n - ext_lumen.min(n) + j) % n] = true;
        }
        for j in 0..run.n_lines + 2 * ext {
            let l = (run.first_line + n - ext.min(n) + j) % n;
            ws.bridge[l] = true;
            // The search for a lumen beside the catheter keeps what lies in front of the echo:
            // of a wire, from its leading echo on all its lines (the lumen a wire lies in, or
            // next to, is seen in front of it; the rays that end at the echo are then bridged,
            // `segment::beside::shadowed_border_rays`); of calcium (often deep in the wall
            // behind the lumen), in the run from the line's own leading echo (a wide run may
            // join shadows cast at different depths), beside it from the run's.
            let from_mm = if run.kind == ShadowKind::Wire {
                run_from_mm
            } else if (ext..ext + run.n_lines).contains(&j) {
                (ws.peak[l] as f64 * mmps - SHADOW_ECHO_MARGIN_MM).max(0.0)
            } else {
                run_from_mm
            };
            ws.bridge_from_mm[l] = ws.bridge_from_mm[l].min(from_mm);
        }
    }
    ws.bridge_whole_mm.clear();
    ws.bridge_whole_mm.extend(ws.bridge.iter().map(|&b| if b { 0.0 } else { f64::INFINITY }));
}

/// The most confident wire among the runs of the last [`detect_shadows`] call, if any.
pub fn best_wire(ws: &ShadowWorkspace, geom: &PolarGeometry) -> Option<WireHit> {
    ws.runs
        .iter()
        .filter(|r| r.kind == ShadowKind::Wire)
        .map(|r| {
            let confidence = (r.shadow_depth.clamp(0.0, 1.0) * (r.echo_prominence / 0.5).clamp(0.0, 1.0)).sqrt();
            WireHit {
                angle_deg: geom.angle_deg_of_line(r.center_line),
                radius_mm: r.wire_center_mm,
                shadow_width_deg: r.n_lines as f64 * geom.deg_per_line(),
                confidence,
            }
        })
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
}

/// A wire-like echo and shadow of one frame (a [`ShadowKind::Wire`] run), before it is told
/// apart as the IVUS catheter's own wire or the second guidewire.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WireCandidate {
    /// Display angle of the wire centre, degrees in `[0, 360)`.
    pub angle_deg: f64,
    /// Distance of the wire centre from the catheter centre, mm.
    pub radius_mm: f64,
    /// Angular width of the shadow, degrees.
    pub shadow_width_deg: f64,
    /// Confidence 0–1 (as [`WireHit::confidence`]).
    pub confidence: f64,
    /// Gap between the sheath and the wire surface, mm (`radius − catheter radius − wire
    /// radius`, may be slightly negative).
    pub sheath_gap_mm: f64,
}

/// Fills `out` with the wire candidates of the last [`detect_shadows`] call, in run order.
/// `out` is cleared first and only grows when it has fewer slots than there are candidates.
pub fn wire_candidates_into(
    ws: &ShadowWorkspace,
    geom: &PolarGeometry,
    catheter_radius_mm: f64,
    wire_radius_mm: f64,
    out: &mut Vec<WireCandidate>,
) {
    out.clear();
    for r in ws.runs.iter().filter(|r| r.kind == ShadowKind::Wire) {
        out.push(WireCandidate {
            angle_deg: geom.angle_deg_of_line(r.center_line),
            radius_mm: r.wire_center_mm,
            shadow_width_deg: r.n_lines as f64 * geom.deg_per_line(),
            confidence: run_confidence(r),
            sheath_gap_mm: r.wire_center_mm - catheter_radius_mm - wire_radius_mm,
        });
    }
}

fn run_confidence(r: &ShadowRun) -> f64 {
    (r.shadow_depth.clamp(0.0, 1.0) * (r.echo_prominence / 0.5).clamp(0.0, 1.0)).sqrt()
}

/// How the IVUS catheter's own wire is told apart from the second guidewire.
///
/// AnteOwl-class catheters run over their own wire, which leaves the catheter right next to
/// the sheath, asymmetric to the transducer: its echo sits just outside the sheath at a nearly
/// fixed display angle through a pullback (see `domain.md`; Hayakawa et al., CVIR
/// Endovascular 6:37, 2023, describe using it as the angular reference during IVUS-guided
/// parallel wiring). A candidate is the own wire when its surface lies within
/// `sheath_zone_mm` of the sheath and, when a reference angle is known (given by the user, or
/// the recurring angle of near-sheath echoes over the last `sequence_frames` frames, see
/// [`WireSequence`]), within `angle_tolerance_deg` of it; with a reference, its surface may
/// also lie up to `reference_zone_mm` from the sheath: the own wire's surface echo, right at
/// the sheath, is often lost in the ring-down (saturated, then subtracted with the rings), and
/// the echo found is then its first reverberation one wire diameter deeper, which places the
/// wire one diameter too far out (tuning wire pullbacks 1100–1415: own wire reported as the
/// second wire in 3 of 57 own-wire frames → 1 of 57, no other change on 176 frames of 11 further
/// tuning pullbacks, session 19). Without a reference, and when the
/// frame shows at least two wire echoes, the most confident near-sheath candidate is taken; a
/// lone echo without a reference is reported as the second wire (it cannot be told apart from
/// a second wire touching the sheath). The second wire is the most confident remaining
/// candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IvusWireParams {
    /// Display angle of the own wire given by the user, degrees (`None` = learn it).
    pub angle_deg: Option<f64>,
    /// Largest angular distance from the reference angle, degrees.
    pub angle_tolerance_deg: f64,
    /// Largest gap between the sheath and the wire surface for the own wire, mm.
    pub sheath_zone_mm: f64,
    /// Largest gap between the sheath and the wire surface for the own wire when a reference
    /// angle is known and the candidate lies within `angle_tolerance_deg` of it, mm (default
    /// `sheath_zone_mm` plus one 0.014" wire diameter: a wire found by its first reverberation).
    pub reference_zone_mm: f64,
    /// Frames (the current one and those before it) over which [`WireSequence`] looks for the
    /// recurring own-wire angle.
    pub sequence_frames: usize,
}

impl Default for IvusWireParams {
    fn default() -> Self {
        Self {
            angle_deg: None,
            angle_tolerance_deg: 20.0,
            sheath_zone_mm: 0.15,
            reference_zone_mm: 0.15 + 0.356,
            sequence_frames: 15,
        }
    }
}

impl IvusWireParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParam`] naming the field (`ivus_wire_deg` for the angle).
    pub fn validate(&self) -> Result<(), crate::Error> {
        if let Some(a) = self.angle_deg {
            crate::error::check_range("ivus_wire_deg", a, -360.0, 360.0)?;
        }
        crate::error::check_range("ivus_wire.angle_tolerance_deg", self.angle_tolerance_deg, 1.0, 90.0)?;
        crate::error::check_range("ivus_wire.sheath_zone_mm", self.sheath_zone_mm, 0.0, 2.0)?;
        crate::error::check_range("ivus_wire.reference_zone_mm", self.reference_zone_mm, 0.0, 2.0)?;
        if self.sequence_frames == 0 {
            return Err(crate::Error::param("ivus_wire.sequence_frames", "must be at least 1"));
        }
        Ok(())
    }
}

/// Tells the own wire and the second wire apart among `cands`: returns their indices.
/// `reference_deg` is the own wire's expected display angle, if known (see [`IvusWireParams`]).
pub fn split_wires(
    cands: &[WireCandidate],
    reference_deg: Option<f64>,
    p: &IvusWireParams,
) -> (Option<usize>, Option<usize>) {
    split_wires_with(cands, reference_deg, p, false)
}

/// [`split_wires`]; with `lone_near_is_own`, a lone near-sheath echo without a reference is
/// taken as the own wire (the prior of a pullback over an own-wire catheter).
fn split_wires_with(
    cands: &[WireCandidate],
    reference_deg: Option<f64>,
    p: &IvusWireParams,
    lone_near_is_own: bool,
) -> (Option<usize>, Option<usize>) {
    let near = |c: &WireCandidate| c.sheath_gap_mm <= p.sheath_zone_mm;
    let near_ref = |c: &WireCandidate| c.sheath_gap_mm <= p.sheath_zone_mm.max(p.reference_zone_mm);
    let dist = |c: &WireCandidate, r: f64| crate::geometry::relative_angle_deg(r, c.angle_deg).abs();
    let own = match reference_deg {
        Some(r) => cands
            .iter()
            .enumerate()
            .filter(|(_, c)| near_ref(c) && dist(c, r) <= p.angle_tolerance_deg)
            .min_by(|a, b| dist(a.1, r).total_cmp(&dist(b.1, r)))
            .map(|(i, _)| i),
        // Without a reference a lone echo cannot be told apart: it is reported as the second
        // wire (a near-sheath second wire is as plausible as the own wire).
        None if cands.len() < 2 && !lone_near_is_own => None,
        None => cands
            .iter()
            .enumerate()
            .filter(|(_, c)| near(c))
            .max_by(|a, b| a.1.confidence.total_cmp(&b.1.confidence).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i),
    };
    let second = cands
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != own)
        .max_by(|a, b| a.1.confidence.total_cmp(&b.1.confidence).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i);
    (own, second)
}

/// Sequence pass over the results of a pullback, in frame order: learns the own wire's angle
/// from the near-sheath echoes of the current and the previous `sequence_frames − 1` frames
/// (the angle supported by most of them, at least two), and re-assigns each frame's
/// `ivus_wire`, `guidewire` and `guidance` from its [`crate::report::FrameResult::wire_candidates`]
/// with that reference (a user-given angle always wins).
///
/// Until an angle is learned, a lone echo next to the sheath is taken as the own wire (a
/// pullback over an own-wire catheter shows it in nearly every frame), unlike the single-frame
/// rule of [`split_wires`].
///
/// It looks only backwards and depends only on the frame order, so results do not depend on
/// how frames were chunked or on the number of threads; feed every frame of a run, in order,
/// through one `WireSequence` (`truelumen analyze` does, after each chunk).
#[derive(Debug, Clone)]
pub struct WireSequence {
    params: IvusWireParams,
    history: std::collections::VecDeque<Vec<f64>>,
    hint: String,
}

impl WireSequence {
    /// A pass with no history.
    pub fn new(params: IvusWireParams) -> Self {
        Self { params, history: std::collections::VecDeque::new(), hint: String::new() }
    }

    /// The own-wire reference angle from the history (or the user), if any.
    pub fn reference_deg(&self) -> Option<f64> {
        if let Some(a) = self.params.angle_deg {
            return Some(crate::geometry::wrap_deg(a));
        }
        let tol = self.params.angle_tolerance_deg;
        let all = || self.history.iter().flatten().copied();
        let support = |a: f64| all().filter(|&b| crate::geometry::relative_angle_deg(a, b).abs() <= tol).count();
        let mut best: Option<(usize, f64)> = None;
        for a in all() {
            let s = support(a);
            if best.is_none_or(|(bs, _)| s > bs) {
                best = Some((s, a));
            }
        }
        let (s, a) = best?;
        if s < 2 {
            return None;
        }
        // Circular mean of the supporting angles.
        let (mut x, mut y) = (0.0, 0.0);
        for b in all().filter(|&b| crate::geometry::relative_angle_deg(a, b).abs() <= tol) {
            x += b.to_radians().cos();
            y += b.to_radians().sin();
        }
        Some(crate::geometry::wrap_deg(y.atan2(x).to_degrees()))
    }

    /// Adds `result` (the next frame in order) to the history and re-assigns its wires.
    pub fn apply(&mut self, result: &mut crate::report::FrameResult) {
        let p = self.params;
        let near: Vec<f64> = result
            .wire_candidates
            .iter()
            .filter(|c| c.sheath_gap_mm <= p.sheath_zone_mm)
            .map(|c| c.angle_deg)
            .collect();
        self.history.push_back(near);
        while self.history.len() > p.sequence_frames {
            self.history.pop_front();
        }
        let reference = self.reference_deg();
        // Until the angle is learned, a lone near-sheath echo is taken as the own wire: every
        // frame of a pullback over an own-wire catheter has one.
        let (own, second) = split_wires_with(&result.wire_candidates, reference, &p, reference.is_none());
        crate::guidance::assign_wires(result, own, second, &mut self.hint);
    }
}

/// Runs a [`WireSequence`] over `results` (one whole run, in frame order).
pub fn resolve_wire_sequence(results: &mut [crate::report::FrameResult], params: IvusWireParams) {
    let mut seq = WireSequence::new(params);
    results.iter_mut().for_each(|r| seq.apply(r));
}

#[cfg(test)]
mod tests {
    use super::{IvusWireParams, WireCandidate, shadow_depth_behind, split_wires};

    fn cand(angle_deg: f64, sheath_gap_mm: f64, confidence: f64) -> WireCandidate {
        WireCandidate { angle_deg, radius_mm: 0.6 + sheath_gap_mm, shadow_width_deg: 20.0, confidence, sheath_gap_mm }
    }

    /// The own wire next to the sheath at the reference angle; found by its first
    /// reverberation (one wire diameter out) only when a reference angle is known and it lies
    /// near it.
    #[test]
    fn the_own_wire_is_told_apart_near_its_reference_angle() {
        let p = IvusWireParams::default();
        let second = cand(200.0, 0.8, 0.9);
        // Surface echo at the sheath: own wire with or without reference (two echoes).
        let cands = [cand(150.0, 0.05, 0.5), second];
        assert_eq!(split_wires(&cands, None, &p), (Some(0), Some(1)));
        assert_eq!(split_wires(&cands, Some(145.0), &p), (Some(0), Some(1)));
        // Found by its reverberation, 0.41 mm out: own wire only at the reference angle.
        let reverb = [cand(153.0, 0.41, 0.95), second];
        assert_eq!(split_wires(&reverb, Some(150.0), &p), (Some(0), Some(1)));
        assert_eq!(split_wires(&reverb, None, &p), (None, Some(0)));
        assert_eq!(split_wires(&reverb, Some(100.0), &p), (None, Some(0)));
        // Beyond the reference zone it is a second wire, even at the reference angle.
        let far = [cand(150.0, p.reference_zone_mm + 0.05, 0.95)];
        assert_eq!(split_wires(&far, Some(150.0), &p), (None, Some(0)));
    }

    /// A line dark over the shadow window: a shadow where the far field is dark too, or where
    /// lines do not normally show tissue there and this one does not either; no shadow where
    /// this line shows tissue behind the window although most lines do not (a dark lumen with
    /// its wall behind it, in a frame whose far field is dim).
    #[test]
    fn a_dark_window_is_a_shadow_unless_tissue_shows_behind_it() {
        let (visible, floor) = (30.0f32, 10.0f32);
        // Usual signal: 100 over the window (samples 0..40), 20 (not visible) beyond.
        let median: Vec<f32> = (0..80).map(|s| if s < 40 { 100.0 } else { 20.0 }).collect();
        let dark = |far: f32| -> Vec<f32> { (0..80).map(|s| if s < 40 { 10.0 } else { far }).collect() };
        let mut column = Vec::new();
        let depth = |row: &[f32], column: &mut Vec<f32>| {
            shadow_depth_behind(row, &median, (visible, floor), (0, 40, 30, 5), column)
        };
        // Nothing of the usual signal left in the window, black behind it.
        assert_eq!(depth(&dark(10.0), &mut column), 1.0);
        // Tissue behind the window at a visible level: not a shadow.
        assert!(depth(&dark(60.0), &mut column) <= 0.0);
        // Just below the visibility level behind the window: still a shadow.
        assert_eq!(depth(&dark(29.0), &mut column), 1.0);
        // Where the far field is normally visible, the usual rule: the far window must be dark.
        let median_vis = vec![100.0f32; 80];
        let d = shadow_depth_behind(&dark(100.0), &median_vis, (visible, floor), (0, 40, 30, 5), &mut column);
        assert!(d <= 0.0, "{d}");
    }
}
