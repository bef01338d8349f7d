//! One harness per fuzz target, shared by the libFuzzer targets in `tools/fuzz/` (included with
//! `#[path]`) and by `tests/regressions.rs`, which replays every file under
//! `tests/regressions/<target>/` through the same function in the normal test suite.
//!
//! Each harness feeds arbitrary bytes to a reader (through a real file, so the code path is the
//! one the CLI takes) and **panics** when an invariant is broken:
//! * errors name the file they are about and are of the documented class;
//! * accepted inputs give sane values: finite, positive calibrations; images within the size
//!   limit with finite pixels; pipeline results with finite numbers, closed contours of at least
//!   three points and positive areas;
//! * writing an accepted results document and reading it back gives the same text again.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use truelumen::io::{self, CalibrationOptions, MAX_IMAGE_SIDE_PX, SIDECAR_NAME};
use truelumen::pipeline::polar_display_geometry;
use truelumen::report::{FrameResult, RegionResult};
use truelumen::{Calibration, CartImage, Error, Pipeline, PipelineConfig, PolarGeometry, Rotation};

/// A harness: runs one input through the code under test.
pub type Harness = fn(&[u8]);

/// The harnesses, by target name (the sub-folder of `tests/regressions/` and the fuzz target).
pub const TARGETS: &[(&str, Harness)] =
    &[("image", image), ("sidecar", sidecar), ("results", results), ("pipeline", pipeline), ("pullback", pullback)];

thread_local! {
    static SCRATCH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// A scratch folder private to this process and thread (created once; in `/dev/shm` when it
/// exists, to keep the file round trip cheap).
fn scratch_dir() -> PathBuf {
    SCRATCH.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| {
                let base =
                    if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
                let tid =
                    format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
                let dir = base.join(format!("truelumen-fuzz-{}-{tid}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("scratch folder");
                dir
            })
            .clone()
    })
}

/// Writes `data` to `name` in the scratch folder, removing any other file there first.
fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = scratch_dir();
    for e in std::fs::read_dir(&dir).expect("scratch folder").flatten() {
        let _ = std::fs::remove_file(e.path());
    }
    let path = dir.join(name);
    std::fs::write(&path, data).expect("scratch file");
    path
}

fn assert_names(e: &Error, path: &Path) {
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "error does not name {}: {msg}", path.display());
}

/// Image bytes → [`io::read_image_shape`] and [`io::read_image`] (the functions `analyze` and
/// `frame` use). The first byte picks the file extension (content decides the format; the
/// extension only matters when the content is not recognised).
pub fn image(data: &[u8]) {
    const EXT: [&str; 8] = ["png", "tif", "tiff", "jpg", "jpeg", "bmp", "bin", "PNG"];
    let (ext, body) = match data.split_first() {
        Some((b, rest)) => (EXT[*b as usize % EXT.len()], rest),
        None => ("png", data),
    };
    let path = scratch_file(&format!("frame.{ext}"), body);
    let shape = io::read_image_shape(&path);
    match io::read_image(&path) {
        Ok(img) => {
            let (rows, cols) = img.shape();
            let max = MAX_IMAGE_SIDE_PX as usize;
            assert!((1..=max).contains(&rows) && (1..=max).contains(&cols), "{rows}x{cols}");
            assert!(img.as_slice().iter().all(|v| v.is_finite() && (0.0..=255.001).contains(v)), "pixel range");
            // The header probe agrees with the decoded size (the probe may not get further
            // than the header, so it may not fail where decoding does - but not vice versa).
            assert_eq!(*shape.as_ref().expect("decodable image has a readable header"), (rows, cols));
        }
        Err(e) => {
            assert!(matches!(e, Error::Decode { .. } | Error::Io { .. }), "error class: {e:?}");
            assert_names(&e, &path);
        }
    }
    if let Err(e) = shape {
        assert!(matches!(e, Error::Decode { .. } | Error::Io { .. }), "error class: {e:?}");
        assert_names(&e, &path);
    }
}

/// `calibration.json` bytes → [`io::resolve_calibration`] for a frame size and options taken
/// from the first four bytes.
pub fn sidecar(data: &[u8]) {
    let (head, body) = data.split_at(data.len().min(4));
    let mut h = [0u8; 4];
    h[..head.len()].copy_from_slice(head);
    let rows = 1 + h[0] as usize * 2;
    let cols = 1 + h[1] as usize * 2;
    let opts = CalibrationOptions {
        polar: h[2] & 1 != 0,
        line0_deg: (h[2] & 2 != 0).then_some(f64::from(h[3]) * 3.0 - 90.0),
        rotation: (h[2] & 4 != 0).then_some(Rotation::Cw),
        center_px: (h[2] & 8 != 0).then_some([f64::from(h[3]), 10.0]),
        ..CalibrationOptions::default()
    };
    let path = scratch_file(SIDECAR_NAME, body);
    let dir = path.parent().unwrap().to_path_buf();
    match io::resolve_calibration(&opts, std::slice::from_ref(&dir), (rows, cols)) {
        Ok(r) => {
            match r.calib {
                Calibration::Cartesian { mm_per_px } => {
                    assert!(mm_per_px.is_finite() && mm_per_px > 0.0, "mm_per_px {mm_per_px}");
                }
                Calibration::Polar(g) => {
                    g.validate().expect("accepted polar geometry is valid");
                    assert_eq!((g.n_lines, g.n_samples), (rows, cols));
                }
            }
            if let Some(c) = r.center_px {
                // A non-finite centre must be caught before the pipeline runs.
                if !(c[0].is_finite() && c[1].is_finite()) {
                    let config = PipelineConfig::default().with_center_px(Some(c));
                    assert!(config.validate().is_err(), "non-finite centre {c:?} passes validation");
                }
            }
        }
        Err(e) => match &e {
            Error::InvalidParam { .. } => {}
            Error::Format { .. } | Error::Input { .. } | Error::Io { .. } => assert_names(&e, &path),
            other => panic!("error class: {other:?}"),
        },
    }
}

/// `results.json` bytes → [`truelumen::eval::load_results`]; an accepted document is written
/// with [`truelumen::output::write_json_to`] and read back: writing must succeed and be
/// idempotent (the second write gives the same bytes as the first), and the CSV writer must
/// accept its frames.
pub fn results(data: &[u8]) {
    let path = scratch_file("results.json", data);
    match truelumen::eval::load_results(&path) {
        Ok(doc) => {
            let mut first = Vec::new();
            truelumen::output::write_json_to(&mut first, &doc).expect("accepted results can be written");
            let again: truelumen::report::Results =
                serde_json::from_slice(&first).expect("written results.json parses again");
            let mut second = Vec::new();
            truelumen::output::write_json_to(&mut second, &again).expect("re-written");
            assert_eq!(String::from_utf8_lossy(&first), String::from_utf8_lossy(&second), "write is not idempotent");
            truelumen::output::write_csv_to(std::io::sink(), &doc.frames).expect("CSV");
        }
        Err(e) => {
            assert!(matches!(e, Error::Format { .. } | Error::Io { .. }), "error class: {e:?}");
            assert_names(&e, &path);
        }
    }
}

/// Reads little-endian values off the front of the fuzz input, zero when it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn f64_bits(&mut self) -> f64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        f64::from_le_bytes(b)
    }
    /// A value in `lo..hi` on a 256-step grid, or (1 in 8) any `f64` bit pattern: NaN, ±inf,
    /// zero, negative, subnormal, huge.
    fn param(&mut self, lo: f64, hi: f64) -> f64 {
        let sel = self.u8();
        if sel % 8 == 7 { self.f64_bits() } else { lo + (hi - lo) * f64::from(self.u8()) / 255.0 }
    }
}

/// Pixel data and geometry → [`Pipeline::process`] on a small frame (1–96 px per side),
/// Cartesian or polar, with calibrations that are sometimes NaN / infinite / zero / negative /
/// extreme, and sometimes a fixed centre; an accepted result must be sane ([`check_result`])
/// and must render as an overlay, a CSV row and JSON.
pub fn pipeline(data: &[u8]) {
    let mut b = Bytes(data);
    let rows = 1 + b.u8() as usize % 96;
    let cols = 1 + b.u8() as usize % 96;
    let kind = b.u8();
    let calib = if kind & 1 == 0 {
        Calibration::Cartesian { mm_per_px: b.param(0.005, 0.2) }
    } else {
        let rotation = if kind & 2 == 0 { Rotation::Ccw } else { Rotation::Cw };
        Calibration::Polar(PolarGeometry {
            n_lines: rows,
            n_samples: cols,
            mm_per_sample: b.param(0.005, 0.2),
            line0_angle_deg: b.param(-360.0, 360.0),
            rotation,
        })
    };
    let center = (kind & 4 != 0).then(|| [b.param(-10.0, 100.0), b.param(-10.0, 100.0)]);
    let config = PipelineConfig::default().with_center_px(center);
    // Pixels: the rest of the input, repeated; sometimes scaled to 16-bit-like values, and
    // (kind bit 3) with one non-finite pixel.
    let pixels = b.0;
    let scale = if kind & 16 != 0 { 257.0 / 255.0 } else { 1.0 };
    let mut img = CartImage::from_fn(rows, cols, |r, c| {
        let k = r * cols + c;
        if pixels.is_empty() { 0.0 } else { f32::from(pixels[k % pixels.len()]) * scale }
    });
    if kind & 8 != 0 && kind & 32 != 0 {
        *img.get_mut(rows / 2, cols / 2) = f32::NAN;
    }
    let mut p = match Pipeline::new(config) {
        Ok(p) => p,
        Err(Error::InvalidParam { name: "center_px", .. }) => return,
        Err(e) => panic!("default config with a centre rejected: {e}"),
    };
    match p.process(&img, calib, 7, "fuzz") {
        Ok(r) => {
            check_result(&r);
            let display = match calib {
                Calibration::Cartesian { .. } => img,
                Calibration::Polar(g) => {
                    let (side, _) = polar_display_geometry(&g);
                    truelumen::scan::cartesian_from_polar(&img, g, side).expect("display image of a valid geometry")
                }
            };
            let _ = truelumen::overlay::render_overlay(&display, &r);
            assert_eq!(truelumen::output::csv_row(&r).len(), truelumen::output::CSV_COLUMNS.len());
            truelumen::output::to_json_string(&r, false).expect("JSON");
        }
        Err(e) => assert!(
            matches!(e, Error::InvalidParam { .. } | Error::FrameTooSmall { .. } | Error::FrameShape { .. }),
            "error class: {e:?}"
        ),
    }
}

fn finite(what: &str, v: f64) {
    assert!(v.is_finite(), "{what} = {v}");
}

fn check_region(what: &str, r: &RegionResult) {
    let pts = &r.contour_mm.points_mm;
    assert!(pts.len() >= 3, "{what}: contour of {} points", pts.len());
    assert!(pts.iter().flatten().all(|v| v.is_finite()), "{what}: non-finite contour point");
    assert!(r.area_mm2 > 0.0, "{what}: area {}", r.area_mm2);
    for (n, v) in [
        ("area_mm2", r.area_mm2),
        ("centroid x", r.centroid_mm[0]),
        ("centroid y", r.centroid_mm[1]),
        ("centroid_angle_deg", r.centroid_angle_deg),
        ("min_diameter_mm", r.min_diameter_mm),
        ("max_diameter_mm", r.max_diameter_mm),
        ("mean_diameter_mm", r.mean_diameter_mm),
        ("area_equivalent_diameter_mm", r.area_equivalent_diameter_mm),
        ("eccentricity", r.eccentricity),
    ] {
        finite(&format!("{what}.{n}"), v);
    }
    assert!((0.0..360.0).contains(&r.centroid_angle_deg), "{what}: angle {}", r.centroid_angle_deg);
    assert!(r.min_diameter_mm <= r.max_diameter_mm + 1e-9, "{what}: min > max diameter");
    assert!((0.0..=1.0).contains(&r.eccentricity), "{what}: eccentricity {}", r.eccentricity);
}

/// Every number of a result is finite; regions have closed contours (≥ 3 points) with positive
/// area; display angles are in `[0, 360)`, relative angles in `(-180, 180]`.
pub fn check_result(r: &FrameResult) {
    finite("mm_per_px", r.mm_per_px);
    assert!(r.mm_per_px > 0.0, "mm_per_px {}", r.mm_per_px);
    finite("center col", r.center_px[0]);
    finite("center row", r.center_px[1]);
    finite("catheter_radius_mm", r.catheter_radius_mm);
    if let Some(l) = &r.lumen {
        check_region("lumen", l);
    }
    if let Some(v) = &r.vessel {
        check_region("vessel", v);
    }
    if let Some(pb) = r.plaque_burden {
        finite("plaque_burden", pb);
    }
    if let Some(w) = &r.guidewire {
        for (n, v) in [
            ("center x", w.center_mm[0]),
            ("center y", w.center_mm[1]),
            ("angle_deg", w.angle_deg),
            ("shadow_width_deg", w.shadow_width_deg),
            ("confidence", w.confidence),
        ] {
            finite(&format!("guidewire.{n}"), v);
        }
        assert!((0.0..360.0).contains(&w.angle_deg), "wire angle {}", w.angle_deg);
        if let Some(rel) = w.relative_angle_deg {
            assert!(rel > -180.0 && rel <= 180.0, "relative angle {rel}");
        }
        if let Some(d) = w.distance_to_lumen_mm {
            finite("guidewire.distance_to_lumen_mm", d);
        }
    }
    let q = &r.quality;
    for (n, v) in [
        ("wire_shadow_bridged_deg", q.wire_shadow_bridged_deg),
        ("shadow_bridged_deg", q.shadow_bridged_deg),
        ("lumen_contrast", q.lumen_contrast),
        ("vessel_contrast", q.vessel_contrast),
    ] {
        finite(&format!("quality.{n}"), v);
    }
}

/// Pullback files → [`io::DicomSource`], [`io::TiffSource`] or [`io::RawSource`]: open (header
/// only), then decode the first, middle and last frame. The first byte picks the format (0 DICOM
/// `p.dcm`, 1 multi-page TIFF `p.tif`, 2 raw `p.raw` + `p.json`); for raw, the next two bytes
/// are the length of the JSON sidecar that follows, the rest is the binary.
///
/// Errors must be of an input class (I/O, decode, input, format, unsupported, inconsistent,
/// calibration) and name the file; an opened source must have frames of a sane size whose
/// samples are finite and whose stored calibration, if any, is valid.
pub fn pullback(data: &[u8]) {
    use truelumen::io::{FrameBuf, FrameSource};
    let (kind, body) = match data.split_first() {
        Some((b, rest)) => (b % 3, rest),
        None => (0, data),
    };
    let (path, opened): (PathBuf, Result<Box<dyn FrameSource>, Error>) = match kind {
        0 => {
            let p = scratch_file("p.dcm", body);
            let r = io::DicomSource::open(&p).map(|s| Box::new(s) as Box<dyn FrameSource>);
            (p, r)
        }
        1 => {
            let p = scratch_file("p.tif", body);
            let r = io::TiffSource::open(&p).map(|s| Box::new(s) as Box<dyn FrameSource>);
            (p, r)
        }
        _ => {
            let n = body.get(..2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize);
            let rest = body.get(2..).unwrap_or_default();
            let (json, raw) = rest.split_at(n.min(rest.len()));
            let p = scratch_file("p.raw", raw);
            std::fs::write(p.with_extension("json"), json).expect("scratch sidecar");
            let r = io::RawSource::open(&p).map(|s| Box::new(s) as Box<dyn FrameSource>);
            (p, r)
        }
    };
    let check_err = |e: &Error| {
        assert!(
            matches!(
                e,
                Error::Io { .. }
                    | Error::Decode { .. }
                    | Error::Input { .. }
                    | Error::Format { .. }
                    | Error::Unsupported { .. }
                    | Error::Inconsistent { .. }
                    | Error::Calibration { .. }
            ),
            "error class: {e:?}"
        );
        let msg = e.to_string();
        let named = msg.contains(&path.display().to_string())
            || msg.contains(&path.with_extension("json").display().to_string());
        assert!(named, "error does not name {}: {msg}", path.display());
    };
    let mut src = match opened {
        Ok(s) => s,
        Err(e) => return check_err(&e),
    };
    let (rows, cols) = src.shape();
    assert!(rows > 0 && cols > 0 && rows <= 1 << 16 && cols <= 1 << 16, "shape {rows}x{cols}");
    if let Some(c) = src.calibration() {
        match c.calib {
            Calibration::Cartesian { mm_per_px } => assert!(mm_per_px.is_finite() && mm_per_px > 0.0, "{mm_per_px}"),
            Calibration::Polar(g) => g.validate().expect("stored polar geometry is valid"),
        }
    }
    let n = src.len();
    let mut buf = FrameBuf::default();
    for i in [0, n / 2, n.saturating_sub(1), n] {
        match src.read_frame(i, &mut buf) {
            Ok(()) => {
                assert!(i < n, "frame {i} of {n} read");
                assert_eq!(buf.shape(), (rows, cols), "frame {i}");
                assert!(buf.as_slice().iter().all(|v| v.is_finite()), "frame {i}: non-finite sample");
            }
            Err(e) => check_err(&e),
        }
    }
}
