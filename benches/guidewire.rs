//! Shadow / guidewire / calcium detection ([`detect_shadows`] + [`best_wire`]) on the
//! ring-down-suppressed polar frames the pipeline produces (256 / 512 A-lines x 256 / 512
//! samples); workspace sized outside the loop. `Throughput::Elements` = polar pixels. Serial
//! only (one frame's stage; frames are the parallel unit).
//!
//! Run: `cargo bench --bench guidewire -- --warm-up-time 1 --measurement-time 3`.

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use truelumen::guidewire::{ShadowWorkspace, WireParams, best_wire, detect_shadows};

fn guidewire(c: &mut Criterion) {
    let mut g = c.benchmark_group("guidewire");
    for (lines, side) in [(256, 512), (512, 512), (512, 1024)] {
        let p = common::phantom(2, side);
        let (pipe, r, geom, start) = common::analysed(&p, lines);
        let polar = pipe.last_polar().clone();
        let params = WireParams::default();
        let mut ws = ShadowWorkspace::default();
        let spread = 200.0;
        detect_shadows(&polar, &geom, start, spread, r.catheter_radius_mm, &params, &mut ws);
        g.throughput(Throughput::Elements(polar.as_slice().len() as u64));
        g.bench_function(BenchmarkId::new("shadows_and_wire", format!("{lines}x{}", polar.cols())), |b| {
            b.iter(|| {
                detect_shadows(black_box(&polar), &geom, start, spread, r.catheter_radius_mm, &params, &mut ws);
                best_wire(&ws, &geom)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, guidewire);
criterion_main!(benches);
