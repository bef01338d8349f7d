//! Per-stage wall-clock timing of the frame pipeline.
//!
//! [`crate::Pipeline`] keeps a [`StageTimes`] accumulator and adds the time of each stage of
//! every frame it processes: one `Instant::now()` per stage boundary (about 20–30 ns each,
//! eight per frame), no allocation, no effect on results. Batches run through
//! [`crate::pipeline::process_batch_timed`] add every worker's figures into a
//! [`SharedStageTimes`] (atomic counters, so the sum does not depend on scheduling).
//!
//! These are *wall-clock* figures: on a loaded machine they include time the thread was not
//! running. Use instruction counts (callgrind, see `tools/perf_driver.rs`) to compare versions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A stage of [`crate::Pipeline::process`], in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Input check, and the catheter centre and sheath radius search (Cartesian input without
    /// a fixed centre).
    Catheter,
    /// Cartesian → polar resampling (or copying a polar input and finding its sheath).
    ScanConvert,
    /// Ring-down end and ring-down suppression.
    Ringdown,
    /// Intensity percentiles, shadow runs, guidewire and calcium detection.
    Shadows,
    /// Speckle filter (SRAD by default).
    Speckle,
    /// Lumen and vessel border search.
    Borders,
    /// Contours, areas, diameters, quality flags and the result record.
    Measurements,
}

/// Number of [`Stage`]s.
pub const N_STAGES: usize = 7;

/// Every stage, in execution order.
pub const STAGES: [Stage; N_STAGES] = [
    Stage::Catheter,
    Stage::ScanConvert,
    Stage::Ringdown,
    Stage::Shadows,
    Stage::Speckle,
    Stage::Borders,
    Stage::Measurements,
];

impl Stage {
    /// Short snake-case name (used as JSON key).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Catheter => "catheter",
            Stage::ScanConvert => "scan_convert",
            Stage::Ringdown => "ringdown",
            Stage::Shadows => "shadows_wire",
            Stage::Speckle => "speckle",
            Stage::Borders => "borders",
            Stage::Measurements => "measurements",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Accumulated time per stage and the number of frames it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// Nanoseconds per stage, indexed like [`STAGES`].
    pub nanos: [u64; N_STAGES],
    /// Frames timed.
    pub frames: u64,
}

impl StageTimes {
    /// Total time of `stage`, seconds.
    pub fn seconds(&self, stage: Stage) -> f64 {
        self.nanos[stage.index()] as f64 * 1e-9
    }

    /// Total over all stages, seconds.
    pub fn total_seconds(&self) -> f64 {
        self.nanos.iter().sum::<u64>() as f64 * 1e-9
    }

    /// Share of `stage` in the total, `[0, 1]` (0 when nothing was timed).
    pub fn share(&self, stage: Stage) -> f64 {
        let t = self.total_seconds();
        if t > 0.0 { self.seconds(stage) / t } else { 0.0 }
    }

    /// Mean time of `stage` per frame, milliseconds (0 when no frame was timed).
    pub fn ms_per_frame(&self, stage: Stage) -> f64 {
        if self.frames > 0 { 1e3 * self.seconds(stage) / self.frames as f64 } else { 0.0 }
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &StageTimes) {
        for (a, b) in self.nanos.iter_mut().zip(&other.nanos) {
            *a += b;
        }
        self.frames += other.frames;
    }

    /// One line such as `catheter 12.1 %, scan_convert 3.0 %, ...`.
    pub fn shares_line(&self) -> String {
        STAGES.iter().map(|&s| format!("{} {:.1} %", s.name(), 100.0 * self.share(s))).collect::<Vec<_>>().join(", ")
    }

    /// JSON object `{stage: {"ms_per_frame": .., "share": ..}, ...}` plus `frames` and
    /// `total_ms_per_frame`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for s in STAGES {
            m.insert(
                s.name().to_string(),
                serde_json::json!({ "ms_per_frame": self.ms_per_frame(s), "share": self.share(s) }),
            );
        }
        let total_ms = if self.frames > 0 { 1e3 * self.total_seconds() / self.frames as f64 } else { 0.0 };
        serde_json::json!({ "frames": self.frames, "total_ms_per_frame": total_ms, "stages": m })
    }
}

/// Lap timer: [`StageClock::lap`] charges the time since the previous lap to a stage.
#[derive(Debug, Clone, Copy)]
pub struct StageClock {
    last: Instant,
}

impl StageClock {
    /// Starts timing now.
    pub fn start() -> Self {
        Self { last: Instant::now() }
    }

    /// Adds the time since the last lap (or the start) to `stage` in `times`.
    #[inline]
    pub fn lap(&mut self, times: &mut StageTimes, stage: Stage) {
        let now = Instant::now();
        times.nanos[stage.index()] += now.duration_since(self.last).as_nanos() as u64;
        self.last = now;
    }
}

/// Thread-safe [`StageTimes`] for batches: workers add, the caller reads a snapshot.
#[derive(Debug, Default)]
pub struct SharedStageTimes {
    nanos: [AtomicU64; N_STAGES],
    frames: AtomicU64,
}

impl SharedStageTimes {
    /// Empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `t` (relaxed atomics; sums are exact whatever the interleaving).
    pub fn add(&self, t: &StageTimes) {
        for (a, &b) in self.nanos.iter().zip(&t.nanos) {
            a.fetch_add(b, Ordering::Relaxed);
        }
        self.frames.fetch_add(t.frames, Ordering::Relaxed);
    }

    /// Current totals.
    pub fn snapshot(&self) -> StageTimes {
        let mut t = StageTimes { frames: self.frames.load(Ordering::Relaxed), ..StageTimes::default() };
        for (o, a) in t.nanos.iter_mut().zip(&self.nanos) {
            *o = a.load(Ordering::Relaxed);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one_and_shared_sums_are_exact() {
        let mut t = StageTimes::default();
        let mut clk = StageClock::start();
        for s in STAGES {
            std::hint::black_box((0..1000).sum::<u64>());
            clk.lap(&mut t, s);
        }
        t.frames = 1;
        let total: f64 = STAGES.iter().map(|&s| t.share(s)).sum();
        assert!(t.total_seconds() > 0.0 && (total - 1.0).abs() < 1e-9, "{total}");
        let shared = SharedStageTimes::new();
        shared.add(&t);
        shared.add(&t);
        let snap = shared.snapshot();
        assert_eq!(snap.frames, 2);
        assert_eq!(snap.nanos[3], 2 * t.nanos[3]);
        assert_eq!(snap.to_json()["frames"], 2);
    }
}
