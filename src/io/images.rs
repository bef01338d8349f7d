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
//! * [`ImageFilesSource`] is the [`FrameSource`] over such a list: one frame per file, decoded
//!   one at a time (or a few in parallel), all sizes checked from the headers when opened.
//!
//! Every error names the file it is about. Images wider or taller than [`MAX_IMAGE_SIDE_PX`]
//! are rejected from their header, before any pixel is decoded (decompression bombs).

use super::source::{FrameBuf, FrameSource, LUMA_WEIGHTS, SourceCalibration, frame_out_of_range};
use crate::error::Error;
use crate::plane::CartImage;
use image::{DynamicImage, ImageReader, Limits};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// File extensions (lower case) taken from folders.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "tif", "tiff", "jpg", "jpeg", "bmp"];

/// Largest accepted width or height, pixels.
pub const MAX_IMAGE_SIDE_PX: u32 = 8192;

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

pub(crate) fn file_name_lossy(p: &Path) -> String {
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

/// A pullback given as image files (one frame per file, e.g. a folder from
/// [`collect_inputs`]). All headers are read when it is opened, so a file of another size fails
/// before any frame is analysed. Colour images are kept as RGB ([`FrameBuf`] with 3 channels)
/// so that screen-capture processing can see coloured overlays.
#[derive(Debug, Clone)]
pub struct ImageFilesSource {
    paths: Vec<PathBuf>,
    shape: (usize, usize),
    root: PathBuf,
}

impl ImageFilesSource {
    /// Opens the frames `paths` (in order); `root` names the pullback (its folder or first file).
    ///
    /// # Errors
    /// As [`read_image_shape`]; [`Error::Input`] for an empty list; [`Error::Inconsistent`]
    /// naming the first file whose size differs from the first file's.
    pub fn open(root: &Path, paths: Vec<PathBuf>) -> Result<Self, Error> {
        let first =
            paths.first().ok_or_else(|| Error::Input { path: root.to_path_buf(), reason: "no input given".into() })?;
        let shape = read_image_shape(first)?;
        for (k, path) in paths.iter().enumerate().skip(1) {
            let s = read_image_shape(path)?;
            if s != shape {
                return Err(size_mismatch(path, k, s, first, shape));
            }
        }
        Ok(Self { paths, shape, root: root.to_path_buf() })
    }

    /// The files, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

fn size_mismatch(path: &Path, frame: usize, got: (usize, usize), first: &Path, want: (usize, usize)) -> Error {
    Error::Inconsistent {
        path: path.to_path_buf(),
        reason: format!(
            "frame {frame} is {}x{} pixels (width x height) but {} is {}x{}; all frames of a pullback must have the same size",
            got.1,
            got.0,
            first.display(),
            want.1,
            want.0
        ),
    }
}

/// Decodes one image file into `out`: grey as grey, colour as RGB (see the module doc for scaling).
///
/// # Errors
/// As [`read_image`].
pub fn read_image_frame(path: &Path, out: &mut FrameBuf) -> Result<(), Error> {
    let reader = open_reader(path)?;
    if reader.format() == Some(image::ImageFormat::Jpeg) {
        check_jpeg_complete(path)?;
    }
    let img = reader.decode().map_err(|e| image_error(path, e))?;
    check_side(path, img.width(), img.height())?;
    frame_from_dynamic(&img, out);
    Ok(())
}

/// Copies a decoded image into `out` (1 channel for grey, 3 for colour; alpha dropped; 16-bit
/// scaled to 0–255; float images from 0–1 to 0–255).
pub fn frame_from_dynamic(img: &DynamicImage, out: &mut FrameBuf) {
    const SCALE16: f32 = 255.0 / 65535.0;
    let (w, h) = (img.width() as usize, img.height() as usize);
    fn fill<T: Copy + Into<f32>>(dst: &mut [f32], raw: &[T], ch_in: usize, ch_out: usize, scale: f32) {
        for (d, p) in dst.chunks_exact_mut(ch_out).zip(raw.chunks_exact(ch_in)) {
            for (dv, pv) in d.iter_mut().zip(p) {
                *dv = (*pv).into() * scale;
            }
        }
    }
    match img {
        DynamicImage::ImageLuma8(b) => fill(out.reset(h, w, 1), b.as_raw(), 1, 1, 1.0),
        DynamicImage::ImageLumaA8(b) => fill(out.reset(h, w, 1), b.as_raw(), 2, 1, 1.0),
        DynamicImage::ImageRgb8(b) => fill(out.reset(h, w, 3), b.as_raw(), 3, 3, 1.0),
        DynamicImage::ImageRgba8(b) => fill(out.reset(h, w, 3), b.as_raw(), 4, 3, 1.0),
        DynamicImage::ImageLuma16(b) => fill(out.reset(h, w, 1), b.as_raw(), 1, 1, SCALE16),
        DynamicImage::ImageLumaA16(b) => fill(out.reset(h, w, 1), b.as_raw(), 2, 1, SCALE16),
        DynamicImage::ImageRgb16(b) => fill(out.reset(h, w, 3), b.as_raw(), 3, 3, SCALE16),
        DynamicImage::ImageRgba16(b) => fill(out.reset(h, w, 3), b.as_raw(), 4, 3, SCALE16),
        other => {
            let rgb = other.to_rgb32f();
            fill(out.reset(h, w, 3), rgb.as_raw(), 3, 3, 255.0);
        }
    }
}

impl FrameSource for ImageFilesSource {
    fn path(&self) -> &Path {
        &self.root
    }
    fn format(&self) -> String {
        "images".into()
    }
    fn len(&self) -> usize {
        self.paths.len()
    }
    fn shape(&self) -> (usize, usize) {
        self.shape
    }
    fn frame_label(&self, i: usize) -> String {
        self.paths.get(i).map(|p| file_name_lossy(p)).unwrap_or_default()
    }
    fn frame_stem(&self, i: usize) -> String {
        let stem = self.paths.get(i).and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned());
        stem.unwrap_or_else(|| format!("frame_{i:05}"))
    }
    fn calibration(&self) -> Option<SourceCalibration> {
        None
    }
    fn read_frame(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error> {
        let path = self.paths.get(i).ok_or_else(|| frame_out_of_range(&self.root, i, self.paths.len()))?;
        read_image_frame(path, out)?;
        if out.shape() != self.shape {
            return Err(size_mismatch(path, i, out.shape(), &self.paths[0], self.shape));
        }
        Ok(())
    }
    fn read_frames(&mut self, start: usize, n: usize, out: &mut Vec<FrameBuf>) -> Result<(), Error> {
        use rayon::prelude::*;
        let end = (start + n).min(self.paths.len());
        out.resize_with(end.saturating_sub(start), FrameBuf::default);
        let this = &*self;
        let results: Vec<Result<(), Error>> = out
            .par_iter_mut()
            .enumerate()
            .map(|(k, buf)| {
                let i = start + k;
                let path = &this.paths[i];
                read_image_frame(path, buf)?;
                if buf.shape() != this.shape {
                    return Err(size_mismatch(path, i, buf.shape(), &this.paths[0], this.shape));
                }
                Ok(())
            })
            .collect();
        results.into_iter().collect()
    }
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
}
