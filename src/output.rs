//! Writing results: `results.json`, `measurements.csv` and overlay PNGs.
//!
//! * `results.json` is a [`Results`] document. Its layout is fixed so that files diff well:
//!   the header fields, then **one frame object per line**, then the closing brackets. Floats are rounded
//!   to [`DECIMALS`] decimals (0.001 µm at mm scale) so that output is stable across platforms.
//! * `measurements.csv` has one row per frame with the columns [`CSV_COLUMNS`]; units are in
//!   the column names, missing values (no lumen, no wire...) are empty cells, booleans are
//!   `true`/`false`, and `flags` joins the quality flags with `;`; `calcium_arcs` lists the arcs
//!   as `start-end` display degrees joined with `;`.
//! * Files are written **atomically**: into a hidden temporary file in the destination folder,
//!   renamed over the destination only once complete ([`AtomicFile`]). A failed or interrupted
//!   run never leaves a half-written `results.json`.
//!
//! [`JsonFramesWriter`] and [`CsvFramesWriter`] stream frames one at a time, so a long pullback
//! is never held in memory; [`write_json_to`] and [`write_csv_to`] are the one-shot forms, and
//! [`RunOutput`] ties the files of one `analyze` run together.

use crate::error::Error;
use crate::report::{FrameResult, RegionResult, Results};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Decimals kept for floats in JSON and CSV output.
pub const DECIMALS: i32 = 6;

/// Name of the JSON results file in an output folder.
pub const RESULTS_JSON: &str = "results.json";
/// Name of the CSV measurements file in an output folder.
pub const MEASUREMENTS_CSV: &str = "measurements.csv";
/// Name of the overlay sub-folder in an output folder.
pub const OVERLAYS_DIR: &str = "overlays";

/// Columns of `measurements.csv`, in order. Columns are never renamed or removed; new ones are
/// inserted before `flags`, which stays last. Readers should select columns by name.
pub const CSV_COLUMNS: &[&str] = &[
    "index",
    "source",
    "lumen_area_mm2",
    "lumen_min_diameter_mm",
    "lumen_max_diameter_mm",
    "lumen_mean_diameter_mm",
    "lumen_eq_diameter_mm",
    "lumen_eccentricity",
    "vessel_area_mm2",
    "vessel_min_diameter_mm",
    "vessel_max_diameter_mm",
    "vessel_mean_diameter_mm",
    "vessel_eq_diameter_mm",
    "vessel_eccentricity",
    "plaque_area_mm2",
    "plaque_burden",
    "lumen_centroid_angle_deg",
    "guidewire_angle_deg",
    "guidewire_relative_angle_deg",
    "guidewire_in_true_lumen",
    "guidewire_distance_to_lumen_mm",
    "ivus_wire_angle_deg",
    "calcium_arcs",
    "calcium_max_arc_deg",
    "calcium_total_arc_deg",
    "guidance_rotate_deg",
    "guidance_hint",
    "balloon_suggestion_mm",
    "catheter_position",
    "lumen_encloses_catheter",
    "flags",
];

/// Rounds to [`DECIMALS`] decimals; non-finite values are returned unchanged.
pub fn round_value(v: f64) -> f64 {
    let scale = 10f64.powi(DECIMALS);
    if !v.is_finite() || v.abs() > 1e12 {
        return v;
    }
    let r = (v * scale).round() / scale;
    if r == 0.0 { 0.0 } else { r } // no "-0.0"
}

/// Rounds every float literal in a JSON text to [`DECIMALS`] decimals, keeping everything
/// else (key order, layout, integers, strings) as it is.
fn round_json_text(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut chars = json.char_indices().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some((i, ch)) = chars.next() {
        if in_string {
            out.push(ch);
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if ch == '"' {
            in_string = true;
            out.push(ch);
            continue;
        }
        if ch == '-' || ch.is_ascii_digit() {
            let mut end = i + ch.len_utf8();
            while let Some(&(j, c)) = chars.peek() {
                if c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-') {
                    end = j + c.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let token = &json[i..end];
            let is_float = token.contains(['.', 'e', 'E']);
            match token
                .parse::<f64>()
                .ok()
                .filter(|_| is_float)
                .and_then(|x| serde_json::Number::from_f64(round_value(x)))
            {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str(token),
            }
            continue;
        }
        out.push(ch);
    }
    out
}

/// `value` as JSON (pretty or compact) with floats rounded to [`DECIMALS`] decimals; field
/// order is the declaration order of the Rust types.
///
/// # Errors
/// [`Error::Format`] if serialisation fails (it does not for well-formed results).
pub fn to_json_string<T: serde::Serialize>(value: &T, pretty: bool) -> Result<String, Error> {
    let text = if pretty { serde_json::to_string_pretty(value) } else { serde_json::to_string(value) };
    Ok(round_json_text(&text.map_err(stream_error)?))
}

/// Error while writing to a stream whose path is not known here (the caller adds it).
fn stream_error(e: impl std::fmt::Display) -> Error {
    Error::Format { path: PathBuf::from("<output>"), reason: e.to_string() }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write { path: path.to_path_buf(), source }
}

/// Streams a `results.json` document: the header, then one frame per line, then the end.
#[derive(Debug)]
pub struct JsonFramesWriter<W: Write> {
    w: W,
    n: usize,
    tail: String,
}

/// The `frames` member as serialised for an empty list.
const EMPTY_FRAMES: &str = "\"frames\":[]";

impl<W: Write> JsonFramesWriter<W> {
    /// Writes the document up to the opening of `frames`; every field of `header` except
    /// `frames` (which is ignored) is written, in declaration order.
    ///
    /// # Errors
    /// [`Error::Format`] if writing fails.
    pub fn new(mut w: W, header: &Results) -> Result<Self, Error> {
        let empty = Results { frames: Vec::new(), ..header.clone() };
        let text = to_json_string(&empty, false)?;
        // The pattern cannot occur inside a string value: quotes there are escaped.
        let (head, tail) = text.split_once(EMPTY_FRAMES).ok_or_else(|| stream_error("no `frames` member"))?;
        write!(w, "{head}\"frames\":[").map_err(stream_error)?;
        Ok(Self { w, n: 0, tail: tail.to_string() })
    }

    /// Appends one frame.
    ///
    /// # Errors
    /// [`Error::Format`] if writing fails.
    pub fn push(&mut self, frame: &FrameResult) -> Result<(), Error> {
        let sep = if self.n == 0 { "\n" } else { ",\n" };
        write!(self.w, "{sep}{}", to_json_string(frame, false)?).map_err(stream_error)?;
        self.n += 1;
        Ok(())
    }

    /// Closes the document and returns the writer (flushed).
    ///
    /// # Errors
    /// [`Error::Format`] if writing fails.
    pub fn finish(mut self) -> Result<W, Error> {
        let nl = if self.n == 0 { "" } else { "\n" };
        writeln!(self.w, "{nl}]{}", self.tail).map_err(stream_error)?;
        self.w.flush().map_err(stream_error)?;
        Ok(self.w)
    }
}

/// Writes a whole `results.json` document to `w`.
///
/// # Errors
/// [`Error::Format`] if writing fails.
pub fn write_json_to(w: impl Write, results: &Results) -> Result<(), Error> {
    let mut jw = JsonFramesWriter::new(w, results)?;
    for f in &results.frames {
        jw.push(f)?;
    }
    jw.finish().map(drop)
}

/// Streams `measurements.csv` rows.
#[derive(Debug)]
pub struct CsvFramesWriter<W: Write> {
    w: csv::Writer<W>,
}

fn num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map(|x| round_value(x).to_string()).unwrap_or_default()
}

fn region_cells(r: Option<&RegionResult>) -> [String; 6] {
    [
        num(r.map(|r| r.area_mm2)),
        num(r.map(|r| r.min_diameter_mm)),
        num(r.map(|r| r.max_diameter_mm)),
        num(r.map(|r| r.mean_diameter_mm)),
        num(r.map(|r| r.area_equivalent_diameter_mm)),
        num(r.map(|r| r.eccentricity)),
    ]
}

/// The CSV cells of one frame, in [`CSV_COLUMNS`] order, without a balloon suggestion.
pub fn csv_row(f: &FrameResult) -> Vec<String> {
    csv_row_with_balloon(f, None)
}

/// The name a unit enum variant has in `results.json` (e.g. `subintimal`), for the CSV.
fn json_name<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned))
}

/// The CSV cells of one frame with the per-frame balloon suggestion
/// (`balloon_suggestion_mm`, from [`crate::pullback::PullbackAnalyzer::balloon_for`]).
pub fn csv_row_with_balloon(f: &FrameResult, balloon_mm: Option<f64>) -> Vec<String> {
    let lumen = f.lumen.as_ref();
    let vessel = f.vessel.as_ref();
    let wire = f.guidewire.as_ref();
    let plaque_area = lumen.zip(vessel).map(|(l, v)| v.area_mm2 - l.area_mm2);
    let flags: Vec<String> = f.quality.flags.iter().filter_map(json_name).collect();
    let mut row = Vec::with_capacity(CSV_COLUMNS.len());
    row.push(f.index.to_string());
    row.push(f.source.clone());
    row.extend(region_cells(lumen));
    row.extend(region_cells(vessel));
    row.push(num(plaque_area));
    row.push(num(f.plaque_burden));
    row.push(num(lumen.map(|l| l.centroid_angle_deg)));
    row.push(num(wire.map(|w| w.angle_deg)));
    row.push(num(wire.and_then(|w| w.relative_angle_deg)));
    row.push(wire.and_then(|w| w.in_true_lumen).map(|b| b.to_string()).unwrap_or_default());
    row.push(num(wire.and_then(|w| w.distance_to_lumen_mm)));
    row.push(num(f.ivus_wire.as_ref().map(|w| w.angle_deg)));
    // Calcium arcs as `start-end` display degrees (counter-clockwise), joined by `;`.
    let arcs: Vec<String> =
        f.calcium.arcs.iter().map(|a| format!("{}-{}", num(Some(a.start_deg)), num(Some(a.end_deg)))).collect();
    row.push(arcs.join(";"));
    row.push(num(Some(f.calcium.max_arc_deg)));
    row.push(num(Some(f.calcium.total_arc_deg)));
    row.push(num(f.guidance.as_ref().and_then(|g| g.rotate_deg)));
    row.push(f.guidance.as_ref().map(|g| g.hint.clone()).unwrap_or_default());
    row.push(num(balloon_mm));
    row.push(json_name(&f.catheter_position).unwrap_or_default());
    row.push(lumen.map(|l| l.encloses_catheter.to_string()).unwrap_or_default());
    row.push(flags.join(";"));
    row
}

impl<W: Write> CsvFramesWriter<W> {
    /// Writes the header row.
    ///
    /// # Errors
    /// [`Error::Format`] if writing fails.
    pub fn new(w: W) -> Result<Self, Error> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(CSV_COLUMNS).map_err(stream_error)?;
        Ok(Self { w })
    }

    /// Appends one frame's row.
    ///
    /// # Errors
    /// [`Error::Format`] if writing fails.
    pub fn push(&mut self, frame: &FrameResult) -> Result<(), Error> {
        self.w.write_record(csv_row(frame)).map_err(stream_error)
    }

    /// Appends one frame's row with its balloon suggestion.
    ///
    /// # Errors
    /// [`Error::Format`] if writing fails.
    pub fn push_with_balloon(&mut self, frame: &FrameResult, balloon_mm: Option<f64>) -> Result<(), Error> {
        self.w.write_record(csv_row_with_balloon(frame, balloon_mm)).map_err(stream_error)
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// [`Error::Format`] if writing fails.
    pub fn finish(self) -> Result<W, Error> {
        self.w.into_inner().map_err(|e| stream_error(e.error()))
    }
}

/// Writes `measurements.csv` (header plus one row per frame) to `w`.
///
/// # Errors
/// [`Error::Format`] if writing fails.
pub fn write_csv_to(w: impl Write, frames: &[FrameResult]) -> Result<(), Error> {
    let mut cw = CsvFramesWriter::new(w)?;
    for f in frames {
        cw.push(f)?;
    }
    cw.finish().map(drop)
}

/// A file written atomically: data goes to a hidden temporary file next to the destination,
/// which [`AtomicFile::commit`] renames over the destination. Dropped without `commit`, the
/// temporary file is removed and the destination is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    w: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file for `dest`.
    ///
    /// # Errors
    /// [`Error::Write`] naming `dest` if the temporary file cannot be created.
    pub fn create(dest: &Path) -> Result<Self, Error> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let k = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dest.with_file_name(format!(".{name}.{}.{k}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(write_err(dest))?;
        Ok(Self { dest: dest.to_path_buf(), tmp, w: Some(BufWriter::new(file)) })
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes, closes and renames the temporary file to the destination.
    ///
    /// # Errors
    /// [`Error::Write`] naming the destination.
    pub fn commit(mut self) -> Result<(), Error> {
        if let Some(w) = self.w.take() {
            w.into_inner().map_err(|e| Error::Write { path: self.dest.clone(), source: e.into_error() })?;
        }
        std::fs::rename(&self.tmp, &self.dest).map_err(write_err(&self.dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.w {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.w {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.w.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `dest` atomically with the content produced by `fill`.
///
/// # Errors
/// [`Error::Write`] naming `dest`, or the error returned by `fill` (given `dest` as path when
/// it is a stream error).
pub fn write_atomic(dest: &Path, fill: impl FnOnce(&mut AtomicFile) -> Result<(), Error>) -> Result<(), Error> {
    let mut f = AtomicFile::create(dest)?;
    fill(&mut f).map_err(|e| with_path(e, dest))?;
    f.commit()
}

/// Replaces the placeholder path of a stream error with `path`.
fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Format { path: p, reason } if p == Path::new("<output>") => {
            Error::Write { path: path.to_path_buf(), source: std::io::Error::other(reason) }
        }
        other => other,
    }
}

/// Writes an RGB image as PNG, atomically.
///
/// # Errors
/// [`Error::Write`] naming `dest`.
pub fn write_png(dest: &Path, img: &image::RgbImage) -> Result<(), Error> {
    use image::ImageEncoder;
    write_atomic(dest, |w| {
        image::codecs::png::PngEncoder::new(w)
            .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
            .map_err(stream_error)
    })
}

/// The output folder of one `analyze` run: `results.json`, `measurements.csv` and (optionally)
/// `overlays/`. [`RunOutput::create`] creates the folders and both temporary files up front,
/// so an unwritable destination fails before any frame is processed; [`RunOutput::finish`]
/// renames them into place (CSV first, then JSON). Dropped unfinished, it leaves neither file.
#[derive(Debug)]
pub struct RunOutput {
    json: JsonFramesWriter<AtomicFile>,
    csv: CsvFramesWriter<AtomicFile>,
    json_path: PathBuf,
    csv_path: PathBuf,
    overlays_dir: Option<PathBuf>,
    used_overlay_names: HashSet<String>,
}

impl RunOutput {
    /// Creates `dir` (and `dir/overlays` when `overlays`) and starts both reports.
    /// `header` gives the document fields other than `frames`.
    ///
    /// # Errors
    /// [`Error::Write`] naming the folder or file that cannot be created.
    pub fn create(dir: &Path, header: &Results, overlays: bool) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
        let overlays_dir = if overlays {
            let d = dir.join(OVERLAYS_DIR);
            std::fs::create_dir_all(&d).map_err(write_err(&d))?;
            Some(d)
        } else {
            None
        };
        let json_path = dir.join(RESULTS_JSON);
        let csv_path = dir.join(MEASUREMENTS_CSV);
        // A folder in the way would only make the final rename fail, after the other file was
        // already renamed into place: refuse up front.
        for p in [&json_path, &csv_path] {
            if p.is_dir() {
                return Err(Error::Write { path: p.clone(), source: std::io::Error::other("is a folder") });
            }
        }
        let json =
            JsonFramesWriter::new(AtomicFile::create(&json_path)?, header).map_err(|e| with_path(e, &json_path))?;
        let csv = CsvFramesWriter::new(AtomicFile::create(&csv_path)?).map_err(|e| with_path(e, &csv_path))?;
        Ok(Self { json, csv, json_path, csv_path, overlays_dir, used_overlay_names: HashSet::new() })
    }

    /// Appends one frame to both reports.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file.
    pub fn push(&mut self, frame: &FrameResult) -> Result<(), Error> {
        self.json.push(frame).map_err(|e| with_path(e, &self.json_path))?;
        self.csv.push(frame).map_err(|e| with_path(e, &self.csv_path))
    }

    /// Appends one frame to both reports, with the per-frame balloon suggestion in the CSV.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file.
    pub fn push_with_balloon(&mut self, frame: &FrameResult, balloon_mm: Option<f64>) -> Result<(), Error> {
        self.json.push(frame).map_err(|e| with_path(e, &self.json_path))?;
        self.csv.push_with_balloon(frame, balloon_mm).map_err(|e| with_path(e, &self.csv_path))
    }

    /// A unique overlay path for an input file: `overlays/<stem>.png`, or
    /// `overlays/<stem>-<index>.png` when that name was already used in this run.
    /// `None` when overlays are off.
    pub fn overlay_path(&mut self, input: &Path, index: usize) -> Option<PathBuf> {
        let dir = self.overlays_dir.as_ref()?;
        let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "frame".into());
        let mut name = format!("{stem}.png");
        if !self.used_overlay_names.insert(name.clone()) {
            name = format!("{stem}-{index}.png");
            self.used_overlay_names.insert(name.clone());
        }
        Some(dir.join(name))
    }

    /// Completes both reports and renames them into place.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file.
    pub fn finish(self) -> Result<(), Error> {
        let csv = self.csv.finish().map_err(|e| with_path(e, &self.csv_path))?;
        let json = self.json.finish().map_err(|e| with_path(e, &self.json_path))?;
        csv.commit()?;
        json.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::Contour;
    use crate::report::{GuidewireResult, Quality, QualityFlag, SCHEMA_VERSION};

    fn region(area: f64) -> RegionResult {
        RegionResult {
            contour_mm: Contour::new(vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
            area_mm2: area,
            centroid_mm: [0.333333, 0.333333],
            centroid_angle_deg: 45.0,
            min_diameter_mm: 1.0,
            max_diameter_mm: 2.0,
            mean_diameter_mm: 1.5,
            area_equivalent_diameter_mm: 1.6,
            eccentricity: 0.5,
            encloses_catheter: false,
        }
    }

    fn frames() -> Vec<FrameResult> {
        let mut q = Quality::default();
        q.flag(QualityFlag::NoLumenFound);
        q.flag(QualityFlag::NoVesselFound);
        let empty = FrameResult {
            index: 0,
            source: "f1.png".into(),
            mm_per_px: 0.02,
            center_px: [10.0, 12.5],
            catheter_radius_mm: 0.5,
            lumen: None,
            vessel: None,
            plaque_burden: None,
            guidewire: None,
            quality: q,
            catheter_position: crate::report::CatheterPosition::Unknown,
            ivus_wire: None,
            calcium: Default::default(),
            guidance: None,
            wire_candidates: Vec::new(),
        };
        let full = FrameResult {
            index: 1,
            source: "f,2.png".into(),
            lumen: Some(region(2.0)),
            vessel: Some(region(5.0)),
            plaque_burden: Some(0.6),
            guidewire: Some(GuidewireResult {
                center_mm: [1.0, -1.0],
                angle_deg: 315.0,
                relative_angle_deg: Some(-90.0),
                in_true_lumen: Some(false),
                distance_to_lumen_mm: Some(0.25),
                shadow_width_deg: 8.0,
                confidence: 0.9,
            }),
            quality: Quality::default(),
            catheter_position: crate::report::CatheterPosition::Subintimal,
            ..empty.clone()
        };
        vec![empty, full]
    }

    #[test]
    fn csv_columns_and_empty_cells() {
        let mut buf = Vec::new();
        write_csv_to(&mut buf, &frames()).unwrap();
        let mut r = csv::Reader::from_reader(buf.as_slice());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, CSV_COLUMNS);
        let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
        assert_eq!(&rows[0][col("lumen_area_mm2")], "");
        assert_eq!(&rows[0][col("guidewire_in_true_lumen")], "");
        assert_eq!(&rows[0][col("flags")], "no_lumen_found;no_vessel_found");
        assert_eq!(&rows[1][col("source")], "f,2.png");
        assert_eq!(&rows[1][col("lumen_area_mm2")], "2");
        assert_eq!(&rows[1][col("plaque_area_mm2")], "3");
        assert_eq!(&rows[1][col("guidewire_relative_angle_deg")], "-90");
        assert_eq!(&rows[1][col("guidewire_in_true_lumen")], "false");
        assert_eq!(&rows[1][col("flags")], "");
        assert_eq!(&rows[0][col("catheter_position")], "unknown");
        assert_eq!(&rows[0][col("lumen_encloses_catheter")], "");
        assert_eq!(&rows[1][col("catheter_position")], "subintimal");
        assert_eq!(&rows[1][col("lumen_encloses_catheter")], "false");
        assert!(rows.iter().all(|r| r.len() == CSV_COLUMNS.len()));
    }

    #[test]
    fn json_round_trip_and_rounding() {
        let mut fr = frames();
        fr[1].plaque_burden = Some(0.123_456_789_1);
        let results =
            Results { schema_version: SCHEMA_VERSION, generator: "test".into(), frames: fr.clone(), input: None };
        let mut buf = Vec::new();
        write_json_to(&mut buf, &results).unwrap();
        let text = String::from_utf8(buf).unwrap();
        // One line per frame.
        assert_eq!(text.lines().filter(|l| l.contains("\"index\"")).count(), 2);
        let back: Results = serde_json::from_str(&text).unwrap();
        assert_eq!(back.schema_version, SCHEMA_VERSION);
        assert_eq!(back.frames[0], fr[0]);
        assert_eq!(back.frames[1].plaque_burden, Some(0.123457));
        fr[1].plaque_burden = Some(0.123457);
        assert_eq!(back.frames[1], fr[1]);
        // Empty document is valid JSON too.
        let mut buf = Vec::new();
        write_json_to(&mut buf, &Results { frames: vec![], ..results }).unwrap();
        let back: Results = serde_json::from_slice(&buf).unwrap();
        assert!(back.frames.is_empty());
    }

    #[test]
    fn rounding() {
        assert_eq!(round_value(1.000_000_4), 1.0);
        assert_eq!(round_value(-0.000_000_1), 0.0);
        assert!(round_value(f64::NAN).is_nan());
        let text = r#"{"a":1.23456789,"b":[-2.5e-9,3,"x\"1.234567891"],"c":1e3}"#;
        assert_eq!(round_json_text(text), r#"{"a":1.234568,"b":[0.0,3,"x\"1.234567891"],"c":1000.0}"#);
    }

    #[test]
    fn atomic_file_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.json");
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&dest, |f| f.write_all(b"done").map_err(stream_error)).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "done");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
