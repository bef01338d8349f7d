//! Calibration of a pullback: the `calibration.json` sidecar and the rules that decide between
//! command-line values, values stored in the file and the sidecar.

use super::source::{SourceCalibration, ValueSource};
use crate::error::{Error, check_positive};
use crate::geometry::{PolarGeometry, Rotation};
use crate::pipeline::Calibration;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the calibration file looked up next to the frames.
pub const SIDECAR_NAME: &str = "calibration.json";

/// The folder whose `calibration.json` applies to an input: the folder itself, or a file's
/// parent folder (`.` for a bare file name).
pub fn sidecar_dir(input: &Path) -> PathBuf {
    if input.is_dir() {
        return input.to_path_buf();
    }
    match input.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Polar part of a [`Sidecar`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolarSidecar {
    /// Imaging depth covered by the samples of one A-line, mm.
    pub depth_mm: f64,
    /// Display angle of line 0, degrees counter-clockwise from +x (default 0).
    #[serde(default)]
    pub line0_deg: f64,
    /// Direction in which lines advance (default `ccw`).
    #[serde(default)]
    pub rotation: Rotation,
}

/// The optional `calibration.json` next to the frames: either
/// `{"mm_per_px": 0.02}` for Cartesian frames or
/// `{"polar": {"depth_mm": 6.0, "line0_deg": 0, "rotation": "ccw"}}` for polar frames,
/// optionally with `"center_px": [col, row]`. Unknown keys are rejected (typos).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// Cartesian pixel size, mm.
    #[serde(default)]
    pub mm_per_px: Option<f64>,
    /// Polar geometry.
    #[serde(default)]
    pub polar: Option<PolarSidecar>,
    /// Fixed catheter centre `[col, row]`, pixels.
    #[serde(default)]
    pub center_px: Option<[f64; 2]>,
    /// Pullback speed, mm/s (pullback timing of image folders; see [`crate::pullback::Timing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pullback_mm_per_s: Option<f64>,
    /// Frame rate, frames/s (pullback timing of image folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

impl Sidecar {
    /// Loads `dir/calibration.json`; `Ok(None)` when there is no such file.
    ///
    /// # Errors
    /// [`Error::Io`] if it exists but cannot be read, [`Error::Format`] if it is not valid.
    pub fn load_from_dir(dir: &Path) -> Result<Option<Self>, Error> {
        let path = dir.join(SIDECAR_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        let sidecar: Self =
            serde_json::from_str(&text).map_err(|e| Error::Format { path: path.clone(), reason: e.to_string() })?;
        sidecar.validate(&path)?;
        Ok(Some(sidecar))
    }

    /// Checks the values (the JSON parser only checks the types): pixel size within
    /// [`crate::pipeline::MIN_MM_PER_PX`]..=[`crate::pipeline::MAX_MM_PER_PX`], depth finite
    /// and > 0, line-0 angle within ±3600°, centre finite. `path` names the file in the error.
    ///
    /// # Errors
    /// [`Error::Format`] naming `path` and the field.
    pub fn validate(&self, path: &Path) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::Format { path: path.to_path_buf(), reason });
        if let Some(v) = self.mm_per_px {
            let (lo, hi) = (crate::pipeline::MIN_MM_PER_PX, crate::pipeline::MAX_MM_PER_PX);
            if let Err(e) = crate::error::check_range("mm_per_px", v, lo, hi) {
                return bad(e.to_string());
            }
        }
        if let Some(p) = self.polar {
            if let Err(e) = check_positive("polar.depth_mm", p.depth_mm) {
                return bad(e.to_string());
            }
            if !(p.line0_deg.is_finite() && p.line0_deg.abs() <= 3600.0) {
                return bad(format!("`polar.line0_deg` must be within [-3600, 3600], got {}", p.line0_deg));
            }
        }
        if let Some(c) = self.center_px {
            if !(c[0].is_finite() && c[1].is_finite()) {
                return bad(format!("`center_px` must be finite, got {c:?}"));
            }
        }
        Ok(())
    }
}

/// Calibration given on the command line (or by a library caller); `None` = not given.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CalibrationOptions {
    /// Cartesian pixel size, mm (`--mm-per-px`).
    pub mm_per_px: Option<f64>,
    /// Frames are polar (`--polar`).
    pub polar: bool,
    /// Polar imaging depth, mm (`--depth-mm`).
    pub depth_mm: Option<f64>,
    /// Polar line-0 angle, degrees (`--line0-deg`).
    pub line0_deg: Option<f64>,
    /// Polar rotation (`--rotation`).
    pub rotation: Option<Rotation>,
    /// Fixed catheter centre `[col, row]` (`--center-px`).
    pub center_px: Option<[f64; 2]>,
}

/// A calibration and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedCalibration {
    /// The calibration for every frame of the run.
    pub calib: Calibration,
    /// Fixed catheter centre, if any (Cartesian frames only).
    pub center_px: Option<[f64; 2]>,
    /// Human-readable origin: `command line` or the sidecar path.
    pub origin: String,
    /// Where the calibration came from.
    pub source: ValueSource,
}

/// Decides the calibration of a run whose frames are `rows x cols`.
///
/// Rules: when the options give a calibration (`mm_per_px`, or `polar` with `depth_mm`), they
/// are used and any `calibration.json` is ignored. Otherwise the [`Sidecar`] next to the inputs
/// ([`sidecar_dir`]) is used, with `polar` / `line0_deg` / `rotation` / `center_px` options
/// overriding its fields. All inputs must share one sidecar content. For polar frames,
/// `n_lines = rows`, `n_samples = cols` and `mm_per_sample = depth_mm / cols`.
///
/// # Errors
/// [`Error::InvalidParam`] when no calibration is given anywhere, or a value is invalid (NaN,
/// zero, negative, out of range); [`Error::Io`] / [`Error::Format`] for an unreadable sidecar;
/// [`Error::Input`] when inputs in different folders carry different sidecars, or a sidecar
/// gives both `mm_per_px` and `polar`.
pub fn resolve_calibration(
    opts: &CalibrationOptions,
    inputs: &[PathBuf],
    shape: (usize, usize),
) -> Result<ResolvedCalibration, Error> {
    resolve_calibration_with(opts, None, inputs, shape)
}

/// As [`resolve_calibration`], with the calibration stored in the pullback file itself (DICOM
/// tags, raw sidecar, screen-capture field): command-line values win over it, and it wins over
/// `calibration.json`. A file calibration is checked (finite, > 0) and rejected with
/// [`Error::Calibration`] naming the file.
///
/// # Errors
/// As [`resolve_calibration`]; [`Error::Calibration`] for a NaN/zero/negative file value.
pub fn resolve_calibration_with(
    opts: &CalibrationOptions,
    file: Option<&SourceCalibration>,
    inputs: &[PathBuf],
    (rows, cols): (usize, usize),
) -> Result<ResolvedCalibration, Error> {
    if opts.polar && opts.mm_per_px.is_some() {
        return Err(Error::param("mm_per_px", "cannot be combined with polar frames (use depth_mm)"));
    }
    if let (Some(fc), Some(_)) = (file, opts.mm_per_px) {
        if matches!(fc.calib, Calibration::Polar(_)) {
            return Err(Error::param("mm_per_px", "cannot be combined with polar frames (use --polar --depth-mm)"));
        }
    }
    let from_cli = opts.mm_per_px.is_some() || (opts.polar && opts.depth_mm.is_some());
    if let (false, Some(fc)) = (from_cli, file) {
        let path = inputs.first().cloned().unwrap_or_default();
        let bad = |reason: String| Error::Calibration { path: path.clone(), reason };
        let calib = match fc.calib {
            Calibration::Cartesian { mm_per_px } => {
                if !(mm_per_px.is_finite() && mm_per_px > 0.0) {
                    return Err(bad(format!(
                        "{} gives a pixel size of {mm_per_px} mm; pass --mm-per-px MM",
                        fc.source
                    )));
                }
                fc.calib
            }
            Calibration::Polar(g) => {
                if !(g.mm_per_sample.is_finite() && g.mm_per_sample > 0.0) {
                    return Err(bad(format!(
                        "{} gives {} mm per sample; pass --polar --depth-mm MM",
                        fc.source, g.mm_per_sample
                    )));
                }
                let g = g
                    .with_line0_angle_deg(opts.line0_deg.unwrap_or(g.line0_angle_deg))
                    .with_rotation(opts.rotation.unwrap_or(g.rotation));
                g.validate()?;
                Calibration::Polar(g)
            }
        };
        let center_px = match calib {
            Calibration::Cartesian { .. } => opts.center_px,
            Calibration::Polar(_) => None,
        };
        return Ok(ResolvedCalibration { calib, center_px, origin: fc.source.to_string(), source: fc.source.clone() });
    }
    let (sidecar, origin) = if from_cli {
        (Sidecar::default(), "command line".to_string())
    } else {
        let mut found: Option<(Sidecar, PathBuf)> = None;
        let mut dirs: Vec<PathBuf> = inputs.iter().map(|p| sidecar_dir(p)).collect();
        dirs.dedup();
        for dir in dirs {
            if let Some(s) = Sidecar::load_from_dir(&dir)? {
                let path = dir.join(SIDECAR_NAME);
                match &found {
                    Some((first, first_path)) if *first != s => {
                        return Err(Error::Input {
                            path,
                            reason: format!("differs from {}; analyse these inputs separately", first_path.display()),
                        });
                    }
                    Some(_) => {}
                    None => found = Some((s, path)),
                }
            }
        }
        match found {
            Some((s, path)) => (s, path.display().to_string()),
            None => {
                let input = inputs.first().map(|p| p.display().to_string()).unwrap_or_default();
                return Err(Error::param(
                    "mm_per_px",
                    format!(
                        "no calibration for {input}: pass --mm-per-px MM (or --polar --depth-mm MM), \
                         or put {SIDECAR_NAME} next to the frames, e.g. {{\"mm_per_px\": 0.02}}"
                    ),
                ));
            }
        }
    };
    if sidecar.mm_per_px.is_some() && sidecar.polar.is_some() {
        return Err(Error::Input {
            path: origin.into(),
            reason: "gives both `mm_per_px` and `polar`; keep one".into(),
        });
    }
    let polar = opts.polar || (opts.mm_per_px.is_none() && sidecar.polar.is_some());
    let calib = if polar {
        let sp = sidecar.polar;
        let depth_mm = opts.depth_mm.or(sp.map(|p| p.depth_mm)).ok_or_else(|| {
            Error::param("depth_mm", format!("polar frames need --depth-mm MM or `polar.depth_mm` in {SIDECAR_NAME}"))
        })?;
        check_positive("depth_mm", depth_mm)?;
        let g = PolarGeometry::new(rows, cols, depth_mm / cols.max(1) as f64)?
            .with_line0_angle_deg(opts.line0_deg.or(sp.map(|p| p.line0_deg)).unwrap_or(0.0))
            .with_rotation(opts.rotation.or(sp.map(|p| p.rotation)).unwrap_or_default());
        g.validate()?;
        Calibration::Polar(g)
    } else {
        let mm_per_px = opts
            .mm_per_px
            .or(sidecar.mm_per_px)
            .ok_or_else(|| Error::param("mm_per_px", format!("{origin} gives no `mm_per_px`; pass --mm-per-px MM")))?;
        crate::error::check_range(
            "mm_per_px",
            mm_per_px,
            crate::pipeline::MIN_MM_PER_PX,
            crate::pipeline::MAX_MM_PER_PX,
        )?;
        Calibration::Cartesian { mm_per_px }
    };
    let center_px = if polar { None } else { opts.center_px.or(sidecar.center_px) };
    let source = if from_cli {
        ValueSource::CommandLine(if polar { "--depth-mm" } else { "--mm-per-px" }.into())
    } else {
        ValueSource::Sidecar(origin.clone())
    };
    Ok(ResolvedCalibration { calib, center_px, origin, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_parsing() {
        let s: Sidecar = serde_json::from_str(r#"{"mm_per_px": 0.02}"#).unwrap();
        assert_eq!(s.mm_per_px, Some(0.02));
        let s: Sidecar = serde_json::from_str(r#"{"polar": {"depth_mm": 6, "rotation": "cw"}}"#).unwrap();
        let p = s.polar.unwrap();
        assert_eq!((p.depth_mm, p.line0_deg, p.rotation), (6.0, 0.0, Rotation::Cw));
        assert!(serde_json::from_str::<Sidecar>(r#"{"mm_per_pixel": 0.02}"#).is_err());
    }
}
