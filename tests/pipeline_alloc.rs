//! Steady-state allocations of [`Pipeline::process`], counted with a global allocator wrapper.
//!
//! The returned [`FrameResult`] legitimately owns heap memory (source string, contours), so the
//! figure of interest is the *excess*: allocations during `process` minus the allocations of
//! cloning the result it returned (a deep copy allocates exactly the result's heap blocks).
//!
//! Frames: 4 random phantoms ([`PhantomSpec::random`], seeds 7–10) pinned to one acquisition
//! (512x512 Cartesian over 10 mm, catheter offset scaled), as in a pullback; all of them are
//! processed once to warm up the scratch buffers before counting.
//!
//! - `allocations_reach_a_steady_state`: over 10 rounds the allocation count does not creep up
//!   and the heap stops growing; the figures are printed
//!   (`cargo test --release --test pipeline_alloc -- --nocapture`).
//! - `process_allocates_only_the_result`: the excess is zero — in steady state the pipeline
//!   allocates nothing but the result it returns (default configuration: serial SRAD inside the
//!   frame; a rayon-parallel filter may allocate inside rayon).
//!
//! Tests in this file take [`LOCK`] so the process-wide counters see one test at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use truelumen::report::FrameResult;
use truelumen::sim::{Phantom, PhantomSpec, simulate};
use truelumen::{Calibration, Pipeline, PipelineConfig};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static LOCK: Mutex<()> = Mutex::new(());

const SIDE: usize = 512;

fn phantoms() -> Vec<Phantom> {
    (7..=10)
        .map(|seed| {
            let mut s = PhantomSpec::random(seed);
            let scale = SIDE as f64 / s.image_side_px as f64;
            s.catheter_offset_px = s.catheter_offset_px.map(|v| v * scale);
            s.image_side_px = SIDE;
            s.fov_mm = 10.0;
            simulate(&s).expect("valid phantom spec")
        })
        .collect()
}

/// Per-frame figures of one `process` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    process: usize,
    result_clone: usize,
    /// Heap bytes still live after dropping the result and its clone.
    net_bytes: isize,
}

impl Counts {
    fn excess(&self) -> isize {
        self.process as isize - self.result_clone as isize
    }
}

fn measure(p: &mut Pipeline, f: &Phantom, index: usize) -> Counts {
    let cal = Calibration::Cartesian { mm_per_px: f.mm_per_px };
    let live0 = LIVE_BYTES.load(Ordering::Relaxed);
    let a0 = ALLOCS.load(Ordering::Relaxed);
    let r: FrameResult = p.process(&f.cart, cal, index, "phantom").unwrap();
    let a1 = ALLOCS.load(Ordering::Relaxed);
    let copy = r.clone();
    let a2 = ALLOCS.load(Ordering::Relaxed);
    drop(copy);
    drop(r);
    Counts { process: a1 - a0, result_clone: a2 - a1, net_bytes: LIVE_BYTES.load(Ordering::Relaxed) - live0 }
}

/// Simulates the phantoms and warms a pipeline up on them.
fn setup() -> (Vec<Phantom>, Pipeline) {
    let ph = phantoms();
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    for (i, f) in ph.iter().enumerate() {
        p.process(&f.cart, Calibration::Cartesian { mm_per_px: f.mm_per_px }, i, "phantom").unwrap();
    }
    (ph, p)
}

#[test]
fn allocations_reach_a_steady_state() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (ph, mut p) = setup();
    const ROUNDS: usize = 10;
    let rounds: Vec<Vec<Counts>> = (0..ROUNDS)
        .map(|r| ph.iter().enumerate().map(|(i, f)| measure(&mut p, f, r * ph.len() + i)).collect())
        .collect();
    for (i, c) in rounds[0].iter().enumerate() {
        eprintln!(
            "frame {i} ({SIDE}x{SIDE}): process {} allocations, result clone {}, excess {}, net heap growth {} B",
            c.process,
            c.result_clone,
            c.excess(),
            c.net_bytes
        );
    }
    // Same frames, same work: the count must not creep up with the number of frames seen, and
    // the heap must not keep growing (scratch buffers may still settle in the first rounds,
    // e.g. a Vec reaching the capacity the largest frame needs).
    let per_round: Vec<usize> = rounds.iter().map(|r| r.iter().map(|c| c.process).sum()).collect();
    let first_max = per_round[..ROUNDS / 2].iter().copied().max().unwrap_or(0);
    let second_max = per_round[ROUNDS / 2..].iter().copied().max().unwrap_or(0);
    assert!(second_max <= first_max, "allocations grew with frames seen: per round {per_round:?}");
    let late_growth: i64 = rounds[ROUNDS / 2..].iter().flatten().map(|c| c.net_bytes as i64).sum();
    assert!(late_growth <= 0, "heap kept growing in steady state: {late_growth} B over the last {} rounds", ROUNDS / 2);
    let total: usize = rounds.iter().flatten().map(|c| c.process).sum();
    eprintln!(
        "{} frames: {total} allocations in process, {:.1} per frame",
        ROUNDS * ph.len(),
        total as f64 / (ROUNDS * ph.len()) as f64
    );
}

#[test]
fn process_allocates_only_the_result() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (ph, mut p) = setup();
    let counts: Vec<Counts> = ph.iter().enumerate().map(|(i, f)| measure(&mut p, f, i)).collect();
    for (i, c) in counts.iter().enumerate() {
        eprintln!("frame {i}: excess allocations over the result's own = {} ({c:?})", c.excess());
    }
    for (i, c) in counts.iter().enumerate() {
        assert!(c.excess() <= 0, "frame {i}: process made {} allocations beyond the result ({c:?})", c.excess());
    }
}
