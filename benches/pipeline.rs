//! End-to-end pipeline throughput (frames/s), the number users care about.
//!
//! Input: simulated phantom frames ([`PhantomSpec::random`], seeds 1–6), generated once before
//! any timing and cycled through. Each random spec is pinned to one "pullback" calibration so
//! that the pipeline's polar sampler is built once and the loop measures the steady state:
//! - Cartesian frames of 512x512 and 1024x1024 pixels over a 10 mm field of view
//!   (`image_side_px`, `fov_mm = 10`, catheter offset scaled with the side), analysed with the
//!   default [`PipelineConfig`] (360 A-lines resampled out to 5 mm);
//! - polar frames of 512 A-lines x 512 samples over 5 mm (`n_lines`, `n_samples`,
//!   `depth_mm`), i.e. the frames those Cartesian images were rendered from, analysed via
//!   [`Calibration::Polar`].
//!
//! Anatomy, wire, calcium, gain, noise etc. still vary from frame to frame.
//!
//! Variants (`Throughput::Elements` = frames, so criterion reports frames/s):
//! - `pipeline_serial/cartesian/{side}` and `pipeline_serial/polar/512x512`: one [`Pipeline`]
//!   reused for every frame, on the calling thread;
//! - `pipeline_batch/{threads}t/cartesian/{side}`: [`process_batch`] over 32 frames inside a
//!   rayon pool of 1 or 2 threads (pools built outside the timed loop). The batch clones one
//!   pipeline per rayon job, so it includes that warm-up cost, as a real batch call does.
//!
//! Run: `cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 3`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use truelumen::pipeline::{BatchFrame, process_batch};
use truelumen::sim::{Phantom, PhantomSpec, simulate};
use truelumen::{Calibration, Pipeline, PipelineConfig};

/// Distinct frames per size, cycled through.
const N_FRAMES: u64 = 6;
/// Frames per `process_batch` call.
const BATCH: usize = 32;
/// Cartesian sides benchmarked.
const SIDES: [usize; 2] = [512, 1024];

/// A random phantom pinned to one acquisition geometry (see the module doc).
fn phantom(seed: u64, side: usize) -> Phantom {
    simulate(&PhantomSpec::random(seed).pinned_acquisition(side)).expect("valid phantom spec")
}

fn phantoms(side: usize) -> Vec<Phantom> {
    (1..=N_FRAMES).map(|seed| phantom(seed, side)).collect()
}

fn serial(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline_serial");
    g.throughput(Throughput::Elements(1));
    for side in SIDES {
        let ph = phantoms(side);
        let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
        for f in &ph {
            p.process(&f.cart, Calibration::Cartesian { mm_per_px: f.mm_per_px }, 0, "bench").unwrap(); // warm up
        }
        let mut i = 0;
        g.bench_function(BenchmarkId::new("cartesian", side), |b| {
            b.iter(|| {
                let f = &ph[i % ph.len()];
                i += 1;
                let cal = Calibration::Cartesian { mm_per_px: f.mm_per_px };
                p.process(black_box(&f.cart), cal, i, "bench").unwrap()
            })
        });
        if side == 512 {
            let mut i = 0;
            g.bench_function(BenchmarkId::new("polar", "512x512"), |b| {
                b.iter(|| {
                    let f = &ph[i % ph.len()];
                    i += 1;
                    p.process(black_box(&f.polar), Calibration::Polar(f.polar_geom), i, "bench").unwrap()
                })
            });
        }
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline_batch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BATCH as u64));
    let config = PipelineConfig::default();
    let pools: Vec<(usize, rayon::ThreadPool)> =
        [1, 2].into_iter().map(|n| (n, rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap())).collect();
    for side in SIDES {
        let ph = phantoms(side);
        let frames: Vec<BatchFrame> = (0..BATCH)
            .map(|i| {
                let f = &ph[i % ph.len()];
                BatchFrame {
                    image: f.cart.clone(),
                    calib: Calibration::Cartesian { mm_per_px: f.mm_per_px },
                    index: i,
                    source: format!("phantom_{i}"),
                }
            })
            .collect();
        for (n, pool) in &pools {
            g.bench_function(BenchmarkId::new(format!("{n}t/cartesian"), side), |b| {
                b.iter(|| pool.install(|| process_batch(&config, black_box(&frames)).unwrap()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, serial, batch);
criterion_main!(benches);
