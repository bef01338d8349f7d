//! Scenarios for the two-wire and calcium tests (issue #3, items 2–4): the IVUS catheter's own
//! wire at a nearly fixed display angle next to the sheath, a second guidewire inside or
//! outside the true lumen (or none), and calcium arcs with shadows, on top of the anatomy and
//! acquisition of [`PhantomSpec::random`].
//!
//! Randomness comes only from a new stream of the seed (`STREAM_WIRES`), so
//! [`PhantomSpec::random`] itself is untouched (the committed fixtures stay byte-identical).

use super::rng::Rng;
use super::spec::{IvusWireSpec, PhantomSpec, WIRE_DIAMETER_MM, random_calcium, random_wire};

/// RNG stream of these scenarios (distinct from every stream of [`PhantomSpec::random`]).
const STREAM_WIRES: u64 = 0x3B;

/// Fractions used by [`wire_scenario`].
pub const OWN_WIRE_FRACTION: f64 = 0.9;
/// Fraction of frames with a second guidewire.
pub const SECOND_WIRE_FRACTION: f64 = 0.7;
/// Fraction of frames with a calcium arc.
pub const CALCIUM_FRACTION: f64 = 0.45;

/// One frame of a pullback whose catheter's own wire sits at display angle `own_wire_deg`
/// (±3° jitter, as the catheter flexes): the anatomy and acquisition of
/// [`PhantomSpec::random`]`(seed)`, the own wire in [`OWN_WIRE_FRACTION`] of frames (0–60 µm
/// from the sheath), a second wire in [`SECOND_WIRE_FRACTION`] (half in the true lumen, half
/// in the plaque, at least 0.15 mm clear of the own wire) and one calcium arc (30–120° about
/// the lumen centre) in [`CALCIUM_FRACTION`].
pub fn wire_scenario(seed: u64, own_wire_deg: f64) -> PhantomSpec {
    with_wires(PhantomSpec::random(seed), own_wire_deg)
}

/// [`wire_scenario`] on the CTO scene [`PhantomSpec::random_cto`]`(seed)` (catheter
/// intraluminal, intraplaque or subintimal).
pub fn wire_scenario_cto(seed: u64, own_wire_deg: f64) -> PhantomSpec {
    with_wires(PhantomSpec::random_cto(seed), own_wire_deg)
}

/// `s` with its wires and calcium replaced as [`wire_scenario`] describes (randomness from
/// `s.seed`).
pub fn with_wires(mut s: PhantomSpec, own_wire_deg: f64) -> PhantomSpec {
    let seed = s.seed;
    let mut rng = Rng::derive(seed, STREAM_WIRES, 0);
    let r = WIRE_DIAMETER_MM / 2.0;
    s.ivus_wire = rng.chance(OWN_WIRE_FRACTION).then(|| IvusWireSpec {
        angle_deg: own_wire_deg + rng.range(-3.0, 3.0),
        gap_mm: rng.range(0.0, 0.06),
        radius_mm: r,
        echo_db: rng.range(32.0, 38.0),
        shadow_factor: rng.range(0.01, 0.05),
        reverberations: 1 + rng.below(2) as u32,
    });
    s.guidewire = None;
    if rng.chance(SECOND_WIRE_FRACTION) {
        for _ in 0..20 {
            let Some(w) = random_wire(&mut rng, &s) else { break };
            let clear = s.ivus_wire.as_ref().is_none_or(|o| {
                let c = o.center_mm(s.catheter_radius_mm);
                (w.center_mm[0] - c[0]).hypot(w.center_mm[1] - c[1]) >= o.radius_mm + w.radius_mm + 0.15
            });
            if clear {
                s.guidewire = Some(w);
                break;
            }
        }
    }
    s.calcium =
        if rng.chance(CALCIUM_FRACTION) { random_calcium(&mut rng, &s).into_iter().collect() } else { Vec::new() };
    s
}

/// A pullback of `n` frames (seeds `seed`, `seed + 1`, …) sharing one own-wire angle drawn
/// from `seed`; see [`wire_scenario`].
pub fn wire_sequence(seed: u64, n: usize) -> Vec<PhantomSpec> {
    let own = Rng::derive(seed, STREAM_WIRES, 1).range(0.0, 360.0);
    (0..n as u64).map(|i| wire_scenario(seed + i, own)).collect()
}

/// [`wire_sequence`] on CTO scenes ([`wire_scenario_cto`]).
pub fn wire_sequence_cto(seed: u64, n: usize) -> Vec<PhantomSpec> {
    let own = Rng::derive(seed, STREAM_WIRES, 1).range(0.0, 360.0);
    (0..n as u64).map(|i| wire_scenario_cto(seed + i, own)).collect()
}
