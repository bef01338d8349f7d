//! Reading frames from image files, one at a time.
//!
//! * [`read_image`] decodes one PNG, TIFF, JPEG or BMP file (8- or 16-bit; grey, grey+alpha,
//!   RGB or RGBA) into a [`CartImage`] of `f32`: 8-bit values are kept as they are, 16-bit values
//!   are scaled to 0–255, colour is converted to luma with the Rec. 709 weights
//!   (0.2126 R + 0.7152 G + 0.0722 B, the weights `image` uses); alpha is ignored.
//! * [`collect_inputs`] turns a list of files and folders into the list of frames: folders are
//!   listed non-recursively, keep only image extensions ([`IMAGE_EXTENSIONS`]) and are sorted in
//!   natural order ([`natural_cmp`]: `frame2` before `frame10`); files named explicitly are kept
//!   in the order given, whatever their extension.
//! * [`FrameReader`] yields the frames one at a time (or in small chunks decoded in parallel),
//!   so a pullback is never held in memory as a whole. It checks that all frames have the size
//!   of the first one.
//! * [`Sidecar`] is the optional `calibration.json` stored next to the frames.
//!
//! Every error names the file it is about. Images wider or taller than [`MAX_IMAGE_SIDE_PX`]
//! are rejected from their header, before any pixel is decoded (decompression bombs).

use crate::error::{Error, check_positive};
use crate::geometry::{PolarGeometry, Rotation};
use crate::pipeline::Calibration;
use crate::plane::CartImage;
use image::{DynamicImage, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// File extensions (lower case) taken from folders.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "tif", "tiff", "jpg", "jpeg", "bmp"];

/// Largest accepted width or height, pixels.
pub const MAX_IMAGE_SIDE_PX: u32 = 8192;

/// Name of the calibration file looked up next to the frames.
pub const SIDECAR_NAME: &str = "calibration.json";

/// Rec. 709 luma weights (as in `image`).
const LUMA_WEIGHTS: [f32; 3] = [0.2126, 0.7152, 0.0722];

fn decode_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Decode { path: path.to_path_buf(), reason: e.to_string() }
}

/// Maps an `image` error to our error naming `path`: I/O problems stay I/O errors, the rest
/// (unknown format, corrupt or truncated data, size limit) are decode errors.
fn image_error(path: &Path, e: image::ImageError) -> Error {
    match e {
        image::ImageError::IoError(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => {
            Error::Io { path: path.to_path_buf(), source }
        }
        image::ImageError::Limits(_) => decode_error(
            path,
            format!("image exceeds the {MAX_IMAGE_SIDE_PX}x{MAX_IMAGE_SIDE_PX} pixel limit or the memory limit"),
        ),
        other => decode_error(path, other),
    }
}

/// Opens `path` with the format guessed from its content and the size limits applied.
fn open_reader(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, Error> {
    let io_err = |source| Error::Io { path: path.to_path_buf(), source };
    let mut reader = ImageReader::open(path).map_err(io_err)?.with_guessed_format().map_err(io_err)?;
    if reader.format().is_none() {
        return Err(decode_error(path, "unknown image format"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE_PX);
    limits.max_image_height = Some(MAX_IMAGE_SIDE_PX);
    reader.limits(limits);
    Ok(reader)
}

/// Reads only the header of an image file: `(rows, cols)`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened, [`Error::Decode`] if it is not an image of a
/// supported format or exceeds [`MAX_IMAGE_SIDE_PX`].
pub fn read_image_shape(path: &Path) -> Result<(usize, usize), Error> {
    let (w, h) = open_reader(path)?.into_dimensions().map_err(|e| image_error(path, e))?;
    check_side(path, w, h)?;
    Ok((h as usize, w as usize))
}

fn check_side(path: &Path, w: u32, h: u32) -> Result<(), Error> {
    if w == 0 || h == 0 || w > MAX_IMAGE_SIDE_PX || h > MAX_IMAGE_SIDE_PX {
        return Err(decode_error(
            path,
            format!("image is {w}x{h} pixels; accepted sizes are 1..={MAX_IMAGE_SIDE_PX} per side"),
        ));
    }
    Ok(())
}

/// Decodes one image file into an `f32` grey frame (see the module doc for the conversion).
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened or read, [`Error::Decode`] if it is not a
/// supported image, is corrupt or truncated, or exceeds [`MAX_IMAGE_SIDE_PX`].
pub fn read_image(path: &Path) -> Result<CartImage, Error> {
    let reader = open_reader(path)?;
    if reader.format() == Some(image::ImageFormat::Jpeg) {
        check_jpeg_complete(path)?;
    }
    let img = reader.decode().map_err(|e| image_error(path, e))?;
    check_side(path, img.width(), img.height())?;
    Ok(plane_from_dynamic(&img))
}

/// Rejects a JPEG file cut short: the JPEG decoder fills the missing part of a truncated scan
/// with grey instead of failing, which would be analysed as if it were tissue. A complete file
/// has an end-of-image marker (`FF D9`) after its last start-of-scan marker (`FF DA`); inside
/// the entropy-coded data a `FF` byte is always followed by `00` or a restart marker, so the
/// pair cannot occur there by chance.
fn check_jpeg_complete(path: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let complete = last_sos.is_some_and(|p| bytes[p..].windows(2).any(|w| w == [0xFF, 0xD9]));
    if complete {
        Ok(())
    } else {
        Err(decode_error(path, "JPEG data is truncated (no end-of-image marker after the last scan)"))
    }
}

/// Converts a decoded image to an `f32` grey plane (8-bit as is, 16-bit scaled to 0–255,
/// colour to Rec. 709 luma, float images from 0–1 to 0–255).
pub fn plane_from_dynamic(img: &DynamicImage) -> CartImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    const SCALE16: f32 = 255.0 / 65535.0;
    let data = match img {
        DynamicImage::ImageLuma8(b) => luma_of(b.as_raw(), 1, 1.0),
        DynamicImage::ImageLumaA8(b) => luma_of(b.as_raw(), 2, 1.0),
        DynamicImage::ImageRgb8(b) => luma_of(b.as_raw(), 3, 1.0),
        DynamicImage::ImageRgba8(b) => luma_of(b.as_raw(), 4, 1.0),
        DynamicImage::ImageLuma16(b) => luma_of(b.as_raw(), 1, SCALE16),
        DynamicImage::ImageLumaA16(b) => luma_of(b.as_raw(), 2, SCALE16),
        DynamicImage::ImageRgb16(b) => luma_of(b.as_raw(), 3, SCALE16),
        DynamicImage::ImageRgba16(b) => luma_of(b.as_raw(), 4, SCALE16),
        other => other.to_luma32f().as_raw().iter().map(|&v| v * 255.0).collect(),
    };
    CartImage::from_vec(h, w, data).unwrap_or_else(|_| unreachable!("decoded buffer has w*h pixels"))
}

fn luma_of<T: Copy + Into<f32>>(raw: &[T], channels: usize, scale: f32) -> Vec<f32> {
    raw.chunks_exact(channels)
        .map(|p| {
            let v = if channels < 3 {
                p[0].into()
            } else {
                LUMA_WEIGHTS[0] * p[0].into() + LUMA_WEIGHTS[1] * p[1].into() + LUMA_WEIGHTS[2] * p[2].into()
            };
            v * scale
        })
        .collect()
}

/// Whether `path` has one of the [`IMAGE_EXTENSIONS`] (case-insensitive).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Natural ("human") order of two names: runs of ASCII digits compare by numeric value
/// (`frame2 < frame10`), everything else compares case-insensitively. Ties are broken by
/// fewer leading zeros first, then by plain byte order, so the order is total and stable.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    let mut zeros_tiebreak = Ordering::Equal;
    loop {
        match (x.first(), y.first()) {
            (None, None) => break,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(cx), Some(cy)) if cx.is_ascii_digit() && cy.is_ascii_digit() => {
                let (dx, rx) = split_digits(x);
                let (dy, ry) = split_digits(y);
                let (tx, ty) = (trim_zeros(dx), trim_zeros(dy));
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord != Ordering::Equal {
                    return ord;
                }
                if zeros_tiebreak == Ordering::Equal {
                    zeros_tiebreak = dx.len().cmp(&dy.len());
                }
                (x, y) = (rx, ry);
            }
            (Some(cx), Some(cy)) => {
                let ord = cx.to_ascii_lowercase().cmp(&cy.to_ascii_lowercase());
                if ord != Ordering::Equal {
                    return ord;
                }
                (x, y) = (&x[1..], &y[1..]);
            }
        }
    }
    zeros_tiebreak.then_with(|| a.cmp(b))
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    s.split_at(n)
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n..]
}

fn file_name_lossy(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

/// Expands a list of files and folders into the frame files, in order: each folder's image
/// files (non-recursive, [`IMAGE_EXTENSIONS`], natural order by file name), each file as given.
///
/// # Errors
/// [`Error::Io`] for a path that does not exist or a folder that cannot be listed;
/// [`Error::Input`] for an empty input list or a folder without image files.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for input in inputs {
        let io_err = |source| Error::Io { path: input.clone(), source };
        let meta = std::fs::metadata(input).map_err(io_err)?;
        if !meta.is_dir() {
            out.push(input.clone());
            continue;
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(input).map_err(io_err)? {
            let path = entry.map_err(io_err)?.path();
            if has_image_extension(&path) && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(Error::Input {
                path: input.clone(),
                reason: format!("folder holds no image files ({})", IMAGE_EXTENSIONS.join(", ")),
            });
        }
        files.sort_by(|a, b| natural_cmp(&file_name_lossy(a), &file_name_lossy(b)));
        out.extend(files);
    }
    if out.is_empty() {
        return Err(Error::Input { path: PathBuf::new(), reason: "no input given".into() });
    }
    Ok(out)
}

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

/// One decoded frame and where it came from.
#[derive(Debug, Clone)]
pub struct InputFrame {
    /// Position in the whole input sequence (0-based).
    pub index: usize,
    /// The file.
    pub path: PathBuf,
    /// The pixels.
    pub image: CartImage,
}

impl InputFrame {
    /// The file name, used as `source` in the report.
    pub fn source(&self) -> String {
        file_name_lossy(&self.path)
    }
}

/// Streams frames from a list of files, checking that all have the same size.
///
/// ```no_run
/// use truelumen::io::{collect_inputs, FrameReader};
/// let paths = collect_inputs(&["frames/".into()])?;
/// let mut reader = FrameReader::new(paths);
/// while let Some(frame) = reader.next() {
///     let frame = frame?;
///     println!("{} {:?}", frame.source(), frame.image.shape());
/// }
/// # Ok::<(), truelumen::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FrameReader {
    paths: Vec<PathBuf>,
    next: usize,
    shape: Option<((usize, usize), PathBuf)>,
}

impl FrameReader {
    /// A reader over `paths` (e.g. from [`collect_inputs`]). Nothing is read yet.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self { paths, next: 0, shape: None }
    }

    /// Number of frames in total.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when there are no frames at all.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The files, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Reads every file's header (no pixel decoding) and checks that all frames have the same
    /// size; returns that size `(rows, cols)`. Call it to fail fast before a long run.
    ///
    /// # Errors
    /// As [`read_image_shape`]; [`Error::Input`] naming the first file whose size differs.
    pub fn probe(&mut self) -> Result<(usize, usize), Error> {
        for path in &self.paths {
            let shape = read_image_shape(path)?;
            check_shape(&mut self.shape, path, shape)?;
        }
        self.shape
            .as_ref()
            .map(|(s, _)| *s)
            .ok_or_else(|| Error::Input { path: PathBuf::new(), reason: "no input given".into() })
    }

    /// Decodes up to `max` next frames in parallel on the current rayon pool and returns them
    /// in order (empty at the end).
    ///
    /// # Errors
    /// The first error in input order, as for [`Iterator::next`].
    pub fn read_chunk(&mut self, max: usize) -> Result<Vec<InputFrame>, Error> {
        use rayon::prelude::*;
        let start = self.next;
        let end = (start + max.max(1)).min(self.paths.len());
        let decoded: Vec<Result<CartImage, Error>> = self.paths[start..end].par_iter().map(|p| read_image(p)).collect();
        self.next = end;
        let mut frames = Vec::with_capacity(decoded.len());
        for (k, image) in decoded.into_iter().enumerate() {
            let path = self.paths[start + k].clone();
            let image = image?;
            check_shape(&mut self.shape, &path, image.shape())?;
            frames.push(InputFrame { index: start + k, path, image });
        }
        Ok(frames)
    }
}

fn check_shape(
    expected: &mut Option<((usize, usize), PathBuf)>,
    path: &Path,
    shape: (usize, usize),
) -> Result<(), Error> {
    match expected {
        None => {
            *expected = Some((shape, path.to_path_buf()));
            Ok(())
        }
        Some((want, first)) if *want != shape => Err(Error::Input {
            path: path.to_path_buf(),
            reason: format!(
                "frame is {}x{} pixels (width x height) but {} is {}x{}; all frames of a run must have the same size",
                shape.1,
                shape.0,
                first.display(),
                want.1,
                want.0
            ),
        }),
        Some(_) => Ok(()),
    }
}

impl Iterator for FrameReader {
    type Item = Result<InputFrame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.paths.get(self.next)?.clone();
        let index = self.next;
        self.next += 1;
        Some(read_image(&path).and_then(|image| {
            check_shape(&mut self.shape, &path, image.shape())?;
            Ok(InputFrame { index, path, image })
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.paths.len() - self.next;
        (n, Some(n))
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
    (rows, cols): (usize, usize),
) -> Result<ResolvedCalibration, Error> {
    if opts.polar && opts.mm_per_px.is_some() {
        return Err(Error::param("mm_per_px", "cannot be combined with polar frames (use depth_mm)"));
    }
    let from_cli = opts.mm_per_px.is_some() || (opts.polar && opts.depth_mm.is_some());
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
    Ok(ResolvedCalibration { calib, center_px, origin })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["frame10.png", "frame2.png", "Frame1.png", "frame02.png", "frame1a.png", "a", "frame"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a", "frame", "Frame1.png", "frame1a.png", "frame2.png", "frame02.png", "frame10.png"]);
        assert_eq!(natural_cmp("x9", "x10"), Ordering::Less);
        assert_eq!(natural_cmp("x100", "x99"), Ordering::Greater);
        assert_eq!(natural_cmp("img_007_2", "img_7_10"), Ordering::Less);
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
        // Digits longer than any integer type still compare correctly.
        assert_eq!(natural_cmp("f123456789012345678901234567890", "f99"), Ordering::Greater);
    }

    #[test]
    fn natural_order_is_antisymmetric() {
        let names = ["a1", "a01", "A1", "a1b", "a", "1", "01", "", "b", "a10", "a2"];
        for x in names {
            for y in names {
                assert_eq!(natural_cmp(x, y), natural_cmp(y, x).reverse(), "{x} {y}");
                assert_eq!(natural_cmp(x, y) == Ordering::Equal, x == y, "{x} {y}");
            }
        }
    }

    #[test]
    fn luma_conversion() {
        let rgb = image::RgbImage::from_raw(2, 1, vec![255, 0, 0, 10, 10, 10]).unwrap();
        let p = plane_from_dynamic(&DynamicImage::ImageRgb8(rgb));
        assert!((p.as_slice()[0] - 0.2126 * 255.0).abs() < 1e-3);
        assert!((p.as_slice()[1] - 10.0).abs() < 1e-4);
        let g16 = image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![65535u16, 257]).unwrap();
        let p = plane_from_dynamic(&DynamicImage::ImageLuma16(g16));
        assert!((p.as_slice()[0] - 255.0).abs() < 1e-3 && (p.as_slice()[1] - 1.0).abs() < 1e-3);
        let g8 = image::GrayImage::from_raw(3, 1, vec![0, 100, 255]).unwrap();
        assert_eq!(plane_from_dynamic(&DynamicImage::ImageLuma8(g8)).as_slice(), &[0.0, 100.0, 255.0]);
    }

    #[test]
    fn oversized_images_are_rejected_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        image::GrayImage::new(MAX_IMAGE_SIDE_PX + 1, 1).save(&path).unwrap();
        for err in [read_image(&path).unwrap_err(), read_image_shape(&path).unwrap_err()] {
            assert!(matches!(&err, Error::Decode { path: p, .. } if p == &path), "{err}");
            assert!(err.to_string().contains("8192"), "{err}");
        }
    }

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
