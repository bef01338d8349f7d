//! The tissue scene: echogenicity (backscatter amplitude) at any point, and the per-A-line
//! scatterer/reflector sequence with transmission losses (shadows).

use super::rng::Rng;
use super::shape::FastStar;
use super::spec::PhantomSpec;
use rayon::prelude::*;

/// Amplitude transmission behind a calcium surface decays to the shadow factor over this depth, mm.
pub(crate) const CALCIUM_SHADOW_LENGTH_MM: f64 = 0.12;
/// Spacing of ring-down reflectors, mm.
const RINGDOWN_SPACING_MM: f64 = 0.035;
/// Amplitude of a wire reverberation relative to the previous echo.
pub(crate) const WIRE_REVERB_RATIO: f64 = 0.3;
/// Depth over which the wire's near-surface echo train extends, mm.
pub(crate) const WIRE_ECHO_LENGTH_MM: f64 = 0.05;
/// Number of reflectors in the wire's near-surface echo train.
const WIRE_ECHO_REFLECTORS: usize = 5;

/// RNG stream ids.
pub(crate) const STREAM_TEXTURE: u64 = 1;
pub(crate) const STREAM_SCATTER: u64 = 2;
pub(crate) const STREAM_NOISE: u64 = 3;

#[inline]
fn db(v: f64) -> f64 {
    10f64.powf(v / 20.0)
}

/// A smooth random field with zero mean and unit variance (sum of plane waves), tabulated on a
/// coarse Cartesian grid and read bilinearly.
struct Texture {
    x0: f64,
    step: f64,
    n: usize,
    values: Vec<[f32; 2]>,
}

impl Texture {
    fn new(rng: &mut Rng, half_extent_mm: f64) -> Self {
        const N_WAVES: usize = 8;
        let mut waves = [[[0.0f64; 3]; N_WAVES]; 2];
        for field in waves.iter_mut() {
            for w in field.iter_mut() {
                // Spatial frequency 0.6–3 cycles/mm, random direction and phase.
                let f = rng.range(0.6, 3.0) * std::f64::consts::TAU;
                let a = rng.range(0.0, std::f64::consts::TAU);
                *w = [f * a.cos(), f * a.sin(), rng.range(0.0, std::f64::consts::TAU)];
            }
        }
        let step = 0.04;
        let n = (2.0 * half_extent_mm / step).ceil() as usize + 2;
        let x0 = -half_extent_mm;
        let amp = (2.0 / N_WAVES as f64).sqrt();
        let mut values = vec![[0.0f32; 2]; n * n];
        values.par_chunks_mut(n).enumerate().for_each(|(iy, row)| {
            let y = x0 + iy as f64 * step;
            for (ix, out) in row.iter_mut().enumerate() {
                let x = x0 + ix as f64 * step;
                for (o, field) in out.iter_mut().zip(&waves) {
                    *o = (amp * field.iter().map(|w| (w[0] * x + w[1] * y + w[2]).cos()).sum::<f64>()) as f32;
                }
            }
        });
        Self { x0, step, n, values }
    }

    #[inline]
    fn at(&self, p: [f64; 2], which: usize) -> f64 {
        let fx = ((p[0] - self.x0) / self.step).clamp(0.0, (self.n - 2) as f64);
        let fy = ((p[1] - self.x0) / self.step).clamp(0.0, (self.n - 2) as f64);
        let (ix, iy) = (fx as usize, fy as usize);
        let (tx, ty) = ((fx - ix as f64) as f32, (fy - iy as f64) as f32);
        let i = iy * self.n + ix;
        let v = |k: usize| self.values[k][which];
        let top = v(i) + tx * (v(i + 1) - v(i));
        let bot = v(i + self.n) + tx * (v(i + self.n + 1) - v(i + self.n));
        (top + ty * (bot - top)) as f64
    }
}

/// A Gaussian perivascular structure (gain > 0 brighter, < 0 darker).
struct Blob {
    c: [f64; 2],
    inv2s2: f64,
    r2max: f64,
    gain: f64,
}

struct Calcium {
    start_deg: f64,
    arc_deg: f64,
    gap: f64,
    thickness: f64,
    amp: f64,
    shadow: f64,
}

struct Wire {
    c: [f64; 2],
    r: f64,
    amp: f64,
    shadow: f64,
    reverbs: u32,
}

impl Wire {
    /// Where the ray at display angle `angle_deg` meets the wire: depth of the near surface
    /// and an incidence factor in `[0.5, 1]` (1 = normal incidence).
    fn hit(&self, angle_deg: f64) -> Option<(f64, f64)> {
        let (sn, cs) = angle_deg.to_radians().sin_cos();
        let t = self.c[0] * cs + self.c[1] * sn;
        let d2 = self.c[0] * self.c[0] + self.c[1] * self.c[1] - t * t;
        if t > 0.0 && d2 < self.r * self.r {
            let h = (self.r * self.r - d2).sqrt();
            Some((t - h, 0.5 + 0.5 * h / self.r))
        } else {
            None
        }
    }
}

/// Tissue class at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tissue {
    Catheter,
    Wire,
    Lumen,
    /// Intimal layer lining the true lumen (CTO scenes only).
    Intima,
    Plaque,
    Calcium(usize),
    Media,
    Outer,
}

/// Precomputed scene for fast per-point queries.
pub(crate) struct Scene {
    cath_r: f64,
    eem: FastStar,
    lumen: FastStar,
    media: f64,
    adv_thick: f64,
    lumen_amp: f64,
    occluded: bool,
    plaque_sigma: f64,
    media_amp: f64,
    adv_amp: f64,
    peri_amp: f64,
    texture: Texture,
    blobs: Vec<Blob>,
    calcium: Vec<Calcium>,
    /// Metal wires: the second guidewire first (if any), then the IVUS catheter's own wire.
    wires: Vec<Wire>,
    ringdown_depth: f64,
    ringdown_amp: f64,
    /// Intimal layer lining the true lumen (0 = none) and its amplitude.
    intima_thick: f64,
    intima_amp: f64,
}

impl Scene {
    pub(crate) fn new(spec: &PhantomSpec) -> Self {
        let mut rng = Rng::derive(spec.seed, STREAM_TEXTURE, 0);
        let texture = Texture::new(&mut rng, spec.depth_mm + 0.2);
        let eem = FastStar::new(&spec.vessel);
        let vc = eem.center();
        let r0 = spec.vessel.mean_radius_mm;
        let mut blobs = Vec::new();
        for _ in 0..spec.perivascular_structures {
            let a = rng.range(0.0, std::f64::consts::TAU);
            let dist = r0 + spec.adventitia_thickness_mm + rng.range(0.2, 2.5);
            let sigma = rng.range(0.08, 0.3);
            let gain = if rng.chance(0.7) { rng.range(0.8, 2.5) } else { -rng.range(0.4, 0.8) };
            blobs.push(Blob {
                c: [vc[0] + dist * a.cos(), vc[1] + dist * a.sin()],
                inv2s2: 1.0 / (2.0 * sigma * sigma),
                r2max: 9.0 * sigma * sigma,
                gain,
            });
        }
        Self {
            cath_r: spec.catheter_radius_mm,
            eem,
            lumen: FastStar::new(&spec.lumen),
            media: spec.media_thickness_mm,
            adv_thick: spec.adventitia_thickness_mm,
            lumen_amp: db(spec.lumen_echo_db),
            occluded: spec.occluded,
            plaque_sigma: spec.plaque_texture,
            media_amp: db(spec.media_echo_db),
            adv_amp: db(spec.adventitia_echo_db),
            peri_amp: db(spec.perivascular_echo_db),
            texture,
            blobs,
            calcium: spec
                .calcium
                .iter()
                .map(|c| Calcium {
                    start_deg: c.start_deg,
                    arc_deg: c.arc_deg,
                    gap: c.gap_mm,
                    thickness: c.thickness_mm,
                    amp: db(c.echo_db),
                    shadow: c.shadow_factor,
                })
                .collect(),
            wires: spec
                .guidewire
                .as_ref()
                .map(|w| Wire {
                    c: w.center_mm,
                    r: w.radius_mm,
                    amp: db(w.echo_db),
                    shadow: w.shadow_factor,
                    reverbs: w.reverberations,
                })
                .into_iter()
                .chain(spec.ivus_wire.as_ref().map(|w| Wire {
                    c: w.center_mm(spec.catheter_radius_mm),
                    r: w.radius_mm,
                    amp: db(w.echo_db),
                    shadow: w.shadow_factor,
                    reverbs: w.reverberations,
                }))
                .collect(),
            ringdown_depth: spec.ringdown_depth_mm,
            ringdown_amp: db(spec.ringdown_db),
            intima_thick: spec.cto.as_ref().map_or(0.0, |c| c.intima_thickness_mm),
            intima_amp: spec.cto.as_ref().map_or(0.0, |c| db(c.intima_echo_db)),
        }
    }

    /// Tissue class at `p` (catheter-centred mm).
    pub(crate) fn tissue(&self, p: [f64; 2]) -> Tissue {
        if p[0].hypot(p[1]) < self.cath_r {
            return Tissue::Catheter;
        }
        for w in &self.wires {
            if (p[0] - w.c[0]).hypot(p[1] - w.c[1]) < w.r {
                return Tissue::Wire;
            }
        }
        let dv = self.eem.radial_excess(p);
        if dv >= 0.0 {
            return Tissue::Outer;
        }
        if dv > -self.media {
            return Tissue::Media;
        }
        let dl = self.lumen.radial_excess(p);
        if dl < 0.0 {
            return Tissue::Lumen;
        }
        if dl < self.intima_thick {
            return Tissue::Intima;
        }
        if !self.calcium.is_empty() {
            let lc = self.lumen.center();
            let ang = (p[1] - lc[1]).atan2(p[0] - lc[0]).to_degrees();
            for (i, c) in self.calcium.iter().enumerate() {
                let rel = (ang - c.start_deg).rem_euclid(360.0);
                if rel <= c.arc_deg && dl >= c.gap && dl <= c.gap + c.thickness {
                    return Tissue::Calcium(i);
                }
            }
        }
        Tissue::Plaque
    }

    /// Mean backscatter amplitude at `p` given its tissue class.
    pub(crate) fn echo(&self, p: [f64; 2], t: Tissue) -> f64 {
        match t {
            Tissue::Catheter | Tissue::Wire => 0.0,
            Tissue::Lumen => {
                if self.occluded {
                    self.lumen_amp * (0.5 * self.plaque_sigma * self.texture.at(p, 0)).exp()
                } else {
                    self.lumen_amp
                }
            }
            Tissue::Plaque => (self.plaque_sigma * self.texture.at(p, 0)).exp(),
            Tissue::Intima => self.intima_amp * (0.3 * self.texture.at(p, 1)).exp(),
            Tissue::Calcium(i) => self.calcium[i].amp,
            Tissue::Media => self.media_amp * (0.3 * self.texture.at(p, 1)).exp(),
            Tissue::Outer => {
                let d = self.eem.radial_excess(p);
                let start = 0.5 * self.adv_thick;
                let end = self.adv_thick + 0.3;
                let f = if d <= start {
                    1.0
                } else if d >= end {
                    0.0
                } else {
                    let u = (d - start) / (end - start);
                    0.5 * (1.0 + (std::f64::consts::PI * u).cos())
                };
                let mut blob = 1.0;
                for b in &self.blobs {
                    let r2 = (p[0] - b.c[0]).powi(2) + (p[1] - b.c[1]).powi(2);
                    if r2 < b.r2max {
                        blob += b.gain * (-r2 * b.inv2s2).exp();
                    }
                }
                let base = self.peri_amp + (self.adv_amp - self.peri_amp) * f;
                base * blob.max(0.1) * (0.35 * self.texture.at(p, 1)).exp()
            }
        }
    }

    /// Fills one scatterer line: `out[k]` is the scattering amplitude at depth `k * dz` along
    /// the display direction `angle_deg`, including speckle, shadows and coherent reflectors
    /// (ring-down, wire surface and reverberations).
    pub(crate) fn fill_line(&self, angle_deg: f64, dz: f64, rng: &mut Rng, out: &mut [f32]) {
        let (sn, cs) = angle_deg.to_radians().sin_cos();

        let mut cal_entry_t = 1.0f64;
        let mut cal_run = 0.0f64;
        let mut cal_t = 1.0f64;
        let mut prev_cal: Option<usize> = None;
        for (k, o) in out.iter_mut().enumerate() {
            let z = k as f64 * dz;
            let n = rng.normal();
            if z < self.cath_r {
                *o = 0.0;
                continue;
            }
            let p = [z * cs, z * sn];
            let t = self.tissue(p);
            if let Tissue::Calcium(i) = t {
                if prev_cal != Some(i) {
                    cal_entry_t = cal_t;
                    cal_run = 0.0;
                }
                let s = self.calcium[i].shadow;
                cal_t = cal_entry_t * s.powf(cal_run / CALCIUM_SHADOW_LENGTH_MM).max(s);
                cal_run += dz;
                prev_cal = Some(i);
            } else {
                prev_cal = None;
            }
            *o = (n * self.echo(p, t) * cal_t) as f32;
        }
        let len = out.len();
        let mut add = |z: f64, a: f64| {
            let k = (z / dz).round();
            if k >= 0.0 && (k as usize) < len {
                out[k as usize] += a as f32;
            }
        };
        // Ring-down: coherent reflectors identical (±5 %) on every line.
        if self.ringdown_depth > 0.0 {
            let mut m = 0;
            loop {
                let dr = m as f64 * RINGDOWN_SPACING_MM;
                if dr > self.ringdown_depth {
                    break;
                }
                let a = self.ringdown_amp * (-3.0 * dr / self.ringdown_depth).exp() * (1.0 + 0.05 * rng.normal());
                add(self.cath_r + dr, if m % 2 == 0 { a } else { -a });
                m += 1;
            }
        }
        // Wire near surface: a short train of reflectors (coil surface and its ringing).
        for w in &self.wires {
            if let Some((rh, inc)) = w.hit(angle_deg) {
                for m in 0..WIRE_ECHO_REFLECTORS {
                    let a = w.amp * inc * (-(m as f64) / 2.0).exp();
                    add(
                        rh + m as f64 * WIRE_ECHO_LENGTH_MM / WIRE_ECHO_REFLECTORS as f64,
                        if m % 2 == 0 { a } else { -a },
                    );
                }
            }
        }
    }

    /// The wires (second guidewire first, then the catheter's own wire) with where the ray at
    /// display angle `angle_deg` meets each: `(depth of the near surface, incidence factor in
    /// [0.5, 1], amplitude, shadow factor, radius, reverberations)`.
    pub(crate) fn wire_hits(&self, angle_deg: f64) -> impl Iterator<Item = (f64, f64, f64, f64, f64, u32)> + '_ {
        self.wires
            .iter()
            .filter_map(move |w| w.hit(angle_deg).map(|(rh, inc)| (rh, inc, w.amp, w.shadow, w.r, w.reverbs)))
    }
}
