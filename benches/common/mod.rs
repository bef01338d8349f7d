//! Shared inputs of the per-stage benchmarks: phantom frames pinned to one acquisition
//! geometry (as in `benches/pipeline.rs`), and the intermediate polar frames a [`Pipeline`]
//! produced from them, so each stage is timed on realistic data. Built once, outside timing.
#![allow(dead_code)]

use truelumen::geometry::PolarGeometry;
use truelumen::report::FrameResult;
use truelumen::sim::{Phantom, PhantomSpec, simulate};
use truelumen::{Calibration, Pipeline, PipelineConfig};

/// A random phantom (seed) pinned to a `side`x`side` Cartesian frame over 10 mm.
pub fn phantom(seed: u64, side: usize) -> Phantom {
    simulate(&PhantomSpec::random(seed).pinned_acquisition(side)).expect("valid phantom spec")
}

/// A pipeline with `lines` A-lines that has just analysed `p`: its `last_*` accessors hold
/// the intermediate frames; also returns the result, the polar geometry and the first
/// sample past the ring-down (approximated as sheath + 0.1 mm).
pub fn analysed(p: &Phantom, lines: usize) -> (Pipeline, FrameResult, PolarGeometry, usize) {
    let mut pipe = Pipeline::new(PipelineConfig::default().with_polar_lines(lines)).unwrap();
    let r = pipe.process(&p.cart, Calibration::Cartesian { mm_per_px: p.mm_per_px }, 0, "bench").unwrap();
    let ns = pipe.last_polar().cols();
    let g = PolarGeometry::new(lines, ns, p.mm_per_px).unwrap();
    let start = ((r.catheter_radius_mm + 0.1) / p.mm_per_px).round() as usize;
    (pipe, r, g, start)
}
