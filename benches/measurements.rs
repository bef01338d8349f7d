//! Measurements on border contours of 256 / 360 / 512 points (a phantom's lumen border as the
//! pipeline found it): area, centroid, diameters through the centroid, area-equivalent
//! diameter, point-in-contour and signed distance (the guidewire-to-lumen figures).
//! `Throughput::Elements` = contour points.
//!
//! Run: `cargo bench --bench measurements -- --warm-up-time 1 --measurement-time 3`.

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use truelumen::Contour;

fn measurements(c: &mut Criterion) {
    let mut g = c.benchmark_group("measurements");
    let p = common::phantom(4, 512);
    for lines in [256, 360, 512] {
        let (pipe, _, geom, _) = common::analysed(&p, lines);
        let path = &pipe.last_segmentation().borders.lumen;
        let pts: Vec<[f64; 2]> = path.iter().enumerate().map(|(l, &s)| geom.xy_mm(l as f64, s as f64 - 0.5)).collect();
        let contour = Contour::new(pts);
        g.throughput(Throughput::Elements(contour.len() as u64));
        g.bench_function(BenchmarkId::new("region_figures", contour.len()), |b| {
            b.iter(|| {
                let c = black_box(&contour);
                (
                    c.area_mm2(),
                    c.centroid_mm(),
                    c.diameters().map(|d| d.mean_mm),
                    c.area_equivalent_diameter_mm(),
                    c.contains([0.0, 0.0]),
                    c.signed_distance_mm([0.3, 0.2]),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, measurements);
criterion_main!(benches);
