//! Steering guidance for the second guidewire: where it lies relative to the true lumen as
//! seen from the catheter, and a plain-language hint.
//!
//! For a second wire the frame reports (in `guidewire`) the signed relative angle
//! `relative_angle_deg` = wire direction − true-lumen centroid direction, both seen from the
//! catheter centre, in `(-180, 180]`, positive = wire counter-clockwise *as displayed*; the
//! signed distance to the lumen border and inside/outside. `guidance` turns that into:
//! * `rotate_deg = −relative_angle_deg`: the display rotation that brings the wire direction
//!   onto the lumen direction (positive = counter-clockwise);
//! * `distance_to_border_mm`: unsigned distance from the wire centre to the nearest lumen border;
//! * `hint`, by these rules, in this order:
//!   1. no lumen found → `true lumen not found`;
//!   2. wire centre inside the lumen → `wire inside true lumen`;
//!   3. lumen encloses the catheter (catheter intraluminal / intraplaque) → `wire outside true
//!      lumen, D mm from its border (lumen surrounds the catheter)`: every direction leads into
//!      the lumen, so no rotation is suggested;
//!   4. `|relative_angle_deg| ≤` [`DEAD_BAND_DEG`] → `wire in line with true lumen, D mm
//!      outside its border`;
//!   5. otherwise → `rotate wire tip ~A° clockwise (display), D mm outside true lumen` (or
//!      `counter-clockwise`), with `A = |rotate_deg|` rounded to the nearest 5° (at least 5°).
//!
//!   `D` is the distance in mm with two decimals: one decimal printed a wire 0.05 mm from the
//!   border as "0.0 mm" from it.
//!
//!   When the wire centre lies within [`WIRE_AT_BORDER_MM`] of the lumen border, rules 2–5
//!   end with [`AT_BORDER_NOTE`] and the frame carries the quality flag
//!   `wire_at_lumen_border`: inside or outside may be either (below). When the frame carries
//!   the quality flag `lumen_side_uncertain` (the lumen round the catheter and one beside it
//!   explained the image nearly equally well), rules 2–5 end with [`SIDE_UNCERTAIN_NOTE`]:
//!   the direction may point at the wrong lumen; with [`SIDE_FROM_NEIGHBOURS_NOTE`] instead
//!   when the sequence pass took the lumen beside the catheter because the neighbouring frames
//!   have it there (flag `lumen_side_from_neighbours`, [`crate::pullback::sides`]).
//!
//!   "clockwise"/"counter-clockwise" refer to the *displayed* image
//!   (the convention of [`crate::geometry`]): the hint says where the wire must move on the
//!   screen, not which way to torque the wire, which depends on the wire and the view.
//!
//! The dead band is twice the relative-angle accuracy targeted by the tests (median error
//! ≤ 5°): inside it the measured direction cannot tell the operator which way to turn.
//!
//! *A wire at the border.* Next to a wire the lumen border is no sharper than the beam's
//! lateral resolution, and the wire's own echo, blurred sideways by the beam, is an edge the
//! border search may follow; within half a beam width of the found border the inside/outside
//! call is little better than a coin. Tuning frames (`tools/tune.rs`, CTO scenes 1000–1899 and
//! non-CTO scenes 1000–1299, 660 frames with a second wire found and a lumen): the call was
//! right in 17 of 27 frames with the wire centre within 0.05 mm of the found border, 33 of 39
//! at 0.05–0.10 mm, 66 of 74 at 0.10–0.15 mm and 513 of 520 farther out. Judging such a wire
//! by the tissue beside it at its depth instead was tried and gained nothing beyond noise
//! (README, session 16).
//!
//! These are measurements and suggestions for the operator, never decisions.

use crate::geometry::relative_angle_deg;
use crate::guidewire::WireCandidate;
use crate::report::{FrameResult, Guidance, GuidewireResult, IvusWireResult, QualityFlag, RegionResult};
use std::fmt::Write;

/// Relative angles within ±this are reported as "in line with true lumen", degrees.
pub const DEAD_BAND_DEG: f64 = 10.0;

/// A wire centre within this distance of the lumen border is reported as at the border, mm:
/// half the lateral beam width of a 40 MHz catheter (0.22 mm, the default
/// [`crate::guidewire::WireParams::beam_width_mm`]; module docs, *A wire at the border*).
pub const WIRE_AT_BORDER_MM: f64 = 0.11;

/// Appended to the hint of a wire within [`WIRE_AT_BORDER_MM`] of the lumen border.
pub const AT_BORDER_NOTE: &str = "; wire at the true-lumen border (inside or outside uncertain)";

/// Whether wire `w` lies within [`WIRE_AT_BORDER_MM`] of the true-lumen border.
pub fn wire_at_border(w: &GuidewireResult) -> bool {
    w.distance_to_lumen_mm.is_some_and(|d| d.abs() < WIRE_AT_BORDER_MM)
}

/// Appended to the hint of a frame flagged `lumen_side_uncertain`.
pub const SIDE_UNCERTAIN_NOTE: &str = "; true lumen uncertain (round the catheter or beside it)";

/// Appended instead of [`SIDE_UNCERTAIN_NOTE`] to the hint of a frame also flagged
/// `lumen_side_from_neighbours`.
pub const SIDE_FROM_NEIGHBOURS_NOTE: &str =
    "; true lumen taken beside the catheter as in the neighbouring frames (uncertain in this frame)";

/// The note on the lumen side that ends the hint of a frame with these quality flags (empty
/// when the side is not in doubt).
pub fn side_note(quality: &crate::report::Quality) -> &'static str {
    if quality.has(QualityFlag::LumenSideFromNeighbours) {
        SIDE_FROM_NEIGHBOURS_NOTE
    } else if quality.has(QualityFlag::LumenSideUncertain) {
        SIDE_UNCERTAIN_NOTE
    } else {
        ""
    }
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

fn center_of(c: &WireCandidate) -> [f64; 2] {
    let a = c.angle_deg.to_radians();
    [c.radius_mm * a.cos(), c.radius_mm * a.sin()]
}

/// The second-wire result of candidate `c` relative to `lumen`.
pub fn wire_result(c: &WireCandidate, lumen: Option<&RegionResult>) -> GuidewireResult {
    let center = center_of(c);
    let (rel, inside, dist) = match lumen {
        Some(l) => {
            let d = l.contour_mm.signed_distance_mm(center);
            (
                Some(crate::geometry::wrap_rel_deg(round4(relative_angle_deg(l.centroid_angle_deg, c.angle_deg)))),
                Some(d < 0.0),
                Some(round4(d)),
            )
        }
        None => (None, None, None),
    };
    GuidewireResult {
        center_mm: [round4(center[0]), round4(center[1])],
        angle_deg: crate::geometry::wrap_deg(round4(c.angle_deg)),
        relative_angle_deg: rel,
        in_true_lumen: inside,
        distance_to_lumen_mm: dist,
        shadow_width_deg: round4(c.shadow_width_deg),
        confidence: round4(c.confidence),
    }
}

/// The own-wire result of candidate `c`.
pub fn ivus_wire_result(c: &WireCandidate) -> IvusWireResult {
    let center = center_of(c);
    IvusWireResult {
        center_mm: [round4(center[0]), round4(center[1])],
        angle_deg: crate::geometry::wrap_deg(round4(c.angle_deg)),
        confidence: round4(c.confidence),
    }
}

/// Guidance for a second wire `w` (see the module doc for the rules); `side_note` ends the hint
/// (the frame's [`side_note`]). `scratch` is reused to format the hint, so that the
/// returned string is allocated once, at its exact size.
pub fn guidance(w: &GuidewireResult, lumen: Option<&RegionResult>, side_note: &str, scratch: &mut String) -> Guidance {
    scratch.clear();
    let (Some(l), Some(rel), Some(inside), Some(d)) =
        (lumen, w.relative_angle_deg, w.in_true_lumen, w.distance_to_lumen_mm)
    else {
        return Guidance { hint: "true lumen not found".to_owned(), rotate_deg: None, distance_to_border_mm: None };
    };
    let dist = d.abs();
    let mut rotate = None;
    if inside {
        scratch.push_str("wire inside true lumen");
    } else if l.encloses_catheter {
        let _ = write!(scratch, "wire outside true lumen, {dist:.2} mm from its border (lumen surrounds the catheter)");
    } else if rel.abs() <= DEAD_BAND_DEG {
        let _ = write!(scratch, "wire in line with true lumen, {dist:.2} mm outside its border");
    } else {
        let r = -rel;
        rotate = Some(round4(if r == -180.0 { 180.0 } else { r }));
        let a = ((r.abs() / 5.0).round() * 5.0).max(5.0);
        let dir = if r > 0.0 { "counter-clockwise" } else { "clockwise" };
        let _ = write!(scratch, "rotate wire tip ~{a:.0}° {dir} (display), {dist:.2} mm outside true lumen");
    }
    if wire_at_border(w) {
        scratch.push_str(AT_BORDER_NOTE);
    }
    scratch.push_str(side_note);
    Guidance { hint: scratch.as_str().to_owned(), rotate_deg: rotate, distance_to_border_mm: Some(round4(dist)) }
}

/// Sets `result.ivus_wire`, `result.guidewire` and `result.guidance` from its
/// `wire_candidates` and the chosen indices (see [`crate::guidewire::split_wires`]), and the
/// quality flag `wire_at_lumen_border` ([`wire_at_border`]; cleared when it no longer applies).
pub fn assign_wires(result: &mut FrameResult, own: Option<usize>, second: Option<usize>, scratch: &mut String) {
    let cand = |i: Option<usize>| i.and_then(|i| result.wire_candidates.get(i).copied());
    result.ivus_wire = cand(own).map(|c| ivus_wire_result(&c));
    let second = cand(second);
    let w = second.map(|c| wire_result(&c, result.lumen.as_ref()));
    // Set anew on every assignment (a sequence pass may choose another second wire).
    if w.as_ref().is_some_and(wire_at_border) {
        result.quality.flag(QualityFlag::WireAtLumenBorder);
    } else {
        result.quality.unflag(QualityFlag::WireAtLumenBorder);
    }
    let note = side_note(&result.quality);
    result.guidance = w.as_ref().map(|w| guidance(w, result.lumen.as_ref(), note, scratch));
    result.guidewire = w;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::Contour;

    fn lumen(center: [f64; 2], r: f64, encloses: bool) -> RegionResult {
        let contour = Contour::from_radii(center, &[r; 90]);
        RegionResult {
            area_mm2: contour.area_mm2(),
            centroid_mm: center,
            centroid_angle_deg: crate::geometry::angle_deg_of_point(center),
            min_diameter_mm: 2.0 * r,
            max_diameter_mm: 2.0 * r,
            mean_diameter_mm: 2.0 * r,
            area_equivalent_diameter_mm: 2.0 * r,
            eccentricity: 0.0,
            encloses_catheter: encloses,
            contour_mm: contour,
        }
    }

    fn cand(angle_deg: f64, radius_mm: f64) -> WireCandidate {
        WireCandidate { angle_deg, radius_mm, shadow_width_deg: 10.0, confidence: 0.9, sheath_gap_mm: 0.5 }
    }

    #[test]
    fn hints_follow_the_rules() {
        let mut s = String::new();
        // Lumen beside the catheter at 0°, 1 mm away, radius 0.4 mm.
        let l = lumen([1.0, 0.0], 0.4, false);
        // Wire at +45° (counter-clockwise of the lumen): rotate clockwise.
        let w = wire_result(&cand(45.0, 1.0), Some(&l));
        assert_eq!(w.relative_angle_deg, Some(45.0));
        let g = guidance(&w, Some(&l), "", &mut s);
        assert!(g.hint.starts_with("rotate wire tip ~45° clockwise (display)"), "{}", g.hint);
        assert_eq!(g.rotate_deg, Some(-45.0));
        // The distance in the hint is the reported one, to 0.01 mm (0.765 − 0.4 mm here).
        let d = w.distance_to_lumen_mm.unwrap();
        assert!((d - 0.365).abs() < 0.01, "{d}");
        assert!(g.hint.ends_with(&format!(", {d:.2} mm outside true lumen")), "{}", g.hint);
        // At −37°: ~35° counter-clockwise.
        let g = guidance(&wire_result(&cand(-37.0, 1.0), Some(&l)), Some(&l), "", &mut s);
        assert!(g.hint.starts_with("rotate wire tip ~35° counter-clockwise"), "{}", g.hint);
        // Inside.
        let g = guidance(&wire_result(&cand(0.0, 1.1), Some(&l)), Some(&l), "", &mut s);
        assert_eq!(g.hint, "wire inside true lumen");
        assert_eq!(g.rotate_deg, None);
        // Dead band: 6°, 1.6 mm out (outside, beyond the lumen).
        let g = guidance(&wire_result(&cand(6.0, 1.6), Some(&l)), Some(&l), "", &mut s);
        assert!(g.hint.starts_with("wire in line with true lumen"), "{}", g.hint);
        // No lumen.
        let g = guidance(&wire_result(&cand(6.0, 1.6), None), None, "", &mut s);
        assert_eq!(g.hint, "true lumen not found");
        // Lumen around the catheter.
        let l2 = lumen([0.0, 0.0], 0.8, true);
        let g = guidance(&wire_result(&cand(90.0, 1.2), Some(&l2)), Some(&l2), "", &mut s);
        assert!(g.hint.contains("surrounds the catheter"), "{}", g.hint);
        // An uncertain lumen side ends the hint with the note; the rotation is still given.
        let g = guidance(&wire_result(&cand(45.0, 1.0), Some(&l)), Some(&l), SIDE_UNCERTAIN_NOTE, &mut s);
        assert!(g.hint.starts_with("rotate wire tip ~45° clockwise (display)"), "{}", g.hint);
        assert!(g.hint.ends_with(SIDE_UNCERTAIN_NOTE), "{}", g.hint);
        assert_eq!(g.rotate_deg, Some(-45.0));
        let g = guidance(&wire_result(&cand(6.0, 1.6), None), None, SIDE_UNCERTAIN_NOTE, &mut s);
        assert_eq!(g.hint, "true lumen not found");
    }

    /// The lumen-side note follows the frame's flags; a side taken from the neighbouring
    /// frames says so instead of the plain uncertainty.
    #[test]
    fn the_side_note_follows_the_flags() {
        let mut q = crate::report::Quality::default();
        assert_eq!(side_note(&q), "");
        q.flag(QualityFlag::LumenSideUncertain);
        assert_eq!(side_note(&q), SIDE_UNCERTAIN_NOTE);
        q.flag(QualityFlag::LumenSideFromNeighbours);
        assert_eq!(side_note(&q), SIDE_FROM_NEIGHBOURS_NOTE);
        let l = lumen([1.0, 0.0], 0.4, false);
        let g = guidance(&wire_result(&cand(45.0, 1.0), Some(&l)), Some(&l), side_note(&q), &mut String::new());
        assert!(g.hint.starts_with("rotate wire tip ~45° clockwise (display)"), "{}", g.hint);
        assert!(g.hint.ends_with(SIDE_FROM_NEIGHBOURS_NOTE), "{}", g.hint);
    }

    /// A wire centre within half a beam width of the border: the hint says so on either side
    /// of it, and not farther out.
    #[test]
    fn a_wire_at_the_border_is_reported_as_such() {
        let mut s = String::new();
        // Lumen beside the catheter at 0°, centre 1 mm away, radius 0.4 mm: border at 1.4 mm.
        let l = lumen([1.0, 0.0], 0.4, false);
        for (r, inside, at) in [(1.35, true, true), (1.45, false, true), (1.25, true, false), (1.55, false, false)] {
            let w = wire_result(&cand(0.0, r), Some(&l));
            assert_eq!(w.in_true_lumen, Some(inside), "{r}");
            assert_eq!(wire_at_border(&w), at, "{r}");
            let g = guidance(&w, Some(&l), "", &mut s);
            assert_eq!(g.hint.ends_with(AT_BORDER_NOTE), at, "{r}: {}", g.hint);
        }
        let g = guidance(&wire_result(&cand(0.0, 1.35), Some(&l)), Some(&l), SIDE_UNCERTAIN_NOTE, &mut s);
        assert!(g.hint.starts_with("wire inside true lumen; wire at the true-lumen border"), "{}", g.hint);
        assert!(g.hint.ends_with(SIDE_UNCERTAIN_NOTE), "{}", g.hint);
        // The frame flag follows the chosen second wire, also when it is chosen again.
        let mut r = FrameResult {
            index: 0,
            source: String::new(),
            mm_per_px: 0.01,
            center_px: [0.0, 0.0],
            catheter_radius_mm: 0.45,
            lumen: Some(l),
            vessel: None,
            plaque_burden: None,
            guidewire: None,
            quality: Default::default(),
            catheter_position: Default::default(),
            ivus_wire: None,
            calcium: Default::default(),
            guidance: None,
            wire_candidates: vec![cand(0.0, 1.35), cand(0.0, 1.6)],
        };
        assign_wires(&mut r, None, Some(0), &mut s);
        assert!(r.quality.has(QualityFlag::WireAtLumenBorder));
        assign_wires(&mut r, None, Some(1), &mut s);
        assert!(!r.quality.has(QualityFlag::WireAtLumenBorder));
        assert!(!r.guidance.unwrap().hint.contains(AT_BORDER_NOTE));
    }
}
