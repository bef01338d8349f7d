//! `truelumen analyze`: frames in, results.json, measurements.csv and overlays out.

use crate::common::{CalibArgs, WireArgs, display_sampler, generator, pipeline_config, write_overlay};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use truelumen::Error;
use truelumen::io::{self, FrameReader};
use truelumen::output::RunOutput;
use truelumen::pipeline::{self, BatchFrame};
use truelumen::report::{Results, SCHEMA_VERSION};

/// Frames decoded and analysed per step (at least; grows with the thread count).
pub(crate) const MIN_CHUNK_FRAMES: usize = 32;

#[derive(Args)]
pub(crate) struct AnalyzeArgs {
    /// Image files and/or folders of frames (folders: PNG/TIFF/JPEG/BMP, natural order)
    #[arg(required = true, value_name = "INPUT")]
    pub(crate) inputs: Vec<PathBuf>,
    /// Output folder (created if needed)
    #[arg(short, long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) calib: CalibArgs,
    #[command(flatten)]
    pub(crate) wires: WireArgs,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Do not write overlay images
    #[arg(long)]
    pub(crate) no_overlays: bool,
    /// Do not print the summary line
    #[arg(short, long)]
    pub(crate) quiet: bool,
}


pub(crate) fn analyze(a: &AnalyzeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let paths = io::collect_inputs(&a.inputs)?;
    let mut reader = FrameReader::new(paths);
    let shape = reader.probe()?;
    let resolved = io::resolve_calibration(&(&a.calib).into(), &a.inputs, shape)?;
    let config = a.wires.apply(pipeline_config(&resolved)?)?;
    // Own-wire angle over the pullback: applied to every frame in order, after each chunk.
    let mut wire_sequence = truelumen::guidewire::WireSequence::new(config.ivus_wire);
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
            ok.iter_mut().for_each(|r| wire_sequence.apply(r));
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

