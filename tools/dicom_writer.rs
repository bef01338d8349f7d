//! Minimal DICOM writer for test fixtures (shared by `tools/make_input_fixtures.rs` and the
//! tests through `#[path]`): the header is written with dicom-object, then `PixelData` is
//! appended by hand so that frames can be streamed (native) or stored as fragments (RLE, JPEG)
//! without holding a whole pullback in memory.

#![allow(dead_code)]

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use std::io::Write;
use std::path::Path;

/// Transfer syntax UIDs.
pub const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub const RLE: &str = "1.2.840.10008.1.2.5";
pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
pub const JPEG_2000: &str = "1.2.840.10008.1.2.4.90";

/// Ultrasound Multi-frame Image Storage.
pub const US_MULTIFRAME: &str = "1.2.840.10008.5.1.4.1.1.3.1";

/// What the header says.
#[derive(Debug, Clone)]
pub struct Spec {
    pub rows: usize,
    pub cols: usize,
    pub frames: usize,
    pub photometric: &'static str,
    pub samples_per_pixel: usize,
    pub bits: usize,
    pub planar: bool,
    pub ts: &'static str,
    /// Pixel size written as SequenceOfUltrasoundRegions (cm).
    pub regions_mm_per_px: Option<f64>,
    /// Pixel size written as PixelSpacing (mm).
    pub pixel_spacing_mm: Option<f64>,
    pub pullback_mm_per_s: Option<f64>,
    pub frame_time_vector_ms: Option<Vec<f64>>,
    pub frame_time_ms: Option<f64>,
    pub cine_rate: Option<f64>,
    /// Omit PixelData entirely (bad-input fixture).
    pub no_pixel_data: bool,
}

impl Spec {
    pub fn mono(rows: usize, cols: usize, frames: usize, ts: &'static str) -> Self {
        Spec {
            rows,
            cols,
            frames,
            photometric: "MONOCHROME2",
            samples_per_pixel: 1,
            bits: 8,
            planar: false,
            ts,
            regions_mm_per_px: None,
            pixel_spacing_mm: None,
            pullback_mm_per_s: None,
            frame_time_vector_ms: None,
            frame_time_ms: None,
            cine_rate: None,
            no_pixel_data: false,
        }
    }
}

fn ds(v: f64) -> PrimitiveValue {
    PrimitiveValue::from(format!("{v}"))
}

fn el(tag: dicom_core::Tag, vr: VR, v: PrimitiveValue) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, v)
}

/// The header object (no PixelData).
pub fn header(spec: &Spec) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    o.put(el(tags::SOP_CLASS_UID, VR::UI, PrimitiveValue::from(US_MULTIFRAME)));
    o.put(el(tags::SOP_INSTANCE_UID, VR::UI, PrimitiveValue::from("2.25.1234567890123456789")));
    o.put(el(tags::MODALITY, VR::CS, PrimitiveValue::from("IVUS")));
    o.put(el(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(spec.samples_per_pixel as u16)));
    o.put(el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, PrimitiveValue::from(spec.photometric)));
    if spec.samples_per_pixel == 3 {
        o.put(el(tags::PLANAR_CONFIGURATION, VR::US, PrimitiveValue::from(u16::from(spec.planar))));
    }
    o.put(el(tags::NUMBER_OF_FRAMES, VR::IS, PrimitiveValue::from(spec.frames.to_string())));
    o.put(el(tags::ROWS, VR::US, PrimitiveValue::from(spec.rows as u16)));
    o.put(el(tags::COLUMNS, VR::US, PrimitiveValue::from(spec.cols as u16)));
    o.put(el(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(spec.bits as u16)));
    o.put(el(tags::BITS_STORED, VR::US, PrimitiveValue::from(spec.bits as u16)));
    o.put(el(tags::HIGH_BIT, VR::US, PrimitiveValue::from(spec.bits as u16 - 1)));
    o.put(el(tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(0u16)));
    if let Some(mm) = spec.pixel_spacing_mm {
        o.put(el(tags::PIXEL_SPACING, VR::DS, PrimitiveValue::from(format!("{mm}\\{mm}"))));
    }
    if let Some(mm) = spec.regions_mm_per_px {
        let mut item = InMemDicomObject::new_empty();
        item.put(el(tags::REGION_SPATIAL_FORMAT, VR::US, PrimitiveValue::from(1u16)));
        item.put(el(tags::REGION_DATA_TYPE, VR::US, PrimitiveValue::from(1u16)));
        item.put(el(tags::REGION_LOCATION_MIN_X0, VR::UL, PrimitiveValue::from(0u32)));
        item.put(el(tags::REGION_LOCATION_MIN_Y0, VR::UL, PrimitiveValue::from(0u32)));
        item.put(el(tags::REGION_LOCATION_MAX_X1, VR::UL, PrimitiveValue::from(spec.cols as u32 - 1)));
        item.put(el(tags::REGION_LOCATION_MAX_Y1, VR::UL, PrimitiveValue::from(spec.rows as u32 - 1)));
        item.put(el(tags::PHYSICAL_UNITS_X_DIRECTION, VR::US, PrimitiveValue::from(3u16)));
        item.put(el(tags::PHYSICAL_UNITS_Y_DIRECTION, VR::US, PrimitiveValue::from(3u16)));
        item.put(el(tags::PHYSICAL_DELTA_X, VR::FD, PrimitiveValue::from(mm / 10.0)));
        item.put(el(tags::PHYSICAL_DELTA_Y, VR::FD, PrimitiveValue::from(mm / 10.0)));
        o.put(DataElement::new(tags::SEQUENCE_OF_ULTRASOUND_REGIONS, VR::SQ, DataSetSequence::from(vec![item])));
    }
    if let Some(v) = spec.pullback_mm_per_s {
        o.put(el(tags::IVUS_PULLBACK_RATE, VR::DS, ds(v)));
    }
    if let Some(v) = &spec.frame_time_vector_ms {
        let s: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
        o.put(el(tags::FRAME_TIME_VECTOR, VR::DS, PrimitiveValue::from(s.join("\\"))));
    }
    if let Some(v) = spec.frame_time_ms {
        o.put(el(tags::FRAME_TIME, VR::DS, ds(v)));
    }
    if let Some(v) = spec.cine_rate {
        o.put(el(tags::CINE_RATE, VR::IS, PrimitiveValue::from(format!("{}", v.round() as i64))));
    }
    o
}

fn write_header(w: &mut impl Write, spec: &Spec) -> std::io::Result<()> {
    let obj = header(spec)
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(spec.ts))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    obj.write_all(&mut *w).map_err(|e| std::io::Error::other(e.to_string()))
}

fn tag(w: &mut impl Write, g: u16, e: u16) -> std::io::Result<()> {
    w.write_all(&g.to_le_bytes())?;
    w.write_all(&e.to_le_bytes())
}

/// Writes a native (uncompressed) file; `frame(i)` returns frame `i`'s bytes in the stored layout.
pub fn write_native(path: &Path, spec: &Spec, mut frame: impl FnMut(usize) -> Vec<u8>) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    write_header(&mut w, spec)?;
    if spec.no_pixel_data {
        return w.flush();
    }
    let frame_bytes = match spec.photometric {
        "YBR_FULL_422" => spec.rows * spec.cols * 2,
        _ => spec.rows * spec.cols * spec.samples_per_pixel * spec.bits / 8,
    };
    let len = (frame_bytes * spec.frames) as u32;
    tag(&mut w, 0x7FE0, 0x0010)?;
    if spec.ts == IMPLICIT_LE {
        w.write_all(&len.to_le_bytes())?;
    } else {
        w.write_all(if spec.bits == 16 { b"OW" } else { b"OB" })?;
        w.write_all(&[0, 0])?;
        w.write_all(&len.to_le_bytes())?;
    }
    for i in 0..spec.frames {
        let f = frame(i);
        assert_eq!(f.len(), frame_bytes, "frame {i} size");
        w.write_all(&f)?;
    }
    w.flush()
}

/// Writes an encapsulated file: one fragment per frame, with a Basic Offset Table when `bot`.
pub fn write_encapsulated(path: &Path, spec: &Spec, fragments: &[Vec<u8>], bot: bool) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    write_header(&mut w, spec)?;
    tag(&mut w, 0x7FE0, 0x0010)?;
    w.write_all(b"OB")?;
    w.write_all(&[0, 0])?;
    w.write_all(&0xFFFF_FFFFu32.to_le_bytes())?;
    tag(&mut w, 0xFFFE, 0xE000)?;
    let padded: Vec<usize> = fragments.iter().map(|f| f.len() + f.len() % 2).collect();
    if bot {
        w.write_all(&(4 * fragments.len() as u32).to_le_bytes())?;
        let mut off = 0u32;
        for p in &padded {
            w.write_all(&off.to_le_bytes())?;
            off += 8 + *p as u32;
        }
    } else {
        w.write_all(&0u32.to_le_bytes())?;
    }
    for (f, p) in fragments.iter().zip(&padded) {
        tag(&mut w, 0xFFFE, 0xE000)?;
        w.write_all(&(*p as u32).to_le_bytes())?;
        w.write_all(f)?;
        if *p != f.len() {
            w.write_all(&[0])?;
        }
    }
    tag(&mut w, 0xFFFE, 0xE0DD)?;
    w.write_all(&0u32.to_le_bytes())?;
    w.flush()
}

/// RGB (interleaved) → full-range YCbCr (PS3.3 C.7.6.3.1.2), rounded.
pub fn ybr_of_rgb(r: f64, g: f64, b: f64) -> [u8; 3] {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = -0.168_736 * r - 0.331_264 * g + 0.5 * b + 128.0;
    let cr = 0.5 * r - 0.418_688 * g - 0.081_312 * b + 128.0;
    [y, cb, cr].map(|v| v.round().clamp(0.0, 255.0) as u8)
}

/// The colour version of a grey level used by the colour fixtures (a warm tint, so that channel
/// order matters): `[g, 0.85 g, 0.6 g + 20]`, rounded.
pub fn tint(g: u8) -> [u8; 3] {
    let g = f64::from(g);
    [g, 0.85 * g, (0.6 * g + 20.0).min(255.0)].map(|v| v.round() as u8)
}
