//! `truelumen bench`: whole-pipeline throughput on generated phantom frames, and the
//! per-stage timing report shared with `truelumen analyze`.
//!
//! The frames are those `truelumen simulate --polar --seed S --side PX --fov-mm MM` writes
//! (integer grey levels 0–255, i.e. 8-bit data), generated in memory; `--distinct` of them are
//! cycled through to make a batch of `--frames`. One warm-up batch runs first (pipelines sized,
//! rayon pool started), then `--repeat` timed batches through
//! [`truelumen::pipeline::process_batch_timed`], exactly as `analyze` runs them, without
//! reading or writing files.

use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;
use truelumen::pipeline::{self, BatchFrame, Calibration, PipelineConfig};
use truelumen::sim::{DatasetSpec, FixedPolar, Simulator};
use truelumen::timing::{STAGES, SharedStageTimes, StageTimes};
use truelumen::{Error, output};

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Side of the Cartesian frames, pixels
    #[arg(long, value_name = "PX", default_value_t = 512)]
    pub(crate) side: usize,
    /// Field of view (image side), mm
    #[arg(long, value_name = "MM", default_value_t = 10.0)]
    pub(crate) fov_mm: f64,
    /// Frames per timed batch
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub(crate) frames: usize,
    /// Distinct phantom frames generated and cycled through
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub(crate) distinct: usize,
    /// Seed of the first phantom
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub(crate) seed: u64,
    /// Timed batches (the figures are over all of them)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) repeat: usize,
    /// Worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Analyse the polar frames instead of the Cartesian ones
    #[arg(long)]
    pub(crate) polar: bool,
    /// Print the figures as one JSON object on stdout
    #[arg(long)]
    pub(crate) json: bool,
    /// Also time single kernels on the first phantom (median ms of 30 runs, buffers and maps
    /// built outside the timed loop): Cartesian → polar (512 lines x 256 samples), polar →
    /// Cartesian (side x side), SRAD 15 iterations, 5x5 median and 5x5 Lee on the 512x512
    /// polar frame. `tools/peer_compare.py` sets the peers' figures next to these.
    #[arg(long)]
    pub(crate) kernels: bool,
}

/// Median wall time of `runs` calls of `f`, milliseconds.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Single-kernel timings (see [`BenchArgs::kernels`]), in the calling thread's rayon pool.
fn kernel_times(p: &truelumen::sim::Phantom) -> Result<serde_json::Value, Error> {
    use truelumen::filter::{SpeckleFilter, SpeckleWorkspace, SradParams, speckle_into};
    use truelumen::scan::{CartesianSampler, PolarSampler};
    use truelumen::{CartImage, PolarGeometry, PolarImage};
    let (rows, cols) = p.cart.shape();
    let c = ((cols as f64 - 1.0) / 2.0, (rows as f64 - 1.0) / 2.0);
    let to_polar = PolarSampler::new(PolarGeometry::new(512, 256, p.mm_per_px)?, p.mm_per_px)?;
    let mut polar = PolarImage::default();
    let c2p = median_ms(30, || to_polar.convert_into(&p.cart, c.0, c.1, 0.0, &mut polar));
    let g = p.polar_geom;
    let side = rows;
    let mm = g.depth_mm() / (side as f64 / 2.0);
    let to_cart = CartesianSampler::new(g, side, side, c.0, c.1, mm)?;
    let mut cart = CartImage::default();
    let mut err = Ok(());
    let p2c = median_ms(30, || err = to_cart.convert_into(&p.polar, 0.0, &mut cart));
    err?;
    let mut ws = SpeckleWorkspace::new();
    let mut out = PolarImage::default();
    let mut time_filter = |f: SpeckleFilter, runs: usize| -> Result<f64, Error> {
        let mut e = Ok(());
        let ms = median_ms(runs, || e = speckle_into(&p.polar, &mut out, &f, &mut ws));
        e.map(|()| ms)
    };
    let srad = SradParams::default();
    Ok(serde_json::json!({
        "cart_to_polar_512x256_ms": c2p,
        "polar_to_cart_ms": p2c,
        "polar_frame": [g.n_lines, g.n_samples],
        "srad15_serial_ms": time_filter(SpeckleFilter::Srad(srad.with_parallel(false)), 10)?,
        "srad15_parallel_ms": time_filter(SpeckleFilter::Srad(srad.with_parallel(true)), 10)?,
        "median5x5_ms": time_filter(SpeckleFilter::Median { radius_lines: 2, radius_samples: 2 }, 30)?,
        "lee5x5_ms": time_filter(SpeckleFilter::Lee { radius_lines: 2, radius_samples: 2, noise_var: None }, 30)?,
    }))
}

/// Peak resident memory of this process (VmHWM), bytes, if the OS reports it.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The timing figures of a run as JSON (`analyze --timing-json`, `bench --json`).
pub(crate) fn timing_json(times: &StageTimes, n_frames: usize, secs: f64, threads: usize) -> serde_json::Value {
    serde_json::json!({
        "frames": n_frames,
        "seconds": secs,
        "frames_per_s": n_frames as f64 / secs.max(1e-9),
        "threads": threads,
        "peak_rss_bytes": peak_rss_bytes(),
        "per_stage": times.to_json(),
    })
}

/// Prints the per-stage split to stderr: one line of shares, one of ms per frame (summed over
/// worker threads, so with N threads they add up to about N / frames-per-second).
pub(crate) fn print_stage_split(times: &StageTimes) {
    eprintln!("per-stage share of pipeline time: {}", times.shares_line());
    let ms: Vec<String> = STAGES.iter().map(|&s| format!("{} {:.3}", s.name(), times.ms_per_frame(s))).collect();
    eprintln!("per-stage ms per frame (one thread's time): {}", ms.join(", "));
}

/// Writes the timing JSON to `path` atomically.
pub(crate) fn write_timing_json(path: &Path, value: &serde_json::Value) -> Result<(), Error> {
    output::write_atomic(path, |f| {
        use std::io::Write;
        serde_json::to_writer_pretty(&mut *f, value)
            .map_err(|e| Error::Write { path: path.to_path_buf(), source: std::io::Error::other(e) })?;
        f.write_all(b"\n").map_err(|e| Error::Write { path: path.to_path_buf(), source: e })
    })
}

/// `analyze`'s end-of-run report: the per-stage split (unless `quiet`) and, if asked, the
/// timing JSON.
pub(crate) fn finish_timing(
    times: &SharedStageTimes,
    n_frames: usize,
    secs: f64,
    threads: usize,
    quiet: bool,
    json_path: Option<&PathBuf>,
) -> anyhow::Result<()> {
    let t = times.snapshot();
    if !quiet {
        print_stage_split(&t);
    }
    if let Some(p) = json_path {
        write_timing_json(p, &timing_json(&t, n_frames, secs, threads))?;
    }
    Ok(())
}

pub(crate) fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    if a.frames == 0 || a.distinct == 0 || a.repeat == 0 {
        return Err(Error::param("frames/distinct/repeat", "must be at least 1").into());
    }
    if a.threads == Some(0) {
        return Err(Error::param("threads", "must be at least 1").into());
    }
    let spec = DatasetSpec {
        count: a.distinct,
        seed: a.seed,
        side_px: a.side,
        fov_mm: a.fov_mm,
        polar: Some(FixedPolar::default()),
        cto: false,
    };
    spec.validate()?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(a.threads.unwrap_or(0)).build()?;
    let threads = pool.current_num_threads();
    let phantoms = pool.install(|| -> Result<Vec<_>, Error> {
        use rayon::prelude::*;
        (0..a.distinct).into_par_iter().map_init(Simulator::new, |sim, i| sim.simulate(&spec.frame_spec(i)?)).collect()
    })?;
    let batch: Vec<BatchFrame> = (0..a.frames)
        .map(|i| {
            let p = &phantoms[i % phantoms.len()];
            let (image, calib) = if a.polar {
                (p.polar.clone(), Calibration::Polar(p.polar_geom))
            } else {
                (p.cart.clone(), Calibration::Cartesian { mm_per_px: p.mm_per_px })
            };
            BatchFrame { image, calib, index: i, source: DatasetSpec::frame_name(i % phantoms.len()) }
        })
        .collect();
    let config = PipelineConfig::default();
    let warm = SharedStageTimes::new();
    let check = |r: Vec<Result<_, Error>>| -> anyhow::Result<usize> {
        let mut lumens = 0;
        for (r, f) in r.into_iter().zip(&batch) {
            let r: truelumen::report::FrameResult = r.with_context(|| format!("analysing {}", f.source))?;
            lumens += usize::from(r.lumen.is_some());
        }
        Ok(lumens)
    };
    check(pool.install(|| pipeline::process_batch_timed(&config, &batch, &warm))?)?;
    let times = SharedStageTimes::new();
    let started = Instant::now();
    let mut lumens = 0;
    for _ in 0..a.repeat {
        lumens += check(pool.install(|| pipeline::process_batch_timed(&config, &batch, &times))?)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = a.frames * a.repeat;
    let t = times.snapshot();
    let kernels = if a.kernels { Some(pool.install(|| kernel_times(&phantoms[0]))?) } else { None };
    let kind = if a.polar { "polar 512x512" } else { "Cartesian" };
    if a.json {
        let mut v = timing_json(&t, n, secs, threads);
        v["input"] = serde_json::json!({ "kind": kind, "side_px": a.side, "fov_mm": a.fov_mm, "distinct": a.distinct });
        if let Some(k) = kernels {
            v["kernels"] = k;
        }
        println!("{v}");
    } else {
        eprintln!(
            "{n} frames ({kind}, {} px side, {} distinct phantoms, lumen found in {lumens}) on {threads} threads: \
             {secs:.3} s, {:.1} frames/s; peak memory {}",
            a.side,
            a.distinct,
            n as f64 / secs.max(1e-9),
            peak_rss_bytes().map_or("unknown".to_string(), |b| format!("{:.1} MiB", b as f64 / 1048576.0)),
        );
        print_stage_split(&t);
        if let Some(k) = kernels {
            eprintln!("kernels (median ms): {k}");
        }
    }
    Ok(())
}
