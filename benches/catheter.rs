//! Catheter centre search ([`find_catheter_with`]) on 512x512 and 1024x1024 Cartesian phantom
//! frames over 10 mm, workspace sized outside the loop; `Throughput::Elements` = input pixels.
//! Serial only: the search runs inside one frame's pipeline (frames are the parallel unit).
//!
//! Run: `cargo bench --bench catheter -- --warm-up-time 1 --measurement-time 3`.

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use truelumen::catheter::{CatheterParams, CatheterWorkspace, find_catheter_with};

fn catheter(c: &mut Criterion) {
    let mut g = c.benchmark_group("catheter");
    for side in [512, 1024] {
        let p = common::phantom(3, side);
        let mut ws = CatheterWorkspace::default();
        let params = CatheterParams::default();
        find_catheter_with(&p.cart, p.mm_per_px, &params, &mut ws);
        g.throughput(Throughput::Elements((side * side) as u64));
        g.bench_function(BenchmarkId::new("find_catheter", format!("{side}x{side}")), |b| {
            b.iter(|| find_catheter_with(black_box(&p.cart), p.mm_per_px, &params, &mut ws))
        });
    }
    g.finish();
}

criterion_group!(benches, catheter);
criterion_main!(benches);
