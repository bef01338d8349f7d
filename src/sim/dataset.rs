//! Folders of phantom frames that `truelumen analyze` can read as they are.
//!
//! [`write_dataset`] writes `count` frames simulated from [`PhantomSpec::random`]`(seed + i)`,
//! with the Cartesian image side and field of view fixed for all frames (`analyze` needs one
//! size and one calibration per folder), plus the calibration sidecars:
//!
//! ```text
//! DIR/frame_000.png ...          Cartesian, 8-bit grey
//! DIR/calibration.json           {"mm_per_px": fov_mm / side_px}
//! DIR/polar/frame_000.png ...    polar, rows = A-lines
//! DIR/polar/calibration.json     {"polar": {...}}, only when all frames share one polar geometry
//! DIR/truth/frame_000.json ...   the frame's [`Truth`](super::Truth)
//! ```
//!
//! Frames are simulated in parallel (rayon) and written by name, so the files do not depend on
//! the thread count.

use super::{PhantomSpec, Simulator, write_phantom};
use crate::error::{Error, check_range};
use crate::geometry::Rotation;
use crate::io::{PolarSidecar, SIDECAR_NAME, has_image_extension};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Polar acquisition shared by every frame of a dataset (`truelumen simulate --polar`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedPolar {
    /// A-lines per frame.
    pub n_lines: usize,
    /// Samples per A-line.
    pub n_samples: usize,
    /// Imaging depth covered by the samples, mm.
    pub depth_mm: f64,
    /// Display angle of line 0, degrees counter-clockwise from +x.
    pub line0_angle_deg: f64,
    /// Direction in which A-lines advance.
    pub rotation: Rotation,
}

impl Default for FixedPolar {
    /// 512 lines x 512 samples over 5 mm, line 0 at 0°, counter-clockwise.
    fn default() -> Self {
        Self { n_lines: 512, n_samples: 512, depth_mm: 5.0, line0_angle_deg: 0.0, rotation: Rotation::Ccw }
    }
}

/// What [`write_dataset`] generates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatasetSpec {
    /// Number of frames.
    pub count: usize,
    /// Seed of frame 0; frame `i` uses `PhantomSpec::random(seed + i)`.
    pub seed: u64,
    /// Side of every Cartesian image, pixels.
    pub side_px: usize,
    /// Field of view (image side) of every Cartesian image, mm.
    pub fov_mm: f64,
    /// Polar geometry for all frames; `None` keeps each frame's random geometry.
    pub polar: Option<FixedPolar>,
    /// Chronic-total-occlusion scenes ([`PhantomSpec::random_cto`]: catheter intraluminal,
    /// intraplaque or subintimal with the true lumen beside it) instead of
    /// [`PhantomSpec::random`].
    pub cto: bool,
}

impl Default for DatasetSpec {
    /// 40 frames from seed 1, 512x512 pixels over 10 mm, random polar geometry.
    fn default() -> Self {
        Self { count: 40, seed: 1, side_px: 512, fov_mm: 10.0, polar: None, cto: false }
    }
}

impl DatasetSpec {
    /// File stem of frame `i`: `frame_000`, `frame_001`, ...
    pub fn frame_name(i: usize) -> String {
        format!("frame_{i:03}")
    }

    /// Cartesian pixel size of every frame, mm.
    pub fn mm_per_px(&self) -> f64 {
        self.fov_mm / self.side_px as f64
    }

    /// The spec of frame `i`: `PhantomSpec::random(seed + i)` (or `random_cto` when
    /// [`DatasetSpec::cto`]) with the image side and field of
    /// view replaced, the catheter offset scaled to the new side (same fraction of the image),
    /// and the polar geometry replaced when [`DatasetSpec::polar`] is set.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if `seed + i` overflows or the resulting spec is invalid.
    pub fn frame_spec(&self, i: usize) -> Result<PhantomSpec, Error> {
        let seed = u64::try_from(i)
            .ok()
            .and_then(|i| self.seed.checked_add(i))
            .ok_or_else(|| Error::param("seed", "seed + frame index overflows u64"))?;
        let mut s = if self.cto { PhantomSpec::random_cto(seed) } else { PhantomSpec::random(seed) };
        let scale = self.side_px as f64 / s.image_side_px as f64;
        s.catheter_offset_px = s.catheter_offset_px.map(|v| v * scale);
        s.image_side_px = self.side_px;
        s.fov_mm = self.fov_mm;
        if let Some(p) = self.polar {
            s.n_lines = p.n_lines;
            s.n_samples = p.n_samples;
            s.depth_mm = p.depth_mm;
            s.line0_angle_deg = p.line0_angle_deg;
            s.rotation = p.rotation;
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks the dataset parameters (the frame specs are checked by [`DatasetSpec::frame_spec`]).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.count == 0 || self.count > 100_000 {
            return Err(Error::param("count", format!("must be within [1, 100000], got {}", self.count)));
        }
        if !(16..=4096).contains(&self.side_px) {
            return Err(Error::param("side_px", format!("must be within [16, 4096], got {}", self.side_px)));
        }
        check_range("fov_mm", self.fov_mm, 1.0, 30.0)
    }
}

/// What [`write_dataset`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInfo {
    /// File stems of the frames, in order.
    pub names: Vec<String>,
    /// Pixel size written to `calibration.json`, mm.
    pub mm_per_px: f64,
    /// The polar sidecar written to `polar/calibration.json`, or `None` when the frames do not
    /// share one polar geometry (then no polar sidecar exists).
    pub polar_sidecar: Option<PolarSidecar>,
}

/// Writes the dataset described by `spec` into `dir` (layout in the [module docs](self)).
///
/// `dir` may exist but must not hold image files other than the ones this call writes (a
/// leftover `frame_050.png` would otherwise be analysed with the new frames). A stale
/// `polar/calibration.json` is removed when the new frames have no common polar geometry.
///
/// # Errors
/// [`Error::InvalidParam`] for invalid parameters, [`Error::Input`] if `dir` holds other
/// images, [`Error::Write`] naming the file that cannot be written.
pub fn write_dataset(dir: &Path, spec: &DatasetSpec) -> Result<DatasetInfo, Error> {
    spec.validate()?;
    let specs = (0..spec.count).map(|i| spec.frame_spec(i)).collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = (0..spec.count).map(DatasetSpec::frame_name).collect();
    check_no_foreign_images(dir, &names)?;

    specs.par_iter().zip(&names).try_for_each_init(Simulator::new, |sim, (s, name)| {
        let p = sim.simulate(s)?;
        write_phantom(dir, name, &p).map_err(as_write_error)
    })?;

    let mm_per_px = spec.mm_per_px();
    write_json(&dir.join(SIDECAR_NAME), &Sidecar { mm_per_px: Some(mm_per_px), polar: None })?;
    let polar_sidecar = common_polar(&specs);
    let polar_path = dir.join("polar").join(SIDECAR_NAME);
    match polar_sidecar {
        Some(p) => write_json(&polar_path, &Sidecar { mm_per_px: None, polar: Some(p) })?,
        None => match std::fs::remove_file(&polar_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Write { path: polar_path, source: e });
            }
            _ => {}
        },
    }
    Ok(DatasetInfo { names, mm_per_px, polar_sidecar })
}

/// The polar sidecar fitting every spec, if they share one geometry.
fn common_polar(specs: &[PhantomSpec]) -> Option<PolarSidecar> {
    let key = |s: &PhantomSpec| (s.n_lines, s.n_samples, s.depth_mm, s.line0_angle_deg, s.rotation);
    let first = specs.first()?;
    specs.iter().all(|s| key(s) == key(first)).then_some(PolarSidecar {
        depth_mm: first.depth_mm,
        line0_deg: first.line0_angle_deg,
        rotation: first.rotation,
    })
}

/// Fails if `dir` or `dir/polar` holds an image file that is not one of `names`.
fn check_no_foreign_images(dir: &Path, names: &[String]) -> Result<(), Error> {
    for d in [dir.to_path_buf(), dir.join("polar")] {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path: d, source }),
        };
        for entry in entries {
            let path: PathBuf = entry.map_err(|source| Error::Io { path: d.clone(), source })?.path();
            let ours = path.extension().is_some_and(|e| e == "png")
                && path.file_stem().is_some_and(|s| names.iter().any(|n| s == n.as_str()));
            if path.is_file() && has_image_extension(&path) && !ours {
                return Err(Error::Input {
                    path,
                    reason: "the output folder already holds other frames; use an empty folder".into(),
                });
            }
        }
    }
    Ok(())
}

/// The fields of [`crate::io::Sidecar`] a dataset uses; absent ones are left out of the file.
#[derive(Serialize)]
struct Sidecar {
    #[serde(skip_serializing_if = "Option::is_none")]
    mm_per_px: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    polar: Option<PolarSidecar>,
}

fn write_json(path: &Path, value: &Sidecar) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Format { path: path.to_path_buf(), reason: e.to_string() })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

/// [`write_phantom`] reports files it cannot write as [`Error::Io`]; here they are output errors.
fn as_write_error(e: Error) -> Error {
    match e {
        Error::Io { path, source } => Error::Write { path, source },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_specs_share_size_and_fov() {
        let ds = DatasetSpec { count: 6, seed: 3, side_px: 300, fov_mm: 9.0, polar: None, cto: false };
        for i in 0..ds.count {
            let s = ds.frame_spec(i).unwrap();
            let r = PhantomSpec::random(3 + i as u64);
            assert_eq!((s.image_side_px, s.fov_mm, s.seed), (300, 9.0, 3 + i as u64));
            // The catheter offset stays the same fraction of the image side.
            for k in 0..2 {
                let frac = |x: &PhantomSpec| x.catheter_offset_px[k] / x.image_side_px as f64;
                assert!((frac(&s) - frac(&r)).abs() < 1e-12);
            }
            assert_eq!((s.n_lines, s.depth_mm, s.lumen.clone()), (r.n_lines, r.depth_mm, r.lumen));
        }
        let specs: Vec<_> = (0..ds.count).map(|i| ds.frame_spec(i).unwrap()).collect();
        assert_eq!(common_polar(&specs), None);
        let fixed = DatasetSpec { polar: Some(FixedPolar::default()), ..ds };
        let specs: Vec<_> = (0..ds.count).map(|i| fixed.frame_spec(i).unwrap()).collect();
        assert_eq!(common_polar(&specs).map(|p| p.depth_mm), Some(5.0));
    }

    #[test]
    fn cto_datasets_use_the_cto_scenes() {
        let ds = DatasetSpec { count: 3, seed: 7000, side_px: 300, fov_mm: 9.0, polar: None, cto: true };
        for i in 0..ds.count {
            let mut r = PhantomSpec::random_cto(7000 + i as u64);
            let scale = 300.0 / r.image_side_px as f64;
            r.catheter_offset_px = r.catheter_offset_px.map(|v| v * scale);
            r.image_side_px = 300;
            r.fov_mm = 9.0;
            assert_eq!(ds.frame_spec(i).unwrap(), r);
            assert_ne!(DatasetSpec { cto: false, ..ds }.frame_spec(i).unwrap(), r);
        }
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let bad = |ds: DatasetSpec, name: &str| {
            assert!(matches!(ds.validate(), Err(Error::InvalidParam { name: n, .. }) if n == name), "{name}");
        };
        bad(DatasetSpec { count: 0, ..DatasetSpec::default() }, "count");
        bad(DatasetSpec { side_px: 8, ..DatasetSpec::default() }, "side_px");
        bad(DatasetSpec { fov_mm: f64::NAN, ..DatasetSpec::default() }, "fov_mm");
        let ds = DatasetSpec { seed: u64::MAX, ..DatasetSpec::default() };
        assert!(ds.frame_spec(0).is_ok() && ds.frame_spec(1).is_err());
    }
}
