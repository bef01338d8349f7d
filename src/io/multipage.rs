//! Multi-page TIFF pullbacks (one frame per page), read page by page with the `tiff` crate.
//!
//! Pages are counted and their sizes checked when the file is opened (directory entries only);
//! [`TiffSource::read_frame`] seeks to page `i` and decodes it alone. 8- and 16-bit grey and
//! RGB(A) pages are read (16-bit scaled to 0–255, alpha dropped); other colour types are
//! rejected with [`Error::Unsupported`]. TIFF resolution tags are not used as a calibration:
//! screen-capture exports set them to the screen's DPI, not to the image's pixel size.

use super::source::{FrameBuf, FrameSource, SourceCalibration, frame_out_of_range};
use crate::error::Error;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult, Limits};

/// A multi-page TIFF opened for page-by-page reading.
pub struct TiffSource {
    path: PathBuf,
    decoder: Decoder<BufReader<File>>,
    n_pages: usize,
    shape: (usize, usize),
}

impl std::fmt::Debug for TiffSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiffSource").field("path", &self.path).field("n_pages", &self.n_pages).finish()
    }
}

fn tiff_err(path: &Path, page: usize, e: impl std::fmt::Display) -> Error {
    Error::Decode { path: path.to_path_buf(), reason: format!("page {page}: {e}") }
}

fn open_decoder(path: &Path) -> Result<Decoder<BufReader<File>>, Error> {
    let file = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let mut limits = Limits::default();
    limits.decoding_buffer_size = 256 << 20;
    Decoder::new(BufReader::new(file))
        .map(|d| d.with_limits(limits))
        .map_err(|e| Error::Decode { path: path.to_path_buf(), reason: format!("not a readable TIFF: {e}") })
}

/// Number of pages of a TIFF file (reads the directory chain only).
///
/// # Errors
/// [`Error::Io`] / [`Error::Decode`] naming the file.
pub fn count_tiff_pages(path: &Path) -> Result<usize, Error> {
    let mut d = open_decoder(path)?;
    let mut n = 1;
    while d.more_images() {
        d.next_image().map_err(|e| tiff_err(path, n, e))?;
        n += 1;
    }
    Ok(n)
}

impl TiffSource {
    /// Opens a TIFF and checks every page's size and colour type.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Decode`] naming the file and page; [`Error::Inconsistent`] for
    /// pages of different sizes; [`Error::Unsupported`] for colour types other than grey/RGB(A).
    pub fn open(path: &Path) -> Result<Self, Error> {
        let mut decoder = open_decoder(path)?;
        let mut shape = None;
        let mut page = 0;
        loop {
            let (w, h) = decoder.dimensions().map_err(|e| tiff_err(path, page, e))?;
            let ct = decoder.colortype().map_err(|e| tiff_err(path, page, e))?;
            check_color(path, page, ct)?;
            let s = (h as usize, w as usize);
            if w == 0 || h == 0 || w > 8192 || h > 8192 {
                return Err(tiff_err(path, page, format!("size {w}x{h}; accepted 1..=8192 per side")));
            }
            match shape {
                None => shape = Some(s),
                Some(first) if first != s => {
                    return Err(Error::Inconsistent {
                        path: path.to_path_buf(),
                        reason: format!(
                            "page {page} is {w}x{h} pixels but page 0 is {}x{}; all frames must have the same size",
                            first.1, first.0
                        ),
                    });
                }
                Some(_) => {}
            }
            page += 1;
            if !decoder.more_images() {
                break;
            }
            decoder.next_image().map_err(|e| tiff_err(path, page, e))?;
        }
        let shape = shape.unwrap_or((0, 0));
        Ok(Self { path: path.to_path_buf(), decoder, n_pages: page, shape })
    }
}

fn check_color(path: &Path, page: usize, ct: ColorType) -> Result<(), Error> {
    match ct {
        ColorType::Gray(8 | 16) | ColorType::RGB(8 | 16) | ColorType::RGBA(8 | 16) | ColorType::GrayA(8 | 16) => Ok(()),
        other => Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: format!("page {page}: colour type {other:?}; supported: 8/16-bit grey, grey+alpha, RGB, RGBA"),
        }),
    }
}

impl FrameSource for TiffSource {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> String {
        "tiff".into()
    }
    fn len(&self) -> usize {
        self.n_pages
    }
    fn shape(&self) -> (usize, usize) {
        self.shape
    }
    fn frame_label(&self, i: usize) -> String {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{name}#{i}")
    }
    fn calibration(&self) -> Option<SourceCalibration> {
        None
    }
    fn read_frame(&mut self, i: usize, out: &mut FrameBuf) -> Result<(), Error> {
        if i >= self.n_pages {
            return Err(frame_out_of_range(&self.path, i, self.n_pages));
        }
        let path = &self.path;
        self.decoder.seek_to_image(i).map_err(|e| tiff_err(path, i, e))?;
        let ct = self.decoder.colortype().map_err(|e| tiff_err(path, i, e))?;
        let img = self.decoder.read_image().map_err(|e| tiff_err(path, i, e))?;
        let (ch_in, ch_out) = match ct {
            ColorType::Gray(_) => (1, 1),
            ColorType::GrayA(_) => (2, 1),
            ColorType::RGB(_) => (3, 3),
            _ => (4, 3),
        };
        let (rows, cols) = self.shape;
        let dst = out.reset(rows, cols, ch_out);
        let n = rows * cols;
        match img {
            DecodingResult::U8(v) if v.len() >= n * ch_in => {
                for (d, p) in dst.chunks_exact_mut(ch_out).zip(v.chunks_exact(ch_in)) {
                    d.iter_mut().zip(p).for_each(|(d, &s)| *d = f32::from(s));
                }
            }
            DecodingResult::U16(v) if v.len() >= n * ch_in => {
                for (d, p) in dst.chunks_exact_mut(ch_out).zip(v.chunks_exact(ch_in)) {
                    d.iter_mut().zip(p).for_each(|(d, &s)| *d = f32::from(s) * (255.0 / 65535.0));
                }
            }
            _ => return Err(tiff_err(path, i, "unexpected sample type or short page")),
        }
        Ok(())
    }
}
