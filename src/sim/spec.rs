//! Phantom parameters: [`PhantomSpec`] (explicit scene + acquisition + signal chain) and its
//! random generator [`PhantomSpec::random`].

use super::rng::Rng;
use super::shape::{FastStar, Harmonic, StarShape};
use crate::error::{Error, check_positive, check_range};
use crate::geometry::Rotation;
use serde::{Deserialize, Serialize};

/// Diameter of a 0.014" guidewire, mm.
pub const WIRE_DIAMETER_MM: f64 = 0.3556;
/// Minimum gap between the catheter and the lumen border kept by [`PhantomSpec::random`], mm.
pub const CATHETER_CLEARANCE_MM: f64 = 0.08;

/// A second guidewire: a metal disc in the image plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireSpec {
    /// Centre, catheter-centred mm.
    pub center_mm: [f64; 2],
    /// Radius, mm (0.014" wire: 0.178).
    pub radius_mm: f64,
    /// Echo amplitude of the near surface relative to mean plaque backscatter, dB.
    pub echo_db: f64,
    /// Amplitude factor applied to everything behind the wire (0.01–0.05).
    pub shadow_factor: f64,
    /// Number of reverberation echoes behind the wire (0–2), spaced by the wire diameter.
    pub reverberations: u32,
}

/// The IVUS catheter's own guidewire (AnteOwl-class catheters run over a wire that leaves the
/// catheter just outside the sheath, asymmetric to the transducer): a metal disc next to the
/// sheath at a fixed display angle, with echo, shadow and reverberations like [`WireSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IvusWireSpec {
    /// Display angle of the wire centre seen from the catheter, degrees CCW from +x.
    pub angle_deg: f64,
    /// Gap between the sheath surface and the wire surface, mm.
    pub gap_mm: f64,
    /// Radius, mm (0.014" wire: 0.178).
    pub radius_mm: f64,
    /// Echo amplitude of the near surface relative to mean plaque backscatter, dB.
    pub echo_db: f64,
    /// Amplitude factor applied to everything behind the wire (0.01–0.05).
    pub shadow_factor: f64,
    /// Number of reverberation echoes behind the wire (0–2), spaced by the wire diameter.
    pub reverberations: u32,
}

impl IvusWireSpec {
    /// Wire centre, catheter-centred mm, for a catheter of radius `catheter_radius_mm`.
    pub fn center_mm(&self, catheter_radius_mm: f64) -> [f64; 2] {
        let d = catheter_radius_mm + self.gap_mm + self.radius_mm;
        let a = self.angle_deg.to_radians();
        [d * a.cos(), d * a.sin()]
    }
}

/// A calcium arc in the plaque, described about the *lumen* centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalciumSpec {
    /// Start angle about the lumen centre, degrees CCW from +x.
    pub start_deg: f64,
    /// Angular extent about the lumen centre (CCW from `start_deg`), degrees.
    pub arc_deg: f64,
    /// Gap between the lumen border and the calcium's luminal surface, mm (radial about the lumen centre).
    pub gap_mm: f64,
    /// Radial thickness, mm.
    pub thickness_mm: f64,
    /// Backscatter relative to mean plaque, dB (above the adventitia).
    pub echo_db: f64,
    /// Amplitude factor behind the calcium (0.03–0.1), reached after 120 µm of calcium.
    pub shadow_factor: f64,
}

/// Everything that defines a phantom frame. All positions are catheter-centred millimetres
/// (+x right, +y up); echo levels are amplitudes in dB relative to mean plaque backscatter.
/// Texture details (plaque texture field, perivascular structures, speckle) derive from `seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhantomSpec {
    /// Seed of all random texture, speckle and noise.
    pub seed: u64,
    // --- acquisition / output geometry
    /// A-lines per frame (polar rows), e.g. 256 or 512.
    pub n_lines: usize,
    /// Samples per A-line (polar columns), 64–4096.
    pub n_samples: usize,
    /// Imaging depth (radius) covered by the samples, mm.
    pub depth_mm: f64,
    /// Display angle of line 0, degrees CCW from +x.
    pub line0_angle_deg: f64,
    /// Direction in which A-lines advance.
    pub rotation: Rotation,
    /// Side of the square Cartesian image, pixels.
    pub image_side_px: usize,
    /// Field of view (image side) of the Cartesian image, mm.
    pub fov_mm: f64,
    /// Offset `[col, row]` of the catheter centre from the image centre, pixels.
    pub catheter_offset_px: [f64; 2],
    // --- catheter
    /// Catheter (sheath) radius, mm.
    pub catheter_radius_mm: f64,
    /// Radial extent of the ring-down rings outside the sheath, mm.
    pub ringdown_depth_mm: f64,
    /// Ring-down reflector amplitude relative to mean plaque, dB.
    pub ringdown_db: f64,
    // --- anatomy
    /// External elastic membrane (media–adventitia border).
    pub vessel: StarShape,
    /// Media (dark band just inside the EEM) thickness, mm.
    pub media_thickness_mm: f64,
    /// Bright adventitia thickness outside the EEM, mm.
    pub adventitia_thickness_mm: f64,
    /// Lumen border (must lie inside the media).
    pub lumen: StarShape,
    /// Lumen filled with organised thrombus / soft plaque instead of blood.
    pub occluded: bool,
    /// Lumen content backscatter relative to mean plaque, dB (blood −30..−15, thrombus −12..−6).
    pub lumen_echo_db: f64,
    /// Standard deviation of the log-amplitude plaque texture (soft vs fibrous regions).
    pub plaque_texture: f64,
    /// Media backscatter relative to mean plaque, dB.
    pub media_echo_db: f64,
    /// Adventitia backscatter relative to mean plaque, dB.
    pub adventitia_echo_db: f64,
    /// Perivascular tissue backscatter relative to mean plaque, dB.
    pub perivascular_echo_db: f64,
    /// Number of random brighter / darker perivascular structures.
    pub perivascular_structures: usize,
    /// Optional second guidewire.
    pub guidewire: Option<WireSpec>,
    /// Calcium arcs.
    pub calcium: Vec<CalciumSpec>,
    // --- signal chain
    /// Transducer centre frequency, MHz.
    pub center_freq_mhz: f64,
    /// −6 dB fractional bandwidth of the pulse.
    pub fractional_bandwidth: f64,
    /// Lateral beam width (FWHM) near the catheter, mm.
    pub beam_width_mm: f64,
    /// Relative beam widening per mm of depth.
    pub beam_widening_per_mm: f64,
    /// Round-trip attenuation, dB/mm.
    pub attenuation_db_per_mm: f64,
    /// Time-gain compensation, dB/mm.
    pub tgc_db_per_mm: f64,
    /// Electronic noise power relative to mean plaque backscatter, dB.
    pub noise_db: f64,
    /// Display gain, dB (shifts all grey levels).
    pub gain_db: f64,
    /// Log-compression dynamic range, dB.
    pub dynamic_range_db: f64,
    /// The IVUS catheter's own wire next to the sheath (default none; omitted from JSON when
    /// absent, so specs and truth files without it are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivus_wire: Option<IvusWireSpec>,
    /// Chronic-total-occlusion scene details ([`PhantomSpec::random_cto`]); `None` (the
    /// default, and every [`PhantomSpec::random`] spec) leaves the scene as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cto: Option<CtoSpec>,
}

/// Details of a chronic-total-occlusion scene (see [`super::cto`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtoSpec {
    /// Thickness of the intimal layer lining the true lumen (the internal elastic lamina
    /// region), mm; 0 = no distinct layer.
    pub intima_thickness_mm: f64,
    /// Backscatter of that layer relative to mean plaque, dB.
    pub intima_echo_db: f64,
}

impl Default for PhantomSpec {
    /// A typical 2.5 mm patent BTK vessel with mild eccentric plaque, no wire, no calcium,
    /// 512 lines x 512 samples over 5 mm, 512x512 image over 10 mm, catheter centred.
    fn default() -> Self {
        Self {
            seed: 1,
            n_lines: 512,
            n_samples: 512,
            depth_mm: 5.0,
            line0_angle_deg: 0.0,
            rotation: Rotation::Ccw,
            image_side_px: 512,
            fov_mm: 10.0,
            catheter_offset_px: [0.0, 0.0],
            catheter_radius_mm: 0.45,
            ringdown_depth_mm: 0.15,
            ringdown_db: 12.0,
            vessel: StarShape {
                center_mm: [0.2, 0.1],
                mean_radius_mm: 1.25,
                harmonics: vec![
                    Harmonic { order: 2, amplitude: 0.04, phase_deg: 20.0 },
                    Harmonic { order: 3, amplitude: 0.015, phase_deg: 100.0 },
                ],
            },
            media_thickness_mm: 0.18,
            adventitia_thickness_mm: 0.45,
            lumen: StarShape {
                center_mm: [0.1, 0.05],
                mean_radius_mm: 0.8,
                harmonics: vec![Harmonic { order: 2, amplitude: 0.03, phase_deg: -40.0 }],
            },
            occluded: false,
            lumen_echo_db: -22.0,
            plaque_texture: 0.35,
            media_echo_db: -16.0,
            adventitia_echo_db: 13.0,
            perivascular_echo_db: -3.0,
            perivascular_structures: 6,
            guidewire: None,
            calcium: Vec::new(),
            center_freq_mhz: 40.0,
            fractional_bandwidth: 0.55,
            beam_width_mm: 0.22,
            beam_widening_per_mm: 0.06,
            attenuation_db_per_mm: 3.0,
            tgc_db_per_mm: 2.0,
            noise_db: -45.0,
            gain_db: 0.0,
            dynamic_range_db: 50.0,
            ivus_wire: None,
            cto: None,
        }
    }
}

impl PhantomSpec {
    /// This spec pinned to one acquisition geometry, as benchmarks need it: a `side_px` x
    /// `side_px` Cartesian frame over 10 mm (catheter offset scaled with the image) from 512
    /// A-lines x 512 samples over 5 mm. The scene (vessel, lumen, wire, calcium) is unchanged.
    #[must_use]
    pub fn pinned_acquisition(mut self, side_px: usize) -> PhantomSpec {
        let scale = side_px as f64 / self.image_side_px as f64;
        self.catheter_offset_px = self.catheter_offset_px.map(|v| v * scale);
        self.image_side_px = side_px;
        self.fov_mm = 10.0;
        self.n_lines = 512;
        self.n_samples = 512;
        self.depth_mm = 5.0;
        self
    }

    /// Cartesian pixel size, mm.
    pub fn mm_per_px(&self) -> f64 {
        self.fov_mm / self.image_side_px as f64
    }

    /// Checks every field and the scene's consistency (lumen inside the media, wire clear of
    /// the catheter). The catheter is *not* required to lie in the lumen.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the offending field.
    pub fn validate(&self) -> Result<(), Error> {
        if !(8..=4096).contains(&self.n_lines) {
            return Err(Error::param("n_lines", format!("must be within [8, 4096], got {}", self.n_lines)));
        }
        if !(16..=4096).contains(&self.n_samples) {
            return Err(Error::param("n_samples", format!("must be within [16, 4096], got {}", self.n_samples)));
        }
        if !(16..=4096).contains(&self.image_side_px) {
            return Err(Error::param(
                "image_side_px",
                format!("must be within [16, 4096], got {}", self.image_side_px),
            ));
        }
        check_range("depth_mm", self.depth_mm, 1.0, 12.0)?;
        check_range("line0_angle_deg", self.line0_angle_deg, -3600.0, 3600.0)?;
        check_range("fov_mm", self.fov_mm, 1.0, 30.0)?;
        for v in self.catheter_offset_px {
            check_range("catheter_offset_px", v, -(self.image_side_px as f64), self.image_side_px as f64)?;
        }
        check_range("catheter_radius_mm", self.catheter_radius_mm, 0.05, 1.5)?;
        check_range("ringdown_depth_mm", self.ringdown_depth_mm, 0.0, 1.0)?;
        check_range("ringdown_db", self.ringdown_db, -60.0, 60.0)?;
        self.vessel.validate("vessel")?;
        self.lumen.validate("lumen")?;
        check_range("media_thickness_mm", self.media_thickness_mm, 0.0, 1.0)?;
        check_range("adventitia_thickness_mm", self.adventitia_thickness_mm, 0.0, 3.0)?;
        for (name, v) in [
            ("lumen_echo_db", self.lumen_echo_db),
            ("media_echo_db", self.media_echo_db),
            ("adventitia_echo_db", self.adventitia_echo_db),
            ("perivascular_echo_db", self.perivascular_echo_db),
            ("noise_db", self.noise_db),
            ("gain_db", self.gain_db),
        ] {
            check_range(name, v, -100.0, 60.0)?;
        }
        check_range("plaque_texture", self.plaque_texture, 0.0, 2.0)?;
        if self.perivascular_structures > 200 {
            return Err(Error::param("perivascular_structures", "must be at most 200"));
        }
        check_range("center_freq_mhz", self.center_freq_mhz, 5.0, 80.0)?;
        check_range("fractional_bandwidth", self.fractional_bandwidth, 0.1, 1.5)?;
        check_range("beam_width_mm", self.beam_width_mm, 0.01, 2.0)?;
        check_range("beam_widening_per_mm", self.beam_widening_per_mm, 0.0, 2.0)?;
        check_range("attenuation_db_per_mm", self.attenuation_db_per_mm, 0.0, 30.0)?;
        check_range("tgc_db_per_mm", self.tgc_db_per_mm, 0.0, 30.0)?;
        check_range("dynamic_range_db", self.dynamic_range_db, 10.0, 120.0)?;
        // Lumen inside the media's inner border.
        let eem = FastStar::new(&self.vessel);
        let lumen_c = self.lumen.contour(720);
        if lumen_c.points_mm.iter().any(|&p| eem.radial_excess(p) > -self.media_thickness_mm + 1e-9) {
            return Err(Error::param("lumen", "must lie inside the media (inner border of the vessel wall)"));
        }
        if let Some(w) = &self.guidewire {
            check_range("guidewire.radius_mm", w.radius_mm, 0.02, 1.0)?;
            check_range("guidewire.echo_db", w.echo_db, -60.0, 80.0)?;
            check_range("guidewire.shadow_factor", w.shadow_factor, 0.0, 1.0)?;
            if w.reverberations > 4 {
                return Err(Error::param("guidewire.reverberations", "must be at most 4"));
            }
            if !w.center_mm.iter().all(|v| v.is_finite())
                || w.center_mm[0].hypot(w.center_mm[1]) < self.catheter_radius_mm + w.radius_mm
            {
                return Err(Error::param("guidewire.center_mm", "must be finite and clear of the catheter"));
            }
        }
        if let Some(w) = &self.ivus_wire {
            check_range("ivus_wire.angle_deg", w.angle_deg, -3600.0, 3600.0)?;
            check_range("ivus_wire.gap_mm", w.gap_mm, 0.0, 1.0)?;
            check_range("ivus_wire.radius_mm", w.radius_mm, 0.02, 1.0)?;
            check_range("ivus_wire.echo_db", w.echo_db, -60.0, 80.0)?;
            check_range("ivus_wire.shadow_factor", w.shadow_factor, 0.0, 1.0)?;
            if w.reverberations > 4 {
                return Err(Error::param("ivus_wire.reverberations", "must be at most 4"));
            }
        }
        for c in &self.calcium {
            check_range("calcium.start_deg", c.start_deg, -3600.0, 3600.0)?;
            check_range("calcium.arc_deg", c.arc_deg, 0.0, 360.0)?;
            check_range("calcium.gap_mm", c.gap_mm, 0.0, 5.0)?;
            check_range("calcium.thickness_mm", c.thickness_mm, 0.0, 3.0)?;
            check_range("calcium.echo_db", c.echo_db, -60.0, 60.0)?;
            check_range("calcium.shadow_factor", c.shadow_factor, 0.0, 1.0)?;
        }
        if let Some(c) = &self.cto {
            check_range("cto.intima_thickness_mm", c.intima_thickness_mm, 0.0, 0.3)?;
            check_range("cto.intima_echo_db", c.intima_echo_db, -60.0, 60.0)?;
        }
        check_positive("mm_per_px", self.mm_per_px())?;
        Ok(())
    }

    /// A random but plausible phantom: every parameter varies widely (EEM diameter 1.5–4 mm,
    /// eccentric plaque with burden 20–80 % where the catheter allows, gain ±10 dB, dynamic
    /// range 40–70 dB, noise, blood echogenicity, 256/512 lines, depth 4–6 mm, FOV 8–12 mm,
    /// catheter offset, line-0 angle, rotation, a second wire in ~70 % of frames (half in the
    /// lumen, half in the plaque), calcium in ~25 %, occluded lumen in ~20 %).
    ///
    /// The lumen always encloses the catheter with at least [`CATHETER_CLEARANCE_MM`] clearance.
    pub fn random(seed: u64) -> PhantomSpec {
        let mut rng = Rng::derive(seed, 0x5EC, 0);
        let mut s = PhantomSpec { seed, ..PhantomSpec::default() };
        s.n_lines = if rng.chance(0.5) { 256 } else { 512 };
        s.n_samples = 256 + 32 * rng.below(9);
        s.depth_mm = rng.range(4.0, 6.0);
        s.line0_angle_deg = rng.range(0.0, 360.0);
        s.rotation = if rng.chance(0.5) { Rotation::Ccw } else { Rotation::Cw };
        s.image_side_px = match rng.below(10) {
            0 | 1 => 256,
            2 => 768,
            3 => 1024,
            _ => 512,
        };
        s.fov_mm = rng.range(8.0, 12.0);
        let side = s.image_side_px as f64;
        s.catheter_offset_px = [rng.range(-0.1, 0.1) * side, rng.range(-0.1, 0.1) * side];
        s.catheter_radius_mm = rng.range(0.40, 0.50);
        s.ringdown_depth_mm = rng.range(0.05, 0.25);
        s.ringdown_db = rng.range(8.0, 16.0);

        let (vessel, media, lumen, cath) = random_anatomy(&mut rng, s.catheter_radius_mm);
        // Move everything so that the catheter sits at the origin.
        let shift = [-cath[0], -cath[1]];
        s.vessel = vessel.translated(shift);
        s.lumen = lumen.translated(shift);
        s.media_thickness_mm = media;
        s.adventitia_thickness_mm = rng.range(0.3, 0.6);
        s.occluded = rng.chance(0.2);
        s.lumen_echo_db = if s.occluded { rng.range(-12.0, -6.0) } else { rng.range(-30.0, -15.0) };
        s.plaque_texture = rng.range(0.2, 0.6);
        s.media_echo_db = rng.range(-22.0, -14.0);
        s.adventitia_echo_db = rng.range(10.0, 16.0);
        s.perivascular_echo_db = rng.range(-6.0, 0.0);
        s.perivascular_structures = 3 + rng.below(8);

        s.guidewire = if rng.chance(0.7) { random_wire(&mut rng, &s) } else { None };
        s.calcium = if rng.chance(0.25) { random_calcium(&mut rng, &s).into_iter().collect() } else { Vec::new() };

        s.fractional_bandwidth = rng.range(0.5, 0.6);
        s.beam_width_mm = rng.range(0.2, 0.25);
        s.beam_widening_per_mm = rng.range(0.03, 0.1);
        s.attenuation_db_per_mm = rng.range(2.0, 5.0);
        s.tgc_db_per_mm = (s.attenuation_db_per_mm - rng.range(0.5, 2.0)).max(0.0);
        s.noise_db = rng.range(-55.0, -35.0);
        s.gain_db = rng.range(-10.0, 10.0);
        s.dynamic_range_db = rng.range(40.0, 70.0);
        s
    }
}

pub(super) fn random_harmonics(rng: &mut Rng, max_amp: [f64; 3]) -> Vec<Harmonic> {
    (0..3)
        .map(|i| Harmonic {
            order: i as u32 + 2,
            amplitude: rng.range(0.0, max_amp[i]),
            phase_deg: rng.range(0.0, 360.0),
        })
        .collect()
}

/// Vessel, media thickness, lumen and a catheter position inside the lumen (vessel-centred
/// frame, vessel at the origin).
pub(super) fn random_anatomy(rng: &mut Rng, cath_r: f64) -> (StarShape, f64, StarShape, [f64; 2]) {
    let need = cath_r + CATHETER_CLEARANCE_MM + 0.01;
    for _attempt in 0..200 {
        let d_eem = rng.range(1.5, 4.0);
        let r0 = d_eem / 2.0;
        let vessel = StarShape {
            center_mm: [0.0, 0.0],
            mean_radius_mm: r0,
            harmonics: random_harmonics(rng, [0.08, 0.05, 0.04]),
        };
        let media = rng.range(0.10, 0.30).min((0.15 * r0).max(0.10));
        let eem = FastStar::new(&vessel);
        let inner_min = vessel.min_radius_mm() - media;
        let burden = rng.range(0.2, 0.8);
        let lo = need + 0.03;
        let hi = inner_min - 0.02;
        if lo > hi {
            continue;
        }
        let rl = (r0 * (1.0 - burden).sqrt()).clamp(lo, hi);
        let mut harm = random_harmonics(rng, [0.08, 0.05, 0.04]);
        let ecc = if rng.chance(0.8) { rng.range(0.3, 0.95) } else { rng.range(0.0, 0.3) };
        let dir = rng.range(0.0, std::f64::consts::TAU);
        let mut off = ecc * (inner_min - rl).max(0.0);
        let mut lumen = StarShape::circle([0.0, 0.0], rl);
        let mut ok = false;
        for _shrink in 0..25 {
            lumen = StarShape {
                center_mm: [off * dir.cos(), off * dir.sin()],
                mean_radius_mm: rl,
                harmonics: harm.clone(),
            };
            if lumen.contour(360).points_mm.iter().all(|&p| eem.radial_excess(p) <= -media - 0.01) {
                ok = true;
                break;
            }
            off *= 0.85;
            for h in &mut harm {
                h.amplitude *= 0.85;
            }
        }
        if !ok {
            lumen = StarShape::circle([0.0, 0.0], rl);
        }
        // Catheter somewhere in the lumen with clearance; often near the wall.
        let lc = lumen.contour(720);
        let c = lumen.center_mm;
        for _try in 0..60 {
            let rho = rl * rng.uniform().sqrt();
            let a = rng.range(0.0, std::f64::consts::TAU);
            let q = [c[0] + rho * a.cos(), c[1] + rho * a.sin()];
            if lc.signed_distance_mm(q) <= -need && lc.contains(q) {
                return (vessel, media, lumen, q);
            }
        }
        if lc.signed_distance_mm(c) <= -need {
            return (vessel, media, lumen, c);
        }
    }
    // Fallback that always satisfies the constraints.
    let vessel = StarShape::circle([0.0, 0.0], 1.5);
    let lumen = StarShape::circle([0.0, 0.0], 1.0);
    (vessel, 0.15, lumen, [0.0, 0.0])
}

pub(crate) fn random_wire(rng: &mut Rng, s: &PhantomSpec) -> Option<WireSpec> {
    let r = WIRE_DIAMETER_MM / 2.0;
    let lumen_c = s.lumen.contour(720);
    let eem = FastStar::new(&s.vessel);
    let cath_ok = |p: [f64; 2]| p[0].hypot(p[1]) >= s.catheter_radius_mm + r + 0.04;
    let in_lumen_first = rng.chance(0.5);
    let extent = s.vessel.mean_radius_mm * 1.3;
    let vc = s.vessel.center_mm;
    let try_place = |rng: &mut Rng, lumen: bool, margin: f64| -> Option<[f64; 2]> {
        for _ in 0..300 {
            let p = [vc[0] + rng.range(-extent, extent), vc[1] + rng.range(-extent, extent)];
            if !cath_ok(p) {
                continue;
            }
            let d = lumen_c.signed_distance_mm(p);
            let good = if lumen {
                d <= -margin
            } else {
                d >= margin && eem.radial_excess(p) <= -s.media_thickness_mm - margin
            };
            if good {
                return Some(p);
            }
        }
        None
    };
    let order = if in_lumen_first { [true, false] } else { [false, true] };
    let mut center = None;
    'outer: for lumen in order {
        for margin in [r + 0.01, 0.6 * r] {
            if let Some(p) = try_place(rng, lumen, margin) {
                center = Some(p);
                break 'outer;
            }
        }
    }
    center.map(|c| WireSpec {
        center_mm: c,
        radius_mm: r,
        echo_db: rng.range(32.0, 38.0),
        shadow_factor: rng.range(0.01, 0.05),
        reverberations: 1 + rng.below(2) as u32,
    })
}

pub(crate) fn random_calcium(rng: &mut Rng, s: &PhantomSpec) -> Option<CalciumSpec> {
    let eem = FastStar::new(&s.vessel);
    // Plaque thickness along rays from the lumen centre.
    let lc = s.lumen.center_mm;
    let thick: Vec<f64> = (0..72)
        .map(|i| {
            let a = i as f64 * 5.0;
            let (sn, cs) = a.to_radians().sin_cos();
            let rl = s.lumen.radius_at_deg(a);
            let mut t = 0.0;
            while t < 3.0 {
                let p = [lc[0] + (rl + t) * cs, lc[1] + (rl + t) * sn];
                if eem.radial_excess(p) > -s.media_thickness_mm {
                    break;
                }
                t += 0.01;
            }
            t
        })
        .collect();
    let w: Vec<f64> = thick.iter().map(|t| t * t).collect();
    let total: f64 = w.iter().sum();
    if total <= 1e-6 {
        return None;
    }
    let mut pick = rng.uniform() * total;
    let mut idx = 0;
    for (i, wi) in w.iter().enumerate() {
        if pick < *wi {
            idx = i;
            break;
        }
        pick -= wi;
    }
    let t_local = thick[idx];
    if t_local < 0.08 {
        return None;
    }
    let arc = rng.range(30.0, 120.0);
    let thickness = rng.range(0.1, 0.3).min(t_local * 0.9);
    let gap = rng.range(0.0, (t_local - thickness).max(0.0) * 0.7);
    Some(CalciumSpec {
        start_deg: idx as f64 * 5.0 - arc / 2.0 + rng.range(-10.0, 10.0),
        arc_deg: arc,
        gap_mm: gap,
        thickness_mm: thickness,
        echo_db: rng.range(18.0, 24.0),
        shadow_factor: rng.range(0.03, 0.1),
    })
}
