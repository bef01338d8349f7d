//! Signal formation: scatterer lines → lateral beam → pulse (analytic) → envelope → log.

use super::rng::Rng;
use super::scene::{STREAM_NOISE, STREAM_SCATTER, Scene, WIRE_ECHO_LENGTH_MM, WIRE_REVERB_RATIO};
use super::spec::PhantomSpec;
use crate::geometry::PolarGeometry;
use crate::plane::PolarImage;
use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Axial step of the scatterer grid, mm (5 µm).
pub const SCATTER_STEP_MM: f64 = 0.005;
/// Minimum number of simulated scatterer lines per revolution (beams are computed only for
/// the output lines, but scatterers are laid on at least this many directions).
pub const MIN_SCATTER_LINES: usize = 1024;
/// Speed of sound, m/s.
pub const SPEED_OF_SOUND_M_S: f64 = 1540.0;
/// Envelope level (dB relative to mean plaque backscatter power) shown as mid-grey (128) at
/// 0 dB gain; the dynamic range sets the contrast around it.
pub const MID_GREY_LEVEL_DB: f64 = 0.0;

/// FFT plans and filter for one fine-grid length, reused across frames.
struct Plans {
    n_fft: usize,
    fwd: Arc<dyn Fft<f32>>,
    inv: Arc<dyn Fft<f32>>,
}

/// Reusable simulator: caches FFT plans between frames.
pub struct Simulator {
    planner: FftPlanner<f32>,
    plans: Option<Plans>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("n_fft", &self.plans.as_ref().map(|p| p.n_fft)).finish()
    }
}

impl Default for Simulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Simulator {
    /// A simulator with an empty plan cache.
    pub fn new() -> Self {
        Self { planner: FftPlanner::new(), plans: None }
    }

    fn plans(&mut self, n_fft: usize) -> (Arc<dyn Fft<f32>>, Arc<dyn Fft<f32>>) {
        if self.plans.as_ref().map(|p| p.n_fft) != Some(n_fft) {
            let fwd = self.planner.plan_fft_forward(n_fft);
            let inv = self.planner.plan_fft_inverse(n_fft);
            self.plans = Some(Plans { n_fft, fwd, inv });
        }
        let p = self.plans.as_ref().unwrap_or_else(|| unreachable!("plans just built"));
        (p.fwd.clone(), p.inv.clone())
    }

    /// Forms the 8-bit (integer-valued) polar frame of an already validated spec.
    pub(crate) fn polar_frame(&mut self, spec: &PhantomSpec, geom: &PolarGeometry) -> PolarImage {
        let scene = Scene::new(spec);
        let dz = SCATTER_STEP_MM;
        let n_fine = ((spec.depth_mm + 0.05) / dz).ceil() as usize;
        let n_fft = (n_fine + 128).next_power_of_two();
        let (fwd, inv) = self.plans(n_fft);
        let factor = MIN_SCATTER_LINES.div_ceil(spec.n_lines).max(1);
        let n_sim = spec.n_lines * factor;
        let sim_geom = PolarGeometry { n_lines: n_sim, ..*geom };

        // 1. Scatterer lines (one RNG stream per line: thread-count independent).
        let mut scat = vec![0.0f32; n_sim * n_fine];
        scat.par_chunks_mut(n_fine).enumerate().for_each(|(j, row)| {
            let mut rng = Rng::derive(spec.seed, STREAM_SCATTER, j as u64);
            scene.fill_line(sim_geom.angle_deg_of_line(j as f64), dz, &mut rng, row);
        });

        // 2. Lateral beam weights per depth, stored per line offset: w[d][k].
        let sigma0 = spec.beam_width_mm / (2.0 * (2.0 * 2f64.ln()).sqrt());
        let lines_per_rad = n_sim as f64 / std::f64::consts::TAU;
        let r_min = spec.catheter_radius_mm.max(0.1);
        let sigma_lines: Vec<f64> = (0..n_fine)
            .map(|k| {
                let r = (k as f64 * dz).max(r_min);
                sigma0 * (1.0 + spec.beam_widening_per_mm * r) / r * lines_per_rad
            })
            .collect();
        let d_of = |s: f64| ((3.0 * s).ceil() as usize).min(n_sim / 2 - 1);
        let d_max = sigma_lines.iter().map(|&s| d_of(s)).max().unwrap_or(0);
        let mut weights = vec![vec![0.0f32; n_fine]; d_max + 1];
        let mut coherent_gain = vec![0.0f64; n_fine];
        let mut k_end = vec![0usize; d_max + 1];
        for k in 0..n_fine {
            let s = sigma_lines[k];
            let dk = d_of(s);
            let raw: Vec<f64> = (0..=dk).map(|d| (-(d as f64).powi(2) / (2.0 * s * s)).exp()).collect();
            let e2: f64 = raw[0] * raw[0] + 2.0 * raw[1..].iter().map(|v| v * v).sum::<f64>();
            let norm = 1.0 / e2.sqrt();
            coherent_gain[k] = norm * (raw[0] + 2.0 * raw[1..].iter().sum::<f64>());
            for (d, v) in raw.iter().enumerate() {
                weights[d][k] = (v * norm) as f32;
                k_end[d] = k_end[d].max(k + 1);
            }
        }

        // 3. Analytic pulse filter in the depth-frequency domain (round trip: 2 f0 / c).
        let k0 = 2.0 * spec.center_freq_mhz * 1e6 / (SPEED_OF_SOUND_M_S * 1e3); // cycles per mm
        let sigma_k = spec.fractional_bandwidth * k0 / (2.0 * (2.0 * 2f64.ln()).sqrt());
        let df = 1.0 / (n_fft as f64 * dz);
        let mut filt: Vec<f64> = (0..n_fft)
            .map(|i| {
                if i == 0 || i >= n_fft / 2 {
                    0.0
                } else {
                    let f = i as f64 * df;
                    2.0 * (-(f - k0).powi(2) / (2.0 * sigma_k * sigma_k)).exp()
                }
            })
            .collect();
        let p: f64 = filt.iter().map(|h| h * h).sum::<f64>() / n_fft as f64;
        let scale = 1.0 / (p.sqrt() * n_fft as f64);
        filt.iter_mut().for_each(|h| *h *= scale);
        let filt: Vec<f32> = filt.into_iter().map(|h| h as f32).collect();

        // 4. Depth gains and output decimation windows.
        let att: Vec<f32> =
            (0..n_fine).map(|k| 10f64.powf(-spec.attenuation_db_per_mm * k as f64 * dz / 20.0) as f32).collect();
        let tgc: Vec<f32> = (0..n_fine).map(|k| 10f64.powf(spec.tgc_db_per_mm * k as f64 * dz / 20.0) as f32).collect();
        let h = geom.mm_per_sample;
        let windows: Vec<(usize, usize)> = (0..spec.n_samples)
            .map(|s| {
                let z = s as f64 * h;
                let a = (((z - h / 2.0) / dz).round().max(0.0) as usize).min(n_fine - 1);
                let b = (((z + h / 2.0) / dz).round() as usize).clamp(a + 1, n_fine);
                (a, b)
            })
            .collect();
        let noise_sigma = (10f64.powf(spec.noise_db / 10.0)).sqrt() as f32;
        let dr = spec.dynamic_range_db;
        let offset = spec.gain_db - MID_GREY_LEVEL_DB;
        let scratch_len = fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len());

        // 5. Beams for the output lines only.
        let mut polar = vec![0.0f32; spec.n_lines * spec.n_samples];
        polar.par_chunks_mut(spec.n_samples).enumerate().for_each_init(
            || {
                (
                    vec![Complex32::new(0.0, 0.0); n_fft],
                    vec![Complex32::new(0.0, 0.0); scratch_len],
                    vec![0.0f32; n_fine],
                )
            },
            |(buf, scratch, lat), (l, out)| {
                let c = l * factor;
                lat.iter_mut().zip(&scat[c * n_fine..(c + 1) * n_fine]).zip(&weights[0]).for_each(|((o, &a), &w)| {
                    *o = w * a;
                });
                for d in 1..=d_max {
                    let up = &scat[((c + d) % n_sim) * n_fine..][..k_end[d]];
                    let dn = &scat[((c + n_sim - d) % n_sim) * n_fine..][..k_end[d]];
                    for (((o, &w), &u), &v) in lat.iter_mut().zip(&weights[d]).zip(up).zip(dn) {
                        *o += w * (u + v);
                    }
                }
                // Wire: the whole beam whose axis meets the wire is shadowed behind its echo,
                // and carries the reverberations (which are not shadowed).
                for (rh, inc, amp, shadow, radius, reverbs) in scene.wire_hits(geom.angle_deg_of_line(l as f64)) {
                    let k0 = (((rh + WIRE_ECHO_LENGTH_MM) / dz).ceil() as usize).min(n_fine);
                    lat[k0..].iter_mut().for_each(|v| *v *= shadow as f32);
                    let mut a = amp * inc;
                    for m in 1..=reverbs {
                        a *= WIRE_REVERB_RATIO;
                        let k = ((rh + m as f64 * 2.0 * radius) / dz).round() as usize;
                        if k < n_fine {
                            lat[k] += (a * 0.25 * coherent_gain[k]) as f32;
                        }
                    }
                }
                let mut rng = Rng::derive(spec.seed, STREAM_NOISE, l as u64);
                for (k, b) in buf.iter_mut().enumerate() {
                    *b = if k < n_fine {
                        Complex32::new(lat[k] * att[k] + noise_sigma * rng.normal() as f32, 0.0)
                    } else {
                        Complex32::new(0.0, 0.0)
                    };
                }
                fwd.process_with_scratch(buf, scratch);
                buf.iter_mut().zip(&filt).for_each(|(b, &f)| *b *= f);
                inv.process_with_scratch(buf, scratch);
                for k in 0..n_fine {
                    lat[k] = buf[k].norm() * tgc[k];
                }
                for (o, &(a, b)) in out.iter_mut().zip(&windows) {
                    let env = lat[a..b].iter().sum::<f32>() / (b - a) as f32;
                    let level = 20.0 * (env.max(1e-9) as f64).log10();
                    *o = (128.0 + 255.0 * (level + offset) / dr).clamp(0.0, 255.0).round() as f32;
                }
            },
        );
        PolarImage::from_vec(spec.n_lines, spec.n_samples, polar)
            .unwrap_or_else(|_| unreachable!("polar buffer has n_lines x n_samples values"))
    }
}
