//! Reading pullbacks, one frame at a time, in every supported input format.
//!
//! | module | input | one pullback is |
//! |---|---|---|
//! | [`images`] | PNG / TIFF / JPEG / BMP files, folders of them | all plain image files and folders named together |
//! | [`multipage`] | multi-page TIFF | one file |
//! | [`dicom`] | DICOM (US multi-frame, single-frame, secondary capture) | one file |
//! | [`raw`] | raw polar grey levels or RF A-lines + JSON sidecar | one file |
//! | [`screen`] | screen captures (any of the above, RGB with overlays) | wraps one of the above |
//!
//! Every format implements [`FrameSource`] ([`source`]): frame count, frame size, calibration
//! and timing from the header, and random access to frame `i` decoded into a reused
//! [`FrameBuf`]. [`plan_pullbacks`] groups command-line inputs into pullbacks and
//! [`open_source`] opens one. Calibration rules (command line > file > `calibration.json`) are
//! in [`calibration`].

pub mod calibration;
pub mod dicom;
pub mod images;
pub mod multipage;
pub mod raw;
pub mod screen;
pub mod source;

pub use calibration::{
    CalibrationOptions, PolarSidecar, ResolvedCalibration, SIDECAR_NAME, Sidecar, resolve_calibration,
    resolve_calibration_with, sidecar_dir,
};
pub use dicom::{DicomSource, is_dicom_file};
pub use images::{
    IMAGE_EXTENSIONS, ImageFilesSource, MAX_IMAGE_SIDE_PX, collect_inputs, frame_from_dynamic, has_image_extension,
    natural_cmp, plane_from_dynamic, read_image, read_image_frame, read_image_shape,
};
pub use multipage::{TiffSource, count_tiff_pages};
pub use raw::{RawSidecar, RawSource};
pub use screen::{ImagingField, ScreenCaptureSource};
pub use source::{FrameBuf, FrameSource, PullbackTiming, SourceCalibration, ValueSource};

use crate::error::Error;
use std::path::{Path, PathBuf};

/// The format of one pullback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullbackKind {
    /// Image files, one frame each, in this order.
    Images(Vec<PathBuf>),
    /// A DICOM file.
    Dicom,
    /// A multi-page TIFF.
    Tiff,
    /// A raw polar / RF file with a JSON sidecar.
    Raw,
}

/// One pullback to analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullbackInput {
    /// Name used for its output folder (unique within a study).
    pub name: String,
    /// The file (DICOM, TIFF, raw) or the folder / first file of an image sequence.
    pub path: PathBuf,
    /// Its format.
    pub kind: PullbackKind,
}

impl PullbackInput {
    /// The files of the pullback: its image files, or the one multi-frame file (where
    /// `calibration.json` is looked for).
    pub fn files(&self) -> Vec<PathBuf> {
        match &self.kind {
            PullbackKind::Images(paths) => paths.clone(),
            _ => vec![self.path.clone()],
        }
    }
}

fn stem_of(p: &Path) -> String {
    p.file_stem()
        .or_else(|| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pullback".into())
}

/// The pullback kind of a file named on its own: DICOM (by content), multi-page TIFF
/// (`.tif`/`.tiff` with more than one page), raw (raw extension or a JSON sidecar next to a
/// non-image file), else `None` (a plain image: one frame).
///
/// # Errors
/// Errors reading a TIFF's page chain.
pub fn classify_file(path: &Path) -> Result<Option<PullbackKind>, Error> {
    if dicom::is_dicom_file(path) {
        return Ok(Some(PullbackKind::Dicom));
    }
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    if (ext == "tif" || ext == "tiff") && count_tiff_pages(path)? > 1 {
        return Ok(Some(PullbackKind::Tiff));
    }
    if raw::has_raw_extension(path) || (!has_image_extension(path) && raw::raw_sidecar_path(path).is_some()) {
        return Ok(Some(PullbackKind::Raw));
    }
    if ext == "dcm" || ext == "dicom" {
        return Ok(Some(PullbackKind::Dicom)); // reported as "not a DICOM file" when opened
    }
    Ok(None)
}

/// Groups command-line inputs into pullbacks: each DICOM, multi-page TIFF or raw file is one
/// pullback; all plain image files and folders together are one pullback (its frames, in the
/// order given, folders in natural order), placed where the first of them was named. Names are
/// file stems (folder name for a folder), made unique with `-2`, `-3`...
///
/// # Errors
/// [`Error::Io`] for a missing path, [`Error::Input`] for an empty list or folder.
pub fn plan_pullbacks(inputs: &[PathBuf]) -> Result<Vec<PullbackInput>, Error> {
    if inputs.is_empty() {
        return Err(Error::Input { path: PathBuf::new(), reason: "no input given".into() });
    }
    let mut out: Vec<PullbackInput> = Vec::new();
    let mut images: Option<usize> = None;
    let mut image_args: Vec<PathBuf> = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|source| Error::Io { path: input.clone(), source })?;
        let kind = if meta.is_dir() { None } else { classify_file(input)? };
        match kind {
            Some(kind) => out.push(PullbackInput { name: stem_of(input), path: input.clone(), kind }),
            None => {
                if images.is_none() {
                    images = Some(out.len());
                    let name = if meta.is_dir() {
                        stem_of(input)
                    } else {
                        input.parent().filter(|p| !p.as_os_str().is_empty()).map_or("frames".into(), stem_of)
                    };
                    out.push(PullbackInput { name, path: input.clone(), kind: PullbackKind::Images(Vec::new()) });
                }
                image_args.push(input.clone());
            }
        }
    }
    if let Some(k) = images {
        out[k].kind = PullbackKind::Images(collect_inputs(&image_args)?);
    }
    let mut seen = std::collections::HashSet::new();
    for p in &mut out {
        let base = p.name.clone();
        let mut k = 2;
        while !seen.insert(p.name.clone()) {
            p.name = format!("{base}-{k}");
            k += 1;
        }
    }
    Ok(out)
}

/// Opens one pullback (header only; no pixel is decoded).
///
/// # Errors
/// The format's open errors, naming the file.
pub fn open_source(input: &PullbackInput) -> Result<Box<dyn FrameSource>, Error> {
    Ok(match &input.kind {
        PullbackKind::Images(paths) => Box::new(ImageFilesSource::open(&input.path, paths.clone())?),
        PullbackKind::Dicom => Box::new(DicomSource::open(&input.path)?),
        PullbackKind::Tiff => Box::new(TiffSource::open(&input.path)?),
        PullbackKind::Raw => Box::new(RawSource::open(&input.path)?),
    })
}
