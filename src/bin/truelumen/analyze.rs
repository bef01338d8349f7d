//! `truelumen analyze`: pullbacks in, results.json, measurements.csv and overlays out.
//!
//! One pullback writes straight into `--out`; several (or a `--manifest`) write one folder per
//! pullback under `--out` plus `index.csv`. The flow is: [`plan_study`] (inputs → pullbacks,
//! shard, skip-done) → for each pullback [`analyze_pullback`] (open the source, resolve the
//! calibration and timing, stream the frames through the pipeline and the sequence passes in
//! chunks with [`process_frames`]) → [`write_index`].

use crate::common::{CalibArgs, WireArgs, display_sampler, generator, pipeline_config, write_overlay};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;
use truelumen::Error;
use truelumen::io::{
    self, CalibrationOptions, FrameBuf, FrameSource, PullbackInput, PullbackTiming, ResolvedCalibration,
    ScreenCaptureSource, ValueSource,
};
use truelumen::output::{self, RunOutput};
use truelumen::pipeline::{self, BatchFrame, Calibration, Pipeline, PipelineConfig};
use truelumen::pullback::sides::{self, SidePass};
use truelumen::pullback::{self, PullbackAnalyzer};
use truelumen::report::{FieldInfo, InputInfo, Results, SCHEMA_VERSION};
use truelumen::scan::CartesianSampler;

/// Frames decoded and analysed per step (at least; grows with the thread count).
pub(crate) const MIN_CHUNK_FRAMES: usize = 32;

/// Name of the study index written with several pullbacks.
pub(crate) const INDEX_CSV: &str = "index.csv";

#[derive(Args)]
pub(crate) struct AnalyzeArgs {
    /// Pullbacks: DICOM / multi-page TIFF / raw files (one pullback each), or image files and/or
    /// folders of frames (together one pullback; folders: PNG/TIFF/JPEG/BMP, natural order)
    #[arg(value_name = "INPUT", required_unless_present = "manifest")]
    pub(crate) inputs: Vec<PathBuf>,
    /// Output folder (created if needed); with several pullbacks, one sub-folder each + index.csv
    #[arg(short, long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) calib: CalibArgs,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Do not write overlay images
    #[arg(long)]
    pub(crate) no_overlays: bool,
    /// No progress bar and no summary lines
    #[arg(short, long)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) wires: WireArgs,
    #[command(flatten)]
    pub(crate) study: StudyArgs,
    /// Write an overlay image for every frame (the default; see --no-overlays)
    #[arg(long, conflicts_with = "no_overlays")]
    pub(crate) overlays: bool,
    #[command(flatten)]
    pub(crate) pullback: crate::pullback_args::PullbackArgs,
    /// Write frames/s and the per-stage time split to this JSON file
    #[arg(long, value_name = "FILE")]
    pub(crate) timing_json: Option<PathBuf>,
}

/// Options for studies of several pullbacks, screen captures and timing.
#[derive(Args)]
pub(crate) struct StudyArgs {
    /// CSV of pullbacks: column `path` (relative to the CSV's folder), optional `name`,
    /// `mm_per_px`, `field_of_view_mm`, `pullback_mm_per_s`, `frame_rate_hz`
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// Skip pullbacks whose output folder already holds results.json
    #[arg(long)]
    pub(crate) skip_done: bool,
    /// Analyse only pullbacks j with j % N == K (K in 0..N), e.g. `--shard $SLURM_ARRAY_TASK_ID/10`
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub(crate) shard: Option<(usize, usize)>,
    /// Frames are screen captures: find the circular imaging field, mask burned-in overlays
    #[arg(long)]
    pub(crate) screen_capture: bool,
    /// Screen captures: diameter of the imaging circle, mm (gives the calibration; implies --screen-capture)
    #[arg(long, value_name = "MM", allow_negative_numbers = true)]
    pub(crate) field_of_view_mm: Option<f64>,
    /// Pullback speed, mm/s (overrides the file's IVUSPullbackRate)
    #[arg(long, value_name = "MM_PER_S", allow_negative_numbers = true)]
    pub(crate) pullback_mm_per_s: Option<f64>,
    /// Frame rate, frames/s (overrides the file's frame times)
    #[arg(long, visible_alias = "fps", value_name = "HZ", allow_negative_numbers = true)]
    pub(crate) frame_rate_hz: Option<f64>,
}

pub(crate) fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 0/4")?;
    let k: usize = k.trim().parse().map_err(|e| format!("K `{k}`: {e}"))?;
    let n: usize = n.trim().parse().map_err(|e| format!("N `{n}`: {e}"))?;
    if n == 0 || k >= n {
        return Err(format!("need 0 <= K < N, got {k}/{n}"));
    }
    Ok((k, n))
}

/// Per-pullback values given in the manifest (or on the command line).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Overrides {
    mm_per_px: Option<f64>,
    field_of_view_mm: Option<f64>,
    pullback_mm_per_s: Option<f64>,
    frame_rate_hz: Option<f64>,
}

/// One pullback of the study and where its results go.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    input: PullbackInput,
    overrides: Overrides,
    /// True when the values in `overrides` come from the manifest.
    from_manifest: bool,
    out_dir: PathBuf,
}

/// What one pullback produced (a row of index.csv).
#[derive(Debug, Default)]
pub(crate) struct Summary {
    status: String,
    format: String,
    frames: usize,
    lumen: usize,
    wire: usize,
    mm_per_px: Option<f64>,
    calibration_source: String,
    pullback_mm_per_s: Option<f64>,
    frame_rate_hz: Option<f64>,
    error: String,
}

pub(crate) fn analyze(a: &AnalyzeArgs) -> anyhow::Result<()> {
    if a.threads == Some(0) {
        return Err(Error::param("threads", "must be at least 1").into());
    }
    let (study, single) = plan_study(a)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(a.threads.unwrap_or(0)).build()?;
    if single {
        let p = &study[0];
        analyze_pullback(a, p, &pool, "")?;
        return Ok(());
    }
    let mut rows = Vec::with_capacity(study.len());
    let mut first_err: Option<anyhow::Error> = None;
    for (k, p) in study.iter().enumerate() {
        let summary = if a.study.skip_done && p.out_dir.join(output::RESULTS_JSON).is_file() {
            Summary { status: "skipped".into(), ..Summary::default() }
        } else {
            let prefix = format!("[{}/{}] {}", k + 1, study.len(), p.input.name);
            match analyze_pullback(a, p, &pool, &prefix) {
                Ok(s) => s,
                Err(e) => {
                    let msg = format!("{e:#}");
                    eprintln!("error: {}: {msg}", p.input.name);
                    first_err.get_or_insert(e);
                    Summary { status: "failed".into(), error: msg, ..Summary::default() }
                }
            }
        };
        rows.push((p, summary));
    }
    write_index(a, &rows)?;
    match first_err {
        Some(e) => Err(e.context("some pullbacks failed (see index.csv)")),
        None => Ok(()),
    }
}

/// Turns the command line (or manifest) into the list of pullbacks to analyse, applying
/// `--shard`; returns it and whether this is a single-pullback run (written straight to `--out`).
fn plan_study(a: &AnalyzeArgs) -> anyhow::Result<(Vec<Planned>, bool)> {
    let cli = Overrides {
        mm_per_px: None,
        field_of_view_mm: a.study.field_of_view_mm,
        pullback_mm_per_s: a.study.pullback_mm_per_s,
        frame_rate_hz: a.study.frame_rate_hz,
    };
    let mut entries: Vec<(PullbackInput, Overrides, bool)> = Vec::new();
    if let Some(manifest) = &a.study.manifest {
        if !a.inputs.is_empty() {
            return Err(Error::param("manifest", "give either INPUT paths or --manifest, not both").into());
        }
        for (row, name, ov) in read_manifest(manifest)? {
            let mut pbs = io::plan_pullbacks(std::slice::from_ref(&row))?;
            let mut pb = pbs.remove(0);
            if let Some(n) = name {
                pb.name = n;
            }
            let merged = Overrides {
                mm_per_px: ov.mm_per_px,
                field_of_view_mm: ov.field_of_view_mm.or(cli.field_of_view_mm),
                pullback_mm_per_s: ov.pullback_mm_per_s.or(cli.pullback_mm_per_s),
                frame_rate_hz: ov.frame_rate_hz.or(cli.frame_rate_hz),
            };
            entries.push((pb, merged, true));
        }
        if entries.is_empty() {
            return Err(Error::Input { path: manifest.clone(), reason: "manifest lists no pullback".into() }.into());
        }
        let mut seen = std::collections::HashSet::new();
        for (pb, _, _) in &entries {
            if !seen.insert(pb.name.clone()) {
                return Err(Error::Input {
                    path: manifest.clone(),
                    reason: format!("two pullbacks are named `{}`; add a `name` column", pb.name),
                }
                .into());
            }
        }
    } else {
        for pb in io::plan_pullbacks(&a.inputs)? {
            entries.push((pb, cli.clone(), false));
        }
    }
    let single = a.study.manifest.is_none() && entries.len() == 1;
    let (k, n) = a.study.shard.unwrap_or((0, 1));
    let planned = entries
        .into_iter()
        .enumerate()
        .filter(|(j, _)| j % n == k)
        .map(|(_, (input, overrides, from_manifest))| {
            let out_dir = if single { a.out.clone() } else { a.out.join(&input.name) };
            Planned { input, overrides, from_manifest, out_dir }
        })
        .collect();
    Ok((planned, single))
}

/// Reads a manifest: `(path, name, overrides)` per row.
fn read_manifest(path: &Path) -> Result<Vec<(PathBuf, Option<String>, Overrides)>, Error> {
    let fmt = |reason: String| Error::Format { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| fmt(e.to_string()))?.clone();
    const KNOWN: &[&str] = &["path", "name", "mm_per_px", "field_of_view_mm", "pullback_mm_per_s", "frame_rate_hz"];
    if let Some(h) = headers.iter().find(|h| !KNOWN.contains(h)) {
        return Err(fmt(format!("unknown column `{h}`; known: {}", KNOWN.join(", "))));
    }
    let col = |name: &str| headers.iter().position(|h| h == name);
    let path_col = col("path").ok_or_else(|| fmt("no `path` column".into()))?;
    let mut out = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| fmt(e.to_string()))?;
        let line = k + 2;
        let cell = |name: &str| col(name).and_then(|c| rec.get(c)).filter(|s| !s.is_empty());
        let num = |name: &'static str| -> Result<Option<f64>, Error> {
            cell(name)
                .map(|s| {
                    let v: f64 = s.parse().map_err(|_| fmt(format!("line {line}: {name} `{s}` is not a number")))?;
                    if v.is_finite() && v > 0.0 {
                        Ok(v)
                    } else {
                        Err(Error::Calibration {
                            path: path.to_path_buf(),
                            reason: format!("line {line}: {name} is {v}; it must be a finite number > 0"),
                        })
                    }
                })
                .transpose()
        };
        let p = rec.get(path_col).unwrap_or_default();
        if p.is_empty() {
            return Err(fmt(format!("line {line}: empty path")));
        }
        let p = PathBuf::from(p);
        let p = if p.is_absolute() { p } else { base.join(p) };
        let ov = Overrides {
            mm_per_px: num("mm_per_px")?,
            field_of_view_mm: num("field_of_view_mm")?,
            pullback_mm_per_s: num("pullback_mm_per_s")?,
            frame_rate_hz: num("frame_rate_hz")?,
        };
        out.push((p, cell("name").map(str::to_owned), ov));
    }
    Ok(out)
}

/// Opens a pullback, wrapped for screen captures when asked.
fn open_pullback(a: &AnalyzeArgs, p: &Planned) -> Result<Box<dyn FrameSource>, Error> {
    let source = io::open_source(&p.input)?;
    let fov = p.overrides.field_of_view_mm;
    if a.study.screen_capture || fov.is_some() {
        return Ok(Box::new(ScreenCaptureSource::new(source, fov)?));
    }
    Ok(source)
}

/// Calibration of a pullback: manifest > command line > file > calibration.json.
fn resolve(a: &AnalyzeArgs, p: &Planned, source: &dyn FrameSource) -> Result<ResolvedCalibration, Error> {
    let mut opts: CalibrationOptions = (&a.calib).into();
    if let Some(v) = p.overrides.mm_per_px {
        opts.mm_per_px = Some(v);
    }
    if let Some(v) = opts.mm_per_px {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::Calibration {
                path: source.path().to_path_buf(),
                reason: format!("mm_per_px is {v}; it must be a finite number > 0"),
            });
        }
    }
    let inputs = p.input.files();
    let file_calib = source.calibration();
    let mut r = io::resolve_calibration_with(&opts, file_calib.as_ref(), &inputs, source.shape())?;
    if p.overrides.mm_per_px.is_some() {
        r.source = ValueSource::Manifest("mm_per_px".into());
        r.origin = r.source.to_string();
    }
    Ok(r)
}

/// Timing of a pullback: manifest / command-line values over the file's.
fn resolve_timing(p: &Planned, mut t: PullbackTiming, n: usize) -> PullbackTiming {
    let src = |name: &str| {
        Some(if p.from_manifest {
            ValueSource::Manifest(name.into())
        } else {
            ValueSource::CommandLine(format!("--{}", name.replace('_', "-")))
        })
    };
    if let Some(v) = p.overrides.pullback_mm_per_s {
        t.pullback_mm_per_s = Some(v);
        t.pullback_source = src("pullback_mm_per_s");
    }
    if let Some(r) = p.overrides.frame_rate_hz {
        t.frame_times_s = Some(PullbackTiming::uniform_times_s(n, r));
        t.frame_times_source = src("frame_rate_hz");
    }
    t
}

fn check_overrides(p: &Planned, source: &dyn FrameSource) -> Result<(), Error> {
    for (name, v) in
        [("pullback_mm_per_s", p.overrides.pullback_mm_per_s), ("frame_rate_hz", p.overrides.frame_rate_hz)]
    {
        if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(Error::Calibration {
                path: source.path().to_path_buf(),
                reason: format!("{name} is {v}; it must be a finite number > 0"),
            });
        }
    }
    Ok(())
}

fn progress_bar(a: &AnalyzeArgs, len: usize, prefix: &str) -> ProgressBar {
    if a.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} frames, {per_sec}, ETA {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix.to_string());
    bar
}

/// Analyses one pullback into `p.out_dir`. Everything that can be checked before the first frame
/// (opening, calibration, timing, output folder) is checked before anything is written.
fn analyze_pullback(a: &AnalyzeArgs, p: &Planned, pool: &rayon::ThreadPool, prefix: &str) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut source = open_pullback(a, p)?;
    check_overrides(p, &*source)?;
    let resolved = resolve(a, p, &*source)?;
    let timing = resolve_timing(p, source.timing(), source.len());
    let (report_timing, spacing_known) = report_timing(&timing, source.path(), source.len())?;
    // Lumen-side runs in mm of pullback where the spacing is known, else in frames.
    let max_side_run =
        if spacing_known { sides::max_run_frames(report_timing.frame_spacing_mm()) } else { sides::MAX_RUN_FRAMES };
    let config = a.wires.apply(pipeline_config(&resolved)?)?;
    let sampler = display_sampler(resolved.calib)?;
    let input = input_info(p, &*source, &resolved, &timing);
    let header =
        Results { schema_version: SCHEMA_VERSION, generator: generator(), frames: Vec::new(), input: Some(input) };
    let mut out = RunOutput::create(&p.out_dir, &header, !a.no_overlays)?;
    let bar = progress_bar(a, source.len(), prefix);
    let mut report = PullbackAnalyzer::new(a.pullback.config()?, config.clone(), resolved.calib)?;
    let stage_times = truelumen::timing::SharedStageTimes::new();
    // Own-wire angle over the pullback: applied to every frame in input order, after each chunk.
    let mut wire_sequence = truelumen::guidewire::WireSequence::new(config.ivus_wire);
    let counts = pool.install(|| {
        let job = FrameJob {
            calib: resolved.calib,
            config: &config,
            sampler: sampler.as_ref(),
            stage_times: &stage_times,
            bar: &bar,
            max_side_run,
        };
        process_frames(&mut *source, &job, &mut out, &mut report, &mut wire_sequence)
    })?;
    bar.finish_and_clear();
    out.finish()?;
    let secs = started.elapsed().as_secs_f64();
    crate::bench::finish_timing(
        &stage_times,
        counts.0,
        secs,
        pool.current_num_threads(),
        a.quiet,
        a.timing_json.as_ref(),
    )?;
    let mut reread = open_pullback(a, p)?;
    let mut buf = FrameBuf::default();
    report
        .finish(&report_timing, &generator(), |i| {
            reread.read_frame(i, &mut buf)?;
            Ok(buf.to_gray())
        })?
        .write(&p.out_dir)?;
    let summary = Summary {
        status: "done".into(),
        format: source.format(),
        frames: counts.0,
        lumen: counts.1,
        wire: counts.2,
        mm_per_px: match resolved.calib {
            Calibration::Cartesian { mm_per_px } => Some(mm_per_px),
            Calibration::Polar(g) => Some(pipeline::polar_display_geometry(&g).1.mm_per_px),
        },
        calibration_source: resolved.source.to_string(),
        pullback_mm_per_s: timing.pullback_mm_per_s,
        frame_rate_hz: timing.mean_frame_rate_hz(),
        error: String::new(),
    };
    if !a.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{}{} frames: lumen found in {}, guidewire in {}; {secs:.2} s ({:.1} frames/s); \
             calibration from {}; results in {}",
            if prefix.is_empty() { String::new() } else { format!("{prefix}: ") },
            summary.frames,
            summary.lumen,
            summary.wire,
            summary.frames as f64 / secs.max(1e-9),
            resolved.origin,
            p.out_dir.display()
        );
    }
    Ok(summary)
}

fn input_info(p: &Planned, source: &dyn FrameSource, r: &ResolvedCalibration, t: &PullbackTiming) -> InputInfo {
    InputInfo {
        path: p.input.path.display().to_string(),
        format: source.format(),
        n_frames: source.len(),
        calibration_source: r.source.clone(),
        timing: t.clone(),
        field: source.imaging_field().map(|(f, (row, col))| FieldInfo {
            center_px: [f.center_col, f.center_row],
            radius_px: f.radius_px,
            crop_origin_px: [col as f64, row as f64],
        }),
    }
}

/// What every frame of one input is analysed with ([`process_frames`]).
struct FrameJob<'a> {
    calib: Calibration,
    config: &'a PipelineConfig,
    /// Resampler of the overlay for polar input (`None`: the frame is drawn as it is).
    sampler: Option<&'a CartesianSampler>,
    stage_times: &'a truelumen::timing::SharedStageTimes,
    bar: &'a ProgressBar,
    /// Longest run of frames the lumen-side pass moves ([`sides::max_run_frames`]).
    max_side_run: usize,
}

/// Streams every frame of `source` through the pipeline in chunks (decoded, analysed and drawn
/// in parallel), appending results in frame order. Returns `(frames, with lumen, with wire)`.
///
/// Each chunk's results go through the sequence passes in frame order: the lumen side
/// ([`truelumen::pullback::sides`], which holds `max_side_run` frames back until the frames
/// after them are analysed),
/// then the own wire ([`truelumen::guidewire::WireSequence`], which sets the guidance from the
/// final lumen). Overlays and records are written once a frame is final.
fn process_frames(
    source: &mut dyn FrameSource,
    job: &FrameJob<'_>,
    out: &mut RunOutput,
    report: &mut PullbackAnalyzer,
    wire_sequence: &mut truelumen::guidewire::WireSequence,
) -> anyhow::Result<(usize, usize, usize)> {
    use rayon::prelude::*;
    let FrameJob { calib, config, sampler, stage_times, bar, max_side_run } = *job;
    let chunk = MIN_CHUNK_FRAMES.max(4 * rayon::current_num_threads());
    let (mut n_frames, mut n_lumen, mut n_wire) = (0usize, 0usize, 0usize);
    let mut bufs: Vec<FrameBuf> = Vec::new();
    let mut sides: SidePass<(BatchFrame, Option<PathBuf>)> = SidePass::new(max_side_run);
    // Analyses a frame again with a given lumen side (rare: uncertain frames only).
    let mut again = Pipeline::new(config.clone())?;
    let mut start = 0;
    loop {
        if start < source.len() {
            source.read_frames(start, chunk, &mut bufs)?;
        } else {
            bufs.clear();
        }
        let last = bufs.is_empty() || start + bufs.len() >= source.len();
        let labels: Vec<String> = (start..start + bufs.len()).map(|i| source.frame_label(i)).collect();
        let overlay_paths: Vec<Option<PathBuf>> = (start..start + bufs.len())
            .map(|i| out.overlay_path(Path::new(&format!("{}.png", source.frame_stem(i))), i))
            .collect();
        let batch: Vec<BatchFrame> = bufs
            .par_iter()
            .zip(labels)
            .enumerate()
            .map(|(k, (b, source))| BatchFrame { image: b.to_gray(), calib, index: start + k, source })
            .collect();
        let n_read = batch.len();
        let results = pipeline::process_batch_timed(config, &batch, stage_times)?;
        let mut fed = Vec::with_capacity(results.len());
        for ((r, f), p) in results.into_iter().zip(batch).zip(overlay_paths) {
            let r = r.with_context(|| format!("analysing {}", f.source))?;
            fed.push(((f, p), r));
        }
        let mut done = sides
            .push(fed, last, |(f, _), side| again.process_with_side(&f.image, f.calib, f.index, &f.source, side))
            .context("analysing a frame again with its neighbours' lumen side")?;
        done.iter_mut().for_each(|(_, r)| wire_sequence.apply(r));
        done.par_iter()
            .filter_map(|((f, p), r)| p.as_ref().map(|p| (f, r, p)))
            .try_for_each(|(f, r, p)| write_overlay(p, &f.image, r, sampler))?;
        for ((f, _), r) in &done {
            report.observe(r, &f.image);
            out.push_with_balloon(r, report.balloon_for(r))?;
            n_frames += 1;
            n_lumen += usize::from(r.lumen.is_some());
            n_wire += usize::from(r.guidewire.is_some());
        }
        bar.inc(n_read as u64);
        start += n_read;
        if last {
            break;
        }
    }
    Ok((n_frames, n_lumen, n_wire))
}

/// Writes `index.csv` (or `index-shard-K-of-N.csv` with `--shard`, so that concurrent shards
/// never write the same file) into `--out`.
fn write_index(a: &AnalyzeArgs, rows: &[(&Planned, Summary)]) -> Result<(), Error> {
    std::fs::create_dir_all(&a.out).map_err(|source| Error::Write { path: a.out.clone(), source })?;
    let name = match a.study.shard {
        Some((k, n)) if n > 1 => format!("index-shard-{k}-of-{n}.csv"),
        _ => INDEX_CSV.to_string(),
    };
    let path = a.out.join(name);
    let num = |v: Option<f64>| v.map(|x| output::round_value(x).to_string()).unwrap_or_default();
    output::write_atomic(&path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let err = |e: csv::Error| Error::Write { path: path.clone(), source: std::io::Error::other(e.to_string()) };
        csv.write_record([
            "name",
            "input",
            "out_dir",
            "status",
            "format",
            "frames",
            "frames_with_lumen",
            "frames_with_guidewire",
            "mm_per_px",
            "calibration_source",
            "pullback_mm_per_s",
            "frame_rate_hz",
            "error",
        ])
        .map_err(err)?;
        for (p, s) in rows {
            csv.write_record([
                p.input.name.clone(),
                p.input.path.display().to_string(),
                p.out_dir.display().to_string(),
                s.status.clone(),
                s.format.clone(),
                s.frames.to_string(),
                s.lumen.to_string(),
                s.wire.to_string(),
                num(s.mm_per_px),
                s.calibration_source.clone(),
                num(s.pullback_mm_per_s),
                num(s.frame_rate_hz),
                s.error.clone(),
            ])
            .map_err(err)?;
        }
        csv.flush().map_err(|source| Error::Write { path: path.clone(), source })
    })
}

/// The pullback report's timing: the resolved file/command-line timing, else the `fps` /
/// `pullback_mm_per_s` of a `calibration.json` next to the input, else the documented
/// defaults ([`pullback::DEFAULT_FPS`], [`pullback::DEFAULT_PULLBACK_MM_PER_S`]); `origin`
/// says where each value came from. The flag is set when neither value is a default (the frame
/// spacing is known).
fn report_timing(t: &PullbackTiming, input: &Path, n: usize) -> Result<(pullback::Timing, bool), Error> {
    let sidecar = io::Sidecar::load_from_dir(&io::sidecar_dir(input))?;
    let side_src = || io::sidecar_dir(input).join(io::SIDECAR_NAME).display().to_string();
    let speed_from_file = sidecar.as_ref().and_then(|s| s.pullback_mm_per_s);
    let (speed, speed_origin) = match (t.pullback_mm_per_s, speed_from_file) {
        (Some(v), _) => {
            (v, format!("speed from {}", t.pullback_source.as_ref().map_or("the input".into(), |s| s.to_string())))
        }
        (None, Some(v)) => (v, format!("speed from {}", side_src())),
        (None, None) => (pullback::DEFAULT_PULLBACK_MM_PER_S, "speed default (typical AnteOwl-class pullback)".into()),
    };
    let rate = t.mean_frame_rate_hz();
    let rate_from_file = sidecar.as_ref().and_then(|s| s.fps);
    let (fps, times, fps_origin) = match (rate, rate_from_file) {
        (Some(r), _) => (
            r,
            t.frame_times_s.clone().filter(|v| v.len() == n),
            format!("frame times from {}", t.frame_times_source.as_ref().map_or("the input".into(), |s| s.to_string())),
        ),
        (None, Some(r)) => (r, None, format!("frame rate from {}", side_src())),
        (None, None) => (pullback::DEFAULT_FPS, None, "frame rate default (typical AnteOwl-class pullback)".into()),
    };
    let known =
        (t.pullback_mm_per_s.is_some() || speed_from_file.is_some()) && (rate.is_some() || rate_from_file.is_some());
    let timing = pullback::Timing {
        fps,
        pullback_mm_per_s: speed,
        frame_times_s: times,
        origin: format!("{fps_origin}; {speed_origin}"),
    };
    timing.validate()?;
    Ok((timing, known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parsing() {
        assert_eq!(parse_shard("0/4"), Ok((0, 4)));
        assert_eq!(parse_shard(" 3 / 4 "), Ok((3, 4)));
        assert!(parse_shard("4/4").is_err() && parse_shard("1/0").is_err() && parse_shard("1").is_err());
    }

    /// The frame spacing counts as known (lumen-side runs in mm) only when neither the speed
    /// nor the frame rate is a default.
    #[test]
    fn spacing_is_known_without_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("frames");
        std::fs::create_dir(&input).unwrap();
        let none = PullbackTiming::default();
        let (t, known) = report_timing(&none, &input, 10).unwrap();
        assert!(!known);
        assert_eq!((t.fps, t.pullback_mm_per_s), (pullback::DEFAULT_FPS, pullback::DEFAULT_PULLBACK_MM_PER_S));
        let file = PullbackTiming {
            pullback_mm_per_s: Some(1.0),
            frame_times_s: Some(PullbackTiming::uniform_times_s(10, 4.0)),
            ..Default::default()
        };
        let (t, known) = report_timing(&file, &input, 10).unwrap();
        assert!(known);
        assert!((t.frame_spacing_mm() - 0.25).abs() < 1e-9);
        assert_eq!(sides::max_run_frames(t.frame_spacing_mm()), 4);
        let speed_only = PullbackTiming { pullback_mm_per_s: Some(1.0), ..Default::default() };
        assert!(!report_timing(&speed_only, &input, 10).unwrap().1);
        std::fs::write(input.join(io::SIDECAR_NAME), r#"{"fps": 2.0, "pullback_mm_per_s": 1.0}"#).unwrap();
        let (t, known) = report_timing(&none, &input, 10).unwrap();
        assert!(known);
        assert_eq!(sides::max_run_frames(t.frame_spacing_mm()), 2);
    }
}
