//! Catheter-centre accuracy and instruction-cheap timing over phantom seeds:
//! `cargo run --release --example catheter_check -- [FIRST_SEED] [COUNT]` (default 1000 100,
//! tuning seeds). Prints median / 95th percentile / max centre error (px) and radius error (mm),
//! and the number of frames flagged "not found", for the frames as simulated (random sides
//! 256–1024 px, random catheter offsets).

use rayon::prelude::*;
use truelumen::catheter::{CatheterParams, find_catheter};
use truelumen::sim::{PhantomSpec, simulate};

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() -> Result<(), truelumen::Error> {
    let args: Vec<String> = std::env::args().collect();
    let first: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let rows: Vec<(f64, f64, bool, f64, u64)> = (first..first + count)
        .into_par_iter()
        .map(|seed| {
            let p = simulate(&PhantomSpec::random(seed))?;
            let t = std::time::Instant::now();
            let c = find_catheter(&p.cart, p.mm_per_px, &CatheterParams::default());
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let tc = p.truth.catheter_center_px;
            let e = (c.center_col - tc[0]).hypot(c.center_row - tc[1]);
            Ok((e, (c.radius_mm - p.truth.catheter_radius_mm).abs(), c.found, ms, seed))
        })
        .collect::<Result<_, truelumen::Error>>()?;
    let mut e: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let mut re: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let mut ms: Vec<f64> = rows.iter().map(|r| r.3).collect();
    for r in rows.iter().filter(|r| r.0 > 1.0) {
        println!("seed {}: centre error {:.2} px", r.4, r.0);
    }
    let missed = rows.iter().filter(|r| !r.2).count();
    println!(
        "seeds {first}..{}: centre error px median {:.3} p95 {:.3} max {:.3}; radius error mm median {:.4} p95 {:.4}; not found {missed}; median {:.2} ms",
        first + count,
        pct(&mut e, 0.5),
        pct(&mut e, 0.95),
        pct(&mut e, 1.0),
        pct(&mut re, 0.5),
        pct(&mut re, 0.95),
        pct(&mut ms, 0.5),
    );
    Ok(())
}
