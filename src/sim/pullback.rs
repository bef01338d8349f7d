//! Phantom pullbacks: a sequence of [`PhantomSpec`] frames along a vessel with known geometry.
//!
//! A [`PullbackSpec`] describes a below-the-knee vessel along the pullback axis `z` (mm, 0 = first
//! frame, increasing frame by frame). As in a motorised pullback, the first frame is the most
//! **distal** one and the catheter is pulled back toward proximal, so `z` grows toward the
//! proximal end. The vessel (EEM) diameter goes linearly from `distal_vessel_diameter_mm` (first
//! frame) to `proximal_vessel_diameter_mm` (last frame); the patent lumen has plaque burden
//! `reference_plaque_burden`; optionally a chronic total occlusion spans `lesion_start_mm` (its
//! distal end, the exit) to `lesion_start_mm + lesion_length_mm` (its proximal end, the entry):
//! inside it the lumen narrows over `stump_taper_mm` to a thrombus-filled (`occluded`) channel just
//! wide enough for the IVUS catheter, which crossed it. Calcium arcs sit at the proximal entry over
//! `entry_calcium_length_mm`, and a second guidewire lies in the plaque over the rest of the lesion.
//!
//! *Subintimal stretch* (the situation of IVUS-guided parallel wiring): over
//! `subintimal_start_mm` to `subintimal_start_mm + subintimal_length_mm`, inside the occluded
//! part of the lesion, the catheter runs in the subintimal space instead of the occluded channel:
//! the vessel is shifted so that the catheter lies [`SUBINTIMAL_MEDIA_GAP_MM`] inside the media's
//! inner border, and the plaque-filled true lumen (lined by a thin intima, [`super::CtoSpec`])
//! fills the room on the far side, [`SUBINTIMAL_CLEARANCE_MM`] from the catheter (the geometry of
//! [`PhantomSpec::random_cto`]'s subintimal scenes, made deterministic and continuous along the
//! stretch; frames with calcium keep the catheter in the channel). The second wire, which the
//! operator advances distally toward the true lumen, lies in the wall 0.25 mm beside the
//! catheter, 60° off the lumen's direction at the stretch's proximal end and 35° off at 30 % of
//! it from its distal end, and inside the true lumen over the distal 30 %. The switch in and out
//! of the stretch is abrupt (one frame to the next), a simplification of the re-entry.
//! Frame `i` is at `z = i · pullback_mm_per_s / fps` and time `t = i / fps`.
//!
//! *Cardiac motion* (for testing image-based gating): the whole anatomy moves against the catheter
//! once per heart beat (`heart_rate_bpm`) by up to `cardiac_motion_mm`, with a brief systolic
//! excursion (Gaussian pulse of 0.08 cycle width at 0.2 of the cycle) and rest in between, the way
//! a vessel is still in diastole. With `fresh_speckle = false` all frames share one speckle
//! pattern (the scatterers are a function of the seed), as consecutive frames of a 30 frames/s
//! pullback at 0.5 mm/s nearly do; with `true` frame `i` uses seed `seed + i` (decorrelated frames,
//! as when frames are millimetres apart).
//!
//! The exact per-frame truth is the [`Truth`](super::Truth) of each frame; [`PullbackTruth`] adds
//! positions and the design values.

use super::spec::{CATHETER_CLEARANCE_MM, CalciumSpec, PhantomSpec, WIRE_DIAMETER_MM, WireSpec};
use super::{Harmonic, StarShape};
use crate::error::{Error, check_positive, check_range};
use crate::report::CatheterPosition;
use serde::{Deserialize, Serialize};

/// Geometry and timing of a phantom pullback (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullbackSpec {
    /// Base seed (speckle, texture).
    pub seed: u64,
    /// Number of frames.
    pub n_frames: usize,
    /// Frame rate, frames/s.
    pub fps: f64,
    /// Pullback speed, mm/s.
    pub pullback_mm_per_s: f64,
    /// Acquisition and signal-chain template; its scene fields (vessel, lumen, wire, calcium,
    /// occluded, seed) are replaced frame by frame.
    pub frame: PhantomSpec,
    /// EEM diameter at the first (most distal) frame, mm.
    pub distal_vessel_diameter_mm: f64,
    /// EEM diameter at the last (most proximal) frame, mm.
    pub proximal_vessel_diameter_mm: f64,
    /// Plaque burden of the patent (reference) segments, 0–1.
    pub reference_plaque_burden: f64,
    /// Distal end (exit) of the occlusion, mm from the first frame (ignored when `lesion_length_mm` is 0).
    pub lesion_start_mm: f64,
    /// Length of the occlusion, mm (0 = no lesion).
    pub lesion_length_mm: f64,
    /// Length over which the lumen narrows (and widens again) inside the lesion ends, mm.
    pub stump_taper_mm: f64,
    /// Calcium arc at the proximal lesion entry, degrees (0 = none).
    pub entry_calcium_arc_deg: f64,
    /// Length of the calcified part of the entry, mm.
    pub entry_calcium_length_mm: f64,
    /// A second guidewire in the plaque over the lesion (distal of the calcified entry).
    pub second_wire: bool,
    /// Heart rate, beats per minute.
    pub heart_rate_bpm: f64,
    /// Peak lateral excursion of the anatomy per heart beat, mm (0 = no cardiac motion).
    pub cardiac_motion_mm: f64,
    /// Fresh speckle per frame (seed + i) instead of one shared pattern.
    pub fresh_speckle: bool,
    /// Distal end of the stretch in which the catheter runs in the subintimal space, mm from
    /// the first frame (module docs; only inside the occluded part of the lesion).
    #[serde(default)]
    pub subintimal_start_mm: f64,
    /// Length of that stretch, mm (0 = none).
    #[serde(default)]
    pub subintimal_length_mm: f64,
}

/// Distance of a subintimal catheter from the media's inner border, mm.
pub const SUBINTIMAL_MEDIA_GAP_MM: f64 = 0.05;
/// Tissue between a subintimal catheter and the true lumen's intima, mm.
pub const SUBINTIMAL_CLEARANCE_MM: f64 = 0.08;
/// Intima lining the true lumen in the subintimal stretch: thickness (mm) and echo over plaque (dB).
const SUBINTIMAL_INTIMA: (f64, f64) = (0.04, 4.0);

impl Default for PullbackSpec {
    /// The committed demo: 64 frames of 256x256 px, one frame per 0.5 mm (fps 2, 1 mm/s), first
    /// frame distal: distal reference (EEM 2.3 mm) → 14 mm CTO with a second wire and calcium at
    /// its proximal entry, the catheter subintimal over 11.5–17.5 mm (frames 23–34) → patent
    /// proximal reference (EEM 2.8 mm).
    fn default() -> Self {
        let frame = PhantomSpec {
            n_lines: 256,
            n_samples: 256,
            depth_mm: 4.0,
            image_side_px: 256,
            fov_mm: 8.0,
            ..PhantomSpec::default()
        };
        Self {
            seed: 7001,
            n_frames: 64,
            fps: 2.0,
            pullback_mm_per_s: 1.0,
            frame,
            distal_vessel_diameter_mm: 2.3,
            proximal_vessel_diameter_mm: 2.8,
            reference_plaque_burden: 0.35,
            lesion_start_mm: 9.0,
            lesion_length_mm: 14.0,
            stump_taper_mm: 1.5,
            entry_calcium_arc_deg: 110.0,
            entry_calcium_length_mm: 2.5,
            second_wire: true,
            heart_rate_bpm: 60.0,
            cardiac_motion_mm: 0.0,
            fresh_speckle: true,
            subintimal_start_mm: 11.5,
            subintimal_length_mm: 6.0,
        }
    }
}

/// Truth of a phantom pullback beyond the per-frame [`Truth`](super::Truth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullbackTruth {
    /// The spec.
    pub spec: PullbackSpec,
    /// Frame positions along the pullback, mm.
    pub positions_mm: Vec<f64>,
    /// Frame times, s.
    pub times_s: Vec<f64>,
}

/// Lumen radius of an occluded frame: the catheter plus clearance plus a small margin.
fn min_lumen_radius_mm(s: &PhantomSpec) -> f64 {
    s.catheter_radius_mm + CATHETER_CLEARANCE_MM + 0.03
}

/// Cardiac displacement factor in `[0, 1]` at time `t_s`.
pub fn cardiac_pulse(t_s: f64, heart_rate_bpm: f64) -> f64 {
    let phase = (t_s * heart_rate_bpm / 60.0).fract();
    (-((phase - 0.2) / 0.08).powi(2)).exp()
}

impl PullbackSpec {
    /// Distance between frames, mm.
    pub fn frame_spacing_mm(&self) -> f64 {
        self.pullback_mm_per_s / self.fps
    }

    /// Position of frame `i`, mm.
    pub fn position_mm(&self, i: usize) -> f64 {
        i as f64 * self.frame_spacing_mm()
    }

    /// Whether position `z` lies in the designed occlusion.
    pub fn in_lesion(&self, z_mm: f64) -> bool {
        self.lesion_length_mm > 0.0
            && z_mm >= self.lesion_start_mm
            && z_mm < self.lesion_start_mm + self.lesion_length_mm
    }

    /// Whether position `z` lies in the subintimal stretch (module docs): in it and in the
    /// occluded part of the lesion (at least `stump_taper_mm` from both lesion ends).
    pub fn in_subintimal(&self, z_mm: f64) -> bool {
        self.subintimal_length_mm > 0.0
            && z_mm >= self.subintimal_start_mm
            && z_mm < self.subintimal_start_mm + self.subintimal_length_mm
            && self.in_lesion(z_mm)
            && (z_mm - self.lesion_start_mm).min(self.lesion_start_mm + self.lesion_length_mm - z_mm)
                >= self.stump_taper_mm
    }

    /// Checks the fields.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=100_000).contains(&self.n_frames) {
            return Err(Error::param("n_frames", "must be within [1, 100000]"));
        }
        check_positive("fps", self.fps)?;
        check_positive("pullback_mm_per_s", self.pullback_mm_per_s)?;
        check_range("proximal_vessel_diameter_mm", self.proximal_vessel_diameter_mm, 1.4, 6.0)?;
        check_range("distal_vessel_diameter_mm", self.distal_vessel_diameter_mm, 1.4, 6.0)?;
        check_range("reference_plaque_burden", self.reference_plaque_burden, 0.0, 0.6)?;
        check_range("lesion_start_mm", self.lesion_start_mm, 0.0, 1e6)?;
        check_range("lesion_length_mm", self.lesion_length_mm, 0.0, 1e6)?;
        check_range("stump_taper_mm", self.stump_taper_mm, 0.0, 100.0)?;
        check_range("entry_calcium_arc_deg", self.entry_calcium_arc_deg, 0.0, 300.0)?;
        check_range("entry_calcium_length_mm", self.entry_calcium_length_mm, 0.0, 1e6)?;
        check_range("heart_rate_bpm", self.heart_rate_bpm, 20.0, 240.0)?;
        check_range("cardiac_motion_mm", self.cardiac_motion_mm, 0.0, 1.0)?;
        check_range("subintimal_start_mm", self.subintimal_start_mm, 0.0, 1e6)?;
        check_range("subintimal_length_mm", self.subintimal_length_mm, 0.0, 1e6)?;
        Ok(())
    }

    /// The phantom spec of frame `i`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if the spec or the resulting frame is invalid.
    pub fn frame_spec(&self, i: usize) -> Result<PhantomSpec, Error> {
        self.validate()?;
        let z = self.position_mm(i);
        let t = i as f64 / self.fps;
        let length = self.position_mm(self.n_frames.saturating_sub(1)).max(1e-9);
        let u = (z / length).clamp(0.0, 1.0);
        let r_vessel = 0.5
            * (self.distal_vessel_diameter_mm
                + u * (self.proximal_vessel_diameter_mm - self.distal_vessel_diameter_mm));
        let mut s = PhantomSpec {
            seed: if self.fresh_speckle { self.seed + i as u64 } else { self.seed },
            ..self.frame.clone()
        };
        let r_ref = r_vessel * (1.0 - self.reference_plaque_burden).sqrt();
        let r_min = min_lumen_radius_mm(&s);
        // Lumen radius: reference outside the lesion, tapering to r_min inside its ends.
        let mut r_lumen = r_ref;
        if self.in_lesion(z) {
            let from_ends = (z - self.lesion_start_mm).min(self.lesion_start_mm + self.lesion_length_mm - z);
            let f = if self.stump_taper_mm > 0.0 { (from_ends / self.stump_taper_mm).clamp(0.0, 1.0) } else { 1.0 };
            r_lumen = r_ref + f * (r_min - r_ref);
            s.occluded = f >= 1.0;
            if s.occluded {
                s.lumen_echo_db = -9.0;
            }
        } else {
            s.occluded = false;
        }
        r_lumen = r_lumen.max(r_min);
        // Slow wander of the vessel axis around the catheter, scaled so the catheter stays in
        // the lumen with clearance.
        let room = (r_lumen - s.catheter_radius_mm - CATHETER_CLEARANCE_MM - 0.02).max(0.0);
        let wander = [0.5 * room * (0.21 * z).sin(), 0.5 * room * (0.13 * z + 1.0).cos()];
        let motion = self.cardiac_motion_mm * cardiac_pulse(t, self.heart_rate_bpm);
        let motion = motion.min(0.45 * room);
        let center = [wander[0] + motion * 0.8, wander[1] + motion * 0.6];
        s.vessel = StarShape {
            center_mm: center,
            mean_radius_mm: r_vessel,
            harmonics: vec![
                Harmonic { order: 2, amplitude: 0.03, phase_deg: 20.0 + 2.0 * z },
                Harmonic { order: 3, amplitude: 0.01, phase_deg: 100.0 },
            ],
        };
        s.lumen = StarShape {
            center_mm: center,
            mean_radius_mm: r_lumen,
            harmonics: vec![Harmonic { order: 2, amplitude: 0.02, phase_deg: -40.0 + 2.0 * z }],
        };
        s.calcium = Vec::new();
        s.guidewire = None;
        if self.in_lesion(z) {
            let into = self.lesion_start_mm + self.lesion_length_mm - z; // distance from the entry
            if self.entry_calcium_arc_deg > 0.0 && into <= self.entry_calcium_length_mm {
                s.calcium.push(CalciumSpec {
                    start_deg: 40.0,
                    arc_deg: self.entry_calcium_arc_deg,
                    gap_mm: 0.05,
                    thickness_mm: (r_vessel - s.media_thickness_mm - r_lumen - 0.15).clamp(0.05, 0.3),
                    echo_db: 21.0,
                    shadow_factor: 0.06,
                });
            } else if self.second_wire {
                let rho = 0.5 * (r_lumen + r_vessel - s.media_thickness_mm);
                let a = (225.0f64 + 4.0 * into).to_radians();
                s.guidewire = Some(WireSpec {
                    center_mm: [center[0] + rho * a.cos(), center[1] + rho * a.sin()],
                    radius_mm: WIRE_DIAMETER_MM / 2.0,
                    echo_db: 35.0,
                    shadow_factor: 0.03,
                    reverberations: 1,
                });
            }
        }
        if self.in_subintimal(z) && s.calcium.is_empty() {
            self.make_subintimal(&mut s, z, r_vessel);
        }
        s.validate()?;
        Ok(s)
    }

    /// Moves the catheter of frame spec `s` (at `z`, EEM radius `r_vessel`) into the subintimal
    /// space and places the true lumen and the second wire (module docs, *Subintimal stretch*).
    fn make_subintimal(&self, s: &mut PhantomSpec, z: f64, r_vessel: f64) {
        let rc = s.catheter_radius_mm;
        let media = s.media_thickness_mm;
        let (intima, intima_db) = SUBINTIMAL_INTIMA;
        let frac = ((z - self.subintimal_start_mm) / self.subintimal_length_mm).clamp(0.0, 1.0);
        // Direction from the vessel centre to the catheter, turning slowly along the stretch.
        let theta = (35.0 + 4.0 * (z - self.subintimal_start_mm)).to_radians();
        let u = [theta.cos(), theta.sin()];
        let inner = r_vessel - media;
        let d = inner - SUBINTIMAL_MEDIA_GAP_MM - rc;
        // The lumen fills the room between the catheter (plus clearance and intima) and the
        // media on the far side, 0.03 mm inside it.
        let near = d - rc - SUBINTIMAL_CLEARANCE_MM - intima;
        let r_lumen = 0.5 * (near + inner - 0.03);
        let c = near - r_lumen; // lumen centre along `u`, vessel-centred
        // Catheter-centred: the vessel centre is at −d·u.
        let at = |t: f64| [(t - d) * u[0], (t - d) * u[1]];
        s.vessel = StarShape { center_mm: at(0.0), mean_radius_mm: r_vessel, harmonics: Vec::new() };
        s.lumen = StarShape { center_mm: at(c), mean_radius_mm: r_lumen, harmonics: Vec::new() };
        s.cto = Some(super::CtoSpec { intima_thickness_mm: intima, intima_echo_db: intima_db });
        s.occluded = true;
        s.lumen_echo_db = -9.0;
        if self.second_wire {
            let w = WIRE_DIAMETER_MM / 2.0;
            let center = if frac < 0.3 {
                // Inside the true lumen, off its centre toward the catheter.
                at(c + 0.3 * r_lumen)
            } else {
                // In the wall beside the catheter (clear of the zone of the catheter's own
                // wire), 60° → 35° off the lumen's direction.
                let phi = (35.0 + 25.0 * (frac - 0.3) / 0.7).to_radians();
                let rho = rc + 0.25 + w;
                let (sn, cs) = phi.sin_cos();
                // Lumen direction from the catheter is −u; rotate it by `phi`.
                let dir = [-(u[0] * cs - u[1] * sn), -(u[0] * sn + u[1] * cs)];
                [rho * dir[0], rho * dir[1]]
            };
            s.guidewire = Some(WireSpec {
                center_mm: center,
                radius_mm: w,
                echo_db: 35.0,
                shadow_factor: 0.03,
                reverberations: 1,
            });
        }
    }

    /// Positions and times of every frame, with the spec.
    pub fn truth(&self) -> PullbackTruth {
        PullbackTruth {
            spec: self.clone(),
            positions_mm: (0..self.n_frames).map(|i| self.position_mm(i)).collect(),
            times_s: (0..self.n_frames).map(|i| i as f64 / self.fps).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_of_the_demo_is_valid_and_the_lesion_is_occluded() {
        let p = PullbackSpec::default();
        let mut occluded = 0;
        for i in 0..p.n_frames {
            let s = p.frame_spec(i).unwrap();
            occluded += usize::from(s.occluded);
            assert!(!s.occluded || p.in_lesion(p.position_mm(i)));
        }
        assert!(occluded > 10, "{occluded}");
    }

    #[test]
    fn the_demo_subintimal_stretch_puts_the_lumen_beside_the_catheter() {
        let p = PullbackSpec::default();
        let mut n = 0;
        for i in 0..p.n_frames {
            let z = p.position_mm(i);
            let s = p.frame_spec(i).unwrap();
            let lumen = s.lumen.contour(720);
            let vessel = s.vessel.contour(720);
            let rc = s.catheter_radius_mm;
            if !p.in_subintimal(z) {
                assert!(lumen.signed_distance_mm([0.0, 0.0]) < -rc, "frame {i}");
                continue;
            }
            n += 1;
            // Catheter in the wall: lumen beside it, media just beyond it.
            let to_lumen = lumen.signed_distance_mm([0.0, 0.0]);
            assert!(to_lumen > rc + SUBINTIMAL_CLEARANCE_MM - 0.01, "frame {i}: {to_lumen}");
            let to_eem = -vessel.signed_distance_mm([0.0, 0.0]);
            assert!((to_eem - (rc + s.media_thickness_mm + SUBINTIMAL_MEDIA_GAP_MM)).abs() < 0.01, "frame {i}");
            assert!(lumen.area_mm2() / vessel.area_mm2() > 0.15, "frame {i}");
            assert!(lumen.points_mm.iter().all(|&q| vessel.signed_distance_mm(q) < -s.media_thickness_mm));
            // Second wire: in the lumen over the distal 30 %, in the wall (clear of the lumen, the
            // sheath's own-wire zone and the media) elsewhere.
            let w = s.guidewire.as_ref().unwrap();
            let frac = (z - p.subintimal_start_mm) / p.subintimal_length_mm;
            let d_lumen = lumen.signed_distance_mm(w.center_mm);
            assert_eq!(d_lumen < 0.0, frac < 0.3, "frame {i}: {d_lumen}");
            assert!(d_lumen.abs() > 0.1, "frame {i}: {d_lumen}");
            assert!(w.center_mm[0].hypot(w.center_mm[1]) - w.radius_mm - rc > 0.2, "frame {i}");
            assert!(vessel.signed_distance_mm(w.center_mm) < -s.media_thickness_mm - w.radius_mm, "frame {i}");
            assert!(s.occluded && s.cto.is_some());
        }
        assert_eq!(n, 12);
    }

    #[test]
    fn cardiac_pulse_repeats_with_the_heart_rate() {
        assert!((cardiac_pulse(0.2, 60.0) - 1.0).abs() < 1e-12);
        assert!((cardiac_pulse(1.2, 60.0) - 1.0).abs() < 1e-9);
        assert!(cardiac_pulse(0.7, 60.0) < 1e-6);
    }
}

/// Compact truth of one pullback frame (what the summary tests need; no contours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullbackFrameTruth {
    /// Frame index.
    pub index: usize,
    /// Image file name.
    pub file: String,
    /// Position, mm.
    pub position_mm: f64,
    /// Time, s.
    pub time_s: f64,
    /// Lumen area, mm².
    pub lumen_area_mm2: f64,
    /// Lumen mean diameter, mm.
    pub lumen_mean_diameter_mm: f64,
    /// Vessel (EEM) area, mm².
    pub vessel_area_mm2: f64,
    /// Vessel mean diameter, mm.
    pub vessel_mean_diameter_mm: f64,
    /// Plaque burden.
    pub plaque_burden: f64,
    /// Thrombus-filled lumen.
    pub occluded: bool,
    /// Largest calcium arc, degrees (0 = none).
    pub calcium_arc_deg: f64,
    /// Second guidewire present.
    pub guidewire: bool,
    /// Where the catheter lies relative to the true lumen
    /// ([`Truth::catheter_position_class`](super::Truth::catheter_position_class)).
    #[serde(default)]
    pub catheter_position: CatheterPosition,
    /// Whether the second wire's centre lies inside the true lumen (`None`: no second wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_in_true_lumen: Option<bool>,
}

/// The `truth.json` of a written pullback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullbackTruthFile {
    /// The spec that generated the frames.
    pub spec: PullbackSpec,
    /// Per-frame truth.
    pub frames: Vec<PullbackFrameTruth>,
}

/// File name of frame `i` in a written pullback.
pub fn frame_file_name(i: usize) -> String {
    format!("frame_{i:04}.png")
}

/// Simulates frame `i`: the image (grey 0–255) and its compact truth.
///
/// # Errors
/// [`Error::InvalidParam`] for an invalid spec.
pub fn simulate_frame(
    spec: &PullbackSpec,
    sim: &mut super::Simulator,
    i: usize,
) -> Result<(crate::plane::CartImage, PullbackFrameTruth), Error> {
    let fs = spec.frame_spec(i)?;
    let p = sim.simulate(&fs)?;
    let t = &p.truth;
    let truth = PullbackFrameTruth {
        index: i,
        file: frame_file_name(i),
        position_mm: spec.position_mm(i),
        time_s: i as f64 / spec.fps,
        lumen_area_mm2: t.lumen_area_mm2,
        lumen_mean_diameter_mm: t.lumen_mean_diameter_mm,
        vessel_area_mm2: t.vessel_area_mm2,
        vessel_mean_diameter_mm: t.vessel_mean_diameter_mm,
        plaque_burden: t.plaque_burden,
        occluded: t.occluded,
        calcium_arc_deg: t.calcium.iter().map(|c| c.arc_deg).fold(0.0, f64::max),
        guidewire: t.guidewire.is_some(),
        catheter_position: t.catheter_position_class(),
        wire_in_true_lumen: t.guidewire.as_ref().map(|w| w.in_true_lumen),
    };
    Ok((p.cart, truth))
}

/// Writes a phantom pullback into `dir`: `frame_0000.png`… (Cartesian, 8-bit grey),
/// `calibration.json` (`mm_per_px`, `fps`, `pullback_mm_per_s`) and `truth.json`
/// ([`PullbackTruthFile`]). Frames are simulated in parallel; files do not depend on the thread
/// count. Returns the truth.
///
/// # Errors
/// [`Error::InvalidParam`] for an invalid spec, [`Error::Io`] when a file cannot be written.
pub fn write_pullback(dir: &std::path::Path, spec: &PullbackSpec) -> Result<PullbackTruthFile, Error> {
    use rayon::prelude::*;
    spec.validate()?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let frames: Vec<PullbackFrameTruth> = (0..spec.n_frames)
        .into_par_iter()
        .map_init(super::Simulator::new, |sim, i| {
            let (img, truth) = simulate_frame(spec, sim, i)?;
            let path = dir.join(&truth.file);
            img.to_gray_image().save(&path).map_err(|e| Error::Format { path: path.clone(), reason: e.to_string() })?;
            Ok(truth)
        })
        .collect::<Result<_, Error>>()?;
    let io = |path: std::path::PathBuf, text: String| {
        std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
    };
    let calib = serde_json::json!({
        "mm_per_px": spec.frame.mm_per_px(),
        "fps": spec.fps,
        "pullback_mm_per_s": spec.pullback_mm_per_s,
    });
    io(dir.join(crate::io::SIDECAR_NAME), format!("{}\n", serde_json::to_string_pretty(&calib).unwrap_or_default()))?;
    let truth = PullbackTruthFile { spec: spec.clone(), frames };
    let text = serde_json::to_string_pretty(&truth)
        .map_err(|e| Error::Format { path: dir.join("truth.json"), reason: e.to_string() })?;
    io(dir.join("truth.json"), format!("{text}\n"))?;
    Ok(truth)
}
