//! Lumen + vessel border search ([`segment_borders`]) on SRAD-filtered polar frames of 256 and
//! 512 A-lines x 256 / 512 samples (from 512 / 1024 px phantoms over 10 mm, as the pipeline
//! produces them); workspace sized outside the loop. `Throughput::Elements` = polar pixels.
//! Serial vs rayon: 4 frames analysed one after the other vs in a `par_iter` over 2 threads.
//!
//! Run: `cargo bench --bench borders -- --warm-up-time 1 --measurement-time 3`.

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use std::hint::black_box;
use truelumen::PolarImage;
use truelumen::filter::{SpeckleFilter, SpeckleWorkspace, SradParams, speckle_into};
use truelumen::segment::{SegmentParams, SegmentWorkspace, ShadowMasks, segment_borders};

fn borders(c: &mut Criterion) {
    let mut g = c.benchmark_group("borders");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (lines, side) in [(256, 512), (512, 512), (512, 1024)] {
        let inputs: Vec<_> = (1..=4)
            .map(|seed| {
                let p = common::phantom(seed, side);
                let (pipe, _, geom, start) = common::analysed(&p, lines);
                let mut filtered = PolarImage::default();
                let f = SpeckleFilter::Srad(SradParams::default().with_parallel(false));
                speckle_into(pipe.last_polar(), &mut filtered, &f, &mut SpeckleWorkspace::new()).unwrap();
                (filtered, geom, start, pipe.last_shadows().bridge.clone())
            })
            .collect();
        let params = SegmentParams::default();
        let px = inputs[0].0.as_slice().len();
        let ns = inputs[0].0.cols();
        g.throughput(Throughput::Elements(px as u64));
        let mut ws = SegmentWorkspace::default();
        let mut i = 0;
        g.bench_function(BenchmarkId::new("serial", format!("{lines}x{ns}")), |b| {
            b.iter(|| {
                let (f, geom, start, bridge) = &inputs[i % inputs.len()];
                i += 1;
                segment_borders(
                    black_box(f),
                    geom,
                    *start,
                    &ShadowMasks { lines: bridge, ..Default::default() },
                    &params,
                    &mut ws,
                );
            })
        });
        g.throughput(Throughput::Elements((px * inputs.len()) as u64));
        g.bench_function(BenchmarkId::new("rayon_2t_4frames", format!("{lines}x{ns}")), |b| {
            b.iter(|| {
                pool.install(|| {
                    inputs.par_iter().for_each_init(SegmentWorkspace::default, |ws, (f, geom, start, bridge)| {
                        segment_borders(
                            black_box(f),
                            geom,
                            *start,
                            &ShadowMasks { lines: bridge, ..Default::default() },
                            &params,
                            ws,
                        )
                    })
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, borders);
criterion_main!(benches);
