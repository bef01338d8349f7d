//! Memory of the pullback summary: a 10,000-frame pullback must stay far below 300 MB.
//!
//! A counting global allocator tracks the live heap while 10,000 frames (256x256, the same
//! analysed frame re-indexed) are observed and the report is finished and rendered. Only the
//! analyzer's own state grows with the number of frames (a compact record + one L-mode column
//! per frame); frames are never kept.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn ten_thousand_frames_stay_small() {
    use truelumen::pipeline::{Calibration, Pipeline, PipelineConfig};
    use truelumen::pullback::{PullbackAnalyzer, PullbackConfig, Timing};
    let spec = truelumen::sim::pullback::PullbackSpec::default();
    let (image, _) =
        truelumen::sim::pullback::simulate_frame(&spec, &mut truelumen::sim::Simulator::new(), 30).unwrap();
    let calib = Calibration::Cartesian { mm_per_px: spec.frame.mm_per_px() };
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let result = p.process(&image, calib, 0, "frame").unwrap();
    drop(p);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut pb = PullbackAnalyzer::new(PullbackConfig::default(), PipelineConfig::default(), calib).unwrap();
    let mut r = result.clone();
    for i in 0..10_000 {
        r.index = i;
        pb.observe(&r, &image);
    }
    let after_observe = LIVE.load(Ordering::Relaxed) - base;
    let report = pb.finish(&Timing::default(), "test", |_| Ok(image.clone())).unwrap();
    let html = report.html().unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!(
        "10,000 frames: analyzer state {:.1} MB after observing, peak {:.1} MB incl. finish + HTML ({:.1} MB)",
        after_observe as f64 / 1e6,
        peak as f64 / 1e6,
        html.len() as f64 / 1e6
    );
    assert_eq!(report.summary.n_frames, 10_000);
    assert!(after_observe < 16_000_000, "{after_observe} bytes");
    assert!(peak < 100_000_000, "{peak} bytes");
}
