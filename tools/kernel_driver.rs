//! Times single kernels on one 512x512 phantom (the frame `truelumen bench --kernels` uses):
//! minimum and median wall-clock ms over `RUNS` runs, one thread, and the mean time the thread
//! was actually on a CPU (from `/proc/thread-self/schedstat`, so time lost to other processes
//! is left out; it still includes their effect on caches). On a shared machine the minimum
//! and the on-CPU mean are the figures to compare. Also a fixed-work driver for
//! `valgrind --tool=callgrind` (instruction counts per kernel).
//!
//! ```text
//! cargo run --release --example kernel_driver -- [c2p|p2c|srad|srad_par|srad256|median|lee|all] [RUNS]
//! ```

use std::time::Instant;
use truelumen::filter::{SpeckleFilter, SpeckleWorkspace, SradParams, speckle_into};
use truelumen::scan::{CartesianSampler, PolarSampler};
use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{CartImage, PolarGeometry, PolarImage};

/// CPU time this thread has run, ns (`/proc/thread-self/schedstat`; Linux only, else 0).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn time(name: &str, runs: usize, mut f: impl FnMut()) {
    f();
    let cpu0 = thread_cpu_ns();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let cpu_ms = (thread_cpu_ns() - cpu0) as f64 * 1e-6 / runs as f64;
    t.sort_by(f64::total_cmp);
    println!(
        "{name:<22} min {:8.4} ms  median {:8.4} ms  on-CPU mean {cpu_ms:8.4} ms  ({runs} runs)",
        t[0],
        t[t.len() / 2]
    );
}

fn main() -> Result<(), truelumen::Error> {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("all", String::as_str);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let p = simulate(&PhantomSpec::random(1).pinned_acquisition(512))?;
    let (rows, cols) = p.cart.shape();
    let c = ((cols as f64 - 1.0) / 2.0, (rows as f64 - 1.0) / 2.0);
    let on = |k: &str| which == "all" || which == k;
    if on("c2p") {
        let s = PolarSampler::new(PolarGeometry::new(512, 256, p.mm_per_px)?, p.mm_per_px)?;
        let mut polar = PolarImage::default();
        time("cart->polar 512x256", runs, || s.convert_into(&p.cart, c.0, c.1, 0.0, &mut polar));
    }
    if on("p2c") {
        let g = p.polar_geom;
        let mm = g.depth_mm() / (rows as f64 / 2.0);
        let s = CartesianSampler::new(g, rows, rows, c.0, c.1, mm)?;
        let mut cart = CartImage::default();
        time("polar->cart 512x512", runs, || s.convert_into(&p.polar, 0.0, &mut cart).unwrap());
    }
    let mut ws = SpeckleWorkspace::new();
    let mut out = PolarImage::default();
    let mut filt = |name: &str, src: &PolarImage, f: SpeckleFilter| {
        time(name, runs, || speckle_into(src, &mut out, &f, &mut ws).unwrap());
    };
    let srad = SradParams::default();
    if on("srad") {
        filt("srad 15 it serial", &p.polar, SpeckleFilter::Srad(srad.with_parallel(false)));
    }
    if on("srad_par") {
        filt("srad 15 it rayon", &p.polar, SpeckleFilter::Srad(srad.with_parallel(true)));
    }
    if on("srad256") {
        // The polar frame size of the pipeline's default geometry class (fits in L2 twice).
        let s = PolarSampler::new(PolarGeometry::new(512, 256, p.mm_per_px)?, p.mm_per_px)?;
        let mut small = PolarImage::default();
        s.convert_into(&p.cart, c.0, c.1, 0.0, &mut small);
        filt("srad 15 it 512x256", &small, SpeckleFilter::Srad(srad.with_parallel(false)));
    }
    if on("median") {
        filt("median 5x5", &p.polar, SpeckleFilter::Median { radius_lines: 2, radius_samples: 2 });
    }
    if on("lee") {
        filt("lee 5x5", &p.polar, SpeckleFilter::Lee { radius_lines: 2, radius_samples: 2, noise_var: None });
    }
    Ok(())
}
