//! Calcified arcs from the shadow-detection output ([`crate::guidewire::detect_shadows`]).
//!
//! Calcium in IVUS is a leading echo brighter than the adventitia followed by an acoustic
//! shadow, and it is graded by the *arc* it subtends at the catheter centre (Mintz et al., ACC
//! expert consensus on IVUS, JACC 37(5):1478–1492, 2001, section "calcium"; arc quantification
//! as in G. S. Mintz et al., "Patterns of calcification in coronary artery disease",
//! Circulation 91(7):1959–1965, 1995). Here a calcium arc is a run of shadowed A-lines that
//! the wire test rejected ([`ShadowKind::Other`]: wider than a 0.014" wire at its echo depth,
//! and not a wire whose echo hides next to the sheath) and whose leading echo stands out by at
//! least [`CalciumParams::min_echo_prominence`] of the frame's intensity spread over the usual
//! signal at that depth (a shadow behind a dim echo — attenuation, a dark frame edge — is not
//! calcium). The arc is the run's angular extent (its core, where the shadow is full depth).
//!
//! Differences from the consensus: no absolute brightness test against the adventitia (the
//! echo is compared with the angular-median signal at the same depth, which makes the test
//! gain-invariant), no temporal consistency, and deep calcium whose shadow falls beyond the
//! analysed depth is missed. A calcium arc narrower than a wire shadow at its depth is
//! classified as a wire by the shadow detector.
//!
//! Zero allocation in steady state: the arcs vector is allocated once per frame at its exact
//! size (it is part of the result).

use crate::geometry::{PolarGeometry, wrap_deg};
use crate::guidewire::{ShadowKind, ShadowWorkspace};
use crate::report::{CalciumArc, CalciumResult};

/// Settings of [`calcium_arcs`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalciumParams {
    /// Minimum mean prominence of the leading echo over the run (fraction of the intensity
    /// spread above the angular-median level at the same depth).
    pub min_echo_prominence: f64,
    /// Narrowest arc reported, degrees.
    pub min_arc_deg: f64,
}

impl Default for CalciumParams {
    fn default() -> Self {
        Self { min_echo_prominence: 0.25, min_arc_deg: 15.0 }
    }
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Calcium arcs among the shadow runs of the last [`crate::guidewire::detect_shadows`] call on
/// a frame of geometry `geom`, sorted by start angle.
pub fn calcium_arcs(ws: &ShadowWorkspace, geom: &PolarGeometry, p: &CalciumParams) -> CalciumResult {
    let dpl = geom.deg_per_line();
    let is_calcium = |r: &&crate::guidewire::ShadowRun| {
        r.kind == ShadowKind::Other
            && r.echo_prominence >= p.min_echo_prominence
            && r.n_lines as f64 * dpl >= p.min_arc_deg
    };
    let n = ws.runs.iter().filter(is_calcium).count();
    if n == 0 {
        return CalciumResult::default();
    }
    let mut arcs = Vec::with_capacity(n);
    for r in ws.runs.iter().filter(is_calcium) {
        let arc = r.n_lines as f64 * dpl;
        let mid = geom.angle_deg_of_line(r.first_line as f64 + (r.n_lines as f64 - 1.0) / 2.0);
        arcs.push(CalciumArc {
            start_deg: round4(wrap_deg(mid - arc / 2.0)),
            end_deg: round4(wrap_deg(mid + arc / 2.0)),
            arc_deg: round4(arc),
            depth_mm: round4(r.echo_depth_mm),
        });
    }
    arcs.sort_unstable_by(|a, b| a.start_deg.total_cmp(&b.start_deg));
    let max = arcs.iter().map(|a| a.arc_deg).fold(0.0, f64::max);
    let total = round4(arcs.iter().map(|a| a.arc_deg).sum());
    CalciumResult { arcs, max_arc_deg: max, total_arc_deg: total }
}
