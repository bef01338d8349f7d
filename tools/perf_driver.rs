//! Fixed-work driver for instruction counts: analyses `COUNT` phantom frames (Cartesian,
//! `SIDE`x`SIDE` over 10 mm, as in `benches/pipeline.rs`) with one reused [`Pipeline`], after
//! one warm-up pass. Run it under callgrind and read the inclusive cost per stage:
//!
//! ```text
//! cargo build --release --example perf_driver
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!     --toggle-collect='*Pipeline*process*' target/release/examples/perf_driver 512 4
//! callgrind_annotate --inclusive=yes /tmp/cg.out | head -40
//! ```
//!
//! Printed: the per-stage split from the pipeline's own timers (wall clock, informative only).

use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{Calibration, Pipeline, PipelineConfig};

fn main() -> Result<(), truelumen::Error> {
    let args: Vec<String> = std::env::args().collect();
    let side: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(512);
    let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4);
    let frames: Vec<_> = (1..=count)
        .map(|seed| simulate(&PhantomSpec::random(seed).pinned_acquisition(side)))
        .collect::<Result<_, _>>()?;
    let mut p = Pipeline::new(PipelineConfig::default())?;
    let mut checksum = 0.0;
    for f in &frames {
        let r = p.process(&f.cart, Calibration::Cartesian { mm_per_px: f.mm_per_px }, 0, "warm")?;
        checksum += r.center_px[0];
    }
    for (i, f) in frames.iter().enumerate() {
        let r = p.process(&f.cart, Calibration::Cartesian { mm_per_px: f.mm_per_px }, i, "driver")?;
        checksum += r.center_px[0] + r.lumen.map_or(0.0, |l| l.area_mm2);
    }
    println!("{count} frames {side}x{side}, checksum {checksum:.4}");
    Ok(())
}
