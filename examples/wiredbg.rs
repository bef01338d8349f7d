use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{Calibration, Pipeline, PipelineConfig};
fn main() {
    let seed: u64 = std::env::args().nth(1).unwrap().parse().unwrap();
    let mut spec = PhantomSpec::random(seed);
    let f = 512.0 / spec.image_side_px as f64;
    spec.catheter_offset_px = [spec.catheter_offset_px[0] * f, spec.catheter_offset_px[1] * f];
    spec.image_side_px = 512;
    spec.fov_mm = 10.0;
    let ph = simulate(&spec).unwrap();
    println!("mmpp {} cath r {}", ph.mm_per_px, ph.truth.catheter_radius_mm);
    println!("calcium {:?}", ph.truth.calcium);
    println!("wire {:?}", ph.truth.guidewire);
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let r = p.process(&ph.cart, Calibration::Cartesian { mm_per_px: ph.mm_per_px }, 0, "").unwrap();
    println!("found cath r {}", r.catheter_radius_mm);
    let sh = p.last_shadows();
    for l in (0..360).step_by(2) { println!("line {l} peak {} depth {:.2} prom {:.2}", sh.peak[l], sh.depth[l], sh.prom[l]); }
    let pol = p.last_polar();
    // print mean of each line in depth bands
    let (n, ns) = pol.shape();
    for l in (0..n).step_by(4) {
        let row = pol.row(l);
        let band = |a: usize, b: usize| row[a.min(ns)..b.min(ns)].iter().sum::<f32>() / (b.min(ns) - a.min(ns)).max(1) as f32;
        let nb = 10;
        let s: Vec<String> = (0..nb).map(|k| format!("{:4.0}", band(k * ns / nb, (k + 1) * ns / nb))).collect();
        println!("{l:3} {}", s.join(""));
    }
}
