//! Chronic-total-occlusion (CTO) phantom scenes: where the IVUS catheter lies relative to the
//! true lumen.
//!
//! During IVUS-guided parallel wiring the catheter rides on the first guidewire, which may be
//! inside a patent lumen, inside the occluded true lumen ("intraplaque") or in the subintimal
//! space between intima and media (Hayakawa et al., CVIR Endovascular 2023, Fig. 2). In a CTO
//! the *true lumen* is the region inside the intima; it is filled with occlusive plaque whose
//! echogenicity differs somewhat from the tissue of the dissection plane around a subintimal
//! catheter. [`PhantomSpec::random_cto`] draws one of four [`CtoScenario`]s:
//!
//! | scenario | lumen content | catheter | share |
//! |---|---|---|---|
//! | [`CtoScenario::Intraluminal`] | blood (−30…−15 dB) | inside the lumen | 20 % |
//! | [`CtoScenario::Intraplaque`] | occlusive plaque (−12…−6 dB) | inside the lumen | 35 % |
//! | [`CtoScenario::SubintimalOccluded`] | occlusive plaque (−12…−6 dB) | in the wall, beside the lumen | 34 % |
//! | [`CtoScenario::SubintimalPatent`] | blood | in the wall, beside the lumen | 11 % |
//!
//! (dB relative to mean plaque backscatter.) In subintimal scenes the vessel centre is offset so
//! that the catheter disc lies in the wall 0.02–0.12 mm inside the media's inner border (the
//! media is close to the catheter on that side, and the EEM still encloses the catheter); the
//! vessel is stretched along the catheter axis by up to 15 % (a catheter in the wall distends
//! it); the true lumen lies on the far side, 0.04–0.25 mm (plus the intimal layer) from the
//! catheter, flattened across the axis by up to 25 %, and covers 20–80 % of the vessel area.
//! The lumen is often lined by a thin intimal layer 2–8 dB brighter than plaque
//! ([`super::CtoSpec`]; 60 % of scenes, 0.03–0.08 mm). Everything else (acquisition, signal
//! chain, catheter size, ring-down, gain ±10 dB, dynamic range 40–70 dB, 256/512 lines, image
//! sizes) comes from [`PhantomSpec::random`] of the same seed; a second wire is added in 60 %
//! and a calcium arc in 25 % of scenes with the same placement rules as there.
//!
//! The randomness of these scenes is drawn from their own stream, so [`PhantomSpec::random`]
//! is unchanged, and the scene renderer only changes when `spec.cto` is set.
//!
//! Simplifications: the catheter is a rigid disc that the tissue model simply overwrites (no
//! compression of the lumen into a crescent); no dissection flap or hematoma with its own
//! echogenicity; the occlusive plaque is always darker than the surrounding tissue.

use super::rng::Rng;
use super::shape::{FastStar, Harmonic, StarShape};
use super::spec::{CtoSpec, PhantomSpec, random_anatomy, random_calcium, random_harmonics, random_wire};
use serde::{Deserialize, Serialize};
use std::f64::consts::{PI, TAU};

/// RNG stream of CTO scenes (distinct from every stream [`PhantomSpec::random`] uses).
const STREAM_CTO: u64 = 0xC70;

/// The four CTO scenes [`PhantomSpec::random_cto`] draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtoScenario {
    /// Patent (blood-filled) lumen around the catheter.
    Intraluminal,
    /// Occluded (plaque-filled) true lumen around the catheter.
    Intraplaque,
    /// Catheter in the subintimal space, occluded true lumen beside it.
    SubintimalOccluded,
    /// Catheter in the subintimal space, patent true lumen beside it.
    SubintimalPatent,
}

impl CtoScenario {
    /// Whether the catheter lies in the wall (the lumen does not enclose it).
    pub fn is_subintimal(self) -> bool {
        matches!(self, Self::SubintimalOccluded | Self::SubintimalPatent)
    }

    /// Whether the lumen is filled with plaque rather than blood.
    pub fn is_occluded(self) -> bool {
        matches!(self, Self::Intraplaque | Self::SubintimalOccluded)
    }

    /// The scenario of [`PhantomSpec::random_cto`]`(seed)`.
    pub fn of_seed(seed: u64) -> Self {
        let u = Rng::derive(seed, STREAM_CTO, 1).uniform();
        if u < 0.20 {
            Self::Intraluminal
        } else if u < 0.55 {
            Self::Intraplaque
        } else if u < 0.89 {
            Self::SubintimalOccluded
        } else {
            Self::SubintimalPatent
        }
    }
}

impl PhantomSpec {
    /// A random CTO scene ([module docs](super::cto)); the scenario is
    /// [`CtoScenario::of_seed`]`(seed)`.
    pub fn random_cto(seed: u64) -> PhantomSpec {
        Self::random_cto_scenario(seed, CtoScenario::of_seed(seed))
    }

    /// A random CTO scene of the given scenario. If no subintimal geometry fits (never seen in
    /// practice: 400 attempts), the catheter is placed in the lumen instead; the truth
    /// ([`super::Truth::catheter_position`]) always says where it really is.
    pub fn random_cto_scenario(seed: u64, scenario: CtoScenario) -> PhantomSpec {
        let mut s = PhantomSpec::random(seed);
        let mut rng = Rng::derive(seed, STREAM_CTO, 0);
        // Keep the vessel inside the image: a subintimal vessel extends further from the catheter.
        s.catheter_offset_px = s.catheter_offset_px.map(|v| 0.5 * v);
        let rc = s.catheter_radius_mm;
        let intima_thickness_mm = if rng.chance(0.6) { rng.range(0.03, 0.08) } else { 0.0 };
        s.cto = Some(CtoSpec { intima_thickness_mm, intima_echo_db: rng.range(2.0, 8.0) });
        let anatomy =
            if scenario.is_subintimal() { subintimal_anatomy(&mut rng, rc, intima_thickness_mm) } else { None };
        let (vessel, media, lumen, cath) = anatomy.unwrap_or_else(|| random_anatomy(&mut rng, rc));
        let shift = [-cath[0], -cath[1]];
        s.vessel = vessel.translated(shift);
        s.lumen = lumen.translated(shift);
        s.media_thickness_mm = media;
        s.occluded = scenario.is_occluded();
        s.lumen_echo_db = if s.occluded { rng.range(-12.0, -6.0) } else { rng.range(-30.0, -15.0) };
        s.guidewire = if rng.chance(0.6) { random_wire(&mut rng, &s) } else { None };
        s.calcium = if rng.chance(0.25) { random_calcium(&mut rng, &s).into_iter().collect() } else { Vec::new() };
        s
    }
}

/// Vessel, media thickness, lumen and catheter centre of a subintimal scene (vessel-centred
/// frame), or `None` if no attempt fits.
fn subintimal_anatomy(rng: &mut Rng, rc: f64, intima: f64) -> Option<(StarShape, f64, StarShape, [f64; 2])> {
    for _attempt in 0..400 {
        let r0 = rng.range(1.5, 4.0) / 2.0;
        let theta = rng.range(0.0, TAU);
        let theta_deg = theta.to_degrees();
        let mut vh = random_harmonics(rng, [0.06, 0.04, 0.03]);
        vh[0] = Harmonic { order: 2, amplitude: rng.range(0.0, 0.15), phase_deg: -2.0 * theta_deg };
        let vessel = StarShape { center_mm: [0.0, 0.0], mean_radius_mm: r0, harmonics: vh };
        let eem = FastStar::new(&vessel);
        let media = rng.range(0.10, 0.30).min((0.15 * r0).max(0.10));
        let gap_media = rng.range(0.02, 0.12);
        let d = vessel.radius_at_deg(theta_deg) - media - gap_media - rc;
        let clearance = intima + rng.range(0.04, 0.25);
        let frac = rng.range(0.2, 0.8);
        let mut lh = random_harmonics(rng, [0.08, 0.05, 0.04]);
        lh[0] = Harmonic { order: 2, amplitude: rng.range(0.0, 0.25), phase_deg: -2.0 * theta_deg - 180.0 };
        if d < 0.05 {
            continue;
        }
        let (sn, cs) = theta.sin_cos();
        let cath = [d * cs, d * sn];
        let disc_inside = (0..72).all(|i| {
            let a = i as f64 * TAU / 72.0;
            eem.radial_excess([cath[0] + rc * a.cos(), cath[1] + rc * a.sin()]) <= -media - 0.01
        });
        if !disc_inside {
            continue;
        }
        let area_v = vessel.contour(360).area_mm2();
        let mut rl = (frac * area_v / PI).sqrt();
        for _shrink in 0..40 {
            let mut lumen = StarShape { center_mm: [0.0, 0.0], mean_radius_mm: rl, harmonics: lh.clone() };
            // Near edge (towards the catheter) `clearance` away from the catheter disc.
            let c = d - rc - clearance - lumen.radius_at_deg(theta_deg);
            lumen.center_mm = [c * cs, c * sn];
            let pts = lumen.contour(360).points_mm;
            let fits = pts.iter().all(|&p| {
                eem.radial_excess(p) <= -media - 0.02
                    && (p[0] - cath[0]).hypot(p[1] - cath[1]) >= rc + clearance - 0.005
            });
            if fits {
                let f = lumen.contour(360).area_mm2() / area_v;
                if f >= 0.2 {
                    return Some((vessel, media, lumen, cath));
                }
                break;
            }
            rl *= 0.96;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::CatheterPosition;
    use crate::sim::simulate;

    #[test]
    fn scenes_match_their_scenario_and_are_valid() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..200u64 {
            let sc = CtoScenario::of_seed(seed);
            seen.insert(sc);
            let s = PhantomSpec::random_cto(seed);
            s.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let lumen = s.lumen.contour(720);
            let vessel = s.vessel.contour(720);
            // The EEM always encloses the catheter disc.
            assert!(
                vessel.signed_distance_mm([0.0, 0.0]) < -s.catheter_radius_mm - s.media_thickness_mm,
                "seed {seed}"
            );
            if sc.is_subintimal() {
                let f = lumen.area_mm2() / vessel.area_mm2();
                assert!((0.2..=0.8).contains(&f), "seed {seed}: lumen fraction {f}");
                assert!(lumen.signed_distance_mm([0.0, 0.0]) > s.catheter_radius_mm, "seed {seed}");
                // Media close on the other side.
                assert!(vessel.signed_distance_mm([0.0, 0.0]) > -s.catheter_radius_mm - s.media_thickness_mm - 0.2);
            } else {
                assert!(lumen.signed_distance_mm([0.0, 0.0]) < -s.catheter_radius_mm, "seed {seed}");
            }
            assert_eq!(s.occluded, sc.is_occluded());
        }
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn truth_reports_the_catheter_position() {
        for (seed, want) in [
            (CtoScenario::Intraluminal, CatheterPosition::Intraluminal),
            (CtoScenario::Intraplaque, CatheterPosition::Intraplaque),
            (CtoScenario::SubintimalOccluded, CatheterPosition::Subintimal),
        ]
        .iter()
        .enumerate()
        .map(|(i, (sc, want))| {
            let mut s = PhantomSpec::random_cto_scenario(40 + i as u64, *sc);
            (s.n_lines, s.n_samples, s.image_side_px) = (128, 128, 96);
            (s, *want)
        }) {
            let p = simulate(&seed).unwrap();
            assert_eq!(p.truth.catheter_position, Some(want));
            assert_eq!(p.truth.lumen_encloses_catheter, Some(want != CatheterPosition::Subintimal));
            assert_eq!(p.truth.catheter_position_class(), want);
        }
        // Older phantoms keep their truth layout.
        let p = PhantomSpec { n_lines: 64, n_samples: 64, image_side_px: 64, ..PhantomSpec::default() };
        let t = simulate(&p).unwrap().truth;
        assert_eq!((t.catheter_position, t.lumen_encloses_catheter), (None, None));
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("catheter_position") && !json.contains("\"cto\""));
    }
}
