//! Malformed-input corpus: damaged frames, bad calibrations, odd paths and unwritable outputs,
//! each run through the `truelumen` binary and held to the CLI contract:
//! * the exact exit code of its error class (3 input, 4 parameter, 5 output);
//! * a message on stderr that starts with `error: ` and names the offending file or option;
//! * no panic, and no partial output: no `results.json` / `measurements.csv` (or, for a rerun,
//!   the previous ones untouched) and no temporary files left behind.
//!
//! Every damaged file is generated here from a valid 64x64 frame encoded as PNG, TIFF, JPEG or
//! BMP by the `image` crate: truncated at several offsets, magic bytes overwritten, length and
//! offset fields made to lie, dimensions patched to huge or zero values (PNG chunk CRCs are
//! recomputed so that the decoder reaches the dimension check). Nothing is committed but this
//! file. `huge_declared_dimensions_allocate_little` measures, in process, the peak heap of
//! decoding files that declare huge images.
//!
//! Unreadable files (`chmod 000`) and read-only folders cannot be tested as root, who reads and
//! writes them anyway: those cases detect this and check the run instead of the refusal.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

mod common;
use common::BIN;

// ---------------------------------------------------------------- valid frames and patches

/// A 64x64 grey frame with a dark disc and some texture.
fn grey() -> image::GrayImage {
    image::GrayImage::from_fn(64, 64, |x, y| {
        let (dx, dy) = (x as f32 - 32.0, y as f32 - 32.0);
        let base = if dx.hypot(dy) < 13.0 { 20 } else { 120 };
        image::Luma([base + ((x * 7 + y * 13) % 40) as u8])
    })
}

fn encode(fmt: image::ImageFormat) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(grey()).write_to(&mut buf, fmt).unwrap();
    buf.into_inner()
}

fn be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// The PNG with IHDR width/height replaced (CRC recomputed).
fn png_dims(w: u32, h: u32) -> Vec<u8> {
    let mut b = encode(image::ImageFormat::Png);
    assert_eq!(&b[12..16], b"IHDR");
    be32(&mut b, 16, w);
    be32(&mut b, 20, h);
    let crc = crc32(&b[12..29]);
    be32(&mut b, 29, crc);
    b
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("marker present")
}

/// Little-endian TIFF: byte position of the value of `tag` in the first IFD (inline values,
/// or the first element of an out-of-line array) and its type size in bytes.
fn tiff_value_pos(b: &[u8], tag: u16) -> (usize, usize) {
    assert_eq!(&b[..4], b"II*\0", "little-endian TIFF");
    let u16_at = |p: usize| u16::from_le_bytes([b[p], b[p + 1]]);
    let u32_at = |p: usize| u32::from_le_bytes(b[p..p + 4].try_into().unwrap());
    let ifd = u32_at(4) as usize;
    for k in 0..u16_at(ifd) as usize {
        let e = ifd + 2 + 12 * k;
        if u16_at(e) == tag {
            let size = match u16_at(e + 2) {
                3 => 2,
                4 => 4,
                t => panic!("tag {tag} has type {t}"),
            };
            let count = u32_at(e + 4) as usize;
            return if count * size <= 4 { (e + 8, size) } else { (u32_at(e + 8) as usize, size) };
        }
    }
    panic!("tag {tag} not in the TIFF");
}

fn tiff_set(b: &mut [u8], tag: u16, v: u32) {
    let (p, size) = tiff_value_pos(b, tag);
    if size == 2 {
        b[p..p + 2].copy_from_slice(&(v.min(65535) as u16).to_le_bytes());
    } else {
        b[p..p + 4].copy_from_slice(&v.to_le_bytes());
    }
}

// ---------------------------------------------------------------- running cases

struct Outcome {
    code: i32,
    stderr: String,
    stdout: String,
}

fn run_cli(args: &[OsString]) -> Outcome {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn os(s: impl AsRef<std::ffi::OsStr>) -> OsString {
    s.as_ref().to_os_string()
}

/// Files left in `dir` that a failed run must not leave: outputs or temporaries.
fn leftovers(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n == "results.json" || n == "measurements.csv")
        .collect()
}

/// Asserts the contract for a failing run; `out` is the output folder (if any).
fn expect_failure(case: &str, r: &Outcome, code: i32, needles: &[&str], out: Option<&Path>) {
    assert_eq!(r.code, code, "{case}: exit code; stderr: {}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{case}: {}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "{case}: expected {n:?} in: {}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{case}: {}", r.stderr);
    if let Some(out) = out {
        assert!(leftovers(out).is_empty(), "{case}: left {:?} in {}", leftovers(out), out.display());
        if out.is_dir() {
            for sub in std::fs::read_dir(out).unwrap() {
                let p = sub.unwrap().path();
                if p.is_dir() {
                    assert!(leftovers(&p).is_empty(), "{case}: left temporaries in {}", p.display());
                }
            }
        }
    }
}

/// A scratch folder per case.
struct Bench {
    root: tempfile::TempDir,
    n: usize,
    cases: Vec<String>,
}

impl Bench {
    fn new() -> Self {
        Self { root: tempfile::tempdir().unwrap(), n: 0, cases: Vec::new() }
    }

    fn dir(&mut self) -> PathBuf {
        self.n += 1;
        let d = self.root.path().join(format!("case{:03}", self.n));
        std::fs::create_dir(&d).unwrap();
        d
    }

    /// `analyze FILE --out OUT [extra...]` on one file holding `bytes`; must fail with `code`,
    /// naming the file.
    fn analyze_file(&mut self, case: &str, name: &str, bytes: &[u8], extra: &[&str], code: i32) -> Outcome {
        let d = self.dir();
        let f = d.join(name);
        std::fs::write(&f, bytes).unwrap();
        let out = d.join("out");
        let mut args = vec![os("analyze"), os(&f), os("--out"), os(&out), os("--mm-per-px"), os("0.05")];
        args.extend(extra.iter().map(os));
        let r = run_cli(&args);
        expect_failure(case, &r, code, &[name], Some(&out));
        self.cases.push(case.to_string());
        r
    }

    /// `analyze DIR --out OUT` where `DIR` holds a valid frame `f0.png` followed by `name`
    /// with `bytes` (a header that passes the probe but data that fails to decode is caught
    /// after the output files were opened: they must be discarded).
    fn analyze_pair(&mut self, case: &str, name: &str, bytes: &[u8], code: i32) {
        let d = self.dir();
        let input = d.join("in");
        std::fs::create_dir(&input).unwrap();
        grey().save(input.join("f0.png")).unwrap();
        std::fs::write(input.join(name), bytes).unwrap();
        let out = d.join("out");
        let r = run_cli(&[os("analyze"), os(&input), os("--out"), os(&out), os("--mm-per-px"), os("0.05")]);
        expect_failure(case, &r, code, &[name], Some(&out));
        self.cases.push(case.to_string());
    }

    /// `analyze DIR --out OUT` on a folder holding a valid frame and `calibration.json` with
    /// `json`: must fail with `code` naming `needle`.
    fn sidecar(&mut self, case: &str, json: &[u8], code: i32, needle: &str) {
        let d = self.dir();
        grey().save(d.join("f0.png")).unwrap();
        std::fs::write(d.join("calibration.json"), json).unwrap();
        let out = d.join("out");
        let r = run_cli(&[os("analyze"), os(&d), os("--out"), os(&out)]);
        expect_failure(case, &r, code, &[needle], Some(&out));
        self.cases.push(case.to_string());
    }

    /// `analyze FRAME --out OUT ARGS...` on a valid frame: must fail with `code` naming `needle`.
    fn cli_param(&mut self, case: &str, args: &[&str], code: i32, needle: &str) {
        let d = self.dir();
        let f = d.join("f0.png");
        grey().save(&f).unwrap();
        let out = d.join("out");
        let mut a = vec![os("analyze"), os(&f), os("--out"), os(&out)];
        a.extend(args.iter().map(os));
        let r = run_cli(&a);
        expect_failure(case, &r, code, &[needle], Some(&out));
        self.cases.push(case.to_string());
    }
}

/// Whether this process can read a file despite `chmod 000` (root, or a capability).
fn permissions_are_bypassed(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = dir.join("probe");
    std::fs::write(&probe, b"x").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o000)).unwrap();
    let bypassed = std::fs::read(&probe).is_ok();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(&probe).unwrap();
    bypassed
}

// ---------------------------------------------------------------- the corpus

/// Damaged image files of the four formats.
#[test]
fn damaged_images_exit_3_naming_the_file() {
    use image::ImageFormat::{Bmp, Jpeg, Png, Tiff};
    let mut b = Bench::new();
    let formats = [(Png, "png"), (Tiff, "tif"), (Jpeg, "jpg"), (Bmp, "bmp")];

    for (fmt, ext) in formats {
        let valid = encode(fmt);
        let n = valid.len();
        // Truncated: empty, inside the magic, inside the header, a third / two thirds into the
        // file (pixel data or, for TIFF, the strip before the directory at the end).
        for cut in [0, 2, 20, n / 3, 2 * n / 3] {
            b.analyze_file(
                &format!("{ext} truncated at {cut} of {n} bytes"),
                &format!("cut{cut}.{ext}"),
                &valid[..cut],
                &[],
                3,
            );
        }
        // Wrong magic.
        let mut bad = valid.clone();
        bad[..4].copy_from_slice(b"\0\0\0\0");
        b.analyze_file(&format!("{ext} wrong magic"), &format!("magic.{ext}"), &bad, &[], 3);
    }
    // A frame whose header is fine but whose data is cut: found while analysing, after the
    // output files were opened.
    let png = encode(Png);
    b.analyze_pair("png data truncated after a valid frame", "late.png", &png[..png.len() - 40], 3);
    let bmp = encode(Bmp);
    b.analyze_pair("bmp data truncated after a valid frame", "late.bmp", &bmp[..bmp.len() - 100], 3);

    // Lying length and offset fields.
    let mut v = encode(Png);
    be32(&mut v, 8, 0x7FFF_FFF0);
    b.analyze_file("png IHDR length 2 GB", "ihdr_len.png", &v, &[], 3);
    let mut v = encode(Png);
    let idat = find(&v, b"IDAT");
    be32(&mut v, idat - 4, 0x7FFF_FFF0);
    b.analyze_pair("png IDAT length 2 GB", "idat_len.png", &v, 3);
    let mut v = encode(Bmp);
    v[10..14].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    b.analyze_pair("bmp pixel-data offset beyond the file", "offset.bmp", &v, 3);
    let mut v = encode(Tiff);
    tiff_set(&mut v, 279, 0x7FFF_FFF0);
    b.analyze_pair("tiff strip byte count 2 GB", "count.tif", &v, 3);
    let mut v = encode(Tiff);
    tiff_set(&mut v, 273, 0x7FFF_FFF0);
    b.analyze_pair("tiff strip offset beyond the file", "stripoff.tif", &v, 3);
    let mut v = encode(Tiff);
    v[4..8].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    b.analyze_file("tiff directory offset beyond the file", "ifd.tif", &v, &[], 3);
    let mut v = encode(Jpeg);
    assert_eq!(&v[..3], &[0xFF, 0xD8, 0xFF]);
    v[4..6].copy_from_slice(&[0xFF, 0xFF]);
    b.analyze_file("jpeg first segment length 64 KB", "seglen.jpg", &v, &[], 3);

    // Huge or zero declared dimensions.
    b.analyze_file("png declares 100000x100000", "huge.png", &png_dims(100_000, 100_000), &[], 3);
    b.analyze_file("png declares 8193x1", "wide.png", &png_dims(8193, 1), &[], 3);
    b.analyze_file("png declares 8192x8192 with 64x64 data", "big.png", &png_dims(8192, 8192), &[], 3);
    b.analyze_file("png declares 0x0", "zero.png", &png_dims(0, 0), &[], 3);
    let mut v = encode(Tiff);
    tiff_set(&mut v, 256, 60_000);
    tiff_set(&mut v, 257, 60_000);
    b.analyze_file("tiff declares 60000x60000", "huge.tif", &v, &[], 3);
    let mut v = encode(Tiff);
    tiff_set(&mut v, 256, 0);
    b.analyze_file("tiff declares width 0", "zero.tif", &v, &[], 3);
    let mut v = encode(Bmp);
    v[18..22].copy_from_slice(&1_000_000i32.to_le_bytes());
    v[22..26].copy_from_slice(&1_000_000i32.to_le_bytes());
    b.analyze_file("bmp declares 1000000x1000000", "huge.bmp", &v, &[], 3);
    let mut v = encode(Jpeg);
    let sof = find(&v, &[0xFF, 0xC0]);
    v[sof + 5..sof + 7].copy_from_slice(&65_000u16.to_be_bytes());
    v[sof + 7..sof + 9].copy_from_slice(&65_000u16.to_be_bytes());
    b.analyze_file("jpeg declares 65000x65000", "huge.jpg", &v, &[], 3);

    // Valid images the pipeline cannot analyse.
    let mut small = Vec::new();
    image::GrayImage::new(16, 16).write_to(&mut std::io::Cursor::new(&mut small), Png).unwrap();
    let r = b.analyze_file("16x16 frame (too small)", "small.png", &small, &[], 3);
    assert!(r.stderr.contains("too small"), "{}", r.stderr);

    println!("{} damaged-image cases", b.cases.len());
    assert!(b.cases.len() >= 36);
}

/// Empty folders, missing files, odd entries.
#[test]
fn missing_and_empty_inputs_exit_3() {
    let mut b = Bench::new();
    let d = b.dir();
    let out = d.join("out");
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let r = run_cli(&[os("analyze"), os(&empty), os("--out"), os(&out), os("--mm-per-px"), os("0.05")]);
    expect_failure("empty folder", &r, 3, &["empty", "no image files"], Some(&out));

    let notes = d.join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("readme.txt"), "x").unwrap();
    std::fs::create_dir(notes.join("sub.png")).unwrap();
    let r = run_cli(&[os("analyze"), os(&notes), os("--out"), os(&out), os("--mm-per-px"), os("0.05")]);
    expect_failure("folder with only a text file and a folder named .png", &r, 3, &["notes"], Some(&out));

    let zeros = d.join("zeros");
    std::fs::create_dir(&zeros).unwrap();
    std::fs::write(zeros.join("a.png"), b"").unwrap();
    let r = run_cli(&[os("analyze"), os(&zeros), os("--out"), os(&out), os("--mm-per-px"), os("0.05")]);
    expect_failure("folder with a zero-byte frame", &r, 3, &["a.png"], Some(&out));

    let link = d.join("dangling.png");
    std::os::unix::fs::symlink(d.join("nowhere.png"), &link).unwrap();
    let r = run_cli(&[os("analyze"), os(&link), os("--out"), os(&out), os("--mm-per-px"), os("0.05")]);
    expect_failure("dangling symlink", &r, 3, &["dangling.png"], Some(&out));

    let r = run_cli(&[os("frame"), os(d.join("gone.png")), os("--mm-per-px"), os("0.05")]);
    expect_failure("frame: missing file", &r, 3, &["gone.png"], None);
    assert!(r.stdout.is_empty());
    println!("5 missing/empty-input cases");
}

/// Calibration values: command line (exit 4, naming the option) and calibration.json
/// (exit 3, naming the file).
#[test]
fn bad_calibrations_are_rejected() {
    let mut b = Bench::new();
    for v in ["-inf", "-0.02", "0", "1e-320"] {
        b.cli_param(&format!("--mm-per-px {v}"), &[format!("--mm-per-px={v}").as_str()], 4, "mm_per_px");
    }
    for v in ["0", "NaN", "inf"] {
        b.cli_param(&format!("--depth-mm {v}"), &["--polar", "--depth-mm", v], 4, "depth_mm");
    }
    b.cli_param("--line0-deg NaN", &["--polar", "--depth-mm", "5", "--line0-deg", "NaN"], 4, "line0_angle_deg");
    b.cli_param("--line0-deg 1e9", &["--polar", "--depth-mm", "5", "--line0-deg", "1e9"], 4, "line0_angle_deg");
    b.cli_param("--center-px inf,1", &["--mm-per-px", "0.05", "--center-px", "inf,1"], 4, "center_px");

    let cases: [(&str, &[u8]); 14] = [
        ("mm_per_px 0", br#"{"mm_per_px": 0}"#),
        ("mm_per_px negative", br#"{"mm_per_px": -0.02}"#),
        ("mm_per_px subnormal", br#"{"mm_per_px": 1e-320}"#),
        ("mm_per_px beyond f64", br#"{"mm_per_px": 1e999}"#),
        ("mm_per_px as a string", br#"{"mm_per_px": "0.02"}"#),
        ("polar depth_mm negative", br#"{"polar": {"depth_mm": -6}}"#),
        ("polar depth_mm 0", br#"{"polar": {"depth_mm": 0}}"#),
        ("polar line0_deg 1e9", br#"{"polar": {"depth_mm": 6, "line0_deg": 1e9}}"#),
        ("center_px beyond f64", br#"{"mm_per_px": 0.02, "center_px": [1e999, 3]}"#),
        ("both mm_per_px and polar", br#"{"mm_per_px": 0.02, "polar": {"depth_mm": 6}}"#),
        ("unknown key", br#"{"mm_per_pixel": 0.02}"#),
        ("truncated JSON", br#"{"mm_per_px": 0.0"#),
        ("empty file", b""),
        ("not UTF-8", b"{\"mm_per_px\": 0.02, \"x\xff\": 1}"),
    ];
    for (case, json) in cases {
        b.sidecar(&format!("calibration.json: {case}"), json, 3, "calibration.json");
    }
    println!("{} calibration cases", b.cases.len());
}

/// Non-UTF-8 file and folder names: analysed normally, or named (lossily) in errors.
#[test]
fn non_utf8_paths() {
    use std::os::unix::ffi::OsStrExt;
    let mut b = Bench::new();
    let d = b.dir();
    let folder = d.join(std::ffi::OsStr::from_bytes(b"frames-\xff\xfe"));
    std::fs::create_dir(&folder).unwrap();
    grey().save(folder.join(std::ffi::OsStr::from_bytes(b"f\xe9.png"))).unwrap();
    std::fs::write(folder.join("calibration.json"), r#"{"mm_per_px": 0.05}"#).unwrap();
    let out = d.join(std::ffi::OsStr::from_bytes(b"out-\xff"));
    let r = run_cli(&[os("analyze"), os(&folder), os("--out"), os(&out), os("-q")]);
    assert_eq!(r.code, 0, "non-UTF-8 folder and output: {}", r.stderr);
    let results = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(results.contains("f\u{fffd}.png"), "source is the lossy file name: {results}");
    assert_eq!(std::fs::read_dir(out.join("overlays")).unwrap().count(), 1);

    std::fs::write(folder.join(std::ffi::OsStr::from_bytes(b"g\xe9.png")), b"garbage").unwrap();
    let out2 = d.join("out2");
    let r = run_cli(&[os("analyze"), os(&folder), os("--out"), os(&out2), os("-q")]);
    expect_failure("corrupt frame with a non-UTF-8 name", &r, 3, &["g\u{fffd}.png"], Some(&out2));
    println!("2 non-UTF-8 path cases");
}

/// Unreadable inputs: `chmod 000` files and folders (unless permissions are bypassed, as for
/// root), and a folder given as a frame file.
#[test]
fn unreadable_inputs() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bench::new();
    let d = b.dir();
    let bypassed = permissions_are_bypassed(&d);
    let frame = d.join("locked.png");
    grey().save(&frame).unwrap();
    std::fs::set_permissions(&frame, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = d.join("out");
    let r = run_cli(&[os("analyze"), os(&frame), os("--out"), os(&out), os("--mm-per-px"), os("0.05"), os("-q")]);
    if bypassed {
        println!("permissions are bypassed (root?): chmod 000 files are readable; checking the run succeeds");
        assert_eq!(r.code, 0, "{}", r.stderr);
    } else {
        expect_failure("chmod 000 frame", &r, 3, &["locked.png"], Some(&out));
    }

    let e = b.dir();
    grey().save(e.join("f0.png")).unwrap();
    let cal = e.join("calibration.json");
    std::fs::write(&cal, r#"{"mm_per_px": 0.05}"#).unwrap();
    std::fs::set_permissions(&cal, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = e.join("out");
    let r = run_cli(&[os("analyze"), os(&e), os("--out"), os(&out), os("-q")]);
    if bypassed {
        assert_eq!(r.code, 0, "{}", r.stderr);
    } else {
        expect_failure("chmod 000 calibration.json", &r, 3, &["calibration.json"], Some(&out));
    }

    let f = b.dir();
    let locked = f.join("locked_dir");
    std::fs::create_dir(&locked).unwrap();
    grey().save(locked.join("f0.png")).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = f.join("out");
    let r = run_cli(&[os("analyze"), os(&locked), os("--out"), os(&out), os("--mm-per-px"), os("0.05"), os("-q")]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    if bypassed {
        assert_eq!(r.code, 0, "{}", r.stderr);
    } else {
        expect_failure("chmod 000 folder", &r, 3, &["locked_dir"], Some(&out));
    }
    println!("3 unreadable-input cases (permissions bypassed: {bypassed})");
}

/// Outputs that cannot be written: exit 5 naming the path, nothing partial left behind.
#[test]
fn unwritable_outputs_exit_5() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bench::new();
    let d = b.dir();
    let frame = d.join("f0.png");
    grey().save(&frame).unwrap();
    let cal = [os("--mm-per-px"), os("0.05")];
    let analyze = |out: &Path| {
        let mut a = vec![os("analyze"), os(&frame), os("--out"), os(out), os("-q")];
        a.extend(cal.iter().cloned());
        run_cli(&a)
    };

    let file = d.join("a_file");
    std::fs::write(&file, "x").unwrap();
    expect_failure("--out is a file", &analyze(&file), 5, &["a_file"], None);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    expect_failure("--out below a file", &analyze(&file.join("sub")), 5, &["a_file"], None);

    // results.json exists as a folder: rejected before anything is written, and the CSV of
    // the same run is not left behind either.
    let out = d.join("out_dir_clash");
    std::fs::create_dir_all(out.join("results.json")).unwrap();
    let r = analyze(&out);
    expect_failure("results.json is a folder", &r, 5, &["results.json"], None);
    assert!(!out.join("measurements.csv").exists(), "no CSV without its results.json");
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));

    // overlays exists as a file.
    let out = d.join("out_overlay_clash");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("overlays"), "x").unwrap();
    expect_failure("overlays is a file", &analyze(&out), 5, &["overlays"], Some(&out));

    // Read-only output folder (not enforced for root).
    let ro = d.join("readonly");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let r = analyze(&ro.join("out"));
    let bypassed = permissions_are_bypassed(&d);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    if bypassed {
        assert_eq!(r.code, 0, "{}", r.stderr);
    } else {
        expect_failure("read-only output folder", &r, 5, &["readonly"], None);
    }

    // `frame --overlay` into a missing folder, and onto a folder.
    let r = run_cli(&[
        os("frame"),
        os(&frame),
        cal[0].clone(),
        cal[1].clone(),
        os("--overlay"),
        os(d.join("no/such/o.png")),
    ]);
    expect_failure("frame --overlay in a missing folder", &r, 5, &["o.png"], None);
    assert!(r.stdout.is_empty());
    let r = run_cli(&[os("frame"), os(&frame), cal[0].clone(), cal[1].clone(), os("--overlay"), os(&d)]);
    expect_failure("frame --overlay onto a folder", &r, 5, &[d.file_name().unwrap().to_str().unwrap()], None);

    // Standard output on a full disk (/dev/full: every write fails with ENOSPC).
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = std::process::Command::new(BIN)
            .args([os("frame"), os(&frame), cal[0].clone(), cal[1].clone()])
            .stdout(full)
            .output()
            .unwrap();
        let r = Outcome {
            code: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            stdout: String::new(),
        };
        expect_failure("frame: stdout on a full disk", &r, 5, &["stdout"], None);
    }
    println!("8 unwritable-output cases");
}

/// `evaluate` on damaged results.json files: exit 3 naming the file.
#[test]
fn damaged_results_json_exit_3() {
    let mut b = Bench::new();
    let d = b.dir();
    let truth = d.join("truth");
    std::fs::create_dir(&truth).unwrap();
    let cases: [(&str, &[u8]); 5] = [
        ("empty", b""),
        ("truncated", br#"{"schema_version":1,"generator":"x","frames":[{"index":0,"#),
        ("wrong type", br#"{"schema_version":"1","generator":"x","frames":[]}"#),
        ("not an object", b"[1,2,3]"),
        ("not UTF-8", b"{\"schema_version\":1,\"generator\":\"\xff\",\"frames\":[]}"),
    ];
    for (k, (case, bytes)) in cases.iter().enumerate() {
        let f = d.join(format!("results{k}.json"));
        std::fs::write(&f, bytes).unwrap();
        let r = run_cli(&[os("evaluate"), os(&f), os(&truth)]);
        expect_failure(&format!("results.json {case}"), &r, 3, &[&format!("results{k}.json")], None);
    }
    println!("{} results.json cases", cases.len());
}

// ---------------------------------------------------------------- writers and reruns

/// A writer that fails with "no space left on device" after `left` bytes.
struct DiskFull<W> {
    inner: W,
    left: usize,
}

impl<W: Write> Write for DiskFull<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        self.inner.write(&buf[..n])
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn sample_results(n: usize) -> truelumen::report::Results {
    let ph =
        truelumen::sim::simulate(&truelumen::sim::PhantomSpec { image_side_px: 128, ..Default::default() }).unwrap();
    let mut p = truelumen::Pipeline::new(truelumen::PipelineConfig::default()).unwrap();
    let r = p.process(&ph.cart, truelumen::Calibration::Cartesian { mm_per_px: ph.mm_per_px }, 0, "f.png").unwrap();
    truelumen::report::Results {
        schema_version: truelumen::report::SCHEMA_VERSION,
        generator: "test".into(),
        input: None,
        frames: (0..n).map(|i| truelumen::report::FrameResult { index: i, ..r.clone() }).collect(),
    }
}

/// Disk full while writing results.json / measurements.csv (injected at the writer): the error
/// names the file, the previous file is untouched, and no temporary file is left.
#[test]
fn disk_full_while_writing_leaves_previous_outputs() {
    use truelumen::output::{write_atomic, write_csv_to, write_json_to};
    let dir = tempfile::tempdir().unwrap();
    let results = sample_results(5);
    for (name, is_json) in [("results.json", true), ("measurements.csv", false)] {
        let dest = dir.path().join(name);
        std::fs::write(&dest, b"previous complete file").unwrap();
        let lefts: &[usize] = if is_json { &[0, 10, 1000, 20_000] } else { &[0, 10, 300] };
        for &left in lefts {
            let err = write_atomic(&dest, |f| {
                let w = DiskFull { inner: f, left };
                if is_json { write_json_to(w, &results) } else { write_csv_to(w, &results.frames) }
            })
            .unwrap_err();
            assert!(matches!(err, truelumen::Error::Write { .. }), "{name} after {left} bytes: {err:?}");
            assert!(err.to_string().contains(name) && err.to_string().contains("No space left"), "{err}");
            assert_eq!(std::fs::read(&dest).unwrap(), b"previous complete file", "{name} after {left} bytes");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2.min(1 + usize::from(!is_json)), "temporaries");
        }
    }
}

/// A rerun on the same output folder replaces the outputs; a failing rerun (a frame that only
/// fails to decode after the outputs were opened) leaves the previous ones byte for byte; a
/// run killed mid-way leaves either no results.json or a complete one.
#[test]
fn reruns_and_interrupted_runs_are_safe() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for i in 0..3 {
        grey().save(input.join(format!("f{i}.png"))).unwrap();
    }
    let out = t.path().join("out");
    let args = [os("analyze"), os(&input), os("--out"), os(&out), os("--mm-per-px"), os("0.05"), os("-q")];
    let r = run_cli(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first =
        (std::fs::read(out.join("results.json")).unwrap(), std::fs::read(out.join("measurements.csv")).unwrap());
    let r = run_cli(&args);
    assert_eq!(r.code, 0, "rerun: {}", r.stderr);
    let second =
        (std::fs::read(out.join("results.json")).unwrap(), std::fs::read(out.join("measurements.csv")).unwrap());
    assert!(first == second, "a rerun gives the same bytes");

    let png = encode(image::ImageFormat::Png);
    std::fs::write(input.join("f9.png"), &png[..png.len() - 40]).unwrap();
    let r = run_cli(&args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("f9.png"), "{}", r.stderr);
    let after =
        (std::fs::read(out.join("results.json")).unwrap(), std::fs::read(out.join("measurements.csv")).unwrap());
    assert!(after == first, "a failed rerun leaves the previous outputs as they were");
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
    std::fs::remove_file(input.join("f9.png")).unwrap();

    // Killed mid-run (SIGKILL: no destructor runs): results.json absent or complete.
    let many = t.path().join("many");
    std::fs::create_dir(&many).unwrap();
    let bytes = std::fs::read(input.join("f0.png")).unwrap();
    for i in 0..200 {
        std::fs::write(many.join(format!("f{i:03}.png")), &bytes).unwrap();
    }
    for delay_ms in [50, 150, 400] {
        let out_k = t.path().join(format!("killed{delay_ms}"));
        let mut child = std::process::Command::new(BIN)
            .args([os("analyze"), os(&many), os("--out"), os(&out_k), os("--mm-per-px"), os("0.05"), os("-q")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let json = out_k.join("results.json");
        if json.exists() {
            let doc: truelumen::report::Results = serde_json::from_slice(&std::fs::read(&json).unwrap())
                .unwrap_or_else(|e| panic!("killed after {delay_ms} ms: truncated results.json: {e}"));
            assert_eq!(doc.frames.len(), 200);
            let csv = std::fs::read_to_string(out_k.join("measurements.csv")).unwrap();
            assert_eq!(csv.lines().count(), 201);
        }
        // A rerun into the folder of the killed run completes.
        let r = run_cli(&[os("analyze"), os(&input), os("--out"), os(&out_k), os("--mm-per-px"), os("0.05"), os("-q")]);
        assert_eq!(r.code, 0, "rerun after kill: {}", r.stderr);
        assert_eq!(std::fs::read(out_k.join("results.json")).unwrap(), first.0);
    }
}

// ---------------------------------------------------------------- memory

mod peak {
    //! Per-thread peak heap, so that concurrently running tests do not count.
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static CUR: Cell<usize> = const { Cell::new(0) };
        static PEAK: Cell<usize> = const { Cell::new(0) };
    }

    pub struct Peak;

    unsafe impl GlobalAlloc for Peak {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let _ = CUR.try_with(|c| {
                let v = c.get() + l.size();
                c.set(v);
                let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
            });
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            let _ = CUR.try_with(|c| c.set(c.get().saturating_sub(l.size())));
            unsafe { System.dealloc(p, l) }
        }
    }

    /// Peak heap growth of this thread while running `f`, bytes.
    pub fn measure(f: impl FnOnce()) -> usize {
        let base = CUR.with(Cell::get);
        PEAK.with(|p| p.set(base));
        f();
        PEAK.with(Cell::get) - base
    }
}

#[global_allocator]
static ALLOC: peak::Peak = peak::Peak;

/// Files declaring huge images are rejected without allocating their pixel buffers: above the
/// size limit from the header alone (< 1 MB of heap); within the limit (8192x8192 grey = 64 MB),
/// at most a few times the declared size, never gigabytes.
#[test]
fn huge_declared_dimensions_allocate_little() {
    let dir = tempfile::tempdir().unwrap();
    let over: [(&str, Vec<u8>); 3] = [
        ("png 100000x100000", png_dims(100_000, 100_000)),
        ("png 8193x8193", png_dims(8193, 8193)),
        ("tiff 60000x60000", {
            let mut v = encode(image::ImageFormat::Tiff);
            tiff_set(&mut v, 256, 60_000);
            tiff_set(&mut v, 257, 60_000);
            v
        }),
    ];
    for (case, bytes) in over {
        let p = dir.path().join("f.img");
        std::fs::write(&p, &bytes).unwrap();
        let peak = peak::measure(|| {
            assert!(truelumen::io::read_image_shape(&p).is_err(), "{case}");
            assert!(truelumen::io::read_image(&p).is_err(), "{case}");
        });
        println!("{case}: peak heap {} KB", peak / 1024);
        assert!(peak < 1 << 20, "{case}: {peak} bytes");
    }
    let p = dir.path().join("big.png");
    std::fs::write(&p, png_dims(8192, 8192)).unwrap();
    let peak = peak::measure(|| assert!(truelumen::io::read_image(&p).is_err()));
    println!("png 8192x8192 (64 MB declared, 64x64 data): peak heap {} MB", peak >> 20);
    assert!(peak < 300 << 20, "{peak} bytes");
}

/// DICOM files from the fuzzing corpus whose damaged headers once made the header parser
/// allocate gigabytes (`tests/regressions/README.md`) are rejected with little heap: the
/// regression replay checks only the error, this checks the memory.
#[test]
fn fuzzed_dicom_headers_allocate_little() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions/pullback");
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "dicom-header-3gb-rss",
        "dicom-fd-length-1gb-rss",
        "dicom-pixeldata-vr-2gb-rss",
        "dicom-nested-pixeldata-4gb-rss",
        "dicom-open-item-4gb-rss",
    ] {
        let bytes = std::fs::read(corpus.join(name)).unwrap();
        // The first byte selects the harness's format (0 = DICOM).
        assert_eq!(bytes[0] % 3, 0, "{name}");
        let p = dir.path().join(format!("{name}.dcm"));
        std::fs::write(&p, &bytes[1..]).unwrap();
        let peak = peak::measure(|| {
            let e = truelumen::io::DicomSource::open(&p).expect_err("damaged header rejected");
            assert!(e.to_string().contains(&*p.to_string_lossy()), "{e}");
        });
        println!("{name}: peak heap {} KB", peak / 1024);
        assert!(peak < 64 << 20, "{name}: {peak} bytes");
    }
}

/// Damaged pullback files of the other formats (DICOM, multi-page TIFF, raw polar / RF with a
/// JSON sidecar), generated from `fixtures/inputs/`: exit code by class (3 unreadable / corrupt,
/// 4 invalid calibration, 6 unsupported, 7 inconsistent with its own header or sidecar), the file
/// named, no partial output.
#[test]
fn damaged_pullback_files() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/inputs");
    let mut b = Bench::new();
    // `needle`: the file the message must name (the sidecar, when the sidecar is broken).
    let mut failures = Vec::new();
    let mut case = |b: &mut Bench, name: &str, file: &str, bytes: &[u8], sidecar: Option<&[u8]>, code: i32| {
        let needle = if name.starts_with("raw sidecar") { file.replace(".raw", ".json") } else { file.to_string() };
        let d = b.dir();
        let f = d.join(file);
        std::fs::write(&f, bytes).unwrap();
        if let Some(j) = sidecar {
            std::fs::write(f.with_extension("json"), j).unwrap();
        }
        let out = d.join("out");
        let r = run_cli(&[os("analyze"), os(&f), os("--out"), os(&out), os("-q")]);
        if r.code != code {
            failures.push(format!("{name}: exit {} instead of {code}: {}", r.code, r.stderr.trim()));
        }
        expect_failure(name, &r, r.code, &[&needle], Some(&out));
        if out.is_dir() {
            for e in std::fs::read_dir(&out).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    assert!(leftovers(&p).is_empty(), "{name}: left outputs in {}", p.display());
                }
            }
        }
        b.cases.push(name.to_string());
    };
    let dcm = std::fs::read(fx.join("dicom/mono_explicit.dcm")).unwrap();
    let n = dcm.len();
    for (cut, code) in [(100, 3), (140, 3), (400, 3), (n / 2, 3), (n - 10, 3)] {
        case(&mut b, &format!("dicom truncated at {cut} of {n}"), &format!("cut{cut}.dcm"), &dcm[..cut], None, code);
    }
    let mut bad = dcm.clone();
    bad[128..132].copy_from_slice(b"DICX");
    case(&mut b, "dicom wrong magic", "magic.dcm", &bad, None, 3);
    let rle = std::fs::read(fx.join("dicom/mono_rle.dcm")).unwrap();
    case(&mut b, "dicom RLE truncated at 2/3", "rle.dcm", &rle[..2 * rle.len() / 3], None, 3);
    let jpg = std::fs::read(fx.join("dicom/mono_jpeg.dcm")).unwrap();
    case(&mut b, "dicom JPEG truncated at 2/3", "jpeg.dcm", &jpg[..2 * jpg.len() / 3], None, 3);

    let tif = std::fs::read(fx.join("pullback.tif")).unwrap();
    let n = tif.len();
    for (cut, code) in [(8, 3), (n / 2, 3)] {
        case(
            &mut b,
            &format!("multi-page tiff truncated at {cut} of {n}"),
            &format!("cut{cut}.tif"),
            &tif[..cut],
            None,
            code,
        );
    }

    let raw = std::fs::read(fx.join("raw/polar_u8.raw")).unwrap();
    let json = std::fs::read_to_string(fx.join("raw/polar_u8.json")).unwrap();
    case(&mut b, "raw shorter than its sidecar says", "short.raw", &raw[..raw.len() - 1000], Some(json.as_bytes()), 7);
    case(&mut b, "raw without a sidecar", "alone.raw", &raw, None, 3);
    case(&mut b, "raw sidecar truncated", "tj.raw", &raw, Some(&json.as_bytes()[..json.len() / 2]), 3);
    let edit = |k: &str, v: &str| {
        let mut doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        doc[k] = serde_json::from_str(v).unwrap();
        doc.to_string().into_bytes()
    };
    case(&mut b, "raw sidecar depth 0", "d0.raw", &raw, Some(&edit("depth_mm", "0")), 4);
    case(&mut b, "raw sidecar depth negative", "dn.raw", &raw, Some(&edit("depth_mm", "-5")), 4);
    case(&mut b, "raw sidecar 0 lines", "l0.raw", &raw, Some(&edit("lines", "0")), 7);
    case(&mut b, "raw sidecar huge frame count", "fh.raw", &raw, Some(&edit("frames", "4000000000")), 7);
    case(&mut b, "raw sidecar unknown dtype", "dt.raw", &raw, Some(&edit("dtype", "\"f128\"")), 3);
    println!("{} damaged pullback-file cases", b.cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
