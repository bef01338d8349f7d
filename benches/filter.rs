//! Speckle-filter benchmarks on polar frames of the sizes we meet: 256 or 512 A-lines x
//! 256–1024 samples. Input is a deterministic speckle-like frame (smooth tissue pattern times a
//! Rayleigh factor, log-compressed to 0–255), built inline. Output frame and workspace are sized
//! before timing, so the loop measures the steady state (no allocation in serial mode).
//!
//! Run: `cargo bench --bench filter -- --warm-up-time 1 --measurement-time 2`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use truelumen::PolarImage;
use truelumen::filter::{SpeckleFilter, SpeckleWorkspace, SradParams, speckle_into};

/// Deterministic speckle-like polar frame.
fn speckle_frame(lines: usize, samples: usize) -> PolarImage {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    PolarImage::from_fn(lines, samples, |l, c| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let rayleigh = (-2.0 * u.ln()).sqrt();
        let ring = if (c as f64 - 0.35 * samples as f64).abs() < 0.05 * samples as f64 { 3.0 } else { 1.0 };
        let base = ring * (60.0 + 30.0 * (l as f64 * 0.05).sin()) * (-(c as f64) / samples as f64).exp();
        (40.0 * (base * rayleigh).max(1.0).ln()).clamp(0.0, 255.0) as f32
    })
}

const SIZES: [(usize, usize); 3] = [(256, 256), (512, 512), (512, 1024)];

fn run(c: &mut Criterion, group: &str, filters: &[(&str, SpeckleFilter)], sizes: &[(usize, usize)]) {
    let mut g = c.benchmark_group(group);
    for &(lines, samples) in sizes {
        let src = speckle_frame(lines, samples);
        g.throughput(Throughput::Elements((lines * samples) as u64));
        for (name, f) in filters {
            let mut dst = PolarImage::zeros(lines, samples);
            let mut ws = SpeckleWorkspace::new();
            speckle_into(&src, &mut dst, f, &mut ws).unwrap(); // size the workspace
            g.bench_function(BenchmarkId::new(*name, format!("{lines}x{samples}")), |b| {
                b.iter(|| speckle_into(black_box(&src), &mut dst, f, &mut ws).unwrap())
            });
        }
    }
    g.finish();
}

fn srad(c: &mut Criterion) {
    let p = SradParams::default();
    let filters = [
        ("serial_15it", SpeckleFilter::Srad(p.with_parallel(false))),
        ("parallel_15it", SpeckleFilter::Srad(p.with_parallel(true))),
    ];
    run(c, "srad", &filters, &SIZES);
}

fn lee(c: &mut Criterion) {
    let filters = [
        ("5x5", SpeckleFilter::Lee { radius_lines: 2, radius_samples: 2, noise_var: None }),
        ("11x11", SpeckleFilter::Lee { radius_lines: 5, radius_samples: 5, noise_var: None }),
    ];
    run(c, "lee", &filters, &SIZES);
}

fn median(c: &mut Criterion) {
    let filters = [
        ("3x3", SpeckleFilter::Median { radius_lines: 1, radius_samples: 1 }),
        ("5x5", SpeckleFilter::Median { radius_lines: 2, radius_samples: 2 }),
    ];
    run(c, "median", &filters, &SIZES[..2]);
}

criterion_group!(benches, srad, lee, median);
criterion_main!(benches);
