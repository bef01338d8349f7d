//! Raw polar frames and raw RF A-lines: a headerless (or fixed-header) binary file plus a small
//! JSON sidecar describing it.
//!
//! The sidecar is `NAME.json` next to `NAME.raw` (or `NAME.raw.json`); see [`RawSidecar`] for
//! the keys. Samples are little-endian, stored frame by frame, line by line (`lines` A-lines of
//! `samples` samples each): frame `i` starts at `header_bytes + i * lines * samples * size`.
//! The file size must match the sidecar exactly ([`Error::Inconsistent`] otherwise).
//!
//! * `kind: "polar"`: the samples are display grey levels of a polar frame (rows = A-lines).
//!   `u8` as is, `u16` scaled to 0–255, `i16` / `f32` clamped to 0–255.
//! * `kind: "rf"`: radio-frequency A-lines. Each line is turned into its envelope with the
//!   analytic signal (Hilbert transform by FFT: keep DC and Nyquist, double the positive
//!   frequencies, zero the negative ones, inverse FFT, magnitude) \[1\], then log-compressed:
//!   `255 * (1 + 20 log10(env / env_ref) / dynamic_range_db)`, clamped to 0–255, where `env_ref`
//!   is the sidecar's `reference_level`, or else the frame's largest envelope value (then the
//!   brightness may change from frame to frame). The FFT plans are built once per file. The result
//!   goes through the normal polar pipeline.
//!
//! Depth: `depth_mm`, or from `sampling_rate_mhz` and `speed_of_sound_m_per_s` (default 1540):
//! `depth_mm = samples * c / (2 * fs)`.
//!
//! # References
//! \[1\] S. L. Marple, "Computing the discrete-time analytic signal via FFT",
//!     IEEE Trans. Signal Processing 47(9):2600-2603, 1999. We follow it exactly (N even or odd).

use super::source::{FrameBuf, FrameSource, PullbackTiming, SourceCalibration, ValueSource, frame_out_of_range};
use crate::error::Error;
use crate::geometry::{PolarGeometry, Rotation};
use crate::pipeline::Calibration;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default speed of sound, m/s.
pub const DEFAULT_SPEED_OF_SOUND_M_PER_S: f64 = 1540.0;
/// Default log-compression dynamic range for RF data, dB.
pub const DEFAULT_DYNAMIC_RANGE_DB: f64 = 50.0;
/// File extensions treated as raw data (when a sidecar exists).
pub const RAW_EXTENSIONS: &[&str] = &["raw", "bin", "rf", "dat"];

/// What the samples are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawKind {
    /// Polar display grey levels.
    Polar,
    /// Radio-frequency A-lines (envelope detection and log compression applied on reading).
    Rf,
}

/// Sample type (little endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawDtype {
    /// Unsigned 8-bit.
    U8,
    /// Unsigned 16-bit.
    U16,
    /// Signed 16-bit.
    I16,
    /// 32-bit float.
    F32,
}

impl RawDtype {
    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            RawDtype::U8 => 1,
            RawDtype::U16 | RawDtype::I16 => 2,
            RawDtype::F32 => 4,
        }
    }
}

fn default_c() -> f64 {
    DEFAULT_SPEED_OF_SOUND_M_PER_S
}

/// The JSON sidecar of a raw file, e.g.
/// `{"kind": "rf", "dtype": "i16", "lines": 256, "samples": 1024, "frames": 10,
///   "sampling_rate_mhz": 40, "line0_deg": 0, "rotation": "ccw", "dynamic_range_db": 50}`.
/// Unknown keys are rejected (typos).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSidecar {
    /// Polar grey levels or RF.
    pub kind: RawKind,
    /// Sample type.
    pub dtype: RawDtype,
    /// A-lines per frame.
    pub lines: usize,
    /// Samples per A-line.
    pub samples: usize,
    /// Frames in the file.
    pub frames: usize,
    /// Bytes to skip at the start of the file.
    #[serde(default)]
    pub header_bytes: u64,
    /// Depth covered by one line, mm (or give `sampling_rate_mhz`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_mm: Option<f64>,
    /// Sampling rate of the samples, MHz (used when `depth_mm` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rate_mhz: Option<f64>,
    /// Speed of sound, m/s (default 1540).
    #[serde(default = "default_c")]
    pub speed_of_sound_m_per_s: f64,
    /// Display angle of line 0, degrees counter-clockwise from +x.
    #[serde(default)]
    pub line0_deg: f64,
    /// Direction in which lines advance as displayed.
    #[serde(default)]
    pub rotation: Rotation,
    /// RF only: log-compression dynamic range, dB (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_range_db: Option<f64>,
    /// RF only: envelope amplitude shown as grey level 255 (default: each frame's largest
    /// envelope value). A fixed level keeps the brightness of a pullback constant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_level: Option<f64>,
    /// Pullback speed, mm/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pullback_mm_per_s: Option<f64>,
    /// Frame rate, frames/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate_hz: Option<f64>,
}

impl RawSidecar {
    /// Depth covered by one line, mm (`depth_mm`, else from the sampling rate).
    pub fn depth_mm(&self) -> Option<f64> {
        self.depth_mm.or_else(|| {
            self.sampling_rate_mhz.map(|fs| self.samples as f64 * self.speed_of_sound_m_per_s / (2000.0 * fs))
        })
    }
}

/// The sidecar of a raw file: `NAME.json` or `NAME.EXT.json`, whichever exists.
pub fn raw_sidecar_path(path: &Path) -> Option<PathBuf> {
    let a = path.with_extension("json");
    let mut b = path.as_os_str().to_owned();
    b.push(".json");
    let b = PathBuf::from(b);
    [a, b].into_iter().find(|p| p.is_file())
}

/// Whether `path` has a raw extension ([`RAW_EXTENSIONS`]).
pub fn has_raw_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| RAW_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Envelope detection and log compression of RF lines of one length, plans built once.
pub struct RfEnvelope {
    samples: usize,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
    buf: Vec<Complex32>,
    scratch: Vec<Complex32>,
    dynamic_range_db: f32,
}

impl std::fmt::Debug for RfEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RfEnvelope").field("samples", &self.samples).finish()
    }
}

impl RfEnvelope {
    /// Plans for lines of `samples` samples.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if `samples < 4` or the dynamic range is not in (0, 200] dB.
    pub fn new(samples: usize, dynamic_range_db: f64) -> Result<Self, Error> {
        if samples < 4 {
            return Err(Error::param("samples", format!("RF lines need at least 4 samples, got {samples}")));
        }
        crate::error::check_range("dynamic_range_db", dynamic_range_db, 1.0, 200.0)?;
        let mut planner = FftPlanner::new();
        let forward = planner.plan_fft_forward(samples);
        let inverse = planner.plan_fft_inverse(samples);
        let len = forward.get_inplace_scratch_len().max(inverse.get_inplace_scratch_len());
        Ok(Self {
            samples,
            forward,
            inverse,
            buf: Vec::new(),
            scratch: vec![Complex32::default(); len],
            dynamic_range_db: dynamic_range_db as f32,
        })
    }

    /// Envelope of every line of `rf` (`lines * samples` values, line by line) into `env`.
    pub fn envelope_into(&mut self, rf: &[f32], env: &mut [f32]) {
        let n = self.samples;
        self.buf.clear();
        self.buf.extend(rf.iter().map(|&v| Complex32::new(v, 0.0)));
        self.forward.process_with_scratch(&mut self.buf, &mut self.scratch);
        let half = n / 2;
        for line in self.buf.chunks_exact_mut(n) {
            // Marple: H[0] = 1, H[k] = 2 for 0 < k < N/2 (and k = N/2 for odd N), H[N/2] = 1 for even N.
            for (k, v) in line.iter_mut().enumerate() {
                let h = if k == 0 || (n % 2 == 0 && k == half) {
                    1.0
                } else if k <= (n - 1) / 2 {
                    2.0
                } else {
                    0.0
                };
                *v *= h;
            }
        }
        self.inverse.process_with_scratch(&mut self.buf, &mut self.scratch);
        let scale = 1.0 / n as f32;
        for (e, v) in env.iter_mut().zip(&self.buf) {
            *e = v.norm() * scale;
        }
    }

    /// Log compression in place (see the module doc); `reference`: the envelope shown as 255
    /// (`None`: the largest value of `env`).
    pub fn log_compress(&self, env: &mut [f32], reference: Option<f32>) {
        let max = reference.unwrap_or_else(|| env.iter().copied().fold(0.0f32, f32::max));
        if max <= 0.0 || !max.is_finite() {
            env.fill(0.0);
            return;
        }
        let k = 20.0 / self.dynamic_range_db;
        for v in env.iter_mut() {
            let db = if *v > 0.0 { (*v / max).log10() } else { -100.0 };
            *v = (255.0 * (1.0 + k * db)).clamp(0.0, 255.0);
        }
    }
}

/// A raw polar or RF file opened for frame-by-frame reading.
#[derive(Debug)]
pub struct RawSource {
    path: PathBuf,
    sidecar_path: PathBuf,
    side: RawSidecar,
    file: BufReader<File>,
    bytes: Vec<u8>,
    samples_f32: Vec<f32>,
    rf: Option<RfEnvelope>,
}

impl RawSource {
    /// Opens `path` with its sidecar ([`raw_sidecar_path`]) and checks the file size.
    ///
    /// # Errors
    /// [`Error::Input`] without a sidecar; [`Error::Format`] for an invalid sidecar;
    /// [`Error::Inconsistent`] when the file size differs from what the sidecar describes;
    /// [`Error::Calibration`] for a missing, NaN or zero depth.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let sidecar_path = raw_sidecar_path(path).ok_or_else(|| Error::Input {
            path: path.to_path_buf(),
            reason: format!(
                "raw data need a JSON sidecar ({} or {}.json) giving kind, dtype, lines, samples, frames and depth",
                path.with_extension("json").display(),
                path.display()
            ),
        })?;
        let text = std::fs::read_to_string(&sidecar_path)
            .map_err(|source| Error::Io { path: sidecar_path.clone(), source })?;
        let side: RawSidecar = serde_json::from_str(&text)
            .map_err(|e| Error::Format { path: sidecar_path.clone(), reason: e.to_string() })?;
        Self::with_sidecar(path, sidecar_path, side)
    }

    /// Opens `path` described by `side` (read from `sidecar_path`).
    ///
    /// # Errors
    /// As [`RawSource::open`].
    pub fn with_sidecar(path: &Path, sidecar_path: PathBuf, side: RawSidecar) -> Result<Self, Error> {
        let bad = |reason: String| Error::Inconsistent { path: sidecar_path.clone(), reason };
        if side.lines < 8 || side.samples < 8 || side.frames == 0 || side.lines > 8192 || side.samples > 8192 {
            return Err(bad(format!(
                "lines {}, samples {}, frames {}: need 8..=8192 lines and samples and at least one frame",
                side.lines, side.samples, side.frames
            )));
        }
        let file = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let len = file.metadata().map_err(|source| Error::Io { path: path.to_path_buf(), source })?.len();
        let frame_bytes = (side.lines * side.samples * side.dtype.size()) as u64;
        let want = side.header_bytes + frame_bytes * side.frames as u64;
        if len != want {
            return Err(Error::Inconsistent {
                path: path.to_path_buf(),
                reason: format!(
                    "file has {len} bytes but {} describes {} header bytes + {} frames of {} lines x {} samples x {} \
                     bytes = {want} bytes{}",
                    sidecar_path.display(),
                    side.header_bytes,
                    side.frames,
                    side.lines,
                    side.samples,
                    side.dtype.size(),
                    if len < want {
                        format!(" (frame {} is incomplete)", len.saturating_sub(side.header_bytes) / frame_bytes)
                    } else {
                        String::new()
                    }
                ),
            });
        }
        let depth = side.depth_mm();
        if !depth.is_some_and(|d| d.is_finite() && d > 0.0) {
            return Err(Error::Calibration {
                path: sidecar_path.clone(),
                reason: format!("depth is {depth:?}: give `depth_mm` or `sampling_rate_mhz` (finite, > 0)"),
            });
        }
        let rf = match side.kind {
            RawKind::Rf => {
                Some(RfEnvelope::new(side.samples, side.dynamic_range_db.unwrap_or(DEFAULT_DYNAMIC_RANGE_DB))?)
            }
            RawKind::Polar => None,
        };
        Ok(Self {
            path: path.to_path_buf(),
            sidecar_path,
            side,
            file: BufReader::new(file),
            bytes: Vec::new(),
            samples_f32: Vec::new(),
            rf,
        })
    }

    /// The sidecar.
    pub fn sidecar(&self) -> &RawSidecar {
        &self.side
    }
}

impl FrameSource for RawSource {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> String {
        match self.side.kind {
            RawKind::Polar => "raw-polar".into(),
            RawKind::Rf => "raw-rf".into(),
        }
    }
    fn len(&self) -> usize {
        self.side.frames
    }
    fn shape(&self) -> (usize, usize) {
        (self.side.lines, self.side.samples)
    }
    fn frame_label(&self, i: usize) -> String {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{name}#{i}")
    }
    fn calibration(&self) -> Option<SourceCalibration> {
        let depth = self.side.depth_mm()?;
        let g = PolarGeometry {
            n_lines: self.side.lines,
            n_samples: self.side.samples,
            mm_per_sample: depth / self.side.samples as f64,
            line0_angle_deg: self.side.line0_deg,
            rotation: self.side.rotation,
        };
        let key = if self.side.depth_mm.is_some() { "depth_mm" } else { "sampling_rate_mhz" };
        Some(SourceCalibration {
            calib: Calibration::Polar(g),
            source: ValueSource::Sidecar(format!("{} ({key})", self.sidecar_path.display())),
        })
    }
    fn timing(&self) -> PullbackTiming {
        let src = || Some(ValueSource::Sidecar(self.sidecar_path.display().to_string()));
        let mut t = PullbackTiming::default();
        if let Some(v) = self.side.pullback_mm_per_s.filter(|v| v.is_finite() && *v > 0.0) {
            t.pullback_mm_per_s = Some(v);
            t.pullback_source = src();
        }
        if let Some(r) = self.side.frame_rate_hz.filter(|v| v.is_finite() && *v > 0.0) {
            t.frame_times_s = Some(PullbackTiming::uniform_times_s(self.side.frames, r));
            t.frame_times_source = src();
        }
        t
    }
    fn read_frame(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error> {
        if i >= self.side.frames {
            return Err(frame_out_of_range(&self.path, i, self.side.frames));
        }
        let (lines, samples, size) = (self.side.lines, self.side.samples, self.side.dtype.size());
        let n = lines * samples;
        self.bytes.resize(n * size, 0);
        let pos = self.side.header_bytes + (i * n * size) as u64;
        self.file.seek(SeekFrom::Start(pos)).and_then(|_| self.file.read_exact(&mut self.bytes)).map_err(|e| {
            Error::Decode { path: self.path.clone(), reason: format!("frame {i}: cannot read its bytes: {e}") }
        })?;
        self.samples_f32.clear();
        let b = &self.bytes;
        match self.side.dtype {
            RawDtype::U8 => self.samples_f32.extend(b.iter().map(|&v| f32::from(v))),
            RawDtype::U16 => {
                self.samples_f32.extend(b.chunks_exact(2).map(|c| f32::from(u16::from_le_bytes([c[0], c[1]]))))
            }
            RawDtype::I16 => {
                self.samples_f32.extend(b.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]]))))
            }
            RawDtype::F32 => {
                self.samples_f32.extend(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            }
        }
        if let Some(k) = self.samples_f32.iter().position(|v| !v.is_finite()) {
            return Err(Error::Decode {
                path: self.path.clone(),
                reason: format!("frame {i}: sample {} of line {} is not finite", k % samples, k / samples),
            });
        }
        let dst = out.reset(lines, samples, 1);
        match &mut self.rf {
            Some(rf) => {
                rf.envelope_into(&self.samples_f32, dst);
                rf.log_compress(dst, self.side.reference_level.map(|v| v as f32));
            }
            None => {
                let scale = if self.side.dtype == RawDtype::U16 { 255.0 / 65535.0 } else { 1.0 };
                for (d, &s) in dst.iter_mut().zip(&self.samples_f32) {
                    *d = (s * scale).clamp(0.0, 255.0);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_of_a_modulated_tone_is_its_amplitude() {
        for n in [256usize, 255] {
            let mut rf_env = RfEnvelope::new(n, 40.0).unwrap();
            let amp = |s: usize| 1.0 + 0.5 * (2.0 * std::f32::consts::PI * s as f32 / n as f32).cos();
            let rf: Vec<f32> = (0..n)
                .map(|s| amp(s) * (2.0 * std::f32::consts::PI * 64.0 * s as f32 / n as f32 + 0.3).cos())
                .collect();
            let mut env = vec![0.0; n];
            rf_env.envelope_into(&rf, &mut env);
            let worst = (0..n).map(|s| (env[s] - amp(s)).abs()).fold(0.0f32, f32::max);
            println!("n={n}: worst envelope error {worst:.4}");
            assert!(worst < 0.02, "n={n}: {worst}");
        }
    }
}
