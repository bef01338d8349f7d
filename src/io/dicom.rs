//! DICOM pullbacks (multi-frame or single-frame ultrasound images, secondary-capture exports),
//! streamed one frame at a time.
//!
//! # How a file is read
//! 1. The header (everything before `PixelData`) is parsed with dicom-rs
//!    (`dicom_object::OpenFileOptions::read_until(PixelData)`): dimensions, photometric
//!    interpretation, calibration and timing come from it. The pixel data are **not** loaded.
//! 2. The byte position of `PixelData (7FE0,0010)` is found by walking the data set's element
//!    headers (seeking over values; sequences of undefined length are walked item by item).
//!    For native (uncompressed) syntaxes frame `i` is at `offset + i * frame_bytes`; for
//!    encapsulated syntaxes the fragment items are indexed once (8-byte item headers only) and
//!    assigned to frames with the Basic Offset Table, one fragment per frame, or JPEG SOI markers.
//! 3. [`DicomSource::read_frame`] seeks to frame `i`, reads only its bytes and decodes them:
//!    native samples as they are; RLE Lossless with our PackBits decoder (PS3.5 Annex G);
//!    JPEG Baseline with `image`'s pure-Rust JPEG decoder (zune-jpeg).
//!
//! Memory is therefore the header plus one frame's bytes, whatever the number of frames; see
//! the README ("Memory") for the measured 10,000-frame figure.
//!
//! # Supported
//! | transfer syntax | UID | |
//! |---|---|---|
//! | Implicit VR Little Endian | 1.2.840.10008.1.2 | yes |
//! | Explicit VR Little Endian | 1.2.840.10008.1.2.1 | yes |
//! | RLE Lossless | 1.2.840.10008.1.2.5 | yes |
//! | JPEG Baseline (Process 1) | 1.2.840.10008.1.2.4.50 | yes |
//! | Deflated Explicit VR LE, Explicit VR Big Endian, JPEG Extended/Lossless, JPEG-LS, JPEG 2000, HTJ2K, MPEG/HEVC video | | no: [`Error::Unsupported`] |
//!
//! Photometric interpretations: MONOCHROME2, MONOCHROME1 (inverted), RGB (planar configuration
//! 0 or 1), YBR_FULL and YBR_FULL_422 (converted to RGB with the full-range BT.601 equations of
//! PS3.3 C.7.6.3.1.2). Bits allocated 8 (any photometric) or 16 (monochrome only; scaled to
//! 0–255 by `BitsStored`). PALETTE COLOR, YBR_PARTIAL_*, YBR_ICT/RCT and float pixel data are
//! rejected with [`Error::Unsupported`].
//!
//! Colour frames are kept as RGB in the [`FrameBuf`]; the analysis uses their Rec. 709 luma
//! ([`FrameBuf::gray_into`]). Coloured annotations burned into the image (calipers, markers,
//! text) therefore appear in the grey frame at their luma; use the screen-capture mode
//! (`--screen-capture`, [`super::screen`]) to mask them.
//!
//! # Calibration and timing
//! * Pixel size: the first `SequenceOfUltrasoundRegions` item whose `PhysicalUnitsX/YDirection`
//!   are 3 (cm) gives `PhysicalDeltaX/Y` (cm → mm); otherwise `PixelSpacing` (mm). Non-square
//!   pixels are rejected. None found: the calibration must come from the command line.
//! * Timing: `IVUSPullbackRate` (mm/s); frame times from `FrameTimeVector` (ms increments),
//!   else `FrameTime` (ms), else `CineRate` (frames/s).
//!
//! # References
//! NEMA PS3.5 (data structures, encapsulation, Annex A.4 and G RLE), PS3.3 C.8.5.5 (ultrasound
//! regions), C.7.6.3 (image pixel module), C.7.6.5 (cine module), C.8.5.6 (IVUS image module).

use super::images::frame_from_dynamic;
use super::source::{FrameBuf, FrameSource, PullbackTiming, SourceCalibration, ValueSource, frame_out_of_range};
use crate::error::Error;
use crate::pipeline::Calibration;
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, OpenFileOptions};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Transfer syntax UIDs this reader accepts.
pub mod uids {
    /// Implicit VR Little Endian.
    pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
    /// Explicit VR Little Endian.
    pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
    /// RLE Lossless.
    pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
    /// JPEG Baseline (Process 1).
    pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
}

/// Names of transfer syntaxes we recognise but do not read (for the error message).
const UNSUPPORTED_SYNTAXES: &[(&str, &str)] = &[
    ("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian"),
    ("1.2.840.10008.1.2.2", "Explicit VR Big Endian"),
    ("1.2.840.10008.1.2.4.51", "JPEG Extended"),
    ("1.2.840.10008.1.2.4.57", "JPEG Lossless"),
    ("1.2.840.10008.1.2.4.70", "JPEG Lossless SV1"),
    ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"),
    ("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless"),
    ("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless"),
    ("1.2.840.10008.1.2.4.91", "JPEG 2000"),
    ("1.2.840.10008.1.2.4.100", "MPEG2 video"),
    ("1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 video"),
    ("1.2.840.10008.1.2.4.107", "HEVC/H.265 video"),
    ("1.2.840.10008.1.2.4.201", "HTJ2K Lossless"),
    ("1.2.840.10008.1.2.4.203", "HTJ2K"),
];

const SUPPORTED_LIST: &str =
    "Implicit VR LE, Explicit VR LE, RLE Lossless, JPEG Baseline (1.2.840.10008.1.2, .1.2.1, .1.2.5, .1.2.4.50)";

/// The accepted transfer syntaxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    ImplicitLe,
    ExplicitLe,
    Rle,
    JpegBaseline,
}

/// Photometric interpretations read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Photometric {
    Monochrome1,
    Monochrome2,
    Rgb,
    YbrFull,
    YbrFull422,
}

#[derive(Debug, Clone)]
enum PixelLayout {
    /// Frame `i` at `offset + i * frame_bytes`.
    Native { offset: u64, frame_bytes: u64 },
    /// Fragments `(file offset, length)`; frame `i` = `fragments[starts[i]..starts[i + 1]]`.
    Encapsulated { fragments: Vec<(u64, u32)>, starts: Vec<usize> },
}

/// A DICOM pullback opened for frame-by-frame reading. See the module doc.
#[derive(Debug)]
pub struct DicomSource {
    path: PathBuf,
    file: BufReader<File>,
    syntax: Syntax,
    photometric: Photometric,
    rows: usize,
    cols: usize,
    n_frames: usize,
    samples_per_pixel: usize,
    bits_allocated: usize,
    bits_stored: usize,
    signed: bool,
    planar: bool,
    layout: PixelLayout,
    calib: Option<SourceCalibration>,
    timing: PullbackTiming,
    bytes: Vec<u8>,
    rle: Vec<u8>,
}

fn decode_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Decode { path: path.to_path_buf(), reason: reason.into() }
}

fn unsupported(path: &Path, reason: impl Into<String>) -> Error {
    Error::Unsupported { path: path.to_path_buf(), reason: reason.into() }
}

/// Whether `path` looks like a DICOM file (`DICM` at byte 128).
pub fn is_dicom_file(path: &Path) -> bool {
    let mut head = [0u8; 132];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head[128..132] == b"DICM"
}

impl DicomSource {
    /// Opens a DICOM file: reads the header and indexes the pixel data (no pixel is decoded).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened; [`Error::Decode`] if it is not DICOM, its
    /// header is corrupt, `PixelData` is missing or the file is truncated (naming the first
    /// incomplete frame); [`Error::Unsupported`] for a transfer syntax, photometric
    /// interpretation or bit depth outside the module doc's table; [`Error::Inconsistent`] when
    /// the pixel data length or fragments do not match the header.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let file = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let file_len = file.metadata().map_err(|source| Error::Io { path: path.to_path_buf(), source })?.len();
        if !is_dicom_file(path) {
            return Err(decode_err(path, "not a DICOM file (no `DICM` marker after the 128-byte preamble)"));
        }
        check_header_lengths(path, &file, file_len)?;
        let obj = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(path)
            .map_err(|e| decode_err(path, format!("cannot parse the DICOM header: {e}")))?;
        let ts = obj.meta().transfer_syntax().trim_end_matches('\0').trim().to_string();
        let syntax = match ts.as_str() {
            uids::IMPLICIT_VR_LE => Syntax::ImplicitLe,
            uids::EXPLICIT_VR_LE => Syntax::ExplicitLe,
            uids::RLE_LOSSLESS => Syntax::Rle,
            uids::JPEG_BASELINE => Syntax::JpegBaseline,
            other => {
                let name = UNSUPPORTED_SYNTAXES.iter().find(|(u, _)| *u == other).map_or("unknown", |(_, n)| n);
                return Err(unsupported(
                    path,
                    format!("transfer syntax {other} ({name}); supported: {SUPPORTED_LIST}"),
                ));
            }
        };
        let obj: &InMemDicomObject = &obj;
        let int = |tag, name: &str, default: Option<u32>| -> Result<u32, Error> {
            match obj.element_opt(tag).ok().flatten() {
                Some(e) => e.to_int::<u32>().map_err(|err| decode_err(path, format!("{name}: {err}"))),
                None => default.ok_or_else(|| decode_err(path, format!("missing {name}"))),
            }
        };
        let rows = int(tags::ROWS, "Rows", None)? as usize;
        let cols = int(tags::COLUMNS, "Columns", None)? as usize;
        let n_frames = match obj.element_opt(tags::NUMBER_OF_FRAMES).ok().flatten() {
            Some(e) => {
                let s = e.to_str().map_err(|err| decode_err(path, format!("NumberOfFrames: {err}")))?;
                s.trim()
                    .trim_end_matches('\0')
                    .parse::<u32>()
                    .map_err(|_| decode_err(path, format!("NumberOfFrames `{s}`")))? as usize
            }
            None => 1,
        };
        let samples_per_pixel = int(tags::SAMPLES_PER_PIXEL, "SamplesPerPixel", Some(1))? as usize;
        let bits_allocated = int(tags::BITS_ALLOCATED, "BitsAllocated", None)? as usize;
        let bits_stored = int(tags::BITS_STORED, "BitsStored", Some(bits_allocated as u32))? as usize;
        let signed = int(tags::PIXEL_REPRESENTATION, "PixelRepresentation", Some(0))? == 1;
        let planar = int(tags::PLANAR_CONFIGURATION, "PlanarConfiguration", Some(0))? == 1;
        let pi_text = match obj.element_opt(tags::PHOTOMETRIC_INTERPRETATION).ok().flatten() {
            Some(e) => e.to_str().map(|s| s.trim().trim_end_matches('\0').to_string()).unwrap_or_default(),
            None => String::new(),
        };
        let photometric = match (pi_text.as_str(), samples_per_pixel) {
            ("MONOCHROME1", 1) => Photometric::Monochrome1,
            ("MONOCHROME2", 1) => Photometric::Monochrome2,
            ("RGB", 3) => Photometric::Rgb,
            ("YBR_FULL", 3) => Photometric::YbrFull,
            ("YBR_FULL_422", 3) => Photometric::YbrFull422,
            (pi, spp) => {
                return Err(unsupported(
                    path,
                    format!(
                        "photometric interpretation `{pi}` with {spp} samples per pixel; supported: MONOCHROME1/2, \
                         RGB, YBR_FULL, YBR_FULL_422"
                    ),
                ));
            }
        };
        if rows == 0 || cols == 0 || rows > 8192 || cols > 8192 {
            return Err(decode_err(path, format!("frame size {cols}x{rows}; accepted 1..=8192 per side")));
        }
        if n_frames == 0 {
            return Err(decode_err(path, "NumberOfFrames is 0"));
        }
        let bits_ok = match bits_allocated {
            8 => bits_stored <= 8,
            16 => samples_per_pixel == 1 && bits_stored <= 16,
            _ => false,
        };
        if !bits_ok || bits_stored == 0 {
            return Err(unsupported(
                path,
                format!(
                    "BitsAllocated {bits_allocated} / BitsStored {bits_stored} with {samples_per_pixel} samples; \
                     supported: 8 bits, or 16 bits monochrome"
                ),
            ));
        }
        if photometric == Photometric::YbrFull422 && syntax != Syntax::JpegBaseline && cols % 2 != 0 {
            return Err(decode_err(path, "YBR_FULL_422 needs an even number of columns"));
        }
        let calib = read_calibration(path, obj)?;
        let timing = read_timing(path, obj, n_frames)?;

        let mut file = BufReader::new(file);
        let (offset, length, undefined) = find_pixel_data(path, &mut file, syntax == Syntax::ImplicitLe)?;
        let layout = match syntax {
            Syntax::ImplicitLe | Syntax::ExplicitLe => {
                let frame_bytes = match photometric {
                    Photometric::YbrFull422 => (rows * cols * 2) as u64,
                    _ => (rows * cols * samples_per_pixel * bits_allocated / 8) as u64,
                };
                if undefined {
                    return Err(decode_err(path, "native pixel data with undefined length"));
                }
                let need = frame_bytes * n_frames as u64;
                if offset + need.min(length) > file_len {
                    let complete = file_len.saturating_sub(offset) / frame_bytes;
                    return Err(decode_err(
                        path,
                        format!(
                            "file is truncated: frame {complete} of {n_frames} is incomplete \
                             ({} bytes of pixel data present, {need} expected)",
                            file_len.saturating_sub(offset)
                        ),
                    ));
                }
                if length < need {
                    return Err(Error::Inconsistent {
                        path: path.to_path_buf(),
                        reason: format!(
                            "PixelData holds {length} bytes but {n_frames} frames of {cols}x{rows} need {need}; \
                             frame {} is missing",
                            length / frame_bytes
                        ),
                    });
                }
                PixelLayout::Native { offset, frame_bytes }
            }
            Syntax::Rle | Syntax::JpegBaseline => {
                if !undefined {
                    return Err(decode_err(path, "encapsulated pixel data must have undefined length"));
                }
                index_fragments(path, &mut file, offset, file_len, n_frames, syntax)?
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            file,
            syntax,
            photometric,
            rows,
            cols,
            n_frames,
            samples_per_pixel,
            bits_allocated,
            bits_stored,
            signed,
            planar,
            layout,
            calib,
            timing,
            bytes: Vec::new(),
            rle: Vec::new(),
        })
    }

    fn frame_err(&self, i: usize, reason: impl std::fmt::Display) -> Error {
        decode_err(&self.path, format!("frame {i}: {reason}"))
    }

    /// Reads frame `i`'s stored bytes into `self.bytes`.
    fn read_bytes(&mut self, i: usize) -> Result<(), Error> {
        self.bytes.clear();
        match &self.layout {
            PixelLayout::Native { offset, frame_bytes } => {
                self.bytes.resize(*frame_bytes as usize, 0);
                let pos = offset + i as u64 * frame_bytes;
                self.file.seek(SeekFrom::Start(pos)).and_then(|_| self.file.read_exact(&mut self.bytes))
            }
            PixelLayout::Encapsulated { fragments, starts } => {
                let mut r = Ok(());
                for &(pos, len) in &fragments[starts[i]..starts[i + 1]] {
                    let at = self.bytes.len();
                    self.bytes.resize(at + len as usize, 0);
                    r = self.file.seek(SeekFrom::Start(pos)).and_then(|_| self.file.read_exact(&mut self.bytes[at..]));
                    if r.is_err() {
                        break;
                    }
                }
                r
            }
        }
        .map_err(|e| self.frame_err(i, format!("cannot read its bytes: {e}")))
    }

    fn decode_native(&self, data: &[u8], out: &mut FrameBuf) {
        let n = self.rows * self.cols;
        match self.photometric {
            Photometric::Monochrome1 | Photometric::Monochrome2 => {
                let dst = out.reset(self.rows, self.cols, 1);
                if self.bits_allocated == 8 {
                    for (d, &v) in dst.iter_mut().zip(data) {
                        *d = f32::from(v);
                    }
                } else {
                    let bits = self.bits_stored as u32;
                    let max = ((1u64 << bits) - 1) as f32;
                    let mask = if bits >= 16 { 0xFFFF } else { (1u32 << bits) - 1 };
                    for (d, b) in dst.iter_mut().zip(data.chunks_exact(2)) {
                        let raw = u32::from(u16::from_le_bytes([b[0], b[1]])) & mask;
                        let v = if self.signed {
                            // Sign-extend from `bits`, then shift to 0..2^bits-1.
                            let shift = 32 - bits;
                            let s = ((raw << shift) as i32) >> shift;
                            (s + (1 << (bits - 1))) as f32
                        } else {
                            raw as f32
                        };
                        *d = v * 255.0 / max;
                    }
                }
                if self.photometric == Photometric::Monochrome1 {
                    dst.iter_mut().for_each(|v| *v = 255.0 - *v);
                }
            }
            Photometric::Rgb | Photometric::YbrFull => {
                let dst = out.reset(self.rows, self.cols, 3);
                for (p, d) in dst.chunks_exact_mut(3).enumerate() {
                    for (c, dv) in d.iter_mut().enumerate() {
                        let idx = if self.planar { c * n + p } else { 3 * p + c };
                        *dv = f32::from(data[idx]);
                    }
                }
                if self.photometric == Photometric::YbrFull {
                    dst.chunks_exact_mut(3).for_each(ybr_to_rgb);
                }
            }
            Photometric::YbrFull422 => {
                // Y1 Y2 Cb Cr for each horizontal pair of pixels.
                let dst = out.reset(self.rows, self.cols, 3);
                for (pair, d) in data.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
                    let (cb, cr) = (f32::from(pair[2]), f32::from(pair[3]));
                    d.copy_from_slice(&[f32::from(pair[0]), cb, cr, f32::from(pair[1]), cb, cr]);
                }
                dst.chunks_exact_mut(3).for_each(ybr_to_rgb);
            }
        }
    }

    fn decode_rle(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error> {
        let n = self.rows * self.cols;
        let bytes_per_sample = self.bits_allocated / 8;
        let n_segments = self.samples_per_pixel * bytes_per_sample;
        let data = std::mem::take(&mut self.bytes);
        let mut planes = std::mem::take(&mut self.rle);
        planes.clear();
        planes.resize(n * n_segments, 0);
        let result = rle_decode_frame(&data, n_segments, n, &mut planes);
        self.bytes = data;
        if let Err(reason) = result {
            self.rle = planes;
            return Err(self.frame_err(i, format!("RLE: {reason}")));
        }
        // Re-interleave into the native layout (segments are most significant byte first).
        let mut native = Vec::with_capacity(n * n_segments);
        if bytes_per_sample == 2 {
            for p in 0..n {
                native.extend_from_slice(&[planes[n + p], planes[p]]);
            }
        } else if self.samples_per_pixel == 1 {
            native.extend_from_slice(&planes[..n]);
        } else {
            for p in 0..n {
                native.extend_from_slice(&[planes[p], planes[n + p], planes[2 * n + p]]);
            }
        }
        self.rle = planes;
        let planar = std::mem::replace(&mut self.planar, false);
        let pi = self.photometric;
        if pi == Photometric::YbrFull422 {
            self.photometric = Photometric::YbrFull; // RLE stores full-resolution planes
        }
        self.decode_native(&native, out);
        self.planar = planar;
        self.photometric = pi;
        Ok(())
    }

    fn decode_jpeg(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error> {
        let dec = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&self.bytes))
            .map_err(|e| self.frame_err(i, format!("JPEG: {e}")))?;
        let img = image::DynamicImage::from_decoder(dec).map_err(|e| self.frame_err(i, format!("JPEG: {e}")))?;
        if (img.height() as usize, img.width() as usize) != (self.rows, self.cols) {
            return Err(Error::Inconsistent {
                path: self.path.clone(),
                reason: format!(
                    "frame {i}: JPEG is {}x{} but the header says {}x{}",
                    img.width(),
                    img.height(),
                    self.cols,
                    self.rows
                ),
            });
        }
        frame_from_dynamic(&img, out);
        if self.photometric == Photometric::Monochrome1 {
            out.as_mut_slice().iter_mut().for_each(|v| *v = 255.0 - *v);
        }
        Ok(())
    }
}

/// Full-range BT.601 YCbCr → RGB in place (PS3.3 C.7.6.3.1.2), clamped to 0–255.
fn ybr_to_rgb(p: &mut [f32]) {
    let (y, cb, cr) = (p[0], p[1] - 128.0, p[2] - 128.0);
    p[0] = (y + 1.402 * cr).clamp(0.0, 255.0);
    p[1] = (y - 0.344_136 * cb - 0.714_136 * cr).clamp(0.0, 255.0);
    p[2] = (y + 1.772 * cb).clamp(0.0, 255.0);
}

impl FrameSource for DicomSource {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> String {
        let ts = match self.syntax {
            Syntax::ImplicitLe => "implicit-le",
            Syntax::ExplicitLe => "explicit-le",
            Syntax::Rle => "rle",
            Syntax::JpegBaseline => "jpeg-baseline",
        };
        format!("dicom/{ts}")
    }
    fn len(&self) -> usize {
        self.n_frames
    }
    fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    fn frame_label(&self, i: usize) -> String {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{name}#{i}")
    }
    fn calibration(&self) -> Option<SourceCalibration> {
        self.calib.clone()
    }
    fn timing(&self) -> PullbackTiming {
        self.timing.clone()
    }
    fn read_frame(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error> {
        if i >= self.n_frames {
            return Err(frame_out_of_range(&self.path, i, self.n_frames));
        }
        self.read_bytes(i)?;
        match self.syntax {
            Syntax::ImplicitLe | Syntax::ExplicitLe => {
                let data = std::mem::take(&mut self.bytes);
                self.decode_native(&data, out);
                self.bytes = data;
                Ok(())
            }
            Syntax::Rle => self.decode_rle(i, out),
            Syntax::JpegBaseline => self.decode_jpeg(i, out),
        }
    }
}

/// Decodes one RLE Lossless frame (PS3.5 Annex G): a 64-byte header (segment count and up to 15
/// offsets), then one PackBits segment per byte plane. Writes `n_segments` planes of `n` bytes.
fn rle_decode_frame(data: &[u8], n_segments: usize, n: usize, planes: &mut [u8]) -> Result<(), String> {
    if data.len() < 64 {
        return Err(format!("fragment of {} bytes is shorter than the 64-byte RLE header", data.len()));
    }
    let word = |k: usize| u32::from_le_bytes([data[4 * k], data[4 * k + 1], data[4 * k + 2], data[4 * k + 3]]) as usize;
    let count = word(0);
    if count != n_segments {
        return Err(format!("{count} segments, expected {n_segments}"));
    }
    for s in 0..count {
        let start = word(1 + s);
        let end = if s + 1 < count { word(2 + s) } else { data.len() };
        if start < 64 || start > end || end > data.len() {
            return Err(format!("segment {s} offsets {start}..{end} outside the fragment ({} bytes)", data.len()));
        }
        packbits_decode(&data[start..end], &mut planes[s * n..(s + 1) * n]).map_err(|e| format!("segment {s}: {e}"))?;
    }
    Ok(())
}

/// PackBits: header byte `h` as i8: 0..=127 copies the next `h + 1` bytes, -127..=-1 repeats the
/// next byte `1 - h` times, -128 is skipped. Fills `out` exactly.
fn packbits_decode(src: &[u8], out: &mut [u8]) -> Result<(), String> {
    let (mut i, mut o) = (0usize, 0usize);
    while o < out.len() {
        let h = *src.get(i).ok_or_else(|| format!("data ends after {o} of {} bytes", out.len()))? as i8;
        i += 1;
        if h >= 0 {
            let k = h as usize + 1;
            let lit = src.get(i..i + k).ok_or("literal run past the end of the segment")?;
            let dst = out.get_mut(o..o + k).ok_or("literal run past the end of the frame")?;
            dst.copy_from_slice(lit);
            i += k;
            o += k;
        } else if h != -128 {
            let k = (1 - h as isize) as usize; // 2..=128; `1 - h as usize` overflows
            let v = *src.get(i).ok_or("replicate run past the end of the segment")?;
            out.get_mut(o..o + k).ok_or("replicate run past the end of the frame")?.fill(v);
            i += 1;
            o += k;
        }
    }
    Ok(())
}

/// PackBits encoder (for writers and tests): runs of 3 or more equal bytes become replicate
/// runs, the rest literal runs; every run is at most 128 bytes.
pub fn packbits_encode(src: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < src.len() {
        let mut run = 1;
        while i + run < src.len() && run < 128 && src[i + run] == src[i] {
            run += 1;
        }
        if run >= 3 {
            out.push((1i16 - run as i16) as i8 as u8);
            out.push(src[i]);
            i += run;
            continue;
        }
        let start = i;
        let mut len = 0;
        while i < src.len() && len < 128 {
            let rep = i + 2 < src.len() && src[i] == src[i + 1] && src[i] == src[i + 2];
            if rep {
                break;
            }
            i += 1;
            len += 1;
        }
        out.push((len - 1) as u8);
        out.extend_from_slice(&src[start..start + len]);
    }
}

/// Encodes one frame as an RLE Lossless fragment from its byte planes (most significant byte
/// plane first for 16-bit samples); the inverse of `rle_decode_frame`.
pub fn rle_encode_frame(planes: &[&[u8]]) -> Vec<u8> {
    let mut segs: Vec<Vec<u8>> = Vec::with_capacity(planes.len());
    for p in planes {
        let mut s = Vec::new();
        packbits_encode(p, &mut s);
        if s.len() % 2 == 1 {
            s.push(0x80); // pad to even length with a no-op header
        }
        segs.push(s);
    }
    let mut out = vec![0u8; 64];
    out[0..4].copy_from_slice(&(planes.len() as u32).to_le_bytes());
    let mut off = 64u32;
    for (k, s) in segs.iter().enumerate() {
        out[4 + 4 * k..8 + 4 * k].copy_from_slice(&off.to_le_bytes());
        off += s.len() as u32;
    }
    for s in segs {
        out.extend_from_slice(&s);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Locating the pixel data without loading it.

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQ_END: (u16, u16) = (0xFFFE, 0xE0DD);

struct Header {
    tag: (u16, u16),
    len: u32,
}

fn read_u16(r: &mut impl Read) -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Reads an element (or item / delimiter) header at the current position.
fn read_header(r: &mut impl Read, explicit: bool) -> std::io::Result<Header> {
    let tag = (read_u16(r)?, read_u16(r)?);
    if tag.0 == 0xFFFE || !explicit {
        return Ok(Header { tag, len: read_u32(r)? });
    }
    let mut vr = [0u8; 2];
    r.read_exact(&mut vr)?;
    let long = matches!(
        &vr,
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"SV" | b"UC" | b"UN" | b"UR" | b"UT" | b"UV"
    );
    let len = if long {
        read_u16(r)?;
        read_u32(r)?
    } else {
        u32::from(read_u16(r)?)
    };
    Ok(Header { tag, len })
}

/// Skips the items of a sequence (or the elements of an item) of undefined length, up to and
/// including its delimiter.
fn skip_undefined<R: Read + Seek>(r: &mut R, explicit: bool, end: (u16, u16), depth: usize) -> std::io::Result<()> {
    if depth > 64 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "sequences nested too deeply"));
    }
    loop {
        let h = read_header(r, explicit)?;
        if h.tag == end {
            return Ok(());
        }
        if h.len == UNDEFINED {
            let inner_end = if h.tag == ITEM { ITEM_END } else { SEQ_END };
            skip_undefined(r, explicit, inner_end, depth + 1)?;
        } else {
            r.seek(SeekFrom::Current(i64::from(h.len)))?;
        }
    }
}

/// Value representations of PS3.5 (explicit VR headers must carry one of these).
const KNOWN_VRS: [&[u8; 2]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF", b"OL",
    b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US",
    b"UT", b"UV",
];

/// Size of one value of a binary VR, bytes (`None` for text, sequences and byte strings): an
/// element's length must be a multiple of it (DICOM PS3.5 §6.2, §7.1.1).
fn value_size(vr: &[u8; 2]) -> Option<u32> {
    match vr {
        b"US" | b"SS" | b"OW" => Some(2),
        b"UL" | b"SL" | b"FL" | b"AT" | b"OF" | b"OL" => Some(4),
        b"FD" | b"OD" | b"SV" | b"UV" | b"OV" => Some(8),
        _ => None,
    }
}

/// Walks every element header before `PixelData` (descending into sequences of undefined
/// length) and rejects unknown VRs, value lengths that run past the end of the file and, for
/// binary VRs, lengths that are not a multiple of the value size ([`value_size`]), before
/// dicom-object parses the header: its parser allocates the declared length, so one damaged
/// length field could cost gigabytes (found by fuzzing: `tests/regressions/pullback/`).
/// Running off the end of the file is left to the parser, which reports it.
fn check_header_lengths(path: &Path, file: &File, file_len: u64) -> Result<(), Error> {
    let bad = |reason: String| decode_err(path, format!("corrupt DICOM header: {reason}"));
    let mut r = std::io::BufReader::new(file);
    let walk = |r: &mut std::io::BufReader<&File>| -> std::io::Result<Result<(), Error>> {
        r.seek(SeekFrom::Start(132))?;
        let mut explicit = true; // the file meta group is always explicit VR
        let mut dataset_explicit = true;
        let mut in_meta = true;
        // Open sequences (b'S') and items (b'I') of undefined length, innermost last: each is
        // closed by its own delimiter.
        let mut open: Vec<u8> = Vec::new();
        loop {
            let pos = r.stream_position()?;
            let group = read_u16(r)?;
            if in_meta && group != 0x0002 {
                in_meta = false;
                explicit = dataset_explicit;
            }
            let element = read_u16(r)?;
            let tag = (group, element);
            // Explicit VR of the element and the size of its values, for binary VRs.
            let mut explicit_vr: Option<([u8; 2], u32)> = None;
            let len = if group == 0xFFFE || !explicit {
                read_u32(r)?
            } else {
                let mut vr = [0u8; 2];
                r.read_exact(&mut vr)?;
                explicit_vr = value_size(&vr).map(|size| (vr, size));
                if !KNOWN_VRS.contains(&&vr) {
                    return Ok(Err(bad(format!(
                        "element ({group:04X},{element:04X}) at byte {pos} has an invalid VR {vr:02X?}"
                    ))));
                }
                if matches!(
                    &vr,
                    b"OB"
                        | b"OD"
                        | b"OF"
                        | b"OL"
                        | b"OV"
                        | b"OW"
                        | b"SQ"
                        | b"SV"
                        | b"UC"
                        | b"UN"
                        | b"UR"
                        | b"UT"
                        | b"UV"
                ) {
                    read_u16(r)?;
                    read_u32(r)?
                } else {
                    u32::from(read_u16(r)?)
                }
            };
            if tag == (0x7FE0, 0x0010) && open.is_empty() {
                // The image's pixel data: only its VR is checked (above; an invalid one made the
                // parser read a garbage length and allocate 2 GB, `tests/regressions/pullback/`).
                // Its length is checked frame by frame when frames are read, so that a truncated
                // file names its first incomplete frame. (Pixel data inside a sequence, e.g. an
                // icon, is an ordinary element below.)
                return Ok(Ok(()));
            }
            if group == 0xFFFE {
                let closes = match element {
                    0xE000 => {
                        if len == UNDEFINED {
                            open.push(b'I');
                        }
                        None
                    }
                    0xE00D => Some((b'I', "item delimiter")),
                    0xE0DD => Some((b'S', "sequence delimiter")),
                    _ => {
                        return Ok(Err(bad(format!(
                            "item tag (FFFE,{element:04X}) at byte {pos} is none of item, item delimiter, \
                             sequence delimiter"
                        ))));
                    }
                };
                // A delimiter closes the innermost open container, which must be its kind (one
                // left open made the parser read the pixel data as an item's value: 3.5 GB).
                if let Some((kind, name)) = closes
                    && open.pop() != Some(kind)
                {
                    return Ok(Err(bad(format!("{name} at byte {pos} does not close an open one"))));
                }
                continue; // descend into the item; delimiters carry no value
            }
            if len == UNDEFINED {
                open.push(b'S');
                continue; // descend into the sequence
            }
            if let Some((vr, size)) = explicit_vr.filter(|(_, size)| len % size != 0) {
                return Ok(Err(bad(format!(
                    "element ({group:04X},{element:04X}) at byte {pos} has VR {} and a length of {len} bytes, \
                     not a multiple of its {size}-byte values",
                    String::from_utf8_lossy(&vr)
                ))));
            }
            let value_at = r.stream_position()?;
            if value_at + u64::from(len) > file_len {
                return Ok(Err(bad(format!(
                    "element ({group:04X},{element:04X}) at byte {pos} declares {len} bytes but the file has {} left",
                    file_len.saturating_sub(value_at)
                ))));
            }
            if in_meta && tag == (0x0002, 0x0010) && len <= 64 {
                let mut uid = vec![0u8; len as usize];
                r.read_exact(&mut uid)?;
                let uid = String::from_utf8_lossy(&uid);
                dataset_explicit = uid.trim_end_matches('\0').trim() != uids::IMPLICIT_VR_LE;
            } else {
                r.seek(SeekFrom::Current(i64::from(len)))?;
            }
        }
    };
    match walk(&mut r) {
        Ok(result) => result,
        Err(_) => Ok(()), // end of file or unreadable: the parser reports it with its own message
    }
}

/// Finds `PixelData` in the root data set: `(value offset, value length, undefined length)`.
fn find_pixel_data<R: Read + Seek>(path: &Path, r: &mut R, implicit: bool) -> Result<(u64, u64, bool), Error> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            decode_err(path, "no PixelData (7FE0,0010) element: the file ends before any pixel data")
        } else {
            decode_err(path, format!("cannot walk the data set: {e}"))
        }
    };
    // File meta group (always explicit VR little endian) after the 128-byte preamble + "DICM".
    r.seek(SeekFrom::Start(132)).map_err(io)?;
    loop {
        let pos = r.stream_position().map_err(io)?;
        let group = read_u16(r).map_err(io)?;
        r.seek(SeekFrom::Start(pos)).map_err(io)?;
        if group != 0x0002 {
            break;
        }
        let h = read_header(r, true).map_err(io)?;
        r.seek(SeekFrom::Current(i64::from(h.len))).map_err(io)?;
    }
    loop {
        let h = read_header(r, !implicit).map_err(io)?;
        if h.tag == (0x7FE0, 0x0010) {
            let pos = r.stream_position().map_err(io)?;
            return Ok((pos, u64::from(h.len), h.len == UNDEFINED));
        }
        if matches!(h.tag, (0x7FE0, 0x0008) | (0x7FE0, 0x0009)) {
            return Err(unsupported(path, "float pixel data (FloatPixelData / DoubleFloatPixelData)"));
        }
        if h.len == UNDEFINED {
            skip_undefined(r, !implicit, SEQ_END, 0).map_err(io)?;
        } else {
            r.seek(SeekFrom::Current(i64::from(h.len))).map_err(io)?;
        }
    }
}

/// Indexes the fragments of encapsulated pixel data starting at `offset` (just after the
/// PixelData header) and assigns them to frames.
fn index_fragments<R: Read + Seek>(
    path: &Path,
    r: &mut R,
    offset: u64,
    file_len: u64,
    n_frames: usize,
    syntax: Syntax,
) -> Result<PixelLayout, Error> {
    let truncated = |what: String| decode_err(path, format!("file is truncated: {what}"));
    let io = |e: std::io::Error| decode_err(path, format!("encapsulated pixel data: {e}"));
    r.seek(SeekFrom::Start(offset)).map_err(io)?;
    let h = read_header(r, false).map_err(|_| truncated("no Basic Offset Table item".into()))?;
    if h.tag != ITEM {
        return Err(decode_err(path, "encapsulated pixel data does not start with an item"));
    }
    let mut bot = Vec::with_capacity(h.len as usize / 4);
    for _ in 0..h.len / 4 {
        bot.push(u64::from(read_u32(r).map_err(|_| truncated("inside the Basic Offset Table".into()))?));
    }
    let first_item = r.stream_position().map_err(io)?;
    let mut fragments: Vec<(u64, u32)> = Vec::new();
    let mut item_offsets: Vec<u64> = Vec::new();
    loop {
        let pos = r.stream_position().map_err(io)?;
        let h = match read_header(r, false) {
            Ok(h) => h,
            Err(_) => {
                return Err(truncated(format!(
                    "pixel data ends after {} fragments without a sequence delimiter",
                    fragments.len()
                )));
            }
        };
        if h.tag == SEQ_END {
            break;
        }
        if h.tag != ITEM || h.len == UNDEFINED {
            return Err(decode_err(
                path,
                format!("unexpected element ({:04X},{:04X}) in pixel data", h.tag.0, h.tag.1),
            ));
        }
        let data = pos + 8;
        if data + u64::from(h.len) > file_len {
            return Err(truncated(format!(
                "fragment {} (frame {} or later) extends past the end of the file",
                fragments.len(),
                fragments.len().min(n_frames.saturating_sub(1))
            )));
        }
        item_offsets.push(pos - first_item);
        fragments.push((data, h.len));
        r.seek(SeekFrom::Start(data + u64::from(h.len))).map_err(io)?;
    }
    let mut starts: Vec<usize> = Vec::with_capacity(n_frames + 1);
    if bot.len() == n_frames {
        for &b in &bot {
            match item_offsets.iter().position(|&o| o == b) {
                Some(k) => starts.push(k),
                None => return Err(decode_err(path, format!("Basic Offset Table entry {b} matches no fragment"))),
            }
        }
    } else if fragments.len() == n_frames {
        starts.extend(0..n_frames);
    } else if n_frames == 1 && !fragments.is_empty() {
        starts.push(0);
    } else if syntax == Syntax::JpegBaseline {
        let mut head = [0u8; 2];
        for (k, &(pos, len)) in fragments.iter().enumerate() {
            r.seek(SeekFrom::Start(pos)).map_err(io)?;
            if len >= 2 && r.read_exact(&mut head).is_ok() && head == [0xFF, 0xD8] {
                starts.push(k);
            }
        }
    }
    if starts.len() != n_frames || starts.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Inconsistent {
            path: path.to_path_buf(),
            reason: format!(
                "NumberOfFrames is {n_frames} but the pixel data holds {} fragments that cannot be assigned to \
                 frames (frame {} missing)",
                fragments.len(),
                starts.len().min(n_frames)
            ),
        });
    }
    starts.push(fragments.len());
    Ok(PixelLayout::Encapsulated { fragments, starts })
}

// ---------------------------------------------------------------------------------------------
// Calibration and timing.

fn float_of(path: &Path, obj: &InMemDicomObject, tag: dicom_core::Tag, name: &str) -> Result<Option<f64>, Error> {
    match obj.element_opt(tag).ok().flatten() {
        Some(e) => e.to_float64().map(Some).map_err(|err| decode_err(path, format!("{name}: {err}"))),
        None => Ok(None),
    }
}

/// Pixel size from `SequenceOfUltrasoundRegions` (cm) or `PixelSpacing` (mm).
fn read_calibration(path: &Path, obj: &InMemDicomObject) -> Result<Option<SourceCalibration>, Error> {
    let mut found: Option<(f64, f64, &str)> = None;
    if let Some(seq) = obj.element_opt(tags::SEQUENCE_OF_ULTRASOUND_REGIONS).ok().flatten() {
        for item in seq.items().unwrap_or(&[]) {
            let unit = |tag| item.element_opt(tag).ok().flatten().and_then(|e| e.to_int::<u16>().ok());
            if unit(tags::PHYSICAL_UNITS_X_DIRECTION) == Some(3) && unit(tags::PHYSICAL_UNITS_Y_DIRECTION) == Some(3) {
                let dx = float_of(path, item, tags::PHYSICAL_DELTA_X, "PhysicalDeltaX")?;
                let dy = float_of(path, item, tags::PHYSICAL_DELTA_Y, "PhysicalDeltaY")?;
                if let (Some(dx), Some(dy)) = (dx, dy) {
                    found = Some((dx.abs() * 10.0, dy.abs() * 10.0, "SequenceOfUltrasoundRegions/PhysicalDeltaX"));
                    if dx.is_nan() || dy.is_nan() {
                        found = Some((f64::NAN, f64::NAN, "SequenceOfUltrasoundRegions/PhysicalDeltaX"));
                    }
                    break;
                }
            }
        }
    }
    if found.is_none() {
        if let Some(e) = obj.element_opt(tags::PIXEL_SPACING).ok().flatten() {
            let v = e.to_multi_float64().map_err(|err| decode_err(path, format!("PixelSpacing: {err}")))?;
            if let [row, col, ..] = v[..] {
                found = Some((col, row, "PixelSpacing"));
            }
        }
    }
    let Some((x, y, tag)) = found else { return Ok(None) };
    if x.is_finite() && y.is_finite() && x > 0.0 && (x - y).abs() > 1e-3 * x.max(y) {
        return Err(unsupported(path, format!("non-square pixels in {tag}: {x} mm x {y} mm")));
    }
    Ok(Some(SourceCalibration {
        calib: Calibration::Cartesian { mm_per_px: x },
        source: ValueSource::DicomTag(tag.into()),
    }))
}

fn check_timing(path: &Path, name: &str, v: f64) -> Result<f64, Error> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::Calibration {
            path: path.to_path_buf(),
            reason: format!("{name} is {v}; it must be a finite number > 0"),
        })
    }
}

/// Pullback speed and frame times (see the module doc).
fn read_timing(path: &Path, obj: &InMemDicomObject, n_frames: usize) -> Result<PullbackTiming, Error> {
    let mut t = PullbackTiming::default();
    if let Some(v) = float_of(path, obj, tags::IVUS_PULLBACK_RATE, "IVUSPullbackRate")? {
        t.pullback_mm_per_s = Some(check_timing(path, "IVUSPullbackRate", v)?);
        t.pullback_source = Some(ValueSource::DicomTag("IVUSPullbackRate".into()));
    }
    if let Some(e) = obj.element_opt(tags::FRAME_TIME_VECTOR).ok().flatten() {
        let v = e.to_multi_float64().map_err(|err| decode_err(path, format!("FrameTimeVector: {err}")))?;
        if v.len() != n_frames {
            return Err(Error::Inconsistent {
                path: path.to_path_buf(),
                reason: format!("FrameTimeVector has {} entries for {n_frames} frames", v.len()),
            });
        }
        let mut acc = 0.0;
        let mut times = Vec::with_capacity(n_frames);
        for (k, &dt) in v.iter().enumerate() {
            if !(dt.is_finite() && dt >= 0.0) {
                return Err(Error::Calibration {
                    path: path.to_path_buf(),
                    reason: format!("FrameTimeVector entry {k} is {dt} ms"),
                });
            }
            if k > 0 {
                acc += dt / 1000.0;
            }
            times.push(acc);
        }
        t.frame_times_s = Some(times);
        t.frame_times_source = Some(ValueSource::DicomTag("FrameTimeVector".into()));
    } else if let Some(ms) = float_of(path, obj, tags::FRAME_TIME, "FrameTime")? {
        let ms = check_timing(path, "FrameTime", ms)?;
        t.frame_times_s = Some(PullbackTiming::uniform_times_s(n_frames, 1000.0 / ms));
        t.frame_times_source = Some(ValueSource::DicomTag("FrameTime".into()));
    } else if let Some(rate) = float_of(path, obj, tags::CINE_RATE, "CineRate")? {
        let rate = check_timing(path, "CineRate", rate)?;
        t.frame_times_s = Some(PullbackTiming::uniform_times_s(n_frames, rate));
        t.frame_times_source = Some(ValueSource::DicomTag("CineRate".into()));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_round_trip() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![7],
            vec![1, 1, 1, 1, 2, 3, 4, 4, 5, 5, 5],
            (0..1000).map(|i| (i / 7 % 256) as u8).collect(),
            (0..777).map(|i| ((i * 31) % 256) as u8).collect(),
            vec![9; 300],
        ];
        for src in cases {
            let mut enc = Vec::new();
            packbits_encode(&src, &mut enc);
            let mut dec = vec![0u8; src.len()];
            packbits_decode(&enc, &mut dec).unwrap();
            assert_eq!(dec, src);
        }
    }

    #[test]
    fn rle_frame_round_trip_and_errors() {
        let a: Vec<u8> = (0..64).map(|i| i as u8).collect();
        let b = vec![3u8; 64];
        let frame = rle_encode_frame(&[&a, &b]);
        let mut planes = vec![0u8; 128];
        rle_decode_frame(&frame, 2, 64, &mut planes).unwrap();
        assert_eq!(&planes[..64], &a[..]);
        assert_eq!(&planes[64..], &b[..]);
        assert!(rle_decode_frame(&frame[..70], 2, 64, &mut planes).is_err());
        assert!(rle_decode_frame(&frame, 3, 64, &mut planes).is_err());
        assert!(rle_decode_frame(&frame[..10], 2, 64, &mut planes).is_err());
    }

    #[test]
    fn ybr_gray_stays_gray() {
        let mut p = [100.0, 128.0, 128.0];
        ybr_to_rgb(&mut p);
        assert_eq!(p, [100.0, 100.0, 100.0]);
    }
}
