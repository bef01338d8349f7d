//! `truelumen simulate`: phantom frames with exact truth.

use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use truelumen::sim::{self, DatasetSpec, FixedPolar};

#[derive(Args)]
pub(crate) struct SimulateArgs {
    /// Output folder (created if needed; must not hold other frames)
    #[arg(short, long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Number of frames
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub(crate) count: usize,
    /// Seed of frame 0; frame i uses seed S + i
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub(crate) seed: u64,
    /// Side of every Cartesian image, pixels
    #[arg(long, value_name = "PX", default_value_t = 512)]
    pub(crate) side: usize,
    /// Field of view (image side) of every Cartesian image, mm
    #[arg(long, value_name = "MM", default_value_t = 10.0, allow_negative_numbers = true)]
    pub(crate) fov_mm: f64,
    /// Same polar geometry for all frames (512 lines x 512 samples over 5 mm, line 0 at 0°, ccw)
    #[arg(long)]
    pub(crate) polar: bool,
    /// Chronic-total-occlusion scenes: catheter in the patent lumen, in the plaque-filled true
    /// lumen, or subintimal with the true lumen beside it
    #[arg(long)]
    pub(crate) cto: bool,
}

pub(crate) fn simulate(a: &SimulateArgs) -> anyhow::Result<()> {
    let spec = DatasetSpec {
        count: a.count,
        seed: a.seed,
        side_px: a.side,
        fov_mm: a.fov_mm,
        polar: a.polar.then(FixedPolar::default),
        cto: a.cto,
    };
    let started = Instant::now();
    let info = sim::write_dataset(&a.out, &spec)?;
    let polar = match info.polar_sidecar {
        Some(_) => "polar/calibration.json written".to_string(),
        None => "frames have different polar geometries, so no polar/calibration.json \
                 (use --polar for one shared geometry)"
            .to_string(),
    };
    eprintln!(
        "{} frames (seeds {}..={}), {}x{} px, {} mm/px, in {:.1} s; {polar}; written to {}",
        info.names.len(),
        a.seed,
        a.seed.saturating_add(a.count.saturating_sub(1) as u64),
        a.side,
        a.side,
        info.mm_per_px,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}
