//! Writes phantom frames: `cargo run --release --example sim_frames -- OUT_DIR [COUNT] [FIRST_SEED]`.
//! Seed 0 writes the default spec; other seeds use `PhantomSpec::random(seed)`, or
//! `PhantomSpec::random_cto(seed)` (chronic-total-occlusion scenes) when a fourth argument `cto`
//! is given.

use truelumen::sim::{PhantomSpec, Simulator, write_phantom};

fn main() -> Result<(), truelumen::Error> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map_or("phantoms", String::as_str));
    let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let first: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let cto = args.get(4).is_some_and(|a| a == "cto");
    let mut sim = Simulator::new();
    for seed in first..first + count {
        let spec = match (seed, cto) {
            (0, _) => PhantomSpec::default(),
            (_, true) => PhantomSpec::random_cto(seed),
            _ => PhantomSpec::random(seed),
        };
        let t = std::time::Instant::now();
        let p = sim.simulate(&spec)?;
        let dt = t.elapsed();
        let name = format!("phantom_{seed:04}");
        write_phantom(&out, &name, &p)?;
        let w = p.truth.guidewire.as_ref();
        eprintln!(
            "{name}: {}x{} -> {}px, {:.0} ms, EEM {:.2} mm, lumen {:.2} mm, burden {:.0}%, wire {}, calcium {}, occluded {}, position {:?}",
            spec.n_lines,
            spec.n_samples,
            spec.image_side_px,
            dt.as_secs_f64() * 1e3,
            p.truth.vessel_mean_diameter_mm,
            p.truth.lumen_mean_diameter_mm,
            100.0 * p.truth.plaque_burden,
            w.map_or("none".to_string(), |w| format!("{:.0}° in_lumen={}", w.angle_deg, w.in_true_lumen)),
            p.truth.calcium.len(),
            p.truth.occluded,
            p.truth.catheter_position_class(),
        );
    }
    Ok(())
}
