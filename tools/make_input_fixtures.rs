//! Writes the input-format fixtures of `fixtures/inputs/` from phantom frames (`truelumen::sim`),
//! or one large DICOM pullback for memory measurements.
//!
//! ```text
//! cargo run --release --example make_input_fixtures -- fixtures/inputs
//! cargo run --release --example make_input_fixtures -- --big 10000 --side 512 /tmp/big.dcm
//! ```
//!
//! Small set (all 256x256 px, 10 mm field of view, phantom seeds 7001–7004):
//! * `dicom/*.dcm`: the same frames in every supported transfer syntax and photometric
//!   interpretation, with calibration (SequenceOfUltrasoundRegions or PixelSpacing) and timing
//!   (IVUSPullbackRate, FrameTimeVector / FrameTime / CineRate); colour files use the tint
//!   of `dicom_writer::tint`.
//! * `pullback.tif`: a 4-page grey TIFF.
//! * `screen/cap_*.png`: RGB screen captures, field circle off-centre with burned-in text, date,
//!   frame counter, scale ticks and coloured markers inside and outside the field.
//! * `raw/polar_u8.raw` and `raw/rf_i16.raw` with JSON sidecars.
//! * `truth/frame_K.png` (grey Cartesian) and `truth/polar_K.png`: what was written.
//! * `expected.json`: calibration and timing written into each file.

#[path = "dicom_writer.rs"]
mod dicom_writer;

use dicom_writer::{EXPLICIT_LE, IMPLICIT_LE, JPEG_BASELINE, RLE, Spec, tint, ybr_of_rgb};
use serde_json::json;
use std::path::{Path, PathBuf};
use truelumen::io::dicom::rle_encode_frame;
use truelumen::sim::{Phantom, PhantomSpec, simulate};

const SIDE: usize = 256;
const FOV_MM: f64 = 10.0;
const SEEDS: [u64; 4] = [7001, 7002, 7003, 7004];
const PULLBACK_MM_PER_S: f64 = 0.5;
const RF_DYNAMIC_RANGE_DB: f64 = 50.0;
/// Display angle of line 0 of the polar fixtures (one geometry for the whole pullback).
const LINE0_DEG: f64 = 90.0;

fn phantom(seed: u64, side: usize) -> Phantom {
    let mut s = PhantomSpec::random(seed);
    s.image_side_px = side;
    s.fov_mm = FOV_MM;
    s.depth_mm = FOV_MM / 2.0;
    s.n_lines = 256;
    s.n_samples = 256;
    s.line0_angle_deg = LINE0_DEG;
    s.rotation = truelumen::Rotation::Ccw;
    simulate(&s).expect("valid phantom")
}

fn gray_bytes(p: &Phantom) -> Vec<u8> {
    p.cart.as_slice().iter().map(|&v| v.round().clamp(0.0, 255.0) as u8).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--big") {
        let n: usize = args.get(1).ok_or("--big N")?.parse()?;
        let side: usize = if args.get(2).map(String::as_str) == Some("--side") { args[3].parse()? } else { 512 };
        let out = PathBuf::from(args.last().ok_or("output file")?);
        return big(&out, n, side);
    }
    let dir = PathBuf::from(args.first().ok_or("usage: make_input_fixtures DIR | --big N [--side S] FILE")?);
    small(&dir)
}

/// A long native pullback, frames cycled from 8 phantoms; written frame by frame.
fn big(out: &Path, n: usize, side: usize) -> Result<(), Box<dyn std::error::Error>> {
    let frames: Vec<Vec<u8>> = (0..8).map(|k| gray_bytes(&phantom(7100 + k, side))).collect();
    let mut spec = Spec::mono(side, side, n, EXPLICIT_LE);
    spec.regions_mm_per_px = Some(FOV_MM / side as f64);
    spec.frame_time_ms = Some(1000.0 / 30.0);
    spec.pullback_mm_per_s = Some(PULLBACK_MM_PER_S);
    dicom_writer::write_native(out, &spec, |i| frames[i % frames.len()].clone())?;
    println!("wrote {} ({n} frames of {side}x{side})", out.display());
    Ok(())
}

fn small(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    for sub in ["dicom", "raw", "screen", "truth"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let ph: Vec<Phantom> = SEEDS.iter().map(|&s| phantom(s, SIDE)).collect();
    let gray: Vec<Vec<u8>> = ph.iter().map(gray_bytes).collect();
    let polar: Vec<Vec<u8>> =
        ph.iter().map(|p| p.polar.as_slice().iter().map(|&v| v.round().clamp(0.0, 255.0) as u8).collect()).collect();
    for (k, (g, pl)) in gray.iter().zip(&polar).enumerate() {
        image::GrayImage::from_raw(SIDE as u32, SIDE as u32, g.clone()).ok_or("size")?.save(dir.join(format!("truth/frame_{k}.png")))?;
        image::GrayImage::from_raw(256, 256, pl.clone()).ok_or("size")?.save(dir.join(format!("truth/polar_{k}.png")))?;
    }
    let mm_per_px = FOV_MM / SIDE as f64;
    let mut expected = serde_json::Map::new();
    let n4 = 4;
    let ftv: Vec<f64> = vec![0.0, 33.0, 34.0, 33.0];

    // --- DICOM: grey.
    let mut s = Spec::mono(SIDE, SIDE, n4, EXPLICIT_LE);
    s.regions_mm_per_px = Some(mm_per_px);
    s.pullback_mm_per_s = Some(PULLBACK_MM_PER_S);
    s.frame_time_vector_ms = Some(ftv.clone());
    dicom_writer::write_native(&dir.join("dicom/mono_explicit.dcm"), &s, |i| gray[i].clone())?;
    expected.insert(
        "mono_explicit.dcm".into(),
        json!({"frames": n4, "color": false, "mm_per_px": mm_per_px, "calibration_tag": "SequenceOfUltrasoundRegions/PhysicalDeltaX",
               "pullback_mm_per_s": PULLBACK_MM_PER_S, "frame_times_s": [0.0, 0.033, 0.067, 0.100], "timing_tag": "FrameTimeVector", "max_error": 0.0}),
    );

    let mut s = Spec::mono(SIDE, SIDE, n4, IMPLICIT_LE);
    s.pixel_spacing_mm = Some(mm_per_px);
    s.frame_time_ms = Some(40.0);
    dicom_writer::write_native(&dir.join("dicom/mono_implicit.dcm"), &s, |i| gray[i].clone())?;
    expected.insert(
        "mono_implicit.dcm".into(),
        json!({"frames": n4, "color": false, "mm_per_px": mm_per_px, "calibration_tag": "PixelSpacing",
               "frame_times_s": [0.0, 0.04, 0.08, 0.12], "timing_tag": "FrameTime", "max_error": 0.0}),
    );

    let mut s = Spec::mono(SIDE, SIDE, 2, EXPLICIT_LE);
    s.bits = 16;
    s.regions_mm_per_px = Some(mm_per_px);
    dicom_writer::write_native(&dir.join("dicom/mono16_explicit.dcm"), &s, |i| {
        gray[i].iter().flat_map(|&v| (u16::from(v) * 257).to_le_bytes()).collect()
    })?;
    expected.insert(
        "mono16_explicit.dcm".into(),
        json!({"frames": 2, "color": false, "mm_per_px": mm_per_px, "calibration_tag": "SequenceOfUltrasoundRegions/PhysicalDeltaX", "max_error": 0.001}),
    );

    let mut s = Spec::mono(SIDE, SIDE, n4, RLE);
    s.regions_mm_per_px = Some(mm_per_px);
    s.cine_rate = Some(25.0);
    let frags: Vec<Vec<u8>> = gray.iter().map(|g| rle_encode_frame(&[g])).collect();
    dicom_writer::write_encapsulated(&dir.join("dicom/mono_rle.dcm"), &s, &frags, true)?;
    expected.insert(
        "mono_rle.dcm".into(),
        json!({"frames": n4, "color": false, "mm_per_px": mm_per_px, "calibration_tag": "SequenceOfUltrasoundRegions/PhysicalDeltaX",
               "frame_times_s": [0.0, 0.04, 0.08, 0.12], "timing_tag": "CineRate", "max_error": 0.0}),
    );

    let mut s = Spec::mono(SIDE, SIDE, n4, JPEG_BASELINE);
    s.regions_mm_per_px = Some(mm_per_px);
    let frags: Vec<Vec<u8>> = gray.iter().map(|g| jpeg(g, 1, false)).collect::<Result<_, _>>()?;
    dicom_writer::write_encapsulated(&dir.join("dicom/mono_jpeg.dcm"), &s, &frags, false)?;
    expected.insert(
        "mono_jpeg.dcm".into(),
        json!({"frames": n4, "color": false, "mm_per_px": mm_per_px, "calibration_tag": "SequenceOfUltrasoundRegions/PhysicalDeltaX", "mean_error": 3.0}),
    );

    // --- DICOM: colour (2 frames each).
    let rgb: Vec<Vec<u8>> = gray.iter().take(2).map(|g| g.iter().flat_map(|&v| tint(v)).collect()).collect();
    let color = |pi: &'static str, ts: &'static str| {
        let mut s = Spec::mono(SIDE, SIDE, 2, ts);
        s.photometric = pi;
        s.samples_per_pixel = 3;
        s.regions_mm_per_px = Some(mm_per_px);
        s.pullback_mm_per_s = Some(1.0);
        s
    };
    let exp_color = |max_error: f64| {
        json!({"frames": 2, "color": true, "mm_per_px": mm_per_px, "calibration_tag": "SequenceOfUltrasoundRegions/PhysicalDeltaX",
               "pullback_mm_per_s": 1.0, "max_error": max_error})
    };
    dicom_writer::write_native(&dir.join("dicom/rgb_explicit.dcm"), &color("RGB", EXPLICIT_LE), |i| rgb[i].clone())?;
    expected.insert("rgb_explicit.dcm".into(), exp_color(0.0));
    let mut s = color("RGB", EXPLICIT_LE);
    s.planar = true;
    dicom_writer::write_native(&dir.join("dicom/rgb_planar_explicit.dcm"), &s, |i| {
        (0..3).flat_map(|c| rgb[i].chunks_exact(3).map(move |p| p[c]).collect::<Vec<u8>>()).collect()
    })?;
    expected.insert("rgb_planar_explicit.dcm".into(), exp_color(0.0));
    let ybr: Vec<Vec<u8>> = rgb
        .iter()
        .map(|f| f.chunks_exact(3).flat_map(|p| ybr_of_rgb(f64::from(p[0]), f64::from(p[1]), f64::from(p[2]))).collect())
        .collect();
    dicom_writer::write_native(&dir.join("dicom/ybr_full_explicit.dcm"), &color("YBR_FULL", EXPLICIT_LE), |i| {
        ybr[i].clone()
    })?;
    expected.insert("ybr_full_explicit.dcm".into(), exp_color(2.0));
    dicom_writer::write_native(&dir.join("dicom/ybr_full_422_explicit.dcm"), &color("YBR_FULL_422", EXPLICIT_LE), |i| {
        // Y1 Y2 Cb Cr per horizontal pair; chroma averaged over the pair.
        ybr[i]
            .chunks_exact(6)
            .flat_map(|p| {
                let cb = ((u16::from(p[1]) + u16::from(p[4]) + 1) / 2) as u8;
                let cr = ((u16::from(p[2]) + u16::from(p[5]) + 1) / 2) as u8;
                [p[0], p[3], cb, cr]
            })
            .collect()
    })?;
    expected.insert("ybr_full_422_explicit.dcm".into(), exp_color(4.0));
    let frags: Vec<Vec<u8>> = rgb
        .iter()
        .map(|f| {
            let planes: Vec<Vec<u8>> = (0..3).map(|c| f.chunks_exact(3).map(|p| p[c]).collect()).collect();
            rle_encode_frame(&[&planes[0], &planes[1], &planes[2]])
        })
        .collect();
    dicom_writer::write_encapsulated(&dir.join("dicom/rgb_rle.dcm"), &color("RGB", RLE), &frags, false)?;
    expected.insert("rgb_rle.dcm".into(), exp_color(0.0));
    let frags: Vec<Vec<u8>> = rgb.iter().map(|f| jpeg(f, 3, true)).collect::<Result<_, _>>()?;
    dicom_writer::write_encapsulated(&dir.join("dicom/ybr422_jpeg.dcm"), &color("YBR_FULL_422", JPEG_BASELINE), &frags, true)?;
    let mut e = exp_color(0.0);
    e.as_object_mut().ok_or("obj")?.remove("max_error");
    e["mean_error"] = json!(3.0);
    expected.insert("ybr422_jpeg.dcm".into(), e);

    // --- Multi-page TIFF.
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("pullback.tif"))?);
        let mut enc = tiff::encoder::TiffEncoder::new(&mut f)?;
        for g in &gray {
            enc.write_image::<tiff::encoder::colortype::Gray8>(SIDE as u32, SIDE as u32, g)?;
        }
    }
    expected.insert("pullback.tif".into(), json!({"frames": n4, "color": false, "max_error": 0.0}));

    // --- Raw polar (u8) and RF (i16).
    let polar_side = json!({"kind": "polar", "dtype": "u8", "lines": 256, "samples": 256, "frames": 3,
        "depth_mm": FOV_MM / 2.0, "line0_deg": LINE0_DEG, "rotation": "ccw", "pullback_mm_per_s": 0.5, "frame_rate_hz": 30.0});
    std::fs::write(dir.join("raw/polar_u8.json"), serde_json::to_string_pretty(&polar_side)?)?;
    std::fs::write(dir.join("raw/polar_u8.raw"), polar.iter().take(3).flatten().copied().collect::<Vec<u8>>())?;
    // RF: 4 RF samples per polar sample, so that the envelope's band (at most fs/8 wide) stays
    // clear of DC and Nyquist around the fs/4 carrier. One frame (0.5 MB).
    const UP: usize = 4;
    let mut rf = Vec::new();
    for pl in polar.iter().take(1) {
        for line in 0..256 {
            let phase = line as f64 * 0.7;
            for s in 0..256 * UP {
                // Envelope: linear interpolation of the polar grey levels, inverse of the log
                // compression; carrier at fs/4.
                let x = s as f64 / UP as f64;
                let (a, b) = (x.floor() as usize, (x.floor() as usize + 1).min(255));
                let t = x - x.floor();
                let g = f64::from(pl[line * 256 + a]) * (1.0 - t) + f64::from(pl[line * 256 + b]) * t;
                let env = 10f64.powf((g / 255.0 - 1.0) * RF_DYNAMIC_RANGE_DB / 20.0);
                let v = 30000.0 * env * (std::f64::consts::FRAC_PI_2 * s as f64 + phase).cos();
                rf.extend_from_slice(&(v.round() as i16).to_le_bytes());
            }
        }
    }
    let rf_side = json!({"kind": "rf", "dtype": "i16", "lines": 256, "samples": 256 * UP, "frames": 1,
        "sampling_rate_mhz": (256 * UP) as f64 * 1540.0 / (2000.0 * FOV_MM / 2.0), "line0_deg": LINE0_DEG, "rotation": "ccw",
        "dynamic_range_db": RF_DYNAMIC_RANGE_DB, "reference_level": 30000.0});
    std::fs::write(dir.join("raw/rf_i16.json"), serde_json::to_string_pretty(&rf_side)?)?;
    std::fs::write(dir.join("raw/rf_i16.raw"), rf)?;

    // --- Screen captures.
    for (k, g) in gray.iter().enumerate() {
        screen_capture(g, k, gray.len()).save(dir.join(format!("screen/cap_{:03}.png", k + 1)))?;
    }
    expected.insert(
        "screen".into(),
        json!({"frames": n4, "field_center_px": [SCREEN_CENTER.0, SCREEN_CENTER.1], "field_radius_px": SIDE as f64 / 2.0,
               "field_of_view_mm": FOV_MM, "mm_per_px": mm_per_px}),
    );
    std::fs::write(dir.join("expected.json"), serde_json::to_string_pretty(&expected)? + "\n")?;
    println!("wrote fixtures into {}", dir.display());
    Ok(())
}

/// JPEG baseline (quality 90): grey, or RGB stored as YCbCr 4:2:2.
fn jpeg(data: &[u8], channels: usize, subsample: bool) -> Result<Vec<u8>, jpeg_encoder::EncodingError> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    if subsample {
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_2);
    }
    let ct = if channels == 1 { jpeg_encoder::ColorType::Luma } else { jpeg_encoder::ColorType::Rgb };
    enc.encode(data, SIDE as u16, SIDE as u16, ct)?;
    Ok(out)
}

/// Capture canvas (width, height) and field centre (col, row).
const SCREEN_W: u32 = 400;
const SCREEN_H: u32 = 300;
const SCREEN_CENTER: (f64, f64) = (169.5, 147.5);

/// 3x5 glyphs, rows top to bottom, 3 bits each (MSB = left).
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'A' => [2, 5, 7, 5, 5],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'I' => [7, 2, 2, 2, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'P' => [6, 5, 6, 4, 4],
        'R' => [6, 5, 6, 5, 5],
        'T' => [7, 2, 2, 2, 2],
        'V' => [5, 5, 5, 5, 2],
        'U' => [5, 5, 5, 5, 7],
        'S' => [7, 4, 7, 1, 7],
        '-' => [0, 0, 7, 0, 0],
        ':' => [0, 2, 0, 2, 0],
        '.' => [0, 0, 0, 0, 2],
        '/' => [1, 1, 2, 4, 4],
        _ => [0; 5],
    }
}

fn text(img: &mut image::RgbImage, x0: i32, y0: i32, s: &str, color: [u8; 3], scale: i32) {
    for (k, c) in s.chars().enumerate() {
        let g = glyph(c);
        for (r, bits) in g.iter().enumerate() {
            for b in 0..3 {
                if bits & (4 >> b) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(img, x0 + (k as i32 * 4 + b) * scale + dx, y0 + r as i32 * scale + dy, color);
                        }
                    }
                }
            }
        }
    }
}

fn put(img: &mut image::RgbImage, x: i32, y: i32, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, image::Rgb(c));
    }
}

/// A viewer-style capture: the phantom inside a circle, text and markers around and inside.
fn screen_capture(g: &[u8], k: usize, n: usize) -> image::RgbImage {
    let mut img = image::RgbImage::new(SCREEN_W, SCREEN_H);
    let r = SIDE as f64 / 2.0;
    let (cx, cy) = SCREEN_CENTER;
    let (ox, oy) = (cx - (SIDE as f64 - 1.0) / 2.0, cy - (SIDE as f64 - 1.0) / 2.0);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (dx, dy) = (x as f64 - (SIDE as f64 - 1.0) / 2.0, y as f64 - (SIDE as f64 - 1.0) / 2.0);
            if dx * dx + dy * dy <= r * r {
                let v = g[y * SIDE + x];
                put(&mut img, (x as f64 + ox) as i32, (y as f64 + oy) as i32, [v, v, v]);
            }
        }
    }
    // Side panel and burned-in text outside the field.
    for y in 0..SCREEN_H as i32 {
        for x in 320..SCREEN_W as i32 {
            put(&mut img, x, y, [40, 40, 48]);
        }
    }
    let white = [255, 255, 255];
    text(&mut img, 4, 4, "PATIENT 0042", white, 2);
    text(&mut img, 326, 10, "2026-11-27", white, 2);
    text(&mut img, 326, 30, "14:03:22", white, 2);
    text(&mut img, 326, 60, &format!("F {:03}/{:03}", k + 1, n), white, 2);
    text(&mut img, 326, 90, "IVUS 40MHZ", [255, 220, 0], 2);
    text(&mut img, 4, 284, "PULLBACK 0.5 MM/S", [200, 200, 200], 2);
    // Scale ticks every 15 degrees across the field border, 1 mm ruler at the bottom.
    for a in (0..360).step_by(15) {
        let t = f64::from(a).to_radians();
        for rr in 0..10 {
            let rad = r - 6.0 + f64::from(rr);
            put(&mut img, (cx + rad * t.cos()).round() as i32, (cy - rad * t.sin()).round() as i32, white);
        }
    }
    for i in 0..=5 {
        let x = 330 + i * 12;
        for y in 270..(if i % 5 == 0 { 282 } else { 277 }) {
            put(&mut img, x, y, white);
        }
    }
    // Markers inside the field: green caliper cross, yellow dashed measurement, cyan label, white orientation text.
    let (mx, my) = (cx as i32 + 50, cy as i32 - 40);
    for d in -5..=5 {
        put(&mut img, mx + d, my, [0, 255, 0]);
        put(&mut img, mx, my + d, [0, 255, 0]);
    }
    for d in 0..80 {
        if d % 6 < 3 {
            put(&mut img, cx as i32 - 70 + d, cy as i32 + 60 - d / 3, [255, 255, 0]);
        }
    }
    text(&mut img, cx as i32 - 60, cy as i32 + 70, "1.25", [0, 255, 255], 2);
    text(&mut img, cx as i32 - 6, cy as i32 - 110, "ANT", white, 2);
    // A red marker outside the field.
    for y in 250..258 {
        for x in 300..308 {
            put(&mut img, x, y, [255, 0, 0]);
        }
    }
    img
}
