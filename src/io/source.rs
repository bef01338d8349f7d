//! The frame-source abstraction shared by every input format.
//!
//! A [`FrameSource`] is one pullback opened for reading: it knows its frame count and frame
//! size from the header alone, the calibration and timing stored in the file (with where they
//! came from), and decodes **one frame at a time, by index** into a caller buffer
//! ([`FrameSource::read_frame`]). Nothing but the header and one frame's compressed bytes is
//! held in memory, so a pullback of any length streams in constant memory, and frame `i` can be
//! re-read at any time (e.g. to render thumbnails of key frames after the analysis).

use crate::error::Error;
use crate::pipeline::Calibration;
use crate::plane::CartImage;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Rec. 709 luma weights (as in `image`), used for every colour → grey conversion.
pub const LUMA_WEIGHTS: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// One decoded frame: grey (1 channel) or RGB (3 channels, interleaved), values on the 8-bit
/// scale 0–255 as `f32` (16-bit data are scaled down, see each format).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameBuf {
    rows: usize,
    cols: usize,
    channels: usize,
    data: Vec<f32>,
}

impl FrameBuf {
    /// Resizes (grow-only storage) to `rows x cols x channels` and returns the samples to fill.
    pub fn reset(&mut self, rows: usize, cols: usize, channels: usize) -> &mut [f32] {
        self.rows = rows;
        self.cols = cols;
        self.channels = channels;
        self.data.resize(rows * cols * channels, 0.0);
        &mut self.data
    }
    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// 1 (grey) or 3 (RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// The samples, row by row, channels interleaved.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    /// The samples, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
    /// Writes the grey image into `out`: grey frames as they are, RGB frames as Rec. 709 luma
    /// ([`LUMA_WEIGHTS`]).
    pub fn gray_into(&self, out: &mut CartImage) {
        out.resize(self.rows, self.cols);
        let dst = out.as_mut_slice();
        if self.channels == 1 {
            dst.copy_from_slice(&self.data);
        } else {
            for (d, p) in dst.iter_mut().zip(self.data.chunks_exact(self.channels)) {
                *d = LUMA_WEIGHTS[0] * p[0] + LUMA_WEIGHTS[1] * p[1] + LUMA_WEIGHTS[2] * p[2];
            }
        }
    }
    /// The grey image (see [`FrameBuf::gray_into`]).
    #[must_use]
    pub fn to_gray(&self) -> CartImage {
        let mut out = CartImage::default();
        self.gray_into(&mut out);
        out
    }
}

/// Where a calibration or timing value came from (reported in `results.json` and `index.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
#[non_exhaustive]
pub enum ValueSource {
    /// A command-line option (named).
    CommandLine(String),
    /// A column of the `--manifest` CSV (named).
    Manifest(String),
    /// A DICOM attribute (keyword, e.g. `SequenceOfUltrasoundRegions/PhysicalDeltaX`).
    DicomTag(String),
    /// A sidecar file (path): `calibration.json` or a raw file's JSON sidecar.
    Sidecar(String),
    /// Derived from the image: the detected imaging field of a screen capture.
    ImageField(String),
    /// A documented default value.
    Default(String),
}

impl std::fmt::Display for ValueSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueSource::CommandLine(s) => write!(f, "command line {s}"),
            ValueSource::Manifest(s) => write!(f, "manifest column {s}"),
            ValueSource::DicomTag(s) => write!(f, "DICOM {s}"),
            ValueSource::Sidecar(s) => write!(f, "sidecar {s}"),
            ValueSource::ImageField(s) => write!(f, "image field {s}"),
            ValueSource::Default(s) => write!(f, "default {s}"),
        }
    }
}

/// A calibration stored in (or derived for) one pullback, and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCalibration {
    /// The calibration.
    pub calib: Calibration,
    /// Where it came from.
    pub source: ValueSource,
}

/// Timing of one pullback: motorised pullback speed and acquisition time of every frame.
///
/// `frame_times_s[i]` is the time of frame `i` relative to frame 0 (so `frame_times_s[0] == 0`).
/// DICOM sources: `IVUSPullbackRate` (mm/s); frame times from `FrameTimeVector` (increments in
/// ms, cumulated), else `FrameTime` (ms per frame), else `CineRate` (frames/s).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PullbackTiming {
    /// Pullback speed, mm/s.
    pub pullback_mm_per_s: Option<f64>,
    /// Where the speed came from.
    pub pullback_source: Option<ValueSource>,
    /// Time of each frame relative to frame 0, s (one entry per frame).
    pub frame_times_s: Option<Vec<f64>>,
    /// Where the frame times came from.
    pub frame_times_source: Option<ValueSource>,
}

impl PullbackTiming {
    /// Frame times for `n` frames at a constant rate.
    #[must_use]
    pub fn uniform_times_s(n: usize, frames_per_s: f64) -> Vec<f64> {
        (0..n).map(|i| i as f64 / frames_per_s).collect()
    }
    /// Position of frame `i` along the pullback, mm from frame 0 (`speed * time`), when both
    /// the speed and the frame times are known.
    pub fn position_mm(&self, i: usize) -> Option<f64> {
        Some(self.pullback_mm_per_s? * *self.frame_times_s.as_ref()?.get(i)?)
    }
    /// Mean frame rate, frames/s, from the frame times (needs at least two frames).
    pub fn mean_frame_rate_hz(&self) -> Option<f64> {
        let t = self.frame_times_s.as_ref()?;
        let span = t.last()? - t.first()?;
        (t.len() >= 2 && span > 0.0).then(|| (t.len() - 1) as f64 / span)
    }
}

/// One pullback opened for reading, one frame at a time. See the module doc.
pub trait FrameSource: Send {
    /// The file or folder the frames come from.
    fn path(&self) -> &Path;
    /// Short name of the format, e.g. `dicom`, `tiff`, `images`, `raw-polar`, `raw-rf`.
    fn format(&self) -> String;
    /// Number of frames.
    fn len(&self) -> usize;
    /// True when there are no frames.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Frame size `(rows, cols)` (all frames have it).
    fn shape(&self) -> (usize, usize);
    /// Label of frame `i` in results (`source`): a file name, or `file.dcm#i`.
    fn frame_label(&self, i: usize) -> String;
    /// File stem for frame `i`'s overlay image (unique within the pullback).
    fn frame_stem(&self, i: usize) -> String {
        let label = self.frame_label(i);
        let stem = Path::new(&label).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or(label);
        format!("{stem}_{i:05}")
    }
    /// Calibration stored in the file (DICOM tags, raw sidecar), if any.
    fn calibration(&self) -> Option<SourceCalibration>;
    /// Screen captures: the imaging field found and the top-left corner `(row, col)` of the
    /// crop the frames are cut to, in capture pixels (default: none).
    fn imaging_field(&self) -> Option<(super::screen::ImagingField, (isize, isize))> {
        None
    }
    /// Timing stored in the file, if any (default: none known).
    fn timing(&self) -> PullbackTiming {
        PullbackTiming::default()
    }
    /// Decodes frame `i` (any order, any number of times) into `out`.
    ///
    /// # Errors
    /// An error naming the file, the frame and the problem; `i >= len()` is [`Error::Input`].
    fn read_frame(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error>;
    /// Decodes frames `start..start + n` (clipped to the end) into `out` (resized to the number
    /// read). The default decodes serially; sources whose frames are independent files decode in
    /// parallel on the current rayon pool.
    ///
    /// # Errors
    /// The first error in frame order.
    fn read_frames(&mut self, start: usize, n: usize, out: &mut Vec<FrameBuf>) -> Result<(), Error> {
        let end = (start + n).min(self.len());
        out.resize_with(end.saturating_sub(start), FrameBuf::default);
        for (k, buf) in out.iter_mut().enumerate() {
            self.read_frame(start + k, buf)?;
        }
        Ok(())
    }
}

/// The error for an index past the end.
pub(crate) fn frame_out_of_range(path: &Path, i: usize, n: usize) -> Error {
    Error::Input { path: path.to_path_buf(), reason: format!("frame {i} requested but the pullback has {n} frames") }
}
