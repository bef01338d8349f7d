//! `truelumen` command-line tool: a thin layer over the library (argument parsing, calling
//! the library, exit codes). See the README for the reference.
//!
//! Exit codes: 0 success, 1 other failure, 2 usage error (clap), 3 input problem (unreadable,
//! not an image, empty folder, mismatched sizes, bad calibration.json), 4 invalid or missing
//! parameter, 5 output not writable.

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use truelumen::eval;
use truelumen::io::{self, CalibrationOptions, FrameReader, ResolvedCalibration};
use truelumen::output::{self, RunOutput};
use truelumen::pipeline::{self, BatchFrame, Calibration, Pipeline, PipelineConfig};
use truelumen::report::{FrameResult, Results, SCHEMA_VERSION};
use truelumen::scan::CartesianSampler;
use truelumen::sim::{self, DatasetSpec, FixedPolar};
use truelumen::{CartImage, Error, Rotation};

/// Frames decoded and analysed per step (at least; grows with the thread count).
const MIN_CHUNK_FRAMES: usize = 32;

#[derive(Parser)]
#[command(name = "truelumen", version, about = "IVUS frame analysis for IVUS-guided wiring of BTK CTOs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse frames (files and/or folders) and write results.json, measurements.csv and overlays
    Analyze(AnalyzeArgs),
    /// Analyse one frame and print its result (one entry of results.json `frames`) as JSON
    Frame(FrameArgs),
    /// Write phantom frames with ground truth and calibration.json (a folder `analyze` can read)
    Simulate(SimulateArgs),
    /// Score a results.json against phantom truth files (TRUTH_DIR/<frame stem>.json)
    Evaluate(EvaluateArgs),
}

#[derive(Args)]
struct SimulateArgs {
    /// Output folder (created if needed; must not hold other frames)
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    /// Number of frames
    #[arg(long, value_name = "N", default_value_t = 40)]
    count: usize,
    /// Seed of frame 0; frame i uses seed S + i
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Side of every Cartesian image, pixels
    #[arg(long, value_name = "PX", default_value_t = 512)]
    side: usize,
    /// Field of view (image side) of every Cartesian image, mm
    #[arg(long, value_name = "MM", default_value_t = 10.0, allow_negative_numbers = true)]
    fov_mm: f64,
    /// Same polar geometry for all frames (512 lines x 512 samples over 5 mm, line 0 at 0°, ccw)
    #[arg(long)]
    polar: bool,
}

#[derive(Args)]
struct EvaluateArgs {
    /// results.json written by `analyze` (of the Cartesian frames)
    #[arg(value_name = "RESULTS_JSON")]
    results: PathBuf,
    /// Folder of truth files, e.g. fixtures/phantom/truth
    #[arg(value_name = "TRUTH_DIR")]
    truth_dir: PathBuf,
    /// Print the summary and per-frame scores as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AnalyzeArgs {
    /// Image files and/or folders of frames (folders: PNG/TIFF/JPEG/BMP, natural order)
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Output folder (created if needed)
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    calib: CalibArgs,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Do not write overlay images
    #[arg(long)]
    no_overlays: bool,
    /// Do not print the summary line
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct FrameArgs {
    /// The image file
    #[arg(value_name = "IMAGE")]
    image: PathBuf,
    /// Also write the overlay image to this PNG file
    #[arg(long, value_name = "OUT.png")]
    overlay: Option<PathBuf>,
    #[command(flatten)]
    calib: CalibArgs,
}

/// Calibration options; when absent, `calibration.json` next to the frames is used.
#[derive(Args)]
struct CalibArgs {
    /// Pixel size of Cartesian frames, mm
    #[arg(long, value_name = "MM", allow_negative_numbers = true, conflicts_with = "polar")]
    mm_per_px: Option<f64>,
    /// Frames are polar: rows = A-lines, columns = depth samples
    #[arg(long)]
    polar: bool,
    /// Polar: imaging depth covered by one A-line, mm
    #[arg(long, value_name = "MM", allow_negative_numbers = true, requires = "polar")]
    depth_mm: Option<f64>,
    /// Polar: display angle of line 0, degrees counter-clockwise from +x [default: 0]
    #[arg(long, value_name = "DEG", allow_negative_numbers = true, requires = "polar")]
    line0_deg: Option<f64>,
    /// Polar: direction in which A-lines advance as displayed [default: ccw]
    #[arg(long, value_enum, requires = "polar")]
    rotation: Option<RotationArg>,
    /// Fixed catheter centre in pixels (default: detected per frame)
    #[arg(long, value_name = "COL,ROW", value_parser = parse_center, allow_hyphen_values = true, conflicts_with = "polar")]
    center_px: Option<[f64; 2]>,
}

/// CLI copy of [`Rotation`].
#[derive(Clone, Copy, ValueEnum)]
enum RotationArg {
    /// Counter-clockwise
    Ccw,
    /// Clockwise
    Cw,
}

impl From<&CalibArgs> for CalibrationOptions {
    fn from(a: &CalibArgs) -> Self {
        CalibrationOptions {
            mm_per_px: a.mm_per_px,
            polar: a.polar,
            depth_mm: a.depth_mm,
            line0_deg: a.line0_deg,
            rotation: a.rotation.map(|r| match r {
                RotationArg::Ccw => Rotation::Ccw,
                RotationArg::Cw => Rotation::Cw,
            }),
            center_px: a.center_px,
        }
    }
}

fn parse_center(s: &str) -> Result<[f64; 2], String> {
    let (c, r) = s.split_once(',').ok_or("expected COL,ROW, e.g. 255.5,255.5")?;
    let num = |t: &str| t.trim().parse::<f64>().map_err(|e| format!("`{t}`: {e}"));
    Ok([num(c)?, num(r)?])
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // exits with 2 on usage errors
    let result = match &cli.command {
        Command::Analyze(a) => analyze(a),
        Command::Frame(a) => frame(a),
        Command::Simulate(a) => simulate(a),
        Command::Evaluate(a) => evaluate(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The error and its causes joined by `: `, skipping causes already quoted by their parent
/// (library errors include their source in their message).
fn error_message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.is_empty() {
            msg = text;
        } else if !msg.contains(&text) {
            msg = format!("{msg}: {text}");
        }
    }
    msg
}

/// Maps the first library error in the chain to an exit code.
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return match err {
                Error::InvalidParam { .. } => 4,
                Error::Write { .. } => 5,
                Error::Io { .. }
                | Error::Decode { .. }
                | Error::Input { .. }
                | Error::Format { .. }
                | Error::FrameShape { .. }
                | Error::FrameTooSmall { .. } => 3,
                _ => 1,
            };
        }
    }
    1
}

fn pipeline_config(resolved: &ResolvedCalibration) -> Result<PipelineConfig, Error> {
    let config = PipelineConfig::default().with_center_px(resolved.center_px);
    config.validate()?;
    Ok(config)
}

/// For polar input: renders frames into the display frame the results refer to.
fn display_sampler(calib: Calibration) -> Result<Option<CartesianSampler>, Error> {
    match calib {
        Calibration::Cartesian { .. } => Ok(None),
        Calibration::Polar(g) => {
            let (side, d) = pipeline::polar_display_geometry(&g);
            CartesianSampler::new(g, side, side, d.center_col, d.center_row, d.mm_per_px).map(Some)
        }
    }
}

/// Renders and writes one overlay.
fn write_overlay(
    path: &Path,
    image: &CartImage,
    result: &FrameResult,
    sampler: Option<&CartesianSampler>,
) -> Result<(), Error> {
    let rendered;
    let cart = match sampler {
        Some(s) => {
            let mut dst = CartImage::default();
            s.convert_into(image, 0.0, &mut dst)?;
            rendered = dst;
            &rendered
        }
        None => image,
    };
    output::write_png(path, &truelumen::overlay::render_overlay(cart, result))
}

fn analyze(a: &AnalyzeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let paths = io::collect_inputs(&a.inputs)?;
    let mut reader = FrameReader::new(paths);
    let shape = reader.probe()?;
    let resolved = io::resolve_calibration(&(&a.calib).into(), &a.inputs, shape)?;
    let config = pipeline_config(&resolved)?;
    let sampler = display_sampler(resolved.calib)?;
    if a.threads == Some(0) {
        return Err(Error::param("threads", "must be at least 1").into());
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(a.threads.unwrap_or(0)).build()?;
    let chunk = MIN_CHUNK_FRAMES.max(4 * pool.current_num_threads());

    let header = Results { schema_version: SCHEMA_VERSION, generator: generator(), frames: Vec::new() };
    let mut out = RunOutput::create(&a.out, &header, !a.no_overlays)?;
    let (mut n_frames, mut n_lumen, mut n_wire) = (0usize, 0usize, 0usize);

    pool.install(|| -> anyhow::Result<()> {
        use rayon::prelude::*;
        loop {
            let frames = reader.read_chunk(chunk)?;
            if frames.is_empty() {
                return Ok(());
            }
            let mut overlay_paths = Vec::with_capacity(frames.len());
            let batch: Vec<BatchFrame> = frames
                .into_iter()
                .map(|f| {
                    overlay_paths.push(out.overlay_path(&f.path, f.index));
                    let source = f.source();
                    BatchFrame { image: f.image, calib: resolved.calib, index: f.index, source }
                })
                .collect();
            let results = pipeline::process_batch(&config, &batch)?;
            let mut ok = Vec::with_capacity(results.len());
            for (r, f) in results.into_iter().zip(&batch) {
                ok.push(r.with_context(|| format!("analysing {}", f.source))?);
            }
            batch
                .par_iter()
                .zip(&ok)
                .zip(&overlay_paths)
                .filter_map(|((f, r), p)| p.as_ref().map(|p| (f, r, p)))
                .try_for_each(|(f, r, p)| write_overlay(p, &f.image, r, sampler.as_ref()))?;
            for r in &ok {
                out.push(r)?;
                n_frames += 1;
                n_lumen += usize::from(r.lumen.is_some());
                n_wire += usize::from(r.guidewire.is_some());
            }
        }
    })?;
    out.finish()?;

    if !a.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{n_frames} frames: lumen found in {n_lumen}, guidewire in {n_wire}; {secs:.2} s ({:.1} frames/s); \
             calibration from {}; results in {}",
            n_frames as f64 / secs.max(1e-9),
            resolved.origin,
            a.out.display()
        );
    }
    Ok(())
}

fn frame(a: &FrameArgs) -> anyhow::Result<()> {
    let image = io::read_image(&a.image)?;
    let resolved = io::resolve_calibration(&(&a.calib).into(), std::slice::from_ref(&a.image), image.shape())?;
    let mut pipeline = Pipeline::new(pipeline_config(&resolved)?)?;
    let source = a.image.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let result = pipeline.process(&image, resolved.calib, 0, &source).with_context(|| format!("analysing {source}"))?;
    if let Some(path) = &a.overlay {
        write_overlay(path, &image, &result, display_sampler(resolved.calib)?.as_ref())?;
    }
    println!("{}", output::to_json_string(&result, true)?);
    Ok(())
}

fn simulate(a: &SimulateArgs) -> anyhow::Result<()> {
    let spec = DatasetSpec {
        count: a.count,
        seed: a.seed,
        side_px: a.side,
        fov_mm: a.fov_mm,
        polar: a.polar.then(FixedPolar::default),
    };
    let started = Instant::now();
    let info = sim::write_dataset(&a.out, &spec)?;
    let polar = match info.polar_sidecar {
        Some(_) => "polar/calibration.json written".to_string(),
        None => "frames have different polar geometries, so no polar/calibration.json \
                 (use --polar for one shared geometry)"
            .to_string(),
    };
    eprintln!(
        "{} frames (seeds {}..={}), {}x{} px, {} mm/px, in {:.1} s; {polar}; written to {}",
        info.names.len(),
        a.seed,
        a.seed.saturating_add(a.count.saturating_sub(1) as u64),
        a.side,
        a.side,
        info.mm_per_px,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

/// `evaluate --json` output.
#[derive(serde::Serialize)]
struct EvaluationDoc<'a> {
    summary: eval::Summary,
    frames: &'a [eval::FrameEvaluation],
}

fn evaluate(a: &EvaluateArgs) -> anyhow::Result<()> {
    let results = eval::load_results(&a.results)?;
    let frames = eval::evaluate_truth_dir(&results, &a.truth_dir)?;
    let scores: Vec<_> = frames.iter().map(|f| f.score).collect();
    let summary = eval::summarize(&scores);
    if a.json {
        let doc = EvaluationDoc { summary, frames: &frames };
        println!("{}", output::to_json_string(&doc, true)?);
    } else {
        println!("{summary}\n");
        print!("{}", eval::frame_table(&frames));
    }
    Ok(())
}

fn generator() -> String {
    format!("truelumen {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn center_parsing() {
        assert_eq!(parse_center("10,20.5"), Ok([10.0, 20.5]));
        assert_eq!(parse_center(" -1 , 2 "), Ok([-1.0, 2.0]));
        assert!(parse_center("10").is_err() && parse_center("a,b").is_err());
    }

    #[test]
    fn exit_codes_follow_the_error_class() {
        let io = || std::io::Error::other("boom");
        let cases: [(Error, u8); 4] = [
            (Error::param("mm_per_px", "bad"), 4),
            (Error::Write { path: "o".into(), source: io() }, 5),
            (Error::Io { path: "i".into(), source: io() }, 3),
            (Error::Input { path: "i".into(), reason: "r".into() }, 3),
        ];
        for (e, code) in cases {
            let e = anyhow::Error::from(e).context("while doing something");
            assert_eq!(exit_code(&e), code, "{e:#}");
        }
        assert_eq!(exit_code(&anyhow::anyhow!("other")), 1);
    }

    #[test]
    fn messages_do_not_repeat_sources() {
        let e = anyhow::Error::from(Error::Io { path: "x.png".into(), source: std::io::Error::other("gone") });
        assert_eq!(error_message(&e), "x.png: gone");
    }
}
