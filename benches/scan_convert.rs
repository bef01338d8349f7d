//! Scan-conversion benchmarks at our real sizes: Cartesian 512x512 / 1024x1024 frames resampled
//! to 256 or 512 A-lines x 256–1024 samples ([`PolarSampler`]), and polar frames rendered to
//! 512x512 / 1024x1024 Cartesian images ([`CartesianSampler`]). Samplers and output buffers are
//! built outside the timed loop; `Throughput::Elements` counts output pixels.
//!
//! Run: `cargo bench --bench scan_convert -- --warm-up-time 1 --measurement-time 2`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use truelumen::scan::{CartesianSampler, PolarSampler};
use truelumen::{CartImage, PolarGeometry, PolarImage};

/// Deterministic speckle-like values in 0–255.
fn noise_plane(rows: usize, cols: usize, seed: u64) -> truelumen::Plane<f32> {
    let mut s = seed | 1;
    truelumen::Plane::from_fn(rows, cols, |r, c| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let speckle = (s >> 56) as f32 * 0.4;
        (60.0 + 40.0 * ((r as f32) * 0.03).sin() * ((c as f32) * 0.02).cos() + speckle).min(255.0)
    })
}

/// Imaging depth 5 mm for every size.
const DEPTH_MM: f64 = 5.0;

fn polar_from_cartesian(c: &mut Criterion) {
    let mut g = c.benchmark_group("polar_from_cartesian");
    for &(side, lines, samples) in &[(512, 256, 256), (512, 512, 512), (1024, 512, 1024)] {
        let src: CartImage = noise_plane(side, side, 7);
        let geom = PolarGeometry::new(lines, samples, DEPTH_MM / samples as f64).unwrap();
        let mm_per_px = DEPTH_MM / (side as f64 / 2.0);
        let sampler = PolarSampler::new(geom, mm_per_px).unwrap();
        let mut dst = PolarImage::zeros(lines, samples);
        let center = (side as f64 - 1.0) / 2.0;
        g.throughput(Throughput::Elements((lines * samples) as u64));
        g.bench_function(BenchmarkId::new("bilinear", format!("{side}->{lines}x{samples}")), |b| {
            b.iter(|| sampler.convert_into(black_box(&src), center, center, 0.0, &mut dst))
        });
    }
    g.finish();
}

fn cartesian_from_polar(c: &mut Criterion) {
    let mut g = c.benchmark_group("cartesian_from_polar");
    for &(lines, samples, side) in &[(256, 256, 512), (512, 512, 512), (512, 1024, 1024)] {
        let src: PolarImage = noise_plane(lines, samples, 11);
        let geom = PolarGeometry::new(lines, samples, DEPTH_MM / samples as f64).unwrap();
        let mm_per_px = DEPTH_MM / (side as f64 / 2.0);
        let center = (side as f64 - 1.0) / 2.0;
        let sampler = CartesianSampler::new(geom, side, side, center, center, mm_per_px).unwrap();
        let mut dst = CartImage::zeros(side, side);
        g.throughput(Throughput::Elements((side * side) as u64));
        g.bench_function(BenchmarkId::new("bilinear", format!("{lines}x{samples}->{side}")), |b| {
            b.iter(|| sampler.convert_into(black_box(&src), 0.0, &mut dst).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, polar_from_cartesian, cartesian_from_polar);
criterion_main!(benches);
