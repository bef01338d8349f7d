//! Image-based cardiac gating: one frame per heart beat, chosen from the images alone.
//!
//! Follows the idea of image-based IVUS gating from frame-to-frame dissimilarity and the cardiac
//! frequency (A. Hernàndez-Sabaté, D. Gil, J. Garcia-Barnés, E. Martí, "Image-based cardiac phase
//! retrieval in intravascular ultrasound sequences", IEEE Trans. Ultrason. Ferroelectr. Freq.
//! Control 58(1):60–72, 2011; S. M. O'Malley, J. F. Granada, S. Carlier, M. Naghavi,
//! I. A. Kakadiaris, "Image-based gating of intravascular ultrasound pullback sequences", IEEE
//! Trans. Inf. Technol. Biomed. 12(3):299–306, 2008). Steps:
//!
//! 1. **Dissimilarity** `d_i`: mean absolute difference between frame `i` and frame `i − 1`, each
//!    reduced to a [`GRID`]x[`GRID`] grid of block means (computed while streaming; see
//!    [`BlockSignature`]). The heart's motion makes `d` pulse once per beat.
//! 2. **Detrend**: subtract a running mean over 2 s (slow changes of the anatomy along the
//!    pullback), then a Hann window.
//! 3. **Cardiac frequency**: power spectrum by FFT (rustfft; zero-padded ×4), searched in
//!    0.75–3 Hz (45–180 beats/min, capped below the Nyquist frequency). Because the motion is a
//!    short systolic jolt, `d` is far from sinusoidal and its second harmonic can out-power the
//!    fundamental; we therefore take the frequency maximising the *harmonic sum* `P(f) + P(2f)`
//!    (a two-term harmonic sum, as in pitch detection) instead of the plain peak.
//! 4. **One frame per cycle**: the phase of the fundamental (the Fourier coefficient of `d` at
//!    the cardiac frequency) locates the systolic motion peak of each cycle; the gated frame of a
//!    cycle is the stillest frame (lowest `d`) within ±10 % of a cycle around 0.3 cycle before
//!    that peak — the quiet end of diastole.
//!
//! Differences from the papers: no learned phase classifier (O'Malley) and no band-pass signal
//! reconstruction (Hernàndez-Sabaté); the dissimilarity is a plain block-mean difference. The
//! pullback must be at least 3 cardiac cycles long and the frame rate at least 1.5 Hz.

use crate::error::Error;
use crate::plane::CartImage;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

/// Side of the block-mean grid used for the dissimilarity.
pub const GRID: usize = 48;
/// Cardiac band searched, Hz.
pub const BAND_HZ: (f64, f64) = (0.75, 3.0);

/// Block means of one frame on a [`GRID`]x[`GRID`] grid.
#[derive(Debug, Clone, Default)]
pub struct BlockSignature {
    means: Vec<f32>,
}

impl BlockSignature {
    /// Computes the signature of a frame (any size ≥ 1x1).
    pub fn of(image: &CartImage) -> Self {
        let (rows, cols) = image.shape();
        let mut sums = vec![0f64; GRID * GRID];
        let mut counts = vec![0u32; GRID * GRID];
        if rows > 0 && cols > 0 {
            for r in 0..rows {
                let gr = r * GRID / rows;
                let row = image.row(r);
                for (c, &v) in row.iter().enumerate() {
                    let k = gr * GRID + c * GRID / cols;
                    sums[k] += f64::from(v);
                    counts[k] += 1;
                }
            }
        }
        let means =
            sums.iter().zip(&counts).map(|(s, &n)| if n > 0 { (*s / f64::from(n)) as f32 } else { 0.0 }).collect();
        Self { means }
    }

    /// Mean absolute difference to `other` (grey levels).
    pub fn dissimilarity(&self, other: &BlockSignature) -> f64 {
        if self.means.len() != other.means.len() || self.means.is_empty() {
            return 0.0;
        }
        self.means.iter().zip(&other.means).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>()
            / self.means.len() as f64
    }
}

/// What gating found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatingResult {
    /// Detected cardiac frequency, Hz.
    pub cardiac_frequency_hz: f64,
    /// Detected heart rate, beats per minute.
    pub heart_rate_bpm: f64,
    /// The selected frames (indices into the sequence), ascending, one per cycle.
    pub frames: Vec<usize>,
    /// Fraction of the detrended signal's power in the cardiac band at the detected frequency and
    /// its harmonic (0–1; low values mean the beat is barely visible).
    pub peak_power_fraction: f64,
}

/// Detects the cardiac frequency from the dissimilarity signal `d` (one value per frame, `d[0]`
/// arbitrary) sampled at `fps`, and selects one frame per cycle.
///
/// # Errors
/// [`Error::InvalidParam`] (`gate`) when the sequence is shorter than 3 cycles of the slowest
/// heart rate in the band or the frame rate is too low to see the band.
pub fn gate(d: &[f64], fps: f64) -> Result<GatingResult, Error> {
    let n = d.len();
    let f_hi = BAND_HZ.1.min(0.45 * fps);
    if !(fps.is_finite() && f_hi > BAND_HZ.0) {
        return Err(Error::param(
            "gate",
            format!("a frame rate of {fps} frames/s is too low to see heart beats (needs > 1.7)"),
        ));
    }
    if (n as f64) < 3.0 * fps / BAND_HZ.0 {
        return Err(Error::param(
            "gate",
            format!("{n} frames at {fps} frames/s cover fewer than 3 cardiac cycles; gating needs a longer pullback"),
        ));
    }
    let mut x: Vec<f64> = d.to_vec();
    if n > 1 {
        x[0] = x[1];
    }
    // Detrend with a 2 s running mean.
    let half = ((fps).round() as usize).max(1);
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + x[i];
    }
    let detrended: Vec<f64> = (0..n)
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(half), (i + half + 1).min(n));
            x[i] - (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect();
    let m = (4 * n).next_power_of_two();
    let mut buf: Vec<Complex<f64>> = (0..m)
        .map(|i| {
            if i < n {
                let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n.max(2) - 1) as f64).cos();
                Complex::new(detrended[i] * w, 0.0)
            } else {
                Complex::new(0.0, 0.0)
            }
        })
        .collect();
    FftPlanner::<f64>::new().plan_fft_forward(m).process(&mut buf);
    let power: Vec<f64> = buf[..m / 2 + 1].iter().map(|c| c.norm_sqr()).collect();
    let hz_per_bin = fps / m as f64;
    let bin = |f: f64| (f / hz_per_bin).round() as usize;
    let (lo_bin, hi_bin) = (bin(BAND_HZ.0).max(1), bin(f_hi).min(m / 2));
    let mut best = (lo_bin, f64::NEG_INFINITY);
    for k in lo_bin..=hi_bin {
        let s = power[k] + power.get(2 * k).copied().unwrap_or(0.0);
        if s > best.1 {
            best = (k, s);
        }
    }
    let band_total: f64 = power[lo_bin..=bin(2.0 * f_hi).min(m / 2)].iter().sum();
    // Refine the peak with a parabola through the neighbouring bins.
    let k = best.0;
    let mut f = k as f64 * hz_per_bin;
    if k > lo_bin && k < hi_bin {
        let (a, b, c) = (power[k - 1], power[k], power[k + 1]);
        let den = a - 2.0 * b + c;
        if den.abs() > 1e-30 {
            f += (0.5 * (a - c) / den).clamp(-0.5, 0.5) * hz_per_bin;
        }
    }
    // Phase of the fundamental: time of the motion peak within a cycle.
    let omega = 2.0 * std::f64::consts::PI * f / fps;
    let (mut re, mut im) = (0.0, 0.0);
    for (i, v) in detrended.iter().enumerate() {
        re += v * (omega * i as f64).cos();
        im += v * (omega * i as f64).sin();
    }
    let period = fps / f; // frames per cycle
    // d ≈ A cos(ω i − φ) with φ = atan2(im, re): the peak is at i = φ / ω (mod period).
    let peak0 = im.atan2(re).rem_euclid(2.0 * std::f64::consts::PI) / omega;
    let mut frames = Vec::new();
    let mut target = peak0 - 0.3 * period;
    while target < -0.1 * period {
        target += period;
    }
    while target <= n as f64 - 1.0 + 0.1 * period {
        let lo = (target - 0.1 * period).ceil().max(0.0) as usize;
        let hi = ((target + 0.1 * period).floor() as usize).min(n - 1);
        let pick = if lo <= hi {
            (lo..=hi).min_by(|&a, &b| x[a].total_cmp(&x[b]).then(a.cmp(&b)))
        } else {
            let t = target.round().clamp(0.0, n as f64 - 1.0) as usize;
            Some(t)
        };
        if let Some(p) = pick
            && frames.last() != Some(&p)
        {
            frames.push(p);
        }
        target += period;
    }
    Ok(GatingResult {
        cardiac_frequency_hz: f,
        heart_rate_bpm: 60.0 * f,
        frames,
        peak_power_fraction: if band_total > 0.0 { (best.1 / band_total).min(1.0) } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulse_signal(n: usize, fps: f64, hr_bpm: f64, noise: f64) -> Vec<f64> {
        let mut state = 12345u64;
        let mut rnd = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        (0..n)
            .map(|i| {
                let ph = (i as f64 / fps * hr_bpm / 60.0).fract();
                // |velocity| of a Gaussian jolt: two close peaks per beat.
                let g = |p: f64| (-((p - 0.2) / 0.08f64).powi(2)).exp();
                let v = (g(ph) - g(ph - 1.0 / (fps * 60.0 / hr_bpm))).abs();
                3.0 * v + 1.0 + 0.01 * i as f64 + noise * rnd()
            })
            .collect()
    }

    #[test]
    fn finds_the_heart_rate_of_a_pulsed_signal() {
        for (fps, hr) in [(30.0, 72.0), (10.0, 60.0), (15.0, 110.0), (30.0, 50.0)] {
            let d = pulse_signal(600, fps, hr, 0.2);
            let g = gate(&d, fps).unwrap();
            assert!((g.heart_rate_bpm - hr).abs() < 3.0, "fps {fps} hr {hr}: {}", g.heart_rate_bpm);
            let cycles = 600.0 / fps * hr / 60.0;
            assert!((g.frames.len() as f64 - cycles).abs() <= 1.5, "{} vs {cycles}", g.frames.len());
        }
    }

    #[test]
    fn too_short_or_too_slow_is_an_error() {
        assert!(gate(&[1.0; 10], 30.0).is_err());
        assert!(gate(&[1.0; 1000], 1.0).is_err());
    }
}
